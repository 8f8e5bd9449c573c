package engine

import (
	"context"
	"errors"
	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/dataflow"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-db/sluice/catalog"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/internal/sched"
	"github.com/sluice-db/sluice/parser"
	"github.com/sluice-db/sluice/pgwire"
	"github.com/sluice-db/sluice/planner"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/storage"
)

// Version is Sluice's version.
const Version = "0.1.0"

// VersionString is what version() returns.
var VersionString = "PostgreSQL 16.4 (Sluice " + Version + ") on " + archName() + "-pc-linux-gnu, compiled by Go"

func archName() string {
	switch runtime.GOARCH {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	}
	return runtime.GOARCH
}

// Observer receives events for metrics. Implementations must be safe for
// concurrent use.
type Observer interface {
	SessionOpened()
	SessionClosed()
	// StatementDone reports one statement: its tag verb ("SELECT", "INSERT",
	// ...), its SQLSTATE ("" on success) and how long it ran.
	StatementDone(tag, sqlstate string, d time.Duration)
}

// Engine is the SQL engine over one storage.DB. It implements pgwire.Backend.
type Engine struct {
	db      *storage.DB
	cat     *catalog.Catalog
	reg     *expr.Registry
	planner *planner.Planner
	parser  *parser.Parser
	trees   *treeCache
	plans   *planCache
	// regexes caches the patterns statements compile (the views' own
	// are the dataflows').
	regexes *expr.RegexCache
	log     *slog.Logger
	obs     Observer

	defaultTZ string
	workers   int
	chunkSize int
	tick      time.Duration
	// serialSteps: the views' loop steps every epoch, none beside a big
	// one's (WithSerialSteps).
	serialSteps bool
	// cores are the cores the process runs on (WithCores); gate bounds
	// the ingest goroutines (generators, the views' workers) to all but
	// one of them while queries are served (sched.Gate).
	cores int
	gate  *sched.Gate
	// checkpointDir and checkpointInterval configure the views'
	// checkpoints (WithCheckpoints); none without a directory.
	checkpointDir      string
	checkpointInterval time.Duration
	// memoryLimit and spillDir configure the budget of the views' state
	// (WithMemoryLimit); spill is its store, nil without a limit.
	memoryLimit int64
	spillDir    string
	spill       *storage.Spill
	views       *dataflows
	sources     *sources
	timings     *ingestTimings
	eventTimes  *eventTimes
	damaged     damagedRelations
	sinks       *sinks
	// kafkaBrokers are the brokers kafka streams and sinks use when they
	// name none.
	kafkaBrokers []string
	// sinkEndTimeout bounds a kafka sink's EndTxn; sinkStepHook, when set,
	// is called at each step of a sink's commit (WithSinkHook).
	sinkEndTimeout time.Duration
	sinkTxnRows    int
	sinkStepHook   func(ctx context.Context, sink string, step SinkStep) error
	// superusers are the users configured outside the catalog.
	superusers map[string]bool

	// ddlMu serialises commits that create or drop tables, and changes of
	// roles, with the catalog checks and publication around them.
	ddlMu      sync.Mutex
	catVersion atomic.Uint64
	nextPID    atomic.Int32
	locks      *advisoryLocks
	listeners  listeners
	identities *identities
	sequences  *sequences
	sessions   atomic.Int64
	started    time.Time

	// resultBytes bounds results, the answers shared between sessions
	// (nil when resultBytes is 0: off).
	resultBytes int64
	results     *resultCache

	// procsOnce builds procList, the registry's functions as pg_proc rows.
	procsOnce sync.Once
	procList  []catalog.Proc
}

// Option configures New.
type Option func(*Engine)

// WithLogger sets the engine's logger.
func WithLogger(l *slog.Logger) Option { return func(e *Engine) { e.log = l } }

// WithObserver reports sessions and statements to o (metrics).
func WithObserver(o Observer) Option { return func(e *Engine) { e.obs = o } }

// WithDefaultTimeZone sets the TimeZone of new sessions (default "UTC").
func WithDefaultTimeZone(tz string) Option { return func(e *Engine) { e.defaultTZ = tz } }

// WithWorkers sets how many workers run each view's dataflow (default: the
// number of cores).
func WithWorkers(n int) Option { return func(e *Engine) { e.workers = n } }

// WithCores sets how many cores the process runs on (default GOMAXPROCS,
// read when the engine starts): while queries are served, ingest runs on
// all but one of them. A server that runs more Ps than cores (sluice
// serve's --gomaxprocs) gives the cores here, so that the gate still
// leaves a core, not a P, to the queries.
func WithCores(n int) Option { return func(e *Engine) { e.cores = n } }

// WithChunkSize sets how many rows a view's sources push at a time
// (default coldata.DefaultChunkSize); tests vary it.
func WithChunkSize(n int) Option { return func(e *Engine) { e.chunkSize = n } }

// WithTick sets the longest time between epochs (default 100 ms); a commit
// to a relation a view reads also ends an epoch.
func WithTick(d time.Duration) Option { return func(e *Engine) { e.tick = d } }

// WithSerialSteps has the views' loop step every epoch itself: a small
// commit to other views then waits for a big epoch's step in progress
// instead of being stepped beside it (tests compare the two).
func WithSerialSteps() Option { return func(e *Engine) { e.serialSteps = true } }

// WithCheckpoints keeps checkpoints of the views' state in dir, taken every
// interval of the dataflows loop's time and at a clean shutdown, so that a
// restart restores the views instead of computing them again (see
// docs/recovery.md). An interval of 0 or less takes none, and uses none.
func WithCheckpoints(dir string, interval time.Duration) Option {
	return func(e *Engine) { e.checkpointDir, e.checkpointInterval = dir, interval }
}

// WithMemoryLimit bounds the state of the views' operators that spill to
// limit bytes in all, evicting the rest to a scratch store in spillDir,
// which is wiped at every start (see docs/memory.md). A limit of 0 or less
// bounds nothing.
func WithMemoryLimit(limit int64, spillDir string) Option {
	return func(e *Engine) { e.memoryLimit, e.spillDir = limit, spillDir }
}

// WithKafkaBrokers sets the brokers of kafka streams that name none (the
// embedded broker, or --kafka-brokers).
func WithKafkaBrokers(addrs []string) Option { return func(e *Engine) { e.kafkaBrokers = addrs } }

// WithSinkEndTimeout sets how long a kafka sink waits for EndTxn before it
// settles the transaction's outcome from the progress topic (default 10 s).
func WithSinkEndTimeout(d time.Duration) Option { return func(e *Engine) { e.sinkEndTimeout = d } }

// WithSinkTransactionRows sets about the most rows a sink writes in one
// transaction (default 65536); the rows of one key are never split.
func WithSinkTransactionRows(n int) Option { return func(e *Engine) { e.sinkTxnRows = max(n, 1) } }

// WithSinkHook calls hook at each step of a kafka sink's commit; an error
// ends the sink's attempt right there, as a crash would (for tests).
func WithSinkHook(hook func(ctx context.Context, sink string, step SinkStep) error) Option {
	return func(e *Engine) { e.sinkStepHook = hook }
}

// WithSuperusers names the users configured outside the catalog (a users
// file, SLUICE_PASSWORD): superusers, whose names CREATE ROLE refuses.
func WithSuperusers(names ...string) Option {
	return func(e *Engine) {
		for _, n := range names {
			e.superusers[n] = true
		}
	}
}

// WithResultCache bounds the answers of read-only statements over views
// kept to answer the same statement again until the next epoch is
// published (result_cache.go), in bytes; 0 turns sharing off. The default
// is DefaultResultCacheBytes.
func WithResultCache(bytes int64) Option { return func(e *Engine) { e.resultBytes = bytes } }

// WithParser replaces the statement parser (to add extensions).
func WithParser(p *parser.Parser) Option { return func(e *Engine) { e.parser = p } }

// New loads the catalog from db's meta records and opens every table.
func New(db *storage.DB, opts ...Option) (*Engine, error) {
	e := &Engine{db: db, log: slog.Default(), defaultTZ: "UTC", parser: parser.Default, started: time.Now(), superusers: map[string]bool{},
		locks: newAdvisoryLocks(), identities: newIdentities(db), sequences: newSequences(db), workers: runtime.NumCPU(), chunkSize: coldata.DefaultChunkSize,
		tick: 100 * time.Millisecond, resultBytes: DefaultResultCacheBytes, sinkEndTimeout: defaultSinkEndTimeout, sinkTxnRows: defaultSinkTxnRows, timings: newIngestTimings()}
	for _, o := range opts {
		o(e)
	}
	if _, ok := resolveZone(e.defaultTZ); !ok {
		return nil, invalidValue("TimeZone", e.defaultTZ)
	}
	meta, err := db.Meta()
	if err != nil {
		return nil, err
	}
	var tables []*catalog.Table
	var roles []*catalog.Role
	for k, v := range meta {
		if catalog.IsRoleMetaKey(k) {
			r, err := decodeRole(k, v)
			if err != nil {
				return nil, err
			}
			roles = append(roles, r)
			continue
		}
		if len(k) < len("catalog/") || k[:len("catalog/")] != "catalog/" {
			continue
		}
		t, err := catalog.DecodeTable(v)
		if err != nil {
			return nil, err
		}
		if catalog.MetaKey(t.ID) != k {
			return nil, sqlerr.New(sqlerr.DataCorrupted, "corrupt catalog record %q: holds table id %d", k, t.ID)
		}
		if t.Kind != catalog.KindMaterializedView {
			if _, err := db.OpenTable(tableInfo(t)); err != nil {
				if se, ok := sqlerr.As(err); !ok || se.Code != sqlerr.DataCorrupted {
					return nil, err
				}
				e.log.Error("engine: relation damaged, not opened", "relation", t.Name, "err", err)
				e.damaged.add(t, err)
			}
		}
		tables = append(tables, t)
	}
	e.trees = newTreeCache(treeCacheSize)
	e.plans = newPlanCache(planCacheSize)
	e.results = newResultCache(e.resultBytes)
	e.regexes = &expr.RegexCache{}
	if err := storePrunedGrants(db, pruneGrants(roles, tables)); err != nil {
		return nil, err
	}
	e.cat = catalog.New(tables, roles...)
	if err := e.loadSequences(meta); err != nil {
		return nil, err
	}
	if err := e.loadDatabaseNames(meta); err != nil {
		return nil, err
	}
	if err := e.loadSinks(meta); err != nil {
		return nil, err
	}
	e.reg = expr.NewRegistry()
	registerSessionFuncs(e.reg)
	registerAdvisoryLockFuncs(e.reg, e.locks)
	registerSequenceFuncs(e.reg)
	registerNotifyFuncs(e.reg)
	e.planner = &planner.Planner{Cat: e.cat, Reg: e.reg}
	e.nextPID.Store(int32(1000 + time.Now().UnixNano()%30000))
	if e.tick <= 0 {
		return nil, invalidValue("tick", e.tick.String())
	}
	var ckpt *checkpointer
	if e.checkpointDir != "" && e.checkpointInterval > 0 {
		ckpt = newCheckpointer(e.checkpointDir, e.checkpointInterval, e.log)
	}
	var budget *dataflow.Budget
	if e.memoryLimit > 0 {
		if e.spill, err = storage.OpenSpill(e.spillDir); err != nil {
			return nil, err
		}
		budget = dataflow.NewBudget(e.memoryLimit, func() dataflow.SpillSpace { return e.spill.Space() })
		e.log.Info("engine: memory limit set", "limit_bytes", e.memoryLimit, "spill_dir", e.spillDir)
	}
	if e.cores < 1 {
		e.cores = runtime.GOMAXPROCS(0)
	}
	e.gate = sched.NewGate(e.cores)
	e.views = newDataflows(db, e.log, e.workers, e.chunkSize, e.tick, ckpt, budget, e.gate, e.timings, !e.serialSteps)
	began := time.Now()
	e.startViews()
	if ckpt != nil {
		views := map[uint32]bool{}
		for _, t := range e.cat.Tables() {
			views[t.ID] = t.Kind == catalog.KindMaterializedView
		}
		ckpt.removeOrphans(views)
	}
	e.eventTimes = newEventTimes(e)
	e.sources = newSources(e)
	e.startSources(meta)
	e.sinks = newSinks(e)
	e.startSinks()
	e.log.Info("engine: catalog loaded", "tables", len(tables), "views_started_in", time.Since(began).Round(time.Millisecond))
	return e, nil
}

// Catalog returns the published catalog.
func (e *Engine) Catalog() *catalog.Catalog { return e.cat }

// Sessions returns the number of open sessions.
func (e *Engine) Sessions() int64 { return e.sessions.Load() }

// Close stops the views' dataflows. Sessions still open can no longer
// commit once the storage DB is closed.
func (e *Engine) Close() error {
	e.sinks.close()
	e.sources.close()
	e.eventTimes.close()
	e.views.close()
	err := e.sequences.flush(func(q *catalog.Sequence) bool {
		now, ok := e.cat.Sequence(q.Name)
		return ok && now.OID == q.OID
	})
	if e.spill != nil {
		err = errors.Join(err, e.spill.Close())
	}
	return err
}

// SyncViews waits until every change committed before the call is visible
// in the materialized views.
func (e *Engine) SyncViews(ctx context.Context) error { return e.views.sync(ctx) }

func tableInfo(t *catalog.Table) storage.TableInfo {
	return storage.TableInfo{ID: t.ID, Name: t.Name, ColNames: t.ColumnNames(), Types: t.Types(), PK: t.PK, AppendOnly: t.Kind == catalog.KindStream}
}

// Open implements pgwire.Backend.
func (e *Engine) Open(ctx context.Context, params map[string]string) (pgwire.Session, error) {
	if err := e.checkLogin(params["user"]); err != nil {
		return nil, err
	}
	s := newSession(e, params)
	_, s.openedAsRole = e.cat.Role(s.user)
	for name, v := range params {
		switch name {
		case "user", "database", "options", "replication", pgwire.BackendPIDParam:
			continue
		}
		if err := s.set(name, v, nil); err != nil {
			if _, ok := settingsByName[lower(name)]; !ok {
				continue // drivers send odd startup parameters; ignore unknown ones
			}
			return nil, err
		}
	}
	if opts := params["options"]; opts != "" {
		if err := s.applyOptions(opts); err != nil {
			return nil, err
		}
	}
	e.sessions.Add(1)
	if e.obs != nil {
		e.obs.SessionOpened()
	}
	return s, nil
}

var _ pgwire.Backend = (*Engine)(nil)

// TableRows returns the number of live rows in all tables (for metrics).
func (e *Engine) TableRows() int64 {
	var n int64
	for _, t := range e.cat.Tables() {
		if st, ok := e.db.Table(t.ID); ok {
			n += int64(st.Len())
		}
	}
	return n
}
