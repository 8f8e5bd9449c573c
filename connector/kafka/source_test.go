package kafka

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/connector/format"
	"github.com/sluice-db/sluice/types"
)

// intDecoder decodes a record holding a decimal integer: the smallest
// format, so these tests exercise the source and not a format.
type intDecoder struct{}

func (intDecoder) NewDecoder() format.Decoder { return intDecoder{} }

func (intDecoder) Decode(rec []byte, cols []*coldata.Vec) error {
	n, err := strconv.ParseInt(string(rec), 10, 64)
	if err != nil {
		return fmt.Errorf("not an integer: %q", rec)
	}
	cols[0].Append(n)
	return nil
}

// collector is a Target that keeps what it is given, as the engine does:
// rows, dead letters and offsets together.
type collector struct {
	mu      sync.Mutex
	values  map[int64]int
	dead    []DeadLetter
	offsets map[Partition]int64
	parts   map[int64]int64 // value -> _partition
	block   chan struct{}   // when set, Deliver of rows waits on it
	// origins lists the batches whose Runs or RecordOffsets disagree with
	// the rows' _partition or with the offsets reached.
	origins []string
	// largest is the most rows a batch had.
	largest int
}

func newCollector() *collector {
	return &collector{values: map[int64]int{}, offsets: map[Partition]int64{}, parts: map[int64]int64{}}
}

func (c *collector) Deliver(ctx context.Context, b *Batch) error {
	if c.block != nil && b.Rows.Len > 0 {
		select {
		case <-c.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.largest = max(c.largest, b.Rows.Len)
	c.checkOrigins(b)
	for i := range b.Rows.Len {
		v := b.Rows.Cols[0].Ints[i]
		c.values[v]++
		c.parts[v] = b.Rows.Cols[1].Ints[i]
	}
	c.dead = append(c.dead, b.Dead...)
	for p, o := range b.Offsets {
		if prev, ok := c.offsets[p]; ok && o < prev {
			return fmt.Errorf("offset of %v went back from %d to %d", p, prev, o)
		}
		c.offsets[p] = o
	}
	return nil
}

// checkOrigins checks that each row's run names its _partition and that
// record offsets rise within a partition, below the offset the batch
// reached.
func (c *collector) checkOrigins(b *Batch) {
	if len(b.RecordOffsets) != b.Rows.Len {
		c.origins = append(c.origins, fmt.Sprintf("%d record offsets for %d rows", len(b.RecordOffsets), b.Rows.Len))
		return
	}
	last := map[Partition]int64{}
	start := 0
	for _, r := range b.Runs {
		for i := start; i < r.End; i++ {
			off := b.RecordOffsets[i]
			prev, seen := last[r.Partition]
			if b.Rows.Cols[1].Ints[i] != int64(r.Partition.Partition) || (seen && off <= prev) || off >= b.Offsets[r.Partition] {
				c.origins = append(c.origins, fmt.Sprintf("row %d: run %v, offset %d, _partition %d", i, r, off, b.Rows.Cols[1].Ints[i]))
			}
			last[r.Partition] = off
		}
		start = r.End
	}
	if start != b.Rows.Len {
		c.origins = append(c.origins, fmt.Sprintf("runs end at %d of %d rows", start, b.Rows.Len))
	}
}

func (c *collector) count() (rows, dead int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.values {
		rows += n
	}
	return rows, len(c.dead)
}

func (c *collector) snapshotOffsets() map[Partition]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[Partition]int64{}
	for p, o := range c.offsets {
		out[p] = o
	}
	return out
}

func newCluster(t testing.TB, partitions int32, topics ...string) (*kfake.Cluster, *kgo.Client) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic(topics[0]),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return c, cl
}

func produce(t testing.TB, cl *kgo.Client, topic string, values ...string) {
	t.Helper()
	recs := make([]*kgo.Record, len(values))
	for i, v := range values {
		recs[i] = &kgo.Record{Topic: topic, Value: []byte(v)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
}

func ints(lo, hi int) []string {
	var out []string
	for i := lo; i < hi; i++ {
		out = append(out, strconv.Itoa(i))
	}
	return out
}

func startSource(t testing.TB, c *kfake.Cluster, opts map[string]string, target Target, stored map[Partition]int64, fresh bool, edits ...func(*Config)) *Source {
	t.Helper()
	o, err := ParseOptions("s", opts, c.ListenAddrs())
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Options: o, Value: intDecoder{}, Target: target, Offsets: stored, Fresh: fresh,
		Layout:    Layout{Types: []*types.T{types.Int8, types.Int4}, Value: []int{0}, Meta: map[int]MetaColumn{1: MetaPartition}},
		BatchRows: 100, MaxDelay: 5 * time.Millisecond, MetadataInterval: 50 * time.Millisecond,
	}
	for _, edit := range edits {
		edit(&cfg)
	}
	s, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Every record arrives exactly once across a restart from the stored
// offsets, in batches of at most BatchRows rows, and undecodable records
// become dead letters with their position.
func TestSourceExactlyOnceAcrossRestart(t *testing.T) {
	c, cl := newCluster(t, 3, "t")
	produce(t, cl, "t", ints(0, 1000)...)
	produce(t, cl, "t", "oops")
	col := newCollector()
	s := startSource(t, c, map[string]string{"topic": "t"}, col, nil, true)
	waitFor(t, "first 1001 records", func() bool { r, d := col.count(); return r == 1000 && d == 1 })
	s.Close()

	produce(t, cl, "t", ints(1000, 2500)...)
	s = startSource(t, c, map[string]string{"topic": "t"}, col, col.snapshotOffsets(), false)
	defer s.Close()
	waitFor(t, "all 2500 records", func() bool { r, _ := col.count(); return r >= 2500 })
	time.Sleep(50 * time.Millisecond)
	col.mu.Lock()
	defer col.mu.Unlock()
	for i := range int64(2500) {
		if col.values[i] != 1 {
			t.Fatalf("value %d delivered %d times", i, col.values[i])
		}
	}
	if len(col.values) != 2500 {
		t.Fatalf("%d distinct values, want 2500", len(col.values))
	}
	if len(col.origins) > 0 {
		t.Fatalf("rows' partitions and offsets: %q", col.origins)
	}
	// Fetches of several hundred records are cut into batches of BatchRows.
	if col.largest != 100 {
		t.Fatalf("the largest batch had %d rows, want BatchRows (100)", col.largest)
	}
	if d := col.dead[0]; string(d.Value) != "oops" || d.Topic != "t" || d.Err == "" {
		t.Fatalf("dead letter %+v", d)
	}
	var total int64
	for _, st := range s.Stats() {
		total += st.Position
	}
	if total != 2501 {
		t.Fatalf("positions sum to %d, want 2501 (every record, the bad one too)", total)
	}
}

// start = 'latest' skips what the topic held at creation, and a partition
// added later is read from its beginning.
func TestSourceLatestAndNewPartitions(t *testing.T) {
	c, cl := newCluster(t, 2, "t")
	produce(t, cl, "t", ints(0, 100)...)
	col := newCollector()
	s := startSource(t, c, map[string]string{"topic": "t", "start": "latest"}, col, nil, true)
	defer s.Close()
	waitFor(t, "start offsets stored", func() bool { return len(col.snapshotOffsets()) == 2 })
	if r, _ := col.count(); r != 0 {
		t.Fatalf("read %d records that predate the stream", r)
	}
	adm := kadm.NewClient(cl)
	if _, err := adm.CreatePartitions(context.Background(), 2, "t"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "4 partitions assigned", func() bool { return len(s.Stats()) == 4 })
	// Produce to each partition explicitly.
	var recs []*kgo.Record
	for i := range 400 {
		recs = append(recs, &kgo.Record{Topic: "t", Partition: int32(i % 4), Value: []byte(strconv.Itoa(1000 + i))})
	}
	pcl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer pcl.Close()
	if err := pcl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "400 new records", func() bool { r, _ := col.count(); return r == 400 })
	col.mu.Lock()
	defer col.mu.Unlock()
	for i := range int64(400) {
		if p := col.parts[1000+i]; p != i%4 {
			t.Fatalf("value %d: _partition %d, want %d", 1000+i, p, i%4)
		}
	}
}

// A Target that stops accepting makes the source pause fetching rather than
// read on: what it holds stays within its queues, however big the backlog.
func TestSourceBackpressure(t *testing.T) {
	c, cl := newCluster(t, 1, "t")
	produce(t, cl, "t", ints(0, 300000)...)
	col := newCollector()
	col.block = make(chan struct{})
	s := startSource(t, c, map[string]string{"topic": "t"}, col, nil, true)
	defer s.Close()
	waitFor(t, "fetching paused", func() bool {
		st := s.Stats()
		return len(st) == 1 && st[0].Pauses > 0
	})
	time.Sleep(100 * time.Millisecond)
	st := s.Stats()[0]
	// One batch in delivery, four queued fetches, one in hand: a poll
	// returns at most 1<<14 records.
	if limit := int64(6 << 14); st.Records > limit {
		t.Fatalf("read %d records while the target accepted none (limit %d)", st.Records, limit)
	}
	close(col.block)
	waitFor(t, "all records", func() bool { r, _ := col.count(); return r == 300000 })
}

func TestParseOptionsErrors(t *testing.T) {
	for _, tc := range []struct {
		opts map[string]string
		want string
	}{
		{map[string]string{}, "exactly one of the options topic"},
		{map[string]string{"topic": "a", "topics": "a,b"}, "exactly one of the options topic"},
		{map[string]string{"topic_pattern": "("}, "invalid value for option \"topic_pattern\""},
		{map[string]string{"topic": "a", "start": "yesterday"}, "expected earliest, latest or an RFC 3339 time"},
		{map[string]string{"topic": "a", "isolation": "dirty"}, "expected read_committed or read_uncommitted"},
		{map[string]string{"topic": "a", "sasl_mechanism": "GSSAPI", "sasl_username": "u"}, "expected PLAIN"},
		{map[string]string{"topic": "a", "sasl_username": "u", "sasl_password": "secret"}, "need sasl_mechanism"},
		{map[string]string{"topic": "a", "tls_ca": "/x"}, "needs tls = 'true'"},
		{map[string]string{"topic": "a", "on_error": "ignore"}, "expected dead_letter or fail"},
	} {
		_, err := ParseOptions("s", tc.opts, []string{"localhost:9092"})
		if err == nil || !contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want %q", tc.opts, err, tc.want)
		}
		if err != nil && contains(err.Error(), "secret") {
			t.Errorf("%v: error shows the password: %v", tc.opts, err)
		}
	}
	if _, err := ParseOptions("s", map[string]string{"topic": "a"}, nil); err == nil || !contains(err.Error(), "needs brokers") {
		t.Errorf("no brokers: %v", err)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// A worker sizes each batch for the previous one's rows: BatchRows after a
// full batch (storage adopts a batch that fills its vectors), a chunk's
// worth after a small one (a quiet stream's deliveries).
func TestWorkerBatchCapacity(t *testing.T) {
	for _, batchRows := range []int{1 << 16, 100} {
		s := &Source{cfg: Config{Value: intDecoder{}, Layout: Layout{Types: []*types.T{types.Int8}, Value: []int{0}}, BatchRows: batchRows}}
		w := s.newWorker(nil)
		for _, c := range []struct{ last, want int }{
			{0, 1024}, {3, 1024}, {1024, 1024}, {5000, 8192}, {1<<15 + 1, 1 << 16}, {1 << 16, 1 << 16}, {3, 1024},
		} {
			w.reset(c.last)
			want := min(c.want, batchRows)
			if got := cap(w.batch.Rows.Cols[0].Ints); got != want || cap(w.batch.RecordOffsets) != want {
				t.Errorf("BatchRows %d: after a batch of %d rows, capacity %d (offsets %d), want %d", batchRows, c.last, got, cap(w.batch.RecordOffsets), want)
			}
		}
	}
}

// A worker's batch is sized for the fetch it starts with too, not only
// for the previous batch: a fetch of 5000 records into a batch made for a
// small one grew its vectors by appending, copying them each time.
func TestWorkerBatchSizedForFetch(t *testing.T) {
	s := &Source{cfg: Config{Value: intDecoder{}, Layout: Layout{Types: []*types.T{types.Int8}, Value: []int{0}}, BatchRows: 1 << 16},
		cells: map[Partition]*statsCell{}}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	defer s.cancel()
	w := s.newWorker(nil)
	w.last = 10
	f := fetched{p: Partition{"t", 0}}
	for i := range 5000 {
		f.records = append(f.records, &kgo.Record{Value: []byte(strconv.Itoa(i)), Offset: int64(i)})
	}
	w.decode(f)
	if w.batch.Rows.Len != 5000 || cap(w.batch.Rows.Cols[0].Ints) != 8192 || cap(w.batch.RecordOffsets) != 8192 {
		t.Fatalf("a fetch of 5000 records after a batch of 10: %d rows, capacity %d (offsets %d), want 5000 in a batch made at 8192",
			w.batch.Rows.Len, cap(w.batch.Rows.Cols[0].Ints), cap(w.batch.RecordOffsets))
	}
}

// A fetch that does not fit the batch being decoded grows its vectors once,
// to the next power of two and never past BatchRows: appending grew them a
// quarter at a time, copying each every step, to more than BatchRows
// (67 584 for 65 536), which storage copies instead of adopting.
func TestWorkerBatchGrowsOnceAFetch(t *testing.T) {
	const batchRows = 1 << 16
	s := &Source{cfg: Config{Value: intDecoder{}, Layout: Layout{Types: []*types.T{types.Int8}, Value: []int{0}}, BatchRows: batchRows},
		cells: map[Partition]*statsCell{}}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	defer s.cancel()
	w := s.newWorker(nil)
	next := 0
	fetch := func(n int) fetched {
		f := fetched{p: Partition{"t", 0}}
		for range n {
			f.records = append(f.records, &kgo.Record{Value: []byte(strconv.Itoa(next)), Offset: int64(next)})
			next++
		}
		return f
	}
	for _, c := range []struct{ records, rows, capacity int }{
		{20_000, 20_000, 1 << 15}, // a new batch, sized for the fetch
		{10_000, 30_000, 1 << 15}, // fits
		{10_000, 40_000, 1 << 16}, // grows once, to a power of two
		{25_536, batchRows, batchRows},
	} {
		w.decode(fetch(c.records))
		v := w.batch.Rows.Cols[0]
		if w.batch.Rows.Len != c.rows || cap(v.Ints) != c.capacity || cap(w.batch.RecordOffsets) != c.capacity {
			t.Fatalf("after a fetch of %d: %d rows, capacity %d (offsets %d), want %d rows at capacity %d",
				c.records, w.batch.Rows.Len, cap(v.Ints), cap(w.batch.RecordOffsets), c.rows, c.capacity)
		}
		for i, x := range v.Ints[:w.batch.Rows.Len] {
			if x != int64(i) || w.batch.RecordOffsets[i] != int64(i) {
				t.Fatalf("row %d holds %d (offset %d)", i, x, w.batch.RecordOffsets[i])
			}
		}
	}
}

// A worker holds no batch between a flush and the next fetch, so that a
// stream gone quiet holds no vectors; the batch the next fetch starts is
// sized for the one flushed, and a fetch that fills a batch midway goes on
// into a new one.
func TestWorkerHoldsNoBatchWhileIdle(t *testing.T) {
	s := &Source{cfg: Config{Value: intDecoder{}, Layout: Layout{Types: []*types.T{types.Int8}, Value: []int{0}}, BatchRows: 3000},
		cells: map[Partition]*statsCell{}}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	defer s.cancel()
	w := s.newWorker(nil)
	if w.batch != nil {
		t.Fatal("a new worker holds a batch before any fetch")
	}
	var got []*Batch
	delivered := make(chan struct{})
	go func() {
		defer close(delivered)
		for b := range w.out {
			got = append(got, b)
			w.inflight.Done()
		}
	}()
	fetch := func(from, n int) fetched {
		f := fetched{p: Partition{"t", 0}}
		for i := from; i < from+n; i++ {
			f.records = append(f.records, &kgo.Record{Value: []byte(strconv.Itoa(i)), Offset: int64(i)})
		}
		return f
	}
	w.decode(fetch(0, 5000)) // a full batch of 3000 flushed midway, 2000 rows in the next
	if len(w.batch.Rows.Cols[0].Ints) != 2000 || cap(w.batch.Rows.Cols[0].Ints) != 3000 {
		t.Fatalf("after 5000 records: batch of %d rows, capacity %d; want 2000 in a batch sized for the full one (3000)",
			len(w.batch.Rows.Cols[0].Ints), cap(w.batch.Rows.Cols[0].Ints))
	}
	w.flush()
	if w.batch != nil {
		t.Fatal("the worker holds a batch after flushing with no fetch waiting")
	}
	w.decode(fetch(5000, 10))
	if w.batch == nil || w.batch.Rows.Len != 10 || cap(w.batch.Rows.Cols[0].Ints) != 2048 {
		t.Fatalf("the fetch after a flush of 2000 rows: batch %+v, want 10 rows in a batch of capacity 2048", w.batch)
	}
	w.flush()
	close(w.out)
	<-delivered
	var rows []int64
	for _, b := range got {
		rows = append(rows, b.Rows.Cols[0].Ints[:b.Rows.Len]...)
	}
	if len(got) != 3 || len(rows) != 5010 || rows[0] != 0 || rows[5009] != 5009 || got[2].Offsets[Partition{"t", 0}] != 5010 {
		t.Fatalf("delivered %d batches, %d rows, want 3 batches of the 5010 records in order", len(got), len(rows))
	}
}

// A worker that falls behind holds back its client's fetching without
// stalling it: with four partitions on two workers, each client fetches two,
// and the drain must not wait out the client's fetch max wait (5 s). It did
// in about one drain in three when the hand-off paused the partition it
// could not queue (PauseFetchPartitions): franz-go builds its next fetch as
// soon as the last one is polled, so the pause could land first and leave a
// fetch for the client's other partition alone; once that one was at its
// end, the broker held the fetch for the max wait, and resuming does not
// cut a fetch in flight short. Each round stalls the target first, so that
// the worker queues fill, the hand-off blocks and the small partitions reach
// their end while the large ones still have records.
func TestSourceDrainDoesNotWaitOutFetchMaxWait(t *testing.T) {
	c, _ := newCluster(t, 4, "t")
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// Partitions 0 and 1 (one on each worker) hold nearly every record;
	// 2 and 3 a few, read to their end at the first fetch.
	const n = 300000
	var recs []*kgo.Record
	for i := range n {
		p := int32(i % 2)
		if i%10000 == 0 {
			p += 2
		}
		recs = append(recs, &kgo.Record{Topic: "t", Partition: p, Value: []byte(strconv.Itoa(i))})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// A stall waits out the max wait (30 s here) on top of the drain (1.3 s
	// on a quiet machine, 2.9 s at a load of 20, over 4 s at times in a
	// full test run): 15 s tells them apart.
	for round := range 5 {
		if d := drainAfterStall(t, c, n); d > 15*time.Second {
			t.Fatalf("round %d: the drain took %v after the target caught up", round, d)
		}
	}
}

// drainAfterStall starts a source on topic t whose target accepts nothing
// until a worker queue is full, and returns how long the source then takes
// to deliver all n records.
func drainAfterStall(t *testing.T, c *kfake.Cluster, n int) time.Duration {
	t.Helper()
	col := newCollector()
	col.block = make(chan struct{})
	s := startSource(t, c, map[string]string{"topic": "t"}, col, nil, true, func(cfg *Config) { cfg.FetchMaxWait = 30 * time.Second })
	defer s.Close()
	waitFor(t, "a full worker queue", func() bool {
		for _, st := range s.Stats() {
			if st.Pauses > 0 {
				return true
			}
		}
		return false
	})
	start := time.Now()
	close(col.block)
	waitFor(t, "all records", func() bool { r, _ := col.count(); return r == n })
	return time.Since(start)
}

// Every client of a source asks a fetch for at most fetchPartitionBytes
// of a partition (see Start).
func TestSourceFetchPartitionBytes(t *testing.T) {
	c, _ := newCluster(t, 1, "t")
	s := startSource(t, c, map[string]string{"topic": "t"}, newCollector(), nil, true)
	defer s.Close()
	for i, cl := range s.clients {
		if got := cl.OptValue(kgo.FetchMaxPartitionBytes); got != int32(fetchPartitionBytes) {
			t.Errorf("client %d fetches %v bytes a partition, want %d", i, got, fetchPartitionBytes)
		}
	}
}

// A worker's partitions are spread over its own clients, so that one
// client's fetch is in flight while another's is parsed and decoded: with
// 2 workers and 6 partitions, each client fetches the partitions of one
// worker only, and each of a worker's clients fetches some of them. Every
// record is still delivered once, in order per partition.
func TestSourceSpreadsPartitionsOverClients(t *testing.T) {
	c, cl := newCluster(t, 6, "t")
	produce(t, cl, "t", ints(0, 3000)...)
	col := newCollector()
	s := startSource(t, c, map[string]string{"topic": "t"}, col, nil, true, func(cfg *Config) { cfg.Workers = 2 })
	defer s.Close()
	waitFor(t, "all 3000 records", func() bool { r, _ := col.count(); return r == 3000 })
	if len(s.clients) != 2*fetchersPerWorker {
		t.Fatalf("%d clients for 2 workers, want %d", len(s.clients), 2*fetchersPerWorker)
	}
	s.mu.Lock()
	perClient := make([]int, len(s.clients))
	for p, client := range s.clientOf {
		if w := s.workerOf[p]; client/fetchersPerWorker != w {
			t.Errorf("partition %d: decoded by worker %d, fetched by client %d of worker %d", p.Partition, w, client, client/fetchersPerWorker)
		}
		perClient[client]++
	}
	s.mu.Unlock()
	for client, n := range perClient {
		if n == 0 {
			t.Errorf("client %d fetches no partition (partitions per client %v)", client, perClient)
		}
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	for i := range int64(3000) {
		if col.values[i] != 1 {
			t.Fatalf("value %d delivered %d times", i, col.values[i])
		}
	}
	if len(col.origins) > 0 {
		t.Fatalf("rows' partitions and offsets: %q", col.origins)
	}
}

// pollDecoders decodes as intDecoder does and notes, for each value, whether
// a poll goroutine decoded it (rather than a worker).
type pollDecoders struct {
	mu     sync.Mutex
	byPoll map[int64]bool
}

func (d *pollDecoders) NewDecoder() format.Decoder { return pollDecoder{d} }

func (d *pollDecoders) decodedByPoll(v int64) (byPoll, decoded bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	byPoll, decoded = d.byPoll[v]
	return byPoll, decoded
}

type pollDecoder struct{ d *pollDecoders }

func (p pollDecoder) Decode(rec []byte, cols []*coldata.Vec) error {
	if err := (intDecoder{}).Decode(rec, cols); err != nil {
		return err
	}
	v, _ := strconv.ParseInt(string(rec), 10, 64)
	buf := make([]byte, 16<<10)
	stack := string(buf[:runtime.Stack(buf, false)])
	p.d.mu.Lock()
	defer p.d.mu.Unlock()
	p.d.byPoll[v] = strings.Contains(stack, "kafka.(*Source).poll(")
	return nil
}

// orderedTarget is a Target that keeps the values it is given in order,
// and can hold deliveries until released.
type orderedTarget struct {
	mu     sync.Mutex
	values []int64
	at     []time.Time // when each value was delivered
	block  chan struct{}
}

func (o *orderedTarget) Deliver(ctx context.Context, b *Batch) error {
	if b.Rows.Len == 0 {
		return nil
	}
	if o.block != nil {
		select {
		case <-o.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.values = append(o.values, b.Rows.Cols[0].Ints[:b.Rows.Len]...)
	for range b.Rows.Len {
		o.at = append(o.at, time.Now())
	}
	return nil
}

func (o *orderedTarget) delivered() ([]int64, []time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.values), slices.Clone(o.at)
}

func startDecodedByPoll(t *testing.T, target Target, maxDelay time.Duration) (*Source, *pollDecoders, *kgo.Client) {
	t.Helper()
	c, cl := newCluster(t, 1, "t")
	dec := &pollDecoders{byPoll: map[int64]bool{}}
	s := startSource(t, c, map[string]string{"topic": "t"}, target, nil, true, func(cfg *Config) {
		cfg.Value, cfg.BatchRows, cfg.MaxDelay = dec, 1<<16, maxDelay
	})
	t.Cleanup(s.Close)
	waitFor(t, "the partition assigned", func() bool { return len(s.Stats()) == 1 })
	return s, dec, cl
}

// A lone record on a quiet stream is decoded by the poll goroutine that
// fetched it, not handed to its worker: each hand-off waited for a P behind
// 1000 serving connections (scheduling latency p99 ~15 ms).
func TestSourceLoneRecordDecodedByItsPoll(t *testing.T) {
	o := &orderedTarget{}
	_, dec, cl := startDecodedByPoll(t, o, 5*time.Millisecond)
	for i := range 5 {
		produce(t, cl, "t", strconv.Itoa(i))
		waitFor(t, "the record", func() bool { v, _ := o.delivered(); return len(v) == i+1 })
	}
	if v, _ := o.delivered(); !slices.Equal(v, []int64{0, 1, 2, 3, 4}) {
		t.Fatalf("delivered %v, want 0-4 in order", v)
	}
	for i := range int64(5) {
		if byPoll, _ := dec.decodedByPoll(i); !byPoll {
			t.Fatalf("record %d was decoded by its worker, not its poll", i)
		}
	}
}

// While the deliverer is busy (until the worker's queue is full), small
// fetches decoded by the poll goroutine and a big one decoded by the worker
// are delivered in order.
func TestSourceSmallFetchesStayInOrder(t *testing.T) {
	o := &orderedTarget{block: make(chan struct{})}
	s, dec, cl := startDecodedByPoll(t, o, 5*time.Millisecond)
	produce(t, cl, "t", "0")
	waitFor(t, "the first record read", func() bool { return s.Stats()[0].Records == 1 })
	for i := 1; i < 20; i++ {
		produce(t, cl, "t", strconv.Itoa(i))
	}
	const n = 20 + 2*smallFetch
	produce(t, cl, "t", ints(20, n)...)
	close(o.block)
	waitFor(t, "all records", func() bool { v, _ := o.delivered(); return len(v) == n })
	v, _ := o.delivered()
	for i, x := range v {
		if x != int64(i) {
			t.Fatalf("row %d is %d: out of order", i, x)
		}
	}
	first, _ := dec.decodedByPoll(0)
	last, _ := dec.decodedByPoll(n - 1)
	if !first || last {
		t.Fatalf("decoded by the poll goroutine: the lone first record %v, the fetch of %d records %v; want true, false",
			first, n-20, last)
	}
}

// A record read while its worker's deliverer commits is delivered as soon
// as that commit is done, not at its batch's deadline.
func TestSourceDelivererTakesHeldBatch(t *testing.T) {
	o := &orderedTarget{block: make(chan struct{})}
	s, _, cl := startDecodedByPoll(t, o, time.Hour)
	produce(t, cl, "t", "0")
	waitFor(t, "the first record read", func() bool { return s.Stats()[0].Records == 1 })
	produce(t, cl, "t", "1")
	waitFor(t, "the second record read", func() bool { return s.Stats()[0].Records == 2 })
	close(o.block)
	waitFor(t, "both records", func() bool { v, _ := o.delivered(); return len(v) == 2 })
	if v, _ := o.delivered(); !slices.Equal(v, []int64{0, 1}) {
		t.Fatalf("delivered %v, want 0, 1", v)
	}
}

// A poll goroutine waiting for records waits on its client's fetchBuffered
// hook, not in PollRecords, which waits through a goroutine of its own
// that then wakes the caller: one hand-off more on a lone record's way.
func TestSourceWaitsForFetchesOnItsHook(t *testing.T) {
	o := &orderedTarget{}
	s, _, cl := startDecodedByPoll(t, o, 5*time.Millisecond)
	produce(t, cl, "t", "1")
	waitFor(t, "the record", func() bool { v, _ := o.delivered(); return len(v) == 1 })
	waitFor(t, "the poll goroutines waiting on their hooks", func() bool {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		return strings.Count(stacks, "kafka.(*Source).waitFetch(") == len(s.clients) &&
			!strings.Contains(stacks, "kgo.(*Client).PollRecords")
	})
	produce(t, cl, "t", "2")
	waitFor(t, "the second record", func() bool { v, _ := o.delivered(); return len(v) == 2 })
}

// A record fetched while its worker's deliverer commits is taken by the
// deliverer as soon as that commit is done, also when the goroutine that
// decoded it saw the deliverer busy and still holds the worker as the
// deliverer finishes: the deliverer only tried the worker's lock then, and
// the record waited for its batch's deadline (MaxDelay, an hour here).
func TestSourceHeldBatchRace(t *testing.T) {
	for i, wait := range heldBatchWaits(t, time.Hour, 3) {
		t.Logf("round %d: the held record was delivered %v after its holder let go", i, wait)
	}
}

// BenchmarkHeldBatchWait reports how long the held record of
// TestSourceHeldBatchRace's interleaving waits at the default MaxDelay
// (50 ms), from its holder letting go to its delivery.
func BenchmarkHeldBatchWait(b *testing.B) {
	var sum time.Duration
	for _, wait := range heldBatchWaits(b, 50*time.Millisecond, b.N) {
		sum += wait
	}
	b.ReportMetric(float64(sum.Microseconds())/float64(b.N), "wait-us/op")
}

// heldBatchWaits makes, rounds times, this interleaving on a one-worker
// source: record 2i is being delivered (its target holds it); record 2i+1
// is decoded by its poll goroutine, which sees the deliverer busy and holds
// the batch back, and is held at the heldBack hook, the worker still in
// hand; the target lets record 2i go, and the deliverer finishes and
// parks; only then does the holder let go. It returns how long after that
// each record 2i+1 was delivered.
func heldBatchWaits(tb testing.TB, maxDelay time.Duration, rounds int) []time.Duration {
	tb.Helper()
	c, cl := newCluster(tb, 1, "t")
	g := &gateTarget{entered: make(chan int64, rounds), release: make(chan struct{}), at: map[int64]time.Time{}}
	var expect atomic.Bool
	// stop lets the hook go when the test fails, so that Close returns.
	held, letGo, stop := make(chan struct{}), make(chan struct{}), make(chan struct{})
	s := startSource(tb, c, map[string]string{"topic": "t"}, g, nil, true, func(cfg *Config) {
		cfg.Workers, cfg.BatchRows, cfg.MaxDelay = 1, 1<<16, maxDelay
		cfg.knobs.heldBack = func() {
			if expect.CompareAndSwap(true, false) {
				select {
				case held <- struct{}{}:
					select {
					case <-letGo:
					case <-stop:
					}
				case <-stop:
				}
			}
		}
	})
	defer s.Close()
	defer close(stop)
	waitFor(tb, "the partition assigned", func() bool { return len(s.Stats()) == 1 })
	within := func(what string, ch <-chan struct{}) {
		select {
		case <-ch:
		case <-time.After(20 * time.Second):
			tb.Fatalf("timed out waiting for %s", what)
		}
	}
	waits := make([]time.Duration, 0, rounds)
	for i := range rounds {
		first, second := int64(2*i), int64(2*i+1)
		produce(tb, cl, "t", strconv.FormatInt(first, 10))
		select {
		case v := <-g.entered:
			if v != first {
				tb.Fatalf("round %d: delivering %d, want %d", i, v, first)
			}
		case <-time.After(20 * time.Second):
			tb.Fatalf("round %d: timed out waiting for the delivery of %d", i, first)
		}
		expect.Store(true)
		produce(tb, cl, "t", strconv.FormatInt(second, 10))
		within("the second record held back", held)
		g.release <- struct{}{}
		waitFor(tb, "the deliverer parked", deliverersParked)
		start := time.Now()
		letGo <- struct{}{}
		waitFor(tb, fmt.Sprintf("record %d delivered", second), func() bool { _, ok := g.deliveredAt(second); return ok })
		at, _ := g.deliveredAt(second)
		waits = append(waits, at.Sub(start))
	}
	return waits
}

// gateTarget is a Target that holds the delivery of each even value until
// released and notes when each value was delivered.
type gateTarget struct {
	entered chan int64 // each even value as its delivery starts
	release chan struct{}
	mu      sync.Mutex
	at      map[int64]time.Time
}

func (g *gateTarget) Deliver(ctx context.Context, b *Batch) error {
	for _, v := range b.Rows.Cols[0].Ints[:b.Rows.Len] {
		if v%2 == 0 {
			g.entered <- v
			select {
			case <-g.release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		g.mu.Lock()
		g.at[v] = time.Now()
		g.mu.Unlock()
	}
	return nil
}

func (g *gateTarget) deliveredAt(v int64) (time.Time, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	at, ok := g.at[v]
	return at, ok
}

// deliverersParked reports whether every worker's deliverer is parked
// outside Target.Deliver, waiting on a channel.
func deliverersParked() bool {
	buf := make([]byte, 1<<20)
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if !strings.Contains(g, "kafka.(*worker).deliver(") {
			continue
		}
		header, _, _ := strings.Cut(g, "\n")
		if strings.Contains(g, ").Deliver(") || !strings.Contains(header, "[chan receive") && !strings.Contains(header, "[select") {
			return false
		}
	}
	return true
}

// A fetch buffered while its poll goroutine is busy, whose hook therefore
// wakes no one, is polled at once by the goroutine that starts waiting
// before kgo makes the fetch pollable (just after the hook): it waited for
// the poll goroutine's tick (1 s; an hour here).
func TestSourceFetchBufferedWhilePollBusy(t *testing.T) {
	for i, wait := range missedWakeWaits(t, time.Hour, 3) {
		t.Logf("round %d: the record was delivered %v after its fetch's hook returned", i, wait)
	}
}

// BenchmarkMissedWakeWait reports how long the record of
// TestSourceFetchBufferedWhilePollBusy's interleaving waits with the
// default tick (1 s), from its fetch's hook returning to its delivery.
func BenchmarkMissedWakeWait(b *testing.B) {
	var sum time.Duration
	for _, wait := range missedWakeWaits(b, 0, b.N) {
		sum += wait
	}
	b.ReportMetric(float64(sum.Microseconds())/float64(b.N), "wait-us/op")
}

// missedWakeWaits makes, rounds times, this interleaving on a one-worker,
// one-partition source: its poll goroutine decodes record 2i and is held
// in the decoder; record 2i+1 is fetched and its hook finds no one
// waiting; kgo is held at a hook after it (knob clientHooks) while the poll
// goroutine, let go, delivers record 2i and parks, and only then makes the
// fetch pollable. It returns how long after that each record 2i+1 was
// delivered. errorPoll replaces the poll goroutines' tick unless 0.
func missedWakeWaits(tb testing.TB, errorPoll time.Duration, rounds int) []time.Duration {
	tb.Helper()
	c, cl := newCluster(tb, 1, "t")
	o := &orderedTarget{}
	// stop lets the decoder and the hook go when the test fails, so that
	// Close returns.
	stop := make(chan struct{})
	dec := &gateDecoders{entered: make(chan struct{}), release: make(chan struct{}), stop: stop}
	var held atomic.Int64
	held.Store(-1)
	released := make(chan time.Time, 1)
	s := startSource(tb, c, map[string]string{"topic": "t"}, o, nil, true, func(cfg *Config) {
		cfg.Workers, cfg.Value, cfg.BatchRows = 1, dec, 1<<16
		cfg.knobs.errorPollInterval = errorPoll
		cfg.knobs.clientHooks = []kgo.Hook{recordBuffered(func(r *kgo.Record) {
			if v, _ := strconv.ParseInt(string(r.Value), 10, 64); !held.CompareAndSwap(v, -1) {
				return
			}
			select {
			case dec.release <- struct{}{}:
			case <-stop:
				return
			}
			// Not waitFor: this is kgo's goroutine, which may not end the test.
			for deadline := time.Now().Add(20 * time.Second); !pollsParked() && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
			released <- time.Now()
		})}
	})
	defer s.Close()
	defer close(stop)
	waitFor(tb, "the partition assigned", func() bool { return len(s.Stats()) == 1 })
	waits := make([]time.Duration, 0, rounds)
	for i := range rounds {
		first, second := int64(2*i), int64(2*i+1)
		produce(tb, cl, "t", strconv.FormatInt(first, 10))
		select {
		case <-dec.entered:
		case <-time.After(20 * time.Second):
			tb.Fatalf("round %d: timed out waiting for the decoding of %d", i, first)
		}
		held.Store(second)
		produce(tb, cl, "t", strconv.FormatInt(second, 10))
		var start time.Time
		select {
		case start = <-released:
		case <-time.After(20 * time.Second):
			tb.Fatalf("round %d: timed out waiting for the fetch of %d", i, second)
		}
		waitFor(tb, fmt.Sprintf("record %d delivered", second), func() bool { v, _ := o.delivered(); return len(v) == int(second)+1 })
		v, at := o.delivered()
		if v[second] != second {
			tb.Fatalf("delivered %v, want 0-%d in order", v, second)
		}
		waits = append(waits, at[second].Sub(start))
	}
	return waits
}

// recordBuffered is a kgo.HookFetchRecordBuffered.
type recordBuffered func(*kgo.Record)

func (f recordBuffered) OnFetchRecordBuffered(r *kgo.Record) { f(r) }

// gateDecoders decode as intDecoder does, each even value once released.
type gateDecoders struct {
	entered chan struct{} // an even value's decoding starts
	release chan struct{}
	stop    chan struct{} // closed: release every value
}

func (d *gateDecoders) NewDecoder() format.Decoder { return gateDecoder{d} }

type gateDecoder struct{ d *gateDecoders }

func (g gateDecoder) Decode(rec []byte, cols []*coldata.Vec) error {
	if v, err := strconv.ParseInt(string(rec), 10, 64); err == nil && v%2 == 0 {
		select {
		case g.d.entered <- struct{}{}:
			select {
			case <-g.d.release:
			case <-g.d.stop:
			}
		case <-g.d.stop:
		}
	}
	return intDecoder{}.Decode(rec, cols)
}

// pollsParked reports whether every poll goroutine is parked in a select
// (waiting on its hook, or in PollRecords), none in a decoder.
func pollsParked() bool {
	buf := make([]byte, 1<<20)
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if !strings.Contains(g, "kafka.(*Source).poll(") {
			continue
		}
		header, _, _ := strings.Cut(g, "\n")
		if strings.Contains(g, ".Decode(") || !strings.Contains(header, "[select") {
			return false
		}
	}
	return true
}
