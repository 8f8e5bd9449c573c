package storage

import (
	"fmt"
	"testing"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// A column added to a table with rows reads NULL for them, takes values in
// new rows, and survives a reopen (old row values, shorter, decode as NULL),
// also in a stream's history log, read back from evicted segments.
func TestAddColumn(t *testing.T) {
	t.Run("table", func(t *testing.T) { testAddColumn(t, false) })
	t.Run("stream", func(t *testing.T) { testAddColumn(t, true) })
}

func testAddColumn(t *testing.T, appendOnly bool) {
	defer func(n int) { segRows = n }(segRows)
	segRows = 1000 // several segments, all but the last evicted
	dir := t.TempDir()
	db, err := Open(dir, WithResidentSegments(0))
	if err != nil {
		t.Fatal(err)
	}
	info := TableInfo{ID: 100, Name: "s", ColNames: []string{"a"}, Types: []*types.T{types.Int8}, AppendOnly: appendOnly}
	tbl := createTable(t, db, info)
	insert := func(rows ...[]types.Datum) error {
		c := coldata.NewChunk(tbl.Info().Types, len(rows))
		for _, r := range rows {
			c.AppendRow(r)
		}
		tx := db.Begin()
		if err := tx.Insert(tbl, c); err != nil {
			return err
		}
		return tx.Commit()
	}
	var many [][]types.Datum
	for i := range 3000 { // a run in Pebble, and a row
		many = append(many, []types.Datum{int64(i)})
	}
	if err := insert(many...); err != nil {
		t.Fatal(err)
	}
	if err := insert([]types.Datum{int64(-1)}); err != nil {
		t.Fatal(err)
	}
	// A transaction that wrote rows of the old width loses to the ALTER.
	stale := db.Begin()
	old := coldata.NewChunk([]*types.T{types.Int8}, 1)
	old.AppendRow([]types.Datum{int64(7)})
	if err := stale.Insert(tbl, old); err != nil {
		t.Fatal(err)
	}
	tx := db.Begin()
	if err := tx.AddColumn(tbl, "b", types.Text); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := stale.Commit(); err == nil {
		t.Fatal("rows of the old width committed after ADD COLUMN")
	}
	if err := insert([]types.Datum{int64(5000), "x"}); err != nil {
		t.Fatal(err)
	}
	check := func(tbl *Table) {
		t.Helper()
		if n := tbl.Len(); n != 3002 {
			t.Fatalf("%d rows, want 3002", n)
		}
		for pos, want := range map[int]string{0: "[0 <nil>]", 2999: "[2999 <nil>]", 3000: "[-1 <nil>]", 3001: "[5000 x]"} {
			if got := fmt.Sprint(tbl.Get(pos)); got != want {
				t.Fatalf("row %d: %s, want %s", pos, got, want)
			}
		}
	}
	check(tbl)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(dir, WithResidentSegments(0))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	info.ColNames, info.Types = []string{"a", "b"}, []*types.T{types.Int8, types.Text}
	tbl, err = db.OpenTable(info)
	if err != nil {
		t.Fatal(err)
	}
	check(tbl)
}
