package expr

import (
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
		v := coldata.NewVec(types.Numeric, n)
		for range n {
			if rng.IntN(8) == 0 {
				v.Append(nil)
				continue
			}
			d, _, err := apd.NewFromString(vals[rng.IntN(len(vals))])
			if err != nil {
				t.Fatal(err)
			}
			v.Append(d)
		}
		return v
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
