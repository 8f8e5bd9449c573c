package pgwire

import (
	"crypto/tls"
	"runtime"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluice-db/sluice/internal/testpki"
)

// An idle connection, blocked reading the socket on its own goroutine, gets
// a notification at once (the wake moves its read deadline), over plain TCP
// and over TLS, and keeps serving queries afterwards; a notification that
// comes while a statement runs waits for its ReadyForQuery.
func TestNotificationWakesIdleReader(t *testing.T) {
	ts, plain, secure := startPlainAndTLS(t)

	for round := range 3 {
		ts.be.notifyAll("ch", "idle")
		for _, c := range []*rawClient{plain, secure} {
			eq(t, []string{c.recv()}, "A ch idle")
			c.send(&pgproto3.Query{String: "select 1"})
			eq(t, c.until('Z'), "T ?column?:23:0", `D "1"`, "C SELECT 1", "Z I")
		}
		if round == 0 {
			continue
		}
		// During a statement long enough to have its socket checked
		// for a hang-up (held until the notification is sent).
		ts.be.holdPauses.Store(true)
		for _, c := range []*rawClient{plain, secure} {
			c.send(&pgproto3.Query{String: "pause"})
		}
		waitFor(t, ts.be.started)
		waitFor(t, ts.be.started)
		time.Sleep(hangUpCheck + hangUpCheck/2)
		ts.be.notifyAll("ch", "busy")
		ts.be.resume <- struct{}{}
		ts.be.resume <- struct{}{}
		for _, c := range []*rawClient{plain, secure} {
			eq(t, c.until('Z'), "C PAUSE", "A ch busy", "Z I")
		}
	}
}

// Messages a client sends while a long statement runs (and its socket is
// checked for a hang-up) are handled in order once it ends, none lost.
func TestPipelinedBehindWatchedStatement(t *testing.T) {
	ts := startServer(t)
	c := dialRaw(t, ts.addr)
	c.startup()
	// Sent once the checks run (the connection goroutine would otherwise
	// have read them with the first message).
	c.send(&pgproto3.Query{String: "pause"})
	time.Sleep(hangUpCheck + hangUpCheck/2)
	c.send(&pgproto3.Query{String: "select 2"},
		&pgproto3.Parse{Query: "select 3"}, &pgproto3.Bind{}, &pgproto3.Execute{}, &pgproto3.Sync{})
	eq(t, c.until('Z'), "C PAUSE", "Z I")
	eq(t, c.until('Z'), "T ?column?:23:0", `D "2"`, "C SELECT 1", "Z I")
	eq(t, c.until('Z'), "1", "2", `D "3"`, "C SELECT 1", "Z I")

	// A COPY FROM STDIN whose data came while the statement before it
	// ran.
	c.send(&pgproto3.Query{String: "pause; copy t from stdin"})
	time.Sleep(hangUpCheck + hangUpCheck/2)
	c.send(&pgproto3.CopyData{Data: []byte("a\nb\n")}, &pgproto3.CopyDone{},
		&pgproto3.Query{String: "copy t to stdout"})
	eq(t, c.until('Z'), "C PAUSE", "G 1", "C COPY 2", "Z I")
	eq(t, c.until('Z'), "H 1", `d "a\n"`, `d "b\n"`, "c", "C COPY 2", "Z I")
}

// A client that hangs up while its statement runs cancels it, also when
// unread bytes wait before the end of the stream: pipelined messages, or a
// TLS close_notify. (Elsewhere than Linux a peek cannot see past them.)
func TestHangUpBehindUnreadBytes(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("POLLRDHUP is Linux's")
	}
	ts, plain, secure := startPlainAndTLS(t)
	for _, c := range []*rawClient{plain, secure} {
		c.send(&pgproto3.Query{String: "sleep"})
		waitFor(t, ts.be.started)
		c.send(&pgproto3.Query{String: "select 1"})
		_ = c.nc.Close()
		waitClientGone(t, ts, "the client hung up")
	}
}

// startPlainAndTLS starts a server that offers TLS and connects a client
// over plain TCP and one over TLS.
func startPlainAndTLS(t *testing.T) (ts *testServer, plain, secure *rawClient) {
	t.Helper()
	pki := testpki.New(t)
	ts = startServer(t, WithTLS(pki.Config()))
	plain = dialRaw(t, ts.addr)
	plain.startup()
	secure = dialRaw(t, ts.addr).startTLS(&tls.Config{InsecureSkipVerify: true})
	secure.startup()
	return ts, plain, secure
}
