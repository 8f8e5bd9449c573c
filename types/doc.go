// Package types owns Sluice's SQL type system: the type descriptor T, the Postgres
// type OIDs, the Go representation of one value (a Datum) and the text and binary
// wire forms of every supported type. It imports nothing of ours but sqlerr, and holds
// no mutable state.
//
// A Datum is interpreted together with its T: the Go value's kind is fixed by the
// type's physical layout (see Phys), so an int64 is a smallint for types.Int2 and
// microseconds since the Unix epoch for types.Timestamp.
package types
