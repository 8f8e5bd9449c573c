//go:build integration

package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluice-db/sluice/internal/testbin"
)

// selfSignedCert writes a certificate for localhost and its key as PEM files.
func selfSignedCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "localhost"},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestServeAuth runs the binary as an operator would: sluice passwd makes
// a users file; sluice serve takes it, SLUICE_PASSWORD, a certificate and
// SLUICE_TLS_REQUIRED; clients then need the right password and TLS, and
// the server's log shows no secret.
func TestServeAuth(t *testing.T) {
	dir, bin := t.TempDir(), testbin.Build(t)
	const alicePW, sluicePW = "tr0ub4dor&3 é", "sluice-secret"
	passwd := exec.Command(bin, "passwd", "alice")
	passwd.Stdin = strings.NewReader(alicePW + "\n")
	line, err := passwd.Output()
	if err != nil || !strings.HasPrefix(string(line), "alice:SCRAM-SHA-256$4096:") {
		t.Fatalf("sluice passwd: %q, %v", line, err)
	}
	usersFile := filepath.Join(dir, "users")
	if err := os.WriteFile(usersFile, append([]byte("# test users\n"), line...), 0o600); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := selfSignedCert(t, dir)

	addr := testbin.FreeAddr(t)
	cmd := exec.Command(bin, "serve", "--data-dir", filepath.Join(dir, "data"), "--pg-addr", addr,
		"--http-addr", testbin.FreeAddr(t), "--embedded-kafka-addr", "off", "--log-level", "debug",
		"--users-file", usersFile, "--tls-cert", certFile, "--tls-key", keyFile)
	cmd.Env = append(os.Environ(), "SLUICE_PASSWORD="+sluicePW, "SLUICE_TLS_REQUIRED=true")
	logs := &testbin.SyncBuffer{}
	cmd.Stderr = logs
	if b := testbin.Serve(t, cmd); !strings.Contains(b, "authentication scram-sha-256 (2 users), TLS required") {
		t.Fatalf("banner %q; log:\n%s", b, logs.String())
	}

	_, port, _ := net.SplitHostPort(addr)
	connect := func(user, password, query string) error {
		u := url.URL{Scheme: "postgres", User: url.UserPassword(user, password), Host: "localhost:" + port, Path: "/sluice", RawQuery: query}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, u.String())
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		var n int
		return conn.QueryRow(ctx, "SELECT 1 + 1").Scan(&n)
	}
	verify := "sslmode=verify-full&sslrootcert=" + url.QueryEscape(certFile)
	if err := connect("alice", alicePW, verify); err != nil {
		t.Fatalf("alice: %v", err)
	}
	if err := connect("sluice", sluicePW, "sslmode=require"); err != nil {
		t.Fatalf("sluice: %v", err)
	}
	for _, tc := range []struct{ user, password, query, code string }{
		{"alice", sluicePW, verify, "28P01"},
		{"nobody", alicePW, verify, "28P01"},
		{"alice", alicePW, "sslmode=disable", "28000"},
	} {
		var pe *pgconn.PgError
		if err := connect(tc.user, tc.password, tc.query); !errors.As(err, &pe) || pe.Code != tc.code {
			t.Errorf("%s %s: %v, want %s", tc.user, tc.query, err, tc.code)
		}
	}
	out := logs.String()
	if !strings.Contains(out, "authentication failed") {
		t.Errorf("the log does not show the failed logins:\n%s", out)
	}
	verifier := strings.TrimSpace(string(line))
	for _, secret := range []string{alicePW, sluicePW, verifier[len(verifier)-88:]} {
		if strings.Contains(out, secret) {
			t.Errorf("the log shows a secret:\n%s", out)
		}
	}
}
