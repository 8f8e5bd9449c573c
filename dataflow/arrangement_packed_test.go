package dataflow

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

var packedTypes = []*types.T{types.Int8, types.Text, types.Text}

// TestArrangementPackedText applies random epochs of insertions to an
// unkeyed arrangement, in chunks of whole pages (whose text columns are
// packed) and odd sizes (whose strings are copied), with empty strings,
// NULLs and strings longer than a block of copied strings, then retracts rows (the
// pages become full ones, unpacked) and compacts, then inserts again.
// After every epoch, the snapshot taken at every epoch so far must scan as
// the model of that epoch, while readers on other goroutines check the
// latest published epochs the same way (run it under -race).
func TestArrangementPackedText(t *testing.T) {
	rng := seededRand(t, arrangementSeed, "arrangement-seed")
	long := strings.Repeat("L", stringArenaBytes+100) // longer than keepStrings' blocks
	text := func(i int) types.Datum {
		switch x := rng.IntN(1000); {
		case x < 100:
			return nil
		case x < 200:
			return ""
		case x < 201:
			return long[:stringArenaBytes+rng.IntN(100)]
		default:
			return fmt.Sprintf("t%d-%s", i, strings.Repeat("x", rng.IntN(40)))
		}
	}

	a := NewArrangement(packedTypes, nil)
	var mu sync.Mutex
	models := [][]string{nil} // models[e]: the rows at epoch e, sorted
	modelAt := func(e uint64) []string {
		mu.Lock()
		defer mu.Unlock()
		return models[e]
	}
	var published atomic.Uint64
	var done atomic.Bool
	var checked atomic.Int64
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !done.Load() {
				e := published.Load()
				s := a.Snapshot(e)
				if s == nil {
					continue // compacted past e meanwhile
				}
				if got, want := scanText(s, packedTypes), modelAt(e); !slices.Equal(got, want) {
					t.Errorf("reader: epoch %d scans %d rows, want %d", e, len(got), len(want))
					return
				}
				checked.Add(1)
			}
		}()
	}

	var live []string // the model, unsorted
	var liveRows [][]types.Datum
	var snaps []*ArrangementSnapshot
	next := 0
	compacted := false
	// check compares the snapshots of every epoch so far with their
	// models (every few epochs: scans of long strings are slow), and the
	// latest one.
	check := func(e uint64) {
		t.Helper()
		for i, s := range snaps {
			if e%4 != 0 && i+1 != int(e) {
				continue
			}
			if got, want := scanText(s, packedTypes), modelAt(uint64(i+1)); !slices.Equal(got, want) {
				t.Fatalf("after epoch %d: the snapshot of epoch %d scans %d rows, want %d", e, i+1, len(got), len(want))
			}
		}
	}
	publish := func(e uint64) {
		model := slices.Clone(live)
		slices.Sort(model)
		mu.Lock()
		models = append(models, model)
		mu.Unlock()
	}
	const epochs = 16
	for e := uint64(1); e <= epochs; e++ {
		var cs []*coldata.Chunk
		if e == epochs/2 {
			// Retract about two thirds of the rows: the arrangement
			// indexes them, filling (unpacking) every page, and compacts.
			c := NewChanges(packedTypes, 0)
			kept, keptRows := live[:0:0], liveRows[:0:0]
			for i, row := range liveRows {
				if rng.IntN(3) != 0 {
					c.AppendRow(row)
					c.Diffs = append(c.Diffs, -1)
					continue
				}
				kept, keptRows = append(kept, live[i]), append(keptRows, row)
			}
			live, liveRows = kept, keptRows
			cs = append(cs, c)
		} else {
			for range 1 + rng.IntN(2) {
				n := []int{versionPageRows, 2 * versionPageRows, versionPageRows + 17, 1 + rng.IntN(700)}[rng.IntN(4)]
				c := NewChanges(packedTypes, n)
				for range n {
					row := []types.Datum{int64(next), text(next), text(next)}
					next++
					c.AppendRow(row)
					c.Diffs = append(c.Diffs, 1)
					live, liveRows = append(live, rowText(packedTypes, row)), append(liveRows, row)
				}
				cs = append(cs, c)
			}
		}
		publish(e)
		if err := a.Apply(e, cs...); err != nil {
			t.Fatal(err)
		}
		published.Store(e)
		if e == epochs/2-1 && !slices.ContainsFunc(a.work.pages, func(p *versionPage) bool { return p.packed != nil }) {
			t.Fatalf("no page packed before the retraction")
		}
		if e == epochs/2 {
			compacted = a.Compact(e)
			// Snapshots before a compaction stay valid; new ones start
			// at its epoch.
		}
		snaps = append(snaps, a.Snapshot(e))
		check(e)
	}
	done.Store(true)
	wg.Wait()
	if !compacted {
		t.Errorf("the retraction of two thirds of the rows did not compact")
	}
	if checked.Load() == 0 {
		t.Errorf("the readers checked no snapshot")
	}
	t.Logf("%d rows, %d reader checks", next, checked.Load())
}

// TestArrangementPacksWholePages checks that the whole pages of an
// insert-only arrangement keep their text packed, without string headers
// and without the chunk's strings, and that a page of strings too long
// for an arena block gets a block of its own.
func TestArrangementPacksWholePages(t *testing.T) {
	a := NewArrangement(packedTypes, nil)
	big := strings.Repeat("b", maxArenaBytes/versionPageRows+1) // a page's text exceeds a block
	for e, s := range []string{"", "small", big} {
		c := NewChanges(packedTypes, 2*versionPageRows)
		for i := range 2 * versionPageRows {
			var second types.Datum
			if i%5 != 0 {
				second = s
			}
			c.AppendRow([]types.Datum{int64(i), s, second})
			c.Diffs = append(c.Diffs, 1)
		}
		if err := a.Apply(uint64(e+1), c); err != nil {
			t.Fatal(err)
		}
	}
	packed := 0
	for p, page := range a.work.pages {
		if page.packed == nil {
			continue
		}
		packed++
		for j := 1; j <= 2; j++ {
			if page.rows.Cols[j].Bytes != nil {
				t.Errorf("page %d column %d: packed with %d strings", p, j, len(page.rows.Cols[j].Bytes))
			}
			pt := page.packed[j]
			if want := int(pt.offs[versionPageRows]); len(pt.bytes) != want {
				t.Errorf("page %d column %d: %d bytes, offsets end at %d", p, j, len(pt.bytes), want)
			}
		}
	}
	// The first page grows by copies; the five others are whole.
	if packed != 5 {
		t.Errorf("%d pages packed, want 5", packed)
	}
	s := a.Snapshot(3)
	rows := scanText(s, packedTypes)
	nulls, bigs := 0, 0
	for _, r := range rows {
		if strings.HasSuffix(r, " NULL") {
			nulls++
		}
		if strings.Contains(r, big) {
			bigs++
		}
	}
	if len(rows) != 6*versionPageRows || nulls != 3*((2*versionPageRows+4)/5) || bigs != 2*versionPageRows {
		t.Errorf("%d rows (%d with a NULL, %d long), want %d (%d, %d)", len(rows), nulls, bigs, 6*versionPageRows, 3*((2*versionPageRows+4)/5), 2*versionPageRows)
	}
}

// BenchmarkArrangementScanPacked scans an insert-only arrangement of 64 Ki
// rows with a text column, packed as a pass-through view's are.
func BenchmarkArrangementScanPacked(b *testing.B) {
	const n = 1 << 16
	a := NewArrangement(packedTypes, nil)
	c := NewChanges(packedTypes, n)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range n {
		c.AppendRow([]types.Datum{int64(i), fmt.Sprintf("row %d %s", i, strings.Repeat("x", rng.IntN(60))), "c"})
		c.Diffs = append(c.Diffs, 1)
	}
	if err := a.Apply(1, c); err != nil {
		b.Fatal(err)
	}
	s := a.Snapshot(1)
	b.ResetTimer()
	for range b.N {
		next := s.Scan()
		for c := next(); c != nil; c = next() {
		}
	}
}
