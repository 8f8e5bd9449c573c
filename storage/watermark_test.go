package storage

import (
	"testing"

	"github.com/sluice-db/sluice/types"
)

// TestWatermark checks that a watermark commits with the rows that advance
// it, reaches the observer (alone, as a change without chunks, when no row
// changed), never goes back, survives a reopen and goes with a dropped table.
func TestWatermark(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, WithLogger(quietLogger{t}))
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	db.SetObserver(rec)
	info := TableInfo{ID: 7, Name: "s", Types: []*types.T{types.Int8}}
	commit := func(fn func(tx *Txn) error) {
		t.Helper()
		mustCommit(t, db, fn)
	}
	var tbl *Table
	// reopen closes db and opens it and the table again.
	reopen := func() {
		t.Helper()
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if db, err = Open(dir, WithLogger(quietLogger{t})); err != nil {
			t.Fatal(err)
		}
		if tbl, err = db.OpenTable(info); err != nil {
			t.Fatal(err)
		}
	}
	defer func() { db.Close() }()
	commit(func(tx *Txn) (err error) { tbl, err = db.CreateTable(tx, info); return err })
	if w := tbl.Watermark(); w != NoWatermark {
		t.Fatalf("new table: watermark %d, want none", w)
	}

	commit(func(tx *Txn) error {
		if err := tx.Insert(tbl, intRange(1, 1, 0)); err != nil {
			return err
		}
		return tx.AdvanceWatermark(tbl, 100)
	})
	if ch := rec.last(t); ch.Watermark != 100 || len(ch.Chunks) != 1 {
		t.Errorf("rows and watermark: change has watermark %d and %d chunks, want 100 and 1", ch.Watermark, len(ch.Chunks))
	}

	n := len(rec.changes)
	commit(func(tx *Txn) error { return tx.AdvanceWatermark(tbl, 50) })
	if len(rec.changes) != n || tbl.Watermark() != 100 {
		t.Errorf("a lower watermark: %d new commits observed, watermark %d; want none and 100", len(rec.changes)-n, tbl.Watermark())
	}
	commit(func(tx *Txn) error { return tx.AdvanceWatermark(tbl, 250) })
	if ch := rec.last(t); ch.Watermark != 250 || len(ch.Chunks) != 0 {
		t.Errorf("watermark alone: change has watermark %d and %d chunks, want 250 and 0", ch.Watermark, len(ch.Chunks))
	}

	// A rolled-back advance leaves nothing.
	tx := db.Begin()
	if err := tx.AdvanceWatermark(tbl, 999); err != nil {
		t.Fatal(err)
	}
	tx.Rollback()

	reopen()
	if w := tbl.Watermark(); w != 250 {
		t.Errorf("after reopen: watermark %d, want 250", w)
	}

	commit(func(tx *Txn) error { return db.DropTable(tx, info.ID) })
	commit(func(tx *Txn) (err error) { tbl, err = db.CreateTable(tx, info); return err })
	reopen()
	if w := tbl.Watermark(); w != NoWatermark {
		t.Errorf("dropped and created again: watermark %d, want none", w)
	}
}
