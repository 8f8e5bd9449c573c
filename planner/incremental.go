package planner

import (
	"fmt"
	"slices"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/sluice-db/sluice/catalog"
	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/dataflow"
	"github.com/sluice-db/sluice/exec"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/timewindow"
	"github.com/sluice-db/sluice/types"
)

// ViewPlan is a materialized view's query lowered to a dataflow graph.
type ViewPlan struct {
	Graph   *dataflow.Graph
	Columns []ResultColumn
	// Key lists output columns that are unique across rows (the GROUP BY
	// key); nil when the view has no such key.
	Key []int
	// Sources are the relations the view reads, each once, in first-use order.
	Sources []uint32
	// AppendOnly says the view only inserts rows (EMIT ON WINDOW CLOSE, or
	// filters and projections of streams). TimeBounds maps the output
	// columns its watermark bounds to how (exec.TableRef.TimeBounds).
	AppendOnly bool
	TimeBounds map[int]exec.TimeBound
}

// PlanView binds a SELECT and lowers it to an incremental dataflow. A
// construct the dataflow cannot maintain is refused with 0A000 naming it.
func (p *Planner) PlanView(query *pg.Node, opts Options) (*ViewPlan, error) {
	opts.Incremental = true
	planned, err := p.PlanQuery(query, opts)
	if err != nil {
		return nil, err
	}
	if planned.Tag != "SELECT" {
		return nil, sqlerr.Unsupported("a materialized view must be defined by a SELECT")
	}
	if len(planned.ParamTypes) > 0 {
		return nil, sqlerr.New(sqlerr.UndefinedParameter, "there is no parameter $1")
	}
	l := &lowering{g: &dataflow.Graph{}, seen: map[uint32]bool{}, eval: &expr.EvalCtx{Cfg: opts.Cfg}, reg: p.Reg}
	if opts.EmitOnWindowClose {
		if l.onClose, err = onCloseAggregate(planned.Plan); err != nil {
			return nil, err
		}
	}
	out, err := l.lower(planned.Plan)
	if err != nil {
		return nil, err
	}
	l.g.Output = out.node
	vp := &ViewPlan{Graph: l.g, Columns: planned.Columns, Key: out.key, Sources: l.sources,
		AppendOnly: opts.EmitOnWindowClose || appendOnly(planned.Plan)}
	for i := range planned.Columns {
		if b, ok := timeBound(planned.Plan, i); ok {
			if vp.TimeBounds == nil {
				vp.TimeBounds = map[int]exec.TimeBound{}
			}
			vp.TimeBounds[i] = b
		}
	}
	return vp, nil
}

type lowering struct {
	g       *dataflow.Graph
	sources []uint32
	seen    map[uint32]bool
	eval    *expr.EvalCtx
	reg     *expr.Registry
	// onClose is the GROUP BY that EMIT ON WINDOW CLOSE applies to.
	onClose *exec.HashAgg
}

// lowered is a lowered plan: its node and its unique key columns (nil: none).
type lowered struct {
	node int
	key  []int
}

func notIncremental(what string) *sqlerr.Error {
	return sqlerr.Unsupported("%s cannot be maintained incrementally in a materialized view", what)
}

func (l *lowering) lower(p exec.Plan) (lowered, error) {
	switch p := p.(type) {
	case *exec.Scan:
		if p.Positions {
			return lowered{}, sqlerr.Bug("planner: row positions in a view plan")
		}
		if p.Table.System {
			return lowered{}, sqlerr.Unsupported("materialized views over system relations (%s) are not supported", p.Table.Name).
				WithHint("System relations have no change feed; query them directly.")
		}
		if !l.seen[p.Table.ID] {
			l.seen[p.Table.ID] = true
			l.sources = append(l.sources, p.Table.ID)
		}
		var key []int
		if len(p.Table.PK) > 0 {
			key = append([]int{}, p.Table.PK...)
		}
		src := &dataflow.Source{Name: p.Table.Name, ID: p.Table.ID, Typs: p.Table.Types, Reference: p.Table.Reference}
		return lowered{node: l.g.Add(src), key: key}, nil
	case *exec.Values:
		return l.lowerValues(p)
	case *exec.Filter:
		in, err := l.lower(p.Input)
		if err != nil {
			return lowered{}, err
		}
		return l.lowerFilter(in, p.Cond, p.Input.Types())
	case *exec.Project:
		in, ok, err := l.lowerRowNumberTopN(p.Input, p.Exprs)
		if ok || err != nil {
			if err != nil {
				return lowered{}, err
			}
			return l.lowerProject(in, p.Exprs, p.Input.Types())
		}
		return l.lowerFilterProject(p)
	case *exec.HashAgg:
		return l.lowerAgg(p)
	case *exec.Join:
		return l.lowerJoin(p)
	case *exec.Distinct:
		if len(p.OnKeys) > 0 {
			return l.lowerDistinctOn(p)
		}
		in, err := l.lower(p.Input)
		if err != nil {
			return lowered{}, err
		}
		return l.lowerDistinct(p.Types(), appendOnly(p.Input), in.node), nil
	case *exec.SetOp:
		if p.Kind != exec.Union {
			return lowered{}, notIncremental([...]string{"UNION", "INTERSECT", "EXCEPT"}[p.Kind])
		}
		left, err := l.lower(p.Left)
		if err != nil {
			return lowered{}, err
		}
		right, err := l.lower(p.Right)
		if err != nil {
			return lowered{}, err
		}
		u := l.g.Add(&dataflow.Union{Typs: p.Types(), Inputs: 2}, left.node, right.node)
		if p.All {
			return lowered{node: u}, nil
		}
		return l.lowerDistinct(p.Types(), appendOnly(p.Left) && appendOnly(p.Right), u), nil
	case *exec.Sort:
		// A view is a set: ORDER BY without LIMIT does not change its rows.
		return l.lower(p.Input)
	case *exec.Limit:
		return l.lowerLimit(p)
	case *exec.Window:
		return lowered{}, notIncremental("a window function").
			WithHint("A view keeps the first N rows of each partition: SELECT … FROM (SELECT …, row_number() OVER (PARTITION BY … ORDER BY …) AS rn FROM …) s WHERE rn <= N (or rank(), dense_rank()).")
	case *exec.ProjectSet:
		return lowered{}, notIncremental("a set-returning function")
	case *exec.WindowAssign:
		return l.lowerWindow(p)
	case *exec.PointLookup, *exec.RangeScan:
		return lowered{}, sqlerr.Bug("planner: key lookup in a view plan")
	}
	return lowered{}, notIncremental(fmt.Sprintf("%T", p))
}

// lowerDistinct lowers a DISTINCT (or UNION's) over node, of columns typs,
// to the aggregate grouping by every column with no aggregate call: a row
// is a group, present while its count is positive, showing its key
// values. When some column's equal values are not identical (numeric 1.0
// and 1.00, float -0 and 0: not types.KeyIdentifies) the group keeps the
// values of the first row that made it, so that its retraction names the
// row shown, as PostgreSQL shows one of them. The aggregate spills under
// a memory limit (and takes packed or encoded keys into a flat table
// rather than a map of strings). A DISTINCT of no columns (SELECT
// DISTINCT FROM t: one empty row while t has any) is the Distinct
// operator: an aggregate without keys is the global one, which shows a
// row when t is empty too.
func (l *lowering) lowerDistinct(typs []*types.T, appendOnly bool, node int) lowered {
	key := coldata.AllColumns(len(typs))
	if len(typs) == 0 {
		return lowered{node: l.g.Add(&dataflow.Distinct{Typs: typs}, node), key: key}
	}
	spec := &dataflow.Aggregate{Keys: key, InTypes: typs, AppendOnly: appendOnly}
	return lowered{node: l.g.Add(spec, node), key: key}
}

// projectKey maps a key through a projection: it survives when every key
// column is passed through as a plain column reference.
func projectKey(key []int, exprs []expr.Expr) []int {
	if key == nil {
		return nil
	}
	out := make([]int, 0, len(key))
	for _, k := range key {
		found := -1
		for i, e := range exprs {
			if cr, ok := e.(*expr.ColRef); ok && cr.Idx == k {
				found = i
				break
			}
		}
		if found < 0 {
			return nil
		}
		out = append(out, found)
	}
	return out
}

// checkExprs refuses expressions whose value is not a function of the row:
// time-dependent and volatile functions, parameters, and subqueries that
// lowerFilter could not turn into joins.
func (l *lowering) checkExprs(es ...expr.Expr) error {
	var err error
	for _, e := range es {
		expr.Walk(e, func(x expr.Expr) bool {
			if err != nil {
				return false
			}
			switch x := x.(type) {
			case *expr.Call:
				switch {
				case timeDependent[x.Fn.Name]:
					err = notIncremental("the time-dependent function " + x.Fn.Name + "()")
				case x.Fn.Volatile:
					err = notIncremental("the volatile function " + x.Fn.Name + "()")
				}
			case *expr.Subquery:
				what := "a subquery in this position"
				if x.Correlated {
					what = "a correlated subquery"
				}
				err = notIncremental(what)
			case *expr.Param:
				err = notIncremental("a parameter")
			case *expr.OuterRef:
				err = notIncremental("a correlated subquery in this position")
			}
			return true
		})
	}
	return err
}

// lowerProject lowers a select list over in, whose columns are of types
// ts, computing the sub-expressions it would compute twice once, in a
// projection that appends them to its input (sharedExprs).
func (l *lowering) lowerProject(in lowered, exprs []expr.Expr, ts []*types.T) (lowered, error) {
	if err := l.checkExprs(exprs...); err != nil {
		return lowered{}, err
	}
	shared, exprs := sharedExprs(exprs, func(int) bool { return true }, len(ts))
	if len(shared) > 0 {
		ext := append(passThrough(ts), shared...)
		in = lowered{node: l.g.Add(&dataflow.Project{Exprs: ext}, in.node), key: projectKey(in.key, ext)}
	}
	return lowered{node: l.g.Add(&dataflow.Project{Exprs: exprs}, in.node), key: projectKey(in.key, exprs)}, nil
}

// lowerFilterProject lowers a select list over its input. Over a WHERE
// without subqueries, the sub-expressions the condition computes for
// every row and the select list computes again are computed once, before
// the filter (sharedExprs); the select list's own repeats after it.
func (l *lowering) lowerFilterProject(p *exec.Project) (lowered, error) {
	f, ok := p.Input.(*exec.Filter)
	if !ok || hasSubquery(f.Cond) {
		in, err := l.lower(p.Input)
		if err != nil {
			return lowered{}, err
		}
		return l.lowerProject(in, p.Exprs, p.Input.Types())
	}
	ts := f.Input.Types()
	shared, roots := sharedExprs(append([]expr.Expr{f.Cond}, p.Exprs...), func(i int) bool { return i == 0 }, len(ts))
	in, err := l.lower(f.Input)
	if err != nil {
		return lowered{}, err
	}
	if len(shared) == 0 {
		if in, err = l.lowerFilter(in, f.Cond, ts); err != nil {
			return lowered{}, err
		}
		return l.lowerProject(in, p.Exprs, ts)
	}
	if err := l.checkExprs(shared...); err != nil {
		return lowered{}, err
	}
	ext := append(passThrough(ts), shared...)
	in = lowered{node: l.g.Add(&dataflow.Project{Exprs: ext}, in.node), key: projectKey(in.key, ext)}
	wide := make([]*types.T, len(ext))
	for i, e := range ext {
		wide[i] = e.Type()
	}
	if in, err = l.lowerFilter(in, roots[0], wide); err != nil {
		return lowered{}, err
	}
	return l.lowerProject(in, roots[1:], wide)
}

// lowerFilter lowers WHERE/HAVING conditions. Uncorrelated subqueries in
// top-level conjuncts become joins: `x IN (SELECT …)` and `EXISTS (…)` a
// semi join, `NOT EXISTS (…)` an anti join, `x op (SELECT agg …)` a join with the subquery's single row.
func (l *lowering) lowerFilter(in lowered, cond expr.Expr, ts []*types.T) (lowered, error) {
	var rest []expr.Expr
	width := len(ts)
	cur := in
	for _, c := range splitAnd(cond) {
		exists := dataflow.SemiJoin
		if n, ok := c.(*expr.Not); ok {
			if sq, ok := n.Arg.(*expr.Subquery); ok && sq.Kind == expr.ExistsSubquery {
				c, exists = sq, dataflow.AntiJoin
			}
		}
		sq, rewrite := subqueryOf(c)
		if sq == nil {
			rest = append(rest, c)
			continue
		}
		if sq.Correlated {
			next, err := l.lowerCorrelated(cur, ts, sq, exists, rewrite)
			if err != nil {
				return lowered{}, err
			}
			cur = next
			continue
		}
		sub, err := l.lower(sq.Plan.(exec.Plan))
		if err != nil {
			return lowered{}, err
		}
		subTypes := sq.Plan.(exec.Plan).Types()
		switch sq.Kind {
		case expr.ExistsSubquery:
			cur.node = l.g.Add(&dataflow.Join{Kind: exists, LeftTypes: ts, RightTypes: subTypes}, cur.node, sub.node)
		case expr.AnySubquery:
			if sq.Cmp.Name != "=" || !sq.Arg.Type().Identical(subTypes[0]) {
				return lowered{}, notIncremental("IN (subquery) comparing different types or with an operator other than =")
			}
			if err := l.checkExprs(sq.Arg); err != nil {
				return lowered{}, err
			}
			// Append the IN argument as a column, semi-join on it, drop it.
			ext := append(passThrough(ts), sq.Arg)
			pn := l.g.Add(&dataflow.Project{Exprs: ext}, cur.node)
			jt := append(append([]*types.T(nil), ts...), sq.Arg.Type())
			jn := l.g.Add(&dataflow.Join{Kind: dataflow.SemiJoin, LeftKeys: []int{width}, RightKeys: []int{0}, LeftTypes: jt, RightTypes: subTypes}, pn, sub.node)
			cur.node = l.g.Add(&dataflow.Project{Exprs: passThrough(ts)}, jn)
		case expr.ScalarSubquery:
			if !singleRow(sq.Plan.(exec.Plan)) {
				return lowered{}, notIncremental("a scalar subquery that may return more than one row")
			}
			jt := append(append([]*types.T(nil), ts...), subTypes...)
			jn := l.g.Add(&dataflow.Join{Kind: dataflow.InnerJoin, LeftTypes: ts, RightTypes: subTypes}, cur.node, sub.node)
			ref := &expr.ColRef{Idx: width, Typ: subTypes[0], Name: "subquery"}
			fc := rewrite(ref)
			if err := l.checkExprs(fc); err != nil {
				return lowered{}, err
			}
			fn := l.g.Add(&dataflow.Filter{Cond: fc, Typs: jt}, jn)
			cur.node = l.g.Add(&dataflow.Project{Exprs: passThrough(ts)}, fn)
		default:
			rest = append(rest, c)
		}
	}
	if len(rest) == 0 {
		return cur, nil
	}
	if err := l.checkExprs(rest...); err != nil {
		return lowered{}, err
	}
	var rc expr.Expr = &expr.And{Args: rest}
	if len(rest) == 1 {
		rc = rest[0]
	}
	cur.node = l.g.Add(&dataflow.Filter{Cond: rc, Typs: ts}, cur.node)
	return cur, nil
}

// subqueryOf finds the subquery of a conjunct the lowering can join: the
// conjunct itself (EXISTS, IN), or one argument of a comparison. rewrite
// rebuilds the conjunct with the subquery replaced.
func subqueryOf(c expr.Expr) (*expr.Subquery, func(expr.Expr) expr.Expr) {
	if sq, ok := c.(*expr.Subquery); ok && (sq.Kind == expr.ExistsSubquery || sq.Kind == expr.AnySubquery) {
		return sq, nil
	}
	call, ok := c.(*expr.Call)
	if !ok || len(call.Args) != 2 || call.Typ.Family != types.BoolFamily {
		return nil, nil
	}
	for i, a := range call.Args {
		cast, _ := a.(*expr.Cast)
		if cast != nil {
			a = cast.Arg
		}
		if sq, ok := a.(*expr.Subquery); ok && sq.Kind == expr.ScalarSubquery {
			return sq, func(with expr.Expr) expr.Expr {
				if cast != nil {
					c := *cast
					c.Arg = with
					with = &c
				}
				args := append([]expr.Expr(nil), call.Args...)
				args[i] = with
				return &expr.Call{Fn: call.Fn, Args: args, Typ: call.Typ}
			}
		}
	}
	return nil, nil
}

// singleRow reports plans that always yield exactly one row.
func singleRow(p exec.Plan) bool {
	switch p := p.(type) {
	case *exec.HashAgg:
		return len(p.Keys) == 0
	case *exec.Project:
		return singleRow(p.Input)
	}
	return false
}

func passThrough(ts []*types.T) []expr.Expr {
	out := make([]expr.Expr, len(ts))
	for i, t := range ts {
		out[i] = &expr.ColRef{Idx: i, Typ: t, Name: fmt.Sprintf("c%d", i)}
	}
	return out
}

func (l *lowering) lowerValues(v *exec.Values) (lowered, error) {
	rows := coldata.NewChunk(v.Typs, len(v.Rows))
	one := &coldata.Chunk{Len: 1}
	for _, r := range v.Rows {
		if err := l.checkExprs(r...); err != nil {
			return lowered{}, err
		}
		vals := make([]types.Datum, len(r))
		for i, e := range r {
			vec, err := e.Eval(l.eval, one)
			if err != nil {
				return lowered{}, err
			}
			vals[i] = vec.Get(0)
		}
		rows.AppendRow(vals)
	}
	return lowered{node: l.g.Add(&dataflow.Constant{Rows: rows})}, nil
}

// incrementalAggs are the aggregates the dataflow maintains.
var incrementalAggs = map[exec.AggKind]bool{
	"count": true, "count_star": true, "sum": true, "avg": true, "min": true, "max": true,
	"bool_and": true, "bool_or": true, "every": true, "string_agg": true, "array_agg": true,
}

func (l *lowering) lowerAgg(a *exec.HashAgg) (lowered, error) {
	in, err := l.lower(a.Input)
	if err != nil {
		return lowered{}, err
	}
	for _, ag := range a.Aggs {
		if !incrementalAggs[ag.Kind] {
			return lowered{}, notIncremental("the aggregate " + string(ag.Kind) + "()")
		}
	}
	w, why := aggWindow(a)
	if a == l.onClose {
		if w == nil {
			return lowered{}, why.err()
		}
		w.OnClose = true
	}
	if s, ok := l.splitDistinct(a); ok {
		return l.lowerSplitDistinct(a, s, in, w), nil
	}
	spec := &dataflow.Aggregate{Keys: a.Keys, InTypes: a.Input.Types(), AppendOnly: appendOnly(a.Input), Window: w}
	for _, ag := range a.Aggs {
		kind := string(ag.Kind)
		if kind == "every" {
			kind = "bool_and"
		}
		call := dataflow.AggCall{Func: kind, Args: ag.Args, ArgTypes: ag.ArgTypes, Distinct: ag.Distinct, Filter: ag.Filter, Typ: ag.Typ,
			OrderBy: sortKeys(ag.OrderBy)}
		spec.Aggs = append(spec.Aggs, call)
	}
	return lowered{node: l.g.Add(spec, in.node), key: coldata.AllColumns(len(a.Keys))}, nil
}

func (l *lowering) lowerJoin(j *exec.Join) (lowered, error) {
	left, err := l.lower(j.Left)
	if err != nil {
		return lowered{}, err
	}
	right, err := l.lower(j.Right)
	if err != nil {
		return lowered{}, err
	}
	if j.Cond != nil {
		if err := l.checkExprs(j.Cond); err != nil {
			return lowered{}, err
		}
	}
	kind := map[exec.JoinKind]dataflow.JoinKind{
		exec.InnerJoin: dataflow.InnerJoin, exec.LeftJoin: dataflow.LeftJoin, exec.RightJoin: dataflow.RightJoin,
		exec.FullJoin: dataflow.FullJoin, exec.SemiJoin: dataflow.SemiJoin, exec.AntiJoin: dataflow.AntiJoin,
	}[j.Kind]
	spec := &dataflow.Join{Kind: kind, LeftKeys: j.LeftKeys, RightKeys: j.RightKeys, Cond: j.Cond,
		LeftTypes: j.Left.Types(), RightTypes: j.Right.Types(), Interval: joinInterval(j), Closing: joinClosing(j)}
	return lowered{node: l.g.Add(spec, left.node, right.node)}, nil
}

// sortKeys are an ORDER BY's keys as the dataflow's.
func sortKeys(keys []exec.SortKey) []dataflow.SortKey {
	var out []dataflow.SortKey
	for _, k := range keys {
		out = append(out, dataflow.SortKey{Col: k.Col, Desc: k.Desc, NullsFirst: k.NullsFirst})
	}
	return out
}

// lowerRowNumberTopN lowers the top-N per partition idiom under a
// projection (out, its expressions),
//
//	SELECT … FROM (SELECT …, row_number() OVER (PARTITION BY p ORDER BY o) AS rn FROM …) s
//	WHERE rn <= N
//
// to a top-N per group of p ranked by o ("the 10 highest bids of each
// auction"). Which of the rows tied at the N-th place are kept is the
// top-N's choice, as it is Postgres' for row_number; with rank() for
// row_number() the top-N keeps them all, and with dense_rank() the rows of
// the first N distinct values of o. Where nothing but
// the bound reads rn, its column is NULL: a row whose rank changes then
// changes no output row. ok is false when p is not the idiom.
func (l *lowering) lowerRowNumberTopN(p exec.Plan, out []expr.Expr) (_ lowered, ok bool, _ error) {
	filter, isFilter := p.(*exec.Filter)
	if !isFilter {
		return lowered{}, false, nil
	}
	sub, _ := filter.Input.(*exec.Project)
	var w *exec.Window
	if sub != nil {
		w, _ = sub.Input.(*exec.Window)
	} else {
		w, _ = filter.Input.(*exec.Window)
	}
	if w == nil || len(w.Funcs) != 1 {
		return lowered{}, false, nil
	}
	rank := w.Funcs[0].Name
	if rank != "row_number" && rank != "rank" && rank != "dense_rank" {
		return lowered{}, false, nil
	}
	// The window's output is its input and the row number; rn is the row
	// number's column in the filter's input, numbered whether anything
	// but the bound on it reads it.
	width := len(w.Input.Types())
	cols, rn, numbered := passThrough(w.Types()), width, false
	if sub != nil {
		cols, rn = sub.Exprs, -1
		for i, e := range cols {
			if c, isCol := e.(*expr.ColRef); isCol && c.Idx == width && rn < 0 {
				rn = i
			} else if reads(width+1, e)[width] {
				numbered = true
			}
		}
	}
	if rn < 0 {
		return lowered{}, false, nil
	}
	inWidth := len(filter.Input.Types())
	numbered = numbered || reads(inWidth, out...)[rn]
	limit := int64(-1)
	var rest []expr.Expr
	for _, c := range splitAnd(filter.Cond) {
		if n, isBound := l.rowNumberBound(c, rn); isBound {
			if limit < 0 || n < limit {
				limit = n
			}
			continue
		}
		numbered = numbered || reads(inWidth, c)[rn]
		rest = append(rest, c)
	}
	if limit < 0 {
		return lowered{}, false, nil
	}
	in, err := l.lower(w.Input)
	if err != nil {
		return lowered{}, false, err
	}
	spec := &dataflow.TopN{Group: slices.Clone(w.PartitionBy), Order: sortKeys(w.OrderBy), Limit: limit, Typs: w.Input.Types(),
		AppendOnly: appendOnly(w.Input), Numbered: numbered, WithTies: rank != "row_number", Dense: rank == "dense_rank"}
	exprs := cols
	if !numbered {
		exprs = slices.Clone(cols)
		exprs[rn] = &expr.Const{Typ: w.Funcs[0].Typ}
	}
	if err := l.checkExprs(exprs...); err != nil {
		return lowered{}, false, err
	}
	top := l.g.Add(spec, in.node)
	cur := lowered{node: l.g.Add(&dataflow.Project{Exprs: exprs}, top), key: projectKey(in.key, exprs)}
	if len(rest) > 0 {
		cur, err = l.lowerFilter(cur, &expr.And{Args: rest}, filter.Input.Types())
	}
	return cur, err == nil, err
}

// rowNumberBound returns N when c bounds row number column rn to at most
// N: rn <= N, rn < N + 1 or rn = 1, with a constant N.
func (l *lowering) rowNumberBound(c expr.Expr, rn int) (int64, bool) {
	op, value, ok := keyComparison(c, rn, types.Int8)
	if !ok {
		return 0, false
	}
	v, err := value.Eval(l.eval, &coldata.Chunk{Len: 1})
	if err != nil || v.IsNull(0) {
		return 0, false
	}
	n := v.Get(0).(int64)
	switch {
	case op == "<=":
		return max(n, 0), true
	case op == "<":
		return max(n-1, 0), true
	case op == "=" && n == 1:
		return 1, true
	}
	return 0, false
}

// lowerDistinctOn lowers SELECT DISTINCT ON (keys) … ORDER BY keys, rest
// to a top-1 per group of the keys, ranked by the rest of the ORDER BY:
// "the latest reading of each sensor". The keys are the view's key.
func (l *lowering) lowerDistinctOn(d *exec.Distinct) (lowered, error) {
	input := d.Input
	var order []dataflow.SortKey
	if s, ok := input.(*exec.Sort); ok {
		// The ORDER BY starts with the DISTINCT ON keys (the binder checks
		// it); within a group they are equal and do not order.
		order = sortKeys(s.Keys[min(len(d.OnKeys), len(s.Keys)):])
		input = s.Input
	}
	in, err := l.lower(input)
	if err != nil {
		return lowered{}, err
	}
	spec := &dataflow.TopN{Group: d.OnKeys, Order: order, Limit: 1, Typs: d.Types(), AppendOnly: appendOnly(input)}
	return lowered{node: l.g.Add(spec, in.node), key: slices.Clone(d.OnKeys)}, nil
}

func (l *lowering) lowerLimit(lim *exec.Limit) (lowered, error) {
	count, offset := int64(-1), int64(0)
	for _, x := range []struct {
		e   expr.Expr
		dst *int64
	}{{lim.Count, &count}, {lim.Offset, &offset}} {
		if x.e == nil {
			continue
		}
		v, err := x.e.Eval(l.eval, &coldata.Chunk{Len: 1})
		if err != nil {
			return lowered{}, notIncremental("a LIMIT or OFFSET that is not a constant")
		}
		if v.IsNull(0) {
			continue
		}
		n, ok := v.Get(0).(int64)
		if !ok || n < 0 {
			return lowered{}, notIncremental("a LIMIT or OFFSET that is not a non-negative integer")
		}
		*x.dst = n
	}
	input := lim.Input
	var order []dataflow.SortKey
	sort, ok := input.(*exec.Sort)
	if d, isOn := input.(*exec.Distinct); isOn && len(d.OnKeys) > 0 {
		// DISTINCT ON's rows are limited in its ORDER BY, which is below it.
		sort, ok = d.Input.(*exec.Sort)
	} else if ok {
		input = sort.Input
	}
	if ok {
		order = sortKeys(sort.Keys)
	}
	in, err := l.lower(input)
	if err != nil {
		return lowered{}, err
	}
	spec := &dataflow.TopN{Order: order, Limit: count, Offset: offset, Typs: lim.Types(), AppendOnly: appendOnly(input), WithTies: lim.Ties != nil}
	return lowered{node: l.g.Add(spec, in.node)}, nil
}

// lowerWindow lowers TUMBLE, HOP and CUMULATE to a flat map. A keyed
// input's key with window_end is a key: a row's windows have distinct ends.
// SESSION, where a row can extend, merge or split other rows' sessions,
// lowers to a stateful operator partitioned by SESSION's partition columns;
// it outputs each input row once, so a key of the input stays one. When the
// time is the input's event time, sessions the watermark has closed are
// freed.
func (l *lowering) lowerWindow(w *exec.WindowAssign) (lowered, error) {
	in, err := l.lower(w.Input)
	if err != nil {
		return lowered{}, err
	}
	ts := w.Input.Types()
	if w.Spec.Kind == timewindow.Session {
		partition := make([]int, len(w.PartitionBy))
		for i, p := range w.PartitionBy {
			partition[i] = p.Idx
		}
		sw := &dataflow.SessionWindow{Spec: w.Spec, Time: w.Time, PartitionBy: partition, InTypes: ts, Closes: eventTime(w.Input, w.Time.Idx)}
		return lowered{node: l.g.Add(sw, in.node), key: in.key}, nil
	}
	var key []int
	if in.key != nil {
		key = append(append([]int{}, in.key...), len(ts)+1)
	}
	return lowered{node: l.g.Add(&dataflow.WindowAssign{Spec: w.Spec, Time: w.Time, InTypes: ts}, in.node), key: key}, nil
}

// EventTimes lists the view's columns that its watermark bounds, for its
// catalog descriptor, by the names its columns get (names).
func (vp *ViewPlan) EventTimes(names []string) []catalog.ViewTime {
	var out []catalog.ViewTime
	for i, name := range names {
		if b, ok := vp.TimeBounds[i]; ok {
			out = append(out, catalog.ViewTime{Column: name, LagMicros: b.Lag, GridMicros: b.Grid, GridOffsetMicros: b.Offset})
		}
	}
	return out
}
