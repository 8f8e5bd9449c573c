package dataflow

import (
	"github.com/sluice-db/sluice/coldata"
)

// Snapshot implements Snapshotter: the distinct rows and their
// multiplicities, as columns, then the spilled groups' rows, a chunk each
// as the spill store holds them (streamed from a snapshot of it). The
// groups' order trees and windows are built again from them: they are
// what the last Flush left. From the first snapshot on, the operator
// tracks the rows that change, for SnapshotDelta.
func (o *topNOp) Snapshot(w *SnapshotWriter) error {
	rows := NewChanges(o.spec.Typs, o.rows.Len())
	counts := make([]int64, 0, o.rows.Len())
	o.rows.Range(func(_ string, r topNRow) bool {
		rows.AppendRow(r.Row)
		counts = append(counts, r.Count)
		return true
	})
	o.size = recordSize{}
	o.changed = map[string]topNChange{}
	return o.writeRows(w, counts, rows, o.spilledChunks())
}

// SnapshotDelta implements Snapshotter: the rows whose multiplicity
// changed since the last snapshot, with their multiplicity now (0: gone),
// as Snapshot writes rows. Evicting a group and loading it back change
// none: its rows are written wherever they are.
func (o *topNOp) SnapshotDelta(w *SnapshotWriter) error {
	rows := NewChanges(o.spec.Typs, len(o.changed))
	counts := make([]int64, 0, len(o.changed))
	for _, r := range o.changed {
		rows.AppendRow(r.Row)
		counts = append(counts, r.Count)
	}
	clear(o.changed)
	return o.writeRows(w, counts, rows, nil)
}

func (o *topNOp) writeRows(w *SnapshotWriter, counts []int64, rows *coldata.Chunk, spilled *spilledChunks) error {
	defer o.size.add(w, w.Len(), snapshotRecords(len(counts), spilled))
	return writeCountedChunks(w, counts, rows, spilled)
}

// SnapshotSize implements Snapshotter.
func (o *topNOp) SnapshotSize() int { return o.size.estimate(o.rows.Len() + o.spilledRows()) }

// spilledRows returns how many rows the spilled groups hold.
func (o *topNOp) spilledRows() int {
	if o.spill == nil {
		return 0
	}
	return o.spill.rows
}

// Restore implements Snapshotter.
func (o *topNOp) Restore(r *SnapshotReader) error {
	return o.RestoreDelta(r)
}

// RestoreDelta implements Snapshotter: a row's multiplicity becomes
// the one read, in the store and in its group's order tree. A base is
// read alike, into an empty state. Under a budget the rows are read a
// block at a time: the block's spilled groups are loaded back first, and
// the groups are evicted down to the share after it, so that a restore
// never holds much more than the share.
func (o *topNOp) RestoreDelta(r *SnapshotReader) error {
	return readCountedChunks(r, o.spec.Typs, "top-N", countsMultiplicities, spillBlock, o.restoreBlock)
}

// restoreBlock sets the multiplicities of rows to counts, a block of
// spillBlock at a time under a budget.
func (o *topNOp) restoreBlock(counts []int64, rows *coldata.Chunk) error {
	if o.spill == nil {
		o.restoreRows(counts, rows, 0, len(counts))
		return nil
	}
	for lo := 0; lo < len(counts); lo += spillBlock {
		hi := min(lo+spillBlock, len(counts))
		if o.spill.spilled > 0 {
			if err := o.unspill(rows, lo, hi, false); err != nil {
				return err
			}
		}
		o.restoreRows(counts, rows, lo, hi)
		if err := o.evict(); err != nil {
			return err
		}
	}
	return nil
}

// restoreRows sets the multiplicities of rows [lo, hi) to counts.
func (o *topNOp) restoreRows(counts []int64, rows *coldata.Chunk, lo, hi int) {
	for i := lo; i < hi; i++ {
		n := counts[i]
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
}

// finishRestore builds each group's window once the base and its deltas
// are read, and drops what the deltas emptied; under a budget it then
// evicts down to the share.
func (o *topNOp) finishRestore() error {
	lo, hi := o.windowRanks()
	for _, g := range o.groups {
		if g.tree.items == g.tree.zeros {
			o.dropGroup(g)
			continue
		}
		if g.tree.zeros > 0 {
			g.compact()
		}
		g.window = g.collect(lo, hi, o.spec.WithTies, o.spec.Dense)
	}
	if o.spill != nil {
		return o.evict()
	}
	return nil
}
