package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-db/sluice/connector/datagen"
)

// `sluice bench serve`: the serving benchmark. A `sluice serve` child
// process (this binary) is the server, so that its CPU, collector and
// memory figures are its own: the panels, like Grafana, are another
// process (this one). Nexmark streams fill themselves at a fixed rate, by
// default half of the peak a probe measures first (connector = 'datagen',
// event times on the wall clock) while N pgwire connections each behave
// like a Grafana panel that refreshes every second: five queries on the maintained views a dashboard
// reads, with Grafana's macros ($__timeFilter) expanded into literals as
// Grafana does. Beside them a marker record is produced every 50 ms on
// average (serveMarkerEvery) to a
// Kafka topic (a broker in this process) that a small stream reads, and a
// poller times how long it takes to become visible through a view over it
// (produce → visible, fetch and decode included).

// The dashboard's views.
var serveViews = []string{
	// Per-minute bids and volume of the four named channels and of the
	// 10 000 others together (five series, as a time-series panel would
	// draw): the time-series panel reads a one-hour range of it, the stat
	// panel one (channel, minute) key.
	`CREATE MATERIALIZED VIEW bids_per_minute AS
		SELECT CASE WHEN channel IN ('Google', 'Facebook', 'Baidu', 'Apple') THEN channel ELSE 'other' END AS channel,
			window_start, window_end, count(*) AS bids, sum(price) AS volume, max(price) AS top_price
		FROM TUMBLE(bid, date_time, INTERVAL '1 minute') GROUP BY 1, window_start, window_end`,
	// Per-auction bids: point lookups by auction.
	`CREATE MATERIALIZED VIEW auction_bids AS
		SELECT auction, count(*) AS bids, max(price) AS top_price FROM bid GROUP BY auction`,
	// The ten most bid-on auctions.
	`CREATE MATERIALIZED VIEW top_auctions AS
		SELECT auction, count(*) AS bids FROM bid GROUP BY auction ORDER BY bids DESC, auction LIMIT 10`,
	// Freshness: the newest marker.
	`CREATE MATERIALIZED VIEW marker_last AS SELECT max(id) AS id FROM marker`,
}

// The panel's queries. Point lookups run prepared with parameters; the
// range and top-10 queries carry literals (Grafana expands its macros into
// the SQL text) and run over the simple protocol.
const (
	serveAuctionSQL = "SELECT bids, top_price FROM auction_bids WHERE auction = $1"
	serveMinuteSQL  = "SELECT bids, top_price FROM bids_per_minute WHERE channel = $1 AND window_start = $2"
	serveTopSQL     = "SELECT auction, bids FROM top_auctions ORDER BY bids DESC, auction LIMIT 10"
	// serveRangeSQL is the time-series panel's query with $__timeFilter
	// expanded over the last hour.
	serveRangeSQL = `SELECT window_start AS "time", channel, bids, volume FROM bids_per_minute
		WHERE window_start BETWEEN '%s'::timestamptz AND '%s'::timestamptz ORDER BY 1, 2`
)

// serveMarkerTopic is the Kafka topic of the freshness markers, and
// serveMarkerDDL creates the stream that reads it.
const (
	serveMarkerTopic = "marker"
	serveMarkerDDL   = "CREATE STREAM marker (id bigint, ts timestamptz) WITH (connector = 'kafka', topic = '" + serveMarkerTopic + "', format = 'json')"
)

// serveQueriesPerRound is how many queries a panel sends each second.
const serveQueriesPerRound = 5

// serveMarkerEvery is the mean interval between freshness markers. The
// intervals are drawn uniformly from [0, 2*serveMarkerEvery): markers at a
// fixed 100 ms could keep one phase to the generators' deliveries (every
// 50 ms and then some) for seconds, so that a run timed mostly markers
// landing just behind a commit, or mostly markers between commits. Twice as
// many markers as at that period also make the p99 of a 15 s run the third
// worst of about 300, not the second of 150.
const serveMarkerEvery = 50 * time.Millisecond

// serveOptions are `sluice bench serve`'s flags.
type serveOptions struct {
	conns    int
	duration time.Duration
	// rate is Nexmark events per second (people, auctions and bids), or
	// autoServeRate: half of the peak a probe measures first.
	rate float64
	seed uint64
	// cpuProfile is a file for a CPU profile of the measurement.
	cpuProfile string
	// trace is a file for an execution trace of the measurement, which
	// shows where queries wait (go tool trace -pprof=sync|sched).
	trace string
	// heapProfile is a file for a heap profile taken at the end of the
	// measurement, the panels' connections still open.
	heapProfile string
	// pgURL is a PostgreSQL to run the same panels on afterwards, over
	// tables holding the views' rows ("": none).
	pgURL string
	// checkpointInterval is the server's (0: its default).
	checkpointInterval time.Duration
	// binary is the sluice binary the server runs ("": this one).
	binary string
	// serverFlags are appended to the server's command line.
	serverFlags []string
}

// Serve is the serving workload's figures.
type Serve struct {
	Connections int      `json:"connections"`
	Elapsed     Duration `json:"seconds"`
	// Rate is the Nexmark events/s the generator offers; IngestRate the bids
	// per second the per-minute view counted during the measurement. With
	// --rate auto, Rate is half of PeakRate, the events/s a probe ingested
	// into the same views with no panels and no rate limit.
	Rate       float64 `json:"nexmark_events_per_sec"`
	PeakRate   float64 `json:"peak_nexmark_events_per_sec,omitempty"`
	IngestRate float64 `json:"bids_per_sec_ingested"`
	ServeLatency
	// Misses are point lookups of an auction the top-10 had named that
	// found no row (the per-auction counts only grow, so each is wrong).
	Misses int64 `json:"misses"`
	// LateRounds are panel refreshes that started over 100 ms after their
	// scheduled second because the previous one was still running.
	LateRounds int64 `json:"late_rounds"`
	// Markers were produced; Seen became visible through marker_last.
	Markers      int64    `json:"markers"`
	MarkersSeen  int64    `json:"markers_seen"`
	FreshnessP50 Duration `json:"freshness_p50_seconds"`
	FreshnessP99 Duration `json:"freshness_p99_seconds"`
	FreshnessMax Duration `json:"freshness_max_seconds"`
	MarkerErrors int64    `json:"marker_produce_errors"`
	FDLimit      uint64   `json:"fd_limit"`
	LoadAvg      string   `json:"loadavg,omitempty"`
	FirstError   string   `json:"first_error,omitempty"`
	CPU          Duration `json:"cpu_seconds"`
	// ClientCPU is this process's CPU over the measurement: the panels'
	// pgx connections, the markers' broker and producer. It shares the
	// cores with the server, so a heavier client lengthens the server's
	// tail too.
	ClientCPU Duration `json:"client_cpu_seconds,omitempty"`
	// GCCPU is the CPU the garbage collector took of CPU (the runtime's
	// estimate); SchedP99 the 99th percentile of how long a runnable
	// goroutine waited for a core.
	GCCPU    Duration `json:"gc_cpu_seconds,omitempty"`
	SchedP99 Duration `json:"sched_latency_p99_seconds,omitempty"`
	// ClientSchedP99 is the same of this process (the panels, the
	// markers' broker, producer and poller): what of a query's latency or
	// a marker's freshness is the client's own wait for a core.
	ClientSchedP99 Duration `json:"client_sched_latency_p99_seconds,omitempty"`
	// Stages is the server's freshness breakdown (docs/metrics.md) over
	// the measurement; empty for a server without it.
	Stages []Stage `json:"freshness_stages,omitempty"`
	// EpochRows are the views' epochs over the measurement and the rows
	// each stepped over; nil for a server without the metric.
	EpochRows *EpochRows `json:"epochs,omitempty"`
	// ResultHits are the statements the server answered from another
	// run's answer at the same published epoch, ResultMisses those that
	// could have been and ran (0 for a server that shares none).
	ResultHits   int64 `json:"result_cache_hits,omitempty"`
	ResultMisses int64 `json:"result_cache_misses,omitempty"`
	// Allocated is the bytes the process allocated, GCs its collections.
	Allocated     int64    `json:"allocated_bytes,omitempty"`
	GCs           int64    `json:"gc_cycles,omitempty"`
	PeakRSS       int64    `json:"peak_rss_bytes,omitempty"`
	SetupDuration Duration `json:"setup_seconds"`
	// CheckpointInterval is the server's --checkpoint-interval (0: its
	// default; negative: never).
	CheckpointInterval Duration `json:"checkpoint_interval_seconds,omitempty"`
	// Postgres is the same panels on PostgreSQL, over tables holding the
	// views' rows as they were at the end (nil: not measured).
	Postgres *ServePostgres `json:"postgres,omitempty"`
}

// ServeLatency is what the panels saw of one server.
type ServeLatency struct {
	Queries int64    `json:"queries"`
	Errors  int64    `json:"errors"`
	QPS     float64  `json:"qps"`
	P50     Duration `json:"p50_seconds"`
	P95     Duration `json:"p95_seconds"`
	P99     Duration `json:"p99_seconds"`
	Max     Duration `json:"max_seconds"`
	// Kinds are the figures of each of the panel's queries.
	Kinds []ServeKind `json:"queries_by_kind,omitempty"`
}

// ServePostgres is the serving workload on PostgreSQL.
type ServePostgres struct {
	Connections int      `json:"connections"`
	Elapsed     Duration `json:"seconds"`
	ServeLatency
	Misses     int64  `json:"misses"`
	LateRounds int64  `json:"late_rounds"`
	FirstError string `json:"first_error,omitempty"`
	// Rows is how many rows the three tables got from Sluice's views.
	Rows int64 `json:"rows"`
}

// ServeKind is one of the panel's queries' latencies.
type ServeKind struct {
	Query   string   `json:"query"`
	Queries int64    `json:"queries"`
	P50     Duration `json:"p50_seconds"`
	P99     Duration `json:"p99_seconds"`
	Max     Duration `json:"max_seconds"`
}

func parseServeFlags(args []string, stderr io.Writer) (*serveOptions, error) {
	fs := flag.NewFlagSet("bench serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: sluice bench serve [flags]\n\n"+
			"Serves N Grafana-like panels (5 queries a second each on maintained views) from a\n"+
			"`sluice serve` child process while Nexmark events stream in; prints QPS, latency, errors,\n"+
			"freshness and the server's CPU, GC and memory.\n\n")
		fs.PrintDefaults()
	}
	o := &serveOptions{}
	short := fs.Bool("short", false, "short run: 200 connections for 5s (what `make bench` runs)")
	fs.IntVar(&o.conns, "connections", 0, "concurrent pgwire connections, one panel each (default 1000; 200 with --short)")
	fs.DurationVar(&o.duration, "duration", 0, "measurement duration (default 30s; 5s with --short)")
	o.rate = autoServeRate
	fs.Func("rate", "Nexmark events per second ingested meanwhile (people, auctions and bids; 0 = none; auto = half of the peak, measured first) (default auto)",
		func(v string) (err error) { o.rate, err = parseServeRate(v); return err })
	fs.Uint64Var(&o.seed, "seed", 1, "generator seed")
	fs.StringVar(&o.cpuProfile, "cpu-profile", "", "write a CPU profile of the server during the measurement to this file")
	fs.StringVar(&o.heapProfile, "heap-profile", "", "write a heap profile of the server at the end of the measurement (connections still open) to this file")
	fs.StringVar(&o.trace, "trace", "", "write an execution trace of the server during the measurement to this file (go tool trace)")
	fs.DurationVar(&o.checkpointInterval, "checkpoint-interval", 0, "how often the views are checkpointed (0: the server's default; negative: never): freshness with checkpoints")
	fs.StringVar(&o.binary, "sluice", "", "the sluice binary the server runs (default: this one)")
	fs.StringVar(&o.pgURL, "pg-url", "", "then run the same panels on this PostgreSQL, over tables holding the views' rows (its tables of those names are replaced)")
	serverFlagVar(fs, &o.serverFlags)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	o.conns, o.duration = serveDefaults(o.conns, o.duration, *short)
	if o.conns < 1 || o.duration <= 0 {
		return nil, errors.New("--connections and --duration must be positive")
	}
	return o, nil
}

// serveRateText says a serve rate in words: auto or events per second.
func serveRateText(r float64) string {
	if r == autoServeRate {
		return "half of the peak"
	}
	return fmtRate(r)
}

// parseServeRate reads a --rate: "auto" or events per second.
func parseServeRate(v string) (float64, error) {
	if v == "auto" {
		return autoServeRate, nil
	}
	r, err := strconv.ParseFloat(v, 64)
	if err != nil || r < 0 || math.IsInf(r, 0) || math.IsNaN(r) {
		return 0, fmt.Errorf("%q is neither auto nor a number of events per second", v)
	}
	return r, nil
}

// Serve workload defaults.
const (
	// autoServeRate asks for half of the peak ingest rate.
	autoServeRate = -1
	// peakProbeWarmup and peakProbeDuration time the peak probe: the rate
	// counted after a warm-up (views created, first epochs committed).
	peakProbeWarmup   = 2 * time.Second
	peakProbeDuration = 5 * time.Second
	// freshnessConns and freshnessCheckpointInterval are the full run's
	// freshness workload (issue 6: produce to visible at half of the
	// peak with checkpoints every 100 ms, p99 at most 100 ms): fewer
	// panels than serving's aim, whose queries would be most of the tail.
	freshnessConns              = 200
	freshnessCheckpointInterval = 100 * time.Millisecond
	fullServeConns              = 1000
	shortServeConns             = 200
	fullServeDuration           = 30 * time.Second
	shortServeDuration          = 5 * time.Second
	serveConnectParallel        = 16
)

func serveDefaults(conns int, d time.Duration, short bool) (int, time.Duration) {
	if conns == 0 {
		conns = fullServeConns
		if short {
			conns = shortServeConns
		}
	}
	if d == 0 {
		d = fullServeDuration
		if short {
			d = shortServeDuration
		}
	}
	return conns, d
}

// ServeMain runs `sluice bench serve`.
func ServeMain(args []string, stdout, stderr io.Writer) int {
	o, err := parseServeFlags(args, stderr)
	ctx, stop, progress, code := startSubcommand("serve", err, stderr)
	if stop == nil {
		return code
	}
	defer stop()
	s, err := runServe(ctx, o, progress)
	if s != nil {
		writeServe(stdout, s)
	}
	if err != nil {
		fmt.Fprintln(stderr, "sluice bench serve:", err)
		return 1
	}
	if s.Errors+s.Misses+s.MarkerErrors > 0 {
		fmt.Fprintf(stderr, "sluice bench serve: %d errors, %d misses, %d marker produce errors; first: %s\n",
			s.Errors, s.Misses, s.MarkerErrors, s.FirstError)
		return 1
	}
	return 0
}

func writeServe(w io.Writer, s *Serve) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "connections\tseconds\tqueries\tQPS\tp50\tp95\tp99\tmax\terrors\tfresh p50\tfresh p99\tfresh max\tbids/s in")
	fmt.Fprintf(tw, "%d\t%.1f\t%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", s.Connections, time.Duration(s.Elapsed).Seconds(),
		s.Queries, fmtRate(s.QPS), fmtMs(s.P50), fmtMs(s.P95), fmtMs(s.P99), fmtMs(s.Max), s.Errors+s.Misses,
		fmtMs(s.FreshnessP50), fmtMs(s.FreshnessP99), fmtMs(s.FreshnessMax), fmtRate(s.IngestRate))
	tw.Flush()
	fmt.Fprintf(w, "markers %d produced, %d seen; late panel rounds %d; server CPU %.1fs (%.2f cores, GC %.1fs); client CPU %.1fs (%.2f cores); allocated %d MiB in %d GCs; scheduling latency p99 %s (client %s); peak RSS %d MiB; fd limit %d; load average %s\n",
		s.Markers, s.MarkersSeen, s.LateRounds, time.Duration(s.CPU).Seconds(),
		time.Duration(s.CPU).Seconds()/time.Duration(s.Elapsed).Seconds(), time.Duration(s.GCCPU).Seconds(),
		time.Duration(s.ClientCPU).Seconds(), time.Duration(s.ClientCPU).Seconds()/time.Duration(s.Elapsed).Seconds(),
		s.Allocated>>20, s.GCs, fmtMs(s.SchedP99), fmtMs(s.ClientSchedP99), s.PeakRSS>>20, s.FDLimit, s.LoadAvg)
	if s.CheckpointInterval != 0 {
		fmt.Fprintf(w, "checkpoint interval %s\n", time.Duration(s.CheckpointInterval))
	}
	if n := s.ResultHits + s.ResultMisses; n > 0 {
		fmt.Fprintf(w, "shared answers: %d hits, %d misses (%.1f %% of the statements that could share)\n", s.ResultHits, s.ResultMisses, 100*float64(s.ResultHits)/float64(n))
	}
	if len(s.Stages) > 0 {
		fmt.Fprint(w, "freshness stages:")
		for i, st := range s.Stages {
			sep := ";"
			if i == 0 {
				sep = ""
			}
			fmt.Fprintf(w, "%s %s p50 %s p99 %s (%d)", sep, st.Name, fmtMs(st.P50), fmtMs(st.P99), st.Count)
		}
		if e := s.EpochRows; e != nil {
			fmt.Fprintf(w, "; rows per epoch p50 %.0f p99 %.0f (%d)", e.P50, e.P99, e.Count)
		}
		fmt.Fprintln(w)
	}
	for _, k := range s.Kinds {
		fmt.Fprintf(w, "  %-15s %7d queries  p50 %-9s p99 %-9s max %s\n", k.Query, k.Queries, fmtMs(k.P50), fmtMs(k.P99), fmtMs(k.Max))
	}
	if s.FirstError != "" {
		fmt.Fprintf(w, "first error: %s\n", s.FirstError)
	}
	if pg := s.Postgres; pg != nil {
		fmt.Fprintf(w, "PostgreSQL, the same panels over tables holding the views' %d rows (no ingest): %d queries in %.1fs, QPS %s (Sluice/PostgreSQL %s), p50 %s p95 %s p99 %s max %s, errors %d, late panel rounds %d\n",
			pg.Rows, pg.Queries, time.Duration(pg.Elapsed).Seconds(), fmtRate(pg.QPS), ratio(s.QPS, pg.QPS),
			fmtMs(pg.P50), fmtMs(pg.P95), fmtMs(pg.P99), fmtMs(pg.Max), pg.Errors+pg.Misses, pg.LateRounds)
		for _, k := range pg.Kinds {
			fmt.Fprintf(w, "  %-15s %7d queries  p50 %-9s p99 %-9s max %s\n", k.Query, k.Queries, fmtMs(k.P50), fmtMs(k.P99), fmtMs(k.Max))
		}
		if pg.FirstError != "" {
			fmt.Fprintf(w, "PostgreSQL's first error: %s\n", pg.FirstError)
		}
	}
}

// raiseFDLimit raises the soft limit on open files to the hard limit and
// returns the soft limit now in force.
func raiseFDLimit() (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, err
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
			return 0, err
		}
		if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
			return 0, err
		}
	}
	return l.Cur, nil
}

// serveFDs is how many file descriptors n connections need in each
// process (the server inherits this one's limit): a socket end each, plus
// the storage's files and the rest.
func serveFDs(n int) uint64 { return uint64(n + 512) }

// serveSpareConns are the server's connections beyond the panels': the
// admin session, the freshness poller and a few more.
const serveSpareConns = 16

// serveServerFlags are the server's flags, --server-flag's last.
func serveServerFlags(o *serveOptions, brokers []string) []string {
	flags := []string{"--kafka-brokers", strings.Join(brokers, ","),
		"--max-connections", strconv.Itoa(o.conns + serveSpareConns), "--http-pprof"}
	if o.checkpointInterval != 0 {
		// The server's 0 disables checkpoints, the benchmark's negative does.
		flags = append(flags, "--checkpoint-interval", max(o.checkpointInterval, 0).String())
	}
	return append(flags, o.serverFlags...)
}

// runServe starts a fresh Sluice, creates the streams and views, and runs
// the panels and the freshness markers for o.duration.
func runServe(ctx context.Context, o *serveOptions, progress func(string, ...any)) (*Serve, error) {
	s := &Serve{Connections: o.conns, Rate: o.rate, CheckpointInterval: Duration(o.checkpointInterval)}
	setup := time.Now()
	limit, err := raiseFDLimit()
	if err != nil {
		return nil, fmt.Errorf("raising the open-file limit: %w", err)
	}
	s.FDLimit = limit
	if need := serveFDs(o.conns); limit < need {
		return nil, fmt.Errorf("%d connections need about %d open files in each of the client and the server, "+
			"but the limit is %d even after raising the soft limit to the hard one; raise it (ulimit -Hn) or use fewer --connections",
			o.conns, need, limit)
	}
	dir, err := os.MkdirTemp("", "sluice-serve-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	broker, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, serveMarkerTopic))
	if err != nil {
		return nil, fmt.Errorf("starting the markers' Kafka broker: %w", err)
	}
	defer broker.Close()
	bin := o.binary
	if bin == "" {
		if bin, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("the sluice binary: %w", err)
		}
	}
	server, err := startChild(bin, dir, serveServerFlags(o, broker.ListenAddrs())...)
	if err != nil {
		return nil, err
	}
	// SIGTERM: a clean shutdown, at the end or before the PostgreSQL phase
	// (whose CPU the server's ingest must not take).
	stop := sync.OnceValue(func() error { return server.stop(syscall.SIGTERM) })
	defer stop()
	url := server.url
	admin, err := server.connect(ctx, time.Now().Add(time.Minute))
	if err != nil {
		return nil, err
	}
	defer admin.Close(context.Background())

	if o.rate == autoServeRate {
		progress("peak probe: Nexmark into the views as fast as they take it, for %s", peakProbeDuration)
		peak, err := probePeakRate(ctx, admin, o.seed)
		if err != nil {
			return nil, fmt.Errorf("peak probe: %w", err)
		}
		s.PeakRate, o.rate = peak, peak/2
		s.Rate = o.rate
		progress("peak %s events/s; serving while ingesting half of it", fmtRate(peak))
	}
	// The streams: Nexmark at o.rate with event times on the wall clock, and
	// the markers (from Kafka).
	if o.rate > 0 {
		if err := createNexmarkStreams(ctx, admin, o.rate, o.seed); err != nil {
			return nil, err
		}
	} else {
		g := datagen.Lookup("nexmark_bid")
		if _, err := admin.Exec(ctx, fmt.Sprintf("CREATE STREAM bid (%s, %s)", columnList(g.Columns()), nexmarkWatermark)); err != nil {
			return nil, err
		}
	}
	if _, err := admin.Exec(ctx, serveMarkerDDL); err != nil {
		return nil, err
	}
	for _, v := range serveViews {
		if _, err := admin.Exec(ctx, v); err != nil {
			return nil, fmt.Errorf("%s: %w", v, err)
		}
	}

	progress("%d connections", o.conns)
	conns, err := connectPanels(ctx, url, o.conns)
	defer closeAll(conns)
	if err != nil {
		return nil, err
	}
	// Let the first epoch with events commit, so the first rounds see rows.
	if o.rate > 0 {
		if err := waitFor(ctx, admin, "SELECT count(*) FROM top_auctions", 10, 30*time.Second); err != nil {
			return nil, err
		}
	}
	s.SetupDuration = Duration(time.Since(setup))

	bids0, err := totalBids(ctx, admin)
	if err != nil {
		return nil, err
	}
	progress("%d panels for %s while Nexmark streams in at %s events/s", o.conns, o.duration, fmtRate(o.rate))
	pid := strconv.Itoa(server.cmd.Process.Pid)
	before, err := sampleServer(ctx, server)
	if err != nil {
		return nil, err
	}
	resetPeakRSSOf(pid)
	client0, client0OK := processCPU()
	clientSched0 := clientSchedLatencies()

	var (
		firstErr                  atomic.Pointer[string]
		lat                       = &latencies{}
		fresh                     histogram
		markers, seen, markerErrs atomic.Int64
	)
	setErr := func(msg string) { firstErr.CompareAndSwap(nil, &msg) }
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// A server that stops answering must not hang the run.
	watchdog := time.AfterFunc(o.duration+time.Minute, cancel)
	defer watchdog.Stop()
	start := time.Now()
	end := start.Add(o.duration)
	// The server profiles itself over the measurement, rounded up to whole
	// seconds (its /debug/pprof takes no less).
	var profiles sync.WaitGroup
	profileErrs := make(chan error, 2)
	for _, p := range []struct{ name, path string }{{"profile", o.cpuProfile}, {"trace", o.trace}} {
		if p.path == "" {
			continue
		}
		profiles.Add(1)
		go func() {
			defer profiles.Done()
			if err := fetchProfile(rctx, server, p.name, int(math.Ceil(o.duration.Seconds())), p.path); err != nil {
				profileErrs <- err
			}
		}()
	}
	// Freshness: a marker every serveMarkerEvery on average, and a poller.
	markerErr := make(chan error, 2)
	sent := make([]time.Time, 0, int(o.duration/serveMarkerEvery)+2)
	var sentMu sync.Mutex
	var freshWG sync.WaitGroup
	freshWG.Add(2)
	go func() {
		defer freshWG.Done()
		p, err := kgo.NewClient(kgo.SeedBrokers(broker.ListenAddrs()...), kgo.DefaultProduceTopic(serveMarkerTopic), kgo.ProducerLinger(0))
		if err != nil {
			markerErr <- err
			return
		}
		defer p.Close()
		gaps := rand.New(rand.NewPCG(o.seed, 0x6d61726b6572))
		for id := int64(1); time.Now().Before(end); id++ {
			now := time.Now()
			sentMu.Lock()
			sent = append(sent, now)
			sentMu.Unlock()
			value := fmt.Appendf(nil, `{"id":%d,"ts":%q}`, id, now.UTC().Format(time.RFC3339Nano))
			if err := p.ProduceSync(rctx, &kgo.Record{Value: value}).FirstErr(); err != nil {
				if rctx.Err() != nil {
					return
				}
				markerErrs.Add(1)
				setErr("marker produce: " + err.Error())
			}
			markers.Add(1)
			next := now.Add(time.Duration(gaps.Int64N(int64(2 * serveMarkerEvery))))
			select {
			case <-time.After(time.Until(next)):
			case <-rctx.Done():
				return
			}
		}
	}()
	go func() {
		defer freshWG.Done()
		c, err := pgx.Connect(rctx, url)
		if err != nil {
			markerErr <- err
			return
		}
		defer c.Close(context.Background())
		var last int64
		// Poll until every marker is seen or 5 s after the end.
		for time.Now().Before(end.Add(5 * time.Second)) {
			var id *int64
			if err := c.QueryRow(rctx, "SELECT id FROM marker_last").Scan(&id); err != nil && !errors.Is(err, pgx.ErrNoRows) {
				if rctx.Err() != nil {
					return
				}
				markerErr <- fmt.Errorf("freshness poll: %w", err)
				return
			}
			now := time.Now()
			if id != nil && *id > last {
				sentMu.Lock()
				for k := last + 1; k <= *id && k <= int64(len(sent)); k++ {
					fresh.record(now.Sub(sent[k-1]))
					seen.Add(1)
				}
				sentMu.Unlock()
				last = *id
			}
			if time.Now().After(end) && last >= markers.Load() {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	totals := servePanels(rctx, conns, o.seed, lat, start, end)
	elapsed := time.Since(start)
	clientSched1 := clientSchedLatencies()
	if client1, ok := processCPU(); ok && client0OK {
		s.ClientCPU = Duration(client1 - client0)
	}
	after, err := sampleServer(ctx, server)
	if err != nil {
		return nil, err
	}
	if o.heapProfile != "" {
		if err := fetchProfile(ctx, server, "heap", 0, o.heapProfile); err != nil {
			return nil, err
		}
	}
	profiles.Wait()
	select {
	case err := <-profileErrs:
		return nil, err
	default:
	}
	bids1, bidsErr := totalBids(ctx, admin)
	freshWG.Wait()
	cancel()
	s.PeakRSS = procStatusKBOf(pid, "VmHWM")
	s.LoadAvg = loadAvg()
	s.ServeLatency = totals.latency(lat, elapsed)
	s.Elapsed = Duration(elapsed)
	s.CPU = Duration(after.cpu - before.cpu)
	rt0, rt1 := before.rt, after.rt
	s.GCCPU, s.SchedP99 = Duration(rt1.gcCPU-rt0.gcCPU), Duration(schedQuantile(rt0, rt1, 0.99))
	s.ClientSchedP99 = Duration(histQuantile(clientSched0, clientSched1, 0.99))
	s.Allocated, s.GCs = int64(rt1.allocated-rt0.allocated), int64(rt1.gcs-rt0.gcs)
	s.Stages = stages(rt0, rt1)
	s.EpochRows = epochRows(rt0, rt1)
	s.ResultHits, s.ResultMisses = int64(rt1.resultHits-rt0.resultHits), int64(rt1.resultMisses-rt0.resultMisses)
	s.Misses, s.LateRounds = totals.misses, totals.late
	if totals.firstErr != "" {
		setErr(totals.firstErr)
	}
	s.Markers, s.MarkersSeen, s.MarkerErrors = markers.Load(), seen.Load(), markerErrs.Load()
	s.FreshnessP50, s.FreshnessP99, s.FreshnessMax = Duration(fresh.quantile(0.50)), Duration(fresh.quantile(0.99)), Duration(fresh.max)
	if bidsErr == nil {
		s.IngestRate = float64(bids1-bids0) / elapsed.Seconds()
	}
	if m := firstErr.Load(); m != nil {
		s.FirstError = *m
	}
	select {
	case err := <-markerErr:
		return s, err
	default:
	}
	if bidsErr != nil {
		return s, bidsErr
	}
	if s.MarkersSeen < s.Markers {
		return s, fmt.Errorf("%d of %d markers never became visible", s.Markers-s.MarkersSeen, s.Markers)
	}
	if o.pgURL == "" || ctx.Err() != nil {
		return s, ctx.Err()
	}
	rows, err := loadServeTables(ctx, admin, o.pgURL)
	if err != nil {
		return s, fmt.Errorf("PostgreSQL: %w", err)
	}
	// Sluice stops first: its ingest must not take PostgreSQL's CPU.
	closeAll(conns)
	admin.Close(ctx)
	if err := stop(); err != nil {
		return s, err
	}
	s.Postgres, err = servePostgres(ctx, o, progress)
	if s.Postgres != nil {
		s.Postgres.Rows = rows
	}
	return s, err
}

func closeAll(conns []*pgx.Conn) {
	for i, c := range conns {
		if c != nil {
			c.Close(context.Background())
			conns[i] = nil
		}
	}
}

// connectPanels opens n connections, serveConnectParallel at a time, and
// prepares the panels' parameterized statements on each.
func connectPanels(ctx context.Context, url string, n int) ([]*pgx.Conn, error) {
	conns := make([]*pgx.Conn, n)
	var next atomic.Int64
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range min(serveConnectParallel, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				c, err := pgx.Connect(ctx, url)
				if err == nil {
					conns[i] = c
					for _, q := range []string{serveAuctionSQL, serveMinuteSQL} {
						if _, err = c.Prepare(ctx, q, q); err != nil {
							break
						}
					}
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("connection %d: %w", i, err)
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return conns, firstErr
}

// panel is one connection's dashboard panel.
type panel struct {
	c   *pgx.Conn
	h   *latencies
	rng *rand.Rand
	// top are the auctions of the last top-10 answer, the keys of the
	// point lookups (a drill-down from the top-10 table).
	top                     []int64
	queries, errors, misses int64
	firstErr                string
}

var serveChannels = []string{"Google", "Facebook", "Baidu", "Apple", "other"}

// refresh sends one second's five queries: the top-10, the one-hour range
// with $__timeFilter expanded, two point lookups of auctions the top-10
// named, and the current minute of one channel.
func (p *panel) refresh(ctx context.Context, now time.Time) {
	p.run(ctx, 0, func() error {
		rows, err := p.c.Query(ctx, serveTopSQL, pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			return err
		}
		p.top = p.top[:0]
		var a, n int64
		_, err = pgx.ForEachRow(rows, []any{&a, &n}, func() error {
			p.top = append(p.top, a)
			return nil
		})
		if err == nil && len(p.top) > 10 {
			err = fmt.Errorf("top-10 returned %d rows", len(p.top))
		}
		return err
	})
	p.run(ctx, 1, func() error {
		to := now.UTC()
		from := to.Add(-time.Hour)
		q := fmt.Sprintf(serveRangeSQL, from.Format(time.RFC3339), to.Format(time.RFC3339))
		rows, err := p.c.Query(ctx, q, pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			return err
		}
		rows.Close()
		return rows.Err()
	})
	for i := range 2 {
		p.run(ctx, 2+i, func() error {
			if len(p.top) == 0 {
				// Nothing ingested yet (--rate 0): a lookup that misses.
				var b, t int64
				err := p.c.QueryRow(ctx, serveAuctionSQL, int64(-1)).Scan(&b, &t)
				if errors.Is(err, pgx.ErrNoRows) {
					return nil
				}
				return err
			}
			k := p.top[p.rng.IntN(len(p.top))]
			var b, t int64
			err := p.c.QueryRow(ctx, serveAuctionSQL, k).Scan(&b, &t)
			if errors.Is(err, pgx.ErrNoRows) {
				p.misses++
				if p.firstErr == "" {
					p.firstErr = fmt.Sprintf("auction %d of the top-10 has no row in auction_bids", k)
				}
				return nil
			}
			return err
		})
	}
	p.run(ctx, 4, func() error {
		ch := serveChannels[p.rng.IntN(len(serveChannels))]
		var b, v *int64
		err := p.c.QueryRow(ctx, serveMinuteSQL, ch, now.UTC().Truncate(time.Minute)).Scan(&b, &v)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // the minute has no bid on that channel yet
		}
		return err
	})
}

// latencies are the panels' latency histograms, all queries' and each
// kind's, shared under a mutex: a histogram per connection would weigh
// 60 KiB times a thousand, and a few thousand locks a second cost nothing.
type latencies struct {
	mu    sync.Mutex
	all   histogram
	kinds [len(serveKinds)]histogram
}

func (l *latencies) record(kind int, d time.Duration) {
	l.mu.Lock()
	l.all.record(d)
	l.kinds[kind].record(d)
	l.mu.Unlock()
}

// serveKinds name the panel's queries, in the order refresh sends them.
var serveKinds = [...]string{"top-10", "1-hour range", "auction lookup", "auction lookup", "minute lookup"}

// run times one query.
func (p *panel) run(ctx context.Context, kind int, q func() error) {
	if ctx.Err() != nil {
		return
	}
	t0 := time.Now()
	err := q()
	p.h.record(kind, time.Since(t0))
	p.queries++
	if err != nil && ctx.Err() == nil {
		p.errors++
		if p.firstErr == "" {
			p.firstErr = err.Error()
		}
	}
}

// createNexmarkStreams creates the person, auction and bid streams, fed by
// generators at rate events per second in all.
func createNexmarkStreams(ctx context.Context, c *pgx.Conn, rate float64, seed uint64) error {
	for _, k := range nexmarkKinds {
		g := datagen.Lookup(k.generator)
		ddl := fmt.Sprintf(`CREATE STREAM %s (%s, %s) WITH (connector = 'datagen', generator = '%s',
			rate = '%g', seed = '%d', disorder = '0 seconds', late_fraction = '0')`,
			k.stream, columnList(g.Columns()), nexmarkWatermark, k.generator, rate, seed)
		if _, err := c.Exec(ctx, ddl); err != nil {
			return fmt.Errorf("%s: %w", ddl, err)
		}
	}
	return nil
}

// probePeakRate creates the Nexmark streams with no rate limit to speak of
// and the serving views over them, counts the events the views took in
// peakProbeDuration after a warm-up, and drops it all again.
func probePeakRate(ctx context.Context, c *pgx.Conn, seed uint64) (float64, error) {
	if err := createNexmarkStreams(ctx, c, 1e7, seed); err != nil {
		return 0, err
	}
	if _, err := c.Exec(ctx, serveMarkerDDL); err != nil {
		return 0, err
	}
	for _, v := range serveViews {
		if _, err := c.Exec(ctx, v); err != nil {
			return 0, fmt.Errorf("%s: %w", v, err)
		}
	}
	select {
	case <-time.After(peakProbeWarmup):
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	bids0, err := totalBids(ctx, c)
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	select {
	case <-time.After(peakProbeDuration):
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	bids1, err := totalBids(ctx, c)
	if err != nil {
		return 0, err
	}
	elapsed := time.Since(t0)
	for _, k := range nexmarkKinds {
		if _, err := c.Exec(ctx, "DROP STREAM "+k.stream+" CASCADE"); err != nil {
			return 0, err
		}
	}
	if _, err := c.Exec(ctx, "DROP STREAM marker CASCADE"); err != nil {
		return 0, err
	}
	var bidShare, all int64
	for _, k := range nexmarkKinds {
		all += k.share
		if k.stream == "bid" {
			bidShare = k.share
		}
	}
	return float64(bids1-bids0) * float64(all) / float64(bidShare) / elapsed.Seconds(), nil
}

// totalBids is the bids the per-minute view has counted.
func totalBids(ctx context.Context, c *pgx.Conn) (int64, error) {
	var n *int64
	if err := c.QueryRow(ctx, "SELECT sum(bids)::bigint FROM bids_per_minute").Scan(&n); err != nil {
		return 0, err
	}
	if n == nil {
		return 0, nil
	}
	return *n, nil
}

// waitFor polls a count query until it reaches want.
func waitFor(ctx context.Context, c *pgx.Conn, q string, want int64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var n int64
		if err := c.QueryRow(ctx, q).Scan(&n); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
		if n >= want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %d after %s, want %d", q, n, timeout, want)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// loadAvg is /proc/loadavg's three load averages, or "".
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	var a, b5, c string
	fmt.Sscan(string(b), &a, &b5, &c)
	return a + " " + b5 + " " + c
}

// panelTotals are the panels' counts after a run.
type panelTotals struct {
	queries, errors, misses, late int64
	firstErr                      string
}

// servePanels runs a panel on each connection, one refresh a second
// between start and end, the panels spread evenly over the second.
func servePanels(ctx context.Context, conns []*pgx.Conn, seed uint64, lat *latencies, start, end time.Time) panelTotals {
	var (
		mu sync.Mutex
		t  panelTotals
		wg sync.WaitGroup
	)
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := &panel{c: c, h: lat, rng: rand.New(rand.NewPCG(seed, uint64(i)))}
			phase := time.Duration(i) * time.Second / time.Duration(len(conns))
			var late int64
			for round := 0; ; round++ {
				due := start.Add(phase + time.Duration(round)*time.Second)
				if !due.Before(end) || !time.Now().Before(end) {
					break
				}
				if d := time.Until(due); d > 0 {
					select {
					case <-time.After(d):
					case <-ctx.Done():
					}
				} else if -d > 100*time.Millisecond {
					late++
				}
				if ctx.Err() != nil {
					break
				}
				p.refresh(ctx, due)
			}
			mu.Lock()
			defer mu.Unlock()
			t.queries += p.queries
			t.errors += p.errors
			t.misses += p.misses
			t.late += late
			if t.firstErr == "" {
				t.firstErr = p.firstErr
			}
		}()
	}
	wg.Wait()
	return t
}

// latency sums up the panels' latencies over elapsed.
func (t panelTotals) latency(lat *latencies, elapsed time.Duration) ServeLatency {
	all := &lat.all
	lat.kinds[2].merge(&lat.kinds[3]) // both auction lookups, in one row
	l := ServeLatency{Queries: t.queries, Errors: t.errors, QPS: float64(t.queries-t.errors) / elapsed.Seconds(),
		P50: Duration(all.quantile(0.50)), P95: Duration(all.quantile(0.95)), P99: Duration(all.quantile(0.99)), Max: Duration(all.max)}
	for i := range lat.kinds {
		if i == 3 {
			continue
		}
		k := &lat.kinds[i]
		l.Kinds = append(l.Kinds, ServeKind{Query: serveKinds[i], Queries: int64(k.n),
			P50: Duration(k.quantile(0.5)), P99: Duration(k.quantile(0.99)), Max: Duration(k.max)})
	}
	return l
}

// serveTables are the serving views as PostgreSQL tables: the rows Sluice
// keeps current, held still, with the indexes their lookups need. Each is
// copied by a query of its own while events stream in, so top_auctions
// comes before auction_bids: auctions only ever join auction_bids, so it
// holds every auction of the earlier top-10, which the panels look up.
var serveTables = []struct{ name, ddl string }{
	{"bids_per_minute", `CREATE TABLE bids_per_minute (channel text, window_start timestamptz, window_end timestamptz,
		bids bigint, volume numeric, top_price bigint, PRIMARY KEY (channel, window_start))`},
	{"top_auctions", `CREATE TABLE top_auctions (auction bigint, bids bigint)`},
	{"auction_bids", `CREATE TABLE auction_bids (auction bigint PRIMARY KEY, bids bigint, top_price bigint)`},
}

// loadServeTables copies the views' rows from Sluice into tables of the
// PostgreSQL at url and returns how many rows they got.
func loadServeTables(ctx context.Context, sluice *pgx.Conn, url string) (int64, error) {
	pg, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, err
	}
	defer pg.Close(context.Background())
	var rows int64
	for _, t := range serveTables {
		n, err := copyView(ctx, sluice, pg, t.name, t.ddl)
		if err != nil {
			return 0, fmt.Errorf("table %s: %w", t.name, err)
		}
		rows += n
	}
	_, err = pg.Exec(ctx, "VACUUM ANALYZE")
	return rows, err
}

// servePostgres runs the panels on the PostgreSQL at o.pgURL, over the
// tables loadServeTables filled, for o.duration. Nothing is ingested there:
// PostgreSQL keeps no view current, so this measures the reads alone.
func servePostgres(ctx context.Context, o *serveOptions, progress func(string, ...any)) (*ServePostgres, error) {
	progress("PostgreSQL: %d panels for %s", o.conns, o.duration)
	conns, err := connectPanels(ctx, o.pgURL, o.conns)
	defer closeAll(conns)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL (max_connections must exceed the panels): %w", err)
	}
	r := &ServePostgres{Connections: o.conns}
	lat := &latencies{}
	start := time.Now()
	totals := servePanels(ctx, conns, o.seed, lat, start, start.Add(o.duration))
	elapsed := time.Since(start)
	r.Elapsed = Duration(elapsed)
	r.ServeLatency = totals.latency(lat, elapsed)
	r.Misses, r.LateRounds, r.FirstError = totals.misses, totals.late, totals.firstErr
	return r, ctx.Err()
}

// copyView replaces table name on pg (made by ddl) with the rows of the
// view of that name on sluice.
func copyView(ctx context.Context, sluice, pg *pgx.Conn, name, ddl string) (int64, error) {
	if _, err := pg.Exec(ctx, "DROP TABLE IF EXISTS "+name); err != nil {
		return 0, err
	}
	if _, err := pg.Exec(ctx, ddl); err != nil {
		return 0, err
	}
	rows, err := sluice.Query(ctx, "SELECT * FROM "+name)
	if err != nil {
		return 0, err
	}
	var cols []string
	for _, f := range rows.FieldDescriptions() {
		cols = append(cols, f.Name)
	}
	var values [][]any
	for rows.Next() {
		v, err := rows.Values()
		if err != nil {
			rows.Close()
			return 0, err
		}
		values = append(values, v)
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	return pg.CopyFrom(ctx, pgx.Identifier{name}, cols, pgx.CopyFromRows(values))
}
