package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"maps"
	"strings"
	"sync"

	"github.com/sluice-db/sluice/catalog"
	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/connector/kafka"
	"github.com/sluice-db/sluice/connector/webhook"
	"github.com/sluice-db/sluice/parser"
	"github.com/sluice-db/sluice/pgwire"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// Sinks write the changes of a materialized view (or of a query, a table or
// a stream, run as a view of the sink's own) to an external system; see
// docs/sinks.md. CREATE SINK checks the options, records the descriptor and
// starts the sink; each sink runs on a goroutine of its own (sinkrun.go)
// until it is dropped or the engine closes.

// sinkOptionNames are the WITH options CREATE SINK accepts, by connector
// ("": all of them).
func sinkOptionNames(connector string) map[string]bool {
	m := map[string]bool{"connector": true, "format": true, "key": true}
	if connector != "webhook" {
		for _, n := range kafka.SinkOptionNames {
			m[n] = true
		}
	}
	if connector != "kafka" {
		for _, n := range webhook.OptionNames {
			m[n] = true
		}
	}
	return m
}

// sinks are the running sinks.
type sinks struct {
	e       *Engine
	mu      sync.Mutex
	running map[uint32]*runningSink
}

func newSinks(e *Engine) *sinks { return &sinks{e: e, running: map[uint32]*runningSink{}} }

// sinkSpec is what a sink needs to run, checked at CREATE and planned again
// at every start.
type sinkSpec struct {
	target *subscribeTarget
	key    []int
	// One of kafka and webhook is set, by the connector.
	kafka   *kafka.SinkOptions
	webhook *webhook.Options
}

// execCreateSink runs CREATE SINK (not transactional).
func (st *statement) execCreateSink(ctx context.Context, x *parser.CreateSink, w pgwire.ResultWriter) (string, error) {
	const tag = "CREATE SINK"
	s := st.s
	if s.tx != nil {
		return "", sqlerr.New(sqlerr.ActiveSQLTransaction, "CREATE SINK cannot run inside a transaction block")
	}
	schema, err := s.tableSchema(x.Name, st)
	if err != nil {
		return "", err
	}
	if _, exists := s.e.cat.LookupSink(schema, x.Name.Relname); exists {
		if x.IfNotExists {
			return tag, w.Notice("NOTICE", sqlerr.DuplicateObject, "sink \""+x.Name.Relname+"\" already exists, skipping")
		}
		return "", errDuplicateSink(x.Name.Relname).At(st.pos(x.Name.Location))
	}
	desc := &catalog.Sink{Schema: schema, Name: x.Name.Relname, Options: x.Options, Query: strings.TrimSpace(x.QueryText)}
	if err := checkSinkOptions(x.Options, ""); err != nil {
		return "", err
	}
	var target *subscribeTarget
	if x.From != nil {
		fromSchema, err := s.tableSchema(x.From, st)
		if err != nil {
			return "", err
		}
		t, ok := s.e.cat.Lookup(fromSchema, x.From.Relname)
		if !ok {
			return "", errUndefinedRelation(x.From.Relname).At(st.pos(x.From.Location))
		}
		if t.Kind == catalog.KindMaterializedView {
			desc.From = t.ID
		} else {
			desc.Query = "SELECT * FROM " + quoteIdent(t.Schema) + "." + quoteIdent(t.Name)
		}
		if target, err = s.e.subscribeRelation(t); err != nil {
			return "", err
		}
		desc.DependsOn = []uint32{t.ID}
	} else {
		if target, err = s.e.subscribeQuery(x.Query, s.searchPath(), "sink "+desc.Name); err != nil {
			if e, ok := sqlerr.As(err); ok && e.Position > 0 {
				e.Position += x.QueryOffset
			}
			return "", st.positioned(err)
		}
		desc.DependsOn = target.sources
		// A restart plans the query again in the schema it was created in.
		desc.Options = maps.Clone(desc.Options)
		if desc.Options == nil {
			desc.Options = map[string]string{}
		}
		desc.Options[sinkSearchPathOption] = strings.Join(s.searchPath(), ",")
	}
	if _, err := s.e.sinkSpec(desc, target); err != nil {
		return "", err
	}
	desc.ID = s.e.cat.AllocID()
	desc.Instance = newSinkInstance()
	if err := s.e.publishSink(desc); err != nil {
		return "", err
	}
	if err := s.e.sinks.start(ctx, desc, true); err != nil {
		_ = s.e.dropSinks([]*catalog.Sink{desc})
		return "", err
	}
	return tag, nil
}

// sinkSearchPathOption records, in a query sink's options, the search path
// its query was planned with.
const sinkSearchPathOption = "sluice.search_path"

// checkSinkOptions refuses options that are not a sink's, or not of its
// connector ("": any connector's).
func checkSinkOptions(opts map[string]string, connector string) error {
	valid := sinkOptionNames(connector)
	for name := range opts {
		if valid[name] || name == sinkSearchPathOption {
			continue
		}
		what := "sink"
		if connector != "" {
			what = connector + " sink"
		}
		return errUnrecognizedOption(what, name, valid)
	}
	return nil
}

func errDuplicateSink(name string) *sqlerr.Error {
	return sqlerr.New(sqlerr.DuplicateObject, "sink \"%s\" already exists", name)
}

// sinkSpec checks a sink's options against what it reads (target: nil to
// plan it from the descriptor) and returns what it needs to run.
func (e *Engine) sinkSpec(desc *catalog.Sink, target *subscribeTarget) (*sinkSpec, error) {
	if target == nil {
		var err error
		if target, err = e.sinkTarget(desc); err != nil {
			return nil, err
		}
	}
	sp := &sinkSpec{target: target}
	var err error
	if sp.kafka, sp.webhook, err = e.sinkDestination(desc); err != nil {
		return nil, err
	}
	if k, ok := desc.Options["key"]; ok {
		cols := &catalog.Table{Kind: "sink", Name: desc.Name}
		for _, n := range target.names {
			cols.Columns = append(cols.Columns, catalog.Column{Name: n})
		}
		if sp.key, err = optionColumns(cols, k, "key"); err != nil {
			return nil, err
		}
	} else if desc.From != 0 {
		if v, ok := e.cat.ByID(desc.From); ok {
			sp.key = v.PK
		}
	}
	if sp.kafka != nil && sp.kafka.Envelope == kafka.EnvelopeUpsert && len(sp.key) == 0 {
		return nil, sqlerr.New(sqlerr.InvalidParameterValue, "the upsert envelope needs a key: the sink's rows have none").
			WithHint("Name the key columns with key = (a, b), or use envelope = 'append' or 'debezium'.")
	}
	return sp, nil
}

// sinkConnector is a sink's connector option, lower-cased; kafka by
// default.
func sinkConnector(opts map[string]string) string {
	if c := strings.ToLower(opts["connector"]); c != "" {
		return c
	}
	return "kafka"
}

// sinkDestination checks a sink's connector, format and connector options;
// one of kafka and webhook is returned, by the connector.
func (e *Engine) sinkDestination(desc *catalog.Sink) (*kafka.SinkOptions, *webhook.Options, error) {
	connector := sinkConnector(desc.Options)
	switch connector {
	case "kafka", "webhook":
	default:
		return nil, nil, sqlerr.New(sqlerr.InvalidParameterValue, "invalid value for option \"connector\": \"%s\": expected kafka or webhook", connector)
	}
	if err := checkSinkOptions(desc.Options, connector); err != nil {
		return nil, nil, err
	}
	options, err := resolveSecrets(desc.Options)
	if err != nil {
		return nil, nil, err
	}
	if connector == "webhook" {
		switch f := strings.ToLower(desc.Options["format"]); f {
		case "", "json":
		case "avro", "protobuf":
			return nil, nil, sqlerr.Unsupported("webhook sinks write json: format %s is not supported", f)
		default:
			return nil, nil, sqlerr.New(sqlerr.InvalidParameterValue, "invalid value for option \"format\": \"%s\": expected json", f)
		}
		w, err := webhook.ParseOptions(options)
		return nil, w, err
	}
	k, err := kafka.ParseSinkOptions(options, e.kafkaBrokers)
	return k, nil, err
}

// sinkTarget plans what a recorded sink reads.
func (e *Engine) sinkTarget(desc *catalog.Sink) (*subscribeTarget, error) {
	if desc.From != 0 {
		t, ok := e.cat.ByID(desc.From)
		if !ok {
			return nil, sqlerr.New(sqlerr.UndefinedTable, "the materialized view sink \"%s\" reads does not exist", desc.Name)
		}
		return e.subscribeRelation(t)
	}
	stmts, err := parser.Parse(desc.Query)
	if err != nil {
		return nil, err
	}
	if len(stmts) != 1 || stmts[0].AST == nil {
		return nil, sqlerr.New(sqlerr.DataCorrupted, "corrupt query of sink %q", desc.Name)
	}
	path := []string{desc.Schema}
	if p := desc.Options[sinkSearchPathOption]; p != "" {
		path = strings.Split(p, ",")
	}
	return e.subscribeQuery(stmts[0].AST, path, "sink "+desc.Name)
}

// publishSink records a sink's descriptor and makes it visible.
func (e *Engine) publishSink(desc *catalog.Sink) error {
	rec, err := desc.Encode()
	if err != nil {
		return sqlerr.Bug("encode sink %q: %v", desc.Name, err)
	}
	e.ddlMu.Lock()
	defer e.ddlMu.Unlock()
	if _, ok := e.cat.LookupSink(desc.Schema, desc.Name); ok {
		return errDuplicateSink(desc.Name)
	}
	if err := e.checkDependsOn("sink", desc.Name, desc.DependsOn); err != nil {
		return err
	}
	txn := e.db.Begin()
	txn.PutMeta(catalog.SinkMetaKey(desc.ID), rec)
	if err := txn.Commit(); err != nil {
		return err
	}
	e.cat.PublishSink(desc)
	e.catVersion.Add(1)
	return nil
}

// execDropSink runs DROP SINK (not transactional).
func (st *statement) execDropSink(ctx context.Context, x *parser.DropSink, w pgwire.ResultWriter) (string, error) {
	s := st.s
	if s.tx != nil {
		return "", sqlerr.New(sqlerr.ActiveSQLTransaction, "DROP SINK cannot run inside a transaction block")
	}
	var drops []*catalog.Sink
	for _, rv := range x.Names {
		schema, err := s.tableSchema(rv, st)
		if err != nil {
			return "", err
		}
		sk, ok := s.e.cat.LookupSink(schema, rv.Relname)
		if !ok {
			if x.IfExists {
				if err := w.Notice("NOTICE", "00000", "sink \""+rv.Relname+"\" does not exist, skipping"); err != nil {
					return "", err
				}
				continue
			}
			return "", sqlerr.New(sqlerr.UndefinedObject, "sink \"%s\" does not exist", rv.Relname).At(st.pos(rv.Location))
		}
		drops = append(drops, sk)
	}
	if err := s.e.dropSinks(drops); err != nil {
		return "", err
	}
	return "DROP SINK", nil
}

// dropSinks stops sinks and removes their records and state in one commit.
func (e *Engine) dropSinks(drops []*catalog.Sink) error {
	if len(drops) == 0 {
		return nil
	}
	for _, sk := range drops {
		e.sinks.stop(sk.ID)
		e.fenceSink(sk)
	}
	e.ddlMu.Lock()
	defer e.ddlMu.Unlock()
	txn := e.db.Begin()
	for _, sk := range drops {
		txn.DeleteMeta(catalog.SinkMetaKey(sk.ID))
		if err := dropSinkState(e.db, txn, sk.ID); err != nil {
			txn.Rollback()
			return err
		}
	}
	if err := txn.Commit(); err != nil {
		return err
	}
	for _, sk := range drops {
		e.cat.RemoveSink(sk.ID)
	}
	e.catVersion.Add(1)
	return nil
}

// fenceSink ends the transaction a dropped kafka sink may have left open
// (read_committed consumers of its partitions would wait at it until it
// timed out) by starting a producer under its transactional id. It is best
// effort: an error is logged.
func (e *Engine) fenceSink(sk *catalog.Sink) {
	opts, _, err := e.sinkDestination(sk)
	if err != nil || opts == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), sinkConnectTimeout)
	defer cancel()
	prod, err := kafka.NewTxnProducer(ctx, opts, sk.TransactionalID(), e.sinkEndTimeout)
	if err != nil {
		e.log.Warn("engine: dropped sink's producer not fenced", "sink", sk.Name, "err", err)
		return
	}
	prod.Close()
}

// sinksReading returns the sinks that read any of rels.
func (e *Engine) sinksReading(rels []*catalog.Table) []*catalog.Sink {
	seen := map[uint32]bool{}
	var out []*catalog.Sink
	for _, t := range rels {
		for _, sk := range e.cat.SinksReading(t.ID) {
			if !seen[sk.ID] {
				seen[sk.ID] = true
				out = append(out, sk)
			}
		}
	}
	return out
}

// loadSinks publishes the sinks recorded in meta.
func (e *Engine) loadSinks(meta map[string][]byte) error {
	for k, v := range meta {
		if !strings.HasPrefix(k, "sink/") {
			continue
		}
		sk, err := catalog.DecodeSink(v)
		if err != nil {
			return err
		}
		if catalog.SinkMetaKey(sk.ID) != k {
			return sqlerr.New(sqlerr.DataCorrupted, "corrupt sink record %q: holds sink id %d", k, sk.ID)
		}
		e.cat.PublishSink(sk)
	}
	return nil
}

// startSinks starts every recorded sink; one that fails keeps retrying,
// with its error in SHOW SINKS.
func (e *Engine) startSinks() {
	for _, sk := range e.cat.Sinks() {
		_ = e.sinks.start(context.Background(), sk, false)
	}
}

// showSinksColumns are SHOW SINKS' columns, of showSinksTypes.
func showSinksColumns() []pgwire.Column {
	return typedColumns([]string{"schema", "name", "connector", "destination", "reads", "status", "transactions"}, showSinksTypes())
}

func showSinksTypes() []*types.T {
	return []*types.T{types.Text, types.Text, types.Text, types.Text, types.Text, types.Text, types.Int8}
}

// execShowSinks lists the sinks, what they read and how they run.
func (s *session) execShowSinks(w pgwire.ResultWriter) error {
	ch := coldata.NewChunk(showSinksTypes(), 0)
	for _, sk := range s.e.cat.Sinks() {
		reads := sk.Query
		if v, ok := s.e.cat.ByID(sk.From); ok && sk.From != 0 {
			reads = v.Name
		}
		connector := sinkConnector(sk.Options)
		status, txns := s.e.sinks.status(sk.ID)
		dest := sk.Options["topic"]
		if connector == "webhook" {
			dest = webhook.Redacted(sk.Options["url"])
		}
		ch.AppendRow([]types.Datum{sk.Schema, sk.Name, connector, dest, reads, status, txns})
	}
	return w.WriteChunk(ch)
}

// newSinkInstance returns a random name for a new sink's external
// identities (catalog.Sink.Instance): 48 bits, so that two servers' sinks
// on one Kafka cluster do not collide.
func newSinkInstance() string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}
