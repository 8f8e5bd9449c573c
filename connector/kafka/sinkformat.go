package kafka

import (
	"encoding/binary"
	"encoding/json"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"

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
// an AvroSinkSchema.
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

// AvroSinkSchema is what a sink named name writing envelope in Avro is
// built from once: the schemas (JSON) of its keys ("" without a key) and
// values, to register, and the records that write them: the row record
// for upsert, {diff: long, row: Row} for append, {before: Row?, after:
// Row?, op: string} for debezium.
type AvroSinkSchema struct {
	Key, Value     string
	keyRec, rowRec *format.AvroRecord
}

// NewAvroSinkSchema returns the Avro schema of a sink named name writing
// envelope, for rows with columns names of types typs keyed by key.
func NewAvroSinkSchema(name string, envelope Envelope, names []string, typs []*types.T, key []int) (*AvroSinkSchema, error) {
	rowName := format.AvroName(name)
	s := &AvroSinkSchema{rowRec: format.NewAvroRecord(rowName, names, typs, coldata.AllColumns(len(names)))}
	row := s.rowRec.Schema()
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
		return nil, err
	}
	s.Value = string(v)
	if len(key) > 0 {
		s.keyRec = format.NewAvroRecord(rowName+"_key", names, typs, key)
		k, err := json.Marshal(s.keyRec.Schema())
		if err != nil {
			return nil, err
		}
		s.Key = string(k)
	}
	return s, nil
}

// protoFormat writes protobuf messages in the Confluent framing (a zero
// byte, the schema's registry id, the message's indexes in the file), with
// the file of a ProtobufSinkSchema.
type protoFormat struct {
	rowMsg, keyMsg       *format.ProtoMessage
	keyID, valueID       uint32
	keyIndex, valueIndex int
	cfg                  *types.Config
	scratch              []byte
}

// protoFrame appends the Confluent header of message index idx of schema
// id: the indexes are a zigzag varint count and the indexes, [0] as one 0.
func protoFrame(buf []byte, id uint32, idx int) []byte {
	buf = frame(buf, id)
	if idx == 0 {
		return binary.AppendVarint(buf, 0)
	}
	return binary.AppendVarint(binary.AppendVarint(buf, 1), int64(idx))
}

func (f *protoFormat) key(buf []byte, c *coldata.Chunk, i int) []byte {
	return f.keyMsg.Append(protoFrame(buf, f.keyID, f.keyIndex), c.Cols, i, f.cfg)
}

func (f *protoFormat) row(buf []byte, c *coldata.Chunk, i int) []byte {
	return f.rowMsg.Append(protoFrame(buf, f.valueID, f.valueIndex), c.Cols, i, f.cfg)
}

// nested appends row i as field num, a message.
func (f *protoFormat) nested(buf []byte, num protowire.Number, c *coldata.Chunk, i int) []byte {
	f.scratch = f.rowMsg.Append(f.scratch[:0], c.Cols, i, f.cfg)
	return protowire.AppendBytes(protowire.AppendTag(buf, num, protowire.BytesType), f.scratch)
}

func (f *protoFormat) change(buf []byte, c *coldata.Chunk, i int) []byte {
	buf = protoFrame(buf, f.valueID, f.valueIndex)
	buf = protowire.AppendVarint(protowire.AppendTag(buf, 1, protowire.VarintType), uint64(c.Diffs[i]))
	return f.nested(buf, 2, c, i)
}

func (f *protoFormat) debezium(buf []byte, c *coldata.Chunk, before, after int, op string) []byte {
	buf = protoFrame(buf, f.valueID, f.valueIndex)
	if before >= 0 {
		buf = f.nested(buf, 1, c, before)
	}
	if after >= 0 {
		buf = f.nested(buf, 2, c, after)
	}
	return protowire.AppendString(protowire.AppendTag(buf, 3, protowire.BytesType), op)
}

// ProtobufSinkSchema is what a sink named name writing envelope in
// protobuf is built from once: the .proto file (proto3) of its keys and
// values, to register, the indexes in it of the key message (-1 without a
// key) and of the value message (the row message Name for upsert,
// Name_change {diff, row} for append, Name_envelope {before, after, op}
// for debezium), and the messages that write them.
type ProtobufSinkSchema struct {
	File                 string
	KeyIndex, ValueIndex int
	keyMsg, rowMsg       *format.ProtoMessage
}

// NewProtobufSinkSchema returns the protobuf schema of a sink named name
// writing envelope, for rows with columns names of types typs keyed by key.
func NewProtobufSinkSchema(name string, envelope Envelope, names []string, typs []*types.T, key []int) *ProtobufSinkSchema {
	s := &ProtobufSinkSchema{rowMsg: format.NewProtoMessage(name, names, typs, coldata.AllColumns(len(names))), KeyIndex: -1}
	row := s.rowMsg
	msgs := []string{row.Definition()}
	if len(key) > 0 {
		s.keyMsg = format.NewProtoMessage(name+"_key", names, typs, key)
		s.KeyIndex = len(msgs)
		msgs = append(msgs, s.keyMsg.Definition())
	}
	switch envelope {
	case EnvelopeAppend:
		s.ValueIndex = len(msgs)
		msgs = append(msgs, "message "+row.Name()+"_change {\n  int64 diff = 1;\n  "+row.Name()+" row = 2;\n}\n")
	case EnvelopeDebezium:
		s.ValueIndex = len(msgs)
		msgs = append(msgs, "message "+row.Name()+"_envelope {\n  "+row.Name()+" before = 1;\n  "+row.Name()+" after = 2;\n  string op = 3;\n}\n")
	}
	s.File = "syntax = \"proto3\";\n\n" + strings.Join(msgs, "\n")
	return s
}
