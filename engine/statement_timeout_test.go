package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// statement_timeout cancels with 57014 whether it comes from SET, SET LOCAL
// or the startup options, and ends a SUBSCRIBE like any statement.
func TestStatementTimeout(t *testing.T) {
	ctx := context.Background()
	srv := startServer(t, "")
	conn := connect(t, srv)
	timedOut := func(what string, err error) {
		t.Helper()
		if pe := pgErr(t, err); pe.Code != "57014" || pe.Message != "canceling statement due to statement timeout" {
			t.Errorf("%s: %v", what, pe)
		}
	}

	mustExec(t, conn, "BEGIN")
	mustExec(t, conn, "SET LOCAL statement_timeout = '100ms'")
	_, err := conn.Exec(ctx, "SELECT pg_sleep(5)")
	timedOut("SET LOCAL", err)
	mustExec(t, conn, "ROLLBACK")
	var slept string
	if err := conn.QueryRow(ctx, "SELECT pg_sleep(0.2)::text").Scan(&slept); err != nil {
		t.Fatalf("SET LOCAL outlived its transaction: %v", err)
	}

	opts, err := pgx.Connect(ctx, "postgres://sluice@"+srv.PGAddr()+"/sluice?sslmode=disable&options=-c%20statement_timeout%3D100")
	if err != nil {
		t.Fatal(err)
	}
	defer opts.Close(ctx)
	_, err = opts.Exec(ctx, "SELECT pg_sleep(5)")
	timedOut("startup options", err)

	mustExec(t, conn, "CREATE TABLE t (k int PRIMARY KEY)")
	mustExec(t, conn, "CREATE MATERIALIZED VIEW v AS SELECT count(*) AS n FROM t")
	mustExec(t, conn, "SET statement_timeout = 300")
	start := time.Now()
	rows, err := conn.Query(ctx, "SUBSCRIBE v", pgx.QueryExecModeSimpleProtocol)
	if err == nil {
		for rows.Next() {
		}
		err = rows.Err()
	}
	timedOut("SUBSCRIBE", err)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("SUBSCRIBE ran %v past a 300ms timeout", d)
	}
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Fatalf("after the timeout: %v", err)
	}

	// A FETCH that waits for changes is a statement like any other.
	mustExec(t, conn, "BEGIN")
	mustExec(t, conn, "DECLARE c CURSOR FOR SUBSCRIBE v")
	mustExec(t, conn, "FETCH 1 c")
	_, err = conn.Exec(ctx, "FETCH 10 c")
	timedOut("FETCH", err)
	mustExec(t, conn, "ROLLBACK")
}
