package planner

import (
	"fmt"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/sluice-db/sluice/exec"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// bindSelect binds a SELECT (or VALUES, or set operation). outer is the
// enclosing query's scope for subqueries (nil at top level).
func (b *binder) bindSelect(st *pg.SelectStmt, outer *scope) (*query, error) {
	if st.WithClause != nil {
		if st.WithClause.Recursive {
			return nil, sqlerr.Unsupported("WITH RECURSIVE is not supported").At(loc(st.WithClause.Location))
		}
		m := map[string]*cte{}
		b.ctes = append(b.ctes, m)
		defer func() { b.ctes = b.ctes[:len(b.ctes)-1] }()
		for _, cn := range st.WithClause.Ctes {
			c := cn.GetCommonTableExpr()
			sel := c.Ctequery.GetSelectStmt()
			if sel == nil {
				return nil, sqlerr.Unsupported("data-modifying statements in WITH are not supported").At(loc(c.Location))
			}
			q, err := b.bindSelect(sel, outer)
			if err != nil {
				return nil, err
			}
			cols := append([]ResultColumn(nil), q.cols...)
			for i, a := range c.Aliascolnames {
				if i < len(cols) {
					cols[i].Name = a.GetString_().Sval
				}
			}
			m[c.Ctename] = &cte{plan: q.plan, cols: cols}
		}
	}
	var q *query
	var err error
	switch {
	case st.Op != pg.SetOperation_SETOP_NONE:
		q, err = b.bindSetOp(st, outer)
	case len(st.ValuesLists) > 0:
		q, err = b.bindValues(st, outer)
	default:
		return b.bindSimpleSelect(st, outer)
	}
	if err != nil {
		return nil, err
	}
	return b.finishOutput(q, st, outer)
}

// finishOutput applies ORDER BY and LIMIT of a VALUES or set-operation query,
// whose ORDER BY can only name output columns.
func (b *binder) finishOutput(q *query, st *pg.SelectStmt, outer *scope) (*query, error) {
	var keys []exec.SortKey
	if len(st.SortClause) > 0 {
		s := q.scope("")
		s.parent = outer
		for _, sn := range st.SortClause {
			sb := sn.GetSortBy()
			col, err := b.outputColumn(sb.Node, q.cols)
			if err != nil {
				return nil, err
			}
			if col < 0 {
				e, err := b.bindExpr(sb.Node, s)
				if err != nil {
					return nil, err
				}
				cr, ok := e.(*expr.ColRef)
				if !ok {
					return nil, sqlerr.Unsupported("ORDER BY on a UNION/INTERSECT/EXCEPT result must be on one of the result columns").At(nodeLoc(sb.Node))
				}
				col = cr.Idx
			}
			keys = append(keys, sortKey(sb, col))
		}
		q = &query{plan: &exec.Sort{Input: q.plan, Keys: keys}, cols: q.cols}
	}
	return b.applyLimit(q, st, keys)
}

func sortKey(sb *pg.SortBy, col int) exec.SortKey {
	k := exec.SortKey{Col: col, Desc: sb.SortbyDir == pg.SortByDir_SORTBY_DESC}
	k.NullsFirst = k.Desc
	switch sb.SortbyNulls {
	case pg.SortByNulls_SORTBY_NULLS_FIRST:
		k.NullsFirst = true
	case pg.SortByNulls_SORTBY_NULLS_LAST:
		k.NullsFirst = false
	}
	return k
}

// outputColumn resolves an ORDER BY / GROUP BY item that is an output column
// ordinal or an output column name; -1 when it is neither.
func (b *binder) outputColumn(n *pg.Node, cols []ResultColumn) (int, error) {
	if c := n.GetAConst(); c != nil {
		if c.GetIval() == nil {
			return 0, sqlerr.New(sqlerr.SyntaxError, "non-integer constant in ORDER BY").At(loc(c.Location))
		}
		i := int(c.GetIval().Ival)
		if i < 1 || i > len(cols) {
			return 0, sqlerr.New(sqlerr.InvalidColumnReference, "ORDER BY position %d is not in select list", i).At(loc(c.Location))
		}
		return i - 1, nil
	}
	if cr := n.GetColumnRef(); cr != nil && len(cr.Fields) == 1 && cr.Fields[0].GetString_() != nil {
		name := cr.Fields[0].GetString_().Sval
		found := -1
		for i, c := range cols {
			if c.Name == name {
				if found >= 0 {
					return 0, sqlerr.New(sqlerr.AmbiguousColumn, "ORDER BY \"%s\" is ambiguous", name).At(loc(cr.Location))
				}
				found = i
			}
		}
		return found, nil
	}
	return -1, nil
}

// applyLimit applies LIMIT and OFFSET to q, sorted by keys (for WITH TIES).
func (b *binder) applyLimit(q *query, st *pg.SelectStmt, keys []exec.SortKey) (*query, error) {
	if st.LimitCount == nil && st.LimitOffset == nil {
		return q, nil
	}
	lim := &exec.Limit{Input: q.plan}
	if withTies(st) {
		if len(st.SortClause) == 0 {
			return nil, sqlerr.New(sqlerr.SyntaxError, "WITH TIES cannot be specified without ORDER BY clause")
		}
		lim.Ties = keys
	}
	bindCount := func(n *pg.Node, what string) (expr.Expr, error) {
		if n == nil {
			return nil, nil
		}
		e, err := b.bindExpr(n, &scope{})
		if err != nil {
			return nil, err
		}
		return b.coerce(e, types.Int8, what, false)
	}
	var err error
	if lim.Count, err = bindCount(st.LimitCount, "LIMIT"); err != nil {
		return nil, err
	}
	if lim.Offset, err = bindCount(st.LimitOffset, "OFFSET"); err != nil {
		return nil, err
	}
	return &query{plan: lim, cols: q.cols}, nil
}

// withTies reports whether st says FETCH FIRST … WITH TIES.
func withTies(st *pg.SelectStmt) bool {
	return st.LimitOption == pg.LimitOption_LIMIT_OPTION_WITH_TIES
}

func (b *binder) bindValues(st *pg.SelectStmt, outer *scope) (*query, error) {
	s := &scope{parent: outer}
	var rows [][]expr.Expr
	width := -1
	for _, vl := range st.ValuesLists {
		items := vl.GetList().Items
		if width >= 0 && len(items) != width {
			return nil, sqlerr.New(sqlerr.SyntaxError, "VALUES lists must all be the same length").At(nodeLoc(items[0]))
		}
		width = len(items)
		row := make([]expr.Expr, len(items))
		for i, it := range items {
			e, err := b.bindExpr(it, s)
			if err != nil {
				return nil, err
			}
			row[i] = e
		}
		rows = append(rows, row)
	}
	typs := make([]*types.T, width)
	for c := 0; c < width; c++ {
		col := make([]expr.Expr, len(rows))
		for r := range rows {
			col[r] = rows[r][c]
		}
		col, t, err := b.unify(col, "VALUES", nil)
		if err != nil {
			return nil, err
		}
		for r := range rows {
			rows[r][c] = col[r]
		}
		typs[c] = t
	}
	cols := make([]ResultColumn, width)
	for i := range cols {
		cols[i] = ResultColumn{Name: fmt.Sprintf("column%d", i+1), Type: typs[i]}
	}
	return &query{plan: &exec.Values{Rows: rows, Typs: typs}, cols: cols}, nil
}

func (b *binder) bindSetOp(st *pg.SelectStmt, outer *scope) (*query, error) {
	l, err := b.bindSelect(st.Larg, outer)
	if err != nil {
		return nil, err
	}
	r, err := b.bindSelect(st.Rarg, outer)
	if err != nil {
		return nil, err
	}
	opName := map[pg.SetOperation]string{pg.SetOperation_SETOP_UNION: "UNION", pg.SetOperation_SETOP_INTERSECT: "INTERSECT", pg.SetOperation_SETOP_EXCEPT: "EXCEPT"}[st.Op]
	if len(l.cols) != len(r.cols) {
		return nil, sqlerr.New(sqlerr.SyntaxError, "each %s query must have the same number of columns", opName)
	}
	lx := make([]expr.Expr, len(l.cols))
	rx := make([]expr.Expr, len(r.cols))
	cols := make([]ResultColumn, len(l.cols))
	needL, needR := false, false
	for i := range l.cols {
		lt, rt := l.cols[i].Type, r.cols[i].Type
		t := expr.CommonType([]*types.T{lt, rt})
		if t == nil {
			return nil, sqlerr.New(sqlerr.DatatypeMismatch, "%s types %s and %s cannot be matched", opName, lt.String(), rt.String())
		}
		lx[i] = &expr.ColRef{Idx: i, Typ: lt}
		rx[i] = &expr.ColRef{Idx: i, Typ: rt}
		if !lt.Equal(t) {
			if lx[i], err = b.coerce(lx[i], t, opName, true); err != nil {
				return nil, err
			}
			needL = true
		}
		if !rt.Equal(t) {
			if rx[i], err = b.coerce(rx[i], t, opName, true); err != nil {
				return nil, err
			}
			needR = true
		}
		cols[i] = ResultColumn{Name: l.cols[i].Name, Type: t}
	}
	lp, rp := l.plan, r.plan
	if needL {
		lp = &exec.Project{Input: lp, Exprs: lx}
	}
	if needR {
		rp = &exec.Project{Input: rp, Exprs: rx}
	}
	kind := map[pg.SetOperation]exec.SetOpKind{pg.SetOperation_SETOP_UNION: exec.Union, pg.SetOperation_SETOP_INTERSECT: exec.Intersect, pg.SetOperation_SETOP_EXCEPT: exec.Except}[st.Op]
	return &query{plan: &exec.SetOp{Kind: kind, All: st.All, Left: lp, Right: rp}, cols: cols}, nil
}

// target is one bound select-list item.
type target struct {
	e    expr.Expr
	name string
	col  ResultColumn
}

func (b *binder) bindSimpleSelect(st *pg.SelectStmt, outer *scope) (*query, error) {
	var inWhere []*pg.FuncCall
	var whereWins []*pg.FuncCall
	collectCalls(st.WhereClause, &inWhere, &whereWins)
	if len(inWhere) > 0 {
		return nil, sqlerr.New(sqlerr.GroupingError, "aggregate functions are not allowed in WHERE").At(loc(inWhere[0].Location))
	}
	if len(whereWins) > 0 {
		return nil, sqlerr.New(sqlerr.WindowingError, "window functions are not allowed in WHERE").At(loc(whereWins[0].Location))
	}
	plan, s, err := b.bindFrom(st.FromClause, st.WhereClause, outer)
	if err != nil {
		return nil, err
	}
	// Aggregates and window calls anywhere in the output clauses.
	var aggCalls, winCalls []*pg.FuncCall
	for _, t := range st.TargetList {
		collectCalls(t, &aggCalls, &winCalls)
	}
	collectCalls(st.HavingClause, &aggCalls, &winCalls)
	for _, o := range st.SortClause {
		collectCalls(o, &aggCalls, &winCalls)
	}
	savedGrouping := b.grouping
	defer func() { b.grouping = savedGrouping }()
	b.grouping = nil
	if len(aggCalls) > 0 || len(st.GroupClause) > 0 || st.HavingClause != nil {
		if plan, s, err = b.bindAggregation(st, plan, s, aggCalls); err != nil {
			return nil, err
		}
	}
	if len(winCalls) > 0 {
		if plan, s, err = b.bindWindows(st, plan, s, winCalls); err != nil {
			return nil, err
		}
	}
	var srfCalls []*pg.FuncCall
	for _, t := range st.TargetList {
		collectSRFs(t.GetResTarget().Val, &srfCalls)
	}
	if len(srfCalls) > 0 {
		if plan, s, err = b.bindSRFs(plan, s, srfCalls); err != nil {
			return nil, err
		}
	}
	// Select list.
	var targets []target
	for _, tn := range st.TargetList {
		rt := tn.GetResTarget()
		if cr := rt.Val.GetColumnRef(); cr != nil && cr.Fields[len(cr.Fields)-1].GetAStar() != nil {
			qual := ""
			if len(cr.Fields) > 1 {
				qual = cr.Fields[len(cr.Fields)-2].GetString_().Sval
			}
			exp, err := b.expandStar(s, qual, loc(cr.Location))
			if err != nil {
				return nil, err
			}
			targets = append(targets, exp...)
			continue
		}
		e, err := b.bindExpr(rt.Val, s)
		if err != nil {
			return nil, err
		}
		name := rt.Name
		if name == "" {
			name = columnName(rt.Val)
		}
		col := ResultColumn{Name: name, Type: e.Type()}
		if cr, ok := e.(*expr.ColRef); ok {
			sc := s.cols[cr.Idx]
			col.TableOID, col.AttNum = sc.tableOID, sc.attNum
		}
		targets = append(targets, target{e: e, name: name, col: col})
	}
	for i := range targets {
		if targets[i].e.Type().Family == types.UnknownFamily {
			e, err := b.coerce(targets[i].e, types.Text, "", false)
			if err != nil {
				return nil, err
			}
			targets[i].e = e
			targets[i].col.Type = types.Text
		}
	}
	return b.bindOutput(st, plan, s, targets, outer)
}

// bindOutput adds DISTINCT, ORDER BY and LIMIT on top of the select list.
func (b *binder) bindOutput(st *pg.SelectStmt, plan exec.Plan, s *scope, targets []target, outer *scope) (*query, error) {
	exprs := make([]expr.Expr, len(targets))
	cols := make([]ResultColumn, len(targets))
	for i, t := range targets {
		exprs[i], cols[i] = t.e, t.col
	}
	distinct := st.DistinctClause != nil
	distinctOn := distinct && len(st.DistinctClause) > 0 && st.DistinctClause[0] != nil && st.DistinctClause[0].Node != nil
	// resolveItem finds the projected column for an ORDER BY / DISTINCT ON
	// item, adding a hidden column when it is a new expression.
	resolveItem := func(n *pg.Node, what string) (int, error) {
		col, err := b.outputColumn(n, cols)
		if err != nil {
			return 0, err
		}
		if col >= 0 {
			return col, nil
		}
		e, err := b.bindExpr(n, s)
		if err != nil {
			return 0, err
		}
		es := e.String()
		for i, x := range exprs {
			if x.String() == es {
				return i, nil
			}
		}
		if distinct && !distinctOn {
			return 0, sqlerr.New(sqlerr.InvalidColumnReference, "for SELECT DISTINCT, ORDER BY expressions must appear in select list").At(nodeLoc(n))
		}
		exprs = append(exprs, e)
		return len(exprs) - 1, nil
	}
	var onKeys []int
	if distinctOn {
		for _, n := range st.DistinctClause {
			c, err := resolveItem(n, "DISTINCT ON")
			if err != nil {
				return nil, err
			}
			onKeys = append(onKeys, c)
		}
	}
	var keys []exec.SortKey
	for _, sn := range st.SortClause {
		sb := sn.GetSortBy()
		c, err := resolveItem(sb.Node, "ORDER BY")
		if err != nil {
			return nil, err
		}
		keys = append(keys, sortKey(sb, c))
	}
	var out exec.Plan = &exec.Project{Input: plan, Exprs: exprs}
	switch {
	case distinctOn:
		for i, k := range onKeys {
			if i < len(keys) && keys[i].Col != k {
				return nil, sqlerr.New(sqlerr.InvalidColumnReference, "SELECT DISTINCT ON expressions must match initial ORDER BY expressions").At(nodeLoc(st.DistinctClause[i]))
			}
		}
		if len(keys) == 0 {
			for _, k := range onKeys {
				keys = append(keys, exec.SortKey{Col: k})
			}
		}
		out = &exec.Sort{Input: out, Keys: keys}
		out = &exec.Distinct{Input: out, OnKeys: onKeys}
	case distinct:
		out = &exec.Distinct{Input: out}
		if len(keys) > 0 {
			out = &exec.Sort{Input: out, Keys: keys}
		}
	case len(keys) > 0:
		out = &exec.Sort{Input: out, Keys: keys}
	}
	if len(exprs) == len(targets) {
		return b.applyLimit(&query{plan: out, cols: cols}, st, keys)
	}
	// WITH TIES compares the ORDER BY's columns, hidden ones among them:
	// it limits below the projection that drops them.
	if withTies(st) {
		q, err := b.applyLimit(&query{plan: out, cols: cols}, st, keys)
		if err != nil {
			return nil, err
		}
		out = q.plan
	}
	drop := make([]expr.Expr, len(targets))
	for i := range drop {
		drop[i] = &expr.ColRef{Idx: i, Typ: exprs[i].Type()}
	}
	out = &exec.Project{Input: out, Exprs: drop}
	if withTies(st) {
		return &query{plan: out, cols: cols}, nil
	}
	return b.applyLimit(&query{plan: out, cols: cols}, st, keys)
}

func (b *binder) expandStar(s *scope, qual string, pos int) ([]target, error) {
	var out []target
	for i, c := range s.cols {
		if c.hidden || (qual != "" && c.table != qual) || (qual == "" && c.qualOnly) {
			continue
		}
		var e expr.Expr = &expr.ColRef{Idx: i, Typ: c.typ, Name: c.name}
		if b.grouping != nil {
			n := &pg.Node{Node: &pg.Node_ColumnRef{ColumnRef: &pg.ColumnRef{Fields: []*pg.Node{
				{Node: &pg.Node_String_{String_: &pg.String{Sval: c.table}}}, {Node: &pg.Node_String_{String_: &pg.String{Sval: c.name}}}}}}}
			if c.table == "" {
				n.GetColumnRef().Fields = n.GetColumnRef().Fields[1:]
			}
			var err error
			if e, err = b.bindExpr(n, s); err != nil {
				return nil, err
			}
		}
		out = append(out, target{e: e, name: c.name, col: ResultColumn{Name: c.name, Type: c.typ, TableOID: c.tableOID, AttNum: c.attNum}})
	}
	if len(out) == 0 && qual != "" && !s.hasTable(qual) {
		return nil, sqlerr.New(sqlerr.UndefinedTable, "missing FROM-clause entry for table \"%s\"", qual).At(pos)
	}
	return out, nil
}

// columnName derives an output column name as Postgres does.
func columnName(n *pg.Node) string {
	switch {
	case n.GetColumnRef() != nil:
		f := n.GetColumnRef().Fields
		if s := f[len(f)-1].GetString_(); s != nil {
			return s.Sval
		}
	case n.GetFuncCall() != nil:
		return funcName(n.GetFuncCall())
	case n.GetTypeCast() != nil:
		tc := n.GetTypeCast()
		if name := columnName(tc.Arg); name != "?column?" {
			return name
		}
		names := tc.TypeName.Names
		tn := names[len(names)-1].GetString_().Sval
		if t := types.ByName(tn); t != nil && len(tc.TypeName.ArrayBounds) == 0 {
			return t.TypName()
		}
		return tn
	case n.GetCaseExpr() != nil:
		return "case"
	case n.GetCoalesceExpr() != nil:
		return "coalesce"
	case n.GetMinMaxExpr() != nil:
		if n.GetMinMaxExpr().Op == pg.MinMaxOp_IS_LEAST {
			return "least"
		}
		return "greatest"
	case n.GetAArrayExpr() != nil:
		return "array"
	case n.GetAIndirection() != nil:
		ind := n.GetAIndirection().Indirection
		if f := ind[len(ind)-1].GetString_(); f != nil {
			return f.Sval // (record).field
		}
		return columnName(n.GetAIndirection().Arg)
	case n.GetSubLink() != nil:
		sl := n.GetSubLink()
		switch sl.SubLinkType {
		case pg.SubLinkType_EXISTS_SUBLINK:
			return "exists"
		case pg.SubLinkType_ARRAY_SUBLINK:
			return "array"
		case pg.SubLinkType_EXPR_SUBLINK:
			if sel := sl.Subselect.GetSelectStmt(); sel != nil && len(sel.TargetList) == 1 {
				rt := sel.TargetList[0].GetResTarget()
				if rt.Name != "" {
					return rt.Name
				}
				return columnName(rt.Val)
			}
		}
	case n.GetSqlvalueFunction() != nil:
		name := strings.ToLower(strings.TrimPrefix(n.GetSqlvalueFunction().Op.String(), "SVFOP_"))
		return strings.TrimSuffix(name, "_n")
	case n.GetAConst() != nil:
		if n.GetAConst().GetBoolval() != nil {
			return "bool"
		}
	case n.GetCollateClause() != nil:
		return columnName(n.GetCollateClause().Arg)
	}
	return "?column?"
}
