package engine

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/exec"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/parser"
	"github.com/sluice-db/sluice/pgwire"
	"github.com/sluice-db/sluice/planner"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// statement is a parsed statement of a session.
type statement struct {
	s    *session
	text string
	ast  *pg.Node
	// ext is an extension statement that has no Postgres AST (ast is nil).
	ext any
	// stream marks CREATE/DROP STREAM, which run as CREATE/DROP TABLE ASTs.
	stream bool
	// createStream is the parse of CREATE STREAM (its column paths).
	createStream *parser.CreateStream
	// onWindowClose: CREATE MATERIALIZED VIEW (or its EXPLAIN) ended with
	// EMIT ON WINDOW CLOSE.
	onWindowClose bool
	charOff       int // characters before the statement in its query string
	empty         bool
	// multi and last place the statement in a multi-statement simple query.
	multi, last bool

	// declared are the client's parameter types (nil entries: infer).
	declared []*types.T
	// planned is the plan of a query (or EXPLAIN/COPY query), made at Prepare
	// for the extended protocol and at Bind for simple queries.
	planned *planner.Planned
	planVer uint64
	// planCfg is the session's settings the plan was made with (a SET
	// replaces them, and the next Bind plans again).
	planCfg *types.Config
	cols    []pgwire.Column
	// shareSQL is the query string the plan is shared under in the
	// engine's plan cache ("": a statement whose plan is its own).
	shareSQL string
	// resultSQL is the query string its answers are shared under in the
	// engine's result cache ("": its answers are its own), set for one
	// plain SELECT naming no clock, by either protocol.
	resultSQL string
}

// Parse implements pgwire.Session.
func (s *session) Parse(ctx context.Context, sql string) ([]pgwire.Statement, error) {
	if st, ok := s.recent.get(sql); ok {
		return []pgwire.Statement{st}, nil
	}
	stmts, err := s.e.trees.parse(s.e.parser, sql)
	if err != nil {
		s.observe("OTHER", err, 0)
		return nil, err
	}
	out := make([]pgwire.Statement, 0, len(stmts))
	for i, ps := range stmts {
		st, err := s.newStatement(sql, ps)
		if err != nil {
			return nil, err
		}
		st.multi, st.last = len(stmts) > 1, i == len(stmts)-1
		out = append(out, st)
	}
	if cacheableQuery(sql, stmts) && !readsClock(sql) {
		st := out[0].(*statement)
		st.shareSQL, st.resultSQL = sql, sql
		if s.recent.admit(sql) {
			s.recent.put(sql, st)
		}
	}
	return out, nil
}

// Prepare implements pgwire.Session.
func (s *session) Prepare(ctx context.Context, sql string, paramTypes []uint32) (pgwire.Statement, error) {
	stmts, err := s.e.trees.parse(s.e.parser, sql)
	if err != nil {
		return nil, err
	}
	if len(stmts) == 0 {
		return &statement{s: s, empty: true}, nil
	}
	if len(stmts) > 1 {
		return nil, sqlerr.New(sqlerr.SyntaxError, "cannot insert multiple commands into a prepared statement")
	}
	st, err := s.newStatement(sql, stmts[0])
	if err != nil {
		return nil, err
	}
	if s.failed && !isTxnEnd(st.ast) {
		return nil, errInFailedTxn()
	}
	if cacheableQuery(sql, stmts) && !readsClock(sql) {
		st.resultSQL = sql
	}
	for _, oid := range paramTypes {
		if oid == 0 {
			st.declared = append(st.declared, nil)
			continue
		}
		t := types.ByOid(oid)
		if t == nil {
			return nil, sqlerr.New(sqlerr.UndefinedObject, "type with OID %d does not exist", oid)
		}
		st.declared = append(st.declared, t)
	}
	if err := st.prepare(); err != nil {
		return nil, err
	}
	if ex := st.ast.GetExecuteStmt(); ex != nil {
		// Describe shows the columns of the statement EXECUTE names now.
		target, err := executeTarget(ctx, ex)
		if err != nil {
			return nil, err
		}
		st.cols = target.Columns()
	}
	return st, nil
}

func (s *session) newStatement(sql string, ps parser.Statement) (*statement, error) {
	st := &statement{s: s, text: ps.Text, ast: ps.AST, charOff: ps.CharOffset(sql)}
	switch x := ps.Ext.(type) {
	case nil:
	case *parser.CreateStream:
		st.ast, st.stream, st.createStream = &pg.Node{Node: &pg.Node_CreateStmt{CreateStmt: x.Create}}, true, x
	case *parser.DropStream:
		st.ast, st.stream = &pg.Node{Node: &pg.Node_DropStmt{DropStmt: x.Drop}}, true
	case *parser.ViewEmit:
		st.ast, st.onWindowClose = x.AST, x.OnWindowClose
	default:
		st.ext = x
	}
	return st, nil
}

func firstWord(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	return strings.ToUpper(f[0])
}

// planTarget returns the query node a statement plans, if any.
func (st *statement) planTarget() *pg.Node {
	if st.ast == nil {
		return nil
	}
	switch n := st.ast.Node.(type) {
	case *pg.Node_SelectStmt, *pg.Node_InsertStmt, *pg.Node_UpdateStmt, *pg.Node_DeleteStmt:
		return st.ast
	case *pg.Node_ExplainStmt:
		if n.ExplainStmt.Query.GetCreateTableAsStmt() != nil {
			return nil // EXPLAIN CREATE MATERIALIZED VIEW plans a dataflow
		}
		if n.ExplainStmt.Query.GetExecuteStmt() != nil {
			return nil // EXPLAIN EXECUTE shows the prepared statement's plan
		}
		return n.ExplainStmt.Query
	case *pg.Node_CopyStmt:
		return n.CopyStmt.Query
	case *pg.Node_DeclareCursorStmt:
		return n.DeclareCursorStmt.Query
	}
	return nil
}

// prepare plans the statement (if it is a query) and fixes its columns.
func (st *statement) prepare() error {
	if q := st.planTarget(); q != nil {
		if err := st.plan(q); err != nil {
			return err
		}
	}
	st.cols = st.staticColumns()
	return nil
}

func (st *statement) plan(q *pg.Node) error {
	s := st.s
	ver := s.e.catVersion.Load()
	p, err := s.planner().PlanQuery(q, s.planOpts(st.declared))
	if err != nil {
		return st.positioned(err)
	}
	st.planned, st.planVer, st.planCfg = p, ver, s.cfg
	return nil
}

// positioned moves a planner error position (1-based byte offset in the
// statement text) to a character position in the whole query string.
func (st *statement) positioned(err error) error {
	e, ok := sqlerr.As(err)
	if !ok || e.Position <= 0 {
		return err
	}
	b := e.Position - 1
	if b <= len(st.text) {
		e.Position = st.charOff + utf8.RuneCountInString(st.text[:b]) + 1
	} else {
		e.Position += st.charOff
	}
	return err
}

// pos converts a pg_query byte location in the statement to a position.
func (st *statement) pos(loc int32) int {
	if loc < 0 || int(loc) > len(st.text) {
		return 0
	}
	return st.charOff + utf8.RuneCountInString(st.text[:loc]) + 1
}

func (st *statement) staticColumns() []pgwire.Column {
	if st.ast == nil {
		return st.extColumns()
	}
	switch n := st.ast.Node.(type) {
	case *pg.Node_VariableShowStmt:
		name := n.VariableShowStmt.Name
		if lower(name) == "all" {
			return textColumns("name", "setting", "description")
		}
		if set, ok := settingsByName[lower(name)]; ok {
			name = set.name
		} else {
			name = lower(name)
		}
		return textColumns(name)
	case *pg.Node_ExplainStmt:
		return textColumns("QUERY PLAN")
	case *pg.Node_CopyStmt:
		return nil
	case *pg.Node_FetchStmt:
		return st.s.fetchColumns(n.FetchStmt)
	case *pg.Node_DeclareCursorStmt:
		return nil
	}
	if st.planned != nil && st.planned.Returns {
		return resultColumns(st.planned.Columns)
	}
	return nil
}

func textColumns(names ...string) []pgwire.Column {
	typs := make([]*types.T, len(names))
	for i := range typs {
		typs[i] = types.Text
	}
	return typedColumns(names, typs)
}

// typedColumns describes the result columns of a SHOW statement.
func typedColumns(names []string, typs []*types.T) []pgwire.Column {
	cols := make([]pgwire.Column, len(names))
	for i, n := range names {
		cols[i] = pgwire.Column{Name: n, TypeOID: typs[i].Oid, TypeSize: -1, TypeMod: -1}
	}
	return cols
}

func resultColumns(rc []planner.ResultColumn) []pgwire.Column {
	cols := make([]pgwire.Column, len(rc))
	for i, c := range rc {
		t := c.Type
		if t == nil || t.Oid == types.OidUnknown {
			t = types.Text
		}
		cols[i] = pgwire.Column{Name: c.Name, TableOID: c.TableOID, AttrNum: c.AttNum, TypeOID: t.Oid, TypeSize: t.Size(), TypeMod: t.Typmod()}
	}
	return cols
}

// Empty implements pgwire.Statement.
func (st *statement) Empty() bool { return st.empty }

// ParamTypes implements pgwire.Statement.
func (st *statement) ParamTypes() []uint32 {
	var ts []*types.T
	if st.planned != nil {
		ts = st.planned.ParamTypes
	} else {
		ts = st.declared
	}
	out := make([]uint32, len(ts))
	for i, t := range ts {
		if t == nil || t.Oid == types.OidUnknown {
			out[i] = types.OidText
		} else {
			out[i] = t.Oid
		}
	}
	return out
}

// Columns implements pgwire.Statement.
func (st *statement) Columns() []pgwire.Column { return st.cols }

// Bind implements pgwire.Statement.
func (st *statement) Bind(ctx context.Context, params [][]byte, formats []int16) (pgwire.Portal, error) {
	s := st.s
	if st.empty {
		return &portal{st: st}, nil
	}
	if s.failed && !isTxnEnd(st.ast) {
		return nil, errInFailedTxn()
	}
	if st.multi && s.tx == nil {
		s.tx, s.implicit, s.saved = s.beginTxn(), true, copyVals(s.vals)
	}
	if ex := st.ast.GetExecuteStmt(); ex != nil {
		p, err := st.bindExecute(ctx, ex)
		if err != nil {
			s.failTxn()
			return nil, err
		}
		return p, nil
	}
	ptypes, err := st.planForBind()
	if err != nil {
		return nil, err
	}
	if len(params) != len(ptypes) {
		return nil, sqlerr.New(sqlerr.ProtocolViolation, "bind message supplies %d parameters, but prepared statement \"\" requires %d", len(params), len(ptypes))
	}
	vals := make([]types.Datum, len(params))
	for i, b := range params {
		if b == nil {
			continue
		}
		t := ptypes[i]
		if t == nil || t.Oid == types.OidUnknown {
			t = types.Text
		}
		f := int16(0)
		switch {
		case len(formats) == 1:
			f = formats[0]
		case i < len(formats):
			f = formats[i]
		}
		var (
			d   types.Datum
			err error
		)
		if f == 1 {
			d, err = types.ParseBinary(t, b)
			if err != nil {
				if _, ok := sqlerr.As(err); !ok {
					err = sqlerr.New(sqlerr.InvalidBinaryRepresentation, "incorrect binary data format in bind parameter %d", i+1)
				}
			}
		} else {
			d, err = types.ParseText(t, string(b), s.cfg)
			if err != nil {
				if _, ok := sqlerr.As(err); !ok {
					err = sqlerr.New(sqlerr.InvalidTextRepresentation, "invalid input syntax for type %s: \"%s\"", t, b)
				}
			}
		}
		if err != nil {
			s.failTxn()
			return nil, err
		}
		vals[i] = d
	}
	return &portal{st: st, params: vals, planned: st.planned, planVer: st.planVer}, nil
}

// planForBind plans the statement again if its plan went stale (the
// catalog, the session's settings or its block's DDL changed) and returns
// the types of the parameters a portal binds.
func (st *statement) planForBind() ([]*types.T, error) {
	s := st.s
	if q := st.planTarget(); q != nil && (st.planned == nil || st.planVer != s.e.catVersion.Load() || st.planCfg != s.cfg || s.tx.stagesDDL()) {
		if err := st.planShared(q); err != nil {
			s.failTxn()
			s.observe(statementVerb(st.ast), err, 0)
			return nil, err
		}
	} else if st.cols == nil {
		st.cols = st.staticColumns()
	}
	if st.planned == nil {
		return nil, nil
	}
	return st.planned.ParamTypes, nil
}

// planShared plans the statement and fixes its columns. A statement whose
// plan may be shared (shareSQL) run outside a transaction block (whose
// changes and settings are its own until it ends) takes its plan from the
// engine's plan cache when another session planned the same text with the
// same catalog and settings, and offers the plan it makes otherwise.
func (st *statement) planShared(q *pg.Node) error {
	s := st.s
	share := st.shareSQL != "" && s.tx == nil
	if share {
		k := planKey{sql: st.shareSQL, ver: s.e.catVersion.Load(), env: s.planEnv}
		if p, ok := s.e.plans.get(k); ok {
			st.planned, st.planVer, st.planCfg, st.cols = p.planned, k.ver, s.cfg, p.cols
			return nil
		}
	}
	if err := st.plan(q); err != nil {
		return err
	}
	st.cols = st.staticColumns()
	if share {
		s.e.plans.offer(planKey{sql: st.shareSQL, ver: st.planVer, env: s.planEnv}, sharedPlan{planned: st.planned, cols: st.cols})
	}
	return nil
}

// failTxn marks an open transaction block failed; an implicit block of a
// multi-statement query is rolled back at once.
func (s *session) failTxn() {
	switch {
	case s.tx != nil && s.implicit:
		tx := s.tx
		s.endTxn(nil, true)
		tx.txn.Rollback()
	case s.tx != nil:
		s.failed = true
	}
}

// finishImplicit commits the implicit block after the last statement of a
// multi-statement query.
func (s *session) finishImplicit(st *statement, w pgwire.ResultWriter) error {
	if !st.last || !s.implicit || s.tx == nil {
		return nil
	}
	tx := s.tx
	s.endTxn(w, false)
	return s.e.commit(tx)
}

// isTxnEnd reports statements allowed in a failed transaction block.
func isTxnEnd(n *pg.Node) bool {
	ts := n.GetTransactionStmt()
	if ts == nil {
		return false
	}
	switch ts.Kind {
	case pg.TransactionStmtKind_TRANS_STMT_COMMIT, pg.TransactionStmtKind_TRANS_STMT_ROLLBACK,
		pg.TransactionStmtKind_TRANS_STMT_ROLLBACK_TO, pg.TransactionStmtKind_TRANS_STMT_PREPARE,
		pg.TransactionStmtKind_TRANS_STMT_COMMIT_PREPARED, pg.TransactionStmtKind_TRANS_STMT_ROLLBACK_PREPARED:
		return true
	}
	return false
}

// portal is a bound statement.
type portal struct {
	st     *statement
	params []types.Datum
	// planned is st's plan when the portal was bound, of catalog version
	// planVer: a later Bind of the same statement may plan it again while
	// this portal is suspended.
	planned *planner.Planned
	planVer uint64

	// Query execution state, kept across suspensions.
	started bool
	done    bool
	ts      *txnState
	own     bool // ts is this portal's autocommit transaction
	ev      *expr.EvalCtx
	xc      *exec.Ctx
	op      exec.Operator
	pending *coldata.Chunk
	rows    int64
	// res is the run's table resolver; sharing, when not nil, collects
	// the answer for the engine's result cache.
	res     *tableResolver
	sharing *sharedResult
	// sub is a SUBSCRIBE suspended at a row limit, resumed by the next
	// Execute.
	sub *subscribeRun
	// inner is the portal of the statement EXECUTE runs.
	inner *portal
}

// Columns implements pgwire.Portal.
func (p *portal) Columns() []pgwire.Column { return p.st.cols }

// Close implements pgwire.Portal.
func (p *portal) Close() {
	if p.inner != nil {
		p.inner.Close()
	}
	if p.sub != nil {
		p.sub.close()
		p.sub = nil
	}
	if p.own && p.ts != nil && !p.done {
		// A portal closed before it finished still commits what it did, as
		// Postgres does at Sync.
		p.done = true
		if err := p.st.s.e.commit(p.ts); err != nil {
			p.st.s.e.log.Warn("engine: commit of closed portal failed", "err", err)
		}
	}
}

var errTimeoutCause = errors.New("statement timeout")

// Execute implements pgwire.Portal.
func (p *portal) Execute(ctx context.Context, maxRows int, w pgwire.ResultWriter) (tag string, suspended bool, err error) {
	st := p.st
	if st.empty {
		return "", false, nil
	}
	s := st.s
	start := time.Now()
	// Ingest leaves a P to the queries while they come (sched.Gate).
	s.e.gate.Query()
	if d, ok := parseTimeout(valueOr(s.get("statement_timeout"))); ok && d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, d, errTimeoutCause)
		defer cancel()
	}
	ctx = withSession(ctx, s)
	s.query = st.text
	tag, suspended, err = p.execute(ctx, maxRows, w)
	if err == nil && !suspended {
		err = s.finishImplicit(st, w)
	}
	if nerr := s.sendNotices(w); err == nil {
		err = nerr
	}
	if err != nil {
		if errors.Is(context.Cause(ctx), errTimeoutCause) {
			err = errStatementTimeout()
		} else if ctx.Err() != nil {
			if e, ok := sqlerr.As(err); !ok || e.Code != sqlerr.QueryCanceled {
				err = errUserCancel()
			}
		}
		s.failTxn()
	}
	if s.tx == nil && !suspended {
		s.releaseXactLocks()
	}
	if s.e.obs != nil && !suspended {
		verb := tag
		if i := strings.IndexByte(verb, ' '); i > 0 {
			verb = verb[:i]
		}
		if err != nil {
			verb = statementVerb(st.ast)
		}
		s.observe(verb, err, time.Since(start))
	}
	return tag, suspended, err
}

// observe reports a finished (or failed) statement to the observer.
func (s *session) observe(verb string, err error, d time.Duration) {
	if s.e.obs == nil {
		return
	}
	code := ""
	if err != nil {
		code = sqlerr.Code(err)
	}
	s.e.obs.StatementDone(verb, code, d)
}

func valueOr(v string, _ bool) string { return v }

func statementVerb(n *pg.Node) string {
	if n == nil {
		return "OTHER"
	}
	switch n.Node.(type) {
	case *pg.Node_SelectStmt:
		return "SELECT"
	case *pg.Node_InsertStmt:
		return "INSERT"
	case *pg.Node_UpdateStmt:
		return "UPDATE"
	case *pg.Node_DeleteStmt:
		return "DELETE"
	case *pg.Node_CreateStmt, *pg.Node_CreateTableAsStmt, *pg.Node_CreateRoleStmt:
		return "CREATE"
	case *pg.Node_AlterRoleStmt:
		return "ALTER"
	case *pg.Node_DropStmt, *pg.Node_DropRoleStmt:
		return "DROP"
	case *pg.Node_CopyStmt:
		return "COPY"
	case *pg.Node_TransactionStmt:
		return "TRANSACTION"
	case *pg.Node_VariableSetStmt:
		return "SET"
	case *pg.Node_VariableShowStmt:
		return "SHOW"
	case *pg.Node_ExplainStmt:
		return "EXPLAIN"
	}
	return "OTHER"
}

func (p *portal) execute(ctx context.Context, maxRows int, w pgwire.ResultWriter) (string, bool, error) {
	st := p.st
	s := st.s
	if err := st.checkRoleMayRun(); err != nil {
		return "", false, err
	}
	if st.ast == nil {
		return p.executeExt(ctx, maxRows, w)
	}
	switch n := st.ast.Node.(type) {
	case *pg.Node_SelectStmt, *pg.Node_InsertStmt, *pg.Node_UpdateStmt, *pg.Node_DeleteStmt:
		return p.runQuery(ctx, maxRows, w)
	case *pg.Node_CreateTableAsStmt:
		tag, err := st.execCreateView(ctx, n.CreateTableAsStmt, w)
		return tag, false, err
	case *pg.Node_TransactionStmt:
		tag, err := s.execTransaction(n.TransactionStmt, w)
		return tag, false, err
	case *pg.Node_VariableSetStmt:
		tag, err := s.execSet(n.VariableSetStmt, w)
		return tag, false, err
	case *pg.Node_VariableShowStmt:
		return "SHOW", false, s.execShow(n.VariableShowStmt, w)
	case *pg.Node_CreateStmt:
		return p.autocommit(ctx, func(ts *txnState) (string, error) { return st.execCreate(ctx, ts, n.CreateStmt, w) })
	case *pg.Node_CreateSeqStmt:
		return p.autocommit(ctx, func(ts *txnState) (string, error) { return st.execCreateSequence(ts, n.CreateSeqStmt, w) })
	case *pg.Node_DropStmt:
		if n.DropStmt.RemoveType == pg.ObjectType_OBJECT_SEQUENCE {
			return p.autocommit(ctx, func(ts *txnState) (string, error) { return st.execDropSequence(ts, n.DropStmt, w) })
		}
		if n.DropStmt.RemoveType == pg.ObjectType_OBJECT_MATVIEW {
			tag, err := st.execDropView(ctx, n.DropStmt, w)
			return tag, false, err
		}
		return p.autocommit(ctx, func(ts *txnState) (string, error) { return st.execDrop(ctx, ts, n.DropStmt, w) })
	case *pg.Node_ExplainStmt:
		return "EXPLAIN", false, p.execExplain(ctx, n.ExplainStmt, w)
	case *pg.Node_CopyStmt:
		return p.autocommit(ctx, func(ts *txnState) (string, error) { return p.execCopy(ctx, ts, n.CopyStmt, w) })
	case *pg.Node_CreateSchemaStmt:
		tag, err := st.execCreateSchema(n.CreateSchemaStmt, w)
		return tag, false, err
	case *pg.Node_CreatedbStmt:
		tag, err := st.execCreateDatabase(n.CreatedbStmt, w)
		return tag, false, err
	case *pg.Node_DropdbStmt:
		return "", false, sqlerr.Unsupported("DROP DATABASE is not supported").
			WithHint("Sluice has one database, which every database name connects to; drop its relations instead.")
	case *pg.Node_TruncateStmt:
		return p.autocommit(ctx, func(ts *txnState) (string, error) { return st.execTruncate(ts, n.TruncateStmt) })
	case *pg.Node_FetchStmt:
		tag, err := st.execFetch(ctx, n.FetchStmt, "", w)
		return tag, false, err
	case *pg.Node_CreateRoleStmt:
		return p.autocommit(ctx, func(ts *txnState) (string, error) { return st.execCreateRole(ts, n.CreateRoleStmt, w) })
	case *pg.Node_AlterRoleStmt:
		return p.autocommit(ctx, func(ts *txnState) (string, error) { return st.execAlterRole(ts, n.AlterRoleStmt, w) })
	case *pg.Node_DropRoleStmt:
		return p.autocommit(ctx, func(ts *txnState) (string, error) { return st.execDropRole(ts, n.DropRoleStmt, w) })
	case *pg.Node_GrantStmt:
		return p.autocommit(ctx, func(ts *txnState) (string, error) { return st.execGrant(ts, n.GrantStmt) })
	case *pg.Node_ListenStmt, *pg.Node_UnlistenStmt, *pg.Node_NotifyStmt:
		return p.autocommit(ctx, func(ts *txnState) (string, error) { return st.execListen(ts, st.ast) })
	case *pg.Node_CommentStmt:
		return p.autocommit(ctx, func(ts *txnState) (string, error) { return st.execComment(ts, n.CommentStmt) })
	case *pg.Node_ClosePortalStmt:
		tag, err := s.execCloseCursor(n.ClosePortalStmt)
		return tag, false, err
	case *pg.Node_DiscardStmt:
		if s.tx != nil {
			return "", false, sqlerr.New(sqlerr.ActiveSQLTransaction, "DISCARD ALL cannot run inside a transaction block")
		}
		if _, err := execDeallocate(ctx, &pg.DeallocateStmt{Isall: true}); err != nil {
			return "", false, err
		}
		s.e.listeners.unlisten(s, "")
		s.restore(map[string]string{}, w)
		return "DISCARD ALL", false, nil
	case *pg.Node_DeclareCursorStmt:
		tag, err := p.execDeclare(n.DeclareCursorStmt)
		return tag, false, err
	case *pg.Node_PrepareStmt:
		tag, err := st.execPrepare(ctx, n.PrepareStmt)
		return tag, false, err
	case *pg.Node_ExecuteStmt:
		return p.inner.execute(ctx, maxRows, w)
	case *pg.Node_DeallocateStmt:
		tag, err := execDeallocate(ctx, n.DeallocateStmt)
		return tag, false, err
	}
	return "", false, sqlerr.Unsupported("statement not supported: %s", firstWord(st.text))
}

// autocommit runs fn in the open transaction block or in a transaction of its
// own that commits before the statement completes.
func (p *portal) autocommit(ctx context.Context, fn func(ts *txnState) (string, error)) (string, bool, error) {
	s := p.st.s
	if s.tx != nil {
		tag, err := fn(s.tx)
		return tag, false, err
	}
	ts := s.beginTxn()
	tag, err := fn(ts)
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		ts.txn.Rollback()
		return "", false, err
	}
	if err := s.e.commit(ts); err != nil {
		return "", false, err
	}
	return tag, false, nil
}

// execState is what one statement run's execution context points to,
// allocated at once: a dashboard's point lookup made five allocations of
// them (the contexts, the configuration, the resolver closure and its
// views), two now (this and the resolver's method value), of ~50 in all.
type execState struct {
	xc  exec.Ctx
	ev  expr.EvalCtx
	cfg types.Config
	res tableResolver
}

// newExecCtx builds the execution context of one statement run.
func (s *session) newExecCtx(ctx context.Context, ts *txnState, params []types.Datum) *exec.Ctx {
	return &s.newExecState(ctx, ts, params).xc
}

// newExecState builds the execution context of one statement run, with
// its table resolver.
func (s *session) newExecState(ctx context.Context, ts *txnState, params []types.Datum) *execState {
	now := time.Now()
	st := &execState{cfg: *s.cfg}
	st.cfg.Now = now
	cat := s.catalogSnapshot()
	st.ev = expr.EvalCtx{Ctx: ctx, Cfg: &st.cfg, Params: params, TxnTime: ts.start, StmtTime: now, Settings: s.settings, Catalog: cat,
		Privileges: s, Identities: s.e.identities, Regexes: s.e.regexes}
	st.res = tableResolver{s: s, ts: ts, cat: cat}
	st.xc = exec.Ctx{Eval: &st.ev, Tables: st.res.resolve}
	st.ev.Subqueries = exec.SubqueryRunner{C: &st.xc}
	return st
}

// runQuery runs (or resumes) a planned query.
func (p *portal) runQuery(ctx context.Context, maxRows int, w pgwire.ResultWriter) (string, bool, error) {
	s := p.st.s
	pl := p.planned
	if p.done {
		return p.tag(), false, nil
	}
	if !p.started {
		if k, ok := p.resultKeyOf(maxRows); ok {
			if r, ok := s.e.results.get(s.e.views.published.Load(), k); ok {
				return p.writeShared(r, w)
			}
			p.sharing = &sharedResult{key: k}
		}
		p.started = true
		switch {
		case p.ts != nil: // a held cursor's own transaction
		case s.tx != nil:
			p.ts = s.tx
			p.ts.ranQuery = true
		default:
			p.ts, p.own = s.beginTxn(), true
		}
		es := s.newExecState(ctx, p.ts, p.params)
		p.xc, p.ev, p.res = &es.xc, &es.ev, &es.res
		op, err := exec.Build(p.xc, pl.Plan)
		if err != nil {
			return "", false, p.fail(err)
		}
		p.op = op
	}
	p.ev.Ctx = ctx
	s.running = p.ts
	defer func() { s.running = nil }()
	written := 0
	for {
		if p.pending == nil {
			if err := ctx.Err(); err != nil {
				return "", false, p.fail(err)
			}
			ch, err := p.op.Next()
			if err != nil {
				return "", false, p.fail(err)
			}
			if ch == nil {
				break
			}
			if !pl.Returns || ch.Len == 0 {
				continue
			}
			p.pending = ch
		}
		n := p.pending.Len
		if maxRows > 0 && n > maxRows-written {
			n = maxRows - written
		}
		out := p.pending
		if n < p.pending.Len {
			out = p.pending.Slice(0, n)
			p.pending = p.pending.Slice(n, p.pending.Len)
		} else {
			p.pending = nil
		}
		if err := s.sendNotices(w); err != nil {
			return "", false, p.fail(err)
		}
		if err := w.WriteChunk(out); err != nil {
			return "", false, p.fail(err)
		}
		if p.sharing != nil {
			c := out.Clone()
			p.sharing.chunks = append(p.sharing.chunks, c)
			p.sharing.size += chunkSize(c)
		}
		written += n
		p.rows += int64(n)
		if maxRows > 0 && written >= maxRows {
			return "", true, nil
		}
	}
	p.done = true
	if p.own {
		if err := s.e.commit(p.ts); err != nil {
			return "", false, err
		}
	}
	if r := p.sharing; r != nil && !p.res.readOther && p.res.views != nil {
		r.rows, r.views = p.rows, p.res.viewsRead
		s.e.results.put(p.res.views, r)
	}
	p.sharing = nil
	return p.tag(), false, nil
}

// writeShared answers with r, another run's answer to the same statement
// at the same publication, once the role may read what it read.
func (p *portal) writeShared(r *sharedResult, w pgwire.ResultWriter) (string, bool, error) {
	s := p.st.s
	p.started, p.done = true, true
	for _, id := range r.views {
		if err := s.checkSelect(id); err != nil {
			return "", false, err
		}
	}
	if err := s.sendNotices(w); err != nil {
		return "", false, err
	}
	for _, ch := range r.chunks {
		if err := w.WriteChunk(ch); err != nil {
			return "", false, err
		}
	}
	p.rows = r.rows
	return p.tag(), false, nil
}

func (p *portal) fail(err error) error {
	p.done = true
	if p.own && p.ts != nil {
		p.ts.txn.Rollback()
	}
	return err
}

func (p *portal) tag() string {
	pl := p.planned
	// NB: not fmt.Sprintf, which boxed the count: every query makes a tag.
	switch pl.Tag {
	case "SELECT":
		return "SELECT " + strconv.FormatInt(p.rows, 10)
	case "INSERT":
		return "INSERT 0 " + strconv.FormatInt(p.xc.RowsAffected, 10)
	default:
		return pl.Tag + " " + strconv.FormatInt(p.xc.RowsAffected, 10)
	}
}

// execExplain prints the plan.
func (p *portal) execExplain(ctx context.Context, n *pg.ExplainStmt, w pgwire.ResultWriter) error {
	for _, o := range n.Options {
		if d := o.GetDefElem(); d != nil && lower(d.Defname) == "analyze" {
			if b := defBool(d); b {
				return sqlerr.Unsupported("EXPLAIN ANALYZE is not supported")
			}
		}
	}
	var text string
	switch {
	case n.Query.GetCreateTableAsStmt() != nil:
		s := p.st.s
		vp, _, err := s.e.planView(s.planner(), n.Query.GetCreateTableAsStmt().Query, s.searchPath(), p.st.onWindowClose)
		if err != nil {
			return p.st.positioned(err)
		}
		text = vp.Graph.String()
	case n.Query.GetExecuteStmt() != nil:
		// The plan is the prepared statement's, for any arguments: they
		// are bound as parameters, not folded into it.
		target, err := executeTarget(ctx, n.Query.GetExecuteStmt())
		if err != nil {
			return err
		}
		if _, err := target.planForBind(); err != nil {
			return err
		}
		if target.planned == nil {
			return sqlerr.Unsupported("EXPLAIN of this statement is not supported")
		}
		text = planner.Explain(target.planned.Plan)
	case p.st.planned == nil:
		return sqlerr.Unsupported("EXPLAIN of this statement is not supported")
	default:
		text = planner.Explain(p.st.planned.Plan)
	}
	ch := coldata.NewChunk([]*types.T{types.Text}, 0)
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		ch.AppendRow([]types.Datum{line})
	}
	return w.WriteChunk(ch)
}

// defBool reads a DefElem's boolean argument (absent: true).
func defBool(d *pg.DefElem) bool {
	if d.Arg == nil {
		return true
	}
	v := defString(d)
	b, ok := parseBool(v)
	return !ok || b
}

// defString reads a DefElem's argument as text.
func defString(d *pg.DefElem) string {
	if d.Arg == nil {
		return ""
	}
	return nodeString(d.Arg)
}

func nodeString(n *pg.Node) string {
	switch v := n.Node.(type) {
	case *pg.Node_String_:
		return v.String_.Sval
	case *pg.Node_Integer:
		return fmt.Sprint(v.Integer.Ival)
	case *pg.Node_Float:
		return v.Float.Fval
	case *pg.Node_Boolean:
		if v.Boolean.Boolval {
			return "true"
		}
		return "false"
	case *pg.Node_AConst:
		return aConstString(v.AConst)
	case *pg.Node_TypeCast:
		return nodeString(v.TypeCast.Arg)
	}
	return ""
}

func aConstString(c *pg.A_Const) string {
	switch v := c.Val.(type) {
	case *pg.A_Const_Sval:
		return v.Sval.Sval
	case *pg.A_Const_Ival:
		return fmt.Sprint(v.Ival.Ival)
	case *pg.A_Const_Fval:
		return v.Fval.Fval
	case *pg.A_Const_Boolval:
		if v.Boolval.Boolval {
			return "on"
		}
		return "off"
	case *pg.A_Const_Bsval:
		return v.Bsval.Bsval
	}
	return ""
}
