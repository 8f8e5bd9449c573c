// Package viewtest is a randomized differential test of materialized views:
// it checks that every view's incrementally maintained rows equal its
// defining query run as a plain (batch) SELECT over the same data, after
// every batch of changes.
//
// A run draws, from one seed, the engine's metamorphic settings (dataflow
// workers, epoch tick, source chunk size), a schema of tables and
// append-only streams, 3-8 view definitions over them and over earlier
// views (projections, filters, grouping with the maintained aggregates,
// DISTINCT, equi-joins of every kind, UNION ALL, IN and scalar subqueries,
// fully ordered top-N, TUMBLE/HOP/CUMULATE windows over timestamp columns
// with times on window bounds and before 1970, SESSION windows whose gaps
// make rows extend, merge and split sessions), and epochs of
// INSERT/UPDATE/DELETE/COPY, some in transactions, some rolled back. It
// talks to an in-process server over the Postgres wire protocol and compares
// `SELECT * FROM v` with v's query as multisets of text rows.
//
// It owns no production code; everything lives in its tests. Every run logs
// its seed; VIEWTEST_SEED=<n> replays it. `go test ./viewtest` runs a few
// seeds in seconds; VIEWTEST_RUNS=<n> or VIEWTEST_DURATION=<d> run more
// (scripts/ci.sh replays a fixed run of 250 seeds; `make fuzz-views
// FUZZTIME=10m` explores new ones). A mismatching view is shrunk by replaying
// smaller queries on fresh servers and saved under testdata/regressions/ as
// a script that TestRegressions replays. Engine bugs found and not yet fixed
// are listed in knownBugs (bugs_test.go): the generator avoids their shapes
// unless VIEWTEST_KNOWN_BUGS=draw, and their saved cases are expected to
// fail until the bug is fixed and the entry removed.
//
// Concurrency: a run uses one connection from one goroutine; runs are
// sequential.
package viewtest
