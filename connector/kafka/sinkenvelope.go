package kafka

import (
	"strconv"

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
// topic, values and keys as JSON objects (format.JSONObject). It is used by
// one goroutine at a time.
type SinkEncoder struct {
	topic    string
	envelope Envelope
	key      []int
	keyObj   *format.JSONObject // nil without key columns
	rowObj   *format.JSONObject
	cfg      *types.Config
	scratch  []byte
}

// NewSinkEncoder returns the encoder of rows with columns names, keyed by
// the columns key (none: records without a key; EnvelopeUpsert needs one).
func NewSinkEncoder(topic string, envelope Envelope, names []string, key []int, cfg *types.Config) *SinkEncoder {
	all := make([]int, len(names))
	for i := range all {
		all[i] = i
	}
	e := &SinkEncoder{topic: topic, envelope: envelope, key: key, rowObj: format.NewJSONObject(names, all), cfg: cfg}
	if len(key) > 0 {
		e.keyObj = format.NewJSONObject(names, key)
	}
	return e
}

// Records returns the records of changes, whose rows must be consolidated
// (each distinct row at most once, with a non-zero diff), in the order of
// the rows (of each key's first row when the envelope groups by key).
func (e *SinkEncoder) Records(changes *coldata.Chunk) []*kgo.Record {
	if e.envelope == EnvelopeAppend || e.keyObj == nil {
		return e.rowRecords(changes)
	}
	var out []*kgo.Record
	for _, g := range e.keyGroups(changes) {
		rec := &kgo.Record{Topic: e.topic, Key: e.keyObj.Append(nil, changes.Cols, g.first, e.cfg)}
		switch e.envelope {
		case EnvelopeUpsert:
			if g.after >= 0 {
				rec.Value = e.rowObj.Append(nil, changes.Cols, g.after, e.cfg)
			}
		case EnvelopeDebezium:
			rec.Value = e.debezium(changes, g.before, g.after)
		}
		out = append(out, rec)
	}
	return out
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
		if e.keyObj != nil {
			key = e.keyObj.Append(nil, changes.Cols, i, e.cfg)
		}
		d := changes.Diffs[i]
		if e.envelope == EnvelopeAppend {
			v := append(strconv.AppendInt(append([]byte(nil), `{"diff":`...), d, 10), `,"row":`...)
			v = append(e.rowObj.Append(v, changes.Cols, i, e.cfg), '}')
			out = append(out, &kgo.Record{Topic: e.topic, Key: key, Value: v})
			continue
		}
		before, after := -1, i
		if d < 0 {
			before, after, d = i, -1, -d
		}
		v := e.debezium(changes, before, after)
		for range d {
			out = append(out, &kgo.Record{Topic: e.topic, Key: key, Value: v})
		}
	}
	return out
}

// debezium encodes a change from row before to row after (-1: none).
func (e *SinkEncoder) debezium(changes *coldata.Chunk, before, after int) []byte {
	v := append([]byte(nil), `{"before":`...)
	v = e.rowOrNull(v, changes, before)
	v = append(v, `,"after":`...)
	v = e.rowOrNull(v, changes, after)
	op := "u"
	switch {
	case before < 0:
		op = "c"
	case after < 0:
		op = "d"
	}
	return append(append(append(v, `,"op":"`...), op...), `"}`...)
}

func (e *SinkEncoder) rowOrNull(buf []byte, changes *coldata.Chunk, i int) []byte {
	if i < 0 {
		return append(buf, "null"...)
	}
	return e.rowObj.Append(buf, changes.Cols, i, e.cfg)
}
