package types

import "strings"

// QuoteIdent quotes an identifier as Postgres' quote_ident does: unless it
// is lower-case letters, digits and underscores not starting with a digit,
// and not a keyword that needs quoting.
func QuoteIdent(s string) string {
	safe := s != "" && (s[0] >= 'a' && s[0] <= 'z' || s[0] == '_')
	for i := 0; safe && i < len(s); i++ {
		c := s[i]
		safe = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_'
	}
	if safe && !reservedKeywords[s] {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// SplitIdentifiers splits s, identifiers separated by sep, as Postgres'
// SplitIdentifierString does for DateStyle, search_path or a qualified
// name: spaces around the names are skipped, unquoted names are folded
// (FoldIdent), quoted ones kept as written. An empty or blank s is an empty
// list; ok is false for bad syntax (an empty name, an unclosed quote, a
// name followed by something other than sep).
func SplitIdentifiers(s string, sep byte) (names []string, ok bool) {
	i := skipSpaces(s, 0)
	if i == len(s) {
		return nil, true
	}
	for {
		var name string
		if s[i] == '"' {
			if name, i, ok = ScanQuotedIdent(s, i); !ok {
				return nil, false
			}
		} else {
			j := i
			for j < len(s) && s[j] != sep && !isSpace(s[j]) {
				j++
			}
			name, i = FoldIdent(s[i:j]), j
		}
		if name == "" {
			return nil, false
		}
		names = append(names, name)
		i = skipSpaces(s, i)
		if i == len(s) {
			return names, true
		}
		if s[i] != sep {
			return nil, false
		}
		i = skipSpaces(s, i+1)
		if i == len(s) {
			return nil, false
		}
	}
}

// ScanQuotedIdent reads the double-quoted identifier starting at s[i] (a
// '"'): its name, with each "" read as ", and the index after its closing
// quote; ok is false when the quote is not closed.
func ScanQuotedIdent(s string, i int) (name string, end int, ok bool) {
	var b strings.Builder
	i++
	for {
		k := strings.IndexByte(s[i:], '"')
		if k < 0 {
			return "", len(s), false
		}
		b.WriteString(s[i : i+k])
		i += k + 1
		if i < len(s) && s[i] == '"' {
			b.WriteByte('"')
			i++
			continue
		}
		return b.String(), i, true
	}
}

// FoldIdent folds an unquoted identifier as the SQL scanner does: ASCII
// letters to lower case, other bytes as they are.
func FoldIdent(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func skipSpaces(s string, i int) int {
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return i
}

// reservedKeywords are the keywords quote_ident quotes (Postgres quotes all
// but unreserved ones).
var reservedKeywords = func() map[string]bool {
	m := map[string]bool{}
	for _, k := range strings.Fields(`all analyse analyze and any array as asc asymmetric authorization between bigint binary bit
		boolean both case cast char character check coalesce collate collation column concurrently constraint create cross
		current_catalog current_date current_role current_schema current_time current_timestamp current_user dec decimal
		default deferrable desc distinct do else end except exists extract false fetch float for foreign freeze from full
		grant greatest group grouping having ilike in initially inner inout int integer intersect interval into is isnull
		join json json_array json_arrayagg json_object json_objectagg lateral leading least left like limit localtime
		localtimestamp national natural nchar none normalize not notnull null nullif numeric offset on only or order out
		outer overlaps overlay placing position precision primary real references returning right row select session_user
		setof similar smallint some substring symmetric system_user table tablesample then time timestamp to trailing treat
		trim true union unique user using values varchar variadic verbose when where window with xmlattributes xmlconcat
		xmlelement xmlexists xmlforest xmlnamespaces xmlparse xmlpi xmlroot xmlserialize xmltable`) {
		m[k] = true
	}
	return m
}()
