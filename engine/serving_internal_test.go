package engine

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/pgwire"
)

// discardWriter is a pgwire.ResultWriter that drops the rows.
type discardWriter struct{}

func (discardWriter) WriteChunk(*coldata.Chunk) error                   { return nil }
func (discardWriter) CopyIn(pgwire.CopyFormat, int) (io.Reader, error)  { return nil, io.EOF }
func (discardWriter) CopyOut(pgwire.CopyFormat, int) (io.Writer, error) { return io.Discard, nil }
func (discardWriter) ParameterStatus(string, string) error              { return nil }
func (discardWriter) Notice(string, string, string) error               { return nil }
func (discardWriter) Flush() error                                      { return nil }

// dashboardRange is a Grafana time-series panel's query as `sluice bench
// serve` sends it: a one-hour range over a per-minute table with the
// range's literals in the text, which changes every second; within a
// second every panel (session) sends the same text. It returns the
// function that sends query i: parse (the engine-wide tree cache hits from
// the second session on), plan (each session's first use of a text), run.
func dashboardRange(tb testing.TB) func(i int) {
	e, _ := testEngine(tb)
	ctx := context.Background()
	const panels = 100
	sessions := make([]pgwire.Session, panels)
	for i := range sessions {
		var err error
		if sessions[i], err = e.Open(ctx, map[string]string{"user": "sluice"}); err != nil {
			tb.Fatal(err)
		}
	}
	execSQL(tb, sessions[0], `CREATE TABLE bids_per_minute (channel text, window_start timestamptz, window_end timestamptz,
		bids bigint, volume bigint, PRIMARY KEY (channel, window_start))`)
	t0 := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	for m := range 90 {
		w := t0.Add(time.Duration(m) * time.Minute)
		for _, ch := range []string{"Google", "Facebook", "Baidu", "Apple", "other"} {
			execSQL(tb, sessions[0], fmt.Sprintf("INSERT INTO bids_per_minute VALUES ('%s', '%s', '%s', %d, %d)",
				ch, w.Format(time.RFC3339), w.Add(time.Minute).Format(time.RFC3339), m+1, 10*m))
		}
	}
	const rangeSQL = `SELECT window_start AS "time", channel, bids, volume FROM bids_per_minute
		WHERE window_start BETWEEN '%s'::timestamptz AND '%s'::timestamptz ORDER BY 1, 2`
	return func(i int) {
		to := t0.Add(time.Hour + time.Duration(i/panels)*time.Second)
		execSQL(tb, sessions[i%panels], fmt.Sprintf(rangeSQL, to.Add(-time.Hour).Format(time.RFC3339), to.Format(time.RFC3339)))
	}
}

func BenchmarkDashboardRange(b *testing.B) {
	query := dashboardRange(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		query(i)
	}
}

// TestDashboardRangeAllocs bounds the allocations of the range query: 475
// when each use of a cached parse tree copied it and the planner walked
// trees by reflection, 274 after, 107 since a session takes the plan
// another session made of the text (planCache).
func TestDashboardRangeAllocs(t *testing.T) {
	query := dashboardRange(t)
	i := 0
	if n := testing.AllocsPerRun(1000, func() { query(i); i++ }); n > 150 {
		t.Errorf("the dashboard range query allocates %.0f times, want at most 150", n)
	}
}

// TestSharedTreesConcurrently plans and runs the same query texts from
// several sessions at once, so that the engine-wide tree cache hands them
// one parse tree each (run with -race: planning must only read it).
func TestSharedTreesConcurrently(t *testing.T) {
	e, _ := testEngine(t)
	ctx := context.Background()
	run := func(s pgwire.Session, sql string) error {
		stmts, err := s.Parse(ctx, sql)
		if err != nil {
			return err
		}
		for _, st := range stmts {
			p, err := st.Bind(ctx, nil, nil)
			if err != nil {
				return err
			}
			if _, _, err := p.Execute(ctx, 0, discardWriter{}); err != nil {
				return err
			}
		}
		return nil
	}
	admin, err := e.Open(ctx, map[string]string{"user": "sluice"})
	if err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{"CREATE TABLE bids (auction bigint, channel text, price bigint, at timestamptz)",
		"INSERT INTO bids SELECT i % 50, (ARRAY['Google', 'Apple', 'x'])[i % 3 + 1], i * 7 % 1000, '2026-12-04 03:00:00+00'::timestamptz + i * interval '1 second' FROM generate_series(1, 500) i"} {
		if err := run(admin, sql); err != nil {
			t.Fatal(err)
		}
	}
	queries := []string{
		"SELECT CASE WHEN channel IN ('Google', 'Apple') THEN channel ELSE 'other' END AS c, count(*), max(price) FROM bids GROUP BY 1 ORDER BY 1",
		"SELECT auction, sum(price) FILTER (WHERE price > 10), row_number() OVER (ORDER BY auction) FROM bids WHERE at BETWEEN '2026-12-04 03:00:00+00'::timestamptz AND '2026-12-04 03:05:00+00'::timestamptz GROUP BY auction ORDER BY auction LIMIT 5",
		"SELECT b.auction, (SELECT count(*) FROM bids c WHERE c.auction = b.auction) FROM bids b WHERE b.price IN (7, 14, 21) ORDER BY 1, 2",
		"SELECT generate_series(1, 3), upper(channel) || '!' FROM bids WHERE auction = 3 ORDER BY 1, 2",
	}
	errs := make(chan error, 4)
	for range 4 {
		s, err := e.Open(ctx, map[string]string{"user": "sluice"})
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for range 10 {
				for _, q := range queries {
					if err := run(s, q); err != nil {
						errs <- fmt.Errorf("%s: %w", q, err)
						return
					}
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestSharedPlans checks that a session takes the plan another session
// made of the same text, with the same catalog and settings, instead of
// planning again, and that a session with other settings or a later
// catalog plans its own.
func TestSharedPlans(t *testing.T) {
	e, _ := testEngine(t)
	ctx := context.Background()
	open := func(params map[string]string) *session {
		params["user"] = "sluice"
		s, err := e.Open(ctx, params)
		if err != nil {
			t.Fatal(err)
		}
		return s.(*session)
	}
	// bind returns the plan that runs sql in s.
	bind := func(s *session, sql string) *statement {
		t.Helper()
		stmts, err := s.Parse(ctx, sql)
		if err != nil {
			t.Fatal(err)
		}
		p, err := stmts[0].Bind(ctx, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := p.Execute(ctx, 0, discardWriter{}); err != nil {
			t.Fatal(err)
		}
		return stmts[0].(*statement)
	}
	first, second, utc := open(map[string]string{}), open(map[string]string{}), open(map[string]string{})
	tokyo := open(map[string]string{"options": "-c TimeZone=Asia/Tokyo"})
	bind(first, "CREATE TABLE t (a int, at timestamptz)")
	const sql = "SELECT a FROM t WHERE at > '2026-12-04 03:00:00'::timestamptz"
	// The first two plans are made (a text is kept when offered twice).
	made := []*statement{bind(first, sql), bind(second, sql)}
	if made[0].planned == made[1].planned {
		t.Fatal("the second plan of a text was the first's: kept at its first offer")
	}
	shared := bind(utc, sql)
	if shared.planned != made[1].planned {
		t.Error("a third session planned the text again")
	}
	// A new session's first run allocates less than half of what it does
	// when it plans (a search path of its own each time).
	withPlan, paths := testing.AllocsPerRun(100, func() { bind(open(map[string]string{}), sql) }), 0
	planning := testing.AllocsPerRun(100, func() {
		paths++
		bind(open(map[string]string{"options": fmt.Sprintf("-c search_path=public,s%d", paths)}), sql)
	})
	if withPlan > planning/2 {
		t.Errorf("a new session's first run allocates %.0f times with the shared plan, %.0f planning: want at most half", withPlan, planning)
	}
	if bind(tokyo, sql).planned == shared.planned {
		t.Error("a session in another time zone took a plan folding the literal in UTC")
	}
	bind(first, "CREATE TABLE u (b int)")
	if bind(utc, sql).planned == shared.planned {
		t.Error("a session took a plan made before the catalog changed")
	}
}

// execSQL parses, binds and runs each statement of sql in s.
func execSQL(t testing.TB, s pgwire.Session, sql string) {
	t.Helper()
	ctx := context.Background()
	stmts, err := s.Parse(ctx, sql)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range stmts {
		p, err := st.Bind(ctx, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := p.Execute(ctx, 0, discardWriter{}); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
}

// TestViewReadTakesNoLock checks that a statement reading a view does not
// wait for the dataflow loop's lock: a panel's query must not queue behind
// the loop (which takes pubMu at every epoch) nor behind another reader
// stalled while the loop waits for it.
func TestViewReadTakesNoLock(t *testing.T) {
	e, _ := testEngine(t)
	s, err := e.Open(context.Background(), map[string]string{"user": "sluice"})
	if err != nil {
		t.Fatal(err)
	}
	execSQL(t, s, "CREATE TABLE t (k bigint PRIMARY KEY, v bigint)")
	execSQL(t, s, "INSERT INTO t VALUES (1, 10), (2, 20)")
	execSQL(t, s, "CREATE MATERIALIZED VIEW total AS SELECT sum(v) AS s FROM t")
	d := e.views
	d.pubMu.Lock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		execSQL(t, s, "SELECT s FROM total")
	}()
	select {
	case <-done:
		d.pubMu.Unlock()
	case <-time.After(10 * time.Second):
		d.pubMu.Unlock()
		t.Fatal("reading a view waited for the dataflow loop's lock")
	}
}

// TestStatementSnapshotsNoViews checks that a statement reading one view
// takes no snapshot of the others, nor of its own: it reads the snapshots
// published with the epoch. A statement that snapshotted every running view
// allocated a map and a snapshot per view, so 40 more views cost each query
// over 40 allocations.
func TestStatementSnapshotsNoViews(t *testing.T) {
	e, _ := testEngine(t)
	s, err := e.Open(context.Background(), map[string]string{"user": "sluice"})
	if err != nil {
		t.Fatal(err)
	}
	execSQL(t, s, "CREATE TABLE t (k bigint PRIMARY KEY, v bigint)")
	execSQL(t, s, "INSERT INTO t VALUES (1, 10), (2, 20)")
	execSQL(t, s, "CREATE MATERIALIZED VIEW by_key AS SELECT k, sum(v) AS s FROM t GROUP BY k")
	const query = "SELECT s FROM by_key WHERE k = 1"
	execSQL(t, s, query)
	one := testing.AllocsPerRun(200, func() { execSQL(t, s, query) })
	for i := range 40 {
		execSQL(t, s, fmt.Sprintf("CREATE MATERIALIZED VIEW other%d AS SELECT k, v + %d AS w FROM t", i, i))
	}
	execSQL(t, s, query)
	many := testing.AllocsPerRun(200, func() { execSQL(t, s, query) })
	if many > one+5 {
		t.Errorf("a point query allocates %.0f times with 41 views running, %.0f with one: it snapshots views it does not read", many, one)
	}
	// The snapshots a statement reads are those published with the epoch.
	p := e.views.published.Load()
	for id, v := range p.views {
		if v.snap == nil || v.failed != nil {
			t.Fatalf("view %d published without a snapshot (%v)", id, v.failed)
		}
	}
}
