package dataflow

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/apd/v3"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/internal/randtest"
	"github.com/sluice-db/sluice/timewindow"
	"github.com/sluice-db/sluice/types"
)

// snapshotEpoch is one epoch's input to a round-trip test.
type snapshotEpoch struct {
	in         map[int][]*coldata.Chunk
	watermarks map[int]int64
}

// checkSnapshotRoundTrip runs the epochs on a dataflow of graph, and again
// on one snapshotted after epoch cut, restored into a fresh dataflow that
// runs the rest: every epoch's output (as a multiset of rows) and
// watermark must be the same.
func checkSnapshotRoundTrip(t *testing.T, graph func() *Graph, workers int, epochs []snapshotEpoch, cut int) {
	t.Helper()
	newDF := roundTripDataflows(t, graph, workers)
	run := func(df *Dataflow, e snapshotEpoch) string {
		out := stepText(t, df, e)
		checkDataflowIndexed(t, df, "after an epoch")
		return out
	}
	ref := newDF()
	var want []string
	for _, e := range epochs {
		want = append(want, run(ref, e))
	}
	first := newDF()
	for i, e := range epochs[:cut] {
		if got := run(first, e); got != want[i] {
			t.Fatalf("epoch %d before the snapshot: got\n%s\nwant\n%s", i, got, want[i])
		}
	}
	finish, err := snapshotLater(first.Snapshot)
	if err != nil {
		t.Fatal(err)
	}
	// The snapshotted dataflow goes on unchanged, and the snapshot's
	// deferred columns are encoded after it did.
	if cut < len(epochs) {
		if got := run(first, epochs[cut]); got != want[cut] {
			t.Fatalf("epoch %d after the snapshot: got\n%s\nwant\n%s", cut, got, want[cut])
		}
	}
	snap, err := finish()
	if err != nil {
		t.Fatal(err)
	}
	restored := newDF()
	if err := restored.Restore(snap); err != nil {
		t.Fatal(err)
	}
	for i := cut; i < len(epochs); i++ {
		if got := run(restored, epochs[i]); got != want[i] {
			t.Fatalf("epoch %d after restoring the snapshot of epoch %d: got\n%s\nwant\n%s", i, cut, got, want[i])
		}
	}
	// Restored behind, the dataflow's next step waits for its state: the
	// same outputs.
	behind := newDF()
	restoreErr := make(chan error, 1)
	behind.RestoreBehind(nil, func(err error) { restoreErr <- err }, snap)
	for i := cut; i < len(epochs); i++ {
		if got := run(behind, epochs[i]); got != want[i] {
			t.Fatalf("epoch %d after restoring behind the snapshot of epoch %d: got\n%s\nwant\n%s", i, cut, got, want[i])
		}
	}
	if err := <-restoreErr; err != nil {
		t.Fatalf("restore behind: %v", err)
	}
	// A damaged snapshot restored behind fails the dataflow's next step.
	damaged := newDF()
	damaged.RestoreBehind(nil, func(err error) { restoreErr <- err }, snap[:len(snap)/2])
	if _, _, err := damaged.Step(nil, nil); err == nil || <-restoreErr == nil {
		t.Fatalf("a step after restoring half a snapshot behind: %v", err)
	}
	// So does a check of the snapshot that fails, before it is read.
	unchecked := newDF()
	unchecked.RestoreBehind(func() error { return errors.New("checksum mismatch") }, func(err error) { restoreErr <- err }, snap)
	if _, _, err := unchecked.Step(nil, nil); err == nil || !strings.Contains(err.Error(), "checksum mismatch") || <-restoreErr == nil {
		t.Fatalf("a step after a restore behind whose check failed: %v", err)
	}
	// A damaged snapshot fails Restore instead of restoring wrong state.
	for _, n := range []int{0, 1, len(snap) / 2, len(snap) - 1} {
		if n >= len(snap) {
			continue
		}
		if err := newDF().Restore(snap[:n]); err == nil {
			t.Fatalf("restoring %d of %d bytes of a snapshot succeeded", n, len(snap))
		}
	}
	next := snapshotEpoch{}
	if cut < len(epochs) {
		next = epochs[cut]
	}
	checkDamagedSnapshots(t, newDF, snap, next)
	if cut < len(epochs) {
		checkDeltaRoundTrip(t, newDF, run, first, snap, epochs, want, cut)
	}
}

// roundTripDataflows returns a maker of dataflows of graph on workers, in
// chunks of 3 rows, each closed when the test ends.
func roundTripDataflows(t testing.TB, graph func() *Graph, workers int) func() *Dataflow {
	return func() *Dataflow {
		df, err := newDataflow(graph(), &expr.EvalCtx{Cfg: types.DefaultConfig()}, Workers(workers), ChunkSize(3))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(df.Close)
		return df
	}
}

// stepText runs epoch e on df and returns its output as epochText.
func stepText(t testing.TB, df *Dataflow, e snapshotEpoch) string {
	t.Helper()
	out, wm, err := df.Step(e.in, e.watermarks)
	if err != nil {
		t.Fatal(err)
	}
	return epochText(stepOutput(df, out), wm)
}

// snapshotBytes returns what snapshot (a Dataflow's Snapshot or
// SnapshotDelta) writes, in one slice, every column deferred.
func snapshotBytes(snapshot func(*SnapshotWriter) error) ([]byte, error) {
	finish, err := snapshotLater(snapshot)
	if err != nil {
		return nil, err
	}
	return finish()
}

// snapshotLater takes a snapshot with every column it can deferred, as
// the checkpoints' writer does, and returns the function that encodes
// them (Finish) and returns the bytes: the caller runs epochs first, so
// that a deferred column that shares state the dataflow changes after
// the snapshot shows as a wrong restore. Len must count the deferred
// columns exactly from the start.
func snapshotLater(snapshot func(*SnapshotWriter) error) (func() ([]byte, error), error) {
	w := &SnapshotWriter{deferring: true}
	if err := snapshot(w); err != nil {
		return nil, err
	}
	n := w.Len()
	return func() ([]byte, error) {
		if err := w.Finish(); err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		if _, err := w.WriteTo(&buf); err != nil {
			return nil, err
		}
		b := buf.Bytes()
		if len(b) != n {
			return nil, fmt.Errorf("snapshot of %d bytes, Len counted %d", len(b), n)
		}
		return b, nil
	}, nil
}

// checkDeltaRoundTrip goes on with first, which took snapshot snap after
// epoch cut and ran epoch cut since: it takes a delta snapshot after each
// epoch, and a fresh dataflow restored from snap and the first k deltas
// must run the epochs after them as the never-snapshotted reference did
// (want). Damaged deltas fail Restore or restore without a panic.
func checkDeltaRoundTrip(t *testing.T, newDF func() *Dataflow, run func(*Dataflow, snapshotEpoch) string, first *Dataflow, snap []byte, epochs []snapshotEpoch, want []string, cut int) {
	t.Helper()
	var deltas [][]byte
	// Each delta's deferred columns are encoded after the next epoch ran.
	var finish func() ([]byte, error)
	finishDelta := func() {
		d, err := finish()
		if err != nil {
			t.Fatal(err)
		}
		deltas = append(deltas, d)
	}
	for i := cut; i < len(epochs); i++ {
		if i > cut {
			if got := run(first, epochs[i]); got != want[i] {
				t.Fatalf("epoch %d after delta snapshots: got\n%s\nwant\n%s", i, got, want[i])
			}
			finishDelta()
		}
		var err error
		if finish, err = snapshotLater(first.SnapshotDelta); err != nil {
			t.Fatal(err)
		}
	}
	finishDelta()
	for _, k := range slices.Compact([]int{1, (len(deltas) + 1) / 2, len(deltas)}) {
		restored := newDF()
		if err := restored.Restore(snap, deltas[:k]...); err != nil {
			t.Fatalf("restoring the snapshot of epoch %d and %d deltas: %v", cut, k, err)
		}
		for i := cut + k; i < len(epochs); i++ {
			if got := run(restored, epochs[i]); got != want[i] {
				t.Fatalf("epoch %d after restoring the snapshot of epoch %d and %d deltas: got\n%s\nwant\n%s", i, cut, k, got, want[i])
			}
		}
	}
	// A restore must read the deltas in order: skipping one restores other
	// state or fails, never panics.
	last := deltas[len(deltas)-1]
	rng := rand.New(rand.NewSource(int64(len(last))))
	for i := range min(4*len(last), 100) {
		b := slices.Clone(last)
		if i%4 == 3 {
			b = b[:rng.Intn(len(b))]
		} else {
			bit := rng.Intn(8 * len(b))
			b[bit/8] ^= 1 << (bit % 8)
		}
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("damaged delta %d: panic %v", i, p)
				}
			}()
			df := newDF()
			if err := df.Restore(snap, append(slices.Clone(deltas[:len(deltas)-1]), b)...); err != nil {
				return
			}
			_, _, _ = df.Step(nil, nil)
		}()
	}
}

// checkDamagedSnapshots restores copies of snap with bits flipped or cut
// short into fresh dataflows: Restore may fail or succeed (a flipped bit
// of a value is still a value), but neither it nor the next Step may
// panic. (A panic on a worker kills the test binary.)
func checkDamagedSnapshots(t *testing.T, newDF func() *Dataflow, snap []byte, next snapshotEpoch) {
	t.Helper()
	rng := rand.New(rand.NewSource(int64(len(snap))))
	for i := range min(8*len(snap), 200) {
		b := slices.Clone(snap)
		what := ""
		if i%4 == 3 {
			n := rng.Intn(len(b))
			b, what = b[:n], fmt.Sprintf("cut to %d of %d bytes", n, len(snap))
		} else {
			for range 1 + i%3 {
				bit := rng.Intn(8 * len(b))
				b[bit/8] ^= 1 << (bit % 8)
				what += fmt.Sprintf("bit %d flipped; ", bit)
			}
		}
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("damaged snapshot (%s): panic %v", what, p)
				}
			}()
			df := newDF()
			if err := df.Restore(b); err != nil {
				return
			}
			_, _, _ = df.Step(next.in, next.watermarks)
		}()
	}
}

// epochText is one epoch's consolidated output rows, sorted, and its
// watermark.
func epochText(out *coldata.Chunk, wm int64) string {
	out = Consolidate(out)
	typs := out.Types()
	rows := make([]string, out.Len)
	for i := range rows {
		rows[i] = fmt.Sprintf("%s %+d", rowText(typs, out.Row(i)), out.Diffs[i])
	}
	slices.Sort(rows)
	return strings.Join(rows, "\n") + fmt.Sprintf("\nwatermark %d", wm)
}

// TestAggregateSnapshotRoundTrip snapshots aggregates of every kernel
// (randomCalls: words, numeric sums, multisets of min/max, string_agg,
// array_agg and DISTINCT calls) between random epochs: restored, they
// must go on as the snapshotted one does.
func TestAggregateSnapshotRoundTrip(t *testing.T) {
	calls, err := parseAggCalls(randomCalls, randomColumns)
	if err != nil {
		t.Fatal(err)
	}
	for _, keys := range [][]int{{0}, {}, {0, 3}, {4}, {2}, {4, 1}} {
		for _, workers := range []int{1, 3} {
			t.Run(fmt.Sprintf("keys=%v/workers=%d", keys, workers), func(t *testing.T) {
				rng := rand.New(rand.NewSource(int64(len(keys)*10 + workers)))
				graph := overRandomColumns(&Aggregate{Keys: keys, Aggs: calls, InTypes: randomColumns})
				epochs := randomSnapshotEpochs(rng, 12)
				for _, cut := range []int{1, 5, 12} {
					checkSnapshotRoundTrip(t, graph, workers, epochs, cut)
				}
			})
		}
	}
}

// TestAggregateSnapshotWindows snapshots windowed aggregates (changes as
// they happen, and EMIT ON WINDOW CLOSE) between epochs that close
// windows: the restored one must close the same windows once.
func TestAggregateSnapshotWindows(t *testing.T) {
	in := []*types.T{types.Int8, types.Text, types.Int8}
	calls, err := parseAggCalls("count_star,sum:2", in)
	if err != nil {
		t.Fatal(err)
	}
	for _, onClose := range []bool{false, true} {
		for _, keys := range [][]int{{0}, {0, 1}} {
			for _, workers := range []int{1, 2} {
				t.Run(fmt.Sprintf("on-close=%v/keys=%v/workers=%d", onClose, keys, workers), func(t *testing.T) {
					spec := &Aggregate{Keys: keys, Aggs: calls, InTypes: in, AppendOnly: true, Window: &AggWindow{Key: 0, OnClose: onClose}}
					graph := func() *Graph {
						g := &Graph{}
						g.Add(spec, g.Add(&Source{Name: "s", Typs: in}))
						return g
					}
					rng := rand.New(rand.NewSource(int64(workers)))
					var epochs []snapshotEpoch
					wm := int64(0)
					for range 10 {
						c := NewChanges(in, 0)
						for range rng.Intn(20) {
							end := wm + 10*(1+rng.Int63n(4)) // window ends above the watermark
							c.AppendRow([]types.Datum{end - end%10, []string{"a", "b", "c"}[rng.Intn(3)], rng.Int63n(100)})
							c.Diffs = append(c.Diffs, 1)
						}
						wm += rng.Int63n(25)
						epochs = append(epochs, snapshotEpoch{in: map[int][]*coldata.Chunk{0: {c}}, watermarks: map[int]int64{0: wm}})
					}
					for _, cut := range []int{1, 4, 9} {
						checkSnapshotRoundTrip(t, graph, workers, epochs, cut)
					}
				})
			}
		}
	}
}

// TestAggregateSnapshotDeltasOfFewPages restores an aggregate of more
// pages than a delta of few changed pages takes bytes: from a base of 12000
// groups (47 pages) and deltas that add groups and change some, change
// none (an epoch without rows: no page written), or change one group (on
// two workers, one of them writes no page). The page count once was read
// as a count of what follows, bounded by the bytes left, and such a delta
// failed the restore ("count 47 out of range"). The last epoch touches
// every group: the restored state must be the one the operator had.
func TestAggregateSnapshotDeltasOfFewPages(t *testing.T) {
	in := []*types.T{types.Int8, types.Int8}
	calls, err := parseAggCalls("count_star,sum:1,max:1", in)
	if err != nil {
		t.Fatal(err)
	}
	const groups = 12000
	epoch := func(from, to, step, v int64) snapshotEpoch {
		c := NewChanges(in, 0)
		for k := from; k <= to; k += step {
			c.AppendRow([]types.Datum{k, v})
			c.Diffs = append(c.Diffs, 1)
		}
		return snapshotEpoch{in: map[int][]*coldata.Chunk{0: {c}}}
	}
	epochs := []snapshotEpoch{
		epoch(1, groups, 1, 1),
		epoch(groups-40, groups+10, 1, 2), // new groups, changed groups
		{},                                // no change: no page written
		epoch(7, 7, 1, 3),                 // one group changed
		epoch(groups+11, groups+11, 1, 4), // one new group
		{},
		epoch(1, groups+11, 1, 5), // every group
	}
	graph := func() *Graph {
		g := &Graph{}
		g.Add(&Aggregate{Keys: []int{0}, Aggs: calls, InTypes: in}, g.Add(&Source{Name: "e", Typs: in}))
		return g
	}
	for _, workers := range []int{1, 2} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			checkSnapshotRoundTrip(t, graph, workers, epochs, 1)
		})
	}
}

// TestArrangementRowsRoundTrip writes an arrangement's rows (every type of
// column, NULLs, multiplicity, over 1024 rows) and reads them into a fresh
// arrangement: both must hold the same rows.
func TestArrangementRowsRoundTrip(t *testing.T) {
	typs := []*types.T{types.Int8, types.Numeric, types.Text, types.Bool, types.Float8, types.Interval, types.ArrayOf(types.Int8)}
	a := NewArrangement(typs, nil)
	lines := []string{"+2 1 1.50 a t 1.5 1day {1,2}", "+1 NULL NULL NULL NULL NULL NULL NULL", "+1 3 -0.010 b f -2 00:00:01 {}"}
	for i := range 1500 {
		lines = append(lines, fmt.Sprintf("+1 %d %d.00 x%d t %d 1mon {%d}", i, i, i, i, i))
	}
	if err := a.Apply(1, changeChunk(t, typs, lines...)); err != nil {
		t.Fatal(err)
	}
	if err := a.Apply(2, changeChunk(t, typs, "-1 1 1.50 a t 1.5 1day {1,2}", "-1 7 7.00 x7 t 7 1mon {7}")); err != nil {
		t.Fatal(err)
	}
	w := NewSnapshotWriter(nil)
	if err := a.Snapshot(2).WriteRows(w, nil); err != nil {
		t.Fatal(err)
	}
	rows, err := ReadRows(NewSnapshotReader(w.Bytes()), typs)
	if err != nil {
		t.Fatal(err)
	}
	b := NewArrangement(typs, nil)
	if err := b.Apply(1, rows...); err != nil {
		t.Fatal(err)
	}
	got, want := scanText(b.Snapshot(1), typs), scanText(a.Snapshot(2), typs)
	if !slices.Equal(got, want) || len(want) != 1502 {
		t.Fatalf("restored %d rows, want %d: first %q, want %q", len(got), len(want), got[:min(3, len(got))], want[:min(3, len(want))])
	}
	if _, err := ReadRows(NewSnapshotReader(w.Bytes()[:len(w.Bytes())/2]), typs); err == nil {
		t.Fatal("reading half the rows succeeded")
	}
	// A count the rows do not hold (bounded only by the bytes left) is an
	// error, and the rows are not allocated ahead of it.
	big := NewSnapshotWriter(nil)
	big.Uvarint(1 << 20)
	big.Blob(make([]byte, 1<<20))
	if _, err := ReadRows(NewSnapshotReader(big.Bytes()), typs); err == nil {
		t.Fatal("reading rows of a damaged count succeeded")
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.TotalAlloc
	_, _ = ReadRows(NewSnapshotReader(big.Bytes()), typs)
	runtime.ReadMemStats(&ms)
	if grew := ms.TotalAlloc - before; grew > 16<<20 {
		t.Errorf("reading a damaged count of 2^20 rows allocated %d bytes", grew)
	}
}

// randomSnapshotEpochs draws n epochs of random changes (inserts,
// deletes, rows that come and go) to the randomColumns rows of source
// node 0.
func randomSnapshotEpochs(rng *rand.Rand, n int) []snapshotEpoch {
	current := map[string]*randomRow{}
	var epochs []snapshotEpoch
	for range n {
		changes := randomChanges(rng, current)
		c := NewChanges(randomColumns, len(changes))
		for _, ch := range changes {
			c.AppendRow(ch.row.vals)
			c.Diffs = append(c.Diffs, ch.diff)
		}
		epochs = append(epochs, snapshotEpoch{in: map[int][]*coldata.Chunk{0: {c}}})
	}
	return epochs
}

// overRandomColumns builds graphs of spec over a Source "t" of
// randomColumns.
func overRandomColumns(spec OpSpec) func() *Graph {
	return func() *Graph {
		g := &Graph{}
		g.Add(spec, g.Add(&Source{Name: "t", Typs: randomColumns}))
		return g
	}
}

// joinOverRandomColumns builds graphs of j over Sources "l" and "r" of
// randomColumns.
func joinOverRandomColumns(j *Join) func() *Graph {
	return func() *Graph {
		g := &Graph{}
		l := g.Add(&Source{Name: "l", Typs: randomColumns})
		r := g.Add(&Source{Name: "r", Typs: randomColumns})
		g.Add(j, l, r)
		return g
	}
}

func TestDistinctSnapshotRoundTrip(t *testing.T) {
	for _, workers := range []int{1, 3} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			graph := overRandomColumns(&Distinct{Typs: randomColumns})
			epochs := randomSnapshotEpochs(rand.New(rand.NewSource(int64(workers))), 15)
			for _, cut := range []int{1, 7, 15} {
				checkSnapshotRoundTrip(t, graph, workers, epochs, cut)
			}
		})
	}
}

func TestTopNSnapshotRoundTrip(t *testing.T) {
	for _, spec := range []TopN{
		{Order: []SortKey{{Col: 1, Desc: true}, {Col: 2}}, Limit: 3},
		{Order: []SortKey{{Col: 2, NullsFirst: true}}, Limit: 2, Offset: 1},
		{Order: []SortKey{{Col: 4}}, Limit: -1, Offset: 2},
		{Group: []int{0}, Order: []SortKey{{Col: 1, Desc: true}}, Limit: 1},
		{Group: []int{2, 4}, Order: []SortKey{{Col: 1}}, Limit: 2, Offset: 1},
		{Group: []int{0}, Order: []SortKey{{Col: 1, Desc: true}}, Limit: 2, Numbered: true},
		{Group: []int{0}, Order: []SortKey{{Col: 2}}, Limit: 2, WithTies: true, Numbered: true},
		{Group: []int{0}, Order: []SortKey{{Col: 2}}, Limit: 2, WithTies: true, Dense: true, Numbered: true},
		{Order: []SortKey{{Col: 4}}, Limit: 3, Offset: 1, WithTies: true},
	} {
		t.Run(spec.String(), func(t *testing.T) {
			spec.Typs = randomColumns
			graph := overRandomColumns(&spec)
			epochs := randomSnapshotEpochs(rand.New(rand.NewSource(spec.Limit)), 15)
			for _, cut := range []int{1, 7, 15} {
				checkSnapshotRoundTrip(t, graph, 2, epochs, cut)
			}
		})
	}
}

func TestJoinSnapshotRoundTrip(t *testing.T) {
	n := len(randomColumns)
	for kind := InnerJoin; kind <= AntiJoin; kind++ {
		for _, keys := range []int{0, 4} {
			for _, cond := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/key=%d/cond=%v", kind, keys, cond), func(t *testing.T) {
					j := &Join{Kind: kind, LeftKeys: []int{keys}, RightKeys: []int{keys}, LeftTypes: randomColumns, RightTypes: randomColumns}
					if cond {
						j.Cond = &intLess{a: 1, b: n + 1}
					}
					graph := joinOverRandomColumns(j)
					rng := rand.New(rand.NewSource(int64(kind)*10 + int64(keys)))
					left, right := randomSnapshotEpochs(rng, 12), randomSnapshotEpochs(rng, 12)
					for i := range left {
						left[i].in[1] = right[i].in[0]
					}
					for _, cut := range []int{1, 6, 12} {
						checkSnapshotRoundTrip(t, graph, 2, left, cut)
					}
				})
			}
		}
	}
}

// snapshotBenchAggregate returns the snapshot benchmarks' dataflow, an
// aggregate (GROUP BY an integer, count, sum, max, min) of inserts on one
// worker, closed when b ends, and its input's types.
func snapshotBenchAggregate(b *testing.B) (*Dataflow, []*types.T) {
	in := []*types.T{types.Int8, types.Int8}
	calls, err := parseAggCalls("count_star,sum:1,max:1,min:1", in)
	if err != nil {
		b.Fatal(err)
	}
	g := &Graph{}
	g.Add(&Aggregate{Keys: []int{0}, Aggs: calls, InTypes: in, AppendOnly: true}, g.Add(&Source{Name: "t", Typs: in}))
	df, err := newDataflow(g, &expr.EvalCtx{Cfg: types.DefaultConfig()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(df.Close)
	return df, in
}

// BenchmarkAggregateSnapshot measures snapshotting an aggregate of 1 M
// groups (GROUP BY an integer, count, sum, max, min) on one worker.
func BenchmarkAggregateSnapshot(b *testing.B) {
	df, in := snapshotBenchAggregate(b)
	const groups = 1 << 20
	c := NewChanges(in, groups)
	for i := range groups {
		c.AppendRow([]types.Datum{int64(i), int64(i * 7)})
		c.Diffs = append(c.Diffs, 1)
	}
	if _, _, err := df.Step(map[int][]*coldata.Chunk{0: {c}}, nil); err != nil {
		b.Fatal(err)
	}
	size := 0
	for range b.N {
		w := NewSnapshotWriter(nil)
		if err := df.Snapshot(w); err != nil {
			b.Fatal(err)
		}
		size = w.Len()
	}
	b.ReportMetric(float64(size)/groups, "bytes/group")
}

// BenchmarkAggregateSnapshotDelta measures a delta snapshot of an
// aggregate of 1 M and 8 M groups (GROUP BY an integer, count, sum, max,
// min) on one worker, of which an epoch changed one group on each of 1% of
// the pages (the epoch is not timed): what a checkpoint pays a view whose
// epochs touch few of its groups.
func BenchmarkAggregateSnapshotDelta(b *testing.B) {
	for _, groups := range []int{1 << 20, 8 << 20} {
		b.Run(fmt.Sprintf("groups=%dMi", groups>>20), func(b *testing.B) {
			df, in := snapshotBenchAggregate(b)
			step := func(from, to, every int) {
				c := NewChanges(in, (to-from)/every+1)
				for k := from; k < to; k += every {
					c.AppendRow([]types.Datum{int64(k), int64(k * 7)})
					c.Diffs = append(c.Diffs, 1)
				}
				if _, _, err := df.Step(map[int][]*coldata.Chunk{0: {c}}, nil); err != nil {
					b.Fatal(err)
				}
			}
			const chunk = 1 << 20
			for k := 0; k < groups; k += chunk {
				step(k, k+chunk, 1)
			}
			if err := df.Snapshot(NewSnapshotWriter(nil)); err != nil {
				b.Fatal(err)
			}
			// Keys are given ids in order, a page of groupPage keys each:
			// a key every 100 pages changes 1% of them.
			const every = 100 * groupPage
			size := 0
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				step(i%every, groups, every)
				b.StartTimer()
				w := NewSnapshotWriter(nil)
				if err := df.SnapshotDelta(w); err != nil {
					b.Fatal(err)
				}
				size = w.Len()
			}
			b.ReportMetric(float64(size), "bytes/delta")
		})
	}
}

// TestAggregateSnapshotWindowsRetracted snapshots a windowed aggregate
// over changes that delete every row of some groups before their window
// closes: such a group leaves the key index but keeps its id, listed
// under its window end, until the window closes, and a restore must take
// it so.
func TestAggregateSnapshotWindowsRetracted(t *testing.T) {
	in := []*types.T{types.Int8, types.Int8, types.Int8}
	calls, err := parseAggCalls("count_star,sum:2", in)
	if err != nil {
		t.Fatal(err)
	}
	spec := &Aggregate{Keys: []int{0, 1}, Aggs: calls, InTypes: in, Window: &AggWindow{Key: 0}}
	graph := func() *Graph {
		g := &Graph{}
		g.Add(spec, g.Add(&Source{Name: "s", Typs: in}))
		return g
	}
	rng := rand.New(rand.NewSource(7))
	var epochs []snapshotEpoch
	var live [][]types.Datum
	wm := int64(0)
	for range 12 {
		// Delete about half the rows of windows still open.
		var c *coldata.Chunk
		c, live = windowedChanges(rng, in, live, wm, 1+rng.Intn(15), 3, 2, func(end int64) []types.Datum {
			return []types.Datum{end, rng.Int63n(4), rng.Int63n(100)}
		})
		wm += rng.Int63n(12)
		epochs = append(epochs, snapshotEpoch{in: map[int][]*coldata.Chunk{0: {c}}, watermarks: map[int]int64{0: wm}})
	}
	for _, cut := range []int{1, 4, 8} {
		checkSnapshotRoundTrip(t, graph, 1, epochs, cut)
	}
}

// TestSnapshotWriterBlocks writes values of random sizes (some larger than
// a block) through writers that start new blocks, appending one writer's
// blocks to another's, and reads them back from the concatenated parts: a
// value split across blocks, or a block sealed out of order, reads back
// wrong. SLUICE_SEED=<n> replays a run.
func TestSnapshotWriterBlocks(t *testing.T) {
	seed := randtest.Seed(t)
	rng := rand.New(rand.NewSource(seed))
	type value struct {
		kind int
		n    int64
		s    string
		ws   []int64
	}
	var want []value
	write := func(w *SnapshotWriter, count int) {
		for range count {
			v := value{kind: rng.Intn(3), n: rng.Int63() >> rng.Intn(63)}
			switch v.kind {
			case 0:
				w.Varint(-v.n)
			case 1:
				b := make([]byte, rng.Intn(3*minSnapshotBlock))
				if rng.Intn(50) == 0 {
					b = make([]byte, maxSnapshotBlock+rng.Intn(minSnapshotBlock))
				}
				for i := range b {
					b[i] = byte(rng.Intn(256))
				}
				v.s = string(b)
				w.String(v.s)
			case 2:
				v.ws = make([]int64, rng.Intn(minSnapshotBlock))
				for i := range v.ws {
					v.ws[i] = rng.Int63()
				}
				w.Int64s(v.ws)
			}
			want = append(want, v)
		}
	}
	w := NewSnapshotWriter(make([]byte, 0, 10))
	write(w, 200)
	for range 5 {
		sub := NewSnapshotWriter(nil)
		write(sub, rng.Intn(40))
		w.Append(sub)
		write(w, rng.Intn(3))
	}
	var joined []byte
	for _, p := range w.Parts() {
		if cap(p) > maxSnapshotBlock {
			t.Fatalf("a block of %d bytes, more than %d", cap(p), maxSnapshotBlock)
		}
		joined = append(joined, p...)
	}
	if len(joined) != w.Len() || string(joined) != string(w.Bytes()) {
		t.Fatalf("parts hold %d bytes, Len says %d, Bytes %d", len(joined), w.Len(), len(w.Bytes()))
	}
	r := NewSnapshotReader(joined)
	for i, v := range want {
		switch v.kind {
		case 0:
			if got := r.Varint(); got != -v.n {
				t.Fatalf("value %d: varint %d, want %d", i, got, -v.n)
			}
		case 1:
			if got := r.String(); got != v.s {
				t.Fatalf("value %d: a string of %d bytes differs from the one of %d written", i, len(got), len(v.s))
			}
		case 2:
			if got := r.Int64s(); !slices.Equal(got, v.ws) {
				t.Fatalf("value %d: %d words differ from the %d written", i, len(got), len(v.ws))
			}
		}
	}
	if r.Err() != nil || len(r.Rest()) != 0 {
		t.Fatalf("after the values: %v, %d bytes left", r.Err(), len(r.Rest()))
	}
}

// TestSnapshotSize checks SnapshotSize, by which the engine ends a chain
// of deltas, against the size of a whole snapshot of the same state (a
// dataflow restored from the base and the deltas, snapshotted whole),
// after each delta of epochs that add groups or rows (the chain grows
// with the state) and change the same ones again (the chain grows, the
// state does not), for an aggregate, a join, DISTINCT, top-N and a session
// window; and the aggregate's
// SnapshotDeltaSize, before each delta, against the delta's size and how
// much SnapshotSize grew with it.
func TestSnapshotSize(t *testing.T) {
	in := []*types.T{types.Int8, types.Int8, types.Text}
	calls, err := parseAggCalls("count_star,sum:1,max:1", in)
	if err != nil {
		t.Fatal(err)
	}
	graphs := map[string]func() *Graph{
		"distinct": func() *Graph {
			g := &Graph{}
			g.Add(&Distinct{Typs: in}, g.Add(&Source{Name: "t", Typs: in}))
			return g
		},
		"top-N": func() *Graph {
			g := &Graph{}
			g.Add(&TopN{Order: []SortKey{{Col: 1, Desc: true}, {Col: 0}}, Limit: 10, Typs: in}, g.Add(&Source{Name: "t", Typs: in}))
			return g
		},
		"aggregate": func() *Graph {
			g := &Graph{}
			g.Add(&Aggregate{Keys: []int{0}, Aggs: calls, InTypes: in}, g.Add(&Source{Name: "t", Typs: in}))
			return g
		},
		"session": func() *Graph {
			g := &Graph{}
			g.Add(&SessionWindow{Spec: timewindow.Spec{Kind: timewindow.Session, Gap: 3}, Time: &expr.ColRef{Idx: 0, Typ: types.Int8},
				PartitionBy: []int{1}, InTypes: in}, g.Add(&Source{Name: "t", Typs: in}))
			return g
		},
		"join": func() *Graph {
			g := &Graph{}
			l := g.Add(&Source{Name: "l", Typs: in})
			r := g.Add(&Source{Name: "r", Typs: in})
			g.Add(&Join{Kind: InnerJoin, LeftKeys: []int{0}, RightKeys: []int{0}, LeftTypes: in, RightTypes: in}, l, r)
			return g
		},
	}
	for name, graph := range graphs {
		t.Run(name, func(t *testing.T) {
			newDF := func() *Dataflow {
				df, err := newDataflow(graph(), &expr.EvalCtx{Cfg: types.DefaultConfig()}, Workers(2))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(df.Close)
				return df
			}
			rng := rand.New(rand.NewSource(int64(len(name))))
			// Rows of keys [lo, hi), each with a text of 0 to 40 bytes;
			// diff -1 takes them back.
			rows := func(lo, hi int, diff int64) map[int][]*coldata.Chunk {
				c := NewChanges(in, hi-lo)
				for k := lo; k < hi; k++ {
					c.AppendRow([]types.Datum{int64(k), int64(k % 97), strings.Repeat("x", (k*7919)%41)})
					c.Diffs = append(c.Diffs, diff)
				}
				return map[int][]*coldata.Chunk{0: {c}, 1: {c}}
			}
			df := newDF()
			step := func(in map[int][]*coldata.Chunk) {
				if _, _, err := df.Step(in, nil); err != nil {
					t.Fatal(err)
				}
			}
			step(rows(0, 5000, 1))
			base, err := snapshotBytes(df.Snapshot)
			if err != nil {
				t.Fatal(err)
			}
			var deltas [][]byte
			chain := len(base)
			for e := range 8 {
				if e%2 == 0 {
					lo := 5000 + 2000*e
					step(rows(lo, lo+2000, 1)) // new groups or rows
				} else {
					lo := rng.Intn(4000)
					step(rows(lo, lo+1000, -1)) // the same ones again
					step(rows(lo, lo+1000, 1))
				}
				estDelta, estGrowth := df.SnapshotDeltaSize()
				sizeBefore := df.SnapshotSize()
				d, err := snapshotBytes(df.SnapshotDelta)
				if err != nil {
					t.Fatal(err)
				}
				if name == "aggregate" {
					// Its estimate is what the engine's choice between a
					// delta and a base rests on, before the delta is taken.
					growth := df.SnapshotSize() - sizeBefore
					if estDelta < len(d)*95/100 || estDelta > len(d)*105/100 || estGrowth < growth*9/10 || estGrowth > growth*11/10+64 {
						t.Fatalf("before delta %d: SnapshotDeltaSize %d, growth %d; the delta took %d, SnapshotSize grew %d", e+1, estDelta, estGrowth, len(d), growth)
					}
					t.Logf("before delta %d: SnapshotDeltaSize %d, growth %d; the delta took %d, SnapshotSize grew %d", e+1, estDelta, estGrowth, len(d), growth)
				} else if estDelta != 0 || estGrowth != 0 {
					t.Fatalf("%s estimates its delta (%d, %d): the engine's post-check is all it has", name, estDelta, estGrowth)
				}
				deltas = append(deltas, d)
				chain += len(d)
				restored := newDF()
				if err := restored.Restore(base, deltas...); err != nil {
					t.Fatal(err)
				}
				whole, err := snapshotBytes(restored.Snapshot)
				if err != nil {
					t.Fatal(err)
				}
				got, want := df.SnapshotSize(), len(whole)
				if got < want*9/10 || got > want*11/10 {
					t.Fatalf("after delta %d: SnapshotSize %d, a whole snapshot takes %d (the chain %d)", e+1, got, want, chain)
				}
				t.Logf("after delta %d: SnapshotSize %d, a whole snapshot %d, the chain %d", e+1, got, want, chain)
			}
		})
	}
}

// setDecimalText reads what it takes exactly as apd's SetString does
// (coefficient, exponent, sign, negative zero) and leaves the rest to it.
func TestSetDecimalText(t *testing.T) {
	texts := []string{"0", "-0", "0.00", "-0.00", "1", "-1", "12345", "1.50", "-0.010", "123456789012345678",
		"-123456789012345678", "0.00000000000000001", "99.9"}
	rng := rand.New(rand.NewSource(7))
	for range 1000 {
		var d apd.Decimal
		d.SetFinite(rng.Int63n(1_000_000_000_000)-500_000_000_000, -int32(rng.Intn(12)))
		texts = append(texts, d.String())
	}
	for _, s := range texts {
		var got, want apd.Decimal
		if !setDecimalText(&got, []byte(s)) {
			t.Errorf("%q: not taken", s)
			continue
		}
		if _, _, err := want.SetString(s); err != nil {
			t.Fatal(err)
		}
		if got.Form != want.Form || got.Negative != want.Negative || got.Exponent != want.Exponent || got.Coeff.Cmp(&want.Coeff) != 0 {
			t.Errorf("%q: got %+v, want %+v", s, got, want)
		}
	}
	for _, s := range []string{"", "-", ".5", "5.", "1.2.3", "1e5", "1E-5", "NaN", "Infinity", "-Infinity", "+1", "1234567890123456789", "0.000000000000000001", "12a"} {
		var d apd.Decimal
		if setDecimalText(&d, []byte(s)) {
			t.Errorf("%q: taken as %s, want it left to SetString", s, d.String())
		}
	}
}

// Deltas of DISTINCT and top-N carry rows gone since the base as well as
// rows added, and only what changed: a restore from the base and its
// deltas goes on as the dataflow that wrote them, rows that were gone
// coming back as new.
func TestRowStateDeltas(t *testing.T) {
	in := []*types.T{types.Int8, types.Int8}
	specs := map[string]OpSpec{
		"distinct": &Distinct{Typs: in},
		"top-N":    &TopN{Order: []SortKey{{Col: 1}}, Limit: 5, Typs: in},
	}
	for name, spec := range specs {
		t.Run(name, func(t *testing.T) {
			newDF := func() *Dataflow {
				g := &Graph{}
				g.Add(spec, g.Add(&Source{Name: "t", Typs: in}))
				df, err := newDataflow(g, &expr.EvalCtx{Cfg: types.DefaultConfig()}, Workers(2))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(df.Close)
				return df
			}
			rows := func(lo, hi int, diff int64) map[int][]*coldata.Chunk {
				c := NewChanges(in, hi-lo)
				for k := lo; k < hi; k++ {
					c.AppendRow([]types.Datum{int64(k), int64(k)})
					c.Diffs = append(c.Diffs, diff)
				}
				return map[int][]*coldata.Chunk{0: {c}}
			}
			step := func(df *Dataflow, in map[int][]*coldata.Chunk) string {
				return stepText(t, df, snapshotEpoch{in: in})
			}
			df := newDF()
			step(df, rows(0, 1000, 1))
			base, err := snapshotBytes(df.Snapshot)
			if err != nil {
				t.Fatal(err)
			}
			step(df, rows(0, 10, -1)) // gone, the top five among them
			gone, err := snapshotBytes(df.SnapshotDelta)
			if err != nil {
				t.Fatal(err)
			}
			step(df, rows(2000, 2010, 1))
			added, err := snapshotBytes(df.SnapshotDelta)
			if err != nil {
				t.Fatal(err)
			}
			if len(gone) > len(base)/20 || len(added) > len(base)/20 {
				t.Fatalf("deltas of 10 rows took %d and %d bytes, the base of 1000 rows %d", len(gone), len(added), len(base))
			}
			restored := newDF()
			if err := restored.Restore(base, gone, added); err != nil {
				t.Fatal(err)
			}
			back := rows(0, 10, 1)
			if got, want := step(restored, back), step(df, back); got != want {
				t.Fatalf("rows back after the restore: got\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// TestSnapshotWriterReset writes through one writer again and again with
// Reset between: each round reads back what it wrote (a block kept by
// Reset and handed out twice, or not emptied, would not), later rounds
// allocate no new blocks for what earlier ones held, and a writer that
// took another's blocks keeps none of them.
func TestSnapshotWriterReset(t *testing.T) {
	w := NewSnapshotWriter(nil)
	words := make([]int64, 3*minSnapshotBlock)
	for round := range 4 {
		for i := range words {
			words[i] = int64(round*len(words) + i)
		}
		w.Int64s(words)
		w.String(strings.Repeat(string(rune('a'+round)), minSnapshotBlock+round))
		r := NewSnapshotReader(w.Bytes())
		if got := r.Int64s(); !slices.Equal(got, words) {
			t.Fatalf("round %d: the words read back differ", round)
		}
		if got := r.String(); got != strings.Repeat(string(rune('a'+round)), minSnapshotBlock+round) {
			t.Fatalf("round %d: the string read back differs", round)
		}
		if round > 0 && len(w.spare) != 0 {
			t.Fatalf("round %d: %d spare blocks left unused", round, len(w.spare))
		}
		w.Reset()
		if w.Len() != 0 || len(w.Parts()) != 0 {
			t.Fatalf("round %d: after Reset, %d bytes in %d parts", round, w.Len(), len(w.Parts()))
		}
		if len(w.spare) == 0 {
			t.Fatalf("round %d: Reset kept no block", round)
		}
	}
	other := NewSnapshotWriter(nil)
	other.String(strings.Repeat("x", 2*minSnapshotBlock))
	w.Reset()
	spare := len(w.spare)
	w.Uvarint(1)
	w.Append(other)
	w.Reset()
	if len(w.spare) != spare-1 {
		t.Fatalf("a writer given another's blocks kept %d spare blocks, want the %d it had left", len(w.spare), spare-1)
	}
}

// TestReadChangesInRuns writes changes of every type of column (NULLs,
// text, numerics, datums) in many chunks of varied sizes and reads them
// back on 1 to 8 CPUs (splitChunks' runs, decoded at once): the chunks,
// rows and diffs must be as written, in order; a snapshot damaged in its
// last chunk, or holding one row fewer than its count, is an error.
func TestReadChangesInRuns(t *testing.T) {
	typs := []*types.T{types.Int8, types.Numeric, types.Text, types.Bool, types.Float8, types.Interval, types.ArrayOf(types.Int8)}
	var chunks []*coldata.Chunk
	row := 0
	for i := range 37 {
		var lines []string
		for range 1 + i*i%97 {
			if row%11 == 3 {
				lines = append(lines, fmt.Sprintf("%d NULL NULL NULL NULL NULL NULL NULL", row%5-2))
			} else {
				lines = append(lines, fmt.Sprintf("%d %d %d.%02d x%d %t %d.5 %dmon {%d,%d}", 1+row%3, row, row, row%100, row, row%2 == 0, row, row%12, row, -row))
			}
			row++
		}
		chunks = append(chunks, changeChunk(t, typs, lines...))
	}
	w := NewSnapshotWriter(nil)
	if err := WriteChanges(w, chunks); err != nil {
		t.Fatal(err)
	}
	text := func(cs []*coldata.Chunk) []string {
		var out []string
		for _, c := range cs {
			for i := range c.Len {
				out = append(out, fmt.Sprintf("%d %s", c.Diffs[i], rowText(typs, c.Row(i))))
			}
			out = append(out, "--")
		}
		return out
	}
	want := text(chunks)
	for _, cpus := range []int{1, 2, 3, 8} {
		prev := runtime.GOMAXPROCS(cpus)
		got, err := ReadChanges(NewSnapshotReader(w.Bytes()), typs)
		runtime.GOMAXPROCS(prev)
		if err != nil {
			t.Fatalf("%d CPUs: %v", cpus, err)
		}
		if g := text(got); !slices.Equal(g, want) {
			t.Fatalf("%d CPUs: read %d lines, want %d: %q…, want %q…", cpus, len(g), len(want), g[:min(5, len(g))], want[:5])
		}
	}
	// Cut short in its last chunk (the end chunk's 0 and a byte of the
	// last column gone), and a count of one row more than the chunks hold.
	if _, err := ReadChanges(NewSnapshotReader(w.Bytes()[:w.Len()-2]), typs); err == nil {
		t.Fatal("reading changes cut short in their last chunk succeeded")
	}
	count := len(binary.AppendUvarint(nil, uint64(row)))
	short := append(binary.AppendUvarint(nil, uint64(row+1)), w.Bytes()[count:]...)
	if _, err := ReadChanges(NewSnapshotReader(short), typs); err == nil {
		t.Fatal("reading one change fewer than the count succeeded")
	}
}

// TestSplitChunksRuns: splitChunks cuts chunks into at most parts runs
// of whole chunks, in order, covering every byte and row.
func TestSplitChunksRuns(t *testing.T) {
	typs := []*types.T{types.Int8, types.Text}
	var chunks []*coldata.Chunk
	rows := 0
	for i := range 10 {
		var lines []string
		for j := range 1 + i*7 {
			lines = append(lines, fmt.Sprintf("1 %d %s", j, strings.Repeat("t", i)))
		}
		rows += len(lines)
		chunks = append(chunks, changeChunk(t, typs, lines...))
	}
	w := NewSnapshotWriter(nil)
	if err := WriteChanges(w, chunks); err != nil {
		t.Fatal(err)
	}
	for _, parts := range []int{1, 2, 3, 4, 10, 16} {
		r := NewSnapshotReader(w.Bytes())
		r.Len(0)
		body := r.b
		runs := splitChunks(r, typs, true, parts)
		if r.err != nil || len(runs) == 0 || len(runs) > parts {
			t.Fatalf("%d parts: %d runs, %v", parts, len(runs), r.err)
		}
		n, nrows, at := 0, 0, 0
		for _, run := range runs {
			if &run.b[0] != &body[at] {
				t.Fatalf("%d parts: a run starts at byte %d, not where the one before ended", parts, at)
			}
			at += len(run.b)
			n += run.chunks
			nrows += run.rows
		}
		if n != len(chunks) || nrows != rows || at != len(body)-1 {
			t.Fatalf("%d parts: runs of %d chunks, %d rows, %d bytes; want %d, %d, %d", parts, n, nrows, at, len(chunks), rows, len(body)-1)
		}
	}
}

// A view's rows are read into columns cut from shared blocks: each holds
// exactly its rows, so that appending to one (a Vec grown) does not write
// over the next.
func TestReadRowsColumnsApart(t *testing.T) {
	typs := []*types.T{types.Int8, types.Numeric, types.Text}
	c := NewChanges(typs, 3000)
	for i := range 3000 {
		c.AppendRow([]types.Datum{int64(i), apd.New(int64(i), -2), fmt.Sprintf("t%d", i)})
		c.Diffs = append(c.Diffs, 1)
	}
	a := NewArrangement(typs, []int{0})
	if err := a.Apply(1, c); err != nil {
		t.Fatal(err)
	}
	w := NewSnapshotWriter(nil)
	if err := a.Snapshot(1).WriteRows(w, nil); err != nil {
		t.Fatal(err)
	}
	rows, err := ReadRows(NewSnapshotReader(w.Bytes()), typs)
	if err != nil || len(rows) < 2 {
		t.Fatalf("%d chunks, %v: want several", len(rows), err)
	}
	want := scanText(a.Snapshot(1), typs)
	for _, ch := range rows {
		for j, v := range ch.Cols {
			if got := v.Len(); got != ch.Len || j == 0 && cap(v.Ints) != ch.Len || j == 1 && cap(v.Decs) != ch.Len || j == 2 && cap(v.Bytes) != ch.Len {
				t.Fatalf("column %d of a chunk of %d rows: %d values", j, ch.Len, got)
			}
		}
		if cap(ch.Diffs) != ch.Len {
			t.Fatalf("diffs of capacity %d in a chunk of %d rows", cap(ch.Diffs), ch.Len)
		}
		ch.Cols[0].Ints = append(ch.Cols[0].Ints, -1)
		ch.Cols[1].Decs = append(ch.Cols[1].Decs, *apd.New(-1, 0))
		ch.Cols[2].Bytes = append(ch.Cols[2].Bytes, "over")
		ch.Diffs = append(ch.Diffs, 7)
		ch.Cols[0].Ints, ch.Cols[1].Decs, ch.Cols[2].Bytes, ch.Diffs = ch.Cols[0].Ints[:ch.Len], ch.Cols[1].Decs[:ch.Len], ch.Cols[2].Bytes[:ch.Len], ch.Diffs[:ch.Len]
	}
	b := NewArrangement(typs, []int{0})
	if err := b.Apply(1, rows...); err != nil {
		t.Fatal(err)
	}
	if got := scanText(b.Snapshot(1), typs); !slices.Equal(got, want) {
		t.Fatalf("restored rows differ after appends to their columns: first %q, want %q", got[:min(3, len(got))], want[:3])
	}
}

// An aggregate keyed by text over several pages of groups restores its
// keys into shared blocks (restorePages): each page's keys must be its own
// (a page's slice of them never reaching into the next), the restored
// groups found by their keys, and a restored dataflow must go on as the
// snapshotted one: updating, deleting and adding groups, through a base
// and through deltas.
func TestAggregateSnapshotTextKeysPages(t *testing.T) {
	typs := []*types.T{types.Text, types.Int8}
	calls, err := parseAggCalls("count_star,sum:1,max:1", typs)
	if err != nil {
		t.Fatal(err)
	}
	spec := &Aggregate{Keys: []int{0}, Aggs: calls, InTypes: typs}
	graph := func() *Graph {
		g := &Graph{}
		g.Add(spec, g.Add(&Source{Name: "t", Typs: typs}))
		return g
	}
	const groups = 3*groupPage + 17
	// Keys of several lengths, so that the blocks' strings differ in size.
	key := func(i int) string { return fmt.Sprintf("k%s%d", strings.Repeat("x", i%7), i) }
	var lines []string
	for i := range groups {
		lines = append(lines, fmt.Sprintf("+1 %s %d", key(i), i), fmt.Sprintf("+1 %s %d", key(i), 2*i))
	}
	epochs := []snapshotEpoch{{in: map[int][]*coldata.Chunk{0: {changeChunk(t, typs, lines...)}}}}
	for e := range 3 {
		lines = lines[:0]
		for i := e; i < groups; i += 5 {
			// Retract a row of a restored group (deleting the group once
			// both are gone) and add one to a new group.
			lines = append(lines, fmt.Sprintf("-1 %s %d", key(i), (e%2+1)*i), fmt.Sprintf("+1 %s %d", key(groups+10*e+i), i))
			if e == 2 {
				lines = append(lines, fmt.Sprintf("-1 %s %d", key(i), i))
			}
		}
		epochs = append(epochs, snapshotEpoch{in: map[int][]*coldata.Chunk{0: {changeChunk(t, typs, lines...)}}})
	}
	checkSnapshotRoundTrip(t, graph, 1, epochs, 1)

	df, err := newDataflow(graph(), &expr.EvalCtx{Cfg: types.DefaultConfig()}, Workers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer df.Close()
	stepText(t, df, epochs[0])
	snap, err := snapshotBytes(df.Snapshot)
	if err != nil {
		t.Fatal(err)
	}
	restored, err := newDataflow(graph(), &expr.EvalCtx{Cfg: types.DefaultConfig()}, Workers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer restored.Close()
	if err := restored.Restore(snap); err != nil {
		t.Fatal(err)
	}
	var tbl *groupTable
	for _, op := range restored.workers[0].ops {
		if o, ok := op.(*aggregateOp); ok {
			tbl = o.groups
		}
	}
	if len(tbl.strKeys) != (groups+groupPage-1)/groupPage {
		t.Fatalf("%d pages of keys for %d groups", len(tbl.strKeys), groups)
	}
	found := map[string]bool{}
	for p, keys := range tbl.strKeys {
		if len(keys) != groupPage || cap(keys) != groupPage {
			t.Fatalf("page %d: %d keys, capacity %d", p, len(keys), cap(keys))
		}
		for i, k := range keys {
			g := int32(p<<groupPageBits | i)
			if g >= tbl.ids.n {
				continue
			}
			if x, _ := tbl.probeKey(k, tbl.hashGroup(g)); x != g {
				t.Fatalf("group %d's key %q finds group %d", g, k, x)
			}
			found[k] = true
		}
	}
	if len(found) != groups {
		t.Fatalf("%d distinct keys restored, want %d", len(found), groups)
	}
}

// TestSnapshotWriterDeferredColumns writes columns of every physical type
// (NULLs, long strings whose lengths take several varint bytes, negative
// intervals), between other values and through an appended section,
// with a writer that writes them at once and one that defers them: Len
// must count the deferred columns exactly before Finish, and the bytes
// must be the same after it. The columns are changed after Finish, which
// must have copied them.
func TestSnapshotWriterDeferredColumns(t *testing.T) {
	long := strings.Repeat("x", 300)
	cols := []*coldata.Vec{}
	add := func(typ *types.T, vals ...types.Datum) {
		v := coldata.NewVec(typ, len(vals))
		for _, d := range vals {
			v.Append(d)
		}
		cols = append(cols, v)
	}
	add(types.Int8, int64(1), nil, int64(-7), int64(1)<<60)
	add(types.Int8, int64(3), int64(4))
	add(types.Float8, 1.5, nil, -2.25)
	add(types.Bool, true, false, nil)
	add(types.Text, "", long, nil, "é", strings.Repeat("y", 20000))
	add(types.Interval, types.IntervalValue{Months: -1, Days: 40, Micros: -1 << 40}, nil, types.IntervalValue{})
	add(types.Numeric, nil)
	add(types.Timestamp, nil)
	write := func(w *SnapshotWriter) {
		for i, v := range cols {
			w.Uvarint(uint64(i))
			if err := w.VecLater(v); err != nil {
				t.Fatal(err)
			}
		}
		sub := &SnapshotWriter{deferring: w.deferring}
		sub.String(long)
		if err := sub.VecLater(cols[4]); err != nil {
			t.Fatal(err)
		}
		w.Append(sub)
		w.Varint(-5)
	}
	now := NewSnapshotWriter(nil)
	write(now)
	later := &SnapshotWriter{deferring: true}
	write(later)
	// All but the numeric, and the appended section's.
	if len(later.pending) != len(cols) {
		t.Fatalf("%d columns deferred, want %d", len(later.pending), len(cols))
	}
	if later.Len() != now.Len() {
		t.Fatalf("Len %d before Finish, %d written at once", later.Len(), now.Len())
	}
	if err := later.Finish(); err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(now.Bytes())
	for _, v := range cols {
		*v = *coldata.NewVec(v.Typ, 0)
	}
	if got := later.Bytes(); !bytes.Equal(got, want) {
		t.Fatalf("deferred columns wrote %d bytes unlike the %d written at once", len(got), len(want))
	}
	// A writer that does not defer writes at once: nothing is pending.
	if len(now.pending) != 0 {
		t.Fatalf("%d columns pending on a writer that does not defer", len(now.pending))
	}
}

// failingWriter takes up to room bytes, then fails.
type failingWriter struct {
	bytes.Buffer
	room int
}

var errNoRoom = errors.New("no room left")

func (f *failingWriter) Write(p []byte) (int, error) {
	if len(p) > f.room {
		n, _ := f.Buffer.Write(p[:f.room])
		f.room = 0
		return n, errNoRoom
	}
	f.room -= len(p)
	return f.Buffer.Write(p)
}

// TestSnapshotWriterStreamedParts writes parts through StreamLater, in a
// section appended too, with a writer that writes them at once and one
// that leaves them to WriteTo: Len must count them before, the bytes must
// be the same, no piece larger than what one flush wrote must be held,
// and every part must be released once, whether WriteTo wrote it, failed
// in it or before it, or it was never written (Release). A part of other
// bytes than counted fails.
func TestSnapshotWriterStreamedParts(t *testing.T) {
	piece := strings.Repeat("s", 50000)
	released := 0
	stream := func(w *SnapshotWriter, pieces int) error {
		bounded := w.deferring
		return w.StreamLater(pieces*(uvarintLen(uint64(len(piece)))+len(piece)), func(w *SnapshotWriter, flush func() error) error {
			for range pieces {
				w.String(piece)
				if bounded && w.Len() > 2*len(piece) {
					return fmt.Errorf("the part holds %d bytes: flush did not empty it", w.Len())
				}
				if err := flush(); err != nil {
					return err
				}
			}
			return nil
		}, func() error { released++; return nil })
	}
	write := func(w *SnapshotWriter) {
		w.Uvarint(7)
		if err := stream(w, 3); err != nil {
			t.Fatal(err)
		}
		w.String("between")
		sub := &SnapshotWriter{deferring: w.deferring}
		sub.Varint(-3)
		if err := stream(sub, 5); err != nil {
			t.Fatal(err)
		}
		sub.Uvarint(9)
		w.Append(sub)
		w.Uvarint(1)
	}
	now := NewSnapshotWriter(nil)
	write(now)
	if released != 2 {
		t.Fatalf("a writer that does not defer released %d parts, want 2", released)
	}
	want := now.Bytes()
	later := &SnapshotWriter{deferring: true}
	for _, room := range []int{-1, 10, len(want) / 2, len(want) - 3} {
		released = 0
		write(later)
		if later.Len() != len(want) {
			t.Fatalf("Len %d before WriteTo, %d written at once", later.Len(), len(want))
		}
		if err := later.Finish(); err != nil {
			t.Fatal(err)
		}
		switch {
		case room < 0:
			var got bytes.Buffer
			if n, err := later.WriteTo(&got); err != nil || n != int64(len(want)) || !bytes.Equal(got.Bytes(), want) {
				t.Fatalf("WriteTo wrote %d bytes (%v), unlike the %d written at once", n, err, len(want))
			}
		default:
			if _, err := later.WriteTo(&failingWriter{room: room}); !errors.Is(err, errNoRoom) {
				t.Fatalf("WriteTo into %d bytes: %v", room, err)
			}
		}
		if released != 2 {
			t.Fatalf("room %d: %d parts released, want 2", room, released)
		}
		if err := later.Release(); err != nil || released != 2 {
			t.Fatalf("Release after WriteTo released again (%d) or failed: %v", released, err)
		}
		later.Reset()
	}
	released = 0
	write(later)
	if err := later.Release(); err != nil || released != 2 {
		t.Fatalf("Release of parts not written released %d (%v), want 2", released, err)
	}
	later.Reset()
	bad := &SnapshotWriter{deferring: true}
	if err := bad.StreamLater(10, func(w *SnapshotWriter, _ func() error) error { w.String("eleven byte"); return nil }, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := bad.WriteTo(io.Discard); err == nil || !strings.Contains(err.Error(), "counted") {
		t.Fatalf("a part of 12 bytes counted as 10 wrote: %v", err)
	}
	// What follows a large streamed part (a base's spilled state) goes in
	// blocks sized by what the blocks hold, not by the part.
	big := &SnapshotWriter{deferring: true}
	if err := big.StreamLater(64<<20, func(*SnapshotWriter, func() error) error { return nil }, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	big.Int64s(make([]int64, minSnapshotBlock/8))
	if c := cap(big.buf); c > 2*minSnapshotBlock {
		t.Fatalf("a block of %d bytes after a streamed part of 64 MiB", c)
	}
	if err := big.Release(); err != nil {
		t.Fatal(err)
	}
}
