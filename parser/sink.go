package parser

import (
	pg "github.com/pganalyze/pg_query_go/v6"
)

// CreateSink is CREATE SINK [IF NOT EXISTS] name FROM relation | (query)
// WITH (option = value, …). An option's value may be a parenthesised list
// of names (`key = (a, b)`), which Options holds joined by commas.
type CreateSink struct {
	Name *pg.RangeVar
	// From is the relation the sink reads (nil when Query is set).
	From *pg.RangeVar
	// Query is the sink's SELECT; QueryOffset is its byte offset in the
	// statement text, for error positions; QueryText is its text.
	Query       *pg.Node
	QueryOffset int
	QueryText   string
	IfNotExists bool
	Options     map[string]string
}

// DropSink is DROP SINK [IF EXISTS] name [, …].
type DropSink struct {
	Names    []*pg.RangeVar
	IfExists bool
}

// parseCreateSink parses toks, which start at CREATE SINK.
func parseCreateSink(toks []Token, text string) (*CreateSink, error) {
	cs := &CreateSink{}
	i := 2
	if i+2 < len(toks) && kw(toks[i], "if") && kw(toks[i+1], "not") && kw(toks[i+2], "exists") {
		cs.IfNotExists = true
		i += 3
	}
	name, next, err := parseQualifiedName(toks, text, i)
	if err != nil {
		return nil, err
	}
	cs.Name, i = name, next
	if i >= len(toks) || !kw(toks[i], "from") {
		return nil, syntaxErrorAt(text, toks, i)
	}
	i++
	if i < len(toks) && toks[i].Text == "(" {
		end := matchParen(toks, i)
		if end < 0 {
			return nil, syntaxErrorAt(text, toks, len(toks))
		}
		inner := text[toks[i].End:toks[end].Start]
		tree, err := pg.Parse(inner)
		if err != nil {
			return nil, convertError(text, toks[i].End, err)
		}
		if len(tree.Stmts) != 1 || tree.Stmts[0].Stmt.GetSelectStmt() == nil {
			return nil, syntaxErrorAt(text, toks, i+1)
		}
		cs.Query, cs.QueryOffset, cs.QueryText = tree.Stmts[0].Stmt, toks[i].End, inner
		i = end + 1
	} else {
		from, next, err := parseQualifiedName(toks, text, i)
		if err != nil {
			return nil, err
		}
		cs.From, i = from, next
	}
	opts, next, err := parseOptions(toks, text, i)
	if err != nil {
		return nil, err
	}
	if next != len(toks) {
		return nil, syntaxErrorAt(text, toks, next)
	}
	cs.Options = opts
	return cs, nil
}

// parseDropSink parses toks, which start at DROP SINK.
func parseDropSink(toks []Token, text string) (*DropSink, error) {
	ds := &DropSink{}
	i := 2
	if i+1 < len(toks) && kw(toks[i], "if") && kw(toks[i+1], "exists") {
		ds.IfExists = true
		i += 2
	}
	for {
		name, next, err := parseQualifiedName(toks, text, i)
		if err != nil {
			return nil, err
		}
		ds.Names, i = append(ds.Names, name), next
		if i < len(toks) && toks[i].Text == "," {
			i++
			continue
		}
		if i != len(toks) {
			return nil, syntaxErrorAt(text, toks, i)
		}
		return ds, nil
	}
}

// parseQualifiedName reads name or schema.name at toks[i].
func parseQualifiedName(toks []Token, text string, i int) (*pg.RangeVar, int, error) {
	if i >= len(toks) || toks[i].Kind != pg.Token_IDENT && toks[i].Keyword == pg.KeywordKind_RESERVED_KEYWORD {
		return nil, i, syntaxErrorAt(text, toks, i)
	}
	rv := &pg.RangeVar{Relname: IdentName(toks[i].Text), Location: int32(toks[i].Start), Inh: true, Relpersistence: "p"}
	i++
	if i+1 < len(toks) && toks[i].Text == "." {
		rv.Schemaname = rv.Relname
		rv.Relname = IdentName(toks[i+1].Text)
		i += 2
	}
	return rv, i, nil
}
