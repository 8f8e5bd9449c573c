package planner

import (
	"fmt"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/exec"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// grouping maps expressions of an aggregated (or windowed) query level onto
// columns computed below: GROUP BY keys, aggregate results, window results.
type grouping struct {
	// from is the scope before aggregation; nil when the level is not
	// aggregated (windows only).
	from *scope
	keys []string
	// aggs maps an aggregate call's bound form to its column; wins maps each
	// window call of the query to its column.
	aggs map[string]int
	wins map[*pg.FuncCall]int
	// srfs maps set-returning calls of the select list to ProjectSet columns.
	srfs map[*pg.FuncCall]int
}

// match replaces n by a column reference when it is a grouping key, an
// aggregate or a window call; it rejects ungrouped column references.
func (g *grouping) match(b *binder, n *pg.Node, s *scope) (expr.Expr, bool, error) {
	if fc := n.GetFuncCall(); fc != nil {
		if col, ok := g.srfs[fc]; ok {
			return &expr.ColRef{Idx: col, Typ: s.cols[col].typ}, true, nil
		}
		if fc.Over != nil {
			col, ok := g.wins[fc]
			if !ok {
				return nil, true, sqlerr.Bug("window call %s not planned", funcName(fc))
			}
			return &expr.ColRef{Idx: col, Typ: s.cols[col].typ}, true, nil
		}
		if g.from != nil && isAggCall(fc) {
			key, _, err := b.aggKey(fc, g.from)
			if err != nil {
				return nil, true, err
			}
			col, ok := g.aggs[key]
			if !ok {
				return nil, true, sqlerr.Bug("aggregate %s not planned", key)
			}
			return &expr.ColRef{Idx: col, Typ: s.cols[col].typ}, true, nil
		}
	}
	if g.from == nil || n.GetSubLink() != nil || n.GetAConst() != nil {
		return nil, false, nil
	}
	if len(g.keys) > 0 {
		saved := b.grouping
		b.grouping = nil
		nparams := len(b.params)
		e, err := b.bindExpr(n, g.from)
		b.grouping = saved
		b.params = b.params[:nparams]
		if err == nil {
			es := e.String()
			for i, k := range g.keys {
				if k == es {
					return &expr.ColRef{Idx: i, Typ: s.cols[i].typ, Name: s.cols[i].name}, true, nil
				}
			}
		}
	}
	if cr := n.GetColumnRef(); cr != nil {
		saved := b.grouping
		b.grouping = nil
		e, err := b.bindColumnRef(cr, g.from)
		b.grouping = saved
		if err != nil {
			return nil, true, err
		}
		if _, ok := e.(*expr.ColRef); ok {
			var parts []string
			for _, f := range cr.Fields {
				parts = append(parts, f.GetString_().Sval)
			}
			name := strings.Join(parts, ".")
			if c := g.from.cols[e.(*expr.ColRef).Idx]; len(parts) == 1 && c.table != "" {
				name = c.table + "." + parts[0]
			}
			return nil, true, sqlerr.New(sqlerr.GroupingError, "column \"%s\" must appear in the GROUP BY clause or be used in an aggregate function", name).At(loc(cr.Location))
		}
		return e, true, nil
	}
	return nil, false, nil
}

// aggKey binds an aggregate call's inputs in the pre-aggregation scope and
// returns a key identifying the call, with its spec (column indices unset).
func (b *binder) aggKey(fc *pg.FuncCall, from *scope) (string, *aggCall, error) {
	saved := b.grouping
	b.grouping = nil
	defer func() { b.grouping = saved }()
	name := funcName(fc)
	pos := loc(fc.Location)
	ac := &aggCall{kind: exec.AggKind(name), distinct: fc.AggDistinct}
	if fc.AggStar {
		if name != "count" {
			return "", nil, sqlerr.New(sqlerr.SyntaxError, "%s(*) is not allowed", name).At(pos)
		}
		ac.kind = "count_star"
	}
	for _, a := range fc.Args {
		var nested []*pg.FuncCall
		var wins []*pg.FuncCall
		collectCalls(a, &nested, &wins)
		if len(nested) > 0 {
			return "", nil, sqlerr.New(sqlerr.GroupingError, "aggregate function calls cannot be nested").At(loc(nested[0].Location))
		}
		e, err := b.bindExpr(a, from)
		if err != nil {
			return "", nil, err
		}
		ac.args = append(ac.args, e)
	}
	if fc.AggWithinGroup {
		// percentile_cont(f) WITHIN GROUP (ORDER BY x): args become (f, x).
		for _, o := range fc.AggOrder {
			sb := o.GetSortBy()
			e, err := b.bindExpr(sb.Node, from)
			if err != nil {
				return "", nil, err
			}
			ac.args = append(ac.args, e)
			ac.order = append(ac.order, e)
			ac.orderKeys = append(ac.orderKeys, sortKey(sb, 0))
		}
	} else {
		for _, o := range fc.AggOrder {
			sb := o.GetSortBy()
			e, err := b.bindExpr(sb.Node, from)
			if err != nil {
				return "", nil, err
			}
			ac.order = append(ac.order, e)
			ac.orderKeys = append(ac.orderKeys, sortKey(sb, 0))
		}
	}
	if fc.AggFilter != nil {
		f, err := b.bindExpr(fc.AggFilter, from)
		if err != nil {
			return "", nil, err
		}
		if f, err = b.coerceBool(f, "FILTER", fc.AggFilter); err != nil {
			return "", nil, err
		}
		ac.filter = f
	}
	if err := b.typeAggArgs(ac, pos); err != nil {
		return "", nil, err
	}
	// Checked after the arguments took their types, as Postgres does:
	// string_agg(DISTINCT 'a', ',' ORDER BY 'a') sorts by an unknown literal
	// that is not the text argument.
	if ac.distinct {
		for i, o := range ac.order {
			found := false
			for _, a := range ac.args {
				found = found || a.String() == o.String()
			}
			if !found {
				return "", nil, sqlerr.New(sqlerr.InvalidColumnReference, "in an aggregate with DISTINCT, ORDER BY expressions must appear in argument list").At(nodeLoc(fc.AggOrder[i].GetSortBy().Node))
			}
		}
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s(%v", ac.kind, ac.distinct)
	for _, a := range ac.args {
		sb.WriteString("," + a.String())
	}
	for i, o := range ac.order {
		fmt.Fprintf(&sb, ";%s %v", o.String(), ac.orderKeys[i])
	}
	if ac.filter != nil {
		sb.WriteString(" FILTER " + ac.filter.String())
	}
	return sb.String(), ac, nil
}

type aggCall struct {
	kind      exec.AggKind
	distinct  bool
	args      []expr.Expr
	order     []expr.Expr
	orderKeys []exec.SortKey
	filter    expr.Expr
	typ       *types.T
}

// typeAggArgs casts aggregate arguments as the aggregate's signature wants and
// computes its result type.
func (b *binder) typeAggArgs(ac *aggCall, pos int) error {
	var err error
	switch ac.kind {
	case "string_agg":
		if len(ac.args) != 2 {
			return sqlerr.New(sqlerr.UndefinedFunction, "function string_agg with %d arguments does not exist", len(ac.args)).At(pos)
		}
		t := types.Text
		if ac.args[0].Type().Family == types.BytesFamily {
			t = types.Bytea
		}
		for i := range ac.args {
			if ac.args[i], err = b.coerce(ac.args[i], t, "argument", false); err != nil {
				return err
			}
		}
	case "percentile_cont", "percentile_disc":
		if len(ac.args) != 2 {
			return sqlerr.New(sqlerr.UndefinedFunction, "%s requires WITHIN GROUP (ORDER BY …)", ac.kind).At(pos)
		}
		if ac.args[0], err = b.coerce(ac.args[0], types.Float8, "argument", false); err != nil {
			return err
		}
		if ac.kind == "percentile_cont" && ac.args[1].Type().Family != types.IntervalFamily {
			if ac.args[1], err = b.coerce(ac.args[1], types.Float8, "argument", true); err != nil {
				return err
			}
			ac.order[0] = ac.args[1]
		}
	case "bool_and", "bool_or", "every":
		if ac.args[0], err = b.coerceBool(ac.args[0], string(ac.kind), nil); err != nil {
			return err
		}
	}
	argTypes := make([]*types.T, len(ac.args))
	for i, a := range ac.args {
		if a.Type().Family == types.UnknownFamily {
			if ac.args[i], err = b.coerce(a, types.Text, "argument", false); err != nil {
				return err
			}
		}
		argTypes[i] = ac.args[i].Type()
	}
	if ac.kind == "count_star" {
		ac.typ = types.Int8
		return nil
	}
	if len(ac.args) == 0 {
		return sqlerr.New(sqlerr.UndefinedFunction, "function %s() does not exist", ac.kind).At(pos)
	}
	ac.typ = exec.AggResultType(ac.kind, argTypes)
	if ac.typ == nil {
		return sqlerr.New(sqlerr.UndefinedFunction, "function %s does not exist", sig(string(ac.kind), argTypes)).
			WithHint("No function matches the given name and argument types. You might need to add explicit type casts.").At(pos)
	}
	return nil
}

// bindAggregation plans GROUP BY, aggregates and HAVING, returning the
// aggregated plan and a scope over its output (keys, then aggregates).
func (b *binder) bindAggregation(st *pg.SelectStmt, plan exec.Plan, from *scope, calls []*pg.FuncCall) (exec.Plan, *scope, error) {
	var pre []expr.Expr
	g := &grouping{from: from, aggs: map[string]int{}}
	post := &scope{parent: from.parent}
	// Postgres binds the select list, aggregates included, before GROUP BY,
	// so an error there is the one reported.
	for _, fc := range calls {
		if _, _, err := b.aggKey(fc, from); err != nil {
			return nil, nil, err
		}
	}
	// Output column names for GROUP BY items that name select-list aliases
	// or ordinals resolve to those expressions, as Postgres allows.
	for _, gn := range st.GroupClause {
		n := gn
		if c := gn.GetAConst(); c != nil && c.GetIval() != nil {
			i := int(c.GetIval().Ival)
			if i < 1 || i > len(st.TargetList) {
				return nil, nil, sqlerr.New(sqlerr.InvalidColumnReference, "GROUP BY position %d is not in select list", i).At(loc(c.Location))
			}
			n = st.TargetList[i-1].GetResTarget().Val
		} else if c != nil {
			return nil, nil, sqlerr.New(sqlerr.SyntaxError, "non-integer constant in GROUP BY").At(loc(c.Location))
		} else if cr := gn.GetColumnRef(); cr != nil && len(cr.Fields) == 1 && cr.Fields[0].GetString_() != nil {
			name := cr.Fields[0].GetString_().Sval
			if _, err := from.resolve("", name, 0); err != nil {
				for _, t := range st.TargetList {
					if rt := t.GetResTarget(); rt.Name == name {
						n = rt.Val
					}
				}
			}
		}
		if gs := n.GetGroupingSet(); gs != nil {
			return nil, nil, sqlerr.Unsupported("GROUPING SETS, ROLLUP and CUBE are not supported")
		}
		e, err := b.bindExpr(n, from)
		if err != nil {
			return nil, nil, err
		}
		key := e.String()
		dup := false
		for _, k := range g.keys {
			if k == key {
				dup = true
			}
		}
		if dup {
			continue
		}
		g.keys = append(g.keys, key)
		pre = append(pre, e)
		col := scopeCol{name: columnName(n), typ: e.Type()}
		if cr, ok := e.(*expr.ColRef); ok {
			col = from.cols[cr.Idx]
			col.hidden = false
		}
		post.cols = append(post.cols, col)
	}
	nKeys := len(pre)
	var specs []exec.AggSpec
	for _, fc := range calls {
		key, ac, err := b.aggKey(fc, from)
		if err != nil {
			return nil, nil, err
		}
		if _, ok := g.aggs[key]; ok {
			continue
		}
		spec := exec.AggSpec{Kind: ac.kind, Distinct: ac.distinct, Filter: -1, Typ: ac.typ}
		for _, a := range ac.args {
			spec.Args = append(spec.Args, len(pre))
			spec.ArgTypes = append(spec.ArgTypes, a.Type())
			pre = append(pre, a)
		}
		for i, o := range ac.order {
			k := ac.orderKeys[i]
			k.Col = len(pre)
			spec.OrderBy = append(spec.OrderBy, k)
			spec.OrderTypes = append(spec.OrderTypes, o.Type())
			pre = append(pre, o)
		}
		if ac.filter != nil {
			spec.Filter = len(pre)
			pre = append(pre, ac.filter)
		}
		g.aggs[key] = nKeys + len(specs)
		specs = append(specs, spec)
		post.cols = append(post.cols, scopeCol{name: string(ac.kind), typ: ac.typ, hidden: true})
	}
	var out exec.Plan = &exec.HashAgg{Input: &exec.Project{Input: plan, Exprs: pre}, Keys: coldata.AllColumns(nKeys), Aggs: specs}
	b.grouping = g
	if st.HavingClause != nil {
		h, err := b.bindExpr(st.HavingClause, post)
		if err != nil {
			return nil, nil, err
		}
		if h, err = b.coerceBool(h, "HAVING", st.HavingClause); err != nil {
			return nil, nil, err
		}
		out = &exec.Filter{Input: out, Cond: h}
	}
	return out, post, nil
}

// windowSpec resolves OVER (…) including references to named windows.
func windowDef(fc *pg.FuncCall, st *pg.SelectStmt) (*pg.WindowDef, error) {
	w := fc.Over
	ref := w.Refname
	if ref == "" && w.Name != "" && len(w.PartitionClause) == 0 && len(w.OrderClause) == 0 {
		ref = w.Name
	}
	if ref == "" {
		return w, nil
	}
	for _, wn := range st.WindowClause {
		d := wn.GetWindowDef()
		if d.Name == ref {
			merged := proto.Clone(d).(*pg.WindowDef)
			if len(w.OrderClause) > 0 {
				merged.OrderClause = w.OrderClause
			}
			if w.FrameOptions&1 != 0 {
				merged.FrameOptions, merged.StartOffset, merged.EndOffset = w.FrameOptions, w.StartOffset, w.EndOffset
			}
			return merged, nil
		}
	}
	return nil, sqlerr.New(sqlerr.UndefinedObject, "window \"%s\" does not exist", ref).At(loc(w.Location))
}

// Frame option bits from Postgres' parsenodes.h.
const (
	frameNonDefault         = 0x00001
	frameRange              = 0x00002
	frameRows               = 0x00004
	frameGroups             = 0x00008
	frameStartUnboundedPrec = 0x00020
	frameEndUnboundedFoll   = 0x00100
	frameStartCurrent       = 0x00200
	frameEndCurrent         = 0x00400
	frameStartOffsetPrec    = 0x00800
	frameEndOffsetPrec      = 0x01000
	frameStartOffsetFoll    = 0x02000
	frameEndOffsetFoll      = 0x04000
	frameExcludeAny         = 0x08000 | 0x10000 | 0x20000
)

// bindWindows plans window function calls: one projection computing their
// inputs, then one Window operator per call.
func (b *binder) bindWindows(st *pg.SelectStmt, plan exec.Plan, s *scope, calls []*pg.FuncCall) (exec.Plan, *scope, error) {
	exprs := make([]expr.Expr, len(s.cols))
	for i, c := range s.cols {
		exprs[i] = &expr.ColRef{Idx: i, Typ: c.typ}
	}
	addCol := func(e expr.Expr) int {
		exprs = append(exprs, e)
		return len(exprs) - 1
	}
	type planned struct {
		w  exec.Window
		fc *pg.FuncCall
	}
	var wins []planned
	for _, fc := range calls {
		def, err := windowDef(fc, st)
		if err != nil {
			return nil, nil, err
		}
		name := funcName(fc)
		pos := loc(fc.Location)
		w := exec.Window{}
		for _, p := range def.PartitionClause {
			e, err := b.bindExpr(p, s)
			if err != nil {
				return nil, nil, err
			}
			w.PartitionBy = append(w.PartitionBy, addCol(e))
		}
		for _, o := range def.OrderClause {
			sb := o.GetSortBy()
			e, err := b.bindExpr(sb.Node, s)
			if err != nil {
				return nil, nil, err
			}
			w.OrderBy = append(w.OrderBy, sortKey(sb, addCol(e)))
		}
		if fo := def.FrameOptions; fo&frameNonDefault != 0 {
			if fo&frameExcludeAny != 0 {
				return nil, nil, sqlerr.Unsupported("frame EXCLUDE is not supported").At(pos)
			}
			fr := exec.Frame{Explicit: true, Mode: "range"}
			if fo&frameRows != 0 {
				fr.Mode = "rows"
			} else if fo&frameGroups != 0 {
				fr.Mode = "groups"
			}
			bound := func(start bool) (exec.FrameBound, error) {
				var off *pg.Node
				kind := ""
				switch {
				case start && fo&frameStartUnboundedPrec != 0:
					kind = "unbounded_preceding"
				case start && fo&frameStartCurrent != 0:
					kind = "current"
				case start && fo&frameStartOffsetPrec != 0:
					kind, off = "preceding", def.StartOffset
				case start && fo&frameStartOffsetFoll != 0:
					kind, off = "following", def.StartOffset
				case !start && fo&frameEndUnboundedFoll != 0:
					kind = "unbounded_following"
				case !start && fo&frameEndCurrent != 0:
					kind = "current"
				case !start && fo&frameEndOffsetPrec != 0:
					kind, off = "preceding", def.EndOffset
				case !start && fo&frameEndOffsetFoll != 0:
					kind, off = "following", def.EndOffset
				default:
					kind = "current"
				}
				fb := exec.FrameBound{Kind: kind}
				if off != nil {
					e, err := b.bindExpr(off, &scope{})
					if err != nil {
						return fb, err
					}
					if fb.Offset, err = b.coerce(e, types.Int8, "frame offset", false); err != nil {
						return fb, err
					}
				}
				return fb, nil
			}
			if fr.Start, err = bound(true); err != nil {
				return nil, nil, err
			}
			if fr.End, err = bound(false); err != nil {
				return nil, nil, err
			}
			w.Frame = fr
		}
		var args []expr.Expr
		for _, a := range fc.Args {
			e, err := b.bindExpr(a, s)
			if err != nil {
				return nil, nil, err
			}
			args = append(args, e)
		}
		wf := exec.WindowFunc{Name: name}
		switch name {
		case "row_number", "rank", "dense_rank":
			wf.Typ = types.Int8
		case "percent_rank", "cume_dist":
			wf.Typ = types.Float8
		case "ntile":
			wf.Typ = types.Int4
			if len(args) != 1 {
				return nil, nil, sqlerr.New(sqlerr.UndefinedFunction, "function ntile() requires one argument").At(pos)
			}
			c, err := b.coerce(args[0], types.Int8, "argument", false)
			if err != nil {
				return nil, nil, err
			}
			wf.ArgExprs = []expr.Expr{c}
		case "lag", "lead", "first_value", "last_value", "nth_value":
			if len(args) == 0 {
				return nil, nil, sqlerr.New(sqlerr.UndefinedFunction, "function %s() does not exist", name).At(pos)
			}
			t := args[0].Type()
			if t.Family == types.UnknownFamily {
				t = types.Text
				if args[0], err = b.coerce(args[0], t, "argument", false); err != nil {
					return nil, nil, err
				}
			}
			wf.Typ = t
			wf.Args = []int{addCol(args[0])}
			wf.ArgExprs = make([]expr.Expr, 3)
			if len(args) > 1 {
				if wf.ArgExprs[1], err = b.coerce(args[1], types.Int8, "argument", false); err != nil {
					return nil, nil, err
				}
			}
			if len(args) > 2 {
				if wf.ArgExprs[2], err = b.coerce(args[2], t, "argument", false); err != nil {
					return nil, nil, err
				}
			}
		default:
			if !exec.IsAggregate(name) {
				return nil, nil, sqlerr.New(sqlerr.WrongObjectType, "OVER specified, but %s is not a window function nor an aggregate function", name).At(pos)
			}
			ac := &aggCall{kind: exec.AggKind(name), distinct: fc.AggDistinct, args: args}
			if fc.AggStar {
				ac.kind = "count_star"
			}
			if ac.distinct {
				return nil, nil, sqlerr.Unsupported("DISTINCT is not implemented for window functions").At(pos)
			}
			if err := b.typeAggArgs(ac, pos); err != nil {
				return nil, nil, err
			}
			spec := &exec.AggSpec{Kind: ac.kind, Filter: -1, Typ: ac.typ}
			for _, a := range ac.args {
				spec.Args = append(spec.Args, addCol(a))
				spec.ArgTypes = append(spec.ArgTypes, a.Type())
			}
			if fc.AggFilter != nil {
				f, err := b.bindExpr(fc.AggFilter, s)
				if err != nil {
					return nil, nil, err
				}
				spec.Filter = addCol(f)
			}
			wf.Agg = spec
			wf.Typ = ac.typ
		}
		w.Funcs = []exec.WindowFunc{wf}
		wins = append(wins, planned{w: w, fc: fc})
	}
	var out exec.Plan = &exec.Project{Input: plan, Exprs: exprs}
	winScope := &scope{parent: s.parent, cols: append([]scopeCol(nil), s.cols...)}
	for range exprs[len(s.cols):] {
		winScope.cols = append(winScope.cols, scopeCol{hidden: true, qualOnly: true, typ: types.Unknown})
	}
	for i := len(s.cols); i < len(exprs); i++ {
		winScope.cols[i].typ = exprs[i].Type()
	}
	g := b.grouping
	if g == nil {
		g = &grouping{}
	}
	g.wins = map[*pg.FuncCall]int{}
	for _, pw := range wins {
		w := pw.w
		w.Input = out
		out = &w
		g.wins[pw.fc] = len(winScope.cols)
		winScope.cols = append(winScope.cols, scopeCol{hidden: true, qualOnly: true, typ: w.Funcs[0].Typ})
	}
	b.grouping = g
	return out, winScope, nil
}
