package expr

import (
	"github.com/cockroachdb/apd/v3"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// registerBitFuncs adds the integer bitwise operators (&, |, #, ~, <<, >>)
// and scale(numeric).
func registerBitFuncs(r *Registry) {
	for _, t := range []*types.T{types.Int2, types.Int4, types.Int8} {
		for _, op := range []string{"&", "|", "#"} {
			r.Add(&Overload{Name: op, Args: []*types.T{t, t}, Ret: t, Vec: intBitOp(op), Infix: true})
		}
		for _, op := range []string{"<<", ">>"} {
			r.Add(&Overload{Name: op, Args: []*types.T{t, types.Int4}, Ret: t, Vec: intShift(op, t), Infix: true})
		}
		r.Add(&Overload{Name: "~", Args: []*types.T{t}, Ret: t, Vec: func(_ *EvalCtx, a []*coldata.Vec, n int, out *types.T) (*coldata.Vec, error) {
			o := coldata.MakeVec(out, n)
			o.Nulls = a[0].Nulls
			for i, x := range a[0].Ints {
				o.Ints[i] = ^x
			}
			return o, nil
		}})
	}
	r.Add(&Overload{Name: "scale", Args: []*types.T{types.Numeric}, Ret: types.Int4, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		d := a[0].(*apd.Decimal)
		if d.Form != apd.Finite {
			return nil, nil
		}
		return int64(DecScale(d)), nil
	}})
}

func intBitOp(op string) VecFunc {
	return func(_ *EvalCtx, a []*coldata.Vec, n int, out *types.T) (*coldata.Vec, error) {
		o := coldata.MakeVec(out, n)
		o.Nulls = mergeNulls(n, a[0], a[1])
		x, y := a[0].Ints, a[1].Ints
		switch op {
		case "&":
			for i := range o.Ints {
				o.Ints[i] = x[i] & y[i]
			}
		case "|":
			for i := range o.Ints {
				o.Ints[i] = x[i] | y[i]
			}
		default:
			for i := range o.Ints {
				o.Ints[i] = x[i] ^ y[i]
			}
		}
		return o, nil
	}
}

// intShift shifts within the type's width, as Postgres' int4shl does (the
// shift count is taken modulo the width by the hardware).
func intShift(op string, t *types.T) VecFunc {
	bits := int64(intWidth(t) * 8)
	return func(_ *EvalCtx, a []*coldata.Vec, n int, out *types.T) (*coldata.Vec, error) {
		o := coldata.MakeVec(out, n)
		o.Nulls = mergeNulls(n, a[0], a[1])
		for i, x := range a[0].Ints {
			s := uint64(a[1].Ints[i]) % uint64(bits)
			var v int64
			if op == "<<" {
				v = x << s
				switch bits {
				case 16:
					v = int64(int16(v))
				case 32:
					v = int64(int32(v))
				}
			} else {
				v = x >> s
			}
			o.Ints[i] = v
		}
		return o, nil
	}
}
