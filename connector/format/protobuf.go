package format

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/linker"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// Protobuf records are decoded by a wire-format walker driven by the
// message descriptor (compiled from the .proto with bufbuild/protocompile):
// it reads each field's tag, and a field a column reads goes straight into
// the column's slot; other fields are skipped without being decoded. Only
// a column that takes a whole repeated field, map or message (as an array
// or as JSON) goes through dynamicpb. The walker is measured against
// dynamicpb in BenchmarkProtobufDecoders.
//
// Columns map to fields by name (Column.Path into nested messages). A
// field with presence (proto2 optional, proto3 optional, a message, a
// oneof member) that is absent is NULL; a proto3 scalar without presence
// that is absent is its zero value, as protobuf defines it — if its
// message is present. google.protobuf.Timestamp reads into timestamptz,
// Duration into interval, the wrapper types as their value.

type protoPlan struct {
	cols    []Column
	targets *jnode
	inline  *protoProg
	framed  bool
	reg     *registry
	msgName string
}

// protoProg is a message compiled for the columns.
type protoProg struct {
	root   *pmsg
	nmsgs  int
	desc   protoreflect.MessageDescriptor
	leaves []pleaf // per column
	// dynamic: some column needs dynamicpb (a repeated field, a map, a
	// message as JSON).
	dynamic bool
}

// pleaf is what a column reads.
type pleaf struct {
	path    []protoreflect.FieldDescriptor // from the root message
	parent  int                            // the pmsg id of the field's message
	dynamic bool
	many    bool // a repeated field or a map: absent is empty, not NULL
	zero    slot // the value of an absent field without presence (sMissing: NULL)
}

// pmsg maps the field numbers of one message to what is done with them.
type pmsg struct {
	id    int
	dense []*pfield // by field number, for small numbers
	more  map[protowire.Number]*pfield
	// special is a well-known message read into one column.
	special wkt
	col     int
	wrap    *pfield // the value field of a wrapper
}

type wkt uint8

const (
	wktNone wkt = iota
	wktTimestamp
	wktDuration
	wktWrapper
)

type pfield struct {
	fd    protoreflect.FieldDescriptor
	kind  protoreflect.Kind
	col   int   // the column reading the value, or -1
	child *pmsg // a message that columns look into
	enum  protoreflect.EnumValueDescriptors
	// dynamic: the column reads this field through dynamicpb; the walker
	// only notes the field was seen.
	dynamic bool
}

func (m *pmsg) field(n protowire.Number) *pfield {
	if int(n) < len(m.dense) {
		return m.dense[n]
	}
	return m.more[n]
}

func (m *pmsg) add(f *pfield) {
	n := f.fd.Number()
	if n < 64 {
		for len(m.dense) <= int(n) {
			m.dense = append(m.dense, nil)
		}
		m.dense[n] = f
		return
	}
	if m.more == nil {
		m.more = map[protowire.Number]*pfield{}
	}
	m.more[n] = f
}

func compileProto(cfg Config) (*protoPlan, error) {
	p := &protoPlan{cols: cfg.Columns, msgName: cfg.Options[OptProtoMessage]}
	var err error
	if p.targets, _, err = fieldTrie(cfg.Columns, -1, "protobuf field"); err != nil {
		return nil, err
	}
	switch fr := cfg.Options[OptFraming]; fr {
	case "", "none":
	case "confluent":
		p.framed = true
	default:
		return nil, errOption("invalid value for option %s: \"%s\"", OptFraming, fr).WithHint("Valid values are none and confluent.")
	}
	file, hasFile := cfg.Options[OptProtoFile]
	_, hasRegistry := cfg.Options[OptSchemaRegistry]
	if hasRegistry {
		p.framed = true
		p.reg, err = newRegistry(cfg.Options, p.compileRegistered)
		return p, err
	}
	if !hasFile {
		return nil, errOption("format protobuf needs option %s (and %s) or %s", OptProtoFile, OptProtoMessage, OptSchemaRegistry)
	}
	if p.msgName == "" {
		return nil, errOption("format protobuf needs option %s with %s", OptProtoMessage, OptProtoFile)
	}
	src, err := os.ReadFile(file)
	if err != nil {
		return nil, errOption("could not read %s \"%s\": %v", OptProtoFile, file, errors.Unwrap(err))
	}
	imports := []string{filepath.Dir(file)}
	for _, d := range strings.Split(cfg.Options[OptProtoImportPath], ",") {
		if d = strings.TrimSpace(d); d != "" {
			imports = append(imports, d)
		}
	}
	name := filepath.Base(file)
	files, err := compileProtoSources(context.Background(), map[string]string{name: string(src)}, name, imports)
	if err != nil {
		return nil, errOption("%s \"%s\": %v", OptProtoFile, file, err)
	}
	md, err := findMessage(files, p.msgName)
	if err != nil {
		return nil, err
	}
	if p.inline, err = p.compileMessage(md, true); err != nil {
		return nil, err
	}
	return p, nil
}

// compileProtoSources compiles file (from srcs, else the import paths),
// with the well-known imports available.
func compileProtoSources(ctx context.Context, srcs map[string]string, file string, imports []string) (linker.Files, error) {
	var res protocompile.Resolver = &protocompile.SourceResolver{Accessor: protocompile.SourceAccessorFromMap(srcs)}
	if len(imports) > 0 {
		res = protocompile.CompositeResolver{res, &protocompile.SourceResolver{ImportPaths: imports}}
	}
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(res), MaxParallelism: 1}
	return c.Compile(ctx, file)
}

func findMessage(files linker.Files, name string) (protoreflect.MessageDescriptor, error) {
	d, err := files.AsResolver().FindDescriptorByName(protoreflect.FullName(name))
	if err != nil {
		return nil, errUndefined("protobuf message \"%s\" does not exist", name)
	}
	md, ok := d.(protoreflect.MessageDescriptor)
	if !ok {
		return nil, errUndefined("protobuf message \"%s\" does not exist (it is not a message)", name)
	}
	return md, nil
}

// compileRegistered compiles a writer schema from the registry; the
// result maps message indexes to programs, compiled on first use.
func (p *protoPlan) compileRegistered(ctx context.Context, s sr.Schema) (any, error) {
	if s.Type != sr.TypeProtobuf {
		return nil, errRecord(sqlerr.InvalidParameterValue, "it is a %s schema, not PROTOBUF", s.Type)
	}
	srcs := map[string]string{"schema.proto": s.Schema}
	seen := map[string]bool{}
	var addRefs func(refs []sr.SchemaReference, depth int) error
	addRefs = func(refs []sr.SchemaReference, depth int) error {
		if depth > 10 {
			return fmt.Errorf("references nested too deep")
		}
		for _, ref := range refs {
			if seen[ref.Name] {
				continue
			}
			seen[ref.Name] = true
			rs, err := p.reg.reference(ctx, ref)
			if err != nil {
				return err
			}
			srcs[ref.Name] = rs.Schema
			if err := addRefs(rs.References, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := addRefs(s.References, 0); err != nil {
		return nil, err
	}
	files, err := compileProtoSources(ctx, srcs, "schema.proto", nil)
	if err != nil {
		return nil, err
	}
	return &protoWriter{plan: p, file: files[0], progs: map[string]*protoProg{}}, nil
}

// protoWriter is one registered writer schema: a file whose messages the
// records name by index.
type protoWriter struct {
	plan  *protoPlan
	file  protoreflect.FileDescriptor
	progs map[string]*protoProg // by index path; guarded by plan.reg.mu
}

// prog returns the program of the message at indexes.
func (w *protoWriter) prog(indexes []int) (*protoProg, error) {
	key := fmt.Sprint(indexes)
	w.plan.reg.mu.Lock()
	prog, ok := w.progs[key]
	w.plan.reg.mu.Unlock()
	if ok {
		return prog, nil
	}
	msgs := w.file.Messages()
	var md protoreflect.MessageDescriptor
	for _, ix := range indexes {
		if ix < 0 || ix >= msgs.Len() {
			return nil, errRecord(sqlerr.InvalidBinaryRepresentation, "message index %v names no message of the writer schema", indexes)
		}
		md = msgs.Get(ix)
		msgs = md.Messages()
	}
	prog, err := w.plan.compileMessage(md, false)
	if err != nil {
		return nil, err
	}
	w.plan.reg.mu.Lock()
	w.progs[key] = prog
	w.plan.reg.mu.Unlock()
	return prog, nil
}

// compileMessage compiles message md for the columns. strict makes a
// column that matches no field an error (a local .proto); a registered
// writer may lack fields (they are NULL).
func (p *protoPlan) compileMessage(md protoreflect.MessageDescriptor, strict bool) (*protoProg, error) {
	prog := &protoProg{desc: md, leaves: make([]pleaf, len(p.cols))}
	var build func(md protoreflect.MessageDescriptor, n *jnode, path []protoreflect.FieldDescriptor) (*pmsg, error)
	build = func(md protoreflect.MessageDescriptor, n *jnode, path []protoreflect.FieldDescriptor) (*pmsg, error) {
		m := &pmsg{id: prog.nmsgs, col: -1}
		prog.nmsgs++
		for k, key := range n.keys {
			e := n.ents[k]
			fd := md.Fields().ByName(protoreflect.Name(key))
			if fd == nil {
				fd = md.Fields().ByJSONName(key)
			}
			if fd == nil {
				if strict {
					col := e.col
					if col < 0 {
						col = firstCol(e.child)
					}
					return nil, sqlerr.New(sqlerr.UndefinedColumn, "column \"%s\" matches no field of protobuf message %s", p.cols[col].Name, md.FullName())
				}
				continue
			}
			f := &pfield{fd: fd, kind: fd.Kind(), col: e.col}
			fpath := append(append([]protoreflect.FieldDescriptor(nil), path...), fd)
			if f.kind == protoreflect.EnumKind {
				f.enum = fd.Enum().Values()
			}
			if e.col >= 0 {
				leaf := &prog.leaves[e.col]
				leaf.path, leaf.parent = fpath, m.id
				switch {
				case fd.IsList() || fd.IsMap():
					f.dynamic, leaf.dynamic, leaf.many = true, true, true
				case f.kind == protoreflect.MessageKind || f.kind == protoreflect.GroupKind:
					if w := wellKnown(fd.Message()); w != wktNone {
						child, err := build(fd.Message(), &jnode{index: map[string]int{}}, fpath)
						if err != nil {
							return nil, err
						}
						child.special, child.col = w, e.col
						if w == wktWrapper {
							vfd := fd.Message().Fields().ByNumber(1)
							child.wrap = &pfield{fd: vfd, kind: vfd.Kind(), col: e.col}
							if vfd.Kind() == protoreflect.EnumKind {
								child.wrap.enum = vfd.Enum().Values()
							}
						}
						f.child = child
					} else {
						f.dynamic, leaf.dynamic = true, true
					}
				case !fd.HasPresence():
					leaf.zero = zeroSlot(fd)
				}
				if leaf.dynamic {
					prog.dynamic = true
				}
			}
			if e.child != nil {
				if f.kind != protoreflect.MessageKind || fd.IsList() || fd.IsMap() {
					if strict {
						return nil, sqlerr.New(sqlerr.UndefinedColumn, "column \"%s\": protobuf field %s is not a message", p.cols[firstCol(e.child)].Name, fd.FullName())
					}
				} else if f.child == nil {
					child, err := build(fd.Message(), e.child, fpath)
					if err != nil {
						return nil, err
					}
					f.child = child
				}
			}
			m.add(f)
		}
		return m, nil
	}
	root, err := build(md, p.targets, nil)
	if err != nil {
		return nil, err
	}
	prog.root = root
	return prog, nil
}

func firstCol(n *jnode) int {
	for _, e := range n.ents {
		if e.col >= 0 {
			return e.col
		}
		if e.child != nil {
			return firstCol(e.child)
		}
	}
	return 0
}

func wellKnown(md protoreflect.MessageDescriptor) wkt {
	switch md.FullName() {
	case "google.protobuf.Timestamp":
		return wktTimestamp
	case "google.protobuf.Duration":
		return wktDuration
	case "google.protobuf.DoubleValue", "google.protobuf.FloatValue", "google.protobuf.Int64Value", "google.protobuf.UInt64Value",
		"google.protobuf.Int32Value", "google.protobuf.UInt32Value", "google.protobuf.BoolValue", "google.protobuf.StringValue",
		"google.protobuf.BytesValue":
		return wktWrapper
	}
	return wktNone
}

// zeroSlot is the value of an absent proto3 scalar.
func zeroSlot(fd protoreflect.FieldDescriptor) slot {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return slot{kind: sBool}
	case protoreflect.StringKind:
		return slot{kind: sStr}
	case protoreflect.BytesKind:
		return slot{kind: sDatum, d: "", dt: types.Bytea}
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return slot{kind: sFloat}
	case protoreflect.EnumKind:
		if v := fd.Enum().Values(); v.Len() > 0 {
			return slot{kind: sStr, str: string(v.Get(0).Name())}
		}
		return slot{kind: sInt}
	}
	return slot{kind: sInt}
}

type protoDecoder struct {
	p      *protoPlan
	c      committer
	slots  []slot
	seen   []uint32 // per pmsg: the record number it was last seen in
	gen    uint32
	lastID uint32
	lastW  *protoWriter
	json   []byte
	idx    []int
}

func newProtoDecoder(p *protoPlan, c committer) *protoDecoder {
	return &protoDecoder{p: p, c: c, slots: make([]slot, len(p.cols))}
}

// Decode decodes one protobuf message (after its registry header and
// message indexes, if framed).
func (d *protoDecoder) Decode(rec []byte, cols []*coldata.Vec) error {
	if err := checkCols(len(d.slots), cols); err != nil {
		return err
	}
	prog, start := d.p.inline, 0
	if d.p.framed {
		id, err := confluentHeader(rec)
		if err != nil {
			return err
		}
		if d.idx, start, err = messageIndexes(rec, 5, d.idx[:0]); err != nil {
			return err
		}
		if d.p.reg != nil {
			w, err := d.writer(id)
			if err != nil {
				return err
			}
			if prog, err = w.prog(d.idx); err != nil {
				return err
			}
		}
	}
	if len(d.seen) < prog.nmsgs {
		d.seen = make([]uint32, prog.nmsgs)
	}
	d.gen++
	if d.gen == 0 {
		clear(d.seen)
		d.gen = 1
	}
	for i := range d.slots {
		d.slots[i].kind = sMissing
	}
	if err := d.message(prog.root, rec, start, len(rec), 0); err != nil {
		return err
	}
	for i := range d.slots {
		sl := &d.slots[i]
		leaf := &prog.leaves[i]
		switch {
		case leaf.dynamic && (sl.kind != sMissing || leaf.many && d.seen[leaf.parent] == d.gen):
			if err := d.dynamic(prog, i, rec[start:]); err != nil {
				return err
			}
		case sl.kind == sMissing && leaf.zero.kind != sMissing && d.seen[leaf.parent] == d.gen:
			*sl = leaf.zero
		}
	}
	return d.c.commit(rec, d.slots, cols)
}

func (d *protoDecoder) writer(id uint32) (*protoWriter, error) {
	if d.lastW != nil && d.lastID == id {
		return d.lastW, nil
	}
	v, err := d.p.reg.get(id)
	if err != nil {
		return nil, err
	}
	d.lastID, d.lastW = id, v.(*protoWriter)
	return d.lastW, nil
}

// messageIndexes reads the Confluent message indexes: a zig-zag varint
// count, then that many zig-zag varint indexes; a count of 0 means [0].
func messageIndexes(rec []byte, i int, out []int) ([]int, int, error) {
	n, i, err := readVarint(rec, i)
	if err != nil {
		return nil, 0, errRecord(sqlerr.InvalidBinaryRepresentation, "truncated protobuf message indexes")
	}
	if n == 0 {
		return append(out, 0), i, nil
	}
	if n < 0 || n > 100 {
		return nil, 0, errRecord(sqlerr.InvalidBinaryRepresentation, "bad protobuf message index count %d", n)
	}
	for k := int64(0); k < n; k++ {
		var x int64
		if x, i, err = readVarint(rec, i); err != nil {
			return nil, 0, errRecord(sqlerr.InvalidBinaryRepresentation, "truncated protobuf message indexes")
		}
		if x < 0 || x > math.MaxInt32 {
			return nil, 0, errRecord(sqlerr.InvalidBinaryRepresentation, "bad protobuf message index %d", x)
		}
		out = append(out, int(x))
	}
	return out, i, nil
}

func errProto(format string, args ...any) error {
	return errRecord(sqlerr.InvalidBinaryRepresentation, "malformed protobuf: "+format, args...)
}

// message walks the fields of m in b[i:end].
func (d *protoDecoder) message(m *pmsg, b []byte, i, end int, depth int) error {
	if depth > 100 {
		return errRecord(sqlerr.ProgramLimitExceeded, "protobuf message nested more than 100 levels deep")
	}
	d.seen[m.id] = d.gen
	if m.special != wktNone {
		return d.special(m, b[i:end])
	}
	for i < end {
		// A tag of one byte (field numbers 1 to 15: nearly every tag of a
		// record) is decoded here; protowire.ConsumeTag's call and general
		// varint loop were ~5 % of decoding Nexmark bids. c-8 < 0x78 is
		// 8 <= c < 0x80: one byte, and not field number 0, which is
		// invalid.
		var num protowire.Number
		var typ protowire.Type
		n := 1
		if c := b[i]; c-8 < 0x78 {
			num, typ = protowire.Number(c>>3), protowire.Type(c&7)
		} else if num, typ, n = protowire.ConsumeTag(b[i:end]); n < 0 {
			return errProto("bad tag at byte %d: %v", i, protowire.ParseError(n))
		}
		i += n
		f := m.field(num)
		if f == nil || (f.col < 0 && f.child == nil) {
			if n = protowire.ConsumeFieldValue(num, typ, b[i:end]); n < 0 {
				return errProto("field %d at byte %d: %v", num, i, protowire.ParseError(n))
			}
			i += n
			continue
		}
		var err error
		if i, err = d.field(f, typ, b, i, end, depth); err != nil {
			return err
		}
	}
	return nil
}

// field reads one occurrence of f (wire type typ) at b[i:end].
func (d *protoDecoder) field(f *pfield, typ protowire.Type, b []byte, i, end int, depth int) (int, error) {
	if f.dynamic {
		// Only note the field is there; dynamicpb reads it afterwards.
		d.slots[f.col].kind = sNull
		if f.child == nil {
			n := protowire.ConsumeFieldValue(f.fd.Number(), typ, b[i:end])
			if n < 0 {
				return 0, errProto("field %s at byte %d: %v", f.fd.Name(), i, protowire.ParseError(n))
			}
			return i + n, nil
		}
	}
	if f.child != nil {
		if typ != protowire.BytesType {
			return 0, errProto("field %s has wire type %d, not a message", f.fd.Name(), typ)
		}
		v, n := protowire.ConsumeBytes(b[i:end])
		if n < 0 {
			return 0, errProto("field %s at byte %d: %v", f.fd.Name(), i, protowire.ParseError(n))
		}
		start := i + n - len(v)
		if err := d.message(f.child, b, start, i+n, depth+1); err != nil {
			return 0, err
		}
		return i + n, nil
	}
	return d.scalar(&d.slots[f.col], f, typ, b, i, end)
}

// scalar reads a scalar field's value into sl.
func (d *protoDecoder) scalar(sl *slot, f *pfield, typ protowire.Type, b []byte, i, end int) (int, error) {
	want := wireType(f.kind)
	if typ != want {
		return 0, errProto("field %s has wire type %d, want %d", f.fd.Name(), typ, want)
	}
	switch typ {
	case protowire.VarintType:
		v, n := protowire.ConsumeVarint(b[i:end])
		if n < 0 {
			return 0, errProto("field %s at byte %d: %v", f.fd.Name(), i, protowire.ParseError(n))
		}
		switch f.kind {
		case protoreflect.BoolKind:
			sl.kind, sl.i = sBool, int64(min(v, 1))
		case protoreflect.Int32Kind:
			sl.kind, sl.i = sInt, int64(int32(v))
		case protoreflect.Int64Kind:
			sl.kind, sl.i = sInt, int64(v)
		case protoreflect.Uint32Kind:
			sl.kind, sl.i = sInt, int64(uint32(v))
		case protoreflect.Uint64Kind:
			sl.kind, sl.i = sUint, int64(v)
		case protoreflect.Sint32Kind:
			sl.kind, sl.i = sInt, int64(int32(protowire.DecodeZigZag(v&math.MaxUint32)))
		case protoreflect.Sint64Kind:
			sl.kind, sl.i = sInt, protowire.DecodeZigZag(v)
		case protoreflect.EnumKind:
			if ev := f.enum.ByNumber(protoreflect.EnumNumber(int32(v))); ev != nil {
				sl.kind, sl.str = sStr, string(ev.Name())
			} else {
				sl.kind, sl.i = sInt, int64(int32(v)) // an unknown enum value stays a number
			}
		}
		return i + n, nil
	case protowire.Fixed32Type:
		v, n := protowire.ConsumeFixed32(b[i:end])
		if n < 0 {
			return 0, errProto("field %s at byte %d: %v", f.fd.Name(), i, protowire.ParseError(n))
		}
		switch f.kind {
		case protoreflect.FloatKind:
			sl.kind, sl.f = sFloat, float64(math.Float32frombits(v))
		case protoreflect.Sfixed32Kind:
			sl.kind, sl.i = sInt, int64(int32(v))
		default:
			sl.kind, sl.i = sInt, int64(v)
		}
		return i + n, nil
	case protowire.Fixed64Type:
		v, n := protowire.ConsumeFixed64(b[i:end])
		if n < 0 {
			return 0, errProto("field %s at byte %d: %v", f.fd.Name(), i, protowire.ParseError(n))
		}
		switch f.kind {
		case protoreflect.DoubleKind:
			sl.kind, sl.f = sFloat, math.Float64frombits(v)
		case protoreflect.Sfixed64Kind:
			sl.kind, sl.i = sInt, int64(v)
		default:
			sl.kind, sl.i = sUint, int64(v)
		}
		return i + n, nil
	case protowire.BytesType:
		v, n := protowire.ConsumeBytes(b[i:end])
		if n < 0 {
			return 0, errProto("field %s at byte %d: %v", f.fd.Name(), i, protowire.ParseError(n))
		}
		sl.a, sl.b, sl.utf = i+n-len(v), i+n, true
		sl.kind = sBytes
		if f.kind == protoreflect.StringKind {
			sl.kind = sText
		}
		return i + n, nil
	}
	return 0, errProto("field %s has wire type %d", f.fd.Name(), typ)
}

func wireType(k protoreflect.Kind) protowire.Type {
	switch k {
	case protoreflect.FloatKind, protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind:
		return protowire.Fixed32Type
	case protoreflect.DoubleKind, protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind:
		return protowire.Fixed64Type
	case protoreflect.StringKind, protoreflect.BytesKind, protoreflect.MessageKind:
		return protowire.BytesType
	case protoreflect.GroupKind:
		return protowire.StartGroupType
	}
	return protowire.VarintType
}

// special reads a well-known message into its column.
func (d *protoDecoder) special(m *pmsg, b []byte) error {
	sl := &d.slots[m.col]
	if m.special == wktWrapper {
		*sl = zeroSlot(m.wrap.fd) // an empty wrapper holds the zero value
	}
	var secs, nanos int64
	for i := 0; i < len(b); {
		num, typ, n := protowire.ConsumeTag(b[i:])
		if n < 0 {
			return errProto("bad tag in %s: %v", wktName(m.special), protowire.ParseError(n))
		}
		i += n
		switch {
		case m.special == wktWrapper && num == 1:
			var err error
			if i, err = d.scalar(sl, m.wrap, typ, b, i, len(b)); err != nil {
				return err
			}
			continue
		case m.special != wktWrapper && (num == 1 || num == 2) && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b[i:])
			if n < 0 {
				return errProto("%s: %v", wktName(m.special), protowire.ParseError(n))
			}
			if num == 1 {
				secs = int64(v)
			} else {
				nanos = int64(int32(v))
			}
			i += n
			continue
		}
		if n = protowire.ConsumeFieldValue(num, typ, b[i:]); n < 0 {
			return errProto("%s: %v", wktName(m.special), protowire.ParseError(n))
		}
		i += n
	}
	switch m.special {
	case wktTimestamp:
		if secs < minTimestamp/1e6 || secs >= maxTimestamp/1e6 || nanos < 0 || nanos > 999_999_999 {
			return errColumn(d.p.cols[m.col].Name, sqlerr.New(sqlerr.DatetimeFieldOverflow, "timestamp out of range: %d s %d ns", secs, nanos))
		}
		sl.kind, sl.i = sInstant, secs*1e6+nanos/1000
	case wktDuration:
		if secs > math.MaxInt64/1_000_000-1 || secs < math.MinInt64/1_000_000+1 {
			return errColumn(d.p.cols[m.col].Name, sqlerr.New(sqlerr.DatetimeFieldOverflow, "interval out of range: %d s", secs))
		}
		sl.kind, sl.d, sl.dt = sDatum, types.IntervalValue{Micros: secs*1e6 + nanos/1000}, types.Interval
	}
	return nil
}

func wktName(w wkt) string {
	switch w {
	case wktTimestamp:
		return "google.protobuf.Timestamp"
	case wktDuration:
		return "google.protobuf.Duration"
	}
	return "a wrapper message"
}

// dynamic reads column col's field through dynamicpb: a repeated field
// becomes an array (or JSON), a map or a message JSON.
func (d *protoDecoder) dynamic(prog *protoProg, col int, payload []byte) (err error) {
	msg := dynamicpb.NewMessage(prog.desc)
	defer func() {
		// NB: protobuf-go v1.36 panics on some malformed map entries of a
		// dynamic message ("cannot convert nil to map key").
		if r := recover(); r != nil {
			err = errProto("%v", r)
		}
	}()
	if err := (proto.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(payload, msg); err != nil {
		return errProto("%v", err)
	}
	var m protoreflect.Message = msg
	path := prog.leaves[col].path
	for _, fd := range path[:len(path)-1] {
		if !m.Has(fd) {
			d.slots[col] = slot{kind: sNull}
			return nil
		}
		m = m.Get(fd).Message()
	}
	fd := path[len(path)-1]
	c := d.p.cols[col]
	var v any
	switch {
	case fd.IsList():
		l := m.Get(fd).List()
		items := make([]any, l.Len())
		for k := range items {
			items[k] = protoValue(fd, l.Get(k))
		}
		v = items
	case fd.IsMap():
		mp := m.Get(fd).Map()
		var pairs []jsonPair
		mp.Range(func(k protoreflect.MapKey, val protoreflect.Value) bool {
			pairs = append(pairs, jsonPair{key: k.String(), val: protoValue(fd.MapValue(), val)})
			return true
		})
		if pairs == nil {
			pairs = []jsonPair{}
		}
		v = pairs
	default:
		if !m.Has(fd) {
			d.slots[col] = slot{kind: sNull}
			return nil
		}
		v = protoValue(fd, m.Get(fd))
	}
	sl, err := valueSlot(c, v, &d.json)
	if err != nil {
		return err
	}
	d.slots[col] = sl
	return nil
}

// protoValue converts one value of field fd to the Go form appendJSONValue
// and arraySlot take.
func protoValue(fd protoreflect.FieldDescriptor, v protoreflect.Value) any {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return v.Bool()
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return v.Int()
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		if u := v.Uint(); u <= math.MaxInt64 {
			return int64(u)
		} else {
			return u
		}
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return v.Float()
	case protoreflect.StringKind:
		return v.String()
	case protoreflect.BytesKind:
		return v.Bytes()
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return string(ev.Name())
		}
		return int64(v.Enum())
	case protoreflect.MessageKind, protoreflect.GroupKind:
		b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(v.Message().Interface())
		if err != nil {
			return nil
		}
		return rawJSON(b)
	}
	return nil
}

// rawJSON is JSON text that appendJSONValue copies as it is.
type rawJSON []byte
