package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-db/sluice/server"
)

// With one statement running at a time (--max-active-queries 1), the
// statements that wait on another session or on new rows give their slot
// back: a session waiting for an advisory lock does not keep its holder
// from unlocking, and a SUBSCRIBE waiting for changes does not keep the
// INSERT that makes them from running.
func TestAdmissionWaitersGiveBackTheirSlot(t *testing.T) {
	srv, err := server.Start(context.Background(), server.Config{PGAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		DataDir: t.TempDir(), MaxActiveQueries: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, b := connect(t, srv), connect(t, srv)

	mustExec(t, a, "SELECT pg_advisory_lock(7)")
	done := lockAsync(ctx, b, "SELECT pg_advisory_lock(7)")
	waitBlocked(t, done)
	if !queryBool(t, a, "SELECT pg_advisory_unlock(7)") {
		t.Fatal("unlock")
	}
	if err := waitDone(t, done); err != nil {
		t.Fatal(err)
	}

	mustExec(t, a, "CREATE STREAM rides (city text, fare int)")
	mustExec(t, a, "CREATE MATERIALIZED VIEW counts AS SELECT city, count(*) AS n FROM rides GROUP BY city")
	rows, err := b.Query(ctx, "SUBSCRIBE TO counts WITH (snapshot = false)", pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel() // ends the SUBSCRIBE (pgx closes the connection)
		rows.Close()
	}()
	time.Sleep(100 * time.Millisecond) // the SUBSCRIBE waits for changes
	mustExec(t, a, "INSERT INTO rides VALUES ('a', 1)")
	if got := readChanges(t, rows, 1); len(got) != 1 || got[0].row != "a=1" {
		t.Fatalf("changes %v", got)
	}
}
