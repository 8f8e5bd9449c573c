package types

import (
	"testing"
	"time"
)

func TestCastDatum(t *testing.T) {
	utc := DefaultConfig()
	paris, _ := time.LoadLocation("Europe/Paris")
	parisCfg := &Config{Location: paris, ExtraFloatDigits: 1}
	vc3 := &T{Family: StringFamily, Oid: OidVarchar, Width: 3}
	bp5 := &T{Family: StringFamily, Oid: OidBPChar, Width: 5}
	n32 := &T{Family: NumericFamily, Oid: OidNumeric, Width: 3, Scale: 2}
	n52 := &T{Family: NumericFamily, Oid: OidNumeric, Width: 5, Scale: 2}
	n101 := &T{Family: NumericFamily, Oid: OidNumeric, Width: 10, Scale: 1}
	cases := []struct {
		from     string // type name
		in       string // text input of the source value
		to       *T
		explicit bool
		cfg      *Config
		want     string // text output, or error
	}{
		{"float8", "2.5", Int4, true, nil, "2"},
		{"float8", "3.5", Int4, true, nil, "4"},
		{"float8", "-2.5", Int4, true, nil, "-2"},
		{"float8", "3e9", Int4, true, nil, "ERROR 22003 integer out of range"},
		{"float8", "NaN", Int8, true, nil, "ERROR 22003 bigint out of range"},
		{"float8", "1e10", Float4, true, nil, "1e+10"},
		{"float8", "1e39", Float4, true, nil, "ERROR 22003 value out of range: overflow"},
		{"numeric", "2.5", Int4, true, nil, "3"},
		{"numeric", "-2.5", Int4, true, nil, "-3"},
		{"numeric", "NaN", Int4, true, nil, "ERROR 0A000 cannot convert NaN to integer"},
		{"numeric", "Infinity", Int2, true, nil, "ERROR 0A000 cannot convert infinity to smallint"},
		{"int4", "32768", Int2, true, nil, "ERROR 22003 smallint out of range"},
		{"int8", "2147483648", Int4, false, nil, "ERROR 22003 integer out of range"},
		{"int4", "-1", Oid, true, nil, "4294967295"},
		{"int8", "-1", Oid, true, nil, "ERROR 22003 OID out of range"},
		{"int4", "1", Bool, true, nil, "t"},
		{"int4", "0", Bool, true, nil, "f"},
		{"bool", "t", Int4, true, nil, "1"},
		{"bool", "t", Text, true, nil, "true"},
		{"bool", "f", Varchar, false, nil, "false"},
		{"int4", "42", Text, false, nil, "42"},
		{"float4", "0.1", Numeric, true, nil, "0.1"},
		{"float8", "1.5", n32, true, nil, "1.50"},
		{"float8", "12345.678", Numeric, true, nil, "12345.678"},
		{"float8", "1e16", Numeric, true, nil, "10000000000000000"},
		{"float8", "1e-5", Numeric, true, nil, "0.00001"},
		{"float8", "-0", Numeric, true, nil, "0"},
		{"float8", "1e300", n52, true, nil, "ERROR 22003 numeric field overflow DETAIL A field with precision 5, scale 2 must round to an absolute value less than 10^3."},
		{"numeric", "1.25", n101, true, nil, "1.3"},
		{"numeric", "-1.25", n101, true, nil, "-1.3"},
		{"numeric", "Infinity", n101, true, nil, "ERROR 22003 numeric field overflow DETAIL A field with precision 10, scale 1 cannot hold an infinite value."},
		{"numeric", "1.5", Float8, false, nil, "1.5"},
		{"int8", "9007199254740993", Float8, false, nil, "9.007199254740992e+15"},
		{"text", "abcdef", vc3, true, nil, "abc"},
		{"text", "abcdef", vc3, false, nil, "ERROR 22001 value too long for type character varying(3)"},
		{"text", "abc   ", vc3, false, nil, "abc"},
		{"text", "ab", bp5, false, nil, "ab   "},
		{"bpchar", "ab   ", Text, false, nil, "ab"},
		{"text", " 12 ", Int4, true, nil, "12"},
		{"text", "x", Int4, true, nil, "ERROR 22P02 invalid input syntax for type integer: \"x\""},
		{"text", "yes", Bool, true, nil, "t"},
		{"date", "2024-07-01", Timestamp, false, nil, "2024-07-01 00:00:00"},
		{"date", "2024-07-01", TimestampTZ, false, parisCfg, "2024-07-01 00:00:00+02"},
		{"date", "infinity", TimestampTZ, false, parisCfg, "infinity"},
		{"timestamptz", "2024-07-01 23:30:00+00", Date, false, parisCfg, "2024-07-02"},
		{"timestamptz", "2024-07-01 23:30:00+00", Time, false, parisCfg, "01:30:00"},
		{"timestamptz", "2024-07-01 23:30:00+00", Timestamp, false, parisCfg, "2024-07-02 01:30:00"},
		{"timestamp", "2024-07-01 23:30:00", TimestampTZ, false, parisCfg, "2024-07-01 23:30:00+02"},
		{"timestamp", "2024-07-01 23:30:00", Time, false, utc, "23:30:00"},
		{"timestamp", "-infinity", Date, false, utc, "-infinity"},
		{"time", "01:02:03", Interval, false, utc, "01:02:03"},
		{"interval", "-1 day 01:00:00", Time, false, utc, "01:00:00"},
		{"interval", "1 day 25:00:00", Time, false, utc, "01:00:00"},
		{"interval", "-01:00:00", Time, false, utc, "23:00:00"},
		{"json", `{"b":1,"a":2}`, JSONB, false, nil, `{"a": 2, "b": 1}`},
		{"jsonb", `{"a": 1}`, JSON, false, nil, `{"a": 1}`},
		{"jsonb", `1.5`, Int4, true, nil, "2"},
		{"jsonb", `1.5`, Numeric, true, nil, "1.5"},
		{"jsonb", `true`, Bool, true, nil, "t"},
		{"jsonb", `"a"`, Int4, true, nil, "ERROR 22023 cannot cast jsonb string to type integer"},
		{"jsonb", `null`, Int4, true, nil, "ERROR 22023 cannot cast jsonb null to type integer"},
		{"float8[]", "{1.5,2.5,NULL}", ArrayOf(Int4), true, nil, "{2,2,NULL}"},
		{"int4[]", "{1,2}", ArrayOf(Text), true, nil, "{1,2}"},
		{"text", "{1,2}", ArrayOf(Int8), true, nil, "{1,2}"},
		{"uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", Text, true, nil, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
		{"bytea", `\x0102`, Text, true, nil, `\x0102`},
		{"oid", "4294967295", Int8, true, nil, "4294967295"},
		{"oid", "4294967295", Int4, true, nil, "-1"},
		{"int4", "1259", Regclass, false, nil, "1259"},
	}
	for _, c := range cases {
		from := testType(t, c.from)
		cfg := c.cfg
		if cfg == nil {
			cfg = utc
		}
		d, err := ParseText(from, c.in, cfg)
		if err != nil {
			t.Fatalf("%s %q: %v", c.from, c.in, err)
		}
		r, err := CastDatum(d, from, c.to, c.explicit, cfg)
		var got string
		if err != nil {
			got = errString(err)
		} else {
			got = FormatText(c.to, r, cfg)
		}
		if got != c.want {
			t.Errorf("%s %q -> %s (explicit=%v): got %q, want %q", c.from, c.in, c.to, c.explicit, got, c.want)
		}
	}
	if r, err := CastDatum(nil, Int4, Text, false, nil); r != nil || err != nil {
		t.Errorf("NULL cast: %v %v", r, err)
	}
}

func TestCanCast(t *testing.T) {
	cases := []struct {
		from, to           *T
		implicit, explicit bool
	}{
		{Int4, Int8, true, true},
		{Int8, Int4, false, true},
		{Int2, Numeric, true, true},
		{Numeric, Float8, true, true},
		{Float8, Numeric, false, true},
		{Float8, Int4, false, true},
		{Text, Int4, false, true},
		{Int4, Text, false, true},
		{Varchar, Text, true, true},
		{Text, Varchar, true, true},
		{BPChar, Text, true, true},
		{Int4, Bool, false, true},
		{Bool, Int4, false, true},
		{Bool, Int8, false, false},
		{Date, Timestamp, true, true},
		{Date, TimestampTZ, true, true},
		{Timestamp, TimestampTZ, true, true},
		{TimestampTZ, Timestamp, false, true},
		{Timestamp, Date, false, true},
		{Time, Interval, true, true},
		{Interval, Time, false, true},
		{Date, Int4, false, false},
		{UUID, Int4, false, false},
		{JSON, JSONB, false, true},
		{JSONB, Int4, false, true},
		{Int4, Oid, true, true},
		{Oid, Regclass, true, true},
		{Unknown, Date, true, true},
		{ArrayOf(Int4), ArrayOf(Int8), true, true},
		{ArrayOf(Int8), ArrayOf(Int4), false, true},
		{ArrayOf(Int4), Int4, false, false},
	}
	for _, c := range cases {
		i, e := CanCast(c.from, c.to)
		if i != c.implicit || e != c.explicit {
			t.Errorf("CanCast(%s, %s) = %v, %v; want %v, %v", c.from, c.to, i, e, c.implicit, c.explicit)
		}
	}
}
