package timewindow

import (
	"slices"
	"strconv"
	"strings"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// Kind is the window table function.
type Kind uint8

const (
	Tumble Kind = iota
	Hop
	Cumulate
	Session
)

func (k Kind) String() string { return [...]string{"TUMBLE", "HOP", "CUMULATE", "SESSION"}[k] }

// MaxWindowsPerRow bounds how many windows one row may join (HOP: size /
// slide, CUMULATE: size / step), so that one row cannot expand into
// millions; a larger ratio is refused when the query is planned.
const MaxWindowsPerRow = 10000

// MaxLength bounds sizes, slides, steps, gaps and offsets (2^61 µs, about
// 73,000 years): window arithmetic on any finite timestamp then stays
// within int64.
const MaxLength = 1 << 61

const maxLengthText = "2^61 microseconds (about 73,000 years)"

// Spec is one window function's parameters, in microseconds.
type Spec struct {
	Kind Kind
	// Size is the window length of TUMBLE and HOP and the period of
	// CUMULATE.
	Size int64
	// Step is HOP's slide and CUMULATE's step (TUMBLE: Size).
	Step int64
	// Offset shifts window alignment from the Unix epoch.
	Offset int64
	// Gap is SESSION's inactivity gap.
	Gap int64
}

// Validate checks the parameters; its errors are user errors without a
// position.
func (s *Spec) Validate() error {
	name := s.Kind.String()
	type length struct {
		what string
		v    int64
	}
	var lengths []length
	switch s.Kind {
	case Tumble:
		lengths = []length{{"size", s.Size}}
	case Hop:
		lengths = []length{{"size", s.Size}, {"slide", s.Step}}
	case Cumulate:
		lengths = []length{{"size", s.Size}, {"step", s.Step}}
	case Session:
		lengths = []length{{"gap", s.Gap}}
	}
	for _, l := range lengths {
		if l.v <= 0 {
			return sqlerr.New(sqlerr.InvalidParameterValue, "%s %s must be positive", name, l.what)
		}
		if l.v > MaxLength {
			return sqlerr.New(sqlerr.InvalidParameterValue, "%s %s must be at most %s", name, l.what, maxLengthText)
		}
	}
	if s.Offset < -MaxLength || s.Offset > MaxLength {
		return sqlerr.New(sqlerr.InvalidParameterValue, "%s offset must be between -%s and %s", name, maxLengthText, maxLengthText)
	}
	switch s.Kind {
	case Hop, Cumulate:
		if s.Kind == Cumulate && s.Size%s.Step != 0 {
			return sqlerr.New(sqlerr.InvalidParameterValue, "CUMULATE size must be a multiple of its step")
		}
		if n := s.WindowsPerRow(); n > MaxWindowsPerRow {
			return sqlerr.New(sqlerr.ProgramLimitExceeded, "%s puts each row in %d windows; at most %d are allowed", name, n, MaxWindowsPerRow).
				WithHint("Use a larger %s or a smaller size.", lengths[1].what)
		}
	}
	return nil
}

// WindowsPerRow is the most windows a row can join.
func (s *Spec) WindowsPerRow() int64 {
	switch s.Kind {
	case Hop:
		return (s.Size + s.Step - 1) / s.Step
	case Cumulate:
		return s.Size / s.Step
	}
	return 1
}

// String renders the parameters for EXPLAIN, as "hop slide=30s size=1m".
func (s *Spec) String() string {
	kind := strings.ToLower(s.Kind.String())
	var out string
	switch s.Kind {
	case Tumble:
		out = kind + " size=" + FormatLength(s.Size)
	case Hop:
		out = kind + " slide=" + FormatLength(s.Step) + " size=" + FormatLength(s.Size)
	case Cumulate:
		out = kind + " step=" + FormatLength(s.Step) + " size=" + FormatLength(s.Size)
	case Session:
		return kind + " gap=" + FormatLength(s.Gap)
	}
	if s.Offset != 0 {
		out += " offset=" + FormatLength(s.Offset)
	}
	return out
}

// FormatLength renders microseconds compactly: 1d2h, 1m30s, 0.25s.
func FormatLength(us int64) string {
	if us == 0 {
		return "0s"
	}
	var b []byte
	u := uint64(us)
	if us < 0 {
		b = append(b, '-')
		u = uint64(-us)
	}
	for _, unit := range []struct {
		n      uint64
		suffix string
	}{{uint64(types.MicrosPerDay), "d"}, {uint64(types.MicrosPerHour), "h"}, {60_000_000, "m"}} {
		if u >= unit.n {
			b = strconv.AppendUint(b, u/unit.n, 10)
			b = append(b, unit.suffix...)
			u %= unit.n
		}
	}
	if u > 0 {
		b = strconv.AppendUint(b, u/1_000_000, 10)
		if frac := u % 1_000_000; frac > 0 {
			f := strconv.FormatUint(1_000_000+frac, 10)[1:]
			b = append(b, '.')
			b = append(b, strings.TrimRight(f, "0")...)
		}
		b = append(b, 's')
	}
	return string(b)
}

// Assignment is Assign's output, reused between calls: output row k is
// input row Rows[k] in window [Starts[k], Ends[k]).
type Assignment struct {
	Rows         []int
	Starts, Ends []int64
}

// Reset empties a for reuse.
func (a *Assignment) Reset() {
	a.Rows, a.Starts, a.Ends = a.Rows[:0], a.Starts[:0], a.Ends[:0]
}

// Len is the number of assigned (row, window) pairs.
func (a *Assignment) Len() int { return len(a.Rows) }

func (a *Assignment) add(row int, start, end int64) {
	a.Rows = append(a.Rows, row)
	a.Starts = append(a.Starts, start)
	a.Ends = append(a.Ends, end)
}

// floorMod is a mod m in [0, m) for m > 0.
func floorMod(a, m int64) int64 {
	r := a % m
	if r < 0 {
		r += m
	}
	return r
}

// alignedStart is the greatest s <= t with s = offset (mod period). It
// reduces t and offset separately so that t - offset cannot overflow.
func alignedStart(t, period, offset int64) int64 {
	r := floorMod(t, period) - floorMod(offset, period)
	if r < 0 {
		r += period
	}
	return t - r
}

// finite reports a time within the finite range (infinities are outside;
// callers check NULL first).
func finite(t int64) bool { return t >= types.MinTimestamp && t < types.MaxTimestamp }

// fits reports whether window [start, start+length) has both bounds in the
// finite timestamp range, without computing an overflowing end.
func fits(start, length int64) bool {
	return start >= types.MinTimestamp && start < types.MaxTimestamp-length
}

// Assign appends to a the windows of rows [lo, hi) of ts, a timestamp or
// timestamptz vector, in row order and, within a row, by ascending window
// end. A NULL or infinite time is in no window, and a window with a bound
// outside the finite timestamp range does not exist. The kind must not be
// Session (see Sessions).
func (s *Spec) Assign(ts *coldata.Vec, lo, hi int, a *Assignment) {
	vals, nulls := ts.Ints, ts.Nulls
	switch s.Kind {
	case Tumble:
		size, off := s.Size, s.Offset
		for i := lo; i < hi; i++ {
			t := vals[i]
			if (nulls != nil && nulls[i]) || !finite(t) {
				continue
			}
			if st := alignedStart(t, size, off); fits(st, size) {
				a.add(i, st, st+size)
			}
		}
	case Hop:
		size, slide, off := s.Size, s.Step, s.Offset
		for i := lo; i < hi; i++ {
			t := vals[i]
			if (nulls != nil && nulls[i]) || !finite(t) {
				continue
			}
			// Starts last, last-slide, … while start > t-size: the windows
			// still open at t.
			last := alignedStart(t, slide, off)
			d := size - (t - last)
			if d <= 0 {
				continue // slide > size and t falls between windows
			}
			for j := (d - 1) / slide; j >= 0; j-- {
				if st := last - j*slide; fits(st, size) {
					a.add(i, st, st+size)
				}
			}
		}
	case Cumulate:
		size, step, off := s.Size, s.Step, s.Offset
		n := size / step
		for i := lo; i < hi; i++ {
			t := vals[i]
			if (nulls != nil && nulls[i]) || !finite(t) {
				continue
			}
			p := alignedStart(t, size, off)
			for k := (t-p)/step + 1; k <= n; k++ {
				if fits(p, k*step) {
					a.add(i, p, p+k*step)
				}
			}
		}
	}
}

// Timed appends to sel the rows of [lo, hi) of ts whose time is neither
// NULL nor infinite: the rows that can be in a window.
func Timed(ts *coldata.Vec, lo, hi int, sel []int) []int {
	for i := lo; i < hi; i++ {
		if !ts.IsNull(i) && finite(ts.Ints[i]) {
			sel = append(sel, i)
		}
	}
	return sel
}

// Sessions sets starts[i] and ends[i] to the SESSION window of row i of ts,
// whose rows are sorted by partition and then time and hold no NULL or
// infinite time; newPart[i] marks the first row of a partition. A row joins
// the session before it when its time is before that session's end, the
// last time plus Gap (a time exactly at the end starts a new session).
// keep[i] is false for the rows of a session whose end would lie beyond
// the finite timestamp range.
func (s *Spec) Sessions(ts []int64, newPart []bool, starts, ends []int64, keep []bool) {
	first := 0
	var start, end int64
	closeSession := func(upto int) {
		ok := end < types.MaxTimestamp
		for j := first; j < upto; j++ {
			starts[j], ends[j], keep[j] = start, end, ok
		}
	}
	for i, t := range ts {
		if i == 0 || newPart[i] || t >= end {
			if i > 0 {
				closeSession(i)
			}
			first, start = i, t
		}
		end = s.SessionEnd(t)
	}
	if len(ts) > 0 {
		closeSession(len(ts))
	}
}

// SessionEnd is the end of a session whose last time is last: last plus
// Gap, saturated at MaxTimestamp instead of overflowing. A session whose end
// reaches MaxTimestamp does not exist (its rows are in no window).
func (s *Spec) SessionEnd(last int64) int64 {
	if last >= types.MaxTimestamp-s.Gap {
		return types.MaxTimestamp
	}
	return last + s.Gap
}

// Run reports whether a assigns each row of [lo, hi) to exactly one
// window, in order (a TUMBLE, or a HOP whose slide is its size, over rows
// whose times are all in range): then its output rows are those input rows
// as they are, and need not be gathered.
func (a *Assignment) Run(lo, hi int) bool {
	if len(a.Rows) != hi-lo {
		return false
	}
	for k, i := range a.Rows {
		if i != lo+k {
			return false
		}
	}
	return true
}

// Apply returns the chunk of a's output rows: for each assigned pair, the
// input row of in, then window_start and window_end of type typ (in's
// Diffs, if any, follow the rows). It copies a's bounds, so a may be reused.
func (a *Assignment) Apply(in *coldata.Chunk, typ *types.T) *coldata.Chunk {
	out := in.Gather(a.Rows)
	out.Cols = append(out.Cols,
		&coldata.Vec{Typ: typ, Ints: slices.Clone(a.Starts)},
		&coldata.Vec{Typ: typ, Ints: slices.Clone(a.Ends)})
	return out
}
