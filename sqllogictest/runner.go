package sqllogictest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Engine names used by skipif/onlyif.
const (
	EngineSluice     = "sluice"
	EnginePostgreSQL = "postgresql"
)

// Runner runs .slt files against the server at URL.
type Runner struct {
	// URL is a postgres:// connection URL.
	URL string
	// Engine is "sluice" or "postgresql"; empty means detect from the server's
	// startup parameters.
	Engine string
	// Rewrite replaces the expected results of query records in place with
	// what the server returned.
	Rewrite bool
	// EventuallyTimeout bounds the retries of `query ... eventually`
	// (default 10s).
	EventuallyTimeout time.Duration
	// Verbose, when set, gets one line per record run.
	Verbose io.Writer
}

// Failure is one record that did not do what the file expected.
type Failure struct {
	Pos      string // file:line of the record header
	SQL      string
	Msg      string
	Expected []string
	Actual   []string
}

func (f Failure) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s\n", f.Pos, f.Msg)
	for _, l := range strings.Split(f.SQL, "\n") {
		fmt.Fprintf(&b, "    %s\n", l)
	}
	if f.Expected != nil || f.Actual != nil {
		b.WriteString("  expected:\n")
		for _, l := range f.Expected {
			fmt.Fprintf(&b, "    %s\n", l)
		}
		b.WriteString("  actual:\n")
		for _, l := range f.Actual {
			fmt.Fprintf(&b, "    %s\n", l)
		}
	}
	return b.String()
}

// Result summarizes one file.
type Result struct {
	File string
	// Engine the file ran against.
	Engine string
	// SkippedFile is set when the whole file was skipped (a sluice-only file
	// on PostgreSQL).
	SkippedFile bool
	// Records counts records run; Skipped counts records skipped by
	// skipif/onlyif/halt; Rewritten counts query results replaced.
	Records, Passed, Skipped, Rewritten int
	Failures                            []Failure
}

// OK reports whether every record passed.
func (r Result) OK() bool { return len(r.Failures) == 0 }

func (r Result) String() string {
	if r.SkippedFile {
		return fmt.Sprintf("SKIP %s (sluice-only)", r.File)
	}
	status := "PASS"
	if !r.OK() {
		status = "FAIL"
	}
	s := fmt.Sprintf("%s %s: %d records, %d passed, %d failed, %d skipped", status, r.File,
		r.Records, r.Passed, len(r.Failures), r.Skipped)
	if r.Rewritten > 0 {
		s += fmt.Sprintf(", %d rewritten", r.Rewritten)
	}
	return s
}

func (r *Runner) connect(ctx context.Context) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(r.URL)
	if err != nil {
		return nil, err
	}
	// NB: the simple protocol makes every value arrive in text format, which
	// is exactly what PostgreSQL (and psql) print.
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	return pgx.ConnectConfig(ctx, cfg)
}

// DetectEngine names the engine behind conn from its startup parameters.
func DetectEngine(conn *pgx.Conn) string {
	pc := conn.PgConn()
	if pc.ParameterStatus("sluice_version") != "" ||
		strings.Contains(strings.ToLower(pc.ParameterStatus("server_version")), "sluice") {
		return EngineSluice
	}
	return EnginePostgreSQL
}

// RunFile runs the records of path on a fresh connection. The error is for
// problems running the file at all (unreadable, unparsable, no connection);
// records that fail are reported in Result.Failures.
func (r *Runner) RunFile(ctx context.Context, path string) (Result, error) {
	res := Result{File: path}
	f, err := ParseFile(path)
	if err != nil {
		return res, err
	}
	engine := r.Engine
	if engine == EnginePostgreSQL && f.SluiceOnly {
		res.Engine, res.SkippedFile = engine, true
		return res, nil
	}
	conn, err := r.connect(ctx)
	if err != nil {
		return res, fmt.Errorf("%s: connect: %w", path, err)
	}
	// conns holds the file's sessions by name; conn is the current one.
	conns := map[string]*pgx.Conn{DefaultConnection: conn}
	current := DefaultConnection
	defer func() {
		for _, c := range conns {
			c.Close(context.Background())
		}
	}()
	if engine == "" {
		engine = DetectEngine(conn)
	}
	res.Engine = engine
	if engine == EnginePostgreSQL && f.SluiceOnly {
		res.SkippedFile = true
		return res, nil
	}

	rewrites := map[*Record][]string{}
	halted := false
	for _, rec := range f.Records {
		if halted || !rec.RunsOn(engine) {
			if rec.Kind != KindHalt && rec.Kind != KindConnection {
				res.Skipped++
			}
			continue
		}
		if rec.Kind == KindHalt {
			halted = true
			continue
		}
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if rec.Kind == KindConnection {
			current = rec.Connection
			if conns[current] == nil {
				if conns[current], err = r.connect(ctx); err != nil {
					return res, fmt.Errorf("%s: connect: %w", rec.Pos(), err)
				}
			}
			conn = conns[current]
			continue
		}
		if conn.IsClosed() {
			// The server dropped us (crash, FATAL); go on with a new session.
			if conn, err = r.connect(ctx); err != nil {
				return res, fmt.Errorf("%s: reconnect: %w", rec.Pos(), err)
			}
			conns[current] = conn
		}
		if r.Verbose != nil {
			fmt.Fprintf(r.Verbose, "%s: %s\n", rec.Pos(), firstLine(rec.SQL))
		}
		res.Records++
		fail, actual := r.runRecord(ctx, conn, rec)
		if fail != nil && r.Rewrite && actual != nil && rec.File == path {
			rewrites[rec] = actual
			res.Rewritten++
			fail = nil
		}
		if fail != nil {
			res.Failures = append(res.Failures, *fail)
		} else {
			res.Passed++
		}
	}
	if len(rewrites) > 0 {
		if err := rewriteFile(f, rewrites); err != nil {
			return res, err
		}
	}
	return res, nil
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// runRecord runs one statement or query. For a query whose rows (not an
// error) differ from the expected lines, actual holds the formatted rows so
// --rewrite can use them.
func (r *Runner) runRecord(ctx context.Context, conn *pgx.Conn, rec *Record) (fail *Failure, actual []string) {
	if rec.Kind == KindQuery && rec.Eventually && rec.ExpectError == nil {
		timeout := r.EventuallyTimeout
		if timeout <= 0 {
			timeout = 10 * time.Second
		}
		deadline := time.Now().Add(timeout)
		for {
			fail, actual = r.runOnce(ctx, conn, rec)
			if fail == nil || time.Now().After(deadline) {
				return fail, actual
			}
			select {
			case <-ctx.Done():
				return fail, actual
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return r.runOnce(ctx, conn, rec)
}

func (r *Runner) runOnce(ctx context.Context, conn *pgx.Conn, rec *Record) (*Failure, []string) {
	results, err := execAll(ctx, conn.PgConn(), rec.SQL)
	if err == nil {
		for _, res := range results {
			if res.Err != nil {
				err = res.Err
				break
			}
		}
	}
	fail := &Failure{Pos: rec.Pos(), SQL: rec.SQL}
	if rec.ExpectError != nil {
		if err == nil {
			fail.Msg = "expected an error, got success"
			return fail, nil
		}
		if msg := matchError(rec.ExpectError, err); msg != "" {
			fail.Msg = msg
			return fail, nil
		}
		return nil, nil
	}
	if err != nil {
		fail.Msg = "unexpected error: " + describeError(err)
		return fail, nil
	}
	if rec.Kind == KindStatement {
		return nil, nil
	}
	// The rows of a query are those of the last result that has columns.
	var last *pgconn.Result
	for _, res := range results {
		if len(res.FieldDescriptions) > 0 || last == nil {
			last = res
		}
	}
	if last == nil || len(last.FieldDescriptions) == 0 {
		fail.Msg = "query returned no result set"
		return fail, nil
	}
	ncols := len(last.FieldDescriptions)
	if len(rec.Types) != ncols {
		fail.Msg = fmt.Sprintf("type string %q has %d columns, result has %d", rec.Types, len(rec.Types), ncols)
		return fail, nil
	}
	got := FormatRows(dropIgnored(last.Rows, rec.Types), rec.Sort)
	if got == nil {
		got = []string{} // non-nil: an empty result can still be rewritten
	}
	if rec.ColNames {
		var names []string
		for i, fd := range last.FieldDescriptions {
			if rec.Types[i] != IgnoredColumn {
				names = append(names, FormatValue([]byte(fd.Name), false))
			}
		}
		got = append([]string{strings.Join(names, " ")}, got...)
	}
	want := rec.Expected
	if rec.ColNames && len(want) > 0 {
		want = append(normalizeExpected(want[:1], NoSort), normalizeExpected(want[1:], rec.Sort)...)
	} else {
		want = normalizeExpected(want, rec.Sort)
	}
	if slices.Equal(got, want) {
		return nil, nil
	}
	fail.Msg = "results differ"
	fail.Expected, fail.Actual = want, got
	if len(want) == 0 {
		fail.Expected = []string{}
	}
	return fail, got
}

// execAll runs sql with the simple query protocol and collects every result.
// NB: pgconn's ResultReader.Read leaves FieldDescriptions nil for a result
// with no rows, so read it here to tell "0 rows" from "not a query".
func execAll(ctx context.Context, pc *pgconn.PgConn, sql string) ([]*pgconn.Result, error) {
	mrr := pc.Exec(ctx, sql)
	var results []*pgconn.Result
	for mrr.NextResult() {
		rr := mrr.ResultReader()
		res := &pgconn.Result{}
		for rr.NextRow() {
			vals := rr.Values()
			row := make([][]byte, len(vals))
			for i, v := range vals {
				if v != nil {
					row[i] = append(make([]byte, 0, len(v)), v...)
				}
			}
			res.Rows = append(res.Rows, row)
		}
		res.CommandTag, res.Err = rr.Close()
		res.FieldDescriptions = slices.Clone(rr.FieldDescriptions())
		results = append(results, res)
	}
	return results, mrr.Close()
}

// matchError returns "" when err matches spec, else why not.
func matchError(spec *ErrorSpec, err error) string {
	code, msg := "", err.Error()
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		code, msg = pgErr.Code, pgErr.Message
	}
	if spec.Code != "" && spec.Code != code {
		return fmt.Sprintf("expected SQLSTATE %s, got %s", spec.Code, describeError(err))
	}
	if spec.Pattern != nil && !spec.Pattern.MatchString(msg) {
		return fmt.Sprintf("error %s does not match %q", describeError(err), spec.Pattern)
	}
	return ""
}

func describeError(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return fmt.Sprintf("%q (SQLSTATE %s)", pgErr.Message, pgErr.Code)
	}
	return err.Error()
}

// rewriteFile replaces the expected lines of the given records in f's file.
func rewriteFile(f *File, rewrites map[*Record][]string) error {
	var out []string
	next := 0
	for _, rec := range f.Records {
		rows, ok := rewrites[rec]
		if !ok {
			continue
		}
		if rec.HasSeparator {
			out = append(out, f.lines[next:rec.resStart]...)
			out = append(out, rows...)
			next = rec.resEnd
		} else {
			out = append(out, f.lines[next:rec.sqlEnd]...)
			out = append(out, "----")
			out = append(out, rows...)
			next = rec.sqlEnd
		}
	}
	out = append(out, f.lines[next:]...)
	text := strings.Join(out, "\n") + "\n"
	info, err := os.Stat(f.Path)
	if err != nil {
		return err
	}
	return os.WriteFile(f.Path, []byte(text), info.Mode().Perm())
}
