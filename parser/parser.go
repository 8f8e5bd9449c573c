package parser

import (
	"errors"
	"unicode/utf8"

	pg "github.com/pganalyze/pg_query_go/v6"
	pgparser "github.com/pganalyze/pg_query_go/v6/parser"

	"github.com/sluice-db/sluice/sqlerr"
)

// Statement is one statement of a query string.
type Statement struct {
	// Text is the statement without the terminating semicolon and without
	// leading or trailing comments and white space.
	Text string
	// Offset is the byte offset of Text in the original query string.
	Offset int
	// AST is pg_query's parse tree; nil for extension statements.
	AST *pg.Node
	// Ext is what an Extension returned for the statement (nil otherwise).
	Ext any
}

// CharOffset is Offset counted in characters (runes) of sql, the form error
// positions use.
func (s Statement) CharOffset(sql string) int {
	if s.Offset > len(sql) {
		return utf8.RuneCountInString(sql)
	}
	return utf8.RuneCountInString(sql[:s.Offset])
}

// Token is one scanner token of a statement.
type Token struct {
	Kind    pg.Token
	Keyword pg.KeywordKind
	// Start and End are byte offsets in the statement's text.
	Start, End int
	// Text is the token's source text.
	Text string
}

// Stmt is an extension's representation of a statement it parsed.
type Stmt = any

// Extension parses statements that Postgres' grammar does not know. Match is
// given the statement's tokens (comments removed) and text; it returns ok =
// false to let the next extension or pg_query have the statement. Errors with
// a sqlerr position are taken as relative to the statement text.
type Extension interface {
	Match(tokens []Token, text string) (Stmt, bool, error)
}

// Parser parses query strings, trying its extensions before pg_query.
type Parser struct {
	Extensions []Extension
}

// Default is the parser with the extensions Sluice registers.
var Default = &Parser{Extensions: []Extension{Streaming{}}}

// Parse parses sql with the Default parser.
func Parse(sql string) ([]Statement, error) { return Default.Parse(sql) }

// Split splits sql into statement pieces without parsing them: each has Text,
// Offset and its tokens. Comment-only and empty pieces are dropped.
func Split(sql string) ([]Statement, [][]Token, error) {
	res, err := pg.Scan(sql)
	if err != nil {
		return nil, nil, convertError(sql, 0, err)
	}
	var (
		stmts []Statement
		toks  [][]Token
		cur   []*pg.ScanToken
	)
	flush := func() {
		if len(cur) == 0 {
			return
		}
		start, end := int(cur[0].Start), int(cur[len(cur)-1].End)
		if start < 0 || end > len(sql) || start > end {
			cur = cur[:0]
			return
		}
		ts := make([]Token, len(cur))
		for i, t := range cur {
			s, e := int(t.Start), int(t.End)
			ts[i] = Token{Kind: t.Token, Keyword: t.KeywordKind, Start: s - start, End: e - start, Text: sql[s:e]}
		}
		stmts = append(stmts, Statement{Text: sql[start:end], Offset: start})
		toks = append(toks, ts)
		cur = nil
	}
	for _, t := range res.Tokens {
		switch t.Token {
		case pg.Token_SQL_COMMENT, pg.Token_C_COMMENT:
			continue
		case pg.Token_ASCII_59:
			flush()
			continue
		}
		cur = append(cur, t)
	}
	flush()
	return stmts, toks, nil
}

// Parse splits sql into statements and parses each. Any syntax error fails the
// whole string, as in Postgres (nothing of it runs).
func (p *Parser) Parse(sql string) ([]Statement, error) {
	stmts, toks, err := Split(sql)
	if err != nil {
		return nil, err
	}
	for i := range stmts {
		st := &stmts[i]
		ext, ok, err := p.matchExtension(toks[i], st.Text)
		if err != nil {
			if e, isSQL := sqlerr.As(err); isSQL && e.Position > 0 {
				e.Position += st.CharOffset(sql)
			}
			return nil, err
		}
		if ok {
			st.Ext = ext
			continue
		}
		tree, err := pg.Parse(st.Text)
		if err != nil {
			// Postgres parses the whole string at once, so an error can be
			// reported at a later statement's first token ("select (; select
			// 1" fails at ";"). Re-parse the rest of the string to report it
			// where Postgres would.
			if _, err2 := pg.Parse(sql[st.Offset:]); err2 != nil {
				return nil, convertError(sql, st.Offset, err2)
			}
			return nil, convertError(sql, st.Offset, err)
		}
		if len(tree.Stmts) == 0 || tree.Stmts[0].Stmt == nil {
			return nil, sqlerr.Bug("parser: no statement in %q", st.Text)
		}
		st.AST = tree.Stmts[0].Stmt
	}
	return stmts, nil
}

func (p *Parser) matchExtension(toks []Token, text string) (Stmt, bool, error) {
	for _, ext := range p.Extensions {
		s, ok, err := ext.Match(toks, text)
		if err != nil || ok {
			return s, ok, err
		}
	}
	return nil, false, nil
}

// convertError turns a pg_query error for the text at byte offset off of sql
// into a 42601 error positioned in sql.
func convertError(sql string, off int, err error) error {
	var pe *pgparser.Error
	if !errors.As(err, &pe) {
		return sqlerr.New(sqlerr.SyntaxError, "%s", err.Error())
	}
	e := sqlerr.New(sqlerr.SyntaxError, "%s", pe.Message)
	if pe.Cursorpos > 0 {
		chars := utf8.RuneCountInString(sql[:min(off, len(sql))])
		e.Position = chars + pe.Cursorpos
	}
	return e
}
