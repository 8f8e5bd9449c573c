package dataflow

import (
	"github.com/sluice-db/sluice/coldata"
)

// Snapshot implements Snapshotter: the distinct rows and their
// multiplicities, as columns. The groups' order trees and windows are
// built again from them: they are what the last Flush left. From the
// first snapshot on, the operator tracks the rows that change, for
// SnapshotDelta.
func (o *topNOp) Snapshot(w *SnapshotWriter) error {
	rows := NewChanges(o.spec.Typs, o.rows.Len())
	counts := make([]int64, 0, o.rows.Len())
	o.rows.Range(func(_ string, r topNRow) bool {
		rows.AppendRow(r.Row)
		counts = append(counts, r.Count)
		return true
	})
	o.size = recordSize{}
	o.changed = map[string]topNRow{}
	return o.writeRows(w, counts, rows)
}

// SnapshotDelta implements Snapshotter: the rows whose multiplicity
// changed since the last snapshot, with their multiplicity now (0: gone),
// as Snapshot writes rows.
func (o *topNOp) SnapshotDelta(w *SnapshotWriter) error {
	rows := NewChanges(o.spec.Typs, len(o.changed))
	counts := make([]int64, 0, len(o.changed))
	for _, r := range o.changed {
		rows.AppendRow(r.Row)
		counts = append(counts, r.Count)
	}
	clear(o.changed)
	return o.writeRows(w, counts, rows)
}

func (o *topNOp) writeRows(w *SnapshotWriter, counts []int64, rows *coldata.Chunk) error {
	defer o.size.add(w, w.Len(), len(counts))
	return writeCountedRows(w, counts, rows)
}

// SnapshotSize implements Snapshotter.
func (o *topNOp) SnapshotSize() int { return o.size.estimate(o.rows.Len()) }

// Restore implements Snapshotter.
func (o *topNOp) Restore(r *SnapshotReader) error {
	return o.RestoreDelta(r)
}

// RestoreDelta implements Snapshotter: a row's multiplicity becomes
// the one read, in the store and in its group's order tree. A base is
// read alike, into an empty state.
func (o *topNOp) RestoreDelta(r *SnapshotReader) error {
	counts, rows := readCountedRows(r, o.spec.Typs, "top-N")
	if r.err != nil {
		return r.err
	}
	for i, n := range counts {
		o.key = o.orderKey(o.key[:0], rows, i)
		prev, _ := o.rows.Get(string(o.key))
		if n == prev.Count {
			continue
		}
		it := o.group(o.key[:o.prefix]).tree.add(o.key, n-prev.Count)
		if n == 0 {
			o.rows.Delete(string(o.key))
			continue
		}
		row := rows.Row(i)
		o.rows.Put(string(o.key), topNRow{Row: row, Count: n})
		it.val.row, it.val.tieLen = row, o.tieLen
	}
	return nil
}

// finishRestore builds each group's window once the base and its deltas
// are read, and drops what the deltas emptied.
func (o *topNOp) finishRestore() error {
	lo, hi := o.windowRanks()
	for k, g := range o.groups {
		if g.tree.items == g.tree.zeros {
			delete(o.groups, k)
			continue
		}
		if g.tree.zeros > 0 {
			g.compact()
		}
		g.window = g.collect(lo, hi, o.spec.WithTies, o.spec.Dense)
	}
	return nil
}
