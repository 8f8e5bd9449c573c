package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// waitNotification waits up to d for conn's next notification (nil when
// none comes).
func waitNotification(t *testing.T, conn *pgx.Conn, d time.Duration) *pgconn.Notification {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	n, err := conn.WaitForNotification(ctx)
	if errors.Is(err, context.DeadlineExceeded) || (err != nil && ctx.Err() != nil) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// NOTIFY reaches an idle listening session of another connection when its
// transaction commits (never on ROLLBACK), once per channel and payload, as
// from the notifying session's backend pid; UNLISTEN stops it.
func TestListenNotify(t *testing.T) {
	ctx := context.Background()
	srv := startServer(t, "")
	listener, sender := connect(t, srv), connect(t, srv)
	mustExec(t, listener, "LISTEN orders")
	mustExec(t, listener, `LISTEN "Other Channel"`)
	var senderPID uint32
	if err := sender.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&senderPID); err != nil {
		t.Fatal(err)
	}

	mustExec(t, sender, "NOTIFY orders, 'o-1'")
	n := waitNotification(t, listener, 5*time.Second)
	if n == nil || n.Channel != "orders" || n.Payload != "o-1" || n.PID != senderPID {
		t.Fatalf("notification %+v, want orders/o-1 from pid %d", n, senderPID)
	}

	tx, err := sender.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{"NOTIFY orders, 'o-2'", "NOTIFY orders, 'o-2'", `SELECT pg_notify('Other Channel', 'x')`, "NOTIFY unheard"} {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	if n := waitNotification(t, listener, 300*time.Millisecond); n != nil {
		t.Fatalf("notification %+v before COMMIT", n)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	var got []string
	for range 2 {
		if n := waitNotification(t, listener, 5*time.Second); n != nil {
			got = append(got, n.Channel+"/"+n.Payload)
		}
	}
	if strings.Join(got, " ") != "orders/o-2 Other Channel/x" {
		t.Fatalf("notifications after COMMIT: %q", got)
	}
	if n := waitNotification(t, listener, 300*time.Millisecond); n != nil {
		t.Fatalf("a duplicate NOTIFY was delivered twice: %+v", n)
	}

	tx, err = sender.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "NOTIFY orders, 'rolled back'"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	mustExec(t, listener, "UNLISTEN *")
	mustExec(t, sender, "NOTIFY orders, 'after unlisten'")
	if n := waitNotification(t, listener, 300*time.Millisecond); n != nil {
		t.Fatalf("notification %+v after ROLLBACK and UNLISTEN *", n)
	}

	_, err = sender.Exec(ctx, "SELECT pg_notify('orders', repeat('x', 8000))")
	wantCode(t, "an 8000-byte payload", err, "22023")
	_, err = sender.Exec(ctx, "SELECT pg_notify('', 'x')")
	wantCode(t, "an empty channel", err, "22023")
}

// A LISTEN in a block takes effect at COMMIT: the block's own NOTIFY is
// heard, before the COMMIT's ReadyForQuery; a rolled back LISTEN is not.
func TestListenInBlock(t *testing.T) {
	ctx := context.Background()
	srv := startServer(t, "")
	c := connect(t, srv)
	mustExec(t, c, "BEGIN")
	mustExec(t, c, "LISTEN blk")
	mustExec(t, c, "ROLLBACK")
	mustExec(t, c, "NOTIFY blk, 'unheard'")
	if n := waitNotification(t, c, 300*time.Millisecond); n != nil {
		t.Fatalf("notification %+v to a rolled back LISTEN", n)
	}
	tx, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LISTEN blk"); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "NOTIFY blk, 'own'"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if n := waitNotification(t, c, 5*time.Second); n == nil || n.Payload != "own" {
		t.Fatalf("notification %+v, want the block's own", n)
	}
}
