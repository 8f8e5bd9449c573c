package engine

import (
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-db/sluice/catalog"
	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/connector/kafka"
	"github.com/sluice-db/sluice/storage"
	"github.com/sluice-db/sluice/types"
)

// watermarkTestEngine runs an engine with one stream ev (id int8, ts
// timestamptz) with WATERMARK FOR ts AS ts - delay and the given options.
func watermarkTestEngine(t *testing.T, delay int64, opts map[string]string) (*Engine, *catalog.Table, *storage.Table) {
	t.Helper()
	e, db := testEngine(t)
	opts["connector"] = "none"
	desc := &catalog.Table{Kind: catalog.KindStream, Schema: "public", Name: "ev", Options: opts,
		Columns:   []catalog.Column{{Name: "id", Type: types.Int8}, {Name: "ts", Type: types.TimestampTZ}},
		Watermark: &catalog.Watermark{Column: "ts", DelayMicros: delay}}
	ts := &txnState{txn: db.Begin()}
	for _, d := range []*catalog.Table{desc, lateEventsStream()} {
		if err := e.createTable(ts, d); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.commit(ts); err != nil {
		t.Fatal(err)
	}
	tbl, _ := db.Table(desc.ID)
	return e, desc, tbl
}

// testEvent is one row of ev and where it comes from (partition -1: HTTP
// push).
type testEvent struct {
	id, ts    int64
	null      bool
	partition int32
	offset    int64
}

// deliver hands a Kafka batch of events to ev's source target; events of a
// partition must be consecutive.
func deliver(t *testing.T, e *Engine, desc *catalog.Table, evs []testEvent) {
	t.Helper()
	b := &kafka.Batch{Rows: coldata.NewChunk(desc.Types(), len(evs)), Offsets: map[kafka.Partition]int64{}}
	for _, ev := range evs {
		var ts types.Datum = ev.ts
		if ev.null {
			ts = nil
		}
		b.Rows.AppendRow([]types.Datum{ev.id, ts})
		p := kafka.Partition{Topic: "t", Partition: ev.partition}
		if n := len(b.Runs); n > 0 && b.Runs[n-1].Partition == p {
			b.Runs[n-1].End++
		} else {
			b.Runs = append(b.Runs, kafka.Run{Partition: p, End: b.Rows.Len})
		}
		b.RecordOffsets = append(b.RecordOffsets, ev.offset)
		b.Offsets[p] = ev.offset + 1
	}
	target := &streamTarget{e: e, id: desc.ID, name: desc.Name}
	if err := target.Deliver(context.Background(), b); err != nil {
		t.Fatal(err)
	}
}

// push sends events through the HTTP push path (one batch).
func push(t *testing.T, e *Engine, evs []testEvent) {
	t.Helper()
	var body strings.Builder
	for _, ev := range evs {
		if ev.null {
			fmt.Fprintf(&body, "{\"id\": %d}\n", ev.id)
			continue
		}
		fmt.Fprintf(&body, "{\"id\": %d, \"ts\": %q}\n", ev.id, time.UnixMicro(ev.ts).UTC().Format(time.RFC3339Nano))
	}
	if _, err := e.PushJSON(context.Background(), "ev", strings.NewReader(body.String())); err != nil {
		t.Fatal(err)
	}
}

// scanRows returns every row of a storage table.
func scanRows(tbl *storage.Table, db *storage.DB) [][]types.Datum {
	var out [][]types.Datum
	s := db.Begin().Scan(tbl)
	for {
		ch, _, ok := s.Next()
		if !ok {
			return out
		}
		for i := 0; i < ch.Len; i++ {
			out = append(out, ch.Row(i))
		}
	}
}

// lateEvents returns sluice_late_events' rows as "stream id partition
// offset watermark", sorted.
func lateEvents(t *testing.T, e *Engine) []string {
	t.Helper()
	desc, _ := e.cat.Lookup("public", lateEventsName)
	tbl, _ := e.db.Table(desc.ID)
	var out []string
	for _, r := range scanRows(tbl, e.db) {
		id := strings.TrimSuffix(strings.SplitN(r[3].(string), `"id": `, 2)[1], "}")
		id = strings.SplitN(id, ",", 2)[0]
		out = append(out, fmt.Sprintf("%s %s %v %v %d", r[0], id, r[4], r[5], r[2]))
	}
	slices.Sort(out)
	return out
}

var watermarkSeed = flag.Uint64("watermark-seed", 0, "seed of TestWatermarkDifferential (0: time-based)")

const sec = int64(time.Second / time.Microsecond)

// Kafka partitions: W is the minimum over partitions; a late row keeps its
// partition and offset; a partition gone idle stops holding W back, and the
// idle check commits the advance on its own.
func TestWatermarkKafkaPartitionsInternal(t *testing.T) {
	e, desc, tbl := watermarkTestEngine(t, 0, map[string]string{"allowed_lateness": "1 second", "idle_timeout": "1 hour"})
	// The source makes its partitions known before their first rows.
	target := &streamTarget{e: e, id: desc.ID, name: desc.Name}
	start := &kafka.Batch{Rows: coldata.NewChunk(desc.Types(), 0),
		Offsets: map[kafka.Partition]int64{{Topic: "t", Partition: 0}: 0, {Topic: "t", Partition: 1}: 0}}
	if err := target.Deliver(context.Background(), start); err != nil {
		t.Fatal(err)
	}
	deliver(t, e, desc, []testEvent{{id: 1, ts: 100 * sec, partition: 0, offset: 0}})
	if w := tbl.Watermark(); w != storage.NoWatermark {
		t.Fatalf("p1 has no rows yet: frontier %d", w)
	}
	deliver(t, e, desc, []testEvent{{id: 2, ts: 50 * sec, partition: 1, offset: 0}, {id: 3, ts: 40 * sec, partition: 1, offset: 1}})
	if w := tbl.Watermark(); w != 49*sec {
		t.Fatalf("frontier %d, want 49 s", w)
	}
	deliver(t, e, desc, []testEvent{{id: 4, ts: 200 * sec, partition: 0, offset: 1}, {id: 5, ts: 60 * sec, partition: 1, offset: 2}})
	c := e.eventTimes.clock(desc, tbl)
	if c.w != 60*sec {
		t.Fatalf("W %d, want 60 s: the minimum of p0 (200 s) and p1 (60 s)", c.w)
	}
	deliver(t, e, desc, []testEvent{{id: 6, ts: 58 * sec, partition: 1, offset: 3}, {id: 7, ts: 59 * sec, partition: 1, offset: 4}})
	if got, want := lateEvents(t, e), []string{"ev 6 1 3 60000000"}; !slices.Equal(got, want) {
		t.Fatalf("late events %q, want %q", got, want)
	}
	deliver(t, e, desc, []testEvent{{id: 8, ts: 150 * sec, partition: 1, offset: 5}})
	if c.w != 150*sec || tbl.Watermark() != 149*sec {
		t.Fatalf("W %d frontier %d, want 150 s and 149 s", c.w, tbl.Watermark())
	}

	// p1 goes quiet: once idle, W follows p0 alone. Only the idle check can
	// commit it, as no row arrives.
	c.mu.Lock()
	c.parts[kafka.Partition{Topic: "t", Partition: 1}].lastRow = time.Now().Add(-2 * time.Hour)
	c.mu.Unlock()
	e.eventTimes.advanceIdle(time.Now())
	if c.w != 200*sec || tbl.Watermark() != 199*sec {
		t.Fatalf("after p1 went idle: W %d frontier %d, want 200 s and 199 s", c.w, tbl.Watermark())
	}
	if got := c.describePartitions(time.Now()); got != "t/0=1970-01-01 00:03:20+00, t/1=1970-01-01 00:02:30+00 (idle)" {
		t.Errorf("partitions: %q", got)
	}
	// Every partition idle: W stays.
	c.mu.Lock()
	c.parts[kafka.Partition{Topic: "t", Partition: 0}].lastRow = time.Now().Add(-2 * time.Hour)
	c.mu.Unlock()
	e.eventTimes.advanceIdle(time.Now())
	if c.w != 200*sec {
		t.Fatalf("all idle: W %d", c.w)
	}

	// Both partitions back; p1 (behind) goes idle first, then p0 too, all
	// before the idle check runs: the advance due when p1 went idle (to
	// p0's 400 s) is not lost because p0 is idle by now as well.
	deliver(t, e, desc, []testEvent{{id: 9, ts: 400 * sec, partition: 0, offset: 2}, {id: 10, ts: 250 * sec, partition: 1, offset: 6}})
	if c.w != 250*sec {
		t.Fatalf("W %d, want 250 s", c.w)
	}
	c.mu.Lock()
	c.parts[kafka.Partition{Topic: "t", Partition: 1}].lastRow = time.Now().Add(-3 * time.Hour)
	c.parts[kafka.Partition{Topic: "t", Partition: 0}].lastRow = time.Now().Add(-2 * time.Hour)
	c.mu.Unlock()
	e.eventTimes.advanceIdle(time.Now())
	if c.w != 400*sec || tbl.Watermark() != 399*sec {
		t.Fatalf("p1 then p0 idle: W %d frontier %d, want 400 s and 399 s", c.w, tbl.Watermark())
	}
}

// TestWatermarkDifferential feeds random events, out of order and some
// far behind, in random batches from random Kafka partitions and HTTP
// pushes, and checks the stream and sluice_late_events against the rule
// recomputed here: a row is late when its event time is before the
// frontier as it was before its batch.
func TestWatermarkDifferential(t *testing.T) {
	seed := *watermarkSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay with -watermark-seed)", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	delay := rng.Int64N(5) * sec
	lateness := rng.Int64N(5) * sec
	e, desc, tbl := watermarkTestEngine(t, delay, map[string]string{
		"allowed_lateness": fmt.Sprintf("%d seconds", lateness/sec), "idle_timeout": "1 hour"})
	t.Logf("delay %d s, allowed lateness %d s", delay/sec, lateness/sec)

	const sqlPart = -1
	maxima := map[int32]int64{} // partition -> max event time; NoWatermark: registered, no time yet
	w := storage.NoWatermark
	frontier := func() int64 {
		if w == storage.NoWatermark {
			return w
		}
		return w - lateness
	}
	nextOffset := map[int32]int64{}
	var wantStream, wantLate []string
	clockTime := int64(1000) * sec
	id := int64(0)
	for batch := 0; batch < 200; batch++ {
		var evs []testEvent
		fromKafka := rng.IntN(3) > 0
		parts := []int32{sqlPart}
		if fromKafka {
			parts = nil
			for _, p := range rng.Perm(3)[:1+rng.IntN(3)] {
				parts = append(parts, int32(p))
			}
		}
		// Times are in half seconds, so that rows exactly at the frontier
		// are common.
		for _, p := range parts {
			for range 1 + rng.IntN(8) {
				id++
				clockTime += rng.Int64N(4) * sec / 2
				ev := testEvent{id: id, partition: p, offset: nextOffset[p]}
				nextOffset[p]++
				switch r := rng.IntN(20); {
				case r == 0:
					ev.null = true
				case r < 3:
					ev.ts = clockTime - rng.Int64N(120)*sec/2 // far behind
				default:
					ev.ts = clockTime - rng.Int64N(16)*sec/2 // out of order
				}
				evs = append(evs, ev)
			}
		}
		// The oracle: judge against the frontier before the batch.
		f := frontier()
		for _, ev := range evs {
			if _, ok := maxima[ev.partition]; !ok && fromKafka {
				maxima[ev.partition] = storage.NoWatermark
			}
			if !ev.null && ev.ts < f {
				off := "<nil>"
				part := "<nil>"
				if fromKafka {
					off, part = fmt.Sprint(ev.offset), fmt.Sprint(ev.partition)
				}
				wantLate = append(wantLate, fmt.Sprintf("ev %d %s %s %d", ev.id, part, off, w))
			} else {
				wantStream = append(wantStream, fmt.Sprint(ev.id))
			}
		}
		for _, ev := range evs {
			if !ev.null {
				if m, ok := maxima[ev.partition]; !ok || ev.ts > m {
					maxima[ev.partition] = ev.ts
				}
			}
		}
		low, blocked := int64(1<<62), false
		for _, m := range maxima {
			if m == storage.NoWatermark {
				blocked = true
			}
			low = min(low, m-delay)
		}
		if !blocked && len(maxima) > 0 {
			w = max(w, low)
		}

		if fromKafka {
			deliver(t, e, desc, evs)
		} else {
			push(t, e, evs)
		}
		if tbl.Watermark() != frontier() {
			t.Fatalf("batch %d: frontier %d, want %d", batch, tbl.Watermark(), frontier())
		}
	}
	var gotStream []string
	for _, r := range scanRows(tbl, e.db) {
		gotStream = append(gotStream, fmt.Sprint(r[0]))
	}
	slices.Sort(gotStream)
	slices.Sort(wantStream)
	slices.Sort(wantLate)
	if !slices.Equal(gotStream, wantStream) {
		t.Errorf("stream holds %d rows, want %d:\n got %v\nwant %v", len(gotStream), len(wantStream), gotStream, wantStream)
	}
	if got := lateEvents(t, e); !slices.Equal(got, wantLate) {
		t.Errorf("late events %d, want %d:\n got %q\nwant %q", len(got), len(wantLate), got, wantLate)
	}
	t.Logf("%d rows on time, %d late", len(wantStream), len(wantLate))
}

// BenchmarkWatermarkCommit commits batches of 65 536 rows into a stream
// without a watermark, with one (all on time), and with one where 1% of
// the rows are late: the cost of judging a batch at commit. "source"
// batches are judged before they enter the txn (Kafka, HTTP push), "txn"
// ones after (INSERT, COPY).
func BenchmarkWatermarkCommit(b *testing.B) {
	const rows = 1 << 16
	for _, tc := range []struct {
		name      string
		watermark bool
		latePct   int
		source    bool
	}{
		{"source/plain", false, 0, true}, {"source/watermark", true, 0, true}, {"source/watermark_1pct_late", true, 1, true},
		{"txn/plain", false, 0, false}, {"txn/watermark", true, 0, false}, {"txn/watermark_1pct_late", true, 1, false},
	} {
		b.Run(tc.name, func(b *testing.B) {
			e, desc, tbl := watermarkTestEngine(&testing.T{}, 0, map[string]string{"idle_timeout": "1 hour"})
			if !tc.watermark {
				desc.Watermark = nil
			}
			rng := rand.New(rand.NewPCG(1, 2))
			chunk := coldata.NewChunk(desc.Types(), rows)
			b.ResetTimer()
			for n := 0; n < b.N; n++ {
				b.StopTimer()
				chunk.Reset()
				base := int64(n+1) * 1000 * sec
				for i := range rows {
					ts := base + int64(i)
					if rng.IntN(100) < tc.latePct {
						ts = base - 2000*sec
					}
					chunk.AppendRow([]types.Datum{int64(i), ts})
				}
				ts := &txnState{txn: e.db.Begin()}
				var batch *sourceBatch
				if tc.source {
					batch = &sourceBatch{tbl: tbl, rows: chunk}
				} else if err := ts.txn.Insert(tbl, chunk); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if err := e.commitWithWatermarks(ts, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*rows)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkJudgeKernels is the per-row work of judging a batch: the late
// mask and the greatest event time over a column of 65 536 event times.
func BenchmarkJudgeKernels(b *testing.B) {
	times := make([]int64, 1<<16)
	for i := range times {
		times[i] = int64(i) * sec
	}
	frontier := times[len(times)/100] // 1% late
	for b.Loop() {
		if len(lateRows(times, nil, frontier)) != len(times)/100 {
			b.Fatal("late mask")
		}
		if m, ok := maxEventTime(times, nil); !ok || m != times[len(times)-1] {
			b.Fatal("max")
		}
	}
	b.ReportMetric(float64(b.N*len(times))/b.Elapsed().Seconds()/1e6, "Mrows/s")
}

// Concurrent pushes into one stream: every row ends up in the stream or in
// sluice_late_events, each late row was before the frontier it met, and
// the final frontier is the greatest event time less the delay and the
// allowed lateness, whatever the order the batches committed in.
func TestWatermarkConcurrentBatches(t *testing.T) {
	e, _, tbl := watermarkTestEngine(t, 2*sec, map[string]string{"allowed_lateness": "1 second", "idle_timeout": "1 hour"})
	const writers, batches, rowsPerBatch = 4, 40, 10
	done := make(chan error, writers)
	// Event time follows the batches pushed by all writers, so that some
	// rows are late and most are not.
	var pushed atomic.Int64
	for w := range writers {
		go func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for b := range batches {
				now := pushed.Add(1) * sec
				var body strings.Builder
				for r := range rowsPerBatch {
					id := (w*batches+b)*rowsPerBatch + r
					ts := time.UnixMicro(now - rng.Int64N(6*sec)).UTC()
					fmt.Fprintf(&body, "{\"id\": %d, \"ts\": %q}\n", id, ts.Format(time.RFC3339Nano))
				}
				if _, err := e.PushJSON(context.Background(), "ev", strings.NewReader(body.String())); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range writers {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	stream := scanRows(tbl, e.db)
	desc, _ := e.cat.Lookup("public", lateEventsName)
	lateTbl, _ := e.db.Table(desc.ID)
	late := scanRows(lateTbl, e.db)
	if len(stream)+len(late) != writers*batches*rowsPerBatch {
		t.Fatalf("%d rows in the stream and %d late, want %d in all", len(stream), len(late), writers*batches*rowsPerBatch)
	}
	greatest := int64(math.MinInt64)
	for _, r := range stream {
		greatest = max(greatest, r[1].(int64))
	}
	for _, r := range late {
		if eventTime, w := r[1].(int64), r[2].(int64); eventTime >= w-sec {
			t.Errorf("late row at %d met watermark %d: on time", eventTime, w)
		}
	}
	if got, want := tbl.Watermark(), greatest-2*sec-sec; got != want {
		t.Errorf("frontier %d, want %d", got, want)
	}
	t.Logf("%d on time, %d late", len(stream), len(late))
}
