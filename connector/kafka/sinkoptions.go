package kafka

import (
	"context"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/sluice-db/sluice/connector/format"
	"github.com/sluice-db/sluice/types"

	"github.com/sluice-db/sluice/sqlerr"
)

// SinkOptionNames are the WITH options of a kafka sink besides connector
// and key (which the engine reads).
var SinkOptionNames = []string{
	"brokers", "topic", "envelope", "format",
	format.OptSchemaRegistry, format.OptRegistryUser, format.OptRegistryPassword,
	"sasl_mechanism", "sasl_username", "sasl_password",
	"tls", "tls_ca", "tls_cert", "tls_key", "tls_server_name", "tls_insecure_skip_verify",
}

// SinkOptions are a kafka sink's connection and output settings.
type SinkOptions struct {
	Brokers  []string
	Topic    string
	Envelope Envelope
	// Format is json, avro or protobuf; registry is the schema registry
	// the schemas of avro and protobuf are registered with.
	Format   string
	registry *sr.Client

	clientOpts []kgo.Opt
}

// ParseSinkOptions reads the kafka options of a sink; brokers default to
// defaultBrokers (the embedded broker) when the sink names none.
func ParseSinkOptions(opts map[string]string, defaultBrokers []string) (*SinkOptions, error) {
	o := &SinkOptions{Topic: opts["topic"]}
	var err error
	if o.Brokers, err = brokers(opts, defaultBrokers, "sink"); err != nil {
		return nil, err
	}
	if o.Topic == "" {
		return nil, sqlerr.New(sqlerr.InvalidParameterValue, "a kafka sink needs the option topic")
	}
	if strings.HasPrefix(o.Topic, "_sluice") {
		return nil, badOption("topic", o.Topic, "topics starting with _sluice are Sluice's own")
	}
	env := strings.ToLower(opts["envelope"])
	if env == "" {
		env = "upsert"
	}
	var ok bool
	if o.Envelope, ok = Envelopes[env]; !ok {
		return nil, badOption("envelope", env, "expected upsert, append or debezium")
	}
	switch o.Format = strings.ToLower(opts["format"]); o.Format {
	case "":
		o.Format = "json"
	case "json":
	case "avro", "protobuf":
		if opts[format.OptSchemaRegistry] == "" {
			return nil, sqlerr.New(sqlerr.InvalidParameterValue, "a kafka sink with format %s needs the option %s", o.Format, format.OptSchemaRegistry)
		}
		if o.registry, err = format.RegistryClient(opts); err != nil {
			return nil, err
		}
	default:
		return nil, badOption("format", o.Format, "expected json, avro or protobuf")
	}
	if o.clientOpts, err = securityOpts(opts); err != nil {
		return nil, err
	}
	return o, nil
}

// NewEncoder returns the encoder of the sink's records: rows with columns
// names of types typs, keyed by key, of the sink named name. With Avro or
// protobuf it first registers the key and value schemas (AvroSinkSchema,
// ProtobufSinkSchema) under the subjects <topic>-key and <topic>-value.
func (o *SinkOptions) NewEncoder(ctx context.Context, name string, names []string, typs []*types.T, key []int, cfg *types.Config) (*SinkEncoder, error) {
	var keySchema, valueSchema string
	var avroSchema *AvroSinkSchema
	var protoSchema *ProtobufSinkSchema
	schemaType := sr.TypeAvro
	switch o.Format {
	case "json":
		return NewSinkEncoder(o.Topic, o.Envelope, names, key, cfg), nil
	case "avro":
		var err error
		if avroSchema, err = NewAvroSinkSchema(name, o.Envelope, names, typs, key); err != nil {
			return nil, sqlerr.Bug("sink %s: Avro schemas: %v", name, err)
		}
		keySchema, valueSchema = avroSchema.Key, avroSchema.Value
	default:
		protoSchema = NewProtobufSinkSchema(name, o.Envelope, names, typs, key)
		valueSchema, schemaType = protoSchema.File, sr.TypeProtobuf
		if protoSchema.KeyIndex >= 0 {
			keySchema = protoSchema.File
		}
	}
	register := func(subject, schema string) (uint32, error) {
		if schema == "" {
			return 0, nil
		}
		id, err := o.registry.RegisterSchema(ctx, subject, sr.Schema{Schema: schema, Type: schemaType}, -1, -1)
		if err != nil {
			return 0, fmt.Errorf("kafka sink %s: registering the schema of subject %s: %w", name, subject, err)
		}
		return uint32(id), nil
	}
	keyID, err := register(o.Topic+"-key", keySchema)
	if err != nil {
		return nil, err
	}
	valueID, err := register(o.Topic+"-value", valueSchema)
	if err != nil {
		return nil, err
	}
	if avroSchema != nil {
		return NewAvroSinkEncoder(o.Topic, o.Envelope, avroSchema, key, keyID, valueID, cfg), nil
	}
	return NewProtobufSinkEncoder(o.Topic, o.Envelope, protoSchema, key, keyID, valueID, cfg), nil
}
