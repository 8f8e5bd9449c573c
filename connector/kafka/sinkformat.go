package kafka

import (
	"encoding/binary"
	"encoding/json"
	"strconv"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/connector/format"
	"github.com/sluice-db/sluice/types"
)

// sinkFormat writes the keys and values of a sink's records in one format.
type sinkFormat interface {
	// key writes the key columns of row i.
	key(buf []byte, c *coldata.Chunk, i int) []byte
	// row writes row i (an upsert value).
	row(buf []byte, c *coldata.Chunk, i int) []byte
	// change writes row i with its diff (an append value).
	change(buf []byte, c *coldata.Chunk, i int) []byte
	// debezium writes a change from row before to row after (-1: none).
	debezium(buf []byte, c *coldata.Chunk, before, after int, op string) []byte
}

// jsonFormat writes JSON objects (format.JSONObject).
type jsonFormat struct {
	keyObj, rowObj *format.JSONObject
	cfg            *types.Config
}

func (f *jsonFormat) key(buf []byte, c *coldata.Chunk, i int) []byte {
	return f.keyObj.Append(buf, c.Cols, i, f.cfg)
}

func (f *jsonFormat) row(buf []byte, c *coldata.Chunk, i int) []byte {
	return f.rowObj.Append(buf, c.Cols, i, f.cfg)
}

func (f *jsonFormat) change(buf []byte, c *coldata.Chunk, i int) []byte {
	buf = append(strconv.AppendInt(append(buf, `{"diff":`...), c.Diffs[i], 10), `,"row":`...)
	return append(f.rowObj.Append(buf, c.Cols, i, f.cfg), '}')
}

func (f *jsonFormat) debezium(buf []byte, c *coldata.Chunk, before, after int, op string) []byte {
	buf = f.rowOrNull(append(buf, `{"before":`...), c, before)
	buf = f.rowOrNull(append(buf, `,"after":`...), c, after)
	return append(append(append(buf, `,"op":"`...), op...), `"}`...)
}

func (f *jsonFormat) rowOrNull(buf []byte, c *coldata.Chunk, i int) []byte {
	if i < 0 {
		return append(buf, "null"...)
	}
	return f.rowObj.Append(buf, c.Cols, i, f.cfg)
}

// avroFormat writes Avro records in the Confluent framing (a zero byte and
// the schema's registry id, then the record), with the schemas of
// AvroSchemas.
type avroFormat struct {
	keyRec, rowRec *format.AvroRecord
	keyID, valueID uint32
	cfg            *types.Config
}

func frame(buf []byte, id uint32) []byte { return binary.BigEndian.AppendUint32(append(buf, 0), id) }

func (f *avroFormat) key(buf []byte, c *coldata.Chunk, i int) []byte {
	return f.keyRec.Append(frame(buf, f.keyID), c.Cols, i, f.cfg)
}

func (f *avroFormat) row(buf []byte, c *coldata.Chunk, i int) []byte {
	return f.rowRec.Append(frame(buf, f.valueID), c.Cols, i, f.cfg)
}

func (f *avroFormat) change(buf []byte, c *coldata.Chunk, i int) []byte {
	buf = binary.AppendVarint(frame(buf, f.valueID), c.Diffs[i])
	return f.rowRec.Append(buf, c.Cols, i, f.cfg)
}

func (f *avroFormat) debezium(buf []byte, c *coldata.Chunk, before, after int, op string) []byte {
	buf = frame(buf, f.valueID)
	for _, i := range []int{before, after} {
		if i < 0 {
			buf = binary.AppendVarint(buf, 0)
			continue
		}
		buf = f.rowRec.Append(binary.AppendVarint(buf, 1), c.Cols, i, f.cfg)
	}
	return format.AppendAvroString(buf, op)
}

// AvroSchemas returns the Avro schemas (JSON) of the keys and values a sink
// named name writes with envelope, for rows with columns names of types
// typs keyed by key ("" without a key): the row record for upsert,
// {diff: long, row: Row} for append, {before: Row?, after: Row?, op:
// string} for debezium.
func AvroSchemas(name string, envelope Envelope, names []string, typs []*types.T, key []int) (keySchema, valueSchema string, err error) {
	rowName := format.AvroName(name)
	row := format.NewAvroRecord(rowName, names, typs, allColumns(len(names))).Schema()
	var value any = row
	switch envelope {
	case EnvelopeAppend:
		value = map[string]any{"type": "record", "name": rowName + "_change", "fields": []any{
			map[string]any{"name": "diff", "type": "long"},
			map[string]any{"name": "row", "type": row},
		}}
	case EnvelopeDebezium:
		value = map[string]any{"type": "record", "name": rowName + "_envelope", "fields": []any{
			map[string]any{"name": "before", "type": []any{"null", row}, "default": nil},
			map[string]any{"name": "after", "type": []any{"null", rowName}, "default": nil},
			map[string]any{"name": "op", "type": "string"},
		}}
	}
	v, err := json.Marshal(value)
	if err != nil {
		return "", "", err
	}
	if len(key) > 0 {
		k, err := json.Marshal(format.NewAvroRecord(rowName+"_key", names, typs, key).Schema())
		if err != nil {
			return "", "", err
		}
		keySchema = string(k)
	}
	return keySchema, string(v), nil
}

func allColumns(n int) []int {
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	return all
}
