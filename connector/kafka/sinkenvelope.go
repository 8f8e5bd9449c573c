package kafka

import (
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/connector/format"
	"github.com/sluice-db/sluice/types"
)

// Envelope is how a sink writes a change as Kafka records.
type Envelope int

const (
	// EnvelopeUpsert writes the key's new row as the value, or a tombstone
	// (nil value) when the key's row was deleted: a consumer that keeps the
	// last value per key (a compacted topic) holds the view.
	EnvelopeUpsert Envelope = iota
	// EnvelopeAppend writes every changed row as {"diff": d, "row": {…}}:
	// summing the diffs per row gives the view's multiset.
	EnvelopeAppend
	// EnvelopeDebezium writes {"before": …, "after": …, "op": "c"|"u"|"d"}
	// per changed key (per changed row without a key).
	EnvelopeDebezium
)

// Envelopes names the envelopes for the WITH option.
var Envelopes = map[string]Envelope{"upsert": EnvelopeUpsert, "append": EnvelopeAppend, "debezium": EnvelopeDebezium}

// SinkEncoder turns a sink's consolidated changes into records for one
// topic. It is used by one goroutine at a time.
type SinkEncoder struct {
	topic    string
	envelope Envelope
	key      []int
	f        sinkFormat
	scratch  []byte
}

// NewSinkEncoder returns the encoder of rows with columns names, keyed by
// the columns key (none: records without a key; EnvelopeUpsert needs one),
// keys and values as JSON objects (format.JSONObject).
func NewSinkEncoder(topic string, envelope Envelope, names []string, key []int, cfg *types.Config) *SinkEncoder {
	f := &jsonFormat{rowObj: format.NewJSONObject(names, coldata.AllColumns(len(names))), cfg: cfg}
	if len(key) > 0 {
		f.keyObj = format.NewJSONObject(names, key)
	}
	return &SinkEncoder{topic: topic, envelope: envelope, key: key, f: f}
}

// NewAvroSinkEncoder is NewSinkEncoder for Avro keys and values in the
// Confluent framing, with schema's Key and Value registered under keyID
// and valueID.
func NewAvroSinkEncoder(topic string, envelope Envelope, schema *AvroSinkSchema, key []int, keyID, valueID uint32, cfg *types.Config) *SinkEncoder {
	f := &avroFormat{keyRec: schema.keyRec, rowRec: schema.rowRec, keyID: keyID, valueID: valueID, cfg: cfg}
	return &SinkEncoder{topic: topic, envelope: envelope, key: key, f: f}
}

// NewProtobufSinkEncoder is NewSinkEncoder for protobuf keys and values in
// the Confluent framing, with schema's File registered under keyID and
// valueID.
func NewProtobufSinkEncoder(topic string, envelope Envelope, schema *ProtobufSinkSchema, key []int, keyID, valueID uint32, cfg *types.Config) *SinkEncoder {
	f := &protoFormat{rowMsg: schema.rowMsg, keyMsg: schema.keyMsg, keyID: keyID, valueID: valueID,
		keyIndex: schema.KeyIndex, valueIndex: schema.ValueIndex, cfg: cfg}
	return &SinkEncoder{topic: topic, envelope: envelope, key: key, f: f}
}

// Records returns the records of changes, whose rows must be consolidated
// (each distinct row at most once, with a non-zero diff), in the order of
// the rows (of each key's first row when the envelope groups by key).
func (e *SinkEncoder) Records(changes *coldata.Chunk) []*kgo.Record {
	if e.envelope == EnvelopeAppend || len(e.key) == 0 {
		return e.rowRecords(changes)
	}
	var out []*kgo.Record
	for _, g := range e.keyGroups(changes) {
		rec := &kgo.Record{Topic: e.topic, Key: e.f.key(nil, changes, g.first)}
		switch e.envelope {
		case EnvelopeUpsert:
			if g.after >= 0 {
				rec.Value = e.f.row(nil, changes, g.after)
			}
		case EnvelopeDebezium:
			rec.Value = e.f.debezium(nil, changes, g.before, g.after, debeziumOp(g.before, g.after))
		}
		out = append(out, rec)
	}
	return out
}

func debeziumOp(before, after int) string {
	switch {
	case before < 0:
		return "c"
	case after < 0:
		return "d"
	}
	return "u"
}

// keyChange is the rows of one key in a change set: the last one deleted
// and the last one inserted (-1: none), and the first of either.
type keyChange struct{ first, before, after int }

func (e *SinkEncoder) keyGroups(changes *coldata.Chunk) []keyChange {
	index := map[string]int{}
	var groups []keyChange
	for i := 0; i < changes.Len; i++ {
		e.scratch = e.scratch[:0]
		for _, c := range e.key {
			e.scratch = changes.Cols[c].AppendKey(e.scratch, i)
		}
		g, ok := index[string(e.scratch)]
		if !ok {
			g = len(groups)
			index[string(e.scratch)] = g
			groups = append(groups, keyChange{first: i, before: -1, after: -1})
		}
		if changes.Diffs[i] > 0 {
			groups[g].after = i
		} else {
			groups[g].before = i
		}
	}
	return groups
}

// rowRecords writes each row on its own: appends with their diff, or
// Debezium creates and deletes (one per unit of diff).
func (e *SinkEncoder) rowRecords(changes *coldata.Chunk) []*kgo.Record {
	var out []*kgo.Record
	for i := 0; i < changes.Len; i++ {
		var key []byte
		if len(e.key) > 0 {
			key = e.f.key(nil, changes, i)
		}
		if e.envelope == EnvelopeAppend {
			out = append(out, &kgo.Record{Topic: e.topic, Key: key, Value: e.f.change(nil, changes, i)})
			continue
		}
		d, before, after := changes.Diffs[i], -1, i
		if d < 0 {
			before, after, d = i, -1, -d
		}
		v := e.f.debezium(nil, changes, before, after, debeziumOp(before, after))
		for range d {
			out = append(out, &kgo.Record{Topic: e.topic, Key: key, Value: v})
		}
	}
	return out
}
