package storage

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"

	"github.com/cockroachdb/apd/v3"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// appendKey appends an equality-exact key encoding of d (of type t) to buf:
// two values get the same bytes iff Postgres' = says they are equal (so
// 1.0 = 1.00, -0 = 0, 'a '::char(2) = 'a', '1 day' = '24 hours'). Each
// encoding is self-delimiting, so keys of several columns concatenate.
// Ints, bools, floats, strings and intervals also sort like their values;
// numerics and arrays do not (only the hash index uses these keys today).
//
// NB: a private stand-in for types.AppendKey (types/compare.go, in progress);
// switch to it once it exists and agrees on equality.
func appendKey(buf []byte, t *types.T, d types.Datum) []byte {
	if d == nil {
		return append(buf, 0x00)
	}
	buf = append(buf, 0x01)
	switch x := d.(type) {
	case bool:
		if x {
			return append(buf, 1)
		}
		return append(buf, 0)
	case int64:
		return binary.BigEndian.AppendUint64(buf, uint64(x)^(1<<63))
	case float64:
		if x == 0 {
			x = 0 // -0 = 0
		}
		bits := math.Float64bits(x)
		if math.IsNaN(x) {
			bits = 0x7ff8000000000001 // NaN = NaN and sorts last in Postgres
		}
		if bits&(1<<63) != 0 {
			bits = ^bits
		} else {
			bits |= 1 << 63
		}
		return binary.BigEndian.AppendUint64(buf, bits)
	case *apd.Decimal:
		var r apd.Decimal
		r.Reduce(x)
		s := r.String()
		if r.IsZero() && r.Form == apd.Finite {
			s = "0"
		}
		return appendKeyString(buf, s)
	case string:
		if t != nil && t.Oid == types.OidBPChar {
			x = strings.TrimRight(x, " ") // trailing blanks are insignificant in bpchar
		}
		return appendKeyString(buf, x)
	case types.IntervalValue:
		// Postgres compares intervals with months = 30 days and days = 24 h;
		// normalise to (days, micros within the day) to avoid int64 overflow.
		days := int64(x.Months)*30 + int64(x.Days) + x.Micros/types.MicrosPerDay
		us := x.Micros % types.MicrosPerDay
		if us < 0 {
			us += types.MicrosPerDay
			days--
		}
		buf = binary.BigEndian.AppendUint64(buf, uint64(days)^(1<<63))
		return binary.BigEndian.AppendUint64(buf, uint64(us))
	case *types.Array:
		var et *types.T
		if t != nil {
			et = t.Elem
		}
		for _, e := range x.Elems {
			buf = append(buf, 0x01)
			buf = appendKey(buf, et, e)
		}
		return append(buf, 0x00)
	}
	return appendKeyString(buf, fmt.Sprint(d))
}

// appendKeyString escapes 0x00 as 0x00 0xff and terminates with 0x00 0x01,
// which keeps byte order and makes the encoding self-delimiting.
func appendKeyString(buf []byte, s string) []byte {
	for {
		i := strings.IndexByte(s, 0)
		if i < 0 {
			break
		}
		buf = append(buf, s[:i+1]...)
		buf = append(buf, 0xff)
		s = s[i+1:]
	}
	buf = append(buf, s...)
	return append(buf, 0x00, 0x01)
}

// appendVecKey appends the key of row i of v without boxing common types.
func appendVecKey(buf []byte, v *coldata.Vec, i int) []byte {
	if v.IsNull(i) {
		return append(buf, 0x00)
	}
	switch v.Typ.Phys() {
	case types.PhysInt:
		buf = append(buf, 0x01)
		return binary.BigEndian.AppendUint64(buf, uint64(v.Ints[i])^(1<<63))
	case types.PhysBytes:
		if v.Typ.Oid != types.OidBPChar {
			buf = append(buf, 0x01)
			return appendKeyString(buf, v.Bytes[i])
		}
	}
	return appendKey(buf, v.Typ, v.Get(i))
}

// rowKeyString returns the primary-key index key of row i of cols.
func rowKeyString(buf []byte, cols []*coldata.Vec, pk []int, i int) ([]byte, string) {
	buf = buf[:0]
	for _, c := range pk {
		buf = appendVecKey(buf, cols[c], i)
	}
	return buf, string(buf)
}
