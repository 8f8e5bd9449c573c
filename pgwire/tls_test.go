package pgwire

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluice-db/sluice/internal/testpki"
)

func negotiationPacket(code uint32) []byte {
	var b [8]byte
	binary.BigEndian.PutUint32(b[:], 8)
	binary.BigEndian.PutUint32(b[4:], code)
	return b[:]
}

// startTLS sends SSLRequest, expects 'S' and returns the client over TLS.
func (c *rawClient) startTLS(cfg *tls.Config) *rawClient {
	c.t.Helper()
	c.sendRaw(negotiationPacket(sslRequestCode))
	var r [1]byte
	if _, err := c.nc.Read(r[:]); err != nil || r[0] != 'S' {
		c.t.Fatalf("SSLRequest: got %q, %v; want 'S'", r[0], err)
	}
	tc := tls.Client(c.nc, cfg)
	if err := tc.Handshake(); err != nil {
		c.t.Fatal(err)
	}
	return &rawClient{t: c.t, nc: tc, fe: pgproto3.NewFrontend(tc, tc)}
}

// TestTLSNegotiation: after TLS starts, neither SSLRequest nor GSSENCRequest
// may come again (Postgres reads them as unknown protocol versions); before
// it, a GSSENCRequest is refused and TLS can still be asked for.
func TestTLSNegotiation(t *testing.T) {
	pki := testpki.New(t)
	ts := startServer(t, WithTLS(pki.Config()))
	client := &tls.Config{InsecureSkipVerify: true}

	for code, want := range map[uint32]string{
		sslRequestCode:    "E FATAL 08P01 unsupported frontend protocol 1234.5679: server supports 3.0 to 3.0",
		gssEncRequestCode: "E FATAL 08P01 unsupported frontend protocol 1234.5680: server supports 3.0 to 3.0",
	} {
		c := dialRaw(t, ts.addr).startTLS(client)
		c.sendRaw(negotiationPacket(code))
		eq(t, []string{c.recv()}, want)
		c.expectClosed()
	}

	c := dialRaw(t, ts.addr)
	c.sendRaw(negotiationPacket(gssEncRequestCode))
	var r [1]byte
	if _, err := c.nc.Read(r[:]); err != nil || r[0] != 'N' {
		t.Fatalf("GSSENCRequest: got %q, %v", r[0], err)
	}
	c = c.startTLS(client)
	c.startup()
	if v := c.nc.(*tls.Conn).ConnectionState().Version; v < tls.VersionTLS12 {
		t.Fatalf("TLS version %x", v)
	}
}

// TestDirectTLSNeedsALPN: PostgreSQL 17's direct TLS without ALPN
// "postgresql" is refused after the handshake; with it the startup goes on.
func TestDirectTLSNeedsALPN(t *testing.T) {
	pki := testpki.New(t)
	ts := startServer(t, WithTLS(pki.Config()))
	for _, alpn := range [][]string{nil, {"postgresql"}} {
		c := dialRaw(t, ts.addr)
		tc := tls.Client(c.nc, &tls.Config{InsecureSkipVerify: true, NextProtos: alpn})
		if err := tc.Handshake(); err != nil {
			t.Fatal(err)
		}
		c = &rawClient{t: t, nc: tc, fe: pgproto3.NewFrontend(tc, tc)}
		if alpn == nil {
			eq(t, []string{c.recv()}, "E FATAL 08P01 received direct SSL connection request without ALPN protocol negotiation extension")
			c.expectClosed()
			continue
		}
		c.startup()
	}
}

func scramServer(t *testing.T, opts ...Option) *testServer {
	t.Helper()
	v, err := NewSCRAMVerifier("pencil", DefaultSCRAMIterations)
	if err != nil {
		t.Fatal(err)
	}
	return startServer(t, append([]Option{WithAuthenticator(NewSCRAM(map[string]SCRAMVerifier{"alice": v}))}, opts...)...)
}

// TestSCRAMProtocolErrors: a client that answers AuthenticationSASL with
// something else, picks another mechanism or sends an oversized message
// gets FATAL 08P01, and the connection ends.
func TestSCRAMProtocolErrors(t *testing.T) {
	ts := scramServer(t)
	start := func() *rawClient {
		c := dialRaw(t, ts.addr)
		c.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30,
			Parameters: map[string]string{"user": "alice"}})
		m, err := c.fe.Receive()
		if sasl, ok := m.(*pgproto3.AuthenticationSASL); err != nil || !ok ||
			strings.Join(sasl.AuthMechanisms, ",") != "SCRAM-SHA-256" {
			t.Fatalf("got %#v, %v; want AuthenticationSASL SCRAM-SHA-256", m, err)
		}
		return c
	}
	for _, tc := range []struct {
		send []byte
		want string
	}{
		{encode(&pgproto3.SASLInitialResponse{AuthMechanism: "SCRAM-SHA-256-PLUS", Data: []byte("p=tls-server-end-point,,n=,r=x")}),
			"E FATAL 08P01 client selected an invalid SASL authentication mechanism"},
		{encode(&pgproto3.SASLInitialResponse{AuthMechanism: "SCRAM-SHA-256", Data: []byte("n,,n=,r=")}),
			"E FATAL 08P01 malformed SCRAM message"},
		{encode(&pgproto3.Query{String: "select 1"}), "E FATAL 08P01 expected SASL response, got message type 81"},
		{[]byte("p\x00\x00\x00\x04"), "E FATAL 08P01 invalid SASLInitialResponse"},
		{[]byte("p\x00\x01\x00\x05"), "E FATAL 08P01 invalid message length"},
	} {
		c := start()
		c.sendRaw(tc.send)
		eq(t, []string{c.recv()}, tc.want)
		c.expectClosed()
	}
}

// TestTLSRequired: a plaintext startup is refused with 28000; over TLS it
// goes on.
func TestTLSRequired(t *testing.T) {
	pki := testpki.New(t)
	ts := startServer(t, WithTLS(pki.Config()), WithTLSRequired(true))
	c := dialRaw(t, ts.addr)
	c.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30,
		Parameters: map[string]string{"user": "alice"}})
	eq(t, []string{c.recv()}, "E FATAL 28000 connection without SSL is not allowed")
	c.expectClosed()

	c = dialRaw(t, ts.addr).startTLS(&tls.Config{InsecureSkipVerify: true})
	c.startup()
}

// TestTLSServerEndPoint: the channel binding data is the hash of the one
// certificate; with an Ed25519 certificate (no hash defined by RFC 5929) or
// several certificates there is none, and SCRAM-SHA-256-PLUS is not offered.
func TestTLSServerEndPoint(t *testing.T) {
	pki := testpki.New(t)
	s := NewServer(newTestBackend(), WithTLS(pki.Config()))
	if want := sha256.Sum256(pki.Server.Certificate[0]); !bytes.Equal(s.tlsEndPoint, want[:]) {
		t.Fatalf("end point %x, want %x", s.tlsEndPoint, want)
	}
	two := &tls.Config{Certificates: []tls.Certificate{pki.Server, pki.Server}}
	if s := NewServer(newTestBackend(), WithTLS(two)); s.tlsEndPoint != nil || s.tls == nil {
		t.Fatal("channel binding with two certificates")
	}
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	if ep := tlsServerEndPoint(tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}); ep != nil {
		t.Fatalf("Ed25519 end point %x", ep)
	}
}
