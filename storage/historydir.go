package storage

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// History logs are files <dir>/history/<tableID>-<gen>.log. gen is new for
// every log the DB creates, so a table created under the id of a dropped
// one (even in the same transaction) never writes into the old file, which
// stays until the drop has committed. A file no meta record names is left
// from a drop or a create that did not commit, and is removed at Open.

// historyDir is the directory of the history logs in store dir dir.
func historyDir(fs vfs.FS, dir string) string { return fs.PathJoin(dir, "history") }

func historyFileName(id uint32, gen uint64) string { return fmt.Sprintf("%d-%d.log", id, gen) }

// parseHistoryFileName is historyFileName's inverse.
func parseHistoryFileName(name string) (id uint32, gen uint64, ok bool) {
	base, ok := strings.CutSuffix(name, ".log")
	if !ok {
		return 0, 0, false
	}
	a, b, ok := strings.Cut(base, "-")
	if !ok {
		return 0, 0, false
	}
	id64, err1 := strconv.ParseUint(a, 10, 32)
	gen, err2 := strconv.ParseUint(b, 10, 64)
	return uint32(id64), gen, err1 == nil && err2 == nil
}

// openHistoryDir creates the history directory if needed, removes the
// files no meta record names and sets db.nextGen past every generation in
// use. Called by Open, before anything else uses the DB.
func (db *DB) openHistoryDir(dir string) error {
	db.histDir = historyDir(db.fs, dir)
	if err := db.fs.MkdirAll(db.histDir, 0o755); err != nil {
		return wrapPebble(err)
	}
	if err := syncDir(db.fs, dir); err != nil {
		return err
	}
	recs, err := db.MetaWithPrefix("history/")
	if err != nil {
		return err
	}
	// A record that does not decode must not stop the store from opening:
	// its table fails to open (XX001, see historyRecordOf) and the others
	// work. Its files are kept, as are all files when a key is unreadable
	// (whose files it names is unknown).
	named := map[string]bool{}
	undecoded := map[uint32]bool{}
	keepAll := false
	for k, v := range recs {
		id, err := strconv.ParseUint(strings.TrimPrefix(k, "history/"), 10, 32)
		if err != nil {
			keepAll = true
			continue
		}
		r, err := decodeHistoryRecord(uint32(id), v)
		if err != nil {
			undecoded[uint32(id)] = true
			continue
		}
		named[historyFileName(uint32(id), r.gen)] = true
		db.nextGen = max(db.nextGen, r.gen+1)
	}
	names, err := db.fs.List(db.histDir)
	if err != nil {
		return wrapPebble(err)
	}
	for _, name := range names {
		id, gen, ok := parseHistoryFileName(name)
		if !ok {
			continue // not ours
		}
		db.nextGen = max(db.nextGen, gen+1)
		if !named[name] && !keepAll && !undecoded[id] {
			if err := db.fs.Remove(db.fs.PathJoin(db.histDir, name)); err != nil {
				return wrapPebble(err)
			}
		}
	}
	return nil
}

// createHistoryLog creates an empty log for table id under a new
// generation; the directory is synced so that the file outlives a crash
// once a commit names it. Caller holds db.commitMu (or owns db).
func (db *DB) createHistoryLog(id uint32) (*historyLog, error) {
	gen := db.nextGen
	db.nextGen++
	path := db.fs.PathJoin(db.histDir, historyFileName(id, gen))
	w, err := db.fs.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return nil, wrapPebble(err)
	}
	if err := syncDir(db.fs, db.histDir); err != nil {
		w.Close()
		return nil, err
	}
	return &historyLog{id: id, path: path, w: w, committed: historyRecord{gen: gen}}, nil
}

// openHistoryLog opens table id's log for appending at its committed
// length r. The file must hold at least that much (it was synced before r
// was committed); what lies past it is left over and gets overwritten.
func (db *DB) openHistoryLog(id uint32, r historyRecord) (*historyLog, error) {
	path := db.fs.PathJoin(db.histDir, historyFileName(id, r.gen))
	// NB: OpenReadWrite creates a missing file (O_CREATE): ask first.
	if _, err := db.fs.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, errCorrupt("table %d: history log %s is missing", id, path)
	}
	w, err := db.fs.OpenReadWrite(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return nil, wrapPebble(err)
	}
	st, err := w.Stat()
	if err != nil {
		w.Close()
		return nil, wrapPebble(err)
	}
	if st.Size() < r.bytes {
		w.Close()
		return nil, errCorrupt("table %d: history log of %d bytes, %d committed", id, st.Size(), r.bytes)
	}
	return &historyLog{id: id, path: path, w: w, committed: r}, nil
}

// historyRecordOf reads table id's history meta record (ok false: none,
// the table has no rows yet).
func (db *DB) historyRecordOf(id uint32) (r historyRecord, ok bool, err error) {
	v, closer, err := db.pe.Get(metaKey(historyKey(id)))
	if err == pebble.ErrNotFound {
		return historyRecord{}, false, nil
	}
	if err != nil {
		return historyRecord{}, false, wrapPebble(err)
	}
	defer closer.Close()
	r, err = decodeHistoryRecord(id, v)
	return r, err == nil, err
}

// removeHistoryLog closes and removes the log of a dropped table, once the
// drop has committed. A failure leaves the file to Open, which removes
// files no record names.
func (db *DB) removeHistoryLog(log *historyLog) {
	_ = log.w.Close()
	_ = db.fs.Remove(log.path)
}

func syncDir(fs vfs.FS, dir string) error {
	d, err := fs.OpenDir(dir)
	if err != nil {
		return wrapPebble(err)
	}
	if err := d.Sync(); err != nil {
		d.Close()
		return wrapPebble(err)
	}
	return wrapPebble(d.Close())
}
