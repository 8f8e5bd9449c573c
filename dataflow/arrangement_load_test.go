package dataflow

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/internal/randtest"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// rangeText returns the rows a range scan returns, printed, in its order.
func scanRangeText(s *ArrangementSnapshot, typs []*types.T, r KeyRange) []string {
	var rows []string
	next := s.ScanRange(r)
	for c := next(); c != nil; c = next() {
		for i := 0; i < c.Len; i++ {
			rows = append(rows, rowText(typs, c.Row(i)))
		}
	}
	return rows
}

// A keyed arrangement's first epoch of many insertions is loaded in bulk
// (Arrangement.load). Loaded in one epoch or added a row at a time over
// several (the path every later epoch takes), the same rows in random key
// order must read the same: every row, in key order over a range scan
// (keys sharing their first 16 bytes included: the radix sort's ties),
// each by lookup; and so after the same updates, deletions and a
// compaction. The rows come in chunks of random sizes (copied into pages)
// or mostly of a page each, as a checkpoint's are (pages adopting them).
func TestArrangementLoadMatchesAdds(t *testing.T) {
	seed := uint64(randtest.EnvInt(t, "SLUICE_LOAD_SEED", time.Now().UnixNano()))
	t.Logf("seed %d (SLUICE_LOAD_SEED replays it)", seed)
	for name, split := range map[string]func(*coldata.Chunk, *rand.Rand) []*coldata.Chunk{"random": splitChunk, "pages": pageChunks} {
		t.Run(name, func(t *testing.T) {
			testArrangementLoad(t, rand.New(rand.NewPCG(seed, 0)), split)
		})
	}
}

func testArrangementLoad(t *testing.T, rng *rand.Rand, split func(*coldata.Chunk, *rand.Rand) []*coldata.Chunk) {
	typs := []*types.T{types.Text, types.Int8, types.Int8}
	key := []int{0, 1}
	n := 3*presizedIndexRows + rng.IntN(1000)
	var lines []string
	for _, i := range rng.Perm(n) {
		// A long shared prefix for a third of the keys: their order is
		// settled past the radix sort's 16 bytes.
		name := fmt.Sprintf("k%05d", i%1000)
		if i%3 == 0 {
			name = fmt.Sprintf("a-long-shared-prefix-%05d", i)
		}
		lines = append(lines, fmt.Sprintf("+1 %s %d %d", name, i/1000-1, rng.Int64N(100)))
	}
	rows := changeChunk(t, typs, lines...)
	chunks := split(rows, rng)

	loaded, added := NewArrangement(typs, key), NewArrangement(typs, key)
	if err := loaded.Apply(1, chunks...); err != nil {
		t.Fatal(err)
	}
	if loaded.indexing == nil || loaded.keys.items != n {
		t.Fatalf("%d keys ordered, want %d, index made at once: not the bulk path", loaded.keys.items, n)
	}
	adopted, sized, at := 0, 0, 0
	for _, c := range chunks {
		// Only a page-sized chunk that starts a page can become one (a
		// random split may make one that does not).
		if pageSized(c) && at%versionPageRows == 0 {
			sized++
		}
		at += c.Len
		for _, p := range loaded.work.pages {
			if p.rows.Cols[0] == c.Cols[0] {
				adopted++
			}
		}
	}
	// An adopted page's died column is its own, a page's worth cut from
	// a block: a kill in one page must not show in another.
	dieds := map[*uint64]bool{}
	for _, p := range loaded.work.pages {
		if len(p.died) != versionPageRows || cap(p.died) != versionPageRows || dieds[&p.died[0]] {
			t.Fatalf("a page's died column of %d rows, capacity %d, shared: %t", len(p.died), cap(p.died), dieds[&p.died[0]])
		}
		dieds[&p.died[0]] = true
	}
	// Every page-sized chunk starting a page is a page.
	if adopted != sized {
		t.Fatalf("%d pages adopted of %d page-sized chunks", adopted, sized)
	}
	// A first epoch of a few rows, then the rest: every row by change.
	if err := added.Apply(1, rows.Gather([]int{0, 1})); err != nil {
		t.Fatal(err)
	}
	rest := make([]int, 0, n-2)
	for i := 2; i < n; i++ {
		rest = append(rest, i)
	}
	if err := added.Apply(2, rows.Gather(rest)); err != nil {
		t.Fatal(err)
	}
	compare := func(le, ae uint64) {
		t.Helper()
		ls, as := loaded.Snapshot(le), added.Snapshot(ae)
		if got, want := scanText(ls, typs), scanText(as, typs); !slices.Equal(got, want) {
			t.Fatalf("scan: %d rows, want %d", len(got), len(want))
		}
		got, want := scanRangeText(ls, typs, KeyRange{}), scanRangeText(as, typs, KeyRange{})
		if !slices.Equal(got, want) {
			t.Fatalf("range scan differs: %d rows, want %d; first %q, want %q", len(got), len(want), got[:min(3, len(got))], want[:min(3, len(want))])
		}
		if len(got) == 0 {
			t.Fatal("empty range scan")
		}
		for range 200 {
			i := rng.IntN(rows.Len)
			k := []types.Datum{rows.Cols[0].Get(i), rows.Cols[1].Get(i)}
			lr, lok := ls.Lookup(k)
			ar, aok := as.Lookup(k)
			if lok != aok || fmt.Sprint(lr) != fmt.Sprint(ar) {
				t.Fatalf("lookup %v: %v %v, want %v %v", k, lr, lok, ar, aok)
			}
		}
	}
	compare(1, 2)
	// Update a third of the rows and delete a third: then compact both.
	var changes []string
	for i := range n {
		if i%3 == 2 {
			continue
		}
		row := rowText(typs, rows.Row(i))
		changes = append(changes, "-1 "+row)
		if i%3 == 0 {
			changes = append(changes, fmt.Sprintf("+1 %s %s 1000", rows.Cols[0].Get(i), fmt.Sprint(rows.Cols[1].Get(i))))
		}
	}
	if err := loaded.Apply(2, changeChunk(t, typs, changes...)); err != nil {
		t.Fatal(err)
	}
	// The writer took the index the load made (its changes went through
	// it): every key's tree item's entry, the key held once.
	if loaded.indexing != nil || len(loaded.index) != n {
		t.Fatalf("%d keys in the index, want %d (still being made: %t)", len(loaded.index), n, loaded.indexing != nil)
	}
	for k, entry := range loaded.index {
		item := loaded.keys.find([]byte(k))
		if item == nil || item.val != entry || unsafe.StringData(item.key) != unsafe.StringData(k) {
			t.Fatalf("key %q: index entry %p, tree item %+v", k, entry, item)
		}
	}
	if err := added.Apply(3, changeChunk(t, typs, changes...)); err != nil {
		t.Fatal(err)
	}
	compare(2, 3)
	loaded.Compact(2)
	added.Compact(3)
	compare(2, 3)
}

// splitChunk cuts c into chunks of random sizes.
func splitChunk(c *coldata.Chunk, rng *rand.Rand) []*coldata.Chunk {
	return cutChunk(c, func(int) int { return 1 + rng.IntN(2000) })
}

// pageChunks cuts c into chunks of a version page's rows, but for one
// chunk of a random size (not the first), which leaves the pages after it
// unaligned.
func pageChunks(c *coldata.Chunk, rng *rand.Rand) []*coldata.Chunk {
	odd := 1 + rng.IntN(c.Len/versionPageRows-1)
	return cutChunk(c, func(k int) int {
		if k == odd {
			return 1 + rng.IntN(versionPageRows-1)
		}
		return versionPageRows
	})
}

// cutChunk cuts c into copies of its consecutive rows, size(k) rows in
// the k-th chunk (the last one cut short).
func cutChunk(c *coldata.Chunk, size func(k int) int) []*coldata.Chunk {
	var out []*coldata.Chunk
	for lo := 0; lo < c.Len; {
		hi := min(lo+size(len(out)), c.Len)
		out = append(out, c.Slice(lo, hi).Clone())
		lo = hi
	}
	return out
}

// Loading two rows of one key fails as adding them does, and the
// arrangement keeps failing: the key given again last, or right after
// itself in rows otherwise in key order (which a load does not sort).
func TestArrangementLoadDuplicateKey(t *testing.T) {
	typs := []*types.T{types.Int8, types.Int8}
	for _, again := range []int{-1, 8} {
		var lines []string
		for i := range presizedIndexRows + 10 {
			lines = append(lines, fmt.Sprintf("+1 %d %d", i, i))
			if i == again-1 {
				lines = append(lines, fmt.Sprintf("+1 %d 0", i))
			}
		}
		if again < 0 {
			lines = append(lines, "+1 7 8")
		}
		a := NewArrangement(typs, []int{0})
		err := a.Apply(1, changeChunk(t, typs, lines...))
		if se, ok := sqlerr.As(err); !ok || se.Code != sqlerr.UniqueViolation {
			t.Fatalf("key given again after %d: Apply: %v, want a unique violation", again, err)
		}
		if a.Apply(2) == nil {
			t.Fatal("Apply after a failed load succeeded")
		}
	}
}

// Rows in key order, in chunks of a page, even after changes left the
// positions they came from out of key order, are loaded without a sort
// (ascending); the arrangement must read as the original does, and take
// the same changes after. Keys out of order, or one given twice, are not
// ascending.
func TestArrangementLoadInKeyOrder(t *testing.T) {
	typs := []*types.T{types.Text, types.Int8, types.Int8}
	key := []int{0, 1}
	rng := rand.New(rand.NewPCG(7, 0))
	n := 3*presizedIndexRows + 100
	var lines []string
	for _, i := range rng.Perm(n) {
		lines = append(lines, fmt.Sprintf("+1 k%d %d %d", i%1000, i/1000, i))
	}
	a := NewArrangement(typs, key)
	if err := a.Apply(1, changeChunk(t, typs, lines...)); err != nil {
		t.Fatal(err)
	}
	var changes []string
	for i := 0; i < n; i += 7 {
		changes = append(changes, fmt.Sprintf("-1 k%d %d %d", i%1000, i/1000, i), fmt.Sprintf("+1 k%d %d %d", i%1000, i/1000, -i))
	}
	if err := a.Apply(2, changeChunk(t, typs, changes...)); err != nil {
		t.Fatal(err)
	}
	var rows []*coldata.Chunk
	next := a.Snapshot(2).ScanRange(KeyRange{})
	for c := next(); c != nil; c = next() {
		c.Diffs = make([]int64, c.Len)
		for i := range c.Diffs {
			c.Diffs[i] = 1
		}
		rows = append(rows, c)
	}
	var prev string
	var items []orderItem[int]
	for ci, c := range rows {
		if ci < len(rows)-1 && !pageSized(c) {
			t.Fatalf("chunk %d of %d rows, not a page", ci, c.Len)
		}
		for i := range c.Len {
			k := string(RowKey(nil, c, key, i))
			if ci+i > 0 && k <= prev {
				t.Fatalf("row %d of chunk %d: key %q after %q", i, ci, k, prev)
			}
			prev = k
			items = append(items, orderItem[int]{key: k})
		}
	}
	for _, parts := range []int{1, 2, 5} {
		if !ascending(items, parts) {
			t.Fatalf("keys in order not ascending (%d parts)", parts)
		}
		for _, at := range []int{1, len(items) / 2, len(items) - 1} {
			for _, same := range []bool{false, true} {
				xs := slices.Clone(items)
				if same {
					xs[at] = xs[at-1]
				} else {
					xs[at-1], xs[at] = xs[at], xs[at-1]
				}
				if ascending(xs, parts) {
					t.Fatalf("keys %d and %d swapped or equal (%t) ascending (%d parts)", at-1, at, same, parts)
				}
			}
		}
	}
	b := NewArrangement(typs, key)
	if err := b.Apply(1, rows...); err != nil {
		t.Fatal(err)
	}
	compare := func(ae, be uint64) {
		t.Helper()
		as, bs := a.Snapshot(ae), b.Snapshot(be)
		if got, want := scanRangeText(bs, typs, KeyRange{}), scanRangeText(as, typs, KeyRange{}); !slices.Equal(got, want) || len(want) != n {
			t.Fatalf("range scan: %d rows, want %d", len(got), len(want))
		}
		for i := 0; i < n; i += 13 {
			k := []types.Datum{fmt.Sprintf("k%d", i%1000), int64(i / 1000)}
			ar, aok := as.Lookup(k)
			br, bok := bs.Lookup(k)
			if aok != bok || fmt.Sprint(ar) != fmt.Sprint(br) {
				t.Fatalf("lookup %v: %v %v, want %v %v", k, br, bok, ar, aok)
			}
		}
	}
	compare(2, 1)
	changes = changes[:0]
	for i := 3; i < n; i += 5 {
		if i%7 == 0 {
			continue // changed before
		}
		changes = append(changes, fmt.Sprintf("-1 k%d %d %d", i%1000, i/1000, i), fmt.Sprintf("+1 k%d %d %d", i%1000, i/1000, 2*i))
	}
	for _, arr := range []*Arrangement{a, b} {
		if err := arr.Apply(3, changeChunk(t, typs, changes...)); err != nil {
			t.Fatal(err)
		}
	}
	compare(3, 3)
}

// BenchmarkArrangementLoad applies 1M keyed rows (a text and an int key)
// to an empty arrangement: in bulk (load), and a row at a time (change,
// as after a first epoch of one row).
func BenchmarkArrangementLoad(b *testing.B) {
	typs := []*types.T{types.Int8, types.Text, types.Int8, types.Int8}
	const n = 1 << 20
	rng := rand.New(rand.NewPCG(1, 0))
	var cs []*coldata.Chunk
	for _, lo := range rng.Perm(n / 1024) {
		c := NewChanges(typs, 1024)
		for i := lo * 1024; i < (lo+1)*1024; i++ {
			c.AppendRow([]types.Datum{int64(i), fmt.Sprintf("name-%d", i), int64(i % 97), int64(i)})
			c.Diffs = append(c.Diffs, 1)
		}
		cs = append(cs, c)
	}
	first := cs[0].Gather([]int{0})
	rest := append([]*coldata.Chunk{cs[0].Gather(func() []int {
		sel := make([]int, 1023)
		for i := range sel {
			sel[i] = i + 1
		}
		return sel
	}())}, cs[1:]...)
	b.Run("load", func(b *testing.B) {
		for range b.N {
			a := NewArrangement(typs, []int{0, 1})
			if err := a.Apply(1, cs...); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("change", func(b *testing.B) {
		for range b.N {
			a := NewArrangement(typs, []int{0, 1})
			if err := a.Apply(1, first); err != nil {
				b.Fatal(err)
			}
			if err := a.Apply(2, rest...); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestSortItems checks the load's sort against a comparison sort on keys
// that differ in their first 16 bytes, past them (runs of equal prefixes,
// some crossing the parts' bounds) and not at all, for several parts: the
// positions in key order, the prefixes position by position, and a key
// given twice found wherever it is.
func TestSortItems(t *testing.T) {
	seed := uint64(randtest.EnvInt(t, "SLUICE_LOAD_SEED", time.Now().UnixNano()))
	t.Logf("seed %d (SLUICE_LOAD_SEED replays it)", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	const n = 20000
	var items []orderItem[int]
	for i := range n {
		var k string
		switch i % 3 {
		case 0:
			k = fmt.Sprintf("%08x", rng.Uint32())
		case 1:
			// 16 bytes alike, then the part that orders them.
			k = fmt.Sprintf("same-prefix-0123%08x", rng.Uint32())
		default:
			k = string(binary.BigEndian.AppendUint64(nil, rng.Uint64()>>(8*rng.IntN(8))))
		}
		items = append(items, orderItem[int]{key: k, val: i})
	}
	slices.SortFunc(items, func(x, y orderItem[int]) int { return strings.Compare(x.key, y.key) })
	items = slices.CompactFunc(items, func(x, y orderItem[int]) bool { return x.key == y.key })
	want := slices.Clone(items)
	rng.Shuffle(len(items), func(i, j int) { items[i], items[j] = items[j], items[i] })
	for _, parts := range []int{1, 2, 3, 7} {
		order, prefixes, dup := sortItems(items, parts)
		if dup >= 0 {
			t.Fatalf("%d parts: item %d (%q) taken for a key given twice", parts, dup, items[dup].key)
		}
		for k, i := range order {
			if items[i].key != want[k].key {
				t.Fatalf("%d parts: key %d is %q, want %q", parts, k, items[i].key, want[k].key)
			}
		}
		for i, it := range items {
			if p := prefixesOf(it.key); p.hi != prefixes[0][i] || p.lo != prefixes[1][i] {
				t.Fatalf("%d parts: item %d's prefixes %x %x, want %x %x", parts, i, prefixes[0][i], prefixes[1][i], p.hi, p.lo)
			}
		}
		for _, at := range []int{0, len(items) / 2, len(items) - 1} {
			xs := slices.Clone(items)
			other := (at + 1 + rng.IntN(len(xs)-1)) % len(xs)
			xs[at].key = xs[other].key
			if _, _, dup := sortItems(xs, parts); dup != at && dup != other {
				t.Fatalf("%d parts: items %d and %d share a key, found %d", parts, at, other, dup)
			}
		}
	}
}
