package expr

import (
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// parseIdent implements parse_ident(text [, strict boolean]): a qualified
// identifier split into its names, quoted ones as written and the others
// lower-cased, as PostgreSQL's parse_ident (misc.c) does. Without strict,
// text after the last name is ignored.
func parseIdent(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
	s := a[0].(string)
	strict := len(a) < 2 || a[1].(bool)
	invalid := func(detail string) error {
		e := sqlerr.New(sqlerr.InvalidParameterValue, "string is not a valid identifier: \"%s\"", s)
		if detail != "" {
			e = e.WithDetail("%s", detail)
		}
		return e
	}
	var names []types.Datum
	i := skipSpace(s, 0)
	afterDot := false
	for {
		switch {
		case i < len(s) && s[i] == '"':
			name, end, ok := types.ScanQuotedIdent(s, i)
			if !ok {
				return nil, invalid("String has unclosed double quotes.")
			}
			if name == "" {
				return nil, invalid("Quoted identifier must not be empty.")
			}
			names = append(names, name)
			i = end
		case i < len(s) && identStart(s[i]):
			j := i + 1
			for j < len(s) && identCont(s[j]) {
				j++
			}
			names = append(names, types.FoldIdent(s[i:j]))
			i = j
		case i < len(s) && s[i] == '.':
			if afterDot {
				return nil, invalid("No valid identifier after \".\".")
			}
			return nil, invalid("No valid identifier before \".\".")
		case afterDot:
			return nil, invalid("No valid identifier after \".\".")
		default:
			return nil, invalid("")
		}
		i = skipSpace(s, i)
		if i < len(s) && s[i] == '.' {
			afterDot = true
			i = skipSpace(s, i+1)
			continue
		}
		if i < len(s) && strict {
			return nil, invalid("")
		}
		break
	}
	return &types.Array{Elem: types.Text, Elems: names}, nil
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '\f' || s[i] == '\v') {
		i++
	}
	return i
}

// identStart and identCont are the scanner's identifier bytes: letters,
// underscore and any non-ASCII byte, then digits and $ too.
func identStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80
}

func identCont(c byte) bool { return identStart(c) || c >= '0' && c <= '9' || c == '$' }
