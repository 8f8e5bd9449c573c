package storage

import (
	"github.com/cockroachdb/pebble/v2"

	"github.com/sluice-db/sluice/sqlerr"
)

// historyAppend is what one commit appended to one table's history log.
type historyAppend struct {
	t       *Table
	log     *historyLog
	created bool          // the log was created by this commit
	wrote   bool          // frames were written (not every pending row died again)
	r       historyRecord // the log's committed state once the commit is
	n       int           // the table's positions once the commit is
}

// historyTail is where a table's history log ends once the commits of a
// group before the one being prepared are: the next frames go there (see
// commitGroup).
type historyTail struct {
	r historyRecord
	n int
}

// historyWriteBytes is how many frame bytes a commit encodes before it
// writes them to the log: a segment of 64K rows takes ~10 MB, which as one
// buffer would be allocated (and faulted in) anew at every commit instead
// of reused.
const historyWriteBytes = 1 << 20

// maxKeptHistoryBuf bounds the frame buffer a DB keeps between commits: one
// made for a huge run is let go.
const maxKeptHistoryBuf = 4 * historyWriteBytes

// appendHistory appends the new rows of the append-only tables the txn
// writes to their history logs, after the frames of the commits before it
// in its group (tails), unsynced (commitGroup syncs each log once for the
// group), and adds to b the logs' new committed lengths; each txnTable's
// frames get the marks apply needs. It returns the appends even on error,
// for abandonHistory. Caller holds db.commitMu.
func (tx *Txn) appendHistory(b *pebble.Batch, skip func(*Table) bool, tails map[*Table]historyTail) ([]historyAppend, error) {
	db := tx.db
	var out []historyAppend
	for _, tt := range tx.order {
		t := tt.t
		if !t.info.AppendOnly || skip(t) || tt.ins.n == 0 {
			continue
		}
		if tt.insRowID != nil {
			return out, sqlerr.Bug("storage: append-only table %q keeps rowIDs of updated rows", t.info.Name)
		}
		a := historyAppend{t: t, log: t.hist}
		if a.log == nil {
			log, err := db.createHistoryLog(t.info.ID)
			if err != nil {
				return out, err
			}
			a.log, a.created = log, true
			t.mu.Lock()
			t.hist = log
			t.mu.Unlock()
		}
		a.r, a.n = a.log.committed, t.n
		if tail, ok := tails[t]; ok {
			a.r, a.n = tail.r, tail.n
		}
		out = append(out, a)
		w := frameWriter{log: a.log, off: a.r.bytes, buf: db.histBuf[:0]}
		pos := a.n
		tt.frames = tt.frames[:0]
		err := tt.liveRuns(func(r pendingRun) error {
			var err error
			tt.frames, err = w.appendRows(tt.frames, r.rows, pos)
			pos += r.rows.Len
			return err
		})
		if err == nil {
			err = w.flush()
		}
		if cap(w.buf) <= maxKeptHistoryBuf {
			db.histBuf = w.buf[:0]
		}
		if err != nil {
			return out, err
		}
		if pos == a.n {
			continue // every pending row was deleted again
		}
		a.wrote = true
		a.r.bytes = w.off
		a.r.rows += uint64(pos - a.n)
		a.n = pos
		out[len(out)-1] = a
		if err := a.log.recordIn(b, a.r); err != nil {
			return out, err
		}
	}
	return out, nil
}

// abandonHistory undoes the logs a failed commit created. Appends to older
// logs need no undoing: their committed length did not move, and the next
// commit overwrites what lies past it. Caller holds db.commitMu.
func (db *DB) abandonHistory(appends []historyAppend) {
	for _, a := range appends {
		if a.created {
			db.removeHistoryLog(a.log)
			a.t.mu.Lock()
			a.t.hist = nil
			a.t.mu.Unlock()
		}
	}
}

// committedHistory moves the logs' committed lengths once the batch
// recording them has committed. Caller holds db.commitMu and calls it for
// the commits of a group in their order.
func committedHistory(appends []historyAppend) {
	for _, a := range appends {
		a.log.committed = a.r
	}
}
