package format

import (
	"math"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// ProtoMessage writes chosen columns of a row as a protobuf message, for
// sinks: column k of the message is field k+1, proto3 optional (absent
// when NULL), of type bool; int32 for smallint, integer and date (days
// since 1970-01-01); int64 for bigint, oid, time, timestamp and timestamptz
// (microseconds, since 1970-01-01 UTC for the timestamps); float, double;
// bytes for bytea; and string for the others, their Postgres text.
type ProtoMessage struct {
	name  string
	names []string
	cols  []int
	kinds []protoKind
}

type protoKind uint8

const (
	protoBool protoKind = iota
	protoInt32
	protoInt64
	protoFloat
	protoDouble
	protoBytes
	protoText // the value's Postgres text
)

var protoTypeNames = [...]string{protoBool: "bool", protoInt32: "int32", protoInt64: "int64", protoFloat: "float",
	protoDouble: "double", protoBytes: "bytes", protoText: "string"}

// NewProtoMessage returns the writer of columns cols of rows with columns
// names of types typs, as a message named name (names made identifiers as
// AvroName makes them).
func NewProtoMessage(name string, names []string, typs []*types.T, cols []int) *ProtoMessage {
	m := &ProtoMessage{name: AvroName(name), cols: cols}
	for _, c := range cols {
		m.names = append(m.names, AvroName(names[c]))
		m.kinds = append(m.kinds, protoKindOf(typs[c]))
	}
	return m
}

func protoKindOf(t *types.T) protoKind {
	switch t.Family {
	case types.BoolFamily:
		return protoBool
	case types.IntFamily:
		if t.Oid == types.OidInt8 {
			return protoInt64
		}
		return protoInt32
	case types.DateFamily:
		return protoInt32
	case types.OidFamily, types.TimeFamily, types.TimestampFamily, types.TimestampTZFamily:
		return protoInt64
	case types.FloatFamily:
		if t.Oid == types.OidFloat4 {
			return protoFloat
		}
		return protoDouble
	case types.BytesFamily:
		return protoBytes
	}
	return protoText
}

// Name is the message's name.
func (m *ProtoMessage) Name() string { return m.name }

// Definition is the message in .proto (proto3) syntax.
func (m *ProtoMessage) Definition() string {
	var b strings.Builder
	b.WriteString("message " + m.name + " {\n")
	for k, n := range m.names {
		b.WriteString("  optional " + protoTypeNames[m.kinds[k]] + " " + n + " = " + strconv.Itoa(k+1) + ";\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// Append appends row i of cols as the message's wire encoding.
func (m *ProtoMessage) Append(buf []byte, cols []*coldata.Vec, i int, cfg *types.Config) []byte {
	for k, c := range m.cols {
		v := cols[c]
		if v.IsNull(i) {
			continue
		}
		num := protowire.Number(k + 1)
		switch m.kinds[k] {
		case protoBool:
			buf = protowire.AppendTag(buf, num, protowire.VarintType)
			buf = protowire.AppendVarint(buf, protowire.EncodeBool(v.Bools[i]))
		case protoInt32, protoInt64:
			buf = protowire.AppendTag(buf, num, protowire.VarintType)
			buf = protowire.AppendVarint(buf, uint64(v.Ints[i]))
		case protoFloat:
			buf = protowire.AppendTag(buf, num, protowire.Fixed32Type)
			buf = protowire.AppendFixed32(buf, math.Float32bits(float32(v.Floats[i])))
		case protoDouble:
			buf = protowire.AppendTag(buf, num, protowire.Fixed64Type)
			buf = protowire.AppendFixed64(buf, math.Float64bits(v.Floats[i]))
		case protoBytes:
			buf = protowire.AppendTag(buf, num, protowire.BytesType)
			buf = protowire.AppendString(buf, v.Bytes[i])
		default:
			buf = protowire.AppendTag(buf, num, protowire.BytesType)
			buf = protowire.AppendBytes(buf, types.AppendText(nil, v.Typ, v.Get(i), cfg))
		}
	}
	return buf
}
