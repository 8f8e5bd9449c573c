package types

import (
	"bytes"
	"math"
	"testing"

	"github.com/cockroachdb/apd/v3"
)

// TestCompareAndKey checks that each list is in ascending Compare order (equal
// neighbours marked) and that AppendKey agrees: same bytes for equal values,
// bytewise order otherwise, NULL first.
func TestCompareAndKey(t *testing.T) {
	cfg := DefaultConfig()
	lists := []struct {
		t    *T
		vals []string // ascending; "=x" means equal to the previous value
	}{
		{Int4, []string{"-2147483648", "-1", "0", "1", "2147483647"}},
		{Float8, []string{"-Infinity", "-1e300", "-1", "-0", "=0", "1e-300", "1", "Infinity", "NaN", "=NaN"}},
		{Numeric, []string{"-Infinity", "-100", "-10.5", "-10.25", "-1", "-0.001", "0", "=0.000", "0.001", "0.0011", "1", "=1.0", "=1.00", "1.5", "10", "10.5", "100", "Infinity", "NaN"}},
		{Text, []string{"", "A", "a", "a\x00", "a\x00b", "ab", "b"}},
		{BPChar, []string{"a", "=a  ", "ab", "b"}},
		{Bytea, []string{`\x`, `\x00`, `\x0000`, `\x01`, `\xff`}},
		{Date, []string{"-infinity", "0044-03-15 BC", "1969-12-31", "2024-01-02", "infinity"}},
		{Interval, []string{"-1 mon", "-1 day", "-00:00:01", "0", "00:00:00.000001", "1 day", "=24 hours", "29 days 23:00:00", "1 mon", "=30 days", "=720 hours", "1 mon 00:00:01", "1 year"}},
		{Bool, []string{"f", "t"}},
		{UUID, []string{"00000000-0000-0000-0000-000000000000", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"}},
		{JSONB, []string{"null", `""`, `"a"`, "-1", "1", "=1.0", "2", "false", "true", "[]", "[3]", "[1, 2]", `{}`, `{"b": 1}`, `{"a": 1, "b": 2}`}},
		{ArrayOf(Int4), []string{"{}", "{1}", "{1,2}", "{1,NULL}", "{2}", "{NULL}"}},
		{ArrayOf(Numeric), []string{"{1.0}", "={1}", "{1.5}"}},
	}
	for _, l := range lists {
		var prev Datum
		var prevKey []byte
		nullKey := AppendKey(nil, l.t, nil)
		for i, s := range l.vals {
			eq := len(s) > 1 && s[0] == '='
			if eq {
				s = s[1:]
			}
			d, err := ParseText(l.t, s, cfg)
			if err != nil {
				t.Fatalf("%s %q: %v", l.t, s, err)
			}
			key := AppendKey(nil, l.t, d)
			if bytes.Compare(nullKey, key) >= 0 {
				t.Errorf("%s %q: NULL key does not sort first", l.t, s)
			}
			if i > 0 {
				want := -1
				if eq {
					want = 0
				}
				if c := Compare(l.t, prev, d); c != want {
					t.Errorf("Compare(%s, %q, %q) = %d, want %d", l.t, l.vals[i-1], s, c, want)
				}
				if c := Compare(l.t, d, prev); c != -want {
					t.Errorf("Compare(%s, %q, %q) = %d, want %d", l.t, s, l.vals[i-1], c, -want)
				}
				if c := bytes.Compare(prevKey, key); c != want {
					t.Errorf("key order %s %q vs %q = %d, want %d (%x %x)", l.t, l.vals[i-1], s, c, want, prevKey, key)
				}
			}
			prev, prevKey = d, key
		}
	}
}

// TestKeySelfDelimiting checks that concatenated keys (composite GROUP BY
// keys) keep their order.
func TestKeySelfDelimiting(t *testing.T) {
	a := AppendKey(AppendKey(nil, Text, "a"), Int4, int64(2))
	b := AppendKey(AppendKey(nil, Text, "ab"), Int4, int64(1))
	if bytes.Compare(a, b) >= 0 {
		t.Errorf("(a,2) should sort before (ab,1)")
	}
	c := AppendKey(AppendKey(nil, Text, nil), Int4, int64(9))
	if bytes.Compare(c, a) >= 0 {
		t.Errorf("(NULL,9) should sort before (a,2)")
	}
}

// TestDecodeKey checks that DecodeKey reads back, in order, the values a
// composite key of every type KeyDecodes holds (NULLs, empty strings and
// strings holding 0x00 included), and refuses the others and cut keys.
func TestDecodeKey(t *testing.T) {
	cols := []struct {
		t    *T
		vals []Datum
	}{
		{Bool, []Datum{true, false, nil}},
		{Int8, []Datum{int64(math.MinInt64), int64(-1), int64(0), int64(math.MaxInt64), nil}},
		{TimestampTZ, []Datum{int64(1700000000000000), nil}},
		{Text, []Datum{"", "city", "a\x00b\x00", "\x00", "\xff\x00\x01", nil}},
		{Varchar, []Datum{"x"}},
		{Bytea, []Datum{"\x00\x01\x02", ""}},
		{JSON, []Datum{`{"a": 1}`}},
	}
	for _, c := range cols {
		if !KeyDecodes(c.t) {
			t.Fatalf("%s does not decode", c.t)
		}
	}
	for i := range 6 {
		var key []byte
		var want []Datum
		for _, c := range cols {
			d := c.vals[i%len(c.vals)]
			key = AppendKey(key, c.t, d)
			want = append(want, d)
		}
		rest := key
		for j, c := range cols {
			var d Datum
			var ok bool
			d, rest, ok = DecodeKey(rest, c.t)
			if !ok || d != want[j] {
				t.Fatalf("column %d (%s) of %x: got %v (%v), want %v", j, c.t, key, d, ok, want[j])
			}
		}
		if len(rest) != 0 {
			t.Fatalf("%x: %d bytes left", key, len(rest))
		}
		for cut := range key {
			rest, ok := key[:cut], true
			for _, c := range cols {
				if _, rest, ok = DecodeKey(rest, c.t); !ok {
					break
				}
			}
			if ok && len(rest) == 0 {
				t.Fatalf("%x cut at %d decodes", key, cut)
			}
		}
	}
	for _, typ := range []*T{UUID, BPChar, Numeric, JSONB} {
		if KeyDecodes(typ) {
			t.Errorf("%s decodes", typ)
		}
		if _, _, ok := DecodeKey(AppendKey(nil, Text, nil), typ); ok {
			t.Errorf("%s decoded a key", typ)
		}
	}
}

// Numerics of one identity (SameDecimalIdentity) hash alike with
// DecimalIdentityHash, whatever their sign bit (zeros, NaNs); small ones
// of different identities hash apart.
func TestDecimalIdentityHash(t *testing.T) {
	parse := func(s string) *apd.Decimal {
		d, _, err := apd.NewFromString(s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	vals := []string{"0", "-0", "0.00", "-0.00", "1", "1.0", "1.00", "-1", "-1.0", "123456789012345678901234567890",
		"-123456789012345678901234567890", "1234567890123456789012345678.90", "18446744073709551615", "18446744073709551616",
		"NaN", "sNaN", "Infinity", "-Infinity", "1e5", "10e4", "100e3"}
	for _, a := range vals {
		for _, b := range vals {
			da, db := parse(a), parse(b)
			same, hashed := SameDecimalIdentity(da, db), DecimalIdentityHash(da) == DecimalIdentityHash(db)
			if same && !hashed {
				t.Errorf("%s and %s: one identity, hashed apart", a, b)
			}
			if !same && hashed && len(a) < 20 && len(b) < 20 {
				t.Errorf("%s and %s: identities apart, one hash", a, b)
			}
		}
	}
}
