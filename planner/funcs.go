package planner

import (
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/sluice-db/sluice/exec"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

func funcName(fc *pg.FuncCall) string {
	n := fc.Funcname[len(fc.Funcname)-1].GetString_().Sval
	return strings.ToLower(n)
}

// isAggCall reports whether a call is an aggregate (not a window call).
func isAggCall(fc *pg.FuncCall) bool {
	return fc.Over == nil && (exec.IsAggregate(funcName(fc)) || fc.AggStar)
}

var makeIntervalArgs = []string{"years", "months", "weeks", "days", "hours", "mins", "secs"}

func (b *binder) bindFuncCall(fc *pg.FuncCall, s *scope) (expr.Expr, error) {
	name := funcName(fc)
	pos := loc(fc.Location)
	if fc.Over != nil {
		return nil, sqlerr.New(sqlerr.WindowingError, "window functions are not allowed here").At(pos)
	}
	if isAggCall(fc) {
		return nil, sqlerr.New(sqlerr.GroupingError, "aggregate functions are not allowed here").At(pos)
	}
	if name == "pg_typeof" && len(fc.Args) == 1 {
		e, err := b.bindExpr(fc.Args[0], s)
		if err != nil {
			return nil, err
		}
		return &expr.Const{Typ: types.Regtype, Val: int64(e.Type().Oid)}, nil
	}
	args := fc.Args
	// Named arguments (make_interval(days => 1)) become positional.
	if name == "make_interval" {
		named := false
		for _, a := range args {
			if a.GetNamedArgExpr() != nil {
				named = true
			}
		}
		if named {
			pos := make([]*pg.Node, len(makeIntervalArgs))
			for i, a := range args {
				if na := a.GetNamedArgExpr(); na != nil {
					for k, n := range makeIntervalArgs {
						if n == na.Name {
							pos[k] = na.Arg
						}
					}
				} else {
					pos[i] = a
				}
			}
			last := 0
			for i, p := range pos {
				if p != nil {
					last = i + 1
				}
			}
			args = nil
			for _, p := range pos[:last] {
				if p == nil {
					p = &pg.Node{Node: &pg.Node_AConst{AConst: &pg.A_Const{Val: &pg.A_Const_Ival{Ival: &pg.Integer{Ival: 0}}}}}
				}
				args = append(args, p)
			}
		}
	}
	es := make([]expr.Expr, len(args))
	for i, a := range args {
		e, err := b.bindExpr(a, s)
		if err != nil {
			return nil, err
		}
		es[i] = e
	}
	if !b.p.Reg.Has(name) {
		ts := make([]*types.T, len(es))
		for i, e := range es {
			ts[i] = e.Type()
		}
		return nil, sqlerr.New(sqlerr.UndefinedFunction, "function %s does not exist", sig(name, ts)).
			WithHint("No function matches the given name and argument types. You might need to add explicit type casts.").At(pos)
	}
	return b.callResolved(name, es, pos, nil)
}

func sig(name string, ts []*types.T) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = t.String()
	}
	return name + "(" + strings.Join(s, ", ") + ")"
}
