package dataflow

import (
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/cockroachdb/apd/v3"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/types"
)

// extremeColumns are the input columns of TestRunningExtreme: a key, then
// values of every kind of running-extreme state, with equal values that
// print differently (-0 and 0, NaNs, 1.5 and 1.50, '1 day' and '24 hours',
// char(n) padding).
var extremeColumns = []*types.T{types.Int8, types.Int8, types.TimestampTZ, types.Float8, types.Numeric, types.Text, types.BPChar, types.Interval}

func extremeValues(rng *rand.Rand) []types.Datum {
	pick := func(vals ...types.Datum) types.Datum { return vals[rng.Intn(len(vals))] }
	num := func(s string) types.Datum { d, _, _ := apd.NewFromString(s); return d }
	nan2 := math.Float64frombits(0x7FF8000000000001)
	return []types.Datum{
		pick(int64(0), int64(1), int64(2), nil),
		pick(int64(math.MinInt64), int64(-3), int64(0), int64(7), int64(math.MaxInt64), nil),
		pick(int64(-1_000_000), int64(0), int64(1_700_000_000_000_000), nil),
		pick(0.0, math.Copysign(0, -1), -2.5, 3.0, math.Inf(1), math.Inf(-1), math.NaN(), nan2, nil),
		pick(num("0"), num("0.00"), num("1.5"), num("1.50"), num("-2"), num("-2.0"), num("NaN"), nil),
		pick("", "a", "b", "ab", nil),
		pick("a", "a  ", "b", nil),
		pick(types.IntervalValue{Days: 1}, types.IntervalValue{Micros: 24 * 3600 * 1e6}, types.IntervalValue{Months: 1}, types.IntervalValue{Days: 30}, nil),
	}
}

// TestRunningExtreme checks that min and max over an append-only input,
// kept as running extremes, equal what the multiset kernel gives the same
// rows delivered in another order, after every epoch: ties between equal
// values that print differently go the same way.
func TestRunningExtreme(t *testing.T) {
	var calls []string
	for col := 1; col < len(extremeColumns); col++ {
		calls = append(calls, fmt.Sprintf("min:%d,max:%d", col, col))
	}
	aggs, err := parseAggCalls(strings.Join(calls, ","), extremeColumns)
	if err != nil {
		t.Fatal(err)
	}
	for seed := range int64(8) {
		rng := rand.New(rand.NewSource(seed))
		for _, keys := range [][]int{{0}, {}} {
			t.Run(fmt.Sprintf("seed=%d/keys=%v", seed, keys), func(t *testing.T) {
				running := &Aggregate{Keys: keys, Aggs: aggs, InTypes: extremeColumns, AppendOnly: true}
				multiset := &Aggregate{Keys: keys, Aggs: aggs, InTypes: extremeColumns}
				if !strings.Contains(running.String(), "input=append-only") {
					t.Fatalf("plan does not show the append-only input: %s", running)
				}
				workers := 1 + rng.Intn(3)
				runSrc, runDF := singleOpDataflow(t, running, workers, 1+rng.Intn(5))
				setSrc, setDF := singleOpDataflow(t, multiset, workers, 1+rng.Intn(5))
				runView, setView := map[string]int64{}, map[string]int64{}
				for epoch := range 20 {
					var rows [][]types.Datum
					var diffs []int64
					for range rng.Intn(15) {
						rows = append(rows, extremeValues(rng))
						diffs = append(diffs, int64(1+rng.Intn(2)))
					}
					perm := rng.Perm(len(rows))
					runIn, setIn := NewChanges(extremeColumns, len(rows)), NewChanges(extremeColumns, len(rows))
					for i := range rows {
						runIn.AppendRow(rows[i])
						runIn.Diffs = append(runIn.Diffs, diffs[i])
						setIn.AppendRow(rows[perm[i]])
						setIn.Diffs = append(setIn.Diffs, diffs[perm[i]])
					}
					stepInto(t, runDF, runSrc, runIn, running.Types(), runView)
					stepInto(t, setDF, setSrc, setIn, multiset.Types(), setView)
					if !mapsEqual(runView, setView) {
						t.Fatalf("epoch %d: running extremes\n%s\nmultiset\n%s", epoch, formatView(runView), formatView(setView))
					}
				}
			})
		}
	}
}

// TestRunningExtremeRetraction checks that a retraction reaching an
// aggregate over an append-only input fails the dataflow as a bug.
func TestRunningExtremeRetraction(t *testing.T) {
	in := []*types.T{types.Int8, types.Int8}
	aggs, err := parseAggCalls("max:1", in)
	if err != nil {
		t.Fatal(err)
	}
	src, df := singleOpDataflow(t, &Aggregate{Keys: []int{0}, Aggs: aggs, InTypes: in, AppendOnly: true}, 1, 8)
	c := NewChanges(in, 2)
	c.AppendRow([]types.Datum{int64(1), int64(5)})
	c.AppendRow([]types.Datum{int64(1), int64(5)})
	c.Diffs = append(c.Diffs, 1, -1)
	_, _, err = df.Step(map[int][]*coldata.Chunk{src: {c}}, nil)
	if err == nil || !strings.Contains(err.Error(), "[BUG]") {
		t.Fatalf("got %v, want a [BUG] error", err)
	}
}

// singleOpDataflow returns a dataflow of spec over one source, and the
// source's node.
func singleOpDataflow(t *testing.T, spec *Aggregate, workers, chunk int) (int, *Dataflow) {
	g := &Graph{}
	src := g.Add(&Source{Name: "t", Typs: spec.InTypes})
	g.Add(spec, src)
	df, err := newDataflow(g, &expr.EvalCtx{Cfg: types.DefaultConfig()}, Workers(workers), ChunkSize(chunk))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(df.Close)
	return src, df
}

// stepInto runs one epoch of df with c at source src and folds the output
// (of types typs) into view.
func stepInto(t *testing.T, df *Dataflow, src int, c *coldata.Chunk, typs []*types.T, view map[string]int64) {
	outs, _, err := df.Step(map[int][]*coldata.Chunk{src: {c}}, nil)
	out := stepOutput(df, outs)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < out.Len; i++ {
		row := rowText(typs, out.Row(i))
		if view[row] += out.Diffs[i]; view[row] == 0 {
			delete(view, row)
		}
	}
}

// BenchmarkAggregateMax measures GROUP BY key (100 000 keys in random
// order) with max over distinct int8 values, on one worker: 256 chunks of
// 1024 rows into a new operator, then its flush. input=append-only keeps
// each group's running maximum, input=retracting its multiset of values.
func BenchmarkAggregateMax(b *testing.B) {
	const keys, nChunks = 100000, 256
	rng := rand.New(rand.NewSource(1))
	in := []*types.T{types.Int8, types.Int8}
	chunks := make([]*coldata.Chunk, nChunks)
	for i := range chunks {
		c := NewChanges(in, coldata.DefaultChunkSize)
		for range coldata.DefaultChunkSize {
			c.Cols[0].Ints = append(c.Cols[0].Ints, rng.Int63n(keys))
			c.Cols[1].Ints = append(c.Cols[1].Ints, rng.Int63())
			c.Diffs = append(c.Diffs, 1)
		}
		c.Len = coldata.DefaultChunkSize
		chunks[i] = c
	}
	calls, err := parseAggCalls("max:1", in)
	if err != nil {
		b.Fatal(err)
	}
	for _, appendOnly := range []bool{true, false} {
		name := "input=retracting"
		if appendOnly {
			name = "input=append-only"
		}
		b.Run(name, func(b *testing.B) {
			spec := &Aggregate{Keys: []int{0}, Aggs: calls, InTypes: in, AppendOnly: appendOnly}
			for b.Loop() {
				op, err := spec.New(benchEnv(b, 0))
				if err != nil {
					b.Fatal(err)
				}
				pushEpoch(b, op, chunks)
			}
			b.ReportMetric(float64(nChunks*coldata.DefaultChunkSize)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
