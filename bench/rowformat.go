package bench

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/connector/datagen"
	"github.com/sluice-db/sluice/types"
)

// rowFormat encodes rows of generator columns as Kafka record values in one
// record format, and names the stream options that decode them. Columns
// are bigint, text or timestamptz, never NULL (the Nexmark generators').
type rowFormat struct {
	name    string
	cols    []datagen.StreamColumn
	options map[string]string
}

// newRowFormat returns format name for rows of cols; message names the
// record (Avro record, protobuf message); protobuf's .proto goes under dir.
func newRowFormat(name, message string, cols []datagen.StreamColumn, dir string) (*rowFormat, error) {
	f := &rowFormat{name: name, cols: cols}
	for _, c := range cols {
		if c.Type.Phys() != types.PhysInt && c.Type.Phys() != types.PhysBytes {
			return nil, fmt.Errorf("column %s: %s is not encoded", c.Name, c.Type)
		}
	}
	switch name {
	case "json":
		f.options = map[string]string{"format": "json"}
	case "avro":
		var fields []string
		for _, c := range cols {
			t := `"long"`
			switch {
			case isTimestamp(c.Type):
				t = `{"type":"long","logicalType":"timestamp-micros"}`
			case c.Type.Phys() == types.PhysBytes:
				t = `"string"`
			}
			fields = append(fields, fmt.Sprintf(`{"name":%q,"type":%s}`, c.Name, t))
		}
		f.options = map[string]string{"format": "avro",
			"avro_schema": fmt.Sprintf(`{"type":"record","name":%q,"fields":[%s]}`, message, strings.Join(fields, ","))}
	case "protobuf":
		var b strings.Builder
		b.WriteString("syntax = \"proto3\";\npackage nexmark;\nimport \"google/protobuf/timestamp.proto\";\n")
		fmt.Fprintf(&b, "message %s {\n", message)
		for i, c := range cols {
			t := "int64"
			switch {
			case isTimestamp(c.Type):
				t = "google.protobuf.Timestamp"
			case c.Type.Phys() == types.PhysBytes:
				t = "string"
			}
			fmt.Fprintf(&b, "  %s %s = %d;\n", t, c.Name, i+1)
		}
		b.WriteString("}\n")
		path := filepath.Join(dir, strings.ToLower(message)+".proto")
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			return nil, err
		}
		f.options = map[string]string{"format": "protobuf", "proto_file": path, "proto_message": "nexmark." + message}
	default:
		return nil, fmt.Errorf("unknown format %q (valid: json, avro, protobuf)", name)
	}
	return f, nil
}

func isTimestamp(t *types.T) bool {
	return t.Family == types.TimestampTZFamily || t.Family == types.TimestampFamily
}

// withOptions is the stream's WITH options after connector and topic.
func (f *rowFormat) withOptions() string {
	var b strings.Builder
	for _, k := range []string{"format", "avro_schema", "proto_file", "proto_message"} {
		if v, ok := f.options[k]; ok {
			fmt.Fprintf(&b, ", %s = '%s'", k, strings.ReplaceAll(v, "'", "''"))
		}
	}
	return b.String()
}

// encode appends row i of c.
func (f *rowFormat) encode(buf []byte, c *coldata.Chunk, i int) []byte {
	switch f.name {
	case "json":
		return f.appendJSON(buf, c, i)
	case "avro":
		return f.appendAvro(buf, c, i)
	}
	return f.appendProto(buf, c, i)
}

func (f *rowFormat) appendJSON(buf []byte, c *coldata.Chunk, i int) []byte {
	buf = append(buf, '{')
	for j, col := range f.cols {
		if j > 0 {
			buf = append(buf, ',')
		}
		buf = types.AppendJSONString(buf, col.Name)
		buf = append(buf, ':')
		v := c.Cols[j]
		switch {
		case isTimestamp(col.Type):
			buf = append(buf, '"')
			buf = time.UnixMicro(v.Ints[i]).UTC().AppendFormat(buf, time.RFC3339Nano)
			buf = append(buf, '"')
		case v.Typ.Phys() == types.PhysInt:
			buf = strconv.AppendInt(buf, v.Ints[i], 10)
		default:
			buf = types.AppendJSONString(buf, v.Bytes[i])
		}
	}
	return append(buf, '}')
}

// appendAvro writes Avro's binary encoding: longs and string lengths are
// zigzag varints, as encoding/binary's AppendVarint writes them.
func (f *rowFormat) appendAvro(buf []byte, c *coldata.Chunk, i int) []byte {
	for j := range f.cols {
		v := c.Cols[j]
		if v.Typ.Phys() == types.PhysInt {
			buf = binary.AppendVarint(buf, v.Ints[i])
			continue
		}
		buf = binary.AppendVarint(buf, int64(len(v.Bytes[i])))
		buf = append(buf, v.Bytes[i]...)
	}
	return buf
}

func (f *rowFormat) appendProto(buf []byte, c *coldata.Chunk, i int) []byte {
	for j, col := range f.cols {
		v, num := c.Cols[j], protowire.Number(j+1)
		switch {
		case isTimestamp(col.Type):
			us := v.Ints[i]
			secs, nanos := us/1e6, (us%1e6)*1000
			if nanos < 0 {
				secs, nanos = secs-1, nanos+1e9
			}
			var ts []byte
			ts = protowire.AppendTag(ts, 1, protowire.VarintType)
			ts = protowire.AppendVarint(ts, uint64(secs))
			if nanos != 0 {
				ts = protowire.AppendTag(ts, 2, protowire.VarintType)
				ts = protowire.AppendVarint(ts, uint64(nanos))
			}
			buf = protowire.AppendTag(buf, num, protowire.BytesType)
			buf = protowire.AppendBytes(buf, ts)
		case v.Typ.Phys() == types.PhysInt:
			buf = protowire.AppendTag(buf, num, protowire.VarintType)
			buf = protowire.AppendVarint(buf, uint64(v.Ints[i]))
		default:
			buf = protowire.AppendTag(buf, num, protowire.BytesType)
			buf = protowire.AppendString(buf, v.Bytes[i])
		}
	}
	return buf
}
