package storage

import (
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// batchStreamTypes are the columns of the streams TestConcurrentStreamCommits writes:
// writer, batch, row within the batch.
var batchStreamTypes = []*types.T{types.Int8, types.Int8, types.Int8}

func batchStreamInfo(id uint32) TableInfo {
	return TableInfo{ID: id, Name: fmt.Sprint("s", id), ColNames: []string{"writer", "batch", "seq"}, Types: batchStreamTypes, AppendOnly: true}
}

// writerBatch is batch b of writer w: n rows (w, b, 0..n-1).
func writerBatch(w, b, n int) *coldata.Chunk {
	c := coldata.NewChunk(batchStreamTypes, n)
	for i := range n {
		c.AppendRow([]types.Datum{int64(w), int64(b), int64(i)})
	}
	return c
}

func writerOffsetKey(stream uint32, w int) string { return fmt.Sprintf("source/%d/%d", stream, w) }

// orderObserver records, per table, the (writer, batch) of every committed
// run of rows in commit order: Committed runs under the commit lock.
type orderObserver struct {
	mu      sync.Mutex
	batches map[uint32][][2]int64
}

func (*orderObserver) Wants(uint32) bool { return true }
func (o *orderObserver) Committed(cs []Change) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, c := range cs {
		for _, ch := range c.Chunks {
			// A batch past a segment comes in several chunks: its
			// first row starts it.
			if len(ch.Cols) == len(batchStreamTypes) && ch.Len > 0 && ch.Cols[2].Ints[0] == 0 {
				o.batches[c.TableID] = append(o.batches[c.TableID], [2]int64{ch.Cols[0].Ints[0], ch.Cols[1].Ints[0]})
			}
		}
	}
}

// streamBatches reads a stream's rows as (writer, batch) runs, checking
// that each batch is whole and in order within.
func streamBatches(t *testing.T, db *DB, tbl *Table) [][2]int64 {
	t.Helper()
	var out [][2]int64
	var seq int64
	s := db.Begin().Scan(tbl)
	for {
		c, _, ok := s.Next()
		if !ok {
			break
		}
		for i := range c.Len {
			w, b, k := c.Cols[0].Ints[i], c.Cols[1].Ints[i], c.Cols[2].Ints[i]
			if k == 0 {
				out = append(out, [2]int64{w, b})
				seq = 0
			}
			if last := out[len(out)-1]; last != [2]int64{w, b} || k != seq {
				t.Fatalf("table %d: row (%d, %d, %d) inside batch %v at row %d: a batch is torn or interleaved", tbl.info.ID, w, b, k, last, seq)
			}
			seq++
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestConcurrentStreamCommits commits batches to two streams from three
// writers each, with each writer's offset in the same commit, some commits
// failing validation (a duplicate key in another table) after their
// rows were encoded. Every committed batch must be whole, in commit order,
// on disk as in memory, and each writer's stored offset must be its last
// committed batch: a change to the commit path (group commit, history
// frames written outside the commit lock) must lose, reorder and tear
// none, and keep rows and offsets atomic.
func TestConcurrentStreamCommits(t *testing.T) {
	fs := vfs.NewMem()
	db, err := Open("db", WithFS(fs), WithLogger(quietLogger{t}))
	if err != nil {
		t.Fatal(err)
	}
	obs := &orderObserver{batches: map[uint32][][2]int64{}}
	db.SetObserver(obs)
	streams := []*Table{createTable(t, db, batchStreamInfo(1)), createTable(t, db, batchStreamInfo(2))}
	keysInfo := TableInfo{ID: 3, Name: "keys", ColNames: []string{"k"}, Types: []*types.T{types.Int8}, PK: []int{0}}
	keys := createTable(t, db, keysInfo)
	key := func(k int64) *coldata.Chunk {
		c := coldata.NewChunk(keysInfo.Types, 1)
		c.AppendRow([]types.Datum{k})
		return c
	}

	const writers, batches = 3, 24
	// last[stream][writer] is the writer's last committed batch.
	last := [2][writers]int{}
	var wg sync.WaitGroup
	for si, st := range streams {
		for w := range writers {
			last[si][w] = -1
			wg.Go(func() {
				for b := range batches {
					// Sizes from a row to past a segment, so that frames
					// are flushed in several writes.
					n := []int{1, 7, 300, 5000, SegmentRows() + 3}[(w+b)%5]
					tx := db.Begin()
					if err := tx.Insert(st, writerBatch(w, b, n)); err != nil {
						t.Error(err)
						return
					}
					tx.PutMeta(writerOffsetKey(st.info.ID, w), strconv.AppendInt(nil, int64(b), 10))
					fail := b%7 == 3
					if fail {
						// Another txn commits the same key first: this
						// commit fails validation, after encoding its rows.
						k := int64(st.info.ID)<<32 | int64(w)<<16 | int64(b)
						if err := tx.Insert(keys, key(k)); err != nil {
							t.Error(err)
							return
						}
						other := db.Begin()
						if err := other.Insert(keys, key(k)); err != nil {
							t.Error(err)
							return
						}
						if err := other.Commit(); err != nil {
							t.Error(err)
							return
						}
					}
					err := tx.Commit()
					switch {
					case fail && sqlerr.Code(err) != sqlerr.UniqueViolation:
						t.Errorf("writer %d batch %d: want a duplicate key error, got %v", w, b, err)
						return
					case !fail && err != nil:
						t.Error(err)
						return
					case !fail:
						last[si][w] = b
					}
				}
			})
		}
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	inMemory := map[uint32][][2]int64{}
	for _, st := range streams {
		got := streamBatches(t, db, st)
		if want := obs.batches[st.info.ID]; !slices.Equal(got, want) {
			t.Fatalf("stream %d: rows in memory are batches %v, committed in order %v", st.info.ID, got, want)
		}
		inMemory[st.info.ID] = got
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = Open("db", WithFS(fs), WithLogger(quietLogger{t}))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	meta, err := db.Meta()
	if err != nil {
		t.Fatal(err)
	}
	for si, st := range streams {
		tbl, err := db.OpenTable(st.info)
		if err != nil {
			t.Fatal(err)
		}
		got := streamBatches(t, db, tbl)
		if want := inMemory[st.info.ID]; !slices.Equal(got, want) {
			t.Fatalf("stream %d: reopened, batches %v, before %v", st.info.ID, got, want)
		}
		next := [writers]int{}
		for _, wb := range got {
			w, b := int(wb[0]), int(wb[1])
			if b < next[w] || b%7 == 3 {
				t.Fatalf("stream %d: writer %d's batch %d out of order or failed, yet stored", st.info.ID, w, b)
			}
			next[w] = b + 1
		}
		for w := range writers {
			want := strconv.Itoa(last[si][w])
			if got := string(meta[writerOffsetKey(st.info.ID, w)]); got != want || next[w] != last[si][w]+1 {
				t.Fatalf("stream %d writer %d: stored offset %s and rows up to batch %d, want batch %s", st.info.ID, w, got, next[w]-1, want)
			}
		}
	}
}
