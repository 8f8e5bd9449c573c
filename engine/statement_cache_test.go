package engine_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// simpleStrings runs sql over the simple query protocol (as Grafana and psql
// do) and returns its first column as text.
func simpleStrings(t *testing.T, conn *pgx.Conn, sql string) []string {
	t.Helper()
	return queryStrings(t, conn, sql, pgx.QueryExecModeSimpleProtocol)
}

func expectSimple(t *testing.T, conn *pgx.Conn, sql string, want ...string) {
	t.Helper()
	if got := simpleStrings(t, conn, sql); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("%s: got %q, want %q", sql, got, want)
	}
}

// A query string sent again reuses its parse and plan, but never a stale
// one: new rows, a SET of the time zone, DDL and volatile
// functions all show in the next run of the same text.
func TestRepeatedQueryStrings(t *testing.T) {
	srv := startServer(t, "")
	conn := connect(t, srv)
	mustExec(t, conn, "CREATE TABLE t (a int PRIMARY KEY, ts timestamptz)")
	mustExec(t, conn, "INSERT INTO t VALUES (1, '2026-01-01 12:00:00+00')")
	const q = "SELECT a::text || ' ' || ts::text FROM t ORDER BY a"
	expectSimple(t, conn, q, "1 2026-01-01 12:00:00+00")

	mustExec(t, conn, "INSERT INTO t VALUES (2, '2026-01-02 12:00:00+00')")
	expectSimple(t, conn, q, "1 2026-01-01 12:00:00+00", "2 2026-01-02 12:00:00+00")

	mustExec(t, conn, "SET TimeZone = 'Asia/Tokyo'")
	expectSimple(t, conn, q, "1 2026-01-01 21:00:00+09", "2 2026-01-02 21:00:00+09")
	const lit = "SELECT '2026-06-01 00:00:00'::timestamptz::text"
	expectSimple(t, conn, lit, "2026-06-01 00:00:00+09")
	mustExec(t, conn, "SET TimeZone = 'UTC'")
	expectSimple(t, conn, lit, "2026-06-01 00:00:00+00")
	// A plan names relations through the search path: changing it plans
	// the same text again.
	mustExec(t, conn, "CREATE TABLE tables (x int)")
	const tablesQuery = "SELECT count(*)::text FROM tables"
	expectSimple(t, conn, tablesQuery, "0")
	mustExec(t, conn, "SET search_path = information_schema, public")
	if got := simpleStrings(t, conn, tablesQuery); got[0] == "0" {
		t.Errorf("%s after SET search_path read public.tables", tablesQuery)
	}
	mustExec(t, conn, "RESET search_path")
	expectSimple(t, conn, tablesQuery, "0")
	mustExec(t, conn, "DROP TABLE tables")
	// A rolled-back SET is undone for cached plans too.
	mustExec(t, conn, "BEGIN")
	mustExec(t, conn, "SET TimeZone = 'Asia/Tokyo'")
	expectSimple(t, conn, lit, "2026-06-01 00:00:00+09")
	mustExec(t, conn, "ROLLBACK")
	expectSimple(t, conn, lit, "2026-06-01 00:00:00+00")

	mustExec(t, conn, "DROP TABLE t")
	mustExec(t, conn, "CREATE TABLE t (a int PRIMARY KEY, ts timestamptz, extra text)")
	mustExec(t, conn, "INSERT INTO t VALUES (3, '2026-01-03 00:00:00+00', 'x')")
	expectSimple(t, conn, q, "3 2026-01-03 00:00:00+00")
	expectSimple(t, conn, "SELECT count(*)::text FROM (SELECT * FROM t) s WHERE extra = 'x'", "1")

	// A transaction's own DDL is planned against, and not kept.
	mustExec(t, conn, "BEGIN")
	mustExec(t, conn, "DROP TABLE t")
	if _, err := conn.Exec(context.Background(), q, pgx.QueryExecModeSimpleProtocol); err == nil || pgErr(t, err).Code != "42P01" {
		t.Fatalf("%s after DROP TABLE in the transaction: %v, want 42P01", q, err)
	}
	mustExec(t, conn, "ROLLBACK")
	expectSimple(t, conn, q, "3 2026-01-03 00:00:00+00")

	const nowLiteral = "SELECT 'now'::timestamptz::text"
	before := simpleStrings(t, conn, nowLiteral)
	time.Sleep(2 * time.Millisecond)
	if after := simpleStrings(t, conn, nowLiteral); before[0] == after[0] {
		t.Errorf("%s returned %s twice", nowLiteral, before[0])
	}
	const now = "SELECT clock_timestamp()::text"
	first := simpleStrings(t, conn, now)
	time.Sleep(2 * time.Millisecond)
	if second := simpleStrings(t, conn, now); first[0] == second[0] {
		t.Errorf("%s returned %s twice", now, first[0])
	}
	mustExec(t, conn, "BEGIN")
	a := simpleStrings(t, conn, "SELECT now()::text")
	mustExec(t, conn, "COMMIT")
	time.Sleep(2 * time.Millisecond)
	if b := simpleStrings(t, conn, "SELECT now()::text"); a[0] == b[0] {
		t.Errorf("now() was %s in two transactions", a[0])
	}
}

// Sessions share the plans of query strings they all send (the plan
// cache), but never one made with other settings, an older catalog or
// for another user, and a shared plan still checks the reading role's
// grants when it runs.
func TestSharedPlansAcrossSessions(t *testing.T) {
	ctx := context.Background()
	srv := startServer(t, "")
	admin := connect(t, srv)
	mustExec(t, admin, "CREATE TABLE t (a int PRIMARY KEY, ts timestamptz)")
	mustExec(t, admin, "INSERT INTO t VALUES (1, '2026-06-01 00:00:00+00')")
	connectWith := func(settings string) *pgx.Conn {
		t.Helper()
		conn, err := pgx.Connect(ctx, "postgres://sluice@"+srv.PGAddr()+"/sluice?sslmode=disable&"+settings)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close(ctx) })
		return conn
	}
	utc, tokyo := connect(t, srv), connectWith("timezone=Asia/Tokyo")
	const lit = "SELECT '2026-06-01 00:00:00'::timestamptz::text || ' ' || count(*) FROM t WHERE ts <= '2026-06-01 00:00:00'::timestamptz"
	for range 3 {
		expectSimple(t, admin, lit, "2026-06-01 00:00:00+00 1")
	}
	expectSimple(t, utc, lit, "2026-06-01 00:00:00+00 1")
	// Tokyo's literal is nine hours earlier: the row is after it.
	expectSimple(t, tokyo, lit, "2026-06-01 00:00:00+09 0")
	// information_schema.tables is no relation of public's.
	const tables = "SELECT count(*)::text FROM tables WHERE table_name = 't'"
	schemas := connectWith("search_path=information_schema,public")
	for range 3 {
		expectSimple(t, schemas, tables, "1")
	}
	_, err := utc.Exec(ctx, tables, pgx.QueryExecModeSimpleProtocol)
	wantCode(t, tables+" in public", err, "42P01")

	// DDL: a session new to the text plans against the new table.
	const q = "SELECT a::text FROM t ORDER BY a"
	expectSimple(t, admin, q, "1")
	expectSimple(t, utc, q, "1")
	mustExec(t, admin, "DROP TABLE t")
	mustExec(t, admin, "CREATE TABLE t (a text PRIMARY KEY)")
	mustExec(t, admin, "INSERT INTO t VALUES ('new')")
	expectSimple(t, connect(t, srv), q, "new")
	expectSimple(t, utc, q, "new")

	// Grants: two readers share a plan, and a REVOKE stops both.
	mustExec(t, admin, "CREATE USER reader")
	mustExec(t, admin, "GRANT SELECT ON t TO reader")
	readers := []*pgx.Conn{mustConnectAs(t, srv, "reader", ""), mustConnectAs(t, srv, "reader", "")}
	for _, r := range append(readers, readers[0]) {
		expectSimple(t, r, q, "new")
	}
	mustExec(t, admin, "REVOKE SELECT ON t FROM reader")
	for _, r := range readers {
		_, err := r.Exec(ctx, q, pgx.QueryExecModeSimpleProtocol)
		wantCode(t, "after REVOKE", err, "42501")
	}
	mustExec(t, admin, "GRANT SELECT ON t TO reader")
	expectSimple(t, readers[1], q, "new")
}

// Sessions running the same query strings at once share their parse trees
// and plans (run with -race).
func TestRepeatedQueryStringsConcurrently(t *testing.T) {
	srv := startServer(t, "")
	conn := connect(t, srv)
	mustExec(t, conn, "CREATE TABLE kv (k int PRIMARY KEY, v text)")
	mustExec(t, conn, "INSERT INTO kv SELECT g, 'v' || g FROM generate_series(1, 100) g")
	queries := []string{
		"SELECT v FROM kv WHERE k = 42",
		"SELECT v FROM kv WHERE k IN (SELECT k FROM kv WHERE k % 50 = 0) ORDER BY k",
		"SELECT count(*)::text FROM kv a JOIN kv b ON a.k = b.k + 1 WHERE a.v LIKE 'v1%'",
		"WITH w AS (SELECT k, v FROM kv WHERE k < 4) SELECT string_agg(v, ',' ORDER BY k) FROM w",
	}
	want := [][]string{{"v42"}, {"v50", "v100"}, {"11"}, {"v1,v2,v3"}}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := connect(t, srv)
			for i := range 50 {
				q := queries[i%len(queries)]
				got := simpleStrings(t, c, q)
				if fmt.Sprint(got) != fmt.Sprint(want[i%len(queries)]) {
					t.Errorf("%s: got %q", q, got)
					return
				}
			}
		}()
	}
	wg.Wait()
}
