package pgwire

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

func encode(msgs ...pgproto3.FrontendMessage) []byte {
	var b []byte
	for _, m := range msgs {
		var err error
		if b, err = m.Encode(b); err != nil {
			panic(err)
		}
	}
	return b
}

// fuzzSeeds are message streams sent after a valid startup.
func fuzzSeeds() map[string][]byte {
	return map[string][]byte{
		"simple": encode(&pgproto3.Query{String: "select 1; text; mixed"}, &pgproto3.Query{String: ""}),
		"extended": encode(&pgproto3.Parse{Name: "a", Query: "series 5"}, &pgproto3.Describe{ObjectType: 'S', Name: "a"},
			&pgproto3.Bind{PreparedStatement: "a", DestinationPortal: "p", ResultFormatCodes: []int16{1}},
			&pgproto3.Execute{Portal: "p", MaxRows: 2}, &pgproto3.Execute{Portal: "p"},
			&pgproto3.Close{ObjectType: 'S', Name: "a"}, &pgproto3.Sync{}),
		"params": encode(&pgproto3.Parse{Query: "echo $1::int8"}, &pgproto3.Bind{ParameterFormatCodes: []int16{1},
			Parameters: [][]byte{{0, 0, 0, 0, 0, 0, 0, 1}}}, &pgproto3.Execute{}, &pgproto3.Bind{}, &pgproto3.Sync{}),
		"copy": encode(&pgproto3.Query{String: "copy t from stdin"}, &pgproto3.CopyData{Data: []byte("a\n")},
			&pgproto3.Sync{}, &pgproto3.CopyDone{}, &pgproto3.Query{String: "copy t to stdout"}),
		"errors": encode(&pgproto3.Query{String: "error; panic"}, &pgproto3.Bind{PreparedStatement: "x"},
			&pgproto3.Execute{Portal: "x"}, &pgproto3.Sync{}, &pgproto3.Parse{Query: "panic"}, &pgproto3.Bind{},
			&pgproto3.Execute{}, &pgproto3.Sync{}),
		"garbage": []byte("Q\x00\x00\x00\x05\x00B\x00\x00\x00\x06\x00\x00P\xff\xff\xff\xff"),
	}
}

func FuzzServerMessages(f *testing.F) {
	for _, b := range fuzzSeeds() {
		f.Add(b)
	}
	startup := encode(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30,
		Parameters: map[string]string{"user": "fuzz"}})
	f.Fuzz(func(t *testing.T, data []byte) {
		logs := &logSink{t: t}
		s := NewServer(newTestBackend(), WithLogger(slog.New(logs)), WithMaxMessageSize(1<<16))
		fuzzConn(t, s, append(startup, data...))
	})
}

// FuzzSCRAMServer sends a startup message and then anything to a server that
// asks for SCRAM-SHA-256: the connection ends without a panic or a hang. (The
// server's nonce is random, so no input gets past the proof.)
func FuzzSCRAMServer(f *testing.F) {
	f.Add(encode(&pgproto3.SASLInitialResponse{AuthMechanism: "SCRAM-SHA-256", Data: []byte(rfcClientFirst)},
		&pgproto3.SASLResponse{Data: []byte(rfcClientFinal)}, &pgproto3.Query{String: "select 1"}))
	f.Add(encode(&pgproto3.SASLInitialResponse{AuthMechanism: "SCRAM-SHA-256", Data: []byte("y,,n=,r=x")},
		&pgproto3.SASLResponse{Data: []byte("c=eSws,r=x,p=")}))
	f.Add(encode(&pgproto3.SASLInitialResponse{AuthMechanism: "SCRAM-SHA-256-PLUS", Data: []byte("p=tls-server-end-point,,n=,r=x")}))
	f.Add([]byte("p\x00\x00\x00\x04"))
	startup := encode(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30,
		Parameters: map[string]string{"user": "user"}})
	auth := rfcSCRAM(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		logs := &logSink{t: t}
		s := NewServer(newTestBackend(), WithLogger(slog.New(logs)), WithAuthenticator(auth))
		fuzzConn(t, s, append(startup, data...))
	})
}

// fuzzConn serves one connection of s over a pipe, writes data to it, hangs
// up and checks that the connection's goroutine ends.
func fuzzConn(t *testing.T, s *Server, data []byte) {
	cli, srv := net.Pipe()
	c := newConn(s, srv)
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	served := make(chan struct{})
	go func() {
		defer close(served)
		defer s.forget(c)
		c.serve()
	}()
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		_, _ = io.Copy(io.Discard, cli)
	}()
	_ = cli.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = cli.Write(data)
	_ = cli.Close()
	select {
	case <-served:
	case <-time.After(10 * time.Second):
		t.Fatal("server goroutine did not exit after the client closed")
	}
	<-drained
}

// TestWriteFuzzSeeds regenerates testdata/fuzz/FuzzServerMessages from
// fuzzSeeds when SLUICE_WRITE_FUZZ_SEEDS=1.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("SLUICE_WRITE_FUZZ_SEEDS") == "" {
		t.Skip("set SLUICE_WRITE_FUZZ_SEEDS=1 to rewrite the seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzServerMessages")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range fuzzSeeds() {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(dir, "seed-"+name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
