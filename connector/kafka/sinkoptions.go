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
	// Avro is set by format = 'avro' (else records are JSON); registry is
	// then the schema registry its schemas are registered with.
	Avro     bool
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
	switch f := strings.ToLower(opts["format"]); f {
	case "", "json":
	case "avro":
		if opts[format.OptSchemaRegistry] == "" {
			return nil, sqlerr.New(sqlerr.InvalidParameterValue, "a kafka sink with format avro needs the option %s", format.OptSchemaRegistry)
		}
		o.Avro = true
		if o.registry, err = format.RegistryClient(opts); err != nil {
			return nil, err
		}
	case "protobuf":
		return nil, sqlerr.Unsupported("sink format protobuf is not supported yet").WithHint("Use format = 'json' or 'avro'.")
	default:
		return nil, badOption("format", f, "expected json or avro")
	}
	if o.clientOpts, err = securityOpts(opts); err != nil {
		return nil, err
	}
	return o, nil
}

// NewEncoder returns the encoder of the sink's records: rows with columns
// names of types typs, keyed by key, of the sink named name. With Avro it
// first registers the key and value schemas (AvroSchemas) under the
// subjects <topic>-key and <topic>-value.
func (o *SinkOptions) NewEncoder(ctx context.Context, name string, names []string, typs []*types.T, key []int, cfg *types.Config) (*SinkEncoder, error) {
	if !o.Avro {
		return NewSinkEncoder(o.Topic, o.Envelope, names, key, cfg), nil
	}
	keySchema, valueSchema, err := AvroSchemas(name, o.Envelope, names, typs, key)
	if err != nil {
		return nil, sqlerr.Bug("sink %s: Avro schemas: %v", name, err)
	}
	register := func(subject, schema string) (uint32, error) {
		if schema == "" {
			return 0, nil
		}
		id, err := o.registry.RegisterSchema(ctx, subject, sr.Schema{Schema: schema, Type: sr.TypeAvro}, -1, -1)
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
	return NewAvroSinkEncoder(o.Topic, name, o.Envelope, names, typs, key, keyID, valueID, cfg), nil
}
