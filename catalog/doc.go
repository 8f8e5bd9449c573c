// Package catalog owns the descriptions of Sluice's objects: tables,
// streams, materialized views (sinks later), with their columns, types, defaults and
// keys, and their stable object ids (also used as pg_class OIDs). Descriptors are
// immutable once published: DDL builds a new descriptor and swaps it in under
// the catalog's lock, so readers may keep a descriptor without locking.
// Persistence goes through storage meta records written in the same Pebble
// batch as the DDL's data changes.
package catalog
