package engine

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/sluice-db/sluice/catalog"
	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/exec"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/pgwire"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// copyOpts are the options of a COPY statement.
type copyOpts struct {
	format    pgwire.CopyFormat
	header    bool
	delim     byte
	null      string
	quote     byte
	escape    byte
	forceNull map[string]bool
}

func parseCopyOpts(n *pg.CopyStmt) (*copyOpts, error) {
	o := &copyOpts{format: pgwire.CopyText}
	var delim, null, quote, escape *string
	for _, on := range n.Options {
		d := on.GetDefElem()
		if d == nil {
			continue
		}
		switch lower(d.Defname) {
		case "format":
			switch lower(defString(d)) {
			case "text":
				o.format = pgwire.CopyText
			case "csv":
				o.format = pgwire.CopyCSV
			case "binary":
				return nil, sqlerr.Unsupported("COPY BINARY is not supported")
			default:
				return nil, sqlerr.New(sqlerr.InvalidParameterValue, "COPY format \"%s\" not recognized", defString(d))
			}
		case "header":
			o.header = defBool(d)
		case "delimiter":
			v := defString(d)
			delim = &v
		case "null":
			v := defString(d)
			null = &v
		case "quote":
			v := defString(d)
			quote = &v
		case "escape":
			v := defString(d)
			escape = &v
		case "encoding":
			if _, err := checkEncoding(nil, defString(d)); err != nil {
				return nil, err
			}
		case "freeze", "force_quote", "force_not_null":
		case "force_null":
			if l := d.Arg.GetList(); l != nil {
				o.forceNull = map[string]bool{}
				for _, it := range l.Items {
					o.forceNull[nodeString(it)] = true
				}
			}
		default:
			return nil, sqlerr.New(sqlerr.SyntaxError, "option \"%s\" not recognized", d.Defname)
		}
	}
	o.delim, o.null, o.quote, o.escape = '\t', `\N`, '"', '"'
	if o.format == pgwire.CopyCSV {
		o.delim, o.null = ',', ""
	}
	one := func(name string, v *string, dst *byte) error {
		if v == nil {
			return nil
		}
		if len(*v) != 1 {
			return sqlerr.New(sqlerr.FeatureNotSupported, "COPY %s must be a single one-byte character", name)
		}
		*dst = (*v)[0]
		return nil
	}
	if err := one("delimiter", delim, &o.delim); err != nil {
		return nil, err
	}
	if o.format == pgwire.CopyCSV {
		if err := one("quote", quote, &o.quote); err != nil {
			return nil, err
		}
		o.escape = o.quote
		if err := one("escape", escape, &o.escape); err != nil {
			return nil, err
		}
	} else if quote != nil || escape != nil {
		return nil, sqlerr.New(sqlerr.FeatureNotSupported, "COPY quote and escape are available only in CSV mode")
	}
	if null != nil {
		o.null = *null
	}
	return o, nil
}

// execCopy runs COPY … FROM STDIN and COPY … TO STDOUT.
func (p *portal) execCopy(ctx context.Context, ts *txnState, n *pg.CopyStmt, w pgwire.ResultWriter) (string, error) {
	st := p.st
	s := st.s
	if n.Filename != "" || n.IsProgram {
		return "", sqlerr.New(sqlerr.InsufficientPrivilege, "COPY to or from a file or program is not supported; use STDIN or STDOUT")
	}
	o, err := parseCopyOpts(n)
	if err != nil {
		return "", err
	}
	if n.IsFrom {
		if n.Relation == nil {
			return "", sqlerr.New(sqlerr.WrongObjectType, "COPY FROM requires a table")
		}
		return p.copyFrom(ctx, ts, n, o, w)
	}
	// COPY TO: plan a query (the statement's own, or SELECT of the table).
	planned := st.planned
	if n.Query == nil {
		schema, err := s.tableSchema(n.Relation, st)
		if err != nil {
			return "", err
		}
		t, ok := s.lookupTable(schema, n.Relation.Relname)
		if !ok {
			return "", errUndefinedRelation(n.Relation.Relname).At(st.pos(n.Relation.Location))
		}
		cols, err := copyColumns(t, n, st)
		if err != nil {
			return "", err
		}
		var names []string
		for _, c := range cols {
			names = append(names, quoteIdent(t.Columns[c].Name))
		}
		q := "SELECT " + strings.Join(names, ", ") + " FROM " + quoteIdent(t.Schema) + "." + quoteIdent(t.Name)
		tree, err := pg.Parse(q)
		if err != nil {
			return "", sqlerr.Bug("COPY query %q: %v", q, err)
		}
		planned, err = s.planner().PlanQuery(tree.Stmts[0].Stmt, s.planOpts(nil))
		if err != nil {
			return "", err
		}
	}
	if planned == nil || !planned.Returns {
		return "", sqlerr.Unsupported("COPY query must have a RETURNING clause or be a SELECT")
	}
	xc := s.newExecCtx(ctx, ts, nil)
	op, err := exec.Build(xc, planned.Plan)
	if err != nil {
		return "", err
	}
	out, err := w.CopyOut(o.format, len(planned.Columns))
	if err != nil {
		return "", err
	}
	var buf []byte
	if o.header {
		for i, c := range planned.Columns {
			if i > 0 {
				buf = append(buf, o.delim)
			}
			buf = o.appendField(buf, c.Name, false)
		}
		buf = append(buf, '\n')
	}
	var rows int64
	for {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		ch, err := op.Next()
		if err != nil {
			return "", err
		}
		if ch == nil {
			break
		}
		for i := 0; i < ch.Len; i++ {
			for j, v := range ch.Cols {
				if j > 0 {
					buf = append(buf, o.delim)
				}
				if v.IsNull(i) {
					buf = append(buf, o.null...)
					continue
				}
				txt := types.AppendText(nil, v.Typ, v.Get(i), xc.Eval.Cfg)
				buf = o.appendField(buf, string(txt), true)
			}
			buf = append(buf, '\n')
			rows++
			if len(buf) > 64<<10 {
				if _, err := out.Write(buf); err != nil {
					return "", err
				}
				buf = buf[:0]
			}
		}
	}
	if len(buf) > 0 {
		if _, err := out.Write(buf); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("COPY %d", rows), nil
}

// appendField appends one non-null value in the COPY format.
func (o *copyOpts) appendField(buf []byte, s string, value bool) []byte {
	if o.format == pgwire.CopyCSV {
		need := s == o.null || (value && s == "" && o.null == "")
		for i := 0; i < len(s) && !need; i++ {
			c := s[i]
			need = c == o.delim || c == o.quote || c == '\n' || c == '\r' || (c == o.escape && o.escape != o.quote)
		}
		if s == `\.` {
			need = true
		}
		if !need {
			return append(buf, s...)
		}
		buf = append(buf, o.quote)
		for i := 0; i < len(s); i++ {
			if s[i] == o.quote || s[i] == o.escape {
				buf = append(buf, o.escape)
			}
			buf = append(buf, s[i])
		}
		return append(buf, o.quote)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\':
			buf = append(buf, '\\', '\\')
		case '\n':
			buf = append(buf, '\\', 'n')
		case '\r':
			buf = append(buf, '\\', 'r')
		case '\t':
			buf = append(buf, '\\', 't')
		case '\b':
			buf = append(buf, '\\', 'b')
		case '\f':
			buf = append(buf, '\\', 'f')
		case '\v':
			buf = append(buf, '\\', 'v')
		default:
			if c == o.delim {
				buf = append(buf, '\\')
			}
			buf = append(buf, c)
		}
	}
	return buf
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// copyColumns resolves a COPY column list to ordinals (all columns if none).
func copyColumns(t *catalog.Table, n *pg.CopyStmt, st *statement) ([]int, error) {
	if len(n.Attlist) == 0 {
		out := make([]int, len(t.Columns))
		for i := range out {
			out[i] = i
		}
		return out, nil
	}
	var out []int
	for _, a := range n.Attlist {
		name := nodeString(a)
		i := t.ColumnIndex(name)
		if i < 0 {
			return nil, sqlerr.New(sqlerr.UndefinedColumn, "column \"%s\" of relation \"%s\" does not exist", name, t.Name)
		}
		for _, j := range out {
			if j == i {
				return nil, sqlerr.New(sqlerr.DuplicateColumn, "column \"%s\" specified more than once", name)
			}
		}
		out = append(out, i)
	}
	return out, nil
}

// copyFrom reads rows from the client into a table.
func (p *portal) copyFrom(ctx context.Context, ts *txnState, n *pg.CopyStmt, o *copyOpts, w pgwire.ResultWriter) (string, error) {
	st := p.st
	s := st.s
	schema, err := s.tableSchema(n.Relation, st)
	if err != nil {
		return "", err
	}
	t, ok := s.lookupTable(schema, n.Relation.Relname)
	if !ok {
		return "", errUndefinedRelation(n.Relation.Relname).At(st.pos(n.Relation.Location))
	}
	cols, err := copyColumns(t, n, st)
	if err != nil {
		return "", err
	}
	ref := &exec.TableRef{ID: t.ID, Name: t.Name, Types: t.Types(), PK: t.PK, ColNames: t.ColumnNames()}
	ta, err := s.tableResolver(ts)(ref)
	if err != nil {
		return "", err
	}
	xc := s.newExecCtx(ctx, ts, nil)
	// Defaults of the columns not in the list.
	given := make([]bool, len(t.Columns))
	for _, c := range cols {
		given[c] = true
	}
	defaults := make([]expr.Expr, len(t.Columns))
	for i, c := range t.Columns {
		if given[i] || c.Default == "" {
			continue
		}
		tree, err := pg.Parse("SELECT " + c.Default)
		if err != nil {
			return "", sqlerr.Bug("column %q default %q: %v", c.Name, c.Default, err)
		}
		e, err := s.planner().BindDefault(tree.Stmts[0].Stmt.GetSelectStmt().TargetList[0].GetResTarget().Val, c.Type, s.planOpts(nil))
		if err != nil {
			return "", err
		}
		defaults[i] = e
	}
	in, err := w.CopyIn(o.format, len(cols))
	if err != nil {
		return "", err
	}
	r := bufio.NewReaderSize(in, 64<<10)
	typs := t.Types()
	batch := coldata.NewChunk(typs, coldata.DefaultChunkSize)
	var total int64
	flush := func() error {
		if batch.Len == 0 {
			return nil
		}
		if err := checkNotNull(t, batch); err != nil {
			return err
		}
		if err := ta.Insert(batch); err != nil {
			return err
		}
		total += int64(batch.Len)
		batch = coldata.NewChunk(typs, coldata.DefaultChunkSize)
		return nil
	}
	line := 0
	row := make([]types.Datum, len(t.Columns))
	var rec []field
	for {
		var raw string
		raw, rec, err = o.readRecord(r, rec[:0])
		if err == io.EOF {
			break
		}
		line++
		ctxErr := func(e error) error {
			if se, ok := sqlerr.As(e); ok {
				se.Detail = fmt.Sprintf("COPY %s, line %d: \"%s\"", t.Name, line, truncate(raw))
				return se
			}
			return e
		}
		if err != nil {
			return "", ctxErr(err)
		}
		if line == 1 && o.header {
			continue
		}
		if len(rec) == 1 && rec[0].s == `\.` && !rec[0].quoted {
			// End-of-data marker; drain the rest.
			_, _ = io.Copy(io.Discard, r)
			break
		}
		if len(rec) < len(cols) {
			name := t.Columns[cols[len(rec)]].Name
			return "", ctxErr(sqlerr.New(sqlerr.BadCopyFileFormat, "missing data for column \"%s\"", name))
		}
		if len(rec) > len(cols) {
			return "", ctxErr(sqlerr.New(sqlerr.BadCopyFileFormat, "extra data after last expected column"))
		}
		for i := range row {
			row[i] = nil
		}
		for k, c := range cols {
			f := rec[k]
			if f.null || (f.quoted && o.forceNull[t.Columns[c].Name] && f.s == o.null) {
				continue
			}
			d, err := types.ParseText(typs[c], f.s, s.cfg)
			if err != nil {
				return "", ctxErr(err)
			}
			row[c] = d
		}
		for i, e := range defaults {
			if e == nil {
				continue
			}
			v, err := e.Eval(xc.Eval, &coldata.Chunk{Len: 1})
			if err != nil {
				return "", ctxErr(err)
			}
			row[i] = v.Get(0)
		}
		batch.AppendRow(row)
		if batch.Len >= coldata.DefaultChunkSize {
			if err := flush(); err != nil {
				return "", ctxErr(err)
			}
		}
		if line%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return "", err
			}
		}
	}
	if err := flush(); err != nil {
		return "", err
	}
	return fmt.Sprintf("COPY %d", total), nil
}

func truncate(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

// checkNotNull enforces NOT NULL for COPY (the executor does it for DML).
func checkNotNull(t *catalog.Table, ch *coldata.Chunk) error {
	for j, c := range t.Columns {
		if !c.NotNull {
			continue
		}
		for i := 0; i < ch.Len; i++ {
			if ch.Cols[j].IsNull(i) {
				return sqlerr.New(sqlerr.NotNullViolation, "null value in column \"%s\" of relation \"%s\" violates not-null constraint", c.Name, t.Name)
			}
		}
	}
	return nil
}

type field struct {
	s      string
	null   bool
	quoted bool
}

// readRecord reads one record (a line; in CSV quoted fields may span lines).
// It returns the raw text for error context.
func (o *copyOpts) readRecord(r *bufio.Reader, rec []field) (string, []field, error) {
	line, err := readLine(r)
	if err != nil {
		return "", rec, err
	}
	if o.format == pgwire.CopyCSV {
		return o.splitCSV(r, line, rec)
	}
	return line, o.splitText(line, rec), nil
}

func readLine(r *bufio.Reader) (string, error) {
	s, err := r.ReadString('\n')
	if err == io.EOF && s == "" {
		return "", io.EOF
	}
	if err != nil && err != io.EOF {
		return "", err
	}
	s = strings.TrimSuffix(s, "\n")
	s = strings.TrimSuffix(s, "\r")
	return s, nil
}

// splitText splits a text-format line, undoing backslash escapes.
func (o *copyOpts) splitText(line string, rec []field) []field {
	if line == `\.` {
		return append(rec, field{s: `\.`})
	}
	start := 0
	for {
		// Find the end of this field: an unescaped delimiter.
		i := start
		for i < len(line) && line[i] != o.delim {
			if line[i] == '\\' && i+1 < len(line) {
				i++
			}
			i++
		}
		raw := line[start:min(i, len(line))]
		if raw == o.null {
			rec = append(rec, field{null: true})
		} else {
			rec = append(rec, field{s: unescapeText(raw)})
		}
		if i >= len(line) {
			return rec
		}
		start = i + 1
	}
}

func unescapeText(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch c = s[i]; c {
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte('\v')
		case 'x':
			v, n := 0, 0
			for n < 2 && i+1 < len(s) && isHex(s[i+1]) {
				i++
				v = v*16 + hexVal(s[i])
				n++
			}
			if n == 0 {
				b.WriteByte('x')
			} else {
				b.WriteByte(byte(v))
			}
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v := int(c - '0')
			for n := 1; n < 3 && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '7'; n++ {
				i++
				v = v*8 + int(s[i]-'0')
			}
			b.WriteByte(byte(v))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	}
	return int(c-'A') + 10
}

// splitCSV splits a CSV record starting with line, reading more lines while
// inside quotes.
func (o *copyOpts) splitCSV(r *bufio.Reader, line string, rec []field) (string, []field, error) {
	raw := line
	if line == `\.` {
		return raw, append(rec, field{s: `\.`}), nil
	}
	var b strings.Builder
	inQuote, quoted := false, false
	i := 0
	for {
		if i >= len(line) {
			if inQuote {
				next, err := readLine(r)
				if err != nil {
					return raw, rec, sqlerr.New(sqlerr.BadCopyFileFormat, "unterminated CSV quoted field")
				}
				b.WriteByte('\n')
				raw += "\n" + next
				line, i = next, 0
				continue
			}
			s := b.String()
			rec = append(rec, field{s: s, quoted: quoted, null: !quoted && s == o.null})
			return raw, rec, nil
		}
		c := line[i]
		switch {
		case inQuote && c == o.escape && i+1 < len(line) && line[i+1] == o.quote:
			b.WriteByte(o.quote)
			i += 2
			continue
		case inQuote && c == o.quote:
			inQuote = false
		case inQuote && c == o.escape && o.escape != o.quote && i+1 < len(line) && line[i+1] == o.escape:
			b.WriteByte(o.escape)
			i += 2
			continue
		case inQuote:
			b.WriteByte(c)
		case c == o.quote:
			inQuote, quoted = true, true
		case c == o.delim:
			s := b.String()
			rec = append(rec, field{s: s, quoted: quoted, null: !quoted && s == o.null})
			b.Reset()
			quoted = false
			i++
			continue
		default:
			b.WriteByte(c)
		}
		i++
	}
}
