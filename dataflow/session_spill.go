package dataflow

import (
	"bytes"
	"container/heap"
	"unsafe"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
)

// A session window spills as a top-N does (topn_spill.go), a partition at
// a time: a partition evicted at the end of an epoch, coldest first by a
// clock, takes its rows with their multiplicities to the spill store
// under spilledGroup and its partition key, in one value written as a
// snapshot writes rows (docs/format/spill.md), and a pushed chunk that
// touches it loads it back whole first, cutting its sessions again from
// its rows as a restore does. A window without partition columns has one
// partition and does not spill.
//
// A spilled partition keeps in memory its key and the end of its last
// session (spilledPartition) and, when sessions close, an entry under that
// end in the index of session ends: once the watermark passes it every
// session of the partition is closed, and the partition is deleted from
// the store without being loaded back (closing emits nothing). The rows of
// its earlier sessions that close meanwhile stay in the store until then,
// or until it is loaded back, after which Flush frees them; a snapshot
// writes them too, which a restore frees again (finishRestore).
//
// Evicting a partition writes its rows' changes since the last snapshot
// into the removed rows, for the next delta, so that the spilled rows are
// as of the last snapshot; loading back and evicting change no
// multiplicity, and a base snapshot streams the spilled partitions'
// values from a snapshot of the store, a chunk of rows each
// (spilledChunks): the checkpoints are laid out as without a budget.

// sessionSpillFloor is the fewest partitions a spilling session window
// keeps: a partition may hold many rows.
const sessionSpillFloor = 64

// sessionSpill is what a session window whose partitions outgrow its
// budget share keeps of the partitions it evicted.
type sessionSpill struct {
	budget *Budget
	space  SpillSpace
	// spilled holds the partitions in the store by key, rows their rows,
	// valueBytes their values' bytes, and spilledBytes what their entries
	// here and in the index of session ends cost: they count against the
	// share.
	spilled      map[string]spilledPartition
	rows         int
	valueBytes   int
	spilledBytes int64
	// clock lists the partitions in memory (each at its slot), hand the
	// next one the clock looks at.
	clock []*sessionPartition
	hand  int
	// rowCost and partitionCost are the estimated bytes of a row and of a
	// partition besides its rows, measured at each eviction.
	rowCost, partitionCost int64
	// Scratch: the store keys a chunk's rows may load back, in buf (each
	// ending at its ends entry), and an encoded partition.
	buf    []byte
	ends   []int
	keys   [][]byte
	val    []byte
	sel    []int
	counts []int64
}

// spilledPartition is what a spilled partition keeps in memory: the end of
// its last session, how many rows it holds, and the bytes of its value
// (a whole snapshot writes it as it is: spilledChunks).
type spilledPartition struct {
	end   int64
	rows  int
	bytes int
}

// canSpill reports whether the session window's partitions can spill: it
// has partition columns. A partition spills under its partition key
// encoding whatever its types: its rows keep their values.
func (o *sessionOp) canSpill() bool { return len(o.spec.PartitionBy) > 0 }

func (o *sessionOp) dropSpill() {
	if s := o.spill; s != nil {
		_ = s.space.DeleteAll(nil)
		s.budget.leave()
		o.spill = nil
	}
}

// list adds partition p, of key k, to the clock if it is not in it, and
// marks it touched.
func (s *sessionSpill) list(k string, p *sessionPartition) {
	if p.slot < 0 {
		p.key, p.slot = k, len(s.clock)
		s.clock = append(s.clock, p)
	}
	p.recent = true
}

// unlist removes partition p from the clock, if it is in it: the clock's
// last partition takes its slot.
func (s *sessionSpill) unlist(p *sessionPartition) {
	if p.slot < 0 {
		return
	}
	last := s.clock[len(s.clock)-1]
	s.clock[p.slot], last.slot = last, p.slot
	s.clock[len(s.clock)-1] = nil
	s.clock = s.clock[:len(s.clock)-1]
	p.slot = -1
}

// spilledEntryBytes is what a spilled partition of key length n costs in
// memory: its map slot (the key's string header and the entry) at a mean
// load of about 7/8 and the key's bytes, and its entry in the index of
// session ends (which shares the key) when sessions close.
func (o *sessionOp) spilledEntryBytes(n int) int64 {
	b := int64(n+7)&^7 + 8*(16+int64(unsafe.Sizeof(spilledPartition{})))/7
	if o.spec.Closes {
		b += int64(unsafe.Sizeof(sessionEnd{}))
	}
	return b
}

// sessionRowBytes is what a row costs besides its key's bytes and its
// values: its tree item and node entry.
const sessionRowBytes = int64(unsafe.Sizeof(orderItem[sessionRow]{}) + unsafe.Sizeof(orderEntry[sessionRow]{}))

// measure estimates the bytes of a row (its item, key and values) and of a
// partition besides its rows (the partition, its chunk's vectors, key,
// map entry, clock slot and sessions) from up to 256 partitions held and
// 4096 of their rows.
func (o *sessionOp) measure() {
	s := o.spill
	var parts, partBytes, rows, rowBytes int64
	vecs := int64(len(o.spec.InTypes)) * int64(unsafe.Sizeof(coldata.Vec{}))
	for _, p := range s.clock[:min(len(s.clock), 256)] {
		partBytes += int64(unsafe.Sizeof(sessionPartition{})+unsafe.Sizeof(coldata.Chunk{})) + vecs +
			2*(int64(len(p.key)+7)&^7+16) + 8 + int64(cap(p.sessions))*int64(unsafe.Sizeof(session{}))
		parts++
		if rows >= 4096 {
			continue
		}
		it := p.tree.seekKey(nil)
		for item := it.next(); item != nil && rows < 4096; item = it.next() {
			rowBytes += sessionRowBytes + int64(len(item.key)+7)&^7 + valueBytes(p.rows, item.val.row)
			rows++
		}
	}
	s.rowCost, s.partitionCost = sessionRowBytes+8*int64(len(o.spec.InTypes)), int64(unsafe.Sizeof(sessionPartition{}))+vecs
	if rows > 0 {
		s.rowCost = rowBytes / rows
	}
	if parts > 0 {
		s.partitionCost = partBytes / parts
	}
}

// valueBytes estimates what row i of c's values take in its columns: a
// word a number, a string header and its bytes (rounded up to 8) a text, a
// datum's interface value and what it points to.
func valueBytes(c *coldata.Chunk, i int) int64 {
	var n int64
	for _, v := range c.Cols {
		switch {
		case v.Bytes != nil:
			n += 16 + int64(len(v.Bytes[i])+7)&^7
		case v.Datums != nil:
			n += datumBytes(v.Datums[i])
		case v.Decs != nil:
			n += int64(unsafe.Sizeof(v.Decs[0]))
		case v.Ivals != nil:
			n += int64(unsafe.Sizeof(v.Ivals[0]))
		default:
			n += 8
		}
		if v.Nulls != nil {
			n++
		}
	}
	return n
}

// evict moves partitions with all their rows to the spill store, coldest
// first, until the state's estimated size is at most an eighth under the
// instance's share of the budget (less what the spilled partitions keep
// in memory), keeping at least sessionSpillFloor partitions, then prunes
// the index of session ends. It runs at the end of an epoch (no partition
// is in one) and of a restore.
func (o *sessionOp) evict() error {
	s := o.spill
	defer o.pruneEnds()
	if len(s.clock) <= sessionSpillFloor {
		return nil
	}
	o.measure()
	items := 0
	for _, p := range s.clock {
		items += p.tree.items
	}
	size := int64(len(s.clock))*s.partitionCost + int64(items)*s.rowCost
	target := s.budget.share() - s.spilledBytes
	if size <= target {
		return nil
	}
	excess := size - (target - target/8)
	for steps := 2 * len(s.clock); excess > 0 && len(s.clock) > sessionSpillFloor && steps > 0; steps-- {
		if s.hand >= len(s.clock) {
			s.hand = 0
		}
		p := s.clock[s.hand]
		if p.recent {
			p.recent = false
			s.hand++
			continue
		}
		// The clock's last partition takes p's slot, at the hand.
		n := p.tree.items
		if err := o.spillPartition(p); err != nil {
			return err
		}
		excess -= s.partitionCost + int64(n)*s.rowCost
		if err := commitBlock(s.space, len(s.spilled)); err != nil {
			return err
		}
	}
	if err := s.space.Commit(); err != nil {
		return err
	}
	s.clock = shrunk(s.clock)
	return nil
}

// pruneEnds builds the index of session ends again from the partitions
// held and spilled when most of its entries are stale: each eviction and
// load back of a partition adds one, which would stay until the watermark
// passed it (a day of event time, with a gap of a day).
func (o *sessionOp) pruneEnds() {
	s := o.spill
	live := o.parts.Len() + len(s.spilled)
	if len(o.ends) <= 2*live+sessionSpillFloor {
		return
	}
	ends := make(sessionEnds, 0, live)
	o.parts.Range(func(k string, p *sessionPartition) bool {
		if p.indexed != Unconstrained {
			ends = append(ends, sessionEnd{end: p.indexed, key: k})
		}
		return true
	})
	for k, sp := range s.spilled {
		ends = append(ends, sessionEnd{end: sp.end, key: k})
	}
	heap.Init(&ends)
	o.ends = ends
}

// shrunk returns s, or a copy of it to size when it uses under a quarter
// of its capacity: a slice keeps the room of the most it held.
func shrunk[T any](s []T) []T {
	if len(s) >= cap(s)/4 {
		return s
	}
	return append(make([]T, 0, len(s)), s...)
}

// spillPartition writes partition p's rows with their multiplicities to
// the spill store, in the order of its tree, and drops it from memory.
// Its rows' changes since the last snapshot go to the removed rows first,
// for the next delta.
func (o *sessionOp) spillPartition(p *sessionPartition) error {
	s := o.spill
	sel, counts := s.sel[:0], s.counts[:0]
	it := p.tree.seekKey(nil)
	for item := it.next(); item != nil; item = it.next() {
		if o.tracking && item.count != item.val.snap {
			o.trackRemoval(p, item)
		}
		if item.count != 0 {
			sel = append(sel, item.val.row)
			counts = append(counts, item.count)
		}
	}
	s.sel, s.counts = sel, counts
	if len(counts) == 0 || len(p.sessions) == 0 {
		return sqlerr.Bug("session window: evicting a partition of %d rows and %d sessions", len(counts), len(p.sessions))
	}
	w := NewSnapshotWriter(s.val[:0])
	if err := writeCountedRows(w, counts, p.rows.Gather(sel)); err != nil {
		return err
	}
	s.val = w.Bytes()
	s.buf = append(append(s.buf[:0], spilledGroup), p.key...)
	if err := s.space.Set(s.buf, s.val); err != nil {
		return err
	}
	end := o.spec.Spec.SessionEnd(p.sessions[len(p.sessions)-1].last)
	s.spilled[p.key] = spilledPartition{end: end, rows: len(counts), bytes: len(s.val)}
	s.rows += len(counts)
	s.valueBytes += len(s.val)
	s.spilledBytes += o.spilledEntryBytes(len(p.key))
	if o.spec.Closes {
		heap.Push(&o.ends, sessionEnd{end: end, key: p.key})
	}
	o.parts.Delete(p.key)
	o.liveRows -= p.counted
	s.unlist(p)
	// A delta skips a partition without dirty rows: p may still be listed
	// in o.dirty, its changes now in the removed rows.
	clear(p.dirty)
	p.dirty, p.rows, p.tree, p.sessions = p.dirty[:0], nil, orderTree[sessionRow]{}, nil
	return nil
}

// dropClosed deletes the spilled partition of entry e from the store when
// e is its entry in the index of session ends (its last session's end),
// which the watermark has passed, and reports whether it did.
func (o *sessionOp) dropClosed(e sessionEnd) (bool, error) {
	s := o.spill
	sp, ok := s.spilled[e.key]
	if !ok || sp.end != e.end {
		return false, nil
	}
	s.buf = append(append(s.buf[:0], spilledGroup), e.key...)
	if err := s.space.Delete(s.buf); err != nil {
		return false, err
	}
	o.forget(e.key, sp)
	return true, nil
}

// forget drops spilled partition sp of key k from the spilled ones.
func (o *sessionOp) forget(k string, sp spilledPartition) {
	s := o.spill
	delete(s.spilled, k)
	s.rows -= sp.rows
	s.valueBytes -= sp.bytes
	s.spilledBytes -= o.spilledEntryBytes(len(k))
}

// unspill loads back the spilled partitions of rows sel of c before they
// are pushed, so that they find their partitions whole: their keys are
// looked up in one sorted pass.
func (o *sessionOp) unspill(c *coldata.Chunk, sel []int) error {
	s := o.spill
	s.buf, s.ends = s.buf[:0], s.ends[:0]
	start := 0
	for _, i := range sel {
		s.buf = append(s.buf, spilledGroup)
		s.buf = RowKey(s.buf, c, o.spec.PartitionBy, i)
		k := s.buf[start+1:]
		// Rows of one partition often come together: a key is looked up
		// once a run.
		if _, ok := s.spilled[string(k)]; !ok || len(s.ends) > 0 && bytes.Equal(k, s.buf[prevStart(s.ends)+1:start]) {
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
	found, err := loadSpilled(s.space, s.keys, func(k, value []byte) error {
		return o.loadPartition(string(k[1:]), value)
	})
	if err == nil && found != len(s.keys) {
		return errSpill("session window: %d of %d spilled partitions not in the store", len(s.keys)-found, len(s.keys))
	}
	return err
}

// loadPartition puts back partition k's rows that spillPartition wrote in
// value: its rows, its tree and its sessions, cut from the rows. With
// spec.Closes, the sessions the watermark closed since it was evicted end
// before any row pushed can reach them: the Flush that stores the
// partition indexes it by its first session's end, and frees them.
func (o *sessionOp) loadPartition(k string, value []byte) error {
	s := o.spill
	r := NewSnapshotReader(value)
	counts, rows := readCountedRows(r, o.spec.InTypes, "session window spill", countsMultiplicities)
	if r.err != nil {
		return errSpill("session window partition of %d bytes: %v", len(value), r.err)
	}
	if _, ok := o.parts.Get(k); ok {
		return sqlerr.Bug("spilled session window partition %x is in memory too", k)
	}
	o.forget(k, s.spilled[k])
	ts := rows.Cols[o.spec.Time.Idx]
	items := make([]*orderItem[sessionRow], len(counts))
	for i, n := range counts {
		if n <= 0 || rows.Cols[o.spec.Time.Idx].IsNull(i) {
			return errSpill("session window partition %x: a row of multiplicity %d or without a time", k, n)
		}
		o.key = RowIdentity(timeKey(o.key[:0], ts.Ints[i]), rows, nil, i)
		if i > 0 && string(o.key) <= items[i-1].key {
			return errSpill("session window partition %x: rows out of order", k)
		}
		items[i] = &orderItem[sessionRow]{key: string(o.key), count: n, val: sessionRow{ts: ts.Ints[i], row: i}}
		if o.tracking {
			items[i].val.snap = n
		}
	}
	p := &sessionPartition{rows: rows, tree: buildOrderTree(items), indexed: Unconstrained, slot: -1}
	if err := o.cut(p); err != nil {
		return err
	}
	o.parts.Put(k, p)
	return nil
}

// spilledChunks returns the spilled partitions' part of a whole
// snapshot, nil when none is spilled.
func (o *sessionOp) spilledChunks() *spilledChunks {
	s := o.spill
	if s == nil || len(s.spilled) == 0 {
		return nil
	}
	return &spilledChunks{space: s.space, n: len(s.spilled), rows: s.rows, size: s.valueBytes, what: "session window partition"}
}

// spilledRows returns how many rows the spilled partitions hold.
func (o *sessionOp) spilledRows() int {
	if o.spill == nil {
		return 0
	}
	return o.spill.rows
}
