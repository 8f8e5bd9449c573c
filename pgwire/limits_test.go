package pgwire

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func TestMaxConnections(t *testing.T) {
	ts := startServer(t, WithMaxConnections(2))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	first := connectPgx(t, ts, "")
	connectPgx(t, ts, "")
	_, err := pgx.Connect(ctx, ts.url(""))
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "53300" || pe.Severity != "FATAL" || pe.Message != "sorry, too many clients already" {
		t.Fatalf("third connection: %v, want FATAL 53300", err)
	}

	// A cancel request still gets through while the server is full.
	running := make(chan error, 1)
	go func() { _, err := first.Exec(ctx, "sleep"); running <- err }()
	waitFor(t, ts.be.started)
	if err := first.PgConn().CancelRequest(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-running; !isCode(err, "57014") {
		t.Fatalf("cancelled sleep: %v", err)
	}

	// A closed connection frees its place.
	if err := first.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for {
		c, err := pgx.Connect(ctx, ts.url(""))
		if err == nil {
			_ = c.Close(ctx)
			return
		}
		if !isCode(err, "53300") || ctx.Err() != nil {
			t.Fatalf("after a close: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
