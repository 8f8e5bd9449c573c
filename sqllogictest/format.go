package sqllogictest

import (
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// FormatValue renders one text-format value as it appears in expected results.
// NULL prints as NULL and the empty string as (empty). A value with leading or
// trailing spaces, a control character (newline, tab, ...) or invalid UTF-8 is
// printed Go-quoted ("ab   ") so every row stays on one line and no result
// line ends in whitespace an editor could strip. Everything else prints as the
// server sent it.
func FormatValue(v []byte, null bool) string {
	if null {
		return "NULL"
	}
	if len(v) == 0 {
		return "(empty)"
	}
	s := string(v)
	if needsQuote(s) {
		return strconv.Quote(s)
	}
	return s
}

func needsQuote(s string) bool {
	if !utf8.ValidString(s) {
		return true
	}
	if s[0] == ' ' || s[len(s)-1] == ' ' {
		return true
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f {
			return true
		}
	}
	return false
}

// FormatRows renders rows (nil values are NULL) as result lines in the given
// sort mode: one line per row with values joined by a single space, or one
// line per value for ValueSort.
func FormatRows(rows [][][]byte, mode SortMode) []string {
	var out []string
	for _, row := range rows {
		vals := make([]string, len(row))
		for i, v := range row {
			vals[i] = FormatValue(v, v == nil)
		}
		if mode == ValueSort {
			out = append(out, vals...)
		} else {
			out = append(out, strings.Join(vals, " "))
		}
	}
	if mode != NoSort {
		sort.Strings(out)
	}
	return out
}

// normalizeExpected prepares expected lines for comparison: trailing spaces
// and tabs are dropped and, under rowsort/valuesort, the lines are sorted so a
// hand-written file need not be.
func normalizeExpected(lines []string, mode SortMode) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = strings.TrimRight(l, " \t")
	}
	if mode != NoSort {
		sort.Strings(out)
	}
	return out
}

// IgnoredColumn in a query's type string marks a column whose values are not
// compared: it is left out of the result lines (and of rewrites), for values
// that differ from run to run, such as SUBSCRIBE's epochs.
const IgnoredColumn = '_'

// dropIgnored returns rows without the columns types marks IgnoredColumn.
func dropIgnored(rows [][][]byte, types string) [][][]byte {
	if !strings.ContainsRune(types, IgnoredColumn) {
		return rows
	}
	out := make([][][]byte, len(rows))
	for i, row := range rows {
		out[i] = make([][]byte, 0, len(row))
		for j, v := range row {
			if types[j] != IgnoredColumn {
				out[i] = append(out[i], v)
			}
		}
	}
	return out
}
