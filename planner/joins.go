package planner

import (
	"github.com/sluice-db/sluice/exec"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/types"
)

// joinOn sets j's keys and condition from the conjuncts conds of its ON
// (or WHERE) clause, whose columns below split are the left input's. An
// equality of a column of each side is a key. So is an equality of two
// expressions each reading columns of one side only (a.x = b.y + 1,
// date_trunc('minute', a.t) = b.m): each side computes its expressions as
// extra last columns to hash on, which a projection above the join drops
// again, so the result has j's columns. Left in the condition, such an
// equality made a nested loop over every pair of rows (Nexmark q13 took
// minutes instead of a second).
func joinOn(j *exec.Join, conds []expr.Expr, split int) exec.Plan {
	lts, rts := j.Left.Types(), j.Right.Types()
	// A subquery's outer references read the joined row by position: the
	// left input's extra columns would move the right input's under them.
	keyExprs := !hasSubquery(&expr.And{Args: conds})
	var rest, lx, rx []expr.Expr
	// key returns the column of an input with e's value: e's own if it is
	// a column (or an integer column widened, as the binder does to compare
	// integers of two widths: integers hash by value whatever their width;
	// a narrowing cast can fail), else a new one computing it.
	key := func(e expr.Expr, width int, extra *[]expr.Expr) int {
		if c, ok := e.(*expr.Cast); ok && c.To.Family == types.IntFamily && c.Arg.Type().Family == types.IntFamily &&
			(!c.Explicit || c.To.Oid == types.Int8.Oid) {
			if col, ok := c.Arg.(*expr.ColRef); ok {
				return col.Idx
			}
		}
		if c, ok := e.(*expr.ColRef); ok {
			return c.Idx
		}
		*extra = append(*extra, e)
		return width + len(*extra) - 1
	}
	for _, c := range conds {
		if hasSubquery(c) {
			rest = append(rest, c)
			continue
		}
		if l, r, ok := equiKey(c, split); ok {
			j.LeftKeys = append(j.LeftKeys, l)
			j.RightKeys = append(j.RightKeys, r-split)
			continue
		}
		if l, r, ok := exprKey(c, split); ok && keyExprs {
			j.LeftKeys = append(j.LeftKeys, key(l, len(lts), &lx))
			j.RightKeys = append(j.RightKeys, key(shiftCols(r, 0, -split), len(rts), &rx))
			continue
		}
		rest = append(rest, c)
	}
	j.Cond = andOf(rest)
	if len(lx) == 0 && len(rx) == 0 {
		return j
	}
	if len(lx) > 0 {
		j.Left = &exec.Project{Input: j.Left, Exprs: append(passColumns(j.Left), lx...)}
	}
	if len(rx) > 0 {
		j.Right = &exec.Project{Input: j.Right, Exprs: append(passColumns(j.Right), rx...)}
	}
	// The right input's columns come after the left's extra ones now.
	j.Cond = shiftCols(j.Cond, split, len(lx))
	all := passColumns(j)
	out := all[:len(lts)]
	if j.Kind != exec.SemiJoin && j.Kind != exec.AntiJoin {
		out = append(out, all[len(lts)+len(lx):len(lts)+len(lx)+len(rts)]...)
	}
	return &exec.Project{Input: j, Exprs: out}
}

// exprKey recognises `l = r` where l reads only columns below split (the
// left input's) and r only columns at or after it, or the mirror image, with
// types that hash alike (as equiKey), and both sides deterministic: each is
// then computed once per row of its input instead of once per pair.
func exprKey(e expr.Expr, split int) (l, r expr.Expr, ok bool) {
	call, ok := e.(*expr.Call)
	if !ok || call.Fn.Name != "=" || len(call.Args) != 2 {
		return nil, nil, false
	}
	l, r = call.Args[0], call.Args[1]
	llo, lhi, okL := colRange(l)
	rlo, rhi, okR := colRange(r)
	if !okL || !okR {
		return nil, nil, false
	}
	if llo >= split && rhi < split {
		l, r = r, l
		llo, lhi, rlo, rhi = rlo, rhi, llo, lhi
	}
	if lhi >= split || rlo < split || !deterministic(l) || !deterministic(r) {
		return nil, nil, false
	}
	tl, tr := l.Type(), r.Type()
	if tl.Oid != tr.Oid && !(tl.Family == types.IntFamily && tr.Family == types.IntFamily) {
		return nil, nil, false
	}
	return l, r, true
}

// timeDependent are the functions whose value depends on when they run.
var timeDependent = map[string]bool{
	"now": true, "statement_timestamp": true, "transaction_timestamp": true, "current_date": true,
	"current_time": true, "localtime": true, "localtimestamp": true, "current_timestamp": true,
}

// readsMore names the functions, neither volatile nor in timeDependent,
// whose value depends on more than their arguments: age(x) counts from
// the transaction's date, current_setting reads any setting. NB: a new
// function reading EvalCtx's clock or settings belongs here or is
// volatile, or results shared across sessions (Planned.Repeatable) go
// stale.
var readsMore = map[string]bool{"age": true, "current_setting": true}

// deterministic reports whether e is a function of its row's columns alone:
// no volatile or time-dependent function, no subquery, no outer reference.
// Only such an expression can move to where it is evaluated on other rows
// or at another time.
func deterministic(e expr.Expr) bool {
	ok := true
	expr.Walk(e, func(x expr.Expr) bool {
		switch x := x.(type) {
		case *expr.Call:
			ok = ok && !x.Fn.Volatile && !timeDependent[x.Fn.Name]
		case *expr.Subquery, *expr.OuterRef:
			ok = false
		}
		return ok
	})
	return ok
}

// shiftCols moves the columns at or after from of e by delta.
func shiftCols(e expr.Expr, from, delta int) expr.Expr {
	return remapCols(e, func(i int) int {
		if i >= from {
			return i + delta
		}
		return i
	})
}

// remapCols renumbers the columns e reads.
func remapCols(e expr.Expr, to func(int) int) expr.Expr {
	return expr.Map(e, func(x expr.Expr) expr.Expr {
		if c, ok := x.(*expr.ColRef); ok {
			return &expr.ColRef{Idx: to(c.Idx), Typ: c.Typ, Name: c.Name}
		}
		return x
	})
}

// passColumns refers to every column of p, by the names colName finds.
func passColumns(p exec.Plan) []expr.Expr {
	ts := p.Types()
	out := make([]expr.Expr, len(ts))
	for i, t := range ts {
		out[i] = &expr.ColRef{Idx: i, Typ: t, Name: colName(p, i)}
	}
	return out
}

// colName names column i of p for plans that print: the table column or
// column reference it passes on, or "".
func colName(p exec.Plan, i int) string {
	for {
		switch q := p.(type) {
		case *exec.Scan:
			if i < len(q.Table.ColNames) {
				return q.Table.ColNames[i]
			}
			return ""
		case *exec.Project:
			c, ok := q.Exprs[i].(*expr.ColRef)
			if !ok {
				return ""
			}
			if c.Name != "" {
				return c.Name
			}
			p, i = q.Input, c.Idx
		case *exec.Filter:
			p = q.Input
		case *exec.WindowAssign:
			switch n := len(q.Input.Types()); i {
			case n:
				return "window_start"
			case n + 1:
				return "window_end"
			}
			p = q.Input
		case *exec.Join:
			if n := len(q.Left.Types()); i >= n {
				p, i = q.Right, i-n
			} else {
				p = q.Left
			}
		default:
			return ""
		}
	}
}
