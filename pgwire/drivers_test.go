package pgwire

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/lib/pq"
)

func connectPgx(t *testing.T, ts *testServer, extra string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, ts.url(extra))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func TestPgx(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	conn := connectPgx(t, ts, "&application_name=pgxtest")
	if v := conn.PgConn().ParameterStatus("server_version"); v != "16.4 (Sluice)" {
		t.Fatalf("server_version %q", v)
	}
	if v := conn.PgConn().ParameterStatus("application_name"); v != "pgxtest" {
		t.Fatalf("application_name %q", v)
	}

	var n int32
	if err := conn.QueryRow(ctx, "select 7").Scan(&n); err != nil || n != 7 {
		t.Fatalf("select 7: %d, %v", n, err)
	}

	// Parameters: int8 goes binary both ways; text goes text.
	var i8 int64
	if err := conn.QueryRow(ctx, "echo $1::int8", int64(-1234567890123)).Scan(&i8); err != nil || i8 != -1234567890123 {
		t.Fatalf("echo int8: %d, %v", i8, err)
	}
	var s string
	if err := conn.QueryRow(ctx, "echo $1", "héllo").Scan(&s); err != nil || s != "héllo" {
		t.Fatalf("echo text: %q, %v", s, err)
	}
	var ns *string
	if err := conn.QueryRow(ctx, "echo $1", nil).Scan(&ns); err != nil || ns != nil {
		t.Fatalf("echo NULL: %v, %v", ns, err)
	}
	// The same with the simple protocol (client-side interpolation).
	if err := conn.QueryRow(ctx, "select 9", pgx.QueryExecModeSimpleProtocol).Scan(&n); err != nil || n != 9 {
		t.Fatalf("simple protocol: %d, %v", n, err)
	}

	// Prepared statement, multi-chunk results.
	if _, err := conn.Prepare(ctx, "s5", "series 5"); err != nil {
		t.Fatal(err)
	}
	rows, err := conn.Query(ctx, "s5")
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil || len(got) != 5 || got[4] != 5 {
		t.Fatalf("series: %v, %v", got, err)
	}
	if _, err := conn.PgConn().Prepare(ctx, "s5", "select 1", nil); !isCode(err, "42P05") {
		t.Fatalf("duplicate prepare: %v", err)
	}

	// ExecParams with explicit result formats.
	rr := conn.PgConn().ExecParams(ctx, "echo $1::int8", [][]byte{[]byte("42")}, []uint32{20}, []int16{0}, []int16{1})
	res := rr.Read()
	if res.Err != nil || len(res.Rows) != 1 || binary.BigEndian.Uint64(res.Rows[0][0]) != 42 ||
		res.FieldDescriptions[0].Format != 1 {
		t.Fatalf("ExecParams binary: %+v", res)
	}
	rr = conn.PgConn().ExecParams(ctx, "echo $1::int8", [][]byte{{0, 0, 0, 0, 0, 0, 0, 42}}, []uint32{20}, []int16{1}, []int16{0})
	res = rr.Read()
	if res.Err != nil || string(res.Rows[0][0]) != "42" {
		t.Fatalf("ExecParams text: %+v", res)
	}

	// Errors keep their fields.
	_, err = conn.Exec(ctx, "error")
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "42601" || pe.Position != 3 || pe.Hint != "try again" || pe.Detail != "some detail" {
		t.Fatalf("error: %#v", err)
	}
	_, err = conn.Exec(ctx, "echo $1::int8", "not a number")
	if err == nil {
		t.Fatal("expected an error")
	}

	// Transactions report their status.
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st := conn.PgConn().TxStatus(); st != 'T' {
		t.Fatalf("tx status %c", st)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}

	// CancelRequest from another connection.
	errc := make(chan error, 1)
	go func() { _, err := conn.Exec(ctx, "sleep"); errc <- err }()
	waitFor(t, ts.be.started)
	if err := conn.PgConn().CancelRequest(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !isCode(err, "57014") {
		t.Fatalf("cancelled query: %v", err)
	}
	<-ts.be.ended
	if err := conn.QueryRow(ctx, "select 8").Scan(&n); err != nil || n != 8 {
		t.Fatalf("after cancel: %d, %v", n, err)
	}
}

func TestPgxContextCancel(t *testing.T) {
	ts := startServer(t)
	cfg, err := pgx.ParseConfig(ts.url("&sslmode=prefer"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: 5 * time.Second}
	}
	conn, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		waitFor(t, ts.be.started)
		cancel()
	}()
	_, err = conn.Exec(ctx, "sleep")
	if !isCode(err, "57014") {
		t.Fatalf("got %v", err)
	}
	<-ts.be.ended
	var n int32
	if err := conn.QueryRow(context.Background(), "select 5").Scan(&n); err != nil || n != 5 {
		t.Fatalf("after cancel: %d, %v", n, err)
	}
}

func isCode(err error, code string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == code
}

func TestLibPQ(t *testing.T) {
	ts := startServer(t)
	db, err := sql.Open("postgres", ts.url(""))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("select 5").Scan(&n); err != nil || n != 5 {
		t.Fatalf("select 5: %d, %v", n, err)
	}
	var s string
	if err := db.QueryRow("echo $1", "hi").Scan(&s); err != nil || s != "hi" {
		t.Fatalf("echo: %q, %v", s, err)
	}
	var i8 int64
	if err := db.QueryRow("echo $1::int8", 77).Scan(&i8); err != nil || i8 != 77 {
		t.Fatalf("echo int8: %d, %v", i8, err)
	}
	rows, err := db.Query("series 4")
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		sum += v
	}
	if rows.Err() != nil || sum != 10 {
		t.Fatalf("series: %d, %v", sum, rows.Err())
	}
	var nt []sql.NullString
	rows, err = db.Query("text")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var v sql.NullString
		_ = rows.Scan(&v)
		nt = append(nt, v)
	}
	if len(nt) != 3 || nt[1].Valid || nt[2].String != "ccc" {
		t.Fatalf("text rows %v", nt)
	}
	_, err = db.Exec("error")
	var pqe *pq.Error
	if !errors.As(err, &pqe) || pqe.Code != "42601" || pqe.Position != "3" {
		t.Fatalf("error: %#v", err)
	}

	// COPY FROM STDIN through lib/pq's CopyIn, inside a transaction.
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	st, err := tx.Prepare(pq.CopyIn("t", "a"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"x", "y", "z"} {
		if _, err := st.Exec(v); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.Exec(); err != nil {
		t.Fatal(err)
	}
	_ = st.Close()
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	// Context cancellation sends a CancelRequest.
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		waitFor(t, ts.be.started)
		cancel()
	}()
	_, err = db.ExecContext(ctx, "sleep")
	if err == nil {
		t.Fatal("sleep was not cancelled")
	}
	<-ts.be.ended
}

func TestPsql(t *testing.T) {
	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Skip("psql not installed")
	}
	ts := startServer(t)
	_, port, _ := net.SplitHostPort(ts.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, psql, "-X", "-h", "127.0.0.1", "-p", port, "-U", "alice", "-d", "db",
		"-c", "select 1", "-c", "text", "-c", "error")
	cmd.Env = append(cmd.Environ(), "PGCONNECT_TIMEOUT=5", "PGSSLMODE=prefer")
	out, err := cmd.CombinedOutput()
	got := string(out)
	for _, want := range []string{"?column?", " 1\n", "(1 row)", "ccc", "ERROR:  boom", "HINT:  try again"} {
		if !strings.Contains(got, want) {
			t.Fatalf("psql output lacks %q (err %v):\n%s", want, err, got)
		}
	}
}
