package storage

import (
	"encoding/binary"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// Txn buffers writes until Commit. Reads through a Txn see the latest
// committed state plus the Txn's own writes. A read-only Txn (no writes)
// commits trivially; Rollback discards everything.
type Txn struct {
	db      *DB
	done    bool
	tables  map[*Table]*txnTable
	order   []*txnTable // tables in first-write order, for deterministic commits
	meta    map[string][]byte
	metaDel map[string]bool
	metaKs  []string // meta keys in first-write order
	creates []*Table
	dropIDs []uint32
	// discarded holds tables created and then dropped by this txn.
	discarded map[*Table]bool
	// addCols are columns added to existing tables at commit.
	addCols []addedColumn
	// watermarks are the watermarks the txn advances (AdvanceWatermark).
	watermarks map[*Table]int64
	// timing is how long Commit waited for its group and the group took.
	timing CommitTiming
	// divisible marks the txn's changes Divisible.
	divisible bool
}

// CommitTiming is how long a commit waited for its group to start (behind
// other groups) and then how long its group held the commit lock:
// validating, encoding, syncing and applying its commits.
type CommitTiming struct {
	Wait, Hold time.Duration
}

// Timing returns the commit's timing once Commit has returned; zero for a
// commit that wrote nothing.
func (tx *Txn) Timing() CommitTiming { return tx.timing }

// SetDivisible lets readers be shown the txn's rows in parts (Change's
// Divisible): a source's delivery, which no statement made.
func (tx *Txn) SetDivisible() { tx.divisible = true }

// addedColumn is a column ALTER … ADD COLUMN appends to a table.
type addedColumn struct {
	t    *Table
	name string
	typ  *types.T
}

// AddColumn appends a column to t when txn commits; existing rows read it
// as NULL (stored rows are not rewritten: a row value with fewer columns
// than its table decodes the rest as NULL). The transaction may not write
// rows to t: its pending rows would have the old width.
func (tx *Txn) AddColumn(t *Table, name string, typ *types.T) error {
	if tx.done {
		return errTxnDone()
	}
	if tt := tx.tables[t]; tt != nil {
		return sqlerr.Bug("storage: ADD COLUMN to table %q after writing to it in the same transaction", t.info.Name)
	}
	tx.addCols = append(tx.addCols, addedColumn{t: t, name: name, typ: typ})
	return nil
}

// txnTable holds one transaction's pending writes to one table.
//
// Pending rows live in ins; a pending row i is addressed by position -(i+1).
// The per-row bookkeeping beside them is allocated only when a row needs
// it, so that a COPY into a stream (no primary key, no UPDATE) keeps
// nothing per row but the row.
type txnTable struct {
	t   *Table
	ins pendingRows
	// insRowID is nil while every pending row is new; else, per pending
	// row, the rowID kept from the committed row it updates (0 = new row).
	insRowID []uint64
	insKey   []string // per pending row, the primary-key index key; nil without PK
	// insDead is nil while no pending row is dead; else, per pending row,
	// whether it was deleted or updated again within the txn.
	insDead  []bool
	pkIns    map[string]int
	del      map[int]bool // committed positions deleted (or updated) by this txn
	delOrder []int
	// frames are the history-log frames Commit wrote the rows of an
	// append-only table as (see appendHistory), for apply.
	frames []frameMark
}

func (tt *txnTable) dead(i int) bool { return tt.insDead != nil && tt.insDead[i] }

// pendingRun is a run of consecutive live pending rows within one segment.
type pendingRun struct {
	rows  *coldata.Chunk // the rows (a view, or the whole segment)
	first int            // pending index of the first row
	whole bool           // rows is a whole pending segment, not a view of one
	given bool           // the segment is a chunk the caller gave up (Txn.Adopt)
}

// liveRuns calls fn with each run of consecutive pending inserts that are
// still live (not deleted again by the same transaction), in order.
func (tt *txnTable) liveRuns(fn func(r pendingRun) error) error {
	for s, seg := range tt.ins.segs {
		base := s * segRows
		for lo := 0; lo < seg.Len; {
			if tt.dead(base + lo) {
				lo++
				continue
			}
			hi := lo + 1
			for hi < seg.Len && !tt.dead(base+hi) {
				hi++
			}
			r := pendingRun{rows: seg, first: base + lo, whole: lo == 0 && hi == seg.Len, given: tt.ins.given[s]}
			if !r.whole {
				r.rows = seg.Slice(lo, hi)
			}
			if err := fn(r); err != nil {
				return err
			}
			lo = hi
		}
	}
	return nil
}

// rowIDAssigner gives the live pending rows, run after run, their rowIDs:
// the one an UPDATE keeps, or the next new one. Commit and apply walk the
// runs in the same order from the same next, so they agree.
type rowIDAssigner struct {
	tt   *txnTable
	next uint64
}

// take returns the rowIDs of r's rows: first, first+1, ... when explicit is
// nil, else explicit.
func (a *rowIDAssigner) take(r pendingRun) (first uint64, explicit []uint64) {
	if a.tt.insRowID == nil {
		first = a.next
		a.next += uint64(r.rows.Len)
		return first, nil
	}
	explicit = make([]uint64, r.rows.Len)
	for k := range explicit {
		if id := a.tt.insRowID[r.first+k]; id != 0 {
			explicit[k] = id
		} else {
			explicit[k], a.next = a.next, a.next+1
		}
	}
	return 0, explicit
}

// Begin starts a transaction.
func (db *DB) Begin() *Txn {
	return &Txn{db: db}
}

func (tx *Txn) table(t *Table) *txnTable {
	if tt, ok := tx.tables[t]; ok {
		return tt
	}
	if tx.tables == nil {
		tx.tables = map[*Table]*txnTable{}
	}
	tt := &txnTable{t: t, ins: pendingRows{types: t.info.Types}, del: map[int]bool{}}
	if t.pk != nil {
		tt.pkIns = map[string]int{}
	}
	tx.tables[t] = tt
	tx.order = append(tx.order, tt)
	return tt
}

func (tx *Txn) drops(id uint32) bool {
	for _, d := range tx.dropIDs {
		if d == id {
			return true
		}
	}
	return false
}

// PutMeta sets meta record key to val at commit.
func (tx *Txn) PutMeta(key string, val []byte) {
	tx.noteMeta(key)
	tx.meta[key] = append([]byte(nil), val...)
	delete(tx.metaDel, key)
}

// DeleteMeta removes meta record key at commit.
func (tx *Txn) DeleteMeta(key string) {
	tx.noteMeta(key)
	delete(tx.meta, key)
	tx.metaDel[key] = true
}

func (tx *Txn) noteMeta(key string) {
	if tx.meta == nil {
		tx.meta, tx.metaDel = map[string][]byte{}, map[string]bool{}
	}
	if _, ok := tx.meta[key]; !ok && !tx.metaDel[key] {
		tx.metaKs = append(tx.metaKs, key)
	}
}

// keyOverlay answers "is this primary key present?" while a statement's rows
// are validated one by one, before any of them is applied.
type keyOverlay struct {
	tt      *txnTable
	added   map[string]bool
	removed map[string]bool
}

func (o *keyOverlay) present(k string) (bool, error) {
	if o.added[k] {
		return true, nil
	}
	if o.removed[k] {
		return false, nil
	}
	if _, ok := o.tt.pkIns[k]; ok {
		return true, nil
	}
	t := o.tt.t
	t.mu.RLock()
	p, ok := t.pk.get(k)
	t.mu.RUnlock()
	return ok && !o.tt.del[p], nil
}

func (o *keyOverlay) add(k string)    { o.added[k] = true; delete(o.removed, k) }
func (o *keyOverlay) remove(k string) { o.removed[k] = true; delete(o.added, k) }

// Insert adds rows (columns in table order). It fails with 23505 if a primary
// key already exists, committed or written by this txn; on error nothing of
// rows is inserted. NOT NULL and other constraints are the engine's job.
func (tx *Txn) Insert(t *Table, rows *coldata.Chunk) error { return tx.insert(t, rows, false) }

// Adopt is Insert of a chunk the caller gives up, as a source gives up each
// batch it read: the transaction may keep rows itself instead of a copy, so
// the caller must not change it afterwards.
func (tx *Txn) Adopt(t *Table, rows *coldata.Chunk) error { return tx.insert(t, rows, true) }

func (tx *Txn) insert(t *Table, rows *coldata.Chunk, adopt bool) error {
	if tx.done {
		return errTxnDone()
	}
	if len(rows.Cols) != len(t.info.Types) {
		return sqlerr.Bug("storage: insert of %d columns into table %q with %d", len(rows.Cols), t.info.Name, len(t.info.Types))
	}
	tt := tx.table(t)
	keys, err := tt.checkKeys(rows, nil)
	if err != nil {
		return err
	}
	base := tt.ins.n
	if adopt {
		tt.ins.adopt(rows)
	} else {
		tt.ins.add(rows, 0, rows.Len)
	}
	if tt.insRowID != nil {
		tt.insRowID = append(tt.insRowID, make([]uint64, rows.Len)...)
	}
	if tt.insDead != nil {
		tt.insDead = append(tt.insDead, make([]bool, rows.Len)...)
	}
	if keys != nil {
		tt.insKey = append(tt.insKey, keys...)
		for i, k := range keys {
			tt.pkIns[k] = base + i
		}
	}
	return nil
}

// checkKeys computes the PK keys of rows and validates them row by row, as
// Postgres' non-deferred unique index does; oldKeys[i], when set, is the key
// that row i replaces (UPDATE).
func (tt *txnTable) checkKeys(rows *coldata.Chunk, oldKeys []string) ([]string, error) {
	t := tt.t
	if t.pk == nil {
		return nil, nil
	}
	keys := make([]string, rows.Len)
	o := keyOverlay{tt: tt, added: map[string]bool{}, removed: map[string]bool{}}
	var buf []byte
	for i := 0; i < rows.Len; i++ {
		buf, keys[i] = rowKeyString(buf, rows.Cols, t.info.PK, i)
		if oldKeys != nil && oldKeys[i] != "" {
			o.remove(oldKeys[i])
		}
		if dup, err := o.present(keys[i]); err != nil {
			return nil, err
		} else if dup {
			return nil, errDuplicateKey(t, pkDatums(t, rows.Cols, i))
		}
		o.add(keys[i])
	}
	return keys, nil
}

func pkDatums(t *Table, cols []*coldata.Vec, i int) []types.Datum {
	out := make([]types.Datum, len(t.info.PK))
	for j, c := range t.info.PK {
		out[j] = cols[c].Get(i)
	}
	return out
}

func (tt *txnTable) appendRow(rows *coldata.Chunk, i int, rowID uint64, keys []string) {
	n := tt.ins.n
	tt.ins.add(rows, i, i+1)
	if rowID != 0 && tt.insRowID == nil {
		tt.insRowID = make([]uint64, n, n+1)
	}
	if tt.insRowID != nil {
		tt.insRowID = append(tt.insRowID, rowID)
	}
	if tt.insDead != nil {
		tt.insDead = append(tt.insDead, false)
	}
	if keys != nil {
		tt.pkIns[keys[i]] = n
		tt.insKey = append(tt.insKey, keys[i])
	}
}

// checkPos validates a position from a scan and reports whether the row is
// still live for this txn (false: already deleted by this txn).
func (tt *txnTable) checkPos(pos int) (bool, error) {
	t := tt.t
	if pos < 0 {
		i := -pos - 1
		if i >= tt.ins.n {
			return false, sqlerr.Bug("storage: pending position %d out of range in %q", pos, t.info.Name)
		}
		return !tt.dead(i), nil
	}
	if tt.del[pos] {
		return false, nil
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	if pos >= t.n {
		return false, sqlerr.Bug("storage: position %d out of range in %q", pos, t.info.Name)
	}
	if isDead(t.dead, pos) {
		return false, errConcurrentUpdate()
	}
	return true, nil
}

// kill deletes position pos for this txn and returns the rowID to keep for a
// new version of the row (0 for a pending row without one) and its old key.
func (tt *txnTable) kill(pos int) (rowID uint64, oldKey string) {
	t := tt.t
	if pos < 0 {
		i := -pos - 1
		if tt.insDead == nil {
			tt.insDead = make([]bool, tt.ins.n)
		}
		tt.insDead[i] = true
		if tt.insKey != nil {
			oldKey = tt.insKey[i]
			delete(tt.pkIns, oldKey)
		}
		if tt.insRowID != nil {
			rowID = tt.insRowID[i]
		}
		return rowID, oldKey
	}
	tt.del[pos] = true
	tt.delOrder = append(tt.delOrder, pos)
	t.mu.RLock()
	rowID = t.rowID(pos)
	if t.pk != nil {
		_, oldKey = t.keyAt(nil, pos)
	}
	t.mu.RUnlock()
	return rowID, oldKey
}

// Delete removes the rows at positions (as returned by Scan or Lookup).
// Positions already deleted by this txn are ignored; a row deleted by a
// transaction that committed meanwhile fails with 40001.
func (tx *Txn) Delete(t *Table, positions []int) error {
	if tx.done {
		return errTxnDone()
	}
	if t.info.AppendOnly && slices.ContainsFunc(positions, func(p int) bool { return p >= 0 }) {
		return errAppendOnly(t)
	}
	tt := tx.table(t)
	for _, p := range positions {
		if _, err := tt.checkPos(p); err != nil {
			return err
		}
	}
	for _, p := range positions {
		if ok, _ := tt.checkPos(p); ok {
			tt.kill(p)
		}
	}
	return nil
}

// Update replaces the row at positions[i] by row i of newRows. The new version
// keeps the row's Pebble rowID. Keys are checked row by row like Postgres
// (so UPDATE t SET id = id + 1 can fail on ordering); on error nothing of the
// statement is applied.
func (tx *Txn) Update(t *Table, positions []int, newRows *coldata.Chunk) error {
	if tx.done {
		return errTxnDone()
	}
	if t.info.AppendOnly && slices.ContainsFunc(positions, func(p int) bool { return p >= 0 }) {
		return errAppendOnly(t)
	}
	if newRows.Len != len(positions) || len(newRows.Cols) != len(t.info.Types) {
		return sqlerr.Bug("storage: update of %d positions with %d rows", len(positions), newRows.Len)
	}
	tt := tx.table(t)
	var sel []int
	var oldKeys []string
	seen := map[int]bool{}
	for i, p := range positions {
		ok, err := tt.checkPos(p)
		if err != nil {
			return err
		}
		if !ok || seen[p] {
			continue // already updated or deleted by this txn: no-op, as in Postgres
		}
		seen[p] = true
		sel = append(sel, i)
		if t.pk != nil {
			oldKeys = append(oldKeys, tt.oldKey(p))
		}
	}
	rows := newRows
	if len(sel) != newRows.Len {
		rows = newRows.Gather(sel)
	}
	keys, err := tt.checkKeys(rows, oldKeys)
	if err != nil {
		return err
	}
	for j, i := range sel {
		rowID, _ := tt.kill(positions[i])
		tt.appendRow(rows, j, rowID, keys)
	}
	return nil
}

func (tt *txnTable) oldKey(pos int) string {
	if pos < 0 {
		return tt.insKey[-pos-1]
	}
	t := tt.t
	t.mu.RLock()
	defer t.mu.RUnlock()
	_, k := t.keyAt(nil, pos)
	return k
}

// Lookup finds the live row with the given primary key, seeing this txn's own
// writes. It reports not found for tables without a primary key.
func (tx *Txn) Lookup(t *Table, pkKey []types.Datum) (row []types.Datum, pos int, found bool) {
	if t.pk == nil || len(pkKey) != len(t.info.PK) {
		return nil, 0, false
	}
	var buf []byte
	for i, c := range t.info.PK {
		buf = types.AppendKey(buf, t.info.Types[c], pkKey[i])
	}
	tt := tx.tables[t]
	if tt != nil {
		if i, ok := tt.pkIns[string(buf)]; ok {
			c, off := tt.ins.at(i)
			return c.Row(off), -(i + 1), true
		}
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	p, ok := t.pk.get(string(buf))
	if !ok || (tt != nil && tt.del[p]) {
		return nil, 0, false
	}
	seg, off := t.segOf(p)
	return seg.rows.Row(off), p, true
}

// Rollback discards the transaction's writes.
func (tx *Txn) Rollback() {
	tx.done = true
	tx.tables, tx.order, tx.creates, tx.dropIDs, tx.meta, tx.addCols, tx.watermarks = nil, nil, nil, nil, nil, nil, nil
}

func (tx *Txn) hasWrites() bool {
	if len(tx.creates) > 0 || len(tx.dropIDs) > 0 || len(tx.metaKs) > 0 || len(tx.addCols) > 0 || len(tx.watermarks) > 0 {
		return true
	}
	for _, tt := range tx.order {
		if len(tt.delOrder) > 0 || tt.ins.n > 0 {
			return true
		}
	}
	return false
}

// insertRecordOverhead is what a batch record adds to a value: the kind
// byte, the key and the two lengths.
const insertRecordOverhead = 1 + 1 + rowKeyLen + binary.MaxVarintLen32

// Commit validates the transaction against everything committed since it
// began (23505 for primary-key races, 40001 for write-write conflicts),
// appends the rows of append-only tables to their history logs and syncs
// them, writes one synced Pebble batch (the rest, and the logs' new
// lengths), and then applies the writes to memory. Concurrent commits are
// grouped, sharing the syncs (see commitGroup).
func (tx *Txn) Commit() error {
	if tx.done {
		return errTxnDone()
	}
	tx.done = true
	if !tx.hasWrites() {
		return nil
	}
	return tx.db.commit(tx)
}

// skips returns whether a table's writes are moot: the txn drops it (or
// created and dropped it).
func (tx *Txn) skips() func(*Table) bool {
	dropped := map[uint32]bool{}
	for _, id := range tx.dropIDs {
		dropped[id] = true
	}
	created := map[*Table]bool{}
	for _, t := range tx.creates {
		created[t] = true
	}
	return func(t *Table) bool { return tx.discarded[t] || (!created[t] && dropped[t.info.ID]) }
}

// validate checks the txn against the committed state. In a group of
// commits, the commits before it touch none of the tables it validates
// against (see groupFootprint). Caller holds db.commitMu, so the table
// state read here cannot move under us.
func (tx *Txn) validate(skip func(*Table) bool) error {
	db := tx.db
	for _, t := range tx.creates {
		if _, exists := db.tables[t.info.ID]; exists && !tx.drops(t.info.ID) {
			return errConcurrentUpdate() // another txn created the same id first
		}
	}
	for _, tt := range tx.order {
		t := tt.t
		if skip(t) {
			continue
		}
		if t.dropped || (!slices.Contains(tx.creates, t) && db.tables[t.info.ID] != t) {
			return errDropped(t)
		}
		if len(tt.ins.types) != len(t.info.Types) {
			return errConcurrentUpdate() // a column was added since the rows were written
		}
		for _, p := range tt.delOrder {
			if isDead(t.dead, p) {
				return errConcurrentUpdate()
			}
		}
		if t.pk != nil {
			for i, k := range tt.insKey {
				if tt.dead(i) {
					continue
				}
				if p, ok := t.pk.get(k); ok && !tt.del[p] {
					c, off := tt.ins.at(i)
					return errDuplicateKey(t, pkDatums(t, c.Cols, off))
				}
			}
		}
	}
	for _, ac := range tx.addCols {
		if ac.t.dropped || db.tables[ac.t.info.ID] != ac.t {
			return errDropped(ac.t)
		}
	}
	return nil
}

// prepare validates c's txn and writes it out, unsynced: its Pebble batch
// (rows of tables with a key, watermarks, meta records, history lengths)
// and its streams' history frames after those of the group's commits
// before it (tails, which it advances). Its watermarks count as raised
// for the commits after it (wms). Caller holds db.commitMu.
func (c *queuedCommit) prepare(tails map[*Table]historyTail, wms map[*Table]int64) error {
	tx := c.tx
	db := tx.db
	skip := tx.skips()
	if err := tx.validate(skip); err != nil {
		return err
	}
	// Size the batch for the inserted rows up front: a large COPY would
	// otherwise grow it by doubling, copying it about once more in all.
	size := 0
	for _, tt := range tx.order {
		if !skip(tt.t) && !tt.t.info.AppendOnly {
			size += tt.batchSize()
		}
	}
	b := db.pe.NewBatchWithSize(size)
	prepared := false
	defer func() {
		if !prepared {
			b.Close()
		}
	}()
	for _, id := range tx.dropIDs {
		if err := deleteTableData(b, id); err != nil {
			return err
		}
	}
	for _, t := range tx.creates {
		if err := deleteTableData(b, t.info.ID); err != nil {
			return err
		}
	}
	var w rowWriter
	for _, tt := range tx.order {
		if !skip(tt.t) && !tt.t.info.AppendOnly { // see appendHistory
			if err := tt.write(b, &w); err != nil {
				return err
			}
		}
	}
	watermarks := tx.advancedWatermarks(skip, wms)
	if err := writeWatermarks(b, watermarks); err != nil {
		return err
	}
	for _, k := range tx.metaKs {
		var err error
		if tx.metaDel[k] {
			err = b.Delete(metaKey(k), nil)
		} else {
			err = b.Set(metaKey(k), tx.meta[k], nil)
		}
		if err != nil {
			return wrapPebble(err)
		}
	}
	// The rows of append-only tables go to their history logs, synced
	// before the batch that records their new lengths commits.
	appends, err := tx.appendHistory(b, skip, tails)
	if err != nil {
		db.abandonHistory(appends)
		return err
	}
	for _, a := range appends {
		tails[a.t] = historyTail{r: a.r, n: a.n}
	}
	for _, tw := range watermarks {
		wms[tw.t] = tw.w
	}
	c.b, c.skip, c.appends, c.watermarks = b, skip, appends, watermarks
	prepared = true
	return nil
}

// publish makes a durable commit visible: the tables it creates, drops
// and adds columns to, its watermarks and rows, and its changes to the
// observer. Caller holds db.commitMu and publishes the commits of a group
// in their order.
func (c *queuedCommit) publish() {
	tx, skip := c.tx, c.skip
	db := tx.db
	db.tablesMu.Lock()
	for _, id := range tx.dropIDs {
		if t, ok := db.tables[id]; ok {
			t.mu.Lock()
			t.dropped = true
			t.mu.Unlock()
			delete(db.tables, id)
			if t.hist != nil {
				db.removeHistoryLog(t.hist)
			}
		}
	}
	for _, t := range tx.creates {
		db.tables[t.info.ID] = t
	}
	db.tablesMu.Unlock()
	for _, ac := range tx.addCols {
		ac.t.addColumn(ac.name, ac.typ)
	}
	for _, tw := range c.watermarks {
		tw.t.mu.Lock()
		tw.t.watermark = tw.w
		tw.t.mu.Unlock()
	}
	var changes []Change
	for _, tt := range tx.order {
		if skip(tt.t) {
			continue
		}
		if db.observer != nil && db.observer.Wants(tt.t.info.ID) {
			ch := db.changeOf(tt)
			tt.t.apply(tt)
			ch.Positions, ch.Divisible = tt.t.n, tx.divisible
			changes = append(changes, ch)
			continue
		}
		tt.t.apply(tt)
	}
	for _, tw := range c.watermarks {
		if tx.tables[tw.t] == nil && db.observer != nil && db.observer.Wants(tw.t.info.ID) {
			changes = append(changes, Change{TableID: tw.t.info.ID, Watermark: tw.w, Positions: tw.t.n})
		}
	}
	if len(changes) > 0 {
		db.observer.Committed(changes)
	}
}

// rowWriter holds the buffers of the keys and values a commit writes.
type rowWriter struct{ key, val []byte }

// set puts the value in w.val under the key of row id of table t.
func (w *rowWriter) set(b *pebble.Batch, t *Table, id uint64) error {
	w.key = rowKey(w.key[:0], t.info.ID, id)
	return wrapPebble(b.Set(w.key, w.val, nil))
}

func (w *rowWriter) del(b *pebble.Batch, t *Table, id uint64) error {
	w.key = rowKey(w.key[:0], t.info.ID, id)
	return wrapPebble(b.Delete(w.key, nil))
}

// write adds the txn's writes to its table to b, assigning rowIDs from
// t.nextRowID on as apply will. Caller holds db.commitMu.
func (tt *txnTable) write(b *pebble.Batch, w *rowWriter) error {
	t := tt.t
	var err error
	// A run holding a deleted (or updated) row becomes plain rows: its
	// key is deleted and its other rows put one by one, first, so that an
	// updated row's put on the run's key comes after.
	for _, i := range tt.explodedRuns() {
		r := t.runs[i]
		if err := w.del(b, t, r.id); err != nil {
			return err
		}
		for k := range r.n {
			if tt.del[r.pos+k] {
				continue
			}
			s, off := t.segOf(r.pos + k)
			if w.val, err = encodeRow(w.val[:0], s.rows.Cols, off); err != nil {
				return err
			}
			if err := w.set(b, t, r.id+uint64(k)); err != nil {
				return err
			}
		}
	}
	ids := rowIDAssigner{tt: tt, next: t.nextRowID}
	var kept map[uint64]bool // rowIDs an UPDATE keeps: a put, not a delete
	err = tt.liveRuns(func(r pendingRun) error {
		first, explicit := ids.take(r)
		if explicit == nil {
			// New rows with consecutive rowIDs: written as runs.
			return runValues(r.rows.Len, func(lo, n int) error {
				var err error
				if n == 1 {
					w.val, err = encodeRow(w.val[:0], r.rows.Cols, lo)
				} else {
					w.val, err = encodeRun(w.val[:0], r.rows.Cols, lo, n)
				}
				if err != nil {
					return err
				}
				return w.set(b, t, first+uint64(lo))
			})
		}
		for k, id := range explicit {
			if tt.insRowID[r.first+k] != 0 {
				if kept == nil {
					kept = map[uint64]bool{}
				}
				kept[id] = true
			}
			var err error
			if w.val, err = encodeRow(w.val[:0], r.rows.Cols, k); err != nil {
				return err
			}
			if err := w.set(b, t, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, p := range tt.delOrder {
		if t.runAt(p) >= 0 {
			continue // went with its run
		}
		if id := t.rowID(p); !kept[id] {
			if err := w.del(b, t, id); err != nil {
				return err
			}
		}
	}
	return nil
}

// explodedRuns returns the indexes in t.runs of the runs holding a row the
// txn deletes or updates, ascending. Caller holds db.commitMu.
func (tt *txnTable) explodedRuns() []int {
	var out []int
	if len(tt.t.runs) == 0 {
		return nil
	}
	for _, p := range tt.delOrder {
		if i := tt.t.runAt(p); i >= 0 {
			out = append(out, i)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// batchSize estimates the bytes the txn's inserts add to a commit batch,
// from above: values count as plain rows, a little more than as runs.
func (tt *txnTable) batchSize() int {
	size := 0
	_ = tt.liveRuns(func(r pendingRun) error {
		records := r.rows.Len
		if tt.insRowID == nil {
			records = (r.rows.Len + runRows - 1) / runRows
		}
		size += encodedSize(r.rows.Cols, r.rows.Len, nil) + records*insertRecordOverhead
		return nil
	})
	return size
}
