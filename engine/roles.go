package engine

import (
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/sluice-db/sluice/catalog"
	"github.com/sluice-db/sluice/pgwire"
	"github.com/sluice-db/sluice/sqlerr"
)

// This file runs CREATE ROLE / CREATE USER, ALTER ROLE and DROP ROLE.
// A role change is written in the statement's transaction (a block's, or
// its own) and published when that commits; the commit, under ddlMu,
// refuses a change to a role that changed since the transaction read it.
// Passwords are kept only as SCRAM-SHA-256 verifiers and never shown.

// isSuperuser reports whether the session's user is a superuser.
func (s *session) isSuperuser() bool { return s.superuser(s.user) }

// superuser reports whether the role named name is a superuser, as this
// session sees it: a user configured outside the catalog (WithSuperusers),
// or, as trust lets anyone in under any name, any name that is not a role
// of the catalog, except the session's own user when it was one when the
// session opened (a dropped role gains nothing), and the pseudo-role public.
func (s *session) superuser(name string) bool {
	if s.e.superusers[name] {
		return true
	}
	if name == "public" || name == s.user && s.openedAsRole {
		return false
	}
	_, isRole := s.e.cat.Role(name)
	return !isRole
}

// decodeRole reads a role's meta record, checking its verifier, so a
// damaged record stops the start rather than a login.
func decodeRole(k string, b []byte) (*catalog.Role, error) {
	r, err := catalog.DecodeRole(k, b)
	if err != nil {
		return nil, err
	}
	if r.Verifier != "" {
		if _, err := pgwire.ParseSCRAMVerifier(r.Verifier); err != nil {
			return nil, sqlerr.New(sqlerr.DataCorrupted, "corrupt role record %q: malformed password verifier", k)
		}
	}
	return r, nil
}

// RoleVerifier returns the password verifier of a role that may log in,
// for the SCRAM-SHA-256 authenticator.
func (e *Engine) RoleVerifier(user string) (pgwire.SCRAMVerifier, bool) {
	r, ok := e.cat.Role(user)
	if !ok || !r.Login || r.Verifier == "" {
		return pgwire.SCRAMVerifier{}, false
	}
	v, err := pgwire.ParseSCRAMVerifier(r.Verifier)
	if err != nil {
		// NB: never happens: records are checked when loaded and made here.
		e.log.Error("engine: [BUG] role has a malformed password verifier", "role", user)
		return pgwire.SCRAMVerifier{}, false
	}
	return v, true
}

// checkLogin refuses a session for a role without LOGIN, as Postgres.
func (e *Engine) checkLogin(user string) error {
	if r, ok := e.cat.Role(user); ok && !r.Login {
		return sqlerr.New(sqlerr.InvalidAuthorization, "role \"%s\" is not permitted to log in", user)
	}
	return nil
}

// roleOptions are the options of CREATE ROLE and ALTER ROLE that Sluice keeps.
type roleOptions struct {
	login       *bool
	setPassword bool
	password    *string // nil: PASSWORD NULL
}

func parseRoleOptions(opts []*pg.Node) (roleOptions, error) {
	var o roleOptions
	for _, n := range opts {
		d := n.GetDefElem()
		if d == nil {
			return o, sqlerr.Bug("role option %T", n.Node)
		}
		switch d.Defname {
		case "canlogin":
			login := d.Arg.GetBoolean().GetBoolval()
			o.login = &login
		case "password":
			o.setPassword = true
			if s := d.Arg.GetString_(); s != nil {
				o.password = &s.Sval
			}
		default:
			return o, sqlerr.Unsupported("role option \"%s\" is not supported", strings.ToUpper(d.Defname)).
				WithHint("Sluice roles take LOGIN, NOLOGIN and PASSWORD; superusers are configured with --users-file.")
		}
	}
	return o, nil
}

// applyPassword sets r's verifier from a PASSWORD option: a SCRAM-SHA-256
// verifier is kept as given, as Postgres does; any other string is a
// password and is hashed.
func (o roleOptions) applyPassword(r *catalog.Role, notice func(string) error) error {
	if !o.setPassword {
		return nil
	}
	switch {
	case o.password == nil:
		r.Verifier = ""
	case *o.password == "":
		r.Verifier = ""
		return notice("empty string is not a valid password, clearing password")
	default:
		if v, err := pgwire.ParseSCRAMVerifier(*o.password); err == nil {
			r.Verifier = v.Encode()
			return nil
		}
		v, err := pgwire.NewSCRAMVerifier(*o.password, pgwire.DefaultSCRAMIterations)
		if err != nil {
			return sqlerr.New(sqlerr.InvalidParameterValue, "invalid password: %v", err)
		}
		r.Verifier = v.Encode()
	}
	return nil
}

// checkRoleManager refuses a role statement to a user that is not a
// superuser (unless allowSelf and the statement changes the user's own role).
func (st *statement) checkRoleManager(verb, role string, allowSelf bool) error {
	s := st.s
	if !s.isSuperuser() && !(allowSelf && role == s.user) {
		return sqlerr.New(sqlerr.InsufficientPrivilege, "permission denied to %s", strings.ToLower(verb)).
			WithDetail("Only superusers may manage roles and grants; a role may change its own password.")
	}
	return nil
}

func errRoleExists(name string) *sqlerr.Error {
	return sqlerr.New(sqlerr.DuplicateObject, "role \"%s\" already exists", name)
}

func errUndefinedRole(name string) *sqlerr.Error {
	return sqlerr.New(sqlerr.UndefinedObject, "role \"%s\" does not exist", name)
}

func errConfiguredUser(name string) *sqlerr.Error {
	return sqlerr.Unsupported("role \"%s\" is configured outside the catalog", name).
		WithHint("Change it in --users-file or SLUICE_PASSWORD and restart.")
}

// isConfiguredUser reports a name that is a superuser outside the catalog.
func (e *Engine) isConfiguredUser(name string) bool {
	return e.superusers[name] || name == catalog.BootstrapSuperuser
}

// stagedRole is a role change of a transaction: the role as the
// transaction found it (nil: none) and as it leaves it (nil: dropped).
type stagedRole struct {
	base, next *catalog.Role
}

// role finds a role as the transaction ts sees it.
func (e *Engine) role(ts *txnState, name string) (*catalog.Role, bool) {
	if sr, ok := ts.roles[name]; ok {
		return sr.next, sr.next != nil
	}
	return e.cat.Role(name)
}

// stageRole writes r (nil: the removal of name) in ts, to be published
// when ts commits.
func (e *Engine) stageRole(ts *txnState, name string, r *catalog.Role) error {
	sr, ok := ts.roles[name]
	if !ok {
		sr.base, _ = e.cat.Role(name)
	}
	sr.next = r
	if r == nil {
		ts.txn.DeleteMeta(catalog.RoleMetaKey(name))
	} else {
		b, err := r.Encode()
		if err != nil {
			return err
		}
		ts.txn.PutMeta(catalog.RoleMetaKey(name), b)
	}
	if ts.roles == nil {
		ts.roles = map[string]stagedRole{}
	}
	ts.roles[name] = sr
	return nil
}

// checkStagedRoles refuses a commit whose roles changed since its
// transaction read them. The caller holds ddlMu.
func (e *Engine) checkStagedRoles(roles map[string]stagedRole) error {
	for name, sr := range roles {
		cur, _ := e.cat.Role(name)
		switch {
		case cur == sr.base:
		case sr.base == nil:
			return errRoleExists(name)
		default:
			return sqlerr.New(sqlerr.SerializationFailure, "could not serialize access due to concurrent update of role \"%s\"", name)
		}
	}
	return nil
}

// publishRoles publishes the role changes of a committed transaction. The
// caller holds ddlMu.
func (e *Engine) publishRoles(roles map[string]stagedRole) {
	for name, sr := range roles {
		if sr.next == nil {
			e.cat.RemoveRole(name)
		} else {
			e.cat.PublishRole(sr.next)
		}
	}
}

func (st *statement) execCreateRole(ts *txnState, n *pg.CreateRoleStmt, w pgwire.ResultWriter) (string, error) {
	const tag = "CREATE ROLE"
	if err := st.checkRoleManager(tag, "", false); err != nil {
		return "", err
	}
	if n.StmtType == pg.RoleStmtType_ROLESTMT_GROUP {
		return "", sqlerr.Unsupported("CREATE GROUP is not supported")
	}
	name := n.Role
	if strings.HasPrefix(name, "pg_") || name == "public" || name == "none" {
		return "", sqlerr.New(sqlerr.ReservedName, "role name \"%s\" is reserved", name).
			WithDetail("Role names starting with \"pg_\" are reserved.")
	}
	opts, err := parseRoleOptions(n.Options)
	if err != nil {
		return "", err
	}
	r := &catalog.Role{Name: name, Login: n.StmtType == pg.RoleStmtType_ROLESTMT_USER}
	if opts.login != nil {
		r.Login = *opts.login
	}
	if err := opts.applyPassword(r, func(msg string) error { return w.Notice("NOTICE", sqlerr.SuccessfulCompletion, msg) }); err != nil {
		return "", err
	}
	e := st.s.e
	if _, ok := e.role(ts, name); ok || e.isConfiguredUser(name) {
		return "", errRoleExists(name)
	}
	r.OID = e.cat.AllocID()
	return tag, e.stageRole(ts, name, r)
}

func (st *statement) execAlterRole(ts *txnState, n *pg.AlterRoleStmt, w pgwire.ResultWriter) (string, error) {
	const tag = "ALTER ROLE"
	name := st.s.roleName(n.Role)
	opts, err := parseRoleOptions(n.Options)
	if err != nil {
		return "", err
	}
	// A role may change its own password, as in Postgres.
	if err := st.checkRoleManager(tag, name, opts.login == nil); err != nil {
		return "", err
	}
	e := st.s.e
	old, ok := e.role(ts, name)
	if !ok {
		if e.isConfiguredUser(name) {
			return "", errConfiguredUser(name)
		}
		return "", errUndefinedRole(name)
	}
	r := *old
	if opts.login != nil {
		r.Login = *opts.login
	}
	if err := opts.applyPassword(&r, func(msg string) error { return w.Notice("NOTICE", sqlerr.SuccessfulCompletion, msg) }); err != nil {
		return "", err
	}
	return tag, e.stageRole(ts, name, &r)
}

func (st *statement) execDropRole(ts *txnState, n *pg.DropRoleStmt, w pgwire.ResultWriter) (string, error) {
	const tag = "DROP ROLE"
	if err := st.checkRoleManager(tag, "", false); err != nil {
		return "", err
	}
	s := st.s
	e := s.e
	var names []string
	for _, rn := range n.Roles {
		name := s.roleName(rn.GetRoleSpec())
		if _, ok := e.role(ts, name); !ok {
			if e.isConfiguredUser(name) {
				return "", errConfiguredUser(name)
			}
			if !n.MissingOk {
				return "", errUndefinedRole(name)
			}
			if err := w.Notice("NOTICE", sqlerr.UndefinedObject, "role \""+name+"\" does not exist, skipping"); err != nil {
				return "", err
			}
			continue
		}
		if name == s.user {
			return "", sqlerr.New(sqlerr.ObjectInUse, "current user cannot be dropped")
		}
		names = append(names, name)
	}
	for _, name := range names {
		if err := e.stageRole(ts, name, nil); err != nil {
			return "", err
		}
	}
	return tag, nil
}

// roleName resolves a role specification (a name, CURRENT_USER, …).
func (s *session) roleName(r *pg.RoleSpec) string {
	if r.GetRoletype() == pg.RoleSpecType_ROLESPEC_CSTRING {
		return r.GetRolename()
	}
	return s.user
}
