package kafka

import (
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-db/sluice/sqlerr"
)

// SinkOptionNames are the WITH options of a kafka sink besides connector,
// format and key (which the engine reads).
var SinkOptionNames = []string{
	"brokers", "topic", "envelope",
	"sasl_mechanism", "sasl_username", "sasl_password",
	"tls", "tls_ca", "tls_cert", "tls_key", "tls_server_name", "tls_insecure_skip_verify",
}

// SinkOptions are a kafka sink's connection and output settings.
type SinkOptions struct {
	Brokers  []string
	Topic    string
	Envelope Envelope

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
	if o.clientOpts, err = securityOpts(opts); err != nil {
		return nil, err
	}
	return o, nil
}
