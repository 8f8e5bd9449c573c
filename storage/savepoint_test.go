package storage

import (
	"testing"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// TestSavepoint checks that RollbackTo undoes inserts, deletes and updates
// made after the savepoint, keeps earlier ones, and can be repeated.
func TestSavepoint(t *testing.T) {
	db, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	info := TableInfo{ID: 1, Name: "t", ColNames: []string{"k", "v"}, Types: []*types.T{types.Int8, types.Text}, PK: []int{0}}
	tx := db.Begin()
	tbl, err := db.CreateTable(tx, info)
	if err != nil {
		t.Fatal(err)
	}
	rows := func(kv ...any) *coldata.Chunk {
		ch := coldata.NewChunk(info.Types, 0)
		for i := 0; i < len(kv); i += 2 {
			ch.AppendRow([]types.Datum{int64(kv[i].(int)), kv[i+1]})
		}
		return ch
	}
	if err := tx.Insert(tbl, rows(1, "a", 2, "b")); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	count := func(tx *Txn) (n int, keys []int64) {
		sc := tx.Scan(tbl)
		for {
			ch, _, ok := sc.Next()
			if !ok {
				return n, keys
			}
			n += ch.Len
			keys = append(keys, ch.Cols[0].Ints...)
		}
	}
	tx = db.Begin()
	if err := tx.Insert(tbl, rows(3, "c")); err != nil {
		t.Fatal(err)
	}
	sp := tx.Savepoint()
	for round := 0; round < 2; round++ {
		if err := tx.Insert(tbl, rows(4, "d")); err != nil {
			t.Fatal(err)
		}
		_, pos, found := tx.Lookup(tbl, []types.Datum{int64(1)})
		if !found {
			t.Fatal("row 1 missing")
		}
		if err := tx.Delete(tbl, []int{pos}); err != nil {
			t.Fatal(err)
		}
		if n, _ := count(tx); n != 3 {
			t.Fatalf("round %d: %d rows before rollback, want 3", round, n)
		}
		tx.RollbackTo(sp)
		if n, keys := count(tx); n != 3 {
			t.Fatalf("round %d: %d rows after rollback (%v), want 1,2,3", round, n, keys)
		}
		if _, _, found := tx.Lookup(tbl, []types.Datum{int64(4)}); found {
			t.Fatalf("round %d: row 4 survived the rollback", round)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if n, _ := count(db.Begin()); n != 3 {
		t.Fatalf("%d rows committed, want 3", n)
	}
}
