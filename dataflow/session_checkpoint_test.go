package dataflow

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/internal/randtest"
	"github.com/sluice-db/sluice/timewindow"
	"github.com/sluice-db/sluice/types"
)

// sessionSnapshotTypes are the rows of the session snapshot tests: a
// partition key (NULL at times), an id, a time (NULL at times: in no
// session) and a text.
var sessionSnapshotTypes = []*types.T{types.Int8, types.Int8, types.Timestamp, types.Text}

// sessionGraph is a session window of gap over sessionSnapshotTypes,
// partitioned by partition, under an EMIT ON WINDOW CLOSE count per
// session when onClose (which needs closes).
func sessionGraph(gap int64, partition []int, closes, onClose bool) func() *Graph {
	return func() *Graph {
		g := &Graph{}
		src := g.Add(&Source{Name: "s", Typs: sessionSnapshotTypes})
		w := &SessionWindow{Spec: timewindow.Spec{Kind: timewindow.Session, Gap: gap}, Time: &expr.ColRef{Idx: 2, Typ: types.Timestamp},
			PartitionBy: partition, InTypes: sessionSnapshotTypes, Closes: closes}
		win := g.Add(w, src)
		if onClose {
			g.Add(&Aggregate{Keys: []int{0, 4, 5}, InTypes: w.Types(), Window: &AggWindow{Key: 2, OnClose: true},
				Aggs: []AggCall{{Func: "count_star", Filter: -1, Typ: types.Int8}}}, win)
		}
		return g
	}
}

// sessionSnapshotEpochs draws n epochs of rows over keys partition keys
// (and NULL), with times close together so that sessions start, extend
// and merge across epochs. With closes the times are at or after the
// watermark of the epoch before, which each epoch advances; otherwise
// some changes delete rows held (one, or all copies of a row), which
// shortens and splits sessions, and some add another copy.
func sessionSnapshotEpochs(rng *rand.Rand, n, keys int, gap int64, closes bool) []snapshotEpoch {
	type row struct {
		key  any
		id   int64
		ts   any
		text string
	}
	var held []row
	counts := map[int64]int64{}
	var epochs []snapshotEpoch
	var id, wm int64
	for range n {
		c := NewChanges(sessionSnapshotTypes, 0)
		appendRow := func(r row, diff int64) {
			c.AppendRow([]types.Datum{r.key, r.id, r.ts, r.text})
			c.Diffs = append(c.Diffs, diff)
			counts[r.id] += diff
		}
		for range rng.Intn(12) {
			switch x := rng.Intn(10); {
			case !closes && len(held) > 0 && x < 3:
				i := rng.Intn(len(held))
				r := held[i]
				appendRow(r, -counts[r.id])
				held = append(held[:i], held[i+1:]...)
			case len(held) > 0 && x == 3:
				appendRow(held[rng.Intn(len(held))], 1)
			default:
				id++
				r := row{id: id, ts: wm + rng.Int63n(6*gap), text: fmt.Sprint("t", rng.Intn(5))}
				if k := rng.Intn(keys + 1); k < keys {
					r.key = int64(k)
				}
				if rng.Intn(15) == 0 {
					r.ts = nil
				}
				held = append(held, r)
				appendRow(r, 1)
			}
		}
		e := snapshotEpoch{in: map[int][]*coldata.Chunk{0: {c}}}
		if closes {
			wm += rng.Int63n(3 * gap)
			e.watermarks = map[int]int64{0: wm}
			// Rows behind the watermark are never pushed: keep only the
			// copies still to come.
			kept := held[:0]
			for _, r := range held {
				if ts, ok := r.ts.(int64); ok && ts >= wm {
					kept = append(kept, r)
				}
			}
			held = kept
		}
		epochs = append(epochs, e)
	}
	return epochs
}

// TestSessionSnapshotRoundTrip snapshots session windows after random
// epochs, takes a delta after each epoch after that, and restores the
// snapshot and 1, half or all of the deltas: the restored dataflow must go
// on as the one never snapshotted (checkSessionDeltas and
// checkSnapshotRoundTrip, which restores damaged snapshots too). Over tables (deletions,
// sessions shortened and split), over a stream whose watermark closes
// sessions (freed, some across a snapshot), partitioned by a key with
// NULLs or not partitioned, on 1 to 3 workers.
func TestSessionSnapshotRoundTrip(t *testing.T) {
	seed := randtest.Seed(t)
	for _, tc := range []struct {
		name            string
		partition       []int
		closes, onClose bool
	}{
		{"changes", []int{0}, false, false},
		{"changes/one-partition", nil, false, false},
		{"closes", []int{0}, true, false},
		{"closes/on-close", []int{0}, true, true},
		{"closes/one-partition", nil, true, false},
		{"closes/two-columns", []int{0, 3}, true, false},
	} {
		for _, workers := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/workers=%d", tc.name, workers), func(t *testing.T) {
				rng := rand.New(rand.NewSource(seed + int64(workers)))
				for range 2 {
					gap := 1 + rng.Int63n(10)
					epochs := sessionSnapshotEpochs(rng, 14, 1+rng.Intn(4), gap, tc.closes)
					graph := sessionGraph(gap, tc.partition, tc.closes, tc.onClose)
					for _, cut := range []int{1 + rng.Intn(4), 5 + rng.Intn(6), len(epochs)} {
						checkSessionDeltas(t, graph, workers, epochs, cut)
						checkSnapshotRoundTrip(t, graph, workers, epochs, cut)
					}
				}
			})
		}
	}
}

// checkSessionDeltas runs the epochs on a dataflow of graph, snapshots it
// after epoch cut and takes a delta after every epoch after; a dataflow
// restored from the snapshot and each prefix of the deltas must hold the
// rows, sessions and partitions the first one held when it took the last,
// and run the epochs after them as the first one did. Unlike
// checkSnapshotRoundTrip it restores no damaged snapshot, which the
// windowed aggregate above a session window does not all refuse (a
// damaged window group list can make it loop).
func checkSessionDeltas(t *testing.T, graph func() *Graph, workers int, epochs []snapshotEpoch, cut int) {
	t.Helper()
	newDF := roundTripDataflows(t, graph, workers)
	df := newDF()
	var want []string
	var snaps [][]byte
	var held [][3]int
	for i, e := range epochs {
		want = append(want, stepText(t, df, e))
		if i+1 < cut {
			continue
		}
		snapshot := df.SnapshotDelta
		if i+1 == cut {
			snapshot = df.Snapshot
		}
		b, err := snapshotBytes(snapshot)
		if err != nil {
			t.Fatal(err)
		}
		snaps = append(snaps, b)
		rows, sessions, partitions := heldState(df)
		held = append(held, [3]int{rows, sessions, partitions})
	}
	for k := range snaps {
		restored := newDF()
		if err := restored.Restore(snaps[0], snaps[1:k+1]...); err != nil {
			t.Fatalf("restoring the snapshot of epoch %d and %d deltas: %v", cut, k, err)
		}
		if rows, sessions, partitions := heldState(restored); [3]int{rows, sessions, partitions} != held[k] {
			t.Fatalf("restored from the snapshot of epoch %d and %d deltas: %d rows, %d sessions, %d partitions held, want %v", cut, k, rows, sessions, partitions, held[k])
		}
		for i := cut + k; i < len(epochs); i++ {
			if got := stepText(t, restored, epochs[i]); got != want[i] {
				t.Fatalf("epoch %d after restoring the snapshot of epoch %d and %d deltas: got\n%s\nwant\n%s", i, cut, k, got, want[i])
			}
		}
	}
}

// TestSessionSnapshotDeltas checks what the deltas of a session window
// hold: only the rows that changed since the snapshot before; rows
// compaction dropped (most of a partition deleted) with their change; not
// the rows of sessions the watermark closed, which the restore frees
// again. A restore from the base and the deltas goes on as the dataflow
// that wrote them.
func TestSessionSnapshotDeltas(t *testing.T) {
	for _, closes := range []bool{false, true} {
		t.Run(fmt.Sprintf("closes=%v", closes), func(t *testing.T) {
			newDF := roundTripDataflows(t, sessionGraph(10, []int{0}, closes, false), 2)
			// Rows lo..hi-1 of keys 0-3, row n at time 5n: one session a
			// key while the rows are there.
			rows := func(lo, hi int, diff int64) map[int][]*coldata.Chunk {
				c := NewChanges(sessionSnapshotTypes, 4*(hi-lo))
				for n := lo; n < hi; n++ {
					for k := range 4 {
						c.AppendRow([]types.Datum{int64(k), int64(n), int64(5 * n), "some text of the row"})
						c.Diffs = append(c.Diffs, diff)
					}
				}
				return map[int][]*coldata.Chunk{0: {c}}
			}
			df := newDF()
			var epochs []snapshotEpoch
			step := func(in map[int][]*coldata.Chunk, wm int64) string {
				e := snapshotEpoch{in: in}
				if closes {
					e.watermarks = map[int]int64{0: wm}
				}
				epochs = append(epochs, e)
				return stepText(t, df, e)
			}
			step(rows(0, 1000, 1), 0)
			base, err := snapshotBytes(df.SnapshotDelta)
			if err == nil {
				t.Fatal("a delta without a snapshot before it was taken")
			}
			if base, err = snapshotBytes(df.Snapshot); err != nil {
				t.Fatal(err)
			}
			var deltas [][]byte
			delta := func() []byte {
				d, err := snapshotBytes(df.SnapshotDelta)
				if err != nil {
					t.Fatal(err)
				}
				deltas = append(deltas, d)
				return d
			}
			// Ten new rows a key: a tenth of the base's rows.
			step(rows(1000, 1100, 1), 0)
			if d := delta(); len(d) > len(base)/8 || len(d) < len(base)/12 {
				t.Fatalf("a delta of a tenth of the rows took %d bytes, the base %d", len(d), len(base))
			}
			if closes {
				// A gap of 500 closes every session before it: the
				// rows freed are not written.
				step(rows(1200, 1300, 1), 5*1100+10)
				if d := delta(); len(d) > len(base)/8 {
					t.Fatalf("a delta of a tenth of the rows, with every row before freed, took %d bytes, the base %d", len(d), len(base))
				}
			} else {
				// Most rows deleted: compaction drops them, and the
				// delta carries them.
				step(rows(100, 1050, -1), 0)
				if d := delta(); len(d) < len(base)*8/10 {
					t.Fatalf("a delta of 95%% of the rows deleted took %d bytes, the base %d", len(d), len(base))
				}
				for _, wk := range df.workers {
					wk.ops[1].(*sessionOp).parts.Range(func(_ string, p *sessionPartition) bool {
						if p.rows.Len > 300 {
							t.Fatalf("a partition of %d rows after deleting most: not compacted", p.rows.Len)
						}
						return true
					})
				}
			}
			// Nothing changed: the delta holds no row.
			step(nil, 5*1300)
			if d := delta(); len(d) > 100 {
				t.Fatalf("a delta after an epoch without rows took %d bytes", len(d))
			}
			next := snapshotEpoch{in: rows(50, 60, 1)}
			if closes {
				next = snapshotEpoch{in: rows(1400, 1410, 1), watermarks: map[int]int64{0: 5 * 1400}}
			}
			want := stepText(t, df, next)
			restored := newDF()
			if err := restored.Restore(base, deltas...); err != nil {
				t.Fatal(err)
			}
			if got := stepText(t, restored, next); got != want {
				t.Fatalf("after restoring the base and %d deltas: got\n%s\nwant\n%s", len(deltas), got, want)
			}
			gotRows, _, _ := heldState(restored)
			wantRows, _, _ := heldState(df)
			if gotRows != wantRows {
				t.Fatalf("restored %d rows, the dataflow holds %d", gotRows, wantRows)
			}
		})
	}
}

// heldState sums the session window state (node 1) over df's workers.
func heldState(df *Dataflow) (rows, sessions, partitions int) {
	for _, wk := range df.workers {
		r, s, p := wk.ops[1].(*sessionOp).held()
		rows, sessions, partitions = rows+r, sessions+s, partitions+p
	}
	return rows, sessions, partitions
}
