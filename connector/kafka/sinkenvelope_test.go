package kafka

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/bufbuild/protocompile"
	"github.com/cockroachdb/datadriven"
	"github.com/hamba/avro/v2"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// TestSinkEnvelopes runs testdata/sink/envelopes: `encode envelope=… [key=col,…] [avro|protobuf]`
// takes rows of (city text, n bigint, total numeric, tags jsonb), each line
// `diff city n total tags` (NULL for NULL), and prints the records.
func TestSinkEnvelopes(t *testing.T) {
	names := []string{"city", "n", "total", "tags"}
	typs := []*types.T{types.Text, types.Int8, types.Numeric, types.JSONB}
	datadriven.RunTest(t, "testdata/sink/envelopes", func(t *testing.T, d *datadriven.TestData) string {
		if d.Cmd != "encode" {
			t.Fatalf("unknown command %s", d.Cmd)
		}
		var envName, keySpec string
		d.ScanArgs(t, "envelope", &envName)
		if d.HasArg("key") {
			d.ScanArgs(t, "key", &keySpec)
		}
		env, ok := Envelopes[envName]
		if !ok {
			t.Fatalf("unknown envelope %s", envName)
		}
		var key []int
		for _, k := range strings.Split(keySpec, ",") {
			for i, n := range names {
				if n == k {
					key = append(key, i)
				}
			}
		}
		changes := coldata.NewChunk(typs, 0)
		for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
			f := strings.Fields(line)
			diff, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			row := make([]types.Datum, len(typs))
			for i, s := range f[1:] {
				if s == "NULL" {
					continue
				}
				if row[i], err = types.ParseText(typs[i], s, types.DefaultConfig()); err != nil {
					t.Fatal(err)
				}
			}
			changes.AppendRow(row)
			changes.Diffs = append(changes.Diffs, diff)
		}
		var b strings.Builder
		if d.HasArg("protobuf") {
			return protobufRecords(t, env, names, typs, key, changes)
		}
		if !d.HasArg("avro") {
			for _, r := range NewSinkEncoder("out", env, names, key, types.DefaultConfig()).Records(changes) {
				fmt.Fprintf(&b, "%s key=%s value=%s\n", r.Topic, orNull(r.Key), orNull(r.Value))
			}
			return b.String()
		}
		// Avro: key schema id 1, value schema id 2; records printed decoded.
		schema, err := NewAvroSinkSchema("per city", env, names, typs, key)
		if err != nil {
			t.Fatal(err)
		}
		decode := func(schema string, id uint32, b []byte) string {
			if b == nil {
				return "<nil>"
			}
			if len(b) < 5 || b[0] != 0 || binary.BigEndian.Uint32(b[1:]) != id {
				t.Fatalf("bad framing % x", b)
			}
			var v any
			if err := avro.Unmarshal(avro.MustParse(schema), b[5:], &v); err != nil {
				t.Fatalf("%s: %v", schema, err)
			}
			return fmt.Sprint(v)
		}
		for _, r := range NewAvroSinkEncoder("out", env, schema, key, 1, 2, types.DefaultConfig()).Records(changes) {
			k := "<nil>"
			if schema.Key != "" {
				k = decode(schema.Key, 1, r.Key)
			}
			fmt.Fprintf(&b, "key=%s value=%s\n", k, decode(schema.Value, 2, r.Value))
		}
		return b.String()
	})
}

// protobufRecords encodes changes in protobuf (key schema id 1, value
// schema id 2) and prints the records decoded with the compiled file.
func protobufRecords(t *testing.T, env Envelope, names []string, typs []*types.T, key []int, changes *coldata.Chunk) string {
	schema := NewProtobufSinkSchema("per city", env, names, typs, key)
	file, keyIndex, valueIndex := schema.File, schema.KeyIndex, schema.ValueIndex
	c := protocompile.Compiler{Resolver: &protocompile.SourceResolver{Accessor: protocompile.SourceAccessorFromMap(map[string]string{"sink.proto": file})}}
	files, err := c.Compile(context.Background(), "sink.proto")
	if err != nil {
		t.Fatalf("%s\n%v", file, err)
	}
	msgs := files[0].Messages()
	decode := func(id uint32, idx int, b []byte) string {
		if b == nil {
			return "<nil>"
		}
		if len(b) < 5 || b[0] != 0 || binary.BigEndian.Uint32(b[1:]) != id {
			t.Fatalf("bad framing % x", b)
		}
		b = b[5:]
		n, w := binary.Varint(b)
		b = b[w:]
		got := 0
		if n > 0 {
			x, w := binary.Varint(b)
			got, b = int(x), b[w:]
		}
		if got != idx {
			t.Fatalf("message index %d, want %d", got, idx)
		}
		m := dynamicpb.NewMessage(msgs.Get(idx))
		if err := proto.Unmarshal(b, m); err != nil {
			t.Fatal(err)
		}
		return showMessage(m)
	}
	var out strings.Builder
	for _, r := range NewProtobufSinkEncoder("out", env, schema, key, 1, 2, types.DefaultConfig()).Records(changes) {
		k := "<nil>"
		if keyIndex >= 0 {
			k = decode(1, keyIndex, r.Key)
		}
		fmt.Fprintf(&out, "key=%s value=%s\n", k, decode(2, valueIndex, r.Value))
	}
	return out.String()
}

// showMessage prints the fields m has, in declaration order.
func showMessage(m protoreflect.Message) string {
	var parts []string
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if !m.Has(fd) {
			continue
		}
		v := m.Get(fd)
		s := fmt.Sprint(v.Interface())
		if fd.Kind() == protoreflect.MessageKind {
			s = showMessage(v.Message())
		}
		parts = append(parts, string(fd.Name())+":"+s)
	}
	return "{" + strings.Join(parts, " ") + "}"
}

func orNull(b []byte) string {
	if b == nil {
		return "<nil>"
	}
	return string(b)
}
