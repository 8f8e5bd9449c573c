package engine_test

import (
	"context"
	"testing"
)

// Sequences survive a restart: their definitions, their values (a clean
// shutdown resumes exactly where numbering stopped) and their drops; a
// creation that rolled back leaves nothing behind.
func TestSequencesDurable(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	srv := startServer(t, dir)
	conn := connect(t, srv)
	mustExec(t, conn, "CREATE SEQUENCE s START 10 INCREMENT 10")
	mustExec(t, conn, "CREATE SEQUENCE gone")
	mustExec(t, conn, "CREATE SEQUENCE set_to")
	mustExec(t, conn, "BEGIN")
	mustExec(t, conn, "CREATE SEQUENCE rolled_back")
	mustExec(t, conn, "SELECT nextval('rolled_back')")
	mustExec(t, conn, "ROLLBACK")
	var v int64
	for range 3 {
		if err := conn.QueryRow(ctx, "SELECT nextval('s')").Scan(&v); err != nil {
			t.Fatal(err)
		}
	}
	if v != 30 {
		t.Fatalf("third nextval: %d", v)
	}
	mustExec(t, conn, "SELECT setval('set_to', 500)")
	mustExec(t, conn, "DROP SEQUENCE gone")
	conn.Close(ctx)
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}

	srv = startServer(t, dir)
	conn = connect(t, srv)
	if err := conn.QueryRow(ctx, "SELECT nextval('s')").Scan(&v); err != nil || v != 40 {
		t.Fatalf("nextval after a restart: %d, %v", v, err)
	}
	if err := conn.QueryRow(ctx, "SELECT nextval('set_to')").Scan(&v); err != nil || v != 501 {
		t.Fatalf("nextval after setval and a restart: %d, %v", v, err)
	}
	var names string
	if err := conn.QueryRow(ctx, "SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class WHERE relkind = 'S'").Scan(&names); err != nil || names != "s,set_to" {
		t.Fatalf("sequences after a restart: %q, %v", names, err)
	}

	// A role may not take values: sequence privileges cannot be granted.
	mustExec(t, conn, "CREATE USER reader")
	reader := mustConnectAs(t, srv, "reader", "")
	_, err := reader.Exec(ctx, "SELECT nextval('s')")
	wantCode(t, "nextval as a role", err, "42501")
	_, err = reader.Exec(ctx, "CREATE SEQUENCE mine")
	wantCode(t, "CREATE SEQUENCE as a role", err, "42501")
}
