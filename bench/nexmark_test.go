package bench

import (
	"context"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// The same Nexmark events reach the same view whether the in-process
// generator feeds the streams or they travel through Kafka as JSON, Avro or
// Protobuf; each view equals its query run in batch.
func TestNexmarkSourcesAgree(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Sluice four times")
	}
	ctx := context.Background()
	var want string
	for _, run := range []struct{ source, format string }{{"datagen", ""}, {"kafka", "json"}, {"kafka", "avro"}, {"kafka", "protobuf"}} {
		o := &nexmarkOptions{events: 20_000, source: run.source, format: run.format, rate: 1_000_000, seed: 7, check: true}
		r, err := runNexmark(ctx, o, "q3", t.Logf)
		if err != nil {
			t.Fatalf("%s %s: %v", run.source, run.format, err)
		}
		if r.ViewRows == 0 {
			t.Fatalf("%s %s: q3 is empty", run.source, run.format)
		}
		if want == "" {
			want = r.Digest
		} else if r.Digest != want {
			t.Errorf("%s %s: q3's rows (digest %s) differ from datagen's (%s)", run.source, run.format, r.Digest, want)
		}
	}
}

// The windowed queries over 100 s of event time, so that windows close and
// their state (aggregates, q5's join of windowed counts on the window, q7's
// and q8's joins) is freed while events come: each view equals its query
// run in batch.
func TestNexmarkWindowsClose(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Sluice three times")
	}
	for _, q := range []string{"q5", "q7", "q8"} {
		o := &nexmarkOptions{events: 100_000, source: "datagen", rate: 1_000, seed: 3, check: true}
		r, err := runNexmark(context.Background(), o, q, t.Logf)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if r.ViewRows == 0 {
			t.Fatalf("%s is empty", q)
		}
	}
}

// The rest of the suite over 20 s of event time (q11's sessions and q9's
// auctions end while events come; q13 joins its side input): each view
// holds rows and equals its query run in batch.
func TestNexmarkSuite(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Sluice once per query")
	}
	for _, q := range []string{"q6", "q9", "q11", "q13", "q14", "q15", "q16", "q17", "q18", "q19", "q20", "q21", "q22"} {
		t.Run(q, func(t *testing.T) {
			o := &nexmarkOptions{events: 20_000, source: "datagen", rate: 1_000, seed: 5, check: true}
			r, err := runNexmark(context.Background(), o, q, t.Logf)
			if err != nil {
				t.Fatal(err)
			}
			if r.ViewRows == 0 {
				t.Fatalf("%s is empty", q)
			}
		})
	}
}

func TestParseNexmarkQueriesAll(t *testing.T) {
	names, err := parseNexmarkQueries("all")
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != len(nexmarkQueries) || names[0] != "q0" || names[2] != "q2" || names[len(names)-1] != "q22" {
		t.Errorf("all = %v, want every query in the suite's order", names)
	}
}

func TestParseCount(t *testing.T) {
	for in, want := range map[string]int64{"10M": 10_000_000, "500K": 500_000, "2000000": 2_000_000, "1.5m": 1_500_000, "1e6": 1_000_000} {
		if got, err := parseCount(in); err != nil || got != want {
			t.Errorf("parseCount(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "x", "-5", "0"} {
		if _, err := parseCount(in); err == nil {
			t.Errorf("parseCount(%q) accepted", in)
		}
	}
}

// TestNexmarkAgainstPostgres runs every query PostgreSQL can run as it is
// (no window table functions) over 20 s of event time, and compares each
// view with the same query run in PostgreSQL over the same events.
func TestNexmarkAgainstPostgres(t *testing.T) {
	url := os.Getenv("SLUICE_TEST_PG_URL")
	if url == "" {
		t.Skip("SLUICE_TEST_PG_URL not set (see scripts/pg-test-cluster.sh)")
	}
	names, err := parseNexmarkQueries("all")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, q := range names {
		if !plainSQL(q) {
			continue
		}
		checked++
		t.Run(q, func(t *testing.T) {
			o := &nexmarkOptions{events: 20_000, source: "datagen", rate: 1_000, seed: 5, check: true, pgURL: url}
			r, err := runNexmark(context.Background(), o, q, t.Logf)
			if err != nil {
				t.Fatal(err)
			}
			if r.ViewRows == 0 {
				t.Fatalf("%s is empty", q)
			}
		})
	}
	if checked < 15 {
		t.Errorf("only %d queries are plain SQL", checked)
	}
}

// A run's row gives the cores it used and its collections with their
// share of its CPU, which tell a run slowed by less CPU from one slowed
// by more CPU an event.
func TestWriteNexmarkCoresAndGC(t *testing.T) {
	var b strings.Builder
	writeNexmark(&b, []*NexmarkResult{
		{Query: "q0", Source: "kafka", Format: "json", Events: 1_000_000, Elapsed: Duration(800 * time.Millisecond),
			CPU: Duration(1500 * time.Millisecond), GCs: 3, GCCPU: Duration(75 * time.Millisecond), ViewRows: 920_000},
		{Query: "q1", Source: "kafka", Format: "json", Events: 1_000_000},
	})
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("want a header and two rows, got:\n%s", b.String())
	}
	header, measured, unknown := strings.Fields(lines[0]), strings.Fields(lines[1]), strings.Fields(lines[2])
	if header[6] != "cores" || measured[6] != "1.88" || unknown[6] != "-" {
		t.Errorf("cores: header %q, rows %q and %q", header[6], measured[6], unknown[6])
	}
	if !strings.Contains(lines[1], " 3 ") || !strings.Contains(lines[1], "5.0 %") {
		t.Errorf("want 3 GCs at 5.0 %% of the CPU in %q", lines[1])
	}
}

// The median run is the middle one by events/s, whatever the order the
// runs came in, and keeps every run's events/s in run order.
func TestMedianRun(t *testing.T) {
	run := func(rate float64) *NexmarkResult { return &NexmarkResult{Query: "q0", EventsPerSec: rate} }
	for _, c := range []struct {
		rates []float64
		want  float64
		text  string
	}{
		{[]float64{1.2e6, 0.9e6, 1.0e6}, 1.0e6, "median of 3: 900.0k-1.20M"},
		{[]float64{0.9e6, 1.0e6, 1.2e6}, 1.0e6, "median of 3: 900.0k-1.20M"},
		{[]float64{1.1e6, 0.8e6}, 0.8e6, "median of 2: 800.0k-1.10M"},
		{[]float64{1.1e6}, 1.1e6, ""},
	} {
		var runs []*NexmarkResult
		for _, r := range c.rates {
			runs = append(runs, run(r))
		}
		m := medianRun(runs)
		if m.EventsPerSec != c.want || m.runsText() != c.text && len(c.rates) > 1 {
			t.Errorf("%v: median %v (%q), want %v (%q)", c.rates, m.EventsPerSec, m.runsText(), c.want, c.text)
		}
		if len(c.rates) > 1 && !slices.Equal(m.RunsEventsPerSec, c.rates) {
			t.Errorf("%v: runs kept as %v", c.rates, m.RunsEventsPerSec)
		}
	}
}

// --runs runs a query that many times, each on a fresh Sluice, and gives
// the median run; fewer than one run is refused.
func TestNexmarkRuns(t *testing.T) {
	var stderr strings.Builder
	if _, err := parseNexmarkFlags([]string{"--runs", "0"}, &stderr); err == nil {
		t.Error("--runs 0 accepted")
	}
	o, err := parseNexmarkFlags([]string{"--runs", "3", "--query", "q2", "--events", "20000"}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	r, err := runNexmarkMedian(context.Background(), o, "q2", t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.RunsEventsPerSec) != 3 {
		t.Fatalf("runs: %v", r.RunsEventsPerSec)
	}
	sorted := slices.Sorted(slices.Values(r.RunsEventsPerSec))
	if r.EventsPerSec != sorted[1] || r.ViewRows == 0 {
		t.Errorf("result %v events/s (%d rows), want the median of %v", r.EventsPerSec, r.ViewRows, r.RunsEventsPerSec)
	}
}

// readGC counts a collection the process runs.
func TestReadGC(t *testing.T) {
	before := readGC()
	runtime.GC()
	if after := readGC(); after.cycles <= before.cycles || after.cpu < before.cpu {
		t.Errorf("after a collection: %+v, before: %+v", after, before)
	}
}
