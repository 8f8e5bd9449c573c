package dataflow

import (
	"encoding/binary"
	"slices"

	"github.com/sluice-db/sluice/coldata"
)

// Snapshot implements Snapshotter: each side's stored rows, as columns,
// with their multiplicities, then its spilled keys' rows, a chunk each as
// the spill store holds them (streamed from a snapshot of it), then the
// watermark bookkeeping. The rest (keys, key totals, match counts,
// identity slots, whose hashes are seeded per instance) follows from the
// rows, and Restore builds it by pushing them. From the first snapshot
// on, the join tracks the rows that change, for SnapshotDelta.
func (o *joinOp) Snapshot(w *SnapshotWriter) error {
	for side := range o.sides {
		s := &o.sides[side]
		rows := s.rows
		ids := make([]int32, 0, rows.live)
		mults := make([]int64, 0, rows.live)
		for p, meta := range rows.meta {
			for i, m := range meta {
				if m.mult != 0 {
					ids = append(ids, int32(p<<joinRowPageBits|i))
					mults = append(mults, m.mult)
				}
			}
		}
		s.size = recordSize{}
		if err := o.writeRows(w, side, ids, mults, nil, o.spilledChunks(side)); err != nil {
			return err
		}
		s.before.start()
		s.removed = nil
	}
	o.writeWatermarks(w)
	return nil
}

// SnapshotDelta implements Snapshotter: each side's changes since the
// last snapshot, as Snapshot writes rows but with the change of their
// multiplicity (the rows freed since, then those changed and held), and
// the watermark bookkeeping. RestoreDelta pushes them as Restore does.
func (o *joinOp) SnapshotDelta(w *SnapshotWriter) error {
	for side := range o.sides {
		s := &o.sides[side]
		ids := make([]int32, 0, s.before.len())
		diffs := make([]int64, 0, s.before.len())
		s.before.walk(func(r int32, before int64) {
			if d := s.rows.row(r).mult - before; d != 0 {
				ids = append(ids, r)
				diffs = append(diffs, d)
			}
		})
		if err := o.writeRows(w, side, ids, diffs, s.removed, nil); err != nil {
			return err
		}
		s.removed = nil
	}
	o.writeWatermarks(w)
	return nil
}

// writeRows writes the rows of freed (with their diffs, may be nil), then
// rows ids of side with mults: their multiplicities or diffs, as a chunk,
// and then in a whole snapshot the spilled keys' chunks (may be nil).
func (o *joinOp) writeRows(w *SnapshotWriter, side int, ids []int32, mults []int64, freed *coldata.Chunk, spilled *spilledChunks) error {
	s := &o.sides[side]
	rows := s.rows
	if freed != nil {
		mults = append(slices.Clip(freed.Diffs), mults...)
	}
	defer s.size.add(w, w.Len(), snapshotRecords(len(mults), spilled))
	c := &coldata.Chunk{Len: len(mults), Cols: make([]*coldata.Vec, len(rows.types))}
	for i := range rows.types {
		v := coldata.NewVec(rows.types[i], len(mults))
		if freed != nil {
			v.AppendVec(freed.Cols[i], freed.Len)
		}
		c.Cols[i] = rows.appendGather(v, i, ids)
	}
	return writeCountedChunks(w, mults, c, spilled)
}

// SnapshotSize implements Snapshotter: each side's rows held, at
// the size of the rows its snapshots wrote.
func (o *joinOp) SnapshotSize() int {
	size := 6 * binary.MaxVarintLen64
	for side, s := range o.sides {
		size += s.size.estimate(s.rows.live + o.spilledRows[side])
	}
	return size
}

func (o *joinOp) writeWatermarks(w *SnapshotWriter) {
	for _, ws := range [][2]int64{o.watermarks, o.purged, o.earliest} {
		w.Varint(ws[0])
		w.Varint(ws[1])
	}
}

// trackRemoval records that row r of side s, of multiplicity mult, is
// about to be freed: its change since the last snapshot goes to the
// removed rows.
func (o *joinOp) trackRemoval(s *joinSide, r int32, mult int64) {
	before, ok := s.before.take(r)
	if !ok {
		before = mult
	}
	o.trackChange(s, r, -before)
}

// trackChange adds row r of s with diff, its change since the last
// snapshot, to the rows freed (nothing when it did not change): the row
// leaves memory, freed or spilled.
func (o *joinOp) trackChange(s *joinSide, r int32, diff int64) {
	if diff == 0 {
		return // added and freed since the last snapshot, or unchanged
	}
	if s.removed == nil {
		s.removed = NewChanges(s.types, 0)
	}
	page, at := s.rows.at(r)
	for c, v := range s.removed.Cols {
		v.AppendFrom(page.Cols[c], at)
	}
	s.removed.Diffs = append(s.removed.Diffs, diff)
	s.removed.Len++
}

// finishRestore evicts a spilling join down to its share once the base
// and its deltas are read.
func (o *joinOp) finishRestore() error {
	if o.spill != nil {
		return o.evict()
	}
	return nil
}

// RestoreDelta implements Snapshotter: the changes are pushed onto
// the restored rows as Restore pushes rows.
func (o *joinOp) RestoreDelta(r *SnapshotReader) error { return o.Restore(r) }

// Restore implements Snapshotter. The rows are pushed, left side first,
// as changes whose output is dropped; pairs are not built (only counted
// where match counts need them), so restoring costs a walk of the pairs,
// not their output.
func (o *joinOp) Restore(r *SnapshotReader) error {
	emitPairs := o.emitPairs
	o.emitPairs = false
	defer func() { o.emitPairs = emitPairs }()
	drop := func(*coldata.Chunk) error { return nil }
	for side := range o.sides {
		err := readCountedChunks(r, o.sides[side].types, "join", countsAny, coldata.DefaultChunkSize, func(mults []int64, c *coldata.Chunk) error {
			c.Diffs = mults
			for lo := 0; lo < c.Len; lo += coldata.DefaultChunkSize {
				if err := o.Push(side, c.Slice(lo, min(lo+coldata.DefaultChunkSize, c.Len)), drop); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	for _, ws := range []*[2]int64{&o.watermarks, &o.purged, &o.earliest} {
		ws[0], ws[1] = r.Varint(), r.Varint()
	}
	return r.err
}
