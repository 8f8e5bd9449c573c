package dataflow

import (
	"hash/maphash"
	"slices"

	"github.com/cockroachdb/apd/v3"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// joinRowPageBits sets how many rows a page of join state holds. State
// grows a page at a time, so rows are never copied as it grows; the first
// page grows by appending, so that a join holding a few rows does not pay
// for a thousand.
const (
	joinRowPageBits = 10
	joinRowPage     = 1 << joinRowPageBits
)

// joinRow is the bookkeeping of one stored row of a join input.
type joinRow struct {
	// mult is the row's multiplicity; it may go negative while an epoch's
	// changes arrive out of order. A row whose multiplicity drops to zero
	// is freed: mult is zero only for free ids.
	mult int64
	// matches counts the rows of the other side that match this one, with
	// their multiplicities (kept only for sides that need it, and only
	// under a condition: see joinOp.keyTotals).
	matches int64
	// key is the row's join key in the join's key table; prev and next
	// link the rows of this side with that key, -1 at the ends.
	key, prev, next int32
	// hash is the row's identity hash, to find its index slot again.
	hash uint32
}

// joinRows holds the distinct rows of one join input on one worker, in
// pages of columns shared by all join keys: row id r is row
// r&(joinRowPage-1) of pages[r>>joinRowPageBits], with its bookkeeping at
// the same place in meta. A row costs its column values, 32 bytes of
// bookkeeping and 10 to 20 of index, and no Go object of its own. Freed
// ids are reused first.
//
// slots is an open-addressing table (linear probing) from a row's identity
// (what RowIdentity of all its columns encodes: rows with equal identities
// are one row) to its id: a slot holds the identity's 32-bit hash in its
// high half and id+1 in its low half (0: empty). A slot is placed by its
// hash bits, so the table grows and deletes without reading the rows, and
// a probe reads a row only when the full hash matches.
type joinRows struct {
	types []*types.T
	pages []*coldata.Chunk
	meta  [][]joinRow
	ids   idPool
	live  int // rows held (and indexed)
	slots []uint64
	seed  maphash.Seed
	// Scratch: identities of values hashed or compared by their encoding,
	// and the hashes of a pushed chunk's rows and of one of its columns.
	ident, otherIdent []byte
	wide, colHash     []uint64
}

func newJoinRows(ts []*types.T) *joinRows {
	return &joinRows{types: ts, slots: make([]uint64, 16), seed: maphash.MakeSeed()}
}

// row returns row r's bookkeeping.
func (t *joinRows) row(r int32) *joinRow {
	return &t.meta[r>>joinRowPageBits][r&(joinRowPage-1)]
}

// at returns the page holding row r and the row's place in it.
func (t *joinRows) at(r int32) (*coldata.Chunk, int) {
	return t.pages[r>>joinRowPageBits], int(r & (joinRowPage - 1))
}

// find returns the id of the row equal to row i of src, whose identity
// hashes to h, or -1 and the empty slot where it would go.
func (t *joinRows) find(src *coldata.Chunk, i int, h uint32) (int32, uint32) {
	mask := uint32(len(t.slots) - 1)
	p := h & mask
	for ; t.slots[p] != 0; p = (p + 1) & mask {
		s := t.slots[p]
		if uint32(s>>32) != h {
			continue
		}
		r := int32(uint32(s)) - 1
		if t.equal(r, src, i) {
			return r, p
		}
	}
	return -1, p
}

// add stores row i of src, whose identity hashes to h and which find put
// at slot p, with key and multiplicity zero, unlinked, and returns its id.
func (t *joinRows) add(src *coldata.Chunk, i int, h, p uint32, key int32) int32 {
	r := t.alloc()
	page, at := t.at(r)
	if at == page.Len {
		for c, v := range page.Cols {
			v.AppendFrom(src.Cols[c], i)
		}
		page.Len++
	} else {
		for c, v := range page.Cols {
			v.SetFrom(at, src.Cols[c], i)
		}
	}
	*t.row(r) = joinRow{key: key, prev: -1, next: -1, hash: h}
	t.index(r, h, p)
	return r
}

func (t *joinRows) alloc() int32 {
	r, fresh := t.ids.take()
	if !fresh {
		return r
	}
	p := int(r >> joinRowPageBits)
	if p == len(t.pages) {
		capacity := joinRowPage
		if p == 0 {
			capacity = 8
		}
		t.pages = append(t.pages, coldata.NewChunk(t.types, capacity))
		t.meta = append(t.meta, make([]joinRow, 0, capacity))
	}
	t.meta[p] = append(t.meta[p], joinRow{})
	return r
}

// remove frees row r, which its key's list no longer holds.
func (t *joinRows) remove(r int32) {
	t.unindex(r, t.row(r).hash)
	page, i := t.at(r)
	for _, v := range page.Cols {
		clearValue(v, i)
	}
	*t.row(r) = joinRow{}
	t.ids.release(r)
}

// clearValue lets go of what row i of v points to, for the GC.
func clearValue(v *coldata.Vec, i int) {
	switch v.Typ.Phys() {
	case types.PhysDecimal:
		v.Decs[i] = apd.Decimal{}
	case types.PhysBytes:
		v.Bytes[i] = ""
	case types.PhysDatum:
		v.Datums[i] = nil
	}
}

// index puts row r, whose identity hashes to h, in the slots, at the
// empty slot p unless they must grow.
func (t *joinRows) index(r int32, h, p uint32) {
	// Grow at a load of 13/16: probes stay short while the table costs
	// 10 to 20 bytes a row.
	if t.live++; t.live*16 > len(t.slots)*13 {
		t.rehash(2 * len(t.slots))
		mask := uint32(len(t.slots) - 1)
		for p = h & mask; t.slots[p] != 0; p = (p + 1) & mask {
		}
	}
	t.slots[p] = uint64(h)<<32 | uint64(r+1)
}

// rehash rebuilds the slots at size.
func (t *joinRows) rehash(size int) {
	old := t.slots
	t.slots = make([]uint64, size)
	mask := uint32(size - 1)
	for _, s := range old {
		if s == 0 {
			continue
		}
		p := uint32(s>>32) & mask
		for t.slots[p] != 0 {
			p = (p + 1) & mask
		}
		t.slots[p] = s
	}
}

// unindex removes row r, whose identity hashes to h, from the slots.
func (t *joinRows) unindex(r int32, h uint32) {
	t.live--
	mask := uint32(len(t.slots) - 1)
	p := h & mask
	for uint32(t.slots[p]) != uint32(r+1) {
		p = (p + 1) & mask
	}
	backshiftDelete(t.slots, int(p), func(s uint64) int { return int(uint32(s>>32) & mask) })
}

// gather returns column c of rows ids as a new vector, a column at a time:
// the type is switched on once, not per row.
func (t *joinRows) gather(c int, ids []int32) *coldata.Vec {
	return t.appendGather(coldata.NewVec(t.types[c], len(ids)), c, ids)
}

// appendGather appends column c of rows ids to v, as gather does, and
// returns it.
func (t *joinRows) appendGather(v *coldata.Vec, c int, ids []int32) *coldata.Vec {
	col := func(r int32) *coldata.Vec { return t.pages[r>>joinRowPageBits].Cols[c] }
	const mask = joinRowPage - 1
	m := v.Len()
	switch t.types[c].Phys() {
	case types.PhysInt:
		v.Ints = slices.Grow(v.Ints, len(ids))
		for _, r := range ids {
			v.Ints = append(v.Ints, col(r).Ints[r&mask])
		}
	case types.PhysFloat:
		v.Floats = slices.Grow(v.Floats, len(ids))
		for _, r := range ids {
			v.Floats = append(v.Floats, col(r).Floats[r&mask])
		}
	case types.PhysBytes:
		v.Bytes = slices.Grow(v.Bytes, len(ids))
		for _, r := range ids {
			v.Bytes = append(v.Bytes, col(r).Bytes[r&mask])
		}
	case types.PhysBool:
		v.Bools = slices.Grow(v.Bools, len(ids))
		for _, r := range ids {
			v.Bools = append(v.Bools, col(r).Bools[r&mask])
		}
	default:
		for _, r := range ids {
			v.AppendFrom(col(r), int(r&mask))
		}
		return v
	}
	if v.Nulls != nil {
		// NULL flags of the rows before, none of these yet.
		v.Nulls = append(v.Nulls, make([]bool, len(ids))...)
	}
	for k, r := range ids {
		if col(r).IsNull(int(r & mask)) {
			if v.Nulls == nil {
				v.Nulls = make([]bool, m+len(ids))
			}
			v.Nulls[m+k] = true
		}
	}
	return v
}
