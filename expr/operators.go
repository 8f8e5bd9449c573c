package expr

import (
	"math"
	"math/bits"

	"github.com/cockroachdb/apd/v3"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// registerOperators adds the arithmetic, comparison and concatenation
// operators on the core types. Arithmetic kernels loop over typed slices.
func registerOperators(r *Registry) {
	ints := []*types.T{types.Int2, types.Int4, types.Int8}
	for _, a := range ints {
		for _, b := range ints {
			res := a
			if intWidth(b) > intWidth(a) {
				res = b
			}
			for _, op := range []string{"+", "-", "*", "/", "%"} {
				r.Add(&Overload{Name: op, Args: []*types.T{a, b}, Ret: res, Vec: intArith(op, res), Infix: true})
			}
		}
		r.Add(&Overload{Name: "-", Args: []*types.T{a}, Ret: a, Vec: intNeg(a)})
		r.Add(&Overload{Name: "+", Args: []*types.T{a}, Ret: a, Vec: identity})
	}
	floats := []*types.T{types.Float4, types.Float8}
	for _, a := range floats {
		for _, b := range floats {
			res := types.Float8
			if a == types.Float4 && b == types.Float4 {
				res = types.Float4
			}
			for _, op := range []string{"+", "-", "*", "/"} {
				r.Add(&Overload{Name: op, Args: []*types.T{a, b}, Ret: res, Vec: floatArith(op, res), Infix: true})
			}
		}
		r.Add(&Overload{Name: "-", Args: []*types.T{a}, Ret: a, Vec: floatNeg})
		r.Add(&Overload{Name: "+", Args: []*types.T{a}, Ret: a, Vec: identity})
	}
	for _, op := range []string{"+", "-"} {
		r.Add(&Overload{Name: op, Args: []*types.T{types.Numeric, types.Numeric}, Ret: types.Numeric, Vec: numericArithVec(op), Infix: true})
	}
	r.Add(&Overload{Name: "*", Args: []*types.T{types.Numeric, types.Numeric}, Ret: types.Numeric, Vec: numericArithVec("*"),
		ConstInts: numericMulConstInts, Infix: true})
	for _, op := range []string{"/", "%"} {
		r.Add(&Overload{Name: op, Args: []*types.T{types.Numeric, types.Numeric}, Ret: types.Numeric, Row: numericArith(op), Infix: true})
	}
	r.Add(&Overload{Name: "-", Args: []*types.T{types.Numeric}, Ret: types.Numeric, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		d := new(apd.Decimal)
		d.Neg(a[0].(*apd.Decimal))
		return d, nil
	}})
	r.Add(&Overload{Name: "+", Args: []*types.T{types.Numeric}, Ret: types.Numeric, Vec: identity})

	for _, t := range []*types.T{types.Bool, types.Int2, types.Int4, types.Int8, types.Float4, types.Float8, types.Numeric,
		types.Text, types.BPChar, types.Bytea, types.UUID, types.Date, types.Time, types.Timestamp, types.TimestampTZ,
		types.Interval, types.JSONB, types.Oid, types.Name, types.QChar, AnyArray} {
		for _, op := range []string{"=", "<>", "<", "<=", ">", ">="} {
			r.Add(&Overload{Name: op, Args: []*types.T{t, t}, Ret: types.Bool, Vec: compareOp(op), Infix: true})
		}
	}
	r.Add(&Overload{Name: "||", Args: []*types.T{types.Text, types.Text}, Ret: types.Text, Vec: concatText, Infix: true})
}

func identity(_ *EvalCtx, args []*coldata.Vec, _ int, out *types.T) (*coldata.Vec, error) {
	v := *args[0]
	v.Typ = out
	return &v, nil
}

// mergeNulls returns the OR of the inputs' null masks (nil when none has NULLs).
func mergeNulls(n int, vs ...*coldata.Vec) []bool {
	var out []bool
	for _, v := range vs {
		if v.Nulls == nil {
			continue
		}
		if out == nil {
			out = make([]bool, n)
		}
		for i, x := range v.Nulls {
			out[i] = out[i] || x
		}
	}
	return out
}

func intRange(t *types.T) (int64, int64, string) {
	switch t.Oid {
	case types.OidInt2:
		return math.MinInt16, math.MaxInt16, "smallint out of range"
	case types.OidInt4:
		return math.MinInt32, math.MaxInt32, "integer out of range"
	}
	return math.MinInt64, math.MaxInt64, "bigint out of range"
}

func intArith(op string, res *types.T) VecFunc {
	lo, hi, msg := intRange(res)
	overflow := func() error { return sqlerr.New(sqlerr.NumericValueOutOfRange, "%s", msg) }
	return func(_ *EvalCtx, args []*coldata.Vec, n int, out *types.T) (*coldata.Vec, error) {
		a, b := args[0].Ints, args[1].Ints
		o := coldata.MakeVec(out, n)
		o.Nulls = mergeNulls(n, args[0], args[1])
		r := o.Ints
		nulls := o.Nulls
		switch op {
		case "+":
			for i := range r {
				x := a[i] + b[i]
				if (x > a[i]) != (b[i] > 0) || x < lo || x > hi {
					if nulls == nil || !nulls[i] {
						return nil, overflow()
					}
				}
				r[i] = x
			}
		case "-":
			for i := range r {
				x := a[i] - b[i]
				if (x < a[i]) != (b[i] > 0) || x < lo || x > hi {
					if nulls == nil || !nulls[i] {
						return nil, overflow()
					}
				}
				r[i] = x
			}
		case "*":
			for i := range r {
				x := a[i] * b[i]
				if (a[i] != 0 && (x/a[i] != b[i] || (a[i] == -1 && b[i] == math.MinInt64))) || x < lo || x > hi {
					if nulls == nil || !nulls[i] {
						return nil, overflow()
					}
				}
				r[i] = x
			}
		case "/", "%":
			for i := range r {
				if nulls != nil && nulls[i] {
					continue
				}
				if b[i] == 0 {
					return nil, ErrDivByZero()
				}
				if b[i] == -1 {
					if op == "%" {
						r[i] = 0
						continue
					}
					if a[i] == lo {
						return nil, overflow()
					}
				}
				if op == "/" {
					r[i] = a[i] / b[i]
				} else {
					r[i] = a[i] % b[i]
				}
			}
		}
		return o, nil
	}
}

func intNeg(t *types.T) VecFunc {
	lo, _, msg := intRange(t)
	return func(_ *EvalCtx, args []*coldata.Vec, n int, out *types.T) (*coldata.Vec, error) {
		o := coldata.MakeVec(out, n)
		o.Nulls = args[0].Nulls
		for i, x := range args[0].Ints {
			if x == lo && !args[0].IsNull(i) {
				return nil, sqlerr.New(sqlerr.NumericValueOutOfRange, "%s", msg)
			}
			o.Ints[i] = -x
		}
		return o, nil
	}
}

func floatNeg(_ *EvalCtx, args []*coldata.Vec, n int, out *types.T) (*coldata.Vec, error) {
	o := coldata.MakeVec(out, n)
	o.Nulls = args[0].Nulls
	for i, x := range args[0].Floats {
		o.Floats[i] = -x
	}
	return o, nil
}

func floatArith(op string, res *types.T) VecFunc {
	return func(_ *EvalCtx, args []*coldata.Vec, n int, out *types.T) (*coldata.Vec, error) {
		a, b := args[0].Floats, args[1].Floats
		o := coldata.MakeVec(out, n)
		o.Nulls = mergeNulls(n, args[0], args[1])
		r := o.Floats
		switch op {
		case "+":
			for i := range r {
				r[i] = a[i] + b[i]
			}
		case "-":
			for i := range r {
				r[i] = a[i] - b[i]
			}
		case "*":
			for i := range r {
				r[i] = a[i] * b[i]
			}
		case "/":
			for i := range r {
				if b[i] == 0 && !o.IsNull(i) {
					return nil, ErrDivByZero()
				}
				r[i] = a[i] / b[i]
			}
		}
		f4 := res.Oid == types.OidFloat4
		for i, x := range r {
			if f4 {
				x = float64(float32(x))
				r[i] = x
			}
			if math.IsInf(x, 0) && !math.IsInf(a[i], 0) && !math.IsInf(b[i], 0) && !o.IsNull(i) {
				return nil, sqlerr.New(sqlerr.NumericValueOutOfRange, "value out of range: overflow")
			}
		}
		return o, nil
	}
}

// numericArithVec is the kernel of numeric +, - and *: the results are
// computed into the output's decimals, with no datum boxed per row.
func numericArithVec(op string) VecFunc {
	return func(_ *EvalCtx, args []*coldata.Vec, n int, out *types.T) (*coldata.Vec, error) {
		a, b := args[0].Decs, args[1].Decs
		o := coldata.MakeVec(out, n)
		o.Nulls = mergeNulls(n, args[0], args[1])
		r := o.Decs
		for i := range r {
			if o.Nulls != nil && o.Nulls[i] {
				continue
			}
			if err := decimalArith(op, &r[i], &a[i], &b[i]); err != nil {
				return nil, err
			}
		}
		return o, nil
	}
}

// numericMulConstInts is numeric * numeric where one side is the constant k
// and the other integers widened to numeric (0.908 * price): each product
// is computed from the integer, with neither the widened column nor the
// constant's repeated in n decimals.
func numericMulConstInts(_ *EvalCtx, k types.Datum, constFirst bool, ints *coldata.Vec, out *types.T) (*coldata.Vec, error) {
	n := ints.Len()
	if k == nil {
		return coldata.ConstVec(out, nil, n), nil
	}
	kd := k.(*apd.Decimal)
	o := coldata.MakeVec(out, n)
	o.Nulls = ints.Nulls
	kc, small := smallCoefficient(kd)
	r := o.Decs
	for i, x := range ints.Ints {
		if o.Nulls != nil && o.Nulls[i] {
			continue
		}
		if small {
			// |x| as unsigned: MinInt64's negation wraps to itself, 2^63.
			ux := uint64(x)
			if x < 0 {
				ux = uint64(-x)
			}
			if setSmallProduct(&r[i], kc, ux, kd.Negative != (x < 0), kd.Exponent) {
				continue
			}
		}
		var xd apd.Decimal
		xd.SetInt64(x)
		a, b := kd, &xd
		if !constFirst {
			a, b = b, a
		}
		if err := decimalArith("*", &r[i], a, b); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// smallExponentLimit bounds the exponents mulSmall takes: the product of
// two such numbers, with at most 20 digits, is far inside apd's exponent
// limits (±100 000) and DecimalCtx's, so DecimalCtx.Mul would neither
// round, clamp nor fail.
const smallExponentLimit = 40_000

// smallCoefficient returns d's coefficient when d is finite, its
// coefficient fits in 64 bits and its exponent is within
// smallExponentLimit.
func smallCoefficient(d *apd.Decimal) (uint64, bool) {
	if d.Form != apd.Finite || d.Exponent > smallExponentLimit || d.Exponent < -smallExponentLimit || !d.Coeff.IsUint64() {
		return 0, false
	}
	return d.Coeff.Uint64(), true
}

// mulSmall sets r to a * b and reports true when both coefficients and
// their product fit in 64 bits (smallCoefficient): DecimalCtx.Mul's result,
// without counting the product's digits for limits it cannot reach.
func mulSmall(r, a, b *apd.Decimal) bool {
	ac, ok := smallCoefficient(a)
	if !ok {
		return false
	}
	bc, ok := smallCoefficient(b)
	if !ok {
		return false
	}
	return setSmallProduct(r, ac, bc, a.Negative != b.Negative, a.Exponent+b.Exponent)
}

// setSmallProduct sets r to the finite ac * bc × 10^exponent, negative or
// not, and reports true when the coefficients' product fits in 64 bits.
func setSmallProduct(r *apd.Decimal, ac, bc uint64, negative bool, exponent int32) bool {
	hi, lo := bits.Mul64(ac, bc)
	if hi != 0 {
		return false
	}
	r.Form, r.Negative, r.Exponent = apd.Finite, negative, exponent
	r.Coeff.SetUint64(lo)
	return true
}

// decimalArith sets r to a op b for op +, - or *. As in PostgreSQL, what
// has no value among the infinities (Infinity - Infinity, Infinity * 0) is
// NaN.
func decimalArith(op string, r, a, b *apd.Decimal) error {
	var err error
	switch op {
	case "+":
		_, err = DecimalCtx.Add(r, a, b)
	case "-":
		_, err = DecimalCtx.Sub(r, a, b)
	case "*":
		if mulSmall(r, a, b) {
			return nil
		}
		_, err = DecimalCtx.Mul(r, a, b)
	}
	if err != nil {
		if a.Form == apd.Infinite || b.Form == apd.Infinite {
			r.Set(decimalNaN)
			return nil
		}
		return sqlerr.Wrap(sqlerr.NumericValueOutOfRange, err)
	}
	return nil
}

var decimalNaN = &apd.Decimal{Form: apd.NaN}

// numericArith is numeric / and %.
func numericArith(op string) RowFunc {
	return func(_ *EvalCtx, args []types.Datum) (types.Datum, error) {
		a, b := args[0].(*apd.Decimal), args[1].(*apd.Decimal)
		if op == "/" {
			return DecimalDiv(a, b)
		}
		if b.IsZero() && b.Form == apd.Finite {
			return nil, ErrDivByZero()
		}
		r := new(apd.Decimal)
		if _, err := DecimalCtx.Rem(r, a, b); err != nil {
			return nil, sqlerr.Wrap(sqlerr.NumericValueOutOfRange, err)
		}
		return r, nil
	}
}

// compareOp returns a kernel for a comparison operator on two vectors of the
// same physical type.
func compareOp(op string) VecFunc {
	test := func(c int) bool {
		switch op {
		case "=":
			return c == 0
		case "<>":
			return c != 0
		case "<":
			return c < 0
		case "<=":
			return c <= 0
		case ">":
			return c > 0
		}
		return c >= 0
	}
	return func(_ *EvalCtx, args []*coldata.Vec, n int, out *types.T) (*coldata.Vec, error) {
		a, b := args[0], args[1]
		o := coldata.MakeVec(types.Bool, n)
		o.Nulls = mergeNulls(n, a, b)
		r := o.Bools
		switch {
		case a.Typ.Phys() == types.PhysInt && b.Typ.Phys() == types.PhysInt:
			x, y := a.Ints, b.Ints
			switch op {
			case "=":
				for i := range r {
					r[i] = x[i] == y[i]
				}
			case "<>":
				for i := range r {
					r[i] = x[i] != y[i]
				}
			case "<":
				for i := range r {
					r[i] = x[i] < y[i]
				}
			case "<=":
				for i := range r {
					r[i] = x[i] <= y[i]
				}
			case ">":
				for i := range r {
					r[i] = x[i] > y[i]
				}
			case ">=":
				for i := range r {
					r[i] = x[i] >= y[i]
				}
			}
		case a.Typ.Phys() == types.PhysBytes && a.Typ.Oid != types.OidBPChar && a.Typ.Oid != types.OidJSONB:
			x, y := a.Bytes, b.Bytes
			switch op {
			case "=":
				for i := range r {
					r[i] = x[i] == y[i]
				}
			case "<>":
				for i := range r {
					r[i] = x[i] != y[i]
				}
			default:
				for i := range r {
					c := 0
					if x[i] < y[i] {
						c = -1
					} else if x[i] > y[i] {
						c = 1
					}
					r[i] = test(c)
				}
			}
		case a.Typ.Phys() == types.PhysFloat && b.Typ.Phys() == types.PhysFloat:
			x, y := a.Floats, b.Floats
			for i := range r {
				r[i] = test(compareFloat(x[i], y[i]))
			}
		default:
			t := a.Typ
			for i := range r {
				if o.IsNull(i) {
					continue
				}
				r[i] = test(types.Compare(t, a.Get(i), b.Get(i)))
			}
		}
		return o, nil
	}
}

// compareFloat orders floats as Postgres does: NaN equals NaN and sorts above
// every other value.
func compareFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	case a == b:
		return 0
	case math.IsNaN(a) && math.IsNaN(b):
		return 0
	case math.IsNaN(a):
		return 1
	}
	return -1
}

func concatText(_ *EvalCtx, args []*coldata.Vec, n int, out *types.T) (*coldata.Vec, error) {
	o := coldata.MakeVec(out, n)
	o.Nulls = mergeNulls(n, args[0], args[1])
	for i := range o.Bytes {
		o.Bytes[i] = args[0].Bytes[i] + args[1].Bytes[i]
	}
	return o, nil
}
