package planner

import (
	"github.com/sluice-db/sluice/exec"
	"github.com/sluice-db/sluice/expr"
)

// pruneColumns narrows a query's plan so that a join's inputs carry only
// the columns the plan reads of them: its keys, what its condition reads
// and what is read above it. A join keeps every row of both inputs in its
// state, whole: joining wide streams (Nexmark's bids and auctions) held
// every column of every row, read or not (a batch hash join builds its
// right input in memory alike). Projections below a join are
// what narrow it; projections are also pushed through filters and
// merged, so that columns nothing reads are neither computed nor passed.
// The plan's own columns stay as they are.
func pruneColumns(p exec.Plan) exec.Plan {
	out, _ := prune(p, all(len(p.Types())))
	return out
}

// prune returns p with at least the columns need marks, and where each
// column of p went (-1: dropped). Nodes it does not narrow keep their
// columns, and their inputs all of theirs; it does not enter subquery
// plans, and below an expression with a subquery (whose outer references
// read its row by position) it keeps every column.
func prune(p exec.Plan, need []bool) (exec.Plan, []int) {
	switch q := p.(type) {
	case *exec.Project:
		var exprs []expr.Expr
		moved := make([]int, len(q.Exprs))
		for i, e := range q.Exprs {
			moved[i] = -1
			if need[i] {
				moved[i] = len(exprs)
				exprs = append(exprs, e)
			}
		}
		if len(exprs) == 0 && len(q.Exprs) > 0 {
			// Keep a column: a row of no columns is not worth a new case
			// for the operators below.
			moved[0], exprs = 0, q.Exprs[:1]
		}
		in, m := prune(q.Input, reads(len(q.Input.Types()), exprs...))
		return project(in, remapAll(exprs, m)), moved
	case *exec.Filter:
		in, m := prune(q.Input, or(need, reads(len(need), q.Cond)))
		return &exec.Filter{Input: in, Cond: remapAll([]expr.Expr{q.Cond}, m)[0]}, m
	case *exec.Join:
		return pruneJoin(q, need)
	case *exec.HashAgg:
		c := *q
		c.Input = pruneAll(q.Input)
		return &c, identity(len(need))
	case *exec.Sort:
		c := *q
		c.Input = pruneAll(q.Input)
		return &c, identity(len(need))
	case *exec.Limit:
		c := *q
		c.Input = pruneAll(q.Input)
		return &c, identity(len(need))
	case *exec.Distinct:
		c := *q
		c.Input = pruneAll(q.Input)
		return &c, identity(len(need))
	case *exec.WindowAssign:
		c := *q
		c.Input = pruneAll(q.Input)
		return &c, identity(len(need))
	case *exec.SetOp:
		c := *q
		c.Left, c.Right = pruneAll(q.Left), pruneAll(q.Right)
		return &c, identity(len(need))
	}
	return p, identity(len(need))
}

// pruneJoin narrows each input of j to the columns read of it, below the
// join.
func pruneJoin(j *exec.Join, need []bool) (exec.Plan, []int) {
	nl, nr := len(j.Left.Types()), len(j.Right.Types())
	var cond []bool
	if j.Cond != nil {
		cond = reads(nl+nr, j.Cond)
	}
	ln, rn := make([]bool, nl), make([]bool, nr)
	for i := range ln {
		ln[i] = need[i] || cond != nil && cond[i]
	}
	for i := range rn {
		// Semi and anti joins output the left columns only.
		above := nl+i < len(need) && need[nl+i]
		rn[i] = above || cond != nil && cond[nl+i]
	}
	for k := range j.LeftKeys {
		ln[j.LeftKeys[k]], rn[j.RightKeys[k]] = true, true
	}
	left, ml := narrow(j.Left, ln)
	right, mr := narrow(j.Right, rn)
	c := *j
	c.Left, c.Right = left, right
	c.LeftKeys, c.RightKeys = make([]int, len(j.LeftKeys)), make([]int, len(j.RightKeys))
	for k := range j.LeftKeys {
		c.LeftKeys[k], c.RightKeys[k] = ml[j.LeftKeys[k]], mr[j.RightKeys[k]]
	}
	width := len(left.Types())
	m := make([]int, nl+nr)
	copy(m, ml)
	for i, to := range mr {
		m[nl+i] = -1
		if to >= 0 {
			m[nl+i] = width + to
		}
	}
	if j.Cond != nil {
		c.Cond = remapAll([]expr.Expr{j.Cond}, m)[0]
	}
	return &c, m[:len(need)]
}

// narrow returns p pruned to exactly the columns need marks, and where
// each column of p went.
func narrow(p exec.Plan, need []bool) (exec.Plan, []int) {
	in, m := prune(p, need)
	if q, ok := in.(*exec.Project); ok && passesOn(q) {
		// A select list that is all of its input's columns, in order
		// (a subquery's or CTE's over a narrowed join) is a node less.
		in = q.Input
	}
	ts := in.Types()
	var exprs []expr.Expr
	moved := make([]int, len(need))
	for i, to := range m {
		moved[i] = -1
		if need[i] {
			moved[i] = len(exprs)
			exprs = append(exprs, &expr.ColRef{Idx: to, Typ: ts[to], Name: colName(in, to)})
		}
	}
	if len(exprs) == 0 || len(exprs) == len(ts) {
		return in, m // nothing to drop; or a row of no columns (see prune)
	}
	return project(in, exprs), moved
}

// project is a projection of in onto exprs. Over a projection it is the
// one projection of both, when that evaluates no expression of the inner
// one twice (a volatile one would differ, any other cost twice).
func project(in exec.Plan, exprs []expr.Expr) exec.Plan {
	if inner, ok := in.(*exec.Project); ok && !hasSubquery(&expr.And{Args: exprs}) {
		uses := make([]int, len(inner.Exprs))
		for _, e := range exprs {
			expr.Walk(e, func(x expr.Expr) bool {
				if c, ok := x.(*expr.ColRef); ok {
					uses[c.Idx]++
				}
				return true
			})
		}
		once := true
		for i, e := range inner.Exprs {
			if _, col := e.(*expr.ColRef); !col && uses[i] > 1 {
				once = false
			}
		}
		if once {
			composed := make([]expr.Expr, len(exprs))
			for i, e := range exprs {
				composed[i] = expr.Map(e, func(x expr.Expr) expr.Expr {
					c, ok := x.(*expr.ColRef)
					if !ok {
						return x
					}
					if ic, ok := inner.Exprs[c.Idx].(*expr.ColRef); ok && c.Name != "" {
						return &expr.ColRef{Idx: ic.Idx, Typ: c.Typ, Name: c.Name}
					}
					return inner.Exprs[c.Idx]
				})
			}
			in, exprs = inner.Input, composed
		}
	}
	return &exec.Project{Input: in, Exprs: exprs}
}

// passesOn reports whether p outputs its input's columns as they are.
func passesOn(p *exec.Project) bool {
	if len(p.Exprs) != len(p.Input.Types()) {
		return false
	}
	for i, e := range p.Exprs {
		if c, ok := e.(*expr.ColRef); !ok || c.Idx != i {
			return false
		}
	}
	return true
}

// pruneAll prunes p keeping all its columns.
func pruneAll(p exec.Plan) exec.Plan {
	out, _ := prune(p, all(len(p.Types())))
	return out
}

// reads marks the columns of a row n wide that es read; all of them when
// one has a subquery.
func reads(n int, es ...expr.Expr) []bool {
	out := make([]bool, n)
	for _, e := range es {
		if hasSubquery(e) {
			return all(n)
		}
		expr.Walk(e, func(x expr.Expr) bool {
			if c, ok := x.(*expr.ColRef); ok {
				out[c.Idx] = true
			}
			return true
		})
	}
	return out
}

// remapAll renumbers the columns es read by m. Below an expression with a
// subquery m keeps every column where it is, and es are returned as they
// are.
func remapAll(es []expr.Expr, m []int) []expr.Expr {
	moved := false
	for i, to := range m {
		moved = moved || to != i
	}
	if !moved {
		return es
	}
	out := make([]expr.Expr, len(es))
	for i, e := range es {
		out[i] = remapCols(e, func(c int) int { return m[c] })
	}
	return out
}

func all(n int) []bool {
	out := make([]bool, n)
	for i := range out {
		out[i] = true
	}
	return out
}

func or(a, b []bool) []bool {
	out := make([]bool, len(a))
	for i := range a {
		out[i] = a[i] || b[i]
	}
	return out
}

func identity(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}
