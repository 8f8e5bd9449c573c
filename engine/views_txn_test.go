package engine_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// A view created in a transaction block whose name another session took
// before COMMIT fails the COMMIT with 42P07, and the whole block rolls back.
func TestCreateViewInBlockConflict(t *testing.T) {
	ctx := context.Background()
	srv := startServer(t, "")
	a, b := connect(t, srv), connect(t, srv)
	mustExec(t, a, "BEGIN")
	mustExec(t, a, "CREATE TABLE blk (k int PRIMARY KEY)")
	mustExec(t, a, "CREATE MATERIALIZED VIEW taken AS SELECT count(*) AS n FROM blk")
	mustExec(t, b, "CREATE TABLE taken (k int)")
	_, err := a.Exec(ctx, "COMMIT")
	wantCode(t, "COMMIT of a view whose name was taken", err, "42P07")
	var n int
	if err := b.QueryRow(ctx, "SELECT count(*) FROM pg_class WHERE relname = 'blk'").Scan(&n); err != nil || n != 0 {
		t.Fatalf("the block's table after the failed COMMIT: %d, %v", n, err)
	}

	// Sequences share the namespace: a sequence another session created
	// takes a staged view's or table's name, and a table a staged
	// sequence's.
	for i, clash := range []struct{ staged, other string }{
		{"CREATE MATERIALIZED VIEW clash AS SELECT count(*) AS n FROM blk", "CREATE SEQUENCE clash"},
		{"CREATE TABLE clash (k int)", "CREATE SEQUENCE clash"},
		{"CREATE SEQUENCE clash", "CREATE TABLE clash (k int)"},
	} {
		mustExec(t, a, "BEGIN")
		mustExec(t, a, "CREATE TABLE blk (k int PRIMARY KEY)")
		mustExec(t, a, clash.staged)
		mustExec(t, b, clash.other)
		_, err = a.Exec(ctx, "COMMIT")
		wantCode(t, fmt.Sprintf("COMMIT of %q after %q", clash.staged, clash.other), err, "42P07")
		mustExec(t, b, "DROP "+strings.Fields(clash.other)[1]+" clash")
		if i == 0 {
			// The sequence a block dropped no longer takes the name.
			mustExec(t, b, "CREATE SEQUENCE clash")
			mustExec(t, a, "BEGIN")
			mustExec(t, a, "DROP SEQUENCE clash")
			mustExec(t, a, "CREATE TABLE clash (k int)")
			mustExec(t, a, "COMMIT")
			mustExec(t, a, "DROP TABLE clash")
		}
	}

	// A view reading a relation another session dropped before COMMIT.
	mustExec(t, b, "CREATE TABLE src (k int)")
	mustExec(t, a, "BEGIN")
	mustExec(t, a, "CREATE TABLE blk (k int PRIMARY KEY)")
	mustExec(t, a, "CREATE MATERIALIZED VIEW reads_src AS SELECT count(*) AS n FROM src")
	mustExec(t, b, "DROP TABLE src")
	_, err = a.Exec(ctx, "COMMIT")
	wantCode(t, "COMMIT of a view whose relation was dropped", err, "42P01")
	if err := b.QueryRow(ctx, "SELECT count(*) FROM pg_class WHERE relname IN ('blk', 'reads_src')").Scan(&n); err != nil || n != 0 {
		t.Fatalf("the block's relations after the failed COMMIT: %d, %v", n, err)
	}
}

// A relation a view of the block reads cannot be dropped in the block
// (2BP01 as in Postgres) unless with CASCADE, which drops the view too: it
// is never created.
func TestDropReadByViewInBlock(t *testing.T) {
	ctx := context.Background()
	srv := startServer(t, "")
	c := connect(t, srv)
	mustExec(t, c, "CREATE TABLE dsrc (k int PRIMARY KEY)")
	mustExec(t, c, "BEGIN")
	mustExec(t, c, "CREATE MATERIALIZED VIEW dview AS SELECT count(*) AS n FROM dsrc")
	_, err := c.Exec(ctx, "DROP TABLE dsrc")
	wantCode(t, "DROP TABLE dsrc", err, "2BP01")
	mustExec(t, c, "ROLLBACK")

	mustExec(t, c, "BEGIN")
	mustExec(t, c, "CREATE MATERIALIZED VIEW dview AS SELECT count(*) AS n FROM dsrc")
	mustExec(t, c, "CREATE MATERIALIZED VIEW dview2 AS SELECT n FROM dview")
	mustExec(t, c, "DROP TABLE dsrc CASCADE")
	mustExec(t, c, "COMMIT")
	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM pg_class WHERE relname IN ('dsrc', 'dview', 'dview2')").Scan(&n); err != nil || n != 0 {
		t.Fatalf("relations left after DROP … CASCADE in the block: %d, %v", n, err)
	}
}
