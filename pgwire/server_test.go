package pgwire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// logSink records log messages and fails the test on an escaped panic.
type logSink struct {
	t  testing.TB
	mu sync.Mutex
	ms []string
}

func (l *logSink) Enabled(context.Context, slog.Level) bool { return true }
func (l *logSink) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.ms = append(l.ms, r.Message)
	l.mu.Unlock()
	if strings.Contains(r.Message, "closing connection") {
		var b strings.Builder
		r.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, "%s=%v\n", a.Key, a.Value); return true })
		l.t.Errorf("connection goroutine panicked: %s", b.String())
	}
	return nil
}
func (l *logSink) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logSink) WithGroup(string) slog.Handler      { return l }
func (l *logSink) messages() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.ms...)
}

type testServer struct {
	*Server
	be   *testBackend
	addr string
	logs *logSink
}

func startServer(t *testing.T, opts ...Option) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	be := newTestBackend()
	logs := &logSink{t: t}
	s := NewServer(be, append([]Option{WithLogger(slog.New(logs))}, opts...)...)
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
	})
	return &testServer{Server: s, be: be, addr: ln.Addr().String(), logs: logs}
}

func (ts *testServer) url(extra string) string {
	return "postgres://alice@" + ts.addr + "/db?sslmode=disable" + extra
}

// rawClient is a protocol-level client built on pgproto3.Frontend.
type rawClient struct {
	t  *testing.T
	nc net.Conn
	fe *pgproto3.Frontend
}

func dialRaw(t *testing.T, addr string) *rawClient {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { _ = nc.Close() })
	return &rawClient{t: t, nc: nc, fe: pgproto3.NewFrontend(nc, nc)}
}

func (c *rawClient) send(msgs ...pgproto3.FrontendMessage) {
	c.t.Helper()
	for _, m := range msgs {
		c.fe.Send(m)
	}
	if err := c.fe.Flush(); err != nil {
		c.t.Fatal(err)
	}
}

func (c *rawClient) sendRaw(b []byte) {
	c.t.Helper()
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatal(err)
	}
}

func (c *rawClient) startup() {
	c.t.Helper()
	c.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30,
		Parameters: map[string]string{"user": "alice", "database": "db"}})
	c.until('Z')
}

// startupKey starts the session and returns the key a CancelRequest for
// it names.
func (c *rawClient) startupKey() *pgproto3.BackendKeyData {
	c.t.Helper()
	c.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30,
		Parameters: map[string]string{"user": "alice"}})
	var key *pgproto3.BackendKeyData
	for key == nil {
		m, err := c.fe.Receive()
		if err != nil {
			c.t.Fatal(err)
		}
		if k, ok := m.(*pgproto3.BackendKeyData); ok {
			key = &pgproto3.BackendKeyData{ProcessID: k.ProcessID, SecretKey: append([]byte(nil), k.SecretKey...)}
		}
	}
	c.until('Z')
	return key
}

// recv returns the next message rendered as a short string.
func (c *rawClient) recv() string {
	c.t.Helper()
	m, err := c.fe.Receive()
	if err != nil {
		c.t.Fatalf("receive: %v", err)
	}
	return render(m)
}

// until reads messages up to and including one of the given kind (a
// message's first rendered character) and returns them all.
func (c *rawClient) until(kind byte) []string {
	c.t.Helper()
	var out []string
	for {
		s := c.recv()
		out = append(out, s)
		if s[0] == kind {
			return out
		}
	}
}

func render(m pgproto3.BackendMessage) string {
	switch m := m.(type) {
	case *pgproto3.ReadyForQuery:
		return "Z " + string(m.TxStatus)
	case *pgproto3.RowDescription:
		var fs []string
		for _, f := range m.Fields {
			fs = append(fs, fmt.Sprintf("%s:%d:%d", f.Name, f.DataTypeOID, f.Format))
		}
		return "T " + strings.Join(fs, ",")
	case *pgproto3.DataRow:
		var vs []string
		for _, v := range m.Values {
			if v == nil {
				vs = append(vs, "NULL")
			} else {
				vs = append(vs, fmt.Sprintf("%q", v))
			}
		}
		return "D " + strings.Join(vs, ",")
	case *pgproto3.CommandComplete:
		return "C " + string(m.CommandTag)
	case *pgproto3.ErrorResponse:
		return fmt.Sprintf("E %s %s %s", m.Severity, m.Code, m.Message)
	case *pgproto3.NoticeResponse:
		return fmt.Sprintf("N %s %s", m.Code, m.Message)
	case *pgproto3.EmptyQueryResponse:
		return "I"
	case *pgproto3.ParseComplete:
		return "1"
	case *pgproto3.BindComplete:
		return "2"
	case *pgproto3.CloseComplete:
		return "3"
	case *pgproto3.PortalSuspended:
		return "s"
	case *pgproto3.NoData:
		return "n"
	case *pgproto3.ParameterDescription:
		return fmt.Sprintf("t %v", m.ParameterOIDs)
	case *pgproto3.ParameterStatus:
		return "S " + m.Name + "=" + m.Value
	case *pgproto3.CopyInResponse:
		return fmt.Sprintf("G %d", len(m.ColumnFormatCodes))
	case *pgproto3.CopyOutResponse:
		return fmt.Sprintf("H %d", len(m.ColumnFormatCodes))
	case *pgproto3.CopyData:
		return fmt.Sprintf("d %q", m.Data)
	case *pgproto3.CopyDone:
		return "c"
	case *pgproto3.AuthenticationOk:
		return "R ok"
	case *pgproto3.BackendKeyData:
		return "K"
	case *pgproto3.NegotiateProtocolVersion:
		return fmt.Sprintf("v %d %v", m.NewestMinorProtocol, m.UnrecognizedOptions)
	case *pgproto3.NotificationResponse:
		return fmt.Sprintf("A %s %s", m.Channel, m.Payload)
	}
	return fmt.Sprintf("? %T", m)
}

// expectClosed asserts the server closes the connection.
func (c *rawClient) expectClosed() {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, err := c.fe.Receive()
		if err == nil {
			continue
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "reset") {
			return
		}
		c.t.Fatalf("expected the server to close the connection, got %v", err)
	}
}

func eq(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// waitClientGone waits for the running sleep statement to end cancelled
// because its client is gone (after what, for the failure message).
func waitClientGone(t *testing.T, ts *testServer, after string) {
	t.Helper()
	select {
	case err := <-ts.be.ended:
		if !errors.Is(err, errClientGone) {
			t.Fatalf("cause %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("query not cancelled after " + after)
	}
}

func waitFor(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("timed out waiting for the statement to start")
	}
}
