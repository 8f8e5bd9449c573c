// Package format decodes external records (JSON, Avro, Protobuf, CSV) straight
// into coldata column vectors: one record becomes one row appended to the
// stream's columns, without boxing values into Datums on the way.
//
// A Format is compiled once per stream from its WITH options (it validates
// them, parses schemas, sets up the schema-registry cache); each goroutine
// that decodes takes its own Decoder from it.
package format
