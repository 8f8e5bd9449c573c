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
	"github.com/sluice-db/sluice/connector/datagen"
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
	src  streamSource
}

// streamSource is a running connector source: kafka or datagen.
type streamSource interface {
	Close()
	// partitions is its progress, by partition, for SHOW SOURCES.
	partitions() []kafka.PartitionStats
}

type kafkaSource struct{ *kafka.Source }

func (s kafkaSource) partitions() []kafka.PartitionStats {
	ps := s.Stats()
	if err := s.Err(); err != nil && len(ps) > 0 {
		ps[len(ps)-1].LastError = err.Error()
	}
	return ps
}

// generatorSource shows as one partition of a topic named after the
// generator: its position is the number of events generated, its high
// watermark the events option (lag: events still to make), -1 if unlimited.
type generatorSource struct {
	*datagen.Source
	opts *datagen.Options
}

func (s generatorSource) partitions() []kafka.PartitionStats {
	st := s.Stats()
	p := kafka.PartitionStats{Partition: kafka.Partition{Topic: "datagen:" + s.opts.Generator.Name()},
		Position: st.Generated, HighWatermark: -1, Records: st.Delivered}
	if s.opts.Events > 0 {
		p.HighWatermark = s.opts.Events
	}
	if st.Err != nil {
		p.LastError = st.Err.Error()
	}
	return []kafka.PartitionStats{p}
}

// SourceStats is one partition of one stream's source, for SHOW SOURCES and
// /metrics.
type SourceStats struct {
	Stream string
	kafka.PartitionStats
}

func sourceOffsetPrefix(id uint32) string { return fmt.Sprintf("source/%d/", id) }

// generatedKey is the meta key of the number of events a datagen stream
// holds, stored with its rows.
func generatedKey(id uint32) string { return fmt.Sprintf("source/%d/generated", id) }

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
	options, err := resolveSecrets(desc.Options)
	if err != nil {
		return nil, err
	}
	opts, err := kafka.ParseOptions(desc.Schema+"."+desc.Name, options, e.kafkaBrokers)
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
	keyFormat := options["key_format"]
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
	f := options["format"]
	if f == "" {
		f = "json"
	}
	if sp.value, err = format.Compile(format.Config{Format: f, Columns: valCols, Options: options, Name: desc.Name}); err != nil {
		return nil, err
	}
	if keyFormat != "" {
		if len(kcols) == 0 {
			return nil, sqlerr.New(sqlerr.InvalidParameterValue, "key_format needs key_columns: the columns decoded from the record key")
		}
		if sp.key, err = format.Compile(format.Config{Format: keyFormat, Columns: kcols, Options: options, Name: desc.Name}); err != nil {
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

// start runs the source of a kafka or datagen stream from the positions
// stored with its rows.
func (ss *sources) start(desc *catalog.Table, stored storedPositions, fresh bool) error {
	var src streamSource
	var err error
	if streamConnector(desc) == "datagen" {
		src, err = ss.startGenerator(desc, stored.generated[desc.ID])
	} else {
		src, err = ss.startKafka(desc, stored.offsets[desc.ID], fresh)
	}
	if err != nil {
		return err
	}
	ss.mu.Lock()
	ss.running[desc.ID] = &runningSource{desc: desc, src: src}
	ss.mu.Unlock()
	return nil
}

func (ss *sources) startKafka(desc *catalog.Table, offsets map[kafka.Partition]int64, fresh bool) (streamSource, error) {
	sp, err := ss.e.kafkaSpec(desc)
	if err != nil {
		return nil, err
	}
	cfg := kafka.Config{
		Options: sp.opts, Value: sp.value, Layout: sp.layout,
		Offsets: offsets, Fresh: fresh, Target: &streamTarget{e: ss.e, id: desc.ID, name: desc.Name},
		Log: ss.e.log.With("stream", desc.Name), Workers: ss.e.workers, BatchRows: storage.SegmentRows(),
	}
	if sp.key != nil {
		cfg.Key = sp.key
	}
	if tbl, ok := ss.e.db.Table(desc.ID); ok && desc.Watermark != nil {
		ss.e.eventTimes.notePartitions(desc, tbl, slices.Collect(maps.Keys(offsets)), time.Now())
	}
	src, err := kafka.Start(cfg)
	if err != nil {
		return nil, err
	}
	return kafkaSource{src}, nil
}

func (ss *sources) startGenerator(desc *catalog.Table, generated int64) (streamSource, error) {
	opts, layout, err := datagenSpec(desc)
	if err != nil {
		return nil, err
	}
	src := datagen.Start(datagen.Config{
		Options: opts, Layout: layout, Types: desc.Types(), Generated: generated,
		Target: generatorTarget{&streamTarget{e: ss.e, id: desc.ID, name: desc.Name}},
		Log:    ss.e.log.With("stream", desc.Name), BatchRows: storage.SegmentRows(), Gate: ss.e.gate,
	})
	return generatorSource{Source: src, opts: opts}, nil
}

// datagenSpec validates a datagen stream's options and columns.
func datagenSpec(desc *catalog.Table) (*datagen.Options, []int, error) {
	opts, err := datagen.ParseOptions(desc.Options)
	if err != nil {
		return nil, nil, err
	}
	cols := make([]datagen.StreamColumn, len(desc.Columns))
	for i, c := range desc.Columns {
		cols[i] = datagen.StreamColumn{Name: c.Name, Type: c.Type, NotNull: c.NotNull}
	}
	layout, err := opts.Generator.Layout(cols)
	if err != nil {
		return nil, nil, err
	}
	return opts, layout, nil
}

// hasSource reports whether a stream is fed by a connector source.
func hasSource(t *catalog.Table) bool {
	c := streamConnector(t)
	return t.Kind == catalog.KindStream && (c == "kafka" || c == "datagen")
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
	for _, id := range runningIDs(&ss.mu, ss.running) {
		ss.stop(id)
	}
}

// runningIDs returns the ids of running, read under mu: the sources' and
// the sinks' close stop them one at a time, each stop taking mu.
func runningIDs[T any](mu *sync.Mutex, running map[uint32]T) []uint32 {
	mu.Lock()
	defer mu.Unlock()
	return slices.Collect(maps.Keys(running))
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
		for _, p := range r.src.partitions() {
			out = append(out, SourceStats{Stream: r.desc.Name, PartitionStats: p})
		}
	}
	return out
}

// SourceStats returns the progress of every stream source's partitions.
func (e *Engine) SourceStats() []SourceStats { return e.sources.stats() }

// startSources starts the sources of the kafka and datagen streams at
// engine start, from the positions stored with their rows.
func (e *Engine) startSources(meta map[string][]byte) {
	var streams []*catalog.Table
	for _, t := range e.cat.Tables() {
		if hasSource(t) {
			streams = append(streams, t)
		}
	}
	e.startStoredSources(streams, meta)
}

// startStoredSources starts the sources of streams at the positions stored
// in meta.
func (e *Engine) startStoredSources(streams []*catalog.Table, meta map[string][]byte) {
	stored := readPositions(meta)
	for _, t := range streams {
		if e.damaged.err(t.ID) != nil {
			continue // its rows were not opened: nothing to append to
		}
		if key, bad := stored.corrupt[t.ID]; bad {
			// Starting over would read or generate the rows again: duplicates.
			e.log.Error("engine: stream source not started: a stored position record is unreadable; "+
				"DROP and CREATE the stream to read it again", "stream", t.Name, "key", key)
			continue
		}
		if err := e.sources.start(t, stored, false); err != nil {
			e.log.Error("engine: stream source did not start", "stream", t.Name, "err", err)
		}
	}
}

// storedPositions is what the sources stored with their rows, by stream
// id: kafka offsets by partition, and the number of events a datagen stream
// holds. corrupt names, by stream id, a record that does not parse.
type storedPositions struct {
	offsets   map[uint32]map[kafka.Partition]int64
	generated map[uint32]int64
	corrupt   map[uint32]string
}

// readPositions reads the sources' position records.
func readPositions(meta map[string][]byte) storedPositions {
	stored := storedPositions{offsets: map[uint32]map[kafka.Partition]int64{}, generated: map[uint32]int64{}, corrupt: map[uint32]string{}}
	for k, v := range meta {
		if !strings.HasPrefix(k, "source/") {
			continue
		}
		pos, err := strconv.ParseInt(string(v), 10, 64)
		if idText, ok := strings.CutSuffix(strings.TrimPrefix(k, "source/"), "/generated"); ok {
			id, idErr := strconv.ParseUint(idText, 10, 32)
			switch {
			case idErr != nil:
			case err != nil || pos < 0:
				stored.corrupt[uint32(id)] = k
			default:
				stored.generated[uint32(id)] = pos
			}
			continue
		}
		id, p, ok := parseSourceOffsetKey(k)
		switch {
		case !ok:
		case err != nil || pos < 0:
			stored.corrupt[id] = k
		default:
			if stored.offsets[id] == nil {
				stored.offsets[id] = map[kafka.Partition]int64{}
			}
			stored.offsets[id][p] = pos
		}
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
	if desc, ok := t.e.cat.ByID(t.id); ok && desc.Watermark != nil {
		if tbl, ok := t.e.db.Table(t.id); ok {
			t.e.eventTimes.notePartitions(desc, tbl, slices.Collect(maps.Keys(b.Offsets)), time.Now())
		}
	}
	origin := &batchOrigin{runs: b.Runs, offsets: b.RecordOffsets}
	return t.commit(ctx, b.Rows, origin, b.Dead, func(txn *storage.Txn) {
		for p, off := range b.Offsets {
			txn.PutMeta(sourceOffsetKey(t.id, p), strconv.AppendInt(nil, off, 10))
		}
	})
}

// generatorTarget commits a datagen stream's rows with the number of events
// generated.
type generatorTarget struct{ *streamTarget }

func (t generatorTarget) Deliver(ctx context.Context, rows *coldata.Chunk, generated int64) error {
	return t.commit(ctx, rows, nil, nil, func(txn *storage.Txn) {
		txn.PutMeta(generatedKey(t.id), strconv.AppendInt(nil, generated, 10))
	})
}

// commit inserts rows (judged against the stream's watermark, if it has
// one: origin says where they came from, nil for a generator) and dead
// letters, and the positions put writes, in one transaction, once the
// views' backlog allows.
func (t *streamTarget) commit(ctx context.Context, rows *coldata.Chunk, origin *batchOrigin, dead []kafka.DeadLetter, put func(*storage.Txn)) error {
	timings := t.e.timings
	if rows.Len > 0 {
		began := time.Now()
		if err := t.e.views.waitBacklog(ctx, sourceBacklogRows); err != nil {
			return err
		}
		timings.backlogWait.observeSince(began)
	}
	tbl, ok := t.e.db.Table(t.id)
	if !ok {
		return sqlerr.New(sqlerr.UndefinedTable, "stream \"%s\" was dropped", t.name)
	}
	txn := t.e.db.Begin()
	txn.SetDivisible()
	if len(dead) > 0 {
		if err := t.insertDead(txn, dead); err != nil {
			txn.Rollback()
			return err
		}
	}
	put(txn)
	if err := t.e.commitWithWatermarks(&txnState{txn: txn}, &sourceBatch{tbl: tbl, rows: rows, origin: origin}); err != nil {
		return err
	}
	tm := txn.Timing()
	timings.commitWait.Observe(tm.Wait.Seconds())
	timings.commitHold.Observe(tm.Hold.Seconds())
	timings.commitRows.Observe(float64(rows.Len))
	return nil
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
	return typedColumns([]string{"stream", "topic", "partition", "position", "high_watermark", "lag",
		"records", "bytes", "dead_letters", "pauses", "error"}, sourceColumnTypes)
}

// knownOffset is an offset, NULL while unknown (negative: before the first
// delivery or fetch).
func knownOffset(off int64) types.Datum {
	if off < 0 {
		return nil
	}
	return off
}

// execShowSources lists every source partition's progress (SHOW SOURCES).
func (s *session) execShowSources(w pgwire.ResultWriter) error {
	ch := coldata.NewChunk(sourceColumnTypes, 0)
	for _, st := range s.e.SourceStats() {
		var errText types.Datum
		if st.LastError != "" {
			errText = st.LastError
		}
		ch.AppendRow([]types.Datum{st.Stream, st.Topic, int64(st.Partition.Partition), knownOffset(st.Position), knownOffset(st.HighWatermark),
			st.Lag(), st.Records, st.Bytes, st.DeadLetters, st.Pauses, errText})
	}
	return w.WriteChunk(ch)
}
