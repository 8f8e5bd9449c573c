package dataflow

import (
	"fmt"
	"math/rand"
	"slices"
	"testing"

	"github.com/cockroachdb/apd/v3"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/internal/randtest"
	"github.com/sluice-db/sluice/types"
)

// topNSpillColumns are the input of the spilling top-N tests: an integer
// group key (sometimes NULL), an order column of few values (ties,
// sometimes NULL), a payload, a numeric, a bool and a text group key
// (spillText).
var topNSpillColumns = []*types.T{types.Int8, types.Int8, types.Int8, types.Numeric, types.Bool, types.Text}

// topNSpillEpochs draws n epochs of rows over keys groups, some hot and
// most cold, each row inserted once or twice; unless appendOnly, deletes
// retract rows of any group (spilled ones among them), a copy at a time.
func topNSpillEpochs(rng *rand.Rand, n, keys int, appendOnly bool) []snapshotEpoch {
	return changeEpochs(rng, n, keys, topNSpillColumns, appendOnly, 2, func(_, k int) []types.Datum {
		var key, order types.Datum
		if k%31 != 0 {
			key = int64(k)
		}
		if rng.Intn(10) != 0 {
			order = int64(rng.Intn(6))
		}
		return []types.Datum{key, order, int64(rng.Intn(1000)), topNSpillNumeric(fmt.Sprintf("%d.%s", rng.Intn(9), []string{"0", "00", "5"}[rng.Intn(3)])), rng.Intn(2) == 0, spillText(k)}
	})
}

// topNSpillNumeric returns the numeric of s: 1.0 and 1.00 are one group
// key of two rows, each keeping its own.
func topNSpillNumeric(s string) types.Datum {
	d, _, err := apd.NewFromString(s)
	if err != nil {
		panic(err)
	}
	return d
}

// TestTopNSpillRandom runs random epochs through top-Ns per group (by an
// integer, a text, both; with and without a limit, an offset, ties, dense
// ranks, numbering; over an input that retracts and one that does not)
// under a budget so small that most groups are spilled, and without one:
// every epoch's output must be the same, and snapshots (whole, then
// deltas) of either, restored into either, must go on as the reference
// does (checkSpillRandom). The cases over few groups (keys) hold many rows
// a group, most of which rank past its window: over a stream a spilled
// group drops them by its cut-off. SLUICE_SEED=<n> replays a run.
func TestTopNSpillRandom(t *testing.T) {
	seed := randtest.Seed(t)
	rng := rand.New(rand.NewSource(seed))
	spill := openTestSpill(t)
	desc := SortKey{Col: 1, Desc: true, NullsFirst: true}
	for _, tc := range []struct {
		name string
		spec TopN
		keys int // groups a worker, 5000 if 0
	}{
		{"int/limit", TopN{Group: []int{0}, Order: []SortKey{desc, {Col: 2}}, Limit: 3}, 0},
		{"int/offset/numbered", TopN{Group: []int{0}, Order: []SortKey{{Col: 1}}, Limit: 2, Offset: 1, Numbered: true}, 0},
		{"text/ties/numbered", TopN{Group: []int{5}, Order: []SortKey{{Col: 1}}, Limit: 2, WithTies: true, Numbered: true}, 0},
		{"int,text/dense", TopN{Group: []int{0, 5}, Order: []SortKey{desc}, Limit: 2, WithTies: true, Dense: true, Numbered: true}, 0},
		{"int,numeric/unlimited", TopN{Group: []int{0, 3}, Order: []SortKey{{Col: 1}, {Col: 2}}, Limit: -1, Offset: 2}, 0},
		{"int/append-only", TopN{Group: []int{0}, Order: []SortKey{desc, {Col: 2, Desc: true}}, Limit: 3, AppendOnly: true}, 0},
		{"text/append-only/ties", TopN{Group: []int{5}, Order: []SortKey{desc}, Limit: 1, WithTies: true, AppendOnly: true}, 0},
		{"int/append-only/offset/few", TopN{Group: []int{0}, Order: []SortKey{{Col: 2}}, Limit: 1, Offset: 1, AppendOnly: true}, 800},
		{"int/append-only/nulls-last/few", TopN{Group: []int{0}, Order: []SortKey{{Col: 1, Desc: true}, {Col: 2}}, Limit: 2, AppendOnly: true, Numbered: true}, 800},
		{"text/append-only/ties/few", TopN{Group: []int{5}, Order: []SortKey{{Col: 1}}, Limit: 2, WithTies: true, AppendOnly: true, Numbered: true}, 800},
		{"int,text/append-only/dense/few", TopN{Group: []int{0, 5}, Order: []SortKey{desc}, Limit: 2, WithTies: true, Dense: true, Numbered: true, AppendOnly: true}, 800},
		{"int/limit/few", TopN{Group: []int{0}, Order: []SortKey{{Col: 2, Desc: true}}, Limit: 2}, 800},
	} {
		for _, workers := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/workers=%d", tc.name, workers), func(t *testing.T) {
				spec := tc.spec
				spec.Typs = topNSpillColumns
				// A byte: every instance keeps its floor of groups.
				budget := NewBudget(1, func() SpillSpace { return spill.Space() })
				chunk := 64 + rng.Intn(256)
				newDF := func(b *Budget) *Dataflow {
					g := &Graph{}
					g.Add(&spec, g.Add(&Source{Name: "t", Typs: topNSpillColumns}))
					return newBudgetDataflow(t, g, b, Workers(workers), ChunkSize(chunk))
				}
				keys := tc.keys
				if keys == 0 {
					keys = 5000
				}
				checkSpillRandom(t, rng, newDF, budget, topNSpillEpochs(rng, 24, keys*workers, spec.AppendOnly), spillChecks{})
			})
		}
	}
}

// TestTopNSpillDropsRowsPastCut fills a top-1 per group over a stream,
// under a budget that spills all but its floor of groups, then pushes a
// rows that rank past their groups' windows: no spilled group may be
// loaded back. Rows that rank first load their groups back; every
// epoch's output is the reference's.
func TestTopNSpillDropsRowsPastCut(t *testing.T) {
	spill := openTestSpill(t)
	typs := []*types.T{types.Int8, types.Int8}
	spec := &TopN{Group: []int{0}, Order: []SortKey{{Col: 1, Desc: true}}, Limit: 1, Typs: typs, AppendOnly: true}
	newDF := func(b *Budget) *Dataflow {
		g := &Graph{}
		g.Add(spec, g.Add(&Source{Name: "t", Typs: typs}))
		return newBudgetDataflow(t, g, b, Workers(1))
	}
	const groups = 1000
	epoch := func(v func(k int64) int64) snapshotEpoch {
		c := NewChanges(typs, groups)
		for k := range int64(groups) {
			c.AppendRow([]types.Datum{k, v(k)})
			c.Diffs = append(c.Diffs, 1)
		}
		c.Len = groups
		return snapshotEpoch{in: map[int][]*coldata.Chunk{0: {c}}}
	}
	ref, spilling := newDF(nil), newDF(NewBudget(1, func() SpillSpace { return spill.Space() }))
	op := spilling.workers[0].ops[1].(*topNOp)
	for i, e := range []snapshotEpoch{
		epoch(func(k int64) int64 { return 100 + k%7 }),
		epoch(func(k int64) int64 { return 50 + k%7 }),
		epoch(func(k int64) int64 { return 99 + k%7 }),
		epoch(func(k int64) int64 { return 200 + k%7 }),
		epoch(func(k int64) int64 { return 150 + k%7 }),
	} {
		spilledBefore := op.spill.spilled
		got, want := stepText(t, spilling, e), stepText(t, ref, e)
		if got != want {
			t.Fatalf("epoch %d: got\n%s\nwant\n%s", i, got, want)
		}
		switch {
		case i == 0 && op.spill.spilled != groups-topNSpillFloor:
			t.Fatalf("epoch 0: %d groups spilled, want %d", op.spill.spilled, groups-topNSpillFloor)
		case i != 0 && i != 3 && (op.spill.spilled != spilledBefore || len(op.groups) != topNSpillFloor):
			t.Fatalf("epoch %d: %d groups spilled and %d held, want %d and %d", i, op.spill.spilled, len(op.groups), spilledBefore, topNSpillFloor)
		case len(op.cuts()) != op.spill.spilled:
			t.Fatalf("epoch %d: %d cut-offs for %d spilled groups", i, len(op.cuts()), op.spill.spilled)
		}
	}
}

// cuts returns the cut-offs of o's spilled groups.
func (o *topNOp) cuts() map[string]topNCut { return o.spill.cuts }

// TestTopNSpillUnbounded checks the log of state not bounded by a
// memory limit: it names a global top-N (one group, which cannot spill),
// not a top-N per group.
func TestTopNSpillUnbounded(t *testing.T) {
	spill := openTestSpill(t)
	budget := NewBudget(1<<20, func() SpillSpace { return spill.Space() })
	typs := []*types.T{types.Int8, types.Int8}
	for _, group := range [][]int{{0}, nil} {
		g := &Graph{}
		spec := &TopN{Group: group, Order: []SortKey{{Col: 1}}, Limit: 1, Typs: typs}
		g.Add(spec, g.Add(&Source{Name: "t", Typs: typs}))
		df := newBudgetDataflow(t, g, budget, Workers(2))
		var want []string
		if group == nil {
			want = []string{spec.String()}
		}
		if got := df.UnboundedState(); !slices.Equal(got, want) {
			t.Fatalf("group %v: unbounded state %v, want %v", group, got, want)
		}
	}
}

// TestTopNDeltaForgetsPassingRows pushes, after a snapshot, rising values
// into a top-1 per group over a stream, an epoch each: every value
// enters its group's window and leaves it at the next. A delta must
// then hold only the rows whose multiplicity differs from the snapshot's
// (the row it held, gone, and the last), not every row that passed, and
// restore to the same state.
func TestTopNDeltaForgetsPassingRows(t *testing.T) {
	typs := []*types.T{types.Int8, types.Int8}
	spec := &TopN{Group: []int{0}, Order: []SortKey{{Col: 1, Desc: true}}, Limit: 1, Typs: typs, AppendOnly: true}
	newDF := func() *Dataflow {
		g := &Graph{}
		g.Add(spec, g.Add(&Source{Name: "t", Typs: typs}))
		return newBudgetDataflow(t, g, nil, Workers(1))
	}
	row := func(v int64) snapshotEpoch {
		c := NewChanges(typs, 1)
		c.AppendRow([]types.Datum{int64(7), v})
		c.Diffs, c.Len = append(c.Diffs, 1), 1
		return snapshotEpoch{in: map[int][]*coldata.Chunk{0: {c}}}
	}
	df := newDF()
	stepText(t, df, row(0))
	base, err := snapshotBytes(df.Snapshot)
	if err != nil {
		t.Fatal(err)
	}
	for v := range int64(1000) {
		stepText(t, df, row(v+1))
	}
	if n := len(df.workers[0].ops[1].(*topNOp).changed); n != 2 {
		t.Fatalf("%d rows changed since the snapshot, want 2", n)
	}
	delta, err := snapshotBytes(df.SnapshotDelta)
	if err != nil {
		t.Fatal(err)
	}
	restored := newDF()
	if err := restored.Restore(base, delta); err != nil {
		t.Fatal(err)
	}
	if got, want := stepText(t, restored, row(2000)), stepText(t, df, row(2000)); got != want {
		t.Fatalf("restored: got\n%s\nwant\n%s", got, want)
	}
}

// BenchmarkTopNSpill measures a top-3 per group of 64k bigint groups over
// a stream (ordered by a bigint, descending), filled with 4 rows a group
// before the timer, on one worker, an epoch every 64 chunks of 1024 rows
// of random values (keys uniform, or 90% on 5% of them), without a
// budget and with one an eighth of the state by the operator's estimate.
func BenchmarkTopNSpill(b *testing.B) {
	const groups = 1 << 16
	typs := []*types.T{types.Int8, types.Int8, types.Int8}
	spec := &TopN{Group: []int{0}, Order: []SortKey{{Col: 1, Desc: true}}, Limit: 3, Typs: typs, AppendOnly: true}
	rng := rand.New(rand.NewSource(1))
	chunkOf := func(key func() int) *coldata.Chunk {
		c := NewChanges(typs, coldata.DefaultChunkSize)
		for range coldata.DefaultChunkSize {
			c.AppendRow([]types.Datum{int64(key()), rng.Int63n(1 << 40), rng.Int63()})
			c.Diffs = append(c.Diffs, 1)
		}
		c.Len = coldata.DefaultChunkSize
		return c
	}
	fill := func(n int) *coldata.Chunk {
		k := n * coldata.DefaultChunkSize
		return chunkOf(func() int { k++; return k % groups })
	}
	for _, dist := range []string{"uniform", "skewed"} {
		key := func() int { return rng.Intn(groups) }
		if dist == "skewed" {
			key = func() int {
				if rng.Intn(10) != 0 {
					return rng.Intn(groups / 20)
				}
				return rng.Intn(groups)
			}
		}
		chunks := make([]*coldata.Chunk, spillBenchEpoch)
		for i := range chunks {
			chunks[i] = chunkOf(key)
		}
		// A group of 3 rows: about 3 x 250 bytes of rows and 250 of
		// group, window included.
		for _, limit := range []int64{0, groups * 1000 / 8} {
			b.Run(fmt.Sprintf("keys=%s/limit=%d", dist, limit), func(b *testing.B) {
				benchSpill(b, spec, 4*groups/coldata.DefaultChunkSize, fill, chunks, limit)
			})
		}
	}
}
