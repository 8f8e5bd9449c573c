package viewtest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluice-db/sluice/internal/randtest"
	"github.com/sluice-db/sluice/server"
)

// step is one line of a run's script: statements, a COPY with its data, or
// a check.
type step struct {
	sql   string   // one or more statements on one line; "" for a check
	copy  []string // the data lines (text format) when sql is COPY … FROM STDIN
	check bool     // sync the views, then compare each with its query
}

var checkStep = step{check: true}

// view is a created view: its name and defining query (without EMIT ON
// WINDOW CLOSE, which onClose records).
type view struct {
	name, query string
	onClose     bool
}

func (v view) String() string {
	if v.onClose {
		return createViewSQL(v.name, v.query+onCloseClause)
	}
	return createViewSQL(v.name, v.query)
}

const onCloseClause = " EMIT ON WINDOW CLOSE"

var createViewRE = regexp.MustCompile(`^CREATE MATERIALIZED VIEW (\w+) AS (.*?)(` + onCloseClause + `)?;$`)

func createViewSQL(name, query string) string {
	return "CREATE MATERIALIZED VIEW " + name + " AS " + query + ";"
}

// closingEnd finds the output column an EMIT ON WINDOW CLOSE view's rows
// close on: its first window_end (the generator puts the closing window's
// there, and shrinking keeps it).
var closingEnd = regexp.MustCompile(`\bx\d+\.window_end AS (c\d+)\b`)

// A statement that takes longer has hung (each takes milliseconds); the
// margin is for slow CI machines.
const statementTimeout = 15 * time.Second

// node is one in-process Sluice and a connection to it.
type node struct {
	srv   *server.Server
	conn  *pgconn.PgConn
	dir   string
	views []view // created so far, in order
	// unchecked counts view checks skipped because the batch query ran past
	// serverTimeout.
	unchecked int
	// streams counts, per stream created, the rows committed into it
	// (on time or late); pending, those of the open transaction block
	// (inBlock).
	streams, pending map[string]int
	inBlock          bool
	// lateEvents is set once a stream with a watermark exists, and with it
	// sluice_late_events; late counts the rows it held at the last check.
	lateEvents bool
	late       int64
}

func startNode(ctx context.Context, set settings) (_ *node, err error) {
	n := &node{streams: map[string]int{}, pending: map[string]int{}}
	if n.dir, err = os.MkdirTemp("", "viewtest"); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			n.close()
		}
	}()
	n.srv, err = server.Start(ctx, server.Config{
		PGAddr: "127.0.0.1:0", DataDir: n.dir, Logger: slog.New(slog.DiscardHandler),
		Workers: set.workers, Tick: set.tick, ChunkSize: set.chunkSize, MemoryLimit: set.memoryLimit,
	})
	if err != nil {
		return nil, err
	}
	return n, n.connect(ctx)
}

// connect (re)opens the node's connection. The server cancels a statement
// before the client gives up on it, so the connection usually survives a
// batch query too big to evaluate in time.
func (n *node) connect(ctx context.Context) error {
	if n.conn != nil {
		_ = n.conn.Close(ctx)
	}
	var err error
	n.conn, err = pgconn.Connect(ctx, fmt.Sprintf("postgres://sluice@%s/sluice?sslmode=disable", n.srv.PGAddr()))
	if err != nil {
		return err
	}
	_, err = n.conn.Exec(ctx, fmt.Sprintf("SET statement_timeout = '%dms'", serverTimeout.Milliseconds())).ReadAll()
	return err
}

// serverTimeout bounds each statement on the server.
const serverTimeout = 10 * time.Second

// tooSlow reports whether a statement was cancelled by statement_timeout,
// or ran past the client's own timeout (some operators notice the
// cancellation only between large chunks).
func tooSlow(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "57014" || errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err)
}

func (n *node) close() {
	if n.conn != nil {
		_ = n.conn.Close(context.Background())
	}
	if n.srv != nil {
		// A server wedged by a hung statement never finishes closing; it is
		// abandoned (the run has failed already) rather than hang the test.
		closed := make(chan struct{})
		go func() { _ = n.srv.Close(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(statementTimeout):
			return
		}
	}
	_ = os.RemoveAll(n.dir)
}

// exec runs one non-check step; a CREATE MATERIALIZED VIEW that succeeds
// adds the view to those checked.
func (n *node) exec(ctx context.Context, st step) error {
	ctx, cancel := context.WithTimeout(ctx, statementTimeout)
	defer cancel()
	if st.copy != nil {
		data := strings.Join(st.copy, "\n") + "\n"
		_, err := n.conn.CopyFrom(ctx, strings.NewReader(data), strings.TrimSuffix(st.sql, ";"))
		if err == nil {
			n.inserted(map[string]int{copyInto.FindStringSubmatch(st.sql)[1]: len(st.copy)})
		}
		return err
	}
	results, err := n.conn.Exec(ctx, st.sql).ReadAll()
	for _, r := range results {
		if err == nil {
			err = r.Err
		}
	}
	if err != nil {
		return err
	}
	if m := createViewRE.FindStringSubmatch(st.sql); m != nil {
		n.views = append(n.views, view{name: m[1], query: m[2], onClose: m[3] != ""})
	}
	n.count(st.sql)
	return nil
}

var (
	copyInto     = regexp.MustCompile(`^COPY (\w+) `)
	insertInto   = regexp.MustCompile(`^INSERT INTO (\w+) VALUES `)
	createStream = regexp.MustCompile(`^CREATE STREAM (\w+) \(`)
)

// count follows the rows that the statements sql, which have run, commit
// into streams. The generator's statements are separated by "; " and its
// literals hold neither ';' nor parentheses, so the statements and the
// VALUES rows can be told apart without parsing.
func (n *node) count(sql string) {
	for _, stmt := range strings.Split(strings.TrimSuffix(sql, ";"), "; ") {
		if m := createStream.FindStringSubmatch(stmt); m != nil {
			n.streams[m[1]] = 0
			n.lateEvents = n.lateEvents || strings.Contains(stmt, "WATERMARK FOR")
		}
		if m := insertInto.FindStringSubmatch(stmt); m != nil {
			n.inserted(map[string]int{m[1]: strings.Count(stmt, "(")})
		}
		switch stmt {
		case "BEGIN":
			n.inBlock = true
		case "COMMIT", "ROLLBACK":
			if stmt == "COMMIT" {
				for s, k := range n.pending {
					n.streams[s] += k
				}
			}
			n.inBlock, n.pending = false, map[string]int{}
		}
	}
}

// inserted adds rows, inserted per relation by a statement that ran, to
// the stream counts: at once, or at COMMIT in a transaction block.
func (n *node) inserted(rows map[string]int) {
	for rel, k := range rows {
		if _, ok := n.streams[rel]; !ok {
			continue // a table
		}
		if n.inBlock {
			n.pending[rel] += k
		} else {
			n.streams[rel] += k
		}
	}
}

// result is one query's rows in text form, or its error.
type result struct {
	query string // what ran
	err   error
	oids  []uint32
	rows  []string
}

func (n *node) query(ctx context.Context, sql string) result {
	ctx, cancel := context.WithTimeout(ctx, statementTimeout)
	defer cancel()
	rr := n.conn.Exec(ctx, sql)
	res := result{query: sql}
	for rr.NextResult() {
		r := rr.ResultReader()
		for r.NextRow() {
			fs := make([]string, len(r.Values()))
			for i, v := range r.Values() {
				if v == nil {
					fs[i] = "NULL"
				} else {
					fs[i] = strconv.Quote(string(v))
				}
			}
			res.rows = append(res.rows, strings.Join(fs, " "))
		}
		_, err := r.Close()
		for _, f := range r.FieldDescriptions() {
			res.oids = append(res.oids, f.DataTypeOID)
		}
		if err != nil && res.err == nil {
			res.err = err
		}
	}
	if err := rr.Close(); err != nil && res.err == nil {
		res.err = err
	}
	return res
}

// viewDiff is a view whose rows differ from its query's, or a stream
// (stream set, view unset) whose rows and late rows do not add up to those
// committed into it.
type viewDiff struct {
	view        view
	got, want   result // SELECT * FROM view; the query
	onlyInView  []string
	onlyInQuery []string

	stream                    string
	committed, inStream, late int64
}

func (d viewDiff) String() string {
	var b strings.Builder
	if d.stream != "" {
		fmt.Fprintf(&b, "stream %s: %d rows committed into it, but %d in it and %d in sluice_late_events", d.stream, d.committed, d.inStream, d.late)
		return b.String()
	}
	fmt.Fprintf(&b, "view %s: %s\n", d.view.name, d.view)
	if d.view.onClose {
		fmt.Fprintf(&b, "  (its query keeps the windows that end by the view's watermark: %s)\n", d.want.query)
	}
	switch {
	case d.got.err != nil || d.want.err != nil:
		fmt.Fprintf(&b, "  SELECT * FROM %s: %s\n  the query:        %s", d.view.name, errText(d.got.err), errText(d.want.err))
	default:
		fmt.Fprintf(&b, "  only in the view (%d of its %d rows):%s\n  only in the query's answer (%d of its %d rows):%s",
			len(d.onlyInView), len(d.got.rows), rowList(d.onlyInView), len(d.onlyInQuery), len(d.want.rows), rowList(d.onlyInQuery))
	}
	return b.String()
}

func errText(err error) string {
	var pgErr *pgconn.PgError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &pgErr):
		return fmt.Sprintf("ERROR %s: %s", pgErr.Code, pgErr.Message)
	}
	return "ERROR " + err.Error()
}

func sqlState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

func rowList(rows []string) string {
	var b strings.Builder
	for i, r := range rows {
		if i == 20 {
			fmt.Fprintf(&b, "\n    … %d more", len(rows)-i)
			break
		}
		b.WriteString("\n    " + r)
	}
	return b.String()
}

// check waits until the views reflect every commit, then compares each
// view with its query, in creation order.
func (n *node) check(ctx context.Context) ([]viewDiff, error) {
	sctx, cancel := context.WithTimeout(ctx, statementTimeout)
	defer cancel()
	if err := n.srv.Engine().SyncViews(sctx); err != nil {
		return nil, fmt.Errorf("waiting for the views to catch up: %w", err)
	}
	// This connection is the only writer: once the views reflect every
	// commit, neither their rows nor their watermarks move until its next
	// statement, so SHOW WATERMARKS and the SELECTs below see one epoch.
	var wms map[string]*string
	var err error
	if slices.ContainsFunc(n.views, func(v view) bool { return v.onClose }) {
		if wms, err = n.viewWatermarks(ctx); err != nil {
			return nil, err
		}
	}
	var diffs []viewDiff
	for _, v := range n.views {
		query := v.query
		if v.onClose {
			if query, err = closedRows(v, wms); err != nil {
				return nil, err
			}
		}
		// Joins of joins can multiply small inputs into millions of rows;
		// past maxCompareRows only the row counts are compared, so that
		// transferring and sorting them does not outlast the timeout.
		d := viewDiff{view: v, got: n.query(ctx, "SELECT count(*) FROM "+v.name)}
		if d.got.err == nil && len(d.got.rows) == 1 && rowCount(d.got.rows[0]) > maxCompareRows {
			d.want = n.query(ctx, "SELECT count(*) FROM ("+query+") q")
		} else {
			d.got, d.want = n.query(ctx, "SELECT * FROM "+v.name), n.query(ctx, query)
		}
		if d.got.err == nil && tooSlow(d.want.err) {
			// A join that multiplies its inputs can make the batch query
			// too slow to evaluate: this view is not checked at this epoch.
			n.unchecked++
			if n.conn.IsClosed() {
				if err := n.connect(ctx); err != nil {
					return nil, err
				}
			}
			continue
		}
		if d.got.err == nil && d.want.err == nil {
			d.onlyInView, d.onlyInQuery = randtest.MultisetDiff(d.got.rows, d.want.rows)
			if len(d.onlyInView)+len(d.onlyInQuery) == 0 {
				continue
			}
		}
		diffs = append(diffs, d)
	}
	if wms != nil {
		// What makes the comparison sound, verified.
		after, err := n.viewWatermarks(ctx)
		if err != nil {
			return nil, err
		}
		if !maps.EqualFunc(wms, after, func(a, b *string) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }) {
			return nil, fmt.Errorf("the views' watermarks moved while they were compared, with no statement run: %s, then %s", fmtWatermarks(wms), fmtWatermarks(after))
		}
	}
	lost, err := n.checkStreams(ctx)
	return append(diffs, lost...), err
}

func fmtWatermarks(wms map[string]*string) string {
	var out []string
	for _, v := range slices.Sorted(maps.Keys(wms)) {
		wm := "NULL"
		if wms[v] != nil {
			wm = *wms[v]
		}
		out = append(out, v+"="+wm)
	}
	return strings.Join(out, ", ")
}

// viewWatermarks reads SHOW WATERMARKS: each materialized view's
// watermark as text, or nil when it has none.
func (n *node) viewWatermarks(ctx context.Context) (map[string]*string, error) {
	ctx, cancel := context.WithTimeout(ctx, statementTimeout)
	defer cancel()
	results, err := n.conn.Exec(ctx, "SHOW WATERMARKS").ReadAll()
	if err == nil && len(results) != 1 {
		err = fmt.Errorf("%d results", len(results))
	}
	if err == nil {
		err = results[0].Err
	}
	if err != nil {
		return nil, fmt.Errorf("SHOW WATERMARKS: %w", err)
	}
	var cols []string
	for _, f := range results[0].FieldDescriptions {
		cols = append(cols, f.Name)
	}
	if len(cols) < 3 || cols[0] != "name" || cols[1] != "kind" || cols[2] != "watermark" {
		return nil, fmt.Errorf("SHOW WATERMARKS has columns %v, not name, kind, watermark, …", cols)
	}
	out := map[string]*string{}
	for _, row := range results[0].Rows {
		if string(row[1]) != "materialized view" {
			continue
		}
		var wm *string
		if row[2] != nil {
			wm = new(string)
			*wm = string(row[2])
		}
		out[string(row[0])] = wm
	}
	return out, nil
}

// closedRows is what an EMIT ON WINDOW CLOSE view must hold: the rows of
// its query whose window ends by the view's watermark (wms, as
// viewWatermarks reads it). A window ending at the watermark has closed:
// a row at its end belongs to the next one. A view without a watermark (or
// stopped, without a row in SHOW WATERMARKS) has closed none.
func closedRows(v view, wms map[string]*string) (string, error) {
	m := closingEnd.FindStringSubmatch(v.query)
	if m == nil {
		return "", fmt.Errorf("view %s: EMIT ON WINDOW CLOSE, but no window_end column to check it by: %s", v.name, v)
	}
	closed := "false"
	if wm := wms[v.name]; wm != nil {
		closed = fmt.Sprintf("q.%s <= %s::timestamptz", m[1], quote(*wm))
	}
	return "SELECT * FROM (" + v.query + ") q WHERE " + closed, nil
}

// checkStreams compares, for each stream, the rows committed into it with
// those it holds plus those sluice_late_events holds for it: a row must
// land in exactly one. One query counts them all, to keep checks cheap.
func (n *node) checkStreams(ctx context.Context) ([]viewDiff, error) {
	streams := slices.Sorted(maps.Keys(n.streams))
	if len(streams) == 0 {
		return nil, nil
	}
	var counts []string
	for _, s := range streams {
		late := "0"
		if n.lateEvents {
			late = "(SELECT count(*) FROM sluice_late_events WHERE stream = " + quote(s) + ")"
		}
		counts = append(counts, "(SELECT count(*) FROM "+s+")", late)
	}
	res := n.query(ctx, "SELECT "+strings.Join(counts, ", "))
	if res.err != nil || len(res.rows) != 1 {
		return nil, fmt.Errorf("%s: %s", res.query, errText(res.err))
	}
	// The counts are quoted numbers, separated by spaces.
	f := strings.Fields(res.rows[0])
	var diffs []viewDiff
	n.late = 0
	for i, s := range streams {
		d := viewDiff{stream: s, committed: int64(n.streams[s]), inStream: rowCount(f[2*i]), late: rowCount(f[2*i+1])}
		n.late += d.late
		if d.inStream+d.late != d.committed {
			diffs = append(diffs, d)
		}
	}
	return diffs, nil
}

// maxCompareRows is the largest view whose rows check compares one by one.
const maxCompareRows = 100_000

// rowCount reads a count(*) row as query renders it.
func rowCount(row string) int64 {
	n, err := strconv.ParseInt(strings.Trim(row, `"`), 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// runScript runs a script on a fresh node and returns the differing views
// of its first check that finds any (nil: every check passed), with that
// check's index.
func runScript(ctx context.Context, set settings, steps []step) (diffs []viewDiff, checkNo int, err error) {
	n, err := startNode(ctx, set)
	if err != nil {
		return nil, 0, err
	}
	defer n.close()
	for _, st := range steps {
		if !st.check {
			if err := n.exec(ctx, st); err != nil {
				return nil, checkNo, fmt.Errorf("%s: %s", st.sql, errText(err))
			}
			continue
		}
		if diffs, err = n.check(ctx); err != nil || len(diffs) > 0 {
			return diffs, checkNo, err
		}
		checkNo++
	}
	return nil, checkNo, nil
}

// ---- the randomized test ----

// TestViews runs random views over random changes and fails when a view
// differs from its query. By default it runs five seeds; VIEWTEST_SEED
// replays one, VIEWTEST_RUNS sets how many, VIEWTEST_DURATION runs seeds
// until that much time has passed. Seeds count up from the clock, or from
// VIEWTEST_SEED_BASE so that a run (CI's) explores the same seeds each time.
func TestViews(t *testing.T) {
	if v := os.Getenv("VIEWTEST_SEED"); v != "" {
		runSeed(t, randtest.EnvInt(t, "VIEWTEST_SEED", 0))
		return
	}
	runs := int(randtest.EnvInt(t, "VIEWTEST_RUNS", 5))
	var until time.Time
	if v := os.Getenv("VIEWTEST_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("VIEWTEST_DURATION=%q: %v", v, err)
		}
		until, runs = time.Now().Add(d), -1
	}
	base := time.Now().UnixNano()
	if os.Getenv("VIEWTEST_SEED_BASE") != "" {
		base = randtest.EnvInt(t, "VIEWTEST_SEED_BASE", 0)
	}
	n := 0
	for runs < 0 && time.Now().Before(until) || n < runs {
		seed := base + int64(n)
		n++
		if !t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { runSeed(t, seed) }) {
			break // later runs would mostly hit the same bug
		}
	}
	t.Logf("%d runs", n)
}

// liveRun is one seed's run: what it drew and what it ran, kept to build
// replay scripts.
type liveRun struct {
	t      *testing.T
	seed   int64
	set    settings
	setup  []step // CREATE TABLE/STREAM and the first rows
	views  map[string]*viewQuery
	order  []string // view names in creation order
	epochs [][]step // the changes of each epoch
	ran    []step   // every step run, in order, for failure reports
	n      *node
}

// windowFunc finds a window function in a view's query.
var windowFunc = regexp.MustCompile(`\b(TUMBLE|HOP|CUMULATE|SESSION)\(`)

func runSeed(t *testing.T, seed int64) {
	ctx := context.Background()
	r := rand.New(rand.NewSource(seed))
	lr := &liveRun{t: t, seed: seed, set: drawSettings(r), views: map[string]*viewQuery{}}
	lr.set.memoryLimit = drawMemoryLimit(seed)
	t.Logf("seed %d (replay: VIEWTEST_SEED=%d go test ./viewtest -run TestViews), settings %s", seed, seed, lr.set)
	rels := drawSchema(r)
	g := newGen(r, rels)
	g.drawKnownBugs = os.Getenv("VIEWTEST_KNOWN_BUGS") == "draw"
	for _, rel := range rels {
		lr.setup = append(lr.setup, step{sql: rel.createSQL()})
	}
	lr.setup = append(lr.setup, g.setupData()...)
	nViews, nEpochs := 3+r.Intn(6), 4+r.Intn(9)
	var err error
	if lr.n, err = startNode(ctx, lr.set); err != nil {
		t.Fatal(err)
	}
	defer lr.n.close()
	for _, st := range lr.setup {
		lr.mustExec(ctx, st)
	}
	refused := 0
	for i := 1; i <= nViews; i++ {
		q := g.view()
		name := fmt.Sprintf("v%d", i)
		sql := createViewSQL(name, q.sql())
		if err := lr.exec(ctx, step{sql: sql}); err != nil {
			if sqlState(err) == "0A000" {
				t.Logf("not maintained, dropped: %s\n  %s", sql, errText(err))
				refused++
				continue
			}
			lr.fatalf("%s\n  %s", sql, errText(err))
		}
		rel, err := lr.viewRelation(ctx, name, q)
		if err != nil {
			lr.fatalf("%s: %v", name, err)
		}
		g.rels = append(g.rels, rel)
		lr.views[name] = q
		lr.order = append(lr.order, name)
	}
	lr.checkEpoch(ctx, 0)
	for e := 1; e <= nEpochs; e++ {
		steps := g.epoch()
		lr.epochs = append(lr.epochs, steps)
		for _, st := range steps {
			lr.mustExec(ctx, st)
		}
		lr.checkEpoch(ctx, e)
	}
	windowed, onClose := 0, 0
	for _, q := range lr.views {
		if windowFunc.MatchString(q.sql()) {
			windowed++
		}
		if q.onClose {
			onClose++
		}
	}
	committed := 0
	for _, k := range lr.n.streams {
		committed += k
	}
	t.Logf("%d views (%d with window functions, %d of them EMIT ON WINDOW CLOSE; %d more refused with 0A000) checked %d times: their first content, then after each of %d epochs; %d checks skipped (batch query past %v); %d of the %d rows committed into streams were late",
		len(lr.order), windowed, onClose, refused, nEpochs+1, nEpochs, lr.n.unchecked, serverTimeout, lr.n.late, committed)
}

// viewRelation describes a created view to the generator, with the column
// types the server reports.
func (lr *liveRun) viewRelation(ctx context.Context, name string, q *viewQuery) (*relation, error) {
	res := lr.n.query(ctx, "SELECT * FROM "+name+" LIMIT 0")
	if res.err != nil {
		return nil, res.err
	}
	rel := &relation{name: name, kind: kindView}
	for i, oid := range res.oids {
		c := column{name: fmt.Sprintf("c%d", i), typ: typeOfOID(oid), scale: -1}
		if i < len(q.left.items) && q.left.items[i].typ == c.typ {
			c.scale = q.left.items[i].scale
			if q.right != nil {
				c.scale = sameScale(c.scale, q.right.items[i].scale)
			}
		}
		rel.cols = append(rel.cols, c)
	}
	return rel, nil
}

func (lr *liveRun) exec(ctx context.Context, st step) error {
	err := lr.n.exec(ctx, st)
	if err == nil || sqlState(err) != "0A000" {
		lr.ran = append(lr.ran, st)
	}
	return err
}

func (lr *liveRun) mustExec(ctx context.Context, st step) {
	if err := lr.exec(ctx, st); err != nil {
		lr.fatalf("%s\n  %s", st.sql, errText(err))
	}
}

// replayCase is what a shrinking replay runs: the setup, one view's query
// (after the views it reads) and the epochs of changes.
type replayCase struct {
	setup  []step
	q      *viewQuery
	epochs [][]step
}

// script builds c's script for view name: the setup, the CREATE statements,
// a check, then each epoch followed by a check.
func (lr *liveRun) script(name string, c replayCase) []step {
	out := append([]step(nil), c.setup...)
	for _, sql := range lr.creates(name, c.q) {
		out = append(out, step{sql: sql})
	}
	out = append(out, checkStep)
	for _, e := range c.epochs {
		out = append(append(out, e...), checkStep)
	}
	return out
}

// smaller returns variants of c with one thing removed: a clause of the
// query, then an epoch or a first INSERT.
func (c replayCase) smaller() []replayCase {
	var out []replayCase
	for _, q := range c.q.shrinks() {
		out = append(out, replayCase{setup: c.setup, q: q, epochs: c.epochs})
	}
	for i := range c.epochs {
		out = append(out, replayCase{setup: c.setup, q: c.q, epochs: del(c.epochs, i)})
	}
	for i, st := range c.setup {
		if strings.HasPrefix(st.sql, "INSERT") {
			out = append(out, replayCase{setup: del(c.setup, i), q: c.q, epochs: c.epochs})
		}
	}
	return out
}

func (lr *liveRun) fatalf(format string, args ...any) {
	lr.t.Helper()
	lr.t.Fatalf("seed %d, settings %s: %s\nstatements run:\n%s", lr.seed, lr.set, fmt.Sprintf(format, args...), formatScript(lr.ran))
}

// checkEpoch compares every view with its query; on a difference it
// shrinks the first differing view, saves a regression script and fails.
func (lr *liveRun) checkEpoch(ctx context.Context, epoch int) {
	lr.ran = append(lr.ran, checkStep)
	diffs, err := lr.n.check(ctx)
	if err != nil {
		lr.fatalf("epoch %d: %v", epoch, err)
	}
	if len(diffs) == 0 {
		return
	}
	t := lr.t
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d (replay: VIEWTEST_SEED=%d), settings %s\n", lr.seed, lr.seed, lr.set)
	when := fmt.Sprintf("after epoch %d", epoch)
	if epoch == 0 {
		when = "right after their creation"
	}
	fmt.Fprintf(&b, "%s, %d of %d views (and of the streams) differ from what they must hold:\n", when, len(diffs), len(lr.order))
	for _, d := range diffs {
		b.WriteString(d.String() + "\n")
	}
	// A view is shrunk; a stream that lost or duplicated rows is not (its
	// rows do not depend on the views), and its whole run is saved.
	what, saved, note := "stream "+diffs[0].stream+" lost or duplicated rows", lr.ran, "not shrunk\n"
	if diffs[0].stream == "" {
		first := diffs[0].view.name
		what = "view " + first + " differs from its query"
		saved, note = lr.shrink(ctx, first, epoch)
	}
	b.WriteString(note)
	fmt.Fprintf(&b, "schema:\n")
	for _, st := range lr.setup {
		if strings.HasPrefix(st.sql, "CREATE") {
			b.WriteString("  " + st.sql + "\n")
		}
	}
	fmt.Fprintf(&b, "statements run:\n%s", formatScript(lr.ran))
	path, err := saveRegression(fmt.Sprintf("%d.sql", lr.seed), fmt.Sprintf("viewtest seed %d: %s", lr.seed, what), lr.set, saved)
	if err != nil {
		t.Error(err)
	}
	fmt.Fprintf(&b, "saved to %s", path)
	t.Fatal(b.String())
}

// viewsReferenced matches the names of views (v1, v2, …) in SQL; literals
// and other names never look like one.
var viewsReferenced = regexp.MustCompile(`\bv\d+\b`)

// creates returns the CREATE statements for view name with query q and
// the earlier views it reads, transitively, in creation order.
func (lr *liveRun) creates(name string, q *viewQuery) []string {
	need := map[string]bool{}
	var visit func(sql string)
	visit = func(sql string) {
		for _, dep := range viewsReferenced.FindAllString(sql, -1) {
			if dep != name && !need[dep] && lr.views[dep] != nil {
				need[dep] = true
				visit(lr.views[dep].sql())
			}
		}
	}
	visit(q.sql())
	var out []string
	for _, v := range lr.order {
		if need[v] {
			out = append(out, createViewSQL(v, lr.views[v].sql()))
		}
	}
	return append(out, createViewSQL(name, q.sql()))
}

// Shrinking replays on fresh servers, so it gets a budget.
const (
	shrinkReplays  = 80
	shrinkDuration = 90 * time.Second
)

// shrink removes clauses from view name's query, and changes, while a
// replay (setup, the views it reads, it, the epochs up to epoch) still
// shows it differing. It returns the script to save and a note on what it
// did.
func (lr *liveRun) shrink(ctx context.Context, name string, epoch int) ([]step, string) {
	c := replayCase{setup: lr.setup, q: lr.views[name], epochs: lr.epochs[:epoch]}
	differs := func(c replayCase) bool {
		diffs, _, err := runScript(ctx, lr.set, lr.script(name, c))
		if err != nil {
			return false // the candidate is invalid (or the replay broke)
		}
		for _, d := range diffs {
			if d.view.name == name {
				return true
			}
		}
		return false
	}
	if !differs(c) {
		return lr.ran, fmt.Sprintf("view %s does not differ on a replay of the statements with only the views it reads: not shrunk\n", name)
	}
	deadline := time.Now().Add(shrinkDuration)
	replays, steps := 1, len(lr.script(name, c))
	for improved := true; improved; {
		improved = false
		for _, smaller := range c.smaller() {
			if replays >= shrinkReplays || time.Now().After(deadline) {
				break
			}
			replays++
			if differs(smaller) {
				c, improved = smaller, true
				break
			}
		}
	}
	script := lr.script(name, c)
	note := fmt.Sprintf("shrunk (%d replays, %d steps to %d): %s\n", replays, steps, len(script), createViewSQL(name, c.q.sql()))
	diffs, _, err := runScript(ctx, lr.set, script)
	switch {
	case err != nil:
		note += "  its replay now fails: " + err.Error() + "\n"
	case len(diffs) > 0:
		note += "  " + strings.ReplaceAll(diffs[len(diffs)-1].String(), "\n", "\n  ") + "\n"
	default:
		note += "  (its last replay did not differ: the mismatch is intermittent)\n"
	}
	return script, note
}

// ---- scripts on disk ----

const regressionDir = "testdata/regressions"

// formatScript renders steps as a script: a statement line, a COPY line
// followed by its data and `\.`, or `-- check`.
func formatScript(steps []step) string {
	var b strings.Builder
	for _, st := range steps {
		switch {
		case st.check:
			b.WriteString("-- check\n")
		case st.copy != nil:
			b.WriteString(st.sql + "\n")
			for _, l := range st.copy {
				b.WriteString(l + "\n")
			}
			b.WriteString("\\.\n")
		default:
			b.WriteString(st.sql + "\n")
		}
	}
	return b.String()
}

func saveRegression(file, title string, set settings, steps []step) (string, error) {
	if err := os.MkdirAll(regressionDir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(regressionDir, file)
	text := fmt.Sprintf("-- %s\n-- settings %s\n%s", title, set, formatScript(steps))
	return path, os.WriteFile(path, []byte(text), 0o644)
}

// parseScript reads a script written by saveRegression (or by hand):
// `-- settings workers=<n> tick=<duration> chunk=<n>` (then optionally
// ` limit=<bytes>`), optionally `-- known bug:
// <name>`, then steps as formatScript writes them; other `--` lines are
// comments.
func parseScript(text string) (set settings, knownBug string, steps []step, err error) {
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		switch {
		case line == "":
		case line == "-- check":
			steps = append(steps, checkStep)
		case strings.HasPrefix(line, "-- settings "):
			var tick string
			if _, err := fmt.Sscanf(line, "-- settings workers=%d tick=%s chunk=%d", &set.workers, &tick, &set.chunkSize); err != nil {
				return set, "", nil, fmt.Errorf("line %d: %v", i+1, err)
			}
			if set.tick, err = time.ParseDuration(tick); err != nil {
				return set, "", nil, fmt.Errorf("line %d: %v", i+1, err)
			}
			if _, limit, ok := strings.Cut(line, " limit="); ok {
				if set.memoryLimit, err = strconv.ParseInt(limit, 10, 64); err != nil {
					return set, "", nil, fmt.Errorf("line %d: %v", i+1, err)
				}
			}
		case strings.HasPrefix(line, "-- known bug:"):
			knownBug = strings.TrimSpace(strings.TrimPrefix(line, "-- known bug:"))
		case strings.HasPrefix(line, "--"):
		case strings.HasPrefix(line, "COPY ") && strings.HasSuffix(line, "FROM STDIN;"):
			st := step{sql: line, copy: []string{}}
			for i++; i < len(lines) && lines[i] != `\.`; i++ {
				st.copy = append(st.copy, lines[i])
			}
			if i == len(lines) {
				return set, "", nil, fmt.Errorf("COPY without its \\. line: %s", line)
			}
			steps = append(steps, st)
		case !strings.HasSuffix(line, ";"):
			return set, "", nil, fmt.Errorf("line %d: a statement does not end in ';'", i+1)
		default:
			steps = append(steps, step{sql: line})
		}
	}
	if set.workers == 0 {
		return set, "", nil, errors.New("no `-- settings` line")
	}
	return set, knownBug, steps, nil
}

// TestRegressions replays every saved script: each must pass, except those
// of listed known bugs, which must still fail (so a fix is noticed and the
// entry removed).
func TestRegressions(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(regressionDir, "*.sql"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Skip("no regression scripts")
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			text, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			set, bug, steps, err := parseScript(string(text))
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			diffs, checkNo, err := runScript(context.Background(), set, steps)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			var why strings.Builder
			for _, d := range diffs {
				why.WriteString(d.String() + "\n")
			}
			_, listed := knownBugs[bug]
			switch {
			case listed && len(diffs) == 0:
				t.Errorf("%s: known bug %q no longer reproduces: delete it from knownBugs (bugs_test.go)", path, bug)
			case listed:
				t.Logf("%s: known bug %q still reproduces: %s", path, bug, knownBugs[bug])
			case len(diffs) > 0:
				t.Errorf("%s: check %d (settings %s):\n%s", path, checkNo, set, why.String())
			}
		})
	}
}

// TestGeneratorDeterministic checks that a seed always draws the same
// schema, views and changes, which is what makes VIEWTEST_SEED replays
// work (given the same views are refused).
func TestGeneratorDeterministic(t *testing.T) {
	draw := func(seed int64) string {
		r := rand.New(rand.NewSource(seed))
		var b strings.Builder
		b.WriteString(drawSettings(r).String())
		g := newGen(r, drawSchema(r))
		for _, rel := range g.rels {
			b.WriteString(rel.createSQL())
		}
		b.WriteString(formatScript(g.setupData()))
		for range 8 {
			q := g.view()
			b.WriteString(q.sql())
			for _, s := range q.shrinks() {
				b.WriteString(s.sql())
			}
		}
		for range 5 {
			b.WriteString(formatScript(g.epoch()))
		}
		return b.String()
	}
	for seed := int64(1); seed <= 20; seed++ {
		if a, b := draw(seed), draw(seed); a != b {
			t.Fatalf("seed %d drew two different runs", seed)
		}
	}
}

// TestSettingsRoundTrip checks that the settings line of a saved script
// reads back as written, with a memory limit and without (the scripts
// saved before there was one).
func TestSettingsRoundTrip(t *testing.T) {
	for _, want := range []settings{
		{workers: 3, tick: 25 * time.Millisecond, chunkSize: 7},
		{workers: 1, tick: time.Second, chunkSize: 1000, memoryLimit: 5 << 10},
	} {
		got, _, _, err := parseScript(fmt.Sprintf("-- settings %s\nSELECT 1;\n", want))
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("settings %q read back as %q", want, got)
		}
	}
}
