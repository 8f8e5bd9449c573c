package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"

	"github.com/sluice-db/sluice/server"
)

func queryBool(t *testing.T, conn *pgx.Conn, sql string) bool {
	t.Helper()
	var b bool
	if err := conn.QueryRow(context.Background(), sql).Scan(&b); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return b
}

// lockAsync runs pg_advisory_lock(key) on conn and reports its error when
// it returns.
func lockAsync(ctx context.Context, conn *pgx.Conn, sql string) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := conn.Exec(ctx, sql)
		done <- err
	}()
	return done
}

func waitBlocked(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		t.Fatalf("lock call returned while the lock was held: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
}

func waitDone(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("lock call still waiting")
		return nil
	}
}

// connectCancelling connects with a pgx that sends a CancelRequest when a
// query's context ends (rather than closing the connection).
func connectCancelling(t *testing.T, srv *server.Server) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig("postgres://sluice@" + srv.PGAddr() + "/sluice?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	cfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: 5 * time.Second}
	}
	conn, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func TestAdvisoryLocks(t *testing.T) {
	srv := startServer(t, "")
	a, b := connectCancelling(t, srv), connect(t, srv)
	ctx := context.Background()

	// Reentrant in one session, exclusive against another.
	mustExec(t, a, "SELECT pg_advisory_lock(42)")
	mustExec(t, a, "SELECT pg_advisory_lock(42)")
	if queryBool(t, b, "SELECT pg_try_advisory_lock(42)") {
		t.Fatal("b took a lock a holds")
	}
	if !queryBool(t, b, "SELECT pg_try_advisory_lock(0, 42)") {
		t.Fatal("the (int, int) form is another key space")
	}
	done := lockAsync(ctx, b, "SELECT pg_advisory_lock(42)")
	waitBlocked(t, done)
	var locks string
	if err := a.QueryRow(ctx, `SELECT string_agg(granted::text || ' ' || (pid = pg_backend_pid())::text, ', ' ORDER BY granted)
		FROM pg_locks WHERE locktype = 'advisory' AND objid::int8 = 42 AND objsubid = 1`).Scan(&locks); err != nil || locks != "false false, true true" {
		t.Fatalf("pg_locks: %q, %v; want a holding and b waiting", locks, err)
	}
	if !queryBool(t, a, "SELECT pg_advisory_unlock(42)") {
		t.Fatal("first unlock")
	}
	waitBlocked(t, done) // a still holds it once
	if !queryBool(t, a, "SELECT pg_advisory_unlock(42)") {
		t.Fatal("second unlock")
	}
	if err := waitDone(t, done); err != nil {
		t.Fatal(err)
	}

	// Unlocking what one does not hold: false and a WARNING.
	var warnings []string
	cfg := a.Config().Config.Copy()
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { warnings = append(warnings, n.Severity+": "+n.Message) }
	c, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	res, err := c.Exec(ctx, "SELECT pg_advisory_unlock(42)").ReadAll()
	if err != nil || string(res[0].Rows[0][0]) != "f" {
		t.Fatalf("unlock of a lock held elsewhere: %v %v", res, err)
	}
	if len(warnings) != 1 || warnings[0] != "WARNING: you don't own a lock of type ExclusiveLock" {
		t.Fatalf("warnings %q", warnings)
	}

	// A waiting lock call ends when its statement is cancelled.
	cctx, cancel := context.WithCancel(ctx)
	done = lockAsync(cctx, a, "SELECT pg_advisory_lock(42)")
	waitBlocked(t, done)
	cancel()
	if err := waitDone(t, done); err == nil || pgErr(t, err).Code != "57014" {
		t.Fatalf("cancelled lock call: %v", err)
	}
	if err := a.Ping(ctx); err != nil {
		t.Fatalf("a after its cancelled lock call: %v", err)
	}

	// lock_timeout ends the wait with its error.
	mustExec(t, a, "SET lock_timeout = '50ms'")
	_, err = a.Exec(ctx, "SELECT pg_advisory_lock(42)")
	if pe := pgErr(t, err); pe.Code != "55P03" {
		t.Fatalf("lock_timeout: %v", pe)
	}
	mustExec(t, a, "RESET lock_timeout")

	// Shared locks share, and keep an exclusive lock waiting.
	mustExec(t, a, "SELECT pg_advisory_lock_shared(7)")
	if !queryBool(t, b, "SELECT pg_try_advisory_lock_shared(7)") {
		t.Fatal("shared locks do not share")
	}
	if queryBool(t, b, "SELECT pg_try_advisory_lock(7)") {
		t.Fatal("b took an exclusive lock a holds shared")
	}
	mustExec(t, b, "SELECT pg_advisory_unlock_shared(7)")

	// Transaction-level locks end with the transaction, session-level ones
	// with the session.
	mustExec(t, a, "BEGIN")
	mustExec(t, a, "SELECT pg_advisory_xact_lock(9)")
	if queryBool(t, b, "SELECT pg_try_advisory_lock(9)") {
		t.Fatal("b took a's transaction lock")
	}
	done = lockAsync(ctx, b, "SELECT pg_advisory_xact_lock(9)")
	waitBlocked(t, done)
	mustExec(t, a, "COMMIT")
	if err := waitDone(t, done); err != nil {
		t.Fatal(err)
	}
	if !queryBool(t, a, "SELECT pg_try_advisory_lock(9)") {
		t.Fatal("b's autocommit transaction lock outlived its statement")
	}
	done = lockAsync(ctx, b, "SELECT pg_advisory_lock(9)")
	waitBlocked(t, done)
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := waitDone(t, done); err != nil {
		t.Fatal(err)
	}
	third := connect(t, srv)
	if queryBool(t, third, "SELECT pg_try_advisory_lock(9)") {
		t.Fatal("b's lock is free for a third session")
	}
	mustExec(t, b, "SELECT pg_advisory_unlock_all()")
	if !queryBool(t, third, "SELECT pg_try_advisory_lock(9)") || !queryBool(t, third, "SELECT pg_try_advisory_lock(42)") {
		t.Fatal("pg_advisory_unlock_all left locks held")
	}
}
