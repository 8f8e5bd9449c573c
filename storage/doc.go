// Package storage owns the Pebble database: the durable form of table rows and
// catalog (meta) records, and the in-memory columnar copy of each table that
// scans read.
//
// Every write goes through a Txn. A Txn buffers its writes privately; Commit
// validates them (primary-key uniqueness, write-write conflicts), writes one
// Pebble batch with Sync (so an acknowledged commit survives a crash), and then
// applies the writes to the in-memory tables. Key layouts and the row encoding
// are written down in docs/format/storage.md.
//
// Concurrency: commits are serialised by one commit mutex (DB.commitMu); each
// Table has an RWMutex that commits hold for writing while they apply to
// memory. The in-memory columns are append-only (a written position never
// changes), so a scan copies the slice headers and the dead-row bitmap under
// the read lock and then reads without locks; it never sees half of a commit.
// A Txn itself is used by one goroutine at a time.
package storage
