package storage

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/cockroachdb/pebble/v2"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// TableInfo describes a table to storage. ColNames and Name are used in error
// messages; PK holds the column ordinals of the primary key (empty: none).
// AppendOnly tables (streams) take inserts only; their rows are kept in a
// history log instead of Pebble, and only the newest of them in memory
// (see historylog.go and Table.evictHistory).
type TableInfo struct {
	ID         uint32
	Name       string
	ColNames   []string
	Types      []*types.T
	PK         []int
	AppendOnly bool
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
	if info.AppendOnly && len(info.PK) > 0 {
		return sqlerr.Bug("storage: append-only table %q has a primary key", info.Name)
	}
	return nil
}

// Table is the in-memory columnar copy of one table.
//
// Positions index the rows, in segments (see segment). A position is
// written once (append-only) and never changes; deleting marks it dead, and
// UPDATE appends the new version of a row at a new position (keeping its
// Pebble rowID).
type Table struct {
	db   *DB
	info TableInfo

	mu sync.RWMutex
	// The fields below change only in a commit, under db.commitMu and mu.
	segs      []*segment // in position order; only the last may grow
	n         int        // positions
	dead      []uint64   // bitmap over positions
	pk        *pkIndex   // primary-key index key -> live position; nil without PK
	live      int
	nextRowID uint64
	dropped   bool
	// watermark is the committed event-time watermark (see
	// Txn.AdvanceWatermark), NoWatermark if none.
	watermark int64
	// runs are the rows stored in Pebble as runs (rowFormatRun), in
	// position order. Only commits (under db.commitMu) and load use it.
	runs []runSpan
	// evicted is the number of leading segments whose rows are in the
	// history log only (append-only tables; see evictHistory).
	evicted int
	// hist is an append-only table's history log, nil until its first
	// rows. Set under db.commitMu and mu by the commit of those (and reset
	// if it fails); readers of evicted segments read it without a lock,
	// as no segment exists before it is set.
	hist *historyLog
}

// runSpan is a run value in Pebble: the rows at positions [pos, pos+n),
// rowIDs [id, id+n), under the key of id. Every row of a run is live: the
// commit that deletes or updates one rewrites the run's other rows as
// plain row values first (see txnTable.write) and drops the span.
type runSpan struct {
	pos, n int
	id     uint64
}

// runAt returns the index in t.runs of the run holding position pos, or -1.
func (t *Table) runAt(pos int) int {
	i := sort.Search(len(t.runs), func(j int) bool { return t.runs[j].pos > pos }) - 1
	if i < 0 || pos >= t.runs[i].pos+t.runs[i].n {
		return -1
	}
	return i
}

// noteRuns records the runs Commit wrote for new rows appended at pos with
// rowIDs from first on (see runValues).
func (t *Table) noteRuns(pos, n int, first uint64) {
	_ = runValues(n, func(lo, k int) error {
		if k > 1 {
			t.runs = append(t.runs, runSpan{pos: pos + lo, n: k, id: first + uint64(lo)})
		}
		return nil
	})
}

func newTable(db *DB, info TableInfo) *Table {
	t := &Table{db: db, info: info, nextRowID: 1, watermark: NoWatermark}
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
// a committed position (or its evicted segment cannot be read back).
// Decimal values point into the table: do not modify.
func (t *Table) Get(pos int) []types.Datum {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if pos < 0 || pos >= t.n {
		return nil
	}
	s, off := t.segOf(pos)
	if s.evicted {
		rows, err := t.readSegment(t.info.Types, s)
		if err != nil {
			return nil
		}
		return rows.Row(off)
	}
	return s.rows.Row(off)
}

// keyAt returns the primary-key index key of committed position pos.
// Caller holds t.mu or db.commitMu.
func (t *Table) keyAt(buf []byte, pos int) ([]byte, string) {
	s, off := t.segOf(pos)
	return rowKeyString(buf, s.rows.Cols, t.info.PK, off)
}

// isDead reports whether pos's bit is set (bits past the end of bm are
// not: an append-only table's bitmap stays empty).
func isDead(bm []uint64, pos int) bool {
	return pos>>6 < len(bm) && bm[pos>>6]&(1<<(pos&63)) != 0
}
func setDead(bm []uint64, pos int) { bm[pos>>6] |= 1 << (pos & 63) }

// rangeClean reports whether positions [lo, hi) have no dead bit (bits past
// the end of bm are never set).
func rangeClean(bm []uint64, lo, hi int) bool {
	for lo < hi {
		w := lo >> 6
		if w >= len(bm) {
			return true
		}
		n := min(64-lo&63, hi-lo)
		word := bm[w] >> (lo & 63)
		if n < 64 {
			word &= 1<<n - 1
		}
		if word != 0 {
			return false
		}
		lo += n
	}
	return true
}

// load reads every row of the table from Pebble (an append-only table's
// from its history log). Called before the table is shared, so it needs no
// lock.
func (t *Table) load() error {
	if t.info.AppendOnly {
		return t.loadHistory()
	}
	lo, hi := tableSpan(t.info.ID)
	it, err := t.db.pe.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return wrapPebble(err)
	}
	defer it.Close()
	var kbuf []byte
	scratch := coldata.NewChunk(t.info.Types, runRows)
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) != 13 {
			return errCorrupt("table %d: bad row key %x", t.info.ID, k)
		}
		rowID := binary.BigEndian.Uint64(k[5:])
		_, n, err := decodeRowValue(it, scratch, t.info.ID, rowID)
		if err != nil {
			return err
		}
		if rowID < t.nextRowID {
			return errCorrupt("table %d row %d: inside the run before it", t.info.ID, rowID)
		}
		scratch.Len = n
		pos := t.n
		t.appendRows(scratch, rowID, nil)
		t.evictHistory()
		if n > 1 {
			t.runs = append(t.runs, runSpan{pos: pos, n: n, id: rowID})
		}
		if t.pk != nil {
			for i := range n {
				var key string
				kbuf, key = rowKeyString(kbuf, scratch.Cols, t.info.PK, i)
				if _, dup := t.pk.get(key); dup {
					return errCorrupt("table %d row %d: duplicate primary key", t.info.ID, rowID+uint64(i))
				}
				t.pk.set(key, pos+i)
			}
		}
		t.nextRowID = rowID + uint64(n)
	}
	if err := it.Error(); err != nil {
		return wrapPebble(err)
	}
	t.live = t.n
	return nil
}

// apply installs a committed txn's writes: deletes first, then the new rows,
// their rowIDs assigned from t.nextRowID on as Commit assigned them. Caller
// holds db.commitMu.
func (t *Table) apply(tt *txnTable) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var kbuf []byte
	for _, p := range tt.delOrder {
		setDead(t.dead, p)
		t.live--
		if t.pk != nil {
			var key string
			kbuf, key = t.keyAt(kbuf, p)
			if q, ok := t.pk.get(key); ok && q == p {
				t.pk.del(key)
			}
		}
	}
	if gone := tt.explodedRuns(); len(gone) > 0 {
		// Commit rewrote these runs as plain rows.
		runs := t.runs[:0]
		for i, r := range t.runs {
			if len(gone) > 0 && gone[0] == i {
				gone = gone[1:]
				continue
			}
			runs = append(runs, r)
		}
		t.runs = runs
	}
	// A whole pending segment becomes a table segment as it is (one the
	// caller gave up from half full on); smaller runs are copied, column
	// by column, into the last segment.
	firstNewSeg := len(t.segs)
	ids := rowIDAssigner{tt: tt, next: t.nextRowID}
	_ = tt.liveRuns(func(r pendingRun) error {
		pos := t.n
		first, explicit := ids.take(r)
		if r.whole && explicit == nil && (adoptable(r.rows) || r.given && adoptableGiven(r.rows)) {
			t.adopt(r.rows, first)
		} else {
			t.appendRows(r.rows, first, explicit)
		}
		if explicit == nil && !t.info.AppendOnly {
			t.noteRuns(pos, r.rows.Len, first)
		}
		if t.pk != nil {
			for k := range r.rows.Len {
				t.pk.set(tt.insKey[r.first+k], pos+k)
			}
		}
		t.live += r.rows.Len
		return nil
	})
	t.nextRowID = ids.next
	t.markFrames(firstNewSeg, tt.frames)
	t.evictHistory()
}

// addColumn appends a column of NULLs. Segments get new column slices (the
// old ones may be shared with a commit's Change, which keeps its width).
// Caller holds db.commitMu.
func (t *Table) addColumn(name string, typ *types.T) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.info.Types = append(slices.Clip(t.info.Types), typ)
	if len(t.info.ColNames) > 0 {
		t.info.ColNames = append(slices.Clip(t.info.ColNames), name)
	}
	for _, s := range t.segs[t.evicted:] {
		v := coldata.MakeVec(typ, s.rows.Len)
		v.Nulls = make([]bool, s.rows.Len)
		for i := range v.Nulls {
			v.Nulls[i] = true
		}
		s.rows.Cols = append(slices.Clip(s.rows.Cols), v)
	}
}

// decodeRowValue decodes the value under it, the row or run of rows from
// rowID on of table id, into scratch's vectors (emptied first), and
// returns the value and how many rows it holds.
func decodeRowValue(it *pebble.Iterator, scratch *coldata.Chunk, id uint32, rowID uint64) ([]byte, int, error) {
	v, err := it.ValueAndErr()
	if err != nil {
		return nil, 0, wrapPebble(err)
	}
	scratch.Reset()
	n, err := decodeInto(v, scratch.Cols)
	if err != nil {
		return nil, 0, errCorrupt("table %d row %d: %v", id, rowID, err)
	}
	return v, n, nil
}
