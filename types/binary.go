package types

import (
	"encoding/binary"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cockroachdb/apd/v3"
	"github.com/sluice-db/sluice/sqlerr"
)

// Offsets between the Unix epoch and Postgres' 2000-01-01 epoch.
const (
	pgEpochDays   = 10957
	pgEpochMicros = pgEpochDays * MicrosPerDay
)

// Numeric binary sign words.
const (
	numericPos  = 0x0000
	numericNeg  = 0x4000
	numericNaN  = 0xC000
	numericPInf = 0xD000
	numericNInf = 0xF000
)

// AppendBinaryInt is AppendBinary of x, a value of t whose physical form
// is int64 (PhysInt), without boxing it as a Datum.
func AppendBinaryInt(buf []byte, t *T, x int64) []byte {
	switch t.Family {
	case IntFamily:
		switch t.Oid {
		case OidInt2:
			return binary.BigEndian.AppendUint16(buf, uint16(x))
		case OidInt4:
			return binary.BigEndian.AppendUint32(buf, uint32(x))
		}
		return binary.BigEndian.AppendUint64(buf, uint64(x))
	case OidFamily:
		return binary.BigEndian.AppendUint32(buf, uint32(x))
	case DateFamily:
		switch x {
		case PosInfinity:
			return binary.BigEndian.AppendUint32(buf, math.MaxInt32)
		case NegInfinity:
			return binary.BigEndian.AppendUint32(buf, 1<<31)
		}
		return binary.BigEndian.AppendUint32(buf, uint32(int32(x-pgEpochDays)))
	case TimeFamily:
		return binary.BigEndian.AppendUint64(buf, uint64(x))
	case TimestampFamily, TimestampTZFamily:
		if x != PosInfinity && x != NegInfinity {
			x -= pgEpochMicros
		}
		return binary.BigEndian.AppendUint64(buf, uint64(x))
	}
	return buf
}

// AppendBinary appends the Postgres binary send format of the non-NULL d.
func AppendBinary(buf []byte, t *T, d Datum) ([]byte, error) {
	if d == nil {
		return nil, sqlerr.Bug("AppendBinary of NULL")
	}
	switch t.Family {
	case BoolFamily:
		if d.(bool) {
			return append(buf, 1), nil
		}
		return append(buf, 0), nil
	case IntFamily, OidFamily, DateFamily, TimeFamily, TimestampFamily, TimestampTZFamily:
		return AppendBinaryInt(buf, t, d.(int64)), nil
	case FloatFamily:
		if t.Oid == OidFloat4 {
			return binary.BigEndian.AppendUint32(buf, math.Float32bits(float32(d.(float64)))), nil
		}
		return binary.BigEndian.AppendUint64(buf, math.Float64bits(d.(float64))), nil
	case NumericFamily:
		return appendNumericBinary(buf, d.(*apd.Decimal)), nil
	case StringFamily, BytesFamily, UUIDFamily, UnknownFamily:
		return append(buf, d.(string)...), nil
	case JSONFamily:
		if t.Oid == OidJSONB {
			buf = append(buf, 1)
		}
		return append(buf, d.(string)...), nil
	case IntervalFamily:
		iv := d.(IntervalValue)
		buf = binary.BigEndian.AppendUint64(buf, uint64(iv.Micros))
		buf = binary.BigEndian.AppendUint32(buf, uint32(iv.Days))
		return binary.BigEndian.AppendUint32(buf, uint32(iv.Months)), nil
	case ArrayFamily:
		a := d.(*Array)
		elem := t.Elem
		if elem == nil {
			elem = a.Elem
		}
		if len(a.Elems) == 0 {
			buf = binary.BigEndian.AppendUint32(buf, 0)
			buf = binary.BigEndian.AppendUint32(buf, 0)
			return binary.BigEndian.AppendUint32(buf, elem.Oid), nil
		}
		hasNull := uint32(0)
		for _, e := range a.Elems {
			if e == nil {
				hasNull = 1
			}
		}
		buf = binary.BigEndian.AppendUint32(buf, 1)
		buf = binary.BigEndian.AppendUint32(buf, hasNull)
		buf = binary.BigEndian.AppendUint32(buf, elem.Oid)
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(a.Elems)))
		lower := uint32(1)
		if t.IsVector() {
			lower = 0 // int2vector and oidvector subscripts start at 0
		}
		buf = binary.BigEndian.AppendUint32(buf, lower)
		for _, e := range a.Elems {
			if e == nil {
				buf = binary.BigEndian.AppendUint32(buf, math.MaxUint32)
				continue
			}
			at := len(buf)
			buf = append(buf, 0, 0, 0, 0)
			var err error
			if buf, err = AppendBinary(buf, elem, e); err != nil {
				return nil, err
			}
			binary.BigEndian.PutUint32(buf[at:], uint32(len(buf)-at-4))
		}
		return buf, nil
	case RecordFamily:
		return appendRecordBinary(buf, t, d.(*Array))
	}
	return nil, sqlerr.Unsupported("binary output for type %s is not supported", t)
}

func appendNumericBinary(buf []byte, d *apd.Decimal) []byte {
	put := func(ndigits, weight int, sign uint16, dscale int, digits []uint16) []byte {
		buf = binary.BigEndian.AppendUint16(buf, uint16(ndigits))
		buf = binary.BigEndian.AppendUint16(buf, uint16(int16(weight)))
		buf = binary.BigEndian.AppendUint16(buf, sign)
		buf = binary.BigEndian.AppendUint16(buf, uint16(dscale))
		for _, g := range digits {
			buf = binary.BigEndian.AppendUint16(buf, g)
		}
		return buf
	}
	switch d.Form {
	case apd.NaN, apd.NaNSignaling:
		return put(0, 0, numericNaN, 0, nil)
	case apd.Infinite:
		if d.Negative {
			return put(0, 0, numericNInf, 0, nil)
		}
		return put(0, 0, numericPInf, 0, nil)
	}
	dscale := 0
	if d.Exponent < 0 {
		dscale = int(-d.Exponent)
	}
	digits := d.Coeff.String()
	e := int(d.Exponent)
	var intPart, frac string
	if e >= 0 {
		intPart = digits + strings.Repeat("0", e)
	} else if len(digits)+e > 0 {
		intPart, frac = digits[:len(digits)+e], digits[len(digits)+e:]
	} else {
		frac = strings.Repeat("0", -e-len(digits)) + digits
	}
	if r := len(intPart) % 4; r != 0 {
		intPart = strings.Repeat("0", 4-r) + intPart
	}
	if r := len(frac) % 4; r != 0 {
		frac += strings.Repeat("0", 4-r)
	}
	all := intPart + frac
	groups := make([]uint16, 0, len(all)/4)
	for i := 0; i < len(all); i += 4 {
		v, _ := strconv.Atoi(all[i : i+4])
		groups = append(groups, uint16(v))
	}
	weight := len(intPart)/4 - 1
	for len(groups) > 0 && groups[0] == 0 {
		groups = groups[1:]
		weight--
	}
	for len(groups) > 0 && groups[len(groups)-1] == 0 {
		groups = groups[:len(groups)-1]
	}
	sign := uint16(numericPos)
	if len(groups) == 0 {
		weight = 0
	} else if d.Negative {
		sign = numericNeg
	}
	return put(len(groups), weight, sign, dscale, groups)
}

type binReader struct {
	b []byte
}

func errShort() error {
	return errBinary("insufficient data left in message")
}

func (r *binReader) n(k int) ([]byte, error) {
	if k < 0 || len(r.b) < k {
		return nil, errShort()
	}
	v := r.b[:k]
	r.b = r.b[k:]
	return v, nil
}

func (r *binReader) u16() (uint16, error) {
	v, err := r.n(2)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint16(v), nil
}

func (r *binReader) u32() (uint32, error) {
	v, err := r.n(4)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(v), nil
}

func (r *binReader) u64() (uint64, error) {
	v, err := r.n(8)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint64(v), nil
}

// ParseBinary decodes the Postgres binary receive format of a value of type t.
// Malformed input yields a 22P03 error.
func ParseBinary(t *T, b []byte) (Datum, error) {
	r := &binReader{b: b}
	d, err := parseBinary(t, r)
	if err != nil {
		return nil, err
	}
	if len(r.b) != 0 {
		return nil, errBinary("incorrect binary data format")
	}
	return d, nil
}

func parseBinary(t *T, r *binReader) (Datum, error) {
	switch t.Family {
	case BoolFamily:
		v, err := r.n(1)
		if err != nil {
			return nil, err
		}
		return v[0] != 0, nil
	case IntFamily:
		switch t.Oid {
		case OidInt2:
			v, err := r.u16()
			return int64(int16(v)), err
		case OidInt4:
			v, err := r.u32()
			return int64(int32(v)), err
		}
		v, err := r.u64()
		return int64(v), err
	case OidFamily:
		v, err := r.u32()
		return int64(v), err
	case FloatFamily:
		if t.Oid == OidFloat4 {
			v, err := r.u32()
			return float64(math.Float32frombits(v)), err
		}
		v, err := r.u64()
		return math.Float64frombits(v), err
	case NumericFamily:
		d, err := parseNumericBinary(r)
		if err != nil {
			return nil, err
		}
		if t.Width > 0 {
			return applyNumericTypmod(d, t)
		}
		return d, nil
	case StringFamily, UnknownFamily:
		s := string(r.b)
		r.b = nil
		if !utf8.ValidString(s) {
			return nil, sqlerr.New(sqlerr.CharacterNotInRepertoire, "invalid byte sequence for encoding \"UTF8\"")
		}
		return applyStringTypmod(s, t, false)
	case BytesFamily:
		s := string(r.b)
		r.b = nil
		return s, nil
	case UUIDFamily:
		v, err := r.n(16)
		if err != nil {
			return nil, err
		}
		return string(v), nil
	case JSONFamily:
		if t.Oid == OidJSONB {
			v, err := r.n(1)
			if err != nil {
				return nil, err
			}
			if v[0] != 1 {
				return nil, errBinary("unsupported jsonb version number %d", v[0])
			}
		}
		s := string(r.b)
		r.b = nil
		if t.Oid == OidJSONB {
			c, err := CanonicalJSONB(s)
			if err != nil {
				return nil, err
			}
			return c, nil
		}
		if err := ValidateJSON(s); err != nil {
			return nil, err
		}
		return s, nil
	case DateFamily:
		v, err := r.u32()
		if err != nil {
			return nil, err
		}
		switch int32(v) {
		case math.MaxInt32:
			return PosInfinity, nil
		case math.MinInt32:
			return NegInfinity, nil
		}
		days := int64(int32(v)) + pgEpochDays
		if days < minDateDays || days > maxDateDays {
			return nil, sqlerr.New(sqlerr.DatetimeFieldOverflow, "date out of range")
		}
		return days, nil
	case TimeFamily:
		v, err := r.u64()
		if err != nil {
			return nil, err
		}
		if int64(v) < 0 || int64(v) > MicrosPerDay {
			return nil, sqlerr.New(sqlerr.DatetimeFieldOverflow, "time out of range")
		}
		return int64(v), nil
	case TimestampFamily, TimestampTZFamily:
		u, err := r.u64()
		if err != nil {
			return nil, err
		}
		v := int64(u)
		if v == PosInfinity || v == NegInfinity {
			return v, nil
		}
		const minTS = (minDateDays - pgEpochDays) * MicrosPerDay
		const maxTS = (maxTSDays - pgEpochDays) * MicrosPerDay
		if v < minTS || v >= maxTS {
			return nil, sqlerr.New(sqlerr.DatetimeFieldOverflow, "timestamp out of range")
		}
		return v + pgEpochMicros, nil
	case IntervalFamily:
		us, err := r.u64()
		if err != nil {
			return nil, err
		}
		days, err := r.u32()
		if err != nil {
			return nil, err
		}
		months, err := r.u32()
		if err != nil {
			return nil, err
		}
		return IntervalValue{Months: int32(months), Days: int32(days), Micros: int64(us)}, nil
	case ArrayFamily:
		return parseArrayBinary(t, r)
	}
	return nil, sqlerr.Unsupported("binary input for type %s is not supported", t)
}

func parseNumericBinary(r *binReader) (*apd.Decimal, error) {
	var h [4]uint16
	for i := range h {
		v, err := r.u16()
		if err != nil {
			return nil, err
		}
		h[i] = v
	}
	ndigits, weight, sign, dscale := int(int16(h[0])), int(int16(h[1])), h[2], int(h[3])
	if ndigits < 0 || ndigits > 1000 {
		return nil, errBinary("invalid length in external \"numeric\" value")
	}
	switch sign {
	case numericNaN:
		return &apd.Decimal{Form: apd.NaN}, nil
	case numericPInf:
		return &apd.Decimal{Form: apd.Infinite}, nil
	case numericNInf:
		return &apd.Decimal{Form: apd.Infinite, Negative: true}, nil
	case numericPos, numericNeg:
	default:
		return nil, errBinary("invalid sign in external \"numeric\" value")
	}
	if dscale > 0x3FFF {
		return nil, errBinary("invalid scale in external \"numeric\" value")
	}
	var sb strings.Builder
	for i := 0; i < ndigits; i++ {
		g, err := r.u16()
		if err != nil {
			return nil, err
		}
		if g >= 10000 {
			return nil, errBinary("invalid digit in external \"numeric\" value")
		}
		s := strconv.Itoa(int(g))
		sb.WriteString(strings.Repeat("0", 4-len(s)))
		sb.WriteString(s)
	}
	if ndigits == 0 {
		d := apd.New(0, int32(-dscale))
		return d, nil
	}
	exp := 4 * (weight - ndigits + 1)
	d, _, err := apd.NewFromString(sb.String() + "E" + strconv.Itoa(exp))
	if err != nil {
		return nil, errBinary("invalid external \"numeric\" value")
	}
	d.Negative = sign == numericNeg
	// Truncate digits hidden by dscale, or pad to it, as numeric_recv does.
	ctx := apd.BaseContext.WithPrecision(uint32(ndigits*4 + dscale + 4*max(weight, 0) + 8))
	ctx.Rounding = apd.RoundDown
	if _, err := ctx.Quantize(d, d, int32(-dscale)); err != nil {
		return nil, errBinary("invalid external \"numeric\" value")
	}
	if d.Coeff.Sign() == 0 {
		d.Negative = false
	}
	return d, nil
}

func parseArrayBinary(t *T, r *binReader) (Datum, error) {
	ndim, err := r.u32()
	if err != nil {
		return nil, err
	}
	flags, err := r.u32()
	if err != nil {
		return nil, err
	}
	elemOid, err := r.u32()
	if err != nil {
		return nil, err
	}
	if int32(ndim) < 0 || ndim > 6 {
		return nil, errBinary("invalid number of dimensions: %d", int32(ndim))
	}
	if flags != 0 && flags != 1 {
		return nil, errBinary("invalid array flags")
	}
	elem := t.Elem
	if elem == nil || elemOid != elem.Oid {
		return nil, sqlerr.New(sqlerr.DatatypeMismatch, "wrong element type")
	}
	arr := &Array{Elem: elem, Elems: []Datum{}}
	if ndim == 0 {
		return arr, nil
	}
	if ndim > 1 {
		return nil, sqlerr.Unsupported("multidimensional arrays are not supported")
	}
	n, err := r.u32()
	if err != nil {
		return nil, err
	}
	if _, err := r.u32(); err != nil { // lower bound
		return nil, err
	}
	if int32(n) < 0 || int(n) > len(r.b)/4 {
		return nil, errShort()
	}
	arr.Elems = make([]Datum, 0, n)
	for i := uint32(0); i < n; i++ {
		l, err := r.u32()
		if err != nil {
			return nil, err
		}
		if int32(l) == -1 {
			arr.Elems = append(arr.Elems, nil)
			continue
		}
		eb, err := r.n(int(int32(l)))
		if err != nil {
			return nil, err
		}
		d, err := ParseBinary(elem, eb)
		if err != nil {
			return nil, err
		}
		arr.Elems = append(arr.Elems, d)
	}
	return arr, nil
}
