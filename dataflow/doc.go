// Package dataflow owns incremental computation: operators that map change
// chunks (columns plus a diff column of +1/-1 multiplicities) to change
// chunks, the state they keep between epochs, and the runtime that runs one
// operator graph on several workers.
//
// A Graph is a DAG of Nodes, each holding an OpSpec (what the operator
// computes). New instantiates the graph once per worker; stateful operators
// declare the input columns they partition on, and an exchange routes each
// change row to the worker owning the hash of those columns, so every key's
// state lives on exactly one worker. Step runs one epoch: the source changes
// are pushed, a barrier follows them through the graph (an operator flushes
// once it holds the barrier from every upstream worker), and the consolidated
// output changes of the epoch are returned, as the chunks the workers
// emitted (not copied into one) when the epoch retracts nothing; an output
// chunk that only projects the columns of a Step input shares them (Step's
// inputs never change), any other is copied. Linear operators (filter,
// project, union, window assignment) emit as they receive; aggregates,
// distinct, top-N and session windows emit their per-epoch changes on the
// barrier.
//
// Event-time watermarks travel with the barrier, once an epoch: each source
// starts it with its watermark, each node passes on the minimum of its
// inputs' (reference data left out; an interval join's lags by its
// interval), and Step returns the output's. A
// windowed aggregate frees (and under EMIT ON WINDOW CLOSE first emits)
// the groups of windows the watermark has closed; a session window over
// an event time frees the sessions the watermark has closed; an interval
// join frees rows the other side's watermark has left behind.
//
// Snapshots: between two epochs every operator is quiescent, and
// Dataflow.Snapshot writes the state of every operator on every worker
// (operators that keep state implement Snapshotter; stateless ones write
// nothing; the workers write their sections at once, each on its own
// goroutine, into a SnapshotWriter's blocks) and the sources'
// watermarks. Given a deferring writer (NewDeferredSnapshotWriter), the
// columns an operator gathers into vectors of its own (a join's, top-N's,
// DISTINCT's and session window's rows) are only counted; Finish encodes them later, on
// any goroutine, so that taking a checkpoint does not copy the rows'
// bytes between two epochs; an aggregate's spilled groups, and a join's,
// top-N's and session window's spilled rows (a chunk per group as the
// store holds them: writeCountedChunks), are left to the writer alike
// (StreamLater), read from a snapshot of the spill store a piece at a
// time (WriteTo), so that a base of a state larger than memory is never
// held whole. Restore reads it into a fresh
// dataflow of the same graph and workers, which then goes on as the
// snapshotted one would. Aggregates (every kernel: words, numeric sums,
// multisets of min/max, string_agg, array_agg and DISTINCT calls, running
// extremes of boxed values), joins, DISTINCT, top-N and session windows
// support it (CanSnapshot names an operator that does not).
// After a Snapshot, SnapshotDelta writes only what changed since the last
// snapshot (aggregates: the pages of the groups touched; joins, DISTINCT,
// top-N and session windows: the rows whose multiplicity changed, a
// session window's rows of sessions closed since excepted: the restore
// closes them again), and Restore(base, deltas...) reads them in order;
// RestoreBehind does so on goroutines of its own while the caller serves
// the view's rows (the dataflow's next use waits for it; a check of the
// bytes the caller gives, their checksum, runs there first), and SnapshotAt
// tells whether a snapshot's next epoch without changes would do nothing.
// SnapshotSize estimates what a whole snapshot would write now, so that
// the engine ends a chain of deltas only once it holds much more, and
// SnapshotDeltaSize what the next delta would (aggregates only: their
// changed pages), so that it takes a base instead of a delta that would
// write the state again.
// ArrangementSnapshot.WriteRows and ReadRows carry a view's rows,
// WriteChanges and ReadChanges its output's changes, read back in their
// chunks, runs of chunks decoded on every CPU at once, in place (text
// and words pointing into the bytes read: SnapshotReader.InPlace) when
// the caller keeps those bytes as long as the rows; an empty keyed
// Arrangement takes them in bulk, not consolidated: its load settles a
// base's rows with the deltas' changes key by key after its sort
// (ConsolidateChunks, on every CPU, consolidates them for any other).
//
// Memory: given a Budget (MemoryBudget), the aggregates that can spill
// (keyed, keys packed into integer words or encoded, whatever their
// kernels: canSpill)
// keep their share of it at the end of every epoch, evicting their coldest
// groups to a storage.Spill space and loading them back, a chunk's at a
// time, when a change touches them; snapshots hold the spilled groups too.
// A group of a key whose equal values print differently (numeric 1.0 and
// 1.00) keeps the values it shows, a numeric sum its exact state, a
// min/max, string_agg, array_agg or DISTINCT call its multiset, a min/max
// of boxed values over an append-only input its extreme: they spill with
// the group's words (appendSpillValue), as a snapshot writes them
// (objKernel).
// A windowed aggregate's spill keys lead with the window key (an encoded
// key holds its window key first: encOrder), so that
// closing windows by watermark scans the closed ones' spilled groups in
// order (closeSpilled); an eviction lists the windows' groups held again
// (reopen).
// (The planner lowers a DISTINCT or UNION of any columns to such an
// aggregate, grouping by every column with no call, so that it spills;
// Distinct, which keeps every row in memory, runs a DISTINCT of no
// columns. An aggregate whose DISTINCT calls all take one argument it
// lowers to two: the inner grouping by the keys and the argument spills,
// where a DISTINCT call's per-group set of values would not.)
// The joins that can spill (keyed, packed or encoded, no interval or
// closing bound: joinOp.canSpill) do the same a join key at a time, with all its rows of
// both sides, after a push that takes them well past their share too;
// their snapshots hold the spilled rows as rows (docs/memory.md).
// A top-N per group (canSpill: it has group columns) spills a group at a
// time, with all its rows, at the end of an epoch, and rebuilds its order
// tree and window from them when a change touches it (over a stream, not
// for a row past the cut-off it kept in memory); its snapshots too
// hold the spilled rows as rows. The global top-N has one group and does
// not spill. A SESSION window with partition columns (sessionOp.canSpill)
// spills a partition at a time alike, cutting its sessions again from its
// rows when a change touches it; a spilled partition keeps its last
// session's end in the index of session ends, so that the watermark
// closing it deletes it from the store unread.
// UnboundedState names the operators the budget does not bound.
//
// Concurrency: each worker is one goroutine that owns its operator instances
// and their state; workers talk only through their inboxes. Given an
// IngestGate, a worker takes a turn at it for each message it handles
// (never while it waits on its inbox), ahead of the sources waiting for
// one, so that while queries are served the workers leave a P to them. Step feeds source
// chunks into bounded inboxes (it waits while a worker is behind); workers
// put to each other without bound, so that no cycle of full inboxes can
// deadlock: what they hold is bounded by the source feed times the fan-out
// of joins. Step is called by one goroutine at a time. A Step of few rows
// (InlineSteps) runs on that goroutine instead: the workers' inboxes are
// lent to it, their goroutines stay parked (a lent inbox neither gives
// them messages nor wakes them), and it handles each worker's messages as
// that worker until the epoch's barriers reach the output; a worker's
// goroutine touches its operators only between taking a message and
// sending its epoch's result, so one goroutine at a time runs a worker's
// operators. It takes no turn at the IngestGate. Past a deadline it hands
// the inboxes, and the rest of the epoch, back to the workers. Arrangement, the readable output of a view, is
// written by one goroutine and read by any number under epoch snapshots:
// readers take no lock: a snapshot is an atomic pointer to the published
// generation, and lookups and range scans search the key tree published
// with it, a persistent B-tree whose published nodes the writer copies
// rather than changes. The whole pages of an arrangement that has only
// had insertions (a pass-through view over a stream) keep each text
// column packed, as bytes and 32-bit offsets rather than a string a row,
// so that the collector does not mark its rows one by one; readers make
// strings that share those bytes, which are never written again. Their
// integer columns (timestamps too) are packed as 32-bit deltas from the
// page's smallest value where they fit, as a pass-through view's ids,
// prices and event times do, halving what such a view keeps a row.
package dataflow
