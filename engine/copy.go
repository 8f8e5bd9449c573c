package engine

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

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
				o.format = pgwire.CopyBinary
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
	if o.format == pgwire.CopyBinary {
		// Postgres checks these in this order, with these codes.
		switch {
		case delim != nil:
			return nil, sqlerr.New(sqlerr.SyntaxError, "cannot specify DELIMITER in BINARY mode")
		case null != nil:
			return nil, sqlerr.New(sqlerr.SyntaxError, "cannot specify NULL in BINARY mode")
		case o.header:
			return nil, sqlerr.New(sqlerr.FeatureNotSupported, "cannot specify HEADER in BINARY mode")
		case quote != nil:
			return nil, sqlerr.New(sqlerr.FeatureNotSupported, "COPY quote available only in CSV mode")
		case escape != nil:
			return nil, sqlerr.New(sqlerr.FeatureNotSupported, "COPY escape available only in CSV mode")
		case o.forceNull != nil:
			return nil, sqlerr.New(sqlerr.FeatureNotSupported, "COPY force null available only in CSV mode")
		}
		return o, nil
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
		t, ok := systemRelation(n.Relation.Schemaname, n.Relation.Relname)
		if !ok {
			schema, err := s.tableSchema(n.Relation, st)
			if err != nil {
				return "", err
			}
			if t, ok = s.lookupTable(schema, n.Relation.Relname); !ok {
				return "", errUndefinedRelation(n.Relation.Relname).At(st.pos(n.Relation.Location))
			}
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
	// NB: one CopyData message per row, as Postgres sends them: clients
	// (psycopg 3's Copy.rows) parse each message as one row. The binary
	// header goes with the first row, the text header line alone.
	var buf []byte
	binaryOut := o.format == pgwire.CopyBinary
	if binaryOut {
		buf = appendBinaryCopyHeader(buf)
	}
	if o.header {
		names := make([]string, len(planned.Columns))
		for i, c := range planned.Columns {
			names[i] = c.Name
		}
		if _, err := out.Write(o.appendHeader(buf, names)); err != nil {
			return "", err
		}
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
			if binaryOut {
				if buf, err = appendBinaryCopyTuple(buf, ch, i); err != nil {
					return "", err
				}
			} else {
				buf = o.appendTextRow(buf, ch, i, xc.Eval.Cfg)
			}
			rows++
			if _, err := out.Write(buf); err != nil {
				return "", err
			}
			buf = buf[:0]
		}
	}
	if binaryOut {
		buf = binary.BigEndian.AppendUint16(buf, 0xFFFF) // trailer: field count -1
		if _, err := out.Write(buf); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("COPY %d", rows), nil
}

// appendHeader appends the header line of the text and CSV formats.
func (o *copyOpts) appendHeader(buf []byte, names []string) []byte {
	for i, name := range names {
		if i > 0 {
			buf = append(buf, o.delim)
		}
		buf = o.appendField(buf, name, false)
	}
	return append(buf, '\n')
}

// appendTextRow appends row i of ch as one line of the text or CSV format.
func (o *copyOpts) appendTextRow(buf []byte, ch *coldata.Chunk, i int, cfg *types.Config) []byte {
	for j, v := range ch.Cols {
		if j > 0 {
			buf = append(buf, o.delim)
		}
		if v.IsNull(i) {
			buf = append(buf, o.null...)
			continue
		}
		txt := types.AppendText(nil, v.Typ, v.Get(i), cfg)
		buf = o.appendField(buf, string(txt), true)
	}
	return append(buf, '\n')
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
		return coldata.AllColumns(len(t.Columns)), nil
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
	if _, sys := systemRelation(n.Relation.Schemaname, n.Relation.Relname); sys {
		return "", sqlerr.New(sqlerr.WrongObjectType, "cannot copy to system relation \"%s\"", n.Relation.Relname).At(st.pos(n.Relation.Location))
	}
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
	ta, err := (&tableResolver{s: s, ts: ts, cat: s.catalogSnapshot()}).resolve(ref)
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
		if given[i] || (c.Default == "" && c.Identity == 0) {
			continue
		}
		if c.Identity != 0 {
			defaults[i] = &expr.NextIdentity{Table: t.ID, Col: i, Name: c.Name, Typ: c.Type}
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
	var bin *binaryCopyReader
	if o.format == pgwire.CopyBinary {
		bin = &binaryCopyReader{r: r}
		if err := bin.readHeader(); err != nil {
			return "", err
		}
	}
	typs := t.Types()
	batch := coldata.NewChunk(typs, coldata.DefaultChunkSize)
	var total int64
	flush := func() error {
		if batch.Len == 0 {
			return nil
		}
		if bin != nil {
			bin.text.fill()
		}
		if err := checkNotNull(t, batch); err != nil {
			return err
		}
		if err := ta.Insert(batch); err != nil {
			return err
		}
		total += int64(batch.Len)
		// Insert copied the rows: the batch's memory serves the next ones.
		batch.Reset()
		return nil
	}
	// A binary COPY of every column appends each field to its column as it
	// is read; otherwise a row of Datums collects the fields and defaults.
	var direct *coldata.Chunk
	if bin != nil && len(cols) == len(t.Columns) {
		direct = batch
	}
	line := 0
	row := make([]types.Datum, len(t.Columns))
	var rec []field
	// addRow fills the defaults into row and buffers it.
	addRow := func() error {
		for i, e := range defaults {
			if e == nil {
				continue
			}
			v, err := e.Eval(xc.Eval, &coldata.Chunk{Len: 1})
			if err != nil {
				return err
			}
			row[i] = v.Get(0)
		}
		batch.AppendRow(row)
		if batch.Len >= coldata.DefaultChunkSize {
			if err := flush(); err != nil {
				return err
			}
		}
		return nil
	}
	for bin != nil {
		for i := range row {
			row[i] = nil
		}
		more, err := bin.readTuple(typs, cols, row, direct)
		switch {
		case err != nil || !more:
		case direct != nil:
			if batch.Len++; batch.Len >= coldata.DefaultChunkSize {
				err = flush()
			}
		default:
			err = addRow()
		}
		if err != nil {
			if se, ok := sqlerr.As(err); ok {
				if bin.col >= 0 {
					se.Detail = fmt.Sprintf("COPY %s, line %d, column %s", t.Name, bin.line, t.Columns[cols[bin.col]].Name)
				} else {
					se.Detail = fmt.Sprintf("COPY %s, line %d", t.Name, bin.line)
				}
			}
			return "", err
		}
		if !more {
			break
		}
		if bin.line%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return "", err
			}
		}
	}
	for bin == nil {
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
		if err := addRow(); err != nil {
			return "", ctxErr(err)
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

// Binary COPY format (Postgres' "PGCOPY"): an 11-byte signature, int32 flags,
// int32 header-extension length and that many bytes; then per tuple an int16
// field count and per field an int32 length (-1 for NULL) and the value in its
// type's binary send format; then the trailer, an int16 -1. All big-endian.
var binaryCopySignature = []byte("PGCOPY\n\377\r\n\x00")

func appendBinaryCopyHeader(buf []byte) []byte {
	buf = append(buf, binaryCopySignature...)
	buf = binary.BigEndian.AppendUint32(buf, 0)  // flags: no OIDs
	return binary.BigEndian.AppendUint32(buf, 0) // no header extension
}

// appendBinaryCopyTuple appends row i of ch as one binary COPY tuple.
func appendBinaryCopyTuple(buf []byte, ch *coldata.Chunk, i int) ([]byte, error) {
	buf = binary.BigEndian.AppendUint16(buf, uint16(len(ch.Cols)))
	for _, v := range ch.Cols {
		if v.IsNull(i) {
			buf = binary.BigEndian.AppendUint32(buf, 0xFFFFFFFF)
			continue
		}
		at := len(buf)
		buf = append(buf, 0, 0, 0, 0)
		var err error
		if buf, err = types.AppendBinary(buf, v.Typ, v.Get(i)); err != nil {
			return nil, err
		}
		binary.BigEndian.PutUint32(buf[at:], uint32(len(buf)-at-4))
	}
	return buf, nil
}

// binaryCopyFieldReadAhead is the largest binary COPY field length taken on
// trust, allocating its buffer before the data arrives.
const binaryCopyFieldReadAhead = 64 << 10

// binaryCopyReader decodes COPY FROM STDIN WITH (FORMAT binary) input.
type binaryCopyReader struct {
	r    *bufio.Reader
	line int64  // tuples read, counting the trailer (Postgres' error context)
	col  int    // index into the COPY column list being read; -1 between fields
	fb   []byte // reused field buffer; ParseBinary copies what it keeps
	w    [4]byte
	text textArena
}

// readBuffered reads a tuple of len(cols) fields straight from the reader's
// buffer when the whole tuple is there (nearly always: tuples are small),
// without copying its fields. Otherwise, and at the trailer or anything
// malformed, it reads nothing and reports false: readTuple's field by field
// path takes over, and reports the errors.
func (b *binaryCopyReader) readBuffered(typs []*types.T, cols []int, row []types.Datum, direct *coldata.Chunk) (bool, error) {
	buf, _ := b.r.Peek(b.r.Buffered())
	if len(buf) < 2 || int(int16(binary.BigEndian.Uint16(buf))) != len(cols) {
		return false, nil
	}
	end := 2
	for range cols {
		if end+4 > len(buf) {
			return false, nil
		}
		size := int(int32(binary.BigEndian.Uint32(buf[end:])))
		end += 4
		if size < -1 || end+max(size, 0) > len(buf) {
			return false, nil
		}
		end += max(size, 0)
	}
	b.line++
	p := 2
	for k, c := range cols {
		b.col = k
		size := int(int32(binary.BigEndian.Uint32(buf[p:])))
		p += 4
		if size == -1 {
			if direct != nil {
				direct.Cols[c].Append(nil)
			}
			continue
		}
		field := buf[p : p+size]
		p += size
		if direct != nil {
			if err := b.appendField(direct.Cols[c], typs[c], field); err != nil {
				return true, err
			}
			continue
		}
		d, err := types.ParseBinary(typs[c], field)
		if err != nil {
			return true, err
		}
		row[c] = d
	}
	b.col = -1
	_, err := b.r.Discard(end)
	return true, err
}

func errCopyFormat(format string, args ...any) error {
	return sqlerr.New(sqlerr.BadCopyFileFormat, format, args...)
}

func (b *binaryCopyReader) readHeader() error {
	b.col = -1
	var sig [11]byte
	if _, err := io.ReadFull(b.r, sig[:]); err != nil || !bytes.Equal(sig[:], binaryCopySignature) {
		return b.ioErr(err, errCopyFormat("COPY file signature not recognized"))
	}
	var w [4]byte
	if _, err := io.ReadFull(b.r, w[:]); err != nil {
		return b.ioErr(err, errCopyFormat("invalid COPY file header (missing flags)"))
	}
	flags := binary.BigEndian.Uint32(w[:])
	if flags&(1<<16) != 0 {
		return errCopyFormat("invalid COPY file header (WITH OIDS)")
	}
	if flags>>16 != 0 {
		// The low 16 bits are non-critical and ignored, as in Postgres.
		return errCopyFormat("unrecognized critical flags in COPY file header")
	}
	if _, err := io.ReadFull(b.r, w[:]); err != nil {
		return b.ioErr(err, errCopyFormat("invalid COPY file header (missing length)"))
	}
	ext := int32(binary.BigEndian.Uint32(w[:]))
	if ext < 0 {
		return errCopyFormat("invalid COPY file header (wrong length)")
	}
	if n, err := io.CopyN(io.Discard, b.r, int64(ext)); n != int64(ext) {
		return b.ioErr(err, errCopyFormat("invalid COPY file header (wrong length)"))
	}
	return nil
}

// ioErr passes on an error of the underlying stream (CopyFail, a dead
// connection) and otherwise, at end of data, returns the format error.
func (b *binaryCopyReader) ioErr(err, format error) error {
	if err == nil || err == io.EOF || err == io.ErrUnexpectedEOF {
		return format
	}
	return err
}

// readTuple reads one tuple into row (at the ordinals cols), or when direct
// is not nil appends its fields to direct's columns (leaving direct.Len to
// the caller), reporting false at the trailer or the end of the data.
func (b *binaryCopyReader) readTuple(typs []*types.T, cols []int, row []types.Datum, direct *coldata.Chunk) (bool, error) {
	if done, err := b.readBuffered(typs, cols, row, direct); done || err != nil {
		return true, err
	}
	b.col = -1
	w := b.w[:]
	// NB: like Postgres, a stream that ends (even mid-word) where a tuple
	// would start is a valid end of data without a trailer.
	if _, err := io.ReadFull(b.r, w[:2]); err != nil {
		return false, b.ioErr(err, nil)
	}
	b.line++
	n := int16(binary.BigEndian.Uint16(w[:2]))
	if n == -1 {
		// The trailer must be the last thing in the stream.
		if _, err := b.r.ReadByte(); err != io.EOF {
			if err != nil {
				return false, err
			}
			b.line++
			return false, errCopyFormat("received copy data after EOF marker")
		}
		return false, nil
	}
	if int(n) != len(cols) {
		return false, errCopyFormat("row field count is %d, expected %d", n, len(cols))
	}
	for k, c := range cols {
		b.col = k
		if _, err := io.ReadFull(b.r, w[:]); err != nil {
			return false, b.ioErr(err, errCopyFormat("unexpected EOF in COPY data"))
		}
		size := int32(binary.BigEndian.Uint32(w[:]))
		if size == -1 {
			if direct != nil {
				direct.Cols[c].Append(nil)
			}
			continue
		}
		if size < -1 {
			return false, errCopyFormat("invalid field size")
		}
		if size <= binaryCopyFieldReadAhead {
			// A field of ordinary size is read straight into the reused
			// buffer.
			if cap(b.fb) < int(size) {
				b.fb = make([]byte, size, binaryCopyFieldReadAhead)
			}
			b.fb = b.fb[:size]
			if _, err := io.ReadFull(b.r, b.fb); err != nil {
				return false, b.ioErr(err, errCopyFormat("unexpected EOF in COPY data"))
			}
		} else {
			// NB: grow with the data that arrives, not the length claimed,
			// so a bogus length cannot make us allocate gigabytes up front.
			fb := bytes.NewBuffer(b.fb[:0])
			got, err := io.CopyN(fb, b.r, int64(size))
			b.fb = fb.Bytes()
			if got != int64(size) {
				return false, b.ioErr(err, errCopyFormat("unexpected EOF in COPY data"))
			}
		}
		if direct != nil {
			if err := b.appendField(direct.Cols[c], typs[c], b.fb); err != nil {
				return false, err
			}
			continue
		}
		d, err := types.ParseBinary(typs[c], b.fb)
		if err != nil {
			return false, err
		}
		row[c] = d
	}
	b.col = -1
	return true, nil
}

// appendField appends the value of type t in binary receive format to v.
// Well-formed bigint, integer, smallint and text values are decoded in
// place, without boxing them (text through b.text: the caller fills it in
// before using v); everything else, malformed input included, goes through
// types.ParseBinary.
func (b *binaryCopyReader) appendField(v *coldata.Vec, t *types.T, data []byte) error {
	switch {
	case t.Oid == types.OidInt8 && len(data) == 8:
		v.Ints = append(v.Ints, int64(binary.BigEndian.Uint64(data)))
	case t.Oid == types.OidInt4 && len(data) == 4:
		v.Ints = append(v.Ints, int64(int32(binary.BigEndian.Uint32(data))))
	case t.Oid == types.OidInt2 && len(data) == 2:
		v.Ints = append(v.Ints, int64(int16(binary.BigEndian.Uint16(data))))
	case t.Oid == types.OidText && utf8.Valid(data):
		b.text.add(v, data)
	default:
		d, err := types.ParseBinary(t, data)
		if err != nil {
			return err
		}
		v.Append(d)
		return nil
	}
	if v.Nulls != nil {
		v.Nulls = append(v.Nulls, false)
	}
	return nil
}

// textArena gathers the text values of a batch of COPY rows in one buffer
// and, at fill, makes them substrings of one string: one allocation per
// batch instead of one per value, and so millions fewer objects for the GC
// to mark after a large COPY. The values live as long as the table's rows
// anyway (storage keeps every position), so sharing one string costs no
// extra retention there.
type textArena struct {
	buf  []byte
	refs []textRef
}

// textRef is a text value in the arena: bytes [lo, hi) of the buffer, to be
// stored at v.Bytes[row].
type textRef struct {
	v      *coldata.Vec
	row    int
	lo, hi int
}

// add appends a placeholder for data to v, which fill replaces.
func (a *textArena) add(v *coldata.Vec, data []byte) {
	a.refs = append(a.refs, textRef{v: v, row: len(v.Bytes), lo: len(a.buf), hi: len(a.buf) + len(data)})
	a.buf = append(a.buf, data...)
	v.Bytes = append(v.Bytes, "")
}

// fill stores the values added since the last fill.
func (a *textArena) fill() {
	if len(a.refs) == 0 {
		return
	}
	s := string(a.buf)
	for _, r := range a.refs {
		r.v.Bytes[r.row] = s[r.lo:r.hi]
	}
	a.buf, a.refs = a.buf[:0], a.refs[:0]
}
