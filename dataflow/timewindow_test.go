package dataflow

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/timewindow"
	"github.com/sluice-db/sluice/types"
)

func init() {
	// window kind=tumble|hop|cumulate time=N size=D [step=D] [offset=D],
	// with Go durations.
	testOps["window"] = func(in [][]*types.T, args map[string]string) (OpSpec, error) {
		kinds := map[string]timewindow.Kind{"tumble": timewindow.Tumble, "hop": timewindow.Hop, "cumulate": timewindow.Cumulate}
		kind, ok := kinds[args["kind"]]
		if !ok {
			return nil, fmt.Errorf("unknown window kind %q", args["kind"])
		}
		col, err := strconv.Atoi(args["time"])
		if err != nil {
			return nil, err
		}
		dur := func(k string) (int64, error) {
			if args[k] == "" {
				return 0, nil
			}
			d, err := time.ParseDuration(args[k])
			return d.Microseconds(), err
		}
		spec := timewindow.Spec{Kind: kind}
		for _, f := range []struct {
			k   string
			dst *int64
		}{{"size", &spec.Size}, {"step", &spec.Step}, {"offset", &spec.Offset}} {
			if *f.dst, err = dur(f.k); err != nil {
				return nil, err
			}
		}
		if kind == timewindow.Tumble {
			spec.Step = spec.Size
		}
		if err := spec.Validate(); err != nil {
			return nil, err
		}
		return &WindowAssign{Spec: spec, Time: &expr.ColRef{Idx: col, Typ: in[0][col], Name: "ts"}, InTypes: in[0]}, nil
	}
}

// BenchmarkWindowAssign measures the flat map alone: a chunk of change rows
// in, every (row, window) pair out.
func BenchmarkWindowAssign(b *testing.B) {
	const n = coldata.DefaultChunkSize
	ts := []*types.T{types.Int8, types.Text, types.TimestampTZ}
	in := NewChanges(ts, n)
	for i := range n {
		in.AppendRow([]types.Datum{int64(i), "city", int64(i) * 7_000_000})
		in.Diffs = append(in.Diffs, 1)
	}
	min := int64(60_000_000)
	for _, spec := range []timewindow.Spec{
		{Kind: timewindow.Tumble, Size: min, Step: min},
		{Kind: timewindow.Hop, Size: 5 * min, Step: min},
		{Kind: timewindow.Cumulate, Size: 10 * min, Step: min},
	} {
		b.Run(spec.String(), func(b *testing.B) {
			w := &WindowAssign{Spec: spec, Time: &expr.ColRef{Idx: 2, Typ: types.TimestampTZ}, InTypes: ts}
			op, err := w.New(&Env{})
			if err != nil {
				b.Fatal(err)
			}
			out := 0
			emit := func(c *coldata.Chunk) error { out += c.Len; return nil }
			b.ResetTimer()
			for range b.N {
				if err := op.Push(0, in, emit); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(out)/b.Elapsed().Seconds(), "out-rows/s")
		})
	}
}

// TestWindowAssignShares checks the window assignment's output against
// gathering every (row, window) pair: over chunks longer than a block, with
// a column nobody reads (nil) and a NULL time in one block. A block whose
// rows are each in one window shares the input's columns and diffs.
func TestWindowAssignShares(t *testing.T) {
	const n = 2*coldata.DefaultChunkSize + 100
	ts := []*types.T{types.Int8, types.Text, types.TimestampTZ}
	in := NewChanges(ts, n)
	for i := range n {
		var at types.Datum = int64(i) * 7_000_000
		if i == coldata.DefaultChunkSize+5 {
			at = nil
		}
		in.AppendRow([]types.Datum{int64(i), "city", at})
		in.Diffs = append(in.Diffs, int64(1-2*(i%2)))
	}
	in.Cols[1] = nil
	min := int64(60_000_000)
	for _, spec := range []timewindow.Spec{
		{Kind: timewindow.Tumble, Size: min, Step: min},
		{Kind: timewindow.Hop, Size: 2 * min, Step: min},
	} {
		w := &WindowAssign{Spec: spec, Time: &expr.ColRef{Idx: 2, Typ: types.TimestampTZ}, InTypes: ts}
		op, err := w.New(&Env{})
		if err != nil {
			t.Fatal(err)
		}
		var a timewindow.Assignment
		spec.Assign(in.Cols[2], 0, n, &a)
		want := a.Apply(in, types.TimestampTZ)
		// Each chunk is checked within the call: its window columns are
		// the operator's to overwrite after it.
		row := 0
		var shared []bool
		check := func(c *coldata.Chunk) error {
			if c.Cols[1] != nil {
				return fmt.Errorf("%s: the unread column is not nil", spec.String())
			}
			for i := range c.Len {
				for _, j := range []int{0, 2, 3, 4} {
					if g, w := c.Cols[j].Get(i), want.Cols[j].Get(row); g != w {
						return fmt.Errorf("%s: row %d column %d is %v, want %v", spec.String(), row, j, g, w)
					}
				}
				if c.Diffs[i] != want.Diffs[row] {
					return fmt.Errorf("%s: row %d diff %d, want %d", spec.String(), row, c.Diffs[i], want.Diffs[row])
				}
				row++
			}
			first := row - c.Len
			shared = append(shared, first < n && &c.Cols[0].Ints[0] == &in.Cols[0].Ints[first] && &c.Diffs[0] == &in.Diffs[first])
			return nil
		}
		if err := op.Push(0, in, check); err != nil {
			t.Fatal(err)
		}
		if row != want.Len {
			t.Fatalf("%s: %d rows, want %d", spec.String(), row, want.Len)
		}
		if spec.Kind != timewindow.Tumble {
			continue
		}
		// The first block is a run; the second, with its NULL time, is
		// gathered.
		if !shared[0] {
			t.Errorf("%s: the first block copied its rows rather than sharing them", spec.String())
		}
		if shared[1] {
			t.Errorf("%s: the block with a NULL time shares its rows", spec.String())
		}
	}
}
