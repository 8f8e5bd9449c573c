package engine

import (
	"strings"
	"testing"

	"github.com/sluice-db/sluice/catalog"
	"github.com/sluice-db/sluice/storage"
)

// nextval writes a sequence's record once per sequenceLogAhead values, as
// if they had all been handed out: after a crash (no flush) numbering
// resumes after them, never before a value handed out.
func TestSequenceLogAhead(t *testing.T) {
	db, err := storage.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	def := &catalog.Sequence{OID: catalog.FirstUserID, Name: "s", Start: 10, Increment: 10, Min: 1, Max: 1000, Last: 10}
	stored := func() *catalog.Sequence {
		t.Helper()
		meta, err := db.MetaWithPrefix(catalog.SequenceMetaKey(def.Name))
		if err != nil {
			t.Fatal(err)
		}
		q, err := catalog.DecodeSequence(catalog.SequenceMetaKey(def.Name), meta[catalog.SequenceMetaKey(def.Name)])
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	sq := newSequences(db)
	for want := int64(10); want <= 330; want += 10 {
		v, err := sq.next(def, nil)
		if err != nil || v != want {
			t.Fatalf("nextval: %d, %v; want %d", v, err, want)
		}
		if want == 10 {
			if q := stored(); q.Last != 320 || !q.Called {
				t.Fatalf("record after the first nextval: last %d, called %v", q.Last, q.Called)
			}
		}
	}
	// 330 went past the first 32 values: the record moved on.
	crashed := stored()
	if crashed.Last != 640 || !crashed.Called {
		t.Fatalf("record after 33 values: last %d, called %v", crashed.Last, crashed.Called)
	}
	// A restart after a crash reads the record: it goes on after 640.
	if v, err := newSequences(db).next(crashed, nil); err != nil || v != 650 {
		t.Fatalf("nextval after a crash: %d, %v", v, err)
	}
	if q := stored(); q.Last != 960 {
		t.Fatalf("record after the restart's first nextval: last %d", q.Last)
	}

	// Values are logged ahead only up to MAXVALUE.
	small := &catalog.Sequence{OID: catalog.FirstUserID + 1, Name: "small", Start: 10, Increment: 10, Min: 1, Max: 50, Last: 10}
	if _, err := sq.next(small, nil); err != nil {
		t.Fatal(err)
	}
	meta, err := db.MetaWithPrefix(catalog.SequenceMetaKey(small.Name))
	if err != nil {
		t.Fatal(err)
	}
	if q, err := catalog.DecodeSequence(catalog.SequenceMetaKey(small.Name), meta[catalog.SequenceMetaKey(small.Name)]); err != nil || q.Last != 50 {
		t.Fatalf("record of a sequence near MAXVALUE: %+v, %v", q, err)
	}

	// A clean shutdown writes the exact value.
	if err := sq.flush(func(*catalog.Sequence) bool { return true }); err != nil {
		t.Fatal(err)
	}
	if q := stored(); q.Last != 330 || !q.Called {
		t.Fatalf("record after flush: last %d, called %v", q.Last, q.Called)
	}
}

// A ROLLBACK TO SAVEPOINT can undo the record a nextval wrote in the
// transaction that creates the sequence; the next value writes it again,
// so that a crash does not hand out the same values twice.
func TestSequenceLogAheadAfterRollbackTo(t *testing.T) {
	db, err := storage.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	def := &catalog.Sequence{OID: catalog.FirstUserID, Name: "r", Start: 1, Increment: 1, Min: 1, Max: 1000, Last: 1}
	key := catalog.SequenceMetaKey(def.Name)
	sq := newSequences(db)
	txn := db.Begin()
	b, err := def.Encode()
	if err != nil {
		t.Fatal(err)
	}
	txn.PutMeta(key, b)
	sp := txn.Savepoint()
	if v, err := sq.next(def, txn); err != nil || v != 1 {
		t.Fatalf("nextval: %d, %v", v, err)
	}
	txn.RollbackTo(sp)
	sq.unlog(def.OID)
	if err := txn.Commit(); err != nil {
		t.Fatal(err)
	}
	for want := int64(2); want <= 11; want++ {
		if v, err := sq.next(def, nil); err != nil || v != want {
			t.Fatalf("nextval: %d, %v; want %d", v, err, want)
		}
	}
	meta, err := db.MetaWithPrefix(key)
	if err != nil {
		t.Fatal(err)
	}
	q, err := catalog.DecodeSequence(key, meta[key])
	if err != nil {
		t.Fatal(err)
	}
	if !q.Called || q.Last < 11 {
		t.Fatalf("record after 11 values: last %d, called %v: a crash would hand them out again", q.Last, q.Called)
	}
}

// A nextval that resolved a sequence before a DROP SEQUENCE committed does
// not write the dropped sequence's record back.
func TestSequenceDropFence(t *testing.T) {
	db, err := storage.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	def := &catalog.Sequence{OID: catalog.FirstUserID, Name: "f", Start: 1, Increment: 1, Min: 1, Max: 1000, Last: 1}
	key := catalog.SequenceMetaKey(def.Name)
	sq := newSequences(db)
	sq.fence(map[string]*catalog.Sequence{def.Name: def}, true)
	if _, err := sq.next(def, nil); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("nextval of a sequence being dropped: %v", err)
	}
	if meta, err := db.MetaWithPrefix(key); err != nil || len(meta) != 0 {
		t.Fatalf("the dropped sequence's record: %v, %v", meta, err)
	}
	// A drop that failed lifts the fence.
	sq.fence(map[string]*catalog.Sequence{def.Name: def}, false)
	if v, err := sq.next(def, nil); err != nil || v != 1 {
		t.Fatalf("nextval after the drop failed: %d, %v", v, err)
	}
}
