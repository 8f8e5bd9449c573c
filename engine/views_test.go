package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestViewsReadOneEpoch checks that a statement reading several views sees
// them at one epoch: while writers commit transactions of 10 rows each, a
// per-key count and a total count over the same stream always agree and
// move in whole transactions.
func TestViewsReadOneEpoch(t *testing.T) {
	srv := startServer(t, "")
	conn := connect(t, srv)
	ctx := context.Background()
	mustExec(t, conn, "CREATE STREAM ev (k int, v int)")
	mustExec(t, conn, "CREATE MATERIALIZED VIEW per_key AS SELECT k, count(*) AS n FROM ev GROUP BY k")
	mustExec(t, conn, "CREATE MATERIALIZED VIEW total AS SELECT count(*) AS n FROM ev")
	mustExec(t, conn, "CREATE MATERIALIZED VIEW per_key_total AS SELECT sum(n) AS n FROM per_key")

	const writers, txns = 3, 100
	var wg sync.WaitGroup
	for w := range writers {
		wc := connect(t, srv)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range txns {
				var vals []string
				for j := range 10 {
					vals = append(vals, fmt.Sprintf("(%d, %d)", (w*7+i+j)%13, i))
				}
				if _, err := wc.Exec(ctx, "INSERT INTO ev VALUES "+strings.Join(vals, ", ")); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	reads := 0
	for {
		var byKey, total, viewOfView *int64
		err := conn.QueryRow(ctx, "SELECT (SELECT sum(n) FROM per_key)::int8, (SELECT n FROM total), (SELECT n FROM per_key_total)::int8").Scan(&byKey, &total, &viewOfView)
		if err != nil {
			t.Fatal(err)
		}
		reads++
		// Before the first insert, count(*) is 0 while the sums over no
		// rows are NULL: consistent too.
		empty := total != nil && *total == 0 && byKey == nil && viewOfView == nil
		if total != nil && !empty {
			if byKey == nil || viewOfView == nil || *byKey != *total || *viewOfView != *total || *total%10 != 0 {
				t.Fatalf("read %d: views at different epochs or half a transaction: per_key %v, total %v, per_key_total %v", reads, deref(byKey), *total, deref(viewOfView))
			}
		}
		select {
		case <-done:
			if err := srv.Engine().SyncViews(ctx); err != nil {
				t.Fatal(err)
			}
			var n int64
			if err := conn.QueryRow(ctx, "SELECT n FROM total").Scan(&n); err != nil || n != writers*txns*10 {
				t.Fatalf("final total %d, %v; want %d", n, err, writers*txns*10)
			}
			t.Logf("%d consistent reads", reads)
			return
		default:
		}
	}
}

func deref(p *int64) any {
	if p == nil {
		return "NULL"
	}
	return *p
}

// TestViewsAfterRestart checks that views come back after a restart with
// the content their queries give over the stored inputs, and keep
// following them.
func TestViewsAfterRestart(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, dir)
	conn := connect(t, srv)
	ctx := context.Background()
	mustExec(t, conn, "CREATE STREAM ev (k int, v int)")
	mustExec(t, conn, "CREATE TABLE names (k int PRIMARY KEY, name text)")
	mustExec(t, conn, "INSERT INTO names VALUES (1, 'one'), (2, 'two')")
	mustExec(t, conn, "CREATE MATERIALIZED VIEW sums AS SELECT n.name, sum(e.v) AS s FROM ev e JOIN names n ON e.k = n.k GROUP BY n.name")
	mustExec(t, conn, "CREATE MATERIALIZED VIEW big AS SELECT name FROM sums WHERE s > 10")
	mustExec(t, conn, "CREATE MATERIALIZED VIEW by_name WITH (key = 'name') AS SELECT name, k FROM names")
	mustExec(t, conn, "INSERT INTO ev VALUES (1, 5), (1, 7), (2, 3)")
	conn.Close(ctx)
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}

	srv = startServer(t, dir)
	conn = connect(t, srv)
	if err := srv.Engine().SyncViews(ctx); err != nil {
		t.Fatal(err)
	}
	if got := queryText(t, conn, "SELECT name, s FROM sums ORDER BY name"); got != "one 12, two 3" {
		t.Errorf("sums after restart: %s", got)
	}
	mustExec(t, conn, "INSERT INTO ev VALUES (2, 20)")
	mustExec(t, conn, "UPDATE names SET name = 'uno' WHERE k = 1")
	if err := srv.Engine().SyncViews(ctx); err != nil {
		t.Fatal(err)
	}
	if got := queryText(t, conn, "SELECT name FROM big ORDER BY name"); got != "two, uno" {
		t.Errorf("big after restart and changes: %s", got)
	}
	if got := queryText(t, conn, "EXPLAIN SELECT k FROM by_name WHERE name = 'uno'"); !strings.Contains(got, "PointLookup by_name") {
		t.Errorf("declared key after restart: %s", got)
	}
	if got := queryText(t, conn, "SELECT k FROM by_name WHERE name = 'uno'"); got != "1" {
		t.Errorf("by_name: %s", got)
	}
	if _, err := conn.Exec(ctx, "DROP STREAM ev"); pgErr(t, err).Code != "2BP01" {
		t.Errorf("DROP STREAM with dependent views: %v", err)
	}
}

// queryText runs sql and renders its rows as "a b, c d".
func queryText(t *testing.T, conn *pgx.Conn, sql string) string {
	t.Helper()
	rows, err := conn.Query(context.Background(), sql)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		var parts []string
		for _, v := range vals {
			parts = append(parts, fmt.Sprint(v))
		}
		out = append(out, strings.Join(parts, " "))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(out, ", ")
}

// TestPushNDJSON posts events over HTTP: a good batch is applied and feeds
// a view; a batch with one bad line is refused whole, naming the line.
func TestPushNDJSON(t *testing.T) {
	srv := startServer(t, "")
	conn := connect(t, srv)
	mustExec(t, conn, "CREATE STREAM clicks (page text, ms int8, at timestamptz)")
	mustExec(t, conn, "CREATE TABLE plain (a int)")
	mustExec(t, conn, "CREATE MATERIALIZED VIEW per_page AS SELECT page, count(*) AS n, sum(ms) AS ms FROM clicks GROUP BY page")
	url := "http://" + srv.HTTPAddr() + "/api/streams/"
	post := func(stream, body string) (int, map[string]any) {
		t.Helper()
		resp, err := http.Post(url+stream, "application/x-ndjson", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var out map[string]any
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("response %q: %v", b, err)
		}
		return resp.StatusCode, out
	}

	code, out := post("clicks", `{"page": "/a", "ms": 10, "at": "2026-01-02T03:04:05Z"}
{"page": "/a", "ms": 5}

{"page": "/b", "extra": true}
`)
	if code != http.StatusOK || out["accepted"] != float64(3) {
		t.Fatalf("good batch: %d %v", code, out)
	}
	code, out = post("clicks", `{"page": "/c", "ms": 1}
{"page": "/c", "ms": "many"}
`)
	if code != http.StatusBadRequest || out["line"] != float64(2) || out["sqlstate"] != "22P02" {
		t.Fatalf("bad batch: %d %v", code, out)
	}
	code, out = post("clicks", "{\"page\": \"/c\"}\nnot json\n")
	if code != http.StatusBadRequest || out["line"] != float64(2) {
		t.Fatalf("malformed batch: %d %v", code, out)
	}
	if code, out = post("plain", `{"a": 1}`); code != http.StatusNotFound {
		t.Fatalf("push to a table: %d %v", code, out)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := queryText(t, conn, "SELECT page, n, ms::int8 FROM per_page ORDER BY page")
		if got == "/a 2 15, /b 1 <nil>" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("per_page: %s", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
