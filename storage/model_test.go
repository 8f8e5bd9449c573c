package storage

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// TestModel runs random transactions (inserts, deletes and updates of
// committed and pending rows, savepoints, commits, rollbacks) against a
// table and a plain map, with random segment and run sizes and, half the
// time, an append-only table (inserts only) keeping few segments resident
// (metamorphic: logged with the seed), and checks after every commit, clean reopen and
// crash that a scan, Len and primary-key lookups agree with the map.
// Replay a failure with SLUICE_SEED.
func TestModel(t *testing.T) {
	defer func(n, r int) { segRows, runRows = n, r }(segRows, runRows)
	r := rand.New(rand.NewPCG(seed(t), 0))
	segRows = []int{1, 2, 3, 8, 64, 1 << 16}[r.IntN(6)]
	runRows = []int{1, 2, 5, 1024}[r.IntN(4)]
	appendOnly := r.IntN(2) == 0
	resident := []int{-1, 0, 1, 2}[r.IntN(4)]
	t.Logf("segRows=%d runRows=%d appendOnly=%t resident=%d", segRows, runRows, appendOnly, resident)

	fs := vfs.NewCrashableMem()
	info := TableInfo{ID: 7, Name: "m", ColNames: []string{"id", "v", "n"}, Types: []*types.T{types.Int8, types.Text, types.Int8}, PK: []int{0}}
	if appendOnly {
		info.PK, info.AppendOnly = nil, true
	}
	var db *DB
	var tbl *Table
	open := func() {
		var err error
		if db, err = Open("db", WithFS(fs), WithLogger(quietLogger{t}), WithResidentSegments(resident)); err != nil {
			t.Fatal(err)
		}
		if tbl, err = db.OpenTable(info); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	if db, err = Open("db", WithFS(fs), WithLogger(quietLogger{t}), WithResidentSegments(resident)); err != nil {
		t.Fatal(err)
	}
	tx := db.Begin()
	if tbl, err = db.CreateTable(tx, info); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	defer func() { db.Close() }()

	type row = []types.Datum
	committed := map[int64]row{}
	nextID := int64(1)
	randRow := func(id int64) row {
		out := row{id, nil, nil}
		if r.IntN(5) > 0 {
			out[1] = fmt.Sprintf("v%d-%d", id, r.IntN(100))
		}
		if r.IntN(3) > 0 {
			out[2] = r.Int64N(1000) - 500
		}
		return out
	}
	chunkOf := func(rows []row) *coldata.Chunk {
		c := coldata.NewChunk(info.Types, len(rows))
		for _, x := range rows {
			c.AppendRow(x)
		}
		return c
	}
	// visible returns the rows tx sees and their positions.
	visible := func(tx *Txn) (rows []row, pos []int) {
		s := tx.Scan(tbl)
		for {
			c, ps, ok := s.Next()
			if !ok {
				return rows, pos
			}
			for i := range c.Len {
				rows = append(rows, c.Row(i))
				pos = append(pos, ps[i])
			}
		}
	}
	check := func(what string, tx *Txn, want map[int64]row) {
		t.Helper()
		rows, _ := visible(tx)
		var got, exp []string
		for _, x := range rows {
			got = append(got, fmtRow(x))
		}
		for _, x := range want {
			exp = append(exp, fmtRow(x))
		}
		slices.Sort(got)
		slices.Sort(exp)
		if !slices.Equal(got, exp) {
			t.Fatalf("%s: scan has %d rows, model %d\ngot:  %s\nwant: %s", what, len(got), len(exp), strings.Join(got, "; "), strings.Join(exp, "; "))
		}
		for id, x := range want {
			if appendOnly || r.IntN(4) > 0 {
				continue
			}
			if got, _, ok := tx.Lookup(tbl, []types.Datum{id}); !ok || fmtRow(got) != fmtRow(x) {
				t.Fatalf("%s: lookup %d = %v (found %v), want %s", what, id, got, ok, fmtRow(x))
			}
		}
	}

	steps := 300
	if appendOnly {
		steps = 150 // every check scans the whole, growing history
	}
	for step := range steps {
		tx := db.Begin()
		model := maps.Clone(committed)
		var saved []map[int64]row
		var sps []*Savepoint
		for range 1 + r.IntN(6) {
			op := r.IntN(10)
			if appendOnly && op >= 4 && op < 8 {
				op = 0 // no deletes or updates
			}
			switch {
			case op < 4: // insert
				var rows []row
				most := 3 * min(segRows, 64)
				if appendOnly {
					most /= 3 // the table only grows: keep its scans quick
				}
				for range 1 + r.IntN(most) {
					x := randRow(nextID)
					nextID++
					rows = append(rows, x)
					model[x[0].(int64)] = x
				}
				// Adopt keeps a chunk of one whole segment as it is.
				insert := tx.Insert
				if r.IntN(2) == 0 {
					insert = tx.Adopt
				}
				if err := insert(tbl, chunkOf(rows)); err != nil {
					t.Fatalf("step %d: insert: %v", step, err)
				}
			case op < 6: // delete some visible rows
				rows, pos := visible(tx)
				var del []int
				for i := range rows {
					if r.IntN(4) == 0 {
						del = append(del, pos[i])
						delete(model, rows[i][0].(int64))
					}
				}
				if err := tx.Delete(tbl, del); err != nil {
					t.Fatalf("step %d: delete: %v", step, err)
				}
			case op < 8: // update some visible rows, some to a new key
				rows, pos := visible(tx)
				var upd []int
				var news []row
				for i := range rows {
					if r.IntN(4) != 0 {
						continue
					}
					old := rows[i][0].(int64)
					id := old
					if r.IntN(3) == 0 {
						id, nextID = nextID, nextID+1
					}
					delete(model, old)
					x := randRow(id)
					model[id] = x
					upd = append(upd, pos[i])
					news = append(news, x)
				}
				if err := tx.Update(tbl, upd, chunkOf(news)); err != nil {
					t.Fatalf("step %d: update: %v", step, err)
				}
			case op < 9: // savepoint
				sps = append(sps, tx.Savepoint())
				saved = append(saved, maps.Clone(model))
			default: // roll back to a savepoint
				if len(sps) > 0 {
					i := r.IntN(len(sps))
					tx.RollbackTo(sps[i])
					model = maps.Clone(saved[i])
				}
			}
		}
		check(fmt.Sprintf("step %d in txn", step), tx, model)
		if r.IntN(5) == 0 {
			tx.Rollback()
		} else {
			if err := tx.Commit(); err != nil {
				t.Fatalf("step %d: commit: %v", step, err)
			}
			committed = model
		}
		check(fmt.Sprintf("step %d committed", step), db.Begin(), committed)
		if tbl.Len() != len(committed) {
			t.Fatalf("step %d: Len %d, model %d", step, tbl.Len(), len(committed))
		}
		switch r.IntN(20) {
		case 0:
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			open()
			check(fmt.Sprintf("step %d reopened", step), db.Begin(), committed)
		case 1:
			crashed := fs.CrashClone(vfs.CrashCloneCfg{})
			db.Close()
			fs = crashed
			open()
			check(fmt.Sprintf("step %d after crash", step), db.Begin(), committed)
		}
	}
}
