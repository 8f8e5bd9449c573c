package engine

import (
	"fmt"
	"sort"
	"testing"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/dataflow"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/storage"
	"github.com/sluice-db/sluice/types"
)

// A sink's state survives reopening at each step: a pending transaction
// with its changes, then settled (committed or not) into the emitted rows;
// bad bytes are XX001.
func TestSinkState(t *testing.T) {
	dir := t.TempDir()
	typs := []*types.T{types.Text, types.Numeric}
	open := func() (*storage.DB, *sinkState) {
		db, err := storage.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		st, err := loadSinkState(db, 7, typs)
		if err != nil {
			t.Fatal(err)
		}
		return db, st
	}
	changes := func(rows ...any) *coldata.Chunk {
		c := dataflow.NewChanges(typs, 0)
		for i := 0; i < len(rows); i += 3 {
			n, err := types.ParseText(types.Numeric, rows[i+1].(string), types.DefaultConfig())
			if err != nil {
				t.Fatal(err)
			}
			c.AppendRow([]types.Datum{rows[i], n})
			c.Diffs = append(c.Diffs, int64(rows[i+2].(int)))
		}
		return c
	}
	show := func(st *sinkState) string {
		e, err := st.emitted()
		if err != nil {
			t.Fatal(err)
		}
		var rows []string
		for i := 0; i < e.Len; i++ {
			rows = append(rows, fmt.Sprintf("%v/%s:%d", e.Cols[0].Get(i), types.AppendText(nil, typs[1], e.Cols[1].Get(i), types.DefaultConfig()), -e.Diffs[i]))
		}
		sort.Strings(rows)
		return fmt.Sprintf("seq %d pending %v rows %v", st.seq, st.pending != nil, rows)
	}

	db, st := open()
	if err := st.writePending(1, 40, changes("a", "1.0", 1, "b", "2", 2)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, st = open()
	if st.pending == nil || st.pending.seq != 1 || st.pending.markerOffset != 40 || st.pending.changes.Len != 2 {
		t.Fatalf("pending after reopen: %+v", st.pending)
	}
	if err := st.settle(true); err != nil {
		t.Fatal(err)
	}
	// 1.00 is another row than 1.0 (it prints differently).
	if err := st.writePending(2, 41, changes("a", "1.0", -1, "a", "1.00", 1, "b", "2", -1)); err != nil {
		t.Fatal(err)
	}
	if err := st.settle(false); err != nil {
		t.Fatal(err)
	}
	if err := st.writePending(2, 43, changes("a", "1.0", -1, "a", "1.00", 1, "b", "2", -1)); err != nil {
		t.Fatal(err)
	}
	if err := st.settle(true); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, st = open()
	if got, want := show(st), "seq 2 pending false rows [a/1.00:1 b/2:1]"; got != want {
		t.Errorf("state: %s, want %s", got, want)
	}

	txn := db.Begin()
	txn.PutMeta(sinkPendingKey(7), []byte{0, 0, 0})
	if err := txn.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := loadSinkState(db, 7, typs); err == nil || sqlerr.Code(err) != sqlerr.DataCorrupted {
		t.Errorf("truncated pending record: %v", err)
	}
	db.Close()
}
