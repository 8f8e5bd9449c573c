package format

import (
	"bytes"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/sluice-db/sluice/sqlerr"
)

// bidRecords encodes bids in format name, the stream options to decode
// them, and a record that must fail: invalid UTF-8 (Avro, protobuf) or a
// bad escape (JSON) in extra, which a text column keeps.
func bidRecords(t *testing.T, name string, bids []bid) (Config, [][]byte, []byte) {
	t.Helper()
	bad := bids[0]
	bad.Extra = "ok\xffno"
	switch name {
	case "json":
		b := bidsJSON([]bid{bids[0]})[0]
		i := bytes.Index(b, []byte(`"extra":"`)) + len(`"extra":"`)
		return Config{Format: "json", Columns: bidColumns}, bidsJSON(bids), append(append(b[:i:i], `\q`...), b[i:]...)
	case "avro":
		return Config{Format: "avro", Columns: bidColumns, Options: map[string]string{"avro_schema": bidAvroSchema}},
			bidsAvro(t, bids), bidsAvro(t, []bid{bad})[0]
	}
	// A field repeated in a message overrides the first: extra (7) again.
	b := bidsProto(t, bids[:1])[0]
	b = protowire.AppendTag(b, 7, protowire.BytesType)
	return Config{Format: "protobuf", Columns: bidColumns, Options: bidProtoOpts}, bidsProto(t, bids), protowire.AppendString(b, bad.Extra)
}

// TestKeptStringsWithBadRecords decodes bids with a bad record after every
// seventh, and checks that every kept string still reads as its record had
// it: a failed record never writes over what earlier records' values point
// to. Some channels are not ASCII, so are validated as UTF-8 per column;
// the bad records' invalid UTF-8 must be found whatever the other columns.
func TestKeptStringsWithBadRecords(t *testing.T) {
	bids := genBids(2000, 3)
	for i := range bids {
		if i%5 == 0 {
			bids[i].Channel = "Bäidu-" + bids[i].Channel
		}
	}
	for _, name := range []string{"json", "avro", "protobuf"} {
		t.Run(name, func(t *testing.T) {
			cfg, recs, bad := bidRecords(t, name, bids)
			f, err := Compile(cfg)
			if err != nil {
				t.Fatal(err)
			}
			dec := f.NewDecoder()
			cols := newCols(cfg.Columns, 4)
			for i, rec := range recs {
				if err := dec.Decode(rec, cols); err != nil {
					t.Fatalf("bid %d: %v", i, err)
				}
				if i%7 != 0 {
					continue
				}
				err := dec.Decode(bad, cols)
				want := sqlerr.CharacterNotInRepertoire
				if name == "json" {
					want = sqlerr.InvalidTextRepresentation
				}
				if got := sqlerr.Code(err); got != want || !strings.Contains(err.Error(), "extra") {
					t.Fatalf("bad record after bid %d: %v (code %s, want %s)", i, err, got, want)
				}
			}
			for i, b := range bids {
				got := []string{cols[3].Bytes[i], cols[4].Bytes[i], cols[6].Bytes[i]}
				if want := []string{b.Channel, b.URL, b.Extra}; !equalStrings(got, want) {
					t.Fatalf("bid %d: channel, url, extra %q, want %q", i, got, want)
				}
			}
			if n := cols[0].Len(); n != len(bids) {
				t.Fatalf("%d rows for %d bids", n, len(bids))
			}
		})
	}
}

func equalStrings(a, b []string) bool { return strings.Join(a, "\x00") == strings.Join(b, "\x00") }

// TestDecodeBidsAllocates checks that decoding a bid allocates one string,
// its kept text, and nothing else. (Cutting the strings of many records
// from shared blocks allocated nothing, but a view that keeps a record's
// string pinned its whole block: q0's state grew by a quarter.)
func TestDecodeBidsAllocates(t *testing.T) {
	bids := genBids(256, 4)
	for _, name := range []string{"json", "avro", "protobuf"} {
		cfg, recs, _ := bidRecords(t, name, bids)
		f, err := Compile(cfg)
		if err != nil {
			t.Fatal(err)
		}
		dec := f.NewDecoder()
		const runs = 1000
		cols := newCols(cfg.Columns, runs+1)
		i := 0
		allocs := testing.AllocsPerRun(runs, func() {
			if err := dec.Decode(recs[i%len(recs)], cols); err != nil {
				t.Fatal(err)
			}
			i++
		})
		if allocs != 1 {
			t.Errorf("%s: %v allocations per bid, want 1", name, allocs)
		}
	}
}

// TestASCIIOnly compares asciiOnly with a byte-by-byte check at every
// length and position of a non-ASCII byte around its 16-byte steps.
func TestASCIIOnly(t *testing.T) {
	for n := range 40 {
		b := bytes.Repeat([]byte{'a'}, n)
		if !asciiOnly(b) {
			t.Fatalf("%d ASCII bytes: not ASCII", n)
		}
		for i := range n {
			b[i] = 0x80
			if asciiOnly(b) {
				t.Fatalf("0x80 at %d of %d: ASCII", i, n)
			}
			b[i] = 'a'
		}
	}
}
