package format

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// protoDesc compiles testdata/file and returns message name.
func protoDesc(t testing.TB, file, name string) protoreflect.MessageDescriptor {
	t.Helper()
	src, err := os.ReadFile("testdata/" + file)
	if err != nil {
		t.Fatal(err)
	}
	files, err := compileProtoSources(context.Background(), map[string]string{file: string(src)}, file, []string{"testdata"})
	if err != nil {
		t.Fatal(err)
	}
	md, err := findMessage(files, name)
	if err != nil {
		t.Fatal(err)
	}
	return md
}

// protoEncode encodes the message given in protobuf JSON.
func protoEncode(t testing.TB, md protoreflect.MessageDescriptor, js string) []byte {
	t.Helper()
	m := dynamicpb.NewMessage(md)
	if err := protojson.Unmarshal([]byte(js), m); err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func bidsProto(t testing.TB, bids []bid) [][]byte {
	md := protoDesc(t, "bid.proto", "nexmark.Bid")
	out := make([][]byte, len(bids))
	for i, b := range bids {
		m := dynamicpb.NewMessage(md)
		f := md.Fields()
		m.Set(f.ByName("auction"), protoreflect.ValueOfInt64(b.Auction))
		m.Set(f.ByName("bidder"), protoreflect.ValueOfInt64(b.Bidder))
		m.Set(f.ByName("price"), protoreflect.ValueOfInt64(b.Price))
		m.Set(f.ByName("channel"), protoreflect.ValueOfString(b.Channel))
		m.Set(f.ByName("url"), protoreflect.ValueOfString(b.URL))
		at, _ := time.Parse(time.RFC3339Nano, b.DateTime)
		ts := m.Mutable(f.ByName("date_time")).Message()
		ts.Set(ts.Descriptor().Fields().ByName("seconds"), protoreflect.ValueOfInt64(at.Unix()))
		ts.Set(ts.Descriptor().Fields().ByName("nanos"), protoreflect.ValueOfInt32(int32(at.Nanosecond())))
		m.Set(f.ByName("extra"), protoreflect.ValueOfString(b.Extra))
		var err error
		if out[i], err = proto.Marshal(m); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

var bidProtoOpts = map[string]string{"proto_file": "testdata/bid.proto", "proto_message": "nexmark.Bid"}

func TestProtobufBids(t *testing.T) {
	bids := genBids(50, 9)
	protoRows, err := decodeRows(t, Config{Format: "protobuf", Columns: bidColumns, Options: bidProtoOpts}, bidsProto(t, bids)...)
	if err != nil {
		t.Fatal(err)
	}
	jsonRows, err := decodeRows(t, Config{Format: "json", Columns: bidColumns}, bidsJSON(bids)...)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(protoRows, "\n") != strings.Join(jsonRows, "\n") {
		t.Fatalf("protobuf:\n%s\njson:\n%s", protoRows[0], jsonRows[0])
	}
}

const allJSON = `{"b": true, "i32": -5, "i64": "-9000000000", "u32": 4000000000, "u64": "18446744073709551615",
	"s32": -7, "s64": "-8", "f32": 9, "f64": "10", "sf32": -11, "sf64": "-12", "fl": 1.5, "db": 2.25,
	"s": "héllo", "by": "AQL/", "color": "GREEN", "opt": "0", "inner": {"x": "3", "y": "why"},
	"nums": [1, 2, 3], "counts": {"a": "1"}, "ts": "2026-01-02T03:04:05.123456Z", "dur": "90.5s",
	"wrapped": "42", "wrapped_s": "", "inners": [{"x": "1"}, {"y": "z"}], "tag": {"key": "k"}, "number": "6",
	"big_field": "77"}`

var allOpts = map[string]string{"proto_file": "testdata/types.proto", "proto_message": "test.All"}

func TestProtobufTypes(t *testing.T) {
	md := protoDesc(t, "types.proto", "test.All")
	full := protoEncode(t, md, allJSON)
	empty := protoEncode(t, md, `{}`)
	for _, tc := range []struct {
		col        Column
		want       string // from allJSON
		wantAbsent string // from an empty message
	}{
		{col("b", types.Bool), "t", "f"},
		{col("i32", types.Int4), "-5", "0"},
		{col("i64", types.Int8), "-9000000000", "0"},
		{col("i64", types.Int4), `ERROR 22003 column "i64": value "-9000000000" is out of range for type integer`, "0"},
		{col("u32", types.Int8), "4000000000", "0"},
		{col("u64", types.Numeric), "18446744073709551615", "0"},
		{col("u64", types.Int8), `ERROR 22003 bigint out of range`, "0"},
		{col("s32", types.Int4), "-7", "0"},
		{col("s64", types.Int8), "-8", "0"},
		{col("f32", types.Int8), "9", "0"},
		{col("f64", types.Int8), "10", "0"},
		{col("sf32", types.Int8), "-11", "0"},
		{col("sf64", types.Int8), "-12", "0"},
		{col("fl", types.Float4), "1.5", "0"},
		{col("db", types.Float8), "2.25", "0"},
		{col("s", types.Text), "héllo", ""},
		{col("by", types.Bytea), `\x0102ff`, `\x`},
		{col("color", types.Text), "GREEN", "RED"},
		{col("opt", types.Int8), "0", "NULL"},
		{Column{Name: "x", Type: types.Int8, Path: []string{"inner", "x"}}, "3", "NULL"},
		{Column{Name: "y", Type: types.Text, Path: []string{"inner", "y"}}, "why", "NULL"},
		{col("inner", types.JSONB), `{"x": "3", "y": "why"}`, "NULL"},
		{col("nums", types.ArrayOf(types.Int4)), "{1,2,3}", "{}"},
		{col("nums", types.JSONB), "[1, 2, 3]", "[]"},
		{col("counts", types.JSONB), `{"a": 1}`, "{}"},
		{col("ts", types.TimestampTZ), "2026-01-02 03:04:05.123456+00", "NULL"},
		{col("dur", types.Interval), "00:01:30.5", "NULL"},
		{col("wrapped", types.Int8), "42", "NULL"},
		{col("wrapped_s", types.Text), "", "NULL"},
		{col("inners", types.JSONB), `[{"x": "1"}, {"y": "z"}]`, "[]"},
		{Column{Name: "key", Type: types.Text, Path: []string{"tag", "key"}}, "k", "NULL"},
		{col("name", types.Text), "NULL", "NULL"},
		{col("number", types.Int8), "6", "NULL"},
		{col("big_field", types.Int8), "77", "0"},
	} {
		t.Run(tc.col.Name+" "+tc.col.Type.String(), func(t *testing.T) {
			cfg := Config{Format: "protobuf", Columns: []Column{tc.col}, Options: allOpts}
			rows, err := decodeRows(t, cfg, full)
			checkResult(t, rows, err, tc.want)
			rows, err = decodeRows(t, cfg, empty)
			checkResult(t, rows, err, tc.wantAbsent)
		})
	}
}

// TestProtobufBadRecords: garbage is an error that appends nothing; every
// truncation either decodes (protobuf has no end marker: a cut between
// fields is a shorter message) or fails cleanly.
func TestProtobufBadRecords(t *testing.T) {
	md := protoDesc(t, "types.proto", "test.All")
	full := protoEncode(t, md, allJSON)
	cols := []Column{col("s", types.Text), {Name: "x", Type: types.Int8, Path: []string{"inner", "x"}}, col("ts", types.TimestampTZ),
		col("nums", types.ArrayOf(types.Int8)), col("i64", types.Int8)}
	cfg := Config{Format: "protobuf", Columns: cols, Options: allOpts}
	failed := 0
	for n := 0; n < len(full); n++ {
		if _, err := decodeRows(t, cfg, full[:n]); err != nil {
			if sqlerr.Code(err) != sqlerr.InvalidBinaryRepresentation {
				t.Fatalf("cut at %d: %v", n, err)
			}
			failed++
		}
	}
	if failed < len(full)/2 {
		t.Fatalf("only %d of %d truncations failed", failed, len(full))
	}
	for _, tc := range []struct {
		rec  []byte
		want string
	}{
		{[]byte{0xff, 0xff, 0xff}, "ERROR 22P03 malformed protobuf: bad tag at byte 0"},
		{[]byte{0x72, 0x05, 'a'}, "ERROR 22P03 malformed protobuf: field s at byte 1: unexpected EOF"},
		{[]byte{0x70, 0x01}, "ERROR 22P03 malformed protobuf: field s has wire type 0, want 2"},
		{[]byte{0x92, 0x01, 0x01, 0x08}, "ERROR 22P03 malformed protobuf: field x at byte 4"},
		{[]byte{0x07}, "ERROR 22P03 malformed protobuf: bad tag"},
		{[]byte{0xaa, 0x01, 0x03, 0x08, 0x80, 0x80}, "ERROR 22P03 malformed protobuf"},
	} {
		_, err := decodeRows(t, cfg, tc.rec)
		checkResult(t, nil, err, tc.want)
	}
}

func TestProtobufRegistry(t *testing.T) {
	reg := newRegistryServer(t)
	common, _ := os.ReadFile("testdata/common.proto")
	typesSrc, _ := os.ReadFile("testdata/types.proto")
	reg.add(20, "PROTOBUF", string(common), "common", 1)
	reg.add(21, "PROTOBUF", string(typesSrc), "all-value", 1, map[string]any{"name": "common.proto", "subject": "common", "version": 1})
	md := protoDesc(t, "types.proto", "test.All")
	payload := protoEncode(t, md, allJSON)
	inner := protoEncode(t, protoDesc(t, "types.proto", "test.Inner"), `{"x": "5"}`)
	cols := []Column{col("s", types.Text), {Name: "key", Type: types.Text, Path: []string{"tag", "key"}}, col("x", types.Int8)}
	opts := map[string]string{"schema_registry": reg.URL}
	// Message All is the file's second message: indexes [1]; Inner is the
	// first: the single 0 byte.
	rows, err := decodeRows(t, Config{Format: "protobuf", Columns: cols, Options: opts},
		append(frame(21, []byte{2, 2}), payload...),
		append(frame(21, []byte{0}), inner...))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(rows, " "), "héllo|k|NULL NULL|NULL|5"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	for _, tc := range []struct {
		rec  []byte
		want string
	}{
		{append(frame(21, []byte{2, 20}), payload...), "ERROR 22P03 message index [10] names no message of the writer schema"},
		{frame(21, []byte{2}), "ERROR 22P03 truncated protobuf message indexes"},
		{append(frame(99, []byte{0}), inner...), "ERROR 42704 schema id 99 is not in the schema registry"},
		{append(frame(21, []byte{0}), 0xff), "ERROR 22P03 malformed protobuf"},
	} {
		_, err := decodeRows(t, Config{Format: "protobuf", Columns: cols, Options: opts}, tc.rec)
		checkResult(t, nil, err, tc.want)
	}
	// A local .proto with the registry's framing.
	rows, err = decodeRows(t, Config{Format: "protobuf", Columns: cols[:2],
		Options: map[string]string{"proto_file": "testdata/types.proto", "proto_message": "test.All", "framing": "confluent"}},
		append(frame(21, []byte{2, 2}), payload...))
	checkResult(t, rows, err, "héllo|k")
}

func TestProtobufCompileErrors(t *testing.T) {
	dir := t.TempDir()
	bad := dir + "/bad.proto"
	os.WriteFile(bad, []byte(`syntax = "proto3"; message M { int64 a = 1`), 0o644)
	cols := []Column{col("auction", types.Int8)}
	for _, tc := range []struct {
		cols []Column
		opts map[string]string
		want string
	}{
		{cols, map[string]string{}, "22023 format protobuf needs option proto_file"},
		{cols, map[string]string{"proto_file": "testdata/bid.proto"}, "22023 format protobuf needs option proto_message with proto_file"},
		{cols, map[string]string{"proto_file": dir + "/missing.proto", "proto_message": "M"}, "22023 could not read proto_file"},
		{cols, map[string]string{"proto_file": bad, "proto_message": "M"}, "22023 proto_file"},
		{cols, map[string]string{"proto_file": "testdata/bid.proto", "proto_message": "nexmark.Ask"}, `42704 protobuf message "nexmark.Ask" does not exist`},
		{[]Column{col("nope", types.Int8)}, bidProtoOpts, `42703 column "nope" matches no field of protobuf message nexmark.Bid`},
		{[]Column{{Name: "c", Type: types.Int8, Path: []string{"auction", "x"}}}, bidProtoOpts, `42703 column "c": protobuf field nexmark.Bid.auction is not a message`},
	} {
		_, err := Compile(Config{Format: "protobuf", Columns: tc.cols, Options: tc.opts})
		if err == nil || !strings.HasPrefix(sqlerr.Code(err)+" "+err.Error(), tc.want) {
			t.Errorf("%v: got %v (%s), want %s", tc.opts, err, sqlerr.Code(err), tc.want)
		}
	}
}

// Tags of one byte (field numbers 1 to 15) and longer ones decode alike:
// the bounds of the one-byte form (0x08, field 1; 0x7f, field 15), field
// number 0 (invalid) in each form, two-byte tags and an overlong tag of a
// small field.
func TestProtobufTags(t *testing.T) {
	cfg := Config{Format: "protobuf", Columns: []Column{col("s", types.Text), col("i64", types.Int8), col("color", types.Text)},
		Options: allOpts}
	for _, tc := range []struct {
		rec  []byte
		want string
	}{
		{[]byte{0x72, 0x01, 'a', 0x18, 0x05}, "a|5|RED"},
		{[]byte{0x08, 0x01, 0x72, 0x01, 'a'}, "a|0|RED"},                       // b (field 1), skipped
		{[]byte{0x7a, 0x01, 'z', 0x18, 0x07}, "|7|RED"},                        // by (field 15), skipped
		{[]byte{0x80, 0x01, 0x01, 0x72, 0x01, 'a'}, "a|0|GREEN"},               // color (field 16): a two-byte tag
		{[]byte{0xf2, 0x00, 0x01, 'b'}, "b|0|RED"},                             // s's tag, overlong
		{[]byte{0x72, 0x01, 'a', 0x00, 0x01}, "ERROR 22P03 bad tag at byte 3"}, // field 0, one byte
		{[]byte{0x80, 0x00, 0x01}, "ERROR 22P03 bad tag at byte 0"},            // field 0, two bytes
		{[]byte{0x7f}, "ERROR 22P03 malformed protobuf"},                       // field 15, wire type 7
	} {
		rows, err := decodeRows(t, cfg, tc.rec)
		checkResult(t, rows, err, tc.want)
	}
}
