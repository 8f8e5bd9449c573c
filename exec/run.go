package exec

import (
	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/timewindow"
	"github.com/sluice-db/sluice/types"
)

// Ctx is what a running plan needs: expression evaluation state and table access.
type Ctx struct {
	Eval *expr.EvalCtx
	// Tables resolves a table reference within the statement's transaction.
	Tables func(ref *TableRef) (TableAccess, error)
	// RowsAffected counts rows written by DML operators.
	RowsAffected int64
}

// Operator yields the chunks of a running plan; Next returns nil at the end.
type Operator interface {
	Next() (*coldata.Chunk, error)
}

// Build instantiates the operators of a plan.
func Build(c *Ctx, p Plan) (Operator, error) {
	switch p := p.(type) {
	case *Scan:
		return &scanOp{c: c, plan: p}, nil
	case *PointLookup:
		return &lookupOp{c: c, plan: p}, nil
	case *RangeScan:
		return &rangeScanOp{c: c, plan: p}, nil
	case *Values:
		return &valuesOp{c: c, plan: p}, nil
	case *Filter:
		in, err := Build(c, p.Input)
		return &filterOp{c: c, in: in, cond: p.Cond}, err
	case *Project:
		if scan, ok := p.Input.(*Scan); ok && len(p.Exprs) == 0 && !scan.Positions {
			return &countScanOp{scanOp: scanOp{c: c, plan: scan}}, nil
		}
		in, err := Build(c, p.Input)
		return &projectOp{c: c, in: in, exprs: p.Exprs}, err
	case *HashAgg:
		in, err := Build(c, p.Input)
		return &hashAggOp{c: c, in: in, plan: p}, err
	case *Join:
		l, err := Build(c, p.Left)
		if err != nil {
			return nil, err
		}
		r, err := Build(c, p.Right)
		return &joinOp{c: c, left: l, right: r, plan: p}, err
	case *Sort:
		in, err := Build(c, p.Input)
		return &sortOp{c: c, in: in, plan: p}, err
	case *Limit:
		in, err := Build(c, p.Input)
		return &limitOp{c: c, in: in, plan: p}, err
	case *Distinct:
		in, err := Build(c, p.Input)
		return &distinctOp{in: in, plan: p}, err
	case *SetOp:
		l, err := Build(c, p.Left)
		if err != nil {
			return nil, err
		}
		r, err := Build(c, p.Right)
		return &setOpOp{left: l, right: r, plan: p}, err
	case *Window:
		in, err := Build(c, p.Input)
		return &windowOp{c: c, in: in, plan: p}, err
	case *WindowAssign:
		in, err := Build(c, p.Input)
		if p.Spec.Kind == timewindow.Session {
			return &sessionOp{c: c, in: in, plan: p}, err
		}
		return &windowAssignOp{c: c, in: in, plan: p}, err
	case *ProjectSet:
		in, err := Build(c, p.Input)
		return &projectSetOp{c: c, in: in, plan: p}, err
	case *Insert:
		in, err := Build(c, p.Input)
		return &insertOp{c: c, in: in, plan: p}, err
	case *Update:
		in, err := Build(c, p.Input)
		return &updateOp{c: c, in: in, plan: p}, err
	case *Delete:
		in, err := Build(c, p.Input)
		return &deleteOp{c: c, in: in, plan: p}, err
	}
	return nil, sqlerr.Bug("exec: unknown plan node %T", p)
}

// Run executes a plan to completion and returns all its rows in one chunk.
func Run(c *Ctx, p Plan) (*coldata.Chunk, error) {
	op, err := Build(c, p)
	if err != nil {
		return nil, err
	}
	return drain(op, p.Types(), 0)
}

// drain collects an operator's output, stopping after limit rows (0: all).
func drain(op Operator, ts []*types.T, limit int) (*coldata.Chunk, error) {
	out := coldata.NewChunk(ts, 0)
	for {
		if limit > 0 && out.Len >= limit {
			return out, nil
		}
		ch, err := op.Next()
		if err != nil {
			return nil, err
		}
		if ch == nil {
			return out, nil
		}
		out.AppendChunk(ch)
	}
}

// SubqueryRunner runs subquery plans for expressions within this context.
type SubqueryRunner struct{ C *Ctx }

// Run implements expr.SubqueryRunner.
func (s SubqueryRunner) Run(ev *expr.EvalCtx, plan any, limit int) ([][]types.Datum, error) {
	p, ok := plan.(Plan)
	if !ok {
		return nil, sqlerr.Bug("subquery plan is %T", plan)
	}
	c := *s.C
	c.Eval = ev
	op, err := Build(&c, p)
	if err != nil {
		return nil, err
	}
	ch, err := drain(op, p.Types(), limit)
	if err != nil {
		return nil, err
	}
	rows := make([][]types.Datum, ch.Len)
	for i := range rows {
		rows[i] = ch.Row(i)
	}
	return rows, nil
}
