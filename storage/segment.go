package storage

import (
	"sort"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// segRows is the number of rows of a full segment. A variable, not a
// constant, so that tests can cross segment boundaries with a few rows
// (see testdata/segments).
var segRows = 1 << 16

// SegmentRows is how many rows a segment holds: a source that delivers
// batches of this size has them kept as they are (Txn.Adopt).
func SegmentRows() int { return segRows }

// adoptable reports whether a whole pending segment can become a table
// segment as it is (see Table.apply): it must hold at least half a segment,
// so that many small commits do not leave many small segments, and use at
// least four fifths of its capacity, which an adopted segment keeps for
// good (it is frozen). Other rows are copied into the table's last segment,
// which later commits fill up.
func adoptable(c *coldata.Chunk) bool {
	return c.Len >= max(segRows/2, 1) && lean(c)
}

// lean reports whether c uses at least four fifths of its capacity.
func lean(c *coldata.Chunk) bool { return chunkCap(c)-c.Len <= c.Len/4 }

// halfFull reports whether c uses at least half its capacity.
func halfFull(c *coldata.Chunk) bool { return chunkCap(c) <= 2*c.Len }

// adoptableGiven reports whether a chunk a caller gave up (Txn.Adopt) can
// become a table segment as it is: half a segment suffices, whatever
// spare capacity it has up to a segment's. The commit's change hands the
// same vectors to the views, and a pass-through view shares them
// (dataflow's sharedLeanPage), so a copy would hold the rows twice to save
// at most the spare half. A Kafka source's batches, sized by the one
// before, are mostly between half and four fifths full: each was copied
// twice (into a pending segment that grew by doubling, then into the
// table's last segment).
func adoptableGiven(c *coldata.Chunk) bool {
	return c.Len >= max(segRows/2, 1) && chunkCap(c) <= segRows
}

// segment holds the rows of a table at positions [start, start+rows.Len),
// column by column. Only the table's last segment grows, and only if it is
// not frozen; growing reallocates its vectors within segRows rows, so no
// move copies more than one segment. Every other segment never changes:
// scans share it without a copy.
type segment struct {
	start int
	rows  coldata.Chunk // Diffs is nil
	// ids[i] is the Pebble rowID of row i; nil while they are consecutive
	// (firstID, firstID+1, ...), as they are for every row but UPDATEd ones.
	firstID uint64
	ids     []uint64
	// frozen marks a segment adopted from a transaction: its vectors are
	// shared with the commit's Change and must never be appended to.
	frozen bool
	// evicted marks a segment whose rows are in the history log only:
	// rows has no columns, just Len (see evictHistory).
	evicted bool
	// hist is where an append-only table's segment starts in the history
	// log: the frame holding its first row (see markFrames).
	hist frameMark
}

func (s *segment) end() int { return s.start + s.rows.Len }

func (s *segment) rowID(off int) uint64 {
	if s.ids == nil {
		return s.firstID + uint64(off)
	}
	return s.ids[off]
}

// noteIDs records the rowIDs of the n rows just appended to s: first,
// first+1, ... when ids is nil, else ids.
func (s *segment) noteIDs(n int, first uint64, ids []uint64) {
	old := s.rows.Len - n
	if s.ids == nil {
		switch {
		case ids != nil:
		case old == 0:
			s.firstID = first
			return
		case s.firstID+uint64(old) == first:
			return
		}
		s.ids = make([]uint64, old, chunkCap(&s.rows))
		for i := range s.ids {
			s.ids[i] = s.firstID + uint64(i)
		}
	}
	if ids != nil {
		s.ids = append(s.ids, ids...)
		return
	}
	for i := range n {
		s.ids = append(s.ids, first+uint64(i))
	}
}

// chunkCap is the number of rows c's vectors hold without growing (any
// number for a chunk without columns).
func chunkCap(c *coldata.Chunk) int {
	if len(c.Cols) == 0 {
		return segRows
	}
	return c.Cols[0].Cap()
}

// reserveRows makes room in c for up to n more rows without passing segRows,
// doubling its capacity when it must grow, and returns how many rows fit.
func reserveRows(c *coldata.Chunk, n int) int {
	k := min(n, segRows-c.Len)
	need := c.Len + k
	if have := chunkCap(c); have < need {
		want := min(segRows, max(need, 2*have, 16))
		for _, v := range c.Cols {
			v.GrowExact(want)
		}
	}
	return k
}

// appendRowsTo appends rows [lo, lo+n) of src to c (which has room).
func appendRowsTo(c, src *coldata.Chunk, lo, n int) {
	if lo != 0 {
		src = src.Slice(lo, lo+n)
	}
	for j, v := range c.Cols {
		v.AppendVec(src.Cols[j], n)
	}
	c.Len += n
}

// findSeg returns the segment of segs (ordered, covering positions without
// gaps) that holds pos, and pos's offset in it.
func findSeg(segs []*segment, pos int) (*segment, int) {
	// Most segments are full: try the one pos would be in if all were.
	if i := pos / segRows; i < len(segs) {
		if s := segs[i]; s.start <= pos && pos < s.end() {
			return s, pos - s.start
		}
	}
	i := sort.Search(len(segs), func(j int) bool { return segs[j].start > pos }) - 1
	s := segs[i]
	return s, pos - s.start
}

// tail returns the segment the next committed row goes to: the last one if
// it may grow, else a new one.
func (t *Table) tail() *segment {
	if k := len(t.segs); k > 0 {
		if s := t.segs[k-1]; !s.frozen && s.rows.Len < segRows {
			return s
		}
	}
	// The first segment grows by doubling (most tables are small); the
	// next ones are allocated whole.
	s := &segment{start: t.n, rows: *coldata.NewChunk(t.info.Types, min(t.n, segRows))}
	t.segs = append(t.segs, s)
	return s
}

// appendRows appends live rows taking rowIDs firstID, firstID+1, ... (or
// ids) at the next positions, filling the last segment and then new ones.
// Caller holds t.mu.
func (t *Table) appendRows(rows *coldata.Chunk, firstID uint64, ids []uint64) {
	for lo := 0; lo < rows.Len; {
		s := t.tail()
		n := reserveRows(&s.rows, rows.Len-lo)
		appendRowsTo(&s.rows, rows, lo, n)
		var part []uint64
		if ids != nil {
			part = ids[lo : lo+n]
		}
		s.noteIDs(n, firstID+uint64(lo), part)
		t.n += n
		lo += n
	}
	t.growDead()
}

// adopt makes rows, a whole segment of pending rows with consecutive new
// rowIDs from firstID, the table's next segment without copying it. Caller
// holds t.mu.
func (t *Table) adopt(rows *coldata.Chunk, firstID uint64) {
	s := &segment{start: t.n, rows: coldata.Chunk{Cols: rows.Cols, Len: rows.Len}, firstID: firstID, frozen: true}
	t.segs = append(t.segs, s)
	t.n += rows.Len
	t.growDead()
}

// growDead extends the dead bitmap over every position. An append-only
// table has no dead rows: its bitmap stays empty rather than grow by a bit
// per row without end.
func (t *Table) growDead() {
	if t.info.AppendOnly {
		return
	}
	for len(t.dead)*64 < t.n {
		t.dead = append(t.dead, 0)
	}
}

// segOf returns the segment holding committed position pos and pos's
// offset in it. Caller holds t.mu (or db.commitMu).
func (t *Table) segOf(pos int) (*segment, int) { return findSeg(t.segs, pos) }

// rowID returns the Pebble rowID of committed position pos.
func (t *Table) rowID(pos int) uint64 {
	s, off := t.segOf(pos)
	return s.rowID(off)
}

// pendingRows is a transaction's inserted rows for one table, in segments
// of segRows rows (the last may hold fewer): pending row i is row
// i%segRows of segment i/segRows. Appending copies each row once and never
// moves more than one segment; commit adopts whole segments into the table.
type pendingRows struct {
	types []*types.T
	segs  []*coldata.Chunk
	// given[k] marks segs[k] as a chunk the caller gave up (adopt).
	given []bool
	n     int
}

func (p *pendingRows) at(i int) (*coldata.Chunk, int) { return p.segs[i/segRows], i % segRows }

// add appends rows [lo, hi) of src.
func (p *pendingRows) add(src *coldata.Chunk, lo, hi int) {
	for lo < hi {
		k := len(p.segs)
		if k == 0 || p.segs[k-1].Len == segRows {
			// The first segment grows by doubling (most transactions are
			// small); a transaction that filled one will fill more.
			p.segs = append(p.segs, coldata.NewChunk(p.types, min(k, 1)*segRows))
			p.given = append(p.given, false)
			k++
		}
		c := p.segs[k-1]
		n := reserveRows(c, hi-lo)
		appendRowsTo(c, src, lo, n)
		p.n += n
		lo += n
	}
}

// adopt appends src, which the caller gave up: after whole segments, a
// src the table may adopt (adoptableGiven), or any one of at most a
// segment's rows that fills at least half its vectors, becomes a pending
// segment as it is; anything else is copied as add copies it. Rows added
// after a short adopted segment fill it. The commit then keeps or copies
// it (Table.apply). A generator's batch (every 50 ms, a few thousand rows
// in vectors of just that size) was copied into a pending segment only to
// be copied again, into the table's last segment; so was a Kafka batch
// (vectors grown to the next power of two: mostly half to four fifths
// full) until a lean one was not asked for (1.2 % of Nexmark q0/q1's CPU
// at 4 M events). At least half full, because the views share the
// Change's vectors (dataflow's sharedLeanPage shares the columns it does
// not pack): a batch far smaller than its vectors is copied, so that they
// do not keep the spare capacity; up to as much again as the rows is what
// adoptableGiven accepts too.
func (p *pendingRows) adopt(src *coldata.Chunk) {
	if p.n%segRows == 0 && (adoptableGiven(src) || 0 < src.Len && src.Len <= segRows && halfFull(src)) {
		p.segs = append(p.segs, src)
		p.given = append(p.given, true)
		p.n += src.Len
		return
	}
	p.add(src, 0, src.Len)
}

// truncate drops the rows from the n-th on (RollbackTo). A scan holding
// views of the dropped rows keeps them: the cut segment is replaced by a
// view, so rows appended later reallocate instead of overwriting it.
func (p *pendingRows) truncate(n int) {
	k := (n + segRows - 1) / segRows
	clear(p.segs[k:])
	p.segs, p.given = p.segs[:k], p.given[:k]
	if k > 0 {
		if r := n - (k-1)*segRows; r < p.segs[k-1].Len {
			p.segs[k-1] = p.segs[k-1].Slice(0, r)
		}
	}
	p.n = n
}

// views returns views of the pending rows as they are now, which later
// appends do not change.
func (p *pendingRows) views() []*coldata.Chunk {
	out := make([]*coldata.Chunk, len(p.segs))
	for i, c := range p.segs {
		out[i] = c.Slice(0, c.Len)
	}
	return out
}
