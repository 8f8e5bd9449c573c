package format

import (
	"encoding/binary"
	"math/bits"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// The JSON decoder is a single-pass scanner written for this job: it walks
// the record once, validating all of it, looks each member's key up in a
// trie built from the columns' paths, and notes where the values of the
// columns' fields are; commit then reads those values straight into the
// columns. Nothing is built for fields no column wants. It won the
// comparison in BenchmarkJSONDecoders (see docs/connectors.md) against
// encoding/json, goccy/go-json, bytedance/sonic, valyala/fastjson and
// minio/simdjson-go, which live in the tests only.

// maxJSONDepth bounds the nesting of a record, so that a hostile record
// cannot exhaust the stack.
const maxJSONDepth = 1000

// jsonPlan maps object members to columns.
type jsonPlan struct {
	root     *jnode
	nodes    int // how many jnodes (each has a lookup hint in the decoder)
	catchAll int // the column receiving the object of unknown top-level fields, or -1
	ncols    int
}

// jnode is one level of the key trie: the members of an object that
// columns read, in the order the columns were declared.
type jnode struct {
	id    int
	keys  []string
	pre   []uint64 // the first 8 bytes of each key, little-endian, zero-padded
	mask  []uint64 // the bits of pre that are key bytes; 0 for a key that must be scanned (it needs escaping)
	ents  []jentry
	index map[string]int
}

type jentry struct {
	col   int    // the column taking this member's value, or -1
	child *jnode // the members below it that columns read, or nil
}

func compileJSON(cfg Config) (*jsonPlan, error) {
	p := &jsonPlan{catchAll: -1, ncols: len(cfg.Columns)}
	if name, ok := cfg.Options[OptJSONCatchAll]; ok {
		for i, c := range cfg.Columns {
			if c.Name == name {
				p.catchAll = i
			}
		}
		if p.catchAll < 0 {
			return nil, sqlerr.New(sqlerr.UndefinedColumn, "%s column \"%s\" does not exist", OptJSONCatchAll, name)
		}
		if t := cfg.Columns[p.catchAll].Type; t.Family != types.JSONFamily {
			return nil, errOption("%s column \"%s\" must be of type jsonb, not %s", OptJSONCatchAll, name, t)
		}
	}
	var err error
	p.root, p.nodes, err = fieldTrie(cfg.Columns, p.catchAll, "JSON field")
	if err != nil {
		return nil, err
	}
	return p, nil
}

// fieldTrie builds the trie of the columns' field paths (leaving out column
// skip, or none if -1).
func fieldTrie(cols []Column, skip int, what string) (*jnode, int, error) {
	nodes := 0
	newNode := func() *jnode {
		n := &jnode{id: nodes, index: map[string]int{}}
		nodes++
		return n
	}
	root := newNode()
	for i, c := range cols {
		if i == skip {
			continue
		}
		n := root
		path := columnPath(c)
		for depth, key := range path {
			j, ok := n.index[key]
			if !ok {
				j = len(n.ents)
				n.index[key] = j
				n.keys = append(n.keys, key)
				n.pre = append(n.pre, prefix8([]byte(key)))
				n.mask = append(n.mask, keyMask(key))
				n.ents = append(n.ents, jentry{col: -1})
			}
			e := &n.ents[j]
			if depth == len(path)-1 {
				if e.col >= 0 {
					return nil, 0, errOption("columns \"%s\" and \"%s\" read the same %s", cols[e.col].Name, c.Name, what)
				}
				e.col = i
				break
			}
			if e.child == nil {
				e.child = newNode()
			}
			n = e.child
		}
	}
	return root, nodes, nil
}

// get returns the entry of key, or nil.
func (n *jnode) get(key string) *jentry {
	if n == nil {
		return nil
	}
	if j, ok := n.index[key]; ok {
		return &n.ents[j]
	}
	return nil
}

type jsonDecoder struct {
	p       *jsonPlan
	c       committer
	slots   []slot
	hints   []int // per jnode: the entry expected next (members usually come in one order)
	unknown []int // start, end of each unknown top-level member, for the catch-all
	keybuf  []byte
	catch   []byte
}

func newJSONDecoder(p *jsonPlan, c committer) *jsonDecoder {
	return &jsonDecoder{p: p, c: c, slots: make([]slot, p.ncols), hints: make([]int, p.nodes)}
}

// Decode decodes one JSON object. Members map to columns by name (or by
// Column.Path); absent members and nulls are NULL, unknown members are
// ignored (or gathered by the catch-all column).
func (d *jsonDecoder) Decode(rec []byte, cols []*coldata.Vec) error {
	if err := checkCols(d.p.ncols, cols); err != nil {
		return err
	}
	for i := range d.slots {
		d.slots[i].kind = sMissing
	}
	d.unknown = d.unknown[:0]
	i := skipWS(rec, 0)
	if i >= len(rec) || rec[i] != '{' {
		if i >= len(rec) {
			return errRecord(sqlerr.InvalidTextRepresentation, "the record is not a JSON object: it is empty")
		}
		return errRecord(sqlerr.InvalidTextRepresentation, "the record is not a JSON object: %s", quote(rec))
	}
	i, err := d.object(rec, i, d.p.root, 1)
	if err != nil {
		return err
	}
	if i = skipWS(rec, i); i != len(rec) {
		return jsonSyntax(rec, i, "after the object")
	}
	if d.p.catchAll >= 0 {
		d.catchAll(rec)
	}
	return d.c.commit(rec, d.slots, cols)
}

// catchAll gathers the unknown top-level members into one JSON object.
func (d *jsonDecoder) catchAll(rec []byte) {
	sl := &d.slots[d.p.catchAll]
	sl.kind = sJSONText
	if len(d.unknown) == 0 {
		sl.str = "{}"
		return
	}
	b := append(d.catch[:0], '{')
	for k := 0; k < len(d.unknown); k += 2 {
		if k > 0 {
			b = append(b, ',')
		}
		b = append(b, rec[d.unknown[k]:d.unknown[k+1]]...)
	}
	b = append(b, '}')
	d.catch = b
	sl.str = string(b)
}

// object scans the object at rec[i] ('{'); n (nil for an object no column
// looks into) maps its members to columns. It returns the index after '}'.
func (d *jsonDecoder) object(rec []byte, i int, n *jnode, depth int) (int, error) {
	if depth > maxJSONDepth {
		return 0, errRecord(sqlerr.ProgramLimitExceeded, "JSON nested more than %d levels deep", maxJSONDepth)
	}
	i = skipWS(rec, i+1)
	if i < len(rec) && rec[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(rec) || rec[i] != '"' {
			return 0, jsonSyntax(rec, i, "where an object key was expected")
		}
		start := i
		var end int
		var e *jentry
		if n != nil && len(n.keys) > 0 {
			// The key expected next, matched in place: no scan needed.
			h := d.hints[n.id]
			if h >= len(n.keys) {
				h = 0
			}
			k, m := n.keys[h], n.mask[h]
			if q := i + 1 + len(k); m != 0 && i+9 <= len(rec) && q < len(rec) && rec[q] == '"' &&
				binary.LittleEndian.Uint64(rec[i+1:])&m == n.pre[h] && (len(k) <= 8 || string(rec[i+9:q]) == k[8:]) {
				d.hints[n.id] = h + 1
				e, end = &n.ents[h], q+1
			}
		}
		if end == 0 {
			var esc bool
			var err error
			if end, esc, _, err = scanString(rec, i); err != nil {
				return 0, err
			}
			if n != nil {
				key := rec[start+1 : end-1]
				if esc {
					if d.keybuf, err = appendUnescaped(d.keybuf[:0], key, true); err != nil {
						return 0, err
					}
					key = d.keybuf
				}
				e = d.lookup(n, key)
			}
		}
		i = skipWS(rec, end)
		if i >= len(rec) || rec[i] != ':' {
			return 0, jsonSyntax(rec, i, "where ':' was expected")
		}
		i = skipWS(rec, i+1)
		vs := i
		var kind slotKind
		var vesc, utf, whole bool
		var x int64
		var err error
		switch {
		case i >= len(rec):
			i, kind, vesc, utf, err = d.value(rec, i, depth+1)
		case rec[i] == '"':
			// Most members are strings and numbers: scanned here, without
			// value's call and its five results.
			kind = sJString
			i, vesc, utf, err = scanString(rec, i)
		case rec[i] == '-' || (rec[i] >= '0' && rec[i] <= '9'):
			kind = sJNumber
			i, vesc, x, whole, err = scanNumber(rec, i)
		case e != nil && e.child != nil && rec[i] == '{':
			i, err = d.object(rec, i, e.child, depth+1)
			kind = sJObject
		default:
			i, kind, vesc, utf, err = d.value(rec, i, depth+1)
		}
		if err != nil {
			return 0, err
		}
		switch {
		case e != nil && e.col >= 0:
			sl := &d.slots[e.col]
			sl.kind, sl.esc, sl.utf, sl.a, sl.b = kind, vesc, utf, vs, i
			sl.whole, sl.i = whole, x
		case e == nil && depth == 1 && d.p.catchAll >= 0:
			d.unknown = append(d.unknown, start, i)
		}
		i = skipWS(rec, i)
		if i < len(rec) && rec[i] == ',' {
			i = skipWS(rec, i+1)
			continue
		}
		if i < len(rec) && rec[i] == '}' {
			return i + 1, nil
		}
		return 0, jsonSyntax(rec, i, "where ',' or '}' was expected")
	}
}

// keyMask is the mask of the bytes of key's prefix8, or 0 if key has a
// character JSON escapes (the fast match in object would be wrong).
func keyMask(key string) uint64 {
	for i := 0; i < len(key); i++ {
		if c := key[i]; c == '"' || c == '\\' || c < 0x20 {
			return 0
		}
	}
	if len(key) >= 8 {
		return ^uint64(0)
	}
	return 1<<(8*len(key)) - 1
}

// prefix8 is the first 8 bytes of b, little-endian, zero-padded.
func prefix8(b []byte) uint64 {
	if len(b) >= 8 {
		return binary.LittleEndian.Uint64(b)
	}
	var x uint64
	for i := len(b) - 1; i >= 0; i-- {
		x = x<<8 | uint64(b[i])
	}
	return x
}

// lookup finds key among n's entries, trying first the one after the last
// found: records of one stream usually list their fields in one order.
func (d *jsonDecoder) lookup(n *jnode, key []byte) *jentry {
	h := d.hints[n.id]
	if h >= len(n.keys) {
		h = 0
	}
	if len(n.keys) > 0 && len(n.keys[h]) == len(key) && n.pre[h] == prefix8(key) && (len(key) <= 8 || n.keys[h][8:] == string(key[8:])) {
		d.hints[n.id] = h + 1
		return &n.ents[h]
	}
	j, ok := n.index[string(key)]
	if !ok {
		return nil
	}
	d.hints[n.id] = j + 1
	return &n.ents[j]
}

// value scans any JSON value at rec[i] and returns the index after it, its
// kind, and for strings whether it has escapes, for numbers whether it has
// a fraction or an exponent.
func (d *jsonDecoder) value(rec []byte, i int, depth int) (end int, kind slotKind, esc, utf bool, err error) {
	if i >= len(rec) {
		return 0, 0, false, false, jsonSyntax(rec, i, "where a value was expected")
	}
	switch c := rec[i]; {
	case c == '"':
		end, esc, utf, err = scanString(rec, i)
		return end, sJString, esc, utf, err
	case c == '-' || (c >= '0' && c <= '9'):
		end, esc, _, _, err = scanNumber(rec, i)
		return end, sJNumber, esc, false, err
	case c == '{':
		end, err = d.object(rec, i, nil, depth)
		return end, sJObject, false, false, err
	case c == '[':
		end, err = d.array(rec, i, depth)
		return end, sJArray, false, false, err
	case c == 't':
		if hasPrefix(rec[i:], "true") {
			return i + 4, sJTrue, false, false, nil
		}
	case c == 'f':
		if hasPrefix(rec[i:], "false") {
			return i + 5, sJFalse, false, false, nil
		}
	case c == 'n':
		if hasPrefix(rec[i:], "null") {
			return i + 4, sNull, false, false, nil
		}
	}
	return 0, 0, false, false, jsonSyntax(rec, i, "where a value was expected")
}

func hasPrefix(b []byte, p string) bool { return len(b) >= len(p) && string(b[:len(p)]) == p }

// array scans the array at rec[i] ('[').
func (d *jsonDecoder) array(rec []byte, i int, depth int) (int, error) {
	if depth > maxJSONDepth {
		return 0, errRecord(sqlerr.ProgramLimitExceeded, "JSON nested more than %d levels deep", maxJSONDepth)
	}
	i = skipWS(rec, i+1)
	if i < len(rec) && rec[i] == ']' {
		return i + 1, nil
	}
	for {
		var err error
		if i, _, _, _, err = d.value(rec, i, depth+1); err != nil {
			return 0, err
		}
		i = skipWS(rec, i)
		if i < len(rec) && rec[i] == ',' {
			i = skipWS(rec, i+1)
			continue
		}
		if i < len(rec) && rec[i] == ']' {
			return i + 1, nil
		}
		return 0, jsonSyntax(rec, i, "where ',' or ']' was expected")
	}
}

func skipWS(rec []byte, i int) int {
	for i < len(rec) {
		switch rec[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// special8 flags (in the high bit of its byte, exactly for the lowest one)
// each of the 8 bytes in x that a string scan must stop at: '"', '\\',
// a control character or a non-ASCII byte.
func special8(x uint64) uint64 {
	q := x ^ (lsb * '"')
	b := x ^ (lsb * '\\')
	return ((q-lsb)&^q | (b-lsb)&^b | (x - lsb*0x20) | x) & msb
}

// scanString scans the string at rec[i] ('"'); it returns the index after
// the closing quote, whether the string has escapes and whether it has
// non-ASCII bytes (which commit checks are UTF-8).
func scanString(rec []byte, i int) (end int, esc, utf bool, err error) {
	j := i + 1
	for {
		for j+8 <= len(rec) {
			if m := special8(binary.LittleEndian.Uint64(rec[j:])); m != 0 {
				j += bits.TrailingZeros64(m) >> 3
				break
			}
			j += 8
		}
		if j >= len(rec) {
			return 0, false, false, jsonSyntax(rec, len(rec), "inside a string (unterminated)")
		}
		switch c := rec[j]; {
		case c == '"':
			return j + 1, esc, utf, nil
		case c == '\\':
			esc = true
			if j+1 >= len(rec) {
				return 0, false, false, jsonSyntax(rec, len(rec), "inside a string (unterminated)")
			}
			switch rec[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if j+6 > len(rec) || !isHex4(rec[j+2:j+6]) {
					return 0, false, false, jsonSyntax(rec, j, "in a \\u escape")
				}
				j += 6
			default:
				return 0, false, false, jsonSyntax(rec, j+1, "after a backslash")
			}
		case c < 0x20:
			return 0, false, false, jsonSyntax(rec, j, "inside a string (control characters must be escaped)")
		case c >= 0x80:
			utf = true
			j++
		default:
			j++ // the tail of the record, byte by byte
		}
	}
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if _, ok := unhex(c); !ok {
			return false
		}
	}
	return true
}

func unhex(c byte) (rune, bool) {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0'), true
	case c >= 'a' && c <= 'f':
		return rune(c-'a') + 10, true
	case c >= 'A' && c <= 'F':
		return rune(c-'A') + 10, true
	}
	return 0, false
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b {
		x, _ := unhex(c)
		r = r<<4 | x
	}
	return r
}

// scanNumber scans the number at rec[i]; it returns the index after it,
// whether it has a fraction or an exponent, and the value of an integer of
// at most 18 digits (whole says it is one), read on the way so that an
// integer column does not read the digits again.
func scanNumber(rec []byte, i int) (end int, frac bool, x int64, whole bool, err error) {
	j := i
	neg := rec[j] == '-'
	if neg {
		j++
	}
	switch {
	case j < len(rec) && rec[j] == '0':
		j++
	case j < len(rec) && rec[j] >= '1' && rec[j] <= '9':
		for j < len(rec) && rec[j] >= '0' && rec[j] <= '9' {
			x = x*10 + int64(rec[j]-'0')
			j++
		}
	default:
		return 0, false, 0, false, jsonSyntax(rec, j, "in a number")
	}
	// 18 digits do not overflow x (19 may).
	whole = j-i <= 18 || (neg && j-i == 19)
	if neg {
		x = -x
	}
	if j < len(rec) && rec[j] == '.' {
		frac = true
		j++
		k := j
		for j < len(rec) && rec[j] >= '0' && rec[j] <= '9' {
			j++
		}
		if j == k {
			return 0, false, 0, false, jsonSyntax(rec, j, "in a number")
		}
	}
	if j < len(rec) && (rec[j] == 'e' || rec[j] == 'E') {
		frac = true
		j++
		if j < len(rec) && (rec[j] == '+' || rec[j] == '-') {
			j++
		}
		k := j
		for j < len(rec) && rec[j] >= '0' && rec[j] <= '9' {
			j++
		}
		if j == k {
			return 0, false, 0, false, jsonSyntax(rec, j, "in a number")
		}
	}
	return j, frac, x, whole && !frac, nil
}

// appendUnescaped appends the contents of a scanned JSON string (without
// its quotes) with escapes resolved. It refuses \u0000 (text cannot hold
// it) and unpaired surrogates, as Postgres does.
func appendUnescaped(buf, raw []byte, esc bool) ([]byte, error) {
	if !esc {
		return append(buf, raw...), nil
	}
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			j := i + 1
			for j < len(raw) && raw[j] != '\\' {
				j++
			}
			buf = append(buf, raw[i:j]...)
			i = j
			continue
		}
		if i+1 >= len(raw) {
			return buf, badEscape()
		}
		switch raw[i+1] {
		case '"', '\\', '/':
			buf = append(buf, raw[i+1])
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			if i+6 > len(raw) || !isHex4(raw[i+2:i+6]) {
				return buf, badEscape()
			}
			r := hex4(raw[i+2 : i+6])
			i += 6
			switch {
			case r == 0:
				return buf, sqlerr.New(untranslatableCharacter, "unsupported Unicode escape sequence").WithDetail("\\u0000 cannot be converted to text.")
			case utf16.IsSurrogate(r):
				if r >= 0xDC00 || i+6 > len(raw) || raw[i] != '\\' || raw[i+1] != 'u' || !isHex4(raw[i+2:i+6]) {
					return buf, badSurrogate()
				}
				r2 := hex4(raw[i+2 : i+6])
				if r2 < 0xDC00 || r2 > 0xDFFF {
					return buf, badSurrogate()
				}
				r = utf16.DecodeRune(r, r2)
				i += 6
			}
			buf = utf8.AppendRune(buf, r)
			continue
		default:
			return buf, badEscape()
		}
		i += 2
	}
	return buf, nil
}

func badEscape() error {
	return sqlerr.New(sqlerr.InvalidTextRepresentation, "invalid escape in a JSON string")
}

func badSurrogate() error {
	return sqlerr.New(sqlerr.InvalidTextRepresentation, "invalid input syntax for type json").
		WithDetail("Unicode low surrogate must follow a high surrogate.")
}

// jsonSyntax is the error for malformed JSON at rec[i].
func jsonSyntax(rec []byte, i int, where string) error {
	if i >= len(rec) {
		return errRecord(sqlerr.InvalidTextRepresentation, "malformed JSON: the record ends %s", strings.TrimPrefix(where, "inside "))
	}
	lo := max(i-16, 0)
	return errRecord(sqlerr.InvalidTextRepresentation, "malformed JSON: unexpected %s at byte %d %s (near \"%s\")",
		quoteByte(rec[i]), i, where, quote(rec[lo:min(i+16, len(rec))]))
}

func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return "'" + string(rune(c)) + "'"
	}
	return "byte 0x" + string("0123456789abcdef"[c>>4]) + string("0123456789abcdef"[c&15])
}
