package engine

import (
	"strings"

	"github.com/sluice-db/sluice/catalog"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// registerPrivilegeFuncs replaces the registry's has_table_privilege
// (which answers true) with one that knows roles and their grants:
// has_table_privilege([user,] table, privilege), user and table each a
// name or an OID. A superuser holds every privilege; a role holds SELECT
// on the system relations and on what it was granted, and nothing else.
func registerPrivilegeFuncs(r *expr.Registry) {
	has := func(ctx *expr.EvalCtx, a []types.Datum) (types.Datum, error) {
		s := sessionFrom(ctx.Ctx)
		if s == nil || ctx.Catalog == nil {
			return nil, sqlerr.Bug("has_table_privilege evaluated outside a session")
		}
		for _, d := range a {
			if d == nil {
				return nil, nil
			}
		}
		user := s.user
		if len(a) == 3 {
			name, err := s.privilegeRole(ctx, a[0])
			if err != nil {
				return nil, err
			}
			user = name
			a = a[1:]
		}
		var rel uint32
		switch t := a[0].(type) {
		case string:
			oid, err := ctx.Catalog.OidOf(types.Regclass, t)
			if err != nil {
				return nil, err
			}
			rel = oid
		case int64:
			rel = uint32(t)
		}
		privs, _ := a[1].(string)
		return s.e.mayRead(user, rel, privs), nil
	}
	var ovs []*expr.Overload
	for _, args := range [][]*types.T{{expr.AnyType, types.Text}, {expr.AnyType, expr.AnyType, types.Text}} {
		ovs = append(ovs, &expr.Overload{Name: "has_table_privilege", Args: args, Ret: types.Bool, Volatile: true, NullOK: true, Row: has})
	}
	r.Replace("has_table_privilege", ovs...)
	registerRoleChecks(r)
}

// roleArgs says, per number of arguments, which arguments of a privilege
// function name a role (the others name objects and privileges).
var roleArgs = map[string]map[int][]int{
	"has_column_privilege": {4: {0}},
	"pg_has_role":          {2: {0}, 3: {0, 1}},
}

// registerRoleChecks makes the other privilege functions, which answer
// true, first check that the roles they are asked about exist, as
// Postgres does (42704).
func registerRoleChecks(r *expr.Registry) {
	for _, name := range []string{"has_schema_privilege", "has_database_privilege", "has_column_privilege",
		"has_any_column_privilege", "has_function_privilege", "has_sequence_privilege", "has_type_privilege",
		"has_tablespace_privilege", "has_language_privilege", "has_foreign_data_wrapper_privilege",
		"has_server_privilege", "pg_has_role"} {
		var ovs []*expr.Overload
		for _, ov := range r.Overloads(name) {
			roles, ok := roleArgs[name][len(ov.Args)]
			if !ok && roleArgs[name] == nil && len(ov.Args) == 3 {
				roles, ok = []int{0}, true
			}
			if !ok {
				ovs = append(ovs, ov)
				continue
			}
			checked := *ov
			row := ov.Row
			checked.Volatile = true // NB: the answer depends on the roles, so never folded at plan time
			checked.Row = func(ctx *expr.EvalCtx, a []types.Datum) (types.Datum, error) {
				s := sessionFrom(ctx.Ctx)
				if s == nil || ctx.Catalog == nil {
					return nil, sqlerr.Bug("%s evaluated outside a session", name)
				}
				for _, i := range roles {
					if _, err := s.privilegeRole(ctx, a[i]); err != nil {
						return nil, err
					}
					if name == "pg_has_role" && a[i] == "public" {
						// NB: public is a role for privileges, not one to be a member of.
						return nil, sqlerr.New(sqlerr.UndefinedObject, "role \"public\" does not exist")
					}
				}
				return row(ctx, a)
			}
			ovs = append(ovs, &checked)
		}
		r.Replace(name, ovs...)
	}
}

// privilegeRole resolves a privilege function's role argument, a name or
// an OID, to a role name; an unknown role is an error.
func (s *session) privilegeRole(ctx *expr.EvalCtx, d types.Datum) (string, error) {
	switch u := d.(type) {
	case string:
		if !s.roleExists(u) {
			return "", sqlerr.New(sqlerr.UndefinedObject, "role \"%s\" does not exist", u)
		}
		return u, nil
	case int64:
		name, ok := ctx.Catalog.RoleName(uint32(u))
		if !ok {
			return "", sqlerr.New(sqlerr.UndefinedObject, "role with OID %d does not exist", u)
		}
		return name, nil
	}
	return "", sqlerr.Bug("privilege function role argument of type %T", d)
}

// roleExists says whether name is a role: a configured user, a role of
// the catalog, the session's user (anyone under trust), one of the roles
// pg_roles shows, or the pseudo-role public.
func (s *session) roleExists(name string) bool {
	if _, ok := s.e.cat.Role(name); ok {
		return true
	}
	switch name {
	case s.user, "public", "pg_database_owner", catalog.BootstrapSuperuser:
		return true
	}
	return s.e.superusers[name]
}

// mayRead answers has_table_privilege for user, relation rel and privs (a
// comma-separated list, any one of which is enough, as in Postgres).
func (e *Engine) mayRead(user string, rel uint32, privs string) bool {
	role, isRole := e.cat.Role(user)
	if user == "public" {
		// NB: nothing can be granted to PUBLIC, so it reads only the catalogs.
		role, isRole = &catalog.Role{}, true
	}
	if !isRole || e.superusers[user] {
		return true
	}
	for _, p := range strings.Split(privs, ",") {
		// NB: SELECT WITH GRANT OPTION is never held: roles cannot grant.
		if strings.ToUpper(strings.TrimSpace(p)) == "SELECT" && (rel < catalog.FirstUserID || role.MaySelect(rel)) {
			return true
		}
	}
	return false
}
