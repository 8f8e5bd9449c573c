package storage

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// BenchmarkTable loads 1M rows (int8, int8, text) in 10K-row commits, then
// measures a full scan (rows/s), primary-key lookups (ns/op) and reopening
// (loading the table from Pebble). Run: go test -run - -bench Table ./storage
func BenchmarkTable(b *testing.B) { benchTable(b, false) }

// BenchmarkStream is BenchmarkTable for an append-only table without a key,
// whose rows are in its history log, and whose scans read all but the
// newest segments back from it.
func BenchmarkStream(b *testing.B) { benchTable(b, true) }

func benchTable(b *testing.B, appendOnly bool) {
	const total, batch = 1_000_000, 10_000
	dir := b.TempDir()
	db, err := Open(dir, WithLogger(quietLogger{b}))
	if err != nil {
		b.Fatal(err)
	}
	info := TableInfo{ID: 1, Name: "bench", ColNames: []string{"id", "v", "s"},
		Types: []*types.T{types.Int8, types.Int8, types.Text}, PK: []int{0}}
	if appendOnly {
		info.PK, info.AppendOnly = nil, true
	}
	tbl := createTable(b, db, info)
	start := time.Now()
	for lo := 0; lo < total; lo += batch {
		c := coldata.NewChunk(info.Types, batch)
		for i := lo; i < lo+batch; i++ {
			c.Cols[0].Ints = append(c.Cols[0].Ints, int64(i))
			c.Cols[1].Ints = append(c.Cols[1].Ints, int64(i*7))
			c.Cols[2].Bytes = append(c.Cols[2].Bytes, fmt.Sprintf("row-%08d", i))
		}
		c.Len = batch
		tx := db.Begin()
		if err := tx.Insert(tbl, c); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	ins := time.Since(start)
	fmt.Printf("insert: %d rows in %v (%.0f rows/s, %d-row commits)\n", total, ins.Round(time.Millisecond), total/ins.Seconds(), batch)

	b.Run("scan", func(b *testing.B) {
		var rows int
		for b.Loop() {
			s := db.Begin().Scan(tbl)
			var sum int64
			for {
				c, _, ok := s.Next()
				if !ok {
					break
				}
				for _, x := range c.Cols[1].Ints {
					sum += x
				}
				rows += c.Len
			}
		}
		rps := float64(rows) / b.Elapsed().Seconds()
		b.ReportMetric(rps, "rows/s")
		fmt.Printf("scan: %.0f rows/s\n", rps)
	})
	b.Run("lookup", func(b *testing.B) {
		if appendOnly {
			b.Skip("no key")
		}
		r := rand.New(rand.NewPCG(1, 2))
		tx := db.Begin()
		key := make([]types.Datum, 1)
		for b.Loop() {
			key[0] = r.Int64N(total)
			if _, _, ok := tx.Lookup(tbl, key); !ok {
				b.Fatal("missing")
			}
		}
		fmt.Printf("lookup: %.0f ns/op\n", float64(b.Elapsed().Nanoseconds())/float64(b.N))
	})
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	start = time.Now()
	db, err = Open(dir, WithLogger(quietLogger{b}))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if tbl, err = db.OpenTable(info); err != nil || tbl.Len() != total {
		b.Fatalf("reopen: %v", err)
	}
	fmt.Printf("reopen: loaded %d rows in %v\n", total, time.Since(start).Round(time.Millisecond))
}

// BenchmarkStreamCommit commits segment-sized batches of bid-like rows
// (three int8, a 150-byte text, a timestamp: about 10 MB a batch) to an append-only table, as
// a kafka source delivers them: the history log's encode, write and sync.
// Run: go test -run - -bench StreamCommit ./storage
func BenchmarkStreamCommit(b *testing.B) {
	benchStreamCommit(b, SegmentRows(), SegmentRows(), (*Txn).Insert)
}

// BenchmarkStreamAdoptSmall commits them as a generator delivers them: a
// third of a segment at a time, each batch given up (Txn.Adopt).
func BenchmarkStreamAdoptSmall(b *testing.B) {
	benchStreamCommit(b, SegmentRows()/3, SegmentRows()/3, (*Txn).Adopt)
}

// BenchmarkStreamAdoptKafka commits them as a Kafka source delivers them:
// 10 000 rows at a time in vectors grown to a power of two (16 Ki rows),
// each batch given up (Txn.Adopt).
func BenchmarkStreamAdoptKafka(b *testing.B) {
	benchStreamCommit(b, 10_000, 16<<10, (*Txn).Adopt)
}

// benchStreamCommit commits batches of rows rows in vectors of capacity
// rows.
func benchStreamCommit(b *testing.B, rows, capacity int, insert func(*Txn, *Table, *coldata.Chunk) error) {
	db, err := Open(b.TempDir(), WithLogger(quietLogger{b}))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	info := TableInfo{ID: 1, Name: "bids", ColNames: []string{"auction", "bidder", "price", "extra", "date_time"},
		Types: []*types.T{types.Int8, types.Int8, types.Int8, types.Text, types.TimestampTZ}, AppendOnly: true}
	tbl := createTable(b, db, info)
	batch := func(lo int) *coldata.Chunk {
		c := coldata.NewChunk(info.Types, capacity)
		for i := lo; i < lo+rows; i++ {
			c.Cols[0].Ints = append(c.Cols[0].Ints, int64(i%1000))
			c.Cols[1].Ints = append(c.Cols[1].Ints, int64(i*7))
			c.Cols[2].Ints = append(c.Cols[2].Ints, int64(i%10_000))
			c.Cols[3].Bytes = append(c.Cols[3].Bytes, fmt.Sprintf("%0150d", i))
			c.Cols[4].Ints = append(c.Cols[4].Ints, int64(i)*1000)
		}
		c.Len = rows
		return c
	}
	n := 0
	var cpu time.Duration // of the commits alone, less sensitive than time to other processes
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		c := batch(n)
		cpu0 := processCPU()
		b.StartTimer()
		tx := db.Begin()
		if err := insert(tx, tbl, c); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cpu += processCPU() - cpu0
		b.StartTimer()
		n += rows
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/row")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(n), "cpu-ns/row")
}

// processCPU is the CPU time the process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSmallCommitsBesideBulk times one-row commits to streams of
// their own (a freshness marker's source) while another goroutine commits
// a segment of rows at a time to a stream (a generator's), each commit
// with its offset, on the OS filesystem: the small commits' latency and
// the bulk rows per second. Run: go test -run - -bench SmallCommits ./storage
func BenchmarkSmallCommitsBesideBulk(b *testing.B) {
	for _, small := range []int{1, 4} {
		b.Run(fmt.Sprintf("small=%d", small), func(b *testing.B) { benchSmallBesideBulk(b, small) })
	}
}

func benchSmallBesideBulk(b *testing.B, small int) {
	db, err := Open(b.TempDir(), WithLogger(quietLogger{b}))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	// The bulk stream's rows take about as many bytes as Nexmark's bids
	// (~150): a segment is ~10 MB of history frames.
	bulkInfo := TableInfo{ID: 100, Name: "bulk", Types: []*types.T{types.Int8, types.Int8, types.Int8, types.Text}, AppendOnly: true}
	bulk := createTable(b, db, bulkInfo)
	bulkRows := coldata.NewChunk(bulkInfo.Types, SegmentRows())
	for i := range SegmentRows() {
		bulkRows.AppendRow([]types.Datum{int64(i), int64(i * 7), int64(i % 1000), fmt.Sprintf("%0120d", i)})
	}
	smalls := make([]*Table, small)
	for i := range smalls {
		smalls[i] = createTable(b, db, batchStreamInfo(uint32(i+1)))
	}
	commit := func(t *Table, rows *coldata.Chunk, offset int) error {
		tx := db.Begin()
		if err := tx.Insert(t, rows); err != nil {
			return err
		}
		tx.PutMeta(writerOffsetKey(t.info.ID, 0), strconv.AppendInt(nil, int64(offset), 10))
		return tx.Commit()
	}
	stop := make(chan struct{})
	var bulkDone atomic.Int64
	var bg sync.WaitGroup
	bg.Go(func() {
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := commit(bulk, bulkRows, n); err != nil {
				b.Error(err)
				return
			}
			bulkDone.Add(int64(bulkRows.Len))
		}
	})
	var mu sync.Mutex
	var lat []time.Duration
	var next atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for _, t := range smalls {
		wg.Go(func() {
			for {
				n := next.Add(1)
				if n > int64(b.N) {
					return
				}
				began := time.Now()
				if err := commit(t, writerBatch(1, int(n), 1), int(n)); err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				lat = append(lat, time.Since(began))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stop)
	bg.Wait()
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(bulkDone.Load())/elapsed.Seconds(), "bulk-rows/s")
}
