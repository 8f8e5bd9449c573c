package dataflow

import (
	"bytes"
	"hash/maphash"
	"slices"
	"unsafe"

	"github.com/cockroachdb/apd/v3"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// A top-N spills as the join does (join_spill.go), a group at a time: a
// group evicted takes all its rows to the spill store under spilledGroup
// and its group key encoding, in one value (docs/format/spill.md), and a
// pushed chunk that touches it loads them all back first, rebuilding its
// order tree and its window as a restore does, so that Flush sees the
// whole group. Groups are evicted at the end of an epoch, coldest first
// by a clock. The evictions and loads change no row's multiplicity: a
// snapshot writes the spilled rows as rows (each group's value as a chunk
// of them, streamed from a snapshot of the store: spilledChunks), a delta
// only the rows that changed, and a restore reads them (loading back and
// evicting as it goes), so the checkpoint format is the one of a top-N
// that does not spill. The global top-N (no group columns) has one group and does not
// spill.
//
// Over a stream (append-only, with a limit) a spilled group whose window
// was full when evicted keeps, in memory, the start of its cut-off
// (topNCut): a row of the group that comes after it ranks past the window
// and would be forgotten at Flush, so it is dropped without loading the
// group back, as ranksPast drops it in a group held. Rows only arrive, so
// a group's cut-off only moves earlier: the one of its eviction stays
// safe. Over an input that retracts, every row of a spilled group loads
// it back: a row past the window must still be counted.

// topNSpillFloor is the fewest groups a spilling top-N keeps: a group may
// hold many rows, so its floor is lower than the aggregate's page.
const topNSpillFloor = 64

// topNSpill is what a top-N whose groups outgrow its budget share keeps
// of the groups it evicted: they are in the spill store, and a filter of
// their keys' hashes says which keys may be there.
type topNSpill struct {
	budget  *Budget
	space   SpillSpace
	spilled int // groups in the store
	rows    int // their rows
	// valueBytes is what the spilled groups' values take: a whole
	// snapshot writes them as they are (spilledChunks).
	valueBytes int
	filter     spillFilter
	seed       maphash.Seed
	// cuts holds the cut-offs of the spilled groups, by group key, that
	// have one (over a stream), and cutBytes what they cost: they count
	// against the share, as the filter does.
	cuts     map[string]topNCut
	cutBytes int64
	// clock lists the groups in memory (each at its slot), hand the next
	// one the clock looks at.
	clock []*topNGroup
	hand  int
	// rowCost and groupCost are the estimated bytes of a row and of a
	// group besides its rows, measured at the last eviction.
	rowCost, groupCost int64
	// peakRows and peakGroups are the most rows and groups held since
	// their maps were last built (see shrink).
	peakRows, peakGroups int
	// Scratch: the store keys a chunk's rows may load back, in buf (each
	// ending at its ends entry).
	buf  []byte
	ends []int
	keys [][]byte
	val  []byte
}

// topNCut is the first bytes of a spilled group's cut-off (topNOp.cutOf)
// after its group key, padded with zeros: a key whose bytes after the
// group key, cut or padded alike, come after them comes after the
// cut-off itself. 8 bytes hold a NULL marker and most of a number's key,
// or the start of a text's: a byte more a spilled group costs the share
// 1.5, taken from the groups it holds.
type topNCut [8]byte

// cutBytes is what the cut-off of a group of key length n costs: the
// key's bytes, and its map slot (the key's string header and the
// cut-off) at a mean load of about 2/3.
func cutBytes(n int) int64 { return int64(n+7)&^7 + 3*(16+int64(unsafe.Sizeof(topNCut{})))/2 }

// setCut keeps the cut-off of group g, about to be spilled, if it has
// one and the top-N is over a stream.
func (o *topNOp) setCut(g *topNGroup) {
	if !o.spec.AppendOnly || o.spec.Limit < 0 {
		return
	}
	_, hi := o.windowRanks()
	cut, ok := o.cutOf(g, hi)
	if !ok {
		return
	}
	s := o.spill
	if s.cuts == nil {
		s.cuts = map[string]topNCut{}
	}
	var c topNCut
	copy(c[:], cut[len(g.key):])
	s.cuts[g.key] = c
	s.cutBytes += cutBytes(len(g.key))
}

// dropCut forgets the cut-off of the group of key, loaded back.
func (s *topNSpill) dropCut(key []byte) {
	if _, ok := s.cuts[string(key)]; ok {
		delete(s.cuts, string(key))
		s.cutBytes -= cutBytes(len(key))
	}
}

// pastSpilledCut reports whether a row of order key k (its first prefix
// bytes the group key, its first tieLen the group and order columns),
// whose group is not held, comes after its spilled group's cut-off.
func (o *topNOp) pastSpilledCut(k []byte, prefix, tieLen int) bool {
	s := o.spill
	if s == nil || len(s.cuts) == 0 {
		return false
	}
	cut, ok := s.cuts[string(k[:prefix])]
	if !ok {
		return false
	}
	var c topNCut
	copy(c[:], o.pastKey(k, tieLen)[prefix:])
	return bytes.Compare(c[:], cut[:]) > 0
}

// canSpill reports whether the top-N's groups can spill: it has group
// columns. A group spills under its group key encoding whatever its
// types: its rows keep their values.
func (o *topNOp) canSpill() bool { return len(o.spec.Group) > 0 }

func (o *topNOp) dropSpill() {
	if s := o.spill; s != nil {
		_ = s.space.DeleteAll(nil)
		s.budget.leave()
		o.spill = nil
	}
}

// listGroup adds a group made or loaded back to the clock, as touched.
func (s *topNSpill) listGroup(g *topNGroup) {
	g.slot, g.recent = len(s.clock), true
	s.clock = append(s.clock, g)
}

// dropGroup removes group g from the operator's groups (and the clock).
func (o *topNOp) dropGroup(g *topNGroup) {
	delete(o.groups, g.key)
	s := o.spill
	if s == nil {
		return
	}
	last := s.clock[len(s.clock)-1]
	s.clock[g.slot], last.slot = last, g.slot
	s.clock[len(s.clock)-1] = nil
	s.clock = s.clock[:len(s.clock)-1]
}

// topNRowBytes is what a row costs besides its order key and values: its
// tree item and node entry, and its entry in rows (a key header, the row
// and count, about a word of the map's).
const topNRowBytes = int64(unsafe.Sizeof(orderItem[topNItem]{})+unsafe.Sizeof(orderEntry[topNItem]{})+unsafe.Sizeof(topNRow{})) + 24

// topNGroupBytes is what a group costs besides its key's bytes and its
// window's entries: the group, its entry in groups and its clock slot.
const topNGroupBytes = int64(unsafe.Sizeof(topNGroup{})) + 16 + 16 + 8

// datumBytes estimates what a row value costs: its interface value and
// what it points to.
func datumBytes(d types.Datum) int64 {
	switch d := d.(type) {
	case nil, bool:
		return 16
	case int64, float64:
		return 24
	case string:
		return 32 + int64(len(d)+7)&^7
	case *apd.Decimal:
		return 16 + int64(unsafe.Sizeof(apd.Decimal{}))
	}
	return 64
}

// measure estimates the bytes of a row and of a group from up to 256 of
// each held.
func (s *topNSpill) measure(o *topNOp) {
	var rows, rowBytes int64
	o.rows.Range(func(k string, r topNRow) bool {
		rowBytes += topNRowBytes + int64(len(k)+7)&^7
		for _, d := range r.Row {
			rowBytes += datumBytes(d)
		}
		rows++
		return rows < 256
	})
	var groups, groupBytes int64
	for _, g := range s.clock[:min(len(s.clock), 256)] {
		groupBytes += topNGroupBytes + int64(len(g.key)+7)&^7 + int64(len(g.window))*int64(unsafe.Sizeof(windowEntry{}))
		groups++
	}
	s.rowCost, s.groupCost = topNRowBytes, topNGroupBytes
	if rows > 0 {
		s.rowCost = rowBytes / rows
	}
	if groups > 0 {
		s.groupCost = groupBytes / groups
	}
}

// stateSize estimates the bytes of the groups and rows held, at the costs
// of the last eviction (measured now if none was).
func (o *topNOp) stateSize() int64 {
	s := o.spill
	if s.rowCost == 0 {
		s.measure(o)
	}
	return int64(o.rows.Len())*s.rowCost + int64(len(s.clock))*s.groupCost
}

// evict moves groups with all their rows to the spill store, coldest
// first, until the state's estimated size is at most an eighth under the
// instance's share of the budget (less the filter and the cut-offs),
// keeping at least topNSpillFloor groups. It runs between epochs (no
// group is in one), and during a restore, between its blocks of rows.
func (o *topNOp) evict() error {
	s := o.spill
	if len(s.clock) <= topNSpillFloor {
		return nil
	}
	s.peakRows, s.peakGroups = max(s.peakRows, o.rows.Len()), max(s.peakGroups, len(o.groups))
	s.measure(o)
	size := o.stateSize()
	target := s.budget.share() - int64(8*len(s.filter.bits)) - s.cutBytes
	if size <= target {
		return nil
	}
	excess := size - (target - target/8)
	held := int64(len(s.clock))
	// The filter is sized for the groups that many of the mean size make.
	err := s.filter.reserveIn(s.space, s.spilled, int(min(held, 2*excess*held/size+1)), func(k []byte) (uint64, error) {
		if len(k) == 0 {
			return 0, errSpill("empty top-N key")
		}
		return maphash.Bytes(s.seed, k[1:]), nil
	})
	if err != nil {
		return err
	}
	for steps := 2 * len(s.clock); excess > 0 && len(s.clock) > topNSpillFloor && steps > 0; steps-- {
		if s.hand >= len(s.clock) {
			s.hand = 0
		}
		g := s.clock[s.hand]
		if g.recent {
			g.recent = false
			s.hand++
			continue
		}
		// The clock's last group takes g's slot, at the hand.
		n, err := o.spillGroup(g)
		if err != nil {
			return err
		}
		excess -= s.groupCost + int64(n)*s.rowCost
		if err := commitBlock(s.space, s.spilled); err != nil {
			return err
		}
	}
	if err := s.space.Commit(); err != nil {
		return err
	}
	o.shrink()
	return nil
}

// shrink gives back the memory of what was evicted: a Go map keeps the
// room of the most entries it held (an epoch that touched many groups, a
// view's first), and the clock its capacity. When the rows or groups held
// are under a quarter of their peak, their map is built again.
func (o *topNOp) shrink() {
	s := o.spill
	if n := o.rows.Len(); n < s.peakRows/4 {
		rows := NewStore[topNRow](o.env, "topn")
		o.rows.Range(func(k string, r topNRow) bool {
			rows.Put(k, r)
			return true
		})
		o.rows, s.peakRows = rows, n
	}
	if n := len(o.groups); n < s.peakGroups/4 {
		// Not maps.Clone, which keeps the room.
		groups := make(map[string]*topNGroup, n)
		for _, g := range s.clock {
			groups[g.key] = g
		}
		o.groups, s.peakGroups = groups, n
		s.clock = slices.Clone(s.clock)
	}
}

// spillGroup writes group g's rows to the spill store, as a snapshot
// writes rows, keeps its cut-off (setCut), and drops the group and its
// rows from memory, returning how many rows it had. A group without rows
// (emptied by a restore's delta) only goes.
func (o *topNOp) spillGroup(g *topNGroup) (int, error) {
	s := o.spill
	if g.tree.items > g.tree.zeros {
		o.setCut(g)
	}
	rows := NewChanges(o.spec.Typs, 0)
	var counts []int64
	it, _ := g.tree.seek(0)
	for item := it.next(); item != nil; item = it.next() {
		if item.count == 0 {
			continue
		}
		rows.AppendRow(item.val.row)
		counts = append(counts, item.count)
		o.rows.Delete(item.key)
	}
	o.dropGroup(g)
	if len(counts) == 0 {
		return 0, nil
	}
	rows.Len = len(counts)
	w := NewSnapshotWriter(s.val[:0])
	if err := writeCountedRows(w, counts, rows); err != nil {
		return 0, err
	}
	s.val = w.Bytes()
	s.buf = append(append(s.buf[:0], spilledGroup), g.key...)
	if err := s.space.Set(s.buf, s.val); err != nil {
		return 0, err
	}
	s.filter.add(maphash.String(s.seed, g.key))
	s.spilled++
	s.rows += len(counts)
	s.valueBytes += len(s.val)
	return len(counts), nil
}

// unspill loads back the spilled groups of rows [lo, hi) of c, so that
// they find their groups whole: the keys the filter may hold and the
// groups held do not are looked up in one sorted pass. With past, a row
// past its spilled group's cut-off (pastSpilledCut) loads nothing: Push
// drops it.
func (o *topNOp) unspill(c *coldata.Chunk, lo, hi int, past bool) error {
	s := o.spill
	s.buf, s.ends = s.buf[:0], s.ends[:0]
	start := 0
	for i := lo; i < hi; i++ {
		s.buf = append(s.buf, spilledGroup)
		s.buf = RowKey(s.buf, c, o.spec.Group, i)
		k := s.buf[start+1:]
		// Rows of one group often come together: a key is looked up once
		// a run.
		switch {
		case len(s.ends) > 0 && bytes.Equal(k, s.buf[prevStart(s.ends)+1:start]),
			o.groups[string(k)] != nil,
			!s.filter.mayHold(maphash.Bytes(s.seed, k)),
			past && len(s.cuts) > 0 && o.pastSpilledRow(c, i):
			s.buf = s.buf[:start]
			continue
		}
		s.ends = append(s.ends, len(s.buf))
		start = len(s.buf)
	}
	if len(s.ends) == 0 {
		return nil
	}
	s.keys = sortedKeys(s.keys[:0], s.buf, s.ends)
	_, err := loadSpilled(s.space, s.keys, func(k, value []byte) error {
		return o.loadGroup(k[1:], value)
	})
	return err
}

// pastSpilledRow reports whether row i of c, whose group is not held,
// comes after its spilled group's cut-off.
func (o *topNOp) pastSpilledRow(c *coldata.Chunk, i int) bool {
	o.key = o.orderKey(o.key[:0], c, i)
	return o.pastSpilledCut(o.key, o.prefix, o.tieLen)
}

// prevStart returns where the last key noted in ends starts.
func prevStart(ends []int) int {
	if len(ends) < 2 {
		return 0
	}
	return ends[len(ends)-2]
}

// loadGroup puts back group key's rows that spillGroup wrote in value:
// its rows, its order tree, and its window, collected as Flush last left
// it (the group was not touched since).
func (o *topNOp) loadGroup(key, value []byte) error {
	s := o.spill
	r := NewSnapshotReader(value)
	counts, rows := readCountedRows(r, o.spec.Typs, "top-N spill", countsMultiplicities)
	if r.err != nil {
		return errSpill("top-N group of %d bytes: %v", len(value), r.err)
	}
	if o.groups[string(key)] != nil {
		return sqlerr.Bug("spilled top-N group %x is in memory too", key)
	}
	s.dropCut(key)
	g := o.newGroup(key)
	items := make([]*orderItem[topNItem], len(counts))
	for i, n := range counts {
		o.key = o.orderKey(o.key[:0], rows, i)
		if i > 0 && string(o.key) <= items[i-1].key {
			return errSpill("top-N group %x: rows out of order", key)
		}
		row := rows.Row(i)
		for j, d := range row {
			row[j] = copyDatum(d)
		}
		items[i] = &orderItem[topNItem]{key: string(o.key), count: n, val: topNItem{row: row, tieLen: o.tieLen}}
		o.rows.Put(items[i].key, topNRow{Row: row, Count: n})
	}
	g.tree = buildOrderTree(items)
	lo, hi := o.windowRanks()
	g.window = g.collect(lo, hi, o.spec.WithTies, o.spec.Dense)
	s.spilled--
	s.rows -= len(counts)
	s.valueBytes -= len(value)
	return nil
}

// spilledChunks returns the spilled groups' part of a whole snapshot,
// nil when none is spilled.
func (o *topNOp) spilledChunks() *spilledChunks {
	s := o.spill
	if s == nil || s.spilled == 0 {
		return nil
	}
	return &spilledChunks{space: s.space, n: s.spilled, rows: s.rows, size: s.valueBytes, what: "top-N group"}
}
