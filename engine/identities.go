package engine

import (
	"sync"

	"github.com/sluice-db/sluice/storage"
)

// identityColumn names an identity column of a table.
type identityColumn struct {
	table uint32
	col   int
}

// identities hands out identity column values (expr.Identities). There are
// no sequence objects: a column's next value lives in memory, starting after
// the largest value stored in the column when first asked for. Values taken
// by a transaction that rolls back are not handed out again while the
// server runs; after a restart numbering goes on after the largest value
// stored, so values above it that only rolled back or deleted rows used may
// come back.
type identities struct {
	db   *storage.DB
	mu   sync.Mutex
	next map[identityColumn]int64
}

func newIdentities(db *storage.DB) *identities {
	return &identities{db: db, next: map[identityColumn]int64{}}
}

// Next implements expr.Identities.
func (ids *identities) Next(table uint32, col int, n int) (int64, error) {
	ids.mu.Lock()
	defer ids.mu.Unlock()
	k := identityColumn{table, col}
	next, ok := ids.next[k]
	if !ok {
		max, err := ids.largest(table, col)
		if err != nil {
			return 0, err
		}
		next = max + 1
	}
	ids.next[k] = next + int64(n)
	return next, nil
}

// largest returns the largest committed value of the column (0 when none
// is positive, or the table's creation has not committed yet).
func (ids *identities) largest(table uint32, col int) (int64, error) {
	t, ok := ids.db.Table(table)
	if !ok {
		return 0, nil
	}
	txn := ids.db.Begin()
	defer txn.Rollback()
	scan := txn.Scan(t)
	var max int64
	for {
		ch, _, ok := scan.Next()
		if !ok {
			break
		}
		v := ch.Cols[col]
		for i, x := range v.Ints {
			if x > max && (v.Nulls == nil || !v.Nulls[i]) {
				max = x
			}
		}
	}
	return max, scan.Err()
}

// forget drops the counters of a dropped table.
func (ids *identities) forget(table uint32) {
	ids.mu.Lock()
	defer ids.mu.Unlock()
	for k := range ids.next {
		if k.table == table {
			delete(ids.next, k)
		}
	}
}
