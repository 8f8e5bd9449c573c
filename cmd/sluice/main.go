// Command sluice runs the Sluice server and its tools.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-db/sluice/bench"
	"github.com/sluice-db/sluice/engine"
	"github.com/sluice-db/sluice/examples"
	"github.com/sluice-db/sluice/internal/cpuprofile"
	"github.com/sluice-db/sluice/parser"
	"github.com/sluice-db/sluice/server"
	"github.com/sluice-db/sluice/sqllogictest"
)

const usage = `sluice — SQL streaming analytics over the Postgres wire protocol

Usage:
  sluice serve [flags]   run the server (--pg-addr, --http-addr, --data-dir, --log-format,
                         --auth, --users-file, --tls-cert, --tls-key, --tls-required)
  sluice demo [flags]    run the server with the examples: generated clicks, orders
                         and rides streams, a users table and views over them
  sluice slt [flags] FILE|DIR...
                         run sqllogictest files against a server
  sluice bench           run benchmarks (bench nexmark, bench serve: see -h)
  sluice passwd [USER]   print the SCRAM-SHA-256 verifier of a password read from
                         stdin, a line for --users-file
  sluice version         print the version
  sluice help            print this help
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stdout, stderr, false)
	case "demo":
		return serve(args[1:], stdout, stderr, true)
	case "slt":
		return sqllogictest.Main(args[1:], stdout, stderr)
	case "bench":
		return bench.Main(args[1:], stdout, stderr)
	case "passwd":
		return passwd(args[1:], os.Stdin, stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintf(stdout, "sluice %s (%s)\n", engine.Version, engine.VersionString)
		return 0
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "sluice: unknown command %q\n\n%s", args[0], usage)
	return 2
}

// envDefault returns the environment variable's value or def; a flag given
// on the command line wins over both.
func envDefault(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

// flagsFromEnv sets each flag not given on the command line from its
// environment variable, validated as the flag would be.
func flagsFromEnv(fs *flag.FlagSet, envs map[string]string) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for flagName, env := range envs {
		v, ok := os.LookupEnv(env)
		if !ok || v == "" || given[flagName] {
			continue
		}
		if err := fs.Set(flagName, v); err != nil {
			return fmt.Errorf("%s=%q: %v", env, v, err)
		}
	}
	return nil
}

// defaultMaxConnections leaves room for `sluice bench serve`'s 1000
// dashboard panels and a few sessions beside them.
const defaultMaxConnections = 1100

func serve(args []string, stdout, stderr io.Writer, demo bool) int {
	name, defaultDataDir := "serve", "./sluice-data"
	if demo {
		// The demo keeps its generated streams apart from a server's data.
		name, defaultDataDir = "demo", "./sluice-demo-data"
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	pgAddr := fs.String("pg-addr", envDefault("SLUICE_PG_ADDR", "127.0.0.1:5488"), "Postgres wire protocol listen address (env SLUICE_PG_ADDR)")
	httpAddr := fs.String("http-addr", envDefault("SLUICE_HTTP_ADDR", "127.0.0.1:8488"), "HTTP listen address for /healthz and /metrics (env SLUICE_HTTP_ADDR)")
	dataDir := fs.String("data-dir", envDefault("SLUICE_DATA_DIR", defaultDataDir), "data directory (env SLUICE_DATA_DIR)")
	logFormat := fs.String("log-format", envDefault("SLUICE_LOG_FORMAT", "text"), "log format: text or json (env SLUICE_LOG_FORMAT)")
	logLevel := fs.String("log-level", envDefault("SLUICE_LOG_LEVEL", "info"), "log level: debug, info, warn, error")
	workers := fs.Int("workers", runtime.NumCPU(), "workers per materialized view dataflow (env SLUICE_WORKERS)")
	tick := fs.Duration("tick", 100*time.Millisecond, "longest time between epochs of the views (env SLUICE_TICK)")
	checkpointInterval := fs.Duration("checkpoint-interval", engine.DefaultCheckpointInterval, "how often the views' state is checkpointed, so that a restart restores it instead of computing the views again; 0 disables checkpoints (env SLUICE_CHECKPOINT_INTERVAL)")
	kafkaBrokers := fs.String("kafka-brokers", os.Getenv("SLUICE_KAFKA_BROKERS"), "comma-separated Kafka brokers kafka streams read by default; empty: the embedded broker (env SLUICE_KAFKA_BROKERS)")
	embeddedKafka := fs.String("embedded-kafka-addr", envDefault("SLUICE_EMBEDDED_KAFKA_ADDR", "127.0.0.1:9092"), "listen address of the embedded Kafka-protocol broker started when --kafka-brokers is empty; off disables it (env SLUICE_EMBEDDED_KAFKA_ADDR)")
	startupProfile := fs.String("startup-cpu-profile", "", "write a CPU profile of the start (process start until serving: storage open, views restored or computed) to this file")
	pprofOn := fs.Bool("http-pprof", false, "serve Go's CPU, heap and goroutine profiles and execution traces under /debug/pprof/ on --http-addr")
	maxConns := fs.Int("max-connections", defaultMaxConnections, "wire protocol connections open at once; one more gets FATAL 53300 (env SLUICE_MAX_CONNECTIONS)")
	maxActive := fs.Int("max-active-queries", 0, "statements running at once; the others wait, parked, for one to end or wait for its client; 0: no bound (env SLUICE_MAX_ACTIVE_QUERIES)")
	var memoryLimit byteSize
	resultCache := byteSize(engine.DefaultResultCacheBytes)
	gcPct := fs.Int("gc-percent", server.DefaultGCPercent, "the garbage collector's GOGC: the heap grows by this percentage of the live heap between collections; negative: no collection (a GOGC environment variable applies when neither this flag nor SLUICE_GC_PERCENT is given) (env SLUICE_GC_PERCENT)")
	gomaxprocs := fs.Int("gomaxprocs", 0, "the Go scheduler's Ps (GOMAXPROCS); 0: one more than the cores, so that a P is left idle in the network poller to start queries at once while ingest keeps the cores busy (a GOMAXPROCS environment variable applies when neither this flag nor SLUICE_GOMAXPROCS is given) (env SLUICE_GOMAXPROCS)")
	heapHugePages := fs.String("heap-huge-pages", "on", "on: advise the Go heap's memory for transparent huge pages as it grows, so that a growing heap faults a 2 MiB page at a time, not 4 KiB (linux; docs/memory.md); off: small pages (env SLUICE_HEAP_HUGE_PAGES)")
	fs.Var(&memoryLimit, "memory-limit", "memory the views' spilling operator state may take, such as 512MiB or 2GiB; past it the coldest state goes to <data-dir>/spill (docs/memory.md); off: no limit (env SLUICE_MEMORY_LIMIT)")
	fs.Var(&resultCache, "result-cache-bytes", "memory the answers shared between connections may take: a read-only statement over materialized views is answered once per published epoch and its answer kept for the same statement from any connection (docs/dataflow.md); 0 or off: each statement runs (env SLUICE_RESULT_CACHE_BYTES)")
	auth := addAuthFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := flagsFromEnv(fs, map[string]string{"workers": "SLUICE_WORKERS", "tick": "SLUICE_TICK", "checkpoint-interval": "SLUICE_CHECKPOINT_INTERVAL", "tls-required": "SLUICE_TLS_REQUIRED",
		"max-connections": "SLUICE_MAX_CONNECTIONS", "insecure": "SLUICE_INSECURE", "memory-limit": "SLUICE_MEMORY_LIMIT", "gc-percent": "SLUICE_GC_PERCENT", "gomaxprocs": "SLUICE_GOMAXPROCS", "heap-huge-pages": "SLUICE_HEAP_HUGE_PAGES",
		"max-active-queries": "SLUICE_MAX_ACTIVE_QUERIES", "result-cache-bytes": "SLUICE_RESULT_CACHE_BYTES"}); err != nil {
		fmt.Fprintf(stderr, "sluice %s: %v\n", name, err)
		return 2
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if pct, ok := server.GCPercent(given["gc-percent"], *gcPct, os.Getenv("GOGC")); ok {
		debug.SetGCPercent(pct)
	}
	if *gomaxprocs < 0 {
		fmt.Fprintf(stderr, "sluice %s: --gomaxprocs must be at least 0 (0: one more than the cores)\n", name)
		return 2
	}
	cores := runtime.GOMAXPROCS(0)
	if n, ok := server.Procs(given["gomaxprocs"], *gomaxprocs, os.Getenv("GOMAXPROCS"), cores); ok {
		runtime.GOMAXPROCS(n)
	}
	hugeHeap, err := server.HeapHugePages(*heapHugePages)
	if err != nil {
		fmt.Fprintf(stderr, "sluice %s: %v\n", name, err)
		return 2
	}
	if *workers < 1 || *tick <= 0 || *maxConns < 1 || *maxActive < 0 {
		fmt.Fprintf(stderr, "sluice %s: --workers and --max-connections must be at least 1, --max-active-queries at least 0 and --tick positive\n", name)
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "sluice %s: --log-level %q: %v\n", name, *logLevel, err)
		return 2
	}
	hopts := &slog.HandlerOptions{Level: level}
	var logger *slog.Logger
	switch *logFormat {
	case "text":
		logger = slog.New(slog.NewTextHandler(stderr, hopts))
	case "json":
		logger = slog.New(slog.NewJSONHandler(stderr, hopts))
	default:
		fmt.Fprintf(stderr, "sluice %s: --log-format must be text or json, not %q\n", name, *logFormat)
		return 2
	}
	// Before storage opens: a restore grows the heap too.
	defer server.StartHeapHugePages(hugeHeap, logger)()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg := server.Config{PGAddr: *pgAddr, HTTPAddr: *httpAddr, DataDir: *dataDir, Logger: logger, Workers: *workers, Cores: cores, Tick: *tick, MaxConnections: *maxConns,
		MaxActiveQueries: *maxActive, CheckpointInterval: *checkpointInterval, Profiling: *pprofOn, MemoryLimit: int64(memoryLimit)}
	if *checkpointInterval <= 0 {
		cfg.CheckpointInterval = -1 // the server's 0 is its default
	}
	cfg.ResultCacheBytes = int64(resultCache)
	if resultCache == 0 {
		cfg.ResultCacheBytes = -1 // the server's 0 is its default
	}
	for _, b := range strings.Split(*kafkaBrokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			cfg.KafkaBrokers = append(cfg.KafkaBrokers, b)
		}
	}
	if len(cfg.KafkaBrokers) == 0 && *embeddedKafka != "off" {
		cfg.EmbeddedKafkaAddr = *embeddedKafka
	}
	password := os.Getenv("SLUICE_PASSWORD")
	authLine, err := auth.apply(&cfg, password, logger)
	if err != nil {
		fmt.Fprintf(stderr, "sluice %s: %v\n", name, err)
		return 2
	}
	stopProfile, err := cpuprofile.Start(*startupProfile)
	if err != nil {
		fmt.Fprintf(stderr, "sluice %s: --startup-cpu-profile: %v\n", name, err)
		return 1
	}
	srv, err := server.Start(ctx, cfg)
	if perr := stopProfile(); perr != nil {
		logger.Warn("startup CPU profile not written", "err", perr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "sluice %s: %v\n", name, err)
		return 1
	}
	if demo {
		if err := loadDemo(ctx, srv.PGAddr(), password, stdout); err != nil {
			fmt.Fprintf(stderr, "sluice demo: %v\n", err)
			_ = srv.Close()
			return 1
		}
	}
	host, port := splitHostPort(srv.PGAddr())
	fmt.Fprintf(stdout, "sluice %s listening on %s (HTTP %s, data %s)\n", engine.Version, srv.PGAddr(), srv.HTTPAddr(), *dataDir)
	fmt.Fprintf(stdout, "%s; connect with: psql -h %s -p %s -U sluice\n", authLine, host, port)
	if k := srv.KafkaAddr(); k != "" {
		fmt.Fprintf(stdout, "embedded Kafka broker on %s (e.g. kcat -b %s -t events -P)\n", k, k)
	}
	if demo {
		fmt.Fprintln(stdout, "streams clicks, orders and rides are generating events; try:")
		for _, q := range demoQueries {
			fmt.Fprintln(stdout, "  "+q)
		}
	}
	<-ctx.Done()
	stop()
	logger.Info("shutting down")
	if err := srv.Close(); err != nil {
		fmt.Fprintf(stderr, "sluice %s: shutdown: %v\n", name, err)
		return 1
	}
	return 0
}

func splitHostPort(addr string) (string, string) {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return addr, ""
	}
	return strings.Trim(addr[:i], "[]"), addr[i+1:]
}

// demoQueries are printed by sluice demo for the user to try.
var demoQueries = []string{
	"SELECT * FROM clicks_per_minute ORDER BY window_start DESC, events DESC LIMIT 8;",
	"SELECT tier, country, purchases, revenue FROM sales_by_segment ORDER BY revenue DESC NULLS LAST LIMIT 5;",
	"SELECT user_id, session_start, duration, events, page_views, conversions FROM user_sessions ORDER BY events DESC LIMIT 5;",
}

// loadDemo runs the example scripts (examples/*.sql, embedded): generated
// streams, the users table and views over them. The scripts are
// idempotent, so a demo started again on its data directory goes on where
// it stopped. It connects as user sluice with password (SLUICE_PASSWORD;
// empty under trust), over TLS when the server offers it.
func loadDemo(ctx context.Context, addr, password string, stdout io.Writer) error {
	u := url.URL{Scheme: "postgres", User: url.User(passwordUser), Host: addr, Path: "/sluice", RawQuery: "sslmode=prefer"}
	if password != "" {
		u.User = url.UserPassword(passwordUser, password)
	}
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	scripts, err := examples.Scripts()
	if err != nil {
		return err
	}
	for _, sc := range scripts {
		stmts, _, err := parser.Split(sc.SQL)
		if err != nil {
			return fmt.Errorf("examples/%s: %w", sc.Name, err)
		}
		// NB: one statement at a time; a multi-statement query is one
		// transaction, where CREATE MATERIALIZED VIEW cannot run.
		for _, st := range stmts {
			if _, err := conn.Exec(ctx, st.Text); err != nil {
				return fmt.Errorf("examples/%s: %w\n%s", sc.Name, err, st.Text)
			}
		}
		fmt.Fprintf(stdout, "demo: ran examples/%s (%d statements)\n", sc.Name, len(stmts))
	}
	return nil
}
