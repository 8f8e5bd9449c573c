package kafka

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/connector/format"
	"github.com/sluice-db/sluice/types"
)

// Partition names one partition of a topic.
type Partition struct {
	Topic     string
	Partition int32
}

// Target receives what a source read. Deliver is called by several workers
// at once, each with batches of its own partitions, in offset order.
type Target interface {
	// Deliver appends the batch to the stream: its rows, its dead letters and
	// the offsets it reached, atomically. It may block (backpressure). An
	// error stops the source. The batch is Deliver's to keep: the source
	// reads into a new one.
	Deliver(ctx context.Context, b *Batch) error
}

// Batch is what one worker read since its last delivery.
type Batch struct {
	Rows *coldata.Chunk
	// Offsets are, per partition covered, the next offset to read.
	Offsets map[Partition]int64
	Dead    []DeadLetter
	// Runs say which partition each row came from, in row order: rows
	// before Runs[0].End from Runs[0].Partition, then up to Runs[1].End
	// from Runs[1].Partition, and so on.
	Runs []Run
	// RecordOffsets is each row's record offset in its partition.
	RecordOffsets []int64
}

// Run is a stretch of a Batch's rows that came from one partition.
type Run struct {
	Partition Partition
	End       int
}

// DeadLetter is a record that could not be decoded.
type DeadLetter struct {
	Partition
	Offset    int64
	Value     []byte
	Err       string
	Timestamp time.Time
}

// MetaColumn is a stream column filled from the record's envelope rather
// than its value.
type MetaColumn int

// Metadata columns, requested by declaring a column of that name.
const (
	MetaNone      MetaColumn = iota
	MetaTopic                // _topic text
	MetaPartition            // _partition integer
	MetaOffset               // _offset bigint
	MetaTimestamp            // _timestamp timestamptz
	MetaKey                  // _key bytea or text
	MetaHeaders              // _headers jsonb
)

// MetaColumns maps the metadata column names to their kinds.
var MetaColumns = map[string]MetaColumn{
	"_topic": MetaTopic, "_partition": MetaPartition, "_offset": MetaOffset,
	"_timestamp": MetaTimestamp, "_key": MetaKey, "_headers": MetaHeaders,
}

// Layout says where each stream column comes from.
type Layout struct {
	Types []*types.T
	// Value and Key list, for each column of the value (key) format, the
	// stream column it fills.
	Value, Key []int
	// Meta lists the metadata columns by stream column.
	Meta map[int]MetaColumn
}

// Decoders gives each decode worker its own Decoder; *format.Format is one.
type Decoders interface {
	NewDecoder() format.Decoder
}

// Config configures a Source.
type Config struct {
	Options *Options
	Value   Decoders
	Key     Decoders // nil: the key is not decoded
	Layout  Layout
	// Offsets are the stored next offsets. Partitions without one start at
	// Options.Start when the stream is Fresh (just created) and they exist at
	// its first metadata check; later partitions, and any at a restart,
	// start at their beginning: they hold only records the stream has not
	// seen. The start offset is delivered (with no rows) before consuming.
	Offsets map[Partition]int64
	Fresh   bool
	Target  Target
	Log     *slog.Logger
	// Workers decode in parallel (default 2); BatchRows and MaxDelay bound
	// a delivery (defaults 65536 rows, 50 ms after its first row).
	Workers   int
	BatchRows int
	MaxDelay  time.Duration
	// MetadataInterval is how often topics are checked for new partitions
	// (default 1 s).
	MetadataInterval time.Duration
	// FetchMaxWait is how long the broker holds a fetch that finds no
	// records (default franz-go's, 5 s).
	FetchMaxWait time.Duration
	// knobs are for tests; unset outside them.
	knobs testKnobs
}

// testKnobs hold the source's hand-offs where a test makes an interleaving
// of its goroutines happen. The hooks are called when set.
type testKnobs struct {
	// heldBack is called by a goroutine that decoded a fetch and holds its
	// batch back (its deliverer busy or more fetches queued), before it lets
	// go of the worker.
	heldBack func()
	// clientHooks are given to every client after its fetchBuffered, so
	// that kgo calls them after it for each record.
	clientHooks []kgo.Hook
	// errorPollInterval replaces errorPollInterval when set.
	errorPollInterval time.Duration
}

// Source is a running Kafka source.
type Source struct {
	cfg Config
	// clients[w*fetchersPerWorker+i] fetch the partitions of worker w. A
	// client has one fetch per broker in flight, parses it (decompression
	// included) on one goroutine and fetches again only once it is polled:
	// with one client for all workers, they waited for records three
	// quarters of a drain.
	clients []*kgo.Client
	// buffered[i] wakes the poll goroutine of clients[i].
	buffered []*fetchBuffered
	adm      *kadm.Client // over clients[0]
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	work     []chan fetched
	workers  []*worker // workers[i] reads work[i]

	mu       sync.Mutex
	workerOf map[Partition]int  // which worker decodes a partition
	load     []int              // partitions per worker
	clientOf map[Partition]int  // which client fetches a partition
	fetching []int              // partitions per client
	assigned map[Partition]bool // owned by watchMetadata
	checked  bool               // a metadata check has succeeded; owned by watchMetadata
	cells    map[Partition]*statsCell
	err      error
}

// fetchPartitionBytes is how much of one partition a fetch asks for.
const fetchPartitionBytes = 1 << 20

// fetchersPerWorker is how many clients fetch a worker's partitions. With
// one, a worker waited for records while its client's fetch was served and
// parsed (a client fetches again only once its last fetch is parsed and
// polled); with two, one client's fetch is in flight while the other's is
// parsed and decoded.
const fetchersPerWorker = 2

// fetched is one partition's records from one poll.
type fetched struct {
	p       Partition
	records []*kgo.Record
}

// Start connects and starts consuming. It does not wait for the brokers:
// an unreachable cluster shows in Stats and the logs while kgo retries.
func Start(cfg Config) (*Source, error) {
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.BatchRows <= 0 {
		cfg.BatchRows = 1 << 16
	}
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = 50 * time.Millisecond
	}
	if cfg.MetadataInterval <= 0 {
		cfg.MetadataInterval = time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	o := cfg.Options
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(o.Brokers...),
		kgo.ClientID("sluice"),
		kgo.FetchMaxBytes(16 << 20),
		// Kafka's own default (max.partition.fetch.bytes). At 4 MB a
		// partition a JSON drain into a view took ~15% more CPU and
		// faulted in ~10% more pages: each fetch's response and
		// decompression buffers are made anew, and larger ones are reused
		// less from the heap's free memory.
		kgo.FetchMaxPartitionBytes(fetchPartitionBytes),
		// Partitions the metadata check adds are fetched at once, not after
		// kgo's default 5 s between metadata refreshes.
		kgo.MetadataMinAge(200 * time.Millisecond),
	}, o.clientOpts...)
	if cfg.FetchMaxWait > 0 {
		opts = append(opts, kgo.FetchMaxWait(cfg.FetchMaxWait))
	}
	if o.ReadCommitted {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	} else {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadUncommitted()))
	}
	s := &Source{cfg: cfg, workerOf: map[Partition]int{}, load: make([]int, cfg.Workers),
		clientOf: map[Partition]int{}, fetching: make([]int, cfg.Workers*fetchersPerWorker),
		assigned: map[Partition]bool{}, cells: map[Partition]*statsCell{}}
	for range cfg.Workers * fetchersPerWorker {
		buffered := &fetchBuffered{ready: make(chan struct{}, 1)}
		cl, err := kgo.NewClient(append(opts, kgo.WithHooks(buffered), kgo.WithHooks(cfg.knobs.clientHooks...))...)
		if err != nil {
			for _, c := range s.clients {
				c.Close()
			}
			return nil, fmt.Errorf("kafka client: %w", err)
		}
		s.clients = append(s.clients, cl)
		s.buffered = append(s.buffered, buffered)
	}
	s.adm = kadm.NewClient(s.clients[0])
	s.ctx, s.cancel = context.WithCancel(context.Background())
	for range cfg.Workers {
		ch := make(chan fetched, 4)
		s.work = append(s.work, ch)
		w := s.newWorker(ch)
		s.workers = append(s.workers, w)
		s.wg.Add(1)
		go func() { defer s.wg.Done(); w.run() }()
	}
	for i, cl := range s.clients {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.poll(cl, s.buffered[i]) }()
	}
	s.wg.Add(2)
	go func() { defer s.wg.Done(); s.watchMetadata() }()
	go func() { defer s.wg.Done(); s.commitProgress() }()
	return s, nil
}

// Close stops the source and waits for its goroutines; a delivery in
// progress is cancelled through its context.
func (s *Source) Close() {
	s.cancel()
	for _, cl := range s.clients {
		cl.Close()
	}
	s.wg.Wait()
}

// Err returns why the source stopped, or nil while it runs.
func (s *Source) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *Source) fail(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
	s.cfg.Log.Error("kafka source stopped", "group", s.cfg.Options.Group, "err", err)
	s.cancel()
}

// workerFor returns the worker that decodes p's records, giving p to the
// worker with the fewest partitions the first time. (A hash of the
// partition put three of four partitions on one of two workers in half of
// all runs, leaving the other worker idle.)
func (s *Source) workerFor(p Partition) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if w, ok := s.workerOf[p]; ok {
		return w
	}
	w := 0
	for i, n := range s.load {
		if n < s.load[w] {
			w = i
		}
	}
	s.workerOf[p] = w
	s.load[w]++
	return w
}

// clientFor returns the client that fetches p, giving p to the client of
// its worker with the fewest partitions the first time.
func (s *Source) clientFor(p Partition) int {
	w := s.workerFor(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.clientOf[p]; ok {
		return c
	}
	c := w * fetchersPerWorker
	for i := c + 1; i < (w+1)*fetchersPerWorker; i++ {
		if s.fetching[i] < s.fetching[c] {
			c = i
		}
	}
	s.clientOf[p] = c
	s.fetching[c]++
	return c
}

// pollRecords is the most records one poll takes.
const pollRecords = 1 << 14

// errorPollInterval is how often a poll goroutine waiting for records
// polls anyway, for fetches holding errors only, which fetchBuffered does
// not signal.
const errorPollInterval = time.Second

// poll hands what cl fetches to the workers.
func (s *Source) poll(cl *kgo.Client, buffered *fetchBuffered) {
	tick := time.NewTicker(cmp.Or(s.cfg.knobs.errorPollInterval, errorPollInterval))
	defer tick.Stop()
	for {
		fs := cl.PollRecords(nil, pollRecords)
		if fs.Empty() {
			fs = s.waitFetch(cl, buffered, tick)
		}
		if s.ctx.Err() != nil || fs.IsClientClosed() {
			return
		}
		fs.EachError(func(topic string, p int32, err error) {
			if errors.Is(err, context.Canceled) {
				return
			}
			s.stat(Partition{topic, p}).setError(err)
			s.cfg.Log.Warn("kafka fetch", "topic", topic, "partition", p, "err", err)
		})
		fs.EachPartition(func(fp kgo.FetchTopicPartition) {
			p := Partition{fp.Topic, fp.Partition}
			s.stat(p).setHighWatermark(fp.HighWatermark)
			if len(fp.Records) == 0 {
				return
			}
			s.hand(fetched{p: p, records: fp.Records})
		})
	}
}

// waitFetch waits for cl to buffer a fetch and polls it. It waits on
// fetchBuffered rather than in PollRecords, which waits through a goroutine
// of its own (a condition variable's waiter that then wakes the caller): a
// hand-off fewer on a lone record's way, each of which waited for a P
// behind 1000 serving connections. It returns no fetches after tick.
func (s *Source) waitFetch(cl *kgo.Client, buffered *fetchBuffered, tick *time.Ticker) kgo.Fetches {
	buffered.waiting.Store(true)
	defer buffered.waiting.Store(false)
	// A fetch buffered before waiting was set signalled nothing.
	if fs := cl.PollRecords(nil, pollRecords); !fs.Empty() {
		return fs
	}
	if buffered.missed.Swap(false) {
		// Records were buffered while this goroutine was not waiting, and
		// their fetch was not pollable just now: kgo makes it so just
		// after the hook, which saw no one waiting. PollRecords waits the
		// moment out (or, if the fetch was polled already, for the next).
		return cl.PollRecords(s.ctx, pollRecords)
	}
	select {
	case <-s.ctx.Done():
		return nil
	case <-tick.C:
		return cl.PollRecords(nil, pollRecords)
	case <-buffered.ready:
	}
	// The records of the fetch after the one that woke this goroutine found
	// no one waiting: they are not missed but polled now. (Cleared after
	// the poll, it could hide the next fetch, buffered meanwhile.)
	buffered.missed.Store(false)
	// The hook runs just before kgo makes the fetch ready to poll, so it
	// may not be yet: PollRecords then waits the moment out.
	return cl.PollRecords(s.ctx, pollRecords)
}

// fetchBuffered is a kgo hook that wakes its client's poll goroutine when
// the client buffers fetched records while the goroutine waits for them.
type fetchBuffered struct {
	waiting atomic.Bool
	// missed is set by the hook when it finds no one waiting, for a poll
	// goroutine that starts waiting before kgo makes the fetch pollable.
	missed atomic.Bool
	ready  chan struct{} // capacity 1
}

// OnFetchRecordBuffered implements kgo.HookFetchRecordBuffered. kgo calls
// it for each record of a fetch, on the goroutine that fetched it, just
// before it makes the fetch pollable. NB: a poll goroutine may set waiting
// and find nothing to poll between the hook's look at waiting and that
// moment; missed, set before waiting is looked at again, tells it so (it
// waited for the 1 s tick). It can still miss a fetch from one broker
// while it polls another's, the two buffered in the same moment.
func (b *fetchBuffered) OnFetchRecordBuffered(*kgo.Record) {
	if b.waiting.Load() {
		b.wake()
	} else if !b.missed.Load() {
		b.missed.Store(true)
		b.wake()
	}
}

// wake wakes the poll goroutine if it waits.
func (b *fetchBuffered) wake() {
	if b.waiting.Load() && b.waiting.CompareAndSwap(true, false) {
		select {
		case b.ready <- struct{}{}:
		default:
		}
	}
}

// hand gives a partition's records to its worker, waiting while the
// worker is behind. Waiting is the backpressure: a client fetches again
// only once the fetch it buffered is polled, so it holds at most one fetch
// beyond its worker's queue. Pausing the partition as well
// (PauseFetchPartitions) stalled drains: the client builds its next fetch
// as soon as the last one is polled, so a pause landing first left a fetch
// for the client's other partitions only; if those were at their end, the
// broker held it for the fetch max wait (5 s), as resuming does not cut a
// fetch in flight short, and the paused partition waited it out.
func (s *Source) hand(f fetched) {
	i := s.workerFor(f.p)
	if s.workers[i].tryTake(f) {
		return
	}
	s.workers[i].queued.Add(1)
	ch := s.work[i]
	select {
	case ch <- f:
		return
	default:
	}
	s.stat(f.p).addPause()
	select {
	case ch <- f:
	case <-s.ctx.Done():
	}
}

// watchMetadata assigns partitions as they appear.
func (s *Source) watchMetadata() {
	t := time.NewTicker(s.cfg.MetadataInterval)
	defer t.Stop()
	for {
		if err := s.assignNew(); err != nil && s.ctx.Err() == nil {
			s.cfg.Log.Warn("kafka metadata", "brokers", s.cfg.Options.Brokers, "err", err)
		}
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Source) assignNew() error {
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	o := s.cfg.Options
	var topics kadm.TopicDetails
	var err error
	if o.Pattern != nil {
		topics, err = s.adm.ListTopics(ctx)
	} else {
		topics, err = s.adm.ListTopics(ctx, o.Topics...)
	}
	if err != nil {
		return err
	}
	var fresh []Partition
	for name, td := range topics {
		if td.Err != nil || (o.Pattern != nil && !o.Pattern.MatchString(name)) {
			continue
		}
		for p := range td.Partitions {
			tp := Partition{name, p}
			if !s.assigned[tp] {
				fresh = append(fresh, tp)
			}
		}
	}
	if len(fresh) == 0 {
		s.checked = true
		return nil
	}
	// Spread in partition order, so that a topic's partitions alternate
	// between workers.
	slices.SortFunc(fresh, func(a, b Partition) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	for _, tp := range fresh {
		s.clientFor(tp)
	}
	// add[c] are the partitions client c starts consuming.
	add := make([]map[string]map[int32]kgo.Offset, len(s.clients))
	addAt := func(tp Partition, off int64) {
		w := s.clientFor(tp)
		if add[w] == nil {
			add[w] = map[string]map[int32]kgo.Offset{}
		}
		if add[w][tp.Topic] == nil {
			add[w][tp.Topic] = map[int32]kgo.Offset{}
		}
		add[w][tp.Topic][tp.Partition] = kgo.NewOffset().At(off)
	}
	var resolve []Partition
	for _, tp := range fresh {
		if off, ok := s.cfg.Offsets[tp]; ok {
			addAt(tp, off)
			continue
		}
		resolve = append(resolve, tp)
	}
	starts, err := s.resolveStart(ctx, resolve)
	if err != nil {
		return err
	}
	if len(starts) > 0 {
		// Stored before consuming, so a restart starts where this did.
		b := &Batch{Rows: coldata.NewChunk(s.cfg.Layout.Types, 0), Offsets: starts}
		if err := s.cfg.Target.Deliver(s.ctx, b); err != nil {
			if s.ctx.Err() == nil {
				s.fail(err)
			}
			return nil
		}
		s.delivered(b)
	}
	for tp, off := range starts {
		addAt(tp, off)
	}
	for _, tp := range fresh {
		s.assigned[tp] = true
		s.stat(tp)
	}
	s.checked = true
	for c, a := range add {
		if a != nil {
			s.clients[c].AddConsumePartitions(a)
		}
	}
	return nil
}

// resolveStart finds the concrete first offset of partitions that have none
// stored: the log start, the log end, or the first offset at a time.
func (s *Source) resolveStart(ctx context.Context, ps []Partition) (map[Partition]int64, error) {
	if len(ps) == 0 {
		return nil, nil
	}
	topics := map[string]bool{}
	var names []string
	for _, p := range ps {
		if !topics[p.Topic] {
			topics[p.Topic] = true
			names = append(names, p.Topic)
		}
	}
	var listed kadm.ListedOffsets
	var err error
	switch o := s.cfg.Options; {
	case !s.cfg.Fresh || s.checked || o.Start == StartEarliest:
		// Partitions that appear after the source started hold only new
		// records: they start at the beginning whatever `start` says.
		listed, err = s.adm.ListStartOffsets(ctx, names...)
	case o.Start == StartLatest:
		listed, err = s.adm.ListEndOffsets(ctx, names...)
	default:
		listed, err = s.adm.ListOffsetsAfterMilli(ctx, o.StartTime.UnixMilli(), names...)
	}
	if err != nil {
		return nil, err
	}
	if err := listed.Error(); err != nil {
		return nil, err
	}
	out := map[Partition]int64{}
	for _, p := range ps {
		lo, ok := listed.Lookup(p.Topic, p.Partition)
		if !ok {
			return nil, fmt.Errorf("no start offset listed for %s/%d", p.Topic, p.Partition)
		}
		off := lo.Offset
		if off < 0 {
			// No record at or after the time: start at the end.
			end, err := s.adm.ListEndOffsets(ctx, p.Topic)
			if err != nil {
				return nil, err
			}
			e, _ := end.Lookup(p.Topic, p.Partition)
			off = max(e.Offset, 0)
		}
		out[p] = off
	}
	return out, nil
}

// commitProgress commits the delivered offsets to the stream's consumer
// group now and then, for lag tools; Sluice never reads them back.
func (s *Source) commitProgress() {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	var last map[Partition]int64
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		pos := s.positions()
		var os kadm.Offsets
		for p, off := range pos {
			if last[p] != off {
				os.AddOffset(p.Topic, p.Partition, off, -1)
			}
		}
		if len(os) == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
		if _, err := s.adm.CommitOffsets(ctx, s.cfg.Options.Group, os); err != nil && s.ctx.Err() == nil {
			s.cfg.Log.Debug("kafka progress commit", "group", s.cfg.Options.Group, "err", err)
		} else {
			last = pos
		}
		cancel()
	}
}
