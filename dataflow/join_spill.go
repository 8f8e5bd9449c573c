package dataflow

import (
	"encoding/binary"
	"unsafe"

	"github.com/cockroachdb/apd/v3"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// A join spills as the aggregate does (aggregate_spill.go), a join key at
// a time: a key evicted takes all its rows of both sides to the spill
// store under spilledGroup, in one value (docs/format/spill.md), and a
// pushed chunk that touches it loads them all back first, so that the
// delta rule sees the whole state of every key it touches. The evictions
// and loads change no row's multiplicity: a snapshot writes the spilled
// rows as rows (each key's chunk of a side as it is, streamed from a
// snapshot of the store: spilledChunks), a delta only the changes (an
// evicted row's change since the last snapshot goes with the rows freed),
// and a restore pushes them (and evicts as pushes do), so the checkpoint
// format is the one of a join that does not spill.

// joinKeyWords is what a join key costs besides its key words: its heads
// (and totals), a slot and its id.
const joinKeyWords = 8

// joinSpillFloor is the fewest keys a spilling join keeps: a join's key
// may hold many rows, so its floor is lower than the aggregate's page.
const joinSpillFloor = 64

// canSpill reports whether the join's state can spill: it has join keys
// and no watermark frees its rows (the interval and closing joins free
// theirs already, by time). A key spills under its packed words or its
// key encoding (AppendKey), whatever its types: its rows keep their
// values, so a key whose equal values print differently (numeric 1.0 and
// 1.00) comes back with each row as it was.
func (o *joinOp) canSpill() bool {
	return len(o.j.LeftKeys) > 0 && o.j.Interval == nil && o.j.Closing == nil
}

func (o *joinOp) dropSpill() {
	if s := o.spill; s != nil {
		_ = s.space.DeleteAll(nil)
		s.budget.leave()
		o.spill = nil
	}
}

// rowCost estimates what a stored row of side costs: its bookkeeping, its
// identity slot and its values, strings at the mean length of up to a
// page of the rows held.
func (o *joinOp) rowCost(side int) int64 {
	rows := o.sides[side].rows
	cost := int64(unsafe.Sizeof(joinRow{})) + 16
	for c, t := range rows.types {
		switch t.Phys() {
		case types.PhysInt, types.PhysFloat:
			cost += 8
		case types.PhysBool:
			cost++
		case types.PhysDecimal:
			cost += int64(unsafe.Sizeof(apd.Decimal{}))
		case types.PhysInterval:
			cost += int64(unsafe.Sizeof(types.IntervalValue{}))
		case types.PhysBytes:
			cost += 16
			var n, size int64
			for p := 0; p < len(rows.pages) && n < joinRowPage; p++ {
				for i, m := range rows.meta[p] {
					if m.mult != 0 {
						n++
						size += int64(len(rows.pages[p].Cols[c].Bytes[i]))
					}
				}
			}
			if n > 0 {
				cost += size / n
			}
		default:
			// A datum is an interface value and what it points to.
			cost += 48
		}
	}
	return cost
}

// stateSize estimates the bytes of the keys and rows held, at the row
// costs of the last eviction (measured now if none was).
func (o *joinOp) stateSize() int64 {
	if o.rowCosts[0] == 0 {
		o.rowCosts = [2]int64{o.rowCost(0), o.rowCost(1)}
	}
	return int64(o.keys.live)*o.keyCost() + int64(o.sides[0].rows.live)*o.rowCosts[0] + int64(o.sides[1].rows.live)*o.rowCosts[1]
}

// keyCost is what a join key costs besides its rows.
func (o *joinOp) keyCost() int64 { return o.keys.keyBytes() + 8*joinKeyWords }

// evict moves join keys with all their rows to the spill store, coldest
// first, until the state's estimated size is at most an eighth under the
// instance's share of the budget (less the filter), keeping at least
// joinSpillFloor keys. It runs at the end of an epoch, and after a push
// that takes the state past 5/4 of the share: between pushes, when no
// key is in the middle of one.
func (o *joinOp) evict() error {
	t, s := o.keys, o.spill
	o.rowCosts = [2]int64{o.rowCost(0), o.rowCost(1)}
	rowCosts, keyCost := o.rowCosts, o.keyCost()
	size := o.stateSize()
	target := s.budget.share() - int64(8*len(s.filter.bits))
	if size <= target || t.live <= joinSpillFloor {
		return nil
	}
	excess := size - (target - target/8)
	// The filter is sized for the keys that many of the mean size make;
	// colder keys, often smaller, may pass it, which only adds false
	// positives until it is rebuilt.
	if err := s.filter.reserve(s, t, int(min(int64(t.live), 2*excess*int64(t.live)/size+1))); err != nil {
		return err
	}
	var ids [2][]int32
	for steps := 2 * int(t.ids.n); excess > 0 && t.live > joinSpillFloor && steps > 0; steps-- {
		if s.hand >= t.ids.n {
			s.hand = 0
		}
		g := s.hand
		s.hand++
		// Between pushes a key has rows, or its id is free.
		heads := t.state(g)
		if heads[0] == 0 && heads[1] == 0 {
			continue
		}
		if w := int(g >> 6); w < len(s.recent) && s.recent[w]&(1<<(g&63)) != 0 {
			s.recent[w] &^= 1 << (g & 63)
			continue
		}
		for side := range o.sides {
			ids[side] = ids[side][:0]
			for r := o.head(g, side); r >= 0; r = o.sides[side].rows.row(r).next {
				ids[side] = append(ids[side], r)
			}
		}
		if err := o.spillKey(g, ids); err != nil {
			return err
		}
		excess -= keyCost + int64(len(ids[0]))*rowCosts[0] + int64(len(ids[1]))*rowCosts[1]
		if err := commitBlock(s.space, s.spilled); err != nil {
			return err
		}
	}
	if err := s.space.Commit(); err != nil {
		return err
	}
	o.compact()
	return nil
}

// spillKey writes key g with its rows (ids, per side) to the spill store
// and frees them. The value is the sides' match counts (words), then each
// side's chunk of rows as a snapshot writes them (writeCountedRows: their
// multiplicities, then a column each), the first as a blob: a whole
// snapshot writes each side's chunk as it is (spilledChunks).
func (o *joinOp) spillKey(g int32, ids [2][]int32) error {
	t, s := o.keys, o.spill
	s.buf = s.appendSpillKey(s.buf[:0], t, spilledGroup, g)
	mults, matches := o.spillScratch(ids)
	first := NewSnapshotWriter(o.spillChunk[:0])
	if err := o.writeSpilledChunk(first, 0, ids[0], mults[0]); err != nil {
		return err
	}
	o.spillChunk = first.Bytes()
	w := NewSnapshotWriter(s.val[:0])
	w.Int64s(matches[0])
	w.Int64s(matches[1])
	w.Blob(o.spillChunk)
	second := w.Len()
	if err := o.writeSpilledChunk(w, 1, ids[1], mults[1]); err != nil {
		return err
	}
	s.val = w.Bytes()
	if err := s.space.Set(s.buf, s.val); err != nil {
		return err
	}
	o.spilledBytes[0] += len(o.spillChunk)
	o.spilledBytes[1] += len(s.val) - second
	s.filter.add(t.hashGroup(g))
	s.spilled++
	for side := range o.sides {
		js := &o.sides[side]
		o.spilledRows[side] += len(ids[side])
		for k, r := range ids[side] {
			// The row's change since the last snapshot is not written
			// with the spilled rows: it goes with the rows freed.
			if js.before.tracking {
				if before, ok := js.before.take(r); ok {
					o.trackChange(js, r, mults[side][k]-before)
				}
			}
			js.rows.remove(r)
		}
	}
	t.unindex(g)
	t.release(g)
	return nil
}

// writeSpilledChunk writes rows ids of side with their multiplicities
// mults as writeCountedRows does.
func (o *joinOp) writeSpilledChunk(w *SnapshotWriter, side int, ids []int32, mults []int64) error {
	rows := o.sides[side].rows
	c := &coldata.Chunk{Len: len(ids), Cols: make([]*coldata.Vec, len(rows.types))}
	for i := range rows.types {
		c.Cols[i] = rows.gather(i, ids)
	}
	return writeCountedRows(w, mults, c)
}

// splitSpilledKey splits the value of a spilled key (spillKey) into each
// side's match counts (words as written) and chunk of rows, without
// copying them: a base's writer takes the chunks of every spilled key.
func splitSpilledKey(value []byte) (matches, chunks [2][]byte, err error) {
	r := SnapshotReader{b: value}
	for side := range matches {
		matches[side] = r.bytes(8 * r.Len(0))
	}
	chunks[0], chunks[1] = r.Bytes(), r.Rest()
	return matches, chunks, r.err
}

// spillScratch returns the multiplicities and match counts of rows ids.
func (o *joinOp) spillScratch(ids [2][]int32) (mults, matches [2][]int64) {
	for side := range o.sides {
		rows := o.sides[side].rows
		for _, r := range ids[side] {
			m := rows.row(r)
			mults[side] = append(mults[side], m.mult)
			matches[side] = append(matches[side], m.matches)
		}
	}
	return mults, matches
}

// unspill loads back the spilled keys of the rows of d (pushed on side
// in), so that the push finds all their rows: the keys the filter may
// hold and the table does not are looked up in one sorted pass.
func (o *joinOp) unspill(in int, d *coldata.Chunk) error {
	t, s := o.keys, o.spill
	for i := range d.Len {
		if o.rowKey(in, d, i) {
			s.note(t, o.packed, 0, o.keyBuf)
		}
	}
	return s.loadBack(t, func(g int32, _, value []byte) error { return o.loadKey(g, value) })
}

// loadKey puts back the rows of key g that spillKey wrote in value.
func (o *joinOp) loadKey(g int32, value []byte) error {
	matches, chunks, err := splitSpilledKey(value)
	if err != nil {
		return errSpill("join key of %d bytes: %v", len(value), err)
	}
	for side := range o.sides {
		r := NewSnapshotReader(chunks[side])
		mults, c := readCountedRows(r, o.sides[side].types, "join spill", countsAny)
		if r.err == nil && len(r.b) != 0 {
			r.fail("%d bytes left over", len(r.b))
		}
		if r.err == nil && len(matches[side]) != 8*len(mults) {
			r.fail("%d match counts for %d rows", len(matches[side])/8, len(mults))
		}
		if r.err != nil {
			return errSpill("join key of %d bytes: %v", len(value), r.err)
		}
		rows := o.sides[side].rows
		o.hashes = rows.hashRows(o.hashes, c)
		var total int64
		for i := range c.Len {
			h := o.hashes[i]
			id, p := rows.find(c, i, h)
			if id >= 0 {
				return errSpill("join: a row of key %v is stored twice", o.keys.state(g))
			}
			id = rows.add(c, i, h, p, g)
			m := rows.row(id)
			m.mult, m.matches = mults[i], int64(binary.LittleEndian.Uint64(matches[side][8*i:]))
			o.linkRow(side, id)
			total += m.mult
		}
		if o.keyTotals {
			o.keys.state(g)[2+side] = total
		}
		o.spilledRows[side] -= c.Len
		o.spilledBytes[side] -= len(chunks[side])
	}
	return nil
}

// spilledChunks returns side's part of a whole snapshot that the spilled
// keys take, nil when none is spilled.
func (o *joinOp) spilledChunks(side int) *spilledChunks {
	s := o.spill
	if s == nil || s.spilled == 0 {
		return nil
	}
	return &spilledChunks{space: s.space, n: s.spilled, rows: o.spilledRows[side], size: o.spilledBytes[side], what: "join key",
		piece: func(value []byte) ([]byte, error) {
			_, chunks, err := splitSpilledKey(value)
			return chunks[side], err
		}}
}

// compact gives back the memory of what was evicted: the rows' and keys'
// pages grow for every key an epoch touches, and eviction only frees ids.
// When either holds more than twice its live rows or keys (and two
// pages), the state is built again from its live keys, each key's rows in
// their order.
func (o *joinOp) compact() {
	t := o.keys
	spare := len(t.words) > 2*(t.live>>groupPageBits)+2
	for _, js := range o.sides {
		spare = spare || len(js.rows.pages) > 2*(js.rows.live>>joinRowPageBits)+2
	}
	if !spare {
		return
	}
	keys := newGroupTable(t.nw, 0, t.nk)
	// The same seed keeps the encoded keys' hashes, which the filter of
	// spilled keys holds.
	keys.seed = t.seed
	recent := o.spill.recent
	o.spill.recent, o.spill.hand = nil, 0
	var sides [2]*joinRows
	var before [2]rowChanges
	for side, js := range o.sides {
		sides[side] = newJoinRows(js.types)
		// The same seed keeps the rows' identity hashes.
		sides[side].seed = js.rows.seed
		before[side].tracking = js.before.tracking
	}
	for g := range t.ids.n {
		heads := t.state(g)
		if heads[0] == 0 && heads[1] == 0 {
			continue
		}
		ng := keys.adoptKey(t, g)
		copy(keys.state(ng)[2:], heads[2:])
		if w := int(g >> 6); w < len(recent) && recent[w]&(1<<(g&63)) != 0 {
			o.spill.markRecent(ng)
		}
		for side, js := range o.sides {
			old, rows := js.rows, sides[side]
			last := int32(heads[side]) - 1
			for last >= 0 && old.row(last).next >= 0 {
				last = old.row(last).next
			}
			// Linked at the head from the last on: the list keeps its order.
			for r := last; r >= 0; r = old.row(r).prev {
				page, at := old.at(r)
				m := old.row(r)
				_, p := rows.find(page, at, m.hash)
				id := rows.add(page, at, m.hash, p, ng)
				nm := rows.row(id)
				nm.mult, nm.matches = m.mult, m.matches
				nh := keys.state(ng)
				if first := int32(nh[side]) - 1; first >= 0 {
					rows.row(first).prev = id
					nm.next = first
				}
				nh[side] = int64(id) + 1
				if b, ok := js.before.take(r); ok {
					before[side].note(id, b)
				}
			}
		}
	}
	o.keys = keys
	for side := range o.sides {
		o.sides[side].rows = sides[side]
		o.sides[side].before = before[side]
	}
}
