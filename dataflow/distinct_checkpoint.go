package dataflow

import (
	"github.com/sluice-db/sluice/coldata"
)

// Snapshot implements Snapshotter: between epochs every row kept has a
// positive multiplicity and has been output, so the rows output and their
// multiplicities, as columns, are the whole state (keys are their RowKey).
func (o *distinctOp) Snapshot(w *SnapshotWriter) error {
	rows := NewChanges(o.typs, o.counts.Len())
	ns := make([]int64, 0, o.counts.Len())
	o.counts.Range(func(_ string, r distinctRow) bool {
		rows.AppendRow(r.out)
		ns = append(ns, r.n)
		return true
	})
	w.Int64s(ns)
	for _, v := range rows.Cols {
		if err := w.Vec(v); err != nil {
			return err
		}
	}
	return nil
}

// Restore implements Snapshotter.
func (o *distinctOp) Restore(r *SnapshotReader) error {
	ns := r.Int64s()
	rows := &coldata.Chunk{Len: len(ns), Cols: make([]*coldata.Vec, len(o.typs))}
	for i, t := range o.typs {
		if rows.Cols[i] = r.Vec(t); r.err == nil && rows.Cols[i].Len() != len(ns) {
			r.fail("distinct: %d values for %d rows", rows.Cols[i].Len(), len(ns))
		}
	}
	if r.err != nil {
		return r.err
	}
	for i, n := range ns {
		if n <= 0 {
			r.fail("distinct: multiplicity %d", n)
			return r.err
		}
		o.key = RowKey(o.key[:0], rows, nil, i)
		o.counts.Put(string(o.key), distinctRow{n: n, out: rows.Row(i)})
	}
	return nil
}
