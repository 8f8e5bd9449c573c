//go:build integration

package pgwire

import (
	"bytes"
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/lib/pq"

	"github.com/sluice-db/sluice/internal/testpki"
)

const (
	testUser     = "alice"
	testPassword = "correct horse battery staple"
)

// lockedBuffer collects the server's log output from many goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// authServer is a test server with user alice (testPassword) behind SCRAM,
// and TLS when tlsCfg is not nil. At cleanup it checks that the log holds
// neither the password nor any part of the verifier.
func authServer(t *testing.T, opts ...Option) *testServer {
	t.Helper()
	v, err := NewSCRAMVerifier(testPassword, DefaultSCRAMIterations)
	if err != nil {
		t.Fatal(err)
	}
	auth := NewSCRAM(map[string]SCRAMVerifier{testUser: v})
	logs := &lockedBuffer{}
	opts = append([]Option{WithAuthenticator(auth),
		WithLogger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))}, opts...)
	ts := startServer(t, opts...)
	t.Cleanup(func() {
		out := logs.String()
		enc := v.Encode()
		for _, secret := range []string{testPassword, enc[len(enc)-88:], enc[len(enc)-44:]} {
			if strings.Contains(out, secret) {
				t.Errorf("the log shows a secret:\n%s", out)
			}
		}
	})
	return ts
}

func authURL(ts *testServer, user, password, query string) string {
	_, port, _ := net.SplitHostPort(ts.addr)
	u := "postgres://" + user + ":" + strings.ReplaceAll(password, " ", "%20") + "@localhost:" + port + "/db"
	if query != "" {
		u += "?" + query
	}
	return u
}

func pgxConnect(url string) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return pgx.Connect(ctx, url)
}

func wantPgError(t *testing.T, err error, code, msg string) {
	t.Helper()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != code || pe.Severity != "FATAL" || (msg != "" && pe.Message != msg) {
		t.Fatalf("got %v, want FATAL %s %s", err, code, msg)
	}
}

func TestSCRAMPgx(t *testing.T) {
	ts := authServer(t)
	conn, err := pgxConnect(authURL(ts, testUser, testPassword, "sslmode=disable"))
	if err != nil {
		t.Fatal(err)
	}
	var n int32
	if err := conn.QueryRow(context.Background(), "select 3").Scan(&n); err != nil || n != 3 {
		t.Fatalf("select 3: %d, %v", n, err)
	}
	_ = conn.Close(context.Background())

	_, err = pgxConnect(authURL(ts, testUser, "wrong", "sslmode=disable"))
	wantPgError(t, err, "28P01", `password authentication failed for user "alice"`)
	_, err = pgxConnect(authURL(ts, "mallory", testPassword, "sslmode=disable"))
	wantPgError(t, err, "28P01", `password authentication failed for user "mallory"`)
}

func TestSCRAMLibPQ(t *testing.T) {
	ts := authServer(t)
	open := func(user, password string) error {
		db, err := sql.Open("postgres", authURL(ts, user, password, "sslmode=disable"))
		if err != nil {
			return err
		}
		defer db.Close()
		var n int
		if err := db.QueryRow("select 4").Scan(&n); err != nil {
			return err
		}
		if n != 4 {
			t.Fatalf("select 4: %d", n)
		}
		return nil
	}
	if err := open(testUser, testPassword); err != nil {
		t.Fatal(err)
	}
	for _, user := range []string{testUser, "mallory"} {
		err := open(user, "wrong")
		var pqe *pq.Error
		if !errors.As(err, &pqe) || pqe.Code != "28P01" || pqe.Message != `password authentication failed for user "`+user+`"` {
			t.Fatalf("%s with a wrong password: %#v", user, err)
		}
	}
}

func TestTLSPgx(t *testing.T) {
	pki := testpki.New(t)
	ts := authServer(t, WithTLS(pki.Config()), WithTLSRequired(true))
	for _, q := range []string{
		"sslmode=require",
		"sslmode=require&channel_binding=disable",
		"sslmode=verify-full&sslrootcert=" + pki.CAFile + "&channel_binding=require",
		"sslmode=verify-full&sslrootcert=" + pki.CAFile + "&sslnegotiation=direct",
	} {
		conn, err := pgxConnect(authURL(ts, testUser, testPassword, q))
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		tc, ok := conn.PgConn().Conn().(*tls.Conn)
		if !ok || tc.ConnectionState().Version < tls.VersionTLS12 {
			t.Fatalf("%s: connection %T is not TLS 1.2+", q, conn.PgConn().Conn())
		}
		var n int32
		if err := conn.QueryRow(context.Background(), "select 5").Scan(&n); err != nil || n != 5 {
			t.Fatalf("%s: select 5: %d, %v", q, n, err)
		}
		_ = conn.Close(context.Background())
	}
	_, err := pgxConnect(authURL(ts, testUser, "wrong", "sslmode=require"))
	wantPgError(t, err, "28P01", `password authentication failed for user "alice"`)
	_, err = pgxConnect(authURL(ts, testUser, "wrong", "sslmode=require&channel_binding=require"))
	wantPgError(t, err, "28P01", `password authentication failed for user "alice"`)
	_, err = pgxConnect(authURL(ts, testUser, testPassword, "sslmode=disable"))
	wantPgError(t, err, "28000", "connection without SSL is not allowed")

	// A CA that did not sign the server's certificate is refused by the client.
	other := testpki.New(t)
	if _, err := pgxConnect(authURL(ts, testUser, testPassword, "sslmode=verify-full&sslrootcert="+other.CAFile)); err == nil ||
		!strings.Contains(err.Error(), "certificate") {
		t.Fatalf("verify-full with a foreign CA: %v", err)
	}
}

// TestTLSOldVersionRefused: a client capped at TLS 1.1 cannot connect.
func TestTLSOldVersionRefused(t *testing.T) {
	pki := testpki.New(t)
	ts := authServer(t, WithTLS(&tls.Config{Certificates: pki.Config().Certificates, MinVersion: tls.VersionTLS10}))
	cfg, err := pgx.ParseConfig(authURL(ts, testUser, testPassword, "sslmode=require"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.TLSConfig.MinVersion, cfg.TLSConfig.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	cfg.Fallbacks = nil
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := pgx.ConnectConfig(ctx, cfg); err == nil || !strings.Contains(err.Error(), "tls") {
		t.Fatalf("TLS 1.1 client: %v", err)
	}
}

func TestTLSLibPQ(t *testing.T) {
	pki := testpki.New(t)
	ts := authServer(t, WithTLS(pki.Config()), WithTLSRequired(true))
	query := func(q string) error {
		db, err := sql.Open("postgres", authURL(ts, testUser, testPassword, q))
		if err != nil {
			return err
		}
		defer db.Close()
		var n int
		return db.QueryRow("select 6").Scan(&n)
	}
	for _, q := range []string{"sslmode=require", "sslmode=verify-full&sslrootcert=" + pki.CAFile} {
		if err := query(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	err := query("sslmode=disable")
	var pqe *pq.Error
	if !errors.As(err, &pqe) || pqe.Code != "28000" {
		t.Fatalf("sslmode=disable: %#v", err)
	}
}

// TestTLSNotOffered: without a certificate the server refuses TLS, so
// sslmode=require fails, channel binding is not offered, and sslmode=prefer
// goes on in plaintext.
func TestTLSNotOffered(t *testing.T) {
	ts := authServer(t)
	if _, err := pgxConnect(authURL(ts, testUser, testPassword, "sslmode=require")); err == nil ||
		!strings.Contains(err.Error(), "server refused TLS") {
		t.Fatalf("sslmode=require: %v", err)
	}
	if _, err := pgxConnect(authURL(ts, testUser, testPassword, "sslmode=prefer&channel_binding=require")); err == nil ||
		!strings.Contains(err.Error(), "SCRAM-SHA-256-PLUS") {
		t.Fatalf("channel_binding=require without TLS: %v", err)
	}
	conn, err := pgxConnect(authURL(ts, testUser, testPassword, "sslmode=prefer"))
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.Close(context.Background())
}

func lookPsql(t *testing.T) string {
	t.Helper()
	psql, err := exec.LookPath("psql")
	if err != nil {
		if os.Getenv("SLUICE_REQUIRE_CLIENTS") != "" {
			t.Fatal("psql not installed")
		}
		t.Skip("psql not installed")
	}
	return psql
}

func TestTLSPsql(t *testing.T) {
	psql := lookPsql(t)
	pki := testpki.New(t)
	ts := authServer(t, WithTLS(pki.Config()), WithTLSRequired(true))
	_, port, _ := net.SplitHostPort(ts.addr)
	run := func(password, sslmode, channelBinding string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, psql, "-X", "-h", "localhost", "-p", port, "-U", testUser, "-d", "db",
			"-c", `\conninfo`, "-c", "select 1")
		cmd.Env = append(cmd.Environ(), "PGCONNECT_TIMEOUT=5", "PGPASSWORD="+password, "PGSSLMODE="+sslmode,
			"PGSSLROOTCERT="+pki.CAFile, "PGCHANNELBINDING="+channelBinding)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	for _, mode := range []string{"require", "verify-full"} {
		out, err := run(testPassword, mode, "require")
		if err != nil || !strings.Contains(out, "SSL connection (protocol: TLSv1.") || !strings.Contains(out, "(1 row)") {
			t.Fatalf("sslmode=%s: %v\n%s", mode, err, out)
		}
	}
	if out, err := run("wrong", "require", "require"); err == nil || !strings.Contains(out, `password authentication failed for user "alice"`) {
		t.Fatalf("wrong password: %v\n%s", err, out)
	}
	if out, err := run(testPassword, "disable", "disable"); err == nil || !strings.Contains(out, "connection without SSL is not allowed") {
		t.Fatalf("sslmode=disable: %v\n%s", err, out)
	}
}
