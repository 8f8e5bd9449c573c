package format

import (
	"bytes"
	"encoding/csv"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/sluice-db/sluice/coldata"
)

// BenchmarkFormats decodes Nexmark bids (the same 4096 events) in each
// format into columns bigint, bigint, bigint, text, text, timestamptz,
// text, 1024 rows a chunk.
func BenchmarkFormats(b *testing.B) {
	bids := genBids(4096, 1)
	run := func(name string, cfg Config, recs [][]byte) {
		b.Run(name, func(b *testing.B) {
			f, err := Compile(cfg)
			if err != nil {
				b.Fatal(err)
			}
			benchDecode(b, f.NewDecoder(), cfg.Columns, recs)
		})
	}
	run("json", Config{Format: "json", Columns: bidColumns}, bidsJSON(bids))
	// Only the numbers and the timestamp: no string is kept, nothing is
	// allocated.
	numeric := []Column{bidColumns[0], bidColumns[1], bidColumns[2], bidColumns[5]}
	run("json_numeric", Config{Format: "json", Columns: numeric}, bidsJSON(bids))
	run("csv", Config{Format: "csv", Columns: bidColumns}, bidsCSV(bids))
	run("avro", Config{Format: "avro", Columns: bidColumns, Options: map[string]string{"avro_schema": bidAvroSchema}}, bidsAvro(b, bids))
	run("protobuf", Config{Format: "protobuf", Columns: bidColumns, Options: bidProtoOpts}, bidsProto(b, bids))
}

// BenchmarkAvroDecoders compares the sluice Avro walker with hamba/avro's
// own decoding, into a map (what a schema known only at run time allows)
// and into a static struct (an upper bound Sluice cannot use).
func BenchmarkAvroDecoders(b *testing.B) {
	bids := genBids(4096, 1)
	recs := bidsAvro(b, bids)
	b.Run("sluice", func(b *testing.B) {
		f, err := Compile(Config{Format: "avro", Columns: bidColumns, Options: map[string]string{"avro_schema": bidAvroSchema}})
		if err != nil {
			b.Fatal(err)
		}
		benchDecode(b, f.NewDecoder(), bidColumns, recs)
	})
	s := avro.MustParse(bidAvroSchema)
	b.Run("hamba_map", func(b *testing.B) {
		benchFunc(b, recs, func(rec []byte, cols []*coldata.Vec) error {
			var m map[string]any
			if err := avro.Unmarshal(s, rec, &m); err != nil {
				return err
			}
			appendBidMicros(cols, m["auction"].(int64), m["bidder"].(int64), m["price"].(int64), m["channel"].(string),
				m["url"].(string), m["date_time"].(time.Time).UnixMicro(), m["extra"].(string))
			return nil
		})
	})
	b.Run("hamba_struct", func(b *testing.B) {
		benchFunc(b, recs, func(rec []byte, cols []*coldata.Vec) error {
			var x avroBid
			if err := avro.Unmarshal(s, rec, &x); err != nil {
				return err
			}
			appendBidMicros(cols, x.Auction, x.Bidder, x.Price, x.Channel, x.URL, x.DateTime.UnixMicro(), x.Extra)
			return nil
		})
	})
}

// BenchmarkProtobufDecoders compares the sluice wire walker with dynamicpb.
func BenchmarkProtobufDecoders(b *testing.B) {
	bids := genBids(4096, 1)
	recs := bidsProto(b, bids)
	b.Run("sluice", func(b *testing.B) {
		f, err := Compile(Config{Format: "protobuf", Columns: bidColumns, Options: bidProtoOpts})
		if err != nil {
			b.Fatal(err)
		}
		benchDecode(b, f.NewDecoder(), bidColumns, recs)
	})
	md := protoDesc(b, "bid.proto", "nexmark.Bid")
	fs := md.Fields()
	fAuction, fBidder, fPrice, fChannel := fs.ByName("auction"), fs.ByName("bidder"), fs.ByName("price"), fs.ByName("channel")
	fURL, fAt, fExtra := fs.ByName("url"), fs.ByName("date_time"), fs.ByName("extra")
	tsFields := fAt.Message().Fields()
	fSecs, fNanos := tsFields.ByName("seconds"), tsFields.ByName("nanos")
	b.Run("dynamicpb", func(b *testing.B) {
		msg := dynamicpb.NewMessage(md)
		benchFunc(b, recs, func(rec []byte, cols []*coldata.Vec) error {
			proto.Reset(msg)
			if err := proto.Unmarshal(rec, msg); err != nil {
				return err
			}
			var at protoreflect.Message = msg.Get(fAt).Message()
			appendBidMicros(cols, msg.Get(fAuction).Int(), msg.Get(fBidder).Int(), msg.Get(fPrice).Int(), msg.Get(fChannel).String(),
				msg.Get(fURL).String(), at.Get(fSecs).Int()*1e6+at.Get(fNanos).Int()/1000, msg.Get(fExtra).String())
			return nil
		})
	})
}

// BenchmarkCSVDecoders compares the sluice CSV decoder with encoding/csv.
func BenchmarkCSVDecoders(b *testing.B) {
	recs := bidsCSV(genBids(4096, 1))
	b.Run("sluice", func(b *testing.B) {
		f, err := Compile(Config{Format: "csv", Columns: bidColumns})
		if err != nil {
			b.Fatal(err)
		}
		benchDecode(b, f.NewDecoder(), bidColumns, recs)
	})
	b.Run("encoding_csv", func(b *testing.B) {
		var rd bytes.Reader
		benchFunc(b, recs, func(rec []byte, cols []*coldata.Vec) error {
			rd.Reset(rec)
			r := csv.NewReader(&rd)
			r.ReuseRecord = true
			fs, err := r.Read()
			if err != nil {
				return err
			}
			a, _ := fastInt(fs[0])
			bd, _ := fastInt(fs[1])
			p, _ := fastInt(fs[2])
			return appendBid(cols, a, bd, p, fs[3], fs[4], fs[5], fs[6])
		})
	})
}

func appendBidMicros(cols []*coldata.Vec, auction, bidder, price int64, channel, url string, at int64, extra string) {
	cols[0].Ints = append(cols[0].Ints, auction)
	cols[1].Ints = append(cols[1].Ints, bidder)
	cols[2].Ints = append(cols[2].Ints, price)
	cols[3].Bytes = append(cols[3].Bytes, channel)
	cols[4].Bytes = append(cols[4].Bytes, url)
	cols[5].Ints = append(cols[5].Ints, at)
	cols[6].Bytes = append(cols[6].Bytes, extra)
}
