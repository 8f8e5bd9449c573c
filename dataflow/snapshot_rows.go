package dataflow

import (
	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// recordSize is what the snapshots since the last whole one wrote of an
// operator's rows, so that SnapshotSize can price the rows it holds now.
type recordSize struct{ bytes, records int }

// add counts records that took the bytes of w written since at.
func (s *recordSize) add(w *SnapshotWriter, at, records int) {
	s.bytes += w.Len() - at
	s.records += records
}

// estimate is what live rows would take at the average size written so far.
func (s recordSize) estimate(live int) int {
	if s.records == 0 {
		return 0
	}
	return live * s.bytes / s.records
}

// writeCountedRows writes rows with their multiplicities (or, in a delta,
// their multiplicities now, 0 for a row gone): the counts as words, then a
// column per type. The rows are the caller's to give: a deferring w keeps
// their columns until it is finished.
func writeCountedRows(w *SnapshotWriter, counts []int64, rows *coldata.Chunk) error {
	w.Int64s(counts)
	for _, v := range rows.Cols {
		if err := w.VecLater(v); err != nil {
			return err
		}
	}
	return nil
}

// readCountedRows reads what writeCountedRows wrote of rows of typs; what
// names the operator in errors, which r holds. The counts are
// multiplicities (0 or more), or with changes set changes (not 0).
func readCountedRows(r *SnapshotReader, typs []*types.T, what string, changes bool) ([]int64, *coldata.Chunk) {
	counts := r.Int64s()
	rows := &coldata.Chunk{Len: len(counts), Cols: make([]*coldata.Vec, len(typs))}
	for i, t := range typs {
		if rows.Cols[i] = r.Vec(t); r.err == nil && rows.Cols[i].Len() != len(counts) {
			r.fail("%s: %d values for %d rows", what, rows.Cols[i].Len(), len(counts))
		}
	}
	for _, n := range counts {
		if r.err == nil && (n < 0 && !changes || n == 0 && changes) {
			r.fail("%s: multiplicity %d", what, n)
		}
	}
	return counts, rows
}
