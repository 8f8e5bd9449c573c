package format

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// decodeRows decodes recs with a decoder of cfg into fresh columns and
// returns each row as text ("NULL" for NULL), or the first error. On error
// it checks that the failing record appended nothing.
func decodeRows(t *testing.T, cfg Config, recs ...[]byte) ([]string, error) {
	t.Helper()
	f, err := Compile(cfg)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	dec := f.NewDecoder()
	cols := newCols(cfg.Columns, 4)
	for _, rec := range recs {
		before := lens(cols)
		if err := dec.Decode(rec, cols); err != nil {
			if after := lens(cols); !equalInts(before, after) {
				t.Fatalf("error %q appended: lengths %v -> %v", err, before, after)
			}
			return nil, err
		}
		after := lens(cols)
		for i := range after {
			if after[i] != before[i]+1 {
				t.Fatalf("column %d: length %d -> %d", i, before[i], after[i])
			}
			if v := cols[i]; v.Nulls != nil && len(v.Nulls) != v.Len() {
				t.Fatalf("column %d: null mask %d for %d rows", i, len(v.Nulls), v.Len())
			}
		}
	}
	return rowsText(cols), nil
}

func lens(cols []*coldata.Vec) []int {
	out := make([]int, len(cols))
	for i, v := range cols {
		out[i] = v.Len()
	}
	return out
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func rowsText(cols []*coldata.Vec) []string {
	cfg := types.DefaultConfig()
	var out []string
	for r := 0; r < cols[0].Len(); r++ {
		var parts []string
		for _, v := range cols {
			d := v.Get(r)
			if d == nil {
				parts = append(parts, "NULL")
				continue
			}
			parts = append(parts, types.FormatText(v.Typ, d, cfg))
		}
		out = append(out, strings.Join(parts, "|"))
	}
	return out
}

func col(name string, t *types.T) Column { return Column{Name: name, Type: t} }

// TestJSONTypes reads one JSON value into a column of each type.
func TestJSONTypes(t *testing.T) {
	varchar3 := &types.T{Family: types.StringFamily, Oid: types.OidVarchar, Width: 3}
	bpchar3 := &types.T{Family: types.StringFamily, Oid: types.OidBPChar, Width: 3}
	numeric52 := &types.T{Family: types.NumericFamily, Oid: types.OidNumeric, Width: 5, Scale: 2}
	for _, tc := range []struct {
		typ  *types.T
		val  string
		opts map[string]string
		want string // text form, or "ERROR <sqlstate> <substring>"
	}{
		{typ: types.Int8, val: `42`, want: "42"},
		{typ: types.Int8, val: `-9223372036854775808`, want: "-9223372036854775808"},
		{typ: types.Int8, val: `9223372036854775808`, want: `ERROR 22003 column "c": value "9223372036854775808" is out of range for type bigint`},
		{typ: types.Int4, val: `2147483648`, want: `ERROR 22003 out of range for type integer`},
		{typ: types.Int2, val: `-32768`, want: "-32768"},
		{typ: types.Int2, val: `40000`, want: `ERROR 22003 "40000" is out of range for type smallint`},
		{typ: types.Int8, val: `"17"`, want: "17"},
		{typ: types.Int8, val: `" 17 "`, want: "17"},
		{typ: types.Int8, val: `"0x1F"`, want: "31"},
		{typ: types.Int8, val: `"abc"`, want: `ERROR 22P02 column "c": invalid input syntax for type bigint: "abc"`},
		{typ: types.Int8, val: `1.5`, want: `ERROR 22P02 invalid input syntax for type bigint: "1.5"`},
		{typ: types.Int8, val: `true`, want: `ERROR 22P02 invalid input syntax for type bigint: "true"`},
		{typ: types.Int8, val: `{"a": 1}`, want: `ERROR 42804 column "c": a JSON object fits only a json or jsonb column, not bigint: {"a": 1}`},
		{typ: types.Int8, val: `[1]`, want: `ERROR 42804 a JSON array fits only`},
		{typ: types.Int8, val: `null`, want: "NULL"},
		{typ: types.Float8, val: `1.5e3`, want: "1500"},
		{typ: types.Float8, val: `0`, want: "0"},
		{typ: types.Float8, val: `-0.0`, want: "-0"},
		{typ: types.Float8, val: `"NaN"`, want: "NaN"},
		{typ: types.Float8, val: `"-Infinity"`, want: "-Infinity"},
		{typ: types.Float8, val: `1e400`, want: `ERROR 22003 out of range for type double precision`},
		{typ: types.Float4, val: `1.5`, want: "1.5"},
		{typ: types.Float4, val: `1e39`, want: `ERROR 22003 out of range for type real`},
		{typ: types.Numeric, val: `12.50`, want: "12.50"},
		{typ: types.Numeric, val: `-0.001`, want: "-0.001"},
		{typ: types.Numeric, val: `1e3`, want: "1000"},
		{typ: types.Numeric, val: `123456789012345678901234567890.5`, want: "123456789012345678901234567890.5"},
		{typ: types.Numeric, val: `"12.5"`, want: "12.5"},
		{typ: types.Numeric, val: `" 1_000 "`, want: "1000"},
		{typ: types.Numeric, val: `"NaN"`, want: "NaN"},
		{typ: types.Numeric, val: `"1.2.3"`, want: `ERROR 22P02 invalid input syntax for type numeric: "1.2.3"`},
		{typ: numeric52, val: `3.14159`, want: "3.14"},
		{typ: numeric52, val: `12345.6`, want: `ERROR 22003 numeric field overflow`},
		{typ: types.Text, val: `"héllo \"x\"\n\u00e9\ud83d\ude00"`, want: "héllo \"x\"\n\u00e9\U0001F600"},
		{typ: types.Text, val: `12.50`, want: "12.50"},
		{typ: types.Text, val: `true`, want: "true"},
		{typ: types.Text, val: `"\u0000"`, want: `ERROR 22P05 unsupported Unicode escape sequence`},
		{typ: types.Text, val: `"\ud800"`, want: `ERROR 22P02 invalid input syntax for type json`},
		{typ: types.Text, val: "\"\xff\xfe\"", want: `ERROR 22021 invalid byte sequence for encoding "UTF8"`},
		{typ: types.Text, val: `{"a":1}`, want: `ERROR 42804 a JSON object fits only a json or jsonb column, not text`},
		{typ: varchar3, val: `"abc"`, want: "abc"},
		{typ: varchar3, val: `"abcd"`, want: `ERROR 22001 value too long for type character varying(3)`},
		{typ: bpchar3, val: `"a"`, want: "a  "},
		{typ: types.Bool, val: `true`, want: "t"},
		{typ: types.Bool, val: `false`, want: "f"},
		{typ: types.Bool, val: `"yes"`, want: "t"},
		{typ: types.Bool, val: `0`, want: "f"},
		{typ: types.Bool, val: `2`, want: `ERROR 22P02 invalid input syntax for type boolean: "2"`},
		{typ: types.TimestampTZ, val: `"2026-01-02T03:04:05Z"`, want: "2026-01-02 03:04:05+00"},
		{typ: types.TimestampTZ, val: `"2026-01-02T03:04:05.123456+02:00"`, want: "2026-01-02 01:04:05.123456+00"},
		{typ: types.TimestampTZ, val: `"2026-01-02 03:04:05-0130"`, want: "2026-01-02 04:34:05+00"},
		{typ: types.TimestampTZ, val: `"2026-01-02 03:04:05"`, want: "2026-01-02 03:04:05+00"},
		{typ: types.TimestampTZ, val: `"2026-01-02T03:04:05.1234567Z"`, want: "2026-01-02 03:04:05.123457+00"},
		{typ: types.TimestampTZ, val: `"Jan 2 2026 03:04"`, want: "2026-01-02 03:04:00+00"},
		{typ: types.TimestampTZ, val: `"2026-02-30T00:00:00Z"`, want: `ERROR 22008 date/time field value out of range`},
		{typ: types.TimestampTZ, val: `"soon"`, want: `ERROR 22007 invalid input syntax for type timestamp with time zone: "soon"`},
		{typ: types.TimestampTZ, val: `1767323045123`, want: "2026-01-02 03:04:05.123+00"},
		{typ: types.TimestampTZ, val: `1767323045.5`, opts: map[string]string{"timestamp_format": "epoch_seconds"}, want: "2026-01-02 03:04:05.5+00"},
		{typ: types.TimestampTZ, val: `1767323045123456`, opts: map[string]string{"timestamp_format": "epoch_micros"}, want: "2026-01-02 03:04:05.123456+00"},
		{typ: types.TimestampTZ, val: `"1767323045"`, opts: map[string]string{"timestamp_format": "epoch_seconds"}, want: "2026-01-02 03:04:05+00"},
		{typ: types.TimestampTZ, val: `1767323045`, opts: map[string]string{"timestamp_format": "rfc3339"}, want: `ERROR 22007 a number is not a timestamp with time zone under timestamp_format 'rfc3339'`},
		{typ: types.TimestampTZ, val: `9223372036854775807`, want: `ERROR 22008 timestamp out of range`},
		{typ: types.TimestampTZ, val: `true`, want: `ERROR 22007 invalid input syntax for type timestamp with time zone: "true"`},
		{typ: types.Timestamp, val: `"2026-01-02T03:04:05+05:00"`, want: "2026-01-02 03:04:05"},
		{typ: types.Timestamp, val: `1767323045000`, want: "2026-01-02 03:04:05"},
		{typ: types.Date, val: `"2026-01-02"`, want: "2026-01-02"},
		{typ: types.Date, val: `"January 2, 2026"`, want: "2026-01-02"},
		{typ: types.Date, val: `1767323045000`, want: "2026-01-02"},
		{typ: types.Time, val: `"03:04:05.5"`, want: "03:04:05.5"},
		{typ: types.Interval, val: `"1 day 02:00:00"`, want: "1 day 02:00:00"},
		{typ: types.Interval, val: `"P1DT2H"`, want: "1 day 02:00:00"},
		{typ: types.Interval, val: `90`, want: "00:01:30"},
		{typ: types.JSONB, val: `{"b": [1, 2.50, "x"], "a": null}`, want: `{"a": null, "b": [1, 2.50, "x"]}`},
		{typ: types.JSONB, val: `"str"`, want: `"str"`},
		{typ: types.JSONB, val: `1.50`, want: `1.50`},
		{typ: types.JSONB, val: `true`, want: `true`},
		{typ: types.JSONB, val: `null`, want: `NULL`},
		{typ: types.JSON, val: `{"b":1,  "a":2}`, want: `{"b":1,  "a":2}`},
		{typ: types.JSON, val: `"x\ty"`, want: `"x\ty"`},
		{typ: types.Bytea, val: `"\\x0102ff"`, want: `\x0102ff`},
		{typ: types.Bytea, val: `"abc"`, want: `\x616263`},
		{typ: types.UUID, val: `"A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"`, want: "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
		{typ: types.UUID, val: `"not-a-uuid"`, want: `ERROR 22P02 invalid input syntax for type uuid`},
		{typ: types.ArrayOf(types.Int4), val: `[1, null, "3"]`, want: "{1,NULL,3}"},
		{typ: types.ArrayOf(types.Int4), val: `"{4,5}"`, want: "{4,5}"},
		{typ: types.ArrayOf(types.Text), val: `["a", "b c", 1.5]`, want: `{a,"b c",1.5}`},
		{typ: types.ArrayOf(types.Int4), val: `[[1]]`, want: `ERROR 42804 a nested JSON array does not fit an element of integer[]`},
		{typ: types.ArrayOf(types.Int4), val: `["x"]`, want: `ERROR 22P02 invalid input syntax for type integer: "x"`},
		{typ: types.Oid, val: `42`, want: "42"},
	} {
		name := tc.typ.String() + " " + tc.val
		t.Run(name, func(t *testing.T) {
			cfg := Config{Format: "json", Columns: []Column{col("c", tc.typ)}, Options: tc.opts}
			rows, err := decodeRows(t, cfg, []byte(`{"c": `+tc.val+`}`))
			checkResult(t, rows, err, tc.want)
		})
	}
}

// checkResult compares one decoded row, or an error, with want.
func checkResult(t *testing.T, rows []string, err error, want string) {
	t.Helper()
	if code, msg, isErr := strings.Cut(want, " "); code == "ERROR" && isErr {
		code, msg, _ = strings.Cut(msg, " ")
		if err == nil {
			t.Fatalf("got %q, want error %s %s", rows, code, msg)
		}
		if got := sqlerr.Code(err); got != code || !strings.Contains(err.Error(), msg) {
			t.Fatalf("got error %s %q, want %s containing %q", got, err, code, msg)
		}
		return
	}
	if err != nil {
		t.Fatalf("got error %s %v, want %q", sqlerr.Code(err), err, want)
	}
	if len(rows) != 1 || rows[0] != want {
		t.Fatalf("got %q, want %q", rows, want)
	}
}

// TestJSONRecords covers whole records: missing and unknown fields, paths,
// the catch-all column, duplicates and malformed records.
func TestJSONRecords(t *testing.T) {
	cols := []Column{col("id", types.Int8), col("name", types.Text), {Name: "city", Type: types.Text, Path: []string{"addr", "city"}},
		{Name: "zip", Type: types.Int4, Path: []string{"addr", "zip"}}, col("addr", types.JSONB)}
	for _, tc := range []struct {
		rec  string
		want string
	}{
		{`{"id": 1, "name": "a", "addr": {"city": "Bend", "zip": 97701}}`, `1|a|Bend|97701|{"zip": 97701, "city": "Bend"}`},
		{`{"addr": {"zip": "97702", "more": [1, {"x": 2}]}, "name": "b", "id": 2}`, `2|b|NULL|97702|{"zip": "97702", "more": [1, {"x": 2}]}`},
		{` {"id": 3} `, `3|NULL|NULL|NULL|NULL`},
		{`{"id": 4, "unknown": {"deep": [[[]]]}, "x": "\u00e9"}`, `4|NULL|NULL|NULL|NULL`},
		{`{"id": 5, "addr": null}`, `5|NULL|NULL|NULL|NULL`},
		{`{"id": 6, "addr": "Main St"}`, `6|NULL|NULL|NULL|"Main St"`},
		{`{"id": 7, "id": 8}`, `8|NULL|NULL|NULL|NULL`},
		{`{"i\u0064": 9, "na\/me": "esc"}`, `9|NULL|NULL|NULL|NULL`},
		{`{}`, `NULL|NULL|NULL|NULL|NULL`},
		{`{"id": "x"}`, `ERROR 22P02 column "id": invalid input syntax for type bigint: "x"`},
		{`{"id": 1, "addr": {"zip": 1e99}}`, `ERROR 22P02 column "zip": invalid input syntax for type integer: "1e99"`},
		{``, `ERROR 22P02 the record is not a JSON object: it is empty`},
		{`[1, 2]`, `ERROR 22P02 the record is not a JSON object: [1, 2]`},
		{`"str"`, `ERROR 22P02 the record is not a JSON object`},
		{`null`, `ERROR 22P02 the record is not a JSON object`},
		{`{"id": 1`, `ERROR 22P02 malformed JSON: the record ends where ',' or '}' was expected`},
		{`{"id": 1,}`, `ERROR 22P02 malformed JSON: unexpected '}' at byte 9 where an object key was expected`},
		{`{"id": 1} x`, `ERROR 22P02 malformed JSON: unexpected 'x' at byte 10 after the object`},
		{`{"id": 01}`, `ERROR 22P02 malformed JSON: unexpected '1' at byte 8 where ',' or '}' was expected`},
		{`{"id": -}`, `ERROR 22P02 malformed JSON: unexpected '}' at byte 8 in a number`},
		{`{"id": 1.}`, `ERROR 22P02 in a number`},
		{`{"id": tru}`, `ERROR 22P02 where a value was expected`},
		{`{"name": "a` + "\n" + `b"}`, `ERROR 22P02 control characters must be escaped`},
		{`{"name": "\x"}`, `ERROR 22P02 after a backslash`},
		{`{"name": "\u12"}`, `ERROR 22P02 in a \u escape`},
		{`{"name": "abc`, `ERROR 22P02 malformed JSON: the record ends a string (unterminated)`},
		{`{"other": [1, 2}`, `ERROR 22P02 where ',' or ']' was expected`},
		{`{"id" 1}`, `ERROR 22P02 where ':' was expected`},
		{`{"id": 1, "name": null, "zip": 5}`, `1|NULL|NULL|NULL|NULL`},
		{strings.Repeat(`{"a":`, 1001) + "1" + strings.Repeat("}", 1001), `ERROR 54000 JSON nested more than 1000 levels deep`},
	} {
		t.Run(tc.rec, func(t *testing.T) {
			rows, err := decodeRows(t, Config{Format: "json", Columns: cols}, []byte(tc.rec))
			checkResult(t, rows, err, tc.want)
		})
	}
}

// TestJSONCatchAll gathers unknown top-level fields into a jsonb column.
func TestJSONCatchAll(t *testing.T) {
	cfg := Config{Format: "json", Columns: []Column{col("id", types.Int8), {Name: "v", Type: types.Int8, Path: []string{"o", "v"}}, col("props", types.JSONB)},
		Options: map[string]string{"json_catch_all": "props"}}
	rows, err := decodeRows(t, cfg,
		[]byte(`{"id": 1, "b": [1, 2], "a": "x", "o": {"v": 2, "w": 3}}`),
		[]byte(`{"id": 2}`),
		[]byte(`{"props": {"p": 1}, "id": 3}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`1|2|{"a": "x", "b": [1, 2]}`, `2|NULL|{}`, `3|NULL|{"props": {"p": 1}}`}
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got %q, want %q", rows, want)
	}
}

// TestJSONCatchAllOnly: a stream with the catch-all column alone.
func TestJSONCatchAllOnly(t *testing.T) {
	cfg := Config{Format: "json", Columns: []Column{col("all", types.JSONB)}, Options: map[string]string{"json_catch_all": "all"}}
	rows, err := decodeRows(t, cfg, []byte(`{"b": 1, "a": {"x": [true]}}`))
	checkResult(t, rows, err, `{"a": {"x": [true]}, "b": 1}`)
}

// TestJSONKeyOrder: fields in any order, keys that are prefixes of others,
// escaped keys and keys at the very end of the record all find their
// columns.
func TestJSONKeyOrder(t *testing.T) {
	cols := []Column{col("a", types.Int8), col("ab", types.Int8), col("abcdefghij", types.Int8), col("abcdefgh", types.Int8)}
	for _, rec := range []string{
		`{"a":1,"ab":2,"abcdefghij":3,"abcdefgh":4}`,
		`{"abcdefgh":4,"abcdefghij":3,"ab":2,"a":1}`,
		`{"ab":2,"a":1,"abcdefgh":4,"abcdefghij":3}`,
		`{"abcdefghik":9,"a":1,"abx":7,"ab":2,"abcdefgh":4,"abcdefghij":3}`,
		`{"\u0061":1,"a\u0062":2,"abcdefghij":3,"abcdefgh":4}`,
		`{"abcdefghij":3,"abcdefgh":4,"ab":2,"a":1}`,
	} {
		rows, err := decodeRows(t, Config{Format: "json", Columns: cols}, []byte(rec), []byte(rec))
		if err != nil || len(rows) != 2 || rows[0] != "1|2|3|4" || rows[1] != "1|2|3|4" {
			t.Errorf("%s: %q %v", rec, rows, err)
		}
	}
}

// TestJSONEvolution: a producer adds and drops fields while the stream runs.
func TestJSONEvolution(t *testing.T) {
	cfg := Config{Format: "json", Columns: []Column{col("a", types.Int8), col("b", types.Text), col("c", types.Float8)}}
	rows, err := decodeRows(t, cfg,
		[]byte(`{"a": 1, "b": "x", "c": 1.5}`),
		[]byte(`{"a": 2, "b": "y", "c": 2.5, "d": "new field"}`),
		[]byte(`{"a": 3, "c": 3.5}`),
		[]byte(`{"c": 4.5, "b": "z", "a": 4}`))
	if err != nil {
		t.Fatal(err)
	}
	want := "1|x|1.5 2|y|2.5 3|NULL|3.5 4|z|4.5"
	if got := strings.Join(rows, " "); got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

// TestJSONNotNull refuses a missing or null value for a NOT NULL column.
func TestJSONNotNull(t *testing.T) {
	cfg := Config{Format: "json", Name: "bids", Columns: []Column{col("a", types.Int8), {Name: "b", Type: types.Text, NotNull: true}}}
	for _, rec := range []string{`{"a": 1}`, `{"a": 1, "b": null}`} {
		_, err := decodeRows(t, cfg, []byte(`{"a": 0, "b": "ok"}`), []byte(rec))
		checkResult(t, nil, err, `ERROR 23502 null value in column "b" of stream "bids" violates not-null constraint`)
	}
}

// TestJSONErrorLeavesColumns decodes good and bad records alternately into
// the same columns: the bad ones leave no trace, including in null masks.
func TestJSONErrorLeavesColumns(t *testing.T) {
	cs := []Column{col("a", types.Int8), col("b", types.Text), col("n", types.Numeric), col("t", types.TimestampTZ), col("j", types.JSONB)}
	f, err := Compile(Config{Format: "json", Columns: cs})
	if err != nil {
		t.Fatal(err)
	}
	dec := f.NewDecoder()
	cols := newCols(cs, 0)
	good := []string{`{"a": 1, "b": "x", "n": 1.5, "t": 0, "j": [1]}`, `{"a": null, "b": null}`}
	bad := []string{`{"a": 2, "b": "y", "n": 2, "t": 0, "j": [}`, `{"a": 2, "b": "y", "n": 2, "t": "x"}`, `{"a": 2, "b": null, "n": 2, "t": 0, "j": {"a": "\u0000"}}`}
	for i := 0; i < 6; i++ {
		if err := dec.Decode([]byte(good[i%2]), cols); err != nil {
			t.Fatal(err)
		}
		if err := dec.Decode([]byte(bad[i%3]), cols); err == nil {
			t.Fatalf("%s: no error", bad[i%3])
		}
	}
	got := strings.Join(rowsText(cols), " ")
	want := strings.Repeat(`1|x|1.5|1970-01-01 00:00:00+00|[1] NULL|NULL|NULL|NULL|NULL `, 3)
	if got != strings.TrimSpace(want) {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestJSONBidRoundTrip(t *testing.T) {
	bids := genBids(100, 3)
	rows, err := decodeRows(t, Config{Format: "json", Columns: bidColumns}, bidsJSON(bids)...)
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range bids {
		at, _ := fastTimestamp(b.DateTime, true)
		want := strings.Join([]string{itoa(b.Auction), itoa(b.Bidder), itoa(b.Price), b.Channel, b.URL,
			types.FormatText(types.TimestampTZ, at, types.DefaultConfig()), b.Extra}, "|")
		if rows[i] != want {
			t.Fatalf("row %d: got %s, want %s", i, rows[i], want)
		}
	}
}

func itoa(x int64) string { return types.FormatText(types.Int8, x, nil) }

func BenchmarkJSONSluice(b *testing.B) {
	f, err := Compile(Config{Format: "json", Columns: bidColumns})
	if err != nil {
		b.Fatal(err)
	}
	benchDecode(b, f.NewDecoder(), bidColumns, bidsJSON(genBids(4096, 1)))
}

// TestJSONRandomObjects compares the decoder with encoding/json on random
// objects: keys in any order, near-miss keys, duplicates, escapes.
func TestJSONRandomObjects(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 1))
	names := []string{"id", "name", "auction", "date_time", "abcdefghijk"}
	cols := []Column{col("id", types.Int8), col("name", types.Text), col("auction", types.Int8), col("date_time", types.Text), col("abcdefghijk", types.Text)}
	pool := append(append([]string{}, names...), "i", "idx", "nam", "names", "auctio", "date_tim", "abcdefghijj", "", "x")
	f, err := Compile(Config{Format: "json", Columns: cols})
	if err != nil {
		t.Fatal(err)
	}
	dec := f.NewDecoder()
	for n := 0; n < 2000; n++ {
		var b strings.Builder
		b.WriteString("{")
		for k := r.IntN(8); k >= 0; k-- {
			key := pool[r.IntN(len(pool))]
			if r.IntN(10) == 0 && key != "" {
				key = `\u00` + fmt.Sprintf("%02x", key[0]) + key[1:]
			}
			fmt.Fprintf(&b, `"%s":`, key)
			if r.IntN(2) == 0 {
				fmt.Fprintf(&b, "%d", r.Int64N(1000)-500)
			} else {
				fmt.Fprintf(&b, `"v%d\n\"é"`, r.IntN(100))
			}
			if k > 0 {
				b.WriteString(",")
			}
		}
		b.WriteString("}")
		rec := []byte(b.String())
		var ref map[string]json.RawMessage
		if err := json.Unmarshal(rec, &ref); err != nil {
			t.Fatalf("%s: %v", rec, err)
		}
		vecs := newCols(cols, 1)
		err := dec.Decode(rec, vecs)
		var want []string
		wantErr := false
		for i, c := range cols {
			raw, ok := ref[c.Name]
			switch {
			case !ok:
				want = append(want, "NULL")
			case c.Type == types.Int8 && raw[0] == '"':
				wantErr = true
			default:
				var v any
				json.Unmarshal(raw, &v)
				want = append(want, fmt.Sprint(v))
			}
			_ = i
		}
		if wantErr {
			if err == nil {
				t.Fatalf("%s: no error", rec)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", rec, err)
		}
		if got := rowsText(vecs)[0]; got != strings.Join(want, "|") {
			t.Fatalf("%s:\ngot  %s\nwant %s", rec, got, strings.Join(want, "|"))
		}
	}
}
