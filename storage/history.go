package storage

import (
	"encoding/binary"

	"github.com/cockroachdb/pebble/v2"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// A stream grows without end, so its history cannot stay in memory: an
// append-only table keeps only its newest segments there. Older sealed
// segments are evicted: their rows are in Pebble already (every commit is
// durable before it is applied), so eviction just forgets the vectors, and
// a scan reads an evicted segment back from Pebble when it reaches it, one
// segment at a time. Rows of an append-only table never change, so the
// copy read back is the one evicted.

// defaultResidentSegments is how many sealed segments of an append-only table
// stay in memory besides the growing one (see WithResidentSegments).
const defaultResidentSegments = 2

// WithResidentSegments sets how many sealed segments (up to 64Ki rows) of each
// append-only table stay in memory besides the growing one; older ones
// are read back from Pebble by scans. Negative means all stay.
func WithResidentSegments(n int) Option { return func(o *options) { o.residentSegs = n } }

// evictHistory evicts the sealed segments of an append-only table but the
// newest db.residentSegs. A segment is replaced, not changed, so scans that
// share the old one keep reading it. Caller holds t.mu for writing (or owns
// t, as load does).
func (t *Table) evictHistory() {
	keep := t.db.residentSegs
	if !t.info.AppendOnly || keep < 0 {
		return
	}
	// Every segment but the last is sealed: only the last grows.
	for ; t.evicted < len(t.segs)-1-keep; t.evicted++ {
		s := t.segs[t.evicted]
		t.segs[t.evicted] = &segment{start: s.start, rows: coldata.Chunk{Len: s.rows.Len}, firstID: s.firstID, evicted: true}
	}
}

// readSegment reads the rows of evicted segment s of t back from Pebble,
// decoded as columns of types ts. A run may straddle s's first row: the
// read starts at the last key at or before it.
func (t *Table) readSegment(ts []*types.T, s *segment) (*coldata.Chunk, error) {
	id := t.info.ID
	first, n := s.firstID, uint64(s.rows.Len)
	lo, _ := tableSpan(id)
	it, err := t.db.pe.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: rowKey(nil, id, first+n)})
	if err != nil {
		return nil, wrapPebble(err)
	}
	defer it.Close()
	out := coldata.NewChunk(ts, s.rows.Len)
	scratch := coldata.NewChunk(ts, runRows)
	next := first // the rowID of the next row out needs
	for ok := it.SeekLT(rowKey(nil, id, first+1)); ok && next < first+n; ok = it.Next() {
		k := it.Key()
		if len(k) != rowKeyLen {
			return nil, errCorrupt("table %d: bad row key %x", id, k)
		}
		rowID := binary.BigEndian.Uint64(k[5:])
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, wrapPebble(err)
		}
		scratch.Reset()
		k2, err := decodeInto(v, scratch.Cols)
		if err != nil {
			return nil, errCorrupt("table %d row %d: %v", id, rowID, err)
		}
		scratch.Len = k2
		end := rowID + uint64(k2)
		if end <= next {
			continue // a run ending before the segment
		}
		if rowID > next {
			break // a gap: rows missing
		}
		hi := min(end, first+n)
		appendRowsTo(out, scratch, int(next-rowID), int(hi-next))
		next = hi
	}
	if err := it.Error(); err != nil {
		return nil, wrapPebble(err)
	}
	if next != first+n {
		// Only DROP removes rows of an append-only table.
		return nil, errDropped(t)
	}
	return out, nil
}
