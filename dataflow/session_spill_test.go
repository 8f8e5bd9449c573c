package dataflow

import (
	"fmt"
	"math/rand"
	"slices"
	"testing"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/internal/randtest"
	"github.com/sluice-db/sluice/timewindow"
	"github.com/sluice-db/sluice/types"
)

// sessionSpillEpochs draws n epochs of rows over keys partitions (a key
// of 0 is NULL; half the rows hit a few hot partitions, the rest any),
// each row's text column the key's spillText (NULL, empty, long or short),
// at times close together so that sessions start, extend and merge across
// epochs, and a row in 15 without a time. With closes every row is at or
// after the watermark of the epoch before, which each epoch advances by
// up to a gap: rows come late (behind the newest times, within open
// sessions), and sessions close with their partitions held and spilled;
// otherwise the times move up slowly and a change in four deletes a row
// held (one copy, or all of them), of any partition (spilled ones among
// them), which shortens and splits sessions.
func sessionSpillEpochs(rng *rand.Rand, n, keys int, gap int64, closes bool) []snapshotEpoch {
	type row struct {
		key  int
		id   int64
		ts   any
		text types.Datum
	}
	var held []row
	counts := map[int64]int64{}
	var epochs []snapshotEpoch
	var id, wm, now int64
	for range n {
		c := NewChanges(sessionSnapshotTypes, 0)
		appendRow := func(r row, diff int64) {
			var key types.Datum
			if r.key != 0 {
				key = int64(r.key)
			}
			c.AppendRow([]types.Datum{key, r.id, r.ts, r.text})
			c.Diffs = append(c.Diffs, diff)
			counts[r.id] += diff
		}
		for range 200 + rng.Intn(400) {
			switch x := rng.Intn(12); {
			case !closes && len(held) > 0 && x < 3:
				i := rng.Intn(len(held))
				r := held[i]
				diff := -counts[r.id]
				if x == 0 && diff < -1 {
					diff = -1
				} else {
					held[i] = held[len(held)-1]
					held = held[:len(held)-1]
				}
				appendRow(r, diff)
			case len(held) > 0 && x == 3:
				appendRow(held[rng.Intn(len(held))], 1)
			default:
				id++
				k := rng.Intn(keys)
				if rng.Intn(2) == 0 {
					k = rng.Intn(keys/50 + 1)
				}
				r := row{key: k, id: id, ts: wm + rng.Int63n(6*gap), text: spillText(k)}
				if !closes {
					r.ts = now + rng.Int63n(20*gap)
				}
				if rng.Intn(15) == 0 {
					r.ts = nil
				}
				held = append(held, r)
				appendRow(r, 1)
			}
		}
		e := snapshotEpoch{in: map[int][]*coldata.Chunk{0: {c}}}
		now += rng.Int63n(gap)
		if closes {
			wm += rng.Int63n(gap + 1)
			e.watermarks = map[int]int64{0: wm}
			// Rows behind the watermark are never pushed: keep only the
			// copies still to come.
			held = slices.DeleteFunc(held, func(r row) bool {
				ts, ok := r.ts.(int64)
				return !ok || ts < wm
			})
		}
		epochs = append(epochs, e)
	}
	return epochs
}

// spilledSessions checks the spilling session windows (node 1) of df:
// with closes, no spilled partition may hold only sessions the watermark
// closed (its last session's end must be after it: closing drops it from
// the store), the spilled partitions' rows must be those the store
// holds, and the index of session ends must hold few stale entries.
func spilledSessions(t *testing.T, df *Dataflow) {
	t.Helper()
	for _, wk := range df.workers {
		o := wk.ops[1].(*sessionOp)
		s := o.spill
		rows, parts := 0, 0
		err := s.space.Scan([]byte{spilledGroup}, func(k, value []byte) error {
			sp, ok := s.spilled[string(k[1:])]
			if !ok {
				return fmt.Errorf("partition %x in the store, not listed as spilled", k[1:])
			}
			if o.spec.Closes && sp.end <= o.watermark {
				return fmt.Errorf("partition %x spilled with its last session closed (end %d, watermark %d)", k[1:], sp.end, o.watermark)
			}
			if _, ok := o.parts.Get(string(k[1:])); ok {
				return fmt.Errorf("partition %x spilled and held", k[1:])
			}
			r := NewSnapshotReader(value)
			n, _ := readCountedRows(r, o.spec.InTypes, "test", countsMultiplicities)
			rows += len(n)
			parts++
			return r.err
		})
		if err != nil {
			t.Fatal(err)
		}
		if rows != s.rows || parts != len(s.spilled) {
			t.Fatalf("the store holds %d partitions of %d rows, %d of %d counted", parts, rows, len(s.spilled), s.rows)
		}
		if live := o.parts.Len() + parts; len(o.ends) > 2*live+sessionSpillFloor {
			t.Fatalf("%d entries in the index of session ends for %d partitions", len(o.ends), live)
		}
	}
}

// TestSessionSpillRandom runs random epochs through session windows
// partitioned by an integer (NULL at times), a text, or both, over a
// table (deletions) and over a stream whose watermark closes sessions
// (late rows, sessions closed while their partitions are spilled), on 1
// and 3 workers, under a budget so small that all but 64 partitions an
// instance are spilled at every epoch's end, and without one: every
// epoch's output must be the same, and snapshots (whole, then deltas) of
// either, restored into either, must go on as the reference does
// (checkSpillRandom). SLUICE_SEED=<n> replays a run.
func TestSessionSpillRandom(t *testing.T) {
	seed := randtest.Seed(t)
	rng := rand.New(rand.NewSource(seed))
	spill := openTestSpill(t)
	for _, tc := range []struct {
		name      string
		partition []int
		closes    bool
	}{
		{"int", []int{0}, false},
		{"text", []int{3}, false},
		{"int/closes", []int{0}, true},
		{"int,text/closes", []int{0, 3}, true},
	} {
		for _, workers := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/workers=%d", tc.name, workers), func(t *testing.T) {
				gap := 1 + rng.Int63n(10)
				// A byte: every instance keeps its floor of partitions.
				budget := NewBudget(1, func() SpillSpace { return spill.Space() })
				chunk := 64 + rng.Intn(256)
				newDF := func(b *Budget) *Dataflow {
					g := &Graph{}
					src := g.Add(&Source{Name: "s", Typs: sessionSnapshotTypes})
					g.Add(&SessionWindow{Spec: timewindow.Spec{Kind: timewindow.Session, Gap: gap}, Time: &expr.ColRef{Idx: 2, Typ: types.Timestamp},
						PartitionBy: tc.partition, InTypes: sessionSnapshotTypes, Closes: tc.closes}, src)
					return newBudgetDataflow(t, g, b, Workers(workers), ChunkSize(chunk))
				}
				epochs := sessionSpillEpochs(rng, 24, 3000*workers, gap, tc.closes)
				checkSpillRandom(t, rng, newDF, budget, epochs, spillChecks{store: spilledSessions})
			})
		}
	}
}

// TestSessionSpillLoadsBackAndCloses fills 1000 partitions with two
// sessions each, 2 gaps apart, under a budget that spills all but 64 of
// them, then bridges the two sessions of every partition with a row in
// between: each spilled partition must be loaded back whole, its sessions
// merged (its rows retracted and inserted with the merged bounds), as the
// reference does. Then a watermark past every session closes them all,
// with most partitions spilled again: they must go from the store without
// being loaded back, and the store must end empty.
func TestSessionSpillLoadsBackAndCloses(t *testing.T) {
	spill := openTestSpill(t)
	const parts, gap = 1000, 10
	typs := []*types.T{types.Int8, types.Int8}
	newDF := func(b *Budget) *Dataflow {
		g := &Graph{}
		src := g.Add(&Source{Name: "s", Typs: typs})
		g.Add(&SessionWindow{Spec: timewindow.Spec{Kind: timewindow.Session, Gap: gap}, Time: &expr.ColRef{Idx: 1, Typ: types.Timestamp},
			PartitionBy: []int{0}, InTypes: typs, Closes: true}, src)
		return newBudgetDataflow(t, g, b, Workers(1))
	}
	epoch := func(wm int64, times ...int64) snapshotEpoch {
		c := NewChanges(typs, parts*len(times))
		for k := range int64(parts) {
			for _, ts := range times {
				c.AppendRow([]types.Datum{k, ts})
				c.Diffs = append(c.Diffs, 1)
			}
		}
		c.Len = len(c.Diffs)
		return snapshotEpoch{in: map[int][]*coldata.Chunk{0: {c}}, watermarks: map[int]int64{0: wm}}
	}
	ref, spilling := newDF(nil), newDF(NewBudget(1, func() SpillSpace { return spill.Space() }))
	op := spilling.workers[0].ops[1].(*sessionOp)
	for i, e := range []snapshotEpoch{
		epoch(0, 0, 2*gap),
		epoch(0, gap),
		epoch(0, 3*gap+5),
		{watermarks: map[int]int64{0: 10 * gap}},
	} {
		got, want := stepText(t, spilling, e), stepText(t, ref, e)
		if got != want {
			t.Fatalf("epoch %d: got\n%s\nwant\n%s", i, got, want)
		}
		spilledSessions(t, spilling)
		held := op.parts.Len()
		switch {
		case i < 3 && (len(op.spill.spilled) != parts-sessionSpillFloor || held != sessionSpillFloor):
			t.Fatalf("epoch %d: %d partitions spilled and %d held, want %d and %d", i, len(op.spill.spilled), held, parts-sessionSpillFloor, sessionSpillFloor)
		case i == 3 && (len(op.spill.spilled) != 0 || op.spill.rows != 0 || held != 0):
			t.Fatalf("after closing every session: %d partitions spilled (%d rows) and %d held, want none", len(op.spill.spilled), op.spill.rows, held)
		}
	}
	n := 0
	if err := op.spill.space.Scan(nil, func(_, _ []byte) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d keys left in the spill store", n)
	}
}

// TestSessionSpillUnbounded checks the log of state not bounded by a
// memory limit: it names a session window without partition columns (one
// partition, which cannot spill), not one with them.
func TestSessionSpillUnbounded(t *testing.T) {
	spill := openTestSpill(t)
	budget := NewBudget(1<<20, func() SpillSpace { return spill.Space() })
	typs := []*types.T{types.Int8, types.Timestamp}
	for _, partition := range [][]int{{0}, nil} {
		g := &Graph{}
		spec := &SessionWindow{Spec: timewindow.Spec{Kind: timewindow.Session, Gap: 10}, Time: &expr.ColRef{Idx: 1, Typ: types.Timestamp},
			PartitionBy: partition, InTypes: typs}
		g.Add(spec, g.Add(&Source{Name: "s", Typs: typs}))
		df := newBudgetDataflow(t, g, budget, Workers(2))
		var want []string
		if partition == nil {
			want = []string{spec.String()}
		}
		if got := df.UnboundedState(); !slices.Equal(got, want) {
			t.Fatalf("partition %v: unbounded state %v, want %v", partition, got, want)
		}
	}
}
