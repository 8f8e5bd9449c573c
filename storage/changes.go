package storage

import (
	"github.com/sluice-db/sluice/coldata"
)

// Change is what one commit did to one table: the deleted rows' old values
// (diff -1) followed by the inserted rows (diff +1), in Chunks. An UPDATE is
// a delete and an insert.
//
// NB: the chunks share their vectors, and their diffs, with the table and
// with other changes: receivers read them and must never write to them.
type Change struct {
	TableID uint32
	Chunks  []*coldata.Chunk
	// Watermark is the table's event-time watermark after the commit (Unix
	// microseconds; NoWatermark if it has none): every row with an earlier
	// event time that the table will ever hold has been committed.
	Watermark int64
	// Positions is the table's count of positions after the commit: for
	// a stream (append-only), the length of its history, so that a reader
	// can resume its history after this commit (Txn.ScanFrom).
	Positions int
	// Divisible says a reader may be shown the change's rows in parts, a
	// prefix before the rest: the commit was a source's delivery
	// (Txn.SetDivisible), not a SQL statement, whose rows are seen at once.
	Divisible bool
}

// ChangeObserver receives the changes of every commit to the tables it
// wants, in commit order. Committed runs under the commit lock, so it must be
// quick (queue the changes, don't process them) and must not commit.
type ChangeObserver interface {
	Wants(tableID uint32) bool
	Committed(changes []Change)
}

// SetObserver installs o (nil removes it) as the receiver of committed changes.
func (db *DB) SetObserver(o ChangeObserver) {
	db.commitMu.Lock()
	db.observer = o
	db.commitMu.Unlock()
}

// Exclusive runs fn while no commit is in progress: what fn reads of the
// tables and what the observer has received form one consistent cut.
func (db *DB) Exclusive(fn func()) {
	db.commitMu.Lock()
	defer db.commitMu.Unlock()
	fn()
}

// changeOf builds the Change a committed txnTable made. Caller holds
// db.commitMu; the deleted positions still hold their values (positions are
// append-only). The inserted rows are not copied: each run of live pending
// rows is a chunk of the change as it is (the finished txn never writes
// them again, and the table adopts or copies them, never changes them).
func (db *DB) changeOf(tt *txnTable) Change {
	t := tt.t
	ch := Change{TableID: t.info.ID, Watermark: t.watermark}
	if len(tt.delOrder) > 0 {
		out := coldata.NewChunk(t.info.Types, len(tt.delOrder))
		out.Diffs = make([]int64, 0, len(tt.delOrder))
		t.mu.RLock()
		for _, p := range tt.delOrder {
			s, off := t.segOf(p)
			for c, v := range out.Cols {
				v.AppendFrom(s.rows.Cols[c], off)
			}
			out.Len++
			out.Diffs = append(out.Diffs, -1)
		}
		t.mu.RUnlock()
		ch.Chunks = append(ch.Chunks, out)
	}
	_ = tt.liveRuns(func(r pendingRun) error {
		c := &coldata.Chunk{Cols: r.rows.Cols, Len: r.rows.Len, Diffs: db.ones(r.rows.Len)}
		ch.Chunks = append(ch.Chunks, c)
		return nil
	})
	return ch
}

// ones returns n diffs of +1 that every insert shares: read-only. Caller
// holds db.commitMu.
func (db *DB) ones(n int) []int64 {
	if len(db.onesBuf) < n {
		db.onesBuf = make([]int64, max(n, segRows))
		for i := range db.onesBuf {
			db.onesBuf[i] = 1
		}
	}
	return db.onesBuf[:n:n]
}
