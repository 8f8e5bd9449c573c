package format

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/cockroachdb/apd/v3"
	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// Avro records are decoded by a program compiled from the writer's schema
// (parsed with hamba/avro) and the stream's columns: one op per writer
// field, in the order the bytes come, each either filling a column's slot
// or skipping its bytes. This is Avro's schema resolution with the
// columns as the reader's view: a column whose field the writer lacks is
// NULL (or the reader schema's default), a writer field no column names is
// skipped, and values convert to the column types as commit converts them.
// hamba/avro's own decoder into map[string]any is measured beside it in
// BenchmarkAvroDecoders.
//
// Without a registry, avro_schema is the writer schema of every record
// (framing = 'confluent' skips a registry header). With schema_registry,
// each record names its writer schema's id; programs are compiled once per
// id. avro_schema, if also given, is then the reader schema: each writer
// schema must be compatible with it, and its field defaults fill fields the
// writer lacks.

type avroPlan struct {
	cols     []Column
	targets  *jnode
	inline   *avroProg // the program of avro_schema, without a registry
	framed   bool
	reg      *registry
	reader   avro.Schema
	defaults []slot // per column: the reader's default (sMissing: none)
}

// avroProg is a compiled writer schema.
type avroProg struct {
	root *aop
}

type aopKind uint8

const (
	aNull aopKind = iota
	aBool
	aInt
	aLong
	aFloat
	aDouble
	aString
	aBytes
	aFixed
	aEnum
	aRecord
	aArray
	aMap
	aUnion
)

// aop reads one value of the writer schema.
type aop struct {
	kind    aopKind
	col     int      // the column the value goes to, or -1
	produce slotKind // for ints and longs: sInt, sDate, sTime, sInstant, sLocalTS; for bytes/fixed: sBytes or sDecimal
	mul     int64    // µs per unit of a time or timestamp
	size    int      // fixed
	scale   int32    // decimal
	dur     bool     // duration (fixed 12)
	symbols []string
	fields  []*aop // record fields, in writer order
	items   *aop   // array items, map values
	// branches of a union
	branches []*aop
	// generic: the column takes the whole (complex) value, decoded from
	// schema by avroValue.
	generic bool
	schema  avro.Schema
	// targets: some field below feeds a column (else a generic op need not
	// run its fields).
	targets bool
}

func compileAvro(cfg Config) (*avroPlan, error) {
	p := &avroPlan{cols: cfg.Columns}
	var err error
	if p.targets, _, err = fieldTrie(cfg.Columns, -1, "Avro field"); err != nil {
		return nil, err
	}
	schemaText, hasSchema := cfg.Options[OptAvroSchema]
	_, hasRegistry := cfg.Options[OptSchemaRegistry]
	switch fr := cfg.Options[OptFraming]; fr {
	case "", "none":
	case "confluent":
		p.framed = true
	default:
		return nil, errOption("invalid value for option %s: \"%s\"", OptFraming, fr).WithHint("Valid values are none and confluent.")
	}
	if !hasSchema && !hasRegistry {
		return nil, errOption("format avro needs option %s or %s", OptAvroSchema, OptSchemaRegistry)
	}
	var schema avro.Schema
	if hasSchema {
		schema, err = avro.ParseWithCache(schemaText, "", &avro.SchemaCache{})
		if err != nil {
			return nil, errOption("invalid value for option %s: %v", OptAvroSchema, err)
		}
		if schema.Type() != avro.Record {
			return nil, errOption("option %s must be a record schema, not %s", OptAvroSchema, schema.Type())
		}
		// Every column must name a field of the schema.
		for _, c := range cfg.Columns {
			if !avroHasPath(schema, columnPath(c)) {
				return nil, sqlerr.New(sqlerr.UndefinedColumn, "column \"%s\" matches no field of the Avro schema", c.Name)
			}
		}
	}
	if !hasRegistry {
		prog, err := p.compileWriter(schema)
		if err != nil {
			return nil, err
		}
		p.inline = prog
		return p, nil
	}
	p.framed = true
	if schema != nil {
		p.reader = schema
		p.defaults = make([]slot, len(cfg.Columns))
		for i, c := range cfg.Columns {
			if f := avroField(schema, columnPath(c)); f != nil && f.HasDefault() {
				p.defaults[i] = goSlot(f.Default())
			}
		}
	}
	p.reg, err = newRegistry(cfg.Options, p.compileRegistered)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// compileRegistered compiles a writer schema fetched from the registry
// (with the named types of its references).
func (p *avroPlan) compileRegistered(ctx context.Context, s sr.Schema) (any, error) {
	if s.Type != sr.TypeAvro {
		return nil, errRecord(sqlerr.InvalidParameterValue, "it is a %s schema, not Avro", s.Type)
	}
	cache := &avro.SchemaCache{}
	seen := map[string]bool{}
	var addRefs func(refs []sr.SchemaReference, depth int) error
	addRefs = func(refs []sr.SchemaReference, depth int) error {
		if depth > 10 {
			return fmt.Errorf("references nested too deep")
		}
		for _, ref := range refs {
			key := fmt.Sprintf("%s/%d", ref.Subject, ref.Version)
			if seen[key] {
				continue
			}
			seen[key] = true
			rs, err := p.reg.reference(ctx, ref)
			if err != nil {
				return err
			}
			if err := addRefs(rs.References, depth+1); err != nil {
				return err
			}
			if _, err := avro.ParseWithCache(rs.Schema, "", cache); err != nil {
				return fmt.Errorf("reference %q: %w", ref.Name, err)
			}
		}
		return nil
	}
	if err := addRefs(s.References, 0); err != nil {
		return nil, err
	}
	w, err := avro.ParseWithCache(s.Schema, "", cache)
	if err != nil {
		return nil, err
	}
	if p.reader != nil {
		if err := avro.NewSchemaCompatibility().Compatible(p.reader, w); err != nil {
			return nil, fmt.Errorf("not compatible with the reader schema (%s): %w", OptAvroSchema, err)
		}
	}
	return p.compileWriter(w)
}

// compileWriter compiles the program of writer schema w.
func (p *avroPlan) compileWriter(w avro.Schema) (*avroProg, error) {
	w = deref(w)
	if w.Type() != avro.Record {
		return nil, errOption("the Avro schema is a %s, not a record", w.Type())
	}
	b := avroBuilder{skip: map[avro.Schema]*aop{}}
	root, err := b.op(w, -1, p.targets, 0)
	if err != nil {
		return nil, err
	}
	return &avroProg{root: root}, nil
}

func deref(s avro.Schema) avro.Schema {
	if r, ok := s.(*avro.RefSchema); ok {
		return r.Schema()
	}
	return s
}

// avroField finds the field at path (through records and nullable unions).
func avroField(s avro.Schema, path []string) *avro.Field {
	for i, name := range path {
		rec, ok := recordOf(s)
		if !ok {
			return nil
		}
		var f *avro.Field
		for _, x := range rec.Fields() {
			if x.Name() == name {
				f = x
			}
		}
		if f == nil {
			return nil
		}
		if i == len(path)-1 {
			return f
		}
		s = f.Type()
	}
	return nil
}

func avroHasPath(s avro.Schema, path []string) bool { return avroField(s, path) != nil }

// recordOf returns s as a record, looking through references and unions.
func recordOf(s avro.Schema) (*avro.RecordSchema, bool) {
	s = deref(s)
	if u, ok := s.(*avro.UnionSchema); ok {
		for _, b := range u.Types() {
			if r, ok := deref(b).(*avro.RecordSchema); ok {
				return r, true
			}
		}
		return nil, false
	}
	r, ok := s.(*avro.RecordSchema)
	return r, ok
}

type avroBuilder struct {
	skip map[avro.Schema]*aop // ops that only skip, by schema (recursive types)
}

func (b *avroBuilder) op(s avro.Schema, col int, child *jnode, depth int) (*aop, error) {
	if depth > 100 {
		return nil, errOption("the Avro schema nests more than 100 levels deep")
	}
	s = deref(s)
	if col < 0 && child == nil {
		if op, ok := b.skip[s]; ok {
			return op, nil
		}
	}
	op := &aop{col: col, schema: s}
	if col < 0 && child == nil {
		b.skip[s] = op // before the children: a recursive type finds it
	}
	var logical avro.LogicalSchema
	if l, ok := s.(avro.LogicalTypeSchema); ok {
		logical = l.Logical()
	}
	switch s.Type() {
	case avro.Null:
		op.kind = aNull
	case avro.Boolean:
		op.kind = aBool
	case avro.Int, avro.Long:
		op.kind = aInt
		if s.Type() == avro.Long {
			op.kind = aLong
		}
		op.produce, op.mul = sInt, 1
		if logical != nil {
			switch logical.Type() {
			case avro.Date:
				op.produce = sDate
			case avro.TimeMillis:
				op.produce, op.mul = sTime, 1000
			case avro.TimeMicros:
				op.produce = sTime
			case avro.TimestampMillis:
				op.produce, op.mul = sInstant, 1000
			case avro.TimestampMicros:
				op.produce = sInstant
			case avro.LocalTimestampMillis:
				op.produce, op.mul = sLocalTS, 1000
			case avro.LocalTimestampMicros:
				op.produce = sLocalTS
			}
		}
	case avro.Float:
		op.kind = aFloat
	case avro.Double:
		op.kind = aDouble
	case avro.String:
		op.kind = aString
	case avro.Bytes, avro.Fixed:
		op.kind, op.produce = aBytes, sBytes
		if f, ok := s.(*avro.FixedSchema); ok {
			op.kind, op.size = aFixed, f.Size()
		}
		if d, ok := logical.(*avro.DecimalLogicalSchema); ok {
			op.produce, op.scale = sDecimal, int32(d.Scale())
		} else if logical != nil && logical.Type() == avro.Duration && op.size == 12 {
			op.dur = true
		}
	case avro.Enum:
		op.kind, op.symbols = aEnum, s.(*avro.EnumSchema).Symbols()
	case avro.Record:
		op.kind = aRecord
		op.generic = col >= 0
		for _, f := range s.(*avro.RecordSchema).Fields() {
			fcol, fchild := -1, (*jnode)(nil)
			if e := child.get(f.Name()); e != nil {
				fcol, fchild = e.col, e.child
				op.targets = true
			}
			fop, err := b.op(f.Type(), fcol, fchild, depth+1)
			if err != nil {
				return nil, err
			}
			op.fields = append(op.fields, fop)
		}
	case avro.Array, avro.Map:
		op.kind = aArray
		var items avro.Schema
		if a, ok := s.(*avro.ArraySchema); ok {
			items = a.Items()
		} else {
			op.kind, items = aMap, s.(*avro.MapSchema).Values()
		}
		op.generic = col >= 0
		var err error
		if op.items, err = b.op(items, -1, nil, depth+1); err != nil {
			return nil, err
		}
	case avro.Union:
		op.kind = aUnion
		for _, br := range s.(*avro.UnionSchema).Types() {
			bop, err := b.op(br, col, child, depth+1)
			if err != nil {
				return nil, err
			}
			op.branches = append(op.branches, bop)
		}
	default:
		return nil, errOption("Avro type %s is not supported", s.Type())
	}
	return op, nil
}

type avroDecoder struct {
	p      *avroPlan
	c      committer
	slots  []slot
	lastID uint32
	last   *avroProg
	progs  map[uint32]*avroProg
	json   []byte
}

func newAvroDecoder(p *avroPlan, c committer) *avroDecoder {
	return &avroDecoder{p: p, c: c, slots: make([]slot, len(p.cols)), progs: map[uint32]*avroProg{}}
}

// Decode decodes one Avro record (after its registry header, if framed).
func (d *avroDecoder) Decode(rec []byte, cols []*coldata.Vec) error {
	if err := checkCols(len(d.slots), cols); err != nil {
		return err
	}
	prog, start := d.p.inline, 0
	if d.p.framed {
		id, err := confluentHeader(rec)
		if err != nil {
			return err
		}
		start = 5
		if d.p.reg != nil {
			if prog, err = d.prog(id); err != nil {
				return err
			}
		}
	}
	for i := range d.slots {
		d.slots[i].kind = sMissing
	}
	end, err := d.run(prog.root, rec, start, 0)
	if err != nil {
		return err
	}
	if end != len(rec) {
		return errRecord(sqlerr.InvalidBinaryRepresentation, "%d bytes after the end of the Avro record (is the schema right?)", len(rec)-end)
	}
	for i := range d.p.defaults {
		if d.slots[i].kind == sMissing && d.p.defaults[i].kind != sMissing {
			d.slots[i] = d.p.defaults[i]
		}
	}
	return d.c.commit(rec, d.slots, cols)
}

// prog returns the program of writer schema id.
func (d *avroDecoder) prog(id uint32) (*avroProg, error) {
	if d.last != nil && id == d.lastID {
		return d.last, nil
	}
	prog, ok := d.progs[id]
	if !ok {
		v, err := d.p.reg.get(id)
		if err != nil {
			return nil, err
		}
		prog = v.(*avroProg)
		d.progs[id] = prog
	}
	d.lastID, d.last = id, prog
	return prog, nil
}

func errTruncated() error {
	return errRecord(sqlerr.InvalidBinaryRepresentation, "truncated Avro record")
}

// readVarint reads a zig-zag varint (an Avro int or long).
func readVarint(b []byte, i int) (int64, int, error) {
	var u uint64
	for shift := uint(0); shift < 70; shift += 7 {
		if i >= len(b) {
			return 0, 0, errTruncated()
		}
		c := b[i]
		i++
		if shift == 63 && c > 1 {
			break
		}
		u |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return int64(u>>1) ^ -int64(u&1), i, nil
		}
	}
	return 0, 0, errRecord(sqlerr.InvalidBinaryRepresentation, "malformed varint in the Avro record")
}

// readLen reads a length (of bytes, a string) and checks the bytes are there.
func readLen(b []byte, i int) (int, int, error) {
	n, i, err := readVarint(b, i)
	if err != nil {
		return 0, 0, err
	}
	if n < 0 || n > int64(len(b)-i) {
		if n < 0 {
			return 0, 0, errRecord(sqlerr.InvalidBinaryRepresentation, "negative length %d in the Avro record", n)
		}
		return 0, 0, errTruncated()
	}
	return int(n), i, nil
}

// run executes op on b at i and returns the index after the value.
func (d *avroDecoder) run(op *aop, b []byte, i int, depth int) (int, error) {
	if depth > maxJSONDepth {
		return 0, errRecord(sqlerr.ProgramLimitExceeded, "Avro value nested more than %d levels deep", maxJSONDepth)
	}
	var sl *slot
	if op.col >= 0 {
		sl = &d.slots[op.col]
	}
	switch op.kind {
	case aNull:
		if sl != nil {
			sl.kind = sNull
		}
		return i, nil
	case aBool:
		if i >= len(b) {
			return 0, errTruncated()
		}
		if b[i] > 1 {
			return 0, errRecord(sqlerr.InvalidBinaryRepresentation, "Avro boolean byte 0x%02x is neither 0 nor 1", b[i])
		}
		if sl != nil {
			sl.kind, sl.i = sBool, int64(b[i])
		}
		return i + 1, nil
	case aInt, aLong:
		v, j, err := readVarint(b, i)
		if err != nil {
			return 0, err
		}
		if op.kind == aInt && (v < math.MinInt32 || v > math.MaxInt32) {
			return 0, errRecord(sqlerr.InvalidBinaryRepresentation, "Avro int %d out of range", v)
		}
		if sl != nil {
			if op.mul != 1 {
				if v > math.MaxInt64/op.mul || v < math.MinInt64/op.mul {
					return 0, errColumn(d.p.cols[op.col].Name, sqlerr.New(sqlerr.DatetimeFieldOverflow, "timestamp out of range: %d", v))
				}
				v *= op.mul
			}
			sl.kind, sl.i = op.produce, v
		}
		return j, nil
	case aFloat:
		if i+4 > len(b) {
			return 0, errTruncated()
		}
		if sl != nil {
			sl.kind, sl.f = sFloat, float64(math.Float32frombits(binary.LittleEndian.Uint32(b[i:])))
		}
		return i + 4, nil
	case aDouble:
		if i+8 > len(b) {
			return 0, errTruncated()
		}
		if sl != nil {
			sl.kind, sl.f = sFloat, math.Float64frombits(binary.LittleEndian.Uint64(b[i:]))
		}
		return i + 8, nil
	case aString, aBytes:
		n, j, err := readLen(b, i)
		if err != nil {
			return 0, err
		}
		if sl != nil {
			sl.a, sl.b, sl.utf = j, j+n, true
			switch {
			case op.kind == aString:
				sl.kind = sText
			case op.produce == sDecimal:
				sl.kind, sl.i = sDecimal, int64(op.scale)
			default:
				sl.kind = sBytes
			}
		}
		return j + n, nil
	case aFixed:
		if i+op.size > len(b) {
			return 0, errTruncated()
		}
		if sl != nil {
			switch {
			case op.dur:
				iv := types.IntervalValue{Months: int32(binary.LittleEndian.Uint32(b[i:])), Days: int32(binary.LittleEndian.Uint32(b[i+4:])),
					Micros: int64(binary.LittleEndian.Uint32(b[i+8:])) * 1000}
				sl.kind, sl.d, sl.dt = sDatum, iv, types.Interval
			case op.produce == sDecimal:
				sl.kind, sl.a, sl.b, sl.i = sDecimal, i, i+op.size, int64(op.scale)
			default:
				sl.kind, sl.a, sl.b = sBytes, i, i+op.size
			}
		}
		return i + op.size, nil
	case aEnum:
		v, j, err := readVarint(b, i)
		if err != nil {
			return 0, err
		}
		if v < 0 || v >= int64(len(op.symbols)) {
			return 0, errRecord(sqlerr.InvalidBinaryRepresentation, "Avro enum index %d out of range (%d symbols)", v, len(op.symbols))
		}
		if sl != nil {
			sl.kind, sl.str = sStr, op.symbols[v]
		}
		return j, nil
	case aUnion:
		v, j, err := readVarint(b, i)
		if err != nil {
			return 0, err
		}
		if v < 0 || v >= int64(len(op.branches)) {
			return 0, errRecord(sqlerr.InvalidBinaryRepresentation, "Avro union branch %d out of range (%d branches)", v, len(op.branches))
		}
		return d.run(op.branches[v], b, j, depth+1)
	case aRecord:
		if op.generic {
			return d.generic(op, b, i, depth)
		}
		for _, f := range op.fields {
			var err error
			if i, err = d.run(f, b, i, depth+1); err != nil {
				return 0, err
			}
		}
		return i, nil
	case aArray, aMap:
		if op.generic {
			return d.generic(op, b, i, depth)
		}
		return d.skipBlocks(op, b, i, depth)
	}
	return 0, sqlerr.Bug("Avro op %d", op.kind)
}

// skipBlocks skips an array or a map.
func (d *avroDecoder) skipBlocks(op *aop, b []byte, i int, depth int) (int, error) {
	items := 0
	for {
		n, j, err := readVarint(b, i)
		if err != nil {
			return 0, err
		}
		i = j
		if n == 0 {
			return i, nil
		}
		if n < 0 {
			// A negative count is followed by the block's size in bytes.
			size, j, err := readLen(b, i)
			if err != nil {
				return 0, err
			}
			i = j + size
			continue
		}
		if items += int(n); n > int64(len(b)) || items > len(b)+maxEmptyItems {
			return 0, errRecord(sqlerr.InvalidBinaryRepresentation, "Avro block of %d items is longer than the record", n)
		}
		for k := int64(0); k < n; k++ {
			if op.kind == aMap {
				klen, j, err := readLen(b, i)
				if err != nil {
					return 0, err
				}
				i = j + klen
			}
			if i, err = d.run(op.items, b, i, depth+1); err != nil {
				return 0, err
			}
		}
	}
}

// maxEmptyItems bounds the items of zero bytes (nulls, empty records) an
// array may claim beyond one per byte of the record.
const maxEmptyItems = 1 << 16

// generic decodes a complex value into its column as JSON (or an array)
// and, if fields below it feed columns too, runs its fields for them.
func (d *avroDecoder) generic(op *aop, b []byte, i int, depth int) (int, error) {
	v, end, err := avroValue(op.schema, b, i, depth)
	if err != nil {
		return 0, err
	}
	if op.targets {
		op2 := *op
		op2.generic = false
		op2.col = -1
		if _, err := d.run(&op2, b, i, depth); err != nil {
			return 0, err
		}
	}
	sl, err := valueSlot(d.p.cols[op.col], v, &d.json)
	if err != nil {
		return 0, err
	}
	d.slots[op.col] = sl
	return end, nil
}

// valueSlot makes the slot of a decoded complex value for column c: an
// array column gets an array, any other column JSON (built in *scratch).
func valueSlot(c Column, v any, scratch *[]byte) (slot, error) {
	if c.Type.Family == types.ArrayFamily {
		if items, ok := v.([]any); ok {
			sl, err := arraySlot(c.Type, items)
			if err != nil {
				return slot{}, errColumn(c.Name, err)
			}
			return sl, nil
		}
	}
	*scratch = appendJSONValue((*scratch)[:0], v)
	return slot{kind: sJSONText, str: string(*scratch)}, nil
}

// arraySlot converts decoded items to an array of t.
func arraySlot(t *types.T, items []any) (slot, error) {
	arr := &types.Array{Elem: t.Elem, Elems: make([]types.Datum, len(items))}
	for k, it := range items {
		var from *types.T
		var x types.Datum
		switch it := it.(type) {
		case nil:
			continue
		case bool:
			from, x = types.Bool, it
		case int64:
			from, x = types.Int8, it
		case float64:
			from, x = types.Float8, it
		case string:
			from, x = types.Text, it
		case []byte:
			from, x = types.Bytea, string(it)
		case *apd.Decimal:
			from, x = types.Numeric, it
		default:
			from, x = types.Text, string(appendJSONValue(nil, it))
		}
		var err error
		if from == types.Text {
			x, err = types.ParseText(t.Elem, x.(string), nil)
		} else {
			x, err = types.CastDatum(x, from, t.Elem, true, nil)
		}
		if err != nil {
			return slot{}, err
		}
		arr.Elems[k] = x
	}
	return slot{kind: sDatum, d: arr, dt: t}, nil
}

// jsonPair is one member of a decoded record or map, kept in order.
type jsonPair struct {
	key string
	val any
}

// avroValue decodes a value of schema s generically: nil, bool, int64,
// float64, string, []byte, *apd.Decimal, []any, []jsonPair.
func avroValue(s avro.Schema, b []byte, i int, depth int) (any, int, error) {
	if depth > maxJSONDepth {
		return nil, 0, errRecord(sqlerr.ProgramLimitExceeded, "Avro value nested more than %d levels deep", maxJSONDepth)
	}
	s = deref(s)
	switch s.Type() {
	case avro.Null:
		return nil, i, nil
	case avro.Boolean:
		if i >= len(b) {
			return nil, 0, errTruncated()
		}
		return b[i] != 0, i + 1, nil
	case avro.Int, avro.Long:
		v, j, err := readVarint(b, i)
		return v, j, err
	case avro.Float:
		if i+4 > len(b) {
			return nil, 0, errTruncated()
		}
		return float64(math.Float32frombits(binary.LittleEndian.Uint32(b[i:]))), i + 4, nil
	case avro.Double:
		if i+8 > len(b) {
			return nil, 0, errTruncated()
		}
		return math.Float64frombits(binary.LittleEndian.Uint64(b[i:])), i + 8, nil
	case avro.String, avro.Bytes, avro.Fixed:
		var n, j int
		var err error
		if f, ok := s.(*avro.FixedSchema); ok {
			n, j = f.Size(), i
			if j+n > len(b) {
				return nil, 0, errTruncated()
			}
		} else if n, j, err = readLen(b, i); err != nil {
			return nil, 0, err
		}
		raw := b[j : j+n]
		if s.Type() == avro.String {
			return string(raw), j + n, nil
		}
		if l, ok := s.(avro.LogicalTypeSchema); ok {
			if dl, ok := l.Logical().(*avro.DecimalLogicalSchema); ok {
				dec, _ := decimalFromTwos(raw, int32(dl.Scale()))
				return dec, j + n, nil
			}
		}
		return append([]byte(nil), raw...), j + n, nil
	case avro.Enum:
		v, j, err := readVarint(b, i)
		if err != nil {
			return nil, 0, err
		}
		syms := s.(*avro.EnumSchema).Symbols()
		if v < 0 || v >= int64(len(syms)) {
			return nil, 0, errRecord(sqlerr.InvalidBinaryRepresentation, "Avro enum index %d out of range (%d symbols)", v, len(syms))
		}
		return syms[v], j, nil
	case avro.Union:
		v, j, err := readVarint(b, i)
		if err != nil {
			return nil, 0, err
		}
		brs := s.(*avro.UnionSchema).Types()
		if v < 0 || v >= int64(len(brs)) {
			return nil, 0, errRecord(sqlerr.InvalidBinaryRepresentation, "Avro union branch %d out of range (%d branches)", v, len(brs))
		}
		return avroValue(brs[v], b, j, depth+1)
	case avro.Record:
		fields := s.(*avro.RecordSchema).Fields()
		out := make([]jsonPair, len(fields))
		for k, f := range fields {
			v, j, err := avroValue(f.Type(), b, i, depth+1)
			if err != nil {
				return nil, 0, err
			}
			out[k], i = jsonPair{f.Name(), v}, j
		}
		return out, i, nil
	case avro.Array, avro.Map:
		var items avro.Schema
		isMap := false
		if a, ok := s.(*avro.ArraySchema); ok {
			items = a.Items()
		} else {
			items, isMap = s.(*avro.MapSchema).Values(), true
		}
		var arr []any
		var obj []jsonPair
		total := 0
		for {
			n, j, err := readVarint(b, i)
			if err != nil {
				return nil, 0, err
			}
			i = j
			if n == 0 {
				break
			}
			if n < 0 {
				n = -n
				if _, i, err = readLen(b, i); err != nil {
					return nil, 0, err
				}
			}
			if total += int(n); n > int64(len(b)) || total > len(b)+maxEmptyItems {
				return nil, 0, errRecord(sqlerr.InvalidBinaryRepresentation, "Avro block of %d items is longer than the record", n)
			}
			for k := int64(0); k < n; k++ {
				var key string
				if isMap {
					kl, j, err := readLen(b, i)
					if err != nil {
						return nil, 0, err
					}
					key, i = string(b[j:j+kl]), j+kl
				}
				v, j, err := avroValue(items, b, i, depth+1)
				if err != nil {
					return nil, 0, err
				}
				i = j
				if isMap {
					obj = append(obj, jsonPair{key, v})
				} else {
					arr = append(arr, v)
				}
			}
		}
		if isMap {
			if obj == nil {
				obj = []jsonPair{}
			}
			return obj, i, nil
		}
		if arr == nil {
			arr = []any{}
		}
		return arr, i, nil
	}
	return nil, 0, errRecord(sqlerr.FeatureNotSupported, "Avro type %s is not supported", s.Type())
}

// appendJSONValue appends v (as avroValue or protoValue return it) as JSON.
func appendJSONValue(buf []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(buf, "null"...)
	case rawJSON:
		return append(buf, v...)
	case bool:
		return strconv.AppendBool(buf, v)
	case int64:
		return strconv.AppendInt(buf, v, 10)
	case uint64:
		return strconv.AppendUint(buf, v, 10)
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return types.AppendJSONString(buf, strconv.FormatFloat(v, 'g', -1, 64))
		}
		return strconv.AppendFloat(buf, v, 'g', -1, 64)
	case string:
		return types.AppendJSONString(buf, v)
	case []byte:
		return types.AppendJSONString(buf, types.FormatText(types.Bytea, string(v), nil))
	case *apd.Decimal:
		return append(buf, v.Text('f')...)
	case []any:
		buf = append(buf, '[')
		for k, e := range v {
			if k > 0 {
				buf = append(buf, ',')
			}
			buf = appendJSONValue(buf, e)
		}
		return append(buf, ']')
	case []jsonPair:
		buf = append(buf, '{')
		for k, p := range v {
			if k > 0 {
				buf = append(buf, ',')
			}
			buf = types.AppendJSONString(buf, p.key)
			buf = append(buf, ':')
			buf = appendJSONValue(buf, p.val)
		}
		return append(buf, '}')
	}
	b, _ := json.Marshal(v)
	return append(buf, b...)
}

// goSlot makes a slot of a Go value (an Avro field default as hamba/avro
// parses it).
func goSlot(v any) slot {
	switch v := v.(type) {
	case nil:
		return slot{kind: sNull}
	case bool:
		if v {
			return slot{kind: sBool, i: 1}
		}
		return slot{kind: sBool}
	case int:
		return slot{kind: sInt, i: int64(v)}
	case int32:
		return slot{kind: sInt, i: int64(v)}
	case int64:
		return slot{kind: sInt, i: v}
	case float32:
		return slot{kind: sFloat, f: float64(v)}
	case float64:
		return slot{kind: sFloat, f: v}
	case string:
		return slot{kind: sStr, str: v}
	case []byte:
		return slot{kind: sDatum, d: string(v), dt: types.Bytea}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return slot{kind: sNull}
	}
	return slot{kind: sJSONText, str: string(b)}
}
