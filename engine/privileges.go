package engine

import (
	"strings"

	"github.com/sluice-db/sluice/catalog"
	"github.com/sluice-db/sluice/expr"
)

// A session answers the privilege functions as its reads are checked.
var _ expr.Privileges = (*session)(nil)

// User is the session's user.
func (s *session) User() string { return s.user }

// RoleExists says whether name is a role: a configured user, a role of
// the catalog, the session's user (anyone under trust), one of the roles
// pg_roles shows, or the pseudo-role public.
func (s *session) RoleExists(name string) bool {
	if _, ok := s.e.cat.Role(name); ok {
		return true
	}
	switch name {
	case s.user, "public", "pg_database_owner", catalog.BootstrapSuperuser:
		return true
	}
	return s.e.superusers[name]
}

// HasTablePrivilege answers has_table_privilege for role, relation rel
// and privs (a comma-separated list, any one of which is enough, as in
// Postgres): SELECT where maySelect, nothing else unless a superuser.
func (s *session) HasTablePrivilege(role string, rel uint32, privs string) bool {
	if s.superuser(role) {
		return true
	}
	for _, p := range strings.Split(privs, ",") {
		// NB: SELECT WITH GRANT OPTION is never held: roles cannot grant.
		if strings.ToUpper(strings.TrimSpace(p)) == "SELECT" && s.maySelect(role, rel) {
			return true
		}
	}
	return false
}
