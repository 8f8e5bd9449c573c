package dataflow

import (
	"fmt"
	"hash/maphash"
	"math/rand"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/exec"
	"github.com/sluice-db/sluice/internal/randtest"
	"github.com/sluice-db/sluice/storage"
	"github.com/sluice-db/sluice/types"
)

// spillColumns are the input of the spilling aggregate tests: two integer
// keys (the second sometimes NULL), an integer, a float, a bool and a text
// key (spillText).
var spillColumns = []*types.T{types.Int8, types.Int8, types.Int8, types.Float8, types.Bool, types.Text}

// spillText returns the text key of integer key k: sometimes NULL or
// empty, a third of them long and differing only after a prefix of 300
// bytes, so that encoded keys are spilled, looked up and restored in all
// their shapes.
func spillText(k int) types.Datum {
	switch {
	case k%97 == 0:
		return nil
	case k%89 == 0:
		return ""
	case k%3 == 0:
		return strings.Repeat("p", 300) + strconv.Itoa(k)
	}
	return "city " + strconv.Itoa(k)
}

// spillCalls keep their state in words: the aggregates that spill.
const spillCalls = "count_star,count:2,sum:2,avg:2,sum:3,avg:3,bool_or:4,count_star:filter=4"

// spillEpochs draws n epochs of inserts and deletes over keys groups, some
// hot (drawn often) and most cold, so that groups are evicted, loaded
// back, emptied and created again.
func spillEpochs(rng *rand.Rand, n, keys int) []snapshotEpoch {
	return changeEpochs(rng, n, keys, spillColumns, false, 1, func(_, k int) []types.Datum {
		var k2 types.Datum
		if rng.Intn(8) != 0 {
			k2 = int64(k % 7)
		}
		return []types.Datum{int64(k), k2, int64(rng.Intn(1000) - 500), float64(rng.Intn(64)) / 8, rng.Intn(2) == 0, spillText(k)}
	})
}

// changeEpochs draws n epochs of 200 to 600 changes over keys keys of
// typs, half of the rows inserted on the hottest fiftieth of the keys:
// unless appendOnly, a third of the changes delete a copy of a row
// inserted before (spilled, still held, or the last copy); the others
// insert row(e, k), for epoch e and key k, 1 to copies times.
func changeEpochs(rng *rand.Rand, n, keys int, typs []*types.T, appendOnly bool, copies int, row func(e, k int) []types.Datum) []snapshotEpoch {
	var rows [][]types.Datum
	var epochs []snapshotEpoch
	for e := range n {
		c := NewChanges(typs, 0)
		for range 200 + rng.Intn(400) {
			if !appendOnly && len(rows) > 0 && rng.Intn(3) == 0 {
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
			r := row(e, k)
			for range 1 + rng.Intn(copies) {
				c.AppendRow(r)
				c.Diffs = append(c.Diffs, 1)
				rows = append(rows, r)
			}
		}
		c.Len = len(c.Diffs)
		epochs = append(epochs, snapshotEpoch{in: map[int][]*coldata.Chunk{0: {c}}})
	}
	return epochs
}

// spilledKeys returns the groups and join keys the dataflow's aggregates,
// joins and top-Ns hold in the spill store.
func spilledKeys(df *Dataflow) int {
	n := 0
	for _, wk := range df.workers {
		for _, op := range wk.ops {
			switch op := op.(type) {
			case *aggregateOp:
				if op.spill != nil {
					n += op.spill.spilled
				}
			case *joinOp:
				if op.spill != nil {
					n += op.spill.spilled
				}
			case *topNOp:
				if op.spill != nil {
					n += op.spill.spilled
				}
			case *sessionOp:
				if op.spill != nil {
					n += len(op.spill.spilled)
				}
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
	seed := randtest.Seed(t)
	rng := rand.New(rand.NewSource(seed))
	calls, err := parseAggCalls(spillCalls, spillColumns)
	if err != nil {
		t.Fatal(err)
	}
	spill := openTestSpill(t)
	// Packed keys (integers), encoded ones (text; text and integers; text
	// and a bool).
	for _, keys := range [][]int{{0}, {0, 1}, {5}, {5, 1}, {4, 5}} {
		for _, workers := range []int{1, 3} {
			t.Run(fmt.Sprintf("keys=%v/workers=%d", keys, workers), func(t *testing.T) {
				spec := &Aggregate{Keys: keys, Aggs: calls, InTypes: spillColumns}
				// A byte: every instance keeps its floor of a page of groups.
				budget := NewBudget(1, func() SpillSpace { return spill.Space() })
				newDF := func(b *Budget) *Dataflow {
					g := &Graph{}
					g.Add(spec, g.Add(&Source{Name: "t", Typs: spillColumns}))
					opts := []Option{Workers(workers), ChunkSize(64 + rng.Intn(256))}
					return newBudgetDataflow(t, g, b, opts...)
				}
				checkSpillRandom(t, rng, newDF, budget, spillEpochs(rng, 24, 5000*workers), spillChecks{})
			})
		}
	}
}

// spillChecks are what a test adds to checkSpillRandom's.
type spillChecks struct {
	// also, if not nil, is a dataflow of another plan whose every epoch's
	// output must be the same too.
	also *Dataflow
	// store, if not nil, checks the spilling dataflow after every epoch.
	store func(*testing.T, *Dataflow)
}

// checkSpillRandom runs epochs through a dataflow of newDF under budget
// (so small that most groups or join keys are spilled) and one without:
// every epoch's output must be the same, and more than 500 spilled.
// Snapshots (whole at a random epoch, then deltas) of either, restored
// into either, must go on as the reference does, and one restored under
// the budget must spill by its last epoch. The budget must bound every
// operator.
func checkSpillRandom(t *testing.T, rng *rand.Rand, newDF func(*Budget) *Dataflow, budget *Budget, epochs []snapshotEpoch, more spillChecks) {
	t.Helper()
	run := func(df *Dataflow, e snapshotEpoch) string {
		out := stepText(t, df, e)
		checkDataflowIndexed(t, df, "after an epoch")
		return out
	}
	ref, spilling := newDF(nil), newDF(budget)
	if got := spilling.UnboundedState(); len(got) != 0 {
		t.Fatalf("a spilling dataflow lists operators as unbounded: %v", got)
	}
	cut := 3 + rng.Intn(len(epochs)/3)
	var want []string
	var snaps [2][]byte
	// The base is written (its spilled state streamed from the store's
	// snapshot) only after the epochs and deltas that follow it, which
	// evict, load back and change the groups it holds, as the loop goes
	// on while the checkpoint's writer streams it.
	var writeSnaps [2]func() ([]byte, error)
	var deltas [2][][]byte
	maxSpilled := 0
	for i, e := range epochs {
		want = append(want, run(ref, e))
		if more.also != nil {
			if got := run(more.also, e); got != want[i] {
				t.Fatalf("epoch %d: the other plan's output\n%s\nwant\n%s", i, got, want[i])
			}
		}
		if got := run(spilling, e); got != want[i] {
			t.Fatalf("epoch %d spilling (%d spilled): got\n%s\nwant\n%s", i, spilledKeys(spilling), got, want[i])
		}
		if more.store != nil {
			more.store(t, spilling)
		}
		maxSpilled = max(maxSpilled, spilledKeys(spilling))
		for j, df := range []*Dataflow{ref, spilling} {
			var err error
			switch {
			case i == cut:
				writeSnaps[j], err = snapshotLater(df.Snapshot)
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
	for j, write := range writeSnaps {
		var err error
		if snaps[j], err = write(); err != nil {
			t.Fatal(err)
		}
	}
	// A page of groups: the floor every instance keeps in memory, which a
	// run of few live groups (seed 3667162467: 496 on 3 workers) spills
	// about twice over.
	if maxSpilled < groupPage {
		t.Fatalf("at most %d spilled, under a page of groups: the test does not spill", maxSpilled)
	}
	t.Logf("%d epochs, cut %d, up to %d spilled", len(epochs), cut, maxSpilled)
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
				if b != nil && spilledKeys(restored) == 0 {
					t.Fatalf("restored from the %s snapshot under a budget, it spilled nothing", from)
				}
			}
		}
	}
}

// spillWindowColumns are the input of the windowed spilling tests: a
// window start (sometimes NULL), a user (sometimes NULL), an integer, the
// user's text key (spillText), a bool of the user (NULL with it) and the
// user's numeric key (numericKey: printed differently from one epoch to
// the next).
var spillWindowColumns = []*types.T{types.Int8, types.Int8, types.Int8, types.Text, types.Bool, types.Numeric}

// spillWindowEpochs draws n epochs of inserts (and deletes, unless
// appendOnly) of rows of users over the window the watermark is in (late
// rows, of a window about to close) and up to 20 windows of 10 above it,
// the watermark moving up by 0 to 30 an epoch, so that windows close
// with groups in memory and spilled, groups are evicted, loaded back,
// emptied and created again; a row in 50 has a NULL window, which never
// closes.
func spillWindowEpochs(rng *rand.Rand, n, users int, appendOnly bool) []snapshotEpoch {
	var rows [][]types.Datum
	var epochs []snapshotEpoch
	wm := int64(0)
	for e := range n {
		c := NewChanges(spillWindowColumns, 0)
		for range 200 + rng.Intn(400) {
			if !appendOnly && len(rows) > 0 && rng.Intn(4) == 0 {
				i := rng.Intn(len(rows))
				// A row of a closed window cannot be retracted: it is
				// dropped from those drawn.
				if start, ok := rows[i][0].(int64); !ok || start+10 > wm {
					c.AppendRow(rows[i])
					c.Diffs = append(c.Diffs, -1)
				}
				rows[i] = rows[len(rows)-1]
				rows = rows[:len(rows)-1]
				continue
			}
			var start, user types.Datum
			if rng.Intn(50) != 0 {
				start = wm - wm%10 + 10*rng.Int63n(21)
			}
			u := rng.Intn(users)
			if rng.Intn(2) == 0 {
				u = rng.Intn(users/50 + 1)
			}
			var flag types.Datum
			if rng.Intn(40) != 0 {
				user, flag = int64(u), u%3 == 0
			}
			row := []types.Datum{start, user, int64(rng.Intn(1000) - 500), spillText(u), flag, numericKey(u, e)}
			c.AppendRow(row)
			c.Diffs = append(c.Diffs, 1)
			rows = append(rows, row)
		}
		c.Len = len(c.Diffs)
		wm += rng.Int63n(31)
		epochs = append(epochs, snapshotEpoch{in: map[int][]*coldata.Chunk{0: {c}}, watermarks: map[int]int64{0: wm}})
	}
	return epochs
}

// TestAggregateSpillWindowsRandom is TestAggregateSpillRandom for
// windowed aggregates (TUMBLE's window_start, closing 10 after it), the
// window key first or second of the keys, which are packed integers or
// encoded (text, text and a bool, text and an integer; a numeric, whose
// groups keep their values), emitting changes
// as they happen or on window close: windows close with their groups in
// memory and spilled. SLUICE_SEED=<n> replays a run.
func TestAggregateSpillWindowsRandom(t *testing.T) {
	seed := randtest.Seed(t)
	rng := rand.New(rand.NewSource(seed))
	calls, err := parseAggCalls("count_star,count:2,sum:2,avg:2", spillWindowColumns)
	if err != nil {
		t.Fatal(err)
	}
	spill := openTestSpill(t)
	for _, onClose := range []bool{false, true} {
		for _, keys := range [][]int{{0, 1}, {1, 0}, {3, 0}, {0, 4, 3}, {1, 3, 0}, {5, 0}} {
			for _, workers := range []int{1, 3} {
				t.Run(fmt.Sprintf("on-close=%v/keys=%v/workers=%d", onClose, keys, workers), func(t *testing.T) {
					window := &AggWindow{Key: slices.Index(keys, 0), EndOffset: 10, OnClose: onClose}
					spec := &Aggregate{Keys: keys, Aggs: calls, InTypes: spillWindowColumns, Window: window, AppendOnly: onClose}
					budget := NewBudget(1, func() SpillSpace { return spill.Space() })
					newDF := func(b *Budget) *Dataflow {
						g := &Graph{}
						g.Add(spec, g.Add(&Source{Name: "t", Typs: spillWindowColumns}))
						return newBudgetDataflow(t, g, b, Workers(workers), ChunkSize(64+rng.Intn(256)))
					}
					if got := newDF(budget).UnboundedState(); len(got) != 0 {
						t.Fatalf("unbounded state under a budget: %v", got)
					}
					checkSpillRandom(t, rng, newDF, budget, spillWindowEpochs(rng, 30, 3000*workers, onClose), spillChecks{})
				})
			}
		}
	}
}

// spillFillChunk returns the i-th chunk that fills the spill benchmarks'
// state: keys (and values) i*1024 to i*1024+1023, each once.
func spillFillChunk(i int) *coldata.Chunk {
	c := NewChanges([]*types.T{types.Int8, types.Int8}, coldata.DefaultChunkSize)
	lo := int64(i * coldata.DefaultChunkSize)
	for k := lo; k < lo+coldata.DefaultChunkSize; k++ {
		c.Cols[0].Ints, c.Cols[1].Ints, c.Diffs = append(c.Cols[0].Ints, k), append(c.Cols[1].Ints, k), append(c.Diffs, 1)
	}
	c.Len = coldata.DefaultChunkSize
	return c
}

// BenchmarkAggregateSpill measures GROUP BY key with sum and count over
// 1M groups (about 56 MB of state), created before the timer, on one
// worker, an epoch every 64 chunks of 1024 rows: without a budget, and
// with one an eighth of the state. Keys are uniform (most rows hit a
// spilled group) or skewed (90% of the rows on 5% of the keys). rows/cpu-s
// counts the process' CPU time, the spill store's included.
func BenchmarkAggregateSpill(b *testing.B) {
	const keys = 1 << 20
	for _, keyDist := range []string{"uniform", "skewed"} {
		chunks := benchChunks(spillBenchEpoch, keys)
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
				benchSpill(b, benchAggregateSpec(), keys/coldata.DefaultChunkSize, spillFillChunk, chunks, limit)
			})
		}
	}
}

// BenchmarkAggregateSpillWindow is BenchmarkAggregateSpill over a
// windowed aggregate: GROUP BY a 1-day TUMBLE's window_start and a
// user, 1M users in one open window (about 64 MB of state: two key
// words, three of state and 8 bytes of slot and free id a group), with a
// budget of an eighth of it; the window does not close during the run.
// key=text keys the users by text ("user/" and 7 digits, encoded after
// the window start: about 72 MB of state by the estimate, the key
// string's 16 bytes of header and 24 of encoding instead of the key
// words; a live heap of 100 MiB).
func BenchmarkAggregateSpillWindow(b *testing.B) {
	const keys = 1 << 20
	const day = int64(24 * time.Hour / time.Microsecond)
	for _, keyType := range []*types.T{types.Int8, types.Text} {
		in := []*types.T{keyType, types.Int8, types.TimestampTZ}
		calls, err := parseAggCalls("sum:1,count:1", in)
		if err != nil {
			b.Fatal(err)
		}
		spec := &Aggregate{Keys: []int{2, 0}, Aggs: calls, InTypes: in, Window: &AggWindow{Key: 0, EndOffset: day}}
		name, stateBytes := "", int64(64)
		if keyType == types.Text {
			name, stateBytes = "key=text/", 72
		}
		// withWindow gives a chunk of user and value the window start
		// column, and the user as text when keyed by text.
		withWindow := func(c *coldata.Chunk) *coldata.Chunk {
			ws := coldata.NewVec(types.TimestampTZ, c.Len)
			for range c.Len {
				appendInt(ws, 20*day)
			}
			user := c.Cols[0]
			if keyType == types.Text {
				user = coldata.NewVec(types.Text, c.Len)
				for _, k := range c.Cols[0].Ints[:c.Len] {
					user.AppendString(fmt.Sprintf("user/%07d", k))
				}
			}
			return &coldata.Chunk{Cols: []*coldata.Vec{user, c.Cols[1], ws}, Len: c.Len, Diffs: c.Diffs}
		}
		fill := func(i int) *coldata.Chunk { return withWindow(spillFillChunk(i)) }
		for _, keyDist := range []string{"uniform", "skewed"} {
			chunks := benchChunks(spillBenchEpoch, keys)
			rng := rand.New(rand.NewSource(2))
			for i, c := range chunks {
				if keyDist == "skewed" {
					for j := range c.Cols[0].Ints {
						if rng.Intn(10) != 0 {
							c.Cols[0].Ints[j] = rng.Int63n(keys / 20)
						}
					}
				}
				chunks[i] = withWindow(c)
			}
			for _, limit := range []int64{0, keys * stateBytes / 8} {
				b.Run(fmt.Sprintf("%skeys=%s/limit=%d", name, keyDist, limit), func(b *testing.B) {
					benchSpill(b, spec, keys/coldata.DefaultChunkSize, fill, chunks, limit)
				})
			}
		}
	}
}

// BenchmarkAggregateSpillText is BenchmarkAggregateSpill keyed by text
// ("user/" and 7 digits: about 64 MB of state, a group's key string, slot
// and words), with a budget of an eighth of it.
func BenchmarkAggregateSpillText(b *testing.B) {
	const keys = 1 << 20
	benchSpillRows(b, []*types.T{types.Text, types.Int8}, "sum:1,count:1", keys, keys*64/8, func(k, i int) []types.Datum {
		return []types.Datum{fmt.Sprintf("user/%07d", k), int64(i % 1000)}
	})
}

// benchSpillRows runs BenchmarkAggregateSpill's runs over GROUP BY the
// first of columns in with calls: keys groups created before the timer,
// then rows row(k, i) of key k at place i of their chunk, the keys
// uniform or skewed, without a budget and with one of limit bytes.
func benchSpillRows(b *testing.B, in []*types.T, calls string, keys int, limit int64, row func(k, i int) []types.Datum) {
	aggs, err := parseAggCalls(calls, in)
	if err != nil {
		b.Fatal(err)
	}
	spec := &Aggregate{Keys: []int{0}, Aggs: aggs, InTypes: in}
	chunkOf := func(key func(i int) int) *coldata.Chunk {
		c := NewChanges(in, coldata.DefaultChunkSize)
		for i := range coldata.DefaultChunkSize {
			c.AppendRow(row(key(i), i))
			c.Diffs = append(c.Diffs, 1)
		}
		c.Len = coldata.DefaultChunkSize
		return c
	}
	fill := func(n int) *coldata.Chunk {
		return chunkOf(func(i int) int { return n*coldata.DefaultChunkSize + i })
	}
	for _, keyDist := range []string{"uniform", "skewed"} {
		rng := rand.New(rand.NewSource(1))
		chunks := make([]*coldata.Chunk, spillBenchEpoch)
		for i := range chunks {
			chunks[i] = chunkOf(func(int) int {
				if keyDist == "skewed" && rng.Intn(10) != 0 {
					return rng.Intn(keys / 20)
				}
				return rng.Intn(keys)
			})
		}
		for _, limit := range []int64{0, limit} {
			b.Run(fmt.Sprintf("keys=%s/limit=%d", keyDist, limit), func(b *testing.B) {
				benchSpill(b, spec, keys/coldata.DefaultChunkSize, fill, chunks, limit)
			})
		}
	}
}

// spillBenchEpoch is how many chunks an epoch of the spill benchmarks
// pushes.
const spillBenchEpoch = 64

// benchSpill runs spec's operator on one worker under a budget of limit
// bytes (0: none): fills chunks made by fill before the timer (made as
// pushed, so that the live heap holds only the state and chunks), then
// chunks an epoch per iteration. It reports rows per second, per
// CPU-second of the process, allocations, the groups spilled and the
// live heap after the run (live-MiB).
func benchSpill(b *testing.B, spec OpSpec, fills int, fill func(i int) *coldata.Chunk, chunks []*coldata.Chunk, limit int64) {
	op, err := spec.New(benchEnv(b, limit))
	if err != nil {
		b.Fatal(err)
	}
	discard := func(*coldata.Chunk) error { return nil }
	push := func(c *coldata.Chunk) {
		if err := op.Push(0, c, discard); err != nil {
			b.Fatal(err)
		}
	}
	flush := func() {
		if err := op.Flush(discard); err != nil {
			b.Fatal(err)
		}
	}
	for i := range fills {
		push(fill(i))
		if (i+1)%spillBenchEpoch == 0 || i == fills-1 {
			flush()
		}
	}
	b.ReportAllocs()
	cpu := processCPU()
	for b.Loop() {
		for _, c := range chunks {
			push(c)
		}
		flush()
	}
	rows := float64(b.N * spillBenchEpoch * coldata.DefaultChunkSize)
	b.ReportMetric(rows/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(rows/(processCPU()-cpu).Seconds(), "rows/cpu-s")
	if a, ok := op.(*aggregateOp); ok && a.spill != nil {
		b.ReportMetric(float64(a.spill.spilled), "spilled")
	}
	if t, ok := op.(*topNOp); ok && t.spill != nil {
		b.ReportMetric(float64(t.spill.spilled), "spilled")
	}
	// Twice: what sync.Pools hold survives one GC.
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	b.ReportMetric(float64(m.HeapAlloc)/(1<<20), "live-MiB")
	runtime.KeepAlive(op)
}

// processCPU returns the user and system CPU time the process has taken.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestAggregateSpillEncodedKeys spills text keys of every shape (NULL,
// empty, long, differing only after a long prefix, differing only in the
// integer key beside them), then retracts and adds rows of them while
// they are spilled, snapshots and restores: the output must be the one
// without a budget, and each shaped key must have been spilled when
// touched.
func TestAggregateSpillEncodedKeys(t *testing.T) {
	typs := []*types.T{types.Text, types.Int8, types.Int8}
	calls, err := parseAggCalls("count_star,sum:2", typs)
	if err != nil {
		t.Fatal(err)
	}
	spec := &Aggregate{Keys: []int{0, 1}, Aggs: calls, InTypes: typs}
	long := strings.Repeat("k", 5000)
	shaped := [][]types.Datum{
		{nil, int64(1)}, {nil, nil}, {"", int64(1)}, {"", nil},
		{long + "a", int64(1)}, {long + "b", int64(1)}, {long, int64(1)}, {long + "a", int64(2)},
		{"a\x00b", int64(1)}, {"a", int64(1)},
	}
	chunk := func(keys [][]types.Datum, diff int64) snapshotEpoch {
		c := NewChanges(typs, 0)
		for i, k := range keys {
			c.AppendRow([]types.Datum{k[0], k[1], int64(i)})
			c.Diffs = append(c.Diffs, diff)
		}
		c.Len = len(c.Diffs)
		return snapshotEpoch{in: map[int][]*coldata.Chunk{0: {c}}}
	}
	var filler [][]types.Datum
	for i := range 4000 {
		filler = append(filler, []types.Datum{"filler " + strconv.Itoa(i), int64(i % 3)})
	}
	// The shaped keys go in first, the filler pushes them out over two
	// turns of the clock, then they are retracted (each loses a row: the
	// ones with a single row go) and added again.
	epochs := []snapshotEpoch{chunk(append(append([][]types.Datum{}, shaped...), shaped...), 1), chunk(filler, 1), chunk(filler[:2000], 1)}
	touch := len(epochs)
	epochs = append(epochs, chunk(shaped, -1), chunk(shaped[:5], -1), chunk(shaped, 1), chunk(filler[3000:], -1))

	spill := openTestSpill(t)
	budget := NewBudget(1, func() SpillSpace { return spill.Space() })
	newDF := func(b *Budget) *Dataflow {
		g := &Graph{}
		g.Add(spec, g.Add(&Source{Name: "t", Typs: typs}))
		opts := []Option{Workers(1)}
		return newBudgetDataflow(t, g, b, opts...)
	}
	ref, spilling := newDF(nil), newDF(budget)
	if got := spilling.UnboundedState(); len(got) != 0 {
		t.Fatalf("unbounded state under a budget: %v", got)
	}
	var want []string
	var snap []byte
	for i, e := range epochs {
		if i == touch {
			a := spilling.workers[0].ops[1].(*aggregateOp)
			for _, k := range shaped {
				c := NewChanges(typs, 0)
				c.AppendRow([]types.Datum{k[0], k[1], int64(0)})
				key := RowKey(nil, c, []int{0, 1}, 0)
				if g, _ := a.groups.probeKey(string(key), maphash.Bytes(a.groups.seed, key)); g >= 0 {
					t.Fatalf("key %q, %v is in memory before epoch %d: the test does not spill it", k[0], k[1], i)
				}
			}
			if snap, err = snapshotBytes(spilling.Snapshot); err != nil {
				t.Fatal(err)
			}
		}
		want = append(want, stepText(t, ref, e))
		if got := stepText(t, spilling, e); got != want[i] {
			t.Fatalf("epoch %d spilling (%d groups spilled): got\n%s\nwant\n%s", i, spilledKeys(spilling), got, want[i])
		}
	}
	for _, b := range []*Budget{nil, budget} {
		restored := newDF(b)
		if err := restored.Restore(snap); err != nil {
			t.Fatalf("restoring (budget %v): %v", b != nil, err)
		}
		if b != nil && spilledKeys(restored) == 0 {
			t.Fatal("restored under a budget without spilled groups")
		}
		for i := touch; i < len(epochs); i++ {
			if got := stepText(t, restored, epochs[i]); got != want[i] {
				t.Fatalf("epoch %d after a restore (budget %v): got\n%s\nwant\n%s", i, b != nil, got, want[i])
			}
		}
	}
}

// TestAggregateSpillClosesWindows fills two windows and the NULL window
// with groups under a budget that spills most of them, then closes the
// first by watermark: every group of it, spilled or not, must emit its
// final row (EMIT ON WINDOW CLOSE) as without a budget, and leave the
// spill store, whose other groups stay; keyed by window and an integer
// user (packed) or a text one (encoded).
func TestAggregateSpillClosesWindows(t *testing.T) {
	const users = 3000
	calls, err := parseAggCalls("count_star,sum:2", spillWindowColumns)
	if err != nil {
		t.Fatal(err)
	}
	spill := openTestSpill(t)
	for _, keys := range [][]int{{0, 1}, {0, 3}} {
		for _, onClose := range []bool{false, true} {
			t.Run(fmt.Sprintf("keys=%v/on-close=%v", keys, onClose), func(t *testing.T) {
				checkSpillClosesWindows(t, spill, calls, keys, onClose, users)
			})
		}
	}
}

// checkSpillClosesWindows is TestAggregateSpillClosesWindows of keys
// (the window first) and onClose.
func checkSpillClosesWindows(t *testing.T, spill *storage.Spill, calls []AggCall, keys []int, onClose bool, users int) {
	t.Helper()
	spec := &Aggregate{Keys: keys, Aggs: calls, InTypes: spillWindowColumns, Window: &AggWindow{Key: 0, EndOffset: 10, OnClose: onClose}}
	budget := NewBudget(1, func() SpillSpace { return spill.Space() })
	newDF := func(b *Budget) *Dataflow {
		g := &Graph{}
		g.Add(spec, g.Add(&Source{Name: "t", Typs: spillWindowColumns}))
		return newBudgetDataflow(t, g, b, Workers(1))
	}
	c := NewChanges(spillWindowColumns, 0)
	for u := range users {
		for _, start := range []types.Datum{int64(0), int64(10), nil} {
			c.AppendRow([]types.Datum{start, int64(u), int64(u), "user/" + strconv.Itoa(u), u%2 == 0, nil})
			c.Diffs = append(c.Diffs, 1)
		}
	}
	c.Len = len(c.Diffs)
	epochs := []snapshotEpoch{
		{in: map[int][]*coldata.Chunk{0: {c}}, watermarks: map[int]int64{0: 0}},
		{watermarks: map[int]int64{0: 10}},
	}
	ref, spilling := newDF(nil), newDF(budget)
	a := spilling.workers[0].ops[1].(*aggregateOp)
	var spilledBefore int
	for i, e := range epochs {
		want := stepText(t, ref, e)
		if i == 1 {
			spilledBefore = a.spill.spilled
		}
		if got := stepText(t, spilling, e); got != want {
			t.Fatalf("epoch %d: got\n%s\nwant\n%s", i, got, want)
		}
	}
	// Every group but a page of them was spilled, those of the
	// first window among them.
	if spilledBefore < 3*users-2*groupPage {
		t.Fatalf("%d groups spilled before the window closed, want most of %d", spilledBefore, 3*users)
	}
	inStore, key := 0, make([]int64, 2)
	err := a.spill.space.Scan([]byte{spilledGroup}, func(k, _ []byte) error {
		if a.groups.nk == 0 {
			// An encoded key leads with its window's.
			if start, _, ok := types.DecodeKeyInt(k[1:]); ok && start == 0 {
				return fmt.Errorf("group %x of the closed window still spilled", k)
			}
		} else if _, ok := decodeSpillKey(a.spill.unprefixed(k), key); !ok {
			return fmt.Errorf("spill key %x", k)
		} else if key[0] == 0 && k[1] == spillWindowed {
			return fmt.Errorf("group of user %d of the closed window still spilled", key[1])
		}
		inStore++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if inStore != a.spill.spilled || inStore < 2*users-2*groupPage {
		t.Fatalf("%d groups in the store, %d counted spilled, want most of the %d of the open windows", inStore, a.spill.spilled, 2*users)
	}
}

// TestAggregateSpillWindowKeyTypes checks which windowed aggregates spill
// under a budget: packed and encoded keys, emitting changes or on window
// close, a uuid key on window close too (its key does not decode: its
// groups keep its values, and spill them), and a numeric one.
func TestAggregateSpillWindowKeyTypes(t *testing.T) {
	in := []*types.T{types.Int8, types.Text, types.UUID, types.Bool, types.Numeric}
	calls, err := parseAggCalls("count_star", in)
	if err != nil {
		t.Fatal(err)
	}
	spill := openTestSpill(t)
	for _, c := range []struct {
		keys    []int
		onClose bool
		spills  bool
	}{
		{[]int{0, 1}, true, true},
		{[]int{1, 3, 0}, true, true},
		{[]int{0, 2}, false, true},
		{[]int{0, 2}, true, true},
		{[]int{4, 0}, true, true},
		{[]int{0, 4}, false, true},
	} {
		window := &AggWindow{Key: slices.Index(c.keys, 0), EndOffset: 10, OnClose: c.onClose}
		g := &Graph{}
		g.Add(&Aggregate{Keys: c.keys, Aggs: calls, InTypes: in, Window: window, AppendOnly: true}, g.Add(&Source{Name: "t", Typs: in}))
		df := newBudgetDataflow(t, g, NewBudget(1, func() SpillSpace { return spill.Space() }))
		if got := len(df.UnboundedState()) == 0; got != c.spills {
			t.Errorf("keys %v on close %v: spills %v, want %v", c.keys, c.onClose, got, c.spills)
		}
	}
}

// openTestSpill opens a spill store in a temporary directory, closed when
// the test ends, after the dataflows it made (whose cleanups run first).
func openTestSpill(t testing.TB) *storage.Spill {
	t.Helper()
	spill, err := storage.OpenSpill(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { spill.Close() })
	return spill
}

// TestAggregateSpillUnbounded checks the log of state not bounded by a
// memory limit: it names a global aggregate keeping objects (a DISTINCT
// call's sets, a min/max multiset, an array_agg), not a global one of
// words (one group of a fixed size) nor a keyed one, which spills
// whatever objects its groups keep.
func TestAggregateSpillUnbounded(t *testing.T) {
	spill := openTestSpill(t)
	budget := NewBudget(1<<20, func() SpillSpace { return spill.Space() })
	typs := []*types.T{types.Int8, types.Int8}
	count := AggCall{Func: "count", Args: []int{1}, ArgTypes: typs[1:], Filter: -1, Typ: types.Int8}
	distinct := count
	distinct.Distinct = true
	minimum := AggCall{Func: "min", Args: []int{1}, ArgTypes: typs[1:], Filter: -1, Typ: types.Int8}
	arrayAgg := AggCall{Func: "array_agg", Args: []int{1}, ArgTypes: typs[1:], Filter: -1, Typ: exec.AggResultType(exec.AggKind("array_agg"), typs[1:])}
	for _, c := range []struct {
		keys      []int
		aggs      []AggCall
		unbounded bool
	}{
		{nil, []AggCall{count, {Func: "count_star", Filter: -1, Typ: types.Int8}}, false},
		{nil, []AggCall{count, distinct}, true},
		{nil, []AggCall{minimum}, true},
		{[]int{0}, []AggCall{count, minimum}, false},
		{nil, []AggCall{arrayAgg}, true},
		{[]int{0}, []AggCall{distinct, arrayAgg, minimum}, false},
	} {
		g := &Graph{}
		spec := &Aggregate{Keys: c.keys, Aggs: c.aggs, InTypes: typs}
		g.Add(spec, g.Add(&Source{Name: "t", Typs: typs}))
		df := newBudgetDataflow(t, g, budget, Workers(2))
		var want []string
		if c.unbounded {
			want = []string{spec.String()}
		}
		if got := df.UnboundedState(); !slices.Equal(got, want) {
			t.Fatalf("%s: unbounded state %v, want %v", spec, got, want)
		}
	}
}
