//go:build integration

package clienttest

import (
	"bufio"
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-db/sluice/internal/testpki"
	"github.com/sluice-db/sluice/pgwire"
	"github.com/sluice-db/sluice/server"
)

// Each client's checks, in the order its script runs them.
var (
	psycopg2Checks   = []string{"connect", "types_text", "prepared", "transactions", "errors", "cancel", "named_cursor", "copy", "subscribe_cursor"}
	psycopg3Checks   = []string{"connect", "types_text", "types_binary", "prepared", "transactions", "errors", "cancel", "pipeline", "named_cursor", "copy", "subscribe_cursor"}
	sqlalchemyChecks = []string{"connect", "core", "views", "reflection"}
	nodePgChecks     = []string{"connect", "types_text", "prepared", "transactions", "errors", "cancel", "subscribe_cursor", "listen_notify"}
	pgjdbcChecks     = []string{"connect", "types_text", "types_binary", "types_simple", "result_metadata", "prepared", "transactions", "errors", "cancel", "subscribe_cursor", "fetch_size", "copy", "metadata"}
	pgjdbcTLSChecks  = []string{"tls_require", "tls_verify_ca", "tls_verify_full", "tls_verify_full_other_ca", "tls_disabled_refused", "tls_wrong_password"}
)

const debianPython = "/usr/bin/python3"

func TestPsycopg2(t *testing.T) {
	needPython(t, "psycopg2", "python3-psycopg2")
	host, port := startSluice(t)
	runClient(t, psycopg2Checks, "python", debianPython, "psycopg2_client.py", "host="+host+" port="+port+" user=sluice dbname=sluice")
}

func TestPsycopg3(t *testing.T) {
	needPython(t, "psycopg", "python3-psycopg")
	host, port := startSluice(t)
	runClient(t, psycopg3Checks, "python", debianPython, "psycopg3_client.py", "host="+host+" port="+port+" user=sluice dbname=sluice")
}

func TestSQLAlchemy(t *testing.T) {
	needPython(t, "sqlalchemy", "python3-sqlalchemy")
	needPython(t, "psycopg2", "python3-psycopg2")
	host, port := startSluice(t)
	runClient(t, sqlalchemyChecks, "python", debianPython, "sqlalchemy_client.py", "postgresql+psycopg2://sluice@"+net.JoinHostPort(host, port)+"/sluice")
}

func TestNodePostgres(t *testing.T) {
	node := need(t, "node", "nodejs")
	if _, err := os.Stat(filepath.Join("testdata", "node", "node_modules", "pg")); err != nil {
		missing(t, "npm pg is not installed in testdata/node (npm ci there)")
	}
	host, port := startSluice(t)
	runClient(t, nodePgChecks, "node", node, "pg_client.js", host, port)
}

func TestPgJDBC(t *testing.T) {
	javac := need(t, "javac", "a JDK")
	java := need(t, "java", "a JDK")
	const jar = "/usr/share/java/postgresql.jar"
	if _, err := os.Stat(jar); err != nil {
		missing(t, jar+" is missing (Debian libpostgresql-jdbc-java)")
	}
	classes := t.TempDir()
	src, err := filepath.Abs(filepath.Join("testdata", "java", "PgJdbcClient.java"))
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(javac, "-d", classes, "-cp", jar, src).CombinedOutput(); err != nil {
		t.Fatalf("javac: %v\n%s", err, out)
	}
	host, port := startSluice(t)
	runClient(t, pgjdbcChecks, "java", java, "-cp", classes+string(filepath.ListSeparator)+jar, "PgJdbcClient", net.JoinHostPort(host, port))
}

// pgjdbc over TLS with sslmode=require, verify-ca and verify-full (a
// certificate for 127.0.0.1 from a CA made for the test), and SCRAM-SHA-256.
func TestPgJDBCTLS(t *testing.T) {
	javac := need(t, "javac", "a JDK")
	java := need(t, "java", "a JDK")
	const jar = "/usr/share/java/postgresql.jar"
	if _, err := os.Stat(jar); err != nil {
		missing(t, jar+" is missing (Debian libpostgresql-jdbc-java)")
	}
	classes := t.TempDir()
	src, err := filepath.Abs(filepath.Join("testdata", "java", "PgJdbcTls.java"))
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(javac, "-d", classes, "-cp", jar, src).CombinedOutput(); err != nil {
		t.Fatalf("javac: %v\n%s", err, out)
	}
	pki := testpki.New(t)
	other := testpki.New(t)
	const password = "tls secret"
	v, err := pgwire.NewSCRAMVerifier(password, pgwire.DefaultSCRAMIterations)
	if err != nil {
		t.Fatal(err)
	}
	host, port := startSluiceWith(t, server.Config{
		Auth:        pgwire.NewSCRAM(map[string]pgwire.SCRAMVerifier{"sluice": v}),
		Superusers:  []string{"sluice"},
		TLS:         &tls.Config{Certificates: []tls.Certificate{pki.Server}, MinVersion: tls.VersionTLS12},
		TLSRequired: true,
	})
	runClient(t, pgjdbcTLSChecks, "java", java, "-cp", classes+string(filepath.ListSeparator)+jar, "PgJdbcTls",
		net.JoinHostPort(host, port), pki.CAFile, other.CAFile, password)
}

// missing skips the test, or fails it when SLUICE_REQUIRE_CLIENTS is set.
func missing(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("SLUICE_REQUIRE_CLIENTS") != "" {
		t.Fatalf("%s (scripts/ci-deps.sh installs it)", why)
	}
	t.Skip(why)
}

// need finds a program on PATH.
func need(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		missing(t, name+" is not installed ("+pkg+")")
	}
	return p
}

// needPython checks that Debian's Python imports module.
func needPython(t *testing.T, module, pkg string) {
	t.Helper()
	if out, err := exec.Command(debianPython, "-c", "import "+module).CombinedOutput(); err != nil {
		missing(t, debianPython+" cannot import "+module+" (Debian "+pkg+"): "+strings.TrimSpace(string(out)))
	}
}

// startSluice starts a server with a fresh data directory; it returns the
// host and port of its Postgres listener.
func startSluice(t *testing.T) (host, port string) {
	t.Helper()
	return startSluiceWith(t, server.Config{})
}

// startSluiceWith is startSluice with cfg's authentication and TLS.
func startSluiceWith(t *testing.T, cfg server.Config) (host, port string) {
	t.Helper()
	cfg.PGAddr, cfg.DataDir = "127.0.0.1:0", t.TempDir()
	cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := server.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
	})
	host, port, err = net.SplitHostPort(srv.PGAddr())
	if err != nil {
		t.Fatal(err)
	}
	return host, port
}

// runClient runs a client script in testdata/dir and wants an "ok" line
// for each check.
func runClient(t *testing.T, checks []string, dir, prog string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Dir = filepath.Join("testdata", dir)
	// Fixed zone: the scripts compare dates and timestamps; no .pyc files
	// in the source tree.
	cmd.Env = append(os.Environ(), "TZ=UTC", "PGTZ=UTC", "PYTHONDONTWRITEBYTECODE=1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		t.Log(line)
		if name, ok := strings.CutPrefix(line, "ok "); ok {
			name, _, _ = strings.Cut(name, " ")
			got[name] = "ok"
		} else if rest, ok := strings.CutPrefix(line, "FAIL "); ok {
			name, reason, _ := strings.Cut(rest, ": ")
			got[name] = reason
		}
	}
	err = cmd.Wait()
	t.Logf("%s ran in %v", filepath.Base(prog), time.Since(start).Round(time.Millisecond))
	for _, c := range checks {
		switch r, ok := got[c]; {
		case !ok:
			t.Errorf("check %s did not run", c)
		case r != "ok":
			t.Errorf("check %s failed: %s", c, r)
		}
	}
	if err != nil {
		t.Errorf("%s: %v\n%s", prog, err, stderr.String())
	}
}
