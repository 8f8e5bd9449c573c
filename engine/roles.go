package engine

import (
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/sluice-db/sluice/catalog"
	"github.com/sluice-db/sluice/pgwire"
	"github.com/sluice-db/sluice/sqlerr"
)

// This file runs CREATE ROLE / CREATE USER, ALTER ROLE and DROP ROLE.
// A role's record commits on its own (role statements are refused in a
// transaction block) under ddlMu, which also serialises the name checks;
// the role is published after it committed. Passwords are kept only as
// SCRAM-SHA-256 verifiers and never shown.

// isSuperuser reports whether the session's user is a superuser: a user
// configured outside the catalog (WithSuperusers), or, as trust lets anyone
// in under any name, any name that is not a role of the catalog (and was
// not when the session opened).
func (s *session) isSuperuser() bool {
	if s.e.superusers[s.user] {
		return true
	}
	if s.openedAsRole {
		return false
	}
	_, isRole := s.e.cat.Role(s.user)
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

// beginRoleChange checks what every role statement needs: no transaction
// block and a superuser (or, allowSelf, the role itself).
func (st *statement) beginRoleChange(verb, role string, allowSelf bool) error {
	s := st.s
	if s.tx != nil {
		return sqlerr.New(sqlerr.ActiveSQLTransaction, "%s cannot run inside a transaction block", verb)
	}
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

// saveRole commits r's record (or, with r nil, deletes the one of name)
// and publishes the change. The caller holds ddlMu.
func (e *Engine) saveRole(name string, r *catalog.Role) error {
	txn := e.db.Begin()
	if r == nil {
		txn.DeleteMeta(catalog.RoleMetaKey(name))
	} else {
		b, err := r.Encode()
		if err != nil {
			return err
		}
		txn.PutMeta(catalog.RoleMetaKey(name), b)
	}
	if err := txn.Commit(); err != nil {
		return err
	}
	if r == nil {
		e.cat.RemoveRole(name)
	} else {
		e.cat.PublishRole(r)
	}
	e.catVersion.Add(1)
	return nil
}

func (st *statement) execCreateRole(n *pg.CreateRoleStmt, w pgwire.ResultWriter) (string, error) {
	const tag = "CREATE ROLE"
	if err := st.beginRoleChange(tag, "", false); err != nil {
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
	e.ddlMu.Lock()
	defer e.ddlMu.Unlock()
	if _, ok := e.cat.Role(name); ok || e.superusers[name] || name == catalog.BootstrapSuperuser {
		return "", errRoleExists(name)
	}
	r.OID = e.cat.AllocID()
	return tag, e.saveRole(name, r)
}

func (st *statement) execAlterRole(n *pg.AlterRoleStmt, w pgwire.ResultWriter) (string, error) {
	const tag = "ALTER ROLE"
	name := st.s.roleName(n.Role)
	opts, err := parseRoleOptions(n.Options)
	if err != nil {
		return "", err
	}
	// A role may change its own password, as in Postgres.
	if err := st.beginRoleChange(tag, name, opts.login == nil); err != nil {
		return "", err
	}
	e := st.s.e
	e.ddlMu.Lock()
	defer e.ddlMu.Unlock()
	old, ok := e.cat.Role(name)
	if !ok {
		if e.superusers[name] || name == catalog.BootstrapSuperuser {
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
	return tag, e.saveRole(name, &r)
}

func (st *statement) execDropRole(n *pg.DropRoleStmt, w pgwire.ResultWriter) (string, error) {
	const tag = "DROP ROLE"
	if err := st.beginRoleChange(tag, "", false); err != nil {
		return "", err
	}
	s := st.s
	e := s.e
	e.ddlMu.Lock()
	defer e.ddlMu.Unlock()
	var names []string
	for _, rn := range n.Roles {
		name := s.roleName(rn.GetRoleSpec())
		if _, ok := e.cat.Role(name); !ok {
			if e.superusers[name] || name == catalog.BootstrapSuperuser {
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
		if err := e.saveRole(name, nil); err != nil {
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
