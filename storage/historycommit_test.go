package storage

import (
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// stallSyncFS holds the first SyncData of table id's history log until
// release is closed, and says on stalled when it starts waiting: a slow
// disk under a big append.
type stallSyncFS struct {
	vfs.FS
	id      uint32
	once    sync.Once
	stalled chan struct{}
	release chan struct{}
}

func (fs *stallSyncFS) Create(name string, cat vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, cat)
	if id, _, ok := parseHistoryFileName(filepath.Base(name)); err == nil && ok && id == fs.id {
		return stallSyncFile{File: f, fs: fs}, nil
	}
	return f, err
}

type stallSyncFile struct {
	vfs.File
	fs *stallSyncFS
}

func (f stallSyncFile) SyncData() error {
	f.fs.once.Do(func() {
		close(f.fs.stalled)
		<-f.fs.release
	})
	return f.File.SyncData()
}

// A commit whose stream's history sync is slow holds up neither the
// commits of other streams nor those of tables: history logs are appended
// and synced outside the commit mutex. The next commit to the same stream
// does wait for it, and its rows follow the first commit's.
func TestHistorySyncHoldsUpOnlyItsStream(t *testing.T) {
	fs := &stallSyncFS{FS: vfs.NewMem(), id: 9, stalled: make(chan struct{}), release: make(chan struct{})}
	db, err := Open("db", WithFS(fs), WithLogger(quietLogger{t}))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cols, typs := []string{"v"}, []*types.T{types.Int8}
	slow := createTable(t, db, TableInfo{ID: 9, Name: "slow", ColNames: cols, Types: typs, AppendOnly: true})
	other := createTable(t, db, TableInfo{ID: 10, Name: "other", ColNames: cols, Types: typs, AppendOnly: true})
	table := createTable(t, db, TableInfo{ID: 11, Name: "t", ColNames: cols, Types: typs})
	insert := func(tbl *Table, vs ...int64) error {
		rows := coldata.NewChunk(typs, len(vs))
		for _, v := range vs {
			rows.AppendRow([]types.Datum{v})
		}
		tx := db.Begin()
		if err := tx.Insert(tbl, rows); err != nil {
			tx.Rollback()
			return err
		}
		return tx.Commit()
	}
	released := false
	release := func() {
		if !released {
			released = true
			close(fs.release)
		}
	}
	defer release() // a failed check must not leave the stalled commit behind

	first := make(chan error, 1)
	go func() { first <- insert(slow, 1, 2) }()
	<-fs.stalled
	for _, tbl := range []*Table{other, table} {
		done := make(chan error, 1)
		go func() { done <- insert(tbl, 7) }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("commit to %s: %v", tbl.Info().Name, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("the commit to %s waited for the history sync of another stream", tbl.Info().Name)
		}
	}
	second := make(chan error, 1)
	go func() { second <- insert(slow, 3) }()
	time.Sleep(20 * time.Millisecond)
	select {
	case err := <-second:
		t.Fatalf("the second commit to the stream did not wait for the first (err %v)", err)
	default:
	}
	release()
	for _, ch := range []chan error{first, second} {
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
	want := map[*Table][]int64{slow: {1, 2, 3}, other: {7}, table: {7}}
	for tbl, vs := range want {
		var got []int64
		s := db.Begin().Scan(tbl)
		for {
			c, _, ok := s.Next()
			if !ok {
				break
			}
			got = append(got, c.Cols[0].Ints[:c.Len]...)
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, vs) {
			t.Errorf("%s: rows %v, want %v", tbl.Info().Name, got, vs)
		}
	}
}
