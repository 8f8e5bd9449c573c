package storage

import (
	"github.com/sluice-db/sluice/coldata"
)

// blockSize is the scan granularity: a block of the table without dead rows
// is returned as a zero-copy view.
const blockSize = coldata.DefaultChunkSize

// TableScan iterates the rows a Txn sees in a table: the committed rows as of
// Scan (minus the txn's deletes at that time), then the txn's own inserts.
type TableScan struct {
	cols []*coldata.Vec // views of the committed columns, n rows
	n    int
	dead []uint64 // private copy: committed deletes + this txn's
	pos  int

	ins     *coldata.Chunk // view of the txn's pending rows
	insDead []bool
	insPos  int
}

// Scan starts a scan of t. The snapshot is taken now: later commits and later
// writes of this txn are not seen by it.
func (tx *Txn) Scan(t *Table) *TableScan {
	s := &TableScan{}
	t.mu.RLock()
	s.n = len(t.rowIDs)
	s.cols = make([]*coldata.Vec, len(t.cols))
	for c, v := range t.cols {
		s.cols[c] = v.Slice(0, s.n) // copies the slice headers; the data is append-only
	}
	s.dead = append([]uint64(nil), t.dead...)
	t.mu.RUnlock()

	if tt := tx.tables[t]; tt != nil {
		for _, p := range tt.delOrder {
			setDead(s.dead, p)
		}
		if tt.ins.Len > 0 {
			s.ins = tt.ins.Slice(0, tt.ins.Len)
			s.insDead = append([]bool(nil), tt.insDead...)
		}
	}
	return s
}

// Next returns the next chunk (at most 1024 rows) and the position of each of
// its rows, for Delete, Update and Get; ok is false at the end. Chunks may
// share memory with the table and must not be modified.
func (s *TableScan) Next() (chunk *coldata.Chunk, positions []int, ok bool) {
	var sel []int
	for s.pos < s.n {
		if s.pos%blockSize == 0 && blockClean(s.dead, s.pos) {
			if len(sel) > 0 {
				break // flush the gathered rows first
			}
			lo, hi := s.pos, min(s.pos+blockSize, s.n)
			s.pos = hi
			return s.slice(lo, hi), seq(lo, hi), true
		}
		if !isDead(s.dead, s.pos) {
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
	if s.ins != nil {
		for s.insPos < s.ins.Len {
			if !s.insDead[s.insPos] {
				sel = append(sel, s.insPos)
			}
			s.insPos++
			if len(sel) == blockSize {
				break
			}
		}
		if len(sel) > 0 {
			positions = make([]int, len(sel))
			for j, i := range sel {
				positions[j] = -(i + 1)
			}
			return s.ins.Gather(sel), positions, true
		}
	}
	return nil, nil, false
}

func (s *TableScan) slice(lo, hi int) *coldata.Chunk {
	c := &coldata.Chunk{Cols: make([]*coldata.Vec, len(s.cols)), Len: hi - lo}
	for j, v := range s.cols {
		c.Cols[j] = v.Slice(lo, hi)
	}
	return c
}

func (s *TableScan) gather(sel []int) *coldata.Chunk {
	c := &coldata.Chunk{Cols: make([]*coldata.Vec, len(s.cols)), Len: len(sel)}
	for j, v := range s.cols {
		c.Cols[j] = v.Gather(sel)
	}
	return c
}

func seq(lo, hi int) []int {
	p := make([]int, hi-lo)
	for i := range p {
		p[i] = lo + i
	}
	return p
}
