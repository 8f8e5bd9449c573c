package expr

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/apd/v3"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// TestNumericArithVec checks the vector kernels of numeric +, - and * row
// by row against apd, NULLs and special values included, and the vector
// cast of integers to numeric against CastDatum.
func TestNumericArithVec(t *testing.T) {
	vals := []string{"0", "-0.0", "1", "-1", "0.908", "123456789012345678901234567890.123", "-9.999e-20", "NaN", "Infinity", "-Infinity", "1e1000"}
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 400
	vec := func() *coldata.Vec {
		return numericVecOf(rng, n, func() *apd.Decimal {
			d, _, err := apd.NewFromString(vals[rng.IntN(len(vals))])
			if err != nil {
				t.Fatal(err)
			}
			return d
		})
	}
	ctx := &EvalCtx{Cfg: types.DefaultConfig()}
	for _, op := range []string{"+", "-", "*"} {
		a, b := vec(), vec()
		got, err := numericArithVec(op)(ctx, []*coldata.Vec{a, b}, n, types.Numeric)
		if err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		for i := range n {
			if a.IsNull(i) || b.IsNull(i) {
				if !got.IsNull(i) {
					t.Fatalf("%s row %d: %v, want NULL", op, i, got.Get(i))
				}
				continue
			}
			var want apd.Decimal
			if err := decimalArith(op, &want, a.Get(i).(*apd.Decimal), b.Get(i).(*apd.Decimal)); err != nil {
				t.Fatalf("%s %s %s: %v", a.Get(i), op, b.Get(i), err)
			}
			if got.Get(i).(*apd.Decimal).Text('g') != want.Text('g') {
				t.Fatalf("%s %s %s: %s, want %s", a.Get(i), op, b.Get(i), got.Get(i), &want)
			}
		}
	}
	huge, _, _ := apd.NewFromString("1e100000")
	h := coldata.NewVec(types.Numeric, 1)
	h.Append(huge)
	if _, err := numericArithVec("*")(ctx, []*coldata.Vec{h, h}, 1, types.Numeric); err == nil {
		t.Fatal("1e100000 * 1e100000: no error")
	} else if se, ok := sqlerr.As(err); !ok || se.Code != sqlerr.NumericValueOutOfRange {
		t.Fatalf("1e100000 * 1e100000: %v, want 22003", err)
	}
	ints := coldata.NewVec(types.Int8, 4)
	for _, x := range []types.Datum{int64(math.MinInt64), nil, int64(0), int64(math.MaxInt64)} {
		ints.Append(x)
	}
	got, err := CastVec(ctx, ints, types.Numeric, false)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		want, err := types.CastDatum(ints.Get(i), types.Int8, types.Numeric, false, ctx.Cfg)
		if ints.IsNull(i) {
			if !got.IsNull(i) {
				t.Fatalf("row %d: %v, want NULL", i, got.Get(i))
			}
			continue
		}
		if err != nil || got.Get(i).(*apd.Decimal).String() != want.(*apd.Decimal).String() {
			t.Fatalf("row %d: %v, want %v (%v)", i, got.Get(i), want, err)
		}
	}
}

// numericVecOf is n numerics made by next, an eighth of them NULL.
func numericVecOf(rng *rand.Rand, n int, next func() *apd.Decimal) *coldata.Vec {
	v := coldata.NewVec(types.Numeric, n)
	for range n {
		if rng.IntN(8) == 0 {
			v.Append(nil)
			continue
		}
		v.Append(next())
	}
	return v
}

// referenceMul is numeric * as apd computes it, with no fast path:
// DecimalCtx.Mul, and NaN for what has no value among the infinities.
func referenceMul(r, a, b *apd.Decimal) error {
	if _, err := DecimalCtx.Mul(r, a, b); err != nil {
		if a.Form == apd.Infinite || b.Form == apd.Infinite {
			r.Set(decimalNaN)
			return nil
		}
		return sqlerr.Wrap(sqlerr.NumericValueOutOfRange, err)
	}
	return nil
}

// sameDecimal reports whether a and b are one representation: value,
// sign (of zero too) and scale.
func sameDecimal(a, b *apd.Decimal) bool {
	return a.Form == b.Form && a.Negative == b.Negative && a.Exponent == b.Exponent && a.Coeff.Cmp(&b.Coeff) == 0
}

// mulTestConsts are constants at the edges of numeric *'s fast paths: zero
// of either sign and of a scale, coefficients at and past 64 bits,
// exponents at and past smallExponentLimit, near the context's limits, and
// the special values.
var mulTestConsts = []string{"0.908", "-0.908", "0", "-0", "0.000", "1", "-1", "18446744073709551615", "18446744073709551616",
	"-9223372036854775808", "1e-20", "123.456789", "-1e40000", "1e40001", "1e-40000", "1e-40001", "9.99e99990",
	"1e-99990", "1e60000", "-1e-60000", "NaN", "Infinity", "-Infinity", "123456789012345678901234567890.123"}

// randomMulDecimal is a constant of mulTestConsts or a random one: a
// coefficient of up to 64 bits (often a few digits) at a scale of -30..30.
func randomMulDecimal(t *testing.T, rng *rand.Rand) *apd.Decimal {
	if rng.IntN(3) == 0 {
		d, _, err := apd.NewFromString(mulTestConsts[rng.IntN(len(mulTestConsts))])
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	d := new(apd.Decimal)
	d.Coeff.SetUint64(rng.Uint64() >> rng.IntN(64))
	d.Exponent = int32(rng.IntN(61) - 30)
	d.Negative = rng.IntN(2) == 0
	return d
}

// randomMulInts are n integers of type typ: edges of int64 and random
// values of every magnitude, an eighth NULL.
func randomMulInts(rng *rand.Rand, typ *types.T, n int) *coldata.Vec {
	edges := []int64{0, 1, -1, math.MaxInt64, math.MinInt64, math.MaxInt32, math.MinInt32}
	v := coldata.NewVec(typ, n)
	for range n {
		var x int64
		switch rng.IntN(8) {
		case 0:
			v.Append(nil)
			continue
		case 1:
			x = edges[rng.IntN(len(edges))]
		default:
			x = int64(rng.Uint64()) >> rng.IntN(64)
		}
		switch typ.Oid {
		case types.OidInt2:
			x = int64(int16(x))
		case types.OidInt4:
			x = int64(int32(x))
		}
		v.Append(x)
	}
	return v
}

// TestNumericMulConstIntsDifferential evaluates constant * integer column
// (and the other way round) through Call.Eval, which takes the constant
// and the integers as they are, against apd's product of the constant and
// each integer widened to numeric, row by row: the same decimal (sign and
// scale too), the same NULLs, and the same out-of-range error.
func TestNumericMulConstIntsDifferential(t *testing.T) {
	reg := NewRegistry()
	ov, _, _, err := reg.Resolve("*", []*types.T{types.Numeric, types.Numeric})
	if err != nil || ov.ConstInts == nil {
		t.Fatalf("numeric * numeric: %v, ConstInts %v", err, ov.ConstInts != nil)
	}
	// A cast with a typmod rounds and checks its range: not a widening.
	typmod := &Cast{Arg: &ColRef{Idx: 0, Typ: types.Int8, Name: "x"}, To: &types.T{Family: types.NumericFamily, Oid: types.OidNumeric, Width: 10, Scale: 2}}
	if _, _, _, ok := constAndInts([]Expr{&Const{Typ: types.Numeric}, typmod}); ok {
		t.Fatalf("%s taken as integers widened to numeric", typmod)
	}
	rng := rand.New(rand.NewPCG(7, 11))
	ctx := &EvalCtx{Cfg: types.DefaultConfig()}
	const n = 300
	for trial := range 400 {
		typ := []*types.T{types.Int2, types.Int4, types.Int8}[trial%3]
		ints := randomMulInts(rng, typ, n)
		var k *apd.Decimal
		if trial%41 != 0 {
			k = randomMulDecimal(t, rng)
		}
		constFirst := trial%2 == 0
		kExpr := &Const{Typ: types.Numeric}
		if k != nil {
			kExpr.Val = k
		}
		col := &Cast{Arg: &ColRef{Idx: 0, Typ: typ, Name: "x"}, To: types.Numeric}
		call := &Call{Fn: ov, Args: []Expr{kExpr, col}, Typ: types.Numeric}
		if !constFirst {
			call.Args = []Expr{col, kExpr}
		}
		if _, _, _, ok := constAndInts(call.Args); !ok {
			t.Fatalf("%s: not taken as a constant and integers", call)
		}
		name := fmt.Sprintf("trial %d: %s with k = %v", trial, call, k)
		got, gotErr := call.Eval(ctx, &coldata.Chunk{Cols: []*coldata.Vec{ints}, Len: n})
		var wantErr error
		for i := range n {
			if k == nil || ints.IsNull(i) {
				if gotErr == nil && !got.IsNull(i) {
					t.Fatalf("%s row %d: %v, want NULL", name, i, got.Get(i))
				}
				continue
			}
			x := new(apd.Decimal).SetInt64(ints.Get(i).(int64))
			a, b := k, x
			if !constFirst {
				a, b = x, k
			}
			var want apd.Decimal
			if err := referenceMul(&want, a, b); err != nil {
				wantErr = err
				break
			}
			if gotErr == nil && !sameDecimal(&got.Decs[i], &want) {
				t.Fatalf("%s row %d: %s * %s = %s, want %s", name, i, a, b, &got.Decs[i], &want)
			}
		}
		if (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("%s: error %v, want %v", name, gotErr, wantErr)
		}
		if gotErr != nil {
			if se, ok := sqlerr.As(gotErr); !ok || se.Code != sqlerr.NumericValueOutOfRange {
				t.Fatalf("%s: %v, want 22003", name, gotErr)
			}
		}
	}
}

// TestNumericMulVecDifferential checks numeric * numeric over two columns
// against apd's product row by row: the kernel multiplies 64-bit
// coefficients itself and leaves the rest to apd.
func TestNumericMulVecDifferential(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	ctx := &EvalCtx{Cfg: types.DefaultConfig()}
	const n = 100
	vec := func() *coldata.Vec {
		return numericVecOf(rng, n, func() *apd.Decimal { return randomMulDecimal(t, rng) })
	}
	overflows, compared := 0, 0
	for range 300 {
		a, b := vec(), vec()
		got, err := numericArithVec("*")(ctx, []*coldata.Vec{a, b}, n, types.Numeric)
		want := make([]apd.Decimal, n)
		var wantErr error
		for i := range n {
			if !a.IsNull(i) && !b.IsNull(i) {
				if wantErr = referenceMul(&want[i], &a.Decs[i], &b.Decs[i]); wantErr != nil {
					break
				}
			}
		}
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("error %v, want %v", err, wantErr)
		}
		if err != nil {
			overflows++
			continue
		}
		compared++
		for i := range n {
			switch {
			case a.IsNull(i) || b.IsNull(i):
				if !got.IsNull(i) {
					t.Fatalf("row %d: %v, want NULL", i, got.Get(i))
				}
			case !sameDecimal(&got.Decs[i], &want[i]):
				t.Fatalf("%s * %s = %s, want %s", &a.Decs[i], &b.Decs[i], &got.Decs[i], &want[i])
			}
		}
	}
	if overflows == 0 || compared < 50 {
		t.Fatalf("%d columns' products out of range, %d compared: the test's values miss the limits or the fast path", overflows, compared)
	}
}
