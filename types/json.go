package types

import (
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/cockroachdb/apd/v3"
	"github.com/sluice-db/sluice/sqlerr"
)

// JSONKind is the kind of a JSON value.
type JSONKind uint8

// JSON kinds, in the order jsonb sorts them (Null < String < Number < Bool <
// Array < Object).
const (
	JSONNull JSONKind = iota
	JSONString
	JSONNumber
	JSONBool
	JSONArray
	JSONObject
)

// JSONPair is one key/value member of a JSON object.
type JSONPair struct {
	Key string
	Val JSONValue
}

// JSONValue is a parsed jsonb value. Objects hold unique keys in jsonb order
// (shorter keys first, then bytewise); numbers are exact decimals.
type JSONValue struct {
	Kind  JSONKind
	Str   string       // JSONString
	Num   *apd.Decimal // JSONNumber
	Bool  bool         // JSONBool
	Elems []JSONValue  // JSONArray
	Pairs []JSONPair   // JSONObject
}

// ParseJSON parses JSON text into its jsonb value: duplicate object keys keep
// the last value and keys are sorted as jsonb stores them. Errors are 22P02
// "invalid input syntax for type json" with a Postgres-style detail.
func ParseJSON(s string) (JSONValue, error) {
	p := jsonParser{s: s, jsonb: true}
	return p.parseTop()
}

// ValidateJSON checks that s is valid JSON text (the json type's input check).
func ValidateJSON(s string) error {
	p := jsonParser{s: s}
	_, err := p.parseTop()
	return err
}

// FormatJSONB prints v the way Postgres prints a jsonb value.
func FormatJSONB(v JSONValue) string {
	return string(appendJSONB(nil, v))
}

// CanonicalJSONB parses JSON text and returns the canonical jsonb text.
func CanonicalJSONB(s string) (string, error) {
	v, err := ParseJSON(s)
	if err != nil {
		return "", err
	}
	return FormatJSONB(v), nil
}

func appendJSONB(buf []byte, v JSONValue) []byte {
	switch v.Kind {
	case JSONNull:
		return append(buf, "null"...)
	case JSONBool:
		if v.Bool {
			return append(buf, "true"...)
		}
		return append(buf, "false"...)
	case JSONNumber:
		return appendNumeric(buf, v.Num)
	case JSONString:
		return AppendJSONString(buf, v.Str)
	case JSONArray:
		buf = append(buf, '[')
		for i, e := range v.Elems {
			if i > 0 {
				buf = append(buf, ", "...)
			}
			buf = appendJSONB(buf, e)
		}
		return append(buf, ']')
	case JSONObject:
		buf = append(buf, '{')
		for i, p := range v.Pairs {
			if i > 0 {
				buf = append(buf, ", "...)
			}
			buf = AppendJSONString(buf, p.Key)
			buf = append(buf, ": "...)
			buf = appendJSONB(buf, p.Val)
		}
		return append(buf, '}')
	}
	return buf
}

// AppendJSONString appends s as a quoted JSON string, escaped as Postgres'
// escape_json does.
func AppendJSONString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			buf = append(buf, '\\', '"')
		case '\\':
			buf = append(buf, '\\', '\\')
		case '\b':
			buf = append(buf, '\\', 'b')
		case '\f':
			buf = append(buf, '\\', 'f')
		case '\n':
			buf = append(buf, '\\', 'n')
		case '\r':
			buf = append(buf, '\\', 'r')
		case '\t':
			buf = append(buf, '\\', 't')
		default:
			if c < 0x20 {
				buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
			} else {
				buf = append(buf, c)
			}
		}
	}
	return append(buf, '"')
}

const hexDigits = "0123456789abcdef"

// Field returns the value of key in an object (jsonb ->).
func (v JSONValue) Field(key string) (JSONValue, bool) {
	if v.Kind != JSONObject {
		return JSONValue{}, false
	}
	i := sort.Search(len(v.Pairs), func(i int) bool { return jsonKeyLess(key, v.Pairs[i].Key) || key == v.Pairs[i].Key })
	if i < len(v.Pairs) && v.Pairs[i].Key == key {
		return v.Pairs[i].Val, true
	}
	return JSONValue{}, false
}

// Index returns element i of an array; negative i counts from the end (jsonb ->).
func (v JSONValue) Index(i int) (JSONValue, bool) {
	if v.Kind != JSONArray {
		return JSONValue{}, false
	}
	if i < 0 {
		i += len(v.Elems)
	}
	if i < 0 || i >= len(v.Elems) {
		return JSONValue{}, false
	}
	return v.Elems[i], true
}

// Path follows a text[] path as #> does: object keys, or array subscripts
// written as integers.
func (v JSONValue) Path(path []string) (JSONValue, bool) {
	cur := v
	for _, p := range path {
		switch cur.Kind {
		case JSONObject:
			nv, ok := cur.Field(p)
			if !ok {
				return JSONValue{}, false
			}
			cur = nv
		case JSONArray:
			i, err := strconv.Atoi(strings.TrimSpace(p))
			if err != nil {
				return JSONValue{}, false
			}
			nv, ok := cur.Index(i)
			if !ok {
				return JSONValue{}, false
			}
			cur = nv
		default:
			return JSONValue{}, false
		}
	}
	return cur, true
}

// Text returns the value as ->> prints it: strings unquoted, JSON null as SQL
// NULL (ok=false), everything else as jsonb text.
func (v JSONValue) Text() (string, bool) {
	switch v.Kind {
	case JSONNull:
		return "", false
	case JSONString:
		return v.Str, true
	}
	return FormatJSONB(v), true
}

// String returns the jsonb text of v.
func (v JSONValue) String() string { return FormatJSONB(v) }

// TypeName returns jsonb_typeof(v).
func (v JSONValue) TypeName() string {
	return [...]string{"null", "string", "number", "boolean", "array", "object"}[v.Kind]
}

// Contains reports whether a @> b with jsonb semantics.
func (a JSONValue) Contains(b JSONValue) bool {
	if a.Kind == JSONArray && b.Kind != JSONArray && b.Kind != JSONObject {
		// A top-level scalar is contained in an array holding it.
		for _, e := range a.Elems {
			if e.Kind == b.Kind && compareJSON(e, b) == 0 {
				return true
			}
		}
		return false
	}
	return jsonContains(a, b)
}

func jsonContains(a, b JSONValue) bool {
	if a.Kind != b.Kind {
		return false
	}
	switch a.Kind {
	case JSONObject:
		for _, bp := range b.Pairs {
			av, ok := a.Field(bp.Key)
			if !ok {
				return false
			}
			if bp.Val.Kind == JSONObject || bp.Val.Kind == JSONArray {
				if !jsonContains(av, bp.Val) {
					return false
				}
			} else if av.Kind != bp.Val.Kind || compareJSON(av, bp.Val) != 0 {
				return false
			}
		}
		return true
	case JSONArray:
	outer:
		for _, be := range b.Elems {
			for _, ae := range a.Elems {
				if be.Kind == JSONObject || be.Kind == JSONArray {
					if jsonContains(ae, be) {
						continue outer
					}
				} else if ae.Kind == be.Kind && compareJSON(ae, be) == 0 {
					continue outer
				}
			}
			return false
		}
		return true
	}
	return compareJSON(a, b) == 0
}

// jsonKeyLess orders object keys as jsonb stores them: by length, then bytes.
func jsonKeyLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// compareJSON orders jsonb values: by kind (Null < String < Number < Bool <
// Array < Object), arrays and objects by element count and then element-wise,
// scalars by value.
func compareJSON(a, b JSONValue) int {
	if a.Kind != b.Kind {
		if a.Kind < b.Kind {
			return -1
		}
		return 1
	}
	switch a.Kind {
	case JSONString:
		return strings.Compare(a.Str, b.Str)
	case JSONNumber:
		return compareDecimal(a.Num, b.Num)
	case JSONBool:
		return compareBool(a.Bool, b.Bool)
	case JSONArray:
		if len(a.Elems) != len(b.Elems) {
			return cmpInt(len(a.Elems), len(b.Elems))
		}
		for i := range a.Elems {
			if c := compareJSON(a.Elems[i], b.Elems[i]); c != 0 {
				return c
			}
		}
	case JSONObject:
		if len(a.Pairs) != len(b.Pairs) {
			return cmpInt(len(a.Pairs), len(b.Pairs))
		}
		for i := range a.Pairs {
			if c := strings.Compare(a.Pairs[i].Key, b.Pairs[i].Key); c != 0 {
				return c
			}
			if c := compareJSON(a.Pairs[i].Val, b.Pairs[i].Val); c != 0 {
				return c
			}
		}
	}
	return 0
}

func cmpInt(a, b int) int {
	if a < b {
		return -1
	}
	if a > b {
		return 1
	}
	return 0
}

// appendJSONKey appends the order-preserving key encoding of a jsonb value.
func appendJSONKey(buf []byte, v JSONValue) []byte {
	buf = append(buf, byte(v.Kind)+1)
	switch v.Kind {
	case JSONString:
		buf = appendEscapedKey(buf, v.Str)
	case JSONNumber:
		buf = appendDecimalKey(buf, v.Num)
	case JSONBool:
		if v.Bool {
			buf = append(buf, 1)
		} else {
			buf = append(buf, 0)
		}
	case JSONArray:
		buf = appendUint32(buf, uint32(len(v.Elems)))
		for _, e := range v.Elems {
			buf = appendJSONKey(buf, e)
		}
	case JSONObject:
		buf = appendUint32(buf, uint32(len(v.Pairs)))
		for _, p := range v.Pairs {
			buf = appendEscapedKey(buf, p.Key)
			buf = appendJSONKey(buf, p.Val)
		}
	}
	return buf
}

func appendUint32(buf []byte, v uint32) []byte {
	return append(buf, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// ---- parser ----

type jsonParser struct {
	s     string
	pos   int
	jsonb bool
	depth int
}

func jsonErr(detail string, args ...any) error {
	return sqlerr.New(sqlerr.InvalidTextRepresentation, "invalid input syntax for type json").WithDetail(detail, args...)
}

func (p *jsonParser) skipWS() {
	for p.pos < len(p.s) {
		switch p.s[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// token returns the lexical token at the current position, for error details.
func (p *jsonParser) token() string {
	if p.pos >= len(p.s) {
		return ""
	}
	c := p.s[p.pos]
	switch c {
	case '{', '}', '[', ']', ',', ':':
		return string(c)
	case '"':
		// The whole string token.
		q := jsonParser{s: p.s, pos: p.pos}
		if _, err := q.parseString(); err == nil {
			return p.s[p.pos:q.pos]
		}
	}
	end := p.pos
	for end < len(p.s) {
		c := p.s[end]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == ']' || c == '}' || c == ':' || c == '[' || c == '{' || c == '"' {
			break
		}
		end++
	}
	if end == p.pos {
		_, n := utf8.DecodeRuneInString(p.s[p.pos:])
		end = p.pos + n
	}
	return p.s[p.pos:end]
}

func (p *jsonParser) unexpected(expect string) error {
	if p.pos >= len(p.s) {
		return jsonErr("The input string ended unexpectedly.")
	}
	tok := p.token()
	if !isJSONTokenValid(tok) {
		return jsonErr("Token \"%s\" is invalid.", tok)
	}
	return jsonErr("Expected %s, but found \"%s\".", expect, tok)
}

func isJSONTokenValid(tok string) bool {
	switch tok {
	case "{", "}", "[", "]", ",", ":", "true", "false", "null":
		return true
	}
	if strings.HasPrefix(tok, `"`) {
		return true
	}
	_, ok := scanJSONNumber(tok)
	return ok && len(tok) > 0
}

func (p *jsonParser) parseTop() (JSONValue, error) {
	p.skipWS()
	v, err := p.parseValue()
	if err != nil {
		return v, err
	}
	p.skipWS()
	if p.pos < len(p.s) {
		tok := p.token()
		if !isJSONTokenValid(tok) {
			return v, jsonErr("Token \"%s\" is invalid.", tok)
		}
		return v, jsonErr("Expected end of input, but found \"%s\".", tok)
	}
	return v, nil
}

func (p *jsonParser) parseValue() (JSONValue, error) {
	if p.pos >= len(p.s) {
		return JSONValue{}, jsonErr("The input string ended unexpectedly.")
	}
	switch c := p.s[p.pos]; {
	case c == '{':
		return p.parseObject()
	case c == '[':
		return p.parseArray()
	case c == '"':
		s, err := p.parseString()
		return JSONValue{Kind: JSONString, Str: s}, err
	case c == '-' || (c >= '0' && c <= '9'):
		tok := p.token()
		n, ok := scanJSONNumber(tok)
		if !ok || n != len(tok) {
			return JSONValue{}, jsonErr("Token \"%s\" is invalid.", tok)
		}
		p.pos += n
		if !p.jsonb {
			return JSONValue{Kind: JSONNumber}, nil
		}
		d, err := parseDecimal(tok)
		if err != nil {
			return JSONValue{}, jsonErr("Token \"%s\" is invalid.", tok)
		}
		return JSONValue{Kind: JSONNumber, Num: d}, nil
	default:
		tok := p.token()
		switch tok {
		case "true":
			p.pos += 4
			return JSONValue{Kind: JSONBool, Bool: true}, nil
		case "false":
			p.pos += 5
			return JSONValue{Kind: JSONBool}, nil
		case "null":
			p.pos += 4
			return JSONValue{Kind: JSONNull}, nil
		}
		return JSONValue{}, p.unexpected("JSON value")
	}
}

// scanJSONNumber returns the length of the JSON number at the start of s.
func scanJSONNumber(s string) (int, bool) {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	if i >= len(s) {
		return i, false
	}
	if s[i] == '0' {
		i++
	} else if s[i] >= '1' && s[i] <= '9' {
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	} else {
		return i, false
	}
	if i < len(s) && s[i] == '.' {
		i++
		st := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == st {
			return i, false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		st := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == st {
			return i, false
		}
	}
	return i, true
}

func (p *jsonParser) parseString() (string, error) {
	p.pos++ // opening quote
	var sb []byte
	start := p.pos
	for {
		if p.pos >= len(p.s) {
			return "", jsonErr("The input string ended unexpectedly.")
		}
		c := p.s[p.pos]
		switch {
		case c == '"':
			var out string
			if sb == nil {
				out = p.s[start:p.pos]
			} else {
				out = string(append(sb, p.s[start:p.pos]...))
			}
			p.pos++
			return out, nil
		case c < 0x20:
			return "", jsonErr("Character with value 0x%02x must be escaped.", c)
		case c == '\\':
			sb = append(sb, p.s[start:p.pos]...)
			p.pos++
			if p.pos >= len(p.s) {
				return "", jsonErr("The input string ended unexpectedly.")
			}
			e := p.s[p.pos]
			p.pos++
			switch e {
			case '"', '\\', '/':
				sb = append(sb, e)
			case 'b':
				sb = append(sb, '\b')
			case 'f':
				sb = append(sb, '\f')
			case 'n':
				sb = append(sb, '\n')
			case 'r':
				sb = append(sb, '\r')
			case 't':
				sb = append(sb, '\t')
			case 'u':
				r, ok := p.hex4()
				if !ok {
					return "", jsonErr("\"\\u\" must be followed by four hexadecimal digits.")
				}
				if utf16.IsSurrogate(r) {
					if r >= 0xDC00 {
						return "", sqlerr.New("22P05", "unsupported Unicode escape sequence").WithDetail("Unicode low surrogate must not follow a high surrogate.")
					}
					if p.pos+1 < len(p.s) && p.s[p.pos] == '\\' && p.s[p.pos+1] == 'u' {
						p.pos += 2
						r2, ok := p.hex4()
						if !ok {
							return "", jsonErr("\"\\u\" must be followed by four hexadecimal digits.")
						}
						r = utf16.DecodeRune(r, r2)
						if r == utf8.RuneError {
							return "", sqlerr.New("22P05", "unsupported Unicode escape sequence").WithDetail("Unicode low surrogate must follow a high surrogate.")
						}
					} else {
						return "", sqlerr.New("22P05", "unsupported Unicode escape sequence").WithDetail("Unicode low surrogate must follow a high surrogate.")
					}
				}
				if r == 0 && p.jsonb {
					return "", sqlerr.New("22P05", "unsupported Unicode escape sequence").WithDetail("\\u0000 cannot be converted to text.")
				}
				sb = utf8.AppendRune(sb, r)
			default:
				return "", jsonErr("Escape sequence \"\\%c\" is invalid.", e)
			}
			start = p.pos
		default:
			p.pos++
		}
	}
}

func (p *jsonParser) hex4() (rune, bool) {
	if p.pos+4 > len(p.s) {
		return 0, false
	}
	v, err := strconv.ParseUint(p.s[p.pos:p.pos+4], 16, 32)
	if err != nil {
		return 0, false
	}
	p.pos += 4
	return rune(v), true
}

const maxJSONDepth = 6400

func (p *jsonParser) parseArray() (JSONValue, error) {
	p.depth++
	if p.depth > maxJSONDepth {
		return JSONValue{}, sqlerr.New(sqlerr.ProgramLimitExceeded, "stack depth limit exceeded")
	}
	defer func() { p.depth-- }()
	p.pos++
	v := JSONValue{Kind: JSONArray, Elems: []JSONValue{}}
	p.skipWS()
	if p.pos < len(p.s) && p.s[p.pos] == ']' {
		p.pos++
		return v, nil
	}
	for {
		p.skipWS()
		if p.pos < len(p.s) && p.s[p.pos] == ']' && len(v.Elems) == 0 {
			return v, p.unexpected("array element or \"]\"")
		}
		e, err := p.parseValue()
		if err != nil {
			return v, err
		}
		v.Elems = append(v.Elems, e)
		p.skipWS()
		if p.pos >= len(p.s) {
			return v, jsonErr("The input string ended unexpectedly.")
		}
		switch p.s[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			return v, nil
		default:
			return v, p.unexpected("\",\" or \"]\"")
		}
	}
}

func (p *jsonParser) parseObject() (JSONValue, error) {
	p.depth++
	if p.depth > maxJSONDepth {
		return JSONValue{}, sqlerr.New(sqlerr.ProgramLimitExceeded, "stack depth limit exceeded")
	}
	defer func() { p.depth-- }()
	p.pos++
	v := JSONValue{Kind: JSONObject, Pairs: []JSONPair{}}
	p.skipWS()
	if p.pos < len(p.s) && p.s[p.pos] == '}' {
		p.pos++
		return v, nil
	}
	for first := true; ; first = false {
		p.skipWS()
		if p.pos >= len(p.s) {
			return v, jsonErr("The input string ended unexpectedly.")
		}
		if p.s[p.pos] != '"' {
			if first {
				return v, p.unexpected("string or \"}\"")
			}
			return v, p.unexpected("string")
		}
		k, err := p.parseString()
		if err != nil {
			return v, err
		}
		p.skipWS()
		if p.pos >= len(p.s) {
			return v, jsonErr("The input string ended unexpectedly.")
		}
		if p.s[p.pos] != ':' {
			return v, p.unexpected("\":\"")
		}
		p.pos++
		p.skipWS()
		val, err := p.parseValue()
		if err != nil {
			return v, err
		}
		v.Pairs = append(v.Pairs, JSONPair{Key: k, Val: val})
		p.skipWS()
		if p.pos >= len(p.s) {
			return v, jsonErr("The input string ended unexpectedly.")
		}
		switch p.s[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			if p.jsonb {
				v.Pairs = canonicalPairs(v.Pairs)
			}
			return v, nil
		default:
			return v, p.unexpected("\",\" or \"}\"")
		}
	}
}

// canonicalPairs sorts pairs in jsonb key order, keeping the last of duplicates.
func canonicalPairs(ps []JSONPair) []JSONPair {
	sort.SliceStable(ps, func(i, j int) bool { return jsonKeyLess(ps[i].Key, ps[j].Key) })
	out := ps[:0]
	for i := range ps {
		if len(out) > 0 && out[len(out)-1].Key == ps[i].Key {
			out[len(out)-1] = ps[i]
			continue
		}
		out = append(out, ps[i])
	}
	return out
}

// NewJSONObject builds an object value from pairs in any order (last duplicate wins).
func NewJSONObject(pairs []JSONPair) JSONValue {
	ps := append([]JSONPair(nil), pairs...)
	return JSONValue{Kind: JSONObject, Pairs: canonicalPairs(ps)}
}
