package format

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// Rows written by AvroRecord read back with their schema (hamba/avro).
func TestAvroRecord(t *testing.T) {
	names := []string{"b", "i", "l", "f", "d", "n", "s", "by", "day", "ts", "sum(x)"} // sum(x) is no Avro name
	typs := []*types.T{types.Bool, types.Int4, types.Int8, types.Float4, types.Float8, types.Numeric, types.Text,
		types.Bytea, types.Date, types.TimestampTZ, types.Int8}
	cfg := types.DefaultConfig()
	c := coldata.NewChunk(typs, 0)
	row := make([]types.Datum, len(typs))
	for i, s := range []string{"true", "-7", "9000000000", "1.5", "-2.25", "12.50", "héllo", `\x0102`, "2026-12-03", "2026-12-03 10:00:00.000001+00", "3"} {
		d, err := types.ParseText(typs[i], s, cfg)
		if err != nil {
			t.Fatal(err)
		}
		row[i] = d
	}
	c.AppendRow(row)
	c.AppendRow(make([]types.Datum, len(typs)))
	r := NewAvroRecord("per city", names, typs, coldata.AllColumns(len(typs)))
	js, err := json.Marshal(r.Schema())
	if err != nil {
		t.Fatal(err)
	}
	schema, err := avro.Parse(string(js))
	if err != nil {
		t.Fatalf("schema %s: %v", js, err)
	}
	want := []string{
		"map[b:true by:[1 2] d:-2.25 day:2026-12-03 00:00:00 +0000 UTC f:1.5 i:-7 l:9000000000 n:12.50 s:héllo sum_x_:3 ts:2026-12-03 10:00:00.000001 +0000 UTC]",
		"map[b:<nil> by:<nil> d:<nil> day:<nil> f:<nil> i:<nil> l:<nil> n:<nil> s:<nil> sum_x_:<nil> ts:<nil>]",
	}
	for i := range c.Len {
		var got map[string]any
		if err := avro.Unmarshal(schema, r.Append(nil, c.Cols, i, cfg), &got); err != nil {
			t.Fatal(err)
		}
		if s := fmt.Sprint(got); s != want[i] {
			t.Errorf("row %d: %s\nwant %s", i, s, want[i])
		}
	}
}
