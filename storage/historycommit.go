package storage

import (
	"cmp"
	"slices"

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

// historyWriteBytes is how many frame bytes a commit encodes before it
// writes them to the log: a segment of 64K rows takes ~10 MB, which as one
// buffer would be allocated (and faulted in) anew at every commit instead
// of reused.
const historyWriteBytes = 1 << 20

// maxKeptHistoryBuf bounds a frame buffer kept between commits: one made
// for a huge run is let go.
const maxKeptHistoryBuf = 4 * historyWriteBytes

// lockAppends locks the appendMu of every table whose history log the txn
// may write or remove: those it appends rows to and those it drops. They
// are locked in table id order, before db.commitMu, and held until the
// commit is done: appending and syncing a big run of rows takes tens of
// milliseconds, which under db.commitMu every other commit (a stream's
// lone freshness marker, a table's single-row INSERT) waited out.
func (tx *Txn) lockAppends(skip func(*Table) bool) (unlock func()) {
	var ts []*Table
	for _, tt := range tx.order {
		if tt.t.info.AppendOnly && !skip(tt.t) && tt.ins.n > 0 {
			ts = append(ts, tt.t)
		}
	}
	for _, id := range tx.dropIDs {
		if t, ok := tx.db.Table(id); ok && t.info.AppendOnly {
			ts = append(ts, t)
		}
	}
	slices.SortFunc(ts, func(a, b *Table) int { return cmp.Compare(a.info.ID, b.info.ID) })
	ts = slices.Compact(ts)
	for _, t := range ts {
		t.appendMu.Lock()
	}
	return func() {
		for _, t := range ts {
			t.appendMu.Unlock()
		}
	}
}

// appendHistory appends the new rows of the append-only tables the txn
// writes to their history logs and syncs them; each txnTable's frames get
// the marks apply needs, and each append the log's committed state once
// the commit is (recordHistory). It returns the appends even on error, for
// abandonHistory. Caller holds the tables' appendMu (lockAppends) and not
// db.commitMu: no other commit moves the logs or the tables' positions
// meanwhile, and a commit that fails after it leaves the logs' committed
// lengths where they were.
func (tx *Txn) appendHistory(skip func(*Table) bool) ([]historyAppend, error) {
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
		t.mu.RLock()
		a, pos := historyAppend{t: t, log: t.hist}, t.n
		t.mu.RUnlock()
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
		buf, _ := db.histBufs.Get().(*[]byte)
		if buf == nil {
			buf = new([]byte)
		}
		w := frameWriter{log: a.log, off: a.r.bytes, buf: (*buf)[:0]}
		start := pos
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
			*buf = w.buf[:0]
			db.histBufs.Put(buf)
		}
		if err != nil {
			return out, err
		}
		if pos == start {
			continue // every pending row was deleted again
		}
		if err := a.log.sync(); err != nil {
			return out, err
		}
		a.r.bytes = w.off
		a.r.rows += uint64(pos - start)
		out[len(out)-1] = a
	}
	return out, nil
}

// recordHistory adds to b the logs' new committed lengths. Caller holds
// db.commitMu.
func recordHistory(b *pebble.Batch, appends []historyAppend) error {
	for _, a := range appends {
		if a.r != a.log.committed {
			if err := a.log.recordIn(b, a.r); err != nil {
				return err
			}
		}
	}
	return nil
}

// abandonHistory undoes the logs a failed commit created. Appends to older
// logs need no undoing: their committed length did not move, and the next
// commit overwrites what lies past it. Caller holds the tables' appendMu.
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
// recording them has committed. Caller holds db.commitMu and the tables'
// appendMu.
func committedHistory(appends []historyAppend) {
	for _, a := range appends {
		a.log.committed = a.r
	}
}
