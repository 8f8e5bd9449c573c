package engine_test

import (
	"context"
	"testing"
)

// SQL's PREPARE and DEALLOCATE share one namespace with the protocol's
// named statements, as in Postgres.
func TestPrepareSharesProtocolStatements(t *testing.T) {
	srv := startServer(t, "")
	conn := connect(t, srv)
	ctx := context.Background()
	pc := conn.PgConn()

	// A statement prepared with SQL runs by protocol Bind/Execute.
	mustExec(t, conn, "PREPARE sq (int8) AS SELECT $1 + 1")
	res := pc.ExecPrepared(ctx, "sq", [][]byte{[]byte("41")}, nil, nil).Read()
	if res.Err != nil || len(res.Rows) != 1 || string(res.Rows[0][0]) != "42" {
		t.Fatalf("ExecPrepared of a SQL statement: %v %q", res.Err, res.Rows)
	}
	// A protocol statement's name is taken for PREPARE, runs by EXECUTE and
	// goes with DEALLOCATE (psycopg 3 deallocates its statements so).
	if _, err := pc.Prepare(ctx, "pq", "SELECT $1::text || '!'", nil); err != nil {
		t.Fatal(err)
	}
	_, err := conn.Exec(ctx, "PREPARE pq AS SELECT 1")
	if pe := pgErr(t, err); pe.Code != "42P05" {
		t.Errorf("PREPARE over a protocol statement: %v", pe)
	}
	var s string
	if err := conn.QueryRow(ctx, "EXECUTE pq('hi')").Scan(&s); err != nil || s != "hi!" {
		t.Errorf("EXECUTE of a protocol statement: %q %v", s, err)
	}
	mustExec(t, conn, "DEALLOCATE pq")
	if _, err := pc.Prepare(ctx, "pq", "SELECT 2", nil); err != nil {
		t.Errorf("Parse after DEALLOCATE: %v", err)
	}
	mustExec(t, conn, "DEALLOCATE ALL")
	res = pc.ExecPrepared(ctx, "sq", [][]byte{[]byte("1")}, nil, nil).Read()
	if pe := pgErr(t, res.Err); pe.Code != "26000" {
		t.Errorf("ExecPrepared after DEALLOCATE ALL: %v", pe)
	}
	// DISCARD ALL deallocates too.
	mustExec(t, conn, "PREPARE dq AS SELECT 1")
	mustExec(t, conn, "DISCARD ALL")
	_, err = conn.Exec(ctx, "EXECUTE dq")
	if pe := pgErr(t, err); pe.Code != "26000" {
		t.Errorf("EXECUTE after DISCARD ALL: %v", pe)
	}
}
