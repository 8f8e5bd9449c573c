package expr

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

func registerStringFuncs(r *Registry) {
	T, I4, I8, B := types.Text, types.Int4, types.Int8, types.Bool
	by := types.Bytea
	textArr := types.ArrayOf(types.Text)

	// Lengths. bpchar ignores trailing blanks, as Postgres' bpcharlen does.
	for _, name := range []string{"length", "char_length", "character_length"} {
		r.Add(&Overload{Name: name, Args: ts(T), Ret: I4, Vec: strToIntVec(func(s string) int64 { return int64(utf8.RuneCountInString(s)) })})
		r.Add(&Overload{Name: name, Args: ts(types.BPChar), Ret: I4, Vec: strToIntVec(func(s string) int64 {
			return int64(utf8.RuneCountInString(strings.TrimRight(s, " ")))
		})})
	}
	r.Add(&Overload{Name: "length", Args: ts(by), Ret: I4, Vec: strToIntVec(func(s string) int64 { return int64(len(s)) })})
	for _, t := range []*types.T{T, by} {
		r.Add(&Overload{Name: "octet_length", Args: ts(t), Ret: I4, Vec: strToIntVec(func(s string) int64 { return int64(len(s)) })})
		r.Add(&Overload{Name: "bit_length", Args: ts(t), Ret: I4, Vec: strToIntVec(func(s string) int64 { return int64(8 * len(s)) })})
	}
	r.Add(&Overload{Name: "lower", Args: ts(T), Ret: T, Vec: strMapVec(lowerString)})
	r.Add(&Overload{Name: "upper", Args: ts(T), Ret: T, Vec: strMapVec(upperString)})
	r.Add(&Overload{Name: "initcap", Args: ts(T), Ret: T, Vec: strMapVec(initcap)})
	r.Add(&Overload{Name: "reverse", Args: ts(T), Ret: T, Vec: strMapVec(reverseString)})
	r.Add(&Overload{Name: "md5", Args: ts(T), Ret: T, Vec: strMapVec(md5Hex)})
	r.Add(&Overload{Name: "md5", Args: ts(by), Ret: T, Vec: strMapVec(md5Hex)})
	r.Add(&Overload{Name: "sha256", Args: ts(by), Ret: by, Vec: strMapVec(func(s string) string {
		h := sha256.Sum256([]byte(s))
		return string(h[:])
	})})

	for _, name := range []string{"substr", "substring"} {
		r.Add(&Overload{Name: name, Args: ts(T, I4), Ret: T, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
			return substrRunes(a[0].(string), a[1].(int64), 0, false)
		}})
		r.Add(&Overload{Name: name, Args: ts(T, I4, I4), Ret: T, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
			return substrRunes(a[0].(string), a[1].(int64), a[2].(int64), true)
		}})
		r.Add(&Overload{Name: name, Args: ts(by, I4), Ret: by, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
			return substrBytes(a[0].(string), a[1].(int64), 0, false)
		}})
		r.Add(&Overload{Name: name, Args: ts(by, I4, I4), Ret: by, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
			return substrBytes(a[0].(string), a[1].(int64), a[2].(int64), true)
		}})
	}
	// substring(text FROM pattern): the first parenthesised group, else the whole match.
	r.Add(&Overload{Name: "substring", Args: ts(T, T), Ret: T, Row: func(ctx *EvalCtx, a []types.Datum) (types.Datum, error) {
		re, err := ctx.regex(a[1].(string), "")
		if err != nil {
			return nil, err
		}
		m := re.FindStringSubmatchIndex(a[0].(string))
		if m == nil {
			return nil, nil
		}
		if len(m) > 2 {
			if m[2] < 0 {
				return nil, nil
			}
			return a[0].(string)[m[2]:m[3]], nil
		}
		return a[0].(string)[m[0]:m[1]], nil
	}})
	for _, name := range []string{"strpos", "position"} {
		r.Add(&Overload{Name: name, Args: ts(T, T), Ret: I4, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
			s, sub := a[0].(string), a[1].(string)
			i := strings.Index(s, sub)
			if i < 0 {
				return int64(0), nil
			}
			return int64(utf8.RuneCountInString(s[:i]) + 1), nil
		}})
	}
	r.Add(&Overload{Name: "position", Args: ts(by, by), Ret: I4, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		return int64(strings.Index(a[0].(string), a[1].(string)) + 1), nil
	}})
	r.Add(&Overload{Name: "replace", Args: ts(T, T, T), Ret: T, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		if a[1].(string) == "" {
			return a[0], nil
		}
		return strings.ReplaceAll(a[0].(string), a[1].(string), a[2].(string)), nil
	}})
	r.Add(&Overload{Name: "translate", Args: ts(T, T, T), Ret: T, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		return translateString(a[0].(string), a[1].(string), a[2].(string)), nil
	}})
	// Trimming.
	trims := map[string][2]bool{"btrim": {true, true}, "trim": {true, true}, "ltrim": {true, false}, "rtrim": {false, true}}
	for name, sides := range trims {
		left, right := sides[0], sides[1]
		r.Add(&Overload{Name: name, Args: ts(T), Ret: T, Vec: strMapVec(func(s string) string {
			if left {
				s = strings.TrimLeft(s, " ")
			}
			if right {
				s = strings.TrimRight(s, " ")
			}
			return s
		})})
		r.Add(&Overload{Name: name, Args: ts(T, T), Ret: T, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
			s, set := a[0].(string), a[1].(string)
			if left {
				s = strings.TrimLeft(s, set)
			}
			if right {
				s = strings.TrimRight(s, set)
			}
			return s, nil
		}})
	}
	r.Add(&Overload{Name: "lpad", Args: ts(T, I4), Ret: T, Row: padFunc(true, false)})
	r.Add(&Overload{Name: "lpad", Args: ts(T, I4, T), Ret: T, Row: padFunc(true, true)})
	r.Add(&Overload{Name: "rpad", Args: ts(T, I4), Ret: T, Row: padFunc(false, false)})
	r.Add(&Overload{Name: "rpad", Args: ts(T, I4, T), Ret: T, Row: padFunc(false, true)})

	r.Add(&Overload{Name: "concat", Args: nil, Variadic: AnyType, Ret: T, NullOK: true, Vec: typedRows(true, func(ctx *EvalCtx, typs []*types.T, row []types.Datum) (types.Datum, error) {
		var sb strings.Builder
		for i, d := range row {
			if d != nil {
				sb.WriteString(datumText(ctx, typs[i], d))
			}
		}
		return sb.String(), nil
	})})
	r.Add(&Overload{Name: "concat_ws", Args: ts(T), Variadic: AnyType, Ret: T, NullOK: true, Vec: typedRows(true, func(ctx *EvalCtx, typs []*types.T, row []types.Datum) (types.Datum, error) {
		if row[0] == nil {
			return nil, nil
		}
		sep := row[0].(string)
		var sb strings.Builder
		first := true
		for i, d := range row[1:] {
			if d == nil {
				continue
			}
			if !first {
				sb.WriteString(sep)
			}
			first = false
			sb.WriteString(datumText(ctx, typs[i+1], d))
		}
		return sb.String(), nil
	})})
	r.Add(&Overload{Name: "split_part", Args: ts(T, T, I4), Ret: T, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		return splitPart(a[0].(string), a[1].(string), a[2].(int64))
	}})
	r.Add(&Overload{Name: "left", Args: ts(T, I4), Ret: T, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		rs := []rune(a[0].(string))
		n := int(a[1].(int64))
		if n < 0 {
			n = max(len(rs)+n, 0)
		}
		return string(rs[:min(n, len(rs))]), nil
	}})
	r.Add(&Overload{Name: "right", Args: ts(T, I4), Ret: T, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		rs := []rune(a[0].(string))
		n := int(a[1].(int64))
		if n < 0 {
			n = max(len(rs)+n, 0)
		}
		return string(rs[len(rs)-min(n, len(rs)):]), nil
	}})
	r.Add(&Overload{Name: "repeat", Args: ts(T, I4), Ret: T, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		n := a[1].(int64)
		if n <= 0 {
			return "", nil
		}
		if int64(len(a[0].(string)))*n > 1<<30 {
			return nil, sqlerr.New(sqlerr.ProgramLimitExceeded, "requested length too large")
		}
		return strings.Repeat(a[0].(string), int(n)), nil
	}})
	r.Add(&Overload{Name: "starts_with", Args: ts(T, T), Ret: B, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		return strings.HasPrefix(a[0].(string), a[1].(string)), nil
	}})
	r.Add(&Overload{Name: "encode", Args: ts(by, T), Ret: T, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		return encodeBytes(a[0].(string), a[1].(string))
	}})
	r.Add(&Overload{Name: "decode", Args: ts(T, T), Ret: by, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		return decodeBytes(a[0].(string), a[1].(string))
	}})
	r.Add(&Overload{Name: "chr", Args: ts(I4), Ret: T, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		c := a[0].(int64)
		if c == 0 {
			return nil, sqlerr.New(sqlerr.ProgramLimitExceeded, "null character not permitted")
		}
		if c < 0 || c > unicode.MaxRune || (c >= 0xD800 && c <= 0xDFFF) {
			return nil, sqlerr.New(sqlerr.ProgramLimitExceeded, "requested character too large for encoding: %d", c)
		}
		return string(rune(c)), nil
	}})
	r.Add(&Overload{Name: "ascii", Args: ts(T), Ret: I4, Vec: strToIntVec(func(s string) int64 {
		if s == "" {
			return 0
		}
		c, _ := utf8.DecodeRuneInString(s)
		return int64(c)
	})})
	r.Add(&Overload{Name: "quote_ident", Args: ts(T), Ret: T, Vec: strMapVec(QuoteIdent)})
	r.Add(&Overload{Name: "parse_ident", Args: ts(T), Ret: textArr, Row: parseIdent})
	r.Add(&Overload{Name: "parse_ident", Args: ts(T, B), Ret: textArr, Row: parseIdent})
	r.Add(&Overload{Name: "quote_literal", Args: ts(T), Ret: T, Vec: strMapVec(quoteLiteral)})
	r.Add(&Overload{Name: "quote_literal", Args: ts(AnyElement), Ret: T, Vec: typedRows(false, func(ctx *EvalCtx, typs []*types.T, row []types.Datum) (types.Datum, error) {
		return quoteLiteral(datumText(ctx, typs[0], row[0])), nil
	})})
	r.Add(&Overload{Name: "quote_nullable", Args: ts(T), Ret: T, NullOK: true, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		if a[0] == nil {
			return "NULL", nil
		}
		return quoteLiteral(a[0].(string)), nil
	}})
	r.Add(&Overload{Name: "quote_nullable", Args: ts(AnyElement), Ret: T, NullOK: true, Vec: typedRows(true, func(ctx *EvalCtx, typs []*types.T, row []types.Datum) (types.Datum, error) {
		if row[0] == nil {
			return "NULL", nil
		}
		return quoteLiteral(datumText(ctx, typs[0], row[0])), nil
	})})
	r.Add(&Overload{Name: "format", Args: ts(T), Variadic: AnyType, Ret: T, NullOK: true, Vec: typedRows(true, func(ctx *EvalCtx, typs []*types.T, row []types.Datum) (types.Datum, error) {
		if row[0] == nil {
			return nil, nil
		}
		return formatString(ctx, row[0].(string), typs[1:], row[1:])
	})})
	for _, t := range []*types.T{I4, I8} {
		bits := 32
		if t == I8 {
			bits = 64
		}
		r.Add(&Overload{Name: "to_hex", Args: ts(t), Ret: T, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
			x := a[0].(int64)
			if bits == 32 {
				return strconv.FormatUint(uint64(uint32(x)), 16), nil
			}
			return strconv.FormatUint(uint64(x), 16), nil
		}})
	}

	// Regular expressions.
	r.Add(&Overload{Name: "regexp_replace", Args: ts(T, T, T), Ret: T, Row: regexpReplace})
	r.Add(&Overload{Name: "regexp_replace", Args: ts(T, T, T, T), Ret: T, Row: regexpReplace})
	for _, name := range []string{"regexp_match", "regexp_matches"} {
		r.Add(&Overload{Name: name, Args: ts(T, T), Ret: textArr, Row: regexpMatch})
		r.Add(&Overload{Name: name, Args: ts(T, T, T), Ret: textArr, Row: regexpMatch})
	}
	r.Add(&Overload{Name: "regexp_split_to_array", Args: ts(T, T), Ret: textArr, Row: regexpSplit})
	r.Add(&Overload{Name: "regexp_split_to_array", Args: ts(T, T, T), Ret: textArr, Row: regexpSplit})
	r.Add(&Overload{Name: "regexp_split_to_table", Args: ts(T, T), Ret: textArr, Row: regexpSplit})
	r.Add(&Overload{Name: "regexp_split_to_table", Args: ts(T, T, T), Ret: textArr, Row: regexpSplit})
	r.Add(&Overload{Name: "regexp_like", Args: ts(T, T), Ret: B, Row: func(ctx *EvalCtx, a []types.Datum) (types.Datum, error) {
		re, err := ctx.regex(a[1].(string), "")
		if err != nil {
			return nil, err
		}
		return re.MatchString(a[0].(string)), nil
	}})
	r.Add(&Overload{Name: "string_to_array", Args: ts(T, T), Ret: textArr, NullOK: true, Row: stringToArray})
	r.Add(&Overload{Name: "string_to_array", Args: ts(T, T, T), Ret: textArr, NullOK: true, Row: stringToArray})
	r.Add(&Overload{Name: "string_to_table", Args: ts(T, T), Ret: textArr, NullOK: true, Row: stringToArray})
	r.Add(&Overload{Name: "array_to_string", Args: ts(AnyArray, T), Ret: T, Vec: typedRows(false, arrayToString)})
	r.Add(&Overload{Name: "array_to_string", Args: ts(AnyArray, T, T), Ret: T, NullOK: true, Vec: typedRows(true, func(ctx *EvalCtx, typs []*types.T, row []types.Datum) (types.Datum, error) {
		if row[0] == nil || row[1] == nil {
			return nil, nil
		}
		return arrayToString(ctx, typs, row)
	})})

	// LIKE / ILIKE and the regex match operators.
	for _, op := range []struct {
		name       string
		ci, negate bool
	}{{"~~", false, false}, {"~~*", true, false}, {"!~~", false, true}, {"!~~*", true, true}} {
		r.Add(&Overload{Name: op.name, Args: ts(T, T), Ret: B, Infix: true, Vec: likeVec(op.ci, op.negate)})
	}
	for _, fn := range []string{"like", "ilike"} {
		ci := fn == "ilike"
		r.Add(&Overload{Name: fn, Args: ts(T, T), Ret: B, Vec: likeVec(ci, false)})
	}
	r.Add(&Overload{Name: "like_escape", Args: ts(T, T), Ret: T, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		return likeEscape(a[0].(string), a[1].(string))
	}})
	for _, op := range []struct {
		name       string
		ci, negate bool
	}{{"~", false, false}, {"~*", true, false}, {"!~", false, true}, {"!~*", true, true}} {
		r.Add(&Overload{Name: op.name, Args: ts(T, T), Ret: B, Infix: true, Vec: regexMatchVec(op.ci, op.negate)})
	}
	r.Add(&Overload{Name: "similar_to_escape", Args: ts(T), Ret: T, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		return similarToRegex(a[0].(string), "\\")
	}})
	r.Add(&Overload{Name: "similar_to_escape", Args: ts(T, T), Ret: T, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		return similarToRegex(a[0].(string), a[1].(string))
	}})
	r.Add(&Overload{Name: "||", Args: ts(by, by), Ret: by, Infix: true, Vec: concatText})
}

func lowerString(s string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return strings.ToLower(s)
		}
		if c >= 'A' && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

func upperString(s string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf || (c >= 'a' && c <= 'z') {
			return strings.ToUpper(s)
		}
	}
	return s
}

// initcap upper-cases the first letter of each alphanumeric run and
// lower-cases the rest, as Postgres' initcap does.
func initcap(s string) string {
	var sb strings.Builder
	sb.Grow(len(s))
	inWord := false
	for _, c := range s {
		if inWord {
			sb.WriteRune(unicode.ToLower(c))
		} else {
			sb.WriteRune(unicode.ToUpper(c))
		}
		inWord = unicode.IsLetter(c) || unicode.IsDigit(c)
	}
	return sb.String()
}

func reverseString(s string) string {
	rs := []rune(s)
	for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
		rs[i], rs[j] = rs[j], rs[i]
	}
	return string(rs)
}

func md5Hex(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

// substrRunes implements substr(s, start[, count]) on characters: positions
// before 1 still count against the length, as in Postgres.
func substrRunes(s string, start, count int64, hasCount bool) (types.Datum, error) {
	if hasCount && count < 0 {
		return nil, sqlerr.New("22011", "negative substring length not allowed")
	}
	end := int64(1 << 62)
	if hasCount {
		end = start + count
		if count > 0 && end < start { // overflow
			end = 1 << 62
		}
	}
	if start < 1 {
		start = 1
	}
	if end <= start {
		return "", nil
	}
	// Walk the runes once.
	pos := int64(1)
	bStart, bEnd := len(s), len(s)
	for i := range s {
		if pos == start {
			bStart = i
		}
		if pos == end {
			bEnd = i
			break
		}
		pos++
	}
	if bStart > bEnd {
		return "", nil
	}
	return s[bStart:bEnd], nil
}

func substrBytes(s string, start, count int64, hasCount bool) (types.Datum, error) {
	if hasCount && count < 0 {
		return nil, sqlerr.New("22011", "negative substring length not allowed")
	}
	end := int64(len(s)) + 1
	if hasCount && start+count < end {
		end = start + count
	}
	if start < 1 {
		start = 1
	}
	if end <= start || start > int64(len(s)) {
		return "", nil
	}
	return s[start-1 : end-1], nil
}

func translateString(s, from, to string) string {
	fr, tr := []rune(from), []rune(to)
	var sb strings.Builder
	for _, c := range s {
		idx := -1
		for i, f := range fr {
			if f == c {
				idx = i
				break
			}
		}
		switch {
		case idx < 0:
			sb.WriteRune(c)
		case idx < len(tr):
			sb.WriteRune(tr[idx])
		}
	}
	return sb.String()
}

func padFunc(left, hasFill bool) RowFunc {
	return func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		s := a[0].(string)
		n := int(a[1].(int64))
		fill := " "
		if hasFill {
			fill = a[2].(string)
		}
		if n <= 0 {
			return "", nil
		}
		rs := []rune(s)
		if len(rs) >= n {
			return string(rs[:n]), nil
		}
		if fill == "" {
			return s, nil
		}
		fr := []rune(fill)
		pad := make([]rune, 0, n-len(rs))
		for i := 0; len(pad) < n-len(rs); i++ {
			pad = append(pad, fr[i%len(fr)])
		}
		if left {
			return string(pad) + s, nil
		}
		return s + string(pad), nil
	}
}

func splitPart(s, delim string, n int64) (types.Datum, error) {
	if n == 0 {
		return nil, errInvalidParam("field position must not be zero")
	}
	if delim == "" {
		if n == 1 || n == -1 {
			return s, nil
		}
		return "", nil
	}
	parts := strings.Split(s, delim)
	if s == "" {
		return "", nil
	}
	if n < 0 {
		n += int64(len(parts)) + 1
		if n < 1 {
			return "", nil
		}
	}
	if n > int64(len(parts)) {
		return "", nil
	}
	return parts[n-1], nil
}

func encodeBytes(b, format string) (types.Datum, error) {
	switch strings.ToLower(format) {
	case "hex":
		return hex.EncodeToString([]byte(b)), nil
	case "base64":
		enc := base64.StdEncoding.EncodeToString([]byte(b))
		// Postgres breaks base64 output into lines of 76 characters.
		var sb strings.Builder
		for len(enc) > 76 {
			sb.WriteString(enc[:76])
			sb.WriteByte('\n')
			enc = enc[76:]
		}
		sb.WriteString(enc)
		return sb.String(), nil
	case "escape":
		var sb strings.Builder
		for i := 0; i < len(b); i++ {
			c := b[i]
			switch {
			case c == '\\':
				sb.WriteString(`\\`)
			case c == 0 || c >= 0x80:
				sb.WriteByte('\\')
				sb.WriteByte('0' + c>>6)
				sb.WriteByte('0' + (c>>3)&7)
				sb.WriteByte('0' + c&7)
			default:
				sb.WriteByte(c)
			}
		}
		return sb.String(), nil
	}
	return nil, errInvalidParam("unrecognized encoding: \"%s\"", format)
}

func decodeBytes(s, format string) (types.Datum, error) {
	switch strings.ToLower(format) {
	case "hex":
		var out []byte
		for i := 0; i < len(s); {
			c := s[i]
			if c == ' ' || c == '\n' || c == '\t' || c == '\r' {
				i++
				continue
			}
			hi, ok := unhex(c)
			if !ok {
				return nil, errInvalidParam("invalid hexadecimal digit: \"%s\"", string(c))
			}
			if i+1 >= len(s) {
				return nil, errInvalidParam("invalid hexadecimal data: odd number of digits")
			}
			lo, ok := unhex(s[i+1])
			if !ok {
				return nil, errInvalidParam("invalid hexadecimal digit: \"%s\"", string(s[i+1]))
			}
			out = append(out, hi<<4|lo)
			i += 2
		}
		return string(out), nil
	case "base64":
		clean := strings.Map(func(r rune) rune {
			if r == ' ' || r == '\n' || r == '\t' || r == '\r' {
				return -1
			}
			return r
		}, s)
		out, err := base64.StdEncoding.DecodeString(clean)
		if err != nil {
			out, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(clean, "="))
			if err != nil {
				return nil, errInvalidParam("invalid base64 end sequence").WithHint("Input data is missing padding, is truncated, or is otherwise corrupted.")
			}
		}
		return string(out), nil
	case "escape":
		var out []byte
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c != '\\' {
				out = append(out, c)
				continue
			}
			if i+1 < len(s) && s[i+1] == '\\' {
				out = append(out, '\\')
				i++
				continue
			}
			if i+3 < len(s)+0 && isOct(s[i+1]) && isOct(s[i+2]) && isOct(s[i+3]) && s[i+1] <= '3' {
				out = append(out, (s[i+1]-'0')<<6|(s[i+2]-'0')<<3|(s[i+3]-'0'))
				i += 3
				continue
			}
			return nil, sqlerr.New(sqlerr.InvalidTextRepresentation, "invalid input syntax for type bytea")
		}
		return string(out), nil
	}
	return nil, errInvalidParam("unrecognized encoding: \"%s\"", format)
}

func isOct(c byte) bool { return c >= '0' && c <= '7' }

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// QuoteIdent quotes an identifier when Postgres' quote_ident would.
func QuoteIdent(s string) string { return types.QuoteIdent(s) }

func quoteLiteral(s string) string {
	var sb strings.Builder
	if strings.Contains(s, `\`) {
		sb.WriteByte('E')
	}
	sb.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\'' || c == '\\' {
			sb.WriteByte(c)
		}
		sb.WriteByte(c)
	}
	sb.WriteByte('\'')
	return sb.String()
}

// formatString implements format(): %[n$][-][width]{s,I,L} and %%.
func formatString(ctx *EvalCtx, f string, typs []*types.T, args []types.Datum) (types.Datum, error) {
	var sb strings.Builder
	next := 0
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c != '%' {
			sb.WriteByte(c)
			continue
		}
		i++
		if i >= len(f) {
			return nil, errInvalidParam("unterminated format() type specifier").WithHint(`For a single "%%" use "%%%%".`)
		}
		if f[i] == '%' {
			sb.WriteByte('%')
			continue
		}
		// Optional argument position n$.
		j := i
		for j < len(f) && f[j] >= '0' && f[j] <= '9' {
			j++
		}
		argIdx := -1
		if j < len(f) && f[j] == '$' && j > i {
			n, _ := strconv.Atoi(f[i:j])
			if n == 0 {
				return nil, errInvalidParam("format specifies argument 0, but arguments are numbered from 1")
			}
			argIdx = n - 1
			i = j + 1
		}
		minus := false
		if i < len(f) && f[i] == '-' {
			minus = true
			i++
		}
		width := 0
		for i < len(f) && f[i] >= '0' && f[i] <= '9' {
			width = width*10 + int(f[i]-'0')
			i++
		}
		if i >= len(f) {
			return nil, errInvalidParam("unterminated format() type specifier").WithHint(`For a single "%%" use "%%%%".`)
		}
		if argIdx < 0 {
			argIdx = next
		}
		next = argIdx + 1
		conv := f[i]
		if conv != 's' && conv != 'I' && conv != 'L' {
			return nil, errInvalidParam("unrecognized format() type specifier \"%c\"", conv).WithHint(`For a single "%%" use "%%%%".`)
		}
		if argIdx >= len(args) {
			return nil, errInvalidParam("too few arguments for format()")
		}
		d := args[argIdx]
		var s string
		switch conv {
		case 's':
			if d != nil {
				s = datumText(ctx, typs[argIdx], d)
			}
		case 'I':
			if d == nil {
				return nil, sqlerr.New(sqlerr.NullValueNotAllowed, "null values cannot be formatted as an SQL identifier")
			}
			s = QuoteIdent(datumText(ctx, typs[argIdx], d))
		case 'L':
			if d == nil {
				s = "NULL"
			} else {
				s = quoteLiteral(datumText(ctx, typs[argIdx], d))
			}
		}
		if pad := width - utf8.RuneCountInString(s); pad > 0 {
			if minus {
				s += strings.Repeat(" ", pad)
			} else {
				s = strings.Repeat(" ", pad) + s
			}
		}
		sb.WriteString(s)
	}
	return sb.String(), nil
}

func stringToArray(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
	if a[0] == nil {
		return nil, nil
	}
	s := a[0].(string)
	var nullStr *string
	if len(a) > 2 && a[2] != nil {
		x := a[2].(string)
		nullStr = &x
	}
	arr := &types.Array{Elem: types.Text}
	if s == "" {
		arr.Elems = []types.Datum{}
		return arr, nil
	}
	var parts []string
	switch {
	case a[1] == nil:
		for _, c := range s {
			parts = append(parts, string(c))
		}
	case a[1].(string) == "":
		parts = []string{s}
	default:
		parts = strings.Split(s, a[1].(string))
	}
	arr.Elems = make([]types.Datum, len(parts))
	for i, p := range parts {
		if nullStr != nil && p == *nullStr {
			continue
		}
		arr.Elems[i] = p
	}
	return arr, nil
}

func arrayToString(ctx *EvalCtx, typs []*types.T, row []types.Datum) (types.Datum, error) {
	arr := row[0].(*types.Array)
	sep := row[1].(string)
	var nullStr *string
	if len(row) > 2 && row[2] != nil {
		x := row[2].(string)
		nullStr = &x
	}
	elem := arr.Elem
	if elem == nil {
		elem = typs[0].Elem
	}
	var sb strings.Builder
	first := true
	for _, e := range arr.Elems {
		var s string
		if e == nil {
			if nullStr == nil {
				continue
			}
			s = *nullStr
		} else {
			s = datumText(ctx, elem, e)
		}
		if !first {
			sb.WriteString(sep)
		}
		first = false
		sb.WriteString(s)
	}
	return sb.String(), nil
}

// ---- LIKE ----

// likeMatcher is a compiled LIKE pattern.
type likeMatcher struct {
	kind    int // 0 general, 1 exact, 2 prefix, 3 suffix, 4 contains, 5 match-all
	lit     string
	pattern string // the (lower-cased for ILIKE) pattern for the general matcher
	raw     string // the pattern as given, to detect repeats
	ci      bool
}

func compileLike(p string, ci bool) (*likeMatcher, error) {
	raw := p
	if strings.HasSuffix(p, `\`) {
		// Count trailing backslashes: an odd number leaves a dangling escape.
		n := len(p) - len(strings.TrimRight(p, `\`))
		if n%2 == 1 {
			return nil, sqlerr.New(sqlerr.InvalidEscapeSequence, "LIKE pattern must not end with escape character")
		}
	}
	if ci {
		p = strings.ToLower(p)
	}
	m := &likeMatcher{pattern: p, raw: raw, ci: ci}
	if strings.ContainsAny(p, `\_`) {
		return m, nil
	}
	core := strings.Trim(p, "%")
	if strings.Contains(core, "%") {
		return m, nil
	}
	lead, trail := strings.HasPrefix(p, "%"), strings.HasSuffix(p, "%") && len(p) > 0
	switch {
	case core == "" && (lead || trail):
		m.kind = 5
	case !lead && !trail:
		m.kind, m.lit = 1, core
	case !lead && trail:
		m.kind, m.lit = 2, core
	case lead && !trail:
		m.kind, m.lit = 3, core
	default:
		m.kind, m.lit = 4, core
	}
	return m, nil
}

func (m *likeMatcher) match(s string) bool {
	if m.ci {
		s = lowerString(s)
	}
	switch m.kind {
	case 1:
		return s == m.lit
	case 2:
		return strings.HasPrefix(s, m.lit)
	case 3:
		return strings.HasSuffix(s, m.lit)
	case 4:
		return strings.Contains(s, m.lit)
	case 5:
		return true
	}
	return likeMatch(s, m.pattern)
}

// likeMatch is Postgres' MatchText: % matches any run, _ one character, \ escapes.
func likeMatch(s, p string) bool {
	for len(p) > 0 {
		switch p[0] {
		case '%':
			for len(p) > 0 && p[0] == '%' {
				p = p[1:]
			}
			if p == "" {
				return true
			}
			for i := 0; i <= len(s); {
				if likeMatch(s[i:], p) {
					return true
				}
				if i == len(s) {
					break
				}
				_, n := utf8.DecodeRuneInString(s[i:])
				i += n
			}
			return false
		case '_':
			if s == "" {
				return false
			}
			_, n := utf8.DecodeRuneInString(s)
			s, p = s[n:], p[1:]
		case '\\':
			p = p[1:]
			if p == "" || s == "" || s[0] != p[0] {
				return false
			}
			s, p = s[1:], p[1:]
		default:
			if s == "" || s[0] != p[0] {
				return false
			}
			s, p = s[1:], p[1:]
		}
	}
	return s == ""
}

// likeVec matches a text vector against patterns, compiling each distinct
// consecutive pattern once (a constant pattern compiles once per chunk).
func likeVec(ci, negate bool) VecFunc {
	return func(_ *EvalCtx, args []*coldata.Vec, n int, out *types.T) (*coldata.Vec, error) {
		a, p := args[0], args[1]
		o := coldata.MakeVec(types.Bool, n)
		o.Nulls = mergeNulls(n, a, p)
		var m *likeMatcher
		for i := 0; i < n; i++ {
			if o.Nulls != nil && o.Nulls[i] {
				continue
			}
			if m == nil || p.Bytes[i] != m.raw {
				var err error
				if m, err = compileLike(p.Bytes[i], ci); err != nil {
					return nil, err
				}
			}
			o.Bools[i] = m.match(a.Bytes[i]) != negate
		}
		return o, nil
	}
}

// likeEscape rewrites a pattern with a custom escape character into the
// backslash form (LIKE ... ESCAPE e); an empty escape disables escaping.
func likeEscape(p, esc string) (types.Datum, error) {
	if esc == `\` {
		return p, nil
	}
	if utf8.RuneCountInString(esc) > 1 {
		return nil, sqlerr.New(sqlerr.InvalidEscapeSequence, "invalid escape string").WithHint("Escape string must be empty or one character.")
	}
	e, _ := utf8.DecodeRuneInString(esc)
	var sb strings.Builder
	rs := []rune(p)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch {
		case esc != "" && c == e:
			i++
			if i >= len(rs) {
				return nil, sqlerr.New(sqlerr.InvalidEscapeSequence, "LIKE pattern must not end with escape character")
			}
			sb.WriteByte('\\')
			sb.WriteRune(rs[i])
		case c == '\\':
			sb.WriteString(`\\`)
		default:
			sb.WriteRune(c)
		}
	}
	return sb.String(), nil
}
