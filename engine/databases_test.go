package engine_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

// CREATE DATABASE names the one database once more: pg_database lists the
// name from then on, in every session and after a restart.
func TestCreateDatabase(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	srv := startServer(t, dir)
	connectTo := func(db string) *pgx.Conn {
		t.Helper()
		conn, err := pgx.Connect(ctx, "postgres://sluice@"+srv.PGAddr()+"/"+db+"?sslmode=disable")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close(ctx) })
		return conn
	}
	listed := func(conn *pgx.Conn, name string) bool {
		t.Helper()
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	postgres := connectTo("postgres")
	if listed(postgres, "myapp") {
		t.Fatal("myapp listed before CREATE DATABASE")
	}
	mustExec(t, postgres, "BEGIN")
	_, err := postgres.Exec(ctx, "CREATE DATABASE myapp")
	wantCode(t, "CREATE DATABASE in a block", err, "25001")
	mustExec(t, postgres, "ROLLBACK")
	mustExec(t, postgres, `CREATE DATABASE "myapp" ENCODING 'UTF8'`)
	if !listed(postgres, "myapp") || !listed(postgres, "postgres") {
		t.Fatal("myapp or postgres not listed after CREATE DATABASE")
	}
	_, err = postgres.Exec(ctx, "CREATE DATABASE myapp")
	wantCode(t, "CREATE DATABASE of a listed name", err, "42P04")
	_, err = postgres.Exec(ctx, "CREATE DATABASE postgres")
	wantCode(t, "CREATE DATABASE of the session's name", err, "42P04")
	_, err = postgres.Exec(ctx, "DROP DATABASE myapp")
	wantCode(t, "DROP DATABASE", err, "0A000")

	myapp := connectTo("myapp")
	mustExec(t, myapp, "CREATE TABLE t (k int)")
	var db string
	if err := myapp.QueryRow(ctx, "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database").Scan(&db); err != nil || db != "myapp" {
		t.Fatalf("pg_database in a session of myapp: %q, %v", db, err)
	}
	mustExec(t, postgres, "CREATE USER reader")
	reader, err := connectAs(srv, "reader", "")
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close(ctx)
	_, err = reader.Exec(ctx, "CREATE DATABASE other")
	wantCode(t, "CREATE DATABASE as a role", err, "42501")

	postgres.Close(ctx)
	myapp.Close(ctx)
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	srv = startServer(t, dir)
	if !listed(connectTo("postgres"), "myapp") {
		t.Fatal("myapp not listed after a restart")
	}
}
