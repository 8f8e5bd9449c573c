package format

import (
	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// Column is one stream column a decoder fills.
type Column struct {
	Name string
	Type *types.T
	// Path locates the value inside a nested record, outermost field first
	// (from `PATH '$.a.b'` in the column definition). Nil means the top-level
	// field called Name.
	Path []string
	// NotNull makes a missing or null value a decode error (23502) instead
	// of a NULL.
	NotNull bool
}

// Config is what a stream declares about its records' encoding.
type Config struct {
	// Format is json, avro, protobuf or csv.
	Format  string
	Columns []Column
	// Options are the stream's WITH options; each format reads the ones it
	// knows (e.g. timestamp_format, schema_registry, avro_schema,
	// proto_file, proto_message, csv_delimiter) and ignores the rest.
	Options map[string]string
	// Name is the stream's name, for error messages (may be empty).
	Name string
	// Types holds the settings text input follows (the time zone of a
	// timestamptz written without an offset, DateStyle); nil is
	// types.DefaultConfig() (UTC).
	Types *types.Config
}

// Decoder decodes records of one Format. A Decoder is used by one goroutine
// at a time; take one per goroutine from Format.NewDecoder.
type Decoder interface {
	// Decode decodes one record and appends one value to each of cols (in
	// Config.Columns order). On error it appends nothing, leaving every
	// column at its previous length, and the error says what is wrong with
	// the record (it becomes the dead-letter reason).
	Decode(rec []byte, cols []*coldata.Vec) error
}
