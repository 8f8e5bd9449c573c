package expr

import (
	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// ArrayCtor is ARRAY[e1, e2, …].
type ArrayCtor struct {
	Elems []Expr
	Typ   *types.T
}

func (a *ArrayCtor) Type() *types.T { return a.Typ }
func (a *ArrayCtor) String() string { return "ARRAY[" + joinExprs(a.Elems, ", ") + "]" }
func (a *ArrayCtor) Eval(ctx *EvalCtx, ch *coldata.Chunk) (*coldata.Vec, error) {
	vals := make([]*coldata.Vec, len(a.Elems))
	for i, e := range a.Elems {
		v, err := e.Eval(ctx, ch)
		if err != nil {
			return nil, err
		}
		vals[i] = v
	}
	out := coldata.NewVec(a.Typ, ch.Len)
	for r := 0; r < ch.Len; r++ {
		arr := &types.Array{Elem: a.Typ.Elem, Elems: make([]types.Datum, len(vals))}
		for i, v := range vals {
			arr.Elems[i] = v.Get(r)
		}
		out.Append(arr)
	}
	return out, nil
}

// Subscript is arr[idx] (1-based, 0-based for int2vector and oidvector; out
// of range is NULL).
type Subscript struct {
	Arr, Idx Expr
	Typ      *types.T
}

func (s *Subscript) Type() *types.T { return s.Typ }
func (s *Subscript) String() string { return s.Arr.String() + "[" + s.Idx.String() + "]" }
func (s *Subscript) Eval(ctx *EvalCtx, ch *coldata.Chunk) (*coldata.Vec, error) {
	av, err := s.Arr.Eval(ctx, ch)
	if err != nil {
		return nil, err
	}
	iv, err := s.Idx.Eval(ctx, ch)
	if err != nil {
		return nil, err
	}
	out := coldata.NewVec(s.Typ, ch.Len)
	base := int64(0)
	if s.Arr.Type().IsVector() {
		base = 1 // int2vector and oidvector subscripts start at 0
	}
	for r := 0; r < ch.Len; r++ {
		if av.IsNull(r) || iv.IsNull(r) {
			out.Append(nil)
			continue
		}
		arr := av.Get(r).(*types.Array)
		i := iv.Ints[r] + base
		if i < 1 || i > int64(len(arr.Elems)) {
			out.Append(nil)
			continue
		}
		out.Append(arr.Elems[i-1])
	}
	return out, nil
}

// ArrayQuantified is `arg op ANY|ALL (array)` with SQL NULL rules.
type ArrayQuantified struct {
	Arg, Array Expr
	Cmp        *Overload
	All        bool
}

func (q *ArrayQuantified) Type() *types.T { return types.Bool }
func (q *ArrayQuantified) String() string {
	k := "ANY"
	if q.All {
		k = "ALL"
	}
	return q.Arg.String() + " " + q.Cmp.Name + " " + k + "(" + q.Array.String() + ")"
}
func (q *ArrayQuantified) Eval(ctx *EvalCtx, ch *coldata.Chunk) (*coldata.Vec, error) {
	lv, err := q.Arg.Eval(ctx, ch)
	if err != nil {
		return nil, err
	}
	av, err := q.Array.Eval(ctx, ch)
	if err != nil {
		return nil, err
	}
	out := coldata.NewVec(types.Bool, ch.Len)
	for r := 0; r < ch.Len; r++ {
		if av.IsNull(r) {
			out.Append(nil)
			continue
		}
		arr := av.Get(r).(*types.Array)
		rows := make([][]types.Datum, len(arr.Elems))
		for i, e := range arr.Elems {
			rows[i] = []types.Datum{e}
		}
		sub := &Subquery{Kind: AnySubquery, Cmp: q.Cmp}
		if q.All {
			sub.Kind = AllSubquery
		}
		d, err := sub.quantified(ctx, lv, r, rows, arr.Elem)
		if err != nil {
			return nil, err
		}
		out.Append(d)
	}
	return out, nil
}
