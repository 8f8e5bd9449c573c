package format

import (
	"errors"
	"strings"
	"testing"

	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

func TestCSVBids(t *testing.T) {
	bids := genBids(50, 11)
	csvRows, err := decodeRows(t, Config{Format: "csv", Columns: bidColumns}, bidsCSV(bids)...)
	if err != nil {
		t.Fatal(err)
	}
	jsonRows, err := decodeRows(t, Config{Format: "json", Columns: bidColumns}, bidsJSON(bids)...)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(csvRows, "\n") != strings.Join(jsonRows, "\n") {
		t.Fatalf("csv:\n%s\njson:\n%s", csvRows[0], jsonRows[0])
	}
}

func TestCSVRecords(t *testing.T) {
	cols := []Column{col("id", types.Int8), col("name", types.Text), col("at", types.TimestampTZ), col("ok", types.Bool)}
	for _, tc := range []struct {
		rec  string
		opts map[string]string
		want string
	}{
		{"1,a,2026-01-02T03:04:05Z,true", nil, "1|a|2026-01-02 03:04:05+00|t"},
		{"1,a,2026-01-02T03:04:05Z,true\n", nil, "1|a|2026-01-02 03:04:05+00|t"},
		{"1,a,2026-01-02T03:04:05Z,true\r\n", nil, "1|a|2026-01-02 03:04:05+00|t"},
		{`2,"say ""hi"", ok",,f`, nil, `2|say "hi", ok|NULL|f`},
		{`3,"",,`, nil, `3||NULL|NULL`},
		{`4,"a` + "\n" + `b",,`, nil, "4|a\nb|NULL|NULL"},
		{"5\tx\t1767323045000\tyes", map[string]string{"csv_delimiter": `\t`, "timestamp_format": "epoch_millis"}, "5|x|2026-01-02 03:04:05+00|t"},
		{"6;'a;b';;", map[string]string{"csv_delimiter": ";", "csv_quote": "'"}, "6|a;b|NULL|NULL"},
		{`7,\N,\N,\N`, map[string]string{"csv_null": `\N`}, `7|NULL|NULL|NULL`},
		{`8,,,`, map[string]string{"csv_null": `\N`}, `8||ERROR`},
		{"1,a,b", nil, "ERROR 22P04 the CSV record has 3 fields, the stream has 4 columns: \"1,a,b\""},
		{"1,a,b,c,d", nil, "ERROR 22P04 the CSV record has 5 fields, the stream has 4 columns"},
		{`1,"a,,`, nil, `ERROR 22P04 unterminated CSV quoted field in column 2`},
		{`1,"a"x,,`, nil, `ERROR 22P04 extra data after the closing quote of CSV field 2: "x,,"`},
		{`x,a,,`, nil, `ERROR 22P02 column "id": invalid input syntax for type bigint: "x"`},
		{`1,a,yesterday-ish,`, nil, `ERROR 22007 column "at": invalid input syntax for type timestamp with time zone: "yesterday-ish"`},
		{"1,\xff,,", nil, `ERROR 22021 column "name": invalid byte sequence for encoding "UTF8"`},
	} {
		t.Run(tc.rec, func(t *testing.T) {
			want := tc.want
			if strings.HasSuffix(want, "|ERROR") {
				// csv_null \N: an empty unquoted field is an empty string,
				// which is no timestamp.
				want = `ERROR 22007 column "at": invalid input syntax for type timestamp with time zone: ""`
			}
			rows, err := decodeRows(t, Config{Format: "csv", Columns: cols, Options: tc.opts}, []byte(tc.rec))
			checkResult(t, rows, err, want)
		})
	}
}

func TestCSVHeader(t *testing.T) {
	cols := []Column{col("id", types.Int8), col("name", types.Text)}
	f, err := Compile(Config{Format: "csv", Columns: cols, Options: map[string]string{"csv_header": "true"}})
	if err != nil {
		t.Fatal(err)
	}
	dec := f.NewDecoder()
	vecs := newCols(cols, 2)
	if err := dec.Decode([]byte("ID,Name\n"), vecs); !errors.Is(err, ErrSkip) || vecs[0].Len() != 0 {
		t.Fatalf("header: %v, %d rows", err, vecs[0].Len())
	}
	if err := dec.Decode([]byte("1,id"), vecs); err != nil {
		t.Fatal(err)
	}
	// Without csv_header the header line is a bad record.
	_, err = decodeRows(t, Config{Format: "csv", Columns: cols}, []byte("id,name"))
	checkResult(t, nil, err, `ERROR 22P02 column "id": invalid input syntax for type bigint: "id"`)
}

func TestCSVCompileErrors(t *testing.T) {
	cols := []Column{col("a", types.Int8)}
	for _, tc := range []struct {
		cols []Column
		opts map[string]string
		want string
	}{
		{cols, map[string]string{"csv_delimiter": "ab"}, `22023 csv_delimiter must be a single one-byte character, not "ab"`},
		{cols, map[string]string{"csv_quote": ","}, `22023 csv_delimiter and csv_quote must differ`},
		{cols, map[string]string{"csv_header": "maybe"}, `22023 csv_header requires a Boolean value, not "maybe"`},
		{cols, map[string]string{"csv_null": "a,b"}, `22023 csv_null cannot contain`},
		{[]Column{{Name: "a", Type: types.Int8, Path: []string{"x", "y"}}}, nil, `22023 column "a": CSV columns are read by position and take no PATH`},
	} {
		_, err := Compile(Config{Format: "csv", Columns: tc.cols, Options: tc.opts})
		if err == nil || !strings.HasPrefix(sqlerr.Code(err)+" "+err.Error(), tc.want) {
			t.Errorf("%v: got %v (%s), want %s", tc.opts, err, sqlerr.Code(err), tc.want)
		}
	}
}

// TestCompileErrors covers the options every format shares.
func TestCompileErrors(t *testing.T) {
	cols := []Column{col("a", types.Int8)}
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Format: "xml", Columns: cols}, `22023 format "xml" is not supported`},
		{Config{Format: "json"}, `22023 a stream needs at least one column`},
		{Config{Format: "json", Columns: cols, Options: map[string]string{"timestamp_format": "iso"}}, `22023 invalid value for option timestamp_format: "iso"`},
		{Config{Format: "json", Columns: []Column{col("a", types.Int8), col("a", types.Text)}}, `42701 column "a" specified more than once`},
		{Config{Format: "json", Columns: []Column{col("a", types.Int8), {Name: "b", Type: types.Int8, Path: []string{"a"}}}}, `22023 columns "a" and "b" read the same JSON field`},
		{Config{Format: "json", Columns: cols, Options: map[string]string{"json_catch_all": "props"}}, `42703 json_catch_all column "props" does not exist`},
		{Config{Format: "json", Columns: cols, Options: map[string]string{"json_catch_all": "a"}}, `22023 json_catch_all column "a" must be of type jsonb, not bigint`},
	} {
		_, err := Compile(tc.cfg)
		if err == nil || !strings.HasPrefix(sqlerr.Code(err)+" "+err.Error(), tc.want) {
			t.Errorf("%+v: got %v (%s), want %s", tc.cfg, err, sqlerr.Code(err), tc.want)
		}
	}
}
