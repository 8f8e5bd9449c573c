package dataflow

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/internal/randtest"
	"github.com/sluice-db/sluice/storage"
	"github.com/sluice-db/sluice/types"
)

// spillColumns are the input of the spilling aggregate tests: two integer
// keys (the second sometimes NULL), an integer, a float and a bool.
var spillColumns = []*types.T{types.Int8, types.Int8, types.Int8, types.Float8, types.Bool}

// spillCalls keep their state in words: the aggregates that spill.
const spillCalls = "count_star,count:2,sum:2,avg:2,sum:3,avg:3,bool_or:4,count_star:filter=4"

// spillEpochs draws n epochs of inserts and deletes over keys groups, some
// hot (drawn often) and most cold, so that groups are evicted, loaded
// back, emptied and created again.
func spillEpochs(rng *rand.Rand, n, keys int) []snapshotEpoch {
	var rows [][]types.Datum
	var epochs []snapshotEpoch
	for range n {
		c := NewChanges(spillColumns, 0)
		for range 200 + rng.Intn(400) {
			if len(rows) > 0 && rng.Intn(3) == 0 {
				i := rng.Intn(len(rows))
				c.AppendRow(rows[i])
				c.Diffs = append(c.Diffs, -1)
				rows[i] = rows[len(rows)-1]
				rows = rows[:len(rows)-1]
				continue
			}
			k := rng.Intn(keys)
			if rng.Intn(2) == 0 {
				k = rng.Intn(keys/50 + 1)
			}
			var k2 types.Datum
			if rng.Intn(8) != 0 {
				k2 = int64(k % 7)
			}
			row := []types.Datum{int64(k), k2, int64(rng.Intn(1000) - 500), float64(rng.Intn(64)) / 8, rng.Intn(2) == 0}
			c.AppendRow(row)
			c.Diffs = append(c.Diffs, 1)
			rows = append(rows, row)
		}
		c.Len = len(c.Diffs)
		epochs = append(epochs, snapshotEpoch{in: map[int][]*coldata.Chunk{0: {c}}})
	}
	return epochs
}

// spilledGroups returns the groups the dataflow's aggregates hold in the
// spill store, over all workers.
func spilledGroups(df *Dataflow) int {
	n := 0
	for _, wk := range df.workers {
		for _, op := range wk.ops {
			if a, ok := op.(*aggregateOp); ok && a.spill != nil {
				n += a.spill.spilled
			}
		}
	}
	return n
}

// TestAggregateSpillRandom runs random epochs through an aggregate under
// a budget so small that most groups are spilled, and one without: every
// epoch's output must be the same. Snapshots (whole, then deltas) of
// either, restored into either, must go on as the reference does.
// SLUICE_SEED=<n> replays a run.
func TestAggregateSpillRandom(t *testing.T) {
	seed := randtest.EnvInt(t, "SLUICE_SEED", int64(rand.Uint32()))
	t.Logf("seed %d (SLUICE_SEED=%d replays it)", seed, seed)
	rng := rand.New(rand.NewSource(seed))
	calls, err := parseAggCalls(spillCalls, spillColumns)
	if err != nil {
		t.Fatal(err)
	}
	spill, err := storage.OpenSpill(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer spill.Close()
	for _, keys := range [][]int{{0}, {0, 1}} {
		for _, workers := range []int{1, 3} {
			t.Run(fmt.Sprintf("keys=%v/workers=%d", keys, workers), func(t *testing.T) {
				spec := &Aggregate{Keys: keys, Aggs: calls, InTypes: spillColumns}
				// A byte: every instance keeps its floor of a page of groups.
				budget := NewBudget(1, spill)
				newDF := func(b *Budget) *Dataflow {
					g := &Graph{}
					g.Add(spec, g.Add(&Source{Name: "t", Typs: spillColumns}))
					opts := []Option{Workers(workers), ChunkSize(64 + rng.Intn(256))}
					if b != nil {
						opts = append(opts, MemoryBudget(b))
					}
					df, err := New(g, &expr.EvalCtx{Cfg: types.DefaultConfig()}, opts...)
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(df.Close)
					return df
				}
				run := func(df *Dataflow, e snapshotEpoch) string {
					out, wm, err := df.Step(e.in, e.watermarks)
					if err != nil {
						t.Fatal(err)
					}
					return epochText(stepOutput(df, out), wm)
				}
				epochs := spillEpochs(rng, 24, 5000*workers)
				ref, spilling := newDF(nil), newDF(budget)
				cut := 4 + rng.Intn(8)
				var want []string
				var snaps [2][]byte
				var deltas [2][][]byte
				maxSpilled := 0
				for i, e := range epochs {
					want = append(want, run(ref, e))
					if got := run(spilling, e); got != want[i] {
						t.Fatalf("epoch %d spilling (%d groups spilled): got\n%s\nwant\n%s", i, spilledGroups(spilling), got, want[i])
					}
					maxSpilled = max(maxSpilled, spilledGroups(spilling))
					for j, df := range []*Dataflow{ref, spilling} {
						var err error
						switch {
						case i == cut:
							snaps[j], err = snapshotBytes(df.Snapshot)
						case i > cut:
							var d []byte
							d, err = snapshotBytes(df.SnapshotDelta)
							deltas[j] = append(deltas[j], d)
						}
						if err != nil {
							t.Fatal(err)
						}
					}
				}
				if maxSpilled < 500 {
					t.Fatalf("at most %d groups spilled: the test does not spill", maxSpilled)
				}
				t.Logf("%d epochs, cut %d, up to %d groups spilled", len(epochs), cut, maxSpilled)
				for j, from := range []string{"plain", "spilling"} {
					for _, k := range []int{0, len(deltas[j]) / 2, len(deltas[j]) - 1} {
						for _, b := range []*Budget{nil, budget} {
							restored := newDF(b)
							if err := restored.Restore(snaps[j], deltas[j][:k]...); err != nil {
								t.Fatalf("restoring the %s snapshot of epoch %d and %d deltas (budget %v): %v", from, cut, k, b != nil, err)
							}
							for i := cut + 1 + k; i < len(epochs); i++ {
								if got := run(restored, epochs[i]); got != want[i] {
									t.Fatalf("epoch %d after restoring the %s snapshot of epoch %d and %d deltas (budget %v): got\n%s\nwant\n%s", i, from, cut, k, b != nil, got, want[i])
								}
							}
						}
					}
				}
			})
		}
	}
}
