package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-db/sluice/server"
)

func startDemoServer(t *testing.T, dir string) *server.Server {
	t.Helper()
	srv, err := server.Start(context.Background(), server.Config{PGAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// The example scripts run against a server, again on the same data
// directory after a restart, and the queries the demo prints work and
// find rows.
func TestDemoExamples(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	srv := startDemoServer(t, dir)
	var out bytes.Buffer
	if err := loadDemo(ctx, srv.PGAddr(), "", &out); err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	srv = startDemoServer(t, dir)
	if err := loadDemo(ctx, srv.PGAddr(), "", &out); err != nil {
		t.Fatalf("the demo again on its data directory: %v", err)
	}
	if n := strings.Count(out.String(), "demo: ran examples/"); n < 8 {
		t.Fatalf("ran %d scripts in two runs:\n%s", n, out.String())
	}
	conn, err := pgx.Connect(ctx, "postgres://sluice@"+srv.PGAddr()+"/sluice?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var users int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM users").Scan(&users); err != nil || users != 10000 {
		t.Fatalf("users: %d, %v; want 10000", users, err)
	}
	// Every click and order is by a user of the users table.
	for _, q := range []string{
		"SELECT count(*) FROM clicks c LEFT JOIN users u ON c.user_id = u.user_id WHERE u.user_id IS NULL",
		"SELECT count(*) FROM orders o LEFT JOIN users u ON o.user_id = u.user_id WHERE u.user_id IS NULL",
	} {
		var n int64
		if err := conn.QueryRow(ctx, q).Scan(&n); err != nil || n != 0 {
			t.Fatalf("%s: %d, %v", q, n, err)
		}
	}
	for _, q := range append([]string{"SELECT * FROM active_users_5m", "SELECT * FROM revenue_hourly"}, demoQueries...) {
		deadline := time.Now().Add(30 * time.Second)
		for {
			rows, err := conn.Query(ctx, strings.TrimSuffix(q, ";"))
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			n := 0
			for rows.Next() {
				n++
			}
			if err := rows.Err(); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			if n > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no rows after 30 s", q)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// A user runs the same files with psql -f.
	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Skip("no psql on PATH")
	}
	files, err := filepath.Glob("../../examples/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("examples: %v %v", files, err)
	}
	host, port := splitHostPort(srv.PGAddr())
	for _, f := range files {
		cmd := exec.Command(psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", host, "-p", port, "-U", "sluice", "-f", f)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("psql -f %s: %v\n%s", f, err, b)
		}
	}
}
