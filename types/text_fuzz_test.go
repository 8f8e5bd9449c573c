package types

import "testing"

// FuzzParseText feeds arbitrary text to every type's input function: it may
// fail, never panic, and what it accepts must print and read back the same.
func FuzzParseText(f *testing.F) {
	for _, s := range []string{"1", "-1.5e10", "2024-02-29 12:00:00+05:30", "1 year 2 mons -3 days 04:05:06.7", "{1,NULL,\"a b\"}", `{"a": [1, 2]}`, "\\x0a0b", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "infinity", "NaN", "t"} {
		f.Add(s)
	}
	all := []*T{Bool, Int2, Int4, Int8, Float4, Float8, Numeric, Text, Varchar, BPChar, Bytea, UUID, Date, Time, Timestamp, TimestampTZ, Interval, JSON, JSONB, ArrayOf(Int4), ArrayOf(Text)}
	cfg := DefaultConfig()
	f.Fuzz(func(t *testing.T, s string) {
		for _, typ := range all {
			d, err := ParseText(typ, s, cfg)
			if err != nil || d == nil {
				continue
			}
			out := string(AppendText(nil, typ, d, cfg))
			d2, err := ParseText(typ, out, cfg)
			if err != nil {
				t.Fatalf("%s: %q parsed, printed as %q, which does not parse: %v", typ, s, out, err)
			}
			if out2 := string(AppendText(nil, typ, d2, cfg)); out2 != out {
				t.Fatalf("%s: %q printed %q, then %q", typ, s, out, out2)
			}
		}
	})
}
