package planner

import (
	"regexp"
	"strings"
	"sync"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/sluice-db/sluice/catalog"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/types"
)

// Renderer prints catalog objects as SQL the way Postgres' ruleutils.c does
// for the equivalent objects, so that pg_get_expr and pg_get_viewdef (and
// psql's \d) show what Postgres would. It implements catalog.Renderer.
//
// Defaults are bound, so their literals carry the types Postgres shows
// ('x'::text, '-1'::integer). View queries keep the expressions as written
// (Postgres would also show the implicit casts its analysis adds, as in
// fare > 10::numeric) but take ruleutils' layout, column qualification and
// output names.
type Renderer struct {
	P    *Planner
	Opts Options
}

var _ catalog.Renderer = Renderer{}

// DefaultExpr implements catalog.Renderer; "" means "print the stored text".
func (r Renderer) DefaultExpr(t *catalog.Table, col int) string {
	c := t.Columns[col]
	n := parseExprText(c.Default)
	if n == nil {
		return ""
	}
	if n.GetSqlvalueFunction() != nil {
		return strings.ToUpper(deparseNode(n)) // CURRENT_TIMESTAMP, CURRENT_DATE, ...
	}
	b := newBinder(r.P, r.Opts)
	e, err := b.bindExpr(n, &scope{})
	if err != nil {
		return ""
	}
	if cst, ok := e.(*expr.Const); ok && cst.Typ.Family == types.UnknownFamily {
		// An unknown literal takes the column's type, shown without typmod.
		if e, err = b.coerce(e, types.ByOid(c.Type.Oid), "DEFAULT", false); err != nil {
			return ""
		}
	}
	s, ok := ruleExpr(e, b.opts.Cfg, true)
	if !ok {
		return ""
	}
	return s
}

// parseExprText parses the text of one scalar expression.
func parseExprText(text string) *pg.Node {
	if text == "" {
		return nil
	}
	res, err := pg.Parse("SELECT " + text)
	if err != nil || len(res.Stmts) != 1 {
		return nil
	}
	sel := res.Stmts[0].Stmt.GetSelectStmt()
	if sel == nil || len(sel.TargetList) != 1 {
		return nil
	}
	return sel.TargetList[0].GetResTarget().Val
}

// deparseNode prints one expression node as pg_query's deparser does.
func deparseNode(n *pg.Node) string {
	sel := &pg.SelectStmt{TargetList: []*pg.Node{{Node: &pg.Node_ResTarget{ResTarget: &pg.ResTarget{Val: n}}}}}
	out, err := pg.Deparse(&pg.ParseResult{Version: parseTreeVersion(), Stmts: []*pg.RawStmt{{Stmt: &pg.Node{Node: &pg.Node_SelectStmt{SelectStmt: sel}}}}})
	if err != nil {
		return ""
	}
	return typmodSpace.ReplaceAllString(strings.TrimPrefix(out, "SELECT "), "::$1($2,$3)")
}

// typmodSpace matches a cast to a type with two typmods, which pg_query
// prints as numeric(10, 2) and Postgres as numeric(10,2).
var typmodSpace = regexp.MustCompile(`::(\w+)\((\d+), (\d+)\)`)

// figureColname names an output column as Postgres does when it has no
// alias: a column's name, a function's name, or ?column?.
func figureColname(n *pg.Node) string {
	switch {
	case n.GetColumnRef() != nil:
		return lastField(n.GetColumnRef())
	case n.GetFuncCall() != nil:
		return funcName(n.GetFuncCall())
	case n.GetTypeCast() != nil:
		if name := figureColname(n.GetTypeCast().Arg); name != "?column?" {
			return name
		}
		names := n.GetTypeCast().TypeName.Names
		return names[len(names)-1].GetString_().Sval
	}
	return "?column?"
}

// parseTreeVersion is the parse tree version pg_query's deparser expects.
var parseTreeVersion = sync.OnceValue(func() int32 {
	t, err := pg.Parse("SELECT 1")
	if err != nil {
		return 0
	}
	return t.Version
})

// ruleExpr prints a bound expression as ruleutils' get_rule_expr does in
// pretty mode; false for a node it does not know.
func ruleExpr(e expr.Expr, cfg *types.Config, top bool) (string, bool) {
	switch e := e.(type) {
	case *expr.Const:
		return ruleConst(e, cfg), true
	case *expr.Cast:
		arg, ok := ruleExpr(e.Arg, cfg, false)
		if !ok {
			return "", false
		}
		if !e.Explicit {
			return arg, true // implicit coercions are not shown
		}
		if _, isCall := e.Arg.(*expr.Call); isCall && e.Arg.(*expr.Call).Fn.Infix {
			arg = "(" + arg + ")"
		}
		return arg + "::" + types.FormatType(e.To.Oid, e.To.Typmod(), true), true
	case *expr.Call:
		args := make([]string, len(e.Args))
		for i, a := range e.Args {
			s, ok := ruleExpr(a, cfg, false)
			if !ok {
				return "", false
			}
			args[i] = s
		}
		switch {
		case e.Fn.Infix && len(args) == 2:
			s := args[0] + " " + e.Fn.Name + " " + args[1]
			if !top {
				s = "(" + s + ")"
			}
			return s, true
		case isOperator(e.Fn.Name) && len(args) == 1:
			return e.Fn.Name + args[0], true
		}
		return e.Fn.Name + "(" + strings.Join(args, ", ") + ")", true
	}
	return "", false
}

func isOperator(name string) bool {
	return name != "" && strings.Trim(name, "+-*/<>=~!@#%^&|`?") == ""
}

// ruleConst prints a constant as ruleutils' get_const_expr does: integers
// and decimals bare when they read back as the same type, everything else
// quoted with a ::type label.
func ruleConst(c *expr.Const, cfg *types.Config) string {
	if c.Val == nil {
		if c.Typ.Family == types.UnknownFamily {
			return "NULL"
		}
		return "NULL::" + types.FormatType(c.Typ.Oid, -1, true)
	}
	text := types.FormatText(c.Typ, c.Val, cfg)
	label := "::" + types.FormatType(c.Typ.Oid, -1, true)
	switch c.Typ.Oid {
	case types.OidInt4:
		if !strings.HasPrefix(text, "-") {
			return text
		}
	case types.OidNumeric:
		if text != "" && text[0] >= '0' && text[0] <= '9' && strings.ContainsAny(text, ".eE") {
			return text
		}
	case types.OidBool:
		if c.Val.(bool) {
			return "true"
		}
		return "false"
	case types.OidUnknown:
		return quoteLiteral(text)
	}
	return quoteLiteral(text) + label
}

func quoteLiteral(s string) string {
	if strings.ContainsRune(s, '\\') {
		return "E'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `'`, `''`) + "'"
	}
	return "'" + strings.ReplaceAll(s, `'`, `''`) + "'"
}

// ViewQuery implements catalog.Renderer: a materialized view's query in
// ruleutils' pretty layout,
//
//	SELECT c.country,
//	   count(*) AS trips
//	  FROM trips t
//	    JOIN cities c ON t.city = c.city
//	 GROUP BY c.country;
//
// with columns qualified only when the query reads more than one relation
// (Postgres 16's rule) and every output column that is not a plain column
// of the same name given an AS. "" means "print the stored text".
func (r Renderer) ViewQuery(t *catalog.Table, pretty bool) string {
	res, err := pg.Parse(t.Definition)
	if err != nil || len(res.Stmts) != 1 {
		return ""
	}
	sel := res.Stmts[0].Stmt.GetSelectStmt()
	if sel == nil || sel.Op != pg.SetOperation_SETOP_NONE || sel.WithClause != nil || len(sel.ValuesLists) > 0 ||
		sel.IntoClause != nil || len(sel.LockingClause) > 0 || sel.WindowClause != nil {
		return ""
	}
	v := &viewPrinter{r: r, schema: t.Schema}
	for _, f := range sel.FromClause {
		v.collect(f)
	}
	v.qualify(sel)
	var buf strings.Builder
	buf.WriteString(" SELECT ")
	if sel.DistinctClause != nil {
		if len(sel.DistinctClause) == 1 && sel.DistinctClause[0].Node == nil {
			buf.WriteString("DISTINCT ")
		} else {
			buf.WriteString("DISTINCT ON (" + v.list(sel.DistinctClause) + ") ")
		}
	}
	targets := make([]string, 0, len(sel.TargetList))
	for i, tn := range sel.TargetList {
		rt := tn.GetResTarget()
		s := deparseNode(rt.Val)
		if s == "" {
			return ""
		}
		if cr := rt.Val.GetColumnRef(); cr != nil && cr.Fields[len(cr.Fields)-1].GetAStar() != nil {
			targets = append(targets, s)
			continue
		}
		name := rt.Name
		if i < len(t.Columns) {
			name = t.Columns[i].Name
		}
		if name == "" {
			name = figureColname(rt.Val)
		}
		if cr := rt.Val.GetColumnRef(); cr == nil || lastField(cr) != name {
			s += " AS " + types.QuoteIdent(name)
		}
		targets = append(targets, s)
	}
	buf.WriteString(strings.Join(targets, ",\n    "))
	if len(sel.FromClause) > 0 {
		items := make([]string, len(sel.FromClause))
		for i, f := range sel.FromClause {
			s, ok := v.fromItem(f)
			if !ok {
				return ""
			}
			items[i] = s
		}
		buf.WriteString("\n   FROM " + strings.Join(items, ",\n    "))
	}
	if sel.WhereClause != nil {
		buf.WriteString("\n  WHERE " + deparseNode(sel.WhereClause))
	}
	if len(sel.GroupClause) > 0 {
		buf.WriteString("\n  GROUP BY " + v.list(v.resolvePositions(sel.GroupClause, sel.TargetList)))
	}
	if sel.HavingClause != nil {
		buf.WriteString("\n HAVING " + deparseNode(sel.HavingClause))
	}
	if len(sel.SortClause) > 0 {
		keys := make([]string, len(sel.SortClause))
		for i, n := range sel.SortClause {
			sb := n.GetSortBy()
			if sb == nil {
				return ""
			}
			node := v.resolvePositions([]*pg.Node{sb.Node}, sel.TargetList)[0]
			k := deparseNode(node)
			switch sb.SortbyDir {
			case pg.SortByDir_SORTBY_DESC:
				k += " DESC"
			case pg.SortByDir_SORTBY_USING:
				return ""
			}
			switch sb.SortbyNulls {
			case pg.SortByNulls_SORTBY_NULLS_FIRST:
				k += " NULLS FIRST"
			case pg.SortByNulls_SORTBY_NULLS_LAST:
				k += " NULLS LAST"
			}
			keys[i] = k
		}
		buf.WriteString("\n  ORDER BY " + strings.Join(keys, ", "))
	}
	// As Postgres prints them: OFFSET first.
	if sel.LimitOffset != nil {
		buf.WriteString("\n OFFSET " + deparseNode(sel.LimitOffset))
	}
	if sel.LimitCount != nil && withTies(sel) {
		buf.WriteString("\n FETCH FIRST (" + deparseNode(sel.LimitCount) + ") ROWS WITH TIES")
	} else if sel.LimitCount != nil {
		buf.WriteString("\n LIMIT " + deparseNode(sel.LimitCount))
	}
	buf.WriteString(";")
	return buf.String()
}

// viewPrinter holds what a view's FROM clause makes visible.
type viewPrinter struct {
	r      Renderer
	schema string
	leaves []fromLeaf
}

// fromLeaf is one relation, subquery or function of a FROM clause.
type fromLeaf struct {
	ref  string   // the name its columns are qualified by
	cols []string // its column names (nil: unknown)
}

func lastField(cr *pg.ColumnRef) string {
	f := cr.Fields[len(cr.Fields)-1]
	if s := f.GetString_(); s != nil {
		return s.Sval
	}
	return ""
}

func (v *viewPrinter) collect(n *pg.Node) {
	switch {
	case n.GetRangeVar() != nil:
		rv := n.GetRangeVar()
		leaf := fromLeaf{ref: rv.Relname}
		if rv.Alias != nil {
			leaf.ref = rv.Alias.Aliasname
		}
		if t := v.lookup(rv); t != nil {
			leaf.cols = t.ColumnNames()
		}
		if rv.Alias != nil {
			for i, c := range rv.Alias.Colnames {
				if i < len(leaf.cols) {
					leaf.cols[i] = c.GetString_().Sval
				}
			}
		}
		v.leaves = append(v.leaves, leaf)
	case n.GetRangeSubselect() != nil:
		rs := n.GetRangeSubselect()
		leaf := fromLeaf{}
		if rs.Alias != nil {
			leaf.ref = rs.Alias.Aliasname
		}
		if sub := rs.Subquery.GetSelectStmt(); sub != nil {
			for _, tn := range sub.TargetList {
				rt := tn.GetResTarget()
				switch {
				case rt.Name != "":
					leaf.cols = append(leaf.cols, rt.Name)
				case rt.Val.GetColumnRef() != nil:
					leaf.cols = append(leaf.cols, lastField(rt.Val.GetColumnRef()))
				default:
					leaf.cols = append(leaf.cols, "")
				}
			}
		}
		v.leaves = append(v.leaves, leaf)
	case n.GetRangeFunction() != nil:
		rf := n.GetRangeFunction()
		leaf := fromLeaf{}
		if rf.Alias != nil {
			leaf.ref = rf.Alias.Aliasname
		} else if len(rf.Functions) > 0 && len(rf.Functions[0].GetList().GetItems()) > 0 {
			if fc := rf.Functions[0].GetList().Items[0].GetFuncCall(); fc != nil {
				leaf.ref = funcName(fc)
			}
		}
		v.leaves = append(v.leaves, leaf)
	case n.GetJoinExpr() != nil:
		je := n.GetJoinExpr()
		v.collect(je.Larg)
		v.collect(je.Rarg)
	}
}

// lookup finds the relation a FROM item names, as the view's query saw it.
func (v *viewPrinter) lookup(rv *pg.RangeVar) *catalog.Table {
	schemas := []string{"pg_catalog", v.schema}
	if rv.Schemaname != "" {
		schemas = []string{rv.Schemaname}
	}
	for _, s := range schemas {
		if t, ok := catalog.LookupSystem(s, rv.Relname); ok {
			return t
		}
		if t, ok := v.r.P.Cat.Lookup(s, rv.Relname); ok {
			return t
		}
	}
	return nil
}

// qualify rewrites the column references of sel as Postgres 16 prints
// them: qualified by their relation when the FROM clause has several,
// unqualified when it has one.
func (v *viewPrinter) qualify(sel *pg.SelectStmt) {
	var nodes []*pg.Node
	nodes = append(nodes, sel.TargetList...)
	nodes = append(nodes, sel.WhereClause, sel.HavingClause)
	nodes = append(nodes, sel.GroupClause...)
	nodes = append(nodes, sel.DistinctClause...)
	for _, n := range sel.SortClause {
		if sb := n.GetSortBy(); sb != nil {
			nodes = append(nodes, sb.Node)
		}
	}
	for _, f := range sel.FromClause {
		nodes = append(nodes, f)
	}
	many := len(v.leaves) > 1
	for _, n := range nodes {
		walkColumnRefs(n, func(cr *pg.ColumnRef) {
			if cr.Fields[len(cr.Fields)-1].GetAStar() != nil {
				return
			}
			switch {
			case !many && len(cr.Fields) == 2 && len(v.leaves) == 1 && cr.Fields[0].GetString_().GetSval() == v.leaves[0].ref:
				cr.Fields = cr.Fields[1:]
			case many && len(cr.Fields) == 1:
				name := lastField(cr)
				var ref string
				found := 0
				for _, l := range v.leaves {
					for _, c := range l.cols {
						if c == name {
							ref, found = l.ref, found+1
							break
						}
					}
				}
				if found == 1 && ref != "" {
					cr.Fields = append([]*pg.Node{pg.MakeStrNode(ref)}, cr.Fields...)
				}
			}
		})
	}
}

// walkColumnRefs calls f on every column reference in n, not descending into
// subqueries (whose names resolve in their own FROM clauses).
func walkColumnRefs(n *pg.Node, f func(*pg.ColumnRef)) {
	if n == nil || n.GetSubLink() != nil || n.GetRangeSubselect() != nil {
		return
	}
	if cr := n.GetColumnRef(); cr != nil {
		f(cr)
		return
	}
	nodeChildren(n, func(c *pg.Node) { walkColumnRefs(c, f) })
}

// resolvePositions replaces GROUP BY / ORDER BY output column numbers by
// the expressions they name, as Postgres prints them.
func (v *viewPrinter) resolvePositions(items, targets []*pg.Node) []*pg.Node {
	out := make([]*pg.Node, len(items))
	for i, n := range items {
		out[i] = n
		c := n.GetAConst()
		if c == nil || c.GetIval() == nil {
			continue
		}
		k := int(c.GetIval().Ival)
		if k >= 1 && k <= len(targets) {
			out[i] = targets[k-1].GetResTarget().Val
		}
	}
	return out
}

func (v *viewPrinter) list(ns []*pg.Node) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = deparseNode(n)
	}
	return strings.Join(s, ", ")
}

// fromItem prints one FROM item, joins on lines of their own.
func (v *viewPrinter) fromItem(n *pg.Node) (string, bool) {
	je := n.GetJoinExpr()
	if je == nil {
		s := deparseFrom(n)
		return s, s != ""
	}
	left, ok := v.fromItem(je.Larg)
	if !ok {
		return "", false
	}
	right, ok := v.fromItem(je.Rarg)
	if !ok {
		return "", false
	}
	if je.Rarg.GetJoinExpr() != nil {
		right = "(" + right + ")"
	}
	kind := map[pg.JoinType]string{pg.JoinType_JOIN_INNER: "JOIN", pg.JoinType_JOIN_LEFT: "LEFT JOIN",
		pg.JoinType_JOIN_RIGHT: "RIGHT JOIN", pg.JoinType_JOIN_FULL: "FULL JOIN"}[je.Jointype]
	if kind == "" {
		return "", false
	}
	if je.IsNatural {
		kind = "NATURAL " + kind
	} else if je.Quals == nil && len(je.UsingClause) == 0 && je.Jointype == pg.JoinType_JOIN_INNER {
		kind = "CROSS JOIN"
	}
	s := left + "\n     " + kind + " " + right
	switch {
	case len(je.UsingClause) > 0:
		cols := make([]string, len(je.UsingClause))
		for i, u := range je.UsingClause {
			cols[i] = types.QuoteIdent(u.GetString_().Sval)
		}
		s += " USING (" + strings.Join(cols, ", ") + ")"
	case je.Quals != nil:
		s += " ON " + deparseNode(je.Quals)
	}
	if je.Alias != nil {
		s = "(" + s + ") " + types.QuoteIdent(je.Alias.Aliasname)
	}
	return s, true
}

// deparseFrom prints a non-join FROM item.
func deparseFrom(n *pg.Node) string {
	sel := &pg.SelectStmt{TargetList: []*pg.Node{{Node: &pg.Node_ResTarget{ResTarget: &pg.ResTarget{Val: &pg.Node{Node: &pg.Node_AConst{AConst: &pg.A_Const{Val: &pg.A_Const_Ival{Ival: &pg.Integer{Ival: 1}}}}}}}}},
		FromClause: []*pg.Node{n}}
	out, err := pg.Deparse(&pg.ParseResult{Version: parseTreeVersion(), Stmts: []*pg.RawStmt{{Stmt: &pg.Node{Node: &pg.Node_SelectStmt{SelectStmt: sel}}}}})
	if err != nil {
		return ""
	}
	return strings.TrimPrefix(out, "SELECT 1 FROM ")
}
