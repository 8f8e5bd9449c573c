package expr

import (
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// Privileges answers the privilege functions (has_table_privilege, …) for
// the session evaluating them; nil where there is no session.
type Privileges interface {
	// User is the session's user, whom a privilege function without a
	// role argument asks about.
	User() string
	// RoleExists reports whether name is a role, the pseudo-role public
	// (which holds privileges but has no members) included.
	RoleExists(name string) bool
	// HasTablePrivilege reports whether role holds one of privs, a
	// comma-separated list as in Postgres, on relation rel.
	HasTablePrivilege(role string, rel uint32, privs string) bool
}

// registerPrivilegeFuncs registers Postgres' privilege inquiry functions:
// name([role,] object…, privilege). Only table privileges are ever
// withheld (a role reads what it was granted); the others are held, once
// the roles asked about are known to exist (42704 otherwise, as in
// Postgres). Their answers depend on the roles, so they are never folded.
func registerPrivilegeFuncs(r *Registry) {
	for _, f := range []struct {
		name    string
		objects int // arguments naming the object: a column takes its table too
	}{
		{"has_table_privilege", 1}, {"has_schema_privilege", 1}, {"has_database_privilege", 1},
		{"has_column_privilege", 2}, {"has_any_column_privilege", 1}, {"has_function_privilege", 1},
		{"has_sequence_privilege", 1}, {"has_type_privilege", 1}, {"has_tablespace_privilege", 1},
		{"has_language_privilege", 1}, {"has_foreign_data_wrapper_privilege", 1}, {"has_server_privilege", 1},
		{"pg_has_role", 1},
	} {
		for _, withRole := range []bool{false, true} {
			var args []*types.T
			if withRole {
				args = append(args, AnyType)
			}
			for range f.objects {
				args = append(args, AnyType)
			}
			args = append(args, types.Text)
			name, withRole := f.name, withRole
			r.Add(&Overload{Name: name, Args: args, Ret: types.Bool, Volatile: true, Row: func(ctx *EvalCtx, a []types.Datum) (types.Datum, error) {
				p := ctx.Privileges
				if p == nil || ctx.Catalog == nil {
					return nil, sqlerr.Unsupported("privilege functions cannot be used here")
				}
				user := p.User()
				if withRole {
					var err error
					if user, err = privilegeRole(ctx, name, a[0]); err != nil {
						return nil, err
					}
					a = a[1:]
				}
				switch name {
				case "pg_has_role":
					_, err := privilegeRole(ctx, name, a[0])
					return err == nil, err
				case "has_table_privilege":
					rel, err := relationArg(ctx.Catalog, a[0])
					if err != nil {
						return nil, err
					}
					privs, _ := a[1].(string)
					return p.HasTablePrivilege(user, rel, privs), nil
				}
				return true, nil
			}})
		}
	}
}

// privilegeRole resolves the role argument of privilege function fn, a
// name or an OID, to a role's name; a role that does not exist is an
// error, and so is public as a member or a group in pg_has_role.
func privilegeRole(ctx *EvalCtx, fn string, d types.Datum) (string, error) {
	switch u := d.(type) {
	case string:
		if !ctx.Privileges.RoleExists(u) || fn == "pg_has_role" && u == "public" {
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

// relationArg resolves a relation argument, a name or an OID.
func relationArg(c Catalog, d types.Datum) (uint32, error) {
	if name, ok := d.(string); ok {
		return c.OidOf(types.Regclass, name)
	}
	return oidArg(d), nil
}
