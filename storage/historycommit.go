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
	r       historyRecord // the log's committed state once the commit is
}

// maxKeptHistoryBuf bounds the frame buffer a DB keeps between commits: a
// large COPY's buffer is let go.
const maxKeptHistoryBuf = 8 << 20

// appendHistory appends the new rows of the append-only tables the txn
// writes to their history logs and syncs them, and adds to b the logs' new
// committed lengths; each txnTable's frames get the marks apply needs. It
// returns the appends even on error, for abandonHistory. Caller holds
// db.commitMu.
func (tx *Txn) appendHistory(b *pebble.Batch, skip func(*Table) bool) ([]historyAppend, error) {
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
		out = append(out, a)
		a.r = a.log.committed
		buf, pos := db.histBuf[:0], t.n
		if need := tt.batchSize(); cap(buf) < need {
			buf = make([]byte, 0, need) // a little more than the frames take
		}
		tt.frames = tt.frames[:0]
		err := tt.liveRuns(func(r pendingRun) error {
			var err error
			buf, tt.frames, err = appendRowFrames(buf, tt.frames, r.rows, pos, a.r.bytes)
			pos += r.rows.Len
			return err
		})
		if err != nil {
			return out, err
		}
		if pos == t.n {
			continue // every pending row was deleted again
		}
		if err := a.log.write(buf); err != nil {
			return out, err
		}
		a.r.bytes += int64(len(buf))
		a.r.rows += uint64(pos - t.n)
		out[len(out)-1] = a
		if err := a.log.recordIn(b, a.r); err != nil {
			return out, err
		}
		if cap(buf) <= maxKeptHistoryBuf {
			db.histBuf = buf[:0]
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
// recording them has committed. Caller holds db.commitMu.
func committedHistory(appends []historyAppend) {
	for _, a := range appends {
		a.log.committed = a.r
	}
}
