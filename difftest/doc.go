// Package difftest holds Sluice's differential tests: random SQL run against
// Sluice and against PostgreSQL (the oracle), whose answers must agree row for
// row, error for error (by SQLSTATE).
//
// It owns no production code; everything lives in its tests. The generator
// (gen_test.go) needs nothing but Go and is checked by `make test`; the
// comparison (difftest_test.go, build tag integration) needs a throw-away
// PostgreSQL at $SLUICE_TEST_PG_URL (scripts/pg-test-cluster.sh) and skips
// without one. Every run logs its seed; SLUICE_SEED=<n> replays it, and
// SLUICE_DIFF_QUERIES=<n> sets how many queries a run draws (default 300).
// A mismatch is shrunk and saved under testdata/regressions/<seed>.sql, a
// self-contained script that TestRegressions replays against both systems.
// Query shapes Sluice is known to get wrong are listed, each with its reason,
// in knownGaps (difftest_test.go); they are logged, not failed.
//
// TestDistinctAggregateViews (views_test.go) compares views: random
// DISTINCT aggregates maintained by Sluice (as two aggregates, some under a
// memory limit that makes them spill) over a table that random inserts,
// updates and deletes change, with their queries run by PostgreSQL after
// every change.
//
// Concurrency: a run uses one connection to each system from one goroutine;
// tests in this package do not run in parallel.
package difftest
