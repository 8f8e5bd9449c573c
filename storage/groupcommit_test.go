package storage

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/internal/randtest"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

var groupKeysInfo = TableInfo{ID: 3, Name: "keys", ColNames: []string{"k"}, Types: []*types.T{types.Int8}, PK: []int{0}}

func keyRow(k int64) *coldata.Chunk {
	c := coldata.NewChunk(groupKeysInfo.Types, 1)
	c.AppendRow([]types.Datum{k})
	return c
}

// queued returns how many commits wait in db's queue.
func queued(db *DB) int {
	db.queueMu.Lock()
	defer db.queueMu.Unlock()
	return len(db.queue)
}

// openGroupStore opens a store on fs with two streams that have their
// history logs (a first batch of writer 9 each) and a keyed table.
func openGroupStore(t *testing.T, fs vfs.FS) (*DB, []*Table, *Table) {
	t.Helper()
	db, err := Open("db", WithFS(fs), WithLogger(quietLogger{t}))
	if err != nil {
		t.Fatal(err)
	}
	streams := []*Table{createTable(t, db, batchStreamInfo(1)), createTable(t, db, batchStreamInfo(2))}
	for _, s := range streams {
		tx := db.Begin()
		if err := tx.Insert(s, writerBatch(9, 0, 1)); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	return db, streams, createTable(t, db, groupKeysInfo)
}

// reopenGroupStore opens the store an image of openGroupStore's holds and
// returns its streams' batches, its meta records, the second stream's
// watermark and the keyed table's row count.
func reopenGroupStore(t *testing.T, image *vfs.MemFS) (batches [2][][2]int64, meta map[string][]byte, watermark int64, keys int) {
	t.Helper()
	db, err := Open("db", WithFS(entrySyncFS{image}), WithLogger(quietLogger{t}))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i := range batches {
		s, err := db.OpenTable(batchStreamInfo(uint32(i + 1)))
		if err != nil {
			t.Fatal(err)
		}
		batches[i] = streamBatches(t, db, s)
		watermark = s.Watermark()
	}
	k, err := db.OpenTable(groupKeysInfo)
	if err != nil {
		t.Fatal(err)
	}
	if meta, err = db.Meta(); err != nil {
		t.Fatal(err)
	}
	return batches, meta, watermark, k.Len()
}

// TestGroupCommit holds a first commit in its history sync until eight
// others have queued behind it, and checks that they commit as three more
// groups: the longest prefix of the queue that does not depend on itself
// (appends to the same stream, watermarks of one stream, meta records),
// then the commit writing the keyed table that a commit of that prefix
// writes too, and then a big commit, which would make the small ones
// before it wait. A commit of the group failing validation (a key
// committed meanwhile) fails alone; the others are published in queue
// order; a crash before the group's Pebble batch keeps none of it, and
// one after keeps all of it.
func TestGroupCommit(t *testing.T) {
	mem := vfs.NewCrashableMem()
	db, streams, keys := openGroupStore(t, entrySyncFS{mem})
	defer db.Close()
	obs := &orderObserver{batches: map[uint32][][2]int64{}}
	db.SetObserver(obs)
	s1, s2 := streams[0], streams[1]

	held, release := make(chan struct{}), make(chan struct{})
	var beforeBatch *vfs.MemFS
	groups := 0
	db.afterHistorySync = func() {
		groups++
		switch groups {
		case 1:
			close(held)
			<-release
		case 2:
			beforeBatch = mem.CrashClone(vfs.CrashCloneCfg{})
		}
	}

	// Writer 4 inserts key 7 before the first commit commits it.
	tx4 := db.Begin()
	if err := tx4.Insert(keys, keyRow(7)); err != nil {
		t.Fatal(err)
	}
	commits := []func(tx *Txn) error{
		0: func(tx *Txn) error {
			return firstErr(tx.Insert(s1, writerBatch(0, 0, 1)), tx.Insert(keys, keyRow(7)))
		},
		1: func(tx *Txn) error {
			tx.PutMeta("source/1/1", []byte("1"))
			return tx.Insert(s1, writerBatch(1, 0, 3))
		},
		2: func(tx *Txn) error {
			tx.PutMeta("source/2/2", []byte("2"))
			return firstErr(tx.Insert(s2, writerBatch(2, 0, 5)), tx.AdvanceWatermark(s2, 100))
		},
		3: func(tx *Txn) error {
			tx.PutMeta("source/1/3", []byte("3"))
			// Behind writer 2's watermark, which its group raises first.
			return firstErr(tx.Insert(s1, writerBatch(3, 0, 2)), tx.AdvanceWatermark(s2, 50))
		},
		4: nil, // tx4
		5: func(tx *Txn) error {
			tx.PutMeta("source/2/5", []byte("5"))
			return tx.Insert(s2, writerBatch(5, 0, 2000))
		},
		6: func(tx *Txn) error {
			tx.PutMeta("catalog/6", []byte("6"))
			return nil
		},
		7: func(tx *Txn) error { return tx.Insert(keys, keyRow(9)) },
		8: func(tx *Txn) error { return tx.Insert(s2, writerBatch(8, 0, groupJoinRows+1)) },
	}
	errs := make([]error, len(commits))
	timings := make([]CommitTiming, len(commits))
	var wg sync.WaitGroup
	for w, write := range commits {
		tx := tx4
		if write != nil {
			tx = db.Begin()
			if err := write(tx); err != nil {
				t.Fatal(err)
			}
		}
		wg.Go(func() {
			errs[w] = tx.Commit()
			timings[w] = tx.Timing()
		})
		if w == 0 {
			<-held
			continue
		}
		for queued(db) < w {
			time.Sleep(time.Millisecond)
		}
	}
	close(release)
	wg.Wait()

	for w, err := range errs {
		if w == 4 {
			if sqlerr.Code(err) != sqlerr.UniqueViolation {
				t.Errorf("writer 4: want a duplicate key error, got %v", err)
			}
		} else if err != nil {
			t.Errorf("writer %d: %v", w, err)
		}
	}
	if groups != 4 {
		t.Fatalf("%d commit groups, want 4: the first, writers 1-6, 7, 8", groups)
	}
	for w := 2; w <= 6; w++ {
		if timings[w].Hold != timings[1].Hold {
			t.Errorf("writer %d held the commit %v, writer 1 %v: not one group", w, timings[w].Hold, timings[1].Hold)
		}
	}
	want := [2][][2]int64{{{9, 0}, {0, 0}, {1, 0}, {3, 0}}, {{9, 0}, {2, 0}, {5, 0}, {8, 0}}}
	for i, s := range streams {
		if got := obs.batches[s.info.ID]; !slices.Equal(got, want[i][1:]) {
			t.Errorf("stream %d: observed batches %v, want %v", s.info.ID, got, want[i][1:])
		}
		if got := streamBatches(t, db, s); !slices.Equal(got, want[i]) {
			t.Errorf("stream %d: batches %v, want %v", s.info.ID, got, want[i])
		}
	}
	if w := s2.Watermark(); w != 100 {
		t.Errorf("watermark %d, want 100", w)
	}

	gotBatches, meta, wm, nkeys := reopenGroupStore(t, beforeBatch)
	if !slices.Equal(gotBatches[0], want[0][:2]) || !slices.Equal(gotBatches[1], want[1][:1]) || wm != NoWatermark || nkeys != 1 || len(meta["source/1/1"]) > 0 {
		t.Errorf("crashed before the group's batch: batches %v, watermark %d, %d keys, offsets %q: want only the first group's", gotBatches, wm, nkeys, meta["source/1/1"])
	}
	gotBatches, meta, wm, nkeys = reopenGroupStore(t, mem.CrashClone(vfs.CrashCloneCfg{}))
	if !slices.Equal(gotBatches[0], want[0]) || !slices.Equal(gotBatches[1], want[1]) || wm != 100 || nkeys != 2 {
		t.Errorf("crashed after: batches %v, watermark %d, %d keys: want every acknowledged commit", gotBatches, wm, nkeys)
	}
	for _, k := range []string{"source/1/1", "source/2/2", "source/1/3", "source/2/5", "catalog/6"} {
		if _, ok := meta[k]; !ok {
			t.Errorf("crashed after: meta record %s missing", k)
		}
	}
}

// firstErr returns the first of errs that is not nil.
func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// TestGroupCommitCrashAnyTime has writers commit batches to two streams,
// each with its offset, and to a keyed table (some failing on a key
// another commits first), while crash images are taken at random times.
// In each image every commit acknowledged before it was taken is there,
// and each writer's stored offset names its last batch there: groups
// keep every acknowledged commit durable and rows atomic with offsets.
func TestGroupCommitCrashAnyTime(t *testing.T) {
	rng := rand.New(rand.NewPCG(uint64(randtest.Seed(t)), 0))
	mem := vfs.NewCrashableMem()
	db, streams, keys := openGroupStore(t, entrySyncFS{mem})
	defer db.Close()

	const writers, batches = 3, 150
	// acked[stream][writer] is the writer's last acknowledged batch.
	var acked [2][writers]atomic.Int64
	var done atomic.Bool
	var wg sync.WaitGroup
	for si, st := range streams {
		for w := range writers {
			acked[si][w].Store(-1)
			seed := rng.Uint64()
			wg.Go(func() {
				r := rand.New(rand.NewPCG(seed, 0))
				for b := range batches {
					tx := db.Begin()
					if err := tx.Insert(st, writerBatch(w, b, []int{1, 3, 200, 3000}[r.IntN(4)])); err != nil {
						t.Error(err)
						return
					}
					tx.PutMeta(writerOffsetKey(st.info.ID, w), strconv.AppendInt(nil, int64(b), 10))
					k := int64(r.IntN(1000))
					if r.IntN(4) == 0 {
						if err := tx.Insert(keys, keyRow(k)); err != nil && sqlerr.Code(err) != sqlerr.UniqueViolation {
							t.Error(err)
							return
						}
					}
					err := tx.Commit()
					switch {
					case sqlerr.Code(err) == sqlerr.UniqueViolation:
					case err != nil:
						t.Error(err)
						return
					default:
						acked[si][w].Store(int64(b))
					}
				}
			})
		}
	}
	type image struct {
		fs    *vfs.MemFS
		acked [2][writers]int64
	}
	var images []image
	crasher := make(chan struct{})
	go func() {
		defer close(crasher)
		for len(images) < 30 && !done.Load() {
			time.Sleep(time.Duration(rng.IntN(5000)) * time.Microsecond)
			var im image
			for si := range streams {
				for w := range writers {
					im.acked[si][w] = acked[si][w].Load()
				}
			}
			im.fs = mem.CrashClone(vfs.CrashCloneCfg{})
			images = append(images, im)
		}
	}()
	wg.Wait()
	done.Store(true)
	<-crasher
	if t.Failed() {
		return
	}
	t.Logf("%d crash images", len(images))
	for n, im := range images {
		batches, meta, _, _ := reopenGroupStore(t, im.fs)
		for si, st := range streams {
			last := [writers]int64{-1, -1, -1}
			for _, wb := range batches[si][1:] {
				w, b := wb[0], wb[1]
				if b <= last[w] {
					t.Fatalf("image %d, stream %d: writer %d's batch %d after its batch %d", n, st.info.ID, w, b, last[w])
				}
				last[w] = b
			}
			for w := range writers {
				stored := int64(-1)
				if v, ok := meta[writerOffsetKey(st.info.ID, w)]; ok {
					stored, _ = strconv.ParseInt(string(v), 10, 64)
				}
				if stored != last[w] {
					t.Fatalf("image %d, stream %d, writer %d: stored offset %d, last batch %d: rows and offsets apart", n, st.info.ID, w, stored, last[w])
				}
				if stored < im.acked[si][w] {
					t.Fatalf("image %d, stream %d, writer %d: batch %d acknowledged before the crash, only %d stored", n, st.info.ID, w, im.acked[si][w], stored)
				}
			}
		}
	}
}
