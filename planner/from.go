package planner

import (
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/sluice-db/sluice/catalog"
	"github.com/sluice-db/sluice/exec"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

type tableInfo struct {
	ref  *exec.TableRef
	desc *catalog.Table
}

// bindFrom binds the FROM list and WHERE clause. Comma-separated items are
// joined left-deep, using WHERE conjuncts as join keys and conditions where
// they apply; a primary-key equality on a single table becomes a point lookup.
func (b *binder) bindFrom(items []*pg.Node, where *pg.Node, outer *scope) (exec.Plan, *scope, error) {
	if len(items) == 0 {
		s := &scope{parent: outer}
		var plan exec.Plan = &exec.Values{Rows: [][]expr.Expr{{}}, Typs: nil}
		if where != nil {
			c, err := b.bindWhere(where, s)
			if err != nil {
				return nil, nil, err
			}
			plan = &exec.Filter{Input: plan, Cond: c}
		}
		return plan, s, nil
	}
	var plans []exec.Plan
	var scopes []*scope
	var tables []*tableInfo
	for _, it := range items {
		p, s, ti, err := b.bindFromItem(it, outer)
		if err != nil {
			return nil, nil, err
		}
		plans, scopes, tables = append(plans, p), append(scopes, s), append(tables, ti)
	}
	seen := map[string]bool{}
	for _, s := range scopes {
		names := map[string]bool{}
		for _, c := range s.cols {
			if c.table != "" {
				names[c.table] = true
			}
		}
		for n := range names {
			if seen[n] {
				return nil, nil, sqlerr.New("42712", "table name \"%s\" specified more than once", n)
			}
			seen[n] = true
		}
	}
	full := &scope{parent: outer}
	var ends []int
	for _, s := range scopes {
		full.cols = append(full.cols, s.cols...)
		ends = append(ends, len(full.cols))
	}
	var conj []expr.Expr
	if where != nil {
		c, err := b.bindWhere(where, full)
		if err != nil {
			return nil, nil, err
		}
		conj = splitAnd(c)
	}
	plan := plans[0]
	if len(plans) == 1 && tables[0] != nil {
		plan, conj = b.pointLookup(tables[0], conj, false)
	}
	used := make([]bool, len(conj))
	for k := 1; k < len(plans); k++ {
		lEnd, rEnd := ends[k-1], ends[k]
		var on []expr.Expr
		for i, c := range conj {
			if used[i] || hasSubquery(c) {
				continue
			}
			lo, hi, ok := colRange(c)
			if !ok || hi >= rEnd || (hi < lEnd && lo < lEnd) {
				continue
			}
			used[i] = true
			on = append(on, c)
		}
		plan = joinOn(&exec.Join{Kind: exec.InnerJoin, Left: plan, Right: plans[k]}, on, lEnd)
	}
	var rest []expr.Expr
	for i, c := range conj {
		if !used[i] {
			rest = append(rest, c)
		}
	}
	if f := andOf(rest); f != nil {
		plan = &exec.Filter{Input: plan, Cond: f}
	}
	return plan, full, nil
}

func (b *binder) bindWhere(where *pg.Node, s *scope) (expr.Expr, error) {
	c, err := b.bindExpr(where, s)
	if err != nil {
		return nil, err
	}
	return b.coerceBool(c, "WHERE", where)
}

// pointLookup turns `pk = constant` conjuncts on a table scan into a primary
// key lookup, returning the remaining conjuncts. Failing that, on a
// materialized view it tries a key range (rangeScan).
func (b *binder) pointLookup(t *tableInfo, conj []expr.Expr, positions bool) (exec.Plan, []expr.Expr) {
	scan := &exec.Scan{Table: t.ref, Positions: positions}
	if len(t.ref.PK) == 0 || b.opts.Incremental {
		return scan, conj
	}
	key := make([]expr.Expr, len(t.ref.PK))
	keyConj := make([]int, len(t.ref.PK)) // the conjunct giving key[k]
	for k, col := range t.ref.PK {
		for i, c := range conj {
			if op, v, ok := keyComparison(c, col, t.ref.Types[col]); ok && op == "=" {
				key[k], keyConj[k] = v, i
				break
			}
		}
	}
	prefix := 0
	for prefix < len(key) && key[prefix] != nil {
		prefix++
	}
	if prefix < len(key) && (positions || t.desc.Kind != catalog.KindMaterializedView) {
		return scan, conj
	}
	used := make([]bool, len(conj))
	for _, i := range keyConj[:prefix] {
		used[i] = true
	}
	if prefix == len(key) {
		return &exec.PointLookup{Table: t.ref, Key: key, Positions: positions}, unused(conj, used)
	}
	return rangeScan(t, key[:prefix], conj, used)
}

// rangeScan reads a key range of a materialized view, whose rows are kept
// in key order: prefix holds the values of the leading key columns (from the
// conjuncts marked used), and the first `column op constant` conjuncts on the
// next key column with op <, <=, > or >= (BETWEEN binds to two of them)
// bound it. It returns the remaining conjuncts, or a scan and conj unchanged
// when there is neither a prefix nor a bound.
func rangeScan(t *tableInfo, prefix, conj []expr.Expr, used []bool) (exec.Plan, []expr.Expr) {
	col := t.ref.PK[len(prefix)]
	rs := &exec.RangeScan{Table: t.ref, Prefix: prefix}
	for i, c := range conj {
		op, v, ok := keyComparison(c, col, t.ref.Types[col])
		switch {
		case !ok:
			continue
		case (op == ">" || op == ">=") && rs.Lower == nil:
			rs.Lower = &exec.RangeBound{Value: v, Inclusive: op == ">="}
		case (op == "<" || op == "<=") && rs.Upper == nil:
			rs.Upper = &exec.RangeBound{Value: v, Inclusive: op == "<="}
		default:
			continue
		}
		used[i] = true
	}
	if len(prefix) == 0 && rs.Lower == nil && rs.Upper == nil {
		return &exec.Scan{Table: t.ref}, conj
	}
	return rs, unused(conj, used)
}

// mirrored maps a comparison operator to the one that holds with its
// operands swapped.
var mirrored = map[string]string{"=": "=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}

// keyComparison matches c against `column op constant` or `constant op
// column` comparing column col with a constant of its type typ, and returns
// op as if the column were on the left, and the constant.
func keyComparison(c expr.Expr, col int, typ *types.T) (op string, value expr.Expr, ok bool) {
	call, ok := c.(*expr.Call)
	if !ok || len(call.Args) != 2 {
		return "", nil, false
	}
	if _, ok := mirrored[call.Fn.Name]; !ok {
		return "", nil, false
	}
	for side, op := range []string{call.Fn.Name, mirrored[call.Fn.Name]} {
		arg := call.Args[side]
		// Comparing a numeric(10,2) column with a numeric casts the column
		// to numeric, which changes no value and so no order.
		if c, ok := arg.(*expr.Cast); ok && c.To.Identical(c.Arg.Type()) && c.To.Typmod() < 0 {
			arg = c.Arg
		}
		cr, ok := arg.(*expr.ColRef)
		other := call.Args[1-side]
		if ok && cr.Idx == col && isConstant(other) && other.Type().Identical(typ) {
			return op, other, true
		}
	}
	return "", nil, false
}

// unused returns the conjuncts not marked used.
func unused(conj []expr.Expr, used []bool) []expr.Expr {
	var rest []expr.Expr
	for i, c := range conj {
		if !used[i] {
			rest = append(rest, c)
		}
	}
	return rest
}

func isConstant(e expr.Expr) bool {
	switch e := e.(type) {
	case *expr.Const, *expr.Param:
		return true
	case *expr.Cast:
		return isConstant(e.Arg)
	}
	return false
}

func splitAnd(e expr.Expr) []expr.Expr {
	if a, ok := e.(*expr.And); ok {
		var out []expr.Expr
		for _, x := range a.Args {
			out = append(out, splitAnd(x)...)
		}
		return out
	}
	return []expr.Expr{e}
}

func andOf(es []expr.Expr) expr.Expr {
	switch len(es) {
	case 0:
		return nil
	case 1:
		return es[0]
	}
	return &expr.And{Args: es}
}

// colRange returns the lowest and highest input column an expression reads;
// ok is false when it reads none or reads outer rows.
func colRange(e expr.Expr) (lo, hi int, ok bool) {
	lo, hi = 1<<30, -1
	outer := false
	expr.Walk(e, func(x expr.Expr) bool {
		switch x := x.(type) {
		case *expr.ColRef:
			lo, hi = min(lo, x.Idx), max(hi, x.Idx)
		case *expr.OuterRef:
			outer = true
		}
		return true
	})
	return lo, hi, hi >= 0 && !outer
}

func hasSubquery(e expr.Expr) bool {
	found := false
	expr.Walk(e, func(x expr.Expr) bool {
		// NB: Walk goes on to the siblings of a node it is told not to
		// enter: found must not be reset there.
		if _, ok := x.(*expr.Subquery); ok {
			found = true
		}
		return !found
	})
	return found
}

// equiKey recognises `left.col = right.col` across the split point with
// types that hash alike.
func equiKey(e expr.Expr, split int) (int, int, bool) {
	call, ok := e.(*expr.Call)
	if !ok || call.Fn.Name != "=" || len(call.Args) != 2 {
		return 0, 0, false
	}
	a, ok1 := call.Args[0].(*expr.ColRef)
	c, ok2 := call.Args[1].(*expr.ColRef)
	if !ok1 || !ok2 {
		return 0, 0, false
	}
	if a.Idx >= split && c.Idx < split {
		a, c = c, a
	}
	if a.Idx >= split || c.Idx < split {
		return 0, 0, false
	}
	ta, tc := a.Typ, c.Typ
	if ta.Oid != tc.Oid && !(ta.Family == types.IntFamily && tc.Family == types.IntFamily) {
		return 0, 0, false
	}
	return a.Idx, c.Idx, true
}

// bindFromItem binds one FROM item; tableInfo is set for a plain table.
func (b *binder) bindFromItem(n *pg.Node, outer *scope) (exec.Plan, *scope, *tableInfo, error) {
	switch {
	case n.GetRangeVar() != nil:
		rv := n.GetRangeVar()
		alias := rv.Relname
		var colAliases []*pg.Node
		if rv.Alias != nil {
			alias = rv.Alias.Aliasname
			colAliases = rv.Alias.Colnames
		}
		if rv.Schemaname == "" {
			for i := len(b.ctes) - 1; i >= 0; i-- {
				if c, ok := b.ctes[i][rv.Relname]; ok {
					q := &query{plan: c.plan, cols: c.cols}
					s := q.scope(alias)
					renameCols(s, colAliases)
					return c.plan, s, nil, nil
				}
			}
		}
		ti, err := b.lookupTable(rv)
		if err != nil {
			return nil, nil, nil, err
		}
		s := &scope{}
		for i, c := range ti.desc.Columns {
			s.cols = append(s.cols, scopeCol{table: alias, name: c.Name, typ: c.Type, tableOID: ti.desc.ID, attNum: int16(i + 1)})
		}
		renameCols(s, colAliases)
		if ti.ref.System {
			// The scan's last column is the hidden tableoid (the relation's
			// own OID), which catalog queries join pg_description on.
			s.cols = append(s.cols, scopeCol{table: alias, name: "tableoid", typ: types.Oid, hidden: true})
		}
		return &exec.Scan{Table: ti.ref}, s, ti, nil
	case n.GetRangeSubselect() != nil:
		rs := n.GetRangeSubselect()
		if rs.Lateral {
			return nil, nil, nil, sqlerr.Unsupported("LATERAL subqueries are not supported")
		}
		q, err := b.bindSelect(rs.Subquery.GetSelectStmt(), outer)
		if err != nil {
			return nil, nil, nil, err
		}
		alias := ""
		var colAliases []*pg.Node
		if rs.Alias != nil {
			alias, colAliases = rs.Alias.Aliasname, rs.Alias.Colnames
		}
		s := q.scope(alias)
		renameCols(s, colAliases)
		return q.plan, s, nil, nil
	case n.GetRangeFunction() != nil:
		return b.bindRangeFunction(n.GetRangeFunction(), outer)
	case n.GetJoinExpr() != nil:
		return b.bindJoin(n.GetJoinExpr(), outer)
	}
	return nil, nil, nil, sqlerr.Unsupported("FROM item %T is not supported", n.Node)
}

func renameCols(s *scope, aliases []*pg.Node) {
	for i, a := range aliases {
		if i < len(s.cols) {
			s.cols[i].name = a.GetString_().Sval
		}
	}
}

func (b *binder) bindRangeFunction(rf *pg.RangeFunction, outer *scope) (exec.Plan, *scope, *tableInfo, error) {
	if rf.Lateral || len(rf.Functions) != 1 {
		return nil, nil, nil, sqlerr.Unsupported("LATERAL and ROWS FROM with several functions are not supported")
	}
	if fc, kind := windowCall(rf); fc != nil {
		return b.bindWindowTVF(rf, fc, kind, outer)
	}
	fn := rf.Functions[0].GetList().Items[0]
	fc := fn.GetFuncCall()
	empty := &scope{parent: outer}
	e, err := b.bindExpr(fn, empty)
	if err != nil {
		return nil, nil, nil, err
	}
	name := "?column?"
	if fc != nil {
		name = funcName(fc)
	}
	srf := fc != nil && expr.IsSetReturning(name)
	typ := e.Type()
	if srf {
		typ = typ.Elem
	}
	// json[b]_each yield (key, value) records and pg_options_to_table
	// (option_name, option_value) ones: each element is a two-element array,
	// split into columns below.
	record := srf && (strings.HasSuffix(name, "_each") || strings.HasSuffix(name, "_each_text") || name == "pg_options_to_table")
	valType := typ
	if record {
		typ = types.ArrayOf(types.Text)
	}
	ps := &exec.ProjectSet{Input: &exec.Values{Rows: [][]expr.Expr{{}}}, Exprs: []expr.Expr{e}, SRF: []bool{srf}, Typs: []*types.T{typ}, Ordinality: rf.Ordinality}
	var plan exec.Plan = ps
	alias := name
	names := []string{name}
	colTypes := []*types.T{typ}
	// A function of records (information_schema._pg_expandarray) has a
	// column per field.
	if typ.Family == types.RecordFamily {
		names, colTypes = nil, nil
		var exprs []expr.Expr
		src := &expr.ColRef{Idx: 0, Typ: typ}
		for _, f := range typ.Fields {
			fe, err := fieldSelect(src, f.Name)
			if err != nil {
				return nil, nil, nil, err
			}
			names, colTypes, exprs = append(names, f.Name), append(colTypes, f.Typ), append(exprs, fe)
		}
		if rf.Ordinality {
			exprs = append(exprs, &expr.ColRef{Idx: 1, Typ: types.Int8})
		}
		plan = &exec.Project{Input: ps, Exprs: exprs}
		record = true // the alias names the relation, not a column
	}
	if record && typ.Family != types.RecordFamily {
		names, colTypes = []string{"key", "value"}, []*types.T{types.Text, valType}
		if name == "pg_options_to_table" {
			names = []string{"option_name", "option_value"}
		}
		one := &expr.Const{Typ: types.Int8, Val: int64(1)}
		two := &expr.Const{Typ: types.Int8, Val: int64(2)}
		src := &expr.ColRef{Idx: 0, Typ: typ}
		exprs := []expr.Expr{&expr.Subscript{Arr: src, Idx: one, Typ: types.Text}, &expr.Subscript{Arr: src, Idx: two, Typ: valType}}
		if rf.Ordinality {
			exprs = append(exprs, &expr.ColRef{Idx: 1, Typ: types.Int8})
		}
		plan = &exec.Project{Input: ps, Exprs: exprs}
	}
	if rf.Ordinality {
		ps.Typs = append(ps.Typs, types.Int8)
		names = append(names, "ordinality")
		colTypes = append(colTypes, types.Int8)
	}
	if rf.Alias != nil {
		alias = rf.Alias.Aliasname
		if !record {
			names[0] = alias
		}
		for i, c := range rf.Alias.Colnames {
			if i < len(names) {
				names[i] = c.GetString_().Sval
			}
		}
	}
	s := &scope{}
	for i, n := range names {
		s.cols = append(s.cols, scopeCol{table: alias, name: n, typ: colTypes[i]})
	}
	return plan, s, nil, nil
}

func (b *binder) bindJoin(je *pg.JoinExpr, outer *scope) (exec.Plan, *scope, *tableInfo, error) {
	lp, ls, _, err := b.bindFromItem(je.Larg, outer)
	if err != nil {
		return nil, nil, nil, err
	}
	rp, rs, _, err := b.bindFromItem(je.Rarg, outer)
	if err != nil {
		return nil, nil, nil, err
	}
	kind := map[pg.JoinType]exec.JoinKind{pg.JoinType_JOIN_INNER: exec.InnerJoin, pg.JoinType_JOIN_LEFT: exec.LeftJoin,
		pg.JoinType_JOIN_RIGHT: exec.RightJoin, pg.JoinType_JOIN_FULL: exec.FullJoin}[je.Jointype]
	both := &scope{parent: outer, cols: append(append([]scopeCol(nil), ls.cols...), rs.cols...)}
	split := len(ls.cols)
	j := &exec.Join{Kind: kind, Left: lp, Right: rp}
	var using []string
	if je.IsNatural {
		for _, lc := range ls.cols {
			for _, rc := range rs.cols {
				if lc.name == rc.name && !lc.hidden && !rc.hidden {
					using = append(using, lc.name)
				}
			}
		}
	}
	for _, u := range je.UsingClause {
		using = append(using, u.GetString_().Sval)
	}
	var conds []expr.Expr
	var mergedL, mergedR []int
	for _, name := range using {
		li, ri := -1, -1
		for i, c := range ls.cols {
			if c.name == name && !c.qualOnly {
				li = i
			}
		}
		for i, c := range rs.cols {
			if c.name == name && !c.qualOnly {
				ri = i
			}
		}
		if li < 0 || ri < 0 {
			return nil, nil, nil, sqlerr.New(sqlerr.UndefinedColumn, "column \"%s\" specified in USING clause does not exist in %s table", name, map[bool]string{true: "left", false: "right"}[li < 0])
		}
		eq, err := b.binaryOp("=", &expr.ColRef{Idx: li, Typ: ls.cols[li].typ, Name: name}, &expr.ColRef{Idx: split + ri, Typ: rs.cols[ri].typ, Name: name}, 0)
		if err != nil {
			return nil, nil, nil, err
		}
		conds = append(conds, eq)
		mergedL, mergedR = append(mergedL, li), append(mergedR, ri)
	}
	if je.Quals != nil {
		c, err := b.bindExpr(je.Quals, both)
		if err != nil {
			return nil, nil, nil, err
		}
		if c, err = b.coerceBool(c, "JOIN/ON", je.Quals); err != nil {
			return nil, nil, nil, err
		}
		conds = append(conds, splitAnd(c)...)
	}
	plan := joinOn(j, conds, split)
	s := both
	if len(using) > 0 {
		// USING columns appear once, first; the inputs' copies stay reachable
		// only through their table qualifiers.
		var exprs []expr.Expr
		out := &scope{parent: outer}
		for k, name := range using {
			l := &expr.ColRef{Idx: mergedL[k], Typ: ls.cols[mergedL[k]].typ}
			r := &expr.ColRef{Idx: split + mergedR[k], Typ: rs.cols[mergedR[k]].typ}
			var m expr.Expr = l
			switch kind {
			case exec.RightJoin:
				m = r
			case exec.FullJoin:
				args, t, err := b.unify([]expr.Expr{l, r}, "JOIN/USING", nil)
				if err != nil {
					return nil, nil, nil, err
				}
				m = &expr.Coalesce{Args: args, Typ: t}
			}
			exprs = append(exprs, m)
			out.cols = append(out.cols, scopeCol{name: name, typ: m.Type()})
		}
		inUsing := func(cols []int, i int) bool {
			for _, c := range cols {
				if c == i {
					return true
				}
			}
			return false
		}
		for i, c := range both.cols {
			exprs = append(exprs, &expr.ColRef{Idx: i, Typ: c.typ})
			if (i < split && inUsing(mergedL, i)) || (i >= split && inUsing(mergedR, i-split)) {
				c.hidden, c.qualOnly = true, true
			}
			out.cols = append(out.cols, c)
		}
		plan = &exec.Project{Input: plan, Exprs: exprs}
		s = out
	}
	if je.Alias != nil {
		for i := range s.cols {
			s.cols[i].table = je.Alias.Aliasname
		}
	}
	return plan, s, nil, nil
}
