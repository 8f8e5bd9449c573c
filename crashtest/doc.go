// Package crashtest holds the kill loop: it runs the sluice binary as a
// child process over its embedded Kafka-protocol broker, feeds it a
// sequence-numbered workload, kills it with SIGKILL at random moments and
// starts it again, then checks that every materialized view equals the same
// query computed in Go from what the topic and the tables hold — no event
// lost, none counted twice — and that no stream's committed rows went
// backwards across a restart. It holds only tests (build tag integration);
// SLUICE_KILLS sets the number of kills (default 50) and SLUICE_KILL_SEED
// replays a run, whose seed every run prints.
package crashtest
