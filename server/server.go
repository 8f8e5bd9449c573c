package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sluice-db/sluice/engine"
	"github.com/sluice-db/sluice/pgwire"
	"github.com/sluice-db/sluice/storage"
)

// Config configures a server.
type Config struct {
	PGAddr   string // Postgres wire protocol listen address
	HTTPAddr string // HTTP listen address ("" disables HTTP)
	DataDir  string
	Logger   *slog.Logger
	// Workers is the number of workers per view dataflow (0: one per core).
	Workers int
	// Cores is how many cores the process runs on (0: GOMAXPROCS): while
	// queries are served, ingest runs on all but one (engine.WithCores).
	Cores int
	// Tick is the longest time between epochs (0: 100 ms).
	Tick time.Duration
	// CheckpointInterval is how often the views' state is checkpointed
	// under DataDir/checkpoints (0: engine.DefaultCheckpointInterval;
	// negative: never, and restarts compute the views again).
	CheckpointInterval time.Duration
	// MemoryLimit bounds the views' spilling operator state, evicted past
	// it to DataDir/spill (0: no limit; docs/memory.md).
	MemoryLimit int64
	// ChunkSize is how many rows a view's sources push at a time (0: the default).
	ChunkSize int
	// KafkaBrokers are the brokers kafka streams read by default. When
	// empty and EmbeddedKafkaAddr is set, an embedded broker listens there
	// (the command line's default is 127.0.0.1:9092) and is the default.
	KafkaBrokers      []string
	EmbeddedKafkaAddr string
	// Auth decides who may connect over the wire protocol (nil: trust).
	Auth pgwire.Authenticator
	// TLS, when set, is offered to wire-protocol clients; TLSRequired
	// refuses the ones that connect without it.
	TLS         *tls.Config
	TLSRequired bool
	// Superusers are the users configured outside the catalog (Auth's);
	// the catalog's roles are not superusers and may not take their names.
	Superusers []string
	// MaxConnections caps the wire-protocol connections open at once
	// (0: no cap); one more gets FATAL 53300.
	MaxConnections int
	// MaxActiveQueries bounds the statements running at once (0: no
	// bound); the others wait, parked, for a slot (pgwire.WithMaxActiveQueries).
	MaxActiveQueries int
	// ResultCacheBytes bounds the answers shared between sessions
	// (engine.WithResultCache); 0: engine.DefaultResultCacheBytes,
	// negative: off.
	ResultCacheBytes int64
	// Profiling serves Go's profiles (net/http/pprof) under /debug/pprof/
	// on HTTPAddr. NB: off by default, since the HTTP listener has no
	// authentication and a profile or trace costs the server CPU.
	Profiling bool
	// EngineOptions are added to the engine's options (tests).
	EngineOptions []engine.Option
}

// Server is a running Sluice node.
type Server struct {
	cfg     Config
	log     *slog.Logger
	db      *storage.DB
	eng     *engine.Engine
	pg      *pgwire.Server
	pgLn    net.Listener
	http    *http.Server
	httpLn  net.Listener
	reg     *prometheus.Registry
	kafka   *embeddedKafka
	wg      sync.WaitGroup
	closeMu sync.Mutex
	closed  bool
}

// Start opens the data directory and starts serving.
func Start(ctx context.Context, cfg Config) (_ *Server, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, log: cfg.Logger, reg: prometheus.NewRegistry()}
	defer func() {
		if err != nil {
			s.cleanup()
		}
	}()
	began := time.Now()
	if s.db, err = storage.Open(cfg.DataDir, storage.WithLogger(pebbleLogger{cfg.Logger})); err != nil {
		return nil, fmt.Errorf("--data-dir %s: %w", cfg.DataDir, err)
	}
	s.log.Info("storage opened", "elapsed", time.Since(began).Round(time.Millisecond))
	m := newMetrics(s.reg)
	eopts := []engine.Option{engine.WithLogger(cfg.Logger), engine.WithObserver(m), engine.WithSuperusers(cfg.Superusers...)}
	brokers := cfg.KafkaBrokers
	if len(brokers) == 0 && cfg.EmbeddedKafkaAddr != "" {
		began := time.Now()
		if s.kafka, err = startEmbeddedKafka(cfg.EmbeddedKafkaAddr, cfg.DataDir); err != nil {
			return nil, err
		}
		s.log.Info("embedded kafka broker started", "elapsed", time.Since(began).Round(time.Millisecond),
			"open_transactions_aborted", s.kafka.abortedAtStart,
			"commits_completed", s.kafka.commitsCompleted, "indexes_realigned", s.kafka.indexesRealigned)
		brokers = s.kafka.ListenAddrs()
	}
	eopts = append(eopts, engine.WithKafkaBrokers(brokers))
	if cfg.Workers > 0 {
		eopts = append(eopts, engine.WithWorkers(cfg.Workers))
	}
	if cfg.Cores > 0 {
		eopts = append(eopts, engine.WithCores(cfg.Cores))
	}
	if cfg.Tick > 0 {
		eopts = append(eopts, engine.WithTick(cfg.Tick))
	}
	if cfg.CheckpointInterval == 0 {
		cfg.CheckpointInterval = engine.DefaultCheckpointInterval
	}
	eopts = append(eopts, engine.WithCheckpoints(filepath.Join(cfg.DataDir, "checkpoints"), cfg.CheckpointInterval))
	if cfg.MemoryLimit > 0 {
		eopts = append(eopts, engine.WithMemoryLimit(cfg.MemoryLimit, filepath.Join(cfg.DataDir, "spill")))
	}
	if cfg.ChunkSize > 0 {
		eopts = append(eopts, engine.WithChunkSize(cfg.ChunkSize))
	}
	if cfg.ResultCacheBytes != 0 {
		eopts = append(eopts, engine.WithResultCache(max(cfg.ResultCacheBytes, 0)))
	}
	if s.eng, err = engine.New(s.db, append(eopts, cfg.EngineOptions...)...); err != nil {
		return nil, err
	}
	m.registerStorage(s.reg, s.eng)
	s.reg.MustRegister(newSourceCollector(s.eng))
	s.reg.MustRegister(newIngestCollector(s.eng))
	s.reg.MustRegister(newWatermarkCollector(s.eng))
	s.reg.MustRegister(newResultCacheCollector(s.eng))
	var lc net.ListenConfig
	if s.pgLn, err = lc.Listen(ctx, "tcp", cfg.PGAddr); err != nil {
		return nil, listenError("--pg-addr", cfg.PGAddr, err)
	}
	if cfg.HTTPAddr != "" {
		if s.httpLn, err = lc.Listen(ctx, "tcp", cfg.HTTPAddr); err != nil {
			return nil, listenError("--http-addr", cfg.HTTPAddr, err)
		}
	}
	popts := []pgwire.Option{pgwire.WithLogger(cfg.Logger), pgwire.WithTLS(cfg.TLS), pgwire.WithTLSRequired(cfg.TLSRequired),
		pgwire.WithMaxConnections(cfg.MaxConnections), pgwire.WithMaxActiveQueries(cfg.MaxActiveQueries)}
	switch auth := cfg.Auth.(type) {
	case *pgwire.SCRAM:
		// Roles made with CREATE ROLE log in with their passwords too.
		popts = append(popts, pgwire.WithAuthenticator(auth.AlsoLookup(s.eng.RoleVerifier)))
	case nil:
	default:
		popts = append(popts, pgwire.WithAuthenticator(auth))
	}
	s.pg = pgwire.NewServer(s.eng, popts...)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.pg.Serve(s.pgLn); err != nil && !errors.Is(err, pgwire.ErrServerClosed) {
			s.log.Error("pgwire server stopped", "err", err)
		}
	}()
	if s.httpLn != nil {
		mux := http.NewServeMux()
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = w.Write([]byte("ok\n"))
		})
		mux.Handle("/metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg}))
		if cfg.Profiling {
			handleProfiling(mux)
		}
		mux.HandleFunc("POST /api/streams/{name}", s.handlePush)
		streams := newSubscriptionStreams(s.eng)
		mux.Handle("GET /api/subscribe/{view}", streams)
		s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		s.http.RegisterOnShutdown(streams.stop)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.http.Serve(s.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("http server stopped", "err", err)
			}
		}()
	}
	s.log.Info("sluice serving", "pg_addr", s.PGAddr(), "http_addr", s.HTTPAddr(), "data_dir", cfg.DataDir, "kafka_brokers", brokers)
	return s, nil
}

func listenError(flag, addr string, err error) error {
	msg := err.Error()
	if strings.Contains(msg, "address already in use") {
		msg = "address already in use"
	}
	return fmt.Errorf("%s %s: %s", flag, addr, msg)
}

// PGAddr returns the address the wire protocol listens on.
func (s *Server) PGAddr() string {
	if s.pgLn == nil {
		return ""
	}
	return s.pgLn.Addr().String()
}

// HTTPAddr returns the HTTP address ("" when disabled).
func (s *Server) HTTPAddr() string {
	if s.httpLn == nil {
		return ""
	}
	return s.httpLn.Addr().String()
}

// KafkaAddr returns the embedded broker's address ("" when none runs).
func (s *Server) KafkaAddr() string {
	if s.kafka == nil {
		return ""
	}
	return s.kafka.ListenAddrs()[0]
}

// Engine returns the server's engine.
func (s *Server) Engine() *engine.Engine { return s.eng }

// Close shuts down gracefully: connections get an admin-shutdown error, then
// HTTP stops, then the engine and storage close.
func (s *Server) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var errs []error
	if s.pg != nil {
		if err := s.pg.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if s.http != nil {
		if err := s.http.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	s.wg.Wait()
	errs = append(errs, s.cleanup())
	return errors.Join(errs...)
}

// cleanup releases what Start opened.
func (s *Server) cleanup() error {
	var errs []error
	if s.pg == nil && s.pgLn != nil {
		_ = s.pgLn.Close()
	}
	if s.http == nil && s.httpLn != nil {
		_ = s.httpLn.Close()
	}
	if s.eng != nil {
		errs = append(errs, s.eng.Close())
		s.eng = nil
	}
	if s.db != nil {
		errs = append(errs, s.db.Close())
		s.db = nil
	}
	if s.kafka != nil {
		errs = append(errs, s.kafka.Close())
		s.kafka = nil
	}
	return errors.Join(errs...)
}

// metrics implements engine.Observer with Prometheus collectors.
type metrics struct {
	sessions prometheus.Gauge
	queries  *prometheus.CounterVec
	errors   *prometheus.CounterVec
	duration prometheus.Histogram
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		sessions: prometheus.NewGauge(prometheus.GaugeOpts{Name: "sluice_sessions", Help: "Open client sessions."}),
		queries:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_queries_total", Help: "Statements executed, by command tag."}, []string{"tag"}),
		errors:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_query_errors_total", Help: "Statements that failed, by SQLSTATE class."}, []string{"class"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "sluice_query_duration_seconds", Help: "Statement execution time.", Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10)}),
	}
	reg.MustRegister(m.sessions, m.queries, m.errors, m.duration,
		goCollector(), newSchedLatency(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) registerStorage(reg *prometheus.Registry, e *engine.Engine) {
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sluice_storage_tables", Help: "Tables in the catalog."},
		func() float64 { return float64(len(e.Catalog().Tables())) }))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sluice_storage_rows", Help: "Live rows in all tables."},
		func() float64 { return float64(e.TableRows()) }))
}

func (m *metrics) SessionOpened() { m.sessions.Inc() }
func (m *metrics) SessionClosed() { m.sessions.Dec() }

func (m *metrics) StatementDone(tag, sqlstate string, d time.Duration) {
	m.queries.WithLabelValues(tag).Inc()
	if sqlstate != "" {
		class := sqlstate
		if len(class) > 2 {
			class = class[:2]
		}
		m.errors.WithLabelValues(class).Inc()
	}
	m.duration.Observe(d.Seconds())
}

// pebbleLogger sends Pebble's log lines to slog (informational ones at debug).
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug(fmt.Sprintf(format, args...), "component", "pebble")
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
}

func (p pebbleLogger) Fatalf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
	os.Exit(1)
}
