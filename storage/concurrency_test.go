package storage

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// TestConcurrentTransfers moves money between accounts in concurrent
// transactions while readers scan: every scan must see the same total (no
// half-applied commit), and conflicting writers get 40001, never lost updates.
func TestConcurrentTransfers(t *testing.T) {
	db, err := Open(t.TempDir(), WithLogger(quietLogger{t}))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	info := TableInfo{ID: 1, Name: "acct", ColNames: []string{"id", "bal"}, Types: []*types.T{types.Int8, types.Int8}, PK: []int{0}}
	tx := db.Begin()
	tbl, err := db.CreateTable(tx, info)
	if err != nil {
		t.Fatal(err)
	}
	const accounts, initial = 20, 100
	c := coldata.NewChunk(info.Types, accounts)
	for i := range accounts {
		c.AppendRow([]types.Datum{int64(i), int64(initial)})
	}
	if err := tx.Insert(tbl, c); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	sum := func(tx *Txn) (total, rows int64) {
		s := tx.Scan(tbl)
		for {
			c, _, ok := s.Next()
			if !ok {
				return total, rows
			}
			for i := 0; i < c.Len; i++ {
				total += c.Cols[1].Ints[i]
				rows++
			}
		}
	}
	var wg sync.WaitGroup
	var done atomic.Bool
	var commits, conflicts atomic.Int64
	for w := range 4 {
		wg.Go(func() {
			for i := 0; i < 300; i++ {
				a, b := int64((w+i)%accounts), int64((w*7+i*3+1)%accounts)
				if a == b {
					continue
				}
				tx := db.Begin()
				ra, pa, ok1 := tx.Lookup(tbl, []types.Datum{a})
				rb, pb, ok2 := tx.Lookup(tbl, []types.Datum{b})
				if !ok1 || !ok2 {
					t.Errorf("account missing: %d %d", a, b)
					return
				}
				nc := coldata.NewChunk(info.Types, 2)
				nc.AppendRow([]types.Datum{a, ra[1].(int64) - 1})
				nc.AppendRow([]types.Datum{b, rb[1].(int64) + 1})
				err := tx.Update(tbl, []int{pa, pb}, nc)
				if err == nil {
					err = tx.Commit()
				} else {
					tx.Rollback()
				}
				switch {
				case err == nil:
					commits.Add(1)
				case sqlerr.Code(err) == serializationFailure:
					conflicts.Add(1)
				default:
					t.Errorf("transfer: %v", err)
					return
				}
			}
		})
	}
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			for !done.Load() {
				if total, rows := sum(db.Begin()); total != accounts*initial || rows != accounts {
					t.Errorf("scan saw total %d over %d rows", total, rows)
					return
				}
			}
		})
	}
	wg.Wait()
	done.Store(true)
	readers.Wait()
	t.Logf("%d commits, %d conflicts", commits.Load(), conflicts.Load())
	if total, _ := sum(db.Begin()); total != accounts*initial {
		t.Fatalf("total %d", total)
	}
}
