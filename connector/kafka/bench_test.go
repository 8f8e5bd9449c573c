package kafka

import (
	"context"
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-db/sluice/connector/format"
	"github.com/sluice-db/sluice/types"
)

// countTarget counts the rows delivered and keeps nothing.
type countTarget struct{ rows atomic.Int64 }

func (c *countTarget) Deliver(_ context.Context, b *Batch) error {
	c.rows.Add(int64(b.Rows.Len))
	return nil
}

// BenchmarkSourceDrain drains a topic of 1M JSON records of ~120 bytes
// (4 partitions, snappy, as the benchmarks' bids) through a Source with the
// JSON decoder into a target that keeps nothing: the source's own cost
// (fetching, decompressing, decoding) with the in-process broker's.
func BenchmarkSourceDrain(b *testing.B) {
	const n = 1_000_000
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "t"))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic("t"),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for i := range n {
		v := fmt.Sprintf(`{"auction": %d, "bidder": %d, "price": %d, "url": "https://www.nexmark.com/item.htm?query=1&channel_id=%d"}`,
			1000+i%977, 2000+i%311, i%10000, i%10000)
		cl.Produce(ctx, &kgo.Record{Value: []byte(v)}, nil)
	}
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	cl.Close()
	cols := []format.Column{{Name: "auction", Type: types.Int8}, {Name: "bidder", Type: types.Int8},
		{Name: "price", Type: types.Int8}, {Name: "url", Type: types.Text}}
	f, err := format.Compile(format.Config{Format: "json", Columns: cols})
	if err != nil {
		b.Fatal(err)
	}
	o, err := ParseOptions("s", map[string]string{"topic": "t"}, c.ListenAddrs())
	if err != nil {
		b.Fatal(err)
	}
	cpu0 := processCPU(b)
	b.ResetTimer()
	for range b.N {
		target := &countTarget{}
		s, err := Start(Config{Options: o, Value: f, Target: target, Fresh: true,
			Layout: Layout{Types: []*types.T{types.Int8, types.Int8, types.Int8, types.Text}, Value: []int{0, 1, 2, 3}}})
		if err != nil {
			b.Fatal(err)
		}
		for target.rows.Load() < n {
			time.Sleep(time.Millisecond)
		}
		s.Close()
	}
	b.StopTimer()
	cpu := processCPU(b) - cpu0
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(n)*float64(b.N)/cpu.Seconds(), "records/CPU-s")
}

// processCPU returns the CPU time (user and system) the process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkWorkerFillsBatch decodes JSON bids (~200 bytes) into one batch
// of BatchRows rows, from fetches of 9000 records, starting from a batch
// sized for a previous one of 16 Ki rows, as a worker does while its
// deliverer commits: the cost of growing the batch's vectors with the
// decoding.
func BenchmarkWorkerFillsBatch(b *testing.B) {
	cols := []format.Column{{Name: "auction", Type: types.Int8}, {Name: "bidder", Type: types.Int8},
		{Name: "price", Type: types.Int8}, {Name: "channel", Type: types.Text}, {Name: "url", Type: types.Text},
		{Name: "date_time", Type: types.TimestampTZ}, {Name: "extra", Type: types.Text}}
	f, err := format.Compile(format.Config{Format: "json", Columns: cols})
	if err != nil {
		b.Fatal(err)
	}
	typs := make([]*types.T, len(cols))
	value := make([]int, len(cols))
	for i, c := range cols {
		typs[i], value[i] = c.Type, i
	}
	s := &Source{cfg: Config{Value: f, Layout: Layout{Types: typs, Value: value}, BatchRows: 1 << 16},
		cells: map[Partition]*statsCell{}}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	defer s.cancel()
	w := s.newWorker(nil)
	const fetchRecords = 9000
	fetches := make([]fetched, (s.cfg.BatchRows+fetchRecords-1)/fetchRecords)
	n := 0
	for i := range fetches {
		fetches[i].p = Partition{"t", 0}
		for range min(fetchRecords, s.cfg.BatchRows-n) {
			v := fmt.Sprintf(`{"auction": %d, "bidder": %d, "price": %d, "channel": "channel-%d", "url": "https://www.nexmark.com/item.htm?query=1&channel_id=%d", "date_time": "2026-12-06T04:00:%02d.%03dZ", "extra": "%s"}`,
				1000+n%977, 2000+n%311, n%10000, n%1000, n%10000, n%60, n%1000, "xxxxxxxxxxxxxxxxxxxxxxxx")
			fetches[i].records = append(fetches[i].records, &kgo.Record{Value: []byte(v), Offset: int64(n)})
			n++
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		w.batch, w.last = nil, 1<<14
		for _, f := range fetches {
			w.decode(f)
		}
		if w.batch.Rows.Len != s.cfg.BatchRows {
			b.Fatalf("a batch of %d rows, want %d", w.batch.Rows.Len, s.cfg.BatchRows)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
}
