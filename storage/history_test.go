package storage

import (
	"sync"
	"testing"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// Scans of a stream read evicted segments back from its history log while
// commits append to it and evict more, and then while it is dropped: every
// scan sees a prefix of the rows in order, or fails with 40001 (only the
// drop removes the log); never wrong rows, never XX001. On the OS
// filesystem.
func TestHistoryScansDuringCommitsAndDrop(t *testing.T) {
	defer func(n, r int) { segRows, runRows = n, r }(segRows, runRows)
	segRows, runRows = 64, 10
	db, err := Open(t.TempDir(), WithLogger(quietLogger{t}), WithResidentSegments(0))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	info := TableInfo{ID: 9, Name: "s", ColNames: []string{"id", "v"}, Types: []*types.T{types.Int8, types.Text}, AppendOnly: true}
	tbl := createTable(t, db, info)
	const commits, batch = 200, 37
	var wg sync.WaitGroup
	done := make(chan struct{})
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				s := db.Begin().Scan(tbl)
				next := int64(0)
				for {
					c, _, ok := s.Next()
					if !ok {
						break
					}
					for i := range c.Len {
						if c.Cols[0].Ints[i] != next || c.Cols[1].Bytes[i] != string(rune('a'+next%26)) {
							t.Errorf("row %d: got %d %q", next, c.Cols[0].Ints[i], c.Cols[1].Bytes[i])
							return
						}
						next++
					}
				}
				if err := s.Err(); err != nil {
					if e, ok := sqlerr.As(err); !ok || e.Code != serializationFailure {
						t.Errorf("scan: %v", err)
						return
					}
				}
			}
		}()
	}
	for k := range commits {
		c := coldata.NewChunk(info.Types, batch)
		for i := range batch {
			id := int64(k*batch + i)
			c.AppendRow([]types.Datum{id, string(rune('a' + id%26))})
		}
		tx := db.Begin()
		if err := tx.Insert(tbl, c); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	tx := db.Begin()
	if err := db.DropTable(tx, info.ID); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	for range 50 { // let the scanners meet the dropped table
		s := db.Begin().Scan(tbl)
		for _, _, ok := s.Next(); ok; _, _, ok = s.Next() {
		}
		if e, ok := sqlerr.As(s.Err()); !ok || e.Code != serializationFailure {
			t.Fatalf("scan of a dropped stream: %v", s.Err())
		}
	}
	close(done)
	wg.Wait()
}

// TestScanFrom reads a stream's history from positions inside resident and
// evicted segments, at block boundaries and between them, and past the
// end; and checks that each commit's change says the history's length.
func TestScanFrom(t *testing.T) {
	defer func(n, r int) { segRows, runRows = n, r }(segRows, runRows)
	segRows, runRows = 64, 10
	db, err := Open(t.TempDir(), WithLogger(quietLogger{t}), WithResidentSegments(1))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	info := TableInfo{ID: 9, Name: "s", ColNames: []string{"id"}, Types: []*types.T{types.Int8}, AppendOnly: true}
	tbl := createTable(t, db, info)
	obs := &positionObserver{}
	db.SetObserver(obs)
	const rows = 1000
	for lo := 0; lo < rows; lo += 37 {
		c := coldata.NewChunk(info.Types, 37)
		for id := lo; id < min(lo+37, rows); id++ {
			c.AppendRow([]types.Datum{int64(id)})
		}
		tx := db.Begin()
		if err := tx.Insert(tbl, c); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if want := min(lo+37, rows); obs.last != want {
			t.Fatalf("change after %d rows says %d positions", want, obs.last)
		}
	}
	for _, from := range []int{0, 1, 63, 64, 65, 500, 999, 1000, 1200} {
		s := db.Begin().ScanFrom(tbl, from)
		if s.Positions() != rows {
			t.Fatalf("positions %d, want %d", s.Positions(), rows)
		}
		next := int64(from)
		for c, _, ok := s.Next(); ok; c, _, ok = s.Next() {
			for _, id := range c.Cols[0].Ints[:c.Len] {
				if id != next {
					t.Fatalf("from %d: row %d, want %d", from, id, next)
				}
				next++
			}
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		if want := int64(max(from, rows)); next != want {
			t.Fatalf("from %d: ended at %d, want %d", from, next, want)
		}
	}
}

// positionObserver records the positions of the last change it got.
type positionObserver struct{ last int }

func (*positionObserver) Wants(uint32) bool { return true }
func (o *positionObserver) Committed(cs []Change) {
	for _, c := range cs {
		o.last = c.Positions
	}
}
