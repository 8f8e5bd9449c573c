// Package storage owns the Pebble database: the durable form of table rows and
// catalog (meta) records; the history logs, files that hold the rows of
// append-only tables (streams), which are written once and never change
// (see historylog.go); and the in-memory columnar copy of each table that
// scans read. Streams keep only their newest segments in memory; scans read
// older ones back from the history log (see history.go), so a stream that
// grows without end takes bounded memory.
//
// Every write goes through a Txn. A Txn buffers its writes privately; Commit
// validates them (primary-key uniqueness, write-write conflicts), appends
// streams' new rows to their history logs and syncs them, writes one Pebble
// batch with Sync (the other rows, meta records, and the logs' new committed
// lengths; so an acknowledged commit survives a crash and rows past a log's
// committed length never count), and then applies the writes to the
// in-memory tables. Concurrent commits that do not depend on each other
// are made in groups that share the syncs (see groupcommit.go). Key
// layouts and the row encoding are written down in docs/format/storage.md.
//
// Memory: a table's rows are columns in fixed-size segments (64Ki rows), and
// a transaction's pending rows likewise; nothing grows by copying more than
// one segment. At commit a whole pending segment becomes a table segment as
// it is, and the same vectors are the Change handed to the observer: a COPY
// is copied once, from the client's batches into pending segments. A batch
// a source gives up (Txn.Adopt) of at least half a segment is a pending
// segment, then a table segment, as it is: never copied. A smaller one
// that fills its vectors is a pending segment as it is, copied once, into
// the table's last segment.
//
// Spill (spill.go) is apart from all that: a scratch Pebble database, wiped
// at open, where operators evict state past their memory budget
// (docs/format/spill.md).
//
// Concurrency: commit groups are serialised by one commit mutex
// (DB.commitMu); each Table has an RWMutex that commits hold for writing
// while they apply to memory. Positions are append-only (a written position never changes), and
// only a table's last segment ever grows, so a scan shares the other
// segments, copies the last one's slice headers and the dead-row bitmap under
// the read lock, and then reads without locks; it never sees half of a
// commit. A Txn itself is used by one goroutine at a time.
package storage
