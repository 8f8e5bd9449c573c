package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/connector/datagen"
	"github.com/sluice-db/sluice/connector/format"
	"github.com/sluice-db/sluice/types"
)

// The kafka workload, once per record format: a topic on an in-process
// broker pre-loaded with Nexmark bids (~200 bytes as JSON), drained (1) by a
// raw franz-go consume-and-decode loop, the ceiling, with the decoder Sluice
// uses, and (2) by Sluice into a pass-through view and (3) into a GROUP BY
// auction count view, each timed from CREATE STREAM until the view holds
// every bid.

const (
	kafkaPartitions = 4
	kafkaQ0DDL      = "CREATE MATERIALIZED VIEW q0 AS SELECT auction, bidder, price, date_time, extra FROM bid"
	kafkaCountDDL   = "CREATE MATERIALIZED VIEW per_auction AS SELECT auction, count(*) AS n FROM bid GROUP BY auction"
	kafkaTimeout    = 10 * time.Minute
	// ceilingRuns: the ceiling is the median of several drains, as one
	// drain's rate swung between 1.2 and 2.1 M events/s from run to run.
	ceilingRuns = 3
)

// bidFormatNames are the record formats the kafka workload can run, in
// report order.
var bidFormatNames = []string{"json", "avro", "protobuf"}

// bidTopic is the topic holding the bids in the named format.
func bidTopic(format string) string { return "bid_" + format }

// bidStreamDDL creates the stream bid over the bids in format f.
func bidStreamDDL(f *rowFormat) string {
	return "CREATE STREAM bid (" + columnList(f.cols) + ") WITH (connector = 'kafka', topic = '" + bidTopic(f.name) + "'" + f.withOptions() + ")"
}

// bidEvents are the kafka workload's bids: Nexmark bids from the generator
// a datagen stream runs, at a million events per second of event time.
func bidEvents() (*datagen.Events, []datagen.StreamColumn, error) {
	return generatorEvents("nexmark_bid", 1_000_000, 1)
}

// generatorEvents returns the events of a generator with every column, in
// order, with no disorder and nothing late.
func generatorEvents(generator string, rate float64, seed uint64) (*datagen.Events, []datagen.StreamColumn, error) {
	opts, err := datagen.ParseOptions(map[string]string{"generator": generator, "rate": strconv.FormatFloat(rate, 'g', -1, 64),
		"seed": strconv.FormatUint(seed, 10), "disorder": "0 seconds", "late_fraction": "0"})
	if err != nil {
		return nil, nil, err
	}
	cols := opts.Generator.Columns()
	layout := make([]int, len(cols))
	for i := range layout {
		layout[i] = i
	}
	return datagen.NewEvents(opts, layout), cols, nil
}

// nexmarkStart is event 0's time in every generated Nexmark run, so that
// people, auctions and bids share one timeline.
var nexmarkStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// eachEventBlock calls fn with the events [0, n) in chunks of up to 16384,
// on the timeline that starts at nexmarkStart.
func eachEventBlock(ctx context.Context, events *datagen.Events, cols []datagen.StreamColumn, n int64, fn func(c *coldata.Chunk)) {
	typs := make([]*types.T, len(cols))
	for i, c := range cols {
		typs[i] = c.Type
	}
	const block = 1 << 14
	clock := nexmarkStart.UnixMicro()
	chunk := coldata.NewChunk(typs, block)
	for lo := int64(0); lo < n && ctx.Err() == nil; lo += block {
		chunk.Reset()
		events.Append(chunk, lo, int(min(block, n-lo)), clock)
		fn(chunk)
	}
}

// produceEvents produces a generator's events [0, n) to topic, encoded in
// format f, and waits for every ack.
func produceEvents(ctx context.Context, brokers []string, topic string, events *datagen.Events, f *rowFormat, n int64) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()), kgo.ProducerLinger(5*time.Millisecond),
		kgo.MaxBufferedRecords(1<<17), kgo.ProducerBatchMaxBytes(1<<20))
	if err != nil {
		return err
	}
	defer cl.Close()
	var firstErr atomic.Value
	done := func(_ *kgo.Record, err error) {
		if err != nil {
			firstErr.CompareAndSwap(nil, err)
		}
	}
	eachEventBlock(ctx, events, f.cols, n, func(c *coldata.Chunk) {
		for i := range c.Len {
			cl.Produce(ctx, &kgo.Record{Value: f.encode(nil, c, i)}, done)
		}
	})
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	if err, _ := firstErr.Load().(error); err != nil {
		return err
	}
	return ctx.Err()
}

// drainCeiling reads the whole topic of format bf with franz-go and decodes
// every record with Sluice's decoder on workers goroutines, keeping nothing.
// With decode false it only reads (the warm-up).
func drainCeiling(ctx context.Context, brokers []string, bf *rowFormat, n int64, workers int, decode bool) (time.Duration, error) {
	cols := make([]format.Column, len(bf.cols))
	ts := make([]*types.T, len(bf.cols))
	for i, c := range bf.cols {
		cols[i], ts[i] = format.Column{Name: c.Name, Type: c.Type}, c.Type
	}
	f, err := format.Compile(format.Config{Format: bf.options["format"], Columns: cols, Options: bf.options})
	if err != nil {
		return 0, err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(bidTopic(bf.name)),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(16<<20), kgo.FetchMaxPartitionBytes(4<<20))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	start := time.Now()
	work := make(chan []*kgo.Record, 4*workers)
	var decoded atomic.Int64
	var decErr atomic.Value
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dec := f.NewDecoder()
			chunk := coldata.NewChunk(ts, 1<<16)
			for recs := range work {
				for _, r := range recs {
					if err := dec.Decode(r.Value, chunk.Cols); err != nil {
						decErr.CompareAndSwap(nil, err)
					}
					if chunk.Cols[0].Len() >= 1<<16 {
						chunk.Reset()
					}
				}
				decoded.Add(int64(len(recs)))
			}
		}()
	}
	var read int64
	for read < n && ctx.Err() == nil {
		fs := cl.PollRecords(ctx, 1<<14)
		if err := fs.Err0(); err != nil && ctx.Err() == nil {
			close(work)
			wg.Wait()
			return 0, err
		}
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			read += int64(len(p.Records))
			if decode && len(p.Records) > 0 {
				work <- p.Records
			}
		})
	}
	close(work)
	wg.Wait()
	if err, _ := decErr.Load().(error); err != nil {
		return 0, fmt.Errorf("decoding a bid: %w", err)
	}
	return time.Since(start), ctx.Err()
}

// drainSluice creates the bid stream over format f and the view ddl on
// Sluice, and waits until the view has every bid (done reports it).
func drainSluice(ctx context.Context, c *pgx.Conn, f *rowFormat, ddl string, done func() (bool, error)) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, kafkaTimeout)
	defer cancel()
	start := time.Now()
	if _, err := c.Exec(ctx, bidStreamDDL(f)); err != nil {
		return 0, fmt.Errorf("create stream: %w", err)
	}
	if _, err := c.Exec(ctx, ddl); err != nil {
		return 0, fmt.Errorf("create view: %w", err)
	}
	for {
		ok, err := done()
		if err != nil {
			return 0, err
		}
		if ok {
			return time.Since(start), nil
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("the view was not complete after %v", kafkaTimeout)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// sourcePosition is the sum of the bid stream's partition positions.
func sourcePosition(ctx context.Context, c *pgx.Conn) (int64, error) {
	rows, err := c.Query(ctx, "SHOW SOURCES")
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var sum int64
	for rows.Next() {
		v, err := rows.Values()
		if err != nil {
			return 0, err
		}
		if pos, ok := v[3].(int64); ok && v[0] == "bid" { // NULL: nothing delivered yet
			sum += pos
		}
	}
	return sum, rows.Err()
}

// measureKafka runs the kafka workload over bids in format f against the
// Sluice at url, whose kafka streams read brokers.
// With profile set, each drain is CPU-profiled into kafkaProfilePath's file.
func measureKafka(ctx context.Context, url string, brokers []string, f *rowFormat, n int64, profile string, progress func(string, ...any)) (*Kafka, error) {
	k := &Kafka{Events: n, Format: f.name, Partitions: kafkaPartitions}
	progress("kafka %s: pre-loading %d bids", f.name, n)
	t0 := time.Now()
	events, _, err := bidEvents()
	if err != nil {
		return nil, err
	}
	if err := produceEvents(ctx, brokers, bidTopic(f.name), events, f, n); err != nil {
		return nil, fmt.Errorf("pre-load: %w", err)
	}
	k.Preload = Duration(time.Since(t0))
	progress("kafka %s: warm-up read", f.name)
	if _, err := drainCeiling(ctx, brokers, f, n, 2, false); err != nil {
		return nil, fmt.Errorf("warm-up read: %w", err)
	}
	// The ceiling's drains alternate with Sluice's, so that neither runs
	// on a warmer topic or a quieter machine, and the ceiling is their
	// median: Sluice's drains are single runs, and a best of three favored
	// the ceiling by its luckiest run.
	var ceilings []drainTime
	ceiling := func() error {
		progress("kafka %s: ceiling (franz-go consume + decode), drain %d of %d", f.name, len(ceilings)+1, ceilingRuns)
		path := ""
		if len(ceilings) == 0 {
			path = kafkaProfilePath(profile, f.name, "ceiling")
		}
		t, err := timeDrain(path, func() (time.Duration, error) { return drainCeiling(ctx, brokers, f, n, 2, true) })
		if err != nil {
			return fmt.Errorf("ceiling: %w", err)
		}
		ceilings = append(ceilings, t)
		return nil
	}
	if err := ceiling(); err != nil {
		return nil, err
	}

	c, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer c.Close(context.Background())
	progress("kafka %s: Sluice, pass-through view", f.name)
	t, err := timeDrain(kafkaProfilePath(profile, f.name, "pass-through"), func() (time.Duration, error) {
		return drainSluice(ctx, c, f, kafkaQ0DDL, func() (bool, error) {
			pos, err := sourcePosition(ctx, c)
			if err != nil || pos < n {
				return false, err
			}
			var got int64
			err = c.QueryRow(ctx, "SELECT count(*) FROM q0").Scan(&got)
			return got == n, err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("pass-through: %w", err)
	}
	k.PassThrough, k.PassThroughRate, k.PassThroughCPU, k.PassThroughBrokerCPU = Duration(t.wall), float64(n)/t.wall.Seconds(), Duration(t.cpu.total), Duration(t.cpu.broker)
	k.PassThroughFaults = t.faults
	if _, err := c.Exec(ctx, "DROP STREAM bid CASCADE"); err != nil {
		return nil, err
	}
	if err := ceiling(); err != nil {
		return nil, err
	}

	progress("kafka %s: Sluice, GROUP BY auction count view", f.name)
	t, err = timeDrain(kafkaProfilePath(profile, f.name, "group-by"), func() (time.Duration, error) {
		return drainSluice(ctx, c, f, kafkaCountDDL, func() (bool, error) {
			// The view is read once the source has delivered every bid,
			// not at every poll: a scan of the view every 20 ms took CPU
			// from the drain it measures.
			pos, err := sourcePosition(ctx, c)
			if err != nil || pos < n {
				return false, err
			}
			var got *int64
			err = c.QueryRow(ctx, "SELECT sum(n)::int8 FROM per_auction").Scan(&got)
			return got != nil && *got == n, err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("group by: %w", err)
	}
	k.GroupBy, k.GroupByRate, k.GroupByCPU, k.GroupByBrokerCPU = Duration(t.wall), float64(n)/t.wall.Seconds(), Duration(t.cpu.total), Duration(t.cpu.broker)
	k.GroupByFaults = t.faults
	k.Wrong, err = checkAuctionCounts(ctx, c, n)
	if err != nil {
		return nil, err
	}
	if _, err := c.Exec(ctx, "DROP STREAM bid CASCADE"); err != nil {
		return nil, err
	}
	if err := ceiling(); err != nil {
		return nil, err
	}
	slices.SortFunc(ceilings, func(a, b drainTime) int { return cmp.Compare(a.wall, b.wall) })
	median := ceilings[len(ceilings)/2]
	k.Ceiling, k.CeilingRate, k.CeilingCPU, k.CeilingBrokerCPU = Duration(median.wall), float64(n)/median.wall.Seconds(), Duration(median.cpu.total), Duration(median.cpu.broker)
	k.CeilingFaults = median.faults
	k.PassThroughRatio = k.PassThroughRate / k.CeilingRate
	k.GroupByRatio = k.GroupByRate / k.CeilingRate
	return k, nil
}

// drainTime is how long a drain took, in wall-clock and process CPU time,
// and the minor page faults the process took in it.
type drainTime struct {
	wall   time.Duration
	cpu    runCPU
	faults int64
}

// timeDrain times drain, writing its CPU profile into profilePath unless
// it is "".
func timeDrain(profilePath string, drain func() (time.Duration, error)) (drainTime, error) {
	m, err := startCPUMeter()
	if err != nil {
		return drainTime{}, err
	}
	faults0, _ := processMinorFaults()
	wall, err := drain()
	faults1, _ := processMinorFaults()
	cpu, stopErr := m.stop(profilePath)
	if err := errors.Join(err, stopErr); err != nil {
		return drainTime{}, err
	}
	return drainTime{wall: wall, cpu: cpu, faults: faults1 - faults0}, nil
}

// kafkaProfilePath is the file of a drain's CPU profile: "" (none) when
// prefix is.
func kafkaProfilePath(prefix, format, drain string) string {
	if prefix == "" {
		return ""
	}
	return prefix + "-" + format + "-" + drain + ".prof"
}

// runKafka runs the kafka workload in the named format; the format's
// schema files go under dir, its CPU profiles (if any) are named after
// profile.
func runKafka(ctx context.Context, url string, brokers []string, format, dir string, n int64, profile string, progress func(string, ...any)) (*Kafka, error) {
	_, cols, err := bidEvents()
	if err != nil {
		return nil, err
	}
	f, err := newRowFormat(format, "Bid", cols, dir)
	if err != nil {
		return nil, err
	}
	return measureKafka(ctx, url, brokers, f, n, profile, progress)
}

// checkAuctionCounts compares the count view with the generator's counts.
func checkAuctionCounts(ctx context.Context, c *pgx.Conn, n int64) (string, error) {
	events, cols, err := bidEvents()
	if err != nil {
		return "", err
	}
	want := map[int64]int64{}
	eachEventBlock(ctx, events, cols, n, func(c *coldata.Chunk) {
		for _, a := range c.Cols[0].Ints[:c.Len] {
			want[a]++
		}
	})
	rows, err := c.Query(ctx, "SELECT auction, n FROM per_auction")
	if err != nil {
		return "", err
	}
	defer rows.Close()
	got := 0
	for rows.Next() {
		var a, cnt int64
		if err := rows.Scan(&a, &cnt); err != nil {
			return "", err
		}
		got++
		if want[a] != cnt {
			return fmt.Sprintf("auction %d: %d bids, want %d", a, cnt, want[a]), rows.Err()
		}
	}
	if got != len(want) {
		return fmt.Sprintf("%d auctions, want %d", got, len(want)), rows.Err()
	}
	return "", rows.Err()
}

// startBroker starts the workload's in-process broker with a topic per
// format, its goroutines labeled as the broker's (brokercpu.go).
func startBroker() (*kfake.Cluster, error) {
	topics := make([]string, len(bidFormatNames))
	for i, name := range bidFormatNames {
		topics[i] = bidTopic(name)
	}
	return newBroker(kfake.NumBrokers(1), kfake.SeedTopics(kafkaPartitions, topics...))
}
