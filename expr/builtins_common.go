package expr

import (
	"github.com/cockroachdb/apd/v3"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// Shared helpers for the builtins_*.go files: small kernel builders over
// typed slices and argument-list shorthands.

func ts(t ...*types.T) []*types.T { return t }

// strMapVec builds a kernel applying f to every non-NULL row of a string vector.
func strMapVec(f func(string) string) VecFunc {
	return func(_ *EvalCtx, args []*coldata.Vec, n int, out *types.T) (*coldata.Vec, error) {
		a := args[0]
		o := coldata.MakeVec(out, n)
		o.Nulls = a.Nulls
		for i, s := range a.Bytes[:n] {
			if a.Nulls != nil && a.Nulls[i] {
				continue
			}
			o.Bytes[i] = f(s)
		}
		return o, nil
	}
}

// strToIntVec builds a kernel mapping a string vector to an int vector.
func strToIntVec(f func(string) int64) VecFunc {
	return func(_ *EvalCtx, args []*coldata.Vec, n int, out *types.T) (*coldata.Vec, error) {
		a := args[0]
		o := coldata.MakeVec(out, n)
		o.Nulls = a.Nulls
		for i, s := range a.Bytes[:n] {
			o.Ints[i] = f(s)
		}
		return o, nil
	}
}

// floatMapVec builds a kernel applying f to a float8 vector.
func floatMapVec(f func(float64) float64) VecFunc {
	return func(_ *EvalCtx, args []*coldata.Vec, n int, out *types.T) (*coldata.Vec, error) {
		a := args[0]
		o := coldata.MakeVec(out, n)
		o.Nulls = a.Nulls
		r := o.Floats
		for i, x := range a.Floats[:n] {
			r[i] = f(x)
		}
		return o, nil
	}
}

// floatMapErrVec is floatMapVec for functions that can fail; NULL rows are skipped.
func floatMapErrVec(f func(float64) (float64, error)) VecFunc {
	return func(_ *EvalCtx, args []*coldata.Vec, n int, out *types.T) (*coldata.Vec, error) {
		a := args[0]
		o := coldata.MakeVec(out, n)
		o.Nulls = a.Nulls
		r := o.Floats
		for i, x := range a.Floats[:n] {
			if a.Nulls != nil && a.Nulls[i] {
				continue
			}
			y, err := f(x)
			if err != nil {
				return nil, err
			}
			r[i] = y
		}
		return o, nil
	}
}

// float2Vec builds a kernel for a strict function of two float8 vectors.
func float2Vec(f func(a, b float64) (float64, error)) VecFunc {
	return func(_ *EvalCtx, args []*coldata.Vec, n int, out *types.T) (*coldata.Vec, error) {
		a, b := args[0], args[1]
		o := coldata.MakeVec(out, n)
		o.Nulls = mergeNulls(n, a, b)
		r := o.Floats
		for i := range r {
			if o.Nulls != nil && o.Nulls[i] {
				continue
			}
			y, err := f(a.Floats[i], b.Floats[i])
			if err != nil {
				return nil, err
			}
			r[i] = y
		}
		return o, nil
	}
}

// typedRowFunc is a row function that also sees the argument types; used for
// polymorphic (AnyType) functions whose behaviour depends on the input type.
type typedRowFunc func(ctx *EvalCtx, typs []*types.T, row []types.Datum) (types.Datum, error)

// typedRows adapts a typedRowFunc to a kernel. Unless nullOK, a row with any
// NULL argument yields NULL without calling f.
func typedRows(nullOK bool, f typedRowFunc) VecFunc {
	return func(ctx *EvalCtx, args []*coldata.Vec, n int, out *types.T) (*coldata.Vec, error) {
		typs := make([]*types.T, len(args))
		for j, a := range args {
			typs[j] = a.Typ
		}
		res := coldata.NewVec(out, n)
		row := make([]types.Datum, len(args))
		for i := 0; i < n; i++ {
			null := false
			for j, a := range args {
				row[j] = a.Get(i)
				null = null || row[j] == nil
			}
			if null && !nullOK {
				res.Append(nil)
				continue
			}
			d, err := f(ctx, typs, row)
			if err != nil {
				return nil, err
			}
			res.Append(d)
		}
		return res, nil
	}
}

func cfgOf(ctx *EvalCtx) *types.Config {
	if ctx != nil && ctx.Cfg != nil {
		return ctx.Cfg
	}
	return types.DefaultConfig()
}

// datumText renders d of type t as Postgres' text output.
func datumText(ctx *EvalCtx, t *types.T, d types.Datum) string {
	if s, ok := d.(string); ok && (t.Family == types.StringFamily || t.Family == types.UnknownFamily) {
		return s
	}
	return string(types.AppendText(nil, t, d, cfgOf(ctx)))
}

// normNegZero clears the sign of a numeric zero (numeric has no -0).
func normNegZero(d *apd.Decimal) *apd.Decimal {
	if d.Form == apd.Finite && d.Coeff.Sign() == 0 {
		d.Negative = false
	}
	return d
}

func errInvalidParam(format string, args ...any) *sqlerr.Error {
	return sqlerr.New(sqlerr.InvalidParameterValue, format, args...)
}
