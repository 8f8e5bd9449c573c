package format

import (
	"encoding/binary"
	"math"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// AvroRecord writes chosen columns of a row as the binary encoding of an
// Avro record, for sinks. Every field is a union of null and the column's
// Avro type (AvroRecord.Schema): boolean; int for smallint and integer;
// long for bigint and oid; float and double; bytes for bytea; int (date)
// for date; long (time-micros, timestamp-micros, local-timestamp-micros) for
// time, timestamptz and timestamp; and string for the others, their
// Postgres text (numeric's exact digits, json, intervals, arrays, uuid).
type AvroRecord struct {
	cols   []int
	kinds  []avroKind
	schema map[string]any
}

type avroKind uint8

const (
	avroBool avroKind = iota
	avroInt
	avroLong
	avroFloat
	avroDouble
	avroBytes
	avroText // the value's Postgres text
)

// NewAvroRecord returns the writer of columns cols of rows with columns
// names of types typs, as a record named name.
func NewAvroRecord(name string, names []string, typs []*types.T, cols []int) *AvroRecord {
	r := &AvroRecord{cols: cols}
	fields := make([]any, 0, len(cols))
	for _, c := range cols {
		kind, avroType := avroKindOf(typs[c])
		r.kinds = append(r.kinds, kind)
		fields = append(fields, map[string]any{"name": AvroName(names[c]), "type": []any{"null", avroType}, "default": nil})
	}
	r.schema = map[string]any{"type": "record", "name": AvroName(name), "fields": fields}
	return r
}

// AvroName makes s an Avro name ([A-Za-z_][A-Za-z0-9_]*): other characters
// become _, and a leading digit gets a _ before it.
func AvroName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			b[i] = '_'
		}
	}
	if len(b) == 0 || '0' <= b[0] && b[0] <= '9' {
		b = append([]byte{'_'}, b...)
	}
	return string(b)
}

func avroKindOf(t *types.T) (avroKind, any) {
	logical := func(base, lt string) map[string]any { return map[string]any{"type": base, "logicalType": lt} }
	switch t.Family {
	case types.BoolFamily:
		return avroBool, "boolean"
	case types.IntFamily:
		if t.Oid == types.OidInt8 {
			return avroLong, "long"
		}
		return avroInt, "int"
	case types.OidFamily:
		return avroLong, "long"
	case types.FloatFamily:
		if t.Oid == types.OidFloat4 {
			return avroFloat, "float"
		}
		return avroDouble, "double"
	case types.BytesFamily:
		return avroBytes, "bytes"
	case types.DateFamily:
		return avroInt, logical("int", "date")
	case types.TimeFamily:
		return avroLong, logical("long", "time-micros")
	case types.TimestampTZFamily:
		return avroLong, logical("long", "timestamp-micros")
	case types.TimestampFamily:
		return avroLong, logical("long", "local-timestamp-micros")
	}
	return avroText, "string"
}

// Schema returns the record's Avro schema (to be marshalled as JSON, or
// nested in another schema).
func (r *AvroRecord) Schema() map[string]any { return r.schema }

// Append appends row i of cols as the record's binary encoding.
func (r *AvroRecord) Append(buf []byte, cols []*coldata.Vec, i int, cfg *types.Config) []byte {
	for k, c := range r.cols {
		v := cols[c]
		if v.IsNull(i) {
			buf = binary.AppendVarint(buf, 0) // the union's null branch
			continue
		}
		buf = binary.AppendVarint(buf, 1)
		switch r.kinds[k] {
		case avroBool:
			b := byte(0)
			if v.Bools[i] {
				b = 1
			}
			buf = append(buf, b)
		case avroInt, avroLong:
			buf = binary.AppendVarint(buf, v.Ints[i])
		case avroFloat:
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(float32(v.Floats[i])))
		case avroDouble:
			buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(v.Floats[i]))
		case avroBytes:
			buf = AppendAvroString(buf, v.Bytes[i])
		default:
			buf = AppendAvroString(buf, string(types.AppendText(nil, v.Typ, v.Get(i), cfg)))
		}
	}
	return buf
}

// AppendAvroString appends s as an Avro string or bytes: its length, then
// its bytes.
func AppendAvroString(buf []byte, s string) []byte {
	return append(binary.AppendVarint(buf, int64(len(s))), s...)
}
