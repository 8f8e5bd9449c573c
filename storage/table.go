package storage

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"sync"

	"github.com/cockroachdb/pebble/v2"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// TableInfo describes a table to storage. ColNames and Name are used in error
// messages; PK holds the column ordinals of the primary key (empty: none).
type TableInfo struct {
	ID       uint32
	Name     string
	ColNames []string
	Types    []*types.T
	PK       []int
}

func (info *TableInfo) validate() error {
	if len(info.ColNames) != 0 && len(info.ColNames) != len(info.Types) {
		return sqlerr.Bug("storage: table %q has %d names for %d columns", info.Name, len(info.ColNames), len(info.Types))
	}
	for i, t := range info.Types {
		if t == nil {
			return sqlerr.Bug("storage: table %q column %d has no type", info.Name, i)
		}
	}
	for _, c := range info.PK {
		if c < 0 || c >= len(info.Types) {
			return sqlerr.Bug("storage: table %q primary key column %d out of range", info.Name, c)
		}
	}
	return nil
}

// Table is the in-memory columnar copy of one table.
//
// Positions index the columns. A position is written once (append-only) and
// never changes; deleting marks it dead, and UPDATE appends the new version of
// a row at a new position (keeping its Pebble rowID).
type Table struct {
	db   *DB
	info TableInfo

	mu sync.RWMutex
	// The fields below change only in a commit, under db.commitMu and mu.
	cols      []*coldata.Vec
	dead      []uint64 // bitmap over positions
	rowIDs    []uint64 // position -> Pebble rowID
	pk        *pkIndex // primary-key index key -> live position; nil without PK
	live      int
	nextRowID uint64
	dropped   bool
}

func newTable(db *DB, info TableInfo) *Table {
	t := &Table{db: db, info: info, nextRowID: 1}
	t.cols = make([]*coldata.Vec, len(info.Types))
	for i, typ := range info.Types {
		t.cols[i] = coldata.NewVec(typ, 0)
	}
	if len(info.PK) > 0 {
		t.pk = newPKIndex(len(info.PK) == 1 && info.Types[info.PK[0]].Phys() == types.PhysInt)
	}
	return t
}

// Info returns the table's description.
func (t *Table) Info() TableInfo { return t.info }

func (t *Table) colName(c int) string {
	if c < len(t.info.ColNames) {
		return t.info.ColNames[c]
	}
	return fmt.Sprintf("column%d", c+1)
}

// Len returns the number of live (committed) rows.
func (t *Table) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.live
}

// Get returns the committed row at pos (dead or not), or nil when pos is not
// a committed position. Decimal values point into the table: do not modify.
func (t *Table) Get(pos int) []types.Datum {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if pos < 0 || pos >= len(t.rowIDs) {
		return nil
	}
	row := make([]types.Datum, len(t.cols))
	for c, v := range t.cols {
		row[c] = v.Get(pos)
	}
	return row
}

func isDead(bm []uint64, pos int) bool { return bm[pos>>6]&(1<<(pos&63)) != 0 }
func setDead(bm []uint64, pos int)     { bm[pos>>6] |= 1 << (pos & 63) }

// blockClean reports whether positions [lo, lo+1024) have no dead bit
// (lo is a multiple of 1024; bits past the end are never set).
func blockClean(bm []uint64, lo int) bool {
	w := lo >> 6
	for i := w; i < w+blockSize/64 && i < len(bm); i++ {
		if bm[i] != 0 {
			return false
		}
	}
	return true
}

// countDead returns the number of dead bits.
func countDead(bm []uint64) int {
	n := 0
	for _, w := range bm {
		n += bits.OnesCount64(w)
	}
	return n
}

// load reads every row of the table from Pebble. Called before the table is
// shared, so it needs no lock.
func (t *Table) load() error {
	lo, hi := tableSpan(t.info.ID)
	it, err := t.db.pe.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return wrapPebble(err)
	}
	defer it.Close()
	var kbuf []byte
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) != 13 {
			return errCorrupt("table %d: bad row key %x", t.info.ID, k)
		}
		rowID := binary.BigEndian.Uint64(k[5:])
		v, err := it.ValueAndErr()
		if err != nil {
			return wrapPebble(err)
		}
		if err := decodeRowInto(v, t.cols); err != nil {
			return errCorrupt("table %d row %d: %v", t.info.ID, rowID, err)
		}
		pos := len(t.rowIDs)
		t.rowIDs = append(t.rowIDs, rowID)
		if t.pk != nil {
			var key string
			kbuf, key = rowKeyString(kbuf, t.cols, t.info.PK, pos)
			if _, dup := t.pk.get(key); dup {
				return errCorrupt("table %d row %d: duplicate primary key", t.info.ID, rowID)
			}
			t.pk.set(key, pos)
		}
		t.nextRowID = rowID + 1
	}
	if err := it.Error(); err != nil {
		return wrapPebble(err)
	}
	t.live = len(t.rowIDs)
	t.dead = make([]uint64, (len(t.rowIDs)+63)/64)
	return nil
}

// apply installs a committed txn's writes: deletes first, then the new rows
// with their rowIDs. Caller holds db.commitMu.
func (t *Table) apply(tt *txnTable, rowIDs []uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var kbuf []byte
	for _, p := range tt.delOrder {
		setDead(t.dead, p)
		t.live--
		if t.pk != nil {
			var key string
			kbuf, key = rowKeyString(kbuf, t.cols, t.info.PK, p)
			if q, ok := t.pk.get(key); ok && q == p {
				t.pk.del(key)
			}
		}
	}
	// Append runs of live pending rows column by column, not row by row,
	// into columns grown by doubling (a stream takes many commits).
	for _, v := range t.cols {
		v.Grow(tt.ins.Len)
	}
	t.rowIDs = coldata.Reserve(t.rowIDs, tt.ins.Len)
	tt.liveRuns(func(run *coldata.Chunk) {
		for c, v := range t.cols {
			v.AppendVec(run.Cols[c], run.Len)
		}
	})
	for i := 0; i < tt.ins.Len; i++ {
		if tt.insDead[i] {
			continue
		}
		pos := len(t.rowIDs)
		t.rowIDs = append(t.rowIDs, rowIDs[i])
		if pos>>6 >= len(t.dead) {
			t.dead = append(t.dead, 0)
		}
		if t.pk != nil {
			t.pk.set(tt.insKey[i], pos)
		}
		t.live++
	}
}
