package planner

import (
	"github.com/sluice-db/sluice/dataflow"
	"github.com/sluice-db/sluice/exec"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/types"
)

// decorrelated is a correlated subquery turned into a plain relation: plan
// yields the subquery's own columns followed by extra columns carried up
// from its filters. An extra column j with outer[j] set is a correlation
// key: joining the outer row to plan on outer[j] = column width+j gives, per
// outer row, the rows the subquery would have returned for it. residual
// holds the other conditions on the outer row, for the join to evaluate:
// their ColRef j is extra column j and their OuterRefs the outer row.
type decorrelated struct {
	plan     exec.Plan
	width    int // the subquery's own columns
	outer    []expr.Expr
	residual []expr.Expr
}

// decorrelate pulls the conditions on the outer row out of a correlated
// subquery's filters and carries the inner columns they need up as extra
// columns, grouping by the keys of equalities where the subquery aggregates.
// keylessAgg allows an aggregate without GROUP BY at the top: grouped by the
// keys it loses the row it yields over no input, which the caller restores.
func decorrelate(p exec.Plan, keylessAgg bool) (*decorrelated, error) {
	d, err := pullKeys(p, keylessAgg)
	if err != nil {
		return nil, err
	}
	d.width = len(p.Types())
	return d, nil
}

func pullKeys(p exec.Plan, keylessAgg bool) (*decorrelated, error) {
	switch p := p.(type) {
	case *exec.Filter:
		return pullFilterKeys(p)
	case *exec.Project:
		in, err := pullKeys(p.Input, keylessAgg)
		if err != nil {
			return nil, err
		}
		if err := refuseOuterRefs(p.Exprs...); err != nil {
			return nil, err
		}
		n := len(p.Input.Types())
		exprs := append([]expr.Expr(nil), p.Exprs...)
		exprs = append(exprs, columnRefs(in.plan.Types(), n)...)
		in.plan = &exec.Project{Input: in.plan, Exprs: exprs}
		return in, nil
	case *exec.Distinct:
		if len(p.OnKeys) > 0 {
			return nil, notIncremental("DISTINCT ON")
		}
		in, err := pullKeys(p.Input, false)
		if err != nil {
			return nil, err
		}
		in.plan = &exec.Distinct{Input: in.plan}
		return in, nil
	case *exec.HashAgg:
		in, err := pullKeys(p.Input, false)
		if err != nil {
			return nil, err
		}
		if len(in.outer) == 0 {
			return &decorrelated{plan: p}, nil
		}
		if len(in.residual) > 0 {
			return nil, notIncremental("an aggregating subquery whose condition on the outer query is not an equality")
		}
		if len(p.Keys) == 0 && !keylessAgg {
			return nil, notIncremental("a correlated subquery aggregating without GROUP BY in this position")
		}
		n := len(p.Input.Types())
		agg := &exec.HashAgg{Input: in.plan, Keys: append([]int(nil), p.Keys...), Aggs: p.Aggs}
		for i := range in.outer {
			agg.Keys = append(agg.Keys, n+i)
		}
		// Output the original columns first and the keys last, as every
		// decorrelated plan does.
		ts := agg.Types()
		var order []int
		for i := range p.Keys {
			order = append(order, i)
		}
		for j := range p.Aggs {
			order = append(order, len(agg.Keys)+j)
		}
		for i := range in.outer {
			order = append(order, len(p.Keys)+i)
		}
		exprs := make([]expr.Expr, len(order))
		for i, c := range order {
			exprs[i] = &expr.ColRef{Idx: c, Typ: ts[c], Name: "c"}
		}
		return &decorrelated{plan: &exec.Project{Input: agg, Exprs: exprs}, outer: in.outer}, nil
	case *exec.Sort:
		return pullKeys(p.Input, keylessAgg)
	}
	// Any other operator must be uncorrelated below: lowering refuses the
	// outer references it finds.
	return &decorrelated{plan: p}, nil
}

// pullFilterKeys splits a filter into the conditions on the outer row,
// whose inner sides become extra columns, and the rest.
func pullFilterKeys(f *exec.Filter) (*decorrelated, error) {
	in, err := pullKeys(f.Input, false)
	if err != nil {
		return nil, err
	}
	var rest, inner []expr.Expr
	extra := func(e expr.Expr, outer expr.Expr) int {
		inner = append(inner, e)
		in.outer = append(in.outer, outer)
		return len(in.outer) - 1
	}
	for _, c := range splitAnd(f.Cond) {
		if !hasOuterRef(c) {
			rest = append(rest, c)
			continue
		}
		if i, o, ok := correlationEquality(c); ok {
			ot, err := outerExpr(o)
			if err != nil {
				return nil, err
			}
			extra(i, ot)
			continue
		}
		if hasSubquery(c) {
			return nil, notIncremental("a subquery nested in a correlated subquery's condition on the outer query")
		}
		// Carry each inner column the condition reads; the join evaluates it.
		carried := map[int]int{}
		in.residual = append(in.residual, expr.Map(c, func(x expr.Expr) expr.Expr {
			ref, ok := x.(*expr.ColRef)
			if !ok {
				return x
			}
			j, seen := carried[ref.Idx]
			if !seen {
				j = extra(ref, nil)
				carried[ref.Idx] = j
			}
			return &expr.ColRef{Idx: j, Typ: ref.Typ, Name: ref.Name}
		}))
	}
	var plan exec.Plan = in.plan
	if len(rest) > 0 {
		plan = &exec.Filter{Input: plan, Cond: andOf(rest)}
	}
	if len(inner) > 0 {
		exprs := append(columnRefs(plan.Types(), 0), inner...)
		plan = &exec.Project{Input: plan, Exprs: exprs}
	}
	in.plan = plan
	return in, nil
}

// correlationEquality matches `inner = outer` in either order, where inner
// reads only the subquery's row and outer only the outer row, both of one
// type so that the join compares their keys as = does.
func correlationEquality(c expr.Expr) (inner, outer expr.Expr, ok bool) {
	call, isCall := c.(*expr.Call)
	if !isCall || call.Fn.Name != "=" || len(call.Args) != 2 {
		return nil, nil, false
	}
	a, b := call.Args[0], call.Args[1]
	if hasOuterRef(a) {
		a, b = b, a
	}
	if hasOuterRef(a) || !onlyOuterRefs(b) || !a.Type().Identical(b.Type()) {
		return nil, nil, false
	}
	return a, b, true
}

// outerExpr rewrites an expression over the immediately enclosing query's row
// into one over that row as a chunk.
func outerExpr(e expr.Expr) (expr.Expr, error) {
	var err error
	out := expr.Map(e, func(x expr.Expr) expr.Expr {
		o, ok := x.(*expr.OuterRef)
		if !ok {
			return x
		}
		if o.Level != 1 {
			err = notIncremental("a subquery correlated with a query more than one level out")
		}
		return &expr.ColRef{Idx: o.Idx, Typ: o.Typ, Name: o.Name}
	})
	return out, err
}

func hasOuterRef(e expr.Expr) bool {
	found := false
	expr.Walk(e, func(x expr.Expr) bool {
		switch x.(type) {
		case *expr.OuterRef:
			found = true
		case *expr.Subquery:
			// A nested subquery may refer to this one's outer row too.
			found = found || x.(*expr.Subquery).Correlated
		}
		return !found
	})
	return found
}

// onlyOuterRefs reports expressions computed from the outer row alone.
func onlyOuterRefs(e expr.Expr) bool {
	ok := true
	expr.Walk(e, func(x expr.Expr) bool {
		switch x.(type) {
		case *expr.ColRef, *expr.Subquery, *expr.Param:
			ok = false
		}
		return ok
	})
	return ok
}

func refuseOuterRefs(es ...expr.Expr) error {
	for _, e := range es {
		if hasOuterRef(e) {
			return notIncremental("a correlated subquery referring to the outer query outside its WHERE equalities")
		}
	}
	return nil
}

// columnRefs refers to columns from..len(ts)-1 of a row typed ts.
func columnRefs(ts []*types.T, from int) []expr.Expr {
	out := make([]expr.Expr, 0, len(ts)-from)
	for i := from; i < len(ts); i++ {
		out = append(out, &expr.ColRef{Idx: i, Typ: ts[i], Name: "c"})
	}
	return out
}

// emptyAggValue is what an aggregate yields over no rows where that is not
// NULL: a decorrelated scalar aggregate has no group for an outer row whose
// subquery saw nothing, and the join leaves NULL in its place.
func emptyAggValue(a exec.AggSpec, col expr.Expr) expr.Expr {
	switch a.Kind {
	case "count", "count_star":
		return &expr.Coalesce{Args: []expr.Expr{col, &expr.Const{Typ: a.Typ, Val: int64(0)}}, Typ: a.Typ}
	}
	return col
}

// lowerCorrelated joins the outer rows (typed ts) to a decorrelated subquery
// on its keys: EXISTS and IN become semi joins (NOT EXISTS an anti join, as
// exists says), a scalar aggregate a left
// join whose missing groups take the aggregate's value over no rows.
func (l *lowering) lowerCorrelated(cur lowered, ts []*types.T, sq *expr.Subquery, exists dataflow.JoinKind, rewrite func(expr.Expr) expr.Expr) (lowered, error) {
	plan := sq.Plan.(exec.Plan)
	var top *exec.Project
	if sq.Kind == expr.ScalarSubquery {
		if !singleRow(plan) {
			return lowered{}, notIncremental("a scalar subquery that may return more than one row")
		}
		if p, ok := plan.(*exec.Project); ok {
			top, plan = p, p.Input
		}
		if _, ok := plan.(*exec.HashAgg); !ok {
			return lowered{}, notIncremental("this form of correlated scalar subquery")
		}
		if err := refuseOuterRefs(exprsOf(top)...); err != nil {
			return lowered{}, err
		}
	}
	d, err := decorrelate(plan, sq.Kind == expr.ScalarSubquery)
	if err != nil {
		return lowered{}, err
	}
	if len(d.outer) == 0 {
		return lowered{}, notIncremental("a correlated subquery referring to the outer query outside its WHERE")
	}
	if len(d.residual) > 0 && sq.Kind == expr.ScalarSubquery {
		return lowered{}, notIncremental("a scalar subquery whose condition on the outer query is not an equality")
	}
	sub, err := l.lower(d.plan)
	if err != nil {
		return lowered{}, err
	}
	subTypes := d.plan.Types()
	ext := passThrough(ts)
	var leftKeys, rightKeys []int
	for j, o := range d.outer {
		if o != nil {
			leftKeys, rightKeys = append(leftKeys, len(ext)), append(rightKeys, d.width+j)
			ext = append(ext, o)
		}
	}
	if sq.Kind == expr.AnySubquery {
		if sq.Cmp.Name != "=" || !sq.Arg.Type().Identical(subTypes[0]) {
			return lowered{}, notIncremental("IN (subquery) comparing different types or with an operator other than =")
		}
		leftKeys, rightKeys = append(leftKeys, len(ext)), append(rightKeys, 0)
		ext = append(ext, sq.Arg)
	}
	cond, err := residualCond(d, len(ext))
	if err != nil {
		return lowered{}, err
	}
	if err := l.checkExprs(ext...); err != nil {
		return lowered{}, err
	}
	extTypes := make([]*types.T, len(ext))
	for i, e := range ext {
		extTypes[i] = e.Type()
	}
	pn := l.g.Add(&dataflow.Project{Exprs: ext}, cur.node)
	switch sq.Kind {
	case expr.ExistsSubquery, expr.AnySubquery:
		kind := dataflow.SemiJoin
		if sq.Kind == expr.ExistsSubquery {
			kind = exists
		}
		jn := l.g.Add(&dataflow.Join{Kind: kind, LeftKeys: leftKeys, RightKeys: rightKeys, Cond: cond, LeftTypes: extTypes, RightTypes: subTypes}, pn, sub.node)
		cur.node = l.g.Add(&dataflow.Project{Exprs: passThrough(ts)}, jn)
		return cur, nil
	case expr.ScalarSubquery:
		jn := l.g.Add(&dataflow.Join{Kind: dataflow.LeftJoin, LeftKeys: leftKeys, RightKeys: rightKeys, LeftTypes: extTypes, RightTypes: subTypes}, pn, sub.node)
		jt := append(append([]*types.T(nil), extTypes...), subTypes...)
		aggs := plan.(*exec.HashAgg).Aggs
		aggCol := func(i int) expr.Expr {
			return emptyAggValue(aggs[i], &expr.ColRef{Idx: len(ext) + i, Typ: aggs[i].Typ, Name: "subquery"})
		}
		value := aggCol(0)
		if top != nil {
			value = expr.Map(top.Exprs[0], func(x expr.Expr) expr.Expr {
				if c, ok := x.(*expr.ColRef); ok {
					return aggCol(c.Idx)
				}
				return x
			})
		}
		fc := rewrite(value)
		if err := l.checkExprs(fc); err != nil {
			return lowered{}, err
		}
		fn := l.g.Add(&dataflow.Filter{Cond: fc, Typs: jt}, jn)
		cur.node = l.g.Add(&dataflow.Project{Exprs: passThrough(ts)}, fn)
		return cur, nil
	}
	return lowered{}, notIncremental("this kind of correlated subquery")
}

func exprsOf(p *exec.Project) []expr.Expr {
	if p == nil {
		return nil
	}
	return p.Exprs
}

// residualCond is the join condition of d's residual conditions, over the
// outer row's columns (left) then the subquery's of which extra column j
// is at right+d.width+j.
func residualCond(d *decorrelated, left int) (expr.Expr, error) {
	var conds []expr.Expr
	for _, c := range d.residual {
		var err error
		conds = append(conds, expr.Map(c, func(x expr.Expr) expr.Expr {
			switch x := x.(type) {
			case *expr.ColRef:
				return &expr.ColRef{Idx: left + d.width + x.Idx, Typ: x.Typ, Name: x.Name}
			case *expr.OuterRef:
				if x.Level != 1 {
					err = notIncremental("a subquery correlated with a query more than one level out")
				}
				return &expr.ColRef{Idx: x.Idx, Typ: x.Typ, Name: x.Name}
			}
			return x
		}))
		if err != nil {
			return nil, err
		}
	}
	return andOf(conds), nil
}
