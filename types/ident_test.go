package types

import (
	"slices"
	"testing"
)

// SplitIdentifiers reads lists as Postgres' SplitIdentifierString does.
func TestSplitIdentifiers(t *testing.T) {
	for _, tc := range []struct {
		in   string
		sep  byte
		want []string
		ok   bool
	}{
		{"", ',', nil, true},
		{"  ", ',', nil, true},
		{"ISO, MDY", ',', []string{"iso", "mdy"}, true},
		{`"$user", Public`, ',', []string{"$user", "public"}, true},
		{` public . "My""Table" `, '.', []string{"public", `My"Table`}, true},
		{"É.t", '.', []string{"É", "t"}, true},
		{"a,", ',', nil, false},
		{",a", ',', nil, false},
		{"a b", ',', nil, false},
		{`"a`, '.', nil, false},
		{`""`, '.', nil, false},
		{`"a"b`, '.', nil, false},
	} {
		got, ok := SplitIdentifiers(tc.in, tc.sep)
		if ok != tc.ok || !slices.Equal(got, tc.want) {
			t.Errorf("SplitIdentifiers(%q, %q) = %q, %v; want %q, %v", tc.in, tc.sep, got, ok, tc.want, tc.ok)
		}
	}
}
