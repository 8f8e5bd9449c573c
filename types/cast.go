package types

import (
	"math"
	"strconv"
	"strings"

	"github.com/cockroachdb/apd/v3"
	"github.com/sluice-db/sluice/sqlerr"
)

// CastDatum converts d from type from to type to with Postgres semantics.
// explicit is true for CAST/:: (varchar(n) then truncates instead of erroring)
// and false for implicit and assignment coercions.
func CastDatum(d Datum, from, to *T, explicit bool, cfg *Config) (Datum, error) {
	if d == nil {
		return nil, nil
	}
	if cfg == nil {
		cfg = DefaultConfig()
	}
	if from.Family == ArrayFamily && to.Family == ArrayFamily {
		a := d.(*Array)
		out := &Array{Elem: to.Elem, Elems: make([]Datum, len(a.Elems))}
		fe := from.Elem
		if fe == nil {
			fe = a.Elem
		}
		for i, e := range a.Elems {
			v, err := CastDatum(e, fe, to.Elem, explicit, cfg)
			if err != nil {
				return nil, err
			}
			out.Elems[i] = v
		}
		return out, nil
	}
	switch to.Family {
	case StringFamily, UnknownFamily:
		var s string
		switch {
		case from.Family == BoolFamily:
			s = "false"
			if d.(bool) {
				s = "true"
			}
		case from.Oid == OidBPChar && to.Oid != OidBPChar:
			s = strings.TrimRight(d.(string), " ")
		case from.Family == StringFamily || from.Family == UnknownFamily:
			s = d.(string)
		case from.Family == IntFamily && to.Oid == OidChar:
			v := d.(int64)
			if v < -128 || v > 127 {
				return nil, sqlerr.New(sqlerr.NumericValueOutOfRange, "\"char\" out of range")
			}
			if v == 0 {
				return "", nil
			}
			return string([]byte{byte(v)}), nil
		default:
			s = string(AppendText(nil, from, d, cfg))
		}
		if to.Family == UnknownFamily {
			return s, nil
		}
		return applyStringTypmod(s, to, explicit)
	}
	if from.Family == StringFamily || from.Family == UnknownFamily {
		s := d.(string)
		if from.Oid == OidChar && to.Family == IntFamily {
			if s == "" {
				return int64(0), nil
			}
			return int64(int8(s[0])), nil
		}
		return ParseText(to, s, cfg)
	}
	if from.Oid == to.Oid {
		return applyTypmod(d, to, explicit)
	}
	switch from.Family {
	case BoolFamily:
		if to.Family == IntFamily {
			if d.(bool) {
				return int64(1), nil
			}
			return int64(0), nil
		}
	case IntFamily:
		v := d.(int64)
		switch to.Family {
		case IntFamily:
			return checkIntRange(v, to)
		case FloatFamily:
			if to.Oid == OidFloat4 {
				return float64(float32(v)), nil
			}
			return float64(v), nil
		case NumericFamily:
			return applyTypmod(apd.New(v, 0), to, explicit)
		case BoolFamily:
			return v != 0, nil
		case OidFamily:
			if from.Oid == OidInt8 {
				if v < 0 || v > math.MaxUint32 {
					return nil, sqlerr.New(sqlerr.NumericValueOutOfRange, "OID out of range")
				}
				return v, nil
			}
			return int64(uint32(int32(v))), nil
		}
	case OidFamily:
		v := d.(int64)
		switch to.Family {
		case OidFamily:
			return v, nil
		case IntFamily:
			if to.Oid == OidInt8 {
				return v, nil
			}
			return checkIntRange(int64(int32(uint32(v))), to)
		}
	case FloatFamily:
		f := d.(float64)
		switch to.Family {
		case IntFamily:
			r := math.RoundToEven(f)
			lo, hi := intBounds(to)
			if math.IsNaN(r) || r < float64(lo) || r >= -float64(lo) || (to.Oid != OidInt8 && r > float64(hi)) {
				return nil, errIntRange(to)
			}
			return int64(r), nil
		case FloatFamily:
			if to.Oid == OidFloat4 {
				f4 := float32(f)
				if math.IsInf(float64(f4), 0) && !math.IsInf(f, 0) {
					return nil, sqlerr.New(sqlerr.NumericValueOutOfRange, "value out of range: overflow")
				}
				if f4 == 0 && f != 0 {
					return nil, sqlerr.New(sqlerr.NumericValueOutOfRange, "value out of range: underflow")
				}
				return float64(f4), nil
			}
			return f, nil
		case NumericFamily:
			var n *apd.Decimal
			switch {
			case math.IsNaN(f):
				n = &apd.Decimal{Form: apd.NaN}
			case math.IsInf(f, 0):
				n = &apd.Decimal{Form: apd.Infinite, Negative: f < 0}
			default:
				digits := 15
				if from.Oid == OidFloat4 {
					digits = 6
				}
				var err error
				if n, err = parseDecimal(strconv.FormatFloat(f, 'g', digits, 64)); err != nil {
					return nil, err
				}
			}
			return applyTypmod(n, to, explicit)
		}
	case NumericFamily:
		n := d.(*apd.Decimal)
		switch to.Family {
		case IntFamily:
			return numericToInt(n, to)
		case FloatFamily:
			var f float64
			switch n.Form {
			case apd.NaN, apd.NaNSignaling:
				f = math.NaN()
			case apd.Infinite:
				f = math.Inf(1)
				if n.Negative {
					f = math.Inf(-1)
				}
			default:
				bits := 64
				if to.Oid == OidFloat4 {
					bits = 32
				}
				var err error
				f, err = strconv.ParseFloat(n.Text('e'), bits)
				if err != nil {
					name := "double precision"
					if bits == 32 {
						name = "real"
					}
					return nil, errFloatOutOfRange(n.Text('f'), name)
				}
			}
			return f, nil
		}
	case DateFamily:
		days := d.(int64)
		switch to.Family {
		case TimestampFamily:
			if days == PosInfinity || days == NegInfinity {
				return days, nil
			}
			return days * MicrosPerDay, nil
		case TimestampTZFamily:
			if days == PosInfinity || days == NegInfinity {
				return days, nil
			}
			return localToUTC(days, 0, cfg.loc()), nil
		}
	case TimestampFamily, TimestampTZFamily:
		us := d.(int64)
		inf := us == PosInfinity || us == NegInfinity
		local := us
		if from.Family == TimestampTZFamily && !inf {
			local = us + zoneOffset(us, cfg.loc())*MicrosPerSecond
		}
		switch to.Family {
		case TimestampFamily:
			return local, nil
		case TimestampTZFamily:
			if inf {
				return us, nil
			}
			days := floorDiv(us, MicrosPerDay)
			return localToUTC(days, us-days*MicrosPerDay, cfg.loc()), nil
		case DateFamily:
			if inf {
				return us, nil
			}
			return floorDiv(local, MicrosPerDay), nil
		case TimeFamily:
			if inf {
				return nil, sqlerr.New(sqlerr.DatetimeFieldOverflow, "timestamp out of range")
			}
			return local - floorDiv(local, MicrosPerDay)*MicrosPerDay, nil
		}
	case TimeFamily:
		if to.Family == IntervalFamily {
			return IntervalValue{Micros: d.(int64)}, nil
		}
	case IntervalFamily:
		if to.Family == TimeFamily {
			us := d.(IntervalValue).Micros % MicrosPerDay
			if us < 0 {
				us += MicrosPerDay
			}
			return us, nil
		}
	case JSONFamily:
		s := d.(string)
		switch {
		case to.Oid == OidJSONB:
			v, err := CanonicalJSONB(s)
			if err != nil {
				return nil, err
			}
			return v, nil
		case to.Oid == OidJSON:
			return s, nil
		case from.Oid == OidJSONB:
			return castJSONBScalar(s, to, explicit, cfg)
		}
	}
	if to.Family == from.Family {
		return applyTypmod(d, to, explicit)
	}
	return nil, sqlerr.New(sqlerr.CannotCoerce, "cannot cast type %s to %s", from, to)
}

func castJSONBScalar(s string, to *T, explicit bool, cfg *Config) (Datum, error) {
	v, err := ParseJSON(s)
	if err != nil {
		return nil, err
	}
	kind := [...]string{"null", "string", "numeric", "boolean", "array", "object"}[v.Kind]
	switch {
	case v.Kind == JSONBool && to.Family == BoolFamily:
		return v.Bool, nil
	case v.Kind == JSONNumber && (to.Family == IntFamily || to.Family == FloatFamily || to.Family == NumericFamily):
		return CastDatum(v.Num, Numeric, to, explicit, cfg)
	}
	return nil, sqlerr.New(sqlerr.InvalidParameterValue, "cannot cast jsonb %s to type %s", kind, to)
}

func checkIntRange(v int64, t *T) (Datum, error) {
	lo, hi := intBounds(t)
	if v < lo || v > hi {
		return nil, errIntRange(t)
	}
	return v, nil
}

func numericToInt(n *apd.Decimal, t *T) (Datum, error) {
	name := map[uint32]string{OidInt2: "smallint", OidInt4: "integer", OidInt8: "bigint"}[t.Oid]
	switch n.Form {
	case apd.NaN, apd.NaNSignaling:
		return nil, sqlerr.New(sqlerr.FeatureNotSupported, "cannot convert NaN to %s", name)
	case apd.Infinite:
		return nil, sqlerr.New(sqlerr.FeatureNotSupported, "cannot convert infinity to %s", name)
	}
	var r apd.Decimal
	ctx := apd.BaseContext.WithPrecision(uint32(max(n.NumDigits()+2, 25)))
	ctx.Rounding = apd.RoundHalfUp
	if _, err := ctx.Quantize(&r, n, 0); err != nil {
		return nil, errIntRange(t)
	}
	v, err := r.Int64()
	if err != nil {
		return nil, errIntRange(t)
	}
	return checkIntRange(v, t)
}

// applyTypmod applies to's length or precision/scale to a value already of to's type.
func applyTypmod(d Datum, to *T, explicit bool) (Datum, error) {
	switch to.Family {
	case NumericFamily:
		if to.Width > 0 {
			return applyNumericTypmod(d.(*apd.Decimal), to)
		}
	case StringFamily:
		return applyStringTypmod(d.(string), to, explicit)
	}
	return d, nil
}

// applyNumericTypmod rounds n to numeric(p,s) (half away from zero) and
// checks that it fits.
func applyNumericTypmod(n *apd.Decimal, t *T) (*apd.Decimal, error) {
	prec, scale := int64(t.Width), int64(t.Scale)
	switch n.Form {
	case apd.NaN, apd.NaNSignaling:
		return n, nil
	case apd.Infinite:
		return nil, sqlerr.New(sqlerr.NumericValueOutOfRange, "numeric field overflow").
			WithDetail("A field with precision %d, scale %d cannot hold an infinite value.", prec, scale)
	}
	var r apd.Decimal
	ctx := apd.BaseContext.WithPrecision(uint32(max(n.NumDigits()+int64(max(n.Exponent, 0))+scale+2, 25)))
	ctx.Rounding = apd.RoundHalfUp
	if _, err := ctx.Quantize(&r, n, int32(-scale)); err != nil {
		return nil, sqlerr.New(sqlerr.NumericValueOutOfRange, "numeric field overflow")
	}
	if r.Coeff.Sign() == 0 {
		r.Negative = false
	}
	maxDigits := prec - scale
	intDigits := r.NumDigits() + int64(r.Exponent)
	if r.Coeff.Sign() != 0 && intDigits > maxDigits {
		e := sqlerr.New(sqlerr.NumericValueOutOfRange, "numeric field overflow")
		if maxDigits != 0 {
			return nil, e.WithDetail("A field with precision %d, scale %d must round to an absolute value less than 10^%d.", prec, scale, maxDigits)
		}
		return nil, e.WithDetail("A field with precision %d, scale %d must round to an absolute value less than 1.", prec, scale)
	}
	return &r, nil
}

type castCtx uint8

const (
	castNone castCtx = iota
	castExplicit
	castAssign
	castImplicit
)

// CanCast reports whether Postgres can cast from → to implicitly (pg_cast
// context 'i') and explicitly (any context: 'i', 'a' or 'e', or an I/O
// conversion cast).
func CanCast(from, to *T) (implicit, explicit bool) {
	c := castContext(from, to)
	return c == castImplicit, c != castNone
}

func isStringType(t *T) bool { return t.Family == StringFamily }

func castContext(from, to *T) castCtx {
	if from.Oid == to.Oid && from.Family != ArrayFamily {
		return castImplicit
	}
	if from.Family == UnknownFamily {
		return castImplicit
	}
	if from.Family == ArrayFamily && to.Family == ArrayFamily {
		if from.Elem == nil || to.Elem == nil {
			return castNone
		}
		return castContext(from.Elem, to.Elem)
	}
	if isStringType(to) {
		if isStringType(from) {
			if from.Oid == OidChar && to.Oid != OidText {
				return castAssign
			}
			if to.Oid == OidChar {
				return castAssign
			}
			return castImplicit
		}
		if from.Family == IntFamily && to.Oid == OidChar {
			return castExplicit
		}
		return castAssign
	}
	if isStringType(from) {
		if from.Oid == OidText && to.Oid == OidRegclass {
			return castImplicit
		}
		if from.Oid == OidChar && to.Oid == OidInt4 {
			return castExplicit
		}
		return castExplicit
	}
	key := [2]uint32{from.Oid, to.Oid}
	if c, ok := pgCast[key]; ok {
		return c
	}
	if from.Family == OidFamily && to.Family == OidFamily {
		return castImplicit
	}
	if to.Family == OidFamily && from.Family == IntFamily {
		return castImplicit
	}
	if from.Family == OidFamily && (to.Oid == OidInt4 || to.Oid == OidInt8) {
		return castAssign
	}
	return castNone
}

var pgCast = func() map[[2]uint32]castCtx {
	m := map[[2]uint32]castCtx{}
	set := func(c castCtx, from uint32, tos ...uint32) {
		for _, to := range tos {
			m[[2]uint32{from, to}] = c
		}
	}
	set(castImplicit, OidInt2, OidInt4, OidInt8, OidFloat4, OidFloat8, OidNumeric)
	set(castImplicit, OidInt4, OidInt8, OidFloat4, OidFloat8, OidNumeric)
	set(castAssign, OidInt4, OidInt2)
	set(castExplicit, OidInt4, OidBool)
	set(castImplicit, OidInt8, OidFloat4, OidFloat8, OidNumeric)
	set(castAssign, OidInt8, OidInt2, OidInt4)
	set(castAssign, OidFloat4, OidInt2, OidInt4, OidInt8, OidNumeric)
	set(castImplicit, OidFloat4, OidFloat8)
	set(castAssign, OidFloat8, OidInt2, OidInt4, OidInt8, OidFloat4, OidNumeric)
	set(castAssign, OidNumeric, OidInt2, OidInt4, OidInt8)
	set(castImplicit, OidNumeric, OidFloat4, OidFloat8)
	set(castExplicit, OidBool, OidInt4)
	set(castImplicit, OidDate, OidTimestamp, OidTimestampTZ)
	set(castAssign, OidTimestamp, OidDate, OidTime)
	set(castImplicit, OidTimestamp, OidTimestampTZ)
	set(castAssign, OidTimestampTZ, OidDate, OidTime, OidTimestamp)
	set(castImplicit, OidTime, OidInterval)
	set(castAssign, OidInterval, OidTime)
	set(castAssign, OidJSON, OidJSONB)
	set(castAssign, OidJSONB, OidJSON)
	set(castExplicit, OidJSONB, OidBool, OidInt2, OidInt4, OidInt8, OidFloat4, OidFloat8, OidNumeric)
	return m
}()
