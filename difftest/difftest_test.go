//go:build integration

package difftest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluice-db/sluice/internal/randtest"
	"github.com/sluice-db/sluice/server"
)

// knownGap is a disagreement with PostgreSQL known not to be a new Sluice
// bug: a Sluice gap, or a PostgreSQL bug. A mismatch whose shrunk query and
// answers match is logged, not failed, so the suite stays green while the
// list keeps the gap visible. Remove an entry when its bug is fixed (the test
// then checks the shape again).
type knownGap struct {
	name   string
	reason string
	match  func(sql string, pg, sl result) bool // applied to the shrunk query
}

// Fixed in 8299a38, kept as regressions in testdata/regressions/{1,235,336}.sql:
// same-name-columns-conflated, boolean-test-kinds-conflated,
// typed-null-aggregates-conflated, numeric-floor-ceil-small,
// group-by-non-integer-constant; distinct-agg-order-by-constant since then.
var knownGaps = []knownGap{
	{
		// Correlated subqueries over large cross joins and window aggregates
		// over large peer groups are far slower than in PostgreSQL.
		name:   "sluice-timeout",
		reason: "Sluice is much slower than PostgreSQL (reported, not failed)",
		match:  func(_ string, pg, sl result) bool { return sl.timedOut() && pg.err == nil },
	},
	{
		// PostgreSQL 15 plans min/max of a constant as a LIMIT 1 subquery that
		// inherits the outer FETCH … WITH TIES, so every row ties and the
		// subquery returns several: SELECT min(1) FROM t ORDER BY 1 FETCH
		// FIRST 1 ROWS WITH TIES fails there (found by seed 1356144368).
		name:   "postgres-minmax-with-ties",
		reason: "a PostgreSQL bug: min/max rewritten to a subquery that keeps WITH TIES",
		match: func(sql string, pg, sl result) bool {
			return pg.code() == "21000" && sl.err == nil && strings.Contains(sql, "WITH TIES") &&
				!strings.Contains(sql, "(SELECT") && (strings.Contains(sql, "min(") || strings.Contains(sql, "max("))
		},
	},
}

func matchGap(sql string, pg, sl result) *knownGap {
	for i := range knownGaps {
		if knownGaps[i].match(sql, pg, sl) {
			return &knownGaps[i]
		}
	}
	return nil
}

// ---- the two systems ----

// side is one connection to one system; it reconnects after a broken
// connection (a timed-out query leaves it closed).
type side struct {
	name string
	url  string
	init []string // run on every new connection
	conn *pgconn.PgConn
}

func (s *side) connect(ctx context.Context) error {
	if s.conn != nil && !s.conn.IsClosed() {
		return nil
	}
	c, err := pgconn.Connect(ctx, s.url)
	if err != nil {
		return fmt.Errorf("%s: connect: %w", s.name, err)
	}
	s.conn = c
	for _, q := range s.init {
		if r := s.run(ctx, q); r.err != nil {
			return fmt.Errorf("%s: %s: %w", s.name, q, r.err)
		}
	}
	return nil
}

func (s *side) close() {
	if s.conn != nil {
		_ = s.conn.Close(context.Background())
	}
}

// result is one statement's outcome in text form.
type result struct {
	err  error
	cols int
	rows []string
}

func (r result) code() string {
	var pgErr *pgconn.PgError
	if errors.As(r.err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

func (r result) String() string {
	if r.err != nil {
		var pgErr *pgconn.PgError
		if errors.As(r.err, &pgErr) {
			return fmt.Sprintf("ERROR %s: %s", pgErr.Code, pgErr.Message)
		}
		return "ERROR " + r.err.Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d columns, %d rows", r.cols, len(r.rows))
	for i, row := range r.rows {
		if i == 30 {
			fmt.Fprintf(&b, "\n    ... %d more", len(r.rows)-i)
			break
		}
		b.WriteString("\n    " + row)
	}
	return b.String()
}

const queryTimeout = 5 * time.Second

func (r result) timedOut() bool {
	return errors.Is(r.err, context.DeadlineExceeded) || r.err != nil && strings.Contains(r.err.Error(), "timeout")
}

// run executes sql with the simple protocol, so every value is text.
func (s *side) run(ctx context.Context, sql string) result {
	if err := s.connect(ctx); err != nil {
		return result{err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	mrr := s.conn.Exec(ctx, sql)
	var res result
	n := 0
	for mrr.NextResult() {
		n++
		rr := mrr.ResultReader()
		res.rows = res.rows[:0]
		for rr.NextRow() {
			var fs []string
			for _, v := range rr.Values() {
				if v == nil {
					fs = append(fs, "NULL")
				} else {
					fs = append(fs, strconv.Quote(string(v))[1:len(strconv.Quote(string(v)))-1])
				}
			}
			res.rows = append(res.rows, strings.Join(fs, " | "))
		}
		_, err := rr.Close()
		// NB: FieldDescriptions are only reliable after Close for empty results.
		res.cols = len(rr.FieldDescriptions())
		if err != nil && res.err == nil {
			res.err = err
		}
	}
	if err := mrr.Close(); err != nil && res.err == nil {
		res.err = err
	}
	if res.err == nil && n != 1 {
		res.err = fmt.Errorf("%d results for one statement", n)
	}
	return res
}

// diff returns "" when sluice agrees with postgres.
func diff(pg, sl result, ordered bool) string {
	switch {
	case pg.err != nil && sl.err == nil:
		return "PostgreSQL errors, Sluice does not"
	case pg.err != nil:
		if pg.code() != sl.code() {
			return fmt.Sprintf("SQLSTATE %s from PostgreSQL, %s from Sluice", pg.code(), sl.code())
		}
		return ""
	case sl.err != nil:
		return "Sluice errors, PostgreSQL does not"
	case pg.cols != sl.cols:
		return fmt.Sprintf("%d columns from PostgreSQL, %d from Sluice", pg.cols, sl.cols)
	}
	a, b := pg.rows, sl.rows
	how := "rows differ (in order)"
	if !ordered {
		a, b = slices.Clone(a), slices.Clone(b)
		slices.Sort(a)
		slices.Sort(b)
		how = "row multisets differ"
	}
	if slices.Equal(a, b) {
		return ""
	}
	return how
}

// pair is the two systems under one test.
type pair struct {
	pg, sl *side
}

func (p *pair) close() { p.pg.close(); p.sl.close() }

// exec runs a setup statement on both; both must succeed.
func (p *pair) exec(t *testing.T, ctx context.Context, sql string) {
	t.Helper()
	for _, s := range []*side{p.pg, p.sl} {
		if r := s.run(ctx, sql); r.err != nil {
			t.Fatalf("%s: setup %s: %v", s.name, abbrev(sql), r.err)
		}
	}
}

func (p *pair) compare(ctx context.Context, sql string, ordered bool) (pg, sl result, why string) {
	pg = p.pg.run(ctx, sql)
	sl = p.sl.run(ctx, sql)
	return pg, sl, diff(pg, sl, ordered)
}

func abbrev(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

// newPair starts an in-process Sluice and opens a fresh schema in PostgreSQL.
func newPair(t *testing.T) *pair {
	t.Helper()
	p, _ := newServerPair(t, server.Config{})
	return p
}

// newServerPair is newPair with the Sluice server's settings cfg (its
// addresses, data directory and logger set here), returning the server.
func newServerPair(t *testing.T, cfg server.Config) (*pair, *server.Server) {
	t.Helper()
	url := os.Getenv("SLUICE_TEST_PG_URL")
	if url == "" {
		t.Skip("SLUICE_TEST_PG_URL not set (see scripts/pg-test-cluster.sh)")
	}
	ctx := context.Background()
	cfg.PGAddr, cfg.HTTPAddr, cfg.DataDir, cfg.Logger = "127.0.0.1:0", "127.0.0.1:0", t.TempDir(), slog.New(slog.DiscardHandler)
	srv, err := server.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	schemaName := fmt.Sprintf("difftest_%d_%d", os.Getpid(), time.Now().UnixNano())
	admin, err := pgconn.Connect(ctx, url)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schemaName).ReadAll(); err != nil {
		t.Fatalf("postgres: %v", err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec(context.Background(), "DROP SCHEMA "+schemaName+" CASCADE").ReadAll()
		_ = admin.Close(context.Background())
	})
	common := []string{"SET TimeZone = 'UTC'", "SET DateStyle = 'ISO, MDY'", "SET IntervalStyle = 'postgres'"}
	p := &pair{
		pg: &side{name: "postgres", url: url, init: append([]string{"SET search_path = " + schemaName}, common...)},
		sl: &side{name: "sluice", url: fmt.Sprintf("postgres://sluice@%s/sluice?sslmode=disable", srv.PGAddr()), init: common},
	}
	t.Cleanup(p.close)
	for _, s := range []*side{p.pg, p.sl} {
		if err := s.connect(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return p, srv
}

// mismatch is one query the systems disagree on, after shrinking.
type mismatch struct {
	orig, sql string
	ordered   bool
	why       string
	pg, sl    result
	gap       *knownGap
}

func (m mismatch) String() string {
	s := fmt.Sprintf("%s\n  query:    %s\n", m.why, m.sql)
	if m.orig != m.sql {
		s += fmt.Sprintf("  original: %s\n", m.orig)
	}
	if m.pg.err == nil && m.sl.err == nil && m.pg.cols == m.sl.cols && len(m.pg.rows)+len(m.sl.rows) > 20 {
		onlyPG, onlySL := randtest.MultisetDiff(m.pg.rows, m.sl.rows)
		if len(onlyPG)+len(onlySL) > 0 {
			return s + fmt.Sprintf("  only from postgres (%d of %d rows): %s\n  only from sluice (%d of %d rows):   %s",
				len(onlyPG), len(m.pg.rows), result{cols: m.pg.cols, rows: onlyPG}, len(onlySL), len(m.sl.rows), result{cols: m.sl.cols, rows: onlySL})
		}
	}
	return s + fmt.Sprintf("  postgres: %s\n  sluice:   %s", m.pg, m.sl)
}

// shrink removes clauses from q while the systems still disagree.
func (p *pair) shrink(ctx context.Context, q *query, pgErr bool, deadline time.Time) *query {
	budget := 60
	for improved := true; improved && budget > 0; {
		improved = false
		for _, c := range q.shrinks() {
			if budget--; budget < 0 || time.Now().After(deadline) {
				break
			}
			pg, sl, why := p.compare(ctx, c.sql(), c.inOrder())
			if pg.timedOut() || sl.timedOut() {
				return q
			}
			if why != "" && (pg.err != nil) == pgErr {
				q, improved = c, true
				break
			}
		}
	}
	return q
}

// TestDifferential runs random queries on Sluice and PostgreSQL over the
// same random tables and fails on any disagreement outside knownGaps.
func TestDifferential(t *testing.T) {
	p := newPair(t)
	seed := randtest.Seed(t)
	r := rand.New(rand.NewSource(seed))
	sz := drawSizes(r)
	t.Logf("sizes: %s", sz)
	ctx := context.Background()
	setup := setupSQL(r, sz)
	for _, s := range setup {
		p.exec(t, ctx, s)
	}
	if adhoc := os.Getenv("SLUICE_DIFF_SQL"); adhoc != "" {
		// Debugging aid: run the given ';'-separated queries over this seed's
		// tables and print both answers.
		for _, sql := range strings.Split(adhoc, ";") {
			if sql = strings.TrimSpace(sql); sql != "" {
				pg, sl, why := p.compare(ctx, sql, false)
				t.Logf("%s\n  %s", sql, mismatch{orig: sql, sql: sql, why: why, pg: pg, sl: sl})
			}
		}
		return
	}
	n := int(randtest.EnvInt(t, "SLUICE_DIFF_QUERIES", 300))
	g := &gen{r: r, sz: sz}
	deadline := time.Now().Add(45 * time.Second)
	var bad []mismatch
	known := map[string]int{}
	ran, pgErrors := 0, 0
	for i := 0; i < n && time.Now().Before(deadline); i++ {
		q := g.query()
		sql := q.sql()
		pg, sl, why := p.compare(ctx, sql, q.inOrder())
		ran++
		if pg.err != nil {
			pgErrors++
		}
		if why == "" {
			continue
		}
		small := q
		if !pg.timedOut() && !sl.timedOut() {
			small = p.shrink(ctx, q, pg.err != nil, deadline.Add(10*time.Second))
		}
		m := mismatch{orig: sql, sql: small.sql(), ordered: small.inOrder()}
		if small != q {
			m.pg, m.sl, m.why = p.compare(ctx, m.sql, m.ordered)
		}
		if m.why == "" { // flaky, or not shrunk; report the original
			m = mismatch{orig: sql, sql: sql, ordered: q.inOrder(), pg: pg, sl: sl, why: why}
		}
		if m.gap = matchGap(m.sql, m.pg, m.sl); m.gap != nil {
			t.Logf("known gap %s: %s", m.gap.name, m.sql)
			known[m.gap.name]++
			continue
		}
		bad = append(bad, m)
	}
	t.Logf("%d queries, %d PostgreSQL errors, %d mismatches, known gaps hit: %v", ran, pgErrors, len(bad), known)
	if len(bad) == 0 {
		return
	}
	for _, m := range bad {
		t.Errorf("seed %d: %s", seed, m)
	}
	path := saveRegression(t, seed, sz, setup, bad)
	t.Errorf("seed %d: %d mismatches saved to %s (replay with SLUICE_SEED=%d)", seed, len(bad), path, seed)
}

const regressionDir = "testdata/regressions"

// saveRegression writes a self-contained script: setup statements, then
// each query after a `-- query ordered|rowsort` line.
func saveRegression(t *testing.T, seed int64, sz sizes, setup []string, ms []mismatch) string {
	var b strings.Builder
	fmt.Fprintf(&b, "-- difftest seed %d (%s)\n", seed, sz)
	for _, s := range setup {
		b.WriteString(s + "\n")
	}
	for _, m := range ms {
		mode := "rowsort"
		if m.ordered {
			mode = "ordered"
		}
		fmt.Fprintf(&b, "-- %s\n-- query %s\n%s;\n", m.why, mode, m.sql)
	}
	if err := os.MkdirAll(regressionDir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(regressionDir, fmt.Sprintf("%d.sql", seed))
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

type regQuery struct {
	line    int
	sql     string
	ordered bool
}

// parseRegression reads a script written by saveRegression (or by hand):
// one statement per line ending in ';', `--` comments, and a
// `-- query ordered|rowsort` line before each query to compare.
func parseRegression(path string) (setup []string, qs []regQuery, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	mode := ""
	for ln := 1; sc.Scan(); ln++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
		case strings.HasPrefix(line, "-- query "):
			mode = strings.TrimSpace(strings.TrimPrefix(line, "-- query "))
			if mode != "ordered" && mode != "rowsort" {
				return nil, nil, fmt.Errorf("%s:%d: want `-- query ordered|rowsort`", path, ln)
			}
		case strings.HasPrefix(line, "--"):
		case !strings.HasSuffix(line, ";"):
			return nil, nil, fmt.Errorf("%s:%d: statement does not end in ';'", path, ln)
		case mode != "":
			qs = append(qs, regQuery{line: ln, sql: strings.TrimSuffix(line, ";"), ordered: mode == "ordered"})
			mode = ""
		default:
			setup = append(setup, line)
		}
	}
	return setup, qs, sc.Err()
}

// TestRegressions replays every saved mismatch against both systems.
func TestRegressions(t *testing.T) {
	if os.Getenv("SLUICE_TEST_PG_URL") == "" {
		t.Skip("SLUICE_TEST_PG_URL not set (see scripts/pg-test-cluster.sh)")
	}
	files, err := filepath.Glob(filepath.Join(regressionDir, "*.sql"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Skip("no regression files")
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			setup, qs, err := parseRegression(path)
			if err != nil {
				t.Fatal(err)
			}
			p := newPair(t)
			ctx := context.Background()
			for _, s := range setup {
				p.exec(t, ctx, s)
			}
			for _, q := range qs {
				pg, sl, why := p.compare(ctx, q.sql, q.ordered)
				if why == "" {
					continue
				}
				if gap := matchGap(q.sql, pg, sl); gap != nil {
					t.Logf("%s:%d: known gap %s: %s", path, q.line, gap.name, gap.reason)
					continue
				}
				t.Errorf("%s:%d: %s", path, q.line, mismatch{orig: q.sql, sql: q.sql, why: why, pg: pg, sl: sl})
			}
		})
	}
}
