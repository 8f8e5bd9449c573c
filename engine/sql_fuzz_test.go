package engine_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluice-db/sluice/server"
	"github.com/sluice-db/sluice/sqllogictest"
)

// fuzzSchema is what every FuzzSQL input finds, whatever earlier inputs
// dropped: a table, a stream and a view of each kind of operator.
const fuzzSchema = `CREATE TABLE IF NOT EXISTS t (id int4 PRIMARY KEY, a int8, n numeric(10,2), s text, f bool, d date, ts timestamptz, j jsonb);
CREATE TABLE IF NOT EXISTS u (k int4, s text, arr int4[]);
CREATE STREAM IF NOT EXISTS ev (k int4, v float8, s text, ts timestamptz, WATERMARK FOR ts AS ts - INTERVAL '1 second');
CREATE MATERIALIZED VIEW IF NOT EXISTS agg AS SELECT k, count(*) AS n, sum(v) AS v FROM ev GROUP BY k;
CREATE MATERIALIZED VIEW IF NOT EXISTS win AS SELECT window_start, k, max(v) AS v FROM TUMBLE(ev, ts, INTERVAL '1 minute') GROUP BY window_start, k;
CREATE MATERIALIZED VIEW IF NOT EXISTS joined AS SELECT ev.k, t.s, ev.v FROM ev JOIN t ON ev.k = t.id`

// FuzzSQL sends arbitrary SQL text to a server over the simple query
// protocol: every input either runs or fails with a SQLSTATE other than
// XX000 (an internal error: a panic the connection recovered, or a
// condition the engine calls a bug), and the server keeps answering. The
// seeds are every statement and query of the .slt corpus.
func FuzzSQL(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("..", "sqllogictest", "testdata", "*.slt"))
	if err != nil {
		f.Fatal(err)
	}
	for _, path := range files {
		sf, err := sqllogictest.ParseFile(path)
		if err != nil {
			f.Fatal(err)
		}
		for _, r := range sf.Records {
			if r.Kind == sqllogictest.KindStatement || r.Kind == sqllogictest.KindQuery {
				f.Add(r.SQL)
			}
		}
	}
	srv, err := server.Start(context.Background(), server.Config{PGAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", DataDir: f.TempDir()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = srv.Close() })
	ctx := context.Background()
	url := "postgres://sluice@" + srv.PGAddr() + "/sluice?sslmode=disable"
	var conn *pgconn.PgConn
	f.Cleanup(func() {
		if conn != nil {
			_ = conn.Close(ctx)
		}
	})
	// ready connects again if an input ended the connection (a FATAL
	// error, pg_terminate_backend of its own pid), and gives the session
	// its settings and the schema.
	ready := func() error {
		if conn == nil || conn.IsClosed() {
			c, err := pgconn.Connect(ctx, url)
			if err != nil {
				return err
			}
			conn = c
		}
		_, err := conn.Exec(ctx, "ROLLBACK; RESET ALL; SET statement_timeout = '2s'; "+fuzzSchema).ReadAll()
		return err
	}
	if err := ready(); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_, err := conn.Exec(qctx, sql).ReadAll()
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "XX000" {
			t.Fatalf("internal error for %q: %s", sql, pe.Message)
		}
		if err := ready(); err != nil {
			t.Fatalf("after %q the server no longer answers: %v", sql, err)
		}
	})
}
