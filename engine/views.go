package engine

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/sluice-db/sluice/catalog"
	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/dataflow"
	"github.com/sluice-db/sluice/exec"
	"github.com/sluice-db/sluice/parser"
	"github.com/sluice-db/sluice/pgwire"
	"github.com/sluice-db/sluice/planner"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// viewConfig is the evaluation setting of every view: views are shared, so
// their results must not depend on one session's TimeZone or DateStyle.
func (e *Engine) viewConfig() *types.Config {
	cfg := types.DefaultConfig()
	if loc, ok := resolveZone(e.defaultTZ); ok {
		cfg.Location = loc
	}
	return cfg
}

// planView plans a view's query with the view settings; onWindowClose
// plans EMIT ON WINDOW CLOSE.
func (e *Engine) planView(p *planner.Planner, q *pg.Node, searchPath []string, onWindowClose bool) (*planner.ViewPlan, *viewPlan, error) {
	cfg := e.viewConfig()
	vp, err := p.PlanView(q, planner.Options{SearchPath: searchPath, Cfg: cfg, EmitOnWindowClose: onWindowClose})
	if err != nil {
		return nil, nil, err
	}
	for _, n := range vp.Graph.Nodes {
		if src, ok := n.Spec.(*dataflow.Source); ok {
			if err := e.damaged.err(src.ID); err != nil {
				return nil, nil, err
			}
		}
	}
	ts := make([]*types.T, len(vp.Columns))
	for i, c := range vp.Columns {
		ts[i] = c.Type
		if ts[i] == nil || ts[i].Oid == types.OidUnknown {
			ts[i] = types.Text
		}
	}
	var key []int
	if len(vp.Key) > 0 {
		key = vp.Key
	}
	return vp, &viewPlan{graph: vp.Graph, types: ts, key: key, cfg: cfg}, nil
}

// execCreateView runs CREATE MATERIALIZED VIEW. Outside a transaction
// block the view is computed and published when the statement completes;
// in a block it is planned now and created at COMMIT (nothing at
// ROLLBACK), after the block's other changes, so that it starts from them.
func (st *statement) execCreateView(ctx context.Context, n *pg.CreateTableAsStmt, w pgwire.ResultWriter) (string, error) {
	s := st.s
	if n.Objtype != pg.ObjectType_OBJECT_MATVIEW {
		return "", sqlerr.Unsupported("CREATE TABLE AS is not supported; create the table, then INSERT … SELECT")
	}
	view, err := st.planCreateView(n, w)
	if err != nil || view == nil {
		return "CREATE MATERIALIZED VIEW", err
	}
	if s.tx != nil {
		s.tx.views = append(s.tx.views, view)
		return "CREATE MATERIALIZED VIEW", nil
	}
	if err := s.e.createView(ctx, view); err != nil {
		return "", err
	}
	return "CREATE MATERIALIZED VIEW", nil
}

// pendingView is a view CREATE MATERIALIZED VIEW planned: its descriptor
// and its dataflow.
type pendingView struct {
	desc *catalog.Table
	plan *viewPlan
}

// planCreateView checks and plans CREATE MATERIALIZED VIEW; nil (and no
// error) when IF NOT EXISTS found the name taken.
func (st *statement) planCreateView(n *pg.CreateTableAsStmt, w pgwire.ResultWriter) (*pendingView, error) {
	s := st.s
	into := n.Into
	if into.SkipData {
		return nil, sqlerr.Unsupported("CREATE MATERIALIZED VIEW … WITH NO DATA is not supported: views are always current")
	}
	schema, err := s.tableSchema(into.Rel, st)
	if err != nil {
		return nil, err
	}
	name := into.Rel.Relname
	if s.nameTaken(schema, name) {
		if n.IfNotExists {
			return nil, w.Notice("NOTICE", sqlerr.DuplicateTable, "relation \""+name+"\" already exists, skipping")
		}
		return nil, errDuplicateTable(name).At(st.pos(into.Rel.Location))
	}
	vp, plan, err := s.e.planView(s.planner(), n.Query, s.searchPath(), st.onWindowClose)
	if err != nil {
		return nil, st.positioned(err)
	}
	desc := &catalog.Table{Kind: catalog.KindMaterializedView, Schema: schema, Name: name, PK: plan.key, DependsOn: vp.Sources}
	if len(into.ColNames) > len(vp.Columns) {
		return nil, sqlerr.New(sqlerr.SyntaxError, "too many column names were specified")
	}
	for i, c := range vp.Columns {
		colName := c.Name
		if i < len(into.ColNames) {
			colName = nodeString(into.ColNames[i])
		}
		if desc.ColumnIndex(colName) >= 0 {
			return nil, sqlerr.New(sqlerr.DuplicateColumn, "column \"%s\" specified more than once", colName)
		}
		desc.Columns = append(desc.Columns, catalog.Column{Name: colName, Type: plan.types[i]})
	}
	opts, err := withOptions(into.Options, st, "materialized view", viewOptionNames)
	if err != nil {
		return nil, err
	}
	if k, ok := opts["key"]; ok {
		if plan.key, err = optionColumns(desc, k, "key"); err != nil {
			return nil, err
		}
		desc.PK = plan.key
		desc.Options = map[string]string{"key": k}
	}
	desc.AppendOnly, desc.EventTimes = vp.AppendOnly, vp.EventTimes(desc.ColumnNames())
	if st.onWindowClose {
		if desc.Options == nil {
			desc.Options = map[string]string{}
		}
		desc.Options[emitOption] = emitOnWindowClose
	}
	if desc.Definition, err = deparseQuery(n.Query); err != nil {
		return nil, err
	}
	desc.ID = s.e.cat.AllocID()
	plan.def = viewDefinition(desc)
	return &pendingView{desc: desc, plan: plan}, nil
}

// checkPendingViews refuses a commit whose views another transaction's
// DDL overtook: a relation of the same name, or a relation they read
// dropped (under ddlMu).
func (e *Engine) checkPendingViews(ts *txnState) error {
	for _, v := range ts.views {
		if e.committedNameTaken(ts, v.desc.Schema, v.desc.Name) {
			return errDuplicateTable(v.desc.Name)
		}
		for _, dep := range v.desc.DependsOn {
			// A view read by a view of the block is created before it.
			if ts.pendingView(dep) != nil {
				continue
			}
			if _, ok := e.cat.ByID(dep); (!ok || ts.dropped[dep] != nil) && ts.created[dep] == nil {
				return sqlerr.New(sqlerr.UndefinedTable, "a relation read by materialized view \"%s\" was dropped before it was created", v.desc.Name)
			}
		}
	}
	return nil
}

// createView starts a planned view's dataflow and publishes the view.
func (e *Engine) createView(ctx context.Context, v *pendingView) error {
	if err := e.views.install(ctx, v.desc.ID, v.desc.Name, v.plan); err != nil {
		return err
	}
	b, err := v.desc.Encode()
	if err == nil {
		err = e.publishView(v.desc, b)
	}
	if err != nil {
		_ = e.views.drop(context.Background(), v.desc.ID)
		return err
	}
	return nil
}

// viewOptionNames are the WITH options CREATE MATERIALIZED VIEW accepts.
var viewOptionNames = map[string]bool{"key": true}

// A view's descriptor records EMIT ON WINDOW CLOSE as the option emitOption
// (its definition is the SELECT alone), so that a restart plans it again.
const (
	emitOption        = "emit"
	emitOnWindowClose = "on window close"
)

// optionColumns resolves a WITH option that names columns ('a, b', read as
// SQL reads identifiers) to their ordinals: a view's declared key (the
// columns its rows are unique by, which its arrangement indexes; rows that
// break the promise stop the view with 23505), a kafka stream's key_columns.
func optionColumns(desc *catalog.Table, spec, option string) ([]int, error) {
	var cols []int
	for _, name := range strings.Split(spec, ",") {
		name = parser.IdentName(strings.TrimSpace(name))
		i := desc.ColumnIndex(name)
		if i < 0 {
			return nil, sqlerr.New(sqlerr.UndefinedColumn, "%s column \"%s\" is not a column of %s \"%s\"", option, name, desc.Kind, desc.Name)
		}
		if slices.Contains(cols, i) {
			return nil, sqlerr.New(sqlerr.DuplicateColumn, "%s column \"%s\" appears twice", option, name)
		}
		cols = append(cols, i)
	}
	return cols, nil
}

// checkDependsOn fails the creation of kind name, which reads relations
// deps, when one of them was dropped while it was created.
func (e *Engine) checkDependsOn(kind, name string, deps []uint32) error {
	for _, dep := range deps {
		if _, ok := e.cat.ByID(dep); !ok {
			return sqlerr.New(sqlerr.UndefinedTable, "a relation read by %s \"%s\" was dropped while it was created", kind, name)
		}
	}
	return nil
}

// publishView records a running view's descriptor and makes it visible.
func (e *Engine) publishView(desc *catalog.Table, rec []byte) error {
	e.ddlMu.Lock()
	defer e.ddlMu.Unlock()
	if e.committedNameTaken(nil, desc.Schema, desc.Name) {
		return errDuplicateTable(desc.Name)
	}
	if err := e.checkDependsOn("materialized view", desc.Name, desc.DependsOn); err != nil {
		return err
	}
	txn := e.db.Begin()
	txn.PutMeta(catalog.MetaKey(desc.ID), rec)
	if err := txn.Commit(); err != nil {
		return err
	}
	e.cat.Publish(desc)
	e.catVersion.Add(1)
	return nil
}

func deparseQuery(q *pg.Node) (string, error) {
	tree := &pg.ParseResult{Version: pgVersion(), Stmts: []*pg.RawStmt{{Stmt: q}}}
	out, err := pg.Deparse(tree)
	if err != nil {
		return "", sqlerr.Bug("deparse view query: %v", err)
	}
	return out, nil
}

// startViews starts the dataflow of every materialized view in the catalog,
// in creation order (a view's sources are older than it). A view that can no
// longer be planned is kept, stopped, with its error.
func (e *Engine) startViews() {
	var views []*catalog.Table
	for _, t := range e.cat.Tables() {
		if t.Kind == catalog.KindMaterializedView {
			views = append(views, t)
		}
	}
	sort.Slice(views, func(i, j int) bool { return views[i].ID < views[j].ID })
	for _, v := range views {
		err := func() error {
			stmts, err := parser.Parse(v.Definition)
			if err != nil {
				return err
			}
			if len(stmts) != 1 || stmts[0].AST == nil {
				return sqlerr.New(sqlerr.DataCorrupted, "corrupt definition of materialized view %q", v.Name)
			}
			vp, plan, err := e.planView(e.planner, stmts[0].AST, []string{v.Schema}, v.Options[emitOption] == emitOnWindowClose)
			if err != nil {
				return err
			}
			e.refreshEventTimes(v, vp)
			if _, declared := v.Options["key"]; declared {
				plan.key = v.PK
			}
			plan.def = viewDefinition(v)
			return e.views.install(context.Background(), v.ID, v.Name, plan)
		}()
		if err != nil {
			e.views.installFailed(v.ID, v.Name, err)
		}
	}
}

// viewDefinition is what identifies view v's definition for its
// checkpoints: its query, options and declared key.
func viewDefinition(v *catalog.Table) string {
	return fmt.Sprintf("%s\x00%v\x00%v", v.Definition, v.Options, v.PK)
}

// refreshEventTimes republishes (in memory) view v's descriptor with what
// its plan says of its event time, when its record says otherwise (it was
// written before the planner knew it), so that the views over it, planned
// after it, see it.
func (e *Engine) refreshEventTimes(v *catalog.Table, vp *planner.ViewPlan) {
	ets := vp.EventTimes(v.ColumnNames())
	if vp.AppendOnly == v.AppendOnly && slices.Equal(ets, v.EventTimes) {
		return
	}
	c := *v
	c.AppendOnly, c.EventTimes = vp.AppendOnly, ets
	e.cat.Publish(&c)
}

// unstagePendingDependents handles the materialized views the block
// creates at COMMIT that read relations being dropped: without CASCADE the
// DROP fails with 2BP01 as in Postgres; with it they are not created
// (those reading them neither).
func (st *statement) unstagePendingDependents(n *pg.DropStmt, drops []*catalog.Table, kindName map[catalog.Kind]string) error {
	ts := st.s.tx
	if ts == nil {
		return nil
	}
	var unstage []uint32
	gone := map[uint32]bool{}
	for _, t := range drops {
		gone[t.ID] = true
	}
	for _, v := range ts.views { // in creation order: a view follows what it reads
		i := slices.IndexFunc(v.desc.DependsOn, func(id uint32) bool { return gone[id] })
		if i < 0 {
			continue
		}
		if n.Behavior != pg.DropBehavior_DROP_CASCADE {
			t, _ := txnCatalog{st.s.e.cat, ts}.ByID(v.desc.DependsOn[i])
			return errDependents(kindName[t.Kind], t.Name, fmt.Sprintf("materialized view %s depends on %s %s", v.desc.Name, kindName[t.Kind], t.Name))
		}
		gone[v.desc.ID] = true
		unstage = append(unstage, v.desc.ID)
	}
	for _, id := range unstage {
		ts.unstageView(id)
	}
	return nil
}

// errDependents is Postgres' 2BP01 for a DROP without CASCADE of what
// detail says depends on it.
func errDependents(kind, name, detail string) *sqlerr.Error {
	return sqlerr.New(sqlerr.DependentObjectsStillExist, "cannot drop %s %s because other objects depend on it", kind, name).
		WithDetail("%s", detail).
		WithHint("Use DROP ... CASCADE to drop the dependent objects too.")
}

// dropTargets resolves the objects of a DROP, checking their kind, and adds
// the materialized views and sinks that depend on them (all of them with
// CASCADE; an error naming one without).
func (st *statement) dropTargets(n *pg.DropStmt, kind catalog.Kind, w pgwire.ResultWriter) (drops, views []*catalog.Table, sinks []*catalog.Sink, err error) {
	s := st.s
	kindName := map[catalog.Kind]string{catalog.KindTable: "table", catalog.KindStream: "stream", catalog.KindMaterializedView: "materialized view"}
	for _, obj := range n.Objects {
		var names []string
		if l := obj.GetList(); l != nil {
			for _, it := range l.Items {
				names = append(names, nodeString(it))
			}
		}
		if len(names) == 0 {
			continue
		}
		name := names[len(names)-1]
		display := strings.Join(names, ".")
		schema := "public"
		if len(names) >= 2 {
			schema = names[len(names)-2]
		}
		qual := ""
		if len(names) >= 2 {
			qual = schema
		}
		if _, sys := systemRelation(qual, name); sys {
			return nil, nil, nil, errSystemCatalog(name)
		}
		t, ok := s.lookupTable(schema, name)
		if _, _, isSeq := s.e.sequenceIn(s.tx, name); !ok && isSeq && schema == "public" {
			return nil, nil, nil, sqlerr.New(sqlerr.WrongObjectType, "\"%s\" is not a %s", display, kindName[kind]).
				WithHint("Use DROP SEQUENCE to remove a sequence.")
		}
		if !ok {
			if n.MissingOk {
				if err := w.Notice("NOTICE", "00000", kindName[kind]+" \""+display+"\" does not exist, skipping"); err != nil {
					return nil, nil, nil, err
				}
				continue
			}
			return nil, nil, nil, sqlerr.New(sqlerr.UndefinedTable, "%s \"%s\" does not exist", kindName[kind], display)
		}
		if t.Kind != kind {
			return nil, nil, nil, sqlerr.New(sqlerr.WrongObjectType, "\"%s\" is not a %s", display, kindName[kind]).
				WithHint("Use DROP %s to remove a %s.", strings.ToUpper(kindName[t.Kind]), kindName[t.Kind])
		}
		drops = append(drops, t)
	}
	// Dependent views, transitively, newest first so each is dropped before
	// what it reads.
	seen := map[uint32]bool{}
	for _, t := range drops {
		seen[t.ID] = true
	}
	var visit func(t *catalog.Table) error
	visit = func(t *catalog.Table) error {
		for _, dep := range s.e.cat.Dependents(t.ID) {
			if seen[dep.ID] || (s.tx != nil && s.tx.dropped[dep.ID] != nil) {
				continue
			}
			if n.Behavior != pg.DropBehavior_DROP_CASCADE {
				return errDependents(kindName[t.Kind], t.Name, fmt.Sprintf("materialized view %s depends on %s %s", dep.Name, kindName[t.Kind], t.Name))
			}
			seen[dep.ID] = true
			views = append(views, dep)
			if err := visit(dep); err != nil {
				return err
			}
		}
		return nil
	}
	for _, t := range drops {
		if err := visit(t); err != nil {
			return nil, nil, nil, err
		}
	}
	sort.Slice(views, func(i, j int) bool { return views[i].ID > views[j].ID })
	sinks = s.e.sinksReading(append(drops[:len(drops):len(drops)], views...))
	if len(sinks) > 0 && n.Behavior != pg.DropBehavior_DROP_CASCADE {
		return nil, nil, nil, errDependents(kindName[kind], drops[0].Name, "sink "+sinks[0].Name+" reads it")
	}
	if err := st.unstagePendingDependents(n, drops, kindName); err != nil {
		return nil, nil, nil, err
	}
	return drops, views, sinks, nil
}

// execDropView runs DROP MATERIALIZED VIEW. Outside a transaction block the
// views go at once; in one, their records are deleted in the block's
// transaction and their dataflows stop once it commits (Engine.commit).
func (st *statement) execDropView(ctx context.Context, n *pg.DropStmt, w pgwire.ResultWriter) (string, error) {
	s := st.s
	drops, deps, sinks, err := st.dropTargets(n, catalog.KindMaterializedView, w)
	if err != nil {
		return "", err
	}
	if s.tx != nil {
		if len(sinks) > 0 {
			return "", sqlerr.New(sqlerr.ActiveSQLTransaction, "DROP MATERIALIZED VIEW … CASCADE of a view a sink reads cannot run inside a transaction block").
				WithDetail("sink %s reads it, and DROP SINK cannot run inside a transaction block", sinks[0].Name)
		}
		for _, v := range append(deps, drops...) {
			if s.tx.pendingView(v.ID) != nil {
				s.tx.unstageView(v.ID)
			} else {
				s.tx.stageDrop(v)
			}
		}
		return "DROP MATERIALIZED VIEW", nil
	}
	if err := s.e.dropSinks(sinks); err != nil {
		return "", err
	}
	// Dependents first, then the named views, newest first.
	all := append(deps, drops...)
	sort.Slice(all, func(i, j int) bool { return all[i].ID > all[j].ID })
	if err := s.e.dropViews(ctx, all); err != nil {
		return "", err
	}
	return "DROP MATERIALIZED VIEW", nil
}

// dropViews removes views: their records in one commit, then their dataflows.
func (e *Engine) dropViews(ctx context.Context, views []*catalog.Table) error {
	if len(views) == 0 {
		return nil
	}
	e.ddlMu.Lock()
	txn := e.db.Begin()
	for _, v := range views {
		txn.DeleteMeta(catalog.MetaKey(v.ID))
	}
	err := txn.Commit()
	if err == nil {
		for _, v := range views {
			e.cat.Remove(v.ID)
		}
		e.catVersion.Add(1)
	}
	e.ddlMu.Unlock()
	if err != nil {
		return err
	}
	for _, v := range views {
		if err := e.views.drop(ctx, v.ID); err != nil {
			return err
		}
	}
	return nil
}

// execShowObjects runs SHOW STREAMS, SHOW MATERIALIZED VIEWS, SHOW SOURCES,
// SHOW SINKS and SHOW WATERMARKS.
func (s *session) execShowObjects(so *parser.ShowObjects, w pgwire.ResultWriter) error {
	switch so.Kind {
	case "sources":
		return s.execShowSources(w)
	case "watermarks":
		return s.execShowWatermarks(w)
	case "sinks":
		return s.execShowSinks(w)
	}
	kind := catalog.KindStream
	if so.Kind == "materialized views" {
		kind = catalog.KindMaterializedView
	}
	ch := coldata.NewChunk([]*types.T{types.Text, types.Text, types.Text}, 0)
	for _, t := range s.e.cat.Tables() {
		if t.Kind != kind {
			continue
		}
		detail := t.Definition
		if kind == catalog.KindStream {
			detail = streamConnector(t)
		}
		ch.AppendRow([]types.Datum{t.Schema, t.Name, detail})
	}
	return w.WriteChunk(ch)
}

func showObjectsColumns(so *parser.ShowObjects) []pgwire.Column {
	switch so.Kind {
	case "sources":
		return sourceColumns()
	case "watermarks":
		return watermarkColumns()
	case "sinks":
		return showSinksColumns()
	case "streams":
		return textColumns("schema", "name", "connector")
	}
	return textColumns("schema", "name", "definition")
}

// viewAccess reads a view's arrangement at the statement's snapshot.
type viewAccess struct {
	name string
	snap *dataflow.ArrangementSnapshot
}

func (a *viewAccess) Scan() (exec.TableIter, error) { return viewIter{a.snap.Scan()}, nil }

// RowCount implements exec.RowCounter: the arrangement counts its rows at
// each epoch.
func (a *viewAccess) RowCount() (int64, error) { return int64(a.snap.Len()), nil }

func (a *viewAccess) ScanRange(r exec.KeyRange) (exec.TableIter, error) {
	kr := dataflow.KeyRange{Prefix: r.Prefix, Lower: (*dataflow.KeyBound)(r.Lower), Upper: (*dataflow.KeyBound)(r.Upper)}
	return viewIter{a.snap.ScanRange(kr)}, nil
}

func (a *viewAccess) Lookup(key []types.Datum) ([]types.Datum, int, bool, error) {
	row, ok := a.snap.Lookup(key)
	return row, -1, ok, nil
}

// LookupChunk implements exec.ChunkLookup.
func (a *viewAccess) LookupChunk(key []types.Datum) (*coldata.Chunk, error) {
	return a.snap.LookupChunk(key), nil
}

func (a *viewAccess) errReadOnly() error {
	return sqlerr.New(sqlerr.WrongObjectType, "cannot change materialized view \"%s\"", a.name)
}

func (a *viewAccess) Insert(*coldata.Chunk) error        { return a.errReadOnly() }
func (a *viewAccess) Delete([]int) error                 { return a.errReadOnly() }
func (a *viewAccess) Update([]int, *coldata.Chunk) error { return a.errReadOnly() }

type viewIter struct{ next func() *coldata.Chunk }

func (it viewIter) Next() (*coldata.Chunk, []int, error) { return it.next(), nil, nil }

// viewWatermark is one materialized view's row of SHOW WATERMARKS.
type viewWatermark struct {
	Schema, Name string
	// Watermark is the view's output watermark (Unix microseconds), or
	// nil when it has none: an input without a watermark holds it back, or
	// the view reads reference data only.
	Watermark types.Datum
}

// viewWatermarks returns the running views' watermarks, sorted by schema
// and name.
func (e *Engine) viewWatermarks() []viewWatermark {
	var out []viewWatermark
	for id, wm := range e.views.viewWatermarks() {
		desc, ok := e.cat.ByID(id)
		if !ok {
			continue
		}
		row := viewWatermark{Schema: desc.Schema, Name: desc.Name}
		if wm != dataflow.NoWatermark && wm != dataflow.Unconstrained {
			row.Watermark = wm
		}
		out = append(out, row)
	}
	slices.SortFunc(out, func(a, b viewWatermark) int {
		return cmp.Or(cmp.Compare(a.Schema, b.Schema), cmp.Compare(a.Name, b.Name))
	})
	return out
}
