package dataflow

import (
	"github.com/sluice-db/sluice/coldata"
)

// Snapshot implements Snapshotter: the distinct rows and their
// multiplicities, as columns. The groups' order trees and windows are
// built again from them: they are what the last Flush left.
func (o *topNOp) Snapshot(w *SnapshotWriter) error {
	rows := NewChanges(o.spec.Typs, o.rows.Len())
	counts := make([]int64, 0, o.rows.Len())
	o.rows.Range(func(_ string, r topNRow) bool {
		rows.AppendRow(r.Row)
		counts = append(counts, r.Count)
		return true
	})
	w.Int64s(counts)
	for _, v := range rows.Cols {
		if err := w.Vec(v); err != nil {
			return err
		}
	}
	return nil
}

// Restore implements Snapshotter.
func (o *topNOp) Restore(r *SnapshotReader) error {
	counts := r.Int64s()
	rows := &coldata.Chunk{Len: len(counts), Cols: make([]*coldata.Vec, len(o.spec.Typs))}
	for i, t := range o.spec.Typs {
		if rows.Cols[i] = r.Vec(t); r.err == nil && rows.Cols[i].Len() != len(counts) {
			r.fail("top-N: %d values for %d rows", rows.Cols[i].Len(), len(counts))
		}
	}
	if r.err != nil {
		return r.err
	}
	for i, n := range counts {
		if n <= 0 {
			r.fail("top-N: multiplicity %d", n)
			return r.err
		}
		o.key = o.orderKey(o.key[:0], rows, i)
		row := rows.Row(i)
		o.rows.Put(string(o.key), topNRow{Row: row, Count: n})
		o.group(o.key[:o.prefix]).tree.add(o.key, n).val.row = row
	}
	lo, hi := o.windowRanks()
	for _, g := range o.groups {
		g.window = g.collect(lo, hi)
	}
	return nil
}
