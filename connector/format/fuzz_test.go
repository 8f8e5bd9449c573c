package format

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// The fuzz targets prove that no record makes a decoder panic, that a
// refused record appends nothing and says why with a SQLSTATE, and that an
// accepted one appends one printable value per column.

// fuzzColumns reads fields a, b, c, … of every type.
func fuzzColumns(names ...string) []Column {
	typs := []*types.T{types.Int8, types.Int2, types.Text, types.Float8, types.Numeric, types.Bool, types.TimestampTZ,
		types.Date, types.JSONB, types.Bytea, types.UUID, types.Interval, types.ArrayOf(types.Int4), types.Float4, types.Timestamp}
	var cols []Column
	for i, n := range names {
		cols = append(cols, Column{Name: n, Type: typs[i%len(typs)]})
	}
	return cols
}

func fuzzDecode(t *testing.T, dec Decoder, cs []Column, rec []byte) error {
	cols := newCols(cs, 1)
	// A row already in the columns, with a NULL, so a bad record's traces
	// would show in the null masks too.
	for _, v := range cols {
		v.Append(nil)
	}
	err := dec.Decode(rec, cols)
	want := 2
	if err != nil {
		if _, ok := sqlerr.As(err); !ok && err != ErrSkip {
			t.Fatalf("%q: error without SQLSTATE: %v", rec, err)
		}
		want = 1
	}
	cfg := types.DefaultConfig()
	for i, v := range cols {
		if v.Len() != want || len(v.Nulls) != want {
			t.Fatalf("%q: column %s has %d rows (%d nulls), want %d (err %v)", rec, cs[i].Name, v.Len(), len(v.Nulls), want, err)
		}
		if d := v.Get(want - 1); d != nil {
			types.AppendText(nil, v.Typ, d, cfg)
		}
	}
	return err
}

func FuzzDecodeJSON(f *testing.F) {
	for _, r := range bidsJSON(genBids(3, 1)) {
		f.Add(r)
	}
	for _, s := range []string{`{"a": 1, "b": "x", "c": 1.5, "d": {"e": [1, 2]}}`, `{"a": "\u00e9\ud83d\ude00", "g": 1767323045123}`,
		`{"m": [1, null], "i": "1 day", "j": {"k": null}}`, `[]`, `{"a":`, `{"a": 1e999}`, `{"props": {"x": 1}, "zz": 2}`} {
		f.Add([]byte(s))
	}
	cs := fuzzColumns("a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o")
	cs = append(cs, Column{Name: "de", Type: types.Int8, Path: []string{"d", "e"}}, Column{Name: "props", Type: types.JSONB})
	fm, err := Compile(Config{Format: "json", Columns: cs, Options: map[string]string{"json_catch_all": "props"}})
	if err != nil {
		f.Fatal(err)
	}
	raw := []Column{{Name: "a", Type: types.JSON}, {Name: "b", Type: types.JSON}, {Name: "x", Type: types.JSON, Path: []string{"a", "x"}}}
	rawFm, err := Compile(Config{Format: "json", Columns: raw})
	if err != nil {
		f.Fatal(err)
	}
	dec, rawDec := fm.NewDecoder(), rawFm.NewDecoder()
	f.Fuzz(func(t *testing.T, rec []byte) {
		valid := json.Valid(rec) && utf8.Valid(rec)
		if err := fuzzDecode(t, dec, cs, rec); err == nil && !json.Valid(rec) {
			t.Fatalf("%q: accepted invalid JSON", rec)
		}
		// Into json columns (which keep any value as it is) every valid
		// object decodes.
		err := fuzzDecode(t, rawDec, raw, rec)
		isObj := len(bytes.TrimLeft(rec, " \t\r\n")) > 0 && bytes.TrimLeft(rec, " \t\r\n")[0] == '{'
		if valid && isObj && err != nil && sqlerr.Code(err) != sqlerr.ProgramLimitExceeded {
			t.Fatalf("%q: valid JSON refused: %v", rec, err)
		}
		if err == nil && !json.Valid(rec) {
			t.Fatalf("%q: accepted invalid JSON", rec)
		}
	})
}

func FuzzDecodeCSV(f *testing.F) {
	for _, r := range bidsCSV(genBids(3, 1)) {
		f.Add(r)
	}
	for _, s := range []string{`1,"a""b",,x`, "\"\n", `,,,,,,`, `"`, `a,"b"c`} {
		f.Add([]byte(s))
	}
	cs := fuzzColumns("a", "b", "c", "d", "e", "f", "g")
	fm, err := Compile(Config{Format: "csv", Columns: cs, Options: map[string]string{"csv_header": "true"}})
	if err != nil {
		f.Fatal(err)
	}
	dec := fm.NewDecoder()
	f.Fuzz(func(t *testing.T, rec []byte) { fuzzDecode(t, dec, cs, rec) })
}

func FuzzDecodeAvro(f *testing.F) {
	f.Add(avroEncode(f, avroTypesSchema, avroTypesValue()))
	for _, r := range bidsAvro(f, genBids(2, 1)) {
		f.Add(r)
	}
	var cs []Column
	typs := fuzzColumns("b", "i", "l", "f", "d", "s", "by", "fx", "e", "ts_ms", "ts_us", "lts", "day", "tm", "dec", "fdec", "id", "opt", "arr", "m", "nested")
	for _, c := range typs {
		cs = append(cs, c)
	}
	cs = append(cs, Column{Name: "nx", Type: types.Int8, Path: []string{"nested", "x"}})
	fm, err := Compile(Config{Format: "avro", Columns: cs, Options: map[string]string{"avro_schema": avroTypesSchema}})
	if err != nil {
		f.Fatal(err)
	}
	dec := fm.NewDecoder()
	f.Fuzz(func(t *testing.T, rec []byte) { fuzzDecode(t, dec, cs, rec) })
}

func FuzzDecodeProtobuf(f *testing.F) {
	md := protoDesc(f, "types.proto", "test.All")
	f.Add(protoEncode(f, md, allJSON))
	f.Add(protoEncode(f, md, `{"inners": [{"x": "1"}], "counts": {"a": "2"}, "name": "n"}`))
	cs := fuzzColumns("b", "i32", "s", "db", "u64", "opt", "ts", "s32", "inner", "by", "s", "dur", "nums", "fl", "i64")
	cs[10] = Column{Name: "y", Type: types.Text, Path: []string{"inner", "y"}}
	cs = append(cs, Column{Name: "counts", Type: types.JSONB}, Column{Name: "color", Type: types.Text}, Column{Name: "wrapped", Type: types.Int8},
		Column{Name: "inners", Type: types.ArrayOf(types.Text)})
	fm, err := Compile(Config{Format: "protobuf", Columns: cs, Options: allOpts})
	if err != nil {
		f.Fatal(err)
	}
	dec := fm.NewDecoder()
	f.Fuzz(func(t *testing.T, rec []byte) { fuzzDecode(t, dec, cs, rec) })
}
