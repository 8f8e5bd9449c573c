package datagen

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

func mustOptions(t testing.TB, opts map[string]string) *Options {
	t.Helper()
	o, err := ParseOptions(opts)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// generate returns events first..first+n-1 with every generator column.
func generate(t testing.TB, o *Options, first int64, n int, clock int64) *coldata.Chunk {
	t.Helper()
	ev, ch := allColumns(t, o, n)
	ev.Append(ch, first, n, clock)
	return ch
}

// allColumns returns Events drawing every generator column, and an empty
// chunk of those columns for n rows.
func allColumns(t testing.TB, o *Options, n int) (*Events, *coldata.Chunk) {
	t.Helper()
	cols := o.Generator.Columns()
	layout, err := o.Generator.Layout(cols)
	if err != nil {
		t.Fatal(err)
	}
	ts := make([]*types.T, len(cols))
	for i, c := range cols {
		ts[i] = c.Type
	}
	return NewEvents(o, layout), coldata.NewChunk(ts, n)
}

func chunkText(ch *coldata.Chunk) string {
	var out []byte
	for i := range ch.Len {
		out = fmt.Appendln(out, ch.Row(i)...)
	}
	return string(out)
}

func columnIndex(t *testing.T, g *Generator, name string) int {
	for i, c := range g.Columns() {
		if c.Name == name {
			return i
		}
	}
	t.Fatalf("generator %s has no column %s", g.Name(), name)
	return -1
}

// Events are a function of the seed and their number: the same in one run
// or in pieces, different under another seed.
func TestDeterministic(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			o := mustOptions(t, map[string]string{"generator": name, "seed": "42"})
			whole := chunkText(generate(t, o, 0, 3000, 1e15))
			pieces := chunkText(generate(t, o, 0, 1234, 1e15)) + chunkText(generate(t, o, 1234, 1766, 1e15))
			if whole != pieces {
				t.Fatal("events 0..2999 in one chunk differ from the same in two")
			}
			if again := chunkText(generate(t, mustOptions(t, map[string]string{"generator": name, "seed": "42"}), 0, 3000, 1e15)); again != whole {
				t.Fatal("a second generator with the same seed made other events")
			}
			if other := chunkText(generate(t, mustOptions(t, map[string]string{"generator": name, "seed": "43"}), 0, 3000, 1e15)); other == whole {
				t.Fatal("seeds 42 and 43 made the same events")
			}
		})
	}
}

// The schemas, and the values they promise: ids in their ranges, NULLs
// only where a column is nullable, known names.
func TestSchemas(t *testing.T) {
	want := map[string]string{
		"clicks": "event_id bigint, user_id bigint, session_id bigint, event_type text, page text, product_id bigint NULL, price numeric(10,2) NULL, ts timestamp with time zone",
		"orders": "order_id bigint, user_id bigint, product_id bigint, amount numeric(10,2), currency text, ts timestamp with time zone",
		"rides":  "ride_id bigint, driver_id text, city text, fare numeric(10,2), status text, ts timestamp with time zone",
		"nexmark_person": "id bigint, name text, email_address text, credit_card text, city text, state text, " +
			"date_time timestamp with time zone, extra text",
		"nexmark_auction": "id bigint, item_name text, description text, initial_bid bigint, reserve bigint, " +
			"date_time timestamp with time zone, expires timestamp with time zone, seller bigint, category bigint, extra text",
		"nexmark_bid": "auction bigint, bidder bigint, price bigint, channel text, url text, date_time timestamp with time zone, extra text",
	}
	for _, name := range Names() {
		g := Lookup(name)
		var got string
		for i, c := range g.Columns() {
			if i > 0 {
				got += ", "
			}
			got += c.Name + " " + c.Type.String()
			if !c.NotNull {
				got += " NULL"
			}
		}
		if got != want[name] {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want[name])
		}
		ch := generate(t, mustOptions(t, map[string]string{"generator": name}), 0, 5000, 1e15)
		for j, c := range g.Columns() {
			for i := range ch.Len {
				if c.NotNull && ch.Cols[j].IsNull(i) {
					t.Fatalf("%s.%s: NULL in event %d", name, c.Name, i)
				}
			}
		}
	}
	if len(want) != len(Names()) {
		t.Errorf("generators %v, want %d", Names(), len(want))
	}
	clicks := Lookup("clicks")
	ch := generate(t, mustOptions(t, map[string]string{"generator": "clicks"}), 0, 20000, 1e15)
	kinds := map[string]int{}
	for i := range ch.Len {
		u := ch.Cols[columnIndex(t, clicks, "user_id")].Ints[i]
		if u < 1 || u > Users {
			t.Fatalf("user_id %d out of 1..%d", u, Users)
		}
		if id := ch.Cols[columnIndex(t, clicks, "event_id")].Ints[i]; id != int64(i)+1 {
			t.Fatalf("event %d has id %d", i, id)
		}
		pv := ch.Cols[columnIndex(t, clicks, "product_id")]
		if !pv.IsNull(i) && (pv.Ints[i] < 1 || pv.Ints[i] > Products) {
			t.Fatalf("product_id %d out of range", pv.Ints[i])
		}
		if pv.IsNull(i) != ch.Cols[columnIndex(t, clicks, "price")].IsNull(i) {
			t.Fatalf("event %d: a price without a product or the reverse", i)
		}
		kinds[ch.Cols[columnIndex(t, clicks, "event_type")].Bytes[i]]++
	}
	if len(kinds) != 4 || kinds["page_view"] < kinds["add_to_cart"] || kinds["add_to_cart"] < kinds["purchase"] || kinds["purchase"] == 0 {
		t.Fatalf("event types %v: want a funnel of page_view > add_to_cart > purchase > 0", kinds)
	}
}

// Layout takes any subset of the columns in any order and refuses the rest.
func TestLayout(t *testing.T) {
	g := Lookup("orders")
	layout, err := g.Layout([]StreamColumn{{Name: "ts", Type: types.TimestampTZ}, {Name: "amount", Type: types.Numeric}})
	if err != nil || fmt.Sprint(layout) != "[5 3]" {
		t.Fatalf("layout %v, %v; want [5 3]", layout, err)
	}
	for _, bad := range []StreamColumn{
		{Name: "colour", Type: types.Text},
		{Name: "amount", Type: types.Float8},
		{Name: "order_id", Type: types.Int4},
	} {
		if _, err := g.Layout([]StreamColumn{bad}); err == nil {
			t.Errorf("column %s %s: no error", bad.Name, bad.Type)
		}
	}
}

// Event time is the emission time minus at most the disorder, except for
// about late_fraction of the events, which are late_by more behind.
func TestDisorderAndLateness(t *testing.T) {
	o := mustOptions(t, map[string]string{"generator": "clicks", "rate": "500", "disorder": "3 seconds", "late_fraction": "0.01", "late_by": "2 minutes"})
	const n, clock = 200000, int64(1_800_000_000_000_000)
	ch := generate(t, o, 0, n, clock)
	ts := ch.Cols[columnIndex(t, o.Generator, "ts")].Ints
	late, outOfOrder := 0, 0
	for i, x := range ts {
		emitted := clock + int64(i)*1e6/500
		delay := emitted - x
		switch {
		case delay >= 0 && delay <= 3e6:
		case delay >= 120e6 && delay <= 123e6:
			late++
		default:
			t.Fatalf("event %d: %d µs behind its emission, want within 3 s or 2 min .. 2 min 3 s", i, delay)
		}
		if i > 0 && x < ts[i-1] {
			outOfOrder++
		}
	}
	if frac := float64(late) / n; math.Abs(frac-0.01) > 0.002 {
		t.Fatalf("late fraction %.4f, want about 0.01", frac)
	}
	if outOfOrder < n/10 {
		t.Fatalf("only %d of %d events are out of order", outOfOrder, n)
	}
}

// A user is active in bursts: within a session, a user's events are
// seconds apart; the user then goes quiet for longer than that.
func TestSessions(t *testing.T) {
	o := mustOptions(t, map[string]string{"generator": "clicks", "rate": "100", "disorder": "0 seconds", "late_fraction": "0"})
	g := o.Generator
	ch := generate(t, o, 0, 100*3600, 0) // an hour at 100 events/s
	users, ts := ch.Cols[columnIndex(t, g, "user_id")].Ints, ch.Cols[columnIndex(t, g, "ts")].Ints
	last := map[int64]int64{}
	var short, long int
	for i, u := range users {
		if prev, ok := last[u]; ok {
			if gap := ts[i] - prev; gap < 60e6 {
				short++
			} else if gap > 10*60e6 {
				long++
			}
		}
		last[u] = ts[i]
	}
	t.Logf("%d gaps under a minute, %d over ten minutes among %d events", short, long, len(users))
	if short < len(users)/2 || long < 100 {
		t.Fatalf("%d gaps under a minute, %d over ten minutes among %d events: want mostly short gaps and some long ones", short, long, len(users))
	}
}

type countingTarget struct {
	mu        sync.Mutex
	rows      int64
	generated int64
	calls     int
}

func (c *countingTarget) Deliver(_ context.Context, rows *coldata.Chunk, generated int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rows += int64(rows.Len)
	c.generated = generated
	c.calls++
	return nil
}

func (c *countingTarget) counts() (int64, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rows, c.generated
}

// A rate-limited source delivers rate events a second, no faster, from the
// stored position on; an unlimited one stops after events.
func TestSourceRate(t *testing.T) {
	o := mustOptions(t, map[string]string{"generator": "rides", "rate": "2000"})
	tgt := &countingTarget{}
	start := time.Now()
	src := Start(Config{Options: o, Layout: []int{0}, Types: []*types.T{types.Int8}, Generated: 500, Target: tgt, Interval: 10 * time.Millisecond})
	for rows, _ := tgt.counts(); rows < 2000; rows, _ = tgt.counts() {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("%d events in 10 s at rate 2000", rows)
		}
		time.Sleep(time.Millisecond)
	}
	// Event 1999 of the run is due 0.9995 s after its start.
	if elapsed := time.Since(start); elapsed < 950*time.Millisecond {
		t.Fatalf("2000 events in %v at rate 2000", elapsed)
	}
	src.Close()
	rows, generated := tgt.counts()
	if generated != 500+rows {
		t.Fatalf("generated %d after delivering %d from 500", generated, rows)
	}
	if st := src.Stats(); st.Generated != generated || st.Delivered != rows || st.Done {
		t.Fatalf("stats %+v", st)
	}

	o = mustOptions(t, map[string]string{"generator": "rides", "rate": "max", "events": "100000"})
	tgt = &countingTarget{}
	src = Start(Config{Options: o, Layout: []int{0}, Types: []*types.T{types.Int8}, Generated: 1000, Target: tgt})
	deadline := time.Now().Add(20 * time.Second)
	for !src.Stats().Done {
		if time.Now().After(deadline) {
			t.Fatalf("rate max did not reach 100000 events in 20 s: %+v", src.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	src.Close()
	if rows, generated := tgt.counts(); rows != 99000 || generated != 100000 {
		t.Fatalf("delivered %d, generated %d; want 99000, 100000", rows, generated)
	}
}

func TestParseOptions(t *testing.T) {
	o := mustOptions(t, map[string]string{"generator": "Clicks"})
	if o.Generator.Name() != "clicks" || o.Rate != DefaultRate || o.Events != 0 || o.Disorder != DefaultDisorder ||
		o.LateFraction != DefaultLateFraction || o.LateBy != DefaultLateBy {
		t.Fatalf("defaults: %+v", o)
	}
	o = mustOptions(t, map[string]string{"generator": "rides", "rate": "0", "seed": "-3", "events": "7", "disorder": "00:00:05", "late_by": "1 day"})
	if o.Rate != 0 || o.Seed != uint64(math.MaxUint64-2) || o.Events != 7 || o.Disorder != 5*time.Second || o.LateBy != 24*time.Hour {
		t.Fatalf("%+v", o)
	}
	for _, bad := range []map[string]string{
		{},
		{"generator": "nexmark"},
		{"generator": "rides", "rate": "-1"},
		{"generator": "rides", "rate": "NaN"},
		{"generator": "rides", "seed": "x"},
		{"generator": "rides", "events": "-5"},
		{"generator": "rides", "late_fraction": "1.5"},
		{"generator": "rides", "late_by": "-1 second"},
		{"generator": "rides", "disorder": "soon"},
	} {
		if _, err := ParseOptions(bad); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}

// BenchmarkGenerate measures drawing every column of each generator into
// chunks of 65536 events.
func BenchmarkGenerate(b *testing.B) {
	for _, name := range Names() {
		b.Run(name, func(b *testing.B) {
			o := mustOptions(b, map[string]string{"generator": name, "rate": "max"})
			cols := o.Generator.Columns()
			layout, _ := o.Generator.Layout(cols)
			ts := make([]*types.T, len(cols))
			for i, c := range cols {
				ts[i] = c.Type
			}
			ev := NewEvents(o, layout)
			const n = 1 << 16
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				ch := coldata.NewChunk(ts, n)
				ev.Append(ch, int64(i)*n, n, 0)
			}
			b.ReportMetric(float64(b.N)*n/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// The Nexmark generators split one sequence of events: 1 in 50 a person,
// 3 an auction, 46 a bid, each kind numbered from 1000 and timed by its
// place in the sequence; bids name people and auctions that exist (or are
// at most a few ids ahead, as in Nexmark).
func TestNexmark(t *testing.T) {
	const events, rate, clock = 50_000, 10_000, int64(1_800_000_000_000_000)
	opts := func(name string) *Options {
		return mustOptions(t, map[string]string{"generator": name, "rate": "10000", "seed": "5", "disorder": "0 seconds", "late_fraction": "0"})
	}
	counts := map[string]int64{}
	for _, name := range []string{"nexmark_person", "nexmark_auction", "nexmark_bid"} {
		g := opts(name).Generator
		for k := int64(0); k < 500; k++ {
			if e := g.event(k); g.rowsBefore(e) != k || g.rowsBefore(e+1) != k+1 {
				t.Fatalf("%s: row %d is event %d, but %d rows come before it", name, k, e, g.rowsBefore(e))
			}
		}
		counts[name] = g.rowsBefore(events)
	}
	if counts["nexmark_person"] != 1000 || counts["nexmark_auction"] != 3000 || counts["nexmark_bid"] != 46000 {
		t.Fatalf("rows in %d events: %v", events, counts)
	}

	people := generate(t, opts("nexmark_person"), 0, 1000, clock)
	auctions := generate(t, opts("nexmark_auction"), 0, 3000, clock)
	bids := generate(t, opts("nexmark_bid"), 0, 46000, clock)
	pg, ag, bg := opts("nexmark_person").Generator, opts("nexmark_auction").Generator, opts("nexmark_bid").Generator
	for k := range 1000 {
		if id := people.Cols[columnIndex(t, pg, "id")].Ints[k]; id != 1000+int64(k) {
			t.Fatalf("person %d has id %d", k, id)
		}
		if ts := people.Cols[columnIndex(t, pg, "date_time")].Ints[k]; ts != clock+int64(k)*50*1e6/rate {
			t.Fatalf("person %d at %d, want event %d's time", k, ts-clock, k*50)
		}
	}
	var extra int
	for k := range 3000 {
		if id := auctions.Cols[columnIndex(t, ag, "id")].Ints[k]; id != 1000+int64(k) {
			t.Fatalf("auction %d has id %d", k, id)
		}
		if c := auctions.Cols[columnIndex(t, ag, "category")].Ints[k]; c < 10 || c > 14 {
			t.Fatalf("category %d", c)
		}
		if r, b := auctions.Cols[columnIndex(t, ag, "reserve")].Ints[k], auctions.Cols[columnIndex(t, ag, "initial_bid")].Ints[k]; r <= b {
			t.Fatalf("auction %d: reserve %d not above the initial bid %d", k, r, b)
		}
		if exp, ts := auctions.Cols[columnIndex(t, ag, "expires")].Ints[k], auctions.Cols[columnIndex(t, ag, "date_time")].Ints[k]; exp <= ts {
			t.Fatalf("auction %d expires before it starts", k)
		}
		extra += len(auctions.Cols[columnIndex(t, ag, "extra")].Bytes[k])
	}
	if avg := extra / 3000; avg < 300 || avg > 360 {
		t.Fatalf("auction extra %d bytes on average, want about 330", avg)
	}
	hot := 0
	for k := range 46000 {
		e := bg.event(int64(k))
		a, p := bids.Cols[columnIndex(t, bg, "auction")].Ints[k], bids.Cols[columnIndex(t, bg, "bidder")].Ints[k]
		if a < 1000 || a > 1000+lastAuction(e)+nexmarkLead {
			t.Fatalf("bid %d (event %d) on auction %d, past the newest %d", k, e, a, 1000+lastAuction(e))
		}
		if p < 1000 || p > 1000+lastPerson(e)+nexmarkLead {
			t.Fatalf("bid %d (event %d) by person %d, past the newest %d", k, e, p, 1000+lastPerson(e))
		}
		if price := bids.Cols[columnIndex(t, bg, "price")].Ints[k]; price < 100 || price > 100_000_000 {
			t.Fatalf("price %d", price)
		}
		switch bids.Cols[columnIndex(t, bg, "channel")].Bytes[k] {
		case "Google", "Facebook", "Baidu", "Apple":
			hot++
		}
	}
	if hot < 46000*45/100 || hot > 46000*55/100 {
		t.Fatalf("%d of 46000 bids on the four named channels, want about half", hot)
	}
}

// chunksTarget keeps what a source delivers.
type chunksTarget struct {
	mu     sync.Mutex
	chunks []*coldata.Chunk
}

func (c *chunksTarget) Deliver(_ context.Context, rows *coldata.Chunk, _ int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.chunks = append(c.chunks, rows)
	return nil
}

func (c *chunksTarget) times() []int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []int64
	for _, ch := range c.chunks {
		out = append(out, ch.Cols[0].Ints[:ch.Len]...)
	}
	return out
}

// With start_time, event n's time is start_time + n/rate whenever the
// source runs, so Nexmark's streams share one timeline.
func TestStartTime(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, gen := range []string{"nexmark_auction", "nexmark_bid"} {
		o := mustOptions(t, map[string]string{"generator": gen, "rate": "1000000", "events": "300",
			"disorder": "0 seconds", "late_fraction": "0", "start_time": "2026-01-01T00:00:00Z"})
		layout := []int{columnIndex(t, o.Generator, "date_time")}
		tgt := &chunksTarget{}
		src := Start(Config{Options: o, Layout: layout, Types: []*types.T{types.TimestampTZ}, Target: tgt, Interval: time.Millisecond})
		deadline := time.Now().Add(10 * time.Second)
		for !src.Stats().Done && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		src.Close()
		ts := tgt.times()
		if len(ts) != 300 {
			t.Fatalf("%s: %d rows, want 300", gen, len(ts))
		}
		for i, us := range ts {
			// At a million events a second, event e is at start + e µs.
			if e := o.Generator.event(int64(i)); us != start.UnixMicro()+e {
				t.Fatalf("%s row %d (event %d): time %d, want %d", gen, i, e, us, start.UnixMicro()+e)
			}
		}
	}
	// A replay is not paced: 100 events at 10 a second of event time come
	// at once.
	o := mustOptions(t, map[string]string{"generator": "rides", "rate": "10", "events": "100", "start_time": "2026-01-01T00:00:00Z"})
	tgt := &countingTarget{}
	began := time.Now()
	src := Start(Config{Options: o, Layout: []int{0}, Types: []*types.T{types.Int8}, Target: tgt, Interval: time.Millisecond})
	for !src.Stats().Done && time.Since(began) < 5*time.Second {
		time.Sleep(time.Millisecond)
	}
	src.Close()
	if rows, _ := tgt.counts(); rows != 100 {
		t.Fatalf("a replay of 10 s of events delivered %d of 100 in %v", rows, time.Since(began))
	}
	for _, bad := range []map[string]string{
		{"generator": "rides", "start_time": "yesterday"},
		{"generator": "rides", "rate": "max", "start_time": "2026-01-01T00:00:00Z"},
	} {
		if _, err := ParseOptions(bad); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}

// A source that is behind its schedule (or unlimited) delivers without a
// pause; Close must stop it all the same, even when its target ignores the
// cancelled context (DROP STREAM once waited for ever on such a source).
func TestCloseStopsASourceBehindSchedule(t *testing.T) {
	for _, rate := range []string{"max", "1000000000"} {
		o := mustOptions(t, map[string]string{"generator": "rides", "rate": rate})
		tgt := &countingTarget{}
		src := Start(Config{Options: o, Layout: []int{0}, Types: []*types.T{types.Int8}, Target: tgt, BatchRows: 64})
		for rows, _ := tgt.counts(); rows == 0; rows, _ = tgt.counts() {
			time.Sleep(time.Millisecond)
		}
		closed := make(chan struct{})
		go func() { src.Close(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			t.Fatalf("rate %s: Close did not return in 10 s", rate)
		}
	}
}

// A source draws a delivery in pieces of drawRows (taking turns at its
// gate between them) into one chunk with one Events: the rows must be
// those of one Append.
func TestAppendInPieces(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			o := mustOptions(t, map[string]string{"generator": name, "seed": "7", "rate": "1000"})
			const first, n = 500, 2*drawRows + 77
			whole := chunkText(generate(t, o, first, n, 1e15))
			ev, ch := allColumns(t, o, n)
			for off := 0; off < n; off += drawRows {
				ev.Append(ch, first+int64(off), min(drawRows, n-off), 1e15)
			}
			if chunkText(ch) != whole {
				t.Fatal("events drawn in pieces into one chunk differ from one draw")
			}
		})
	}
}

// sizesTarget records the size of every delivery; it holds the first
// until release is closed.
type sizesTarget struct {
	release chan struct{}
	mu      sync.Mutex
	sizes   []int
}

func (c *sizesTarget) Deliver(_ context.Context, rows *coldata.Chunk, _ int64) error {
	c.mu.Lock()
	first := len(c.sizes) == 0
	c.sizes = append(c.sizes, rows.Len)
	c.mu.Unlock()
	if first {
		<-c.release
	}
	return nil
}

// rows returns the rows delivered and the largest delivery.
func (c *sizesTarget) rows() (total, largest int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.sizes {
		total += n
		largest = max(largest, n)
	}
	return total, largest
}

// A rate-limited source that fell behind its schedule catches up in
// deliveries of at most PacedBatchRows, or two Intervals' rows when they
// are more, not of BatchRows: a view steps a delivery whole, and a commit
// after it waits for that step. Owing more than BatchRows, it delivers
// half of BatchRows (or two Intervals' rows when they are more); an
// unlimited source delivers BatchRows.
func TestCatchUpBatches(t *testing.T) {
	for _, tc := range []struct {
		rate      string
		batchRows int
		want      int
	}{
		{"50000", 1 << 16, PacedBatchRows}, // 2500 rows an Interval, owing 20000
		{"1000000", 1 << 20, 100000},       // 50000 rows an Interval, owing 400000
		{"300000", 1 << 16, 1 << 15},       // 15000 rows an Interval, owing 120000
		{"400000", 1 << 16, 40000},         // 20000 rows an Interval, owing 160000
		{"max", 1 << 16, 1 << 16},
	} {
		o := mustOptions(t, map[string]string{"generator": "rides", "rate": tc.rate})
		tgt := &sizesTarget{release: make(chan struct{})}
		src := Start(Config{Options: o, Layout: []int{0}, Types: []*types.T{types.Int8}, Target: tgt, BatchRows: tc.batchRows})
		// Held for 400 ms, the source owes 400 ms of events.
		time.Sleep(400 * time.Millisecond)
		close(tgt.release)
		deadline := time.Now().Add(20 * time.Second)
		for total, _ := tgt.rows(); total < 200000; total, _ = tgt.rows() {
			if time.Now().After(deadline) {
				t.Fatalf("rate %s: %d rows delivered in 20 s", tc.rate, total)
			}
			time.Sleep(time.Millisecond)
		}
		src.Close()
		if _, largest := tgt.rows(); largest != tc.want {
			t.Fatalf("rate %s: the largest delivery had %d rows, want %d", tc.rate, largest, tc.want)
		}
	}
}

// A rate-limited source's round is Interval, or at high rates the time its
// rows take to reach RoundRows (not under minRound): a view steps each
// delivery whole, and a marker committed after one waits for that step.
func TestPacedRound(t *testing.T) {
	const interval = 50 * time.Millisecond
	bids := mustOptions(t, map[string]string{"generator": "nexmark_bid", "rate": "320000"}).Generator
	rides := mustOptions(t, map[string]string{"generator": "rides", "rate": "1000"}).Generator
	for _, tc := range []struct {
		g    *Generator
		rate float64
		want time.Duration
	}{
		{rides, 20000, interval}, // 1000 rows an Interval
		{rides, 4096 * 20, interval},
		{rides, 4096 * 40, 25 * time.Millisecond},
		{rides, 10_000_000, minRound},
		// 46 of 50 Nexmark events are bids: 294 400 bids a second.
		{bids, 320000, 13913 * time.Microsecond}, // 4096 / 294400 s
	} {
		if got := pacedRound(tc.g, tc.rate, interval); got < tc.want-time.Microsecond || got > tc.want+time.Microsecond {
			t.Errorf("rate %v: round %v, want %v", tc.rate, got, tc.want)
		}
	}
	if got := pacedRound(rides, 10_000_000, time.Millisecond); got != time.Millisecond {
		t.Errorf("a round under minRound's Interval: %v, want the Interval", got)
	}
}

// At 300 k rows a second a source keeping to its schedule delivers about
// RoundRows at a time, not an Interval's 15 000.
func TestPacedDeliveriesAtHighRates(t *testing.T) {
	o := mustOptions(t, map[string]string{"generator": "rides", "rate": "300000"})
	tgt := &sizesTarget{release: make(chan struct{})}
	close(tgt.release)
	src := Start(Config{Options: o, Layout: []int{0}, Types: []*types.T{types.Int8}, Target: tgt})
	time.Sleep(500 * time.Millisecond)
	src.Close()
	tgt.mu.Lock()
	sizes := slices.Sorted(slices.Values(tgt.sizes))
	tgt.mu.Unlock()
	// The first delivery may be more: a bounded catch-up from a slow start.
	if median := sizes[len(sizes)/2]; median > 2*RoundRows {
		t.Fatalf("median delivery %d rows over %d deliveries, want about %d", median, len(sizes), RoundRows)
	}
}

// A source draws its next delivery while the one before is delivered, and
// no further: one drawn delivery waits beside the one in Deliver. Delivered
// in order, all of them; a failed delivery stops the drawing and is the
// pipeline's error.
func TestPipelineDrawsOneAhead(t *testing.T) {
	const deliveries = 3
	drawn := make(chan int64, deliveries+1)
	next := int64(0)
	draw := func(context.Context) (delivery, bool) {
		if next == deliveries {
			return delivery{}, false
		}
		next++
		drawn <- next
		return delivery{rows: &coldata.Chunk{Len: int(next)}, generated: next}, true
	}
	release := make(chan struct{})
	var got []int64
	deliver := func(_ context.Context, d delivery) error {
		if d.generated == 1 {
			<-release
		}
		got = append(got, d.generated)
		return nil
	}
	done := make(chan error)
	go func() { done <- pipeline(context.Background(), draw, deliver) }()
	for want := int64(1); want <= 2; want++ {
		select {
		case n := <-drawn:
			if n != want {
				t.Fatalf("drew delivery %d, want %d", n, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("delivery %d was not drawn while the first was delivered", want)
		}
	}
	select {
	case n := <-drawn:
		t.Fatalf("delivery %d drawn with two undelivered", n)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []int64{1, 2, 3}) {
		t.Fatalf("delivered %v, want [1 2 3]", got)
	}

	failed := fmt.Errorf("disk full")
	draws := 0
	err := pipeline(context.Background(), func(ctx context.Context) (delivery, bool) {
		if ctx.Err() != nil {
			return delivery{}, false
		}
		draws++
		return delivery{rows: &coldata.Chunk{}, generated: int64(draws)}, true
	}, func(_ context.Context, d delivery) error {
		if d.generated == 2 {
			return failed
		}
		return nil
	})
	if err != failed {
		t.Fatalf("pipeline returned %v, want the delivery's error", err)
	}
	if draws > 3 {
		t.Fatalf("%d draws after the second delivery failed", draws)
	}
}

// The table's prices are math.Pow's: over random draws, the draws at the
// ends of the range, and draws whose price lies next to a half-integer,
// where the table falls back to math.Pow.
func TestNexmarkPrices(t *testing.T) {
	p := newNexmarkPrices()
	check := func(r uint64) {
		t.Helper()
		if got, want := p.price(r), nexmarkPrice(r); got != want {
			t.Fatalf("price(%#x) = %d, math.Pow's %d", r, got, want)
		}
	}
	for _, r := range []uint64{0, 1 << 11, math.MaxUint64, math.MaxUint64 - 1<<11} {
		check(r)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2_000_000 {
		check(rng.Uint64())
	}
	// Near ties: the draw whose exact price is nearest to k+0.5, found by
	// inverting the price, and its neighbours.
	ties := 0
	for range 20_000 {
		k := float64(100 + rng.IntN(100_000_000-100))
		u := math.Log10((k+0.5)/100) / 6
		r := uint64(u*(1<<53)) << 11
		for d := uint64(0); d < 8; d++ {
			check(r + d<<11)
			check(r - d<<11)
		}
		x := unit(r) * 6
		if z := math.Pow(10, x) * 100; math.Abs(z-math.Floor(z)-0.5) <= z*priceSlack {
			ties++
		}
	}
	if ties == 0 {
		t.Fatal("no draw tested near a half-integer: the fallback went untested")
	}
}

// BenchmarkNexmarkPrice compares math.Pow's prices with the table's.
func BenchmarkNexmarkPrice(b *testing.B) {
	p := newNexmarkPrices()
	rs := make([]uint64, 1024)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range rs {
		rs[i] = rng.Uint64()
	}
	var sum int64
	b.Run("pow", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			sum += nexmarkPrice(rs[i%len(rs)])
		}
	})
	b.Run("table", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			sum += p.price(rs[i%len(rs)])
		}
	})
	_ = sum
}
