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
			switch u := a[0].(type) {
			case string:
				user = u
			case int64:
				name, ok := ctx.Catalog.RoleName(uint32(u))
				if !ok {
					return nil, sqlerr.New(sqlerr.UndefinedObject, "role with OID %d does not exist", u)
				}
				user = name
			}
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
}

// mayRead answers has_table_privilege for user, relation rel and privs (a
// comma-separated list, any one of which is enough, as in Postgres).
func (e *Engine) mayRead(user string, rel uint32, privs string) bool {
	role, isRole := e.cat.Role(user)
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
