package planner

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/types"
)

// sharedExprs finds the sub-expressions of roots that a view's operator
// would compute more than once per row (`lower(channel)` in a WHERE and
// again in a CASE of the select list) so that they are computed once, as
// columns appended to the input: width, width+1, … in the order of
// shared. out are roots reading those columns instead.
//
// A sub-expression is shared only if some occurrence of it is certain to
// be evaluated on every input row: in a root that sure(i) says is, outside
// the arms of CASE and COALESCE, which evaluate only the rows reaching
// them. Computing it up front then raises no error the roots would not
// (`CASE WHEN x = 0 THEN 0 ELSE 1 / x END` keeps its division inside). The
// largest are taken first, so that a shared expression is whole and its
// parts are shared only where they occur outside it. Volatile calls,
// subqueries and outer references are never shared.
func sharedExprs(roots []expr.Expr, sure func(i int) bool, width int) (shared, out []expr.Expr) {
	out = roots
	for {
		// A node the binder put in several places (x of `x IN (…)`) counts
		// once: it may be evaluated once.
		counts := map[string]int{}
		seen := map[expr.Expr]bool{}
		for _, r := range out {
			expr.Walk(r, func(e expr.Expr) bool {
				if seen[e] {
					return false
				}
				seen[e] = true
				if k, ok := cseKey(e); ok && computed(e) {
					counts[k]++
				}
				return true
			})
		}
		var best expr.Expr
		var bestKey string
		for i, r := range out {
			if !sure(i) {
				continue
			}
			walkCertain(r, func(e expr.Expr) {
				if k, ok := cseKey(e); ok && counts[k] > 1 && len(k) > len(bestKey) {
					best, bestKey = e, k
				}
			})
		}
		if best == nil {
			return shared, out
		}
		ref := &expr.ColRef{Idx: width + len(shared), Typ: best.Type(), Name: fmt.Sprintf("shared%d", len(shared))}
		shared = append(shared, best)
		next := make([]expr.Expr, len(out))
		for i, r := range out {
			next[i] = expr.Map(r, func(e expr.Expr) expr.Expr {
				if k, ok := cseKey(e); ok && k == bestKey {
					return ref
				}
				return e
			})
		}
		out = next
	}
}

// computed reports whether e computes something: a reference or a
// constant is read, not computed.
func computed(e expr.Expr) bool {
	switch e.(type) {
	case *expr.ColRef, *expr.Const, *expr.Param:
		return false
	}
	return true
}

// walkCertain calls fn for e and the sub-expressions evaluated on every
// row e is: not the arms of CASE (but its first condition) nor the
// arguments of COALESCE past the first.
func walkCertain(e expr.Expr, fn func(expr.Expr)) {
	if e == nil {
		return
	}
	fn(e)
	switch e := e.(type) {
	case *expr.Call:
		for _, a := range e.Args {
			walkCertain(a, fn)
		}
	case *expr.Cast:
		walkCertain(e.Arg, fn)
	case *expr.And:
		for _, a := range e.Args {
			walkCertain(a, fn)
		}
	case *expr.Or:
		for _, a := range e.Args {
			walkCertain(a, fn)
		}
	case *expr.Not:
		walkCertain(e.Arg, fn)
	case *expr.IsNull:
		walkCertain(e.Arg, fn)
	case *expr.IsBool:
		walkCertain(e.Arg, fn)
	case *expr.Case:
		if len(e.Whens) > 0 {
			walkCertain(e.Whens[0].Cond, fn)
		}
	case *expr.Coalesce:
		if len(e.Args) > 0 {
			walkCertain(e.Args[0], fn)
		}
	}
}

// cseKey returns a key that two expressions share exactly when they
// compute the same values from the same input: the same functions (by
// overload), casts, constants (with their types) and columns, in the same
// shape. ok is false for an expression that must not be shared or holds
// one.
func cseKey(e expr.Expr) (string, bool) {
	var b strings.Builder
	if !appendCSEKey(&b, e) {
		return "", false
	}
	return b.String(), true
}

func appendCSEKey(b *strings.Builder, e expr.Expr) bool {
	list := func(es []expr.Expr) bool {
		b.WriteByte('(')
		for _, a := range es {
			if !appendCSEKey(b, a) {
				return false
			}
			b.WriteByte(',')
		}
		b.WriteByte(')')
		return true
	}
	typ := func(t *types.T) { b.WriteString("::" + t.String()) }
	switch e := e.(type) {
	case nil:
		b.WriteString("nil")
		return true
	case *expr.ColRef:
		b.WriteString("#" + strconv.Itoa(e.Idx))
		return true
	case *expr.Const:
		b.WriteString(e.String())
		return true
	case *expr.Call:
		if e.Fn.Volatile {
			return false
		}
		fmt.Fprintf(b, "%s@%p", e.Fn.Name, e.Fn)
		typ(e.Typ)
		return list(e.Args)
	case *expr.Cast:
		fmt.Fprintf(b, "cast%v", e.Explicit)
		typ(e.To)
		return list([]expr.Expr{e.Arg})
	case *expr.And:
		b.WriteString("and")
		return list(e.Args)
	case *expr.Or:
		b.WriteString("or")
		return list(e.Args)
	case *expr.Not:
		b.WriteString("not")
		return list([]expr.Expr{e.Arg})
	case *expr.IsNull:
		fmt.Fprintf(b, "isnull%v", e.Negate)
		return list([]expr.Expr{e.Arg})
	case *expr.IsBool:
		want := "unknown"
		if e.Want != nil {
			want = strconv.FormatBool(*e.Want)
		}
		fmt.Fprintf(b, "is%s%v", want, e.Negate)
		return list([]expr.Expr{e.Arg})
	case *expr.Case:
		b.WriteString("case")
		typ(e.Typ)
		for _, w := range e.Whens {
			if !list([]expr.Expr{w.Cond, w.Then}) {
				return false
			}
		}
		return list([]expr.Expr{e.Else})
	case *expr.Coalesce:
		b.WriteString("coalesce")
		typ(e.Typ)
		return list(e.Args)
	}
	return false
}
