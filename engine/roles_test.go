package engine_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-db/sluice/engine"
	"github.com/sluice-db/sluice/pgwire"
	"github.com/sluice-db/sluice/server"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/storage"
)

// A verifier of "pencil" with the salt of RFC 7677.
const pencilVerifier = "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="

// startSCRAMServer runs a server whose one configured user is sluice with
// password admin-pw.
func startSCRAMServer(t *testing.T, dir string) *server.Server {
	t.Helper()
	v, err := pgwire.NewSCRAMVerifier("admin-pw", pgwire.DefaultSCRAMIterations)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.Start(context.Background(), server.Config{PGAddr: "127.0.0.1:0", DataDir: dir,
		Auth: pgwire.NewSCRAM(map[string]pgwire.SCRAMVerifier{"sluice": v}), Superusers: []string{"sluice"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

func connectAs(srv *server.Server, user, password string) (*pgx.Conn, error) {
	return pgx.Connect(context.Background(), "postgres://"+user+":"+password+"@"+srv.PGAddr()+"/sluice?sslmode=disable")
}

func mustConnectAs(t *testing.T, srv *server.Server, user, password string) *pgx.Conn {
	t.Helper()
	conn, err := connectAs(srv, user, password)
	if err != nil {
		t.Fatalf("%s: %v", user, err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if pe := pgErr(t, err); pe.Code != code {
		t.Errorf("%s: got %s %s, want %s", what, pe.Code, pe.Message, code)
	}
}

func TestRoles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	srv := startSCRAMServer(t, dir)
	admin := mustConnectAs(t, srv, "sluice", "admin-pw")
	mustExec(t, admin, "CREATE ROLE bob WITH LOGIN PASSWORD 'bob-pw'")
	mustExec(t, admin, "CREATE USER carol PASSWORD '"+pencilVerifier+"'")
	mustExec(t, admin, "CREATE ROLE dave")

	mustConnectAs(t, srv, "bob", "bob-pw")
	mustConnectAs(t, srv, "carol", "pencil")
	_, err := connectAs(srv, "bob", "wrong")
	wantCode(t, "wrong password", err, "28P01")
	_, err = connectAs(srv, "dave", "")
	wantCode(t, "a role without LOGIN", err, "28P01")

	// pg_roles shows the roles, never a password.
	rows, err := admin.Query(ctx, "SELECT rolname, rolcanlogin, coalesce(rolpassword, 'NULL') FROM pg_roles WHERE oid >= 16384 ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var name, pw string
		var login bool
		err := r.Scan(&name, &login, &pw)
		return strings.Join([]string{name, map[bool]string{true: "login"}[login], pw}, " "), err
	})
	if want := "bob login ********|carol login ********|dave  NULL"; err != nil || strings.Join(got, "|") != want {
		t.Errorf("pg_roles: %q, %v; want %q", got, err, want)
	}
	mustExec(t, admin, "ALTER ROLE dave LOGIN PASSWORD 'dave-pw'")
	other := mustConnectAs(t, srv, "sluice", "admin-pw")

	// A role is not a superuser; it may change its own password only.
	bob := mustConnectAs(t, srv, "bob", "bob-pw")
	_, err = bob.Exec(ctx, "CREATE ROLE eve")
	wantCode(t, "CREATE ROLE by a role", err, "42501")
	_, err = bob.Exec(ctx, "ALTER ROLE carol PASSWORD 'x'")
	wantCode(t, "ALTER ROLE of another role", err, "42501")
	_, err = bob.Exec(ctx, "ALTER ROLE bob NOLOGIN")
	wantCode(t, "ALTER ROLE self NOLOGIN", err, "42501")
	mustExec(t, bob, "ALTER ROLE bob PASSWORD 'bob-pw2'")
	if v := bob.PgConn().ParameterStatus("is_superuser"); v != "off" {
		t.Errorf("is_superuser of a role: %q", v)
	}
	if v := admin.PgConn().ParameterStatus("is_superuser"); v != "on" {
		t.Errorf("is_superuser of a configured user: %q", v)
	}
	// psql's \password hashes on the client after asking for the algorithm.
	var algorithm string
	if err := bob.QueryRow(ctx, "SHOW password_encryption").Scan(&algorithm); err != nil || algorithm != "scram-sha-256" {
		t.Errorf("password_encryption: %q, %v", algorithm, err)
	}

	for sql, code := range map[string]string{
		"CREATE ROLE bob":           "42710",
		"CREATE ROLE sluice":        "42710",
		"CREATE ROLE pg_x":          "42939",
		"CREATE ROLE x SUPERUSER":   "0A000",
		"ALTER ROLE nobody LOGIN":   "42704",
		"ALTER ROLE sluice NOLOGIN": "0A000",
		"DROP ROLE nobody":          "42704",
	} {
		_, err := admin.Exec(ctx, sql)
		wantCode(t, sql, err, code)
	}

	// Role statements are transactional: a rolled back CREATE ROLE leaves
	// no role, a savepoint takes back what followed it, and a commit that
	// lost a race for a name fails.
	mustExec(t, admin, "BEGIN")
	mustExec(t, admin, "CREATE ROLE x LOGIN PASSWORD 'x-pw'")
	mustExec(t, admin, "ALTER ROLE x PASSWORD 'x-pw2'")
	mustExec(t, admin, "ROLLBACK")
	_, err = admin.Exec(ctx, "ALTER ROLE x LOGIN")
	wantCode(t, "a rolled back role", err, "42704")
	mustExec(t, admin, "BEGIN")
	mustExec(t, admin, "CREATE ROLE x LOGIN PASSWORD 'x-pw'")
	mustExec(t, admin, "SAVEPOINT s")
	mustExec(t, admin, "DROP ROLE x")
	mustExec(t, admin, "ROLLBACK TO SAVEPOINT s")
	if _, err := connectAs(srv, "x", "x-pw"); err == nil {
		t.Error("a role showed before its transaction committed")
	}
	mustExec(t, admin, "COMMIT")
	mustConnectAs(t, srv, "x", "x-pw").Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE ROLE y LOGIN PASSWORD 'y-pw'; ALTER ROLE y PASSWORD 'y-pw2'", pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatalf("role statements in one query string: %v", err)
	}
	mustConnectAs(t, srv, "y", "y-pw2").Close(ctx)
	mustExec(t, admin, "BEGIN")
	mustExec(t, admin, "CREATE ROLE z")
	mustExec(t, other, "CREATE ROLE z")
	_, err = admin.Exec(ctx, "COMMIT")
	wantCode(t, "a commit that lost the race for a name", err, "42710")
	mustExec(t, admin, "BEGIN")
	mustExec(t, admin, "ALTER ROLE z LOGIN")
	mustExec(t, other, "ALTER ROLE z PASSWORD 'z-pw'")
	_, err = admin.Exec(ctx, "COMMIT")
	wantCode(t, "a commit over a concurrent change", err, "40001")

	// Roles survive a restart.
	bob.Close(ctx)
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	srv = startSCRAMServer(t, dir)
	mustConnectAs(t, srv, "bob", "bob-pw2")
	mustConnectAs(t, srv, "dave", "dave-pw").Close(ctx)
	_, err = connectAs(srv, "bob", "bob-pw")
	wantCode(t, "the old password", err, "28P01")

	admin = mustConnectAs(t, srv, "sluice", "admin-pw")
	mustExec(t, admin, "ALTER ROLE dave NOLOGIN")
	_, err = connectAs(srv, "dave", "dave-pw")
	wantCode(t, "NOLOGIN", err, "28P01")
	mustExec(t, admin, "DROP ROLE bob, carol")
	mustExec(t, admin, "DROP ROLE IF EXISTS bob")
	_, err = connectAs(srv, "bob", "bob-pw2")
	wantCode(t, "a dropped role", err, "28P01")
}

// Under trust a role connects without a password but is still not a
// superuser, and a role without LOGIN is refused.
func TestRolesUnderTrust(t *testing.T) {
	ctx := context.Background()
	srv := startServer(t, "")
	admin := connect(t, srv)
	mustExec(t, admin, "CREATE USER bob")
	mustExec(t, admin, "CREATE ROLE dave")
	bob := mustConnectAs(t, srv, "bob", "")
	_, err := bob.Exec(ctx, "DROP ROLE dave")
	wantCode(t, "DROP ROLE by a role", err, "42501")
	_, err = connectAs(srv, "dave", "")
	wantCode(t, "a role without LOGIN", err, "28000")
	_, err = admin.Exec(ctx, "DROP ROLE bob")
	if err != nil {
		t.Fatal(err)
	}
}

// A damaged role record stops the start, naming the record, never its verifier.
func TestRoleRecordCorrupt(t *testing.T) {
	for name, record := range map[string]string{
		"json":     `{"oid": 16390, "name": "x"`,
		"key":      `{"oid": 16390, "name": "y"}`,
		"verifier": `{"oid": 16390, "name": "x", "login": true, "verifier": "SCRAM-SHA-256$4096:c2FsdA==$secretstuff"}`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			db, err := storage.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			txn := db.Begin()
			txn.PutMeta("role/x", []byte(record))
			if err := txn.Commit(); err != nil {
				t.Fatal(err)
			}
			_, err = engine.New(db)
			if e, ok := sqlerr.As(err); !ok || e.Code != sqlerr.DataCorrupted || !strings.Contains(e.Message, `"role/x"`) || strings.Contains(e.Message, "secretstuff") {
				t.Errorf("got %v, want XX001 naming role/x", err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
