package engine

import (
	"fmt"
	"testing"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/sluice-db/sluice/parser"
)

// TestByQueryKeepsRepeatedStrings checks the admission rule: a string is
// kept the second time it is offered, so a stream of one-off strings (a
// panel's time range expanded into literals) never pushes out one that
// repeats.
func TestByQueryKeepsRepeatedStrings(t *testing.T) {
	b := byQuery[string, int]{max: 4}
	const top = "SELECT auction, bids FROM top_auctions"
	offer := func(sql string, v int) {
		if b.admit(sql) {
			b.put(sql, v)
		}
	}
	offer(top, 1)
	if _, ok := b.get(top); ok {
		t.Fatal("a string offered once was kept")
	}
	offer(top, 1)
	if v, ok := b.get(top); !ok || v != 1 {
		t.Fatalf("a string offered twice was not kept: %v %v", v, ok)
	}
	for i := range 100 {
		offer(fmt.Sprintf("SELECT * FROM bids_per_minute WHERE window_start > '%d'", i), i)
		if _, ok := b.get(top); !ok {
			t.Fatalf("one-off string %d pushed out the repeated one", i)
		}
	}
	if len(b.vals) != 1 || len(b.offered) > b.max || len(b.offeredOrder) > b.max {
		t.Fatalf("kept %d values and %d offers (%d in order), want 1 and at most %d", len(b.vals), len(b.offered), len(b.offeredOrder), b.max)
	}
	// Repeated strings still take turns once they are more than max.
	for i := range 6 {
		sql := fmt.Sprintf("SELECT %d", i)
		offer(sql, i)
		offer(sql, i)
	}
	if len(b.vals) != b.max {
		t.Fatalf("kept %d values, want %d", len(b.vals), b.max)
	}
	if _, ok := b.get("SELECT 5"); !ok {
		t.Fatal("the newest repeated string was not kept")
	}
}

// TestTreeCacheSkipsOneOffs checks that the engine-wide tree cache keeps a
// query's tree from its second parse on, and then hands out that tree
// itself, without copying it (the planner only reads trees).
func TestTreeCacheSkipsOneOffs(t *testing.T) {
	c := newTreeCache(8)
	const sql = "SELECT bids FROM auction_bids WHERE auction = 7"
	var trees []*pg.Node
	for i := range 3 {
		stmts, err := c.parse(parser.Default, sql)
		if err != nil {
			t.Fatal(err)
		}
		if len(stmts) != 1 {
			t.Fatalf("parse %d: %d statements", i, len(stmts))
		}
		_, kept := c.trees.get(sql)
		if want := i >= 1; kept != want {
			t.Fatalf("after parse %d: kept = %v, want %v", i, kept, want)
		}
		trees = append(trees, stmts[0].AST)
	}
	if trees[0] == trees[1] || trees[1] != trees[2] {
		t.Fatal("want a fresh tree, then the kept one twice")
	}
	// A hit costs the one-statement slice, no copy of the tree.
	if n := testing.AllocsPerRun(100, func() {
		if _, err := c.parse(parser.Default, sql); err != nil {
			t.Fatal(err)
		}
	}); n > 1 {
		t.Fatalf("a cache hit allocates %.0f times, want at most 1", n)
	}
}

// BenchmarkPlanCacheGet looks up kept plans from every core at once, as a
// thousand dashboard sessions do (run with -cpu 1,2,... and -mutexprofile
// to see whether the shards' locks are waited for).
func BenchmarkPlanCacheGet(b *testing.B) {
	c := newPlanCache(planCacheSize)
	keys := make([]planKey, 64)
	for i := range keys {
		keys[i] = planKey{sql: fmt.Sprintf("SELECT * FROM bids_per_minute WHERE window_start > '%d'", i), ver: 1, env: "UTC"}
		c.offer(keys[i], sharedPlan{})
		c.offer(keys[i], sharedPlan{})
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, ok := c.get(keys[i%len(keys)]); !ok {
				b.Fatal("a kept plan was not found")
			}
			i++
		}
	})
}

// TestReadsClock checks that every spelling of a word naming the time of
// day is found, in any case and at any place, and that a dashboard's
// range with literal times is not taken for one.
func TestReadsClock(t *testing.T) {
	for sql, want := range map[string]bool{
		"SELECT now()":                           true,
		"select NOW() - interval '1 hour'":       true,
		"SELECT 1 WHERE ts > CURRENT_TIMESTAMP":  true,
		"SELECT 'Today'::date":                   true,
		"SELECT 'tomorrow'::timestamptz":         true,
		"SELECT 'YESTERDAY'::date":               true,
		"SELECT LocalTime":                       true,
		"SELECT current_date":                    true,
		"SELECT 1 FROM t WHERE x = 'no'":         false,
		"SELECT 1 FROM t WHERE x = 'no":          false,
		"SELECT auction, bids FROM top_auctions": false,
		"SELECT 1 FROM t WHERE a = 'nowhere'":    true, // a false positive costs a plan
		"SELECT 1 FROM t WHERE x = 'localtim'":   false,
		"SELECT 1 FROM t WHERE x = 'current'":    false,
		"SELECT window_start AS \"time\", channel, bids, volume FROM bids_per_minute WHERE window_start BETWEEN '2026-12-06T06:00:00Z'::timestamptz AND '2026-12-06T07:00:00Z'::timestamptz ORDER BY 1, 2": false,
	} {
		if got := readsClock(sql); got != want {
			t.Errorf("readsClock(%q) = %v, want %v", sql, got, want)
		}
	}
}
