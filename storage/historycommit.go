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

// maxKeptHistoryBuf bounds the frame buffer a DB keeps between commits: one
// made for a huge run is let go.
const maxKeptHistoryBuf = 4 * historyWriteBytes

// historyStage is what a commit wrote to one existing history log before
// taking db.commitMu: its frames, past the log's committed length, synced.
type historyStage struct {
	log    *historyLog
	end    int64       // the log's length with the frames
	rows   int         // rows the frames hold
	frames []frameMark // the frames' marks, positions from 0 (Commit adds t.n)
	err    error       // the write or sync failed: the commit fails
}

// stagedHistory is what stageHistory did: the tables whose appendMu the
// commit holds, and the frames it wrote, by table.
type stagedHistory struct {
	locked []*Table
	stages map[*Table]*historyStage
}

// release unlocks the tables stageHistory locked; Commit calls it last.
func (st *stagedHistory) release() {
	for _, t := range st.locked {
		t.appendMu.Unlock()
	}
}

// stageHistory takes the appendMu of every append-only table the txn
// inserts into (in table id order, so two commits never wait on each
// other's) and, where the table has a history log, appends the new rows'
// frames to it and syncs them, all before the commit takes db.commitMu:
// encoding and syncing a segment of rows takes milliseconds, and under
// db.commitMu every other commit (a source's small batch, an INSERT)
// would wait for them. Nothing is committed yet: the frames lie past the
// log's committed length until the commit's Pebble batch records the new
// one, so a commit that then fails (or a crash) leaves them unread, and
// the table's next commit, which waits for appendMu, overwrites them.
// Tables without a log yet get their frames under db.commitMu, which
// creating a log needs (appendHistory). skip is Commit's.
func (tx *Txn) stageHistory(skip func(*Table) bool) *stagedHistory {
	st := &stagedHistory{stages: map[*Table]*historyStage{}}
	var tts []*txnTable
	for _, tt := range tx.order {
		if tt.t.info.AppendOnly && !skip(tt.t) && tt.ins.n > 0 {
			tts = append(tts, tt)
		}
	}
	slices.SortFunc(tts, func(a, b *txnTable) int { return cmp.Compare(a.t.info.ID, b.t.info.ID) })
	for _, tt := range tts {
		t := tt.t
		t.appendMu.Lock()
		st.locked = append(st.locked, t)
		t.mu.RLock()
		log := t.hist
		t.mu.RUnlock()
		if log == nil {
			continue
		}
		s := &historyStage{log: log}
		s.frames, s.end, s.rows, s.err = tx.db.writeFrames(log, tt, 0, tt.frames[:0])
		if s.err == nil && s.rows > 0 {
			s.err = log.sync()
		}
		st.stages[t] = s
	}
	return st
}

// writeFrames writes the frames of tt's live pending rows to log at its
// committed length, unsynced, their positions from pos on; it returns the
// frames' marks (appended to marks), the log's length with them and how
// many rows they hold. Caller holds tt.t.appendMu.
func (db *DB) writeFrames(log *historyLog, tt *txnTable, pos int, marks []frameMark) ([]frameMark, int64, int, error) {
	bufp := db.histBufs.Get().(*[]byte)
	w := frameWriter{log: log, off: log.committed.bytes, buf: (*bufp)[:0]}
	first := pos
	err := tt.liveRuns(func(r pendingRun) error {
		var err error
		marks, err = w.appendRows(marks, r.rows, pos)
		pos += r.rows.Len
		return err
	})
	if err == nil {
		err = w.flush()
	}
	if cap(w.buf) <= maxKeptHistoryBuf {
		*bufp = w.buf[:0]
		db.histBufs.Put(bufp)
	}
	return marks, w.off, pos - first, err
}

// appendHistory adds to b the new committed lengths of the history logs of
// the append-only tables the txn inserts into: of the frames stageHistory
// wrote (st), and of the frames it writes and syncs now for the tables
// that had no log, creating it; each txnTable's frames get the marks apply
// needs. It returns the appends even on error, for abandonHistory. Caller
// holds db.commitMu and the tables' appendMu.
func (tx *Txn) appendHistory(b *pebble.Batch, skip func(*Table) bool, st *stagedHistory) ([]historyAppend, error) {
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
		s := st.stages[t]
		if s != nil && s.log != t.hist {
			return out, sqlerr.Bug("storage: the history log of %q changed under its appendMu", t.info.Name)
		}
		a := historyAppend{t: t, log: t.hist}
		if s == nil {
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
			s = &historyStage{log: a.log}
			s.frames, s.end, s.rows, s.err = db.writeFrames(a.log, tt, 0, tt.frames[:0])
			if s.err == nil && s.rows > 0 {
				s.err = a.log.sync()
			}
		}
		a.r = a.log.committed
		out = append(out, a)
		if s.err != nil {
			return out, s.err
		}
		if s.rows == 0 {
			continue // every pending row was deleted again
		}
		tt.frames = s.frames
		for i := range tt.frames {
			tt.frames[i].pos += t.n
		}
		a.r.bytes = s.end
		a.r.rows += uint64(s.rows)
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
// recording them has committed. Caller holds db.commitMu.
func committedHistory(appends []historyAppend) {
	for _, a := range appends {
		a.log.committed = a.r
	}
}
