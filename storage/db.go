package storage

import (
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/sluice-db/sluice/sqlerr"
)

// DB is an open Sluice store: one Pebble database plus the in-memory tables
// opened or created on it.
type DB struct {
	pe *pebble.DB

	// commitMu serialises commit groups, table registration and Close.
	commitMu sync.Mutex
	closed   bool
	// queue holds the commits waiting for a group (see groupcommit.go);
	// leading is whether one of them leads. Both guarded by queueMu.
	queueMu sync.Mutex
	queue   []*queuedCommit
	leading bool
	// tables is read under commitMu or tablesMu, and written under both:
	// Table, which every query calls, must not wait for a commit's syncs.
	tablesMu sync.RWMutex
	tables   map[uint32]*Table
	observer ChangeObserver // guarded by commitMu
	onesBuf  []int64        // guarded by commitMu; see ones
	// residentSegs is how many full segments of an append-only table stay
	// in memory (see evictHistory).
	residentSegs int

	// fs holds Pebble and the history logs (see historylog.go).
	fs      vfs.FS
	histDir string
	nextGen uint64 // guarded by commitMu; the next history log's generation
	histBuf []byte // guarded by commitMu; frames being appended (see appendHistory)
	// readBufs are the read buffers of history scans (see newFrameReader).
	readBufs *sync.Pool
	// afterHistorySync, when set (by tests), runs in a commit group between
	// syncing the history logs and committing the Pebble batch.
	afterHistorySync func()
}

// Option configures Open.
type Option func(*options)

type options struct {
	logger       pebble.Logger
	cacheSize    int64
	fs           vfs.FS
	residentSegs int
}

// WithLogger routes Pebble's log messages to l.
func WithLogger(l pebble.Logger) Option { return func(o *options) { o.logger = l } }

// WithCacheSize sets the size in bytes of Pebble's block cache (default 64 MiB).
func WithCacheSize(n int64) Option { return func(o *options) { o.cacheSize = n } }

// WithFS opens the database on fs instead of the OS filesystem (tests use an
// in-memory, crashable one).
func WithFS(fs vfs.FS) Option { return func(o *options) { o.fs = fs } }

// Open opens (creating if needed) the store in dir. The WAL is on and every
// commit is synced.
func Open(dir string, opts ...Option) (*DB, error) {
	o := options{cacheSize: 64 << 20, fs: vfs.Default, residentSegs: defaultResidentSegments}
	for _, f := range opts {
		f(&o)
	}
	cache := pebble.NewCache(o.cacheSize)
	defer cache.Unref() // Pebble holds its own reference
	po := &pebble.Options{Cache: cache, Logger: o.logger, FS: o.fs}
	pe, err := pebble.Open(dir, po)
	if err != nil {
		return nil, wrapPebble(err)
	}
	db := &DB{pe: pe, tables: map[uint32]*Table{}, residentSegs: o.residentSegs, fs: o.fs, readBufs: newReadBufs()}
	if err := db.openHistoryDir(dir); err != nil {
		pe.Close()
		return nil, err
	}
	return db, nil
}

// Close closes the database. Open transactions can no longer commit; tables
// stay readable in memory.
func (db *DB) Close() error {
	db.commitMu.Lock()
	defer db.commitMu.Unlock()
	if db.closed {
		return nil
	}
	db.closed = true
	for _, t := range db.tables {
		if t.hist != nil {
			_ = t.hist.w.Close() // synced at every commit: nothing to lose
		}
	}
	return wrapPebble(db.pe.Close())
}

// Meta returns every meta record (the catalog loads itself from these at
// startup). The map is the caller's.
func (db *DB) Meta() (map[string][]byte, error) {
	lo, hi := metaSpan()
	return db.metaIn(lo, hi)
}

// MetaWithPrefix returns the meta records whose keys start with prefix.
func (db *DB) MetaWithPrefix(prefix string) (map[string][]byte, error) {
	lo := metaKey(prefix)
	hi := append([]byte(nil), lo...)
	for len(hi) > 0 && hi[len(hi)-1] == 0xff {
		hi = hi[:len(hi)-1]
	}
	hi[len(hi)-1]++ // the 'm' prefix byte is never 0xff
	return db.metaIn(lo, hi)
}

// metaIn returns the meta records with keys in [lo, hi).
func (db *DB) metaIn(lo, hi []byte) (map[string][]byte, error) {
	it, err := db.pe.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return nil, wrapPebble(err)
	}
	out := map[string][]byte{}
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return nil, wrapPebble(err)
		}
		out[string(it.Key()[1:])] = append([]byte(nil), v...)
	}
	if err := it.Error(); err != nil {
		it.Close()
		return nil, wrapPebble(err)
	}
	return out, wrapPebble(it.Close())
}

// Table returns the open table with the given id.
func (db *DB) Table(id uint32) (*Table, bool) {
	db.tablesMu.RLock()
	defer db.tablesMu.RUnlock()
	t, ok := db.tables[id]
	return t, ok
}

// CreateTable registers a new, empty table. It becomes visible to other
// transactions (and durable) when txn commits; until then only txn may write
// to it. Any rows left on disk under the same id are removed at commit.
func (db *DB) CreateTable(txn *Txn, info TableInfo) (*Table, error) {
	if txn.done {
		return nil, errTxnDone()
	}
	if err := info.validate(); err != nil {
		return nil, err
	}
	db.commitMu.Lock()
	_, exists := db.tables[info.ID]
	db.commitMu.Unlock()
	if exists && !txn.drops(info.ID) {
		return nil, sqlerr.Bug("storage: table %d already exists", info.ID)
	}
	for _, t := range txn.creates {
		if t.info.ID == info.ID {
			return nil, sqlerr.Bug("storage: table %d created twice in one transaction", info.ID)
		}
	}
	t := newTable(db, info)
	txn.creates = append(txn.creates, t)
	return t, nil
}

// OpenTable loads every row of an existing table into memory. The engine calls
// it at startup for each table in the catalog.
func (db *DB) OpenTable(info TableInfo) (*Table, error) {
	if err := info.validate(); err != nil {
		return nil, err
	}
	db.commitMu.Lock()
	defer db.commitMu.Unlock()
	if db.closed {
		return nil, sqlerr.New(sqlerr.InternalError, "storage: database is closed")
	}
	if _, ok := db.tables[info.ID]; ok {
		return nil, sqlerr.Bug("storage: table %d already open", info.ID)
	}
	t := newTable(db, info)
	err := t.load()
	if err == nil {
		err = t.loadWatermark()
	}
	if err != nil {
		if t.hist != nil {
			_ = t.hist.w.Close()
		}
		return nil, err
	}
	db.tablesMu.Lock()
	db.tables[info.ID] = t
	db.tablesMu.Unlock()
	return t, nil
}

// DropTable removes table id when txn commits: its rows are range-deleted
// (an append-only table's history log is removed after the commit) and the
// in-memory table is detached (transactions still holding it fail
// to commit writes to it).
func (db *DB) DropTable(txn *Txn, id uint32) error {
	if txn.done {
		return errTxnDone()
	}
	for i, t := range txn.creates {
		if t.info.ID == id { // created and dropped in one txn: never existed
			txn.creates = append(txn.creates[:i], txn.creates[i+1:]...)
			if txn.discarded == nil {
				txn.discarded = map[*Table]bool{}
			}
			txn.discarded[t] = true
			break
		}
	}
	txn.dropIDs = append(txn.dropIDs, id)
	return nil
}
