package engine_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

// A role reads what it was granted, the system catalogs, and nothing else;
// it writes nothing. Grants apply at once and survive a restart.
func TestGrantSelect(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	srv := startServer(t, dir)
	admin := connect(t, srv)
	mustExec(t, admin, "CREATE TABLE t (k int PRIMARY KEY)")
	mustExec(t, admin, "CREATE TABLE secret (k int PRIMARY KEY)")
	mustExec(t, admin, "INSERT INTO t VALUES (1), (2)")
	mustExec(t, admin, "CREATE MATERIALIZED VIEW v AS SELECT count(*) AS n FROM secret")
	mustExec(t, admin, "CREATE USER reader")
	reader := mustConnectAs(t, srv, "reader", "")

	denied := func(sql, msg string) {
		t.Helper()
		_, err := reader.Exec(ctx, sql)
		if pe := pgErr(t, err); pe.Code != "42501" || (msg != "" && pe.Message != msg) {
			t.Errorf("%s: got %s %q, want 42501 %q", sql, pe.Code, pe.Message, msg)
		}
	}
	denied("SELECT * FROM t", "permission denied for table t")
	mustExec(t, admin, "GRANT SELECT ON TABLE t, v TO reader")
	var n int
	if err := reader.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil || n != 2 {
		t.Fatalf("granted table: %d, %v", n, err)
	}
	if err := reader.QueryRow(ctx, "SELECT n FROM v").Scan(&n); err != nil {
		t.Fatalf("granted view: %v", err)
	}
	if err := reader.QueryRow(ctx, "SELECT count(*) FROM pg_class WHERE relname = 'secret'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("system catalog: %d, %v", n, err)
	}
	var privs string
	if err := reader.QueryRow(ctx, `SELECT concat(has_table_privilege('t', 'SELECT'), has_table_privilege('secret', 'select'),
		has_table_privilege('reader', 't', 'INSERT'), has_table_privilege('pg_class', 'SELECT'),
		has_table_privilege('t'::regclass, 'INSERT, SELECT'))`).Scan(&privs); err != nil || privs != "tfftt" {
		t.Errorf("has_table_privilege as the role: %s, %v", privs, err)
	}
	if err := admin.QueryRow(ctx, `SELECT concat(has_table_privilege('reader', 't', 'SELECT'), has_table_privilege('reader', 'secret', 'SELECT'),
		has_table_privilege('secret', 'INSERT'), has_table_privilege((SELECT oid FROM pg_roles WHERE rolname = 'reader'), 'v', 'SELECT'))`).Scan(&privs); err != nil || privs != "tftt" {
		t.Errorf("has_table_privilege as a superuser: %s, %v", privs, err)
	}
	var relacl string
	if err := admin.QueryRow(ctx, "SELECT coalesce(array_to_string(relacl, ' '), 'NULL') FROM pg_class WHERE relname = 't'").Scan(&relacl); err != nil || relacl != "sluice=arwdDxt/sluice reader=r/sluice" {
		t.Errorf("relacl of t: %q, %v", relacl, err)
	}
	if err := admin.QueryRow(ctx, "SELECT coalesce(array_to_string(relacl, ' '), 'NULL') FROM pg_class WHERE relname = 'secret'").Scan(&relacl); err != nil || relacl != "NULL" {
		t.Errorf("relacl of secret: %q, %v", relacl, err)
	}
	denied("SELECT * FROM secret", "permission denied for table secret")
	denied("SELECT * FROM t JOIN secret USING (k)", "permission denied for table secret")
	denied("INSERT INTO t VALUES (3)", "permission denied for table t")
	denied("UPDATE t SET k = 3", "permission denied for table t")
	denied("DELETE FROM t", "permission denied for table t")
	denied("COPY t FROM STDIN", "permission denied for table t")
	denied("CREATE TABLE mine (k int)", "permission denied to run CREATE TABLE")
	denied("DROP TABLE t", "")
	denied("CREATE MATERIALIZED VIEW w AS SELECT * FROM t", "")
	denied("GRANT SELECT ON secret TO reader", "")
	denied("SUBSCRIBE secret", "permission denied for table secret")
	denied("SUBSCRIBE (SELECT k FROM secret)", "permission denied for table secret")
	if _, err := reader.Exec(ctx, "SELECT * FROM t", pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatal(err)
	}
	if _, err := reader.PgConn().CopyTo(ctx, discard{}, "COPY t TO STDOUT"); err != nil {
		t.Fatalf("COPY TO of a granted table: %v", err)
	}
	// COPY (query) TO writes when the query does.
	for _, sql := range []string{"COPY (INSERT INTO t VALUES (9) RETURNING k) TO STDOUT", "COPY (DELETE FROM t RETURNING k) TO STDOUT"} {
		_, err := reader.PgConn().CopyTo(ctx, discard{}, sql)
		wantCode(t, sql, err, "42501")
	}

	for sql, code := range map[string]string{
		"GRANT INSERT ON t TO reader":    "0A000",
		"GRANT SELECT ON t TO nobody":    "42704",
		"GRANT SELECT ON nope TO reader": "42P01",
		"GRANT SELECT ON t TO PUBLIC":    "0A000",
	} {
		_, err := admin.Exec(ctx, sql)
		wantCode(t, sql, err, code)
	}

	// A grant on a table made in the same transaction.
	mustExec(t, admin, "BEGIN")
	mustExec(t, admin, "CREATE TABLE fresh (k int PRIMARY KEY)")
	mustExec(t, admin, "GRANT SELECT ON fresh TO reader")
	mustExec(t, admin, "COMMIT")
	if _, err := reader.Exec(ctx, "SELECT * FROM fresh"); err != nil {
		t.Fatalf("granted in the table's transaction: %v", err)
	}

	// Grants survive a restart; REVOKE takes one back.
	reader.Close(ctx)
	admin.Close(ctx)
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	srv = startServer(t, dir)
	admin = connect(t, srv)
	reader = mustConnectAs(t, srv, "reader", "")
	if err := reader.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil || n != 2 {
		t.Fatalf("after a restart: %d, %v", n, err)
	}
	mustExec(t, admin, "REVOKE SELECT ON t FROM reader")
	denied("SELECT * FROM t", "permission denied for table t")
	if err := reader.QueryRow(ctx, "SELECT n FROM v").Scan(&n); err != nil {
		t.Fatalf("the other grant: %v", err)
	}
	mustExec(t, admin, "REVOKE SELECT ON v FROM reader")
	denied("SELECT n FROM v", "permission denied for materialized view v")

	// A grant on a dropped table does not pass to the table that takes
	// its id after a restart.
	mustExec(t, admin, "CREATE TABLE last (k int PRIMARY KEY)")
	mustExec(t, admin, "GRANT SELECT ON last TO reader")
	mustExec(t, admin, "DROP TABLE last")
	reader.Close(ctx)
	admin.Close(ctx)
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	srv = startServer(t, dir)
	admin = connect(t, srv)
	mustExec(t, admin, "CREATE TABLE later (k int PRIMARY KEY)")
	reader.Close(ctx)
	admin.Close(ctx)
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	srv = startServer(t, dir)
	admin = connect(t, srv)
	reader = mustConnectAs(t, srv, "reader", "")
	denied("SELECT * FROM later", "permission denied for table later")

	// A dropped role's session keeps no rights and gains none.
	mustExec(t, admin, "GRANT SELECT ON t TO reader")
	mustExec(t, admin, "DROP ROLE reader")
	denied("SELECT * FROM t", "permission denied for table t")
	denied("CREATE TABLE mine (k int)", "")
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// The privilege functions asked about a role that does not exist fail with
// 42704, as in Postgres, rather than answer.
func TestPrivilegeFunctionsUnknownRole(t *testing.T) {
	ctx := context.Background()
	srv := startServer(t, t.TempDir())
	admin := connect(t, srv)
	mustExec(t, admin, "CREATE TABLE t (k int PRIMARY KEY)")
	mustExec(t, admin, "CREATE USER reader")
	for _, sql := range []string{
		"SELECT has_table_privilege('no_such_user', 't', 'SELECT')",
		"SELECT has_table_privilege('no_such_user', 'pg_class', 'SELECT')",
		"SELECT has_schema_privilege('no_such_user', 'public', 'USAGE')",
		"SELECT has_database_privilege('no_such_user', current_database(), 'CONNECT')",
		"SELECT has_column_privilege('no_such_user', 't', 'k', 'SELECT')",
		"SELECT has_any_column_privilege('no_such_user', 't', 'SELECT')",
		"SELECT has_function_privilege('no_such_user', 'now()', 'EXECUTE')",
		"SELECT has_sequence_privilege('no_such_user', 's', 'USAGE')",
		"SELECT pg_has_role('no_such_user', 'reader', 'MEMBER')",
		"SELECT pg_has_role('reader', 'no_such_user', 'MEMBER')",
		"SELECT pg_has_role('no_such_user', 'MEMBER')",
	} {
		_, err := admin.Exec(ctx, sql)
		if pe := pgErr(t, err); pe.Code != "42704" || pe.Message != `role "no_such_user" does not exist` {
			t.Errorf("%s: got %s %q", sql, pe.Code, pe.Message)
		}
	}
	_, err := admin.Exec(ctx, "SELECT has_table_privilege(424242::oid, 't', 'SELECT')")
	wantCode(t, "an unknown role OID", err, "42704")
	// public takes privileges but has no members, as in Postgres.
	for _, sql := range []string{"SELECT pg_has_role('public', 'reader', 'MEMBER')", "SELECT pg_has_role('reader', 'public', 'MEMBER')"} {
		_, err := admin.Exec(ctx, sql)
		wantCode(t, sql, err, "42704")
	}

	var got string
	if err := admin.QueryRow(ctx, `SELECT concat(has_table_privilege('reader', 't', 'SELECT'), has_table_privilege('public', 't', 'SELECT'),
		has_table_privilege('public', 'pg_class', 'SELECT'), has_table_privilege(current_user, 't', 'SELECT'),
		has_schema_privilege('reader', 'public', 'USAGE'), has_column_privilege('t', 'k', 'SELECT'),
		pg_has_role('reader', 'MEMBER'), has_table_privilege(NULL, 't', 'SELECT') IS NULL,
		has_table_privilege('reader'::regrole::oid, 't', 'SELECT'))`).Scan(&got); err != nil || got != "ffttttttf" {
		t.Errorf("known roles: %s, %v", got, err)
	}
}

// A role that may only read uses cursors and SQL prepared statements over
// what it was granted (drivers' named cursors are DECLARE and FETCH), while
// a prepared write is refused when it is executed.
func TestRoleCursorsAndPrepared(t *testing.T) {
	ctx := context.Background()
	srv := startServer(t, t.TempDir())
	admin := connect(t, srv)
	mustExec(t, admin, "CREATE TABLE t (k int PRIMARY KEY)")
	mustExec(t, admin, "CREATE TABLE secret (k int PRIMARY KEY)")
	mustExec(t, admin, "INSERT INTO t VALUES (1), (2), (3)")
	mustExec(t, admin, "CREATE USER reader")
	mustExec(t, admin, "GRANT SELECT ON t TO reader")
	reader := mustConnectAs(t, srv, "reader", "")

	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement} {
		mustExec(t, reader, "BEGIN")
		if _, err := reader.Exec(ctx, `DECLARE "c1" CURSOR WITHOUT HOLD FOR SELECT k FROM t ORDER BY k`, mode); err != nil {
			t.Fatalf("DECLARE (%v): %v", mode, err)
		}
		var sum, n int
		rows, err := reader.Query(ctx, `FETCH FORWARD 2 FROM "c1"`, mode)
		if err != nil {
			t.Fatalf("FETCH (%v): %v", mode, err)
		}
		for rows.Next() {
			var k int
			if err := rows.Scan(&k); err != nil {
				t.Fatal(err)
			}
			sum, n = sum+k, n+1
		}
		if rows.Close(); rows.Err() != nil || n != 2 || sum != 3 {
			t.Fatalf("FETCH (%v): %d rows, sum %d, %v", mode, n, sum, rows.Err())
		}
		if _, err := reader.Exec(ctx, `CLOSE "c1"`, mode); err != nil {
			t.Fatalf("CLOSE (%v): %v", mode, err)
		}
		mustExec(t, reader, "COMMIT")
	}
	if _, err := reader.Exec(ctx, "DECLARE h CURSOR WITH HOLD FOR SELECT k FROM t"); err != nil {
		t.Fatalf("DECLARE WITH HOLD: %v", err)
	}
	mustExec(t, reader, "CLOSE h")
	mustExec(t, reader, "BEGIN")
	mustExec(t, reader, "DECLARE s CURSOR FOR SELECT k FROM secret")
	_, err := reader.Exec(ctx, "FETCH ALL FROM s")
	wantCode(t, "FETCH from a cursor over an ungranted table", err, "42501")
	mustExec(t, reader, "ROLLBACK")

	mustExec(t, reader, "PREPARE q (int) AS SELECT count(*) FROM t WHERE k >= $1")
	var n int
	if err := reader.QueryRow(ctx, "EXECUTE q (2)", pgx.QueryExecModeSimpleProtocol).Scan(&n); err != nil || n != 2 {
		t.Fatalf("EXECUTE of a granted SELECT: %d, %v", n, err)
	}
	mustExec(t, reader, "DEALLOCATE q")
	for _, prep := range []string{
		"PREPARE w AS INSERT INTO t VALUES (9)",
		"PREPARE w AS UPDATE t SET k = k + 10",
		"PREPARE w AS DELETE FROM t",
		"PREPARE w AS SELECT k FROM secret",
	} {
		mustExec(t, reader, prep)
		_, err := reader.Exec(ctx, "EXECUTE w", pgx.QueryExecModeSimpleProtocol)
		wantCode(t, prep, err, "42501")
		mustExec(t, reader, "DEALLOCATE w")
	}
	if err := admin.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil || n != 3 {
		t.Fatalf("t after the refused writes: %d, %v", n, err)
	}
}

// A session opened as a role that was dropped since is still not a
// superuser: has_table_privilege answers as reading the relation does.
func TestPrivilegeOfDroppedSessionRole(t *testing.T) {
	ctx := context.Background()
	srv := startServer(t, t.TempDir())
	admin := connect(t, srv)
	mustExec(t, admin, "CREATE TABLE secret (k int PRIMARY KEY)")
	mustExec(t, admin, "CREATE USER gone")
	gone := mustConnectAs(t, srv, "gone", "")
	mustExec(t, admin, "DROP ROLE gone")
	_, err := gone.Exec(ctx, "SELECT * FROM secret")
	wantCode(t, "reading as a dropped role", err, "42501")
	var got string
	if err := gone.QueryRow(ctx, `SELECT concat(has_table_privilege('secret', 'SELECT'), has_table_privilege(current_user, 'secret', 'SELECT'),
		has_table_privilege('pg_class', 'SELECT'))`).Scan(&got); err != nil || got != "fft" {
		t.Errorf("has_table_privilege as a dropped role: %s, %v", got, err)
	}
}
