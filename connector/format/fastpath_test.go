package format

import (
	"encoding/json"
	"testing"

	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// TestJSONFastPathsMatchTextInput decodes JSON values into integer and
// timestamp columns, one decoder a column type and the values in order
// (so that the timestamp's minute cache sees each after the one before),
// and checks each against the column type's text input of the value's
// text, which is what the decoder does for a value off its fast paths
// (commit's integers read by scanNumber, timestamps read from the minute
// before): the same value, or an error of the same SQLSTATE.
func TestJSONFastPathsMatchTextInput(t *testing.T) {
	for _, tc := range []struct {
		typ  *types.T
		vals []string // JSON values
	}{
		{typ: types.Int8, vals: []string{`0`, `-0`, `7`, `-7`, `123456789012345678`, `-123456789012345678`,
			`1234567890123456789`, `-1234567890123456789`, `9223372036854775807`, `-9223372036854775808`,
			`9223372036854775808`, `99999999999999999999`, `1.0`, `1e2`, `-1.5E-3`, `"17"`, `"-0"`, `"1_000"`, `" 42"`}},
		{typ: types.Int2, vals: []string{`32767`, `32768`, `-32768`, `-32769`, `100000000000000000`, `"32767"`}},
		{typ: types.Int4, vals: []string{`2147483647`, `2147483648`, `-2147483648`, `-2147483649`}},
		{typ: types.TimestampTZ, vals: []string{
			`"2026-01-02T03:04:05Z"`, `"2026-01-02T03:04:59.999999Z"`, `"2026-01-02T03:04:06+05:30"`,
			`"2026-01-02T03:04:07-0800"`, `"2026-01-02T03:04:08+01"`, `"2026-01-02t03:04:09z"`,
			`"2026-01-02T03:04:60Z"`,         // same minute, a second out of range
			`"2026-01-02T03:04:05.1234567Z"`, // same minute, past µs: Postgres rounds
			`"2026-01-02T03:04:05"`,          // same minute, no zone: the session's
			`"2026-01-02T03:04"`,             // same minute, too short
			`"2026-01-02T03:04:05\u005a"`,    // an escape: not the fast path
			`"2026-01-02 03:05:05.5Z"`, `"2026-01-02T03:04:05Z"`, `"2026-01-02T03:05:05Z"`,
			`"2024-02-29T23:59:59Z"`, `"2023-02-29T23:59:59Z"`, `"2024-02-29T23:59:58Z"`,
			`"2026-13-02T03:04:05Z"`, `"2026-01-02T24:04:05Z"`, `"2026-01-02T03:60:05Z"`,
			`"1970-01-01T00:00:00Z"`, `"1969-12-31T23:59:59.5Z"`, `"0001-01-01T00:00:00Z"`,
			`"2026-01-02T03:04:05.Z"`, `"2026-01-02T03:04:05Zx"`, `"2026-01-02T03:04:05+16:00"`, `"2026-01-02T03:04:05+0530"`,
		}},
		{typ: types.Timestamp, vals: []string{`"2026-01-02T03:04:05Z"`, `"2026-01-02T03:04:06+05:30"`, `"2026-01-02T03:04:07"`,
			`"2026-01-02T03:04:08.25-01:00"`, `"2026-01-02T03:04:61"`}},
	} {
		t.Run(tc.typ.String(), func(t *testing.T) {
			cfg := Config{Format: "json", Columns: []Column{col("c", tc.typ)}}
			f, err := Compile(cfg)
			if err != nil {
				t.Fatal(err)
			}
			dec := f.NewDecoder()
			tcfg := types.DefaultConfig()
			for _, val := range tc.vals {
				cols := newCols(cfg.Columns, 1)
				gotErr := dec.Decode([]byte(`{"c": `+val+`}`), cols)
				text := val
				if val[0] == '"' {
					if err := json.Unmarshal([]byte(val), &text); err != nil {
						t.Fatal(err)
					}
				}
				want, wantErr := types.ParseText(tc.typ, text, tcfg)
				switch {
				case gotErr != nil || wantErr != nil:
					if sqlerr.Code(gotErr) != sqlerr.Code(wantErr) {
						t.Errorf("%s: error %v, the text input's %v", val, gotErr, wantErr)
					}
				case types.FormatText(tc.typ, cols[0].Get(0), tcfg) != types.FormatText(tc.typ, want, tcfg):
					t.Errorf("%s: %s, the text input's %s", val, types.FormatText(tc.typ, cols[0].Get(0), tcfg), types.FormatText(tc.typ, want, tcfg))
				}
			}
		})
	}
}

// TestJSONTextFastPath checks text columns, which commit appends without
// put when their string is kept and ASCII: escapes, non-ASCII text, invalid
// UTF-8, numbers and booleans as text, and missing fields, mixed in one
// record with the integer and timestamp fast paths.
func TestJSONTextFastPath(t *testing.T) {
	cfg := Config{Format: "json", Columns: []Column{col("a", types.Int8), col("s", types.Text),
		col("at", types.TimestampTZ), col("u", types.Text)}}
	for _, tc := range []struct{ rec, want string }{
		{`{"a": 1, "s": "plain", "at": "2026-01-02T03:04:05Z", "u": "x"}`, "1|plain|2026-01-02 03:04:05+00|x"},
		{`{"a": 2, "s": "tab\there \"q\" \\ \/ \u00e9\ud83d\ude00", "u": "y"}`, "2|tab\there \"q\" \\ / é😀|NULL|y"},
		{`{"s": "Bäidu", "u": "ascii", "a": -3}`, "-3|Bäidu|NULL|ascii"},
		{`{"a": 4, "s": 12.50, "u": true}`, "4|12.50|NULL|true"},
		{`{"a": "5", "s": null, "at": "2026-01-02T03:04:06+01:00"}`, "5|NULL|2026-01-02 02:04:06+00|NULL"},
		{`{"a": 6, "s": "ok\u0000no"}`, "ERROR 22P05 unsupported Unicode escape sequence"},
		{"{\"a\": 7, \"s\": \"ok\xffno\"}", `ERROR 22021 column "s": invalid byte sequence for encoding "UTF8"`},
		{"{\"a\": 8, \"s\": \"fine\", \"u\": \"\xc3\"}", `ERROR 22021 column "u": invalid byte sequence for encoding "UTF8"`},
		{`{"a": 9, "s": "ok\qno"}`, "ERROR 22P02 malformed JSON: unexpected 'q'"},
	} {
		t.Run(tc.rec, func(t *testing.T) {
			rows, err := decodeRows(t, cfg, []byte(tc.rec))
			checkResult(t, rows, err, tc.want)
		})
	}
}
