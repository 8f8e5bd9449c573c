package engine

import (
	"context"
	"strings"
	"sync"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/sluice-db/sluice/catalog"
	"github.com/sluice-db/sluice/pgwire"
	"github.com/sluice-db/sluice/planner"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// tableSchema picks the schema of a table named in DDL.
func (s *session) tableSchema(rv *pg.RangeVar, st *statement) (string, error) {
	if rv.Catalogname != "" && rv.Catalogname != s.database {
		return "", sqlerr.Unsupported("cross-database references are not implemented: \"%s.%s.%s\"", rv.Catalogname, rv.Schemaname, rv.Relname).At(st.pos(rv.Location))
	}
	if rv.Schemaname == "" || rv.Schemaname == "public" {
		return "public", nil
	}
	if rv.Schemaname == "pg_catalog" || rv.Schemaname == "information_schema" {
		return "", sqlerr.New(sqlerr.InsufficientPrivilege, "permission denied to create \"%s.%s\"", rv.Schemaname, rv.Relname).
			WithDetail("System catalog modifications are currently disallowed.").At(st.pos(rv.Location))
	}
	return "", sqlerr.New(sqlerr.UndefinedSchema, "schema \"%s\" does not exist", rv.Schemaname).At(st.pos(rv.Location))
}

// execCreate runs CREATE TABLE within ts.
func (st *statement) execCreate(ctx context.Context, ts *txnState, n *pg.CreateStmt, w pgwire.ResultWriter) (string, error) {
	s := st.s
	rv := n.Relation
	if rv.Relpersistence == "t" {
		return "", sqlerr.Unsupported("temporary tables are not supported").At(st.pos(rv.Location))
	}
	if len(n.InhRelations) > 0 || n.Partspec != nil || n.OfTypename != nil || n.Partbound != nil {
		return "", sqlerr.Unsupported("inheritance, partitioning and typed tables are not supported").At(st.pos(rv.Location))
	}
	schema, err := s.tableSchema(rv, st)
	if err != nil {
		return "", err
	}
	if s.nameTaken(schema, rv.Relname) {
		if n.IfNotExists {
			return map[bool]string{false: "CREATE TABLE", true: "CREATE STREAM"}[st.stream], w.Notice("NOTICE", sqlerr.DuplicateTable, "relation \""+rv.Relname+"\" already exists, skipping")
		}
		return "", errDuplicateTable(rv.Relname)
	}
	desc := &catalog.Table{Kind: catalog.KindTable, Schema: schema, Name: rv.Relname}
	tag := "CREATE TABLE"
	if st.stream {
		desc.Kind, tag = catalog.KindStream, "CREATE STREAM"
		if desc.Options, err = streamOptions(n.Options, st); err != nil {
			return "", err
		}
	} else if len(n.Options) > 0 {
		return "", sqlerr.Unsupported("table storage parameters (WITH …) are not supported")
	}
	var pkNames []string
	var pkPos int
	addPK := func(names []string, loc int32) error {
		if pkNames != nil {
			return sqlerr.New(sqlerr.InvalidTableDefinition, "multiple primary keys for table \"%s\" are not allowed", rv.Relname).At(st.pos(loc))
		}
		pkNames, pkPos = names, st.pos(loc)
		return nil
	}
	for _, elt := range n.TableElts {
		switch e := elt.Node.(type) {
		case *pg.Node_ColumnDef:
			cd := e.ColumnDef
			if desc.ColumnIndex(cd.Colname) >= 0 {
				return "", sqlerr.New(sqlerr.DuplicateColumn, "column \"%s\" specified more than once", cd.Colname).At(st.pos(cd.Location))
			}
			col, isPK, err := st.columnDef(cd)
			if err != nil {
				return "", err
			}
			if isPK {
				if err := addPK([]string{cd.Colname}, cd.Location); err != nil {
					return "", err
				}
			}
			desc.Columns = append(desc.Columns, col)
		case *pg.Node_Constraint:
			c := e.Constraint
			switch c.Contype {
			case pg.ConstrType_CONSTR_PRIMARY:
				var names []string
				for _, k := range c.Keys {
					names = append(names, nodeString(k))
				}
				if err := addPK(names, c.Location); err != nil {
					return "", err
				}
			default:
				return "", constraintUnsupported(c, st)
			}
		default:
			return "", sqlerr.Unsupported("CREATE TABLE element not supported").At(st.pos(rv.Location))
		}
	}
	if st.stream && pkNames != nil {
		return "", sqlerr.Unsupported("a stream has no primary key: it is an append-only log of events").At(pkPos)
	}
	for _, name := range pkNames {
		i := desc.ColumnIndex(name)
		if i < 0 {
			return "", sqlerr.New(sqlerr.UndefinedColumn, "column \"%s\" named in key does not exist", name).At(pkPos)
		}
		for _, j := range desc.PK {
			if j == i {
				return "", sqlerr.New(sqlerr.DuplicateColumn, "column \"%s\" appears twice in primary key constraint", name).At(pkPos)
			}
		}
		desc.PK = append(desc.PK, i)
		desc.Columns[i].NotNull = true
	}
	if st.stream {
		if err := st.streamSource(ctx, ts, desc); err != nil {
			return "", err
		}
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if err := s.e.createTable(ts, desc); err != nil {
		return "", err
	}
	return tag, nil
}

// createTable adds a new table (or stream) to ts.
func (e *Engine) createTable(ts *txnState, desc *catalog.Table) error {
	desc.ID = e.cat.AllocID()
	b, err := desc.Encode()
	if err != nil {
		return err
	}
	tbl, err := e.db.CreateTable(ts.txn, tableInfo(desc))
	if err != nil {
		return err
	}
	ts.txn.PutMeta(catalog.MetaKey(desc.ID), b)
	if ts.created == nil {
		ts.created = map[uint32]*createdTable{}
	}
	ts.created[desc.ID] = &createdTable{desc: desc, tbl: tbl}
	return nil
}

// streamSource checks a new stream's column paths, watermark and connector:
// a kafka stream's options and formats must compile and its brokers
// answer; a datagen stream's columns must be its generator's. The first
// kafka stream also creates the dead-letter table, the first stream with a
// watermark the late-events stream.
func (st *statement) streamSource(ctx context.Context, ts *txnState, desc *catalog.Table) error {
	s := st.s
	paths, err := columnPaths(st.createStream, desc)
	if err != nil {
		return err
	}
	desc.Paths = paths
	if err := st.streamWatermark(desc); err != nil {
		return err
	}
	if _, ok := s.lookupTable("public", lateEventsName); !ok && desc.Watermark != nil {
		if err := s.e.createTable(ts, lateEventsStream()); err != nil {
			return err
		}
	}
	if streamConnector(desc) != "kafka" {
		return sourceSpec(s.e, desc)
	}
	sp, err := s.e.kafkaSpec(desc)
	if err != nil {
		return err
	}
	if err := checkBrokers(ctx, sp.opts); err != nil {
		return err
	}
	if _, ok := s.lookupTable("public", deadLettersName); ok {
		return nil
	}
	return s.e.createTable(ts, deadLettersTable())
}

// sourceSpec checks the options and columns of a stream's source, if it
// has one.
func sourceSpec(e *Engine, desc *catalog.Table) error {
	var err error
	switch streamConnector(desc) {
	case "kafka":
		_, err = e.kafkaSpec(desc)
	case "datagen":
		_, _, err = datagenSpec(desc)
	}
	return err
}

func constraintUnsupported(c *pg.Constraint, st *statement) error {
	kind := strings.TrimPrefix(c.Contype.String(), "CONSTR_")
	switch c.Contype {
	case pg.ConstrType_CONSTR_FOREIGN:
		kind = "FOREIGN KEY"
	case pg.ConstrType_CONSTR_EXCLUSION:
		kind = "EXCLUDE"
	case pg.ConstrType_CONSTR_GENERATED:
		return sqlerr.Unsupported("generated columns are not supported").At(st.pos(c.Location))
	}
	return sqlerr.Unsupported("%s constraints are not supported", kind).At(st.pos(c.Location))
}

// columnDef builds a column from its definition.
func (st *statement) columnDef(cd *pg.ColumnDef) (catalog.Column, bool, error) {
	s := st.s
	col := catalog.Column{Name: cd.Colname}
	if tn := cd.TypeName; tn != nil && len(tn.Names) > 0 {
		last := lower(nodeString(tn.Names[len(tn.Names)-1]))
		switch last {
		case "serial", "serial4", "bigserial", "serial8", "smallserial", "serial2":
			// No sequence objects: a serial column is an identity column.
			col.Identity = catalog.IdentityByDefault
		}
	}
	typ, err := planner.ResolveType(cd.TypeName)
	if err != nil {
		return col, false, st.positioned(err)
	}
	col.Type = typ
	isPK := false
	var def *pg.Node
	if cd.RawDefault != nil {
		def = cd.RawDefault
	}
	if cd.IsNotNull {
		col.NotNull = true
	}
	nullSeen, notNullSeen := false, false
	for _, cn := range cd.Constraints {
		c := cn.GetConstraint()
		if c == nil {
			continue
		}
		switch c.Contype {
		case pg.ConstrType_CONSTR_NOTNULL:
			if nullSeen {
				return col, false, conflictingNull(cd, st, c)
			}
			notNullSeen = true
			col.NotNull = true
		case pg.ConstrType_CONSTR_NULL:
			if notNullSeen {
				return col, false, conflictingNull(cd, st, c)
			}
			nullSeen = true
		case pg.ConstrType_CONSTR_DEFAULT:
			if def != nil && def != c.RawExpr {
				return col, false, sqlerr.New(sqlerr.SyntaxError, "multiple default values specified for column \"%s\" of table", cd.Colname).At(st.pos(c.Location))
			}
			def = c.RawExpr
		case pg.ConstrType_CONSTR_PRIMARY:
			isPK = true
		case pg.ConstrType_CONSTR_IDENTITY:
			if col.Identity != 0 {
				return col, false, sqlerr.New(sqlerr.SyntaxError, "multiple identity specifications for column \"%s\" of table", cd.Colname).At(st.pos(c.Location))
			}
			col.Identity = c.GeneratedWhen[0]
		default:
			return col, false, constraintUnsupported(c, st)
		}
	}
	if col.Identity != 0 {
		if err := st.checkIdentity(cd, typ, def != nil); err != nil {
			return col, false, err
		}
		col.NotNull = true
	}
	if def != nil {
		if _, err := s.planner().BindDefault(def, typ, s.planOpts(nil)); err != nil {
			return col, false, st.positioned(err)
		}
		text, err := deparseExpr(def)
		if err != nil {
			return col, false, err
		}
		col.Default = text
	}
	return col, isPK, nil
}

// checkIdentity checks an identity (or serial) column's definition.
func (st *statement) checkIdentity(cd *pg.ColumnDef, typ *types.T, hasDefault bool) error {
	switch {
	case st.stream:
		return sqlerr.Unsupported("identity columns are supported only in tables").At(st.pos(cd.Location))
	case typ.Oid != types.OidInt2 && typ.Oid != types.OidInt4 && typ.Oid != types.OidInt8:
		return sqlerr.New(sqlerr.InvalidParameterValue, "identity column type must be smallint, integer, or bigint").At(st.pos(cd.Location))
	case hasDefault:
		return sqlerr.New(sqlerr.SyntaxError, "both default and identity specified for column \"%s\" of table", cd.Colname).At(st.pos(cd.Location))
	}
	return nil
}

func conflictingNull(cd *pg.ColumnDef, st *statement, c *pg.Constraint) error {
	return sqlerr.New(sqlerr.SyntaxError, "conflicting NULL/NOT NULL declarations for column \"%s\" of table", cd.Colname).At(st.pos(c.Location))
}

// deparseExpr prints an expression as SQL text via a SELECT wrapper.
func deparseExpr(n *pg.Node) (string, error) {
	sel := &pg.SelectStmt{TargetList: []*pg.Node{{Node: &pg.Node_ResTarget{ResTarget: &pg.ResTarget{Val: n}}}}}
	tree := &pg.ParseResult{Version: pgVersion(), Stmts: []*pg.RawStmt{{Stmt: &pg.Node{Node: &pg.Node_SelectStmt{SelectStmt: sel}}}}}
	out, err := pg.Deparse(tree)
	if err != nil {
		return "", sqlerr.Bug("deparse DEFAULT: %v", err)
	}
	return strings.TrimPrefix(out, "SELECT "), nil
}

// execDrop runs DROP TABLE and DROP STREAM within ts. Dependent views
// refuse the drop, or with CASCADE are dropped once ts commits.
func (st *statement) execDrop(ctx context.Context, ts *txnState, n *pg.DropStmt, w pgwire.ResultWriter) (string, error) {
	s := st.s
	if n.RemoveType != pg.ObjectType_OBJECT_TABLE {
		return "", sqlerr.Unsupported("DROP %s is not supported", strings.TrimPrefix(n.RemoveType.String(), "OBJECT_"))
	}
	kind, tag := catalog.KindTable, "DROP TABLE"
	if st.stream {
		kind, tag = catalog.KindStream, "DROP STREAM"
	}
	drops, views, sinks, err := st.dropTargets(n, kind, w)
	if err != nil {
		return "", err
	}
	if len(views)+len(sinks) > 0 {
		if s.tx != nil {
			return "", sqlerr.Unsupported("DROP … CASCADE of relations read by materialized views or sinks cannot run inside a transaction block")
		}
		ts.afterCommit = append(ts.afterCommit, func() error {
			if err := s.e.dropSinks(sinks); err != nil {
				return err
			}
			return s.e.dropViews(ctx, views)
		})
	}
	for _, t := range drops {
		if err := s.e.db.DropTable(ts.txn, t.ID); err != nil {
			return "", err
		}
		if ts.created[t.ID] != nil {
			delete(ts.created, t.ID)
			ts.txn.DeleteMeta(catalog.MetaKey(t.ID))
		} else {
			ts.stageDrop(t)
		}
	}
	return tag, nil
}

// pgVersion is the parse tree version pg_query's deparser expects.
var pgVersion = sync.OnceValue(func() int32 {
	t, err := pg.Parse("SELECT 1")
	if err != nil {
		return 0
	}
	return t.Version
})
