package pgwire

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

func TestStartupSSLAndGSSRefused(t *testing.T) {
	ts := startServer(t)
	c := dialRaw(t, ts.addr)
	for _, code := range []uint32{sslRequestCode, gssEncRequestCode} {
		var b [8]byte
		binary.BigEndian.PutUint32(b[:], 8)
		binary.BigEndian.PutUint32(b[4:], code)
		c.sendRaw(b[:])
		var r [1]byte
		if _, err := c.nc.Read(r[:]); err != nil || r[0] != 'N' {
			t.Fatalf("code %d: got %q, %v; want 'N'", code, r[0], err)
		}
	}
	c.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30,
		Parameters: map[string]string{"user": "alice", "application_name": "raw"}})
	got := c.until('Z')
	eq(t, got, "R ok",
		"S DateStyle=ISO, MDY", "S IntervalStyle=postgres", "S TimeZone=UTC", "S application_name=raw",
		"S client_encoding=UTF8", "S integer_datetimes=on", "S is_superuser=on", "S server_encoding=UTF8",
		"S server_version=16.4 (Sluice)", "S session_authorization=alice", "S standard_conforming_strings=on",
		"K", "Z I")
	c.send(&pgproto3.Terminate{})
	c.expectClosed()
}

func TestStartupProtocolVersions(t *testing.T) {
	ts := startServer(t)

	c := dialRaw(t, ts.addr)
	msg := []byte{0, 0, 0, 0, 0, 2, 0, 0}
	msg = append(msg, "user\x00a\x00\x00"...)
	binary.BigEndian.PutUint32(msg, uint32(len(msg)))
	c.sendRaw(msg)
	eq(t, []string{c.recv()}, "E FATAL 08P01 unsupported frontend protocol 2.0: server supports 3.0 to 3.0")
	c.expectClosed()

	// 3.2 and _pq_ options are negotiated down to 3.0, as Postgres 16 does.
	c = dialRaw(t, ts.addr)
	c.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion32,
		Parameters: map[string]string{"user": "a", "_pq_.thing": "x"}})
	got := c.until('Z')
	eq(t, got[:2], "v 0 [_pq_.thing]", "R ok")

	c = dialRaw(t, ts.addr)
	c.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"database": "x"}})
	eq(t, []string{c.recv()}, "E FATAL 28000 no PostgreSQL user name specified in startup packet")

	c = dialRaw(t, ts.addr)
	c.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "a", "database": "nodb"}})
	eq(t, []string{c.recv()}, `E FATAL 3D000 database "nodb" does not exist`)
	c.expectClosed()

	c = dialRaw(t, ts.addr)
	c.sendRaw([]byte{0, 0, 0x40, 0, 0, 3, 0, 0}) // 16 KiB startup packet
	eq(t, []string{c.recv()}, "E FATAL 08P01 invalid length of startup packet")
	c.expectClosed()
}

func TestSimpleQuery(t *testing.T) {
	ts := startServer(t)
	c := dialRaw(t, ts.addr)
	c.startup()

	c.send(&pgproto3.Query{String: "select 1; text; mixed"})
	eq(t, c.until('Z'),
		"T ?column?:23:0", `D "1"`, "C SELECT 1",
		"T t:25:0", `D "a"`, "D NULL", `D "ccc"`, "C SELECT 3",
		"T i:23:0,t:1043:0,b:16:0,s:21:0", `D "7","x","t","-3"`, "C SELECT 1",
		"Z I")

	for _, q := range []string{"", ";", " -- only a comment", ";;"} {
		c.send(&pgproto3.Query{String: q})
		eq(t, c.until('Z'), "I", "Z I")
	}

	// An error skips the rest of the string.
	c.send(&pgproto3.Query{String: "select 1; error; select 2"})
	eq(t, c.until('Z'), "T ?column?:23:0", `D "1"`, "C SELECT 1", "E ERROR 42601 boom", "Z I")
	c.send(&pgproto3.Query{String: "select 1; nonsense"})
	eq(t, c.until('Z'), `E ERROR 42601 syntax error at or near "nonsense"`, "Z I")

	c.send(&pgproto3.Query{String: "begin; error"})
	eq(t, c.until('Z'), "C BEGIN", "E ERROR 42601 boom", "Z E")
	c.send(&pgproto3.Query{String: "rollback"})
	eq(t, c.until('Z'), "C ROLLBACK", "Z I")

	c.send(&pgproto3.Query{String: "notice"})
	eq(t, c.until('Z'), "N 00000 hello", "S application_name=changed", "C SET", "Z I")
}

func TestErrorFields(t *testing.T) {
	ts := startServer(t)
	c := dialRaw(t, ts.addr)
	c.startup()
	c.send(&pgproto3.Query{String: "error"})
	m, err := c.fe.Receive()
	if err != nil {
		t.Fatal(err)
	}
	e, ok := m.(*pgproto3.ErrorResponse)
	if !ok {
		t.Fatalf("got %T", m)
	}
	if e.Severity != "ERROR" || e.SeverityUnlocalized != "ERROR" || e.Code != "42601" || e.Message != "boom" ||
		e.Detail != "some detail" || e.Hint != "try again" || e.Position != 3 {
		t.Fatalf("bad error: %+v", e)
	}
	c.until('Z')
	c.send(&pgproto3.Query{String: "parseerror"})
	eq(t, c.until('Z'), "E ERROR 42601 cannot parse this", "Z I")
}

func TestExtendedSuspendResume(t *testing.T) {
	ts := startServer(t)
	c := dialRaw(t, ts.addr)
	c.startup()
	c.send(&pgproto3.Parse{Query: "series 5"},
		&pgproto3.Bind{},
		&pgproto3.Describe{ObjectType: 'P'},
		&pgproto3.Execute{MaxRows: 2})
	// PortalSuspended is flushed without Sync or Flush.
	eq(t, c.until('s'), "1", "2", "T n:20:0", `D "1"`, `D "2"`, "s")
	c.send(&pgproto3.Execute{MaxRows: 2})
	eq(t, c.until('s'), `D "3"`, `D "4"`, "s")
	c.send(&pgproto3.Execute{}, &pgproto3.Execute{}, &pgproto3.Sync{})
	eq(t, c.until('Z'), `D "5"`, "C SELECT 1", "C SELECT 0", "Z I")

	// The unnamed portal is gone after Sync outside a transaction.
	c.send(&pgproto3.Execute{}, &pgproto3.Sync{})
	eq(t, c.until('Z'), `E ERROR 34000 portal "" does not exist`, "Z I")

	// Named statement and portal, binary results, Describe S and P, Close.
	c.send(&pgproto3.Parse{Name: "s1", Query: "series 3"},
		&pgproto3.Describe{ObjectType: 'S', Name: "s1"},
		&pgproto3.Bind{PreparedStatement: "s1", DestinationPortal: "p1", ResultFormatCodes: []int16{1}},
		&pgproto3.Describe{ObjectType: 'P', Name: "p1"},
		&pgproto3.Execute{Portal: "p1", MaxRows: 1},
		&pgproto3.Close{ObjectType: 'P', Name: "p1"},
		&pgproto3.Execute{Portal: "p1"},
		&pgproto3.Sync{})
	eq(t, c.until('Z'), "1", "t []", "T n:20:0", "2", "T n:20:1",
		`D "\x00\x00\x00\x00\x00\x00\x00\x01"`, "s", "3", `E ERROR 34000 portal "p1" does not exist`, "Z I")

	c.send(&pgproto3.Parse{Name: "s1", Query: "select 1"}, &pgproto3.Sync{})
	eq(t, c.until('Z'), `E ERROR 42P05 prepared statement "s1" already exists`, "Z I")
	c.send(&pgproto3.Close{ObjectType: 'S', Name: "s1"},
		&pgproto3.Close{ObjectType: 'S', Name: "never-existed"},
		&pgproto3.Parse{Name: "s1", Query: "echo $1::int8"},
		&pgproto3.Describe{ObjectType: 'S', Name: "s1"},
		&pgproto3.Bind{PreparedStatement: "s1", ParameterFormatCodes: []int16{1},
			Parameters: [][]byte{{0, 0, 0, 0, 0, 0, 1, 0}}},
		&pgproto3.Execute{},
		&pgproto3.Bind{PreparedStatement: "s1", Parameters: [][]byte{nil}},
		&pgproto3.Execute{},
		&pgproto3.Sync{})
	eq(t, c.until('Z'), "3", "3", "1", "t [20]", "T echo:20:0", "2", `D "256"`, "C SELECT 1",
		"2", "D NULL", "C SELECT 1", "Z I")

	// Empty query in the extended protocol.
	c.send(&pgproto3.Parse{Query: ""}, &pgproto3.Bind{}, &pgproto3.Describe{ObjectType: 'P'},
		&pgproto3.Execute{}, &pgproto3.Sync{})
	eq(t, c.until('Z'), "1", "2", "n", "I", "Z I")

	// Flush sends what is pending without ReadyForQuery.
	c.send(&pgproto3.Parse{Query: "select 4"}, &pgproto3.Flush{})
	eq(t, []string{c.recv()}, "1")
	c.send(&pgproto3.Sync{})
	eq(t, c.until('Z'), "Z I")
}

func TestExtendedErrorSkipsToSync(t *testing.T) {
	ts := startServer(t)
	c := dialRaw(t, ts.addr)
	c.startup()
	c.send(&pgproto3.Query{String: "begin"})
	c.until('Z')
	c.send(&pgproto3.Bind{PreparedStatement: "nope"},
		&pgproto3.Parse{Query: "select 1"}, // skipped
		&pgproto3.Bind{},
		&pgproto3.Execute{},
		&pgproto3.Query{String: "select 1"}, // skipped too
		&pgproto3.Sync{})
	eq(t, c.until('Z'), `E ERROR 26000 prepared statement "nope" does not exist`, "Z E")
	if n := ts.be.abortCount(); n != 1 {
		t.Fatalf("Abort called %d times, want 1", n)
	}
	c.send(&pgproto3.Query{String: "rollback"})
	eq(t, c.until('Z'), "C ROLLBACK", "Z I")

	c.send(&pgproto3.Parse{Query: "error"}, &pgproto3.Bind{}, &pgproto3.Execute{},
		&pgproto3.Parse{Query: "select 1"}, &pgproto3.Bind{}, &pgproto3.Execute{}, &pgproto3.Sync{},
		&pgproto3.Parse{Query: "select 2"}, &pgproto3.Bind{}, &pgproto3.Execute{}, &pgproto3.Sync{})
	eq(t, c.until('Z'), "1", "2", "E ERROR 42601 boom", "Z I")
	eq(t, c.until('Z'), "1", "2", `D "2"`, "C SELECT 1", "Z I")

	// Parameter count and format mismatches are protocol errors, not fatal.
	c.send(&pgproto3.Parse{Query: "echo $1"}, &pgproto3.Bind{}, &pgproto3.Sync{})
	eq(t, c.until('Z'), "1", `E ERROR 08P01 bind message supplies 0 parameters, but prepared statement "" requires 1`, "Z I")
	c.send(&pgproto3.Parse{Query: "select 1"}, &pgproto3.Bind{ResultFormatCodes: []int16{0, 1}}, &pgproto3.Sync{})
	eq(t, c.until('Z'), "1", "E ERROR 08P01 bind message has 2 result formats but query has 1 columns", "Z I")
	c.send(&pgproto3.Parse{Query: "select 1"}, &pgproto3.Bind{ResultFormatCodes: []int16{7}}, &pgproto3.Sync{})
	eq(t, c.until('Z'), "1", "E ERROR 22023 unsupported format code: 7", "Z I")
	c.send(&pgproto3.Describe{ObjectType: 'S', Name: "zz"}, &pgproto3.Sync{})
	eq(t, c.until('Z'), `E ERROR 26000 prepared statement "zz" does not exist`, "Z I")
}

func TestPanicsAreContained(t *testing.T) {
	ts := startServer(t)
	c := dialRaw(t, ts.addr)
	c.startup()
	c.send(&pgproto3.Query{String: "panic"})
	eq(t, c.until('Z'), "E ERROR XX000 internal error: test panic", "Z I")
	c.send(&pgproto3.Parse{Query: "panicbind"}, &pgproto3.Bind{}, &pgproto3.Execute{}, &pgproto3.Sync{})
	eq(t, c.until('Z'), "1", "E ERROR XX000 internal error: bind exploded", "Z I")
	c.send(&pgproto3.Parse{Query: "panic"}, &pgproto3.Bind{}, &pgproto3.Execute{}, &pgproto3.Sync{})
	eq(t, c.until('Z'), "1", "2", "E ERROR XX000 internal error: test panic", "Z I")
	c.send(&pgproto3.Query{String: "select 3"})
	eq(t, c.until('Z'), "T ?column?:23:0", `D "3"`, "C SELECT 1", "Z I")
	found := false
	for _, m := range ts.logs.messages() {
		found = found || strings.Contains(m, "recovered panic")
	}
	if !found {
		t.Fatal("panic was not logged")
	}
}

func TestCopy(t *testing.T) {
	ts := startServer(t)
	c := dialRaw(t, ts.addr)
	c.startup()
	c.send(&pgproto3.Query{String: "copy t from stdin"})
	eq(t, []string{c.recv()}, "G 1")
	c.send(&pgproto3.CopyData{Data: []byte("a\nb")}, &pgproto3.Flush{}, &pgproto3.Sync{},
		&pgproto3.CopyData{Data: []byte("c\n")}, &pgproto3.CopyDone{})
	eq(t, c.until('Z'), "C COPY 2", "Z I")
	c.send(&pgproto3.Query{String: "copy t to stdout"})
	eq(t, c.until('Z'), "H 1", `d "a\n"`, `d "bc\n"`, "c", "C COPY 2", "Z I")

	c.send(&pgproto3.Query{String: "copy t from stdin"})
	eq(t, []string{c.recv()}, "G 1")
	c.send(&pgproto3.CopyData{Data: []byte("x\n")}, &pgproto3.CopyFail{Message: "client gave up"},
		&pgproto3.CopyData{Data: []byte("late\n")}) // dropped
	eq(t, c.until('Z'), "E ERROR 57014 COPY from stdin failed: client gave up", "Z I")

	// COPY in the extended protocol: the client's Sync comes after CopyDone.
	c.send(&pgproto3.Parse{Query: "copy t from stdin"}, &pgproto3.Bind{}, &pgproto3.Execute{}, &pgproto3.Flush{})
	eq(t, c.until('G'), "1", "2", "G 1")
	c.send(&pgproto3.CopyData{Data: []byte("z\n")}, &pgproto3.CopyDone{}, &pgproto3.Sync{})
	eq(t, c.until('Z'), "C COPY 1", "Z I")
}

func TestOversizedAndMalformedMessages(t *testing.T) {
	ts := startServer(t, WithMaxMessageSize(1024))

	c := dialRaw(t, ts.addr)
	c.startup()
	c.sendRaw([]byte{'Q', 0, 0x10, 0, 0}) // 1 MiB declared
	eq(t, []string{c.recv()}, "E FATAL 08P01 invalid message length")
	c.expectClosed()

	c = dialRaw(t, ts.addr)
	c.startup()
	c.sendRaw([]byte{'Q', 0xff, 0xff, 0xff, 0xf0}) // negative
	eq(t, []string{c.recv()}, "E FATAL 08P01 invalid message length: -16")
	c.expectClosed()

	// A Bind whose declared length cuts its fields short.
	c = dialRaw(t, ts.addr)
	c.startup()
	c.sendRaw([]byte{'B', 0, 0, 0, 7, 0, 0, 0})
	got := c.recv()
	if !strings.HasPrefix(got, "E FATAL 08P01") {
		t.Fatalf("got %s", got)
	}
	c.expectClosed()

	c = dialRaw(t, ts.addr)
	c.startup()
	c.sendRaw([]byte{'!', 0, 0, 0, 4})
	eq(t, []string{c.recv()}, "E FATAL 08P01 unknown message type: !")
	c.expectClosed()

	// Truncated by EOF: the server just goes away (goleak checks it exits).
	c = dialRaw(t, ts.addr)
	c.startup()
	c.sendRaw([]byte{'Q', 0, 0, 0, 100, 's', 'e'})
	_ = c.nc.(interface{ CloseWrite() error }).CloseWrite()
	c.expectClosed()
}

func TestCancelRequestAndDisconnect(t *testing.T) {
	ts := startServer(t)
	c := dialRaw(t, ts.addr)
	key := c.startupKey()

	cancel := func(secret []byte) {
		cc := dialRaw(t, ts.addr)
		cc.send(&pgproto3.CancelRequest{ProcessID: key.ProcessID, SecretKey: secret})
		cc.expectClosed()
	}
	c.send(&pgproto3.Query{String: "sleep"})
	waitFor(t, ts.be.started)
	cancel([]byte{1, 2, 3, 4}) // wrong secret: ignored
	select {
	case err := <-ts.be.ended:
		t.Fatalf("a wrong secret cancelled the query: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	cancel(key.SecretKey)
	eq(t, c.until('Z'), "E ERROR 57014 canceling statement due to user request", "Z I")
	if err := <-ts.be.ended; !errors.Is(err, errCanceledByUser) {
		t.Fatalf("cause %v", err)
	}

	// A client that disconnects mid-query cancels it.
	c.send(&pgproto3.Query{String: "sleep"})
	waitFor(t, ts.be.started)
	_ = c.nc.Close()
	waitClientGone(t, ts, "disconnect")
}

func TestShutdown(t *testing.T) {
	ts := startServer(t)
	idle := dialRaw(t, ts.addr)
	idle.startup()
	busy := dialRaw(t, ts.addr)
	busy.startup()
	busy.send(&pgproto3.Query{String: "sleep"})
	waitFor(t, ts.be.started)
	half := dialRaw(t, ts.addr) // connected, no startup packet yet

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ts.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	eq(t, []string{idle.recv()}, "E FATAL 57P01 terminating connection due to administrator command")
	idle.expectClosed()
	eq(t, []string{busy.recv()}, "E FATAL 57P01 terminating connection due to administrator command")
	busy.expectClosed()
	half.expectClosed()
	<-ts.be.ended
	if _, err := (&netDialer{}).dial(ts.addr); err == nil {
		t.Fatal("still accepting after Shutdown")
	}
}

type netDialer struct{}

func (netDialer) dial(addr string) (any, error) {
	c, err := (&net.Dialer{Timeout: time.Second}).Dial("tcp", addr)
	if err == nil {
		c.Close()
	}
	return c, err
}

// Bind and Execute share a query context until Sync; a CancelRequest that
// comes between them, while nothing runs, does not fail the Execute, as
// in Postgres (where it finds no query to cancel), and a cancelled Execute
// does not fail the next batch.
func TestCancelRequestBetweenBatchMessages(t *testing.T) {
	ts := startServer(t)
	c := dialRaw(t, ts.addr)
	key := c.startupKey()
	cancel := func() {
		cc := dialRaw(t, ts.addr)
		cc.send(&pgproto3.CancelRequest{ProcessID: key.ProcessID, SecretKey: key.SecretKey})
		cc.expectClosed()
	}

	c.send(&pgproto3.Parse{Query: "select 3"}, &pgproto3.Bind{}, &pgproto3.Flush{})
	eq(t, []string{c.recv(), c.recv()}, "1", "2")
	cancel()
	time.Sleep(50 * time.Millisecond) // the server handles the cancel
	c.send(&pgproto3.Execute{}, &pgproto3.Sync{})
	eq(t, c.until('Z'), `D "3"`, "C SELECT 1", "Z I")

	c.send(&pgproto3.Parse{Query: "sleep"}, &pgproto3.Bind{}, &pgproto3.Execute{}, &pgproto3.Sync{})
	waitFor(t, ts.be.started)
	cancel()
	eq(t, c.until('Z'), "1", "2", "E ERROR 57014 canceling statement due to user request", "Z I")
	<-ts.be.ended
	c.send(&pgproto3.Parse{Query: "select 4"}, &pgproto3.Bind{}, &pgproto3.Execute{}, &pgproto3.Sync{})
	eq(t, c.until('Z'), "1", "2", `D "4"`, "C SELECT 1", "Z I")
}
