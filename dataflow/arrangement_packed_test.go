package dataflow

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// packedTypes are the columns of the tests of packed pages: integers and
// text, packed in whole pages, and a timestamp, packed or not by how far
// apart a page's values are.
var packedTypes = []*types.T{types.Int8, types.Text, types.Text, types.Timestamp}

// TestArrangementPackedText applies random epochs of insertions to an
// unkeyed arrangement, in chunks of whole pages (whose text and integer
// columns are packed) and odd sizes (whose strings are copied), with empty
// strings, NULLs, strings longer than a block of copied strings, and
// timestamps near each other (packed) or spread over the whole range (too
// far apart to pack, shared), then retracts rows (the pages become full
// ones, unpacked) and compacts, then inserts again.
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

	// stamp is a chunk's timestamp of row i: NULL or near i, or, in one
	// chunk in three, anywhere (and its extremes).
	stamp := func(i int, spread bool) types.Datum {
		switch x := rng.IntN(100); {
		case x < 10:
			return nil
		case spread && x < 12:
			return []int64{math.MinInt64, math.MaxInt64}[x-10]
		case spread:
			return rng.Int64() - rng.Int64()
		default:
			return int64(i)*1000 - 1<<40 + rng.Int64N(1000)
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
				// The first two epochs hold whole pages, of near and of
				// spread timestamps.
				spread := e == 2 || e > 2 && rng.IntN(3) == 0
				if e <= 2 {
					n = 2 * versionPageRows
				}
				c := NewChanges(packedTypes, n)
				for range n {
					row := []types.Datum{int64(next), text(next), text(next), stamp(next, spread)}
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
		if e == epochs/2-1 {
			pages := a.work.pages
			if !slices.ContainsFunc(pages, func(p *versionPage) bool { return p.packed != nil }) ||
				!slices.ContainsFunc(pages, func(p *versionPage) bool { return p.packedInts != nil && p.packedInts[3] != nil }) ||
				!slices.ContainsFunc(pages, func(p *versionPage) bool { return p.packedInts != nil && p.packedInts[3] == nil }) {
				t.Fatalf("before the retraction, no page packs text, or packs timestamps, or shares them")
			}
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
			var stamp types.Datum
			if second != nil {
				stamp = int64(i)
			}
			c.AppendRow([]types.Datum{int64(i), s, second, stamp})
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
		if page.packedInts == nil || page.packedInts[0] == nil || page.rows.Cols[0].Ints != nil || page.rows.Cols[0].Nulls != nil {
			t.Errorf("page %d: integers not packed, or with a NULL mask", p)
		}
		if page.packedInts[3] == nil || page.rows.Cols[3].Nulls == nil || page.packedInts[1] != nil {
			t.Errorf("page %d: timestamps not packed, or without their NULLs, or text packed as integers", p)
		}
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
		c.AppendRow([]types.Datum{int64(i), fmt.Sprintf("row %d %s", i, strings.Repeat("x", rng.IntN(60))), "c", int64(i) * 1000})
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

// TestPackInts checks packInts at the edges of 32-bit deltas: values
// exactly 2^32-1 apart pack (at both ends of the range), 2^32 apart do
// not, NULL rows' values do not count, and the values read back.
func TestPackInts(t *testing.T) {
	const maxDelta = math.MaxUint32
	for _, tc := range []struct {
		vals  []int64
		nulls []bool
		packs bool
	}{
		{vals: []int64{math.MinInt64, math.MinInt64 + maxDelta, math.MinInt64 + 7}, packs: true},
		{vals: []int64{math.MinInt64, math.MinInt64 + maxDelta + 1}},
		{vals: []int64{math.MaxInt64, math.MaxInt64 - maxDelta, -1 << 62}, nulls: []bool{false, false, true}, packs: true},
		{vals: []int64{math.MinInt64, math.MaxInt64}},
		{vals: []int64{-5, 5, 0}, packs: true},
		{vals: []int64{3, math.MaxInt64, math.MinInt64}, nulls: []bool{false, true, true}, packs: true},
		{vals: []int64{0, 0}, nulls: []bool{true, true}, packs: true},
	} {
		col := &coldata.Vec{Typ: types.Int8, Ints: slices.Concat([]int64{42}, tc.vals), Nulls: slices.Concat([]bool{true}, tc.nulls)}
		if tc.nulls == nil {
			col.Nulls = nil
		}
		p, nulls, ok := packInts(col, 1, len(tc.vals))
		if ok != tc.packs {
			t.Errorf("%v (NULL %v): packed %v, want %v", tc.vals, tc.nulls, ok, tc.packs)
			continue
		}
		if !ok {
			continue
		}
		if !slices.Equal(nulls, tc.nulls) {
			t.Errorf("%v: NULLs %v, want %v", tc.vals, nulls, tc.nulls)
		}
		for r, want := range tc.vals {
			if tc.nulls != nil && tc.nulls[r] {
				continue
			}
			if got := p.at(r); got != want {
				t.Errorf("%v: row %d reads %d", tc.vals, r, got)
			}
		}
	}
}

// BenchmarkArrangementKeptRow feeds an insert-only arrangement (a
// pass-through view) Nexmark-like bids (auction, bidder, price, date_time,
// extra of about 40 bytes) in batches of 64 Ki rows, as a Kafka source
// delivers them, dropping each batch once applied as a stream does its
// older segments, and reports the heap the arrangement holds a row: what
// the heap grows by (and twice that in page faults under GOGC 100) as a
// view keeps its rows.
func BenchmarkArrangementKeptRow(b *testing.B) {
	const rows, batch = 1 << 20, 1 << 16
	typs := []*types.T{types.Int8, types.Int8, types.Int8, types.Timestamp, types.Text}
	extra := strings.Repeat("x", 80)
	rng := rand.New(rand.NewPCG(1, 2))
	var held float64
	for range b.N {
		b.StopTimer()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		batches := make([]*coldata.Chunk, rows/batch)
		for x := range batches {
			c := NewChanges(typs, batch)
			for i := x * batch; i < (x+1)*batch; i++ {
				c.AppendRow([]types.Datum{int64(1000 + i/50 + rng.IntN(100)), int64(rng.IntN(100_000)), int64(rng.IntN(10_000_000)), int64(1_767_225_600_000_000 + i), extra[:30+rng.IntN(20)]})
				c.Diffs = append(c.Diffs, 1)
			}
			batches[x] = c
		}
		b.StartTimer()
		a := NewArrangement(typs, nil)
		for e := range batches {
			if err := a.Apply(uint64(e+1), batches[e]); err != nil {
				b.Fatal(err)
			}
			batches[e] = nil // what a page still shares is the arrangement's
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		held = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / rows
		runtime.KeepAlive(a)
		b.StartTimer()
	}
	b.ReportMetric(held, "held-B/row")
}
