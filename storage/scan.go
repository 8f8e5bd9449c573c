package storage

import (
	"sort"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// blockSize is the scan granularity: a block of a segment without dead rows
// is returned as a zero-copy view.
const blockSize = coldata.DefaultChunkSize

// TableScan iterates the rows a Txn sees in a table: the committed rows as of
// Scan (minus the txn's deletes at that time), then the txn's own inserts.
type TableScan struct {
	t     *Table
	types []*types.T
	segs  []*segment // the committed segments; the last one a view
	n     int
	dead  []uint64 // private copy: committed deletes + this txn's
	pos   int
	si    int // index in segs of the segment holding pos
	from  int // the first position returned (ScanFrom)
	// back is the evicted segment read back last (backOf its index).
	back   *coldata.Chunk
	backOf int
	err    error

	ins     []*coldata.Chunk // views of the txn's pending segments
	insN    int
	insDead []bool // nil: none dead
	insPos  int
}

// Scan starts a scan of t. The snapshot is taken now: later commits and later
// writes of this txn are not seen by it.
func (tx *Txn) Scan(t *Table) *TableScan {
	s := &TableScan{t: t, types: t.info.Types, backOf: -1}
	t.mu.RLock()
	s.n = t.n
	if k := len(t.segs); k > 0 {
		// Every segment but the last never changes: share them (eviction
		// replaces a segment in t.segs, so copy the slice). The last may
		// still grow: take a view of it as it is.
		s.segs = make([]*segment, k)
		copy(s.segs, t.segs)
		if last := t.segs[k-1]; !last.frozen && !last.evicted {
			s.segs[k-1] = &segment{start: last.start, rows: *last.rows.Slice(0, last.rows.Len)}
		}
	}
	s.dead = append([]uint64(nil), t.dead...)
	t.mu.RUnlock()

	if tt := tx.tables[t]; tt != nil {
		for _, p := range tt.delOrder {
			setDead(s.dead, p)
		}
		if tt.ins.n > 0 {
			s.ins, s.insN = tt.ins.views(), tt.ins.n
			if tt.insDead != nil {
				s.insDead = append([]bool(nil), tt.insDead...)
			}
		}
	}
	return s
}

// ScanFrom is Scan from committed position pos on (the end if pos is past
// it): a stream's history after the part a reader already has.
func (tx *Txn) ScanFrom(t *Table, pos int) *TableScan {
	s := tx.Scan(t)
	s.from = min(max(pos, 0), s.n)
	s.si = max(sort.Search(len(s.segs), func(j int) bool { return s.segs[j].start > s.from })-1, 0)
	// Start at the block of from: an evicted segment is read back in
	// whole blocks, never gathered.
	s.pos = s.from
	if s.si < len(s.segs) {
		seg := s.segs[s.si]
		s.pos -= (s.from - seg.start) % blockSize
	}
	return s
}

// Positions returns the count of committed positions the scan covers (a
// stream's history length at the scan's cut).
func (s *TableScan) Positions() int { return s.n }

// Next returns the next chunk (at most 1024 rows) and the position of each of
// its rows, for Delete, Update and Get; ok is false at the end, or when
// reading an evicted segment back failed (see Err). Chunks may share memory
// with the table and must not be modified.
func (s *TableScan) Next() (chunk *coldata.Chunk, positions []int, ok bool) {
	if s.err != nil {
		return nil, nil, false
	}
	var sel []int
	for s.pos < s.n {
		seg := s.segs[s.si]
		if s.pos >= seg.end() {
			s.si++
			continue
		}
		if off := s.pos - seg.start; off%blockSize == 0 {
			hi := min(s.pos+blockSize, seg.end())
			if rangeClean(s.dead, s.pos, hi) {
				if len(sel) > 0 {
					break // flush the gathered rows first
				}
				rows := s.rowsOf(s.si)
				if rows == nil {
					return nil, nil, false
				}
				lo := s.pos
				s.pos = hi
				if lo < s.from {
					off += s.from - lo
					lo = s.from
				}
				return rows.Slice(off, hi-seg.start), seq(lo, hi), true
			}
		}
		if !isDead(s.dead, s.pos) && s.pos >= s.from {
			if sel == nil {
				sel = make([]int, 0, blockSize)
			}
			sel = append(sel, s.pos)
		}
		s.pos++
		if len(sel) == blockSize {
			break
		}
	}
	if len(sel) > 0 {
		return s.gather(sel), sel, true
	}
	for s.insPos < s.insN {
		if s.insDead == nil || !s.insDead[s.insPos] {
			sel = append(sel, s.insPos)
		}
		s.insPos++
		if len(sel) == blockSize {
			break
		}
	}
	if len(sel) == 0 {
		return nil, nil, false
	}
	positions = make([]int, len(sel))
	for j, i := range sel {
		positions[j] = -(i + 1)
	}
	return gatherRows(s.types, sel, func(i int) (*coldata.Chunk, int) { return s.ins[i/segRows], i % segRows }), positions, true
}

// Err returns the error that ended the scan early, if any.
func (s *TableScan) Err() error { return s.err }

// rowsOf returns the rows of segment i, reading an evicted one back from
// the history log (nil, with s.err set, if that fails).
func (s *TableScan) rowsOf(i int) *coldata.Chunk {
	seg := s.segs[i]
	if !seg.evicted {
		return &seg.rows
	}
	if s.backOf != i {
		back, err := s.t.readSegment(s.types, seg)
		if err != nil {
			s.err = err
			return nil
		}
		s.back, s.backOf = back, i
	}
	return s.back
}

// gather returns the committed rows at positions sel (ascending). Only
// tables with deletes gather, and those are never evicted.
func (s *TableScan) gather(sel []int) *coldata.Chunk {
	return gatherRows(s.types, sel, func(p int) (*coldata.Chunk, int) {
		seg, off := findSeg(s.segs, p)
		return &seg.rows, off
	})
}

// gatherRows returns a new chunk of the rows at indexes sel (ascending),
// where at finds the chunk holding an index and its offset there.
func gatherRows(ts []*types.T, sel []int, at func(int) (*coldata.Chunk, int)) *coldata.Chunk {
	first, lo := at(sel[0])
	if last, _ := at(sel[len(sel)-1]); last == first {
		// One segment (the usual case): gather by offsets.
		offs := make([]int, len(sel))
		for j, i := range sel {
			offs[j] = i - sel[0] + lo
		}
		return first.Gather(offs)
	}
	out := coldata.NewChunk(ts, len(sel))
	for _, i := range sel {
		c, off := at(i)
		out.AppendFrom(c, off)
	}
	return out
}

func seq(lo, hi int) []int {
	p := make([]int, hi-lo)
	for i := range p {
		p[i] = lo + i
	}
	return p
}
