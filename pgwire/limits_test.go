package pgwire

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestMaxConnections(t *testing.T) {
	ts := startServer(t, WithMaxConnections(2))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	first := connectPgx(t, ts, "")
	connectPgx(t, ts, "")
	if _, err := pgx.Connect(ctx, ts.url("")); !isCode(err, "53300") {
		t.Fatalf("third connection: %v, want 53300", err)
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
