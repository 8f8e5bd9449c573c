package format

import (
	"context"
	"fmt"
	"testing"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// Rows written by ProtoMessage read back with its definition (protocompile
// and dynamicpb); NULL columns are absent fields.
func TestProtoMessage(t *testing.T) {
	names := []string{"b", "i", "l", "f", "d", "n", "s", "by", "day", "ts", "sum(x)"}
	typs := []*types.T{types.Bool, types.Int4, types.Int8, types.Float4, types.Float8, types.Numeric, types.Text,
		types.Bytea, types.Date, types.TimestampTZ, types.Int2}
	cfg := types.DefaultConfig()
	c := coldata.NewChunk(typs, 0)
	row := make([]types.Datum, len(typs))
	for i, s := range []string{"true", "-7", "-9000000000", "1.5", "-2.25", "12.50", "héllo", `\x0102`, "1969-12-31", "1970-01-01 00:00:01+00", "-3"} {
		d, err := types.ParseText(typs[i], s, cfg)
		if err != nil {
			t.Fatal(err)
		}
		row[i] = d
	}
	c.AppendRow(row)
	c.AppendRow(make([]types.Datum, len(typs)))
	m := NewProtoMessage("per city", names, typs, coldata.AllColumns(len(typs)))
	src := "syntax = \"proto3\";\n" + m.Definition()
	comp := protocompile.Compiler{Resolver: &protocompile.SourceResolver{Accessor: protocompile.SourceAccessorFromMap(map[string]string{"r.proto": src})}}
	files, err := comp.Compile(context.Background(), "r.proto")
	if err != nil {
		t.Fatalf("%s\n%v", src, err)
	}
	want := []string{
		"b:true i:-7 l:-9000000000 f:1.5 d:-2.25 n:12.50 s:héllo by:[1 2] day:-1 ts:1000000 sum_x_:-3 ",
		"",
	}
	for i := range c.Len {
		msg := dynamicpb.NewMessage(files[0].Messages().ByName(protoreflect.Name(m.Name())))
		if err := proto.Unmarshal(m.Append(nil, c.Cols, i, cfg), msg); err != nil {
			t.Fatal(err)
		}
		got := ""
		fields := msg.Descriptor().Fields()
		for j := range fields.Len() {
			if fd := fields.Get(j); msg.Has(fd) {
				got += fmt.Sprintf("%s:%v ", fd.Name(), msg.Get(fd).Interface())
			}
		}
		if got != want[i] {
			t.Errorf("row %d: %s\nwant %s", i, got, want[i])
		}
	}
}
