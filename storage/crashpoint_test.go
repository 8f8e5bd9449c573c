package storage

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/internal/randtest"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// Crash points: a workload of transactions (a table with a primary key,
// streams whose rows go to history logs, a stream written the way a store
// before history logs wrote it, source offsets and watermarks, CREATE,
// DROP and ADD COLUMN) runs on Pebble's crashable in-memory filesystem. At
// the Nth mutating file operation (create, write, sync, remove, rename,
// close, ...) the test takes the image a crash at that moment leaves
// (vfs.MemFS.CrashClone: what was synced, and in some rounds a random part
// of what was not), reopens the store on it and checks that every
// acknowledged commit is there, that no commit is torn (the commit count,
// source offsets, watermarks, table rows, stream rows and history logs all
// belong to the same commit), that no file or key of a dropped table is
// left, and that the store goes on working, up to the next crash.
//
// NB: pebble v2 has no NewStrictMem/ResetToSyncedState; NewCrashableMem and
// CrashClone are their successors.

const (
	crashSeedEnv   = "SLUICE_CRASH_SEED"   // replays a run of TestCrashPoints
	crashRoundsEnv = "SLUICE_CRASH_ROUNDS" // crashes per run of TestCrashPoints
)

var errInjectedFault = errors.New("injected fault")

// crashProgress is how far the workload got: commits begun and commits
// acknowledged (Commit returned nil), numbered from 1.
type crashProgress struct{ attempted, acked atomic.Int64 }

// crashFS counts the mutating operations on a crashable MemFS and takes a
// crash image at operation crashAt. Operations on history logs numbered in
// [failFrom, failTo) fail, as a disk's I/O errors do, so that commits fail
// and are retried before the crash.
type crashFS struct {
	mem      *vfs.MemFS
	fs       vfs.FS
	progress *crashProgress
	crashAt  int64
	failFrom int64
	failTo   int64
	unsynced int        // percent of unsynced blocks and entries the image keeps
	rng      *rand.Rand // for the image; used once, under mu
	ops      atomic.Int64

	mu         sync.Mutex
	historyOps []int64 // the numbers of the operations on history logs
	image      *vfs.MemFS
	acked      int // commits acknowledged before the crash
	attempted  int // commits begun before the crash
}

func newCrashFS(mem *vfs.MemFS, p *crashProgress, crashAt int64) *crashFS {
	c := &crashFS{mem: mem, progress: p, crashAt: crashAt, rng: rand.New(rand.NewPCG(uint64(crashAt), 0))}
	c.fs = errorfs.Wrap(entrySyncFS{mem}, c)
	return c
}

// entrySyncFS makes a sync of one of Pebble's files also sync its entry in
// the directory, as ext4 and XFS do (the journal commit that an fsync
// forces carries the file's creation). Pebble relies on it: it syncs a new
// MANIFEST, creates the marker naming it and only then syncs the
// directory, so an image that keeps the unsynced marker but not the
// unsynced MANIFEST (MemFS's CrashClone keeps unsynced entries one by one)
// cannot be opened. The history logs are the store's own files: they get
// no such help, so that a missing directory sync of theirs still shows.
type entrySyncFS struct{ vfs.FS }

func (fs entrySyncFS) Create(name string, cat vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, cat)
	return fs.wrap(f, name), err
}

func (fs entrySyncFS) ReuseForWrite(oldname, newname string, cat vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, cat)
	return fs.wrap(f, newname), err
}

func (fs entrySyncFS) wrap(f vfs.File, name string) vfs.File {
	if f == nil || strings.Contains(name, "history") {
		return f
	}
	return entrySyncFile{File: f, fs: fs.FS, name: name}
}

type entrySyncFile struct {
	vfs.File
	fs   vfs.FS
	name string
}

func (f entrySyncFile) Sync() error {
	if err := f.File.Sync(); err != nil {
		return err
	}
	return f.syncEntry()
}

func (f entrySyncFile) SyncData() error {
	if err := f.File.SyncData(); err != nil {
		return err
	}
	return f.syncEntry()
}

func (f entrySyncFile) SyncTo(length int64) (bool, error) {
	full, err := f.File.SyncTo(length)
	if err != nil {
		return full, err
	}
	return full, f.syncEntry()
}

func (f entrySyncFile) syncEntry() error {
	d, err := f.fs.OpenDir(f.fs.PathDir(f.name))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func (c *crashFS) String() string { return fmt.Sprintf("crash at op %d", c.crashAt) }

// MaybeError is called by errorfs before every operation.
func (c *crashFS) MaybeError(op errorfs.Op) error {
	if op.Kind.ReadOrWrite() != errorfs.OpIsWrite {
		return nil
	}
	n := c.ops.Add(1)
	if n == c.crashAt {
		c.crash()
	}
	if !strings.Contains(op.Path, "history") {
		return nil
	}
	c.mu.Lock()
	c.historyOps = append(c.historyOps, n)
	c.mu.Unlock()
	if n >= c.failFrom && n < c.failTo {
		return errInjectedFault
	}
	return nil
}

// crash takes the crash image, once. Acknowledged is read before the
// image (a commit acknowledged by then is synced in it) and begun after it
// (a commit begun after the image cannot be in it).
func (c *crashFS) crash() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.image != nil {
		return
	}
	c.acked = int(c.progress.acked.Load())
	c.image = c.mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: c.unsynced, RNG: c.rng})
	c.attempted = int(c.progress.attempted.Load())
}

func (c *crashFS) crashed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.image != nil
}

// relKind is what a relation of the workload is.
type relKind string

const (
	relTable  relKind = "table"  // primary key; rows in Pebble
	relStream relKind = "stream" // append-only; rows in a history log
	// relLegacy is a stream as a store before history logs kept it: written
	// as a plain table (rows in Pebble) in the session that creates it,
	// opened as append-only (so moved into a history log) at the next open.
	relLegacy relKind = "legacy"
)

// crashRel is the model of one relation.
type crashRel struct {
	id   uint32
	kind relKind
	cols int // 2 + added columns
	// streams: rows[j] = (j, "p<j>", added column k: NULL before it was
	// added, else j*(k+2)).
	n       int
	addedAt []int
	wm      int64
	// tables
	rows    map[int64][]types.Datum
	nextKey int64
}

func (r *crashRel) clone() *crashRel {
	c := *r
	c.addedAt = slices.Clone(r.addedAt)
	if r.rows != nil {
		c.rows = make(map[int64][]types.Datum, len(r.rows))
		for k, v := range r.rows {
			c.rows[k] = v // rows are replaced, never changed
		}
	}
	return &c
}

func (r *crashRel) info(session map[uint32]bool) TableInfo {
	ts := []*types.T{types.Int8, types.Text}
	names := []string{"id", "payload"}
	for k := 2; k < r.cols; k++ {
		ts = append(ts, types.Int8)
		names = append(names, fmt.Sprint("c", k))
	}
	info := TableInfo{ID: r.id, Name: fmt.Sprint(r.kind, r.id), ColNames: names, Types: ts}
	switch {
	case r.kind == relTable:
		info.PK = []int{0}
	case r.kind == relStream, r.kind == relLegacy && !session[r.id]:
		info.AppendOnly = true
	}
	return info
}

func (r *crashRel) streamRow(j int) []types.Datum {
	row := []types.Datum{int64(j), fmt.Sprint("p", j)}
	for k, at := range r.addedAt {
		if j < at {
			row = append(row, nil)
		} else {
			row = append(row, int64(j*(k+2)))
		}
	}
	return row
}

// crashModel is the expected state of the store after some commits.
type crashModel struct {
	commits int
	nextID  uint32
	rels    map[uint32]*crashRel
	// createdHere are the legacy relations created since the store was
	// last opened: still plain tables (see relLegacy).
	createdHere map[uint32]bool
}

func (m *crashModel) clone() *crashModel {
	c := &crashModel{commits: m.commits, nextID: m.nextID, rels: map[uint32]*crashRel{}, createdHere: map[uint32]bool{}}
	for id, r := range m.rels {
		c.rels[id] = r.clone()
	}
	for id := range m.createdHere {
		c.createdHere[id] = true
	}
	return c
}

func (m *crashModel) sortedIDs() []uint32 {
	ids := make([]uint32, 0, len(m.rels))
	for id := range m.rels {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

type crashOpKind int

const (
	opCreate crashOpKind = iota
	opDrop
	opAddColumn
	opAppend // n rows to a stream
	opInsert // keys into a table
	opUpdate
	opDelete
)

type crashOp struct {
	kind crashOpKind
	id   uint32
	rel  relKind // opCreate
	n    int     // opAppend
	keys []int64 // opInsert, opUpdate, opDelete
}

// crashPlan is one commit of the workload.
type crashPlan struct {
	ops   []crashOp
	flush bool // flush (and compact) Pebble after the commit
}

// crashCoverage counts what a workload did.
type crashCoverage struct {
	creates, drops, recreates, addCols, legacy, flushes, rows int
}

// nextPlan draws the next commit from m's state.
func nextPlan(m *crashModel, rng *rand.Rand, cov *crashCoverage) crashPlan {
	var p crashPlan
	touched := map[uint32]bool{} // dropped, created or altered by this plan
	kinds := map[relKind]int{}
	for _, r := range m.rels {
		kinds[r.kind]++
	}
	create := func(id uint32, kind relKind) {
		p.ops = append(p.ops, crashOp{kind: opCreate, id: id, rel: kind})
		touched[id] = false // writable
		cov.creates++
		if kind == relLegacy {
			cov.legacy++
		}
	}
	nextID := m.nextID
	newID := func() uint32 { nextID++; return nextID }
	if kinds[relTable] == 0 {
		create(newID(), relTable)
	}
	for range 2 - min(2, kinds[relStream]+kinds[relLegacy]) {
		kind := relStream
		if rng.IntN(3) == 0 {
			kind = relLegacy
		}
		create(newID(), kind)
	}
	ids := m.sortedIDs()
	if len(ids) > 0 && rng.IntN(12) == 0 {
		r := m.rels[ids[rng.IntN(len(ids))]]
		p.ops = append(p.ops, crashOp{kind: opDrop, id: r.id})
		touched[r.id] = true
		cov.drops++
		if rng.IntN(2) == 0 { // the same id again, in the same transaction
			kind := r.kind
			if kind == relLegacy {
				kind = relStream // a legacy table's id reused by a stream
			}
			create(r.id, kind)
			cov.recreates++
		}
	}
	if len(ids) > 0 && rng.IntN(8) == 0 {
		r := m.rels[ids[rng.IntN(len(ids))]]
		if _, ok := touched[r.id]; !ok && r.cols < 5 && !m.createdHere[r.id] {
			p.ops = append(p.ops, crashOp{kind: opAddColumn, id: r.id})
			touched[r.id] = true
			cov.addCols++
		}
	}
	// Writes, to the relations as the plan leaves them.
	next := m.clone()
	next.apply(crashPlan{ops: p.ops})
	for _, id := range next.sortedIDs() {
		if touched[id] {
			continue
		}
		r := next.rels[id]
		if r.kind != relTable {
			if rng.IntN(4) != 0 {
				n := 1 + rng.IntN(150) // often more than a segment (64 rows)
				p.ops = append(p.ops, crashOp{kind: opAppend, id: id, n: n})
				cov.rows += n
			}
			continue
		}
		var ins []int64
		for range 1 + rng.IntN(10) {
			ins = append(ins, r.nextKey+int64(len(ins)))
		}
		p.ops = append(p.ops, crashOp{kind: opInsert, id: id, keys: ins})
		keys := make([]int64, 0, len(r.rows))
		for k := range r.rows {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
		nUpd := min(len(keys), rng.IntN(4))
		nDel := min(len(keys)-nUpd, rng.IntN(4))
		if len(keys) > 200 {
			nDel = len(keys) - nUpd
		}
		if nUpd > 0 {
			p.ops = append(p.ops, crashOp{kind: opUpdate, id: id, keys: keys[:nUpd]})
		}
		if nDel > 0 {
			p.ops = append(p.ops, crashOp{kind: opDelete, id: id, keys: keys[nUpd : nUpd+nDel]})
		}
		cov.rows += len(ins)
	}
	if rng.IntN(15) == 0 {
		p.flush = true
		cov.flushes++
	}
	return p
}

// apply makes m the state after plan p commits (as commit m.commits+1 when
// it writes anything but ADD COLUMN, CREATE and DROP; the count of commits
// is kept by the caller).
func (m *crashModel) apply(p crashPlan) {
	for _, op := range p.ops {
		switch op.kind {
		case opCreate:
			r := &crashRel{id: op.id, kind: op.rel, cols: 2, wm: NoWatermark}
			if op.rel == relTable {
				r.rows = map[int64][]types.Datum{}
			}
			m.rels[op.id] = r
			m.nextID = max(m.nextID, op.id)
			delete(m.createdHere, op.id)
			if op.rel == relLegacy {
				m.createdHere[op.id] = true
			}
		case opDrop:
			delete(m.rels, op.id)
			delete(m.createdHere, op.id)
		case opAddColumn:
			r := m.rels[op.id]
			if r.kind == relTable {
				for k, row := range r.rows {
					r.rows[k] = append(slices.Clip(row), nil)
				}
			} else {
				r.addedAt = append(r.addedAt, r.n)
			}
			r.cols++
		case opAppend:
			r := m.rels[op.id]
			r.n += op.n
			r.wm = int64(m.commits+1) * 1000
		case opInsert, opUpdate:
			r := m.rels[op.id]
			for _, k := range op.keys {
				payload := fmt.Sprint("p", k)
				if op.kind == opUpdate {
					payload = fmt.Sprint("u", m.commits+1)
				}
				row := []types.Datum{k, payload}
				for range r.cols - 2 {
					if op.kind == opUpdate {
						row = append(row, int64(m.commits+1))
					} else {
						row = append(row, nil)
					}
				}
				r.rows[k] = row
				if op.kind == opInsert {
					r.nextKey = k + 1
				}
			}
		case opDelete:
			r := m.rels[op.id]
			for _, k := range op.keys {
				delete(r.rows, k)
			}
		}
	}
}

func catalogKey(id uint32) string     { return fmt.Sprint("catalog/", id) }
func offsetKey(id uint32) string      { return fmt.Sprintf("source/%d/0/topic", id) }
func catalogValue(r *crashRel) []byte { return fmt.Appendf(nil, "%s %d", r.kind, r.cols) }

// crashWorkload runs plans against a store and keeps the model states of
// the commits since the store was last opened.
type crashWorkload struct {
	t        *testing.T
	seed     uint64
	progress crashProgress
	cov      crashCoverage
	// ackedAtCrash and attemptedAtCrash are the progress at the last crash.
	ackedAtCrash, attemptedAtCrash int
	lastOps                        int64         // mutating operations of the last round, up to its crash
	lastHistoryOps                 []int64       // which of them were on history logs
	base                           int           // commits of states[0]
	states                         []*crashModel // states[i]: after commit base+i
	plans                          []crashPlan   // plans[i] leads from states[i] to states[i+1]
}

func (w *crashWorkload) state(commits int) *crashModel { return w.states[commits-w.base] }

// rebase makes the state after commits the one the workload goes on from.
func (w *crashWorkload) rebase(commits int) {
	m := w.state(commits)
	w.base, w.states, w.plans = commits, []*crashModel{m}, nil
	w.progress.attempted.Store(int64(commits))
	w.progress.acked.Store(int64(commits))
}

// crashStore is an open store of the workload with its open tables.
type crashStore struct {
	db     *DB
	tables map[uint32]*Table
}

// openCrashStore opens the store on fs and every relation its catalog
// records name, as the engine does at start.
func openCrashStore(t *testing.T, fs vfs.FS) (*crashStore, error) {
	db, err := Open("db", WithFS(fs), WithLogger(quietLogger{t}), WithResidentSegments(1), WithCacheSize(1<<20))
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	s := &crashStore{db: db, tables: map[uint32]*Table{}}
	recs, err := db.MetaWithPrefix("catalog/")
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("read catalog: %w", err)
	}
	for k, v := range recs {
		id64, err := strconv.ParseUint(strings.TrimPrefix(k, "catalog/"), 10, 32)
		kind, cols, ok := strings.Cut(string(v), " ")
		ncols, err2 := strconv.Atoi(cols)
		if err != nil || err2 != nil || !ok {
			db.Close()
			return nil, fmt.Errorf("bad catalog record %s = %q", k, v)
		}
		r := &crashRel{id: uint32(id64), kind: relKind(kind), cols: ncols}
		tbl, err := db.OpenTable(r.info(nil))
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("open %s %d: %w", kind, id64, err)
		}
		s.tables[r.id] = tbl
	}
	return s, nil
}

// commit runs the plan that leads to commit n (drawing it if it is new,
// from the seed and n: the workload is one sequence of commits, which
// crashes interrupt), retrying while injected faults fail it; it reports
// whether it committed.
func (w *crashWorkload) commit(s *crashStore, n int) bool {
	if len(w.states) == n-w.base {
		prev := w.states[len(w.states)-1]
		p := nextPlan(prev, rand.New(rand.NewPCG(w.seed, uint64(n))), &w.cov)
		next := prev.clone()
		next.apply(p)
		next.commits = n
		w.plans = append(w.plans, p)
		w.states = append(w.states, next)
	}
	w.progress.attempted.Store(int64(n))
	for range 50 {
		err := w.try(s, w.states[n-1-w.base], w.plans[n-1-w.base], n)
		if err == nil {
			w.progress.acked.Store(int64(n))
			return true
		}
		if !errors.Is(err, errInjectedFault) {
			w.t.Fatalf("seed %d: commit %d: %v", w.seed, n, err)
		}
	}
	return false
}

// try commits plan p, from state prev, as commit n.
func (w *crashWorkload) try(s *crashStore, prev *crashModel, p crashPlan, n int) error {
	tx := s.db.Begin()
	tables := map[uint32]*Table{}
	for id, t := range s.tables {
		tables[id] = t
	}
	m := prev.clone()
	for _, op := range p.ops {
		r := m.rels[op.id]
		t := tables[op.id]
		switch op.kind {
		case opCreate:
			r = &crashRel{id: op.id, kind: op.rel, cols: 2}
			var err error
			if t, err = s.db.CreateTable(tx, r.info(map[uint32]bool{op.id: true})); err != nil {
				return err
			}
			tables[op.id] = t
			tx.PutMeta(catalogKey(op.id), catalogValue(r))
		case opDrop:
			if err := s.db.DropTable(tx, op.id); err != nil {
				return err
			}
			delete(tables, op.id)
			tx.DeleteMeta(catalogKey(op.id))
			tx.DeleteMeta(offsetKey(op.id))
		case opAddColumn:
			if err := tx.AddColumn(t, fmt.Sprint("c", r.cols), types.Int8); err != nil {
				return err
			}
			r.cols++
			tx.PutMeta(catalogKey(op.id), catalogValue(r))
		case opAppend:
			c := coldata.NewChunk(t.Info().Types, op.n)
			for j := r.n; j < r.n+op.n; j++ {
				c.AppendRow(r.streamRow(j))
			}
			if err := tx.Insert(t, c); err != nil {
				return err
			}
			tx.PutMeta(offsetKey(op.id), strconv.AppendInt(nil, int64(r.n+op.n), 10))
			if err := tx.AdvanceWatermark(t, int64(n)*1000); err != nil {
				return err
			}
		case opInsert:
			c := coldata.NewChunk(t.Info().Types, len(op.keys))
			for _, k := range op.keys {
				row := []types.Datum{k, fmt.Sprint("p", k)}
				for range r.cols - 2 {
					row = append(row, nil)
				}
				c.AppendRow(row)
			}
			if err := tx.Insert(t, c); err != nil {
				return err
			}
		case opUpdate, opDelete:
			var positions []int
			c := coldata.NewChunk(t.Info().Types, len(op.keys))
			for _, k := range op.keys {
				_, pos, ok := tx.Lookup(t, []types.Datum{k})
				if !ok {
					return fmt.Errorf("[BUG] key %d of table %d not found", k, op.id)
				}
				positions = append(positions, pos)
				row := []types.Datum{k, fmt.Sprint("u", n)}
				for range r.cols - 2 {
					row = append(row, int64(n))
				}
				c.AppendRow(row)
			}
			var err error
			if op.kind == opUpdate {
				err = tx.Update(t, positions, c)
			} else {
				err = tx.Delete(t, positions)
			}
			if err != nil {
				return err
			}
		}
		m.apply(crashPlan{ops: []crashOp{op}})
	}
	tx.PutMeta("commits", strconv.AppendInt(nil, int64(n), 10))
	if err := tx.Commit(); err != nil {
		return err
	}
	s.tables = tables
	if p.flush {
		if err := s.db.pe.Flush(); err != nil {
			return fmt.Errorf("flush: %w", err)
		}
		if n%2 == 0 {
			if err := s.db.pe.Compact(context.Background(), []byte{0}, []byte{0xff}, false); err != nil {
				return fmt.Errorf("compact: %w", err)
			}
		}
	}
	return nil
}

// committedCount reads the commit count the store holds.
func committedCount(db *DB) (int, error) {
	recs, err := db.MetaWithPrefix("commits")
	if err != nil {
		return 0, err
	}
	v, ok := recs["commits"]
	if !ok {
		return 0, nil
	}
	return strconv.Atoi(string(v))
}

// check compares the store with model m; files says to check the history
// directory too (which only Open cleans up).
func checkCrashStore(s *crashStore, m *crashModel, files bool) error {
	if got, want := slices.Sorted(maps.Keys(s.tables)), m.sortedIDs(); !slices.Equal(got, want) {
		return fmt.Errorf("relations %v, want %v", got, want)
	}
	meta, err := s.db.Meta()
	if err != nil {
		return err
	}
	want := map[string]string{}
	if m.commits > 0 {
		want["commits"] = strconv.Itoa(m.commits)
	}
	for id, r := range m.rels {
		want[catalogKey(id)] = string(catalogValue(r))
		if r.kind != relTable && r.n > 0 {
			want[offsetKey(id)] = strconv.Itoa(r.n)
		}
	}
	gens := map[string]bool{}
	for k, v := range meta {
		if prefix, idText, ok := strings.Cut(k, "/"); ok && (prefix == "watermark" || prefix == "history") {
			id, err := strconv.ParseUint(idText, 10, 32)
			if err != nil || m.rels[uint32(id)] == nil {
				return fmt.Errorf("meta record %s of no relation", k)
			}
			if prefix == "history" {
				r, err := decodeHistoryRecord(uint32(id), v)
				if err != nil {
					return err
				}
				gens[historyFileName(uint32(id), r.gen)] = true
			}
			continue
		}
		if want[k] != string(v) {
			return fmt.Errorf("meta record %s = %q, want %q", k, v, want[k])
		}
		delete(want, k)
	}
	if len(want) > 0 {
		return fmt.Errorf("meta records missing: %v", want)
	}
	if err := checkRowKeys(s.db, m); err != nil {
		return err
	}
	if files {
		names, err := s.db.fs.List(s.db.histDir)
		if err != nil {
			return err
		}
		for _, name := range names {
			if !gens[name] {
				return fmt.Errorf("history log %s named by no record", name)
			}
		}
	}
	for _, id := range m.sortedIDs() {
		if err := checkCrashRel(s.db, s.tables[id], m.rels[id]); err != nil {
			return fmt.Errorf("%s %d: %w", m.rels[id].kind, id, err)
		}
	}
	return nil
}

// checkRowKeys checks that every row key in Pebble is of a live relation.
func checkRowKeys(db *DB, m *crashModel) error {
	it, err := db.pe.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixTable}, UpperBound: []byte{prefixTable + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		if id := tableIDOfKey(it.Key()); m.rels[id] == nil {
			return fmt.Errorf("row key %x of no relation", it.Key())
		}
	}
	return it.Error()
}

func tableIDOfKey(k []byte) uint32 {
	if len(k) < 5 {
		return 0
	}
	return uint32(k[1])<<24 | uint32(k[2])<<16 | uint32(k[3])<<8 | uint32(k[4])
}

func checkCrashRel(db *DB, t *Table, r *crashRel) error {
	if got := len(t.Info().Types); got != r.cols {
		return fmt.Errorf("%d columns, want %d", got, r.cols)
	}
	var rows [][]types.Datum
	s := db.Begin().Scan(t)
	for {
		c, _, ok := s.Next()
		if !ok {
			break
		}
		for i := range c.Len {
			rows = append(rows, c.Row(i))
		}
	}
	if err := s.Err(); err != nil {
		return err
	}
	if r.kind == relTable {
		if len(rows) != len(r.rows) {
			return fmt.Errorf("%d rows, want %d", len(rows), len(r.rows))
		}
		for _, row := range rows {
			if want := r.rows[row[0].(int64)]; !reflect.DeepEqual(row, want) {
				return fmt.Errorf("row %v, want %v", row, want)
			}
		}
		return nil
	}
	if len(rows) != r.n {
		return fmt.Errorf("%d rows, want %d", len(rows), r.n)
	}
	for j, row := range rows {
		if want := r.streamRow(j); !reflect.DeepEqual(row, want) {
			return fmt.Errorf("row %d: %v, want %v", j, row, want)
		}
	}
	if got := t.Watermark(); got != r.wm {
		return fmt.Errorf("watermark %d, want %d", got, r.wm)
	}
	return nil
}

// crashRound is one life of the store: open on the image of the last
// crash, check it, run commits until the crash point, check the live store.
type crashRound struct {
	crashAt          int64
	failFrom, failTo int64
	unsynced         int
	maxCommits       int // 0: until the crash
}

// runCrashRound runs one round on mem and returns the crash image.
func (w *crashWorkload) runCrashRound(mem *vfs.MemFS, cr crashRound, label string) *vfs.MemFS {
	t := w.t
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d %s (crash at op %d, faults in [%d, %d), unsynced %d%%): %s", w.seed, label, cr.crashAt, cr.failFrom, cr.failTo, cr.unsynced, fmt.Sprintf(format, args...))
	}
	cfs := newCrashFS(mem, &w.progress, cr.crashAt)
	cfs.failFrom, cfs.failTo, cfs.unsynced = cr.failFrom, cr.failTo, cr.unsynced
	// Until the open tells, the store holds what the last crash left.
	w.progress.acked.Store(int64(w.ackedAtCrash))
	w.progress.attempted.Store(int64(w.attemptedAtCrash))
	s, err := openCrashStore(t, cfs.fs)
	for retries := 0; errors.Is(err, errInjectedFault) && retries < 50; retries++ {
		s, err = openCrashStore(t, cfs.fs) // a restart after an I/O error
	}
	if err != nil {
		fail("%v", err)
	}
	c, err := committedCount(s.db)
	if err != nil {
		fail("%v", err)
	}
	if c < w.ackedAtCrash || c > w.attemptedAtCrash {
		fail("store holds %d commits: %d were acknowledged before the crash, %d begun", c, w.ackedAtCrash, w.attemptedAtCrash)
	}
	want := w.state(c)
	if err := checkCrashStore(s, want, true); err != nil {
		fail("after reopen at commit %d: %v", c, err)
	}
	w.rebase(c)
	w.states[0].createdHere = map[uint32]bool{} // legacy tables were moved by this open
	for n := c + 1; !cfs.crashed() && (cr.maxCommits == 0 || n <= c+cr.maxCommits); n++ {
		if !w.commit(s, n) {
			break
		}
	}
	if err := checkCrashStore(s, w.state(int(w.progress.acked.Load())), false); err != nil {
		fail("live store: %v", err)
	}
	cfs.crash() // at the end when the crash point lies beyond the commits
	w.ackedAtCrash, w.attemptedAtCrash = cfs.acked, cfs.attempted
	w.lastOps = cfs.ops.Load()
	w.lastHistoryOps = slices.Clone(cfs.historyOps)
	if err := s.db.Close(); err != nil && !errors.Is(err, errInjectedFault) {
		fail("close: %v", err)
	}
	return cfs.image
}

// crashSeed returns the seed of a run: crashSeedEnv's, else a new one.
func newCrashWorkload(t *testing.T, seed uint64) *crashWorkload {
	w := &crashWorkload{t: t, seed: seed}
	w.states = []*crashModel{{rels: map[uint32]*crashRel{}, createdHere: map[uint32]bool{}}}
	return w
}

// TestCrashPoints crashes one store again and again at random operations:
// in commits, in Pebble's flushes and compactions, in Open and in the move
// of a legacy stream's rows into a history log; some rounds keep a random
// part of the unsynced data, some fail history-log operations for a while
// before the crash.
func TestCrashPoints(t *testing.T) {
	defer func(n int) { segRows = n }(segRows)
	segRows = 64 // segments fill, seal and are evicted within a few commits
	seed := uint64(randtest.EnvInt(t, crashSeedEnv, time.Now().UnixNano()))
	defaultRounds := int64(100)
	if testing.Short() {
		defaultRounds = 20
	}
	rounds := int(randtest.EnvInt(t, crashRoundsEnv, defaultRounds))
	t.Logf("seed %d (%s=%d replays it; Pebble's background work can move an op index a little)", seed, crashSeedEnv, seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	w := newCrashWorkload(t, seed)
	mem := vfs.NewCrashableMem()
	start := time.Now()
	for round := range rounds {
		cr := crashRound{crashAt: 1 + rng.Int64N(400)}
		if rng.IntN(3) == 0 {
			cr.unsynced = 50
		}
		if rng.IntN(3) == 0 {
			cr.failFrom = max(1, cr.crashAt-rng.Int64N(200))
			cr.failTo = cr.failFrom + 1 + rng.Int64N(8)
		}
		mem = w.runCrashRound(mem, cr, fmt.Sprint("round ", round))
	}
	t.Logf("%d crashes in %v; %+v", rounds, time.Since(start).Round(time.Millisecond), w.cov)
}

// TestCrashPointsEveryOp runs a short workload from an empty store once
// for every mutating operation it makes, crashing there; after the reopen
// the store must commit on and survive a second crash. Then it crashes at
// every operation of the second life of the store: its open, which moves
// the legacy streams' rows into history logs, and a few commits.
func TestCrashPointsEveryOp(t *testing.T) {
	defer func(n int) { segRows = n }(segRows)
	segRows = 64
	const seed, commits, moreCommits = 51, 25, 3
	first, cov := probeCrashPoints(t, seed, commits)
	if cov.drops == 0 || cov.recreates == 0 || cov.addCols == 0 || cov.legacy == 0 || cov.flushes == 0 {
		t.Fatalf("workload of seed %d lacks a kind of commit: %+v", seed, cov)
	}
	start := time.Now()
	for at := int64(1); at <= first; at++ {
		w := newCrashWorkload(t, seed)
		label := fmt.Sprint("crash point ", at, " of ", first)
		image := w.runCrashRound(vfs.NewCrashableMem(), crashRound{crashAt: at, maxCommits: commits}, label)
		image = w.runCrashRound(image, crashRound{maxCommits: moreCommits}, label+", then")
		w.runCrashRound(image, crashRound{crashAt: 1}, label+", reopened twice")
	}
	// The second life, from the image of a complete first one.
	w := newCrashWorkload(t, seed)
	firstImage := w.runCrashRound(vfs.NewCrashableMem(), crashRound{maxCommits: commits}, "first life")
	if !hasRowsToMove(w.state(w.ackedAtCrash)) {
		t.Fatalf("workload of seed %d leaves no legacy stream with rows to move at the second open", seed)
	}
	w.runCrashRound(firstImage, crashRound{maxCommits: moreCommits}, "second life")
	second := w.lastOps
	for at := int64(1); at <= second; at++ {
		w := newCrashWorkload(t, seed)
		label := fmt.Sprint("second life, crash point ", at, " of ", second)
		image := w.runCrashRound(vfs.NewCrashableMem(), crashRound{maxCommits: commits}, label)
		image = w.runCrashRound(image, crashRound{crashAt: at, maxCommits: moreCommits}, label)
		w.runCrashRound(image, crashRound{crashAt: 1}, label+", reopened")
	}
	t.Logf("%d + %d crash points in %v; %+v", first, second, time.Since(start).Round(time.Millisecond), cov)
}

// TestHistoryFaultEveryOp fails each mutating operation on a history log
// that a short workload makes, once, as a disk's I/O error would: the
// commit (or open) it is part of fails and is retried, the live store must
// equal the acknowledged commits, and so must the store reopened after a
// crash two operations later and after a crash at the end.
func TestHistoryFaultEveryOp(t *testing.T) {
	defer func(n int) { segRows = n }(segRows)
	segRows = 64
	const seed, commits = 51, 25
	probe := newCrashWorkload(t, seed)
	image := probe.runCrashRound(vfs.NewCrashableMem(), crashRound{maxCommits: commits}, "probe")
	first := probe.lastHistoryOps
	probe.runCrashRound(image, crashRound{maxCommits: 3}, "probe, second life")
	second := probe.lastHistoryOps
	start := time.Now()
	for _, at := range first {
		for _, crashAt := range []int64{at + 2, 0} {
			w := newCrashWorkload(t, seed)
			label := fmt.Sprint("fault at op ", at)
			image := w.runCrashRound(vfs.NewCrashableMem(), crashRound{crashAt: crashAt, failFrom: at, failTo: at + 1, maxCommits: commits}, label)
			w.runCrashRound(image, crashRound{crashAt: 1}, label+", reopened")
		}
	}
	for _, at := range second {
		w := newCrashWorkload(t, seed)
		label := fmt.Sprint("second life, fault at op ", at)
		image := w.runCrashRound(vfs.NewCrashableMem(), crashRound{maxCommits: commits}, label)
		image = w.runCrashRound(image, crashRound{failFrom: at, failTo: at + 1, maxCommits: 3}, label)
		w.runCrashRound(image, crashRound{crashAt: 1}, label+", reopened")
	}
	t.Logf("%d + %d faults in %v", len(first), len(second), time.Since(start).Round(time.Millisecond))
}

// hasRowsToMove reports whether the next open of a store in state m moves
// a legacy stream's rows into a history log.
func hasRowsToMove(m *crashModel) bool {
	for id := range m.createdHere {
		if m.rels[id].n > 0 {
			return true
		}
	}
	return false
}

// probeCrashPoints returns how many mutating operations the workload of
// seed makes from an empty store through commits commits, and what it did.
func probeCrashPoints(t *testing.T, seed uint64, commits int) (int64, crashCoverage) {
	w := newCrashWorkload(t, seed)
	w.runCrashRound(vfs.NewCrashableMem(), crashRound{maxCommits: commits}, "probe")
	return w.lastOps, w.cov
}

// TestDamagedStoreIsolated damages a store the workload left, one record
// or history log at a time: the store must still open, the relation hit
// must fail to open with XX001 (never a panic), and every other relation
// must open as it was.
func TestDamagedStoreIsolated(t *testing.T) {
	defer func(n int) { segRows = n }(segRows)
	segRows = 64
	const seed, commits = 51, 25
	w := newCrashWorkload(t, seed)
	image := w.runCrashRound(vfs.NewCrashableMem(), crashRound{maxCommits: commits}, "setup")
	image = w.runCrashRound(image, crashRound{maxCommits: 1}, "setup, reopened") // legacy streams moved
	want := w.state(w.ackedAtCrash)
	var stream, table uint32
	for _, id := range want.sortedIDs() {
		r := want.rels[id]
		switch {
		case r.kind != relTable && r.n > 0 && stream == 0:
			stream = id
		case r.kind == relTable && len(r.rows) > 0 && table == 0:
			table = id
		}
	}
	if stream == 0 || table == 0 {
		t.Fatalf("workload of seed %d leaves no stream or table with rows", seed)
	}
	setMeta := func(key string, v []byte) func(*testing.T, *DB) {
		return func(t *testing.T, db *DB) {
			if err := db.pe.Set(metaKey(key), v, pebble.Sync); err != nil {
				t.Fatal(err)
			}
		}
	}
	changeRecord := func(change func(*historyRecord)) func(*testing.T, *DB) {
		return func(t *testing.T, db *DB) {
			r, _, err := db.historyRecordOf(stream)
			if err != nil {
				t.Fatal(err)
			}
			change(&r)
			setMeta(historyKey(stream), r.encode())(t, db)
		}
	}
	streamLog := func(t *testing.T, db *DB) string {
		r, _, err := db.historyRecordOf(stream)
		if err != nil {
			t.Fatal(err)
		}
		return db.fs.PathJoin(db.histDir, historyFileName(stream, r.gen))
	}
	cases := []struct {
		name    string
		victim  uint32 // 0: none
		damage  func(*testing.T, *DB)
		wantErr string // in the victim's error
	}{
		{"history record of 3 bytes", stream, setMeta(historyKey(stream), []byte{1, 2, 3}), ""},
		{"history record key of no table", 0, setMeta("history/x", make([]byte, 24)), ""},
		{"history record longer than its log", stream, changeRecord(func(r *historyRecord) { r.bytes += 100 }), ""},
		{"history record with a row too many", stream, changeRecord(func(r *historyRecord) { r.rows++ }), ""},
		{"history record of a missing log", stream, changeRecord(func(r *historyRecord) { r.gen += 1000 }), "is missing"},
		{"history log with a flipped byte", stream, func(t *testing.T, db *DB) {
			f, err := db.fs.OpenReadWrite(streamLog(t, db), vfs.WriteCategoryUnspecified)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			b := make([]byte, 1)
			if _, err := f.ReadAt(b, 20); err != nil {
				t.Fatal(err)
			}
			b[0] ^= 0x40
			if _, err := f.WriteAt(b, 20); err != nil {
				t.Fatal(err)
			}
			if err := f.Sync(); err != nil {
				t.Fatal(err)
			}
		}, ""},
		{"watermark record of 3 bytes", stream, setMeta(watermarkKey(stream), []byte{1, 2, 3}), ""},
		{"row value of an unknown version", table, func(t *testing.T, db *DB) {
			it, err := db.pe.NewIter(&pebble.IterOptions{LowerBound: tablePrefix(table)})
			if err != nil {
				t.Fatal(err)
			}
			if !it.First() {
				t.Fatal("no rows")
			}
			k := slices.Clone(it.Key())
			if err := it.Close(); err != nil {
				t.Fatal(err)
			}
			if err := db.pe.Set(k, []byte{9}, pebble.Sync); err != nil {
				t.Fatal(err)
			}
		}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs := image.CrashClone(vfs.CrashCloneCfg{})
			db, err := Open("db", WithFS(fs), WithLogger(quietLogger{t}))
			if err != nil {
				t.Fatal(err)
			}
			logs, err := fs.List(db.histDir)
			if err != nil {
				t.Fatal(err)
			}
			c.damage(t, db)
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			db, err = Open("db", WithFS(fs), WithLogger(quietLogger{t}))
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			defer db.Close()
			// Only a record naming another file makes a log unnamed; a
			// record or key that does not decode keeps every file.
			if !strings.Contains(c.name, "missing") {
				left, err := fs.List(db.histDir)
				if err != nil {
					t.Fatal(err)
				}
				for _, name := range logs {
					if !slices.Contains(left, name) {
						t.Fatalf("history log %s removed by the open", name)
					}
				}
			}
			for _, id := range want.sortedIDs() {
				r := want.rels[id]
				tbl, err := db.OpenTable(r.info(nil))
				if id == c.victim {
					if code := sqlerr.Code(err); code != sqlerr.DataCorrupted {
						t.Fatalf("%s %d opened with %v (code %s), want XX001", r.kind, id, err, code)
					}
					if !strings.Contains(err.Error(), c.wantErr) {
						t.Fatalf("%s %d: %v, want an error saying %q", r.kind, id, err, c.wantErr)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s %d: %v", r.kind, id, err)
				}
				if err := checkCrashRel(db, tbl, r); err != nil {
					t.Fatalf("%s %d: %v", r.kind, id, err)
				}
			}
		})
	}
}
