package engine

import (
	"context"
	"maps"
	"slices"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/sluice-db/sluice/catalog"
	"github.com/sluice-db/sluice/parser"
	"github.com/sluice-db/sluice/pgwire"
	"github.com/sluice-db/sluice/sqlerr"
)

// execAlterStream runs ALTER STREAM … ADD [COLUMN]: existing rows read the
// new column as NULL, existing views keep reading the columns they were
// planned with, new views see it, and a kafka stream's source restarts
// with the new layout from its stored offsets.
func (st *statement) execAlterStream(ctx context.Context, x *parser.AlterStream, w pgwire.ResultWriter) (string, error) {
	s := st.s
	if s.tx != nil {
		return "", sqlerr.New(sqlerr.ActiveSQLTransaction, "ALTER STREAM cannot run inside a transaction block")
	}
	rv := x.Alter.Relation
	schema, err := s.tableSchema(rv, st)
	if err != nil {
		return "", err
	}
	e := s.e
	e.ddlMu.Lock()
	defer e.ddlMu.Unlock()
	desc, ok := e.cat.Lookup(schema, rv.Relname)
	if !ok {
		if x.Alter.MissingOk {
			return "ALTER STREAM", w.Notice("NOTICE", sqlerr.UndefinedTable, "relation \""+rv.Relname+"\" does not exist, skipping")
		}
		return "", errUndefinedTable(rv.Relname)
	}
	if desc.Kind != catalog.KindStream {
		return "", sqlerr.New(sqlerr.WrongObjectType, "\"%s\" is not a stream", rv.Relname).At(st.pos(rv.Location))
	}
	nd := *desc
	nd.Columns = slices.Clone(desc.Columns)
	nd.Paths = maps.Clone(desc.Paths)
	var added []catalog.Column
	for _, n := range x.Alter.Cmds {
		cmd := n.GetAlterTableCmd()
		cd := cmd.GetDef().GetColumnDef()
		if cmd == nil || cmd.Subtype != pg.AlterTableType_AT_AddColumn || cd == nil {
			return "", sqlerr.Unsupported("ALTER STREAM supports ADD COLUMN only")
		}
		if nd.ColumnIndex(cd.Colname) >= 0 {
			if cmd.MissingOk {
				if err := w.Notice("NOTICE", sqlerr.DuplicateColumn, "column \""+cd.Colname+"\" of relation \""+rv.Relname+"\" already exists, skipping"); err != nil {
					return "", err
				}
				continue
			}
			return "", sqlerr.New(sqlerr.DuplicateColumn, "column \"%s\" of relation \"%s\" already exists", cd.Colname, rv.Relname).At(st.pos(cd.Location))
		}
		col, isPK, err := st.columnDef(cd)
		if err != nil {
			return "", err
		}
		if isPK || col.NotNull || col.Default != "" {
			return "", sqlerr.Unsupported("a column added to a stream cannot be NOT NULL, a key or have a DEFAULT: the stream's existing rows have no value for it").At(st.pos(cd.Location))
		}
		nd.Columns = append(nd.Columns, col)
		added = append(added, col)
	}
	for col := range x.Paths {
		if slices.IndexFunc(added, func(c catalog.Column) bool { return c.Name == col }) < 0 {
			return "", sqlerr.Unsupported("PATH can be given only for a column ADD COLUMN adds").At(x.PathPos[col])
		}
	}
	paths, err := columnPaths(&parser.CreateStream{Paths: x.Paths, PathPos: x.PathPos}, &nd)
	if err != nil {
		return "", err
	}
	if len(paths) > 0 && nd.Paths == nil {
		nd.Paths = map[string][]string{}
	}
	maps.Copy(nd.Paths, paths)
	if len(added) == 0 {
		return "ALTER STREAM", nil
	}
	sourced := hasSource(&nd)
	if err := sourceSpec(e, &nd); err != nil {
		return "", err
	}
	tbl, err := e.storedTable(desc.ID, func() error { return errUndefinedTable(rv.Relname) })
	if err != nil {
		return "", err
	}
	b, err := nd.Encode()
	if err != nil {
		return "", err
	}
	txn := e.db.Begin()
	for _, c := range added {
		if err := txn.AddColumn(tbl, c.Name, c.Type); err != nil {
			txn.Rollback()
			return "", err
		}
	}
	txn.PutMeta(catalog.MetaKey(desc.ID), b)
	// The source delivers rows of the stream's width: stop it across the
	// change and start it again, from the positions stored with its rows.
	if sourced {
		e.sources.stop(desc.ID)
	}
	err = txn.Commit()
	if err == nil {
		e.cat.Publish(&nd)
		e.catVersion.Add(1)
	}
	if sourced {
		running := desc
		if err == nil {
			running = &nd
		}
		e.restartSources([]*catalog.Table{running})
	}
	if err != nil {
		return "", err
	}
	return "ALTER STREAM", nil
}
