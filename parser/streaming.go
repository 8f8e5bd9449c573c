package parser

import (
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/sluice-db/sluice/sqlerr"
)

// CreateStream is CREATE STREAM name (columns…) [WITH (…)]. The statement is
// parsed as CREATE TABLE with STREAM replaced, so columns, types, defaults
// and WITH options follow Postgres' grammar; Create holds that parse. A
// column may add `PATH '$.a.b'` after its type: where a connector's format
// finds its value in a nested record.
type CreateStream struct {
	Create *pg.CreateStmt
	// Paths maps column names to their PATH text.
	Paths map[string]string
	// PathPos maps column names to the 1-based position of their PATH, for
	// errors.
	PathPos map[string]int
	// Watermark is the WATERMARK FOR element of the column list (nil: none).
	Watermark *WatermarkFor
}

// WatermarkFor is `WATERMARK FOR col AS col [- INTERVAL '…']` in CREATE
// STREAM's column list: the stream's event-time column and how far its
// watermark trails the greatest event time seen. The element is taken out
// of the text before Postgres' grammar reads the CREATE.
type WatermarkFor struct {
	Column string
	// Delay is the text of the subtracted interval literal ("" for AS col).
	Delay string
	// Loc, ColumnLoc and DelayLoc are the byte offsets in the statement of
	// WATERMARK, of the column after FOR and of the delay literal, for
	// error positions.
	Loc, ColumnLoc, DelayLoc int32
}

// AlterStream is ALTER STREAM name ADD [COLUMN] col type [PATH '…'], parsed
// as the matching ALTER TABLE.
type AlterStream struct {
	Alter *pg.AlterTableStmt
	// Paths and PathPos are as in CreateStream.
	Paths   map[string]string
	PathPos map[string]int
}

// DropStream is DROP STREAM [IF EXISTS] name [, …] [CASCADE | RESTRICT],
// parsed as the matching DROP TABLE.
type DropStream struct {
	Drop *pg.DropStmt
}

// ShowObjects is SHOW STREAMS, SHOW MATERIALIZED VIEWS, SHOW SOURCES,
// SHOW SINKS or SHOW WATERMARKS.
type ShowObjects struct {
	// Kind is "streams", "materialized views", "sources", "sinks" or
	// "watermarks".
	Kind string
}

// Subscribe is SUBSCRIBE [TO] name | (query) [WITH (option = value, …)].
type Subscribe struct {
	// Name is the relation subscribed to (nil when Query is set).
	Name *pg.RangeVar
	// Query is the subscribed SELECT; QueryOffset is its byte offset in the
	// statement text, for error positions.
	Query       *pg.Node
	QueryOffset int
	Options     map[string]string
}

// CopySubscribe is COPY (SUBSCRIBE …) TO STDOUT [WITH (…)]: the subscription
// streamed as COPY data.
type CopySubscribe struct {
	Subscribe *Subscribe
	// Options are the COPY options (format, header, delimiter…).
	Options map[string]string
}

// DeclareSubscribe is DECLARE name CURSOR FOR SUBSCRIBE …
type DeclareSubscribe struct {
	Cursor    string
	Subscribe *Subscribe
	// Hold is set by WITH HOLD.
	Hold bool
}

// FetchWithTimeout is FETCH [n] [FROM | IN] cursor WITH (timeout = '…'):
// Postgres' FETCH plus how long to wait for rows when none are ready.
type FetchWithTimeout struct {
	Fetch   *pg.FetchStmt
	Timeout string
}

// ViewEmit is CREATE MATERIALIZED VIEW … AS SELECT … EMIT ON WINDOW CLOSE
// (or EMIT CHANGES, the default), or EXPLAIN of it. The EMIT clause is
// blanked out of the text (keeping every other offset) and Postgres parses
// the rest: AST is that parse, a CreateTableAsStmt or an ExplainStmt of one.
type ViewEmit struct {
	AST *pg.Node
	// OnWindowClose is set by EMIT ON WINDOW CLOSE.
	OnWindowClose bool
}

// emitClauses are the EMIT clauses a view may end with, by whether they
// emit on window close.
var emitClauses = []struct {
	words         []string
	onWindowClose bool
}{
	{[]string{"emit", "on", "window", "close"}, true},
	{[]string{"emit", "changes"}, false},
}

// parseViewEmit recognises a CREATE MATERIALIZED VIEW (after EXPLAIN and
// its options, if any) that ends with an EMIT clause.
func parseViewEmit(toks []Token, text string) (Stmt, bool, error) {
	create := -1
	for i := 0; i+2 < len(toks); i++ {
		if kw(toks[i], "create") && kw(toks[i+1], "materialized") && kw(toks[i+2], "view") {
			create = i
			break
		}
	}
	if create < 0 || create > 0 && !kw(toks[0], "explain") {
		return nil, false, nil
	}
	for _, c := range emitClauses {
		n := len(c.words)
		if len(toks) < create+3+n {
			continue
		}
		tail := toks[len(toks)-n:]
		match := true
		for i, w := range c.words {
			match = match && kw(tail[i], w)
		}
		if !match {
			continue
		}
		b := []byte(text)
		for j := tail[0].Start; j < tail[n-1].End; j++ {
			if b[j] != '\n' {
				b[j] = ' '
			}
		}
		tree, err := pg.Parse(string(b))
		if err != nil {
			return nil, false, convertError(text, 0, err)
		}
		if len(tree.Stmts) != 1 {
			return nil, false, syntaxErrorAt(text, toks, len(toks)-n)
		}
		return &ViewEmit{AST: tree.Stmts[0].Stmt, OnWindowClose: c.onWindowClose}, true, nil
	}
	return nil, false, nil
}

// Streaming is the extension that parses Sluice's streaming statements.
type Streaming struct{}

func kw(t Token, word string) bool { return strings.EqualFold(t.Text, word) }

// Match implements Extension.
func (Streaming) Match(toks []Token, text string) (Stmt, bool, error) {
	switch {
	case len(toks) >= 2 && kw(toks[0], "create") && kw(toks[1], "stream"):
		cs := &CreateStream{}
		text, toks, err := cs.takeWatermark(toks, text)
		if err != nil {
			return nil, false, err
		}
		text, err = cs.takePaths(toks, text)
		if err != nil {
			return nil, false, err
		}
		return parseAs(text, toks[1], "TABLE ", func(n *pg.Node) (Stmt, bool) {
			if c := n.GetCreateStmt(); c != nil {
				cs.Create = c
				return cs, true
			}
			return nil, false
		})
	case len(toks) >= 2 && kw(toks[0], "alter") && kw(toks[1], "stream"):
		as := &AlterStream{}
		cs := &CreateStream{}
		text, err := cs.takeAddColumnPath(toks, text)
		if err != nil {
			return nil, false, err
		}
		as.Paths, as.PathPos = cs.Paths, cs.PathPos
		return parseAs(text, toks[1], "TABLE ", func(n *pg.Node) (Stmt, bool) {
			if a := n.GetAlterTableStmt(); a != nil {
				as.Alter = a
				return as, true
			}
			return nil, false
		})
	case len(toks) >= 2 && kw(toks[0], "drop") && kw(toks[1], "stream"):
		return parseAs(text, toks[1], "TABLE ", func(n *pg.Node) (Stmt, bool) {
			if d := n.GetDropStmt(); d != nil {
				return &DropStream{Drop: d}, true
			}
			return nil, false
		})
	case len(toks) >= 2 && kw(toks[0], "create") && kw(toks[1], "sink"):
		cs, err := parseCreateSink(toks, text)
		return cs, err == nil, err
	case len(toks) >= 2 && kw(toks[0], "drop") && kw(toks[1], "sink"):
		ds, err := parseDropSink(toks, text)
		return ds, err == nil, err
	case len(toks) == 2 && kw(toks[0], "show") && kw(toks[1], "sinks"):
		return &ShowObjects{Kind: "sinks"}, true, nil
	case len(toks) == 2 && kw(toks[0], "show") && kw(toks[1], "streams"):
		return &ShowObjects{Kind: "streams"}, true, nil
	case len(toks) == 2 && kw(toks[0], "show") && kw(toks[1], "sources"):
		return &ShowObjects{Kind: "sources"}, true, nil
	case len(toks) == 2 && kw(toks[0], "show") && kw(toks[1], "watermarks"):
		return &ShowObjects{Kind: "watermarks"}, true, nil
	case len(toks) == 3 && kw(toks[0], "show") && kw(toks[1], "materialized") && kw(toks[2], "views"):
		return &ShowObjects{Kind: "materialized views"}, true, nil
	case len(toks) >= 1 && kw(toks[0], "subscribe"):
		s, err := parseSubscribe(toks, text)
		return s, err == nil, err
	case len(toks) >= 3 && kw(toks[0], "copy") && toks[1].Text == "(" && kw(toks[2], "subscribe"):
		return parseCopySubscribe(toks, text)
	case len(toks) >= 5 && kw(toks[0], "declare"):
		// DECLARE name [options] CURSOR [WITH HOLD] FOR SUBSCRIBE …
		for i := 2; i+1 < len(toks); i++ {
			if kw(toks[i], "for") {
				if !kw(toks[i+1], "subscribe") {
					return nil, false, nil
				}
				s, err := parseSubscribe(toks[i+1:], text)
				if err != nil {
					return nil, false, err
				}
				d := &DeclareSubscribe{Cursor: IdentName(toks[1].Text), Subscribe: s}
				for j := 2; j+1 < i; j++ {
					if kw(toks[j], "with") && kw(toks[j+1], "hold") {
						d.Hold = true
					}
				}
				return d, true, nil
			}
		}
	case len(toks) >= 2 && kw(toks[0], "fetch"):
		return parseFetchWithTimeout(toks, text)
	case len(toks) >= 4 && (kw(toks[0], "create") || kw(toks[0], "explain")) &&
		(kw(toks[len(toks)-2], "emit") || kw(toks[len(toks)-4], "emit")):
		return parseViewEmit(toks, text)
	}
	return nil, false, nil
}

// takePaths records each column's `PATH 'literal'` and blanks it out of
// text (keeping every other offset), so Postgres' grammar sees a plain
// column definition.
func (cs *CreateStream) takePaths(toks []Token, text string) (string, error) {
	open := -1
	for i, t := range toks {
		if t.Text == "(" {
			open = i
			break
		}
	}
	if open < 0 {
		return text, nil
	}
	end := matchParen(toks, open)
	if end < 0 {
		return text, nil
	}
	b := []byte(text)
	col, depth := "", 0
	for i := open + 1; i < end; i++ {
		t := toks[i]
		switch t.Text {
		case "(", "[":
			depth++
			continue
		case ")", "]":
			depth--
			continue
		}
		if depth > 0 {
			continue
		}
		if t.Text == "," {
			col = ""
			continue
		}
		if col == "" {
			col = IdentName(t.Text)
			continue
		}
		if !kw(t, "path") || i+1 >= end || toks[i+1].Kind != pg.Token_SCONST {
			continue
		}
		if cs.Paths == nil {
			cs.Paths, cs.PathPos = map[string]string{}, map[string]int{}
		}
		if _, dup := cs.Paths[col]; dup {
			return "", syntaxErrorAt(text, toks, i)
		}
		lit := toks[i+1].Text
		cs.Paths[col] = strings.ReplaceAll(lit[1:len(lit)-1], "''", "'")
		cs.PathPos[col] = len([]rune(text[:t.Start])) + 1
		for j := t.Start; j < toks[i+1].End; j++ {
			if b[j] != '\n' {
				b[j] = ' '
			}
		}
		i++
	}
	return string(b), nil
}

// takeWatermark finds the WATERMARK FOR element of the column list,
// records it, and blanks it (with one comma beside it) out of text, keeping
// every other offset. It returns the text and the tokens left.
func (cs *CreateStream) takeWatermark(toks []Token, text string) (string, []Token, error) {
	open := -1
	for i, t := range toks {
		if t.Text == "(" {
			open = i
			break
		}
	}
	if open < 0 {
		return text, toks, nil
	}
	end := matchParen(toks, open)
	if end < 0 {
		return text, toks, nil
	}
	// Elements of the column list: [lo, hi) token ranges between commas at
	// depth 1.
	type element struct{ lo, hi int }
	var elems []element
	lo, depth := open+1, 0
	for i := open + 1; i <= end; i++ {
		switch toks[i].Text {
		case "(", "[":
			depth++
		case ")", "]":
			depth--
		}
		if (depth == 0 && toks[i].Text == ",") || i == end {
			elems = append(elems, element{lo, i})
			lo = i + 1
		}
	}
	b := []byte(text)
	blank := func(from, to int) { // token indexes, inclusive
		for j := toks[from].Start; j < toks[to].End; j++ {
			if b[j] != '\n' {
				b[j] = ' '
			}
		}
	}
	drop := map[int]bool{}
	for k, el := range elems {
		if el.hi-el.lo < 2 || !kw(toks[el.lo], "watermark") || !kw(toks[el.lo+1], "for") {
			continue
		}
		if cs.Watermark != nil {
			return "", nil, sqlerr.New(sqlerr.InvalidTableDefinition, "multiple WATERMARK FOR clauses are not allowed").
				WithHint("A stream has one event-time column.").At(charPos(text, toks[el.lo].Start))
		}
		wm, err := parseWatermarkFor(toks[el.lo:el.hi], text, toks, el.lo, el.hi)
		if err != nil {
			return "", nil, err
		}
		cs.Watermark = wm
		from, to := el.lo, el.hi-1
		switch {
		case k > 0:
			from-- // the comma before
		case len(elems) > 1:
			to++ // the comma after
		}
		blank(from, to)
		for j := from; j <= to; j++ {
			drop[j] = true
		}
	}
	if cs.Watermark == nil {
		return text, toks, nil
	}
	kept := make([]Token, 0, len(toks)-len(drop))
	for j, t := range toks {
		if !drop[j] {
			kept = append(kept, t)
		}
	}
	return string(b), kept, nil
}

// parseWatermarkFor reads el, the tokens of WATERMARK FOR col AS expr;
// all is the statement's tokens and [lo, hi) el's range in them.
func parseWatermarkFor(el []Token, text string, all []Token, lo, hi int) (*WatermarkFor, error) {
	if len(el) < 3 || (el[2].Kind != pg.Token_IDENT && el[2].Keyword == pg.KeywordKind_RESERVED_KEYWORD) {
		return nil, syntaxErrorAt(text, all, lo+2)
	}
	wm := &WatermarkFor{Column: IdentName(el[2].Text), Loc: int32(el[0].Start), ColumnLoc: int32(el[2].Start)}
	if len(el) < 4 || !kw(el[3], "as") {
		return nil, syntaxErrorAt(text, all, lo+3)
	}
	if len(el) < 5 {
		return nil, syntaxErrorAt(text, all, hi)
	}
	start, stop := el[4].Start, el[len(el)-1].End
	// Parsed in place (the text before it blanked), so the tree's locations
	// are offsets in the statement.
	const sel = "SELECT "
	pad := start - len(sel)
	tree, err := pg.Parse(strings.Repeat(" ", pad) + sel + text[start:stop])
	if err != nil {
		e := convertError(text[start:stop], 0, err)
		if se, ok := sqlerr.As(e); ok && se.Position > 0 {
			se.Position += charPos(text, start) - 1 - len(sel) - pad
		}
		return nil, e
	}
	notOfForm := func(loc int) error {
		return sqlerr.Unsupported("a watermark must be its column minus a constant interval").
			WithHint("Write WATERMARK FOR %s AS %s - INTERVAL '5 seconds', or AS %s for no delay.", wm.Column, wm.Column, wm.Column).
			At(charPos(text, loc))
	}
	st := tree.Stmts[0].Stmt.GetSelectStmt()
	if len(tree.Stmts) != 1 || st == nil || len(st.TargetList) != 1 || st.FromClause != nil || st.WhereClause != nil {
		return nil, notOfForm(start)
	}
	isColumn := func(n *pg.Node) bool {
		cr := n.GetColumnRef()
		if cr == nil || len(cr.Fields) != 1 {
			return false
		}
		f := cr.Fields[0].GetString_()
		return f != nil && f.Sval == wm.Column
	}
	val := st.TargetList[0].GetResTarget().Val
	if isColumn(val) {
		return wm, nil
	}
	ae := val.GetAExpr()
	if ae == nil || ae.Lexpr == nil || !isColumn(ae.Lexpr) {
		return nil, notOfForm(start)
	}
	if ae.Kind != pg.A_Expr_Kind_AEXPR_OP || len(ae.Name) != 1 || ae.Name[0].GetString_().GetSval() != "-" {
		return nil, notOfForm(int(ae.Location))
	}
	tc := ae.Rexpr.GetTypeCast()
	if tc == nil || tc.TypeName == nil || len(tc.TypeName.Typmods) > 0 || len(tc.TypeName.Names) == 0 ||
		tc.TypeName.Names[len(tc.TypeName.Names)-1].GetString_().GetSval() != "interval" {
		return nil, notOfForm(int(ae.Location))
	}
	c := tc.Arg.GetAConst()
	if c == nil || c.GetSval() == nil {
		return nil, notOfForm(int(tc.Location))
	}
	wm.Delay, wm.DelayLoc = c.GetSval().Sval, c.Location
	return wm, nil
}

// charPos is the 1-based character position of byte offset off of text.
func charPos(text string, off int) int { return len([]rune(text[:off])) + 1 }

// takeAddColumnPath is takePaths for ALTER STREAM … ADD [COLUMN] col type
// PATH '…': the column is the name after ADD [COLUMN].
func (cs *CreateStream) takeAddColumnPath(toks []Token, text string) (string, error) {
	col := ""
	b := []byte(text)
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if kw(t, "add") && i+1 < len(toks) {
			j := i + 1
			if kw(toks[j], "column") && j+1 < len(toks) {
				j++
			}
			col = IdentName(toks[j].Text)
			continue
		}
		if col == "" || !kw(t, "path") || i+1 >= len(toks) || toks[i+1].Kind != pg.Token_SCONST {
			continue
		}
		if cs.Paths == nil {
			cs.Paths, cs.PathPos = map[string]string{}, map[string]int{}
		}
		lit := toks[i+1].Text
		cs.Paths[col] = strings.ReplaceAll(lit[1:len(lit)-1], "''", "'")
		cs.PathPos[col] = len([]rune(text[:t.Start])) + 1
		for j := t.Start; j < toks[i+1].End; j++ {
			if b[j] != '\n' {
				b[j] = ' '
			}
		}
		i++
	}
	return string(b), nil
}

// parseAs parses text with the token tok replaced by repl (of the same
// length, so error positions stay right) and hands the tree to pick.
func parseAs(text string, tok Token, repl string, pick func(*pg.Node) (Stmt, bool)) (Stmt, bool, error) {
	repl = repl[:min(len(repl), tok.End-tok.Start)]
	repl += strings.Repeat(" ", tok.End-tok.Start-len(repl))
	tree, err := pg.Parse(text[:tok.Start] + repl + text[tok.End:])
	if err != nil {
		return nil, false, convertError(text, 0, err)
	}
	if len(tree.Stmts) != 1 {
		return nil, false, sqlerr.New(sqlerr.SyntaxError, "syntax error at or near \"%s\"", tok.Text).At(tok.Start + 1)
	}
	s, ok := pick(tree.Stmts[0].Stmt)
	if !ok {
		return nil, false, sqlerr.New(sqlerr.SyntaxError, "syntax error at or near \"%s\"", tok.Text).At(tok.Start + 1)
	}
	return s, true, nil
}

func syntaxErrorAt(text string, toks []Token, i int) error {
	if i >= len(toks) {
		return sqlerr.New(sqlerr.SyntaxError, "syntax error at end of input").At(len([]rune(text)) + 1)
	}
	return sqlerr.New(sqlerr.SyntaxError, "syntax error at or near \"%s\"", toks[i].Text).At(len([]rune(text[:toks[i].Start])) + 1)
}

// IdentName is the name an identifier token stands for, as PostgreSQL
// reads it: a quoted identifier as written, an unquoted one with its ASCII
// letters lowercased (others, like É, are kept).
func IdentName(tok string) string {
	if strings.HasPrefix(tok, `"`) {
		return unquote(tok)
	}
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, tok)
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return strings.ReplaceAll(s[1:len(s)-1], `""`, `"`)
	}
	return s
}

// matchParen returns the index of the token closing the parenthesis at
// toks[open], or -1.
func matchParen(toks []Token, open int) int {
	depth := 0
	for i := open; i < len(toks); i++ {
		switch toks[i].Text {
		case "(", "[":
			depth++
		case ")", "]":
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// parseSubscribe parses toks, which start at SUBSCRIBE and run to the end of
// the statement. Token offsets are relative to text.
func parseSubscribe(toks []Token, text string) (*Subscribe, error) {
	i := 1
	if i < len(toks) && kw(toks[i], "to") {
		i++
	}
	s := &Subscribe{}
	switch {
	case i < len(toks) && toks[i].Text == "(":
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
		s.Query, s.QueryOffset = tree.Stmts[0].Stmt, toks[i].End
		i = end + 1
	case i < len(toks) && (toks[i].Kind == pg.Token_IDENT || toks[i].Keyword != pg.KeywordKind_RESERVED_KEYWORD):
		rv := &pg.RangeVar{Relname: IdentName(toks[i].Text), Location: int32(toks[i].Start), Inh: true, Relpersistence: "p"}
		i++
		if i+1 < len(toks) && toks[i].Text == "." {
			rv.Schemaname = rv.Relname
			rv.Relname = IdentName(toks[i+1].Text)
			i += 2
		}
		s.Name = rv
	default:
		return nil, syntaxErrorAt(text, toks, i)
	}
	opts, next, err := parseOptions(toks, text, i)
	if err != nil {
		return nil, err
	}
	if next != len(toks) {
		return nil, syntaxErrorAt(text, toks, next)
	}
	s.Options = opts
	return s, nil
}

// parseOptions parses an optional WITH (name = value, …) at toks[i]; values
// are literals, words or parenthesised lists of words (kept joined by
// commas: CREATE SINK's key = (a, b)), and "=" may be left out (COPY's
// FORMAT csv). It returns the options and the next token index.
func parseOptions(toks []Token, text string, i int) (map[string]string, int, error) {
	opts := map[string]string{}
	if i >= len(toks) || !kw(toks[i], "with") {
		return opts, i, nil
	}
	i++
	if i >= len(toks) || toks[i].Text != "(" {
		return nil, i, syntaxErrorAt(text, toks, i)
	}
	i++
	for {
		if i >= len(toks) {
			return nil, i, syntaxErrorAt(text, toks, i)
		}
		name := strings.ToLower(unquote(toks[i].Text))
		i++
		val := "true"
		eq := i < len(toks) && toks[i].Text == "="
		if eq {
			i++
		}
		if eq && i < len(toks) && toks[i].Text == "(" {
			end := matchParen(toks, i)
			if end < 0 {
				return nil, i, syntaxErrorAt(text, toks, len(toks))
			}
			val = text[toks[i].End:toks[end].Start]
			i = end + 1
		} else if i < len(toks) && toks[i].Text != "," && toks[i].Text != ")" && toks[i].Text != "=" {
			val = toks[i].Text
			if toks[i].Kind == pg.Token_SCONST {
				val = strings.ReplaceAll(val[1:len(val)-1], "''", "'")
			} else {
				val = strings.ToLower(unquote(val))
			}
			i++
		} else if eq {
			return nil, i, syntaxErrorAt(text, toks, i)
		}
		opts[name] = val
		if i < len(toks) && toks[i].Text == "," {
			i++
			continue
		}
		if i < len(toks) && toks[i].Text == ")" {
			return opts, i + 1, nil
		}
		return nil, i, syntaxErrorAt(text, toks, i)
	}
}

func parseCopySubscribe(toks []Token, text string) (Stmt, bool, error) {
	end := matchParen(toks, 1)
	if end < 0 {
		return nil, false, syntaxErrorAt(text, toks, len(toks))
	}
	s, err := parseSubscribe(toks[2:end], text)
	if err != nil {
		return nil, false, err
	}
	i := end + 1
	if i+1 >= len(toks) || !kw(toks[i], "to") || !kw(toks[i+1], "stdout") {
		return nil, false, sqlerr.Unsupported("COPY (SUBSCRIBE …) only supports TO STDOUT")
	}
	i += 2
	opts := map[string]string{}
	if i < len(toks) && kw(toks[i], "with") {
		var err error
		if opts, i, err = parseOptions(toks, text, i); err != nil {
			return nil, false, err
		}
	} else if i < len(toks) && toks[i].Text == "(" {
		// COPY's older form: options in parentheses without WITH.
		rest := append([]Token{{Text: "with"}}, toks[i:]...)
		var next int
		var err error
		if opts, next, err = parseOptions(rest, text, 0); err != nil {
			return nil, false, err
		}
		i += next - 1
	}
	if i != len(toks) {
		return nil, false, syntaxErrorAt(text, toks, i)
	}
	return &CopySubscribe{Subscribe: s, Options: opts}, true, nil
}

func parseFetchWithTimeout(toks []Token, text string) (Stmt, bool, error) {
	w := -1
	for i := 1; i < len(toks); i++ {
		if kw(toks[i], "with") {
			w = i
			break
		}
	}
	if w < 0 {
		return nil, false, nil
	}
	opts, next, err := parseOptions(toks, text, w)
	if err != nil {
		return nil, false, err
	}
	if next != len(toks) {
		return nil, false, syntaxErrorAt(text, toks, next)
	}
	tree, err := pg.Parse(text[:toks[w].Start])
	if err != nil {
		return nil, false, convertError(text, 0, err)
	}
	f := tree.Stmts[0].Stmt.GetFetchStmt()
	if f == nil {
		return nil, false, syntaxErrorAt(text, toks, 0)
	}
	for k := range opts {
		if k != "timeout" {
			return nil, false, sqlerr.New(sqlerr.InvalidParameterValue, "unrecognized FETCH option \"%s\"", k)
		}
	}
	return &FetchWithTimeout{Fetch: f, Timeout: opts["timeout"]}, true, nil
}
