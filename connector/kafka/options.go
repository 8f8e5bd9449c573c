package kafka

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/sluice-db/sluice/catalog"
	"github.com/sluice-db/sluice/sqlerr"
)

// OptionNames are the stream WITH options the Kafka source reads.
var OptionNames = []string{
	"brokers", "topic", "topics", "topic_pattern", "start", "isolation", "group",
	"key_format", "key_columns", "on_error",
	"sasl_mechanism", "sasl_username", "sasl_password",
	"tls", "tls_ca", "tls_cert", "tls_key", "tls_server_name", "tls_insecure_skip_verify",
}

// Options are a Kafka stream's connection and consumption settings.
type Options struct {
	Brokers []string
	// Topics are the topics read by name; Pattern, when set, selects topics
	// by regular expression instead.
	Topics  []string
	Pattern *regexp.Regexp
	// Start says where partitions without a stored offset begin: the
	// earliest offset, the latest, or the first record at or after a time.
	Start     StartPosition
	StartTime time.Time
	// ReadCommitted skips aborted transactional records (default true).
	ReadCommitted bool
	// Group is the consumer group progress is committed to for lag tools.
	Group string
	// FailOnError stops ingestion at the first undecodable record instead of
	// writing it to the dead letters.
	FailOnError bool

	clientOpts []kgo.Opt
}

// StartPosition is where a partition with no stored offset begins.
type StartPosition int

// Start positions.
const (
	StartEarliest StartPosition = iota
	StartLatest
	StartAtTime
)

func badOption(name, value, why string) error {
	if catalog.SecretOption(name) {
		value = "…"
	}
	return sqlerr.New(sqlerr.InvalidParameterValue, "invalid value for option \"%s\": \"%s\": %s", name, value, why)
}

// ParseOptions reads the Kafka options of a stream named stream; brokers
// default to defaultBrokers (the embedded broker) when the stream names none.
func ParseOptions(stream string, opts map[string]string, defaultBrokers []string) (*Options, error) {
	o := &Options{ReadCommitted: true, Group: "sluice." + stream}
	var err error
	if o.Brokers, err = brokers(opts, defaultBrokers, "stream"); err != nil {
		return nil, err
	}
	named := 0
	if t := opts["topic"]; t != "" {
		o.Topics, named = []string{t}, named+1
	}
	if t := opts["topics"]; t != "" {
		o.Topics, named = splitList(t), named+1
	}
	if p := opts["topic_pattern"]; p != "" {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, badOption("topic_pattern", p, err.Error())
		}
		o.Pattern, named = re, named+1
	}
	if named != 1 {
		return nil, sqlerr.New(sqlerr.InvalidParameterValue, "a kafka stream needs exactly one of the options topic, topics and topic_pattern")
	}
	switch s := strings.ToLower(opts["start"]); s {
	case "", "earliest":
	case "latest":
		o.Start = StartLatest
	default:
		t, err := time.Parse(time.RFC3339Nano, opts["start"])
		if err != nil {
			return nil, badOption("start", opts["start"], "expected earliest, latest or an RFC 3339 time")
		}
		o.Start, o.StartTime = StartAtTime, t
	}
	switch s := strings.ToLower(opts["isolation"]); s {
	case "", "read_committed":
	case "read_uncommitted":
		o.ReadCommitted = false
	default:
		return nil, badOption("isolation", s, "expected read_committed or read_uncommitted")
	}
	if g := opts["group"]; g != "" {
		o.Group = g
	}
	switch s := strings.ToLower(opts["on_error"]); s {
	case "", "dead_letter":
	case "fail":
		o.FailOnError = true
	default:
		return nil, badOption("on_error", s, "expected dead_letter or fail")
	}
	if o.clientOpts, err = securityOpts(opts); err != nil {
		return nil, err
	}
	return o, nil
}

// brokers reads the brokers option of a kafka stream or sink (what), or
// takes defaultBrokers (the embedded broker) when it names none.
func brokers(opts map[string]string, defaultBrokers []string, what string) ([]string, error) {
	if b := opts["brokers"]; b != "" {
		return splitList(b), nil
	}
	if len(defaultBrokers) == 0 {
		return nil, sqlerr.New(sqlerr.InvalidParameterValue, "a kafka %s needs brokers: no \"brokers\" option and no default broker", what).
			WithHint("Name them with WITH (brokers = 'host:9092'), or start sluice serve with --kafka-brokers or its embedded broker.")
	}
	return defaultBrokers, nil
}

// securityOpts are the client options of the SASL and TLS settings.
func securityOpts(opts map[string]string) ([]kgo.Opt, error) {
	var out []kgo.Opt
	mech, err := saslMechanism(opts)
	if err != nil {
		return nil, err
	}
	if mech != nil {
		out = append(out, kgo.SASL(mech))
	}
	tc, err := tlsConfig(opts)
	if err != nil {
		return nil, err
	}
	if tc != nil {
		out = append(out, kgo.DialTLSConfig(tc))
	}
	return out, nil
}

// ClientOpts are the client options the stream's security settings need.
func (o *Options) ClientOpts() []kgo.Opt { return o.clientOpts }

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func saslMechanism(opts map[string]string) (sasl.Mechanism, error) {
	m := strings.ToUpper(opts["sasl_mechanism"])
	user, pass := opts["sasl_username"], opts["sasl_password"]
	if m == "" {
		if user != "" || pass != "" {
			return nil, sqlerr.New(sqlerr.InvalidParameterValue, "sasl_username and sasl_password need sasl_mechanism (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)")
		}
		return nil, nil
	}
	if user == "" {
		return nil, sqlerr.New(sqlerr.InvalidParameterValue, "sasl_mechanism %s needs sasl_username and sasl_password", m)
	}
	switch m {
	case "PLAIN":
		return plain.Auth{User: user, Pass: pass}.AsMechanism(), nil
	case "SCRAM-SHA-256":
		return scram.Auth{User: user, Pass: pass}.AsSha256Mechanism(), nil
	case "SCRAM-SHA-512":
		return scram.Auth{User: user, Pass: pass}.AsSha512Mechanism(), nil
	}
	return nil, badOption("sasl_mechanism", m, "expected PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
}

func tlsConfig(opts map[string]string) (*tls.Config, error) {
	on := false
	switch strings.ToLower(opts["tls"]) {
	case "", "false", "off", "no":
	case "true", "on", "yes":
		on = true
	default:
		return nil, badOption("tls", opts["tls"], "expected true or false")
	}
	for _, k := range []string{"tls_ca", "tls_cert", "tls_key", "tls_server_name", "tls_insecure_skip_verify"} {
		if opts[k] != "" && !on {
			return nil, sqlerr.New(sqlerr.InvalidParameterValue, "option \"%s\" needs tls = 'true'", k)
		}
	}
	if !on {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: opts["tls_server_name"]}
	if v := strings.ToLower(opts["tls_insecure_skip_verify"]); v == "true" {
		tc.InsecureSkipVerify = true
	}
	if ca := opts["tls_ca"]; ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, badOption("tls_ca", ca, err.Error())
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, badOption("tls_ca", ca, "no PEM certificate in the file")
		}
		tc.RootCAs = pool
	}
	if cert, key := opts["tls_cert"], opts["tls_key"]; cert != "" || key != "" {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, badOption("tls_cert", cert, fmt.Sprintf("loading the key pair: %v", err))
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	return tc, nil
}
