package dataflow

import (
	"fmt"
	"math/rand"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/apd/v3"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/internal/randtest"
	"github.com/sluice-db/sluice/types"
)

// spillJoinKey is a kind of join key of the spilling join tests: its type
// and the value of key number k.
type spillJoinKey struct {
	name  string
	typ   *types.T
	value func(rng *rand.Rand, k int) types.Datum
}

// spillJoinKeys are the tests' kinds of keys: integers, packed; text,
// encoded (the empty string, long keys differing only after a shared
// prefix of 300 bytes, short ones); numeric, encoded, whose equal values
// print differently (k, k.0, k.00 are one key, and rows keep theirs).
var spillJoinKeys = []spillJoinKey{
	{"int", types.Int8, func(_ *rand.Rand, k int) types.Datum { return int64(k) }},
	{"text", types.Text, func(_ *rand.Rand, k int) types.Datum {
		switch {
		case k == 0:
			return ""
		case k%3 == 1:
			return strings.Repeat("p", 300) + strconv.Itoa(k)
		}
		return "u" + strconv.Itoa(k)
	}},
	{"numeric", types.Numeric, func(rng *rand.Rand, k int) types.Datum {
		d, _, err := apd.NewFromString(strconv.Itoa(k) + []string{"", ".0", ".00"}[rng.Intn(3)])
		if err != nil {
			panic(err)
		}
		return d
	}},
}

// spillJoinTypes returns the spilling join tests' inputs for a kind of
// key: left (key, second key, text, float), right (key, second key,
// integer); the second key is sometimes NULL, the first rarely.
func spillJoinTypes(key spillJoinKey) (left, right []*types.T) {
	return []*types.T{key.typ, types.Int8, types.Text, types.Float8}, []*types.T{key.typ, types.Int8, types.Int8}
}

// spillJoinEpochs draws n epochs of inserts and deletes on both sides over
// keys join keys, some hot (drawn often) and most cold, with repeated
// rows, so that keys are evicted with rows of one side or both, loaded
// back, emptied and created again. The first epoch is large (as a view's
// first, over its inputs' history): pushed in large chunks, it creates
// pages of keys that eviction leaves mostly empty, so that the join
// compacts them.
func spillJoinEpochs(rng *rand.Rand, n, keys int, key spillJoinKey) []snapshotEpoch {
	var held [2][][]types.Datum
	left, right := spillJoinTypes(key)
	typs := [2][]*types.T{left, right}
	var epochs []snapshotEpoch
	for i := range n {
		e := snapshotEpoch{in: map[int][]*coldata.Chunk{}}
		for side := range 2 {
			c := NewChanges(typs[side], 0)
			size := 100 + rng.Intn(300)
			if i == 0 {
				size = keys
			}
			for range size {
				if rows := held[side]; len(rows) > 0 && rng.Intn(3) == 0 {
					i := rng.Intn(len(rows))
					c.AppendRow(rows[i])
					c.Diffs = append(c.Diffs, -1)
					rows[i] = rows[len(rows)-1]
					held[side] = rows[:len(rows)-1]
					continue
				}
				k := rng.Intn(keys)
				if rng.Intn(2) == 0 {
					k = rng.Intn(keys/50 + 1)
				}
				var k1, k2 types.Datum
				if rng.Intn(50) != 0 {
					k1 = key.value(rng, k)
				}
				if rng.Intn(10) != 0 {
					k2 = int64(k % 3)
				}
				row := []types.Datum{k1, k2, fmt.Sprintf("v%d", rng.Intn(4)), float64(rng.Intn(4))}
				if side == 1 {
					row = []types.Datum{k1, k2, int64(rng.Intn(8))}
				}
				c.AppendRow(row)
				c.Diffs = append(c.Diffs, 1)
				held[side] = append(held[side], row)
			}
			c.Len = len(c.Diffs)
			e.in[side] = []*coldata.Chunk{c}
		}
		epochs = append(epochs, e)
	}
	return epochs
}

// checkSpilledJoinKeys fails unless every key in the spill store of the
// dataflow's joins is counted, is not in memory too, and passes the
// filter (a key the filter rejects would be created again in memory and
// its spilled rows lost).
func checkSpilledJoinKeys(t *testing.T, df *Dataflow) {
	t.Helper()
	for _, wk := range df.workers {
		for _, op := range wk.ops {
			j, ok := op.(*joinOp)
			if !ok || j.spill == nil {
				continue
			}
			n, key := 0, make([]int64, j.keys.nk)
			err := j.spill.space.Scan([]byte{spilledGroup}, func(k, _ []byte) error {
				n++
				if g, err := j.keys.probeStored(k, key); err != nil || g >= 0 {
					return fmt.Errorf("spilled key %x is in memory too (group %d, %v)", k, g, err)
				}
				if h, err := j.keys.hashStored(k, key); err != nil || !j.spill.filter.mayHold(h) {
					return fmt.Errorf("spilled key %x does not pass the filter (%v)", k, err)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if n != j.spill.spilled {
				t.Fatalf("%d keys in the spill store, %d counted", n, j.spill.spilled)
			}
		}
	}
}

// TestJoinSpillRandom runs random epochs through every kind of join, with
// and without a condition, on one and two keys of every kind of key
// (spillJoinKeys: packed, and encoded, mixed with an integer on two
// keys), NULL keys among them, under a budget so small
// that most keys are spilled, and without one: every epoch's output must
// be the same. Snapshots (whole, then deltas) of either, restored into
// either, must go on as the reference does. SLUICE_SEED=<n> replays a
// run.
func TestJoinSpillRandom(t *testing.T) {
	seed := randtest.Seed(t)
	rng := rand.New(rand.NewSource(seed))
	spill := openTestSpill(t)
	for _, key := range spillJoinKeys {
		spillLeft, spillRight := spillJoinTypes(key)
		for kind := InnerJoin; kind <= AntiJoin; kind++ {
			for _, cond := range []bool{false, true} {
				keys := [][]int{{0}, {0, 1}}[rng.Intn(2)]
				workers := 1 + 2*rng.Intn(2)
				t.Run(fmt.Sprintf("%s/%s/cond=%t/keys=%v/workers=%d", key.name, kind, cond, keys, workers), func(t *testing.T) {
					spec := &Join{Kind: kind, LeftKeys: keys, RightKeys: keys, LeftTypes: spillLeft, RightTypes: spillRight}
					if cond {
						// left.float < right.integer
						spec.Cond = &floatIntLess{a: 3, b: len(spillLeft) + 2}
					}
					// A byte: every instance keeps its floor of keys.
					budget := NewBudget(1, func() SpillSpace { return spill.Space() })
					newDF := func(b *Budget) *Dataflow {
						g := &Graph{}
						l := g.Add(&Source{Name: "l", Typs: spillLeft})
						r := g.Add(&Source{Name: "r", Typs: spillRight})
						g.Add(spec, l, r)
						chunk := 64 + rng.Intn(256)
						if !cond {
							chunk = 4 * coldata.DefaultChunkSize
						}
						opts := []Option{Workers(workers), ChunkSize(chunk)}
						return newBudgetDataflow(t, g, b, opts...)
					}
					checkSpillRandom(t, rng, newDF, budget, spillJoinEpochs(rng, 16, 2000*workers, key), spillChecks{store: checkSpilledJoinKeys})
				})
			}
		}
	}
}

// floatIntLess is the condition #a < #b of a float and an integer column.
type floatIntLess struct{ a, b int }

func (l *floatIntLess) Type() *types.T { return types.Bool }
func (l *floatIntLess) String() string { return fmt.Sprintf("#%d < #%d", l.a, l.b) }
func (l *floatIntLess) Eval(_ *expr.EvalCtx, c *coldata.Chunk) (*coldata.Vec, error) {
	out := coldata.NewVec(types.Bool, c.Len)
	a, b := c.Cols[l.a], c.Cols[l.b]
	for i := 0; i < c.Len; i++ {
		if a.IsNull(i) || b.IsNull(i) {
			out.Append(nil)
			continue
		}
		out.Append(a.Floats[i] < float64(b.Ints[i]))
	}
	return out, nil
}

// TestJoinSpillMemory fills a join with about 50 MB of rows over 200k
// keys, rows of new keys on both sides every push, under a budget of
// 1 MiB and without one: under the budget the state's estimate stays
// within 5/4 of the share after every push and within the share after
// every epoch, its pages within twice the rows held, and the live heap
// far under the one without a budget.
func TestJoinSpillMemory(t *testing.T) {
	const keys, limit = 200_000, 1 << 20
	spill := openTestSpill(t)
	ts := []*types.T{types.Int8, types.Int8}
	chunk := func(lo int64) *coldata.Chunk {
		c := NewChanges(ts, coldata.DefaultChunkSize)
		for k := lo; k < lo+coldata.DefaultChunkSize; k++ {
			c.Cols[0].Ints, c.Cols[1].Ints, c.Diffs = append(c.Cols[0].Ints, k%keys), append(c.Cols[1].Ints, k), append(c.Diffs, 1)
		}
		c.Len = coldata.DefaultChunkSize
		return c
	}
	discard := func(*coldata.Chunk) error { return nil }
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	fill := func(b *Budget) (*joinOp, uint64) {
		base := heap()
		env := &Env{Workers: 1, Eval: &expr.EvalCtx{Cfg: types.DefaultConfig()}, Budget: b}
		spec := &Join{Kind: FullJoin, LeftKeys: []int{0}, RightKeys: []int{0}, LeftTypes: ts, RightTypes: ts}
		op, err := spec.New(env)
		if err != nil {
			t.Fatal(err)
		}
		o := op.(*joinOp)
		for lo := int64(0); lo < 2*keys; lo += coldata.DefaultChunkSize {
			for side := range 2 {
				if err := o.Push(side, chunk(lo), discard); err != nil {
					t.Fatal(err)
				}
				// Within an epoch too, a push leaves the state within 5/4
				// of the share.
				if b != nil && o.stateSize() > b.share()+b.share()/4 {
					t.Fatalf("state of %d bytes after a push, over 5/4 of the share of %d", o.stateSize(), b.share())
				}
			}
			if lo%(16*coldata.DefaultChunkSize) == 0 {
				if err := o.Flush(discard); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := o.Flush(discard); err != nil {
			t.Fatal(err)
		}
		used := heap() - base
		runtime.KeepAlive(o)
		return o, used
	}
	plain, plainHeap := fill(nil)
	rows := plain.sides[0].rows.live + plain.sides[1].rows.live
	b := NewBudget(limit, func() SpillSpace { return spill.Space() })
	o, spillHeap := fill(b)
	t.Logf("heap: %d MiB without a budget, %d MiB under %d MiB; %d keys and %d+%d rows spilled",
		plainHeap>>20, spillHeap>>20, limit>>20, o.spill.spilled, o.spilledRows[0], o.spilledRows[1])
	if held := o.sides[0].rows.live + o.sides[1].rows.live + o.spilledRows[0] + o.spilledRows[1]; held != rows {
		t.Fatalf("%d rows held or spilled, want %d", held, rows)
	}
	spilledBytes := int64(o.spilledRows[0])*o.rowCost(0) + int64(o.spilledRows[1])*o.rowCost(1)
	if spilledBytes < 16*limit {
		t.Fatalf("%d bytes spilled: not many times the limit", spilledBytes)
	}
	if size := o.stateSize(); size > b.share() {
		t.Fatalf("state of %d bytes over the share of %d", size, b.share())
	}
	for side, js := range o.sides {
		if pages := len(js.rows.pages); pages > 2*(js.rows.live>>joinRowPageBits)+2 {
			t.Fatalf("side %d keeps %d pages for %d rows", side, pages, js.rows.live)
		}
	}
	// Pebble's memtables and cache take part of the heap under the budget.
	if spillHeap > plainHeap/2 {
		t.Fatalf("live heap %d under the budget against %d without", spillHeap, plainHeap)
	}
}

// BenchmarkJoinSpill measures an inner join of two (key, bigint) inputs
// on the key over 256k keys, bigint or text ("user-" and 12 digits: a
// key encoded, not packed), filled before the timer with four left rows
// and one right row a key (about 80 MB of state with bigint keys), on
// one worker: then inserts of right rows (each joining a key's four left
// rows), an epoch every 64 chunks of 1024 rows, without a budget and with
// one an eighth of the bigint state. Keys are uniform (most rows hit a
// spilled key) or skewed (90% of the rows on 5% of the keys). rows/cpu-s
// counts the process' CPU time, the spill store's included; live-MiB is
// the heap live after the fill.
func BenchmarkJoinSpill(b *testing.B) {
	const keys, epochChunks = 1 << 18, 64
	for _, keyDist := range []string{"uniform", "skewed"} {
		for _, limit := range []int64{0, keys * 5 * 80 / 8} {
			for _, keyType := range []*types.T{types.Int8, types.Text} {
				b.Run(fmt.Sprintf("keys=%s/limit=%d/key=%s", keyDist, limit, keyType), func(b *testing.B) {
					benchmarkJoinSpill(b, keys, epochChunks, keyDist, limit, keyType)
				})
			}
		}
	}
}

func benchmarkJoinSpill(b *testing.B, keys, epochChunks int64, keyDist string, limit int64, keyType *types.T) {
	ts := []*types.T{keyType, types.Int8}
	rowsOf := func(key func(i int64) int64, n, seq int64) *coldata.Chunk {
		c := NewChanges(ts, int(n))
		for i := range n {
			if k := key(i); keyType == types.Int8 {
				c.Cols[0].AppendInt(k)
			} else {
				c.Cols[0].AppendString(fmt.Sprintf("user-%012d", k))
			}
			c.Cols[1].AppendInt(seq + i)
			c.Diffs = append(c.Diffs, 1)
		}
		c.Len = int(n)
		return c
	}
	base := liveHeap()
	spec := &Join{Kind: InnerJoin, LeftKeys: []int{0}, RightKeys: []int{0}, LeftTypes: ts, RightTypes: ts}
	op, err := spec.New(benchEnv(b, limit))
	if err != nil {
		b.Fatal(err)
	}
	discard := func(*coldata.Chunk) error { return nil }
	n := int64(coldata.DefaultChunkSize)
	for lo := int64(0); lo < 4*keys; lo += n {
		if err := op.Push(0, rowsOf(func(i int64) int64 { return (lo + i) % keys }, n, lo), discard); err != nil {
			b.Fatal(err)
		}
		if lo < keys {
			if err := op.Push(1, rowsOf(func(i int64) int64 { return lo + i }, n, -lo-n), discard); err != nil {
				b.Fatal(err)
			}
		}
		if err := op.Flush(discard); err != nil {
			b.Fatal(err)
		}
	}
	live := liveHeap() - base
	rng := rand.New(rand.NewSource(2))
	key := func(int64) int64 {
		if keyDist == "skewed" && rng.Intn(10) != 0 {
			return rng.Int63n(keys / 20)
		}
		return rng.Int63n(keys)
	}
	var chunks []*coldata.Chunk
	for c := range epochChunks {
		chunks = append(chunks, rowsOf(key, n, keys+c*n))
	}
	cpu := processCPU()
	for b.Loop() {
		for _, c := range chunks {
			if err := op.Push(1, c, discard); err != nil {
				b.Fatal(err)
			}
			// Take the rows out again: the state keeps its size.
			c.Diffs = negate(c.Diffs)
			if err := op.Push(1, c, discard); err != nil {
				b.Fatal(err)
			}
			c.Diffs = negate(c.Diffs)
		}
		if err := op.Flush(discard); err != nil {
			b.Fatal(err)
		}
	}
	rows := float64(int64(b.N) * epochChunks * coldata.DefaultChunkSize * 2)
	b.ReportMetric(rows/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(rows/(processCPU()-cpu).Seconds(), "rows/cpu-s")
	b.ReportMetric(float64(live)/(1<<20), "live-MiB")
	if j := op.(*joinOp); j.spill != nil {
		b.ReportMetric(float64(j.spill.spilled), "spilled")
	}
	runtime.KeepAlive(op)
}

// liveHeap returns the heap live after a GC.
func liveHeap() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

func negate(diffs []int64) []int64 {
	for i := range diffs {
		diffs[i] = -diffs[i]
	}
	return diffs
}

// newBudgetDataflow builds g's dataflow with opts, under b when b is not
// nil, closed when the test ends.
func newBudgetDataflow(t *testing.T, g *Graph, b *Budget, opts ...Option) *Dataflow {
	t.Helper()
	if b != nil {
		opts = append(opts, MemoryBudget(b))
	}
	df, err := newDataflow(g, &expr.EvalCtx{Cfg: types.DefaultConfig()}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(df.Close)
	return df
}
