package expr

import (
	"math/rand/v2"
	"regexp"
	"regexp/syntax"
	"testing"
)

// TestRequiredLiteral checks the literal every match must contain, and
// that matching with it gives what RE2 alone gives on strings with and
// without it.
func TestRequiredLiteral(t *testing.T) {
	for _, c := range []struct{ pattern, must string }{
		{`(?:&|^)channel_id=([^&]*)`, "channel_id="},
		{`abc`, "abc"},
		{`(?i)abc`, ""},
		{`a(?i:bc)de`, "de"},
		{`x|channel`, ""},
		{`(foo)+bar?`, "foo"},
		{`(foo){2,3}`, "foo"},
		{`(foo)*z`, "z"},
		{`(foo){0,3}`, ""},
		{`^\d+-(\w+)$`, "-"},
		{`.*`, ""},
	} {
		tree, err := syntax.Parse("(?s)"+c.pattern, syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		if got := requiredLiteral(tree.Simplify()); got != c.must {
			t.Errorf("%s: required %q, want %q", c.pattern, got, c.must)
		}
		re, err := compileRegex(c.pattern, "")
		if err != nil {
			t.Fatal(err)
		}
		plain := regexp.MustCompile("(?s)" + c.pattern)
		rng := rand.New(rand.NewPCG(uint64(len(c.pattern)), 7))
		alphabet := []string{"a", "b", "c", "d", "e", "&", "x", "-", "1", "foo", "bar", "channel_id=", "ABC", "z", "\n"}
		for range 2000 {
			s := ""
			for range rng.IntN(8) {
				s += alphabet[rng.IntN(len(alphabet))]
			}
			if re.MatchString(s) != plain.MatchString(s) {
				t.Fatalf("%s on %q: match %v, RE2 %v", c.pattern, s, re.MatchString(s), plain.MatchString(s))
			}
			if a, b := re.FindStringSubmatchIndex(s), plain.FindStringSubmatchIndex(s); len(a) != len(b) {
				t.Fatalf("%s on %q: %v, RE2 %v", c.pattern, s, a, b)
			}
			if a, b := re.FindAllStringIndex(s, -1), plain.FindAllStringIndex(s, -1); len(a) != len(b) {
				t.Fatalf("%s on %q: %v, RE2 %v", c.pattern, s, a, b)
			}
		}
	}
}
