package storage

import "github.com/sluice-db/sluice/coldata"

// InsertedTables returns the tables the txn inserted rows into, in
// first-write order. The engine judges a batch's rows against a stream's
// watermark at commit, so it needs to find them.
func (tx *Txn) InsertedTables() []*Table {
	var out []*Table
	for _, tt := range tx.order {
		if tt.ins.n > 0 {
			out = append(out, tt.t)
		}
	}
	return out
}

// EachInserted calls fn with each run of rows the txn inserted into t and
// did not delete again, in insertion order. first is the pending index of
// the run's first row: row k of the run is at InsertedPosition(first+k),
// the position Delete takes. fn must not change the txn.
func (tx *Txn) EachInserted(t *Table, fn func(rows *coldata.Chunk, first int) error) error {
	tt := tx.tables[t]
	if tt == nil {
		return nil
	}
	return tt.liveRuns(func(r pendingRun) error { return fn(r.rows, r.first) })
}

// InsertedPosition is the position (for Delete) of the txn's i-th pending
// inserted row of a table.
func InsertedPosition(i int) int { return -(i + 1) }
