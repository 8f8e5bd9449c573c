package dataflow

import (
	"github.com/sluice-db/sluice/coldata"
)

// Snapshot implements Snapshotter: each side's stored rows, as columns,
// with their multiplicities, then the watermark bookkeeping. The rest
// (keys, key totals, match counts, identity slots, whose hashes are
// seeded per instance) follows from the rows, and Restore builds it by
// pushing them.
func (o *joinOp) Snapshot(w *SnapshotWriter) error {
	for side := range o.sides {
		rows := o.sides[side].rows
		var ids []int32
		var mults []int64
		for p, meta := range rows.meta {
			for i, m := range meta {
				if m.mult != 0 {
					ids = append(ids, int32(p<<joinRowPageBits|i))
					mults = append(mults, m.mult)
				}
			}
		}
		w.Int64s(mults)
		for c := range rows.types {
			if err := w.Vec(rows.gather(c, ids)); err != nil {
				return err
			}
		}
	}
	for _, ws := range [][2]int64{o.watermarks, o.purged, o.earliest} {
		w.Varint(ws[0])
		w.Varint(ws[1])
	}
	return nil
}

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
		mults := r.Int64s()
		typs := o.sides[side].types
		c := &coldata.Chunk{Len: len(mults), Cols: make([]*coldata.Vec, len(typs)), Diffs: mults}
		for i, t := range typs {
			if c.Cols[i] = r.Vec(t); r.err == nil && c.Cols[i].Len() != len(mults) {
				r.fail("join: %d values for %d rows", c.Cols[i].Len(), len(mults))
			}
		}
		if r.err != nil {
			return r.err
		}
		for lo := 0; lo < c.Len; lo += coldata.DefaultChunkSize {
			if err := o.Push(side, c.Slice(lo, min(lo+coldata.DefaultChunkSize, c.Len)), drop); err != nil {
				return err
			}
		}
	}
	for _, ws := range []*[2]int64{&o.watermarks, &o.purged, &o.earliest} {
		ws[0], ws[1] = r.Varint(), r.Varint()
	}
	return r.err
}
