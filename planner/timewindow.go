package planner

import (
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/exec"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/timewindow"
	"github.com/sluice-db/sluice/types"
)

// windowTVFs are the window table functions, callable in FROM only.
var windowTVFs = map[string]timewindow.Kind{
	"tumble": timewindow.Tumble, "hop": timewindow.Hop, "cumulate": timewindow.Cumulate, "session": timewindow.Session,
}

// windowSignatures are the argument lists, for arity errors.
var windowSignatures = map[timewindow.Kind]string{
	timewindow.Tumble:   "TUMBLE(relation, time_column, size interval [, offset interval])",
	timewindow.Hop:      "HOP(relation, time_column, slide interval, size interval [, offset interval])",
	timewindow.Cumulate: "CUMULATE(relation, time_column, step interval, size interval [, offset interval])",
	timewindow.Session:  "SESSION(relation, time_column, gap interval [, partition_column …])",
}

// windowCall returns the call of a FROM function that is a window table
// function, or nil.
func windowCall(rf *pg.RangeFunction) (*pg.FuncCall, timewindow.Kind) {
	if len(rf.Functions) != 1 {
		return nil, 0
	}
	items := rf.Functions[0].GetList().GetItems()
	if len(items) == 0 {
		return nil, 0
	}
	fc := items[0].GetFuncCall()
	if fc == nil || len(fc.Funcname) != 1 {
		return nil, 0
	}
	kind, ok := windowTVFs[funcName(fc)]
	if !ok {
		return nil, 0
	}
	return fc, kind
}

// bindWindowTVF binds TUMBLE(rel, ts, size [, offset]), HOP(rel, ts, slide,
// size [, offset]), CUMULATE(rel, ts, step, size [, offset]) and
// SESSION(rel, ts, gap [, key …]): rel's columns, then window_start and
// window_end, qualified by the alias or else rel's name. Columns of rel
// named window_start or window_end are shadowed by the window's.
func (b *binder) bindWindowTVF(rf *pg.RangeFunction, fc *pg.FuncCall, kind timewindow.Kind, outer *scope) (exec.Plan, *scope, *tableInfo, error) {
	name := kind.String()
	pos := loc(fc.Location)
	if rf.Ordinality {
		return nil, nil, nil, sqlerr.Unsupported("%s … WITH ORDINALITY is not supported", name).At(pos)
	}
	if fc.AggStar || fc.AggDistinct || len(fc.AggOrder) > 0 || fc.AggFilter != nil || fc.Over != nil || fc.FuncVariadic {
		return nil, nil, nil, sqlerr.New(sqlerr.SyntaxError, "%s is a table function: it takes no *, DISTINCT, ORDER BY, FILTER, OVER or VARIADIC", name).At(pos)
	}
	// The interval arguments after the relation and time column; the last
	// but SESSION's is the optional offset.
	lengthNames := map[timewindow.Kind][]string{
		timewindow.Tumble: {"size", "offset"}, timewindow.Hop: {"slide", "size", "offset"},
		timewindow.Cumulate: {"step", "size", "offset"}, timewindow.Session: {"gap"},
	}[kind]
	args := fc.Args
	required := 2 + len(lengthNames)
	if kind != timewindow.Session {
		required--
	}
	switch {
	case kind == timewindow.Session && len(args) < required:
		return nil, nil, nil, sqlerr.New(sqlerr.UndefinedFunction, "SESSION takes at least %d arguments, not %d", required, len(args)).
			WithHint("The signature is %s.", windowSignatures[kind]).At(pos)
	case kind != timewindow.Session && (len(args) < required || len(args) > required+1):
		return nil, nil, nil, sqlerr.New(sqlerr.UndefinedFunction, "%s takes %d or %d arguments, not %d", name, required, required+1, len(args)).
			WithHint("The signature is %s.", windowSignatures[kind]).At(pos)
	}
	for _, a := range args {
		if a.GetNamedArgExpr() != nil {
			return nil, nil, nil, sqlerr.Unsupported("named arguments of %s are not supported", name).At(nodeLoc(a))
		}
	}
	plan, s, err := b.bindWindowRelation(args[0], outer, name)
	if err != nil {
		return nil, nil, nil, err
	}
	ts, err := windowColumn(args[1], s, name+" time column")
	if err != nil {
		return nil, nil, nil, err
	}
	if f := ts.Typ.Family; f != types.TimestampFamily && f != types.TimestampTZFamily {
		return nil, nil, nil, sqlerr.New(sqlerr.DatatypeMismatch, "%s time column must be of type timestamp or timestamp with time zone, not %s", name, ts.Typ.String()).
			WithHint("Cast it in a subquery: %s((SELECT …, col::timestamptz AS ts FROM …), ts, …).", name).At(nodeLoc(args[1]))
	}
	nLen := min(len(args)-2, len(lengthNames))
	vals := make([]int64, len(lengthNames))
	for i := range nLen {
		if vals[i], err = b.windowLength(args[2+i], name+" "+lengthNames[i], pos); err != nil {
			return nil, nil, nil, err
		}
	}
	spec := timewindow.Spec{Kind: kind}
	switch kind {
	case timewindow.Tumble:
		spec.Size, spec.Step, spec.Offset = vals[0], vals[0], vals[1]
	case timewindow.Hop, timewindow.Cumulate:
		spec.Step, spec.Size, spec.Offset = vals[0], vals[1], vals[2]
	case timewindow.Session:
		spec.Gap = vals[0]
	}
	if err := spec.Validate(); err != nil {
		se, _ := sqlerr.As(err)
		return nil, nil, nil, se.At(pos)
	}
	wa := &exec.WindowAssign{Input: plan, Spec: spec, Time: ts}
	for _, a := range args[2+nLen:] {
		k, err := windowColumn(a, s, "SESSION partition column")
		if err != nil {
			return nil, nil, nil, err
		}
		wa.PartitionBy = append(wa.PartitionBy, k)
	}
	table := ""
	for _, c := range s.cols {
		if c.table != "" {
			table = c.table
			break
		}
	}
	out := &scope{cols: append([]scopeCol(nil), s.cols...)}
	for i, c := range out.cols {
		// The window's columns shadow the relation's of the same names (a
		// window over a windowed view: a rollup), which neither resolve
		// nor show in *.
		if c.name == "window_start" || c.name == "window_end" {
			out.cols[i].name, out.cols[i].hidden = "", true
		}
	}
	out.cols = append(out.cols, scopeCol{name: "window_start", typ: ts.Typ}, scopeCol{name: "window_end", typ: ts.Typ})
	if rf.Alias != nil {
		table = rf.Alias.Aliasname
	}
	for i := range out.cols {
		out.cols[i].table = table
	}
	if rf.Alias != nil {
		renameCols(out, rf.Alias.Colnames)
	}
	return wa, out, nil, nil
}

// bindWindowRelation binds a window function's first argument: a table,
// stream, view or WITH query name (parsed as a column reference), or a
// parenthesized subquery.
func (b *binder) bindWindowRelation(n *pg.Node, outer *scope, name string) (exec.Plan, *scope, error) {
	if cr := n.GetColumnRef(); cr != nil && len(cr.Fields) <= 2 {
		var parts []string
		for _, f := range cr.Fields {
			if f.GetString_() == nil {
				parts = nil
				break
			}
			parts = append(parts, f.GetString_().Sval)
		}
		if len(parts) > 0 {
			rv := &pg.RangeVar{Relname: parts[len(parts)-1], Location: cr.Location}
			if len(parts) == 2 {
				rv.Schemaname = parts[0]
			}
			plan, s, _, err := b.bindFromItem(&pg.Node{Node: &pg.Node_RangeVar{RangeVar: rv}}, outer)
			return plan, s, err
		}
	}
	if sl := n.GetSubLink(); sl != nil && sl.SubLinkType == pg.SubLinkType_EXPR_SUBLINK {
		q, err := b.bindSelect(sl.Subselect.GetSelectStmt(), outer)
		if err != nil {
			return nil, nil, err
		}
		return q.plan, q.scope(""), nil
	}
	return nil, nil, sqlerr.New(sqlerr.WrongObjectType, "the first argument of %s must be a table, stream, view or parenthesized subquery", name).At(nodeLoc(n))
}

// windowColumn binds a plain column reference to a column of the
// relation's scope s.
func windowColumn(n *pg.Node, s *scope, what string) (*expr.ColRef, error) {
	cr := n.GetColumnRef()
	if cr == nil {
		return nil, sqlerr.New(sqlerr.InvalidColumnReference, "%s must name a column of the relation", what).At(nodeLoc(n))
	}
	var parts []string
	for _, f := range cr.Fields {
		if f.GetString_() == nil {
			return nil, sqlerr.New(sqlerr.InvalidColumnReference, "%s must name a column of the relation", what).At(nodeLoc(n))
		}
		parts = append(parts, f.GetString_().Sval)
	}
	qual := ""
	if len(parts) == 2 {
		qual = parts[0]
	} else if len(parts) != 1 {
		return nil, sqlerr.New(sqlerr.InvalidColumnReference, "%s must name a column of the relation", what).At(nodeLoc(n))
	}
	e, err := (&scope{cols: s.cols}).resolve(qual, parts[len(parts)-1], loc(cr.Location))
	if err != nil {
		return nil, err
	}
	return e.(*expr.ColRef), nil
}

// windowLength binds a size, slide, step, gap or offset: an interval
// without months (their length varies), evaluated now; a day counts 24
// hours. Lengths too large for timewindow come out above MaxLength. Errors
// point at the argument, else (INTERVAL '…' has no location) at the call.
func (b *binder) windowLength(n *pg.Node, what string, callPos int) (int64, error) {
	at := nodeLoc(n)
	if at == 0 {
		at = callPos
	}
	e, err := b.bindExpr(n, &scope{})
	if err != nil {
		return 0, err
	}
	var bad error
	expr.Walk(e, func(x expr.Expr) bool {
		switch x.(type) {
		case *expr.Param:
			bad = sqlerr.Unsupported("%s must be a constant interval, not a parameter", what)
		case *expr.Subquery:
			bad = sqlerr.Unsupported("%s must be a constant interval, not a subquery", what)
		}
		return bad == nil
	})
	if bad != nil {
		se, _ := sqlerr.As(bad)
		return 0, se.At(at)
	}
	if e, err = b.coerce(e, types.Interval, what, false); err != nil {
		if se, ok := sqlerr.As(err); ok {
			return 0, se.At(at)
		}
		return 0, err
	}
	v, err := e.Eval(b.evalCtx(), &coldata.Chunk{Len: 1})
	if err != nil {
		if se, ok := sqlerr.As(err); ok {
			return 0, se.At(at)
		}
		return 0, err
	}
	if v.IsNull(0) {
		return 0, sqlerr.New(sqlerr.NullValueNotAllowed, "%s must not be NULL", what).At(at)
	}
	iv := v.Ivals[0]
	if iv.Months != 0 {
		return 0, sqlerr.New(sqlerr.InvalidParameterValue, "%s must not use months or years, whose length varies", what).
			WithHint("Use days, e.g. INTERVAL '30 days'.").At(at)
	}
	// NB: clamp both parts before adding so the sum cannot overflow; an
	// out-of-range length stays out of range.
	clamp := func(x int64) int64 { return max(-timewindow.MaxLength-1, min(x, timewindow.MaxLength+1)) }
	days := clamp(int64(iv.Days) * types.MicrosPerDay)
	return clamp(days + clamp(iv.Micros)), nil
}
