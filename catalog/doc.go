// Package catalog owns the descriptions of Sluice's objects: tables,
// streams, materialized views and sinks, with their columns, types, defaults and
// keys, and their stable object ids (also used as pg_class OIDs); and the
// roles of CREATE ROLE with their password verifiers and grants. Descriptors are
// immutable once published: DDL builds a new descriptor and swaps it in under
// the catalog's lock, so readers may keep a descriptor without locking.
// Persistence goes through storage meta records written in the same Pebble
// batch as the DDL's data changes.
//
// It also owns how those objects look to Postgres tools: the system
// relations of pg_catalog and information_schema (system.go, with column
// lists generated from PostgreSQL), whose rows a Snapshot makes from one
// session's view of the catalog when a statement reads them, and the
// answers of the catalog functions (pg_get_viewdef, pg_table_is_visible,
// regclass names, …). A Snapshot is built lazily, once, and is then
// read-only and safe for concurrent use. docs/catalog.md has the list of
// relations, the OID scheme and how streams appear.
package catalog
