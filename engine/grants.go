package engine

import (
	"slices"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/sluice-db/sluice/catalog"
	"github.com/sluice-db/sluice/parser"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/storage"
)

// This file is what a role (a user that is not a superuser) may do: read
// the relations it was granted SELECT on (GRANT SELECT … TO role), and the
// system catalogs, and nothing else. Grants are kept in the role's record
// (catalog.Role.Select) and checked when a statement reads a relation, so
// GRANT and REVOKE apply to the next statement of every session.

// checkSelect refuses a read of relation id by a role not granted it.
func (s *session) checkSelect(id uint32) error {
	if s.isSuperuser() || s.maySelect(s.user, id) {
		return nil
	}
	kind, name := catalog.KindTable, "?"
	if t, ok := s.catalogView().ByID(id); ok {
		kind, name = t.Kind, t.Name
	}
	return sqlerr.New(sqlerr.InsufficientPrivilege, "permission denied for %s %s", kind, name)
}

// maySelect reports whether role, not a superuser, may read relation rel:
// a system relation, or one it was granted.
func (s *session) maySelect(role string, rel uint32) bool {
	if rel < catalog.FirstUserID {
		return true
	}
	r, ok := s.e.cat.Role(role)
	return ok && r.MaySelect(rel)
}

// checkRoleMayRun refuses what a role may not run: DDL, writes and COPY
// FROM. Role and grant statements check for themselves.
func (st *statement) checkRoleMayRun() error {
	s := st.s
	if s.isSuperuser() {
		return nil
	}
	if st.ast == nil {
		switch st.ext.(type) {
		case *parser.ShowObjects, *parser.Subscribe, *parser.CopySubscribe, *parser.DeclareSubscribe, *parser.FetchWithTimeout:
			return nil
		}
		return errRoleMayNot(st.text)
	}
	switch n := st.ast.Node.(type) {
	case *pg.Node_SelectStmt:
		if n.SelectStmt.IntoClause == nil {
			return nil
		}
	case *pg.Node_ExplainStmt:
		// EXPLAIN EXECUTE shows a plan and runs nothing.
		if n.ExplainStmt.Query.GetSelectStmt() != nil || n.ExplainStmt.Query.GetExecuteStmt() != nil {
			return nil
		}
	case *pg.Node_CopyStmt:
		// COPY (query) TO reads only when the query is a SELECT: COPY
		// (INSERT … RETURNING) TO STDOUT writes.
		if q := n.CopyStmt.Query; !n.CopyStmt.IsFrom && (q == nil || (q.GetSelectStmt() != nil && q.GetSelectStmt().IntoClause == nil)) {
			return nil
		}
		if rv := n.CopyStmt.Relation; rv != nil {
			return sqlerr.New(sqlerr.InsufficientPrivilege, "permission denied for table %s", rv.Relname)
		}
	case *pg.Node_InsertStmt:
		return sqlerr.New(sqlerr.InsufficientPrivilege, "permission denied for table %s", n.InsertStmt.Relation.GetRelname())
	case *pg.Node_UpdateStmt:
		return sqlerr.New(sqlerr.InsufficientPrivilege, "permission denied for table %s", n.UpdateStmt.Relation.GetRelname())
	case *pg.Node_DeleteStmt:
		return sqlerr.New(sqlerr.InsufficientPrivilege, "permission denied for table %s", n.DeleteStmt.Relation.GetRelname())
	case *pg.Node_DeclareCursorStmt:
		if q := n.DeclareCursorStmt.Query.GetSelectStmt(); q != nil && q.IntoClause == nil {
			return nil
		}
	case *pg.Node_TransactionStmt, *pg.Node_VariableSetStmt, *pg.Node_VariableShowStmt, *pg.Node_FetchStmt,
		*pg.Node_ClosePortalStmt, *pg.Node_DiscardStmt,
		// EXECUTE runs the prepared statement, which is checked itself
		// then: PREPARE of a write succeeds and its EXECUTE is refused.
		*pg.Node_PrepareStmt, *pg.Node_ExecuteStmt, *pg.Node_DeallocateStmt,
		*pg.Node_CreateRoleStmt, *pg.Node_AlterRoleStmt, *pg.Node_DropRoleStmt, *pg.Node_GrantStmt,
		*pg.Node_ListenStmt, *pg.Node_UnlistenStmt, *pg.Node_NotifyStmt:
		return nil
	}
	return errRoleMayNot(st.text)
}

// errRoleMayNot refuses a statement to a role, naming its first words.
func errRoleMayNot(sql string) *sqlerr.Error {
	words := strings.Fields(strings.ToUpper(sql))
	verb := strings.Join(words[:min(2, len(words))], " ")
	return sqlerr.New(sqlerr.InsufficientPrivilege, "permission denied to run %s", verb).
		WithDetail("Only superusers may change the schema or write; roles may read what they were granted.")
}

// execGrant runs GRANT SELECT ON [TABLE] name, … TO role, … and REVOKE
// SELECT ON … FROM role, …, as role changes of ts.
func (st *statement) execGrant(ts *txnState, n *pg.GrantStmt) (string, error) {
	tag := map[bool]string{true: "GRANT", false: "REVOKE"}[n.IsGrant]
	if err := st.checkRoleManager(tag, "", false); err != nil {
		return "", err
	}
	if n.Targtype != pg.GrantTargetType_ACL_TARGET_OBJECT || n.Objtype != pg.ObjectType_OBJECT_TABLE {
		return "", sqlerr.Unsupported("%s is supported only ON TABLE name", tag)
	}
	if len(n.Privileges) == 0 || n.GrantOption {
		return "", sqlerr.Unsupported("only SELECT can be granted").WithHint("Use %s SELECT ON name ….", tag)
	}
	for _, p := range n.Privileges {
		if ap := p.GetAccessPriv(); ap == nil || ap.PrivName != "select" || len(ap.Cols) > 0 {
			return "", sqlerr.Unsupported("only SELECT can be granted").WithHint("Use %s SELECT ON name ….", tag)
		}
	}
	s := st.s
	cat := txnCatalog{s.e.cat, ts}
	var ids []uint32
	for _, o := range n.Objects {
		rv := o.GetRangeVar()
		if rv == nil {
			return "", sqlerr.Bug("GRANT object %T", o.Node)
		}
		schema, err := s.tableSchema(rv, st)
		if err != nil {
			return "", err
		}
		t, ok := cat.Lookup(schema, rv.Relname)
		if !ok {
			return "", errUndefinedRelation(rv.Relname).At(st.pos(rv.Location))
		}
		ids = append(ids, t.ID)
	}
	e := s.e
	var changed []*catalog.Role
	for _, g := range n.Grantees {
		spec := g.GetRoleSpec()
		if spec.GetRoletype() == pg.RoleSpecType_ROLESPEC_PUBLIC {
			return "", sqlerr.Unsupported("%s to PUBLIC is not supported", tag)
		}
		name := s.roleName(spec)
		old, ok := e.role(ts, name)
		if !ok {
			if e.isConfiguredUser(name) {
				continue // a superuser reads everything already
			}
			return "", errUndefinedRole(name)
		}
		r := *old
		r.Select = slices.Clone(r.Select)
		for _, id := range ids {
			if n.IsGrant && !r.MaySelect(id) {
				r.Select = append(r.Select, id)
			} else if !n.IsGrant {
				r.Select = slices.DeleteFunc(r.Select, func(x uint32) bool { return x == id })
			}
		}
		changed = append(changed, &r)
	}
	for _, r := range changed {
		if err := e.stageRole(ts, r.Name, r); err != nil {
			return "", err
		}
	}
	return tag, nil
}

// pruneGrants drops from each role's grants the relations that no longer
// exist, so a relation id used again after a restart grants nothing.
func pruneGrants(roles []*catalog.Role, tables []*catalog.Table) (changed []*catalog.Role) {
	exists := make(map[uint32]bool, len(tables))
	for _, t := range tables {
		exists[t.ID] = true
	}
	for _, r := range roles {
		n := len(r.Select)
		r.Select = slices.DeleteFunc(r.Select, func(id uint32) bool { return !exists[id] })
		if len(r.Select) != n {
			changed = append(changed, r)
		}
	}
	return changed
}

// storePrunedGrants writes the roles whose grants pruneGrants dropped:
// relation ids are handed out again after a restart (the next id follows
// the largest one left), and a grant on a dropped relation must not become
// a grant on the next one created.
func storePrunedGrants(db *storage.DB, changed []*catalog.Role) error {
	if len(changed) == 0 {
		return nil
	}
	txn := db.Begin()
	for _, r := range changed {
		b, err := r.Encode()
		if err != nil {
			txn.Rollback()
			return err
		}
		txn.PutMeta(catalog.RoleMetaKey(r.Name), b)
	}
	return txn.Commit()
}
