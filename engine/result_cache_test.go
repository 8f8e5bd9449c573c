package engine_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-db/sluice/engine"
	"github.com/sluice-db/sluice/server"
)

// resultCacheServer starts a server with a table t and a view v over it,
// the view holding rows for k = 1 and 2.
func resultCacheServer(t *testing.T) (*server.Server, *pgx.Conn) {
	t.Helper()
	srv := startServer(t, "")
	admin := connect(t, srv)
	mustExec(t, admin, "CREATE TABLE t (k int, ts timestamptz)")
	mustExec(t, admin, "INSERT INTO t VALUES (1, '2024-03-05 06:07:08+00'), (2, '2024-03-05 06:07:08+00'), (2, '2024-03-06 00:00:00+00')")
	mustExec(t, admin, "CREATE MATERIALIZED VIEW v AS SELECT k, count(*) AS n, max(ts) AS ts FROM t GROUP BY k")
	eventually(t, admin, "SELECT count(*) FROM v", 2)
	return srv, admin
}

// hitsDuring returns how many statements fn's runs answered from a kept
// answer.
func hitsDuring(srv *server.Server, fn func()) uint64 {
	before := srv.Engine().ResultCacheStats().Hits
	fn()
	return srv.Engine().ResultCacheStats().Hits - before
}

// hitsOfThree runs sql three times on c and returns how many of the runs
// were answered from a kept answer.
func hitsOfThree(t *testing.T, srv *server.Server, c *pgx.Conn, sql string) uint64 {
	t.Helper()
	return hitsDuring(srv, func() {
		for range 3 {
			simpleText(t, c, sql)
		}
	})
}

// simpleText runs sql (simple protocol: every value in text) and returns
// its rows as the server printed them.
func simpleText(t *testing.T, c *pgx.Conn, sql string) [][]string {
	t.Helper()
	res, err := c.PgConn().Exec(context.Background(), sql).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	var out [][]string
	for _, r := range res {
		for _, row := range r.Rows {
			var cells []string
			for _, b := range row {
				cells = append(cells, string(b))
			}
			out = append(out, cells)
		}
	}
	return out
}

// A second run of the same statement over views at the same publication is
// answered from the first run's answer, by either protocol and from any
// session of the same role and settings.
func TestResultCacheHits(t *testing.T) {
	srv, admin := resultCacheServer(t)
	other := connect(t, srv)
	ctx := context.Background()
	const sql = "SELECT k, n FROM v ORDER BY k"
	want := [][]string{{"1", "1"}, {"2", "2"}}
	// A publication can come between two runs; of three tries one pair
	// shares.
	hits := hitsDuring(srv, func() {
		for range 3 {
			for _, c := range []*pgx.Conn{admin, other} {
				if got := simpleText(t, c, sql); !reflect.DeepEqual(got, want) {
					t.Fatalf("%s: %v, want %v", sql, got, want)
				}
			}
		}
	})
	if hits == 0 {
		t.Errorf("simple protocol: no statement was answered from a kept answer")
	}
	hits = hitsDuring(srv, func() {
		for range 3 {
			for _, c := range []*pgx.Conn{admin, other} {
				var n int64
				if err := c.QueryRow(ctx, "SELECT n FROM v WHERE k = $1", 2).Scan(&n); err != nil || n != 2 {
					t.Fatalf("lookup of 2: %d, %v", n, err)
				}
				// The parameter is in the key: 1's answer is its own.
				if err := c.QueryRow(ctx, "SELECT n FROM v WHERE k = $1", 1).Scan(&n); err != nil || n != 1 {
					t.Fatalf("lookup of 1: %d, %v", n, err)
				}
			}
		}
	})
	if hits == 0 {
		t.Errorf("extended protocol: no statement was answered from a kept answer")
	}
	// Binary results (pgx's prepared statement) and then text from the
	// same kept answer.
	var ts time.Time
	if err := admin.QueryRow(ctx, "SELECT ts FROM v WHERE k = 1").Scan(&ts); err != nil || !ts.Equal(time.Date(2024, 3, 5, 6, 7, 8, 0, time.UTC)) {
		t.Fatalf("binary: %v, %v", ts, err)
	}
	if got := simpleText(t, admin, "SELECT ts FROM v WHERE k = 1"); !reflect.DeepEqual(got, [][]string{{"2024-03-05 06:07:08+00"}}) {
		t.Errorf("text after binary: %v", got)
	}
}

// What is printed or computed with a session's settings differs between
// sessions with different settings, whatever another session's answer
// kept.
func TestResultCacheSettings(t *testing.T) {
	srv, admin := resultCacheServer(t)
	other := connect(t, srv)
	const sql = "SELECT ts, ts::text AS s, to_char(ts, 'HH24') AS h FROM v WHERE k = 1"
	for range 2 {
		if got, want := simpleText(t, admin, sql), [][]string{{"2024-03-05 06:07:08+00", "2024-03-05 06:07:08+00", "06"}}; !reflect.DeepEqual(got, want) {
			t.Fatalf("ISO, UTC: %v, want %v", got, want)
		}
	}
	mustExec(t, other, "SET DateStyle = 'SQL, DMY'")
	if got, want := simpleText(t, other, sql), [][]string{{"05/03/2024 06:07:08 UTC", "05/03/2024 06:07:08 UTC", "06"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("SQL, DMY: %v, want %v", got, want)
	}
	mustExec(t, other, "SET DateStyle = ISO")
	mustExec(t, other, "SET TimeZone = 'Asia/Tokyo'")
	if got, want := simpleText(t, other, sql), [][]string{{"2024-03-05 15:07:08+09", "2024-03-05 15:07:08+09", "15"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("Asia/Tokyo: %v, want %v", got, want)
	}
	mustExec(t, other, "SET TimeZone = UTC")
	mustExec(t, other, "SET application_name = 'other'")
	mustExec(t, admin, "SET application_name = 'admin'")
	// current_setting reads a setting the key does not hold: never shared.
	const app = "SELECT current_setting('application_name'), n FROM v WHERE k = 1"
	for range 2 {
		if got := simpleText(t, admin, app); !reflect.DeepEqual(got, [][]string{{"admin", "1"}}) {
			t.Errorf("admin: %v", got)
		}
		if got := simpleText(t, other, app); !reflect.DeepEqual(got, [][]string{{"other", "1"}}) {
			t.Errorf("other: %v", got)
		}
	}
}

// A role without SELECT on a view is refused even when another role's
// answer to the same statement is kept.
func TestResultCachePrivileges(t *testing.T) {
	srv, admin := resultCacheServer(t)
	ctx := context.Background()
	mustExec(t, admin, "CREATE USER reader")
	reader := mustConnectAs(t, srv, "reader", "")
	const sql = "SELECT k, n FROM v ORDER BY k"
	for range 2 {
		simpleText(t, admin, sql)
	}
	_, err := reader.Exec(ctx, sql, pgx.QueryExecModeSimpleProtocol)
	wantCode(t, "simple", err, "42501")
	var n int64
	err = reader.QueryRow(ctx, "SELECT n FROM v WHERE k = $1", 1).Scan(&n)
	wantCode(t, "prepared", err, "42501")
	mustExec(t, admin, "GRANT SELECT ON v TO reader")
	if got := simpleText(t, reader, sql); len(got) != 2 {
		t.Errorf("granted: %v", got)
	}
	mustExec(t, admin, "REVOKE SELECT ON v FROM reader")
	_, err = reader.Exec(ctx, sql, pgx.QueryExecModeSimpleProtocol)
	wantCode(t, "revoked", err, "42501")
}

// A new epoch gives new rows; a table, the clock and a transaction block's
// statements are never answered from a kept answer.
func TestResultCacheNotShared(t *testing.T) {
	srv, admin := resultCacheServer(t)
	ctx := context.Background()
	simpleText(t, admin, "SELECT n FROM v WHERE k = 1")
	mustExec(t, admin, "INSERT INTO t VALUES (1, now())")
	eventually(t, admin, "SELECT n FROM v WHERE k = 1", 2)
	for _, sql := range []string{
		"SELECT count(*) FROM t",
		"SELECT count(*) FROM t JOIN v USING (k)",
		"SELECT count(*) FROM pg_class WHERE relname = 'v'",
	} {
		hits := hitsDuring(srv, func() {
			for i := range 3 {
				if i > 0 {
					mustExec(t, admin, "INSERT INTO t VALUES (9, NULL)")
				}
				simpleText(t, admin, sql)
			}
		})
		if hits != 0 {
			t.Errorf("%s: %d answered from a kept answer", sql, hits)
		}
	}
	if n := queryInt(t, admin, "SELECT count(*) FROM t"); n != 10 {
		t.Errorf("table after inserts: %d, want 10", n)
	}
	for _, sql := range []string{
		"SELECT now() AS t, n FROM v WHERE k = 1",
		"SELECT age('2020-01-01'::timestamp) AS a, n FROM v WHERE k = 1",
		"SELECT random() AS r, n FROM v WHERE k = 1",
		"SELECT pg_backend_pid() AS p, n FROM v WHERE k = 1",
	} {
		hits := hitsOfThree(t, srv, admin, sql)
		if hits != 0 {
			t.Errorf("%s: %d answered from a kept answer", sql, hits)
		}
	}
	// Text a view holds, cast to a date or time on the rows, may be 'now'
	// or 'today': the statement's clock, which the key does not hold.
	mustExec(t, admin, "CREATE TABLE words (w text)")
	mustExec(t, admin, "INSERT INTO words VALUES ('now'), ('today')")
	mustExec(t, admin, "CREATE MATERIALIZED VIEW wv AS SELECT w FROM words")
	eventually(t, admin, "SELECT count(*) FROM wv", 2)
	for sql, shared := range map[string]bool{
		"SELECT w FROM wv ORDER BY w":                          true,
		"SELECT w::timestamptz AS t FROM wv ORDER BY w":        false,
		"SELECT w::date AS d FROM wv ORDER BY w":               false,
		"SELECT ARRAY[w]::timestamp[] AS a FROM wv ORDER BY w": false,
	} {
		hits := hitsOfThree(t, srv, admin, sql)
		if (hits != 0) != shared {
			t.Errorf("%s: %d answered from a kept answer, want shared %v", sql, hits, shared)
		}
	}
	hits := hitsDuring(srv, func() {
		tx, err := admin.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			var n int64
			if err := tx.QueryRow(ctx, "SELECT n FROM v WHERE k = $1", 1).Scan(&n); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	})
	if hits != 0 {
		t.Errorf("transaction block: %d answered from a kept answer", hits)
	}
	mustExec(t, admin, "SET sluice.result_cache = off")
	hits = hitsOfThree(t, srv, admin, "SELECT n FROM v WHERE k = 1")
	if hits != 0 {
		t.Errorf("sluice.result_cache off: %d answered from a kept answer", hits)
	}
	mustExec(t, admin, "RESET sluice.result_cache")
	hits = hitsOfThree(t, srv, admin, "SELECT n FROM v WHERE k = 1")
	if hits == 0 {
		t.Error("sluice.result_cache reset: nothing answered from a kept answer")
	}
}

// With sharing off (--result-cache-bytes 0) nothing is kept.
func TestResultCacheOff(t *testing.T) {
	srv, err := server.Start(context.Background(), server.Config{PGAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", DataDir: t.TempDir(), ResultCacheBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	c := connect(t, srv)
	mustExec(t, c, "CREATE TABLE t (k int)")
	mustExec(t, c, "INSERT INTO t VALUES (1)")
	mustExec(t, c, "CREATE MATERIALIZED VIEW v AS SELECT k, count(*) AS n FROM t GROUP BY k")
	eventually(t, c, "SELECT count(*) FROM v", 1)
	for range 3 {
		simpleText(t, c, "SELECT k, n FROM v")
	}
	if st := srv.Engine().ResultCacheStats(); st != (engine.ResultCacheStats{}) {
		t.Errorf("off: %+v", st)
	}
}

// Differential: random statements over views while rows are inserted, each
// run shared (outside a transaction block) and not (inside one). The views
// only grow, so two shared runs with the same answer saw the same rows,
// and the unshared run between them must answer the same. The seed is
// logged.
func TestResultCacheDifferential(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	srv := startServer(t, "")
	admin := connect(t, srv)
	ctx := context.Background()
	mustExec(t, admin, "CREATE TABLE ev (k int, v int)")
	mustExec(t, admin, "CREATE MATERIALIZED VIEW agg AS SELECT k, count(*) AS n, sum(v) AS s, max(v) AS mx FROM ev GROUP BY k")
	mustExec(t, admin, "CREATE MATERIALIZED VIEW tot AS SELECT count(*) AS n, sum(v) AS s FROM ev")
	mustExec(t, admin, "INSERT INTO ev SELECT g % 20, g FROM generate_series(1, 200) AS g")
	eventually(t, admin, "SELECT n FROM tot", 200)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		ins := connect(t, srv)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if _, err := ins.Exec(ctx, fmt.Sprintf("INSERT INTO ev VALUES (%d, %d)", i%25, i)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()

	a, b, c := connect(t, srv), connect(t, srv), connect(t, srv)
	queries := func() (string, []any) {
		cols := []string{"k", "n", "s", "mx", "k, n", "n, s, mx"}[rng.IntN(6)]
		switch rng.IntN(5) {
		case 0:
			return fmt.Sprintf("SELECT %s FROM agg WHERE k = $1", cols), []any{rng.IntN(26)}
		case 1:
			return fmt.Sprintf("SELECT %s FROM agg WHERE k < %d ORDER BY k", cols, rng.IntN(26)), nil
		case 2:
			return fmt.Sprintf("SELECT k, n FROM agg ORDER BY n DESC, k LIMIT %d", 1+rng.IntN(10)), nil
		case 3:
			return "SELECT agg.k, agg.n, tot.n FROM agg, tot WHERE agg.k = $1", []any{rng.IntN(26)}
		}
		return fmt.Sprintf("SELECT count(*), sum(n) FROM agg WHERE mx > %d", rng.IntN(300)), nil
	}
	run := func(q pgx.Tx, conn *pgx.Conn, sql string, args []any) [][]any {
		var rows pgx.Rows
		var err error
		mode := pgx.QueryExecModeCacheStatement
		if args == nil {
			mode = pgx.QueryExecModeSimpleProtocol
		}
		if q != nil {
			rows, err = q.Query(ctx, sql, append([]any{mode}, args...)...)
		} else {
			rows, err = conn.Query(ctx, sql, append([]any{mode}, args...)...)
		}
		if err != nil {
			t.Fatalf("%s %v: %v", sql, args, err)
		}
		out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([]any, error) { return r.Values() })
		if err != nil {
			t.Fatalf("%s %v: %v", sql, args, err)
		}
		return out
	}
	compared := 0
	before := srv.Engine().ResultCacheStats().Hits
	for range 1000 {
		sql, args := queries()
		first := run(nil, a, sql, args)
		tx, err := b.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		unshared := run(tx, nil, sql, args)
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		last := run(nil, c, sql, args)
		if !reflect.DeepEqual(first, last) {
			continue // rows came between: nothing to compare
		}
		compared++
		if !reflect.DeepEqual(first, unshared) {
			t.Fatalf("%s %v: shared %v, unshared %v (seed %d)", sql, args, first, unshared, seed)
		}
	}
	hits := srv.Engine().ResultCacheStats().Hits - before
	t.Logf("compared %d of 1000, %d answered from kept answers", compared, hits)
	if compared < 30 || hits == 0 {
		t.Errorf("compared %d, hits %d: too few to tell", compared, hits)
	}
}
