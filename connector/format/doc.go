// Package format decodes external records (JSON, Avro, Protobuf, CSV) straight
// into coldata column vectors: one record becomes one row appended to the
// stream's columns, without boxing values into Datums on the way.
//
// A Format is compiled once per stream from its WITH options (it validates
// them, parses schemas, sets up the schema-registry cache); each goroutine
// that decodes takes its own Decoder from it. A Format is safe for concurrent
// use (its registry cache is shared behind a mutex); a Decoder is not.
//
// Every decoder works in two steps (convert.go): it walks the record and
// notes, per column, where the value is; then commit converts each value to
// its column's type and appends it. Decode appends exactly one value to each
// column or, on error, nothing: the error is a sqlerr.Error whose message
// names the column and quotes the value (it becomes the record's dead-letter
// reason). Values convert as Postgres converts text input ('17'::bigint) for
// text-like sources, and by assignment casts for typed ones (an Avro double
// into a bigint column rounds); the formats and conversions are described in
// docs/connectors.md.
//
// Strings a column keeps are copied out of the record into one allocation
// per record: a kept value pins at most its own record's strings, never a
// shared buffer.
//
// The other way (encode_*.go), JSONObject, AvroRecord and ProtoMessage
// write rows of column vectors as JSON objects, Avro records and protobuf
// messages for sinks; each is built once per sink and is read-only after.
package format
