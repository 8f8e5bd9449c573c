package storage

import (
	"maps"
	"slices"
)

// Savepoint is a transaction's state at SAVEPOINT, restored by RollbackTo.
// It copies the transaction's bookkeeping (not its rows: pending rows are only
// appended, so truncating them undoes later inserts).
type Savepoint struct {
	tables    []tableMark
	meta      map[string][]byte
	metaDel   map[string]bool
	metaKs    int
	creates   int
	dropIDs   int
	discarded map[*Table]bool
}

type tableMark struct {
	tt       *txnTable
	nIns     int
	nRowID   int
	insDead  []bool
	pkIns    map[string]int
	del      map[int]bool
	delOrder int
}

// Savepoint records the transaction's current state.
func (tx *Txn) Savepoint() *Savepoint {
	sp := &Savepoint{
		meta:      maps.Clone(tx.meta),
		metaDel:   maps.Clone(tx.metaDel),
		metaKs:    len(tx.metaKs),
		creates:   len(tx.creates),
		dropIDs:   len(tx.dropIDs),
		discarded: maps.Clone(tx.discarded),
	}
	for _, tt := range tx.order {
		sp.tables = append(sp.tables, tableMark{
			tt: tt, nIns: tt.ins.n, nRowID: len(tt.insRowID), insDead: slices.Clone(tt.insDead), pkIns: maps.Clone(tt.pkIns),
			del: maps.Clone(tt.del), delOrder: len(tt.delOrder),
		})
	}
	return sp
}

// RollbackTo undoes everything the transaction did after sp.
func (tx *Txn) RollbackTo(sp *Savepoint) {
	keep := map[*txnTable]bool{}
	for i := range sp.tables {
		m := &sp.tables[i]
		tt := m.tt
		keep[tt] = true
		tt.ins.truncate(m.nIns)
		if m.nRowID == 0 {
			tt.insRowID = nil // the rows that kept a rowID all came later
		} else {
			tt.insRowID = tt.insRowID[:m.nIns:m.nIns]
		}
		if tt.insKey != nil {
			tt.insKey = tt.insKey[:m.nIns:m.nIns]
		}
		tt.insDead = m.insDead
		tt.pkIns = m.pkIns
		tt.del = m.del
		tt.delOrder = tt.delOrder[:m.delOrder:m.delOrder]
		// Restore the clones' independence for a second rollback to sp.
		m.insDead, m.pkIns, m.del = slices.Clone(m.insDead), maps.Clone(m.pkIns), maps.Clone(m.del)
	}
	order := tx.order[:0]
	for _, tt := range tx.order {
		if keep[tt] {
			order = append(order, tt)
		} else {
			delete(tx.tables, tt.t)
		}
	}
	tx.order = order
	tx.meta, tx.metaDel = maps.Clone(sp.meta), maps.Clone(sp.metaDel)
	tx.metaKs = tx.metaKs[:sp.metaKs:sp.metaKs]
	tx.creates = tx.creates[:sp.creates:sp.creates]
	tx.dropIDs = tx.dropIDs[:sp.dropIDs:sp.dropIDs]
	tx.discarded = maps.Clone(sp.discarded)
}
