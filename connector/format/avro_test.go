package format

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

const bidAvroSchema = `{"type": "record", "name": "Bid", "namespace": "nexmark", "fields": [
	{"name": "auction", "type": "long"},
	{"name": "bidder", "type": "long"},
	{"name": "price", "type": "long"},
	{"name": "channel", "type": "string"},
	{"name": "url", "type": "string"},
	{"name": "date_time", "type": {"type": "long", "logicalType": "timestamp-millis"}},
	{"name": "extra", "type": "string"}]}`

// avroBid is a bid as hamba/avro encodes it.
type avroBid struct {
	Auction  int64     `avro:"auction"`
	Bidder   int64     `avro:"bidder"`
	Price    int64     `avro:"price"`
	Channel  string    `avro:"channel"`
	URL      string    `avro:"url"`
	DateTime time.Time `avro:"date_time"`
	Extra    string    `avro:"extra"`
}

func toAvroBid(b bid) avroBid {
	at, _ := time.Parse(time.RFC3339Nano, b.DateTime)
	return avroBid{b.Auction, b.Bidder, b.Price, b.Channel, b.URL, at, b.Extra}
}

func bidsAvro(t testing.TB, bids []bid) [][]byte {
	s := avro.MustParse(bidAvroSchema)
	out := make([][]byte, len(bids))
	for i, b := range bids {
		var err error
		if out[i], err = avro.Marshal(s, toAvroBid(b)); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// frame prefixes payload with the registry header for schema id.
func frame(id uint32, payload []byte) []byte {
	out := []byte{0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(out[1:], id)
	return append(out, payload...)
}

func avroEncode(t testing.TB, schema string, v any) []byte {
	t.Helper()
	s, err := avro.ParseWithCache(schema, "", &avro.SchemaCache{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := avro.Marshal(s, v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAvroBids(t *testing.T) {
	bids := genBids(50, 5)
	avroRows, err := decodeRows(t, Config{Format: "avro", Columns: bidColumns, Options: map[string]string{"avro_schema": bidAvroSchema}}, bidsAvro(t, bids)...)
	if err != nil {
		t.Fatal(err)
	}
	jsonRows, err := decodeRows(t, Config{Format: "json", Columns: bidColumns}, bidsJSON(bids)...)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(avroRows, "\n") != strings.Join(jsonRows, "\n") {
		t.Fatalf("avro:\n%s\njson:\n%s", avroRows[0], jsonRows[0])
	}
}

const avroTypesSchema = `{"type": "record", "name": "T", "fields": [
	{"name": "b", "type": "boolean"},
	{"name": "i", "type": "int"},
	{"name": "l", "type": "long"},
	{"name": "f", "type": "float"},
	{"name": "d", "type": "double"},
	{"name": "s", "type": "string"},
	{"name": "by", "type": "bytes"},
	{"name": "fx", "type": {"type": "fixed", "name": "F4", "size": 4}},
	{"name": "e", "type": {"type": "enum", "name": "Color", "symbols": ["RED", "GREEN"]}},
	{"name": "ts_ms", "type": {"type": "long", "logicalType": "timestamp-millis"}},
	{"name": "ts_us", "type": {"type": "long", "logicalType": "timestamp-micros"}},
	{"name": "lts", "type": {"type": "long", "logicalType": "local-timestamp-millis"}},
	{"name": "day", "type": {"type": "int", "logicalType": "date"}},
	{"name": "tm", "type": {"type": "int", "logicalType": "time-millis"}},
	{"name": "dec", "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}},
	{"name": "fdec", "type": {"type": "fixed", "name": "D8", "size": 8, "logicalType": "decimal", "precision": 18, "scale": 3}},
	{"name": "id", "type": {"type": "string", "logicalType": "uuid"}},
	{"name": "opt", "type": ["null", "long"]},
	{"name": "arr", "type": {"type": "array", "items": "int"}},
	{"name": "m", "type": {"type": "map", "values": "string"}},
	{"name": "nested", "type": {"type": "record", "name": "N", "fields": [
		{"name": "x", "type": "long"}, {"name": "y", "type": ["null", "string"]}]}}]}`

func avroTypesValue() map[string]any {
	return map[string]any{
		"b": true, "i": int32(-7), "l": int64(1) << 40, "f": float32(1.5), "d": 2.25, "s": "héllo",
		"by": []byte{1, 2, 0xff}, "fx": [4]byte{0xde, 0xad, 0xbe, 0xef}, "e": "GREEN",
		"ts_ms": time.UnixMilli(1767323045123).UTC(), "ts_us": time.UnixMicro(1767323045123456).UTC(),
		"lts": time.UnixMilli(1767323045000).UTC(), "day": time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC),
		"tm":  3*time.Hour + 4*time.Minute + 5*time.Second + 500*time.Millisecond,
		"dec": big.NewRat(-12345, 100), "fdec": big.NewRat(1234567, 1000),
		"id": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "opt": map[string]any{"long": int64(5)},
		"arr": []int32{1, 2, 3}, "m": map[string]string{"k": "v"},
		"nested": map[string]any{"x": int64(9), "y": nil},
	}
}

func TestAvroTypes(t *testing.T) {
	rec := avroEncode(t, avroTypesSchema, avroTypesValue())
	opts := map[string]string{"avro_schema": avroTypesSchema}
	for _, tc := range []struct {
		col  Column
		want string
	}{
		{col("b", types.Bool), "t"},
		{col("b", types.Text), "true"},
		{col("i", types.Int4), "-7"},
		{col("i", types.Int2), "-7"},
		{col("l", types.Int8), "1099511627776"},
		{col("l", types.Int4), `ERROR 22003 column "l": value "1099511627776" is out of range for type integer`},
		{col("l", types.Numeric), "1099511627776"},
		{col("l", types.Text), "1099511627776"},
		{col("l", types.Float8), "1099511627776"},
		{col("f", types.Float4), "1.5"},
		{col("d", types.Float8), "2.25"},
		{col("d", types.Int8), "2"},
		{col("d", types.Numeric), "2.25"},
		{col("s", types.Text), "héllo"},
		{col("s", types.Int8), `ERROR 22P02 column "s": invalid input syntax for type bigint: "héllo"`},
		{col("by", types.Bytea), `\x0102ff`},
		{col("by", types.Text), `ERROR 22021 invalid byte sequence`},
		{col("fx", types.Bytea), `\xdeadbeef`},
		{col("e", types.Text), "GREEN"},
		{col("ts_ms", types.TimestampTZ), "2026-01-02 03:04:05.123+00"},
		{col("ts_ms", types.Timestamp), "2026-01-02 03:04:05.123"},
		{col("ts_ms", types.Date), "2026-01-02"},
		{col("ts_ms", types.Text), "2026-01-02 03:04:05.123+00"},
		{col("ts_us", types.TimestampTZ), "2026-01-02 03:04:05.123456+00"},
		{col("lts", types.Timestamp), "2026-01-02 03:04:05"},
		{col("day", types.Date), "2026-01-02"},
		{col("day", types.Timestamp), "2026-01-02 00:00:00"},
		{col("tm", types.Time), "03:04:05.5"},
		{col("dec", types.Numeric), "-123.45"},
		{col("dec", types.Float8), "-123.45"},
		{col("fdec", types.Numeric), "1234.567"},
		{col("id", types.UUID), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
		{col("opt", types.Int8), "5"},
		{col("arr", types.ArrayOf(types.Int8)), "{1,2,3}"},
		{col("arr", types.JSONB), "[1, 2, 3]"},
		{col("m", types.JSONB), `{"k": "v"}`},
		{col("nested", types.JSONB), `{"x": 9, "y": null}`},
		{col("nested", types.Text), `{"x":9,"y":null}`},
		{Column{Name: "nx", Type: types.Int8, Path: []string{"nested", "x"}}, "9"},
		{Column{Name: "ny", Type: types.Text, Path: []string{"nested", "y"}}, "NULL"},
	} {
		t.Run(tc.col.Name+" "+tc.col.Type.String(), func(t *testing.T) {
			rows, err := decodeRows(t, Config{Format: "avro", Columns: []Column{tc.col}, Options: opts}, rec)
			checkResult(t, rows, err, tc.want)
		})
	}
	// A record and a field below it, together.
	rows, err := decodeRows(t, Config{Format: "avro", Columns: []Column{col("nested", types.JSONB),
		{Name: "x", Type: types.Int8, Path: []string{"nested", "x"}}, col("opt", types.Int8)}, Options: opts}, rec)
	checkResult(t, rows, err, `{"x": 9, "y": null}|9|5`)
}

// TestAvroBadRecords: every truncation of a record, and other garbage, is
// an error that appends nothing.
func TestAvroBadRecords(t *testing.T) {
	rec := avroEncode(t, avroTypesSchema, avroTypesValue())
	cols := []Column{col("b", types.Bool), col("s", types.Text), col("dec", types.Numeric), col("arr", types.JSONB), col("opt", types.Int8)}
	cfg := Config{Format: "avro", Columns: cols, Options: map[string]string{"avro_schema": avroTypesSchema}}
	if _, err := decodeRows(t, cfg, rec); err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(rec); n++ {
		_, err := decodeRows(t, cfg, rec[:n])
		if err == nil || sqlerr.Code(err) != sqlerr.InvalidBinaryRepresentation {
			t.Fatalf("cut at %d of %d: %v", n, len(rec), err)
		}
	}
	for _, tc := range []struct {
		rec  []byte
		want string
	}{
		{append(append([]byte{}, rec...), 0), "ERROR 22P03 1 bytes after the end of the Avro record"},
		{[]byte{2}, "ERROR 22P03 Avro boolean byte 0x02 is neither 0 nor 1"},
		{[]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, "ERROR 22P03 malformed varint"},
		{[]byte{1, 0x80, 0x80, 0x80, 0x80, 0x20}, "ERROR 22P03 Avro int"},
		{append(make([]byte, 15), 3), "ERROR 22P03 negative length -2"},
	} {
		_, err := decodeRows(t, cfg, tc.rec)
		checkResult(t, nil, err, tc.want)
	}
}

// registryServer is a schema registry speaking the real HTTP API (the
// parts a reader uses): GET /schemas/ids/{id} and
// GET /subjects/{subject}/versions/{version}.
type registryServer struct {
	*httptest.Server
	mu       sync.Mutex
	schemas  map[int]map[string]any
	subjects map[string]int // "subject/version" -> id
	hits     map[int]int
}

func newRegistryServer(t *testing.T) *registryServer {
	r := &registryServer{schemas: map[int]map[string]any{}, subjects: map[string]int{}, hits: map[int]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /schemas/ids/{id}", func(w http.ResponseWriter, req *http.Request) {
		var id int
		fmt.Sscan(req.PathValue("id"), &id)
		r.mu.Lock()
		s, ok := r.schemas[id]
		r.hits[id]++
		r.mu.Unlock()
		if !ok {
			w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"error_code": 40403, "message": "Schema %d not found"}`, id)
			return
		}
		w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		json.NewEncoder(w).Encode(s)
	})
	mux.HandleFunc("GET /subjects/{subject}/versions/{version}", func(w http.ResponseWriter, req *http.Request) {
		key := req.PathValue("subject") + "/" + req.PathValue("version")
		r.mu.Lock()
		id, ok := r.subjects[key]
		s := r.schemas[id]
		r.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error_code": 40401, "message": "Subject not found"}`)
			return
		}
		out := map[string]any{"subject": req.PathValue("subject"), "id": id}
		for k, v := range s {
			out[k] = v
		}
		fmt.Sscan(req.PathValue("version"), new(int))
		json.NewEncoder(w).Encode(out)
	})
	r.Server = httptest.NewServer(mux)
	t.Cleanup(r.Close)
	return r
}

// add registers schema under id (and subject/version if subject != "").
func (r *registryServer) add(id int, schemaType, schema string, subject string, version int, refs ...map[string]any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := map[string]any{"schema": schema}
	if schemaType != "" {
		s["schemaType"] = schemaType
	}
	if len(refs) > 0 {
		s["references"] = refs
	}
	r.schemas[id] = s
	if subject != "" {
		r.subjects[fmt.Sprintf("%s/%d", subject, version)] = id
	}
}

const (
	evoV1 = `{"type": "record", "name": "E", "fields": [{"name": "a", "type": "long"}, {"name": "b", "type": "string"}]}`
	// v2 adds an optional field.
	evoV2 = `{"type": "record", "name": "E", "fields": [{"name": "a", "type": "long"}, {"name": "b", "type": "string"},
		{"name": "c", "type": ["null", "double"], "default": null}]}`
	// v3 drops b (optional in the reader) and widens a to double? No: adds d before a.
	evoV3 = `{"type": "record", "name": "E", "fields": [{"name": "d", "type": "int", "default": 0}, {"name": "a", "type": "long"},
		{"name": "c", "type": ["null", "double"], "default": null}]}`
	evoReader = `{"type": "record", "name": "E", "fields": [{"name": "a", "type": "long"}, {"name": "b", "type": "string", "default": "none"},
		{"name": "c", "type": ["null", "double"], "default": null}]}`
)

// TestAvroRegistryEvolution: producers add and drop optional fields while
// the stream runs; each record is read with its own writer schema.
func TestAvroRegistryEvolution(t *testing.T) {
	reg := newRegistryServer(t)
	reg.add(1, "", evoV1, "e-value", 1)
	reg.add(2, "AVRO", evoV2, "e-value", 2)
	reg.add(3, "", evoV3, "e-value", 3)
	recs := [][]byte{
		frame(1, avroEncode(t, evoV1, map[string]any{"a": int64(1), "b": "one"})),
		frame(2, avroEncode(t, evoV2, map[string]any{"a": int64(2), "b": "two", "c": map[string]any{"double": 2.5}})),
		frame(2, avroEncode(t, evoV2, map[string]any{"a": int64(3), "b": "three", "c": nil})),
		frame(3, avroEncode(t, evoV3, map[string]any{"d": int32(7), "a": int64(4), "c": map[string]any{"double": 4.5}})),
		frame(1, avroEncode(t, evoV1, map[string]any{"a": int64(5), "b": "five"})),
	}
	cols := []Column{col("a", types.Int8), col("b", types.Text), col("c", types.Float8)}
	rows, err := decodeRows(t, Config{Format: "avro", Columns: cols, Options: map[string]string{"schema_registry": reg.URL}}, recs...)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(rows, " "), "1|one|NULL 2|two|2.5 3|three|NULL 4|NULL|4.5 5|five|NULL"; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	// With a reader schema, its defaults fill what the writer lacks.
	rows, err = decodeRows(t, Config{Format: "avro", Columns: cols, Options: map[string]string{"schema_registry": reg.URL, "avro_schema": evoReader}}, recs...)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(rows, " "), "1|one|NULL 2|two|2.5 3|three|NULL 4|none|4.5 5|five|NULL"; got != want {
		t.Fatalf("with reader schema: got  %s\nwant %s", got, want)
	}
	reg.mu.Lock()
	defer reg.mu.Unlock()
	for id, n := range reg.hits {
		if n > 2 { // once per Format (two Formats above)
			t.Errorf("schema %d fetched %d times", id, n)
		}
	}
}

func TestAvroRegistryReferences(t *testing.T) {
	reg := newRegistryServer(t)
	reg.add(10, "", `{"type": "record", "name": "Addr", "namespace": "x", "fields": [{"name": "city", "type": "string"}]}`, "addr", 1)
	outer := `{"type": "record", "name": "P", "namespace": "x", "fields": [{"name": "name", "type": "string"}, {"name": "addr", "type": "x.Addr"}]}`
	reg.add(11, "", outer, "p-value", 1, map[string]any{"name": "x.Addr", "subject": "addr", "version": 1})
	s := &avro.SchemaCache{}
	avro.ParseWithCache(`{"type": "record", "name": "Addr", "namespace": "x", "fields": [{"name": "city", "type": "string"}]}`, "", s)
	ps, err := avro.ParseWithCache(outer, "", s)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := avro.Marshal(ps, map[string]any{"name": "Kate", "addr": map[string]any{"city": "Bend"}})
	if err != nil {
		t.Fatal(err)
	}
	cols := []Column{col("name", types.Text), {Name: "city", Type: types.Text, Path: []string{"addr", "city"}}}
	rows, err := decodeRows(t, Config{Format: "avro", Columns: cols, Options: map[string]string{"schema_registry": reg.URL}}, frame(11, payload))
	checkResult(t, rows, err, "Kate|Bend")
}

// TestAvroRegistryErrors: unknown ids, an unreachable registry, bad
// framing and incompatible writers are decode errors (dead letters).
func TestAvroRegistryErrors(t *testing.T) {
	reg := newRegistryServer(t)
	reg.add(1, "", evoV1, "e", 1)
	reg.add(2, "PROTOBUF", `syntax = "proto3"; message M { int64 a = 1; }`, "m", 1)
	reg.add(3, "", `{"type": "record", "name": "E", "fields": [{"name": "a", "type": "string"}]}`, "e", 2)
	reg.add(4, "", `{"type": "record", "name": "E", "fields": [`, "e", 3)
	good := avroEncode(t, evoV1, map[string]any{"a": int64(1), "b": "x"})
	cols := []Column{col("a", types.Int8), col("b", types.Text)}
	opts := map[string]string{"schema_registry": reg.URL}
	for _, tc := range []struct {
		name string
		rec  []byte
		opts map[string]string
		want string
	}{
		{"good", frame(1, good), opts, "1|x"},
		{"unknown id", frame(99, good), opts, "ERROR 42704 schema id 99 is not in the schema registry: Schema 99 not found"},
		{"protobuf schema", frame(2, good), opts, "ERROR 22023 writer schema 2: it is a PROTOBUF schema, not Avro"},
		{"bad schema", frame(4, good), opts, "ERROR 22023 writer schema 4:"},
		{"wrong type", frame(3, avroEncode(t, `{"type": "record", "name": "E", "fields": [{"name": "a", "type": "string"}]}`, map[string]any{"a": "z"})), opts,
			`ERROR 22P02 column "a": invalid input syntax for type bigint: "z"`},
		{"incompatible", frame(3, good), map[string]string{"schema_registry": reg.URL, "avro_schema": evoV1},
			"ERROR 22023 writer schema 3: not compatible with the reader schema"},
		{"no magic", append([]byte{1}, frame(1, good)[1:]...), opts, "ERROR 22P03 record does not start with the schema-registry magic byte 0 (it starts with 0x01)"},
		{"short", []byte{0, 0, 0}, opts, "ERROR 22P03 record of 3 bytes is too short"},
		{"truncated", frame(1, good[:len(good)-1]), opts, "ERROR 22P03 truncated Avro record"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := decodeRows(t, Config{Format: "avro", Columns: cols, Options: tc.opts}, tc.rec)
			checkResult(t, rows, err, tc.want)
		})
	}
	// A registry that is down.
	down := httptest.NewServer(http.NotFoundHandler())
	url := down.URL
	down.Close()
	_, err := decodeRows(t, Config{Format: "avro", Columns: cols, Options: map[string]string{"schema_registry": url}}, frame(1, good))
	checkResult(t, nil, err, "ERROR 08000 schema registry: fetching schema id 1")
}

// TestAvroRegistryRetry: a failed fetch is retried after registryRetry,
// and not before (records fail fast meanwhile).
func TestAvroRegistryRetry(t *testing.T) {
	reg := newRegistryServer(t)
	f, err := Compile(Config{Format: "avro", Columns: []Column{col("a", types.Int8)}, Options: map[string]string{"schema_registry": reg.URL}})
	if err != nil {
		t.Fatal(err)
	}
	dec := f.NewDecoder()
	rec := frame(5, avroEncode(t, evoV1, map[string]any{"a": int64(1), "b": "x"}))
	cols := newCols([]Column{col("a", types.Int8)}, 1)
	for i := 0; i < 3; i++ {
		if err := dec.Decode(rec, cols); err == nil {
			t.Fatal("no error for an unknown id")
		}
	}
	reg.add(5, "", evoV1, "e", 1)
	if err := dec.Decode(rec, cols); err == nil {
		t.Fatal("fetched again before registryRetry")
	}
	time.Sleep(registryRetry + 50*time.Millisecond)
	if err := dec.Decode(rec, cols); err != nil {
		t.Fatal(err)
	}
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if reg.hits[5] != 2 {
		t.Fatalf("%d fetches, want 2", reg.hits[5])
	}
}

func TestAvroCompileErrors(t *testing.T) {
	cols := []Column{col("a", types.Int8)}
	for _, tc := range []struct {
		opts map[string]string
		want string
	}{
		{map[string]string{}, "22023 format avro needs option avro_schema or schema_registry"},
		{map[string]string{"avro_schema": `{"type": "record"`}, "22023 invalid value for option avro_schema"},
		{map[string]string{"avro_schema": `"string"`}, "22023 option avro_schema must be a record schema, not string"},
		{map[string]string{"avro_schema": evoV1, "framing": "magic"}, `22023 invalid value for option framing: "magic"`},
		{map[string]string{"avro_schema": `{"type": "record", "name": "E", "fields": [{"name": "z", "type": "long"}]}`}, `42703 column "a" matches no field of the Avro schema`},
		{map[string]string{"schema_registry": "not a url"}, `22023 invalid value for option schema_registry`},
	} {
		_, err := Compile(Config{Format: "avro", Columns: cols, Options: tc.opts})
		if err == nil || sqlerr.Code(err)+" "+err.Error() != tc.want && !strings.HasPrefix(sqlerr.Code(err)+" "+err.Error(), tc.want) {
			t.Errorf("%v: got %v (%s), want %s", tc.opts, err, sqlerr.Code(err), tc.want)
		}
	}
}

func TestAvroFramedInline(t *testing.T) {
	rec := frame(42, avroEncode(t, evoV1, map[string]any{"a": int64(1), "b": "x"}))
	rows, err := decodeRows(t, Config{Format: "avro", Columns: []Column{col("b", types.Text)},
		Options: map[string]string{"avro_schema": evoV1, "framing": "confluent"}}, rec)
	checkResult(t, rows, err, "x")
}

// TestAvroRegistryConcurrent: decoders on several goroutines share one
// Format's schema cache; each id is fetched once.
func TestAvroRegistryConcurrent(t *testing.T) {
	reg := newRegistryServer(t)
	reg.add(1, "", evoV1, "e", 1)
	reg.add(2, "", evoV2, "e", 2)
	f, err := Compile(Config{Format: "avro", Columns: []Column{col("a", types.Int8), col("c", types.Float8)}, Options: map[string]string{"schema_registry": reg.URL}})
	if err != nil {
		t.Fatal(err)
	}
	recs := [][]byte{
		frame(1, avroEncode(t, evoV1, map[string]any{"a": int64(1), "b": "x"})),
		frame(2, avroEncode(t, evoV2, map[string]any{"a": int64(2), "b": "y", "c": map[string]any{"double": 0.5}})),
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dec := f.NewDecoder()
			cols := newCols([]Column{col("a", types.Int8), col("c", types.Float8)}, 64)
			for i := 0; i < 200; i++ {
				if err := dec.Decode(recs[i%2], cols); err != nil {
					t.Error(err)
					return
				}
			}
			if cols[0].Ints[1] != 2 || cols[1].Floats[1] != 0.5 || !cols[1].IsNull(0) {
				t.Errorf("got %v %v", cols[0].Ints[:2], cols[1].Floats[:2])
			}
		}()
	}
	wg.Wait()
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if reg.hits[1] != 1 || reg.hits[2] != 1 {
		t.Fatalf("fetches: %v", reg.hits)
	}
}
