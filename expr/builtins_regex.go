package expr

import (
	"regexp"
	"regexp/syntax"
	"strings"
	"sync"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// Postgres regular expressions are Spencer ARE; Go's RE2 agrees on the common
// subset. translateARE maps the ARE-only escapes RE2 lacks (\y \m \M \Z,
// [[:<:]]) and sets ARE's default of "." matching newline. Back-references and
// lookaround have no RE2 equivalent and report an error.

type regexKey struct{ pattern, flags string }

// RegexCache holds compiled patterns for reuse across rows, chunks and
// statements: regexp_replace and friends take their pattern per row, and
// compiling it each time costs more than the match. An engine keeps one
// and hands it to every EvalCtx; a nil cache compiles every time. It
// forgets everything once it holds regexCacheSize patterns, so patterns
// built from data cannot grow it without bound.
type RegexCache struct {
	mu sync.Mutex
	m  map[regexKey]*regex
}

const regexCacheSize = 512

// regex is a compiled pattern with the text every match contains, if any:
// a string without it cannot match, and saying so costs a substring search
// where RE2's backtracker tries every position (Nexmark q21's
// `(?:&|^)channel_id=([^&]*)` over URLs without a channel_id). Its
// matching methods shadow the Regexp's that callers use.
type regex struct {
	*regexp.Regexp
	must string
}

func (r *regex) MatchString(s string) bool {
	return r.could(s) && r.Regexp.MatchString(s)
}

func (r *regex) FindStringSubmatchIndex(s string) []int {
	if !r.could(s) {
		return nil
	}
	return r.Regexp.FindStringSubmatchIndex(s)
}

func (r *regex) FindAllStringSubmatchIndex(s string, n int) [][]int {
	if !r.could(s) {
		return nil
	}
	return r.Regexp.FindAllStringSubmatchIndex(s, n)
}

func (r *regex) FindAllStringIndex(s string, n int) [][]int {
	if !r.could(s) {
		return nil
	}
	return r.Regexp.FindAllStringIndex(s, n)
}

func (r *regex) could(s string) bool {
	return r.must == "" || strings.Contains(s, r.must)
}

// requiredLiteral returns the longest literal that every match of re
// contains (case-sensitively), or "".
func requiredLiteral(re *syntax.Regexp) string {
	switch re.Op {
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase != 0 {
			return ""
		}
		return string(re.Rune)
	case syntax.OpCapture, syntax.OpPlus:
		return requiredLiteral(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return requiredLiteral(re.Sub[0])
		}
	case syntax.OpConcat:
		best := ""
		for _, sub := range re.Sub {
			if l := requiredLiteral(sub); len(l) > len(best) {
				best = l
			}
		}
		return best
	}
	return ""
}

// compile returns the compiled ARE pattern with regexp_* flags, from the
// cache when it holds it.
func (c *RegexCache) compile(pattern, flags string) (*regex, error) {
	if c == nil {
		return compileRegex(pattern, flags)
	}
	key := regexKey{pattern, flags}
	c.mu.Lock()
	re, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return re, nil
	}
	re, err := compileRegex(pattern, flags)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= regexCacheSize {
		c.m = map[regexKey]*regex{}
	}
	c.m[key] = re
	c.mu.Unlock()
	return re, nil
}

// regex compiles a pattern through the context's cache, if there is one.
func (c *EvalCtx) regex(pattern, flags string) (*regex, error) {
	if c == nil {
		return compileRegex(pattern, flags)
	}
	return c.Regexes.compile(pattern, flags)
}

// compileRegex compiles an ARE pattern with regexp_* flags (i, n, g and x
// are accepted; g is the caller's business).
func compileRegex(pattern, flags string) (*regex, error) {
	prefix := "(?s)"
	for _, f := range flags {
		switch f {
		case 'i':
			prefix += "(?i)"
		case 'c', 'g':
		case 'n', 'm':
			prefix = strings.Replace(prefix, "(?s)", "", 1) + "(?m)"
		case 's':
		case 'x', 'e', 'b', 'q', 'p', 'w', 't':
			// Accepted; x (expanded syntax) and friends are not translated.
		default:
			return nil, errInvalidParam("invalid regular expression option: \"%c\"", f)
		}
	}
	expr := prefix + translateARE(pattern)
	compiled, err := regexp.Compile(expr)
	if err != nil {
		msg := err.Error()
		if e, ok := err.(*syntax.Error); ok {
			msg = e.Code.String()
		}
		return nil, sqlerr.New(sqlerr.InvalidRegularExpression, "invalid regular expression: %s", msg)
	}
	re := &regex{Regexp: compiled}
	if tree, err := syntax.Parse(expr, syntax.Perl); err == nil {
		re.must = requiredLiteral(tree.Simplify())
	}
	return re, nil
}

func translateARE(p string) string {
	if !strings.ContainsAny(p, `\[`) {
		return p
	}
	var sb strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if strings.HasPrefix(p[i:], "[[:<:]]") || strings.HasPrefix(p[i:], "[[:>:]]") {
			sb.WriteString(`\b`)
			i += 6
			continue
		}
		if c != '\\' || i+1 >= len(p) {
			sb.WriteByte(c)
			continue
		}
		i++
		switch p[i] {
		case 'y', 'm', 'M':
			sb.WriteString(`\b`)
		case 'Y':
			sb.WriteString(`\B`)
		case 'Z':
			sb.WriteString(`\z`)
		default:
			sb.WriteByte('\\')
			sb.WriteByte(p[i])
		}
	}
	return sb.String()
}

// regexMatchVec implements ~ ~* !~ !~*; consecutive equal patterns reuse the
// compiled regex.
func regexMatchVec(ci, negate bool) VecFunc {
	flags := ""
	if ci {
		flags = "i"
	}
	return func(ctx *EvalCtx, args []*coldata.Vec, n int, out *types.T) (*coldata.Vec, error) {
		a, p := args[0], args[1]
		o := coldata.MakeVec(types.Bool, n)
		o.Nulls = mergeNulls(n, a, p)
		var re *regex
		last := ""
		for i := 0; i < n; i++ {
			if o.Nulls != nil && o.Nulls[i] {
				continue
			}
			if re == nil || p.Bytes[i] != last {
				var err error
				if re, err = ctx.regex(p.Bytes[i], flags); err != nil {
					return nil, err
				}
				last = p.Bytes[i]
			}
			o.Bools[i] = re.MatchString(a.Bytes[i]) != negate
		}
		return o, nil
	}
}

func regexFlags(a []types.Datum, idx int) (string, bool) {
	if len(a) <= idx {
		return "", false
	}
	f := a[idx].(string)
	return strings.ReplaceAll(f, "g", ""), strings.Contains(f, "g")
}

func regexpReplace(ctx *EvalCtx, a []types.Datum) (types.Datum, error) {
	s, pat, repl := a[0].(string), a[1].(string), a[2].(string)
	flags, global := regexFlags(a, 3)
	re, err := ctx.regex(pat, flags)
	if err != nil {
		return nil, err
	}
	var sb strings.Builder
	last := 0
	for _, m := range re.FindAllStringSubmatchIndex(s, -1) {
		sb.WriteString(s[last:m[0]])
		expandReplacement(&sb, s, repl, m)
		last = m[1]
		if !global {
			break
		}
	}
	sb.WriteString(s[last:])
	return sb.String(), nil
}

// expandReplacement writes repl with \1..\9 and \& substituted.
func expandReplacement(sb *strings.Builder, s, repl string, m []int) {
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		if c != '\\' || i+1 >= len(repl) {
			sb.WriteByte(c)
			continue
		}
		i++
		switch d := repl[i]; {
		case d >= '1' && d <= '9':
			g := int(d - '0')
			if 2*g+1 < len(m) && m[2*g] >= 0 {
				sb.WriteString(s[m[2*g]:m[2*g+1]])
			}
		case d == '&':
			sb.WriteString(s[m[0]:m[1]])
		case d == '\\':
			sb.WriteByte('\\')
		default:
			sb.WriteByte('\\')
			sb.WriteByte(d)
		}
	}
}

func regexpMatch(ctx *EvalCtx, a []types.Datum) (types.Datum, error) {
	s := a[0].(string)
	flags, global := regexFlags(a, 2)
	if global {
		return nil, errInvalidParam("regexp_match() does not support the \"global\" option").WithHint("Use the regexp_matches function instead.")
	}
	re, err := ctx.regex(a[1].(string), flags)
	if err != nil {
		return nil, err
	}
	m := re.FindStringSubmatchIndex(s)
	if m == nil {
		return nil, nil
	}
	arr := &types.Array{Elem: types.Text}
	if len(m) == 2 {
		arr.Elems = []types.Datum{s[m[0]:m[1]]}
		return arr, nil
	}
	for g := 1; 2*g < len(m); g++ {
		if m[2*g] < 0 {
			arr.Elems = append(arr.Elems, nil)
		} else {
			arr.Elems = append(arr.Elems, s[m[2*g]:m[2*g+1]])
		}
	}
	return arr, nil
}

func regexpSplit(ctx *EvalCtx, a []types.Datum) (types.Datum, error) {
	s := a[0].(string)
	flags, global := regexFlags(a, 2)
	if global {
		return nil, errInvalidParam("regexp_split_to_array() does not support the \"global\" option")
	}
	re, err := ctx.regex(a[1].(string), flags)
	if err != nil {
		return nil, err
	}
	arr := &types.Array{Elem: types.Text, Elems: []types.Datum{}}
	last := 0
	for _, m := range re.FindAllStringIndex(s, -1) {
		// Postgres ignores empty matches at the start and end of the string
		// and right after a previous match.
		if m[0] == m[1] && (m[0] == 0 || m[0] == len(s) || m[0] == last) {
			continue
		}
		arr.Elems = append(arr.Elems, s[last:m[0]])
		last = m[1]
	}
	arr.Elems = append(arr.Elems, s[last:])
	return arr, nil
}

// similarToRegex translates a SIMILAR TO pattern into an anchored ARE, as
// Postgres' similar_to_escape does; the binder can then apply ~.
func similarToRegex(p, esc string) (types.Datum, error) {
	var escRune rune = -1
	if esc != "" {
		rs := []rune(esc)
		if len(rs) != 1 {
			return nil, sqlerr.New(sqlerr.InvalidEscapeSequence, "invalid escape string").WithHint("Escape string must be empty or one character.")
		}
		escRune = rs[0]
	}
	var sb strings.Builder
	sb.WriteString("^(?:")
	inBracket := false
	rs := []rune(p)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch {
		case c == escRune:
			i++
			if i >= len(rs) {
				return nil, sqlerr.New(sqlerr.InvalidEscapeSequence, "invalid escape string")
			}
			sb.WriteString(regexp.QuoteMeta(string(rs[i])))
		case inBracket:
			if c == ']' {
				inBracket = false
			}
			sb.WriteRune(c)
		case c == '[':
			inBracket = true
			sb.WriteRune(c)
		case c == '%':
			sb.WriteString(".*")
		case c == '_':
			sb.WriteByte('.')
		case c == '.', c == '^', c == '$':
			sb.WriteByte('\\')
			sb.WriteRune(c)
		default:
			sb.WriteRune(c)
		}
	}
	sb.WriteString(")$")
	return sb.String(), nil
}
