package engine

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-db/sluice/catalog"
	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/connector/format"
	"github.com/sluice-db/sluice/connector/kafka"
	"github.com/sluice-db/sluice/pgwire"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/storage"
	"github.com/sluice-db/sluice/types"
)

// deadLettersName is the table undecodable records go to.
const deadLettersName = "sluice_dead_letters"

// sourceBacklogRows bounds the rows committed to streams but not yet taken
// by the views' epoch loop: a source delivering more waits (and so pauses
// its fetching) until the views catch up.
const sourceBacklogRows = 1 << 18

// sources runs the connector sources of streams, one per stream.
type sources struct {
	e       *Engine
	mu      sync.Mutex
	running map[uint32]*runningSource
}

type runningSource struct {
	desc *catalog.Table
	src  *kafka.Source
}

// SourceStats is one partition of one stream's source, for SHOW SOURCES and
// /metrics.
type SourceStats struct {
	Stream string
	kafka.PartitionStats
}

func sourceOffsetPrefix(id uint32) string { return fmt.Sprintf("source/%d/", id) }

func sourceOffsetKey(id uint32, p kafka.Partition) string {
	return fmt.Sprintf("source/%d/%d/%s", id, p.Partition, p.Topic)
}

func parseSourceOffsetKey(k string) (uint32, kafka.Partition, bool) {
	parts := strings.SplitN(strings.TrimPrefix(k, "source/"), "/", 3)
	if len(parts) != 3 {
		return 0, kafka.Partition{}, false
	}
	id, err1 := strconv.ParseUint(parts[0], 10, 32)
	p, err2 := strconv.ParseInt(parts[1], 10, 32)
	if err1 != nil || err2 != nil {
		return 0, kafka.Partition{}, false
	}
	return uint32(id), kafka.Partition{Topic: parts[2], Partition: int32(p)}, true
}

// kafkaSpec is a kafka stream's source configuration, checked at CREATE.
type kafkaSpec struct {
	opts   *kafka.Options
	value  *format.Format
	key    *format.Format
	layout kafka.Layout
}

// kafkaSpec validates a kafka stream's options and columns.
func (e *Engine) kafkaSpec(desc *catalog.Table) (*kafkaSpec, error) {
	opts, err := kafka.ParseOptions(desc.Schema+"."+desc.Name, desc.Options, e.kafkaBrokers)
	if err != nil {
		return nil, err
	}
	sp := &kafkaSpec{opts: opts, layout: kafka.Layout{Types: desc.Types(), Meta: map[int]kafka.MetaColumn{}}}
	keyCols := map[int]bool{}
	if spec := desc.Options["key_columns"]; spec != "" {
		cols, err := optionColumns(desc, spec, "key_columns")
		if err != nil {
			return nil, err
		}
		for _, c := range cols {
			keyCols[c] = true
		}
	}
	keyFormat := desc.Options["key_format"]
	if len(keyCols) > 0 && keyFormat == "" {
		return nil, sqlerr.New(sqlerr.InvalidParameterValue, "key_columns needs key_format")
	}
	var valCols, kcols []format.Column
	for i, c := range desc.Columns {
		if m, ok := kafka.MetaColumns[c.Name]; ok {
			if err := checkMetaType(c, m); err != nil {
				return nil, err
			}
			sp.layout.Meta[i] = m
			continue
		}
		fc := format.Column{Name: c.Name, Type: c.Type, Path: desc.Paths[c.Name], NotNull: c.NotNull}
		if keyCols[i] {
			kcols = append(kcols, fc)
			sp.layout.Key = append(sp.layout.Key, i)
			continue
		}
		valCols = append(valCols, fc)
		sp.layout.Value = append(sp.layout.Value, i)
	}
	f := desc.Options["format"]
	if f == "" {
		f = "json"
	}
	if sp.value, err = format.Compile(format.Config{Format: f, Columns: valCols, Options: desc.Options, Name: desc.Name}); err != nil {
		return nil, err
	}
	if keyFormat != "" {
		if len(kcols) == 0 {
			return nil, sqlerr.New(sqlerr.InvalidParameterValue, "key_format needs key_columns: the columns decoded from the record key")
		}
		if sp.key, err = format.Compile(format.Config{Format: keyFormat, Columns: kcols, Options: desc.Options, Name: desc.Name}); err != nil {
			return nil, err
		}
	}
	return sp, nil
}

func checkMetaType(c catalog.Column, m kafka.MetaColumn) error {
	ok := false
	switch f := c.Type.Family; m {
	case kafka.MetaTopic:
		ok = f == types.StringFamily
	case kafka.MetaPartition, kafka.MetaOffset:
		ok = f == types.IntFamily && (m == kafka.MetaPartition || c.Type.Oid == types.OidInt8)
	case kafka.MetaTimestamp:
		ok = f == types.TimestampTZFamily
	case kafka.MetaKey:
		ok = f == types.BytesFamily || f == types.StringFamily
	case kafka.MetaHeaders:
		ok = c.Type.Oid == types.OidJSONB
	}
	if !ok {
		want := map[kafka.MetaColumn]string{kafka.MetaTopic: "text", kafka.MetaPartition: "integer or bigint",
			kafka.MetaOffset: "bigint", kafka.MetaTimestamp: "timestamptz", kafka.MetaKey: "bytea or text", kafka.MetaHeaders: "jsonb"}[m]
		return sqlerr.New(sqlerr.DatatypeMismatch, "metadata column \"%s\" must be of type %s", c.Name, want)
	}
	return nil
}

// checkBrokers makes sure a new stream's brokers answer, so a typo fails
// the CREATE rather than a background retry loop.
func checkBrokers(ctx context.Context, o *kafka.Options) error {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(o.Brokers...)}, o.ClientOpts()...)...)
	if err != nil {
		return sqlerr.New(sqlerr.InvalidParameterValue, "kafka brokers %s: %v", strings.Join(o.Brokers, ","), err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := kadm.NewClient(cl).BrokerMetadata(ctx); err != nil {
		return sqlerr.New(sqlerr.ConnectionFailure, "cannot reach kafka brokers %s: %v", strings.Join(o.Brokers, ","), err).
			WithHint("Check the stream's brokers option, or --kafka-brokers.")
	}
	return nil
}

func newSources(e *Engine) *sources {
	return &sources{e: e, running: map[uint32]*runningSource{}}
}

// start runs the source of a kafka stream from its stored offsets.
func (ss *sources) start(desc *catalog.Table, stored map[kafka.Partition]int64, fresh bool) error {
	sp, err := ss.e.kafkaSpec(desc)
	if err != nil {
		return err
	}
	cfg := kafka.Config{
		Options: sp.opts, Value: sp.value, Layout: sp.layout,
		Offsets: stored, Fresh: fresh, Target: &streamTarget{e: ss.e, id: desc.ID, name: desc.Name},
		Log: ss.e.log.With("stream", desc.Name), Workers: ss.e.workers,
	}
	if sp.key != nil {
		cfg.Key = sp.key
	}
	if tbl, ok := ss.e.db.Table(desc.ID); ok && desc.Watermark != nil {
		ss.e.eventTimes.notePartitions(desc, tbl, slices.Collect(maps.Keys(stored)), time.Now())
	}
	src, err := kafka.Start(cfg)
	if err != nil {
		return err
	}
	ss.mu.Lock()
	ss.running[desc.ID] = &runningSource{desc: desc, src: src}
	ss.mu.Unlock()
	return nil
}

// stop stops a stream's source, if it runs.
func (ss *sources) stop(id uint32) {
	ss.mu.Lock()
	rs := ss.running[id]
	delete(ss.running, id)
	ss.mu.Unlock()
	if rs != nil {
		rs.src.Close()
	}
}

func (ss *sources) close() {
	ss.mu.Lock()
	ids := make([]uint32, 0, len(ss.running))
	for id := range ss.running {
		ids = append(ids, id)
	}
	ss.mu.Unlock()
	for _, id := range ids {
		ss.stop(id)
	}
}

// stats returns every running source's partitions, by stream.
func (ss *sources) stats() []SourceStats {
	ss.mu.Lock()
	rs := make([]*runningSource, 0, len(ss.running))
	for _, r := range ss.running {
		rs = append(rs, r)
	}
	ss.mu.Unlock()
	sort.Slice(rs, func(i, j int) bool { return rs[i].desc.Name < rs[j].desc.Name })
	var out []SourceStats
	for _, r := range rs {
		for _, p := range r.src.Stats() {
			out = append(out, SourceStats{Stream: r.desc.Name, PartitionStats: p})
		}
		if err := r.src.Err(); err != nil && len(out) > 0 {
			out[len(out)-1].LastError = err.Error()
		}
	}
	return out
}

// SourceStats returns the progress of every stream source's partitions.
func (e *Engine) SourceStats() []SourceStats { return e.sources.stats() }

// startSources starts the sources of the kafka streams at engine start,
// from the offsets stored with their rows.
func (e *Engine) startSources(meta map[string][]byte) {
	stored := storedOffsets(meta)
	for _, t := range e.cat.Tables() {
		if t.Kind != catalog.KindStream || streamConnector(t) != "kafka" {
			continue
		}
		if err := e.sources.start(t, stored[t.ID], false); err != nil {
			e.log.Error("engine: kafka source did not start", "stream", t.Name, "err", err)
		}
	}
}

// storedOffsets reads the sources' offset records, by stream id. A record
// that does not parse is skipped: its partition starts at its beginning.
func storedOffsets(meta map[string][]byte) map[uint32]map[kafka.Partition]int64 {
	stored := map[uint32]map[kafka.Partition]int64{}
	for k, v := range meta {
		if !strings.HasPrefix(k, "source/") {
			continue
		}
		id, p, ok := parseSourceOffsetKey(k)
		off, err := strconv.ParseInt(string(v), 10, 64)
		if !ok || err != nil {
			continue
		}
		if stored[id] == nil {
			stored[id] = map[kafka.Partition]int64{}
		}
		stored[id][p] = off
	}
	return stored
}

// streamTarget commits what a stream's source read: rows, dead letters and
// offsets in one storage transaction, so a restart resumes exactly there.
type streamTarget struct {
	e    *Engine
	id   uint32
	name string
}

func (t *streamTarget) Deliver(ctx context.Context, b *kafka.Batch) error {
	if b.Rows.Len > 0 {
		if err := t.e.views.waitBacklog(ctx, sourceBacklogRows); err != nil {
			return err
		}
	}
	tbl, ok := t.e.db.Table(t.id)
	if !ok {
		return sqlerr.New(sqlerr.UndefinedTable, "stream \"%s\" was dropped", t.name)
	}
	txn := t.e.db.Begin()
	if len(b.Dead) > 0 {
		if err := t.insertDead(txn, b.Dead); err != nil {
			txn.Rollback()
			return err
		}
	}
	for p, off := range b.Offsets {
		txn.PutMeta(sourceOffsetKey(t.id, p), strconv.AppendInt(nil, off, 10))
	}
	if desc, ok := t.e.cat.ByID(t.id); ok && desc.Watermark != nil {
		t.e.eventTimes.notePartitions(desc, tbl, slices.Collect(maps.Keys(b.Offsets)), time.Now())
	}
	return t.e.commitWithWatermarks(&txnState{txn: txn}, &sourceBatch{tbl: tbl, rows: b.Rows, origin: &batchOrigin{runs: b.Runs, offsets: b.RecordOffsets}})
}

func (t *streamTarget) insertDead(txn *storage.Txn, dead []kafka.DeadLetter) error {
	desc, ok := t.e.cat.Lookup("public", deadLettersName)
	var tbl *storage.Table
	if ok {
		tbl, ok = t.e.db.Table(desc.ID)
	}
	if !ok {
		return sqlerr.New(sqlerr.UndefinedTable, "table \"%s\" was dropped: stream \"%s\" cannot keep its undecodable records", deadLettersName, t.name).
			WithHint("Recreate it by creating any kafka stream, or use on_error = 'fail'.")
	}
	rows := coldata.NewChunk(desc.Types(), len(dead))
	now := time.Now().UnixMicro()
	for _, d := range dead {
		rows.AppendRow([]types.Datum{t.name, d.Topic, int64(d.Partition.Partition), d.Offset,
			string(d.Value), d.Err, d.Timestamp.UnixMicro(), now})
	}
	return txn.Insert(tbl, rows)
}

// deadLettersTable describes sluice_dead_letters.
func deadLettersTable() *catalog.Table {
	col := func(name string, t *types.T) catalog.Column { return catalog.Column{Name: name, Type: t} }
	return &catalog.Table{Kind: catalog.KindTable, Schema: "public", Name: deadLettersName, Columns: []catalog.Column{
		col("stream", types.Text), col("topic", types.Text), col("partition", types.Int4), col("offset", types.Int8),
		col("raw", types.Bytea), col("error", types.Text), col("record_time", types.TimestampTZ), col("received_at", types.TimestampTZ),
	}}
}

var sourceColumnTypes = []*types.T{types.Text, types.Text, types.Int4, types.Int8, types.Int8, types.Int8,
	types.Int8, types.Int8, types.Int8, types.Int8, types.Text}

func sourceColumns() []pgwire.Column {
	names := []string{"stream", "topic", "partition", "position", "high_watermark", "lag",
		"records", "bytes", "dead_letters", "pauses", "error"}
	cols := make([]pgwire.Column, len(names))
	for i, n := range names {
		t := sourceColumnTypes[i]
		cols[i] = pgwire.Column{Name: n, TypeOID: t.Oid, TypeSize: -1, TypeMod: -1}
	}
	return cols
}

// execShowSources lists every source partition's progress (SHOW SOURCES).
func (s *session) execShowSources(w pgwire.ResultWriter) error {
	ch := coldata.NewChunk(sourceColumnTypes, 0)
	for _, st := range s.e.SourceStats() {
		var errText types.Datum
		if st.LastError != "" {
			errText = st.LastError
		}
		ch.AppendRow([]types.Datum{st.Stream, st.Topic, int64(st.Partition.Partition), st.Position, st.HighWatermark,
			st.Lag(), st.Records, st.Bytes, st.DeadLetters, st.Pauses, errText})
	}
	return w.WriteChunk(ch)
}
