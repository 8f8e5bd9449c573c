package dataflow

import (
	"cmp"
	"flag"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/timewindow"
	"github.com/sluice-db/sluice/types"
)

var sessionSeed = flag.Uint64("session-seed", 0, "seed of TestSessionWindowMatchesBatch (0: time-based)")

func init() {
	// session time=N gap=D [partition=0,2] [closes=true], with a Go duration.
	testOps["session"] = func(in [][]*types.T, args map[string]string) (OpSpec, error) {
		col, err := strconv.Atoi(args["time"])
		if err != nil {
			return nil, err
		}
		gap, err := time.ParseDuration(args["gap"])
		if err != nil {
			return nil, err
		}
		spec := timewindow.Spec{Kind: timewindow.Session, Gap: gap.Microseconds()}
		if err := spec.Validate(); err != nil {
			return nil, err
		}
		return &SessionWindow{Spec: spec, Time: &expr.ColRef{Idx: col, Typ: in[0][col], Name: "ts"},
			PartitionBy: ints(args["partition"]), InTypes: in[0], Closes: args["closes"] == "true"}, nil
	}
}

// held is the session window's state for the datadriven "state" command:
// the distinct rows it holds with a multiplicity, its sessions and its
// partitions.
func (o *sessionOp) held() (rows, sessions, partitions int) {
	o.parts.Range(func(_ string, p *sessionPartition) bool {
		rows += p.tree.items - p.tree.zeros
		sessions += len(p.sessions)
		partitions++
		return true
	})
	return rows, sessions, partitions
}

// sessionRowsByBatch is the oracle: the rows of multiset live (row ->
// multiplicity; rows are key, id, ts) annotated by timewindow.Spec.Sessions
// as the batch SESSION does, rendered "key id ts start end" -> multiplicity.
func sessionRowsByBatch(spec *timewindow.Spec, live map[[3]int64]int64) map[string]int64 {
	var rows [][3]int64
	for r, n := range live {
		if n > 0 {
			rows = append(rows, r)
		}
	}
	slices.SortFunc(rows, func(a, b [3]int64) int {
		if c := cmp.Compare(a[0], b[0]); c != 0 {
			return c
		}
		return cmp.Compare(a[2], b[2])
	})
	n := len(rows)
	ts, newPart := make([]int64, n), make([]bool, n)
	for i, r := range rows {
		ts[i] = r[2]
		newPart[i] = i > 0 && rows[i-1][0] != r[0]
	}
	starts, ends, keep := make([]int64, n), make([]int64, n), make([]bool, n)
	spec.Sessions(ts, newPart, starts, ends, keep)
	want := map[string]int64{}
	for i, r := range rows {
		if keep[i] {
			want[fmt.Sprintf("%d %d %d %d %d", r[0], r[1], r[2], starts[i], ends[i])] += live[r]
		}
	}
	return want
}

// TestSessionWindowMatchesBatch pushes random inserts, copies of present
// rows and deletes over a few keys, with times drawn close together so that
// sessions extend, merge and split, on 1-4 workers, and checks after every
// epoch that the accumulated output equals the batch sessions of the rows
// present.
func TestSessionWindowMatchesBatch(t *testing.T) {
	rng := seededRand(t, sessionSeed, "session-seed")
	for round := range 20 {
		workers := 1 + rng.IntN(4)
		gap := int64(1 + rng.IntN(10))
		keys := 1 + rng.IntN(3)
		partition := []int{0}
		if rng.IntN(4) == 0 {
			partition, keys = nil, 1
		}
		typs := []*types.T{types.Int8, types.Int8, types.Timestamp}
		spec := timewindow.Spec{Kind: timewindow.Session, Gap: gap}
		g := &Graph{}
		src := g.Add(&Source{Name: "s", Typs: typs})
		g.Output = g.Add(&SessionWindow{Spec: spec, Time: &expr.ColRef{Idx: 2, Typ: types.Timestamp}, PartitionBy: partition, InTypes: typs}, src)
		df, err := newDataflow(g, &expr.EvalCtx{Cfg: types.DefaultConfig()}, Workers(workers), ChunkSize(1+rng.IntN(8)))
		if err != nil {
			t.Fatal(err)
		}
		deleteOdds := 2 + rng.IntN(2) // one change in deleteOdds is a delete
		// Times are base + [0, 50): sometimes at the end of the finite
		// range, where sessions whose end passes it do not exist.
		base := int64(0)
		if rng.IntN(4) == 0 {
			base = types.MaxTimestamp - 50
		}
		live := map[[3]int64]int64{}
		got := map[string]int64{}
		var id int64
		for epoch := range 60 {
			c := NewChanges(typs, 0)
			var present [][3]int64
			for r, n := range live {
				if n > 0 {
					present = append(present, r)
				}
			}
			slices.SortFunc(present, func(a, b [3]int64) int { return int(a[1] - b[1]) })
			for range rng.IntN(10) {
				var r [3]int64
				diff := int64(1)
				if len(present) > 0 && rng.IntN(deleteOdds) == 0 {
					r, diff = present[rng.IntN(len(present))], -1
					if live[r]+diff < 0 {
						continue
					}
				} else if len(present) > 0 && rng.IntN(8) == 0 {
					r = present[rng.IntN(len(present))] // another copy
				} else {
					id++
					r = [3]int64{int64(rng.IntN(keys)), id, base + int64(rng.IntN(50))}
				}
				live[r] += diff
				c.AppendRow([]types.Datum{r[0], r[1], r[2]})
				c.Diffs = append(c.Diffs, diff)
			}
			outs, _, err := df.Step(map[int][]*coldata.Chunk{src: {c}}, nil)
			out := stepOutput(df, outs)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < out.Len; i++ {
				k := fmt.Sprintf("%d %d %d %d %d", out.Cols[0].Ints[i], out.Cols[1].Ints[i], out.Cols[2].Ints[i], out.Cols[3].Ints[i], out.Cols[4].Ints[i])
				if got[k] += out.Diffs[i]; got[k] == 0 {
					delete(got, k)
				}
			}
			want := sessionRowsByBatch(&spec, live)
			for k, n := range want {
				if got[k] != n {
					t.Fatalf("round %d epoch %d gap %d: row %s has multiplicity %d, want %d\ngot  %v\nwant %v", round, epoch, gap, k, got[k], n, got, want)
				}
			}
			for k, n := range got {
				if want[k] != n {
					t.Fatalf("round %d epoch %d gap %d: row %s has multiplicity %d, want %d\ngot  %v\nwant %v", round, epoch, gap, k, n, want[k], got, want)
				}
			}
		}
		df.Close()
	}
}

// TestSessionWindowCloses pushes random rows at or after a random, advancing
// watermark to a session window that frees closed sessions, on 1-3
// workers, with an EMIT ON WINDOW CLOSE count per session above it. After
// every epoch the window's accumulated output equals the batch sessions of
// all the rows (freeing changes nothing), it holds only the rows of the
// sessions still open, and the aggregate has emitted each session ending at
// or before the watermark once, with its row count, and no other.
func TestSessionWindowCloses(t *testing.T) {
	rng := seededRand(t, sessionSeed, "session-seed")
	for round := range 10 {
		workers := 1 + rng.IntN(3)
		gap := int64(1 + rng.IntN(10))
		keys := 1 + rng.IntN(4)
		typs := []*types.T{types.Int8, types.Int8, types.Timestamp}
		spec := timewindow.Spec{Kind: timewindow.Session, Gap: gap}
		// Two dataflows with the same nodes: the sessions, and the final
		// counts.
		var src, win int
		build := func(onClose bool) *Dataflow {
			g := &Graph{}
			src = g.Add(&Source{Name: "s", Typs: typs})
			win = g.Add(&SessionWindow{Spec: spec, Time: &expr.ColRef{Idx: 2, Typ: types.Timestamp}, PartitionBy: []int{0}, InTypes: typs, Closes: true}, src)
			if onClose {
				g.Add(&Aggregate{Keys: []int{0, 3, 4}, InTypes: g.Nodes[win].Spec.Types(), Window: &AggWindow{Key: 2, OnClose: true},
					Aggs: []AggCall{{Func: "count_star", Filter: -1, Typ: types.Int8}}}, win)
			}
			df, err := newDataflow(g, &expr.EvalCtx{Cfg: types.DefaultConfig()}, Workers(workers))
			if err != nil {
				t.Fatal(err)
			}
			return df
		}
		sessions, final := build(false), build(true)
		live := map[[3]int64]int64{}
		got := map[string]int64{}
		emitted := map[string]int64{} // "key start end" -> count
		var id, wm int64
		for epoch := range 80 {
			c := NewChanges(typs, 0)
			for range rng.IntN(8) {
				id++
				r := [3]int64{int64(rng.IntN(keys)), id, wm + int64(rng.IntN(30))}
				live[r]++
				c.AppendRow([]types.Datum{r[0], r[1], r[2]})
				c.Diffs = append(c.Diffs, 1)
			}
			wm += int64(rng.IntN(int(2 * gap)))
			in, wms := map[int][]*coldata.Chunk{src: {c}}, map[int]int64{src: wm}
			outs, outWM, err := sessions.Step(in, wms)
			out := stepOutput(sessions, outs)
			if err != nil {
				t.Fatal(err)
			}
			closeds, _, err := final.Step(in, wms)
			closed := stepOutput(final, closeds)
			if err != nil {
				t.Fatal(err)
			}
			if outWM != wm {
				t.Fatalf("round %d epoch %d: output watermark %d, want %d", round, epoch, outWM, wm)
			}
			for i := range out.Len {
				k := fmt.Sprintf("%d %d %d %d %d", out.Cols[0].Ints[i], out.Cols[1].Ints[i], out.Cols[2].Ints[i], out.Cols[3].Ints[i], out.Cols[4].Ints[i])
				if got[k] += out.Diffs[i]; got[k] == 0 {
					delete(got, k)
				}
			}
			for i := range closed.Len {
				k := fmt.Sprintf("%d %d %d", closed.Cols[0].Ints[i], closed.Cols[1].Ints[i], closed.Cols[2].Ints[i])
				if _, ok := emitted[k]; ok || closed.Diffs[i] != 1 {
					t.Fatalf("round %d epoch %d: session %s emitted %+d, already emitted: %v", round, epoch, k, closed.Diffs[i], ok)
				}
				emitted[k] = closed.Cols[3].Ints[i]
			}
			want := sessionRowsByBatch(&spec, live)
			if !maps.Equal(got, want) {
				t.Fatalf("round %d epoch %d gap %d: got %v\nwant %v", round, epoch, gap, got, want)
			}
			open, wantEmitted := 0, map[string]int64{}
			for k := range want {
				var key, rowID, ts, start, end int64
				fmt.Sscan(k, &key, &rowID, &ts, &start, &end)
				if end > wm {
					open++
					continue
				}
				wantEmitted[fmt.Sprintf("%d %d %d", key, start, end)]++
			}
			if !maps.Equal(emitted, wantEmitted) {
				t.Fatalf("round %d epoch %d gap %d watermark %d: emitted %v\nwant %v", round, epoch, gap, wm, emitted, wantEmitted)
			}
			if held := heldSessionRows(sessions, win); held != open {
				t.Fatalf("round %d epoch %d: %d rows held, want the %d of open sessions", round, epoch, held, open)
			}
		}
		sessions.Close()
		final.Close()
	}
}

// TestSessionStateBounded feeds an unbounded stream of sessions (per key a
// row a second, with a pause after every fifth) whose watermark trails event
// time: the session window holds only the open sessions' rows, its
// partitions' row storage stays within compaction's bound, and its index of
// partitions by session end holds about one entry a partition.
func TestSessionStateBounded(t *testing.T) {
	const keys, epochs = 50, 400
	typs := []*types.T{types.Int8, types.Int8, types.TimestampTZ}
	g := &Graph{}
	src := g.Add(&Source{Name: "s", Typs: typs})
	win := g.Add(&SessionWindow{Spec: timewindow.Spec{Kind: timewindow.Session, Gap: 3e6},
		Time: &expr.ColRef{Idx: 2, Typ: types.TimestampTZ}, PartitionBy: []int{0}, InTypes: typs, Closes: true}, src)
	df, err := newDataflow(g, &expr.EvalCtx{Cfg: types.DefaultConfig()}, Workers(2))
	if err != nil {
		t.Fatal(err)
	}
	defer df.Close()
	maxHeld, maxStored, maxIndexed := 0, 0, 0
	for e := range epochs {
		// Seconds 0-4 of every 10 have rows: sessions of 5 rows.
		now := int64(e/5*10+e%5) * 1e6
		c := NewChanges(typs, keys)
		for k := range keys {
			c.AppendRow([]types.Datum{int64(k), int64(e), now})
			c.Diffs = append(c.Diffs, 1)
		}
		// The watermark trails event time by two seconds.
		if _, _, err := df.Step(map[int][]*coldata.Chunk{src: {c}}, map[int]int64{src: now - 2e6}); err != nil {
			t.Fatal(err)
		}
		maxHeld = max(maxHeld, heldSessionRows(df, win))
		stored, indexed := 0, 0
		for _, wk := range df.workers {
			o := wk.ops[win].(*sessionOp)
			o.parts.Range(func(_ string, p *sessionPartition) bool {
				stored += p.rows.Len
				return true
			})
			indexed += len(o.ends)
		}
		maxStored, maxIndexed = max(maxStored, stored), max(maxIndexed, indexed)
	}
	// A session's 5 rows, and the next session's first while the previous
	// waits for the watermark.
	if maxHeld > 6*keys {
		t.Fatalf("%d rows held at most, want <= %d", maxHeld, 6*keys)
	}
	// Compaction runs once the dead rows are more than 32 and the live.
	if maxStored > (6+33)*keys {
		t.Fatalf("%d rows stored at most, want <= %d", maxStored, (6+33)*keys)
	}
	if maxIndexed > 2*keys {
		t.Fatalf("%d index entries at most, want <= %d", maxIndexed, 2*keys)
	}
}

// heldSessionRows counts the rows the session window node holds over all
// workers.
func heldSessionRows(df *Dataflow, node int) int {
	n := 0
	for _, wk := range df.workers {
		rows, _, _ := wk.ops[node].(*sessionOp).held()
		n += rows
	}
	return n
}

// BenchmarkSessionWindow pushes epochs of rows over many keys. extend:
// each key's rows come in time order 1 s apart with a pause of 10 s after
// every tenth, so that with a 5 s gap each epoch extends open sessions
// (retracting their rows) and starts new ones. inside: each key holds one
// session of 1000 rows and rows arrive late, within it, moving no bound.
// close: extend over an event time, with the watermark at the last row's
// time, so that each key's sessions close after their pause and are freed.
func BenchmarkSessionWindow(b *testing.B) {
	const keys, epochRows = 1000, coldata.DefaultChunkSize
	typs := []*types.T{types.Int8, types.Int8, types.TimestampTZ}
	w := &SessionWindow{Spec: timewindow.Spec{Kind: timewindow.Session, Gap: 5_000_000},
		Time: &expr.ColRef{Idx: 2, Typ: types.TimestampTZ}, PartitionBy: []int{0}, InTypes: typs}
	extend := func(n int) int64 { seq := int64(n / keys); return (seq + seq/10*10) * 1_000_000 }
	for _, bc := range []struct {
		name    string
		preload int64 // rows per key pushed before timing, 1 s apart
		time    func(n int) int64
		closes  bool
	}{
		{"extend", 0, extend, false},
		{"inside", 1000, func(n int) int64 { return int64(n*7919%998_000_000) + 500_000 }, false},
		{"close", 0, extend, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			spec := *w
			spec.Closes = bc.closes
			op, err := spec.New(&Env{})
			if err != nil {
				b.Fatal(err)
			}
			out := 0
			emit := func(c *coldata.Chunk) error { out += c.Len; return nil }
			n := 0
			epoch := func(rows int, time func(n int) int64) {
				c := NewChanges(typs, rows)
				for range rows {
					c.AppendRow([]types.Datum{int64(n % keys), int64(n), time(n)})
					c.Diffs = append(c.Diffs, 1)
					n++
				}
				if err := op.Push(0, c, emit); err != nil {
					b.Fatal(err)
				}
				if bc.closes {
					op.(watermarkObserver).Advance([]int64{time(n - 1)})
				}
				if err := op.Flush(emit); err != nil {
					b.Fatal(err)
				}
			}
			for range bc.preload {
				epoch(keys, func(n int) int64 { return int64(n/keys) * 1_000_000 })
			}
			n, out = 0, 0
			b.ResetTimer()
			for range b.N {
				epoch(epochRows, bc.time)
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(out)/float64(n), "out-rows/row")
		})
	}
}
