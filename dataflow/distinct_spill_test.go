package dataflow

import (
	"fmt"
	"math/rand"
	"slices"
	"strconv"
	"testing"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/internal/randtest"
	"github.com/sluice-db/sluice/types"
)

// distinctAggregate is the aggregate a DISTINCT over columns typs is
// lowered to (planner.lowerDistinct): every column a key, no aggregate
// call.
func distinctAggregate(typs []*types.T) *Aggregate {
	return &Aggregate{Keys: coldata.AllColumns(len(typs)), InTypes: typs}
}

// distinctSpillColumns are the input of TestDistinctSpillRandom: two
// integers (the second sometimes NULL), a bool, a text (spillText), a
// numeric and a float whose equal values print differently (numericKey,
// floatKey).
var distinctSpillColumns = []*types.T{types.Int8, types.Int8, types.Bool, types.Text, types.Numeric, types.Float8}

// distinctSpillEpochs draws n epochs of inserts and deletes of rows over
// keys values, some hot and most cold, each row inserted up to three times
// (a row stays while one copy does): deletes retract rows whose group is
// spilled, drop a copy of a row still present, or empty a row. A key's
// numeric and float print alike within an epoch (storedKeyEpochs).
func distinctSpillEpochs(rng *rand.Rand, n, keys int, cols []int) []snapshotEpoch {
	typs := make([]*types.T, len(cols))
	for j, c := range cols {
		typs[j] = distinctSpillColumns[c]
	}
	return changeEpochs(rng, n, keys, typs, false, 3, func(e, k int) []types.Datum {
		var k2 types.Datum
		if k%8 != 0 {
			k2 = int64(k % 7)
		}
		rep := (e*7919 + k*104729) % 6
		all := []types.Datum{int64(k), k2, k%5 == 0, spillText(k), numericKey(k, rep), floatKey(k, e)}
		row := make([]types.Datum, len(cols))
		for j, c := range cols {
			row[j] = all[c]
		}
		return row
	})
}

// TestDistinctSpillRandom runs random epochs of duplicated rows, inserted
// and deleted, through the Distinct operator and through the aggregate a
// DISTINCT is lowered to, under a budget so small that most rows are
// spilled and without one: every epoch's output must be the Distinct's.
// Snapshots (whole, then deltas) of the aggregates, restored with and
// without a budget, must go on as the Distinct does (checkSpillRandom).
// SLUICE_SEED=<n> replays a run.
func TestDistinctSpillRandom(t *testing.T) {
	seed := randtest.Seed(t)
	rng := rand.New(rand.NewSource(seed))
	spill := openTestSpill(t)
	// Packed rows (integers, NULLs among them), encoded ones (text; text,
	// integers and a bool), stored ones (numeric; float and an integer;
	// numeric, float and text).
	for _, cols := range [][]int{{0}, {0, 1}, {3}, {0, 1, 2, 3}, {4}, {5, 0}, {4, 5, 3}} {
		for _, workers := range []int{1, 3} {
			t.Run(fmt.Sprintf("cols=%v/workers=%d", cols, workers), func(t *testing.T) {
				typs := make([]*types.T, len(cols))
				for j, c := range cols {
					typs[j] = distinctSpillColumns[c]
				}
				// A byte: every instance keeps its floor of a page of groups.
				budget := NewBudget(1, func() SpillSpace { return spill.Space() })
				chunk := 64 + rng.Intn(256)
				newDF := func(spec OpSpec, b *Budget) *Dataflow {
					g := &Graph{}
					g.Add(spec, g.Add(&Source{Name: "t", Typs: typs}))
					return newBudgetDataflow(t, g, b, Workers(workers), ChunkSize(chunk))
				}
				agg := func(b *Budget) *Dataflow { return newDF(distinctAggregate(typs), b) }
				more := spillChecks{also: newDF(&Distinct{Typs: typs}, nil)}
				checkSpillRandom(t, rng, agg, budget, distinctSpillEpochs(rng, 24, 5000*workers, cols), more)
			})
		}
	}
}

// TestDistinctSpillRetractsSpilledRows inserts rows (NULLs among them)
// twice, lets them be spilled, then deletes one copy of each (no output
// change), then the other (each row retracted once), then inserts them
// again: each step's output must be the Distinct operator's, with the
// rows spilled before it.
func TestDistinctSpillRetractsSpilledRows(t *testing.T) {
	spill := openTestSpill(t)
	typs := []*types.T{types.Text, types.Int8}
	const n = 4000
	rows := func(diff int64) snapshotEpoch {
		c := NewChanges(typs, n)
		for k := range n {
			var s, i types.Datum
			if k%10 != 0 {
				s = "row " + strconv.Itoa(k/2)
			}
			if k%7 != 0 {
				i = int64(k % 3)
			}
			c.AppendRow([]types.Datum{s, i})
			c.Diffs = append(c.Diffs, diff)
		}
		c.Len = n
		return snapshotEpoch{in: map[int][]*coldata.Chunk{0: {c}}}
	}
	newDF := func(spec OpSpec, b *Budget) *Dataflow {
		g := &Graph{}
		g.Add(spec, g.Add(&Source{Name: "t", Typs: typs}))
		return newBudgetDataflow(t, g, b, Workers(2), ChunkSize(128))
	}
	budget := NewBudget(1, func() SpillSpace { return spill.Space() })
	ref := newDF(&Distinct{Typs: typs}, nil)
	spilling := newDF(distinctAggregate(typs), budget)
	// The log of state not bounded by the limit names the Distinct
	// operator (a DISTINCT of no columns), not the aggregate.
	if got := spilling.UnboundedState(); len(got) != 0 {
		t.Fatalf("unbounded state of the spilling aggregate %v, want none", got)
	}
	if got := newDF(&Distinct{Typs: typs}, budget).UnboundedState(); !slices.Equal(got, []string{"Distinct"}) {
		t.Fatalf("unbounded state of the Distinct operator %v, want [Distinct]", got)
	}
	for i, e := range []snapshotEpoch{rows(1), rows(1), rows(-1), rows(-1), rows(1)} {
		spilled := spilledKeys(spilling)
		// The last step inserts into an empty state.
		if i > 0 && i < 4 && spilled < n/4 {
			t.Fatalf("step %d: %d rows spilled before it, want most", i, spilled)
		}
		want := stepText(t, ref, e)
		if got := stepText(t, spilling, e); got != want {
			t.Fatalf("step %d (%d rows spilled): got\n%s\nwant\n%s", i, spilled, got, want)
		}
	}
}

// BenchmarkDistinct measures a DISTINCT over 1M rows of two bigints (the
// input of SELECT DISTINCT bidder, auction) or of a text, created before
// the timer, on one worker, an epoch every 64 chunks of 1024 rows
// (duplicates of the rows, uniform): the Distinct operator (op=distinct)
// against the aggregate DISTINCT is lowered to when its columns' equal
// values are identical (op=aggregate), without a budget and with one an
// eighth of the aggregate's state.
func BenchmarkDistinct(b *testing.B) {
	const rows = 1 << 20
	for _, cols := range []string{"int8,int8", "text"} {
		typs := []*types.T{types.Int8, types.Int8}
		row := func(k int) []types.Datum { return []types.Datum{int64(k >> 4), int64(k & 15)} }
		if cols == "text" {
			typs = []*types.T{types.Text}
			row = func(k int) []types.Datum { return []types.Datum{fmt.Sprintf("user/%07d", k)} }
		}
		chunkOf := func(key func(i int) int) *coldata.Chunk {
			c := NewChanges(typs, coldata.DefaultChunkSize)
			for i := range coldata.DefaultChunkSize {
				c.AppendRow(row(key(i)))
				c.Diffs = append(c.Diffs, 1)
			}
			c.Len = coldata.DefaultChunkSize
			return c
		}
		fill := func(n int) *coldata.Chunk {
			return chunkOf(func(i int) int { return n*coldata.DefaultChunkSize + i })
		}
		rng := rand.New(rand.NewSource(1))
		chunks := make([]*coldata.Chunk, spillBenchEpoch)
		for i := range chunks {
			chunks[i] = chunkOf(func(int) int { return rng.Intn(rows) })
		}
		for _, op := range []string{"distinct", "aggregate"} {
			var spec OpSpec = &Distinct{Typs: typs}
			limits := []int64{0}
			if op == "aggregate" {
				spec = distinctAggregate(typs)
				limits = append(limits, rows*40/8)
			}
			for _, limit := range limits {
				b.Run(fmt.Sprintf("cols=%s/op=%s/limit=%d", cols, op, limit), func(b *testing.B) {
					benchSpill(b, spec, rows/coldata.DefaultChunkSize, fill, chunks, limit)
				})
			}
		}
	}
}
