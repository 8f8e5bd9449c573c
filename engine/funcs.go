package engine

import (
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// sessionOf returns the session a session function is evaluated in.
func sessionOf(ctx *expr.EvalCtx) (*session, error) {
	s := sessionFrom(ctx.Ctx)
	if s == nil {
		return nil, sqlerr.Bug("session function evaluated outside a session")
	}
	return s, nil
}

// registerSessionFuncs adds the functions whose values come from the session
// or the server. They find the session through EvalCtx.Ctx.
func registerSessionFuncs(r *expr.Registry) {
	str := func(name string, ret *types.T, f func(s *session) types.Datum) {
		r.Add(&expr.Overload{Name: name, Ret: ret, Volatile: true, Row: func(ctx *expr.EvalCtx, _ []types.Datum) (types.Datum, error) {
			s, err := sessionOf(ctx)
			if err != nil {
				return nil, err
			}
			return f(s), nil
		}})
	}
	r.Add(&expr.Overload{Name: "version", Ret: types.Text, Row: func(*expr.EvalCtx, []types.Datum) (types.Datum, error) {
		return VersionString, nil
	}})
	str("current_user", types.Name, func(s *session) types.Datum { return s.user })
	str("session_user", types.Name, func(s *session) types.Datum { return s.user })
	str("current_role", types.Name, func(s *session) types.Datum { return s.user })
	str("current_database", types.Name, func(s *session) types.Datum { return s.database })
	str("current_catalog", types.Name, func(s *session) types.Datum { return s.database })
	str("current_schema", types.Name, func(s *session) types.Datum {
		for _, sch := range s.searchPath() {
			if sch == "public" || sch == "pg_catalog" {
				return sch
			}
		}
		return nil
	})
	str("pg_backend_pid", types.Int4, func(s *session) types.Datum { return int64(s.pid) })
	str("inet_server_port", types.Int4, func(s *session) types.Datum { return nil })
	schemas := func(ctx *expr.EvalCtx, a []types.Datum) (types.Datum, error) {
		s, err := sessionOf(ctx)
		if err != nil {
			return nil, err
		}
		out := &types.Array{Elem: types.Name}
		if b, _ := a[0].(bool); b {
			out.Elems = append(out.Elems, "pg_catalog")
		}
		for _, sch := range s.searchPath() {
			if sch == "public" {
				out.Elems = append(out.Elems, sch)
			}
		}
		return out, nil
	}
	r.Add(&expr.Overload{Name: "current_schemas", Args: []*types.T{types.Bool}, Ret: types.ArrayOf(types.Name), Volatile: true, Row: schemas})
	r.Add(&expr.Overload{Name: "set_config", Args: []*types.T{types.Text, types.Text, types.Bool}, Ret: types.Text, Volatile: true, NullOK: true,
		Row: func(ctx *expr.EvalCtx, a []types.Datum) (types.Datum, error) {
			s, err := sessionOf(ctx)
			if err != nil {
				return nil, err
			}
			if a[0] == nil {
				return nil, sqlerr.New(sqlerr.NullValueNotAllowed, "SET requires parameter name")
			}
			name := a[0].(string)
			v, _ := a[1].(string)
			if err := s.set(name, v, nil); err != nil {
				return nil, err
			}
			out, _ := s.get(name)
			return out, nil
		}})
}
