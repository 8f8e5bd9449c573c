package dataflow

import (
	"github.com/sluice-db/sluice/types"
)

// Snapshot implements Snapshotter: between epochs every row kept has a
// positive multiplicity and has been output, so the rows output and their
// multiplicities, as columns, are the whole state (keys are their RowKey).
// From the first snapshot on, the operator tracks the rows that change,
// for SnapshotDelta.
func (o *distinctOp) Snapshot(w *SnapshotWriter) error {
	rows := NewChanges(o.typs, o.counts.Len())
	ns := make([]int64, 0, o.counts.Len())
	o.counts.Range(func(_ string, r distinctRow) bool {
		rows.AppendRow(r.out)
		ns = append(ns, r.n)
		return true
	})
	o.size = recordSize{}
	o.changed = map[string][]types.Datum{}
	defer o.size.add(w, w.Len(), len(ns))
	return writeCountedRows(w, ns, rows)
}

// SnapshotDelta implements Snapshotter: the rows whose multiplicity
// changed since the last snapshot, with their multiplicity now (0: gone),
// as Snapshot writes rows.
func (o *distinctOp) SnapshotDelta(w *SnapshotWriter) error {
	rows := NewChanges(o.typs, len(o.changed))
	ns := make([]int64, 0, len(o.changed))
	for k, row := range o.changed {
		r, ok := o.counts.Get(k)
		if ok {
			row = r.out
		}
		rows.AppendRow(row)
		ns = append(ns, r.n)
	}
	clear(o.changed)
	defer o.size.add(w, w.Len(), len(ns))
	return writeCountedRows(w, ns, rows)
}

// SnapshotSize implements Snapshotter.
func (o *distinctOp) SnapshotSize() int { return o.size.estimate(o.counts.Len()) }

// Restore implements Snapshotter.
func (o *distinctOp) Restore(r *SnapshotReader) error {
	return o.RestoreDelta(r)
}

// RestoreDelta implements Snapshotter: a row's multiplicity becomes
// the one read. A base is read alike, into an empty state.
func (o *distinctOp) RestoreDelta(r *SnapshotReader) error {
	ns, rows := readCountedRows(r, o.typs, "distinct", countsMultiplicities)
	if r.err != nil {
		return r.err
	}
	for i, n := range ns {
		o.key = RowKey(o.key[:0], rows, nil, i)
		if n == 0 {
			o.counts.Delete(string(o.key))
		} else {
			o.counts.Put(string(o.key), distinctRow{n: n, out: rows.Row(i)})
		}
	}
	return nil
}
