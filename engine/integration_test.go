//go:build integration

package engine_test

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	_ "github.com/lib/pq"
	"github.com/sluice-db/sluice/internal/testbin"
)

// startChild runs `sluice serve` and waits until it accepts connections.
func startChild(t *testing.T, bin, dir, addr string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--data-dir", dir, "--pg-addr", addr, "--http-addr", testbin.FreeAddr(t))
	cmd.Stderr = os.Stderr
	testbin.Serve(t, cmd)
	return cmd
}

func TestKill9Durability(t *testing.T) {
	bin := testbin.Build(t)
	dir, addr := t.TempDir(), testbin.FreeAddr(t)
	cmd := startChild(t, bin, dir, addr)
	ctx := context.Background()
	url := "postgres://sluice@" + addr + "/sluice?sslmode=disable"
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE k (id int PRIMARY KEY, v text)"); err != nil {
		t.Fatal(err)
	}
	acked := 0
	stop := time.After(500 * time.Millisecond)
loop:
	for i := 0; ; i++ {
		select {
		case <-stop:
			break loop
		default:
		}
		if _, err := conn.Exec(ctx, "INSERT INTO k VALUES ($1, $2)", i, fmt.Sprint("v", i)); err != nil {
			t.Fatal(err)
		}
		acked = i + 1
	}
	// kill -9 right after the last acknowledged insert.
	if err := cmd.Process.Signal(os.Kill); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	startChild(t, bin, dir, addr)
	conn2, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close(ctx)
	for i := 0; i < acked; i++ {
		var v string
		if err := conn2.QueryRow(ctx, "SELECT v FROM k WHERE id = $1", i).Scan(&v); err != nil || v != fmt.Sprint("v", i) {
			t.Fatalf("acknowledged row %d of %d: %q %v", i, acked, v, err)
		}
	}
	t.Logf("%d acknowledged rows survived kill -9", acked)
}

// TestLibPQ runs the scripted session through database/sql and lib/pq.
func TestLibPQ(t *testing.T) {
	srv := startServer(t, "")
	db, err := sql.Open("postgres", "postgres://sluice@"+srv.PGAddr()+"/sluice?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	for i, tc := range typeCases {
		tbl := fmt.Sprintf("pq_%d", i)
		if _, err := db.Exec(fmt.Sprintf("CREATE TABLE %s (id int PRIMARY KEY, v %s)", tbl, tc.typ)); err != nil {
			t.Fatal(err)
		}
		// lib/pq sends strings as text parameters ([]byte as binary).
		var arg any = tc.text
		want := tc.text
		switch tc.typ {
		case "bytea":
			arg = tc.val
		case "bool":
			want = "true" // bool::text
		}
		if _, err := db.Exec(fmt.Sprintf("INSERT INTO %s VALUES (1, $1)", tbl), arg); err != nil {
			t.Fatalf("%s: %v", tc.typ, err)
		}
		var got string
		if err := db.QueryRow(fmt.Sprintf("SELECT v::text FROM %s WHERE id = $1", tbl), 1).Scan(&got); err != nil || got != want {
			t.Errorf("%s: got %q, %v", tc.typ, got, err)
		}
	}
	_, err = db.Exec("SELECT * FROM nope")
	if err == nil || !strings.Contains(err.Error(), `relation "nope" does not exist`) {
		t.Errorf("error: %v", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := db.ExecContext(cctx, "SELECT pg_sleep(10)"); err == nil {
		t.Errorf("cancel: no error")
	}
}

// TestPsql runs the scripted session through psql, if installed.
func TestPsql(t *testing.T) {
	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Skip("psql not on PATH")
	}
	srv := startServer(t, "")
	host, port, _ := net.SplitHostPort(srv.PGAddr())
	script := `CREATE TABLE ps (id int PRIMARY KEY, v text, n numeric(10,2), ts timestamptz);
INSERT INTO ps VALUES (1, 'a', 1.5, '2024-01-01 00:00:00+00');
PREPARE q(int) AS SELECT v FROM ps WHERE id = $1;
SELECT v, n, ts FROM ps WHERE id = 1;
\copy ps (id, v) from stdin
2	b
\.
SELECT count(*) FROM ps;
SELECT * FROM nope;
SET statement_timeout = '100ms';
SELECT pg_sleep(5);
`
	cmd := exec.Command(psql, "-X", "-h", host, "-p", port, "-U", "sluice", "-d", "sluice", "-v", "ON_ERROR_STOP=0")
	cmd.Stdin = strings.NewReader(script)
	out, _ := cmd.CombinedOutput()
	for _, want := range []string{"CREATE TABLE", "INSERT 0 1", " a | 1.50 | 2024-01-01 00:00:00+00", "COPY 1", "     2", `relation "nope" does not exist`, "canceling statement due to statement timeout"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("psql output lacks %q:\n%s", want, out)
		}
	}
}
