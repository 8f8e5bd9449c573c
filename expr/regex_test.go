package expr

import (
	"fmt"
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

func TestRegexCache(t *testing.T) {
	var c RegexCache
	a, err := c.compile(`a+b`, "i")
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := c.compile(`a+b`, "i"); b != a {
		t.Error("the same pattern and flags compiled twice")
	}
	if b, _ := c.compile(`a+b`, ""); b == a {
		t.Error("other flags share a compiled pattern")
	}
	if _, err := c.compile(`a(`, ""); err == nil {
		t.Error("a bad pattern compiled")
	}
	for i := range 3 * regexCacheSize {
		if _, err := c.compile(fmt.Sprintf("x%d", i), ""); err != nil {
			t.Fatal(err)
		}
		if len(c.m) > regexCacheSize {
			t.Fatalf("cache holds %d patterns, bound %d", len(c.m), regexCacheSize)
		}
	}
	var none *RegexCache
	if re, err := none.compile(`a+b`, ""); err != nil || !re.MatchString("xaab") {
		t.Errorf("no cache: %v, %v", re, err)
	}
}
