package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-db/sluice/server"
)

// options are Main's flags.
type options struct {
	repo        string
	short       bool
	full        bool
	duration    time.Duration
	conns       int
	kvRows      int64
	aggRows     int64
	aggRuns     int
	viewRows    int64
	kafkaEvents int64
	// kafkaFormats are the record formats the kafka workload runs, in order.
	kafkaFormats []string
	seed         uint64
	reportMD     string
	reportJSON   string
	pgURL        string
	noPG         bool
	noSluice     bool
	viewsOnly    bool
	cpuProfile   string
	// kafkaProfile prefixes the kafka workload's CPU profiles (empty:
	// none).
	kafkaProfile string
	// serveConns, serveDuration and serveRate shape the serving workload
	// (`sluice bench serve`); serveConns 0 skips it.
	serveConns    int
	serveDuration time.Duration
	serveRate     float64
	// nexmarkEvents is the events of each Nexmark query's run (0 skips
	// them), nexmarkQueries the queries.
	nexmarkEvents  int64
	nexmarkQueries []string
	// restartGroups is the groups of the restart workload's view (0
	// skips it).
	restartGroups int64
}

const (
	fullDuration  = 10 * time.Second
	shortDuration = 3 * time.Second
	fullAggRows   = 10_000_000
	shortAggRows  = 1_000_000
	fullViewRows  = 10_000_000
	shortViewRows = 2_000_000
	fullKafka     = 10_000_000
	shortKafka    = 2_000_000
	fullNexmark   = 10_000_000
	shortNexmark  = 1_000_000
)

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("sluice bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: sluice bench [flags]\n\n"+
			"Runs Sluice (in-process) and a throw-away PostgreSQL (scripts/pg-test-cluster.sh)\n"+
			"through the same workloads and prints a comparison; writes REPORT.md and report.json.\n"+
			"Also: sluice bench nexmark -h (Nexmark queries), sluice bench serve -h (dashboard serving),\n"+
			"sluice bench restart -h (restart-to-serving time).\n\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.repo, "repo", ".", "repository root (for scripts/pg-test-cluster.sh and default report paths)")
	fs.BoolVar(&o.short, "short", false, "short run: 3s of lookups, 1M aggregate rows, 2M view rows (what `make bench` runs)")
	fs.BoolVar(&o.full, "full", false, "full run: 10s of lookups, 10M aggregate rows, 10M view rows (the default)")
	fs.DurationVar(&o.duration, "duration", 0, "point-lookup duration (default 10s; 3s with --short)")
	fs.IntVar(&o.conns, "conns", 16, "concurrent point-lookup connections")
	fs.Int64Var(&o.kvRows, "kv-rows", 1_000_000, "rows in the point-lookup table")
	fs.Int64Var(&o.aggRows, "agg-rows", 0, "rows in the aggregate table (default 10M; 1M with --short)")
	fs.IntVar(&o.aggRuns, "agg-runs", 3, "runs of the aggregate query (the best is reported)")
	fs.Int64Var(&o.viewRows, "view-rows", 0, "rows COPYed into the stream of the views workload (default 10M; 2M with --short)")
	fs.Int64Var(&o.kafkaEvents, "kafka-events", -1, "Nexmark bids of the kafka workload, per format (default 10M; 2M with --short; 0 skips it)")
	formats := fs.String("kafka-formats", strings.Join(bidFormatNames, ","), "record formats of the kafka workload, comma-separated")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the point-lookup key sequence")
	fs.StringVar(&o.reportMD, "report-md", "", "markdown report path (default <repo>/bench/REPORT.md; \"-\" = none)")
	fs.StringVar(&o.reportJSON, "report-json", "", "JSON report path (default <repo>/bench/report.json; \"-\" = none)")
	fs.StringVar(&o.pgURL, "pg-url", "", "use this PostgreSQL instead of starting one (its kv and agg tables are replaced)")
	fs.BoolVar(&o.noPG, "no-pg", false, "skip PostgreSQL")
	fs.BoolVar(&o.noSluice, "no-sluice", false, "skip Sluice (PostgreSQL only)")
	fs.BoolVar(&o.viewsOnly, "views-only", false, "run only the views workload (Sluice alone; implies --no-pg)")
	fs.StringVar(&o.cpuProfile, "cpu-profile", "", "write a CPU profile of the views workload (COPY start to view complete) to this file")
	fs.StringVar(&o.kafkaProfile, "kafka-cpu-profile", "", "write CPU profiles of the kafka workload's drains to files named with this prefix, then -<format>-{ceiling,pass-through,group-by}.prof (the ceiling's is its first drain)")
	fs.IntVar(&o.serveConns, "serve-conns", -1, "connections of the serving workload, one Grafana-like panel each (default 1000; 200 with --short; 0 skips it)")
	fs.DurationVar(&o.serveDuration, "serve-duration", 0, "serving workload duration (default 30s; 5s with --short)")
	o.serveRate = autoServeRate
	fs.Func("serve-rate", "Nexmark events/s ingested during the serving workload, or auto: half of the peak, measured first (default auto)",
		func(v string) (err error) { o.serveRate, err = parseServeRate(v); return err })
	fs.Int64Var(&o.nexmarkEvents, "nexmark-events", -1, "events of each Nexmark query's run (default 10M; 1M with --short; 0 skips them)")
	nexmarkQueryList := fs.String("nexmark-queries", "all", "Nexmark queries, comma-separated, or all (see sluice bench nexmark)")
	fs.Int64Var(&o.restartGroups, "restart-groups", -1, "groups of the restart workload's view (default 8M, a checkpoint of about 1 GiB; 200K with --short; 0 skips it; see sluice bench restart)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if o.serveConns != 0 { // -1: the mode's default
		o.serveConns, o.serveDuration = serveDefaults(max(o.serveConns, 0), o.serveDuration, o.short)
	}
	for _, f := range strings.Split(*formats, ",") {
		if f = strings.TrimSpace(f); !slices.Contains(bidFormatNames, f) {
			return nil, fmt.Errorf("--kafka-formats: unknown format %q (valid: %s)", f, strings.Join(bidFormatNames, ", "))
		}
		o.kafkaFormats = append(o.kafkaFormats, f)
	}
	if o.viewsOnly {
		o.noPG = true
	}
	if o.short && o.full {
		return nil, errors.New("--short and --full are exclusive")
	}
	if o.duration == 0 {
		o.duration = fullDuration
		if o.short {
			o.duration = shortDuration
		}
	}
	if o.aggRows == 0 {
		o.aggRows = fullAggRows
		if o.short {
			o.aggRows = shortAggRows
		}
	}
	if o.viewRows == 0 {
		o.viewRows = fullViewRows
		if o.short {
			o.viewRows = shortViewRows
		}
	}
	if o.kafkaEvents < 0 {
		o.kafkaEvents = fullKafka
		if o.short {
			o.kafkaEvents = shortKafka
		}
	}
	if o.restartGroups < 0 {
		o.restartGroups = fullRestartGroups
		if o.short {
			o.restartGroups = shortRestartGroups
		}
	}
	if o.nexmarkEvents < 0 {
		o.nexmarkEvents = fullNexmark
		if o.short {
			o.nexmarkEvents = shortNexmark
		}
	}
	var err error
	if o.nexmarkQueries, err = parseNexmarkQueries(*nexmarkQueryList); err != nil {
		return nil, fmt.Errorf("--nexmark-queries: %w", err)
	}
	if o.conns < 1 || o.kvRows < 1 || o.aggRows < 1 || o.aggRuns < 1 || o.viewRows < 1 || o.duration < 0 {
		return nil, errors.New("--conns, --kv-rows, --agg-rows, --agg-runs and --view-rows must be positive")
	}
	if o.reportMD == "" {
		o.reportMD = filepath.Join(o.repo, "bench", "REPORT.md")
	}
	if o.reportJSON == "" {
		o.reportJSON = filepath.Join(o.repo, "bench", "report.json")
	}
	return o, nil
}

// Main runs `sluice bench` and returns the exit code: 0 when every measured
// workload ran and every answer was right, 1 otherwise, 2 for bad flags.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "nexmark" {
		return NexmarkMain(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "serve" {
		return ServeMain(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "restart" {
		return RestartMain(args[1:], stdout, stderr)
	}
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "sluice bench:", err)
		return 2
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()

	r := newReport(o)
	progress := func(format string, a ...any) {
		fmt.Fprintf(stderr, "bench: "+format+"\n", a...)
	}
	run(ctx, o, r, progress)

	if err := r.WriteText(stdout); err != nil {
		fmt.Fprintln(stderr, "sluice bench:", err)
		return 1
	}
	code := 0
	if len(r.Errors) > 0 {
		code = 1
	}
	for _, out := range []struct {
		path  string
		write func(io.Writer) error
	}{{o.reportMD, r.WriteMarkdown}, {o.reportJSON, r.WriteJSON}} {
		if out.path == "-" {
			continue
		}
		if err := writeFile(out.path, out.write); err != nil {
			fmt.Fprintln(stderr, "sluice bench:", err)
			code = 1
			continue
		}
		fmt.Fprintf(stdout, "wrote %s\n", out.path)
	}
	return code
}

func newReport(o *options) *Report {
	mode := "full"
	if o.short {
		mode = "short"
	}
	return &Report{
		Date:          time.Now().UTC().Truncate(time.Second),
		GoVersion:     runtime.Version(),
		OS:            runtime.GOOS,
		Arch:          runtime.GOARCH,
		CPUs:          runtime.NumCPU(),
		GOMAXPROCS:    runtime.GOMAXPROCS(0),
		CPUModel:      cpuModel(),
		MemTotalBytes: server.MemTotal(),
		Config: Config{Mode: mode, KVRows: o.kvRows, AggRows: o.aggRows, Conns: o.conns,
			Duration: Duration(o.duration), AggRuns: o.aggRuns, ViewRows: o.viewRows, KafkaEvents: o.kafkaEvents,
			ServeConns: o.serveConns, ServeDuration: Duration(o.serveDuration), ServeRate: o.serveRate},
	}
}

func writeFile(path string, write func(io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

// run measures PostgreSQL and then Sluice, filling r. Failures become report
// errors; it always returns so the report is printed.
func run(ctx context.Context, o *options, r *Report, progress func(string, ...any)) {
	note := func(s string) { r.Notes = append(r.Notes, s) }
	fail := func(s string) { r.Errors = append(r.Errors, s) }
	var pgGroups, slGroups []aggGroup

	// PostgreSQL first, then stopped: its background processes (checkpointer,
	// autovacuum) must not run while Sluice is measured, and a Sluice crash
	// (which takes this process down) then cannot leave it running.
	switch {
	case o.noPG:
		note("PostgreSQL skipped (--no-pg)")
	case o.pgURL != "":
		progress("PostgreSQL at --pg-url")
		r.Postgres, pgGroups = measure(ctx, "PostgreSQL", o.pgURL, o, r, progress)
	default:
		progress("starting PostgreSQL (scripts/pg-test-cluster.sh)")
		pg, err := startPostgres(ctx, o.repo)
		switch {
		case errors.Is(err, errNoPostgres):
			progress("PostgreSQL not measured: %v; running Sluice alone", err)
			note(fmt.Sprintf("PostgreSQL not measured: %v", err))
		case err != nil:
			fail(fmt.Sprintf("PostgreSQL did not start: %v", err))
		default:
			r.Postgres, pgGroups = measure(ctx, "PostgreSQL", pg.URL, o, r, progress)
			progress("stopping PostgreSQL")
			if err := pg.stop(); err != nil {
				note(fmt.Sprintf("stopping PostgreSQL: %v", err))
			}
		}
	}
	if r.Postgres != nil {
		note("PostgreSQL runs with the test cluster's settings: defaults plus fsync=off, synchronous_commit=off, full_page_writes=off, max_connections=1200; VACUUM ANALYZE after each load (so autovacuum does not start mid-measurement)")
	}

	if o.noSluice {
		note("Sluice skipped (--no-sluice)")
	} else if ctx.Err() == nil {
		dir, err := os.MkdirTemp("", "sluice-bench-data-")
		if err != nil {
			fail(fmt.Sprintf("Sluice data dir: %v", err))
			return
		}
		defer os.RemoveAll(dir)
		if !resetPeakRSS() {
			note("could not reset VmHWM; Sluice's peak RSS includes the PostgreSQL phase's client")
		}
		progress("starting Sluice in-process (data in %s)", dir)
		url, stop, err := startSluice(ctx, filepath.Join(dir, "tables"), nil)
		if err != nil {
			fail(fmt.Sprintf("Sluice did not start: %v", err))
		} else {
			if o.viewsOnly {
				r.Sluice = &Result{}
				note("kv and agg workloads skipped (--views-only)")
			} else {
				r.Sluice, slGroups = measure(ctx, "Sluice", url, o, r, progress)
			}
			if ctx.Err() == nil {
				progress("Sluice: views, COPY of %d rows into a stream with a materialized view", o.viewRows)
				r.Sluice.View = measureView(ctx, url, o.viewRows, o.cpuProfile, r)
			}
			if err := stop(); err != nil {
				note(fmt.Sprintf("closing Sluice: %v", err))
			}
		}
		// The Kafka drains run on a fresh Sluice of their own: the tables
		// the workloads above leave behind (about 1 GB) are no part of
		// ingesting a topic.
		if r.Sluice != nil && o.kafkaEvents > 0 && !o.viewsOnly && ctx.Err() == nil {
			r.Sluice.Kafka = runKafkaSuite(ctx, o, filepath.Join(dir, "kafka"), progress, fail)
		}
		if r.Sluice != nil {
			r.Sluice.PeakRSS = procStatusKB("VmHWM")
		}
	}

	// The Nexmark queries and the serving workload run on fresh Sluices of
	// their own, after the others' server has stopped.
	if o.nexmarkEvents > 0 && !o.noSluice && !o.viewsOnly && ctx.Err() == nil {
		s := r.sluice()
		for _, run := range benchNexmarkRuns(o) {
			if ctx.Err() != nil {
				break
			}
			progress("Sluice: nexmark %s over %s %s, %d events", run.queries[0], run.source, run.format, run.events)
			res, err := runNexmarkMedian(ctx, run, run.queries[0], progress)
			if err != nil {
				fail(fmt.Sprintf("Sluice: nexmark %s (%s %s): %v", run.queries[0], run.source, run.format, err))
				continue
			}
			s.Nexmark = append(s.Nexmark, res)
		}
	}

	// The restart workload runs `sluice serve` child processes (this
	// binary), after the in-process server has stopped.
	if o.restartGroups > 0 && !o.noSluice && !o.viewsOnly && ctx.Err() == nil {
		progress("Sluice: restart with a view of %d groups", o.restartGroups)
		ro := &restartOptions{groups: o.restartGroups, rowsPerGroup: 2, kill: "kill", runs: 2}
		res, err := runRestart(ctx, ro, progress)
		r.sluice().Restart = res
		if err != nil {
			fail("Sluice: restart: " + err.Error())
		}
	}

	// The serving workload runs on a fresh Sluice of its own, after the
	// others' server has stopped.
	if o.serveConns > 0 && !o.noSluice && !o.viewsOnly && ctx.Err() == nil {
		progress("Sluice: serving, %d panels for %s while Nexmark streams in at %s events/s", o.serveConns, o.serveDuration, serveRateText(o.serveRate))
		so := &serveOptions{conns: o.serveConns, duration: o.serveDuration, rate: o.serveRate, seed: o.seed, pgURL: o.pgURL}
		if !o.noPG && so.pgURL == "" {
			// PostgreSQL serves the same panels afterwards, from a cluster
			// of its own (the earlier one has stopped).
			pg, err := startPostgres(ctx, o.repo)
			if err != nil {
				note(fmt.Sprintf("serving not measured on PostgreSQL: %v", err))
			} else {
				defer func() {
					if err := pg.stop(); err != nil {
						note(fmt.Sprintf("stopping PostgreSQL: %v", err))
					}
				}()
				so.pgURL = pg.URL
			}
		}
		sv, err := runServe(ctx, so, progress)
		r.sluice().Serve = sv
		if f := serveFailure("serving", sv, err); f != "" {
			fail(f)
		}
	}

	// The full run's freshness workload: the serving workload at issue 6's
	// setting, on a fresh server of its own.
	if o.serveConns > 0 && !o.short && !o.noSluice && !o.viewsOnly && ctx.Err() == nil {
		so := &serveOptions{conns: freshnessConns, duration: o.serveDuration, rate: o.serveRate, seed: o.seed,
			checkpointInterval: freshnessCheckpointInterval}
		progress("Sluice: freshness, %d panels for %s while Nexmark streams in at %s events/s, checkpoints every %s",
			so.conns, so.duration, serveRateText(so.rate), so.checkpointInterval)
		fr, err := runServe(ctx, so, progress)
		r.sluice().Freshness = fr
		if f := serveFailure("freshness", fr, err); f != "" {
			fail(f)
		}
	}

	if r.Sluice != nil && r.Postgres != nil && r.Sluice.Agg != nil && r.Postgres.Agg != nil {
		if d := diffGroups("Sluice", slGroups, "PostgreSQL", pgGroups); d != "" {
			r.AggMatch = "MISMATCH"
			fail("scan-aggregate answers differ: " + d)
		} else {
			r.AggMatch = "match"
		}
	}
	for _, x := range []struct {
		name string
		res  *Result
	}{{"PostgreSQL", r.Postgres}, {"Sluice", r.Sluice}} {
		if x.res != nil && x.res.Agg != nil && !x.res.Agg.Correct {
			fail(fmt.Sprintf("%s's scan-aggregate answer differs from the generated data's", x.name))
		}
	}
	if ctx.Err() != nil {
		fail("interrupted")
	}
}

// sluice returns Sluice's result, made on the first workload that has one.
func (r *Report) sluice() *Result {
	if r.Sluice == nil {
		r.Sluice = &Result{}
	}
	return r.Sluice
}

// serveFailure is what failed in the serving workload run named name
// (runServe's error, or queries that failed or missed), "" when nothing.
func serveFailure(name string, s *Serve, err error) string {
	switch {
	case err != nil:
		return fmt.Sprintf("Sluice: %s: %v", name, err)
	case s.Errors+s.Misses+s.MarkerErrors > 0:
		return fmt.Sprintf("Sluice: %s: %d errors, %d misses, %d marker produce errors of %d queries; first: %s",
			name, s.Errors, s.Misses, s.MarkerErrors, s.Queries, s.FirstError)
	}
	return ""
}

// measure runs both workloads against one server. Each failure is recorded
// in r.Errors and skips only what depends on it.
func measure(ctx context.Context, name, url string, o *options, r *Report, progress func(string, ...any)) (*Result, []aggGroup) {
	res := &Result{}
	fail := func(format string, a ...any) {
		msg := fmt.Sprintf(format, a...)
		res.Errors = append(res.Errors, msg)
		r.Errors = append(r.Errors, name+": "+msg)
	}
	note := func(s string) { r.Notes = append(r.Notes, name+": "+s) }
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		fail("connect: %v", err)
		return res, nil
	}
	defer c.Close(context.Background())
	if name == "PostgreSQL" {
		var v string
		if err := c.QueryRow(ctx, "SHOW server_version").Scan(&v); err == nil {
			r.PostgresVersion = v
		}
	}
	analyze := func(table string) {
		if name != "PostgreSQL" {
			// Sluice's counterpart of VACUUM ANALYZE: let Pebble finish the
			// flush and compactions the load started, and collect the load's
			// garbage, so they do not run during the measurement.
			note(fmt.Sprintf("settled %s after load for %s", table, settle(ctx).Round(100*time.Millisecond)))
			return
		}
		if _, err := c.Exec(ctx, "VACUUM ANALYZE "+table); err != nil {
			note(fmt.Sprintf("VACUUM ANALYZE %s: %v", table, err))
		}
	}

	progress("%s: loading kv (%d rows)", name, o.kvRows)
	res.KVLoad, err = createAndLoad(ctx, c, "kv", kvDDL, []string{"k", "v", "s"}, o.kvRows, kvRow, note)
	if err != nil {
		fail("kv load: %v", err)
	} else {
		analyze("kv")
		progress("%s: point lookups, %d conns for %s", name, o.conns, o.duration)
		res.Point, err = pointLookups(ctx, url, o.conns, o.duration, o.kvRows, o.seed)
		switch {
		case err != nil:
			fail("point lookups: %v", err)
		case res.Point.Errors+res.Point.Wrong > 0:
			fail("point lookups: %d errors, %d wrong rows of %d queries; first: %s",
				res.Point.Errors, res.Point.Wrong, res.Point.Queries, res.Point.FirstError)
		}
	}
	if ctx.Err() != nil {
		return res, nil
	}

	progress("%s: loading agg (%d rows)", name, o.aggRows)
	res.AggLoad, err = createAndLoad(ctx, c, "agg", aggDDL, []string{"k", "v"}, o.aggRows, aggRow, note)
	if err != nil {
		fail("agg load: %v", err)
		return res, nil
	}
	analyze("agg")
	progress("%s: scan-aggregate x%d", name, o.aggRuns)
	agg, groups, err := scanAggregate(ctx, c, o.aggRuns, o.aggRows)
	if err != nil {
		fail("scan-aggregate: %v", err)
		return res, nil
	}
	agg.Correct = slices.Equal(groups, expectedAgg(o.aggRows))
	res.Agg = agg
	return res, groups
}

// measureView runs the views workload, recording a failure or a wrong answer
// in r.Errors.
func measureView(ctx context.Context, url string, rows int64, cpuProfile string, r *Report) *View {
	v, err := viewMaintenance(ctx, url, rows, cpuProfile)
	switch {
	case err != nil:
		r.Errors = append(r.Errors, "Sluice: views: "+err.Error())
	case v.Wrong != "":
		r.Errors = append(r.Errors, "Sluice: the view's content differs from the generated data's: "+v.Wrong)
	}
	if err == nil {
		r.Notes = append(r.Notes, fmt.Sprintf("Sluice: views: %s; heap per key = (live heap after GC with the view - after DROP) / %d keys = (%d - %d) / %d",
			viewDDL, viewKeys, v.HeapWithView, v.HeapWithoutView, viewKeys))
	}
	return v
}

// runKafkaSuite drains the bids of every --kafka-formats format from an
// in-process broker into a fresh Sluice in dir, telling fail what went
// wrong.
func runKafkaSuite(ctx context.Context, o *options, dir string, progress func(string, ...any), fail func(string)) []*Kafka {
	broker, err := startBroker()
	if err != nil {
		fail(fmt.Sprintf("kafka broker: %v", err))
		return nil
	}
	defer broker.Close()
	brokers := broker.ListenAddrs()
	progress("starting a fresh Sluice in-process for the Kafka drains (data in %s)", dir)
	url, stop, err := startSluice(ctx, dir, brokers)
	if err != nil {
		fail(fmt.Sprintf("Sluice for the Kafka drains did not start: %v", err))
		return nil
	}
	var out []*Kafka
	for _, name := range o.kafkaFormats {
		if ctx.Err() != nil {
			break
		}
		k, err := runKafka(ctx, url, brokers, name, dir, o.kafkaEvents, o.kafkaProfile, progress)
		switch {
		case err != nil:
			fail("Sluice: kafka " + name + ": " + err.Error())
		case k.Wrong != "":
			fail("Sluice: kafka " + name + ": the count view differs from the generated bids: " + k.Wrong)
		}
		if k != nil {
			out = append(out, k)
		}
	}
	if err := stop(); err != nil {
		fail(fmt.Sprintf("closing Sluice after the Kafka drains: %v", err))
	}
	return out
}
