package bench

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var rewrite = flag.Bool("rewrite", false, "rewrite testdata golden files")

// sampleReport is a fixed report with every kind of cell: both sides
// measured, a missing value, a note and an error.
func sampleReport() *Report {
	ms := func(f float64) Duration { return Duration(f * float64(time.Millisecond)) }
	return &Report{
		Date:            time.Date(2026, 12, 2, 17, 0, 0, 0, time.UTC),
		GoVersion:       "go1.26.8",
		OS:              "linux",
		Arch:            "amd64",
		CPUs:            2,
		GOMAXPROCS:      2,
		CPUModel:        "AMD EPYC",
		MemTotalBytes:   24 << 30,
		PostgresVersion: "15.18",
		Config: Config{Mode: "short", KVRows: 1_000_000, AggRows: 1_000_000, Conns: 16, Duration: Duration(3 * time.Second), AggRuns: 3, ViewRows: 2_000_000, KafkaEvents: 2_000_000,
			ServeConns: 200, ServeDuration: Duration(5 * time.Second), ServeRate: 200_000},
		Sluice: &Result{
			KVLoad:  &Load{Rows: 1_000_000, Elapsed: ms(2000), RowsPerSec: 500_000, Method: "text"},
			Point:   &Point{Queries: 30_000, Elapsed: ms(3000), QPS: 10_000, P50: ms(1.2), P99: ms(4.5), Max: ms(31)},
			AggLoad: &Load{Rows: 1_000_000, Elapsed: ms(1000), RowsPerSec: 1_000_000, Method: "binary"},
			Agg:     &Agg{Runs: []Duration{ms(300), ms(250), ms(260)}, Best: ms(250), RowsPerSec: 4_000_000, Groups: 100, Correct: true},
			View: &View{Rows: 2_000_000, Keys: 10_000, Passing: 1_800_000, Method: "binary",
				Copy: ms(1600), EndToEnd: ms(1700), Delay: ms(100), CopyRate: 1_250_000, EndToEndRate: 1_176_470,
				HeapWithView: 290 << 20, HeapWithoutView: 287 << 20, BytesPerKey: 314.6},
			Kafka: []*Kafka{{Events: 2_000_000, Format: "json", Partitions: 4, Preload: ms(2500),
				Ceiling: ms(1000), CeilingRate: 2_000_000, CeilingCPU: ms(1600), CeilingBrokerCPU: ms(400),
				PassThrough: ms(4000), PassThroughRate: 500_000, PassThroughCPU: ms(6000), PassThroughBrokerCPU: ms(1000),
				GroupBy: ms(2500), GroupByRate: 800_000, GroupByCPU: ms(4000), GroupByBrokerCPU: ms(500), PassThroughRatio: 0.25, GroupByRatio: 0.4,
				CeilingFaults: 12_000, PassThroughFaults: 310_000, GroupByFaults: 45_000},
				{Events: 2_000_000, Format: "avro", Partitions: 4, Preload: ms(2000),
					Ceiling: ms(800), CeilingRate: 2_500_000, PassThrough: ms(3000), PassThroughRate: 666_667, PassThroughCPU: ms(5000),
					GroupBy: ms(2000), GroupByRate: 1_000_000, GroupByCPU: ms(3500), PassThroughRatio: 0.27, GroupByRatio: 0.4, Wrong: "auction 1000: 3 bids, want 4"}},
			Nexmark: []*NexmarkResult{
				{Query: "q0", Source: "datagen", Events: 1_000_000, Elapsed: ms(800), CPU: ms(1500), EventsPerSec: 1_250_000, PerCore: 666_667, ViewRows: 920_000, StateBytes: 52 << 20, PeakRSS: 300 << 20},
				{Query: "q5", Source: "datagen", Events: 1_000_000, Elapsed: ms(5000), CPU: ms(9000), EventsPerSec: 200_000, PerCore: 111_111, ViewRows: 1234, StateBytes: 700 << 10, PeakRSS: 400 << 20},
				{Query: "q5", Source: "datagen", Events: 1_000_000, Elapsed: ms(4500), CPU: ms(8000), EventsPerSec: 222_222, PerCore: 125_000, ViewRows: 1234, StateBytes: 700 << 10, PeakRSS: 350 << 20,
					CheckpointInterval: -1},
				{Query: "q0", Source: "kafka", Format: "json", Events: 1_000_000, Elapsed: ms(1600), CPU: ms(3000), EventsPerSec: 625_000, PerCore: 333_333,
					BrokerCPU: ms(500), PerCoreSluice: 400_000, Faults: 71_000, ViewRows: 920_000, PeakRSS: 500 << 20,
					RunsEventsPerSec: []float64{700_000, 625_000, 560_000}}},
			Serve: &Serve{Connections: 200, Elapsed: ms(5000), Rate: 200_000, PeakRate: 400_000, IngestRate: 184_000,
				ServeLatency: ServeLatency{Queries: 5000, QPS: 1000, P50: ms(0.7), P95: ms(50), P99: ms(120), Max: ms(260),
					Kinds: []ServeKind{{Query: "top-10", Queries: 1000, P50: ms(1.8), P99: ms(140), Max: ms(260)},
						{Query: "1-hour range", Queries: 1000, P50: ms(1.2), P99: ms(130), Max: ms(210)},
						{Query: "auction lookup", Queries: 2000, P50: ms(0.6), P99: ms(118), Max: ms(210)},
						{Query: "minute lookup", Queries: 1000, P50: ms(0.35), P99: ms(68), Max: ms(210)}}},
				Markers: 50, MarkersSeen: 50,
				FreshnessP50: ms(6.5), FreshnessP99: ms(260), FreshnessMax: ms(360), FDLimit: 20000,
				Postgres: &ServePostgres{Connections: 200, Elapsed: ms(5000), Rows: 1234,
					ServeLatency: ServeLatency{Queries: 5000, Errors: 1, QPS: 999.8, P50: ms(1.4), P95: ms(20), P99: ms(40), Max: ms(90),
						Kinds: []ServeKind{{Query: "top-10", Queries: 1000, P50: ms(2.5), P99: ms(45), Max: ms(90)},
							{Query: "1-hour range", Queries: 1000, P50: ms(1.5), P99: ms(41), Max: ms(80)},
							{Query: "auction lookup", Queries: 2000, P50: ms(1.1), P99: ms(38), Max: ms(70)},
							{Query: "minute lookup", Queries: 1000, P50: ms(1), P99: ms(30), Max: ms(60)}}}}},
			Freshness: &Serve{Connections: 200, Elapsed: ms(5000), Rate: 150_000, PeakRate: 300_000, IngestRate: 139_000, CheckpointInterval: ms(100),
				ServeLatency: ServeLatency{Queries: 5000, Errors: 2, QPS: 1000, P50: ms(0.6), P95: ms(20), P99: ms(45), Max: ms(120)},
				Misses:       1, Markers: 50, MarkersSeen: 50, FreshnessP50: ms(12), FreshnessP99: ms(85), FreshnessMax: ms(110), FDLimit: 20000},
			Restart: &RestartResult{Groups: 200_000, Rows: 400_000, Kill: "kill", Runs: 2, CheckpointBytes: 60 << 20, BuildRSS: 500 << 20,
				Ready: ms(1400), Full: ms(1500), CPU: ms(1800), BytesRead: 70 << 20, RSS: 400 << 20, Read: ms(200), Decoded: ms(700),
				Indexed: ms(150), ViewsStarted: ms(1200), Restored: true, AllReady: []Duration{ms(1500), ms(1400)}},
			PeakRSS: 300 << 20,
		},
		Postgres: &Result{
			KVLoad:  &Load{Rows: 1_000_000, Elapsed: ms(1600), RowsPerSec: 625_000, Method: "binary"},
			Point:   &Point{Queries: 24_000, Errors: 2, Elapsed: ms(3000), QPS: 8_000, P50: ms(1.8), P99: ms(6.8), Max: ms(41.6), FirstError: "boom"},
			AggLoad: &Load{Rows: 1_000_000, Elapsed: ms(560), RowsPerSec: 1_780_000, Method: "binary"},
		},
		AggMatch: "",
		Notes:    []string{"Sluice: binary COPY into kv failed (x); loaded with text COPY instead"},
		Errors:   []string{"PostgreSQL: scan-aggregate: boom"},
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *rewrite {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -rewrite to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run with -rewrite to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestReportFormats(t *testing.T) {
	r := sampleReport()
	for _, f := range []struct {
		name  string
		write func(*bytes.Buffer) error
	}{
		{"report.txt", func(b *bytes.Buffer) error { return r.WriteText(b) }},
		{"report.md", func(b *bytes.Buffer) error { return r.WriteMarkdown(b) }},
		{"report.json", func(b *bytes.Buffer) error { return r.WriteJSON(b) }},
	} {
		var b bytes.Buffer
		if err := f.write(&b); err != nil {
			t.Fatal(err)
		}
		golden(t, f.name, b.Bytes())
	}
	// report.json round-trips.
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Sluice.Point.P99 != r.Sluice.Point.P99 || back.Config.Duration != r.Config.Duration {
		t.Errorf("round trip: p99 %v duration %v, want %v %v", back.Sluice.Point.P99, back.Config.Duration,
			r.Sluice.Point.P99, r.Config.Duration)
	}
}

func TestHistogramQuantiles(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	var h histogram
	vals := make([]int64, 100_000)
	for i := range vals {
		// Log-uniform from 1ns to ~1s, as latencies spread.
		v := int64(1) << rng.IntN(30)
		v += rng.Int64N(v)
		vals[i] = v
		h.record(time.Duration(v))
	}
	slices.Sort(vals)
	for _, q := range []float64{0.01, 0.5, 0.9, 0.99, 0.999, 1} {
		want := vals[max(0, int(q*float64(len(vals))+0.5)-1)]
		got := int64(h.quantile(q))
		if d := float64(got-want) / float64(want); d > 0.01 || d < -0.01 {
			t.Errorf("q%.3f = %d, want %d (within 1%%)", q, got, want)
		}
	}
	if int64(h.quantile(1)) != vals[len(vals)-1] || h.max != vals[len(vals)-1] {
		t.Errorf("max %d, want %d", h.max, vals[len(vals)-1])
	}
	for i := range numBuckets {
		if b := bucketOf(bucketValue(i)); b != i {
			t.Fatalf("bucketOf(bucketValue(%d)) = %d", i, b)
		}
	}
}

func TestExpectedAgg(t *testing.T) {
	const n = 10_000
	gs := expectedAgg(n)
	var cnt int64
	for _, g := range gs {
		var c int64
		for _, ch := range g[1] {
			c = c*10 + int64(ch-'0')
		}
		cnt += c
	}
	if len(gs) != 100 || cnt != n {
		t.Errorf("expectedAgg(%d): %d groups, %d rows; want 100, %d", n, len(gs), cnt, n)
	}
	shuffled := slices.Clone(gs)
	rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	sortGroups(shuffled)
	if d := diffGroups("sorted", shuffled, "want", gs); d != "" {
		t.Error(d)
	}
	shuffled[7][2] = "0"
	if d := diffGroups("sorted", shuffled, "want", gs); d == "" {
		t.Error("diffGroups missed a changed sum")
	}
}

func TestFlags(t *testing.T) {
	var stderr bytes.Buffer
	o, err := parseFlags([]string{"--short"}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if o.duration != shortDuration || o.aggRows != shortAggRows || o.viewRows != shortViewRows || o.reportMD != filepath.Join("bench", "REPORT.md") ||
		o.serveConns != shortServeConns || o.serveDuration != shortServeDuration || o.restartGroups != shortRestartGroups {
		t.Errorf("--short: %+v", o)
	}
	o, err = parseFlags(nil, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if o.duration != fullDuration || o.aggRows != fullAggRows || o.viewRows != fullViewRows || o.conns != 16 ||
		o.serveConns != fullServeConns || o.serveDuration != fullServeDuration || o.restartGroups != fullRestartGroups {
		t.Errorf("default: %+v", o)
	}
	if o, err := parseFlags([]string{"--serve-conns", "0"}, &stderr); err != nil || o.serveConns != 0 {
		t.Errorf("--serve-conns 0: %+v, %v", o, err)
	}
	if _, err := parseFlags([]string{"--short", "--full"}, &stderr); err == nil {
		t.Error("--short --full accepted")
	}
	o, err = parseFlags([]string{"--short", "--nexmark-queries", "q5,q0"}, &stderr)
	if err != nil || o.nexmarkEvents != shortNexmark {
		t.Fatalf("--nexmark-queries q5,q0: %+v, %v", o, err)
	}
	var runs []string
	for _, r := range benchNexmarkRuns(o) {
		runs = append(runs, r.queries[0]+" "+r.source+" "+r.format)
	}
	var times []int
	for _, r := range benchNexmarkRuns(o) {
		times = append(times, r.runs)
	}
	if got, want := strings.Join(runs, ", "), "q0 kafka json, q5 datagen , q0 datagen "; got != want {
		t.Errorf("nexmark runs: %s, want %s", got, want)
	}
	// The Kafka queries, whose aims are within one run's swing, run three
	// times for their median.
	if !slices.Equal(times, []int{kafkaNexmarkRuns, 1, 1}) || kafkaNexmarkRuns < 3 {
		t.Errorf("times each nexmark run runs: %v", times)
	}
	// The full run also runs q5 with no checkpoints, for what they cost.
	o, err = parseFlags([]string{"--nexmark-queries", "q5,q0"}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	runs = nil
	for _, r := range benchNexmarkRuns(o) {
		runs = append(runs, fmt.Sprintf("%s %s %s", r.queries[0], r.source, r.checkpointInterval))
	}
	if got, want := strings.Join(runs, ", "), "q0 kafka 0s, q5 datagen 0s, q5 datagen -1ns, q0 datagen 0s"; got != want {
		t.Errorf("full nexmark runs: %s, want %s", got, want)
	}
	if _, err := parseFlags([]string{"--nexmark-queries", "q12"}, &stderr); err == nil {
		t.Error("--nexmark-queries q12 accepted")
	}
}

func TestExpectedView(t *testing.T) {
	const n = 100_000
	gs, passing := expectedView(n)
	var cnt int64
	for i, g := range gs {
		if i > 0 && g.k <= gs[i-1].k {
			t.Fatalf("groups not ordered by key at %d", i)
		}
		cnt += g.n
	}
	// Values run from -100 to 923: about a tenth of the rows fail the filter.
	if len(gs) != viewKeys || cnt != passing || passing >= n || passing < n*8/10 {
		t.Errorf("expectedView(%d): %d groups, %d rows counted, %d passing", n, len(gs), cnt, passing)
	}
}
