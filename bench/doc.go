// Package bench owns Sluice's benchmark harness: `sluice bench` runs Sluice
// in-process beside a throw-away PostgreSQL (scripts/pg-test-cluster.sh) and
// measures the same workloads on both over the wire with pgx: COPY loads,
// concurrent prepared point lookups on a primary key, and a full-scan
// GROUP BY aggregate whose answer is checked against PostgreSQL's and against
// the one computed here from the generated data. On Sluice alone it also
// measures view maintenance: COPY into a stream read by a materialized view
// (filter, projection, GROUP BY 10 000 keys with sum and count), timed until
// the view counts every row and checked against the generated data, with the
// view's live heap per key (after GC, with the view minus after dropping
// it). The Kafka drains (kafka.go) run on a fresh in-process Sluice of their
// own, beside an in-process broker, whose share of the process's CPU time
// is told apart by profiler labels (brokercpu.go). `sluice bench nexmark` times Nexmark queries (nexmark.go: q0–q22
// but q10 and q12, for the reasons given there), and
// `sluice bench serve` (serve.go, also the serving rows of the report) is
// dashboard serving: N connections from this process to a `sluice serve`
// child process (whose CPU, collector and memory figures are reported: the
// panels' client side is not the server's, as Grafana is not), each a
// Grafana-like panel sending five
// queries a second on maintained views (point lookups, a one-hour range with
// Grafana's macros expanded, a top-10) while the Nexmark streams ingest at
// a fixed rate (by default half of the peak a probe measures first), with a
// marker produced to Kafka every 50 ms on average (at random intervals, so
// that markers land at every phase of the generators' deliveries) to time
// produce → visible.
// `sluice bench restart` (restart.go) is restart-to-serving time: a
// `sluice serve` child process builds a GROUP BY view of a chosen number
// of groups, checkpoints it and is killed; a fresh child on the same data
// directory is timed from its exec until the view answers a point SELECT
// and a SELECT over every group right, with its CPU, minor page faults,
// peak RSS and bytes read at ready and the restore's breakdown from its
// log; --cold makes each restart the first
// on an idle machine (the page cache dropped, freed memory returned to the
// host). `sluice bench`
// also runs the Nexmark queries and reports them against their aims; its
// full run adds issue 6's figures: q5 with no checkpoints beside q5 with
// them, and the serving workload's freshness at 200 connections with
// checkpoints every 100 ms. It promises that every number
// it prints came from this run, and that a wrong answer is reported as an
// error, never hidden behind a fast time: a Nexmark view is checked
// against its query run in batch and, for the plain-SQL queries, in
// PostgreSQL (--check, --pg-url).
//
// Concurrency: the two systems are measured one after the other, never at
// the same time (PostgreSQL first, then stopped, then Sluice), so neither
// steals CPU from the other. Within the point-lookup workload each client
// goroutine owns one connection and one latency histogram; histograms are
// merged only after every client has stopped. The serving workload's panels
// (up to thousands) share one mutex-guarded set of histograms instead.
//
// Memory: Sluice's peak RSS is the process's VmHWM from /proc/self/status
// (the serving workload's: the child server's), reset just before Sluice starts; it includes the benchmark's own client
// side (pgx connections, row generators), which is kept small by streaming
// generated rows instead of building them in memory.
package bench
