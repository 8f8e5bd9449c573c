package dataflow

import (
	"fmt"
	"strings"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/types"
)

// Filter keeps the changes whose rows satisfy Cond. It is linear: a change
// row passes with its diff.
type Filter struct {
	Cond expr.Expr
	Typs []*types.T
}

func (f *Filter) Types() []*types.T              { return f.Typs }
func (f *Filter) String() string                 { return "Filter " + f.Cond.String() }
func (f *Filter) Partition(int) []int            { return nil }
func (f *Filter) New(env *Env) (Operator, error) { return &filterOp{f: f, env: env}, nil }

type filterOp struct {
	f   *Filter
	env *Env
	sel []int
	// out is the emitted chunk, reused: receivers do not keep it.
	out coldata.Chunk
	// read marks the columns its consumers read (nil: all, or unknown).
	// Only those are gathered; the others are left nil in the output.
	read []bool
}

func (o *filterOp) Push(_ int, c *coldata.Chunk, emit Emit) error {
	v, err := o.f.Cond.Eval(o.env.Eval, c)
	if err != nil {
		return err
	}
	o.sel = o.sel[:0]
	for i := 0; i < c.Len; i++ {
		if !v.IsNull(i) && v.Bools[i] {
			o.sel = append(o.sel, i)
		}
	}
	switch len(o.sel) {
	case 0:
		return nil
	case c.Len:
		return emit(c)
	}
	if o.read != nil {
		read := &coldata.Chunk{Cols: make([]*coldata.Vec, len(c.Cols)), Len: c.Len, Diffs: c.Diffs}
		for j, v := range c.Cols {
			if o.read[j] {
				read.Cols[j] = v
			}
		}
		c = read
	}
	c.GatherInto(&o.out, o.sel)
	return emit(&o.out)
}

func (o *filterOp) Flush(Emit) error { return nil }

// Project computes one expression per output column for every change row.
type Project struct {
	Exprs []expr.Expr
}

func (p *Project) Types() []*types.T {
	ts := make([]*types.T, len(p.Exprs))
	for i, e := range p.Exprs {
		ts[i] = e.Type()
	}
	return ts
}

func (p *Project) String() string {
	parts := make([]string, len(p.Exprs))
	for i, e := range p.Exprs {
		parts[i] = e.String()
	}
	return "Project " + strings.Join(parts, ", ")
}

func (p *Project) Partition(int) []int            { return nil }
func (p *Project) New(env *Env) (Operator, error) { return &projectOp{p: p, env: env}, nil }

type projectOp struct {
	p   *Project
	env *Env
}

func (o *projectOp) Push(_ int, c *coldata.Chunk, emit Emit) error {
	out := &coldata.Chunk{Cols: make([]*coldata.Vec, len(o.p.Exprs)), Len: c.Len, Diffs: c.Diffs}
	for i, e := range o.p.Exprs {
		v, err := e.Eval(o.env.Eval, c)
		if err != nil {
			return err
		}
		out.Cols[i] = v
	}
	return emit(out)
}

func (o *projectOp) Flush(Emit) error { return nil }

// Union concatenates the changes of its inputs (UNION ALL).
type Union struct {
	Typs   []*types.T
	Inputs int
}

func (u *Union) Types() []*types.T          { return u.Typs }
func (u *Union) String() string             { return fmt.Sprintf("Union all inputs=%d", u.Inputs) }
func (u *Union) Partition(int) []int        { return nil }
func (u *Union) New(*Env) (Operator, error) { return passThrough{}, nil }
