package dataflow

import (
	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// bucketIndexMin is the number of slots from which a bucket finds rows
// through a map rather than by scanning its row keys.
const bucketIndexMin = 16

// bucketDeadMin is how many dead slots a bucket tolerates before compacting
// when they outnumber the live ones: below it, dead slots are cheaper kept
// for rows that come back than copied away.
const bucketDeadMin = 8

// joinBucket holds the distinct rows of one side that share a join key:
// row s of rows is described by slots[s]. A slot whose multiplicity drops to
// zero is dead until the row returns or the bucket is compacted.
type joinBucket struct {
	rows  *coldata.Chunk
	slots []joinSlot
	index map[string]int // row key to slot, for large buckets
	live  int            // slots with a nonzero multiplicity
}

type joinSlot struct {
	rowKey string // the row's non-key columns encoded, to find it again
	// mult is the row's multiplicity; it may go negative while an epoch's
	// changes arrive out of order.
	mult int64
	// matches counts the rows of the other side that match this one, with
	// their multiplicities (kept only for sides that need it).
	matches int64
}

func newJoinBucket(ts []*types.T) *joinBucket {
	return &joinBucket{rows: coldata.NewChunk(ts, 1)}
}

// find returns the slot of the row whose key is rowKey, or -1.
func (b *joinBucket) find(rowKey []byte) int {
	if b.index != nil {
		if s, ok := b.index[string(rowKey)]; ok {
			return s
		}
		return -1
	}
	for s := range b.slots {
		if b.slots[s].rowKey == string(rowKey) {
			return s
		}
	}
	return -1
}

// add appends row i of src as a dead slot and returns the slot.
func (b *joinBucket) add(src *coldata.Chunk, i int, rowKey []byte) int {
	s := len(b.slots)
	for c, v := range b.rows.Cols {
		v.AppendFrom(src.Cols[c], i)
	}
	b.rows.Len++
	b.slots = append(b.slots, joinSlot{rowKey: string(rowKey)})
	switch {
	case b.index != nil:
		b.index[b.slots[s].rowKey] = s
	case len(b.slots) >= bucketIndexMin:
		b.buildIndex()
	}
	return s
}

// update adds diff to slot s's multiplicity and sets its match count.
func (b *joinBucket) update(s int, diff, matches int64) {
	slot := &b.slots[s]
	was := slot.mult
	slot.mult += diff
	slot.matches = matches
	switch {
	case was == 0 && slot.mult != 0:
		b.live++
	case was != 0 && slot.mult == 0:
		b.live--
	}
}

// compact drops the dead slots once they outnumber the live ones.
func (b *joinBucket) compact() {
	if dead := len(b.slots) - b.live; dead < bucketDeadMin || dead <= b.live {
		return
	}
	sel := make([]int, 0, b.live)
	for s := range b.slots {
		if b.slots[s].mult != 0 {
			sel = append(sel, s)
		}
	}
	b.rows = b.rows.Gather(sel)
	for k, s := range sel {
		b.slots[k] = b.slots[s]
	}
	clear(b.slots[len(sel):])
	b.slots = b.slots[:len(sel)]
	b.index = nil
	if len(b.slots) >= bucketIndexMin {
		b.buildIndex()
	}
}

func (b *joinBucket) buildIndex() {
	b.index = make(map[string]int, len(b.slots))
	for s := range b.slots {
		b.index[b.slots[s].rowKey] = s
	}
}
