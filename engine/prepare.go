package engine

import (
	"context"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/sluice-db/sluice/exec"
	"github.com/sluice-db/sluice/pgwire"
	"github.com/sluice-db/sluice/planner"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// SQL's PREPARE, EXECUTE and DEALLOCATE share the connection's named
// statements with the protocol's Parse and Close (pgwire.StatementsOf), as
// in Postgres: psycopg2 prepares with SQL, psycopg 3 deallocates its
// protocol-level statements with DEALLOCATE.

// connStatements returns the prepared statements of the connection ctx
// belongs to.
func connStatements(ctx context.Context) (pgwire.Statements, error) {
	reg := pgwire.StatementsOf(ctx)
	if reg == nil {
		return nil, sqlerr.Bug("prepared statement outside a connection")
	}
	return reg, nil
}

// execPrepare runs PREPARE name [(types)] AS query: the query is planned
// now, with the declared parameter types.
func (st *statement) execPrepare(ctx context.Context, n *pg.PrepareStmt) (string, error) {
	reg, err := connStatements(ctx)
	if err != nil {
		return "", err
	}
	if _, ok := reg.Lookup(n.Name); ok {
		return "", sqlerr.New(sqlerr.DuplicatePreparedStatement, "prepared statement \"%s\" already exists", n.Name)
	}
	inner := &statement{s: st.s, text: st.text, ast: n.Query, charOff: st.charOff}
	for _, a := range n.Argtypes {
		t, err := planner.ResolveType(a.GetTypeName())
		if err != nil {
			return "", err
		}
		inner.declared = append(inner.declared, t)
	}
	if err := inner.prepare(); err != nil {
		return "", err
	}
	return "PREPARE", reg.Add(n.Name, inner)
}

// execDeallocate runs DEALLOCATE [PREPARE] name | ALL.
func execDeallocate(ctx context.Context, n *pg.DeallocateStmt) (string, error) {
	reg, err := connStatements(ctx)
	if err != nil {
		return "", err
	}
	if n.Isall {
		reg.RemoveAll()
		return "DEALLOCATE ALL", nil
	}
	if err := reg.Remove(n.Name); err != nil {
		return "", sqlerr.New(sqlerr.InvalidSQLStatementName, "prepared statement \"%s\" does not exist", n.Name)
	}
	return "DEALLOCATE", nil
}

// executeTarget finds the statement EXECUTE names.
func executeTarget(ctx context.Context, n *pg.ExecuteStmt) (*statement, error) {
	reg, err := connStatements(ctx)
	if err != nil {
		return nil, err
	}
	ps, ok := reg.Lookup(n.Name)
	if !ok {
		return nil, sqlerr.New(sqlerr.InvalidSQLStatementName, "prepared statement \"%s\" does not exist", n.Name)
	}
	target, ok := ps.(*statement)
	if !ok {
		return nil, sqlerr.Bug("prepared statement %q is a %T", n.Name, ps)
	}
	return target, nil
}

// bindExecute binds EXECUTE name (args): the arguments are evaluated and
// converted to the named statement's parameter types as an assignment
// converts them, and bound as they are. The portal runs the named
// statement's portal.
func (st *statement) bindExecute(ctx context.Context, n *pg.ExecuteStmt) (*portal, error) {
	target, err := executeTarget(ctx, n)
	if err != nil {
		return nil, err
	}
	if target.ast.GetExecuteStmt() != nil {
		// NB: only a protocol-level Parse makes one; SQL's PREPARE cannot.
		return nil, sqlerr.Unsupported("prepared statement \"%s\" is an EXECUTE itself", n.Name)
	}
	ptypes, err := target.planForBind()
	if err != nil {
		return nil, err
	}
	if len(ptypes) != len(n.Params) {
		return nil, sqlerr.New(sqlerr.SyntaxError, "wrong number of parameters for prepared statement \"%s\"", n.Name).
			WithDetail("Expected %d parameters but got %d.", len(ptypes), len(n.Params))
	}
	args, err := st.evalArgs(ctx, n.Params, ptypes)
	if err != nil {
		return nil, err
	}
	ip := &portal{st: target, params: args, planned: target.planned}
	st.cols = ip.Columns()
	return &portal{st: st, inner: ip}, nil
}

// evalArgs evaluates EXECUTE's arguments (as a SELECT of them) to values
// of the parameter types ptypes.
func (st *statement) evalArgs(ctx context.Context, args []*pg.Node, ptypes []*types.T) ([]types.Datum, error) {
	if len(args) == 0 {
		return nil, nil
	}
	s := st.s
	targets := make([]*pg.Node, len(args))
	for i, a := range args {
		targets[i] = &pg.Node{Node: &pg.Node_ResTarget{ResTarget: &pg.ResTarget{Val: a}}}
	}
	q := &pg.Node{Node: &pg.Node_SelectStmt{SelectStmt: &pg.SelectStmt{TargetList: targets, Op: pg.SetOperation_SETOP_NONE}}}
	planned, err := s.planner().PlanQuery(q, s.planOpts(nil))
	if err != nil {
		return nil, st.positioned(err)
	}
	ts := s.tx
	if ts == nil {
		ts = s.beginTxn()
		defer ts.txn.Rollback()
	}
	op, err := exec.Build(s.newExecCtx(ctx, ts, nil), planned.Plan)
	if err != nil {
		return nil, err
	}
	ch, err := op.Next()
	if err != nil {
		return nil, err
	}
	out := make([]types.Datum, len(args))
	for c, v := range ch.Row(0) {
		from, to := planned.Columns[c].Type, ptypes[c]
		if from == nil {
			from = types.Text
		}
		if to == nil || to.Oid == types.OidUnknown {
			to = types.Text
		}
		if out[c], err = types.CastDatum(v, from, to, false, s.cfg); err != nil {
			return nil, err
		}
	}
	return out, nil
}
