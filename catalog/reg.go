package catalog

import (
	"strings"

	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// A Snapshot is the types.Names of its session: regclass, regnamespace,
// regrole, regproc and regprocedure values read and print as names.
var _ types.Names = (*Snapshot)(nil)

// OidOf implements types.Names.
func (s *Snapshot) OidOf(t *types.T, name string) (uint32, error) {
	s.build()
	parts, err := splitQualified(name)
	if err != nil {
		return 0, err
	}
	switch t.Oid {
	case types.OidRegclass:
		var r *rel
		switch len(parts) {
		case 1:
			r = s.relByName("", parts[0])
		case 2:
			r = s.relByName(parts[0], parts[1])
		case 3:
			if parts[0] != s.env.Database {
				return 0, sqlerr.Unsupported("cross-database references are not implemented: %s", name)
			}
			r = s.relByName(parts[1], parts[2])
		}
		if r == nil {
			return 0, sqlerr.New(sqlerr.UndefinedTable, "relation \"%s\" does not exist", name)
		}
		return r.oid, nil
	case types.OidRegnamespace:
		if len(parts) == 1 {
			if oid := namespaceOID(parts[0]); parts[0] == "public" || oid != NamespacePublic {
				return oid, nil
			}
		}
		return 0, sqlerr.New(sqlerr.UndefinedSchema, "schema \"%s\" does not exist", name)
	case types.OidRegrole:
		if len(parts) == 1 {
			for _, r := range s.roles() {
				if r.name == parts[0] {
					return r.oid, nil
				}
			}
		}
		return 0, sqlerr.New(sqlerr.UndefinedObject, "role \"%s\" does not exist", name)
	case types.OidRegproc, types.OidRegprocedure:
		return s.procOid(t, name)
	case types.OidRegoper, types.OidRegoperator:
		return 0, sqlerr.New(sqlerr.UndefinedFunction, "operator does not exist: %s", name)
	}
	return 0, sqlerr.Bug("catalog: OidOf for type %s", t)
}

// procOid resolves regproc ("name") and regprocedure ("name(argtypes)").
func (s *Snapshot) procOid(t *types.T, name string) (uint32, error) {
	s.build()
	fname, args, hasArgs := name, "", false
	if i := strings.IndexByte(name, '('); i >= 0 && strings.HasSuffix(name, ")") {
		fname, args, hasArgs = strings.TrimSpace(name[:i]), name[i+1:len(name)-1], true
	}
	if t.Oid == types.OidRegprocedure && !hasArgs {
		return 0, sqlerr.New(sqlerr.InvalidTextRepresentation, "expected a left parenthesis")
	}
	parts, err := splitQualified(fname)
	if err != nil {
		return 0, err
	}
	if len(parts) == 2 && parts[0] == "pg_catalog" {
		parts = parts[1:]
	}
	if len(parts) != 1 {
		return 0, sqlerr.New(sqlerr.UndefinedFunction, "function \"%s\" does not exist", name)
	}
	var want []uint32
	if hasArgs {
		for _, a := range strings.Split(args, ",") {
			if a = strings.TrimSpace(a); a == "" {
				continue
			}
			at, err := types.ParseTypeName(a)
			if err != nil {
				return 0, err
			}
			want = append(want, at.Oid)
		}
	}
	var found []*Proc
	for i := range s.env.Procs {
		p := &s.env.Procs[i]
		if p.Name != parts[0] {
			continue
		}
		if hasArgs && !sameOids(p.Args, want) {
			continue
		}
		found = append(found, p)
	}
	switch {
	case len(found) == 0:
		return 0, sqlerr.New(sqlerr.UndefinedFunction, "function \"%s\" does not exist", name)
	case len(found) > 1 && !hasArgs:
		return 0, sqlerr.New(sqlerr.AmbiguousFunction, "more than one function named \"%s\"", name)
	}
	return found[0].Oid, nil
}

func sameOids(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// NameOf implements types.Names.
func (s *Snapshot) NameOf(t *types.T, oid uint32) (string, bool) {
	s.build()
	switch t.Oid {
	case types.OidRegclass:
		r := s.rel(oid)
		if r == nil {
			return "", false
		}
		if s.visible(r) {
			return types.QuoteIdent(r.name), true
		}
		return qualified(r.schema, r.name), true
	case types.OidRegnamespace:
		if n, ok := namespaceName(oid); ok {
			return types.QuoteIdent(n), true
		}
	case types.OidRegrole:
		if n, ok := s.RoleName(oid); ok {
			return types.QuoteIdent(n), true
		}
	case types.OidRegproc:
		s.build()
		if p := s.procs[oid]; p != nil {
			return types.QuoteIdent(p.Name), true
		}
	case types.OidRegprocedure:
		s.build()
		if p := s.procs[oid]; p != nil {
			args := make([]string, len(p.Args))
			for i, a := range p.Args {
				args[i] = typeName(a)
			}
			return types.QuoteIdent(p.Name) + "(" + strings.Join(args, ",") + ")", true
		}
	}
	return "", false
}

// splitQualified splits a possibly qualified SQL name into its parts, as
// Postgres' stringToQualifiedNameList does.
func splitQualified(s string) ([]string, error) {
	parts, ok := types.SplitIdentifiers(s, '.')
	if !ok || len(parts) == 0 {
		return nil, sqlerr.New(sqlerr.InvalidName, "invalid name syntax")
	}
	if len(parts) > 3 {
		return nil, sqlerr.New(sqlerr.SyntaxError, "improper relation name (too many dotted names): %s", s)
	}
	return parts, nil
}
