package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/sluice-db/sluice/catalog"
	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/connector/format"
	"github.com/sluice-db/sluice/parser"
	"github.com/sluice-db/sluice/pgwire"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// SUBSCRIBE streams a view's changes as they commit. Every form (plain,
// COPY, cursor, HTTP) runs a subscribeRun: a subscription to a running view,
// either the named materialized view itself or a temporary view planned for
// the run alone (for a query, a table or a stream). A temporary view is never
// published in the catalog and is dropped when the run closes.

// The leading result columns of SUBSCRIBE (docs/format/subscribe.md).
const (
	epochColumn = "sluice_epoch"
	diffColumn  = "sluice_diff"
)

// sourceCheckInterval is how often a waiting run over a temporary view checks
// that the relations it reads still exist: the catalog does not know the
// temporary view, so a DROP neither refuses nor stops it.
const sourceCheckInterval = time.Second

// subscribeTarget is what a SUBSCRIBE reads.
type subscribeTarget struct {
	// view is the materialized view subscribed to; 0 when plan is to run as
	// a temporary view named tempName (in logs and errors).
	view     uint32
	plan     *viewPlan
	tempName string
	sources  []uint32 // the relations the temporary view reads
	names    []string
	types    []*types.T
}

// subscribeRelation resolves SUBSCRIBE to a relation: a materialized view
// directly, a table or stream through a temporary SELECT * view.
func (e *Engine) subscribeRelation(t *catalog.Table) (*subscribeTarget, error) {
	if t.Kind == catalog.KindMaterializedView {
		return &subscribeTarget{view: t.ID, names: t.ColumnNames(), types: t.Types()}, nil
	}
	q := "SELECT * FROM " + quoteIdent(t.Schema) + "." + quoteIdent(t.Name)
	tree, err := pg.Parse(q)
	if err != nil {
		return nil, sqlerr.Bug("SUBSCRIBE query %q: %v", q, err)
	}
	return e.subscribeQuery(tree.Stmts[0].Stmt, []string{t.Schema}, "SUBSCRIBE "+t.Name)
}

// subscribeQuery plans a subscribed query as a temporary view. Like a
// materialized view it sees only published relations.
func (e *Engine) subscribeQuery(q *pg.Node, searchPath []string, name string) (*subscribeTarget, error) {
	vp, plan, err := e.planView(e.planner, q, searchPath, false)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(vp.Columns))
	for i, c := range vp.Columns {
		names[i] = c.Name
	}
	return &subscribeTarget{plan: plan, tempName: name, sources: vp.Sources, names: names, types: plan.types}, nil
}

// resultColumns describes the rows of the SQL forms: epoch, diff, then the
// relation's columns.
func (t *subscribeTarget) resultColumns() []pgwire.Column {
	names := append([]string{epochColumn, diffColumn}, t.names...)
	typs := append([]*types.T{types.Int8, types.Int4}, t.types...)
	cols := make([]pgwire.Column, len(names))
	for i, name := range names {
		cols[i] = pgwire.Column{Name: name, TypeOID: typs[i].Oid, TypeSize: typs[i].Size(), TypeMod: typs[i].Typmod()}
	}
	return cols
}

// resolveSubscribe resolves the relation or query of a SUBSCRIBE statement.
func (st *statement) resolveSubscribe(x *parser.Subscribe) (*subscribeTarget, error) {
	s := st.s
	if x.Name != nil {
		schema, err := s.tableSchema(x.Name, st)
		if err != nil {
			return nil, err
		}
		t, ok := s.e.cat.Lookup(schema, x.Name.Relname)
		if !ok {
			return nil, errUndefinedRelation(x.Name.Relname).At(st.pos(x.Name.Location))
		}
		if err := s.checkSelect(t.ID); err != nil {
			return nil, err
		}
		return s.e.subscribeRelation(t)
	}
	target, err := s.e.subscribeQuery(x.Query, s.searchPath(), "SUBSCRIBE query")
	if err != nil {
		// The planner's positions are in the query's text.
		if e, ok := sqlerr.As(err); ok && e.Position > 0 {
			e.Position += x.QueryOffset
		}
		return nil, st.positioned(err)
	}
	for _, id := range target.sources {
		if err := s.checkSelect(id); err != nil {
			return nil, err
		}
	}
	return target, nil
}

// subscribeSnapshot reads SUBSCRIBE's options; snapshot is the only one.
func subscribeSnapshot(opts map[string]string) (bool, error) {
	snapshot := true
	for name, v := range opts {
		if name != "snapshot" {
			return false, sqlerr.New(sqlerr.InvalidParameterValue, "unrecognized SUBSCRIBE option \"%s\"", name).
				WithHint("The only option is snapshot.")
		}
		b, ok := parseBool(v)
		if !ok {
			return false, sqlerr.New(sqlerr.InvalidParameterValue, "SUBSCRIBE option \"snapshot\" requires a Boolean value")
		}
		snapshot = b
	}
	return snapshot, nil
}

// startSubscribe resolves and starts a SUBSCRIBE statement.
func (st *statement) startSubscribe(ctx context.Context, x *parser.Subscribe) (*subscribeRun, error) {
	snapshot, err := subscribeSnapshot(x.Options)
	if err != nil {
		return nil, err
	}
	target, err := st.resolveSubscribe(x)
	if err != nil {
		return nil, err
	}
	return st.s.e.startSubscribe(ctx, target, snapshot)
}

// subscribeRun is a started subscription and the temporary view it owns.
// One goroutine uses it at a time.
type subscribeRun struct {
	e    *Engine
	sub  *subscription
	cols []pgwire.Column // result columns of the SQL forms
	// names are the relation's columns.
	names []string
	// temp is the temporary view the run owns (0: none); sources names the
	// relations it reads by id, seen present at catalog version catVer.
	temp    uint32
	sources map[uint32]string
	catVer  uint64
	// pending holds rows received but not yet delivered (the relation's
	// columns, with Diffs), all of epoch.
	pending *coldata.Chunk
	epoch   uint64
}

// startSubscribe installs target's temporary view, if it has one, and
// subscribes to the view.
func (e *Engine) startSubscribe(ctx context.Context, target *subscribeTarget, snapshot bool) (*subscribeRun, error) {
	r := &subscribeRun{e: e, cols: target.resultColumns(), names: target.names}
	id := target.view
	if id == 0 {
		id = e.cat.AllocID()
		if err := e.views.install(ctx, id, target.tempName, target.plan); err != nil {
			return nil, err
		}
		r.temp = id
		// A DROP of a source may have committed since planning: read the
		// version first so a later one is caught by checkSources.
		r.catVer = e.catVersion.Load()
		r.sources = map[uint32]string{}
		for _, src := range target.sources {
			t, ok := e.cat.ByID(src)
			if !ok {
				r.close()
				return nil, sqlerr.New(sqlerr.UndefinedTable, "a relation read by the subscription was dropped while it started")
			}
			r.sources[src] = t.Name
		}
	}
	sub, err := e.views.subscribe(ctx, id, snapshot)
	if err != nil {
		r.close()
		return nil, err
	}
	r.sub = sub
	return r, nil
}

// close ends the subscription and drops the temporary view.
func (r *subscribeRun) close() {
	if r.sub != nil {
		r.sub.close()
		r.sub = nil
	}
	if r.temp != 0 {
		_ = r.e.views.drop(context.Background(), r.temp)
		r.temp = 0
	}
}

// receive makes rows pending: those already there or received, else, with
// wait, the next epoch's once it arrives, unless ctx is done or timeout
// fires first (a nil timeout never does). It reports whether rows are
// pending.
func (r *subscribeRun) receive(ctx context.Context, wait bool, timeout <-chan time.Time) (bool, error) {
	var check <-chan time.Time
	if wait && r.temp != 0 {
		t := time.NewTicker(sourceCheckInterval)
		defer t.Stop()
		check = t.C
	}
	for r.pending == nil {
		if err := r.checkSources(); err != nil {
			return false, err
		}
		var (
			ev subscriptionEvent
			ok bool
		)
		// Rows that have arrived are taken before any timeout counts.
		select {
		case ev, ok = <-r.sub.events:
		default:
			if !wait {
				return false, nil
			}
			// Another query may run while this one waits for rows.
			pgwire.Waiting(ctx)
			select {
			case ev, ok = <-r.sub.events:
			case <-check:
				continue
			case <-timeout:
				return false, nil
			case <-ctx.Done():
				return false, ctx.Err()
			case <-r.e.views.exited:
				return false, sqlerr.New(sqlerr.AdminShutdown, "the server is shutting down")
			}
		}
		if !ok {
			return false, r.ended()
		}
		r.accept(ev)
	}
	return true, nil
}

// accept makes ev's rows with a nonzero diff pending.
func (r *subscribeRun) accept(ev subscriptionEvent) {
	rows := ev.rows
	if slices.Contains(rows.Diffs, 0) {
		var sel []int
		for i, d := range rows.Diffs {
			if d != 0 {
				sel = append(sel, i)
			}
		}
		rows = rows.Gather(sel)
	}
	if rows.Len > 0 {
		r.pending, r.epoch = rows, ev.epoch
	}
}

// checkSources ends a run whose temporary view reads a relation that was
// dropped (only a DROP changes the catalog version).
func (r *subscribeRun) checkSources() error {
	if r.temp == 0 {
		return nil
	}
	ver := r.e.catVersion.Load()
	if ver == r.catVer {
		return nil
	}
	for id, name := range r.sources {
		if _, ok := r.e.cat.ByID(id); !ok {
			return sqlerr.New(sqlerr.UndefinedTable, "subscription ended: relation \"%s\" was dropped", name)
		}
	}
	r.catVer = ver
	return nil
}

// ended is why the subscription's channel closed.
func (r *subscribeRun) ended() error {
	err := r.sub.err
	if err == nil {
		return sqlerr.Bug("subscription ended without a reason")
	}
	if e, ok := sqlerr.As(err); ok && r.temp != 0 {
		e.Hint = "" // no one can drop and re-create a temporary view
	}
	return err
}

// take removes up to n pending rows (all with n <= 0) and returns them with
// their epoch.
func (r *subscribeRun) take(n int) (uint64, *coldata.Chunk) {
	rows := r.pending
	if n <= 0 || n >= rows.Len {
		r.pending = nil
		return r.epoch, rows
	}
	r.pending = rows.Slice(n, rows.Len)
	return r.epoch, rows.Slice(0, n)
}

// takeResult is take in the result form of the SQL forms: epoch, diff, then
// the relation's columns.
func (r *subscribeRun) takeResult(n int) (*coldata.Chunk, error) {
	epoch, rows := r.take(n)
	diffs := coldata.NewVec(types.Int4, rows.Len)
	for _, d := range rows.Diffs {
		if d < math.MinInt32 || d > math.MaxInt32 {
			return nil, sqlerr.New(sqlerr.NumericValueOutOfRange, "%s %d is out of range for type integer", diffColumn, d)
		}
		diffs.Ints = append(diffs.Ints, d)
	}
	cols := append([]*coldata.Vec{coldata.ConstVec(types.Int8, int64(epoch), rows.Len), diffs}, rows.Cols...)
	return &coldata.Chunk{Cols: cols, Len: rows.Len}, nil
}

// execSubscribe runs a plain SUBSCRIBE: rows until the client cancels or the
// subscription ends, flushed after each epoch. With maxRows it suspends and
// the run waits in the portal for the next Execute.
func (p *portal) execSubscribe(ctx context.Context, x *parser.Subscribe, maxRows int, w pgwire.ResultWriter) (string, bool, error) {
	if p.sub == nil {
		r, err := p.st.startSubscribe(ctx, x)
		if err != nil {
			return "", false, err
		}
		p.sub = r
		// The rows must match the RowDescription sent at Describe or Bind.
		if !slices.Equal(r.cols, p.st.cols) {
			return "", false, p.endSubscribe(sqlerr.Unsupported("cached plan must not change result type"))
		}
		// Show the client the start of the stream before the first epoch.
		if err := w.Flush(); err != nil {
			return "", false, p.endSubscribe(err)
		}
	}
	r := p.sub
	written := 0
	for {
		if _, err := r.receive(ctx, true, nil); err != nil {
			return "", false, p.endSubscribe(err)
		}
		n := 0
		if maxRows > 0 {
			n = maxRows - written
		}
		rows, err := r.takeResult(n)
		if err == nil {
			err = w.WriteChunk(rows)
		}
		if err != nil {
			return "", false, p.endSubscribe(err)
		}
		written += rows.Len
		if maxRows > 0 && written >= maxRows {
			return "", true, nil
		}
		if r.pending == nil {
			if err := w.Flush(); err != nil {
				return "", false, p.endSubscribe(err)
			}
		}
	}
}

// endSubscribe closes the portal's run and returns err.
func (p *portal) endSubscribe(err error) error {
	p.sub.close()
	p.sub = nil
	return err
}

// execCopySubscribe runs COPY (SUBSCRIBE …) TO STDOUT: one CopyData per row
// in the text or CSV format, flushed after each epoch, until the client
// cancels or the subscription ends.
func (st *statement) execCopySubscribe(ctx context.Context, x *parser.CopySubscribe, w pgwire.ResultWriter) error {
	o, err := copySubscribeOpts(x.Options)
	if err != nil {
		return err
	}
	r, err := st.startSubscribe(ctx, x.Subscribe)
	if err != nil {
		return err
	}
	defer r.close()
	out, err := w.CopyOut(o.format, len(r.cols))
	if err != nil {
		return err
	}
	var buf []byte
	if o.header {
		names := make([]string, len(r.cols))
		for i, c := range r.cols {
			names[i] = c.Name
		}
		if _, err := out.Write(o.appendHeader(buf, names)); err != nil {
			return err
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	cfg := st.s.cfg
	for {
		if _, err := r.receive(ctx, true, nil); err != nil {
			return err
		}
		rows, err := r.takeResult(0)
		if err != nil {
			return err
		}
		for i := 0; i < rows.Len; i++ {
			buf = o.appendTextRow(buf[:0], rows, i, cfg)
			if _, err := out.Write(buf); err != nil {
				return err
			}
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
}

// copySubscribeOpts checks the COPY options of COPY (SUBSCRIBE …) as COPY's
// own: text and CSV formats only.
func copySubscribeOpts(opts map[string]string) (*copyOpts, error) {
	n := &pg.CopyStmt{}
	for _, name := range slices.Sorted(maps.Keys(opts)) {
		n.Options = append(n.Options, &pg.Node{Node: &pg.Node_DefElem{DefElem: &pg.DefElem{Defname: name, Arg: pg.MakeStrNode(opts[name]), Location: -1}}})
	}
	o, err := parseCopyOpts(n)
	if err != nil {
		return nil, err
	}
	if o.format == pgwire.CopyBinary {
		return nil, sqlerr.Unsupported("COPY (SUBSCRIBE …) supports the text and csv formats")
	}
	return o, nil
}

// execDeclareSubscribe runs DECLARE c CURSOR FOR SUBSCRIBE …: the run lives
// in the session until CLOSE or the end of the transaction block.
func (st *statement) execDeclareSubscribe(ctx context.Context, x *parser.DeclareSubscribe) (string, error) {
	s := st.s
	if x.Hold {
		// A held cursor outlives its transaction block; subscribe cursors
		// close with theirs.
		return "", sqlerr.Unsupported("DECLARE CURSOR WITH HOLD is not supported for SUBSCRIBE")
	}
	if s.tx == nil {
		return "", sqlerr.New(sqlerr.NoActiveSQLTransaction, "DECLARE CURSOR can only be used in transaction blocks")
	}
	if s.cursors[x.Cursor] != nil {
		return "", sqlerr.New(sqlerr.DuplicateCursor, "cursor \"%s\" already exists", x.Cursor)
	}
	r, err := st.startSubscribe(ctx, x.Subscribe)
	if err != nil {
		return "", err
	}
	if s.cursors == nil {
		s.cursors = map[string]*subscribeRun{}
	}
	s.cursors[x.Cursor] = r
	return "DECLARE CURSOR", nil
}

// fetchColumns are the result columns of FETCH on a subscribe cursor (nil
// for MOVE and unknown cursors, whose execution reports the error).
func (s *session) fetchColumns(n *pg.FetchStmt) []pgwire.Column {
	if r := s.cursors[n.Portalname]; r != nil && !n.Ismove {
		return r.cols
	}
	if c := s.queries[n.Portalname]; c != nil && !n.Ismove {
		return c.p.st.cols
	}
	return nil
}

// execFetch runs FETCH and MOVE on a subscribe cursor: up to n of the rows
// that have arrived; when none have, it waits for the next epoch, at most
// timeout when one is given.
func (st *statement) execFetch(ctx context.Context, n *pg.FetchStmt, timeout string, w pgwire.ResultWriter) (string, error) {
	if c := st.s.queries[n.Portalname]; c != nil {
		if !n.Ismove && !slices.Equal(c.p.st.cols, st.cols) {
			return "", sqlerr.Unsupported("cached plan must not change result type")
		}
		return c.fetch(ctx, n, w)
	}
	r := st.s.cursors[n.Portalname]
	if r == nil {
		return "", sqlerr.New(sqlerr.InvalidCursorName, "cursor \"%s\" does not exist", n.Portalname)
	}
	// A statement prepared for another cursor of the name described other
	// rows.
	if !n.Ismove && !slices.Equal(r.cols, st.cols) {
		return "", sqlerr.Unsupported("cached plan must not change result type")
	}
	if n.Direction != pg.FetchDirection_FETCH_FORWARD || n.HowMany < 0 {
		return "", sqlerr.New(sqlerr.ObjectNotInPrerequisiteState, "cursor can only scan forward")
	}
	var expired <-chan time.Time
	if timeout != "" {
		d, ok := fetchTimeout(timeout)
		if !ok || d < 0 {
			return "", sqlerr.New(sqlerr.InvalidParameterValue, "invalid value for FETCH option \"timeout\": \"%s\"", timeout)
		}
		t := time.NewTimer(d)
		defer t.Stop()
		expired = t.C
	}
	verb := "FETCH"
	if n.Ismove {
		verb = "MOVE"
	}
	var count int64
	for count < n.HowMany {
		ok, err := r.receive(ctx, count == 0, expired)
		if err != nil && count == 0 {
			return "", err
		}
		if !ok {
			break // the error, if any, is the next FETCH's
		}
		rows, err := r.takeResult(int(min(n.HowMany-count, math.MaxInt32)))
		if err != nil {
			return "", err
		}
		if !n.Ismove {
			if err := w.WriteChunk(rows); err != nil {
				return "", err
			}
		}
		count += int64(rows.Len)
	}
	return fmt.Sprintf("%s %d", verb, count), nil
}

// execCloseCursor runs CLOSE c and CLOSE ALL.
func (s *session) execCloseCursor(n *pg.ClosePortalStmt) (string, error) {
	if n.Portalname == "" {
		s.closeCursors()
		s.closeQueryCursors(true)
		return "CLOSE CURSOR ALL", nil
	}
	if c := s.queries[n.Portalname]; c != nil {
		c.p.Close()
		delete(s.queries, n.Portalname)
		return "CLOSE CURSOR", nil
	}
	r := s.cursors[n.Portalname]
	if r == nil {
		return "", sqlerr.New(sqlerr.InvalidCursorName, "cursor \"%s\" does not exist", n.Portalname)
	}
	r.close()
	delete(s.cursors, n.Portalname)
	return "CLOSE CURSOR", nil
}

// closeCursors closes the session's SUBSCRIBE cursors and its query cursors
// without hold (at the end of a transaction block, and when the session
// closes).
func (s *session) closeCursors() {
	for name, r := range s.cursors {
		r.close()
		delete(s.cursors, name)
	}
	s.closeQueryCursors(false)
}

// Subscription is a SUBSCRIBE started by Engine.Subscribe, for callers
// outside SQL sessions (the HTTP API). One goroutine uses it at a time.
type Subscription struct {
	// Columns are the names of the subscribed relation's columns.
	Columns []string
	run     *subscribeRun
}

// SubscriptionEvent is one epoch's changes to the subscribed relation.
type SubscriptionEvent struct {
	Epoch uint64
	Rows  []SubscriptionRow
}

// SubscriptionRow is one changed row: Diff copies of it were inserted
// (Diff > 0) or deleted (Diff < 0).
type SubscriptionRow struct {
	Diff int64
	// Values are the row's values as JSON: numbers, booleans, strings, null,
	// json and jsonb values as themselves, other types as a string of their
	// text output.
	Values []json.RawMessage
}

// Subscribe starts a subscription to relation (name or schema.name): a
// materialized view, table or stream. With snapshot, the first event holds
// the relation's current rows (all diffs +1); later events are changes as
// their epochs publish. An unknown relation is a 42P01 error. Close the
// subscription when done.
func (e *Engine) Subscribe(ctx context.Context, relation string, snapshot bool) (*Subscription, error) {
	schema, name := "public", relation
	if i := strings.IndexByte(relation, '.'); i >= 0 {
		schema, name = relation[:i], relation[i+1:]
	}
	t, ok := e.cat.Lookup(schema, name)
	if !ok {
		return nil, errUndefinedRelation(relation)
	}
	target, err := e.subscribeRelation(t)
	if err != nil {
		return nil, err
	}
	r, err := e.startSubscribe(ctx, target, snapshot)
	if err != nil {
		return nil, err
	}
	return &Subscription{Columns: r.names, run: r}, nil
}

// Next waits for the next epoch's changes. It fails when ctx is done or the
// subscription ended (its view was dropped or stopped, the subscriber fell
// too far behind, or the server is shutting down).
func (s *Subscription) Next(ctx context.Context) (*SubscriptionEvent, error) {
	if _, err := s.run.receive(ctx, true, nil); err != nil {
		return nil, err
	}
	epoch, rows := s.run.take(0)
	ev := &SubscriptionEvent{Epoch: epoch, Rows: make([]SubscriptionRow, rows.Len)}
	cfg := s.run.e.viewConfig()
	for i := range ev.Rows {
		values := make([]json.RawMessage, len(rows.Cols))
		for j, v := range rows.Cols {
			values[j] = format.AppendJSONValue(nil, v, i, cfg)
		}
		ev.Rows[i] = SubscriptionRow{Diff: rows.Diffs[i], Values: values}
	}
	return ev, nil
}

// Close ends the subscription.
func (s *Subscription) Close() { s.run.close() }

// fetchTimeout reads FETCH's timeout: a duration as statement_timeout takes
// it ('200ms', '1s') or an interval ('1 second', '00:00:01.5').
func fetchTimeout(v string) (time.Duration, bool) {
	if d, ok := parseTimeout(v); ok {
		return d, true
	}
	iv, err := types.ParseText(types.Interval, v, types.DefaultConfig())
	if err != nil {
		return 0, false
	}
	x := iv.(types.IntervalValue)
	return time.Duration(int64(x.Months)*30+int64(x.Days))*24*time.Hour + time.Duration(x.Micros)*time.Microsecond, true
}
