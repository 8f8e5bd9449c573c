package engine

import (
	"encoding/json"
	"testing"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/connector/format"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// FuzzJSONDatum feeds the HTTP push decoder (connector/format's JSON
// decoder) arbitrary JSON values for every column type: a value is read or
// refused with a SQLSTATE, never a panic; a refused value appends nothing,
// and what is read prints.
func FuzzJSONDatum(f *testing.F) {
	for _, s := range []string{`1`, `-2.5e3`, `"2026-01-02T03:04:05Z"`, `true`, `null`, `{"a": [1, "x"]}`,
		`"{1,2}"`, `"1 day"`, `"NaN"`, `9223372036854775808`, `"\u0000"`, `[]`, `[1, null]`, `1767323045123`} {
		f.Add(s)
	}
	typs := []*types.T{types.Int4, types.Int8, types.Numeric, types.Float8, types.Text, types.Bool,
		types.TimestampTZ, types.Date, types.Interval, types.JSONB, types.JSON, types.UUID, types.Bytea,
		types.ArrayOf(types.Int4), types.ArrayOf(types.Text)}
	decs := make([]format.Decoder, len(typs))
	for i, typ := range typs {
		fm, err := format.Compile(format.Config{Format: "json", Columns: []format.Column{{Name: "c", Type: typ}}})
		if err != nil {
			f.Fatal(err)
		}
		decs[i] = fm.NewDecoder()
	}
	cfg := types.DefaultConfig()
	f.Fuzz(func(t *testing.T, raw string) {
		if !json.Valid([]byte(raw)) {
			return
		}
		rec := []byte(`{"c": ` + raw + `}`)
		for i, typ := range typs {
			v := coldata.NewVec(typ, 1)
			if err := decs[i].Decode(rec, []*coldata.Vec{v}); err != nil {
				if _, ok := sqlerr.As(err); !ok {
					t.Fatalf("%s from %q: error without SQLSTATE: %v", typ, raw, err)
				}
				if v.Len() != 0 {
					t.Fatalf("%s from %q: error %v appended", typ, raw, err)
				}
				continue
			}
			if v.Len() != 1 {
				t.Fatalf("%s from %q: %d rows", typ, raw, v.Len())
			}
			if d := v.Get(0); d != nil {
				types.AppendText(nil, typ, d, cfg)
			}
		}
	})
}
