package storage

import (
	"slices"

	"github.com/sluice-db/sluice/coldata"
)

// Change is what one commit did to one table: the deleted rows' old values
// (diff -1) followed by the inserted rows (diff +1). An UPDATE is a delete
// and an insert.
type Change struct {
	TableID uint32
	Rows    *coldata.Chunk
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
// db.commitMu; the deleted positions still hold their values (columns are
// append-only).
func changeOf(tt *txnTable) Change {
	t := tt.t
	if len(tt.delOrder) == 0 && !slices.Contains(tt.insDead, true) {
		// Inserts only (a COPY into a stream): the pending rows are the
		// change as they are, and the finished txn never writes them again.
		rows := *tt.ins
		rows.Diffs = make([]int64, rows.Len)
		for i := range rows.Diffs {
			rows.Diffs[i] = 1
		}
		return Change{TableID: t.info.ID, Rows: &rows}
	}
	ts := t.info.Types
	out := coldata.NewChunk(ts, len(tt.delOrder)+tt.ins.Len)
	out.Diffs = make([]int64, 0, out.Len)
	if len(tt.delOrder) > 0 {
		t.mu.RLock()
		for _, p := range tt.delOrder {
			for c, v := range out.Cols {
				v.AppendFrom(t.cols[c], p)
			}
			out.Len++
			out.Diffs = append(out.Diffs, -1)
		}
		t.mu.RUnlock()
	}
	tt.liveRuns(func(run *coldata.Chunk) {
		out.AppendChunk(run)
		for range run.Len {
			out.Diffs = append(out.Diffs, 1)
		}
	})
	return Change{TableID: t.info.ID, Rows: out}
}

// liveRuns calls fn with each run of consecutive pending inserts that are
// still live (not deleted again by the same transaction), in order.
func (tt *txnTable) liveRuns(fn func(run *coldata.Chunk)) {
	for lo := 0; lo < tt.ins.Len; {
		if tt.insDead[lo] {
			lo++
			continue
		}
		hi := lo + 1
		for hi < tt.ins.Len && !tt.insDead[hi] {
			hi++
		}
		fn(tt.ins.Slice(lo, hi))
		lo = hi
	}
}
