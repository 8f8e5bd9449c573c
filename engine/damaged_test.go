package engine_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// A stream whose history log is damaged on disk does not stop the server:
// the other relations and views work, reading the stream or a view over it
// fails with XX001 naming it and the way out, and DROP ... CASCADE then
// CREATE brings it back.
func TestDamagedStreamIsolated(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, dir)
	conn := connect(t, srv)
	mustExec(t, conn, "CREATE STREAM s (k int, v text, ts timestamptz, WATERMARK FOR ts AS ts)")
	mustExec(t, conn, "CREATE TABLE t (k int PRIMARY KEY, v text)")
	mustExec(t, conn, "INSERT INTO s SELECT g, 'v' || g, '2026-01-01'::timestamptz + g * INTERVAL '1 second' FROM generate_series(1, 5000) g")
	mustExec(t, conn, "INSERT INTO t SELECT g, 'w' || g FROM generate_series(1, 10) g")
	mustExec(t, conn, "CREATE MATERIALIZED VIEW per_s AS SELECT k % 10 AS b, count(*) AS n FROM s GROUP BY 1")
	mustExec(t, conn, "CREATE MATERIALIZED VIEW per_t AS SELECT count(*) AS n FROM t")
	_ = conn.Close(context.Background())
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}

	logs, err := filepath.Glob(filepath.Join(dir, "history", "*.log"))
	if err != nil || len(logs) != 1 {
		t.Fatalf("history logs %v (%v), want one", logs, err)
	}
	b, err := os.ReadFile(logs[0])
	if err != nil {
		t.Fatal(err)
	}
	for i := len(b) / 2; i < len(b)/2+64; i++ {
		b[i] ^= 0xff
	}
	if err := os.WriteFile(logs[0], b, 0o644); err != nil {
		t.Fatal(err)
	}

	srv = startServer(t, dir)
	conn = connect(t, srv)
	if err := srv.Engine().SyncViews(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := queryInt(t, conn, "SELECT n FROM per_t"); n != 10 {
		t.Fatalf("per_t: %d", n)
	}
	mustExec(t, conn, "INSERT INTO t VALUES (11, 'w11')")
	for _, q := range []string{"SELECT count(*) FROM s", "INSERT INTO s VALUES (1, 'x', now())",
		"CREATE MATERIALIZED VIEW later AS SELECT count(*) FROM s", "ALTER STREAM s ADD COLUMN x int"} {
		_, err := conn.Exec(context.Background(), q)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "XX001" || !strings.Contains(pe.Message, `stream "s" is damaged`) || !strings.Contains(pe.Hint, "DROP stream s") {
			t.Fatalf("%s: %v, want XX001 naming stream s with a DROP hint", q, err)
		}
	}
	_, err = conn.Exec(context.Background(), "SELECT * FROM per_s")
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "XX001" || !strings.Contains(pe.Message, `stream "s" is damaged`) {
		t.Fatalf("view over the damaged stream: %v", err)
	}
	mustExec(t, conn, "DROP STREAM s CASCADE")
	mustExec(t, conn, "CREATE STREAM s (k int, v text)")
	mustExec(t, conn, "INSERT INTO s VALUES (1, 'x')")
	if n := queryInt(t, conn, "SELECT count(*) FROM s"); n != 1 {
		t.Fatalf("recreated stream holds %d rows", n)
	}
	if n := queryInt(t, conn, "SELECT n FROM per_t"); n != 11 {
		t.Fatalf("per_t after: %d", n)
	}
}
