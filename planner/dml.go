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

// targetTable resolves the table an INSERT, UPDATE or DELETE writes, with
// the scope its RETURNING and WHERE clauses see.
func (b *binder) targetTable(rv *pg.RangeVar, verb string) (*tableInfo, *scope, error) {
	ti, err := b.lookupTable(rv)
	if err != nil {
		return nil, nil, err
	}
	switch ti.desc.Kind {
	case catalog.KindSystem:
		action := map[string]string{"INSERT": "insert into", "UPDATE": "update", "DELETE": "delete from"}[verb]
		return nil, nil, sqlerr.New(sqlerr.WrongObjectType, "cannot %s system relation \"%s\"", action, ti.desc.Name).
			WithHint("System relations are read-only: their rows come from the catalog.").At(int(rv.Location) + 1)
	case catalog.KindMaterializedView:
		return nil, nil, sqlerr.New(sqlerr.WrongObjectType, "cannot change materialized view \"%s\"", ti.desc.Name).
			WithHint("A materialized view changes only with the relations it reads.").At(int(rv.Location) + 1)
	case catalog.KindStream:
		if verb != "INSERT" {
			return nil, nil, sqlerr.New(sqlerr.WrongObjectType, "cannot %s stream \"%s\"", strings.ToLower(verb), ti.desc.Name).
				WithHint("Streams are append-only: INSERT, COPY and HTTP push add events.").At(int(rv.Location) + 1)
		}
	}
	alias := ti.desc.Name
	if rv.Alias != nil {
		alias = rv.Alias.Aliasname
	}
	return ti, b.tableScope(ti, alias), nil
}

func (b *binder) tableScope(ti *tableInfo, alias string) *scope {
	s := &scope{}
	for i, c := range ti.desc.Columns {
		s.cols = append(s.cols, scopeCol{table: alias, name: c.Name, typ: c.Type, tableOID: ti.desc.ID, attNum: int16(i + 1)})
	}
	return s
}

func (b *binder) bindReturning(list []*pg.Node, s *scope) ([]expr.Expr, []ResultColumn, error) {
	var es []expr.Expr
	var cols []ResultColumn
	for _, n := range list {
		rt := n.GetResTarget()
		if cr := rt.Val.GetColumnRef(); cr != nil && cr.Fields[len(cr.Fields)-1].GetAStar() != nil {
			ts, err := b.expandStar(s, "", loc(cr.Location))
			if err != nil {
				return nil, nil, err
			}
			for _, t := range ts {
				es, cols = append(es, t.e), append(cols, t.col)
			}
			continue
		}
		e, err := b.bindExpr(rt.Val, s)
		if err != nil {
			return nil, nil, err
		}
		name := rt.Name
		if name == "" {
			name = columnName(rt.Val)
		}
		es = append(es, e)
		cols = append(cols, ResultColumn{Name: name, Type: e.Type()})
	}
	return es, cols, nil
}

func (b *binder) defaultExpr(ti *tableInfo, i int) (expr.Expr, error) {
	c := ti.desc.Columns[i]
	if c.Identity != 0 {
		return &expr.NextIdentity{Table: ti.desc.ID, Col: i, Name: c.Name, Typ: c.Type}, nil
	}
	if c.Default == "" {
		return &expr.Const{Typ: c.Type}, nil
	}
	res, err := pg.Parse("SELECT " + c.Default)
	if err != nil {
		return nil, sqlerr.New(sqlerr.DataCorrupted, "corrupt default for column %s: %v", c.Name, err)
	}
	n := res.Stmts[0].Stmt.GetSelectStmt().TargetList[0].GetResTarget().Val
	e, err := b.bindExpr(n, &scope{})
	if err != nil {
		return nil, err
	}
	return b.coerce(e, c.Type, "column \""+c.Name+"\"", false)
}

// checkIdentityAlways refuses values for a GENERATED ALWAYS identity column
// other than DEFAULT, unless the INSERT says OVERRIDING SYSTEM VALUE.
func checkIdentityAlways(st *pg.InsertStmt, ti *tableInfo, target []int) error {
	if st.Override == pg.OverridingKind_OVERRIDING_SYSTEM_VALUE {
		return nil
	}
	sel := st.SelectStmt.GetSelectStmt()
	for k, i := range target {
		c := ti.desc.Columns[i]
		if c.Identity != catalog.IdentityAlways || sel == nil {
			continue
		}
		allDefault := len(sel.ValuesLists) > 0
		for _, vl := range sel.ValuesLists {
			items := vl.GetList().Items
			allDefault = allDefault && k < len(items) && items[k].GetSetToDefault() != nil
		}
		if !allDefault {
			return sqlerr.New(sqlerr.GeneratedAlways, "cannot insert a non-DEFAULT value into column \"%s\"", c.Name).
				WithDetail("Column \"%s\" is an identity column defined as GENERATED ALWAYS.", c.Name).
				WithHint("Use OVERRIDING SYSTEM VALUE to override.")
		}
	}
	return nil
}

// checkIdentityUpdate refuses to set a GENERATED ALWAYS identity column to
// anything but DEFAULT.
func checkIdentityUpdate(c catalog.Column, val *pg.Node) error {
	if c.Identity != catalog.IdentityAlways || val.GetSetToDefault() != nil {
		return nil
	}
	return sqlerr.New(sqlerr.GeneratedAlways, "column \"%s\" can only be updated to DEFAULT", c.Name).
		WithDetail("Column \"%s\" is an identity column defined as GENERATED ALWAYS.", c.Name).At(nodeLoc(val))
}

func (b *binder) bindInsert(st *pg.InsertStmt) (*Planned, error) {
	if st.WithClause != nil {
		return nil, sqlerr.Unsupported("WITH in INSERT is not supported")
	}
	ti, ts, err := b.targetTable(st.Relation, "INSERT")
	if err != nil {
		return nil, err
	}
	// Target columns.
	var target []int
	if len(st.Cols) == 0 {
		for i := range ti.desc.Columns {
			target = append(target, i)
		}
	} else {
		seen := map[int]bool{}
		for _, cn := range st.Cols {
			rt := cn.GetResTarget()
			i := ti.desc.ColumnIndex(rt.Name)
			if i < 0 {
				return nil, sqlerr.New(sqlerr.UndefinedColumn, "column \"%s\" of relation \"%s\" does not exist", rt.Name, ti.desc.Name).At(loc(rt.Location))
			}
			if seen[i] {
				return nil, sqlerr.New(sqlerr.DuplicateColumn, "column \"%s\" specified more than once", rt.Name).At(loc(rt.Location))
			}
			seen[i] = true
			target = append(target, i)
		}
	}
	var src *query
	sel := st.SelectStmt.GetSelectStmt()
	if err := checkIdentityAlways(st, ti, target); err != nil {
		return nil, err
	}
	if sel == nil {
		// DEFAULT VALUES
		src = &query{plan: &exec.Values{Rows: [][]expr.Expr{{}}}}
		target = nil
	} else if len(sel.ValuesLists) > 0 && sel.Op == pg.SetOperation_SETOP_NONE {
		src, err = b.bindInsertValues(sel, ti, target)
		if err != nil {
			return nil, err
		}
	} else {
		src, err = b.bindSelect(sel, nil)
		if err != nil {
			return nil, err
		}
	}
	if len(src.cols) > len(target) {
		return nil, sqlerr.New(sqlerr.SyntaxError, "INSERT has more expressions than target columns")
	}
	if len(src.cols) < len(target) && len(st.Cols) > 0 {
		return nil, sqlerr.New(sqlerr.SyntaxError, "INSERT has more target columns than expressions")
	}
	target = target[:len(src.cols)]
	// Project source columns into table order, casting and filling defaults.
	row := make([]expr.Expr, len(ti.desc.Columns))
	for k, i := range target {
		c := ti.desc.Columns[i]
		e, err := b.coerce(&expr.ColRef{Idx: k, Typ: src.cols[k].Type}, c.Type, "column \""+c.Name+"\"", false)
		if err != nil {
			return nil, err
		}
		row[i] = e
	}
	for i := range row {
		if row[i] == nil {
			d, err := b.defaultExpr(ti, i)
			if err != nil {
				return nil, err
			}
			row[i] = d
		}
	}
	ins := &exec.Insert{Table: ti.ref, Input: &exec.Project{Input: src.plan, Exprs: row}}
	if oc := st.OnConflictClause; oc != nil {
		if len(ti.ref.PK) == 0 {
			return nil, sqlerr.New(sqlerr.InvalidColumnReference, "there is no unique or exclusion constraint matching the ON CONFLICT specification")
		}
		ins.OnConflict = &exec.OnConflict{DoNothing: oc.Action == pg.OnConflictAction_ONCONFLICT_NOTHING}
		if oc.Infer != nil {
			match := len(oc.Infer.IndexElems) == len(ti.ref.PK)
			for _, ie := range oc.Infer.IndexElems {
				i := ti.desc.ColumnIndex(ie.GetIndexElem().Name)
				found := false
				for _, k := range ti.ref.PK {
					found = found || k == i
				}
				match = match && found
			}
			if !match {
				return nil, sqlerr.New(sqlerr.InvalidColumnReference, "there is no unique or exclusion constraint matching the ON CONFLICT specification")
			}
		}
		if !ins.OnConflict.DoNothing {
			both := &scope{cols: append(append([]scopeCol(nil), ts.cols...), b.tableScope(ti, "excluded").cols...)}
			set := make([]expr.Expr, len(ti.desc.Columns))
			for i, c := range ti.desc.Columns {
				set[i] = &expr.ColRef{Idx: i, Typ: c.Type}
			}
			assigned := map[int]bool{}
			for _, tn := range oc.TargetList {
				rt := tn.GetResTarget()
				i, err := assignedColumn(ti, rt, assigned)
				if err != nil {
					return nil, err
				}
				if err := checkIdentityUpdate(ti.desc.Columns[i], rt.Val); err != nil {
					return nil, err
				}
				e, err := b.bindExpr(rt.Val, both)
				if err != nil {
					return nil, err
				}
				if set[i], err = b.coerce(e, ti.desc.Columns[i].Type, "column \""+rt.Name+"\"", false); err != nil {
					return nil, err
				}
			}
			ins.OnConflict.Set = set
			if oc.WhereClause != nil {
				w, err := b.bindWhere(oc.WhereClause, both)
				if err != nil {
					return nil, err
				}
				ins.OnConflict.Where = w
			}
		}
	}
	out := &Planned{Plan: ins, Tag: "INSERT"}
	if len(st.ReturningList) > 0 {
		es, cols, err := b.bindReturning(st.ReturningList, ts)
		if err != nil {
			return nil, err
		}
		ins.Returning, out.Columns, out.Returns = es, cols, true
	}
	return out, nil
}

// bindInsertValues binds INSERT … VALUES with each value typed by its target
// column (so '2024-01-01' becomes a date, and DEFAULT works).
func (b *binder) bindInsertValues(sel *pg.SelectStmt, ti *tableInfo, target []int) (*query, error) {
	var rows [][]expr.Expr
	width := -1
	for _, vl := range sel.ValuesLists {
		items := vl.GetList().Items
		if width >= 0 && len(items) != width {
			return nil, sqlerr.New(sqlerr.SyntaxError, "VALUES lists must all be the same length").At(nodeLoc(items[0]))
		}
		width = len(items)
		if width > len(target) {
			return nil, sqlerr.New(sqlerr.SyntaxError, "INSERT has more expressions than target columns").At(nodeLoc(items[len(target)]))
		}
		row := make([]expr.Expr, width)
		for k, it := range items {
			c := ti.desc.Columns[target[k]]
			if it.GetSetToDefault() != nil {
				d, err := b.defaultExpr(ti, target[k])
				if err != nil {
					return nil, err
				}
				row[k] = d
				continue
			}
			e, err := b.bindExpr(it, &scope{})
			if err != nil {
				return nil, err
			}
			if e, err = b.coerce(e, c.Type, "column \""+c.Name+"\"", false); err != nil {
				if se, ok := sqlerr.As(err); ok {
					return nil, se.At(nodeLoc(it))
				}
				return nil, err
			}
			row[k] = e
		}
		rows = append(rows, row)
	}
	typs := make([]*types.T, width)
	cols := make([]ResultColumn, width)
	for k := 0; k < width; k++ {
		typs[k] = ti.desc.Columns[target[k]].Type
		cols[k] = ResultColumn{Name: ti.desc.Columns[target[k]].Name, Type: typs[k]}
	}
	return &query{plan: &exec.Values{Rows: rows, Typs: typs}, cols: cols}, nil
}

func (b *binder) bindUpdate(st *pg.UpdateStmt) (*Planned, error) {
	if len(st.FromClause) > 0 || st.WithClause != nil {
		return nil, sqlerr.Unsupported("UPDATE … FROM and WITH are not supported")
	}
	ti, s, err := b.targetTable(st.Relation, "UPDATE")
	if err != nil {
		return nil, err
	}
	input, s2, err := b.dmlInput(ti, s, st.WhereClause)
	if err != nil {
		return nil, err
	}
	n := len(ti.desc.Columns)
	exprs := make([]expr.Expr, n+1)
	for i, c := range ti.desc.Columns {
		exprs[i] = &expr.ColRef{Idx: i, Typ: c.Type}
	}
	exprs[n] = &expr.ColRef{Idx: n, Typ: types.Int8}
	assigned := map[int]bool{}
	for _, tn := range st.TargetList {
		rt := tn.GetResTarget()
		i, err := assignedColumn(ti, rt, assigned)
		if err != nil {
			return nil, err
		}
		val := rt.Val
		if ma := val.GetMultiAssignRef(); ma != nil {
			row := ma.Source.GetRowExpr()
			if row == nil || int(ma.Colno) > len(row.Args) {
				return nil, sqlerr.Unsupported("UPDATE … SET (…) = (SELECT …) is not supported")
			}
			val = row.Args[ma.Colno-1]
		}
		if err := checkIdentityUpdate(ti.desc.Columns[i], val); err != nil {
			return nil, err
		}
		var e expr.Expr
		if val.GetSetToDefault() != nil {
			e, err = b.defaultExpr(ti, i)
		} else {
			e, err = b.bindExpr(val, s2)
		}
		if err != nil {
			return nil, err
		}
		if exprs[i], err = b.coerce(e, ti.desc.Columns[i].Type, "column \""+rt.Name+"\"", false); err != nil {
			if se, ok := sqlerr.As(err); ok {
				return nil, se.At(nodeLoc(val))
			}
			return nil, err
		}
	}
	up := &exec.Update{Table: ti.ref, Input: &exec.Project{Input: input, Exprs: exprs}}
	out := &Planned{Plan: up, Tag: "UPDATE"}
	if len(st.ReturningList) > 0 {
		es, cols, err := b.bindReturning(st.ReturningList, s)
		if err != nil {
			return nil, err
		}
		up.Returning, out.Columns, out.Returns = es, cols, true
	}
	return out, nil
}

// dmlInput plans the rows an UPDATE or DELETE touches, with positions.
func (b *binder) dmlInput(ti *tableInfo, s *scope, where *pg.Node) (exec.Plan, *scope, error) {
	withPos := &scope{cols: append(append([]scopeCol(nil), s.cols...), scopeCol{name: "", hidden: true, qualOnly: true, typ: types.Int8})}
	var conj []expr.Expr
	if where != nil {
		c, err := b.bindWhere(where, withPos)
		if err != nil {
			return nil, nil, err
		}
		conj = splitAnd(c)
	}
	plan, rest := b.pointLookup(ti, conj, true)
	if f := andOf(rest); f != nil {
		plan = &exec.Filter{Input: plan, Cond: f}
	}
	return plan, withPos, nil
}

func (b *binder) bindDelete(st *pg.DeleteStmt) (*Planned, error) {
	if len(st.UsingClause) > 0 || st.WithClause != nil {
		return nil, sqlerr.Unsupported("DELETE … USING and WITH are not supported")
	}
	ti, s, err := b.targetTable(st.Relation, "DELETE")
	if err != nil {
		return nil, err
	}
	input, _, err := b.dmlInput(ti, s, st.WhereClause)
	if err != nil {
		return nil, err
	}
	del := &exec.Delete{Table: ti.ref, Input: input}
	out := &Planned{Plan: del, Tag: "DELETE"}
	if len(st.ReturningList) > 0 {
		es, cols, err := b.bindReturning(st.ReturningList, s)
		if err != nil {
			return nil, err
		}
		del.Returning, out.Columns, out.Returns = es, cols, true
	}
	return out, nil
}

// assignedColumn resolves the column a SET item assigns, refusing a second
// assignment to one column as PostgreSQL does.
func assignedColumn(ti *tableInfo, rt *pg.ResTarget, assigned map[int]bool) (int, error) {
	i := ti.desc.ColumnIndex(rt.Name)
	if i < 0 {
		return 0, sqlerr.New(sqlerr.UndefinedColumn, "column \"%s\" of relation \"%s\" does not exist", rt.Name, ti.desc.Name).At(loc(rt.Location))
	}
	if assigned[i] {
		return 0, sqlerr.New(sqlerr.SyntaxError, "multiple assignments to same column \"%s\"", rt.Name).At(loc(rt.Location))
	}
	assigned[i] = true
	return i, nil
}
