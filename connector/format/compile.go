package format

import (
	"slices"
	"strings"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// Options each format reads (the rest of a stream's WITH options belong to
// its source and are ignored here).
const (
	OptTimestampFormat  = "timestamp_format" // auto | rfc3339 | epoch_seconds | epoch_millis | epoch_micros
	OptJSONCatchAll     = "json_catch_all"   // a jsonb column that receives the object of unknown fields
	OptAvroSchema       = "avro_schema"      // an Avro schema (JSON)
	OptSchemaRegistry   = "schema_registry"  // Confluent schema registry URL(s), comma-separated
	OptRegistryUser     = "schema_registry_username"
	OptRegistryPassword = "schema_registry_password"
	OptFraming          = "framing"       // none | confluent (avro_schema / proto_file records with the registry header)
	OptProtoFile        = "proto_file"    // a .proto file
	OptProtoMessage     = "proto_message" // the message's full name
	OptProtoImportPath  = "proto_import_path"
	OptCSVDelimiter     = "csv_delimiter" // one character (default ,); 'tab' or '\t' for a tab
	OptCSVQuote         = "csv_quote"     // one character (default ")
	OptCSVHeader        = "csv_header"    // true: a record that lists the column names is skipped
	OptCSVNull          = "csv_null"      // the unquoted text that means NULL (default: the empty string)
)

// OptionNames lists every option some format reads, for the WITH options a
// stream accepts.
func OptionNames() []string {
	return []string{OptTimestampFormat, OptJSONCatchAll, OptAvroSchema, OptSchemaRegistry, OptRegistryUser,
		OptRegistryPassword, OptFraming, OptProtoFile, OptProtoMessage, OptProtoImportPath,
		OptCSVDelimiter, OptCSVQuote, OptCSVHeader, OptCSVNull}
}

// Format is a compiled record format: options checked, schemas parsed, the
// mapping of fields to columns worked out. It is safe for concurrent use;
// each goroutine decodes with its own Decoder.
type Format struct {
	cfg   Config
	sinks []sink

	json  *jsonPlan
	csv   *csvPlan
	avro  *avroPlan
	proto *protoPlan
}

// Compile checks cfg and prepares decoding. Errors are SQL errors about the
// stream's definition: 22023 for a bad option value, 42704 for a schema
// object that does not exist, 42703 for a column that matches no field.
func Compile(cfg Config) (*Format, error) {
	if len(cfg.Columns) == 0 {
		return nil, errOption("a stream needs at least one column to decode into")
	}
	if cfg.Types == nil {
		cfg.Types = types.DefaultConfig()
	}
	if cfg.Options == nil {
		cfg.Options = map[string]string{}
	}
	unit, epochText := epochMillis, false
	switch tf := strings.ToLower(cfg.Options[OptTimestampFormat]); tf {
	case "", "auto":
	case "rfc3339":
		unit = 0
	case "epoch_seconds":
		unit, epochText = epochSeconds, true
	case "epoch_millis":
		unit, epochText = epochMillis, true
	case "epoch_micros":
		unit, epochText = epochMicros, true
	default:
		return nil, errOption("invalid value for option %s: \"%s\"", OptTimestampFormat, tf).
			WithHint("Valid values are auto, rfc3339, epoch_seconds, epoch_millis and epoch_micros.")
	}
	f := &Format{cfg: cfg}
	seen := map[string]bool{}
	for _, c := range cfg.Columns {
		if c.Type == nil {
			return nil, sqlerr.Bug("column %q has no type", c.Name)
		}
		if seen[c.Name] {
			return nil, sqlerr.New(sqlerr.DuplicateColumn, "column \"%s\" specified more than once", c.Name)
		}
		seen[c.Name] = true
		s := newSink(c, cfg.Types, unit, cfg.Name)
		s.epochText = epochText
		f.sinks = append(f.sinks, s)
	}
	var err error
	switch strings.ToLower(cfg.Format) {
	case "json":
		f.json, err = compileJSON(cfg)
	case "csv":
		f.csv, err = compileCSV(cfg)
	case "avro":
		f.avro, err = compileAvro(cfg)
	case "protobuf", "proto":
		f.proto, err = compileProto(cfg)
	default:
		return nil, errOption("format \"%s\" is not supported", cfg.Format).
			WithHint("Supported formats are json, avro, protobuf and csv.")
	}
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Config returns the configuration the format was compiled from.
func (f *Format) Config() Config { return f.cfg }

// NewDecoder returns a decoder for one goroutine.
func (f *Format) NewDecoder() Decoder {
	c := committer{sinks: slices.Clone(f.sinks)}
	switch {
	case f.json != nil:
		return newJSONDecoder(f.json, c)
	case f.csv != nil:
		return newCSVDecoder(f.csv, c)
	case f.avro != nil:
		return newAvroDecoder(f.avro, c)
	case f.proto != nil:
		return newProtoDecoder(f.proto, c)
	}
	panic(sqlerr.Bug("format without a plan"))
}

// checkCols is the Decode precondition: one vector per column.
func checkCols(n int, cols []*coldata.Vec) error {
	if len(cols) != n {
		return sqlerr.Bug("Decode got %d columns, the format has %d", len(cols), n)
	}
	return nil
}

// columnPath is where a column's value sits in a nested record.
func columnPath(c Column) []string {
	if len(c.Path) > 0 {
		return c.Path
	}
	return []string{c.Name}
}
