package timewindow

import (
	"fmt"
	"math/rand"
	"slices"
	"testing"
	"time"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/internal/randtest"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

const (
	sec = int64(1_000_000)
	min = 60 * sec
)

func vec(ts ...any) *coldata.Vec {
	v := coldata.NewVec(types.Timestamp, len(ts))
	for _, t := range ts {
		v.Append(t)
	}
	return v
}

func assign(s Spec, v *coldata.Vec) []string {
	var a Assignment
	s.Assign(v, 0, v.Len(), &a)
	var out []string
	for k := range a.Rows {
		out = append(out, fmt.Sprintf("%d:[%d,%d)", a.Rows[k], a.Starts[k], a.Ends[k]))
	}
	return out
}

func TestAssignCases(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec Spec
		ts   []any
		want []string
	}{
		// A time at a window's end is in the next window.
		{"tumble end", Spec{Kind: Tumble, Size: min, Step: min}, []any{int64(0), min - 1, min},
			[]string{"0:[0,60000000)", "1:[0,60000000)", "2:[60000000,120000000)"}},
		// Before 1970 floor, not truncation: -1µs is in [-1m, 0).
		{"tumble negative", Spec{Kind: Tumble, Size: min, Step: min}, []any{int64(-1), -min, -min - 1},
			[]string{"0:[-60000000,0)", "1:[-60000000,0)", "2:[-120000000,-60000000)"}},
		// Offset 15s: windows [15s, 75s); -45s is the same alignment.
		{"tumble offset", Spec{Kind: Tumble, Size: min, Step: min, Offset: 15 * sec}, []any{int64(0), 15 * sec},
			[]string{"0:[-45000000,15000000)", "1:[15000000,75000000)"}},
		{"tumble negative offset", Spec{Kind: Tumble, Size: min, Step: min, Offset: -45 * sec}, []any{int64(0), 15 * sec},
			[]string{"0:[-45000000,15000000)", "1:[15000000,75000000)"}},
		// NULL and infinite times are in no window.
		{"tumble null", Spec{Kind: Tumble, Size: min, Step: min}, []any{nil, types.PosInfinity, types.NegInfinity}, nil},
		// Slide 45s, size 1m (not a multiple): 50s is in [0,60) and [45,105).
		{"hop", Spec{Kind: Hop, Size: min, Step: 45 * sec}, []any{50 * sec, 44 * sec},
			[]string{"0:[0,60000000)", "0:[45000000,105000000)", "1:[0,60000000)"}},
		// Slide larger than size: gaps hold no window.
		{"hop gap", Spec{Kind: Hop, Size: 10 * sec, Step: min}, []any{5 * sec, 10 * sec, 59 * sec}, []string{"0:[0,10000000)"}},
		// Step 20s in a 1m period: 25s is in [0,40) and [0,60); 60s starts the next period.
		{"cumulate", Spec{Kind: Cumulate, Size: min, Step: 20 * sec}, []any{25 * sec, min, int64(-1)},
			[]string{"0:[0,40000000)", "0:[0,60000000)", "1:[60000000,80000000)", "1:[60000000,100000000)", "1:[60000000,120000000)", "2:[-60000000,0)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.spec.Validate(); err != nil {
				t.Fatal(err)
			}
			if got := assign(tc.spec, vec(tc.ts...)); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// bruteForce lists the windows containing t by trying every aligned start
// near it.
func bruteForce(s Spec, t int64) [][2]int64 {
	var out [][2]int64
	switch s.Kind {
	case Tumble, Hop:
		base := t - t%s.Step + s.Offset%s.Step
		for st := base - (s.Size/s.Step+2)*s.Step; st <= base+2*s.Step; st += s.Step {
			if st <= t && t < st+s.Size {
				out = append(out, [2]int64{st, st + s.Size})
			}
		}
	case Cumulate:
		base := t - t%s.Size + s.Offset%s.Size
		for p := base - 2*s.Size; p <= base+2*s.Size; p += s.Size {
			for k := int64(1); k <= s.Size/s.Step; k++ {
				if p <= t && t < p+k*s.Step {
					out = append(out, [2]int64{p, p + k*s.Step})
				}
			}
		}
	}
	return out
}

func TestAssignMatchesBruteForce(t *testing.T) {
	seed := randtest.EnvInt(t, "TIMEWINDOW_SEED", time.Now().UnixNano())
	t.Logf("seed %d (replay: TIMEWINDOW_SEED=%d)", seed, seed)
	r := rand.New(rand.NewSource(seed))
	for range 2000 {
		s := Spec{Kind: Kind(r.Intn(3)), Size: 1 + r.Int63n(100), Step: 1 + r.Int63n(40), Offset: r.Int63n(200) - 100}
		switch s.Kind {
		case Tumble:
			s.Step = s.Size
		case Cumulate:
			s.Size = s.Step * (1 + r.Int63n(6))
		}
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
		ts := r.Int63n(2000) - 1000
		var a Assignment
		s.Assign(vec(ts), 0, 1, &a)
		var got [][2]int64
		for k := range a.Rows {
			got = append(got, [2]int64{a.Starts[k], a.Ends[k]})
		}
		if want := bruteForce(s, ts); !slices.Equal(got, want) {
			t.Fatalf("%+v at %d: got %v, want %v", s, ts, got, want)
		}
	}
}

// TestAssignRangeEnds checks times at the ends of the timestamp range with
// the largest lengths: no overflow, no window outside the range.
func TestAssignRangeEnds(t *testing.T) {
	times := []any{int64(types.MinTimestamp), int64(types.MinTimestamp + 1), int64(types.MaxTimestamp - 1), int64(types.MaxTimestamp - 2*min), int64(0)}
	for _, s := range []Spec{
		{Kind: Tumble, Size: MaxLength, Step: MaxLength, Offset: MaxLength},
		{Kind: Tumble, Size: MaxLength, Step: MaxLength, Offset: -MaxLength},
		{Kind: Tumble, Size: min, Step: min},
		{Kind: Hop, Size: MaxLength, Step: MaxLength / 2, Offset: -MaxLength},
		{Kind: Hop, Size: 10 * min, Step: min},
		{Kind: Cumulate, Size: MaxLength, Step: MaxLength / 4, Offset: MaxLength},
		{Kind: Cumulate, Size: 10 * min, Step: min},
	} {
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
		var a Assignment
		s.Assign(vec(times...), 0, len(times), &a)
		for k := range a.Rows {
			st, end := a.Starts[k], a.Ends[k]
			tm := times[a.Rows[k]].(int64)
			if st < types.MinTimestamp || end >= types.MaxTimestamp || st > tm || tm >= end {
				t.Errorf("%s: time %d got window [%d, %d)", s.String(), tm, st, end)
			}
		}
	}
	// Sessions saturate instead of overflowing.
	s := Spec{Kind: Session, Gap: MaxLength}
	ts := []int64{types.MaxTimestamp - 2, types.MaxTimestamp - 1}
	starts, ends, keep := make([]int64, 2), make([]int64, 2), make([]bool, 2)
	s.Sessions(ts, []bool{true, false}, starts, ends, keep)
	if keep[0] || keep[1] {
		t.Errorf("a session ending beyond the range is kept: %v %v", ends, keep)
	}
}

func TestSessions(t *testing.T) {
	s := Spec{Kind: Session, Gap: 10}
	// Partition a: 0, 5 (merges: 5 < 0+10), 14 (merges: 14 < 5+10), 24
	// (24 = 14+10: a new session). Partition b starts at 26 although
	// 26 < 24+10.
	ts := []int64{0, 5, 14, 24, 26, 40}
	newPart := []bool{true, false, false, false, true, false}
	starts, ends, keep := make([]int64, 6), make([]int64, 6), make([]bool, 6)
	s.Sessions(ts, newPart, starts, ends, keep)
	got := fmt.Sprint(starts, ends, keep)
	want := "[0 0 0 24 26 40] [24 24 24 34 36 50] [true true true true true true]"
	if got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		spec Spec
		code string
		msg  string
	}{
		{Spec{Kind: Tumble, Size: 0}, sqlerr.InvalidParameterValue, "TUMBLE size must be positive"},
		{Spec{Kind: Hop, Size: min, Step: -1}, sqlerr.InvalidParameterValue, "HOP slide must be positive"},
		{Spec{Kind: Hop, Size: 10001, Step: 1}, sqlerr.ProgramLimitExceeded, "HOP puts each row in 10001 windows; at most 10000 are allowed"},
		{Spec{Kind: Cumulate, Size: min, Step: 7 * sec}, sqlerr.InvalidParameterValue, "CUMULATE size must be a multiple of its step"},
		{Spec{Kind: Session, Gap: MaxLength + 1}, sqlerr.InvalidParameterValue, "SESSION gap must be at most 2^61 microseconds (about 73,000 years)"},
		{Spec{Kind: Tumble, Size: 1, Offset: -MaxLength - 1}, sqlerr.InvalidParameterValue, "TUMBLE offset must be between -2^61 microseconds (about 73,000 years) and 2^61 microseconds (about 73,000 years)"},
	} {
		err := tc.spec.Validate()
		if sqlerr.Code(err) != tc.code || err.Error() != tc.msg {
			t.Errorf("%+v: got %v (%s), want %s (%s)", tc.spec, err, sqlerr.Code(err), tc.msg, tc.code)
		}
	}
}

func TestFormatLength(t *testing.T) {
	for us, want := range map[int64]string{0: "0s", min: "1m", 90 * sec: "1m30s", sec / 4: "0.25s", -15 * sec: "-15s",
		types.MicrosPerDay + 2*types.MicrosPerHour: "1d2h", 1: "0.000001s"} {
		if got := FormatLength(us); got != want {
			t.Errorf("FormatLength(%d) = %s, want %s", us, got, want)
		}
	}
}

func BenchmarkAssign(b *testing.B) {
	const n = coldata.DefaultChunkSize
	v := coldata.NewVec(types.TimestampTZ, n)
	for i := range n {
		v.Ints = append(v.Ints, int64(i)*7*sec-3*min)
	}
	for _, s := range []Spec{{Kind: Tumble, Size: min, Step: min}, {Kind: Hop, Size: 5 * min, Step: min}, {Kind: Cumulate, Size: 10 * min, Step: min}} {
		b.Run(s.String(), func(b *testing.B) {
			var a Assignment
			out := 0
			for range b.N {
				a.Reset()
				s.Assign(v, 0, n, &a)
				out += a.Len()
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(out)/float64(b.N*n), "windows/row")
		})
	}
}

// TestAssignmentRun checks that Run holds exactly when every row of the
// range is in one window, in order.
func TestAssignmentRun(t *testing.T) {
	ts := vec(int64(0), 30*sec, min, 90*sec)
	for _, tc := range []struct {
		name string
		spec Spec
		v    *coldata.Vec
		lo   int
		want bool
	}{
		{"tumble", Spec{Kind: Tumble, Size: min, Step: min}, ts, 0, true},
		{"tumble from row 1", Spec{Kind: Tumble, Size: min, Step: min}, ts, 1, true},
		{"tumble null", Spec{Kind: Tumble, Size: min, Step: min}, vec(int64(0), nil, min), 0, false},
		{"hop slide = size", Spec{Kind: Hop, Size: min, Step: min}, ts, 0, true},
		{"hop", Spec{Kind: Hop, Size: 2 * min, Step: min}, ts, 0, false},
		{"cumulate", Spec{Kind: Cumulate, Size: 2 * min, Step: min}, ts, 0, false},
	} {
		var a Assignment
		tc.spec.Assign(tc.v, tc.lo, tc.v.Len(), &a)
		if got := a.Run(tc.lo, tc.v.Len()); got != tc.want {
			t.Errorf("%s: Run = %t, want %t (rows %v)", tc.name, got, tc.want, a.Rows)
		}
	}
}
