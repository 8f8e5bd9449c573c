package planner

import (
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/sluice-db/sluice/exec"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// collectSRFs finds set-returning function calls in a select-list
// expression, not descending into subqueries or into the calls themselves.
func collectSRFs(n *pg.Node, out *[]*pg.FuncCall) {
	if n == nil || n.GetSubLink() != nil {
		return
	}
	if fc := n.GetFuncCall(); fc != nil && fc.Over == nil && expr.IsSetReturning(funcName(fc)) {
		*out = append(*out, fc)
		return
	}
	nodeChildren(n, func(c *pg.Node) { collectSRFs(c, out) })
}

// bindSRFs evaluates the select list's set-returning calls in a ProjectSet
// below the projection, so `SELECT generate_series(1, 3) + 10` yields rows.
func (b *binder) bindSRFs(plan exec.Plan, s *scope, calls []*pg.FuncCall) (exec.Plan, *scope, error) {
	ps := &exec.ProjectSet{Input: plan}
	out := &scope{parent: s.parent, cols: append([]scopeCol(nil), s.cols...)}
	for i, c := range s.cols {
		ps.Exprs = append(ps.Exprs, &expr.ColRef{Idx: i, Typ: c.typ})
		ps.SRF = append(ps.SRF, false)
		ps.Typs = append(ps.Typs, c.typ)
	}
	cols := map[*pg.FuncCall]int{}
	for _, fc := range calls {
		e, err := b.bindExpr(&pg.Node{Node: &pg.Node_FuncCall{FuncCall: fc}}, s)
		if err != nil {
			return nil, nil, err
		}
		t := e.Type()
		if t.Family != types.ArrayFamily || t.Elem.Family == types.ArrayFamily {
			return nil, nil, sqlerr.Unsupported("set-returning function %s returning records is not supported in the select list", funcName(fc)).At(loc(fc.Location))
		}
		cols[fc] = len(ps.Exprs)
		ps.Exprs = append(ps.Exprs, e)
		ps.SRF = append(ps.SRF, true)
		ps.Typs = append(ps.Typs, t.Elem)
		out.cols = append(out.cols, scopeCol{hidden: true, qualOnly: true, typ: t.Elem})
	}
	g := b.grouping
	if g == nil {
		g = &grouping{}
	}
	g.srfs = cols
	b.grouping = g
	return ps, out, nil
}
