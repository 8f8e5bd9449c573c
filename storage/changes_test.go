package storage

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

type recorder struct{ changes [][]Change }

// commitOne commits what fn does in a transaction of db, which must
// change one relation, and returns that change as rec observed it.
func (rec *recorder) commitOne(t *testing.T, db *DB, fn func(tx *Txn) error) Change {
	t.Helper()
	mustCommit(t, db, fn)
	return rec.last(t)
}

// last returns the change of the last commit observed, which must have
// changed one relation.
func (rec *recorder) last(t *testing.T) Change {
	t.Helper()
	last := rec.changes[len(rec.changes)-1]
	if len(last) != 1 {
		t.Fatalf("%d changes, want 1", len(last))
	}
	return last[0]
}

// mustCommit commits what fn does in a transaction of db.
func mustCommit(t *testing.T, db *DB, fn func(tx *Txn) error) {
	t.Helper()
	tx := db.Begin()
	if err := fn(tx); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// openRecorded opens a DB whose commits a recorder observes, with one
// stream of an int8 column; the caller closes it (before it restores
// segRows).
func openRecorded(t *testing.T) (*DB, *recorder, *Table) {
	t.Helper()
	db, err := Open(t.TempDir(), WithLogger(quietLogger{t}))
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	db.SetObserver(rec)
	return db, rec, createTable(t, db, TableInfo{ID: 1, Name: "s", Types: []*types.T{types.Int8}})
}

// intRange is a chunk of one int8 column holding lo..hi, with room for
// capacity rows.
func intRange(lo, hi int64, capacity int) *coldata.Chunk {
	c := coldata.NewChunk([]*types.T{types.Int8}, capacity)
	for i := lo; i <= hi; i++ {
		c.AppendRow([]types.Datum{i})
	}
	return c
}

func (r *recorder) Wants(uint32) bool          { return true }
func (r *recorder) Committed(changes []Change) { r.changes = append(r.changes, changes) }

// describe prints a change chunk by chunk: its rows as "id:diff".
func describe(ch Change) string {
	var b strings.Builder
	for _, c := range ch.Chunks {
		b.WriteString("[")
		for i := range c.Len {
			if i > 0 {
				b.WriteString(" ")
			}
			fmt.Fprintf(&b, "%d:%+d", c.Cols[0].Ints[i], c.Diffs[i])
		}
		b.WriteString("]")
	}
	return b.String()
}

// TestChanges checks what a commit hands the observer: the pending rows
// themselves, one chunk per run of live rows (the vectors the table adopts,
// not copies), after a chunk of the deleted rows.
func TestChanges(t *testing.T) {
	defer func(n int) { segRows = n }(segRows)
	segRows = 4
	db, rec, tbl := openRecorded(t)
	defer db.Close()
	ints := func(lo, hi int64) *coldata.Chunk { return intRange(lo, hi, 0) }
	commit := func(fn func(tx *Txn) error) string {
		t.Helper()
		return describe(rec.commitOne(t, db, fn))
	}

	// Ten rows: pending segments of 4, 4 and 2 rows, handed over as they are.
	got := commit(func(tx *Txn) error { return tx.Insert(tbl, ints(1, 10)) })
	if want := "[1:+1 2:+1 3:+1 4:+1][5:+1 6:+1 7:+1 8:+1][9:+1 10:+1]"; got != want {
		t.Errorf("insert: %s, want %s", got, want)
	}
	ch := rec.changes[len(rec.changes)-1][0].Chunks[0]
	if tbl.segs[0].rows.Cols[0] != ch.Cols[0] {
		t.Errorf("the table copied a whole pending segment instead of adopting it")
	}

	// Deletes come first; a pending row deleted again splits the runs.
	got = commit(func(tx *Txn) error {
		if err := tx.Delete(tbl, []int{1, 8}); err != nil {
			return err
		}
		if err := tx.Insert(tbl, ints(20, 25)); err != nil {
			return err
		}
		return tx.Delete(tbl, []int{-3})
	})
	if want := "[2:-1 9:-1][20:+1 21:+1][23:+1][24:+1 25:+1]"; got != want {
		t.Errorf("delete and insert: %s, want %s", got, want)
	}
}

// TestAdoptHalfSegment: a chunk the caller gives up becomes a table
// segment as it is from half a segment on, whatever its spare capacity up
// to a segment's; a smaller one, or one whose vectors could hold more than
// a segment, is copied; rows a transaction adds after it fill it.
func TestAdoptHalfSegment(t *testing.T) {
	defer func(n int) { segRows = n }(segRows)
	segRows = 8
	db, err := Open(t.TempDir(), WithLogger(quietLogger{t}))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	info := TableInfo{ID: 1, Name: "s", Types: []*types.T{types.Int8}}
	tbl := createTable(t, db, info)
	next := int64(0)
	chunk := func(n, capacity int) *coldata.Chunk {
		c := coldata.NewChunk(info.Types, capacity)
		for range n {
			next++
			c.AppendRow([]types.Datum{next})
		}
		return c
	}
	adopt := func(cs ...*coldata.Chunk) {
		t.Helper()
		tx := db.Begin()
		for _, c := range cs {
			if err := tx.Adopt(tbl, c); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	last := func() *segment { return tbl.segs[len(tbl.segs)-1] }

	half := chunk(4, 8)
	adopt(half)
	if s := last(); !s.frozen || s.rows.Cols[0] != half.Cols[0] {
		t.Errorf("a half-full chunk of a segment's capacity was copied, not adopted")
	}
	small := chunk(3, 8)
	adopt(small)
	if s := last(); s.frozen || s.rows.Len != 3 {
		t.Errorf("a chunk under half a segment was adopted (segment of %d rows, frozen %v)", s.rows.Len, s.frozen)
	}
	adopt(chunk(5, 16))
	if s := last(); s.frozen || s.rows.Len != 8 {
		t.Errorf("a chunk with room for more than a segment was adopted (segment of %d rows, frozen %v)", s.rows.Len, s.frozen)
	}
	// 5 rows adopted, then 2 more in the same transaction fill them.
	first := chunk(5, 8)
	adopt(first, chunk(2, 2))
	if s := last(); !s.frozen || s.rows.Len != 7 {
		t.Errorf("last segment of %d rows, frozen %v: want the 5 adopted rows and the 2 added", s.rows.Len, s.frozen)
	}
	rows := 0
	for _, s := range tbl.segs {
		for _, x := range s.rows.Cols[0].Ints[:s.rows.Len] {
			rows++
			if x != int64(rows) {
				t.Fatalf("row %d is %d", rows, x)
			}
		}
	}
	if rows != int(next) {
		t.Errorf("%d rows, want %d", rows, next)
	}
}

// TestAdoptSmallLean: a chunk the caller gives up under half a segment
// that fills at least half its vectors is the pending segment as it is
// (the Change hands the observer its vectors), then copied into the
// table's last segment; one with more room to spare is copied into a
// pending segment, so the views do not keep its spare capacity. Rows added after it in the transaction, and
// rows deleted again, come out right.
func TestAdoptSmallLean(t *testing.T) {
	defer func(n int) { segRows = n }(segRows)
	segRows = 8
	db, rec, tbl := openRecorded(t)
	defer db.Close()
	chunk := intRange
	commit := func(fn func(tx *Txn) error) Change {
		t.Helper()
		return rec.commitOne(t, db, fn)
	}

	lean := chunk(1, 3, 3)
	if ch := commit(func(tx *Txn) error { return tx.Adopt(tbl, lean) }); ch.Chunks[0].Cols[0] != lean.Cols[0] {
		t.Errorf("a lean chunk of 3 rows was copied into a pending segment: %s", describe(ch))
	}
	if s := tbl.segs[len(tbl.segs)-1]; s.frozen || s.rows.Cols[0] == lean.Cols[0] {
		t.Errorf("a chunk under half a segment became a table segment")
	}
	half := chunk(4, 6, 6) // as a Kafka batch: vectors grown to a power of two
	if ch := commit(func(tx *Txn) error { return tx.Adopt(tbl, half) }); ch.Chunks[0].Cols[0] != half.Cols[0] {
		t.Errorf("a chunk of 3 rows in vectors of 6 was copied into a pending segment: %s", describe(ch))
	}
	loose := chunk(7, 8, 8)
	if ch := commit(func(tx *Txn) error { return tx.Adopt(tbl, loose) }); ch.Chunks[0].Cols[0] == loose.Cols[0] {
		t.Errorf("a chunk of 2 rows in vectors of 8 was kept as the pending segment: %s", describe(ch))
	}
	// A lean chunk, rows added after it (growing it), one deleted again.
	got := describe(commit(func(tx *Txn) error {
		if err := tx.Adopt(tbl, chunk(9, 10, 2)); err != nil {
			return err
		}
		if err := tx.Insert(tbl, chunk(11, 13, 3)); err != nil {
			return err
		}
		return tx.Delete(tbl, []int{-2}) // pending row 1: 10
	}))
	if want := "[9:+1][11:+1 12:+1 13:+1]"; got != want {
		t.Errorf("adopt, insert and delete: %s, want %s", got, want)
	}
	var rows []int64
	for _, s := range tbl.segs {
		rows = append(rows, s.rows.Cols[0].Ints[:s.rows.Len]...)
	}
	if want := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13}; fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Errorf("table rows %v, want %v", rows, want)
	}
}
