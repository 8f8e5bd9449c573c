package dataflow

import (
	"fmt"
	"math/rand"
	"syscall"
	"testing"
	"time"

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
				budget := NewBudget(1, func() SpillSpace { return spill.Space() })
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
				run := func(df *Dataflow, e snapshotEpoch) string { return stepText(t, df, e) }
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

// BenchmarkAggregateSpill measures GROUP BY key with sum and count over
// 1M groups (about 56 MB of state), created before the timer, on one
// worker, an epoch every 64 chunks of 1024 rows: without a budget, and
// with one an eighth of the state. Keys are uniform (most rows hit a
// spilled group) or skewed (90% of the rows on 5% of the keys). rows/cpu-s
// counts the process' CPU time, the spill store's included.
func BenchmarkAggregateSpill(b *testing.B) {
	const keys, epochChunks = 1 << 20, 64
	fill := benchChunks(0, 0)
	for lo := int64(0); lo < keys; lo += coldata.DefaultChunkSize {
		c := NewChanges([]*types.T{types.Int8, types.Int8}, coldata.DefaultChunkSize)
		for k := lo; k < lo+coldata.DefaultChunkSize; k++ {
			c.Cols[0].Ints, c.Cols[1].Ints, c.Diffs = append(c.Cols[0].Ints, k), append(c.Cols[1].Ints, k), append(c.Diffs, 1)
		}
		c.Len = coldata.DefaultChunkSize
		fill = append(fill, c)
	}
	for _, keyDist := range []string{"uniform", "skewed"} {
		chunks := benchChunks(epochChunks, keys)
		if keyDist == "skewed" {
			rng := rand.New(rand.NewSource(2))
			for _, c := range chunks {
				for i := range c.Cols[0].Ints {
					if rng.Intn(10) != 0 {
						c.Cols[0].Ints[i] = rng.Int63n(keys / 20)
					}
				}
			}
		}
		for _, limit := range []int64{0, keys * 56 / 8} {
			b.Run(fmt.Sprintf("keys=%s/limit=%d", keyDist, limit), func(b *testing.B) {
				env := &Env{Workers: 1, Eval: &expr.EvalCtx{Cfg: types.DefaultConfig()}}
				if limit > 0 {
					spill, err := storage.OpenSpill(b.TempDir())
					if err != nil {
						b.Fatal(err)
					}
					defer spill.Close()
					env.Budget = NewBudget(limit, func() SpillSpace { return spill.Space() })
				}
				op, err := benchAggregateSpec().New(env)
				if err != nil {
					b.Fatal(err)
				}
				discard := func(*coldata.Chunk) error { return nil }
				epoch := func(chunks []*coldata.Chunk) {
					for _, c := range chunks {
						if err := op.Push(0, c, discard); err != nil {
							b.Fatal(err)
						}
					}
					if err := op.Flush(discard); err != nil {
						b.Fatal(err)
					}
				}
				for lo := 0; lo < len(fill); lo += epochChunks {
					epoch(fill[lo:min(lo+epochChunks, len(fill))])
				}
				cpu := processCPU()
				for b.Loop() {
					epoch(chunks)
				}
				rows := float64(b.N * epochChunks * coldata.DefaultChunkSize)
				b.ReportMetric(rows/b.Elapsed().Seconds(), "rows/s")
				b.ReportMetric(rows/(processCPU()-cpu).Seconds(), "rows/cpu-s")
				if a := op.(*aggregateOp); a.spill != nil {
					b.ReportMetric(float64(a.spill.spilled), "spilled")
				}
			})
		}
	}
}

// processCPU returns the user and system CPU time the process has taken.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
