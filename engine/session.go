package engine

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-db/sluice/catalog"
	"github.com/sluice-db/sluice/exec"
	"github.com/sluice-db/sluice/pgwire"
	"github.com/sluice-db/sluice/planner"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/storage"
	"github.com/sluice-db/sluice/types"
)

// session is one connection's SQL state.
type session struct {
	e        *Engine
	user     string
	database string
	pid      int32
	vals     map[string]string // lower-case name -> value (only those set)
	// seqValues are the last values nextval returned in the session, by
	// sequence (currval), and lastSeq the sequence of the last (lastval).
	seqValues map[uint32]int64
	lastSeq   uint32
	cfg       *types.Config
	// settings is s.get as a func, made once: a method value taken per
	// statement was one of a point lookup's allocations.
	settings func(name string) (string, bool)
	// planEnv is what planning reads of the session besides the catalog,
	// as one string: the settings constants are folded with (TimeZone,
	// DateStyle, IntervalStyle, extra_float_digits), and the user,
	// database and search_path names resolve by ('t'::regclass). Sessions
	// with the same planEnv share plans (planCache).
	planEnv string
	closed  bool
	// openedAsRole is set when user was a role of the catalog when the
	// session opened: dropping the role does not make it a superuser.
	openedAsRole bool

	// tx is the open transaction block (nil outside BEGIN … COMMIT).
	tx *txnState
	// failed marks a transaction block in which a statement failed.
	failed bool
	// saved holds the settings at BEGIN, restored by ROLLBACK.
	saved map[string]string
	// implicit marks tx as the implicit transaction of a multi-statement
	// simple query: it commits after the last statement and rolls back on
	// the first error, as Postgres does.
	implicit bool
	// local holds the values SET LOCAL replaced, restored when tx ends.
	local map[string]string
	// savepoints are the open savepoints of tx, oldest first.
	savepoints []savepoint
	// cursors are the open SUBSCRIBE cursors, by name; they close with tx.
	cursors map[string]*subscribeRun
	// queries are the open query cursors, by name; those without hold close
	// with tx.
	queries map[string]*queryCursor
	// recent are the planned statements of the latest plain SELECT
	// query strings.
	recent recentStatements

	// started and query are pg_stat_activity's backend_start and query.
	started time.Time
	query   string
	// names is the snapshot regclass and friends resolve names in, valid
	// for catalog version namesVer and search path namesPath.
	names     *catalog.Snapshot
	namesVer  uint64
	namesPath string

	// xactLocks counts the transaction-level advisory locks taken since the
	// transaction began; they are released when it ends.
	xactLocks int
	// notices are the warnings functions raised in the running statement,
	// sent before its next rows.
	notices []notice
	// running is the transaction of the query being run (pg_notify's).
	running *txnState
	// inbox holds the notifications of the channels the session listens
	// on until pgwire sends them.
	inbox inbox
}

// notice is a NoticeResponse waiting to be sent.
type notice struct{ severity, code, message string }

// warn queues a WARNING for the client.
func (s *session) warn(code, message string) {
	s.notices = append(s.notices, notice{"WARNING", code, message})
}

// sendNotices sends the queued notices to w.
func (s *session) sendNotices(w pgwire.ResultWriter) error {
	for len(s.notices) > 0 {
		n := s.notices[0]
		s.notices = s.notices[1:]
		if err := w.Notice(n.severity, n.code, n.message); err != nil {
			return err
		}
	}
	return nil
}

// savepoint is the state of a transaction block at SAVEPOINT.
type savepoint struct {
	name      string
	sp        *storage.Savepoint
	created   map[uint32]*createdTable
	dropped   map[uint32]*catalog.Table
	roles     map[string]stagedRole
	sequences map[string]*catalog.Sequence
	dropSeqs  map[string]*catalog.Sequence
	views     []*pendingView // the txnState.views at the savepoint
	comments  int            // len(txnState.comments) at the savepoint
	notifies  int            // len(txnState.notifies) at the savepoint
	vals      map[string]string
	// afterCommit is how many after-commit actions the transaction had:
	// those of statements rolled back are dropped.
	afterCommit int
}

// txnState is a storage transaction plus the DDL it has done, which is
// published to the catalog only when it commits.
type txnState struct {
	txn     *storage.Txn
	start   time.Time
	created map[uint32]*createdTable
	dropped map[uint32]*catalog.Table
	// roles are the role changes, by name, published when it commits.
	roles map[string]stagedRole
	// sequences are the sequences it created and droppedSeqs the
	// committed ones it dropped, by name, published when it commits.
	sequences, droppedSeqs map[string]*catalog.Sequence
	// views are the materialized views it created, started and published
	// in order once it commits.
	views []*pendingView
	// comments are its COMMENTs on committed relations, in order.
	comments []commentEdit
	// ranQuery is set once a query ran in the transaction (SET TRANSACTION
	// must come before).
	ranQuery bool
	// isolation is the transaction's isolation level: the session's
	// default_transaction_isolation when it began, unless BEGIN or SET
	// TRANSACTION chose another.
	isolation string
	// afterCommit runs once the transaction has committed (dropping the
	// views that depended on dropped relations; LISTEN, UNLISTEN).
	afterCommit []func() error
	// notifies are its NOTIFYs, distinct, sent when it commits as from the
	// session with notifyPID.
	notifies  []notification
	notifyPID int32
}

// stageDrop drops committed relation t in the transaction: its record is
// deleted with the transaction's writes, and the catalog forgets it when
// the transaction commits.
func (ts *txnState) stageDrop(t *catalog.Table) {
	if ts.dropped == nil {
		ts.dropped = map[uint32]*catalog.Table{}
	}
	ts.dropped[t.ID] = t
	ts.txn.DeleteMeta(catalog.MetaKey(t.ID))
}

type createdTable struct {
	desc *catalog.Table
	tbl  *storage.Table
}

// backendPID is the pid pgwire reported in BackendKeyData, so
// pg_backend_pid() agrees with it; sessions opened otherwise get a counter.
func backendPID(e *Engine, params map[string]string) int32 {
	if v, err := strconv.ParseInt(params[pgwire.BackendPIDParam], 10, 32); err == nil {
		return int32(v)
	}
	return e.nextPID.Add(1)
}

func newSession(e *Engine, params map[string]string) *session {
	s := &session{
		e:        e,
		user:     params["user"],
		database: params["database"],
		pid:      backendPID(e, params),
		vals:     map[string]string{},
		cfg:      types.DefaultConfig(),
		recent:   recentStatements{max: sessionStatements},
		started:  time.Now(),
	}
	if s.database == "" {
		s.database = s.user
	}
	s.settings = s.get
	s.applyConfig()
	return s
}

func lower(s string) string { return strings.ToLower(s) }

// get returns a setting's current value.
func (s *session) get(name string) (string, bool) {
	k := lower(name)
	if k == "transaction_isolation" {
		if s.tx != nil {
			return s.tx.isolation, true
		}
		// NB: outside a block each statement is a transaction of its own,
		// begun with the default.
		return s.get("default_transaction_isolation")
	}
	if v, ok := s.vals[k]; ok {
		return v, true
	}
	if st, ok := settingsByName[k]; ok {
		return st.def(s), true
	}
	return "", false
}

// set changes a setting; w (may be nil) receives ParameterStatus.
func (s *session) set(name, v string, w pgwire.ResultWriter) error {
	k := lower(name)
	st, known := settingsByName[k]
	if !known {
		if !strings.Contains(k, ".") {
			return sqlerr.New(sqlerr.UndefinedObject, "unrecognized configuration parameter \"%s\"", name)
		}
		s.vals[k] = v
		return nil
	}
	if st.readOnly {
		if k == "session_authorization" && v == s.user {
			return nil
		}
		return sqlerr.New("55P02", "parameter \"%s\" cannot be changed", st.name)
	}
	if st.check != nil {
		nv, err := st.check(s, v)
		if err != nil {
			return err
		}
		v = nv
	}
	if k == "transaction_isolation" {
		return s.setIsolation(v)
	}
	old, _ := s.get(k)
	s.vals[k] = v
	s.applyConfig()
	if st.report && w != nil && old != v {
		return w.ParameterStatus(st.name, v)
	}
	return nil
}

// reset restores a setting's default.
func (s *session) reset(name string, w pgwire.ResultWriter) error {
	k := lower(name)
	st, known := settingsByName[k]
	if !known {
		if _, ok := s.vals[k]; ok || strings.Contains(k, ".") {
			delete(s.vals, k)
			return nil
		}
		return sqlerr.New(sqlerr.UndefinedObject, "unrecognized configuration parameter \"%s\"", name)
	}
	if st.readOnly {
		return sqlerr.New("55P02", "parameter \"%s\" cannot be changed", st.name)
	}
	old, _ := s.get(k)
	delete(s.vals, k)
	s.applyConfig()
	if nv := st.def(s); st.report && w != nil && nv != old {
		return w.ParameterStatus(st.name, nv)
	}
	return nil
}

// restore replaces all settings with saved, reporting changes.
func (s *session) restore(saved map[string]string, w pgwire.ResultWriter) {
	before := map[string]string{}
	for _, st := range settingList {
		if st.report {
			before[st.name], _ = s.get(st.name)
		}
	}
	s.vals = saved
	s.applyConfig()
	for _, st := range settingList {
		if now, _ := s.get(st.name); st.report && w != nil && now != before[st.name] {
			_ = w.ParameterStatus(st.name, now)
		}
	}
}

func copyVals(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// applyConfig rebuilds the format config from the settings.
func (s *session) applyConfig() {
	cfg := types.DefaultConfig()
	tz, _ := s.get("timezone")
	if loc, ok := resolveZone(tz); ok {
		cfg.Location = loc
	}
	efd, _ := s.get("extra_float_digits")
	cfg.ExtraFloatDigits = atoiDefault(efd, 1)
	ds, _ := s.get("datestyle")
	cfg.DateStyle, _ = types.ParseDateStyle(ds, types.DateStyle{})
	is, _ := s.get("intervalstyle")
	cfg.IntervalStyle, _ = types.ParseIntervalStyle(is)
	cfg.Names = sessionNames{s}
	s.cfg = cfg
	sp, _ := s.get("search_path")
	s.planEnv = strings.Join([]string{tz, efd, ds, is, s.user, s.database, sp}, "\x00")
}

// applyOptions reads the startup "options" parameter: -c name=value and
// --name=value pairs.
func (s *session) applyOptions(opts string) error {
	f := strings.Fields(opts)
	for i := 0; i < len(f); i++ {
		a := f[i]
		switch {
		case a == "-c" && i+1 < len(f):
			i++
			a = f[i]
		case strings.HasPrefix(a, "-c"):
			a = a[2:]
		case strings.HasPrefix(a, "--"):
			a = a[2:]
		default:
			continue
		}
		name, v, ok := strings.Cut(a, "=")
		if !ok {
			continue
		}
		if err := s.set(strings.ReplaceAll(name, "-", "_"), v, nil); err != nil {
			return err
		}
	}
	return nil
}

func atoiDefault(s string, d int) int {
	n := 0
	neg := false
	if strings.HasPrefix(s, "-") {
		neg, s = true, s[1:]
	}
	if s == "" {
		return d
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return d
		}
		n = n*10 + int(c-'0')
	}
	if neg {
		return -n
	}
	return n
}

// Parameters implements pgwire.Session.
func (s *session) Parameters() map[string]string {
	out := map[string]string{}
	for _, st := range settingList {
		if st.report {
			out[st.name], _ = s.get(st.name)
		}
	}
	return out
}

// TxStatus implements pgwire.Session.
func (s *session) TxStatus() byte {
	switch {
	case s.tx == nil:
		return 'I'
	case s.failed:
		return 'E'
	}
	return 'T'
}

// FormatConfig implements pgwire.Session.
func (s *session) FormatConfig() *types.Config { return s.cfg }

// Abort implements pgwire.Session.
func (s *session) Abort(error) {
	if s.tx != nil {
		s.failed = true
	}
}

// Close implements pgwire.Session.
func (s *session) Close() {
	if s.closed {
		return
	}
	s.closed = true
	s.closeCursors()
	s.closeQueryCursors(true)
	if s.tx != nil {
		s.tx.txn.Rollback()
		s.tx = nil
	}
	s.e.locks.releaseAll(s, sessionScope, xactScope)
	s.e.listeners.unlisten(s, "")
	s.e.sessions.Add(-1)
	if s.e.obs != nil {
		s.e.obs.SessionClosed()
	}
}

// Settings hooks for expressions.

// searchPath returns the session's schema search path.
func (s *session) searchPath() []string {
	v, _ := s.get("search_path")
	return searchPath(v, s.user)
}

func (s *session) planOpts(params []*types.T) planner.Options {
	return planner.Options{ParamTypes: params, SearchPath: s.searchPath(), Cfg: s.cfg}
}

// planner returns a planner whose catalog includes this session's
// uncommitted DDL.
func (s *session) planner() *planner.Planner {
	if !s.tx.stagesDDL() {
		return s.e.planner
	}
	return &planner.Planner{Cat: txnCatalog{s.e.cat, s.tx}, Reg: s.e.reg}
}

// txnCatalog overlays a transaction's creates and drops on the catalog.
type txnCatalog struct {
	base *catalog.Catalog
	tx   *txnState
}

// ByID finds a relation by id as the transaction sees it.
func (c txnCatalog) ByID(id uint32) (*catalog.Table, bool) {
	if ct, ok := c.tx.created[id]; ok {
		return ct.desc, true
	}
	if v := c.tx.pendingView(id); v != nil {
		return v.desc, true
	}
	if c.tx.dropped[id] != nil {
		return nil, false
	}
	t, ok := c.base.ByID(id)
	if ok {
		t = c.tx.commented(t)
	}
	return t, ok
}

// Tables lists the relations the transaction sees.
func (c txnCatalog) Tables() []*catalog.Table {
	var out []*catalog.Table
	for _, t := range c.base.Tables() {
		if c.tx.dropped[t.ID] == nil {
			out = append(out, c.tx.commented(t))
		}
	}
	for _, ct := range c.tx.created {
		out = append(out, ct.desc)
	}
	for _, v := range c.tx.views {
		out = append(out, v.desc)
	}
	return out
}

// Lookup finds a relation by name as the transaction sees it: the
// materialized views it creates at COMMIT included, so that its later
// statements can build on them.
func (c txnCatalog) Lookup(schema, name string) (*catalog.Table, bool) {
	for _, ct := range c.tx.created {
		if ct.desc.Schema == schema && ct.desc.Name == name {
			return ct.desc, true
		}
	}
	for _, v := range c.tx.views {
		if v.desc.Schema == schema && v.desc.Name == name {
			return v.desc, true
		}
	}
	t, ok := c.base.Lookup(schema, name)
	if !ok || c.tx.dropped[t.ID] != nil {
		return nil, false
	}
	return c.tx.commented(t), true
}

// lookupTable finds a table as the session sees it.
func (s *session) lookupTable(schema, name string) (*catalog.Table, bool) {
	if s.tx != nil {
		return txnCatalog{s.e.cat, s.tx}.Lookup(schema, name)
	}
	return s.e.cat.Lookup(schema, name)
}

// nameTaken reports whether a relation (table, stream, view) or a
// sequence is named schema.name as the session sees the catalog: they
// share one namespace per schema, as in Postgres' pg_class.
func (s *session) nameTaken(schema, name string) bool {
	return s.e.committedNameTaken(s.tx, schema, name) || s.tx.stagesName(schema, name)
}

// committedNameTaken reports whether a committed relation or sequence that
// ts (nil: no block) did not drop is named schema.name: what a COMMIT of
// ts's creations must check again under ddlMu, since other sessions may
// have committed since.
func (e *Engine) committedNameTaken(ts *txnState, schema, name string) bool {
	if t, ok := e.cat.Lookup(schema, name); ok && (ts == nil || ts.dropped[t.ID] == nil) {
		return true
	}
	if schema != "public" { // sequences live in public
		return false
	}
	q, ok := e.cat.Sequence(name)
	return ok && (ts == nil || ts.droppedSeqs[name] == nil || ts.droppedSeqs[name].OID != q.OID)
}

// stagesName reports whether ts (nil: no block) created a table, stream,
// view or sequence named schema.name.
func (ts *txnState) stagesName(schema, name string) bool {
	if ts == nil {
		return false
	}
	for _, ct := range ts.created {
		if ct.desc.Schema == schema && ct.desc.Name == name {
			return true
		}
	}
	for _, v := range ts.views {
		if v.desc.Schema == schema && v.desc.Name == name {
			return true
		}
	}
	return schema == "public" && ts.sequences[name] != nil
}

// stagesDDL reports whether ts (nil: no block) has relations or sequences
// that only it sees: then its catalog view and plans are its own.
func (ts *txnState) stagesDDL() bool {
	return ts != nil && len(ts.created)+len(ts.dropped)+len(ts.sequences)+len(ts.droppedSeqs)+len(ts.views)+len(ts.comments) > 0
}

// pendingView is the materialized view ts (nil: no block) creates at
// COMMIT with id, or nil.
func (ts *txnState) pendingView(id uint32) *pendingView {
	if i := ts.pendingIndex(id); i >= 0 {
		return ts.views[i]
	}
	return nil
}

// pendingIndex is the index in ts.views of the view with id, or -1.
func (ts *txnState) pendingIndex(id uint32) int {
	if ts == nil {
		return -1
	}
	return slices.IndexFunc(ts.views, func(v *pendingView) bool { return v.desc.ID == id })
}

// unstageView forgets the materialized view with id that ts was to create
// at COMMIT (a DROP of it in the block).
func (ts *txnState) unstageView(id uint32) {
	ts.views = slices.DeleteFunc(ts.views, func(v *pendingView) bool { return v.desc.ID == id })
}

// begin starts a storage transaction.
func (s *session) beginTxn() *txnState {
	level, _ := s.get("default_transaction_isolation")
	return &txnState{txn: s.e.db.Begin(), start: time.Now(), isolation: level}
}

// commit commits ts, publishing its DDL.
func (e *Engine) commit(ts *txnState) error {
	if err := e.commitTxn(ts); err != nil {
		return err
	}
	var firstErr error
	for _, t := range ts.dropped {
		if t.Kind == catalog.KindMaterializedView {
			if err := e.views.drop(context.Background(), t.ID); err != nil && firstErr == nil {
				firstErr = err
			}
		}
	}
	for _, v := range ts.views {
		// NB: commitTxn checked the views' names and relations, but DDL of
		// another session may come between: then the COMMIT fails after
		// the rest of the block committed.
		if err := e.createView(context.Background(), v); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	// The block committed: its after-commit actions run whatever became of
	// its views.
	for _, fn := range ts.afterCommit {
		if err := fn(); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	// After the block's LISTENs, so that its session hears its own NOTIFYs.
	e.listeners.deliver(ts.notifyPID, ts.notifies)
	return firstErr
}

func (e *Engine) commitTxn(ts *txnState) error {
	if len(ts.created) == 0 && len(ts.dropped) == 0 && len(ts.roles) == 0 && len(ts.sequences)+len(ts.droppedSeqs)+len(ts.views)+len(ts.comments) == 0 {
		return e.commitWithWatermarks(ts, nil)
	}
	e.ddlMu.Lock()
	defer e.ddlMu.Unlock()
	if err := e.checkStagedRoles(ts.roles); err != nil {
		ts.txn.Rollback()
		return err
	}
	if err := e.checkStagedSequences(ts); err != nil {
		ts.txn.Rollback()
		return err
	}
	if err := e.checkPendingViews(ts); err != nil {
		ts.txn.Rollback()
		return err
	}
	for _, ct := range ts.created {
		if e.committedNameTaken(ts, ct.desc.Schema, ct.desc.Name) {
			ts.txn.Rollback()
			return errDuplicateTable(ct.desc.Name)
		}
	}
	for id, t := range ts.dropped {
		if _, ok := e.cat.ByID(id); !ok {
			ts.txn.Rollback()
			return errUndefinedTable(t.Name)
		}
	}
	commented, err := e.stageComments(ts)
	if err != nil {
		ts.txn.Rollback()
		return err
	}
	// A dropped stream's source stops before the drop commits, so that no
	// delivery writes offsets after their deletion.
	var stopped []*catalog.Table
	for id, t := range ts.dropped {
		if hasSource(t) {
			e.sources.stop(id)
			stopped = append(stopped, t)
		}
	}
	for _, t := range stopped {
		offsets, err := e.db.MetaWithPrefix(sourceOffsetPrefix(t.ID))
		if err != nil {
			ts.txn.Rollback()
			e.restartSources(stopped)
			return err
		}
		for k := range offsets {
			ts.txn.DeleteMeta(k)
		}
	}
	e.sequences.fence(ts.droppedSeqs, true)
	if err := e.commitWithWatermarks(ts, nil); err != nil {
		e.sequences.fence(ts.droppedSeqs, false)
		e.restartSources(stopped)
		return err
	}
	for id := range ts.dropped {
		e.identities.forget(id)
		e.cat.Remove(id)
		e.eventTimes.forget(id)
		e.damaged.forget(id)
	}
	for _, ct := range ts.created {
		e.cat.Publish(ct.desc)
	}
	for _, t := range commented {
		e.cat.Publish(t)
	}
	e.publishRoles(ts.roles)
	e.publishSequences(ts)
	e.catVersion.Add(1)
	for _, ct := range ts.created {
		if hasSource(ct.desc) {
			if err := e.sources.start(ct.desc, storedPositions{}, true); err != nil {
				e.log.Error("engine: stream source did not start", "stream", ct.desc.Name, "err", err)
			}
		}
	}
	return nil
}

// restartSources starts again, from their stored positions, the sources a
// failed DROP or an ALTER STREAM stopped.
func (e *Engine) restartSources(streams []*catalog.Table) {
	if len(streams) == 0 {
		return
	}
	meta, err := e.db.Meta()
	if err != nil {
		e.log.Error("engine: stream sources not restarted: reading their positions", "err", err)
		return
	}
	e.startStoredSources(streams, meta)
}

// tableResolver resolves plan table references within ts.
type tableResolver struct {
	s   *session
	ts  *txnState
	cat *catalog.Snapshot
	// views are the views published when the statement first read one.
	views *publishedViews
	// viewsRead are the views the statement read, and readOther whether it
	// read anything else (a table, a catalog): only an answer read from
	// views alone is the same for every run at one publication
	// (resultCache).
	viewsRead []uint32
	readOther bool
}

// resolve resolves one table reference.
func (r *tableResolver) resolve(ref *exec.TableRef) (exec.TableAccess, error) {
	s, ts, cat := r.s, r.ts, r.cat
	if ref.System {
		r.readOther = true
		return systemAccess(cat, ref)
	}
	if err := s.checkSelect(ref.ID); err != nil {
		return nil, err
	}
	if ct, ok := ts.created[ref.ID]; ok {
		r.readOther = true
		return &tableAccess{txn: ts.txn, t: ct.tbl}, nil
	}
	if ts.dropped[ref.ID] != nil {
		return nil, errUndefinedRelation(ref.Name)
	}
	if ts.pendingView(ref.ID) != nil {
		return nil, sqlerr.Unsupported("reading materialized view \"%s\" in the transaction block that creates it", ref.Name).
			WithDetail("A materialized view is computed when its transaction block commits.").
			WithHint("Read it after COMMIT.")
	}
	t, ok := s.e.db.Table(ref.ID)
	if ok {
		r.readOther = true
		return &tableAccess{txn: ts.txn, t: t}, nil
	}
	if err := s.e.damaged.err(ref.ID); err != nil {
		return nil, err
	}
	// A view: every view a statement reads is read at one epoch, in
	// the snapshots published with it.
	if r.views == nil {
		r.views = s.e.views.published.Load()
	}
	v, ok := r.views.views[ref.ID]
	switch {
	case !ok:
		return nil, errUndefinedRelation(ref.Name)
	case v.failed != nil:
		return nil, errViewFailed(v.name, v.failed)
	}
	r.viewsRead = append(r.viewsRead, ref.ID)
	return &viewAccess{name: ref.Name, snap: v.snap}, nil
}

type sessionKey struct{}

func withSession(ctx context.Context, s *session) context.Context {
	return context.WithValue(ctx, sessionKey{}, s)
}

func sessionFrom(ctx context.Context) *session {
	if ctx == nil {
		return nil
	}
	s, _ := ctx.Value(sessionKey{}).(*session)
	return s
}
