// Package engine is the coordinator between the wire protocol and the rest of
// Sluice: it implements pgwire.Backend. It owns sessions (settings, the
// transaction block state machine), statement execution (parser → planner →
// exec, DDL, SET/SHOW, COPY, EXPLAIN), the published catalog, which it
// loads from storage meta records at startup and changes only in commits,
// and who may do what: roles, their passwords and grants (roles.go,
// grants.go).
//
// Concurrency: a session is used by one goroutine at a time (its connection's)
// and needs no locks of its own. Shared state is the catalog (its own lock),
// storage (its own commit lock), ddlMu, which serialises the name checks
// and catalog publication of commits that create or drop tables or change
// roles, the advisory lock table, the identity column counters and the
// parse tree cache (a mutex each), and the plan cache (a mutex per shard).
// Trees and plans in the caches are shared read-only: the planner only
// reads trees, and a plan is immutable while it runs. A session waiting for an advisory lock waits on a channel, never
// holding the table's mutex, until the lock is released or its query's
// context ends.
//
// Sinks (docs/sinks.md) each run on a goroutine of their own, which alone
// uses the sink's state and destination client; DROP SINK and Close stop
// that goroutine and wait for it before touching the sink's records.
//
// Every statement executed notes itself at the engine's sched.Gate, which
// then bounds the ingest goroutines (generators, the views' workers) to all
// but one P while queries come at dashboards' rate, so that queries find a
// P (docs/dataflow.md). A statement about to wait for another session (an
// advisory lock), a SUBSCRIBE's next epoch or the views' loop calls
// pgwire.Waiting, which gives back its connection's slot under
// --max-active-queries, so that what it waits for can run.
//
// A statement reads the views through dataflows.snapshot, which takes no
// lock: the dataflows loop publishes the epoch and the running views in an
// atomic pointer (dataflows.published), so that no reader waits for the
// loop or for a reader the loop waits for. While the loop steps a big
// epoch, an express goroutine steps the small commits queued meanwhile to
// views sharing nothing with it (dataflows.expressSteps); the two take
// turns at the loop's state and at publishing under dataflows.stepMu, the
// loop letting it go only while its views' dataflows step, and the loop
// joins the goroutine before a command, its next epoch or a checkpoint.
//
// The views' checkpoints (checkpoints.go, docs/recovery.md) are taken on
// the dataflows loop, which alone owns the views' dataflows then, and written by
// one writer goroutine: the loop hands it a batch only while it is idle
// (skipping an interval otherwise), a DROP's removals wait in a list it
// drains after each write, and a wake signal tells it work is waiting.
package engine
