package types

import (
	"encoding/binary"
	"strings"
)

// Records are anonymous composite values (Postgres' record), as functions
// with OUT parameters return them: information_schema._pg_expandarray's
// (x, n) rows, which pgjdbc's getPrimaryKeys and getIndexInfo select
// fields of. A record value is an *Array whose Elems are its fields'
// values, in order; its type names the fields. Records are output only:
// neither text nor binary input makes one.

// OIDs of the record pseudo-type and of its array type.
const (
	OidRecord      uint32 = 2249
	OidRecordArray uint32 = 2287
)

// Field is one named field of a record type.
type Field struct {
	Name string
	Typ  *T
}

// RecordOf returns the record type of fields.
func RecordOf(fields ...Field) *T {
	return &T{Family: RecordFamily, Oid: OidRecord, Fields: fields}
}

// FieldIndex returns the position of field name in record type t, or -1.
func (t *T) FieldIndex(name string) int {
	for i, f := range t.Fields {
		if f.Name == name {
			return i
		}
	}
	return -1
}

func sameFields(a, b []Field) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || !a[i].Typ.Equal(b[i].Typ) {
			return false
		}
	}
	return true
}

// appendRecord appends record_out's text form: (f1,f2), a field quoted when
// it is empty or holds a quote, backslash, parenthesis, comma or space.
func appendRecord(buf []byte, t *T, r *Array, cfg *Config) []byte {
	buf = append(buf, '(')
	for i, f := range t.Fields {
		if i > 0 {
			buf = append(buf, ',')
		}
		d := r.Elems[i]
		if d == nil {
			continue
		}
		s := string(AppendText(nil, f.Typ, d, cfg))
		if s != "" && !strings.ContainsAny(s, "\"\\(),' \t\n\r") {
			buf = append(buf, s...)
			continue
		}
		buf = append(buf, '"')
		for j := 0; j < len(s); j++ {
			if s[j] == '"' || s[j] == '\\' {
				buf = append(buf, s[j])
			}
			buf = append(buf, s[j])
		}
		buf = append(buf, '"')
	}
	return append(buf, ')')
}

// appendRecordBinary appends record_send's form: the field count, then per
// field its type OID and its length-prefixed value (-1 for NULL).
func appendRecordBinary(buf []byte, t *T, r *Array) ([]byte, error) {
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(t.Fields)))
	for i, f := range t.Fields {
		buf = binary.BigEndian.AppendUint32(buf, f.Typ.Oid)
		if r.Elems[i] == nil {
			buf = binary.BigEndian.AppendUint32(buf, 0xFFFFFFFF)
			continue
		}
		at := len(buf)
		buf = append(buf, 0, 0, 0, 0)
		var err error
		if buf, err = AppendBinary(buf, f.Typ, r.Elems[i]); err != nil {
			return nil, err
		}
		binary.BigEndian.PutUint32(buf[at:], uint32(len(buf)-at-4))
	}
	return buf, nil
}

// compareRecord orders records field by field, NULLs last.
func compareRecord(t *T, a, b *Array) int {
	for i, f := range t.Fields {
		x, y := a.Elems[i], b.Elems[i]
		switch {
		case x == nil && y == nil:
			continue
		case x == nil:
			return 1
		case y == nil:
			return -1
		}
		if c := Compare(f.Typ, x, y); c != 0 {
			return c
		}
	}
	return 0
}

// appendRecordKey appends the order-preserving key of a record's fields.
func appendRecordKey(buf []byte, t *T, r *Array) []byte {
	for i, f := range t.Fields {
		buf = AppendKey(buf, f.Typ, r.Elems[i])
	}
	return buf
}
