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

// countsAre says what the counts of rows read may be.
type countsAre uint8

const (
	countsMultiplicities countsAre = iota // 0 or more
	countsChanges                         // not 0
	countsAny                             // a join's: any
)

// readCountedRows reads what writeCountedRows wrote of rows of typs; what
// names the operator in errors, which r holds, are what the counts may
// be.
func readCountedRows(r *SnapshotReader, typs []*types.T, what string, are countsAre) ([]int64, *coldata.Chunk) {
	counts := r.Int64s()
	rows := &coldata.Chunk{Len: len(counts), Cols: make([]*coldata.Vec, len(typs))}
	for i, t := range typs {
		if rows.Cols[i] = r.Vec(t); r.err == nil && rows.Cols[i].Len() != len(counts) {
			r.fail("%s: %d values for %d rows", what, rows.Cols[i].Len(), len(counts))
		}
	}
	for _, n := range counts {
		if r.err == nil && (n < 0 && are == countsMultiplicities || n == 0 && are == countsChanges) {
			r.fail("%s: multiplicity %d", what, n)
		}
	}
	return counts, rows
}

// writeCountedChunks writes an operator's rows as chunks: uvarint
// chunks, then each as writeCountedRows writes it. The first holds counts
// and rows (the rows held, or a delta's changes); in a whole snapshot of
// a spilling operator each spilled group's store value follows as a chunk
// of its own, as it is (spilled may be nil: none). So the spilled rows
// are written without knowing them first (a column's NULL flags depend
// on every row of it), streamed from a spill store snapshot.
func writeCountedChunks(w *SnapshotWriter, counts []int64, rows *coldata.Chunk, spilled *spilledChunks) error {
	n := 1
	if spilled != nil {
		n += spilled.n
	}
	w.Uvarint(uint64(n))
	if err := writeCountedRows(w, counts, rows); err != nil {
		return err
	}
	if spilled == nil {
		return nil
	}
	return spilled.stream(w)
}

// readCountedChunks reads what writeCountedChunks wrote, handing the rows
// to each in blocks of at least block rows (chunks read joined; the last
// may be fewer), or a chunk at a time when block is 0: the rows of many
// small spilled groups are restored as those of one.
func readCountedChunks(r *SnapshotReader, typs []*types.T, what string, are countsAre, block int, each func(counts []int64, rows *coldata.Chunk) error) error {
	n := r.Len(0)
	var counts []int64
	var rows *coldata.Chunk
	for i := range n {
		cs, c := readCountedRows(r, typs, what, are)
		if r.err != nil {
			return r.err
		}
		if rows == nil {
			counts, rows = cs, c
		} else {
			counts = append(counts, cs...)
			rows.AppendChunk(c)
		}
		if rows.Len < block && i < n-1 {
			continue
		}
		if err := each(counts, rows); err != nil {
			return err
		}
		counts, rows = nil, nil
	}
	return r.err
}

// spilledChunks is the part of a whole snapshot a spilling operator's
// spilled groups take (writeCountedChunks): a chunk of each of the n
// spilledGroup values of space, of rows rows and size bytes in all, which
// the operator keeps count of as groups spill and load back. piece
// returns the chunk a value holds (nil: all of it). what names the groups
// in errors.
type spilledChunks struct {
	space         SpillSpace
	n, rows, size int
	what          string
	piece         func(value []byte) ([]byte, error)
}

// snapshotRecords returns the rows of held rows and spilled chunks (may
// be nil): what a snapshot's recordSize counts.
func snapshotRecords(held int, spilled *spilledChunks) int {
	if spilled != nil {
		held += spilled.rows
	}
	return held
}

// streamPieceBytes is about how much of a streamed part the writer holds
// before it writes it out.
const streamPieceBytes = 256 << 10

// stream writes the chunks through w.StreamLater: from a snapshot of the
// space taken now, by the file's writer when w defers, so that a state
// many times the memory limit is never held whole.
func (c *spilledChunks) stream(w *SnapshotWriter) error {
	if err := c.space.Commit(); err != nil {
		return err
	}
	view := c.space.Snapshot()
	// The writer's goroutine reads nothing of the operator: the fields
	// are copied.
	n, what, piece := c.n, c.what, c.piece
	return w.StreamLater(c.size, func(w *SnapshotWriter, flush func() error) error {
		seen, from := 0, w.Len()
		err := view.Scan([]byte{spilledGroup}, func(k, value []byte) error {
			if piece != nil {
				var err error
				if value, err = piece(value); err != nil {
					return errSpill("%s %x: %v", what, k, err)
				}
			}
			write(w, value)
			seen++
			if w.Len()-from < streamPieceBytes {
				return nil
			}
			if err := flush(); err != nil {
				return err
			}
			from = w.Len()
			return nil
		})
		if err == nil && seen != n {
			err = errSpill("%d %ss in the store, %d counted", seen, what, n)
		}
		return err
	}, view.Close)
}
