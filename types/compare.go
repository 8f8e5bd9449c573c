package types

import (
	"bytes"
	"encoding/binary"
	"math"
	"strconv"
	"strings"

	"github.com/cockroachdb/apd/v3"
)

// Compare orders two non-NULL values of type t as Postgres does (C collation
// for text): it returns -1, 0 or +1.
func Compare(t *T, a, b Datum) int {
	switch t.Family {
	case BoolFamily:
		return compareBool(a.(bool), b.(bool))
	case IntFamily, OidFamily, DateFamily, TimeFamily, TimestampFamily, TimestampTZFamily:
		return cmpInt64(a.(int64), b.(int64))
	case FloatFamily:
		return compareFloat(a.(float64), b.(float64))
	case NumericFamily:
		return compareDecimal(a.(*apd.Decimal), b.(*apd.Decimal))
	case StringFamily:
		x, y := a.(string), b.(string)
		if t.Oid == OidBPChar {
			x, y = strings.TrimRight(x, " "), strings.TrimRight(y, " ")
		}
		return strings.Compare(x, y)
	case BytesFamily, UUIDFamily:
		return strings.Compare(a.(string), b.(string))
	case JSONFamily:
		if t.Oid == OidJSONB {
			va, errA := ParseJSON(a.(string))
			vb, errB := ParseJSON(b.(string))
			if errA == nil && errB == nil {
				return compareJSON(va, vb)
			}
		}
		return strings.Compare(a.(string), b.(string))
	case IntervalFamily:
		da, ra := intervalKey(a.(IntervalValue))
		db, rb := intervalKey(b.(IntervalValue))
		if c := cmpInt64(da, db); c != 0 {
			return c
		}
		return cmpInt64(ra, rb)
	case ArrayFamily:
		return compareArray(t, a.(*Array), b.(*Array))
	case RecordFamily:
		return compareRecord(t, a.(*Array), b.(*Array))
	}
	if x, ok := a.(string); ok {
		if y, ok := b.(string); ok {
			return strings.Compare(x, y)
		}
	}
	return bytes.Compare(AppendKey(nil, t, a), AppendKey(nil, t, b))
}

func cmpInt64(a, b int64) int {
	if a < b {
		return -1
	}
	if a > b {
		return 1
	}
	return 0
}

func compareBool(a, b bool) int {
	if a == b {
		return 0
	}
	if !a {
		return -1
	}
	return 1
}

// compareFloat orders floats as Postgres does: NaN equals NaN and is larger
// than everything else; -0 equals 0.
func compareFloat(a, b float64) int {
	an, bn := math.IsNaN(a), math.IsNaN(b)
	switch {
	case an && bn:
		return 0
	case an:
		return 1
	case bn:
		return -1
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func decimalClass(d *apd.Decimal) int {
	switch d.Form {
	case apd.NaN, apd.NaNSignaling:
		return 6
	case apd.Infinite:
		if d.Negative {
			return 1
		}
		return 5
	}
	if d.Coeff.Sign() == 0 {
		return 3
	}
	if d.Negative {
		return 2
	}
	return 4
}

// SameDecimalIdentity reports whether a and b have the same identity: the
// same key (class, and value when finite and non-zero) and exponent, as
// their key and identity suffix bytes would tell.
func SameDecimalIdentity(a, b *apd.Decimal) bool {
	ca := decimalClass(a)
	if ca != decimalClass(b) || a.Exponent != b.Exponent {
		return false
	}
	return ca != 2 && ca != 4 || a.Coeff.Cmp(&b.Coeff) == 0
}

// DecimalIdentityHash returns a hash of d's identity: decimals of the same
// identity (SameDecimalIdentity) hash alike. A coefficient past 64 bits
// is hashed by its length only: such values are rare, and equal hashes
// are compared.
func DecimalIdentityHash(d *apd.Decimal) uint64 {
	c := decimalClass(d)
	h := uint64(c)<<32 | uint64(uint32(d.Exponent))
	if c != 2 && c != 4 {
		return h
	}
	if d.Coeff.IsUint64() {
		return h*0x9e3779b97f4a7c15 ^ d.Coeff.Uint64()
	}
	return h*0x9e3779b97f4a7c15 ^ uint64(d.Coeff.BitLen())<<48
}

// compareDecimal orders numerics as Postgres does: -Infinity < finite <
// Infinity < NaN, NaN equal to NaN.
func compareDecimal(a, b *apd.Decimal) int {
	ca, cb := decimalClass(a), decimalClass(b)
	if ca != cb {
		return cmpInt(ca, cb)
	}
	if ca == 2 || ca == 4 {
		return a.Cmp(b)
	}
	return 0
}

func compareArray(t *T, a, b *Array) int {
	elem := t.Elem
	if elem == nil {
		elem = a.Elem
	}
	n := min(len(a.Elems), len(b.Elems))
	for i := 0; i < n; i++ {
		x, y := a.Elems[i], b.Elems[i]
		switch {
		case x == nil && y == nil:
			continue
		case x == nil:
			return 1
		case y == nil:
			return -1
		}
		if c := Compare(elem, x, y); c != 0 {
			return c
		}
	}
	return cmpInt(len(a.Elems), len(b.Elems))
}

// intervalKey returns the interval's span as (days, µs within the day) with
// months counted as 30 days, as Postgres' interval_cmp does.
func intervalKey(iv IntervalValue) (int64, int64) {
	days := int64(iv.Months)*30 + int64(iv.Days) + floorDiv(iv.Micros, MicrosPerDay)
	rem := iv.Micros - floorDiv(iv.Micros, MicrosPerDay)*MicrosPerDay
	return days, rem
}

// Key markers. A NULL sorts before every value. KeyNotNull leads the key
// of every other value: an integer-like value's is it and the value's 8
// bytes, big-endian with the sign bit flipped (DecodeKeyInt).
const (
	keyNull    = 0x00
	KeyNotNull = 0x01
)

// AppendKey appends an order-preserving, self-delimiting encoding of d (nil is
// NULL) to buf. Values equal under Compare encode identically and bytewise
// order of encodings follows Compare, with NULL first.
func AppendKey(buf []byte, t *T, d Datum) []byte {
	if d == nil {
		return append(buf, keyNull)
	}
	buf = append(buf, KeyNotNull)
	return appendKeyValue(buf, t, d)
}

func appendKeyValue(buf []byte, t *T, d Datum) []byte {
	switch t.Family {
	case BoolFamily:
		if d.(bool) {
			return append(buf, 1)
		}
		return append(buf, 0)
	case IntFamily, OidFamily, DateFamily, TimeFamily, TimestampFamily, TimestampTZFamily:
		return appendUint64(buf, uint64(d.(int64))^(1<<63))
	case FloatFamily:
		return appendFloatKey(buf, d.(float64))
	case NumericFamily:
		return appendDecimalKey(buf, d.(*apd.Decimal))
	case StringFamily:
		s := d.(string)
		if t.Oid == OidBPChar {
			s = strings.TrimRight(s, " ")
		}
		return appendEscapedKey(buf, s)
	case UUIDFamily:
		if s := d.(string); len(s) == 16 {
			return append(buf, s...)
		}
		return appendEscapedKey(buf, d.(string))
	case JSONFamily:
		if t.Oid == OidJSONB {
			if v, err := ParseJSON(d.(string)); err == nil {
				return appendJSONKey(buf, v)
			}
		}
		return appendEscapedKey(buf, d.(string))
	case IntervalFamily:
		days, rem := intervalKey(d.(IntervalValue))
		buf = appendUint64(buf, uint64(days)^(1<<63))
		return appendUint64(buf, uint64(rem))
	case ArrayFamily:
		a := d.(*Array)
		elem := t.Elem
		if elem == nil {
			elem = a.Elem
		}
		for _, e := range a.Elems {
			if e == nil {
				buf = append(buf, 0x03)
				continue
			}
			buf = append(buf, 0x02)
			buf = appendKeyValue(buf, elem, e)
		}
		return append(buf, 0x01)
	case RecordFamily:
		return appendRecordKey(buf, t, d.(*Array))
	}
	if s, ok := d.(string); ok {
		return appendEscapedKey(buf, s)
	}
	return buf
}

func appendUint64(buf []byte, v uint64) []byte {
	return append(buf, byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32), byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

func appendFloatKey(buf []byte, f float64) []byte {
	return appendUint64(buf, FloatKeyBits(f))
}

// FloatKeyBits returns the 8 bytes AppendKey writes for a non-NULL float, as
// an integer: floats order as these do unsigned (-0 equal to 0, every NaN
// equal and above +Infinity, as in PostgreSQL).
func FloatKeyBits(f float64) uint64 {
	var bits uint64
	switch {
	case math.IsNaN(f):
		bits = 0x7FF8000000000000
	case f == 0:
		bits = 0
	default:
		bits = math.Float64bits(f)
	}
	if bits&(1<<63) != 0 {
		return ^bits
	}
	return bits | 1<<63
}

// appendEscapedKey appends s with 0x00 escaped as 0x00 0xFF and a 0x00 0x01
// terminator, preserving bytewise order.
func appendEscapedKey(buf []byte, s string) []byte {
	for {
		i := strings.IndexByte(s, 0)
		if i < 0 {
			break
		}
		buf = append(buf, s[:i]...)
		buf = append(buf, 0x00, 0xFF)
		s = s[i+1:]
	}
	buf = append(buf, s...)
	return append(buf, 0x00, 0x01)
}

// appendDecimalKey encodes a numeric so that equal values (1.0, 1.00) encode
// the same and byte order is numeric order: a class byte, then for finite
// non-zero values the decimal exponent and significant digits (inverted for
// negatives).
func appendDecimalKey(buf []byte, d *apd.Decimal) []byte {
	class := decimalClass(d)
	buf = append(buf, byte(class))
	if class != 2 && class != 4 {
		return buf
	}
	// Coefficients that fit in a word (nearly all) are printed into a stack
	// buffer: BigInt.String allocates and goes through math/big.
	var small [20]byte
	var digits []byte
	if d.Coeff.IsUint64() {
		digits = strconv.AppendUint(small[:0], d.Coeff.Uint64(), 10)
	} else {
		digits = []byte(d.Coeff.String())
	}
	exp := int64(d.Exponent) + int64(len(digits))
	digits = bytes.TrimRight(digits, "0")
	start := len(buf)
	e := uint32(int32(exp)) ^ (1 << 31)
	buf = append(buf, byte(e>>24), byte(e>>16), byte(e>>8), byte(e))
	for i := 0; i < len(digits); i++ {
		buf = append(buf, digits[i]-'0'+1)
	}
	buf = append(buf, 0)
	if class == 2 {
		for i := start; i < len(buf); i++ {
			buf[i] = ^buf[i]
		}
	}
	return buf
}

// AppendKeyInt appends the key of a non-NULL value stored as int64 (integers,
// oids, dates, times, timestamps) without boxing it.
func AppendKeyInt(buf []byte, x int64) []byte {
	return appendUint64(append(buf, KeyNotNull), uint64(x)^(1<<63))
}

// AppendKeyString appends the key of a non-NULL string of a string-family
// type without boxing it.
func AppendKeyString(buf []byte, t *T, s string) []byte {
	if t.Oid == OidBPChar {
		s = strings.TrimRight(s, " ")
	}
	return appendEscapedKey(append(buf, KeyNotNull), s)
}

// KeyDecodes reports whether DecodeKey reads t's values back from their
// keys: the types whose key tells apart every two values (KeyIdentifies)
// but uuid, whose key is its 16 bytes or, for another length, escaped
// text, which cannot be told apart.
func KeyDecodes(t *T) bool {
	return KeyIdentifies(t) && t.Family != UUIDFamily
}

// DecodeKey reads the value (nil for NULL) whose AppendKey leads key, of a
// type KeyDecodes, and returns the rest of key; false when key does not
// start with such a key.
func DecodeKey(key []byte, t *T) (Datum, []byte, bool) {
	switch {
	case !KeyDecodes(t) || len(key) == 0:
		return nil, nil, false
	case key[0] == keyNull:
		return nil, key[1:], true
	}
	switch t.Family {
	case BoolFamily:
		if len(key) < 2 || key[0] != KeyNotNull || key[1] > 1 {
			return nil, nil, false
		}
		return key[1] == 1, key[2:], true
	case IntFamily, OidFamily, DateFamily, TimeFamily, TimestampFamily, TimestampTZFamily:
		x, rest, ok := DecodeKeyInt(key)
		if !ok {
			return nil, nil, false
		}
		return x, rest, true
	}
	str, rest, ok := DecodeKeyString(key)
	if !ok {
		return nil, nil, false
	}
	return str, rest, true
}

// DecodeKeyInt reads the non-NULL integer-like value whose AppendKeyInt
// leads key, and returns the rest of key; false when key does not start
// with one.
func DecodeKeyInt(key []byte) (int64, []byte, bool) {
	if len(key) < 9 || key[0] != KeyNotNull {
		return 0, nil, false
	}
	return int64(binary.BigEndian.Uint64(key[1:]) ^ 1<<63), key[9:], true
}

// DecodeKeyString reads the non-NULL value of a string-like type that
// KeyDecodes (text, varchar, bytea, json) whose key leads key, and returns
// the rest of key; false when key does not start with one.
func DecodeKeyString(key []byte) (string, []byte, bool) {
	if len(key) == 0 || key[0] != KeyNotNull {
		return "", nil, false
	}
	key = key[1:]
	// Most strings hold no 0x00: their key is their bytes and the
	// terminator.
	if i := bytes.IndexByte(key, 0); i >= 0 && i+1 < len(key) && key[i+1] == 0x01 {
		return string(key[:i]), key[i+2:], true
	}
	return decodeEscapedKey(key)
}

// decodeEscapedKey reads what appendEscapedKey wrote at the start of key.
func decodeEscapedKey(key []byte) (string, []byte, bool) {
	var s []byte
	for {
		i := bytes.IndexByte(key, 0)
		if i < 0 || i+1 == len(key) {
			return "", nil, false
		}
		s = append(s, key[:i]...)
		switch key[i+1] {
		case 0x01:
			return string(s), key[i+2:], true
		case 0xFF:
			s = append(s, 0)
			key = key[i+2:]
		default:
			return "", nil, false
		}
	}
}

// KeyIdentifies reports whether AppendKey tells apart every two values of t
// that print differently; for other types (numeric 1.0 and 1.00, float 0
// and -0, interval '1 day' and '24 hours', char(n) padding, jsonb spelling,
// arrays) equal values may print differently.
func KeyIdentifies(t *T) bool {
	switch t.Family {
	case BoolFamily, IntFamily, OidFamily, DateFamily, TimeFamily,
		TimestampFamily, TimestampTZFamily, BytesFamily, UUIDFamily:
		return true
	case StringFamily:
		return t.Oid != OidBPChar
	case JSONFamily:
		return t.Oid == OidJSON
	}
	return false
}
