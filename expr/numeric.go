package expr

import (
	"github.com/cockroachdb/apd/v3"

	"github.com/sluice-db/sluice/sqlerr"
)

// DecimalCtx is the context for exact numeric arithmetic: enough precision
// that +, - and * are exact for any value Postgres can store.
var DecimalCtx = apd.Context{Precision: 2000, MaxExponent: 200000, MinExponent: -200000, Traps: apd.DefaultTraps &^ apd.Inexact &^ apd.Rounded}

// divisionScale returns the result scale Postgres picks for a / b
// (select_div_scale in numeric.c): at least 16 significant digits and no less
// than either input's scale.
func divisionScale(a, b *apd.Decimal) int32 {
	w1, f1 := nbaseWeight(a)
	w2, f2 := nbaseWeight(b)
	qweight := w1 - w2
	if f1 <= f2 {
		qweight--
	}
	rscale := 16 - qweight*4
	rscale = max(rscale, DecScale(a), DecScale(b), 0)
	return min(rscale, 1000)
}

// DecScale is the display scale (digits after the point) of d.
func DecScale(d *apd.Decimal) int32 {
	if d.Exponent < 0 {
		return -d.Exponent
	}
	return 0
}

// nbaseWeight returns the weight and value of the first non-zero base-10000
// digit of d, as Postgres' internal representation would have them.
func nbaseWeight(d *apd.Decimal) (int32, int32) {
	if d.Coeff.Sign() == 0 {
		return 0, 0
	}
	digits := d.Coeff.String() // decimal digits of |coefficient|
	// Position of the most significant digit relative to the point: the digit
	// at index 0 has decimal exponent e0.
	e0 := int32(len(digits)) - 1 + d.Exponent
	// Base-10000 group containing exponent e0: floor(e0 / 4).
	w := floorDiv(e0, 4)
	// Collect the digits of that group: exponents 4w+3 .. 4w.
	var first int32
	for e := 4*w + 3; e >= 4*w; e-- {
		idx := int(e0 - e)
		first *= 10
		if idx >= 0 && idx < len(digits) {
			first += int32(digits[idx] - '0')
		}
	}
	return w, first
}

func floorDiv(a, b int32) int32 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// DecimalDiv divides with Postgres' result scale; b == 0 is error 22012.
func DecimalDiv(a, b *apd.Decimal) (*apd.Decimal, error) {
	if b.IsZero() && b.Form == apd.Finite {
		return nil, ErrDivByZero()
	}
	if a.Form != apd.Finite || b.Form != apd.Finite {
		r := new(apd.Decimal)
		_, err := DecimalCtx.Quo(r, a, b)
		if err != nil {
			r.Form = apd.NaN
		}
		return r, nil
	}
	scale := divisionScale(a, b)
	c := DecimalCtx
	c.Precision = uint32(int32(len(a.Coeff.String())) + scale + 40 + max(0, a.Exponent) + int32(len(b.Coeff.String())))
	r := new(apd.Decimal)
	if _, err := c.Quo(r, a, b); err != nil {
		return nil, sqlerr.Wrap(sqlerr.NumericValueOutOfRange, err)
	}
	return RoundDecimal(r, scale), nil
}

// RoundDecimal rounds d half away from zero to scale digits after the point.
func RoundDecimal(d *apd.Decimal, scale int32) *apd.Decimal {
	if d.Form != apd.Finite {
		return d
	}
	c := DecimalCtx
	c.Rounding = apd.RoundHalfUp
	r := new(apd.Decimal)
	_, _ = c.Quantize(r, d, -scale)
	return r
}

// ErrDivByZero returns the Postgres division-by-zero error.
func ErrDivByZero() error { return sqlerr.New(sqlerr.DivisionByZero, "division by zero") }
