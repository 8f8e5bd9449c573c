package engine

import (
	"slices"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/sluice-db/sluice/catalog"
	"github.com/sluice-db/sluice/sqlerr"
)

// commentEdit is a COMMENT ON a committed relation (column "" for the
// relation itself) that a transaction applies at COMMIT, to the
// relation's descriptor as it is then: another session's ALTER STREAM in
// the meantime keeps its columns.
type commentEdit struct {
	rel    uint32
	column string
	text   string
}

// withComment returns a copy of t with the comment of column ("": of t
// itself) set to text ("" removes it, as in Postgres).
func withComment(t *catalog.Table, column, text string) *catalog.Table {
	nt := *t
	if column == "" {
		nt.Comment = text
		return &nt
	}
	nt.Columns = slices.Clone(t.Columns)
	if i := nt.ColumnIndex(column); i >= 0 {
		nt.Columns[i].Comment = text
	}
	return &nt
}

// commented is t as ts (nil: no block) sees it, with the comments it set.
func (ts *txnState) commented(t *catalog.Table) *catalog.Table {
	if ts == nil {
		return t
	}
	for _, c := range ts.comments {
		if c.rel == t.ID {
			t = withComment(t, c.column, c.text)
		}
	}
	return t
}

// execComment runs COMMENT ON TABLE | MATERIALIZED VIEW | COLUMN … IS
// 'text' | NULL in ts: on a relation ts created (or creates at COMMIT) by
// changing its descriptor, on a committed one as an edit applied at
// COMMIT.
func (st *statement) execComment(ts *txnState, n *pg.CommentStmt) (string, error) {
	var names []string
	for _, it := range n.Object.GetList().GetItems() {
		names = append(names, nodeString(it))
	}
	column := ""
	switch n.Objtype {
	case pg.ObjectType_OBJECT_TABLE, pg.ObjectType_OBJECT_MATVIEW:
	case pg.ObjectType_OBJECT_COLUMN:
		if len(names) < 2 {
			return "", sqlerr.New(sqlerr.SyntaxError, "column name must be qualified")
		}
		column, names = names[len(names)-1], names[:len(names)-1]
	default:
		return "", sqlerr.Unsupported("COMMENT is supported ON TABLE, MATERIALIZED VIEW and COLUMN")
	}
	if len(names) == 0 || len(names) > 2 {
		return "", sqlerr.New(sqlerr.SyntaxError, "improper relation name (too many dotted names): %s", strings.Join(names, "."))
	}
	name, schema, qual := names[len(names)-1], "public", ""
	if len(names) == 2 {
		schema, qual = names[0], names[0]
	}
	if _, sys := systemRelation(qual, name); sys {
		return "", errSystemCatalog(name)
	}
	t, ok := txnCatalog{st.s.e.cat, ts}.Lookup(schema, name)
	if !ok {
		return "", errUndefinedRelation(name)
	}
	switch {
	case n.Objtype == pg.ObjectType_OBJECT_TABLE && t.Kind == catalog.KindMaterializedView:
		return "", sqlerr.New(sqlerr.WrongObjectType, "\"%s\" is not a table", name)
	case n.Objtype == pg.ObjectType_OBJECT_MATVIEW && t.Kind != catalog.KindMaterializedView:
		return "", sqlerr.New(sqlerr.WrongObjectType, "\"%s\" is not a materialized view", name)
	case column != "" && t.ColumnIndex(column) < 0:
		return "", sqlerr.New(sqlerr.UndefinedColumn, "column \"%s\" of relation \"%s\" does not exist", column, name)
	}
	switch {
	case ts.created[t.ID] != nil:
		ct := ts.created[t.ID]
		nt := withComment(ct.desc, column, n.Comment)
		b, err := nt.Encode()
		if err != nil {
			return "", err
		}
		ts.txn.PutMeta(catalog.MetaKey(t.ID), b)
		// A new entry, not a change to the old one: a savepoint's copy
		// of the map shares the old.
		ts.created[t.ID] = &createdTable{desc: nt, tbl: ct.tbl}
	case ts.pendingIndex(t.ID) >= 0:
		// A new entry: a savepoint's copy of the slice shares the old.
		i := ts.pendingIndex(t.ID)
		ts.views[i] = &pendingView{desc: withComment(ts.views[i].desc, column, n.Comment), plan: ts.views[i].plan}
	default:
		ts.comments = append(ts.comments, commentEdit{rel: t.ID, column: column, text: n.Comment})
	}
	return "COMMENT", nil
}

// stageComments writes, in ts, the descriptors of the committed relations
// ts commented, as they are now (under ddlMu), and returns them for
// publishing once ts commits.
func (e *Engine) stageComments(ts *txnState) ([]*catalog.Table, error) {
	var out []*catalog.Table
	for _, c := range ts.comments {
		if ts.dropped[c.rel] != nil || slices.ContainsFunc(out, func(t *catalog.Table) bool { return t.ID == c.rel }) {
			continue
		}
		t, ok := e.cat.ByID(c.rel)
		if !ok {
			return nil, sqlerr.New(sqlerr.UndefinedTable, "a relation the transaction commented on was dropped")
		}
		t = ts.commented(t)
		if c.column != "" && t.ColumnIndex(c.column) < 0 {
			return nil, sqlerr.New(sqlerr.UndefinedColumn, "column \"%s\" of relation \"%s\" does not exist", c.column, t.Name)
		}
		b, err := t.Encode()
		if err != nil {
			return nil, err
		}
		ts.txn.PutMeta(catalog.MetaKey(t.ID), b)
		out = append(out, t)
	}
	return out, nil
}
