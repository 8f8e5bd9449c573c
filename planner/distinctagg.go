package planner

import (
	"slices"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/dataflow"
	"github.com/sluice-db/sluice/exec"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/types"
)

// An aggregate whose DISTINCT calls all take one argument x lowers to two
// aggregates, so that its DISTINCT calls keep no per-group set of values:
// an inner one groups by the keys and x, computing the partials of the
// other calls (count → count, sum → sum, avg → sum and count, min → min,
// bool_and → bool_and …), and an outer one groups by the keys, computing
// each DISTINCT call over the inner groups (count(DISTINCT x) is count(x)
// over them) and combining the partials (sum of counts, min of mins …).
// Both are ordinary aggregates, which spill under a memory limit and
// checkpoint; the outer holds a group per key. A NULL x is an inner group
// of its own, which the DISTINCT calls ignore as they ignore NULLs and the
// partials count. An x whose equal values print differently (numeric 1.0
// and 1.00) is one inner group showing the first value to come (even once
// its row is gone), which sum(DISTINCT) sums, where PostgreSQL sums the
// first in its sort of them. A FILTER on a
// DISTINCT call becomes the inner bool_or of its condition, the outer
// call's FILTER; a FILTER on another call goes with its partial. A
// windowed aggregate's inner one closes its windows as it would have, and
// the outer one as its input's watermark (lagging by the inner window's
// offset) says. Anything else keeps the one aggregate: DISTINCT calls over
// several arguments, DISTINCT string_agg and array_agg, and other calls
// without exact partials (string_agg, array_agg, a float sum or avg, whose
// rounding would depend on the partials).

// distinctSplit is an aggregate's lowering as two aggregates.
type distinctSplit struct {
	// arg is the input column of the DISTINCT calls' argument.
	arg int
	// inner are the partials, over the input grouped by the keys and
	// arg; outer the calls over the inner's output grouped by the keys.
	inner, outer []dataflow.AggCall
	// results computes each of the aggregate's calls from the outer's
	// output (keys, then the outer calls), in the aggregate's order.
	results []expr.Expr
}

// splitDistinct returns the lowering of a as two aggregates, or false when
// a has no DISTINCT call or cannot be split.
func (l *lowering) splitDistinct(a *exec.HashAgg) (*distinctSplit, bool) {
	arg := -1
	for _, ag := range a.Aggs {
		if !ag.Distinct {
			continue
		}
		switch ag.Kind {
		case "count", "sum", "avg", "min", "max", "bool_and", "bool_or", "every":
		default:
			return nil, false
		}
		if len(ag.Args) != 1 || len(ag.OrderBy) > 0 {
			return nil, false
		}
		if arg < 0 {
			arg = ag.Args[0]
		} else if !sameColumn(a.Input, arg, ag.Args[0]) {
			return nil, false
		}
	}
	if arg < 0 {
		return nil, false
	}
	nk := len(a.Keys)
	s := &distinctSplit{arg: arg}
	// partial adds an inner call, returning its column in the inner's
	// output (the keys, arg, then the partials).
	partial := func(call dataflow.AggCall) int {
		s.inner = append(s.inner, call)
		return nk + len(s.inner)
	}
	// combine adds an outer call, returning a reference to its column.
	combine := func(call dataflow.AggCall) *expr.ColRef {
		s.outer = append(s.outer, call)
		return &expr.ColRef{Idx: nk + len(s.outer) - 1, Typ: call.Typ}
	}
	for _, ag := range a.Aggs {
		kind := string(ag.Kind)
		if kind == "every" {
			kind = "bool_and"
		}
		if ag.Distinct {
			call := dataflow.AggCall{Func: kind, Args: []int{nk}, ArgTypes: ag.ArgTypes, Filter: -1, Typ: ag.Typ}
			if ag.Filter >= 0 {
				call.Filter = partial(dataflow.AggCall{Func: "bool_or", Args: []int{ag.Filter}, ArgTypes: []*types.T{types.Bool}, Filter: -1, Typ: types.Bool})
			}
			s.results = append(s.results, combine(call))
			continue
		}
		in := dataflow.AggCall{Func: kind, Args: ag.Args, ArgTypes: ag.ArgTypes, Filter: ag.Filter, Typ: ag.Typ}
		switch kind {
		case "count", "count_star":
			// The sum of the counts; the global aggregate's over no
			// input is NULL, where count is 0.
			var r expr.Expr = combine(sumOf(partial(in), types.Int8, types.Int8))
			if nk == 0 {
				r = &expr.Coalesce{Args: []expr.Expr{r, &expr.Const{Typ: types.Int8, Val: int64(0)}}, Typ: types.Int8}
			}
			s.results = append(s.results, r)
		case "sum":
			if ag.ArgTypes[0].Family == types.FloatFamily {
				return nil, false
			}
			s.results = append(s.results, combine(sumOf(partial(in), ag.Typ, ag.Typ)))
		case "avg":
			r, ok := l.avgOf(ag, partial, combine)
			if !ok {
				return nil, false
			}
			s.results = append(s.results, r)
		case "min", "max", "bool_and", "bool_or":
			s.results = append(s.results, combine(dataflow.AggCall{Func: kind, Args: []int{partial(in)}, ArgTypes: []*types.T{ag.Typ}, Filter: -1, Typ: ag.Typ}))
		default:
			return nil, false
		}
	}
	return s, true
}

// sumOf is the outer sum of inner column col, of type in, as typ.
func sumOf(col int, in, typ *types.T) dataflow.AggCall {
	return dataflow.AggCall{Func: "sum", Args: []int{col}, ArgTypes: []*types.T{in}, Filter: -1, Typ: typ}
}

// avgOf splits avg(y) into the inner sum and count of y and the outer
// sums of those, divided as the avg kernel divides: an integer or numeric
// sum by the count as numerics, an interval by the count as a float. A
// float avg has no exact partials.
func (l *lowering) avgOf(ag exec.AggSpec, partial func(dataflow.AggCall) int, combine func(dataflow.AggCall) *expr.ColRef) (expr.Expr, bool) {
	y := ag.ArgTypes[0]
	var by *types.T
	switch y.Family {
	case types.IntFamily, types.NumericFamily:
		by = types.Numeric
	case types.IntervalFamily:
		by = types.Float8
	default:
		return nil, false
	}
	sumType := exec.AggResultType("sum", ag.ArgTypes)
	sum := partial(dataflow.AggCall{Func: "sum", Args: ag.Args, ArgTypes: ag.ArgTypes, Filter: ag.Filter, Typ: sumType})
	count := partial(dataflow.AggCall{Func: "count", Args: ag.Args, ArgTypes: ag.ArgTypes, Filter: ag.Filter, Typ: types.Int8})
	sums := combine(sumOf(sum, sumType, ag.Typ))
	counts := combine(sumOf(count, types.Int8, types.Int8))
	div, _, typ, err := l.reg.Resolve("/", []*types.T{ag.Typ, by})
	if err != nil || !typ.Identical(ag.Typ) {
		return nil, false
	}
	return &expr.Call{Fn: div, Args: []expr.Expr{sums, &expr.Cast{Arg: counts, To: by}}, Typ: typ}, true
}

// sameColumn reports whether input columns i and j of p hold the same
// values: the same column, or the same non-volatile expression of a
// projection (by cseKey: the same overloads, casts, constants and columns).
func sameColumn(p exec.Plan, i, j int) bool {
	if i == j {
		return true
	}
	proj, ok := p.(*exec.Project)
	if !ok {
		return false
	}
	a, okA := cseKey(proj.Exprs[i])
	b, okB := cseKey(proj.Exprs[j])
	return okA && okB && a == b
}

// lowerSplitDistinct lowers a, over in, as the two aggregates of s and
// the projection of their results; w is a's window (nil: none).
func (l *lowering) lowerSplitDistinct(a *exec.HashAgg, s *distinctSplit, in lowered, w *dataflow.AggWindow) lowered {
	nk := len(a.Keys)
	inner := &dataflow.Aggregate{Keys: append(slices.Clone(a.Keys), s.arg), Aggs: s.inner, InTypes: a.Input.Types(), AppendOnly: appendOnly(a.Input)}
	outer := &dataflow.Aggregate{Keys: coldata.AllColumns(nk), Aggs: s.outer, InTypes: inner.Types()}
	if w != nil {
		// The inner emits the changes of a window until it closes, then
		// passes on its input's watermark less the window's offset, by
		// which the outer closes it.
		inner.Window = &dataflow.AggWindow{Key: w.Key, EndOffset: w.EndOffset}
		outer.Window = &dataflow.AggWindow{Key: w.Key, OnClose: w.OnClose}
	}
	node := l.g.Add(outer, l.g.Add(inner, in.node))
	if !s.direct(nk) {
		exprs := append(passThrough(outer.Types()[:nk]), s.results...)
		node = l.g.Add(&dataflow.Project{Exprs: exprs}, node)
	}
	return lowered{node: node, key: coldata.AllColumns(nk)}
}

// direct reports whether the outer aggregate's output, of nk keys, is the
// aggregate's: each call's result is the outer call at its place.
func (s *distinctSplit) direct(nk int) bool {
	if len(s.outer) != len(s.results) {
		return false
	}
	for i, r := range s.results {
		if c, ok := r.(*expr.ColRef); !ok || c.Idx != nk+i {
			return false
		}
	}
	return true
}
