package engine_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

var rangeSeed = flag.Uint64("range-seed", 0, "seed of TestViewRangeScans (0: time-based)")

// textRows runs a query and returns its rows in text, sorted.
func textRows(t *testing.T, conn *pgx.Conn, sql string) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), sql, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var vals []string
		for _, v := range rows.RawValues() {
			if v == nil {
				vals = append(vals, "NULL")
			} else {
				vals = append(vals, string(v))
			}
		}
		out = append(out, strings.Join(vals, "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	slices.Sort(out)
	return out
}

// TestViewRangeScans compares range conditions on views' keys, read as key
// ranges of their arrangements, with the same conditions filtering a full
// scan of the view, on random rows and random ranges over keys of every
// kind of type, NULL keys included.
func TestViewRangeScans(t *testing.T) {
	seed := *rangeSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -range-seed=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	srv := startServer(t, "")
	conn := connect(t, srv)

	// Per column, the literals rows and bounds are drawn from.
	literals := map[string][]string{
		"k":  {"-5", "-1", "0", "1", "2", "3", "10", "9223372036854775807"},
		"s":  {"''", "'A'", "'a'", "'ab'", "'abc'", "'b'", "'é'", "'z'"},
		"n":  {"'-Infinity'", "'-1.5'", "'0'", "'0.00'", "'1.5'", "'1.50'", "'2'", "'Infinity'", "'NaN'"},
		"ts": {"'2000-01-01'", "'2000-01-01 00:00:00.000001'", "'2024-02-29 12:00'", "'1999-12-31 23:59:59'"},
		"b":  {"false", "true"},
		"f":  {"'-Infinity'", "'-0.5'", "'0'", "'-0'", "'2.25'", "'Infinity'", "'NaN'"},
	}
	cols := []string{"k", "s", "n", "ts", "b", "f"}
	mustExec(t, conn, "CREATE STREAM ev (k int8, s text, n numeric, ts timestamp, b boolean, f float8)")
	for _, c := range cols {
		mustExec(t, conn, fmt.Sprintf("CREATE MATERIALIZED VIEW by_%s AS SELECT %s, count(*) AS cnt FROM ev GROUP BY %s", c, c, c))
	}
	mustExec(t, conn, "CREATE MATERIALIZED VIEW by_s_k AS SELECT s, k, count(*) AS cnt, min(n) AS lo FROM ev GROUP BY s, k")
	lit := func(col string) string {
		if rng.IntN(8) == 0 {
			return "NULL"
		}
		vals := literals[col]
		return vals[rng.IntN(len(vals))]
	}
	var values []string
	for range 400 {
		var row []string
		for _, c := range cols {
			row = append(row, lit(c))
		}
		values = append(values, "("+strings.Join(row, ", ")+")")
	}
	mustExec(t, conn, "INSERT INTO ev VALUES "+strings.Join(values, ", "))
	if err := srv.Engine().SyncViews(context.Background()); err != nil {
		t.Fatal(err)
	}

	ops := []string{">", ">=", "<", "<="}
	// rangeCond draws a condition on col that reads a key range.
	rangeCond := func(col string) string {
		lo, hi := literals[col][rng.IntN(len(literals[col]))], literals[col][rng.IntN(len(literals[col]))]
		switch rng.IntN(4) {
		case 0:
			return fmt.Sprintf("%s BETWEEN %s AND %s", col, lo, hi)
		case 1:
			return fmt.Sprintf("%s %s %s AND %s %s %s", col, ops[rng.IntN(2)], lo, col, ops[2+rng.IntN(2)], hi)
		case 2:
			// Constant first, and a second bound on the same side.
			return fmt.Sprintf("%s %s %s AND %s %s %s", lo, ops[rng.IntN(4)], col, col, ops[rng.IntN(4)], hi)
		}
		return fmt.Sprintf("%s %s %s", col, ops[rng.IntN(4)], lo)
	}
	nonEmpty := 0
	for i := range 300 {
		view, cond := "", ""
		if i%7 == 6 {
			view = "by_s_k"
			switch rng.IntN(3) {
			case 0:
				cond = "s = " + literals["s"][rng.IntN(len(literals["s"]))]
			case 1:
				cond = "s = " + literals["s"][rng.IntN(len(literals["s"]))] + " AND " + rangeCond("k")
			default:
				cond = rangeCond("s")
			}
		} else {
			col := cols[rng.IntN(len(cols))]
			view, cond = "by_"+col, rangeCond(col)
		}
		if rng.IntN(4) == 0 {
			cond += " AND cnt > 1" // a residual filter
		}
		q := fmt.Sprintf("SELECT * FROM %s WHERE %s", view, cond)
		if plan := strings.Join(textRows(t, conn, "EXPLAIN "+q), "\n"); !strings.Contains(plan, "RangeScan") {
			t.Fatalf("%s: no range scan in\n%s", q, plan)
		}
		got := textRows(t, conn, q)
		want := textRows(t, conn, fmt.Sprintf("SELECT * FROM (SELECT * FROM %s) v WHERE %s", view, cond))
		if !slices.Equal(got, want) {
			t.Fatalf("%s:\ngot  %v\nwant %v", q, got, want)
		}
		if len(got) > 0 {
			nonEmpty++
		}
	}
	t.Logf("%d of 300 ranges not empty", nonEmpty)
}
