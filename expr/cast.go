package expr

import (
	"strings"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// Cast converts its argument to To. Explicit casts (CAST, ::) may truncate
// varchar(n); implicit and assignment casts raise an error instead.
type Cast struct {
	Arg      Expr
	To       *types.T
	Explicit bool
}

func (c *Cast) Type() *types.T { return c.To }
func (c *Cast) String() string { return c.Arg.String() + "::" + c.To.String() }

func (c *Cast) Eval(ctx *EvalCtx, ch *coldata.Chunk) (*coldata.Vec, error) {
	v, err := c.Arg.Eval(ctx, ch)
	if err != nil {
		return nil, err
	}
	return CastVec(ctx, v, c.To, c.Explicit)
}

// CastVec converts a whole vector. Widening casts between integers and from
// integers to float8 run on the typed slices; the rest go value by value.
func CastVec(ctx *EvalCtx, v *coldata.Vec, to *types.T, explicit bool) (*coldata.Vec, error) {
	from := v.Typ
	if from.Equal(to) {
		return v, nil
	}
	n := v.Len()
	switch {
	case from.Family == types.IntFamily && to.Family == types.IntFamily && intWidth(from) <= intWidth(to),
		from.Family == types.StringFamily && from.Oid != types.OidBPChar && to.Family == types.StringFamily && to.Width == 0 && to.Oid != types.OidBPChar && to.Oid != types.OidChar,
		from.Family == types.IntFamily && to.Family == types.OidFamily,
		from.Family == types.OidFamily && to.Family == types.OidFamily,
		from.Family == types.UnknownFamily && allNull(v):
		if from.Family == types.UnknownFamily {
			return coldata.ConstVec(to, nil, n), nil
		}
		out := *v
		out.Typ = to
		return &out, nil
	case from.Oid == types.OidBPChar && to.Family == types.StringFamily && to.Oid != types.OidBPChar && to.Width == 0:
		out := coldata.MakeVec(to, n)
		for i, s := range v.Bytes {
			out.Bytes[i] = strings.TrimRight(s, " ")
		}
		out.Nulls = v.Nulls
		return out, nil
	case from.Family == types.IntFamily && to.Oid == types.OidFloat8:
		out := coldata.MakeVec(to, n)
		for i, x := range v.Ints {
			out.Floats[i] = float64(x)
		}
		out.Nulls = v.Nulls
		return out, nil
	case from.Family == types.IntFamily && to.Oid == types.OidNumeric && to.Width == 0:
		// Exact and in range: no rounding or typmod to check.
		out := coldata.MakeVec(to, n)
		for i, x := range v.Ints {
			out.Decs[i].SetInt64(x)
		}
		out.Nulls = v.Nulls
		return out, nil
	}
	out := coldata.NewVec(to, n)
	for i := 0; i < n; i++ {
		d := v.Get(i)
		if d == nil {
			out.Append(nil)
			continue
		}
		r, err := types.CastDatum(d, from, to, explicit, ctx.Cfg)
		if err != nil {
			return nil, err
		}
		out.Append(r)
	}
	return out, nil
}

func allNull(v *coldata.Vec) bool {
	for i := 0; i < v.Len(); i++ {
		if !v.IsNull(i) {
			return false
		}
	}
	return true
}

func intWidth(t *types.T) int {
	switch t.Oid {
	case types.OidInt2:
		return 2
	case types.OidInt4:
		return 4
	}
	return 8
}
