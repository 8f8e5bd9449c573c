package engine

import (
	"encoding/json"
	"testing"

	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// FuzzJSONDatum feeds the HTTP push decoder arbitrary JSON values for every
// column type: a value is read or refused with a SQLSTATE, never a panic,
// and what is read prints.
func FuzzJSONDatum(f *testing.F) {
	for _, s := range []string{`1`, `-2.5e3`, `"2026-01-02T03:04:05Z"`, `true`, `null`, `{"a": [1, "x"]}`,
		`"{1,2}"`, `"1 day"`, `"NaN"`, `9223372036854775808`, `"\u0000"`, `[]`} {
		f.Add(s)
	}
	typs := []*types.T{types.Int4, types.Int8, types.Numeric, types.Float8, types.Text, types.Bool,
		types.TimestampTZ, types.Date, types.Interval, types.JSONB, types.JSON, types.UUID, types.Bytea,
		types.ArrayOf(types.Int4), types.ArrayOf(types.Text)}
	cfg := types.DefaultConfig()
	f.Fuzz(func(t *testing.T, raw string) {
		if !json.Valid([]byte(raw)) {
			return
		}
		for _, typ := range typs {
			d, err := jsonDatum(typ, json.RawMessage(raw), cfg)
			if err != nil {
				if _, ok := sqlerr.As(err); !ok {
					t.Fatalf("%s from %q: error without SQLSTATE: %v", typ, raw, err)
				}
				continue
			}
			if d != nil {
				types.AppendText(nil, typ, d, cfg)
			}
		}
	})
}
