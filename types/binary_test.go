package types

import (
	"bytes"
	"encoding/hex"
	"testing"
)

func TestBinaryKnown(t *testing.T) {
	cfg := DefaultConfig()
	cases := []struct {
		t   *T
		in  string // text form
		hex string // Postgres send format
	}{
		{Bool, "t", "01"},
		{Int2, "-2", "fffe"},
		{Int4, "1", "00000001"},
		{Int8, "-1", "ffffffffffffffff"},
		{Oid, "4294967295", "ffffffff"},
		{Float4, "1.5", "3fc00000"},
		{Float8, "-2", "c000000000000000"},
		{Numeric, "1.50", "0002000000000002" + "00011388"},
		{Numeric, "0", "0000000000000000"},
		{Numeric, "0.000", "0000000000000003"},
		{Numeric, "-12345.678", "0003" + "0001" + "4000" + "0003" + "0001" + "0929" + "1a7c"},
		{Numeric, "0.0001", "0001" + "ffff" + "0000" + "0004" + "0001"},
		{Numeric, "10000", "0001" + "0001" + "0000" + "0000" + "0001"},
		{Numeric, "NaN", "00000000c0000000"},
		{Numeric, "Infinity", "00000000d0000000"},
		{Numeric, "-Infinity", "00000000f0000000"},
		{Text, "héllo", hex.EncodeToString([]byte("héllo"))},
		{Bytea, `\x00ff`, "00ff"},
		{UUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "a0eebc999c0b4ef8bb6d6bb9bd380a11"},
		{Date, "2000-01-02", "00000001"},
		{Date, "1999-12-31", "ffffffff"},
		{Date, "infinity", "7fffffff"},
		{Date, "-infinity", "80000000"},
		{Time, "00:00:01", "00000000000f4240"},
		{Timestamp, "2000-01-01 00:00:01", "00000000000f4240"},
		{TimestampTZ, "1999-12-31 23:59:59+00", "fffffffffff0bdc0"},
		{Timestamp, "infinity", "7fffffffffffffff"},
		{Interval, "1 year 2 days 00:00:01", "00000000000f4240" + "00000002" + "0000000c"},
		{JSONB, `{"b":1,"a":2}`, "01" + hex.EncodeToString([]byte(`{"a": 2, "b": 1}`))},
		{JSON, `{"b":1}`, hex.EncodeToString([]byte(`{"b":1}`))},
		{ArrayOf(Int4), "{1,NULL}", "00000001" + "00000001" + "00000017" + "00000002" + "00000001" + "00000004" + "00000001" + "ffffffff"},
		{ArrayOf(Int4), "{}", "00000000" + "00000000" + "00000017"},
	}
	for _, c := range cases {
		d, err := ParseText(c.t, c.in, cfg)
		if err != nil {
			t.Fatalf("%s %q: %v", c.t, c.in, err)
		}
		b, err := AppendBinary(nil, c.t, d)
		if err != nil {
			t.Fatalf("%s %q: %v", c.t, c.in, err)
		}
		if got := hex.EncodeToString(b); got != c.hex {
			t.Errorf("AppendBinary(%s, %q) = %s, want %s", c.t, c.in, got, c.hex)
		}
		want, _ := hex.DecodeString(c.hex)
		back, err := ParseBinary(c.t, want)
		if err != nil {
			t.Errorf("ParseBinary(%s, %s): %v", c.t, c.hex, err)
			continue
		}
		if got, w := FormatText(c.t, back, cfg), FormatText(c.t, d, cfg); got != w {
			t.Errorf("ParseBinary(%s, %s) = %q, want %q", c.t, c.hex, got, w)
		}
	}
}

func TestBinaryMalformed(t *testing.T) {
	cases := []struct {
		t   *T
		hex string
	}{
		{Int4, "000001"},
		{Int4, "0000000100"},
		{Int8, ""},
		{Numeric, "0001"},
		{Numeric, "0001000000000000" + "2710"}, // digit 10000
		{Numeric, "0000000012340000"},          // bad sign
		{UUID, "00"},
		{JSONB, "02" + "7b7d"},
		{JSONB, "01" + "7b"},
		{Time, "ffffffffffffffff"},
		{Timestamp, "7ffffffffffffff0"},
		{ArrayOf(Int4), "00000001000000000000001a00000001" + "00000001"}, // wrong element type
		{ArrayOf(Int4), "00000001000000000000001700000005" + "00000001" + "00000004"},
		{ArrayOf(Int4), "00000001000000020000001700000000" + "00000001"},
		{Text, "ff"},
	}
	for _, c := range cases {
		b, _ := hex.DecodeString(c.hex)
		if d, err := ParseBinary(c.t, b); err == nil {
			t.Errorf("ParseBinary(%s, %s) = %v, want error", c.t, c.hex, d)
		}
	}
}

var fuzzTypes = []*T{Bool, Int2, Int4, Int8, Float4, Float8, Numeric, Text, Bytea, UUID, Date, Time, Timestamp,
	TimestampTZ, Interval, JSON, JSONB, Oid, ArrayOf(Int4), ArrayOf(Text), ArrayOf(Numeric), ArrayOf(Float8)}

func FuzzParseBinary(f *testing.F) {
	f.Add(uint8(6), []byte{0, 2, 0, 0, 0, 0, 0, 2, 0, 1, 0x13, 0x88})
	f.Add(uint8(18), []byte{0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0x17, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff})
	f.Add(uint8(16), []byte("\x01{\"a\": [1, 2]}"))
	f.Add(uint8(14), make([]byte, 16))
	f.Fuzz(func(t *testing.T, which uint8, b []byte) {
		typ := fuzzTypes[int(which)%len(fuzzTypes)]
		d, err := ParseBinary(typ, b)
		if err != nil {
			return
		}
		enc, err := AppendBinary(nil, typ, d)
		if err != nil {
			t.Fatalf("AppendBinary(%s, %v): %v", typ, d, err)
		}
		d2, err := ParseBinary(typ, enc)
		if err != nil {
			t.Fatalf("re-parse %s %x: %v", typ, enc, err)
		}
		if Compare(typ, d, d2) != 0 {
			t.Fatalf("%s: round trip %v -> %v", typ, d, d2)
		}
		enc2, _ := AppendBinary(nil, typ, d2)
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("%s: unstable encoding %x vs %x", typ, enc, enc2)
		}
		_ = AppendText(nil, typ, d, nil)
		_ = AppendKey(nil, typ, d)
	})
}
