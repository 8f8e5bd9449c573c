//go:build integration

package difftest

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/sluice-db/sluice/internal/randtest"
	"github.com/sluice-db/sluice/server"
)

// distinctArgs are the columns of dv_t a view's DISTINCT calls take, with
// the DISTINCT calls that apply to each. Numerics have two decimals and
// floats are quarters, so that equal values print alike and sums are
// exact: which of 1.0 and 1.00 a DISTINCT keeps, and the rounding of a
// float sum, depend on the order rows come in.
var distinctArgs = []struct {
	col   string
	calls []string
}{
	{"xi", []string{"count", "sum", "avg", "min", "max"}},
	{"xn", []string{"count", "sum", "avg", "min", "max"}},
	{"xf", []string{"count", "sum", "avg", "min", "max"}},
	{"xt", []string{"count", "min", "max"}},
	{"ok", []string{"count", "bool_and", "bool_or"}},
}

// distinctOthers are the calls a view draws beside its DISTINCT calls,
// which the planner computes as partials of the inner aggregate.
var distinctOthers = []string{
	"count(*)", "count(y)", "sum(y)", "avg(y)", "min(y)", "max(yn)", "sum(yn)", "avg(yn)",
	"min(xt)", "bool_and(ok)", "bool_or(ok)", "count(*) FILTER (WHERE ok)", "sum(yn) FILTER (WHERE y > 2)",
}

// distinctView draws a view's query over dv_t: grouped by k (or k and
// xi % 2) or global, with 1 to 3 DISTINCT calls of one column, some with
// a FILTER, and 0 to 3 other calls.
func distinctView(r *rand.Rand) string {
	arg := distinctArgs[r.Intn(len(distinctArgs))]
	var items []string
	for n := 1 + r.Intn(3); n > 0; n-- {
		call := fmt.Sprintf("%s(DISTINCT %s)", arg.calls[r.Intn(len(arg.calls))], arg.col)
		if r.Intn(4) == 0 {
			call += " FILTER (WHERE y IS NOT NULL)"
		}
		items = append(items, call)
	}
	for n := r.Intn(4); n > 0; n-- {
		items = append(items, distinctOthers[r.Intn(len(distinctOthers))])
	}
	r.Shuffle(len(items), func(i, j int) { items[i], items[j] = items[j], items[i] })
	for i := range items {
		items[i] += fmt.Sprintf(" AS c%d", i)
	}
	switch r.Intn(3) {
	case 0:
		return "SELECT " + strings.Join(items, ", ") + " FROM dv_t"
	case 1:
		return "SELECT k, " + strings.Join(items, ", ") + " FROM dv_t GROUP BY k"
	}
	return "SELECT k, xi % 2 AS parity, " + strings.Join(items, ", ") + " FROM dv_t GROUP BY k, xi % 2"
}

// distinctRow draws a row of dv_t, with NULLs: the DISTINCT arguments of
// domain values apart (of 5 to 7 values, so that they repeat, or
// thousands, so that the aggregates hold many groups), the others of
// small domains.
func distinctRow(r *rand.Rand, id, domain int) string {
	null := func(v string) string {
		if r.Intn(5) == 0 {
			return "NULL"
		}
		return v
	}
	return fmt.Sprintf("(%d, %s, %s, %s, %s, %s, %s, %s, %s)", id,
		null(fmt.Sprintf("'k%d'", r.Intn(4))),
		null(fmt.Sprint(r.Intn(domain+2)-2)),
		null(fmt.Sprintf("%d.%02d", r.Intn(domain)-1, 25*r.Intn(4))),
		null(fmt.Sprintf("%g", float64(r.Intn(domain*2)-4)/4)),
		null(fmt.Sprintf("'t%d'", r.Intn(domain+1))),
		null(fmt.Sprint([]string{"true", "false"}[r.Intn(2)])),
		null(fmt.Sprint(r.Intn(5))),
		null(fmt.Sprintf("%d.%d", r.Intn(20), r.Intn(10))))
}

// TestDistinctAggregateViews maintains random views of DISTINCT
// aggregates (which the planner lowers to two aggregates) over a table
// that random inserts, updates and deletes change, and compares every
// view after every change with its query run by PostgreSQL. Half the
// runs set a memory limit of a few KiB, so that the aggregates spill.
func TestDistinctAggregateViews(t *testing.T) {
	seed := randtest.Seed(t)
	r := rand.New(rand.NewSource(seed))
	cfg := server.Config{Workers: 1 + r.Intn(3)}
	if r.Intn(2) == 0 {
		cfg.MemoryLimit = int64(1+r.Intn(32)) << 10
	}
	// A wide run's inner aggregates hold thousands of groups, so that
	// under a limit they spill (an instance keeps 256 in memory).
	domain, rows := 5, 30
	if r.Intn(2) == 0 {
		domain, rows = 3000, 300
	}
	t.Logf("workers %d, memory limit %d, domain %d", cfg.Workers, cfg.MemoryLimit, domain)
	p, srv := newServerPair(t, cfg)
	ctx := context.Background()
	p.exec(t, ctx, "CREATE TABLE dv_t (id int PRIMARY KEY, k text, xi int, xn numeric, xf float8, xt text, ok boolean, y int, yn numeric)")
	views := make([]string, 8)
	for i := range views {
		views[i] = distinctView(r)
		if res := p.sl.run(ctx, fmt.Sprintf("CREATE MATERIALIZED VIEW dv_%d AS %s", i, views[i])); res.err != nil {
			t.Fatalf("sluice: view %s: %v", views[i], res.err)
		}
	}
	next := 0
	for epoch := 0; epoch < 12; epoch++ {
		if epoch > 0 {
			for _, stmt := range distinctChanges(r, &next, domain, rows, epoch == 11) {
				p.exec(t, ctx, stmt)
			}
		}
		if err := srv.Engine().SyncViews(ctx); err != nil {
			t.Fatal(err)
		}
		for i, q := range views {
			pg := p.pg.run(ctx, q)
			sl := p.sl.run(ctx, fmt.Sprintf("SELECT * FROM dv_%d", i))
			if why := diff(pg, sl, false); why != "" {
				t.Fatalf("seed %d, epoch %d: view %s: %s\n  postgres: %s\n  sluice:   %s", seed, epoch, q, why, pg, sl)
			}
		}
	}
}

// distinctChanges draws an epoch's changes to dv_t: inserts of up to rows
// new ids (next is the first; values of domain: distinctRow), updates and
// deletes of some of the rows, or, when clear, the deletion of every row.
func distinctChanges(r *rand.Rand, next *int, domain, rows int, clear bool) []string {
	if clear {
		return []string{"DELETE FROM dv_t"}
	}
	var values []string
	for n := 1 + r.Intn(rows); n > 0; n-- {
		values = append(values, distinctRow(r, *next, domain))
		*next++
	}
	stmts := []string{"INSERT INTO dv_t VALUES " + strings.Join(values, ", ")}
	m := 2 + r.Intn(6)
	switch r.Intn(3) {
	case 0:
		stmts = append(stmts, fmt.Sprintf("DELETE FROM dv_t WHERE id %% %d = %d", m, r.Intn(m)))
	case 1:
		stmts = append(stmts, fmt.Sprintf("UPDATE dv_t SET xi = xi + 1, xt = NULL, ok = NOT ok WHERE id %% %d = %d", m, r.Intn(m)))
	default:
		stmts = append(stmts, fmt.Sprintf("UPDATE dv_t SET k = 'k9', xf = xf * 2, xn = xn + 1.25, y = NULL WHERE id %% %d = %d", m, r.Intn(m)))
	}
	return stmts
}
