package types

import (
	"math"
	"testing"
	"time"

	"github.com/cockroachdb/apd/v3"
)

func mustLoc(t *testing.T, name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestAppendText checks outputs recorded from PostgreSQL that the text-input
// golden file cannot express (session settings, values built in Go).
func TestAppendText(t *testing.T) {
	efd0 := &Config{Location: time.UTC, ExtraFloatDigits: 0}
	kolkata := &Config{Location: mustLoc(t, "Asia/Kolkata"), ExtraFloatDigits: 1}
	stjohns := &Config{Location: mustLoc(t, "America/St_Johns"), ExtraFloatDigits: 1}
	ams := &Config{Location: mustLoc(t, "Europe/Amsterdam"), ExtraFloatDigits: 1}
	paris := &Config{Location: mustLoc(t, "Europe/Paris"), ExtraFloatDigits: 1}
	ts := func(s string) int64 {
		d, err := ParseText(TimestampTZ, s, DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		return d.(int64)
	}
	cases := []struct {
		t    *T
		d    Datum
		cfg  *Config
		want string
	}{
		{Bool, true, nil, "t"},
		{Float8, 0.1, efd0, "0.1"},
		{Float8, 1e20, efd0, "1e+20"},
		{Float4, float64(float32(3.14159265358979)), efd0, "3.14159"},
		{Float8, 1.0 / 3, efd0, "0.333333333333333"},
		{Float4, float64(float32(123456789012)), efd0, "1.23457e+11"},
		{Float8, 1.0 / 3, nil, "0.3333333333333333"},
		{Float8, math.Copysign(0, -1), nil, "-0"},
		{Float4, math.Inf(-1), nil, "-Infinity"},
		{Numeric, apd.New(150, -2), nil, "1.50"},
		{Numeric, apd.New(15, 2), nil, "1500"},
		{Numeric, &apd.Decimal{Form: apd.Infinite}, nil, "Infinity"},
		{Numeric, &apd.Decimal{Form: apd.NaN}, nil, "NaN"},
		{Bytea, "\x0a\x0b", nil, `\x0a0b`},
		{Bytea, "", nil, `\x`},
		{UUID, "\xa0\xee\xbc\x99\x9c\x0b\x4e\xf8\xbb\x6d\x6b\xb9\xbd\x38\x0a\x11", nil, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
		{Date, int64(-1), nil, "1969-12-31"},
		{Date, DaysFromCivil(-43, 3, 15), nil, "0044-03-15 BC"},
		{Date, PosInfinity, nil, "infinity"},
		{Time, int64(13*MicrosPerHour + 4*MicrosPerMinute + 5*MicrosPerSecond + 123000), nil, "13:04:05.123"},
		{Time, MicrosPerDay, nil, "24:00:00"},
		{Timestamp, int64(-1), nil, "1969-12-31 23:59:59.999999"},
		{TimestampTZ, ts("2024-01-02 03:04:05+00"), kolkata, "2024-01-02 08:34:05+05:30"},
		{TimestampTZ, ts("2024-01-02 03:04:05+00"), stjohns, "2024-01-01 23:34:05-03:30"},
		{TimestampTZ, ts("1900-01-01 00:00:00+00"), ams, "1900-01-01 00:19:32+00:19:32"},
		{TimestampTZ, ts("2024-07-01 12:00:00+00"), paris, "2024-07-01 14:00:00+02"},
		{TimestampTZ, NegInfinity, paris, "-infinity"},
		{Interval, IntervalValue{}, nil, "00:00:00"},
		{Interval, IntervalValue{Months: 14, Days: 3, Micros: 4*MicrosPerHour + 5*MicrosPerMinute + 6*MicrosPerSecond + 500000}, nil, "1 year 2 mons 3 days 04:05:06.5"},
		{Interval, IntervalValue{Days: -1, Micros: 2 * MicrosPerHour}, nil, "-1 days +02:00:00"},
		{Interval, IntervalValue{Months: -1}, nil, "-1 mons"},
		{Interval, IntervalValue{Months: 1, Days: 1}, nil, "1 mon 1 day"},
		{Interval, IntervalValue{Micros: -1}, nil, "-00:00:00.000001"},
		{ArrayOf(Text), &Array{Elem: Text, Elems: []Datum{"a b", `x"y`, nil, "", "NULL", `back\slash`, "{}", "plain"}}, nil,
			`{"a b","x\"y",NULL,"","NULL","back\\slash","{}",plain}`},
		{ArrayOf(Int4), &Array{Elem: Int4, Elems: []Datum{int64(1), int64(2), nil}}, nil, "{1,2,NULL}"},
		{ArrayOf(Int4), &Array{Elem: Int4, Elems: []Datum{}}, nil, "{}"},
		{ArrayOf(TimestampTZ), &Array{Elem: TimestampTZ, Elems: []Datum{int64(0)}}, nil, `{"1970-01-01 00:00:00+00"}`},
		{JSONB, `{"a": 1}`, nil, `{"a": 1}`},
		{Oid, int64(4294967295), nil, "4294967295"},
	}
	for _, c := range cases {
		got := string(AppendText(nil, c.t, c.d, c.cfg))
		if got != c.want {
			t.Errorf("AppendText(%s, %v) = %q, want %q", c.t, c.d, got, c.want)
		}
	}
}

func TestParseTextMore(t *testing.T) {
	now := time.Date(2024, 5, 6, 22, 30, 0, 0, time.UTC)
	paris := &Config{Location: mustLoc(t, "Europe/Paris"), ExtraFloatDigits: 1, Now: now}
	utc := &Config{Location: time.UTC, ExtraFloatDigits: 1, Now: now}
	vc3 := &T{Family: StringFamily, Oid: OidVarchar, Width: 3}
	cases := []struct {
		t    *T
		in   string
		cfg  *Config
		want string
	}{
		// PostgreSQL 16 integer syntax.
		{Int4, "1_000", utc, "1000"},
		{Int4, "0x1F", utc, "31"},
		{Int4, "-0o17", utc, "-15"},
		{Int8, "0b101", utc, "5"},
		{Int4, "1__0", utc, `ERROR 22P02 invalid input syntax for type integer: "1__0"`},
		{Int4, "_1", utc, `ERROR 22P02 invalid input syntax for type integer: "_1"`},
		{Int2, "", utc, `ERROR 22P02 invalid input syntax for type smallint: ""`},
		{Numeric, "1_000.5", utc, "1000.5"},
		{Numeric, "0x10", utc, "16"},
		{Bool, "", utc, `ERROR 22P02 invalid input syntax for type boolean: ""`},
		// Session-dependent literals.
		{Date, "today", utc, "2024-05-06"},
		{Date, "today", paris, "2024-05-07"},
		{Date, "tomorrow", utc, "2024-05-07"},
		{Timestamp, "now", paris, "2024-05-07 00:30:00"},
		{TimestampTZ, "now", paris, "2024-05-07 00:30:00+02"},
		{TimestampTZ, "today", paris, "2024-05-07 00:00:00+02"},
		{TimestampTZ, "yesterday", utc, "2024-05-05 00:00:00+00"},
		{Time, "now", utc, "22:30:00"},
		{TimestampTZ, "2024-01-02 03:04:05", paris, "2024-01-02 03:04:05+01"},
		{TimestampTZ, "2024-03-31 02:30:00", paris, "2024-03-31 03:30:00+02"},
		{TimestampTZ, "2024-10-27 02:30:00", paris, "2024-10-27 02:30:00+01"},
		{TimestampTZ, "2024-01-02 03:04:05 Asia/Kolkata", utc, "2024-01-01 21:34:05+00"},
		{vc3, "abcd", utc, "ERROR 22001 value too long for type character varying(3)"},
		{vc3, "abc  ", utc, "abc"},
		{Name, string(make([]byte, 70)), utc, string(make([]byte, 63))},
		{JSON, `{"a" : 1}`, utc, `{"a" : 1}`},
		{JSONB, `"\ud83d\ude00"`, utc, `"😀"`},
		{JSONB, `"\u0000"`, utc, `ERROR 22P05 unsupported Unicode escape sequence DETAIL \u0000 cannot be converted to text.`},
		{ArrayOf(Int4), "[1:2]={1,2}", utc, "{1,2}"},
		{ArrayOf(Int4), "{1,x}", utc, `ERROR 22P02 invalid input syntax for type integer: "x"`},
		{Interval, "1 day 1:30 2 hours", utc, `ERROR 22007 invalid input syntax for type interval: "1 day 1:30 2 hours"`},
		{Interval, "ago 1 day", utc, `ERROR 22007 invalid input syntax for type interval: "ago 1 day"`},
	}
	for _, c := range cases {
		d, err := ParseText(c.t, c.in, c.cfg)
		var got string
		if err != nil {
			got = errString(err)
		} else {
			got = FormatText(c.t, d, c.cfg)
		}
		if got != c.want {
			t.Errorf("ParseText(%s, %q) = %q, want %q", c.t, c.in, got, c.want)
		}
	}
}
