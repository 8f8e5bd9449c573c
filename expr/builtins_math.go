package expr

import (
	"math"
	"math/big"
	"math/rand/v2"
	"sync"

	"github.com/cockroachdb/apd/v3"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// Postgres' numeric result-scale rules (numeric.c): transcendental functions
// give at least minSigDigits significant digits and never fewer decimals than
// their inputs.
const minSigDigits = 16

func registerMathFuncs(r *Registry) {
	F8, N, I2, I4, I8 := types.Float8, types.Numeric, types.Int2, types.Int4, types.Int8

	for _, t := range []*types.T{I2, I4, I8} {
		r.Add(&Overload{Name: "abs", Args: ts(t), Ret: t, Vec: intAbs(t)})
	}
	r.Add(&Overload{Name: "abs", Args: ts(types.Float4), Ret: types.Float4, Vec: floatMapVec(math.Abs)})
	r.Add(&Overload{Name: "abs", Args: ts(F8), Ret: F8, Vec: floatMapVec(math.Abs), Oid: 1395})
	r.Add(&Overload{Name: "abs", Args: ts(N), Ret: N, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		return new(apd.Decimal).Abs(a[0].(*apd.Decimal)), nil
	}})

	// Rounding. float8 round is rint (half to even); numeric rounds half away from zero.
	r.Add(&Overload{Name: "round", Args: ts(F8), Ret: F8, Vec: floatMapVec(math.RoundToEven)})
	r.Add(&Overload{Name: "trunc", Args: ts(F8), Ret: F8, Vec: floatMapVec(math.Trunc)})
	for _, name := range []string{"ceil", "ceiling"} {
		r.Add(&Overload{Name: name, Args: ts(F8), Ret: F8, Vec: floatMapVec(math.Ceil)})
		r.Add(&Overload{Name: name, Args: ts(N), Ret: N, Row: decRoundFunc(apd.RoundCeiling, false)})
	}
	r.Add(&Overload{Name: "floor", Args: ts(F8), Ret: F8, Vec: floatMapVec(math.Floor)})
	r.Add(&Overload{Name: "floor", Args: ts(N), Ret: N, Row: decRoundFunc(apd.RoundFloor, false)})
	r.Add(&Overload{Name: "round", Args: ts(N), Ret: N, Row: decRoundFunc(apd.RoundHalfUp, false)})
	r.Add(&Overload{Name: "round", Args: ts(N, I4), Ret: N, Row: decRoundFunc(apd.RoundHalfUp, true)})
	r.Add(&Overload{Name: "trunc", Args: ts(N), Ret: N, Row: decRoundFunc(apd.RoundDown, false)})
	r.Add(&Overload{Name: "trunc", Args: ts(N, I4), Ret: N, Row: decRoundFunc(apd.RoundDown, true)})
	r.Add(&Overload{Name: "sign", Args: ts(F8), Ret: F8, Vec: floatMapVec(func(x float64) float64 {
		switch {
		case x > 0:
			return 1
		case x < 0:
			return -1
		}
		return 0
	})})
	r.Add(&Overload{Name: "sign", Args: ts(N), Ret: N, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		d := a[0].(*apd.Decimal)
		if d.Form == apd.NaN {
			return d, nil
		}
		if d.IsZero() {
			return apd.New(0, 0), nil
		}
		if d.Negative {
			return apd.New(-1, 0), nil
		}
		return apd.New(1, 0), nil
	}})

	for _, t := range []*types.T{I2, I4, I8} {
		r.Add(&Overload{Name: "mod", Args: ts(t, t), Ret: t, Vec: intArith("%", t)})
	}
	r.Add(&Overload{Name: "mod", Args: ts(N, N), Ret: N, Row: numericArith("%")})
	r.Add(&Overload{Name: "div", Args: ts(N, N), Ret: N, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		x, y := a[0].(*apd.Decimal), a[1].(*apd.Decimal)
		if y.IsZero() {
			return nil, ErrDivByZero()
		}
		q := new(apd.Decimal)
		if _, err := DecimalCtx.QuoInteger(q, x, y); err != nil {
			return nil, sqlerr.Wrap(sqlerr.NumericValueOutOfRange, err)
		}
		return normNegZero(q), nil
	}})

	// Powers, roots and logarithms.
	for _, name := range []string{"power", "pow"} {
		r.Add(&Overload{Name: name, Args: ts(F8, F8), Ret: F8, Vec: float2Vec(floatPow)})
		r.Add(&Overload{Name: name, Args: ts(N, N), Ret: N, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
			return decPow(a[0].(*apd.Decimal), a[1].(*apd.Decimal))
		}})
	}
	r.Add(&Overload{Name: "^", Args: ts(F8, F8), Ret: F8, Infix: true, Vec: float2Vec(floatPow)})
	r.Add(&Overload{Name: "^", Args: ts(N, N), Ret: N, Infix: true, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		return decPow(a[0].(*apd.Decimal), a[1].(*apd.Decimal))
	}})
	r.Add(&Overload{Name: "sqrt", Args: ts(F8), Ret: F8, Vec: floatMapErrVec(func(x float64) (float64, error) {
		if x < 0 {
			return 0, errSqrtNeg()
		}
		return math.Sqrt(x), nil
	})})
	r.Add(&Overload{Name: "|/", Args: ts(F8), Ret: F8, Vec: floatMapErrVec(func(x float64) (float64, error) {
		if x < 0 {
			return 0, errSqrtNeg()
		}
		return math.Sqrt(x), nil
	})})
	r.Add(&Overload{Name: "sqrt", Args: ts(N), Ret: N, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		return decSqrt(a[0].(*apd.Decimal))
	}})
	r.Add(&Overload{Name: "cbrt", Args: ts(F8), Ret: F8, Vec: floatMapVec(math.Cbrt)})
	r.Add(&Overload{Name: "||/", Args: ts(F8), Ret: F8, Vec: floatMapVec(math.Cbrt)})
	r.Add(&Overload{Name: "exp", Args: ts(F8), Ret: F8, Vec: floatMapErrVec(func(x float64) (float64, error) {
		y := math.Exp(x)
		if math.IsInf(y, 0) && !math.IsInf(x, 0) {
			return 0, sqlerr.New(sqlerr.NumericValueOutOfRange, "value out of range: overflow")
		}
		if y == 0 && !math.IsInf(x, 0) {
			return 0, sqlerr.New(sqlerr.NumericValueOutOfRange, "value out of range: underflow")
		}
		return y, nil
	})})
	r.Add(&Overload{Name: "exp", Args: ts(N), Ret: N, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		return decExp(a[0].(*apd.Decimal))
	}})
	r.Add(&Overload{Name: "ln", Args: ts(F8), Ret: F8, Vec: floatMapErrVec(floatLog(math.Log))})
	r.Add(&Overload{Name: "ln", Args: ts(N), Ret: N, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		return decLn(a[0].(*apd.Decimal))
	}})
	for _, name := range []string{"log", "log10"} {
		r.Add(&Overload{Name: name, Args: ts(F8), Ret: F8, Vec: floatMapErrVec(floatLog(math.Log10))})
		r.Add(&Overload{Name: name, Args: ts(N), Ret: N, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
			return decLog(apd.New(10, 0), a[0].(*apd.Decimal))
		}})
	}
	r.Add(&Overload{Name: "log", Args: ts(N, N), Ret: N, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		return decLog(a[0].(*apd.Decimal), a[1].(*apd.Decimal))
	}})

	// Trigonometry.
	r.Add(&Overload{Name: "pi", Ret: F8, Row: func(*EvalCtx, []types.Datum) (types.Datum, error) { return math.Pi, nil }})
	r.Add(&Overload{Name: "degrees", Args: ts(F8), Ret: F8, Vec: floatMapVec(func(x float64) float64 { return x * (180 / math.Pi) })})
	r.Add(&Overload{Name: "radians", Args: ts(F8), Ret: F8, Vec: floatMapVec(func(x float64) float64 { return x * (math.Pi / 180) })})
	for name, f := range map[string]func(float64) float64{"sin": math.Sin, "cos": math.Cos, "tan": math.Tan, "sinh": math.Sinh,
		"cosh": math.Cosh, "tanh": math.Tanh, "asinh": math.Asinh} {
		f := f
		r.Add(&Overload{Name: name, Args: ts(F8), Ret: F8, Vec: floatMapErrVec(func(x float64) (float64, error) {
			if math.IsInf(x, 0) && name != "sinh" && name != "cosh" && name != "tanh" && name != "asinh" {
				return 0, sqlerr.New(sqlerr.NumericValueOutOfRange, "input is out of range")
			}
			return f(x), nil
		})})
	}
	r.Add(&Overload{Name: "cot", Args: ts(F8), Ret: F8, Vec: floatMapVec(func(x float64) float64 { return 1 / math.Tan(x) })})
	for name, f := range map[string]func(float64) float64{"asin": math.Asin, "acos": math.Acos} {
		f := f
		r.Add(&Overload{Name: name, Args: ts(F8), Ret: F8, Vec: floatMapErrVec(func(x float64) (float64, error) {
			if x < -1 || x > 1 {
				return 0, sqlerr.New(sqlerr.NumericValueOutOfRange, "input is out of range")
			}
			return f(x), nil
		})})
	}
	r.Add(&Overload{Name: "atan", Args: ts(F8), Ret: F8, Vec: floatMapVec(math.Atan)})
	r.Add(&Overload{Name: "atan2", Args: ts(F8, F8), Ret: F8, Vec: float2Vec(func(a, b float64) (float64, error) { return math.Atan2(a, b), nil })})

	r.Add(&Overload{Name: "random", Ret: F8, Volatile: true, Vec: func(_ *EvalCtx, _ []*coldata.Vec, n int, out *types.T) (*coldata.Vec, error) {
		o := coldata.MakeVec(out, n)
		rng.Lock()
		for i := range o.Floats {
			o.Floats[i] = rng.r.Float64()
		}
		rng.Unlock()
		return o, nil
	}})
	r.Add(&Overload{Name: "setseed", Args: ts(F8), Ret: types.Text, Volatile: true, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		s := a[0].(float64)
		if s < -1 || s > 1 || math.IsNaN(s) {
			return nil, errInvalidParam("setseed parameter %g is out of allowed range [-1,1]", s)
		}
		seed := uint64(int64(s * float64(math.MaxInt32)))
		rng.Lock()
		rng.r = rand.New(rand.NewPCG(seed, seed))
		rng.Unlock()
		return "", nil
	}})

	r.Add(&Overload{Name: "width_bucket", Args: ts(F8, F8, F8, I4), Ret: I4, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		return widthBucket(a[0].(float64), a[1].(float64), a[2].(float64), a[3].(int64))
	}})
	r.Add(&Overload{Name: "width_bucket", Args: ts(N, N, N, I4), Ret: I4, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		op, _ := a[0].(*apd.Decimal).Float64()
		lo, _ := a[1].(*apd.Decimal).Float64()
		hi, _ := a[2].(*apd.Decimal).Float64()
		return widthBucket(op, lo, hi, a[3].(int64))
	}})
	for _, t := range []*types.T{I4, I8} {
		lo, _, msg := intRange(t)
		r.Add(&Overload{Name: "gcd", Args: ts(t, t), Ret: t, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
			g := gcd64(a[0].(int64), a[1].(int64))
			if g == lo {
				return nil, sqlerr.New(sqlerr.NumericValueOutOfRange, "%s", msg)
			}
			return absInt(g), nil
		}})
		r.Add(&Overload{Name: "lcm", Args: ts(t, t), Ret: t, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
			x, y := a[0].(int64), a[1].(int64)
			if x == 0 || y == 0 {
				return int64(0), nil
			}
			g := gcd64(x, y)
			var res big.Int
			res.Mul(big.NewInt(x/g), big.NewInt(y))
			res.Abs(&res)
			_, hi, _ := intRange(t)
			if !res.IsInt64() || res.Int64() > hi {
				return nil, sqlerr.New(sqlerr.NumericValueOutOfRange, "%s", msg)
			}
			return res.Int64(), nil
		}})
	}
	r.Add(&Overload{Name: "gcd", Args: ts(N, N), Ret: N, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		return decGCD(a[0].(*apd.Decimal), a[1].(*apd.Decimal), false)
	}})
	r.Add(&Overload{Name: "lcm", Args: ts(N, N), Ret: N, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		return decGCD(a[0].(*apd.Decimal), a[1].(*apd.Decimal), true)
	}})
	r.Add(&Overload{Name: "factorial", Args: ts(I8), Ret: N, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		n := a[0].(int64)
		if n < 0 {
			return nil, sqlerr.New(sqlerr.NumericValueOutOfRange, "factorial of a negative number is undefined")
		}
		if n > 32177 {
			return nil, sqlerr.New(sqlerr.NumericValueOutOfRange, "value overflows numeric format")
		}
		var f big.Int
		f.MulRange(1, max(n, 1))
		d := new(apd.Decimal)
		d.Coeff.SetMathBigInt(&f)
		return d, nil
	}})

	for _, name := range []string{"greatest", "least"} {
		want := 1
		if name == "least" {
			want = -1
		}
		r.Add(&Overload{Name: name, Args: ts(AnyElement), Variadic: AnyElement, NullOK: true,
			RetFn: func(p []*types.T) *types.T { return p[0] },
			Vec: typedRows(true, func(_ *EvalCtx, typs []*types.T, row []types.Datum) (types.Datum, error) {
				var best types.Datum
				for _, d := range row {
					if d == nil {
						continue
					}
					if best == nil || types.Compare(typs[0], d, best) == want {
						best = d
					}
				}
				return best, nil
			})})
	}
}

var rng = struct {
	sync.Mutex
	r *rand.Rand
}{r: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))}

func intAbs(t *types.T) VecFunc {
	lo, _, msg := intRange(t)
	return func(_ *EvalCtx, args []*coldata.Vec, n int, out *types.T) (*coldata.Vec, error) {
		a := args[0]
		o := coldata.MakeVec(out, n)
		o.Nulls = a.Nulls
		for i, x := range a.Ints[:n] {
			if x < 0 {
				if x == lo && !a.IsNull(i) {
					return nil, sqlerr.New(sqlerr.NumericValueOutOfRange, "%s", msg)
				}
				x = -x
			}
			o.Ints[i] = x
		}
		return o, nil
	}
}

func absInt(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

func gcd64(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func decGCD(a, b *apd.Decimal, lcm bool) (types.Datum, error) {
	// Scale both to integers at the larger scale.
	scale := max(DecScale(a), DecScale(b))
	toBig := func(d *apd.Decimal) *big.Int {
		var q apd.Decimal
		_, _ = DecimalCtx.Quantize(&q, d, -scale)
		return q.Coeff.MathBigInt()
	}
	x, y := toBig(a), toBig(b)
	x.Abs(x)
	y.Abs(y)
	var g big.Int
	g.GCD(nil, nil, x, y)
	res := new(apd.Decimal)
	if lcm {
		if x.Sign() == 0 || y.Sign() == 0 {
			res.Coeff.SetInt64(0)
		} else {
			var l big.Int
			l.Div(x, &g)
			l.Mul(&l, y)
			res.Coeff.SetMathBigInt(&l)
		}
	} else {
		res.Coeff.SetMathBigInt(&g)
	}
	res.Exponent = -scale
	return res, nil
}

func widthBucket(op, lo, hi float64, count int64) (types.Datum, error) {
	if count <= 0 {
		return nil, sqlerr.New("2201G", "count must be greater than zero")
	}
	if lo == hi {
		return nil, sqlerr.New("2201G", "lower bound cannot equal upper bound")
	}
	if math.IsNaN(op) || math.IsNaN(lo) || math.IsNaN(hi) {
		return nil, sqlerr.New("2201G", "operand, lower bound, and upper bound cannot be NaN")
	}
	if math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		return nil, sqlerr.New("2201G", "lower and upper bounds must be finite")
	}
	var res int64
	if lo < hi {
		switch {
		case op < lo:
			res = 0
		case op >= hi:
			res = count + 1
		default:
			res = int64(float64(count)*((op-lo)/(hi-lo))) + 1
		}
	} else {
		switch {
		case op > lo:
			res = 0
		case op <= hi:
			res = count + 1
		default:
			res = int64(float64(count)*((lo-op)/(lo-hi))) + 1
		}
	}
	if res > math.MaxInt32 {
		return nil, sqlerr.New(sqlerr.NumericValueOutOfRange, "integer out of range")
	}
	return res, nil
}

func errSqrtNeg() error {
	return sqlerr.New(sqlerr.InvalidArgumentForPower, "cannot take square root of a negative number")
}

func floatLog(f func(float64) float64) func(float64) (float64, error) {
	return func(x float64) (float64, error) {
		if x == 0 {
			return 0, sqlerr.New(sqlerr.InvalidArgumentForLog, "cannot take logarithm of zero")
		}
		if x < 0 {
			return 0, sqlerr.New(sqlerr.InvalidArgumentForLog, "cannot take logarithm of a negative number")
		}
		return f(x), nil
	}
}

func floatPow(x, y float64) (float64, error) {
	if x == 0 && y < 0 {
		return 0, sqlerr.New(sqlerr.InvalidArgumentForPower, "zero raised to a negative power is undefined")
	}
	if x < 0 && y != math.Trunc(y) && !math.IsInf(y, 0) {
		return 0, sqlerr.New(sqlerr.InvalidArgumentForPower, "a negative number raised to a non-integer power yields a complex result")
	}
	r := math.Pow(x, y)
	if math.IsInf(r, 0) && !math.IsInf(x, 0) && !math.IsInf(y, 0) {
		return 0, sqlerr.New(sqlerr.NumericValueOutOfRange, "value out of range: overflow")
	}
	if r == 0 && x != 0 && !math.IsInf(y, 0) && !math.IsInf(x, 0) {
		return 0, sqlerr.New(sqlerr.NumericValueOutOfRange, "value out of range: underflow")
	}
	return r, nil
}

// decRoundFunc rounds a numeric to an integer or to the scale given as the
// second argument (negative scales round left of the point).
func decRoundFunc(mode apd.Rounder, withScale bool) RowFunc {
	return func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		d := a[0].(*apd.Decimal)
		if d.Form != apd.Finite {
			return d, nil
		}
		scale := int64(0)
		if withScale {
			scale = a[1].(int64)
			scale = max(min(scale, 2000), -2000)
		}
		c := DecimalCtx
		c.Rounding = mode
		if mode == apd.RoundFloor || mode == apd.RoundCeiling {
			// NB: apd's Quantize drops every digit of |x| < 0.1 without
			// applying floor/ceiling; truncate, then step away from zero.
			c.Rounding = apd.RoundDown
		}
		r := new(apd.Decimal)
		if _, err := c.Quantize(r, d, int32(-scale)); err != nil {
			return nil, sqlerr.Wrap(sqlerr.NumericValueOutOfRange, err)
		}
		if (mode == apd.RoundFloor && d.Negative || mode == apd.RoundCeiling && !d.Negative) && r.Cmp(d) != 0 {
			step := apd.New(1, int32(-scale))
			if mode == apd.RoundFloor {
				step.Neg(step)
			}
			if _, err := c.Add(r, r, step); err != nil {
				return nil, sqlerr.Wrap(sqlerr.NumericValueOutOfRange, err)
			}
		}
		if scale < 0 {
			// Display scale is never negative: 1234.5 rounded to -2 is 1200.
			_, _ = c.Quantize(r, r, 0)
		}
		return normNegZero(r), nil
	}
}

// decCalc runs f in a context with prec significant digits, rounding the
// result half away from zero to rscale decimals.
func decCalc(prec int64, rscale int32, f func(c *apd.Context, r *apd.Decimal) error) (*apd.Decimal, error) {
	c := apd.BaseContext.WithPrecision(uint32(max(prec, 30)))
	c.MaxExponent, c.MinExponent = DecimalCtx.MaxExponent, DecimalCtx.MinExponent
	r := new(apd.Decimal)
	if err := f(c, r); err != nil {
		return nil, sqlerr.Wrap(sqlerr.NumericValueOutOfRange, err)
	}
	return normNegZero(RoundDecimal(r, rscale)), nil
}

// decDigitsBefore returns the number of decimal digits left of the point.
func decDigitsBefore(d *apd.Decimal) int64 {
	return max(int64(d.NumDigits())+int64(d.Exponent), 1)
}

func clampScale(s int64, ds ...*apd.Decimal) int32 {
	for _, d := range ds {
		s = max(s, int64(DecScale(d)))
	}
	return int32(min(max(s, 0), 1000))
}

func decSqrt(d *apd.Decimal) (types.Datum, error) {
	if d.Form == apd.NaN {
		return d, nil
	}
	if d.Negative && !d.IsZero() {
		return nil, errSqrtNeg()
	}
	if d.Form == apd.Infinite {
		return d, nil
	}
	w, _ := nbaseWeight(d)
	sweight := int64((w+1)*4/2 - 1)
	rscale := clampScale(minSigDigits-sweight, d)
	return decCalc(decDigitsBefore(d)+int64(rscale)+10, rscale, func(c *apd.Context, r *apd.Decimal) error {
		_, err := c.Sqrt(r, d)
		return err
	})
}

func decExp(d *apd.Decimal) (types.Datum, error) {
	if d.Form != apd.Finite {
		return d, nil
	}
	f, _ := d.Float64()
	val := max(min(f*0.434294481903252, 1000), -1000)
	rscale := clampScale(minSigDigits-int64(val), d)
	if val > 131072 {
		return nil, sqlerr.New(sqlerr.NumericValueOutOfRange, "value overflows numeric format")
	}
	return decCalc(int64(math.Max(val, 0))+int64(rscale)+10, rscale, func(c *apd.Context, r *apd.Decimal) error {
		_, err := c.Exp(r, d)
		return err
	})
}

// estimateLnDweight approximates the decimal weight of ln(d) as Postgres'
// estimate_ln_dweight does.
func estimateLnDweight(d *apd.Decimal) int64 {
	f, _ := d.Float64()
	if f >= 0.9 && f <= 1.1 {
		var x apd.Decimal
		_, _ = DecimalCtx.Sub(&x, d, apd.New(1, 0))
		if x.IsZero() {
			return 0
		}
		return int64(x.NumDigits()) + int64(x.Exponent) - 1
	}
	ln := math.Log(f)
	if math.IsInf(ln, 0) || f <= 0 {
		// Beyond float range: use the decimal exponent.
		e := float64(int64(d.NumDigits())+int64(d.Exponent)) * math.Ln10
		ln = e
	}
	return int64(math.Log10(math.Abs(ln)))
}

func checkLogArg(d *apd.Decimal) error {
	if d.IsZero() {
		return sqlerr.New(sqlerr.InvalidArgumentForLog, "cannot take logarithm of zero")
	}
	if d.Negative {
		return sqlerr.New(sqlerr.InvalidArgumentForLog, "cannot take logarithm of a negative number")
	}
	return nil
}

func decLn(d *apd.Decimal) (types.Datum, error) {
	if d.Form == apd.NaN {
		return d, nil
	}
	if err := checkLogArg(d); err != nil {
		return nil, err
	}
	if d.Form == apd.Infinite {
		return d, nil
	}
	rscale := clampScale(minSigDigits-estimateLnDweight(d), d)
	return decCalc(int64(rscale)+20, rscale, func(c *apd.Context, r *apd.Decimal) error {
		_, err := c.Ln(r, d)
		return err
	})
}

func decLog(base, d *apd.Decimal) (types.Datum, error) {
	if d.Form == apd.NaN || base.Form == apd.NaN {
		return &apd.Decimal{Form: apd.NaN}, nil
	}
	if err := checkLogArg(base); err != nil {
		return nil, err
	}
	if err := checkLogArg(d); err != nil {
		return nil, err
	}
	if base.Cmp(apd.New(1, 0)) == 0 {
		return nil, ErrDivByZero()
	}
	rscale := clampScale(minSigDigits-(estimateLnDweight(d)-estimateLnDweight(base)), base, d)
	return decCalc(int64(rscale)+30, rscale, func(c *apd.Context, r *apd.Decimal) error {
		var lb, ld apd.Decimal
		if _, err := c.Ln(&lb, base); err != nil {
			return err
		}
		if _, err := c.Ln(&ld, d); err != nil {
			return err
		}
		_, err := c.Quo(r, &ld, &lb)
		return err
	})
}

func decPow(b, e *apd.Decimal) (types.Datum, error) {
	if b.Form == apd.NaN || e.Form == apd.NaN {
		if b.Cmp(apd.New(1, 0)) == 0 || e.IsZero() {
			return apd.New(1, 0), nil
		}
		return &apd.Decimal{Form: apd.NaN}, nil
	}
	if b.IsZero() && e.Negative {
		return nil, sqlerr.New(sqlerr.InvalidArgumentForPower, "zero raised to a negative power is undefined")
	}
	var ei apd.Decimal
	_, _ = DecimalCtx.RoundToIntegralValue(&ei, e)
	isInt := ei.Cmp(e) == 0
	if b.Negative && !isInt {
		return nil, sqlerr.New(sqlerr.InvalidArgumentForPower, "a negative number raised to a non-integer power yields a complex result")
	}
	if isInt {
		if n, err := ei.Int64(); err == nil && n >= math.MinInt32 && n <= math.MaxInt32 {
			rscale := clampScale(minSigDigits, b)
			bf, _ := b.Float64()
			w := float64(n) * math.Log10(math.Abs(bf))
			if b.IsZero() {
				w = 0
			}
			if w > 131072 {
				return nil, sqlerr.New(sqlerr.NumericValueOutOfRange, "value overflows numeric format")
			}
			return decCalc(int64(math.Abs(w))+int64(rscale)+int64(b.NumDigits())+20, rscale, func(c *apd.Context, r *apd.Decimal) error {
				_, err := c.Pow(r, b, &ei)
				return err
			})
		}
	}
	bf, _ := b.Float64()
	ef, _ := e.Float64()
	val := ef * math.Log(bf) * 0.434294481903252
	if val > 131072 {
		return nil, sqlerr.New(sqlerr.NumericValueOutOfRange, "value overflows numeric format")
	}
	rscale := clampScale(minSigDigits-int64(val), b, e)
	return decCalc(int64(math.Max(val, 0))+int64(rscale)+20, rscale, func(c *apd.Context, r *apd.Decimal) error {
		_, err := c.Pow(r, b, e)
		return err
	})
}
