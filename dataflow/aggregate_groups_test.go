package dataflow

import (
	"fmt"
	"math/rand"
	"slices"
	"testing"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/internal/randtest"
	"github.com/sluice-db/sluice/types"
)

// TestGroupTablePacked adds and removes packed keys at random, NULL flags
// and colliding words included, and checks the table against a map: every
// present key finds its id, an absent one is added under a fresh id, and
// freed ids are reused. With few id bits the slots run out of room for
// hash bits midway and give them up.
func TestGroupTablePacked(t *testing.T) {
	for _, idBits := range []uint{slotIDBits, 12} {
		t.Run(fmt.Sprintf("idBits=%d", idBits), func(t *testing.T) { testGroupTablePacked(t, idBits) })
	}
}

func testGroupTablePacked(t *testing.T, idBits uint) {
	rng := rand.New(rand.NewSource(1))
	type pk struct {
		a, b  uint64
		nulls uint8
	}
	tab := newGroupTable(1, 0, 2)
	tab.idBits = idBits
	model := map[pk]int32{}
	owner := map[int32]pk{}
	for step := range 200_000 {
		k := pk{uint64(rng.Intn(3000)), uint64(rng.Intn(2)) << 40, uint8(rng.Intn(4))}
		if k.nulls&1 != 0 {
			k.a = 0
		}
		if k.nulls&2 != 0 {
			k.b = 0
		}
		if want, ok := model[k]; ok && rng.Intn(2) == 0 {
			tab.unindex(want)
			tab.release(want)
			delete(model, k)
			delete(owner, want)
			continue
		}
		g, added := tab.findPacked([]int64{int64(k.a), int64(k.b)}, k.nulls)
		want, ok := model[k]
		switch {
		case ok && (added || g != want):
			t.Fatalf("step %d: key %v found as %d (added %v), want %d", step, k, g, added, want)
		case !ok && !added:
			t.Fatalf("step %d: absent key %v found as %d", step, k, g)
		case !ok:
			if o, taken := owner[g]; taken {
				t.Fatalf("step %d: key %v added as %d, the id of %v", step, k, g, o)
			}
			model[k], owner[g] = g, k
		}
		if tab.live != len(model) {
			t.Fatalf("step %d: %d live, want %d", step, tab.live, len(model))
		}
		if step%1000 == 0 {
			checkIndexed(t, tab, fmt.Sprintf("step %d", step))
		}
	}
	if int32(1)<<idBits <= tab.ids.n && tab.idBits != 32 {
		t.Fatalf("%d ids, yet the slots keep %d id bits", tab.ids.n, tab.idBits)
	}
	if keys := int32(3000 * 2 * 4); tab.ids.n > keys {
		t.Fatalf("%d ids handed out for at most %d keys: freed ids are not reused", tab.ids.n, keys)
	}
}

// indexedFromSlots returns the bitmap of the groups in tab's key index
// from a pass over its slots: what tab.indexed must hold.
func indexedFromSlots(tab *groupTable) []int64 {
	bits := make([]int64, len(tab.words)*indexedWords)
	for _, s := range tab.slots {
		if s != 0 {
			g := int32(s&tab.idMask()) - 1
			bits[g>>6] |= 1 << (g & 63)
		}
	}
	return bits
}

// checkIndexed fails the test when tab's indexed bits are not its key
// index's.
func checkIndexed(t testing.TB, tab *groupTable, where string) {
	t.Helper()
	want := indexedFromSlots(tab)
	if len(tab.indexed) != len(want) {
		t.Fatalf("%s: %d words of indexed bits for %d pages", where, len(tab.indexed), len(tab.words))
	}
	for i, w := range want {
		if got := tab.indexed[i]; got != w {
			t.Fatalf("%s: indexed bits of groups %d-%d are %064b, the key index's %064b", where, i*64, i*64+63, uint64(got), uint64(w))
		}
	}
}

// checkDataflowIndexed runs checkIndexed on every aggregate of df.
func checkDataflowIndexed(t testing.TB, df *Dataflow, where string) {
	t.Helper()
	for _, wk := range df.workers {
		for _, op := range wk.ops {
			if a, ok := op.(*aggregateOp); ok {
				checkIndexed(t, a.groups, fmt.Sprintf("%s, worker %d", where, wk.id))
			}
		}
	}
}

// TestAggregateIndexedFollowsIndex runs windowed aggregates (packed and
// encoded keys) over random epochs of inserts, retractions that empty
// groups (which leave the key index and keep their id until their window
// closes) and watermarks that close windows, over thousands of groups: after
// every epoch each table's indexed bits, which delta snapshots write, must
// be those of its key index, and a restore from a snapshot and its deltas
// must give back the same bits. SLUICE_SEED=<n> replays a run.
func TestAggregateIndexedFollowsIndex(t *testing.T) {
	seed := randtest.Seed(t)
	rng := rand.New(rand.NewSource(seed))
	in := []*types.T{types.Int8, types.Int8, types.Text}
	calls, err := parseAggCalls("count_star,sum:1", in)
	if err != nil {
		t.Fatal(err)
	}
	for _, keys := range [][]int{{0, 1}, {2, 0}} {
		for _, workers := range []int{1, 2} {
			t.Run(fmt.Sprintf("keys=%v/workers=%d", keys, workers), func(t *testing.T) {
				spec := &Aggregate{Keys: keys, Aggs: calls, InTypes: in, Window: &AggWindow{Key: slices.Index(keys, 0)}}
				newDF := roundTripDataflows(t, func() *Graph {
					g := &Graph{}
					g.Add(spec, g.Add(&Source{Name: "s", Typs: in}))
					return g
				}, workers)
				df := newDF()
				var live [][]types.Datum
				var snap []byte
				var deltas [][]byte
				wm := int64(0)
				for e := range 40 {
					var c *coldata.Chunk
					c, live = windowedChanges(rng, in, live, wm, rng.Intn(3000), 4, 3, func(end int64) []types.Datum {
						user := rng.Int63n(2000)
						return []types.Datum{end, user, fmt.Sprintf("u%d", user)}
					})
					wm += rng.Int63n(15)
					if _, _, err := df.Step(map[int][]*coldata.Chunk{0: {c}}, map[int]int64{0: wm}); err != nil {
						t.Fatal(err)
					}
					checkDataflowIndexed(t, df, fmt.Sprintf("epoch %d", e))
					switch {
					case e == 10:
						if snap, err = snapshotBytes(df.Snapshot); err != nil {
							t.Fatal(err)
						}
					case e > 10:
						d, err := snapshotBytes(df.SnapshotDelta)
						if err != nil {
							t.Fatal(err)
						}
						deltas = append(deltas, d)
					}
				}
				restored := newDF()
				if err := restored.Restore(snap, deltas...); err != nil {
					t.Fatal(err)
				}
				checkDataflowIndexed(t, restored, "restored")
				for i, wk := range df.workers {
					for j, op := range wk.ops {
						if a, ok := op.(*aggregateOp); ok {
							if got := restored.workers[i].ops[j].(*aggregateOp).groups.indexed; !slices.Equal(got, a.groups.indexed) {
								t.Fatalf("worker %d: the restored indexed bits differ from the snapshotted table's", i)
							}
						}
					}
				}
			})
		}
	}
}
