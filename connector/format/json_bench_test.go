package format

import (
	stdjson "encoding/json"
	"testing"

	"github.com/bytedance/sonic"
	goccy "github.com/goccy/go-json"
	"github.com/minio/simdjson-go"
	"github.com/valyala/fastjson"

	"github.com/sluice-db/sluice/coldata"
)

// BenchmarkJSONDecoders compares JSON decoders on Nexmark bids decoded into
// coldata columns (bigint, bigint, bigint, text, text, timestamptz, text),
// 1024 rows a chunk. Each library gets its fastest way in: encoding/json,
// goccy/go-json and sonic decode into a static Go struct (which Sluice
// cannot use: columns are declared at run time), fastjson and simdjson-go
// walk their parsed tree; the strings and the timestamp are then moved into
// the columns as the sluice decoder does. The libraries live here only, so
// they are not linked into Sluice.
func BenchmarkJSONDecoders(b *testing.B) {
	recs := bidsJSON(genBids(4096, 1))
	b.Run("sluice", func(b *testing.B) {
		f, err := Compile(Config{Format: "json", Columns: bidColumns})
		if err != nil {
			b.Fatal(err)
		}
		benchDecode(b, f.NewDecoder(), bidColumns, recs)
	})
	structDecoder := func(unmarshal func([]byte, any) error) func(*testing.B) {
		return func(b *testing.B) {
			var x bid
			benchFunc(b, recs, func(rec []byte, cols []*coldata.Vec) error {
				x = bid{}
				if err := unmarshal(rec, &x); err != nil {
					return err
				}
				return appendBid(cols, x.Auction, x.Bidder, x.Price, x.Channel, x.URL, x.DateTime, x.Extra)
			})
		}
	}
	b.Run("encoding_json", structDecoder(stdjson.Unmarshal))
	b.Run("goccy", structDecoder(goccy.Unmarshal))
	b.Run("sonic", structDecoder(sonic.Unmarshal))
	b.Run("fastjson", func(b *testing.B) {
		var p fastjson.Parser
		benchFunc(b, recs, func(rec []byte, cols []*coldata.Vec) error {
			v, err := p.ParseBytes(rec)
			if err != nil {
				return err
			}
			return appendBid(cols, v.GetInt64("auction"), v.GetInt64("bidder"), v.GetInt64("price"),
				string(v.GetStringBytes("channel")), string(v.GetStringBytes("url")),
				string(v.GetStringBytes("date_time")), string(v.GetStringBytes("extra")))
		})
	})
	b.Run("simdjson", func(b *testing.B) {
		if !simdjson.SupportedCPU() {
			b.Skip("no AVX2/CLMUL")
		}
		var pj *simdjson.ParsedJson
		var it simdjson.Iter
		var obj simdjson.Object
		var el simdjson.Element
		benchFunc(b, recs, func(rec []byte, cols []*coldata.Vec) error {
			var err error
			if pj, err = simdjson.Parse(rec, pj, simdjson.WithCopyStrings(false)); err != nil {
				return err
			}
			it = pj.Iter()
			it.Advance()
			if _, _, err = it.Root(&it); err != nil {
				return err
			}
			if _, err = it.Object(&obj); err != nil {
				return err
			}
			var x bid
			for {
				name, t, err := obj.NextElementBytes(&el.Iter)
				if err != nil {
					return err
				}
				if t == simdjson.TypeNone {
					break
				}
				switch string(name) {
				case "auction":
					x.Auction, _ = el.Iter.Int()
				case "bidder":
					x.Bidder, _ = el.Iter.Int()
				case "price":
					x.Price, _ = el.Iter.Int()
				case "channel":
					x.Channel, _ = el.Iter.String()
				case "url":
					x.URL, _ = el.Iter.String()
				case "date_time":
					x.DateTime, _ = el.Iter.String()
				case "extra":
					x.Extra, _ = el.Iter.String()
				}
			}
			return appendBid(cols, x.Auction, x.Bidder, x.Price, x.Channel, x.URL, x.DateTime, x.Extra)
		})
	})
}

// appendBid appends one bid's fields to the bid columns.
func appendBid(cols []*coldata.Vec, auction, bidder, price int64, channel, url, at, extra string) error {
	us, ok := fastTimestamp(at, true)
	if !ok {
		return errOption("bad timestamp %q", at)
	}
	cols[0].Ints = append(cols[0].Ints, auction)
	cols[1].Ints = append(cols[1].Ints, bidder)
	cols[2].Ints = append(cols[2].Ints, price)
	cols[3].Bytes = append(cols[3].Bytes, channel)
	cols[4].Bytes = append(cols[4].Bytes, url)
	cols[5].Ints = append(cols[5].Ints, us)
	cols[6].Bytes = append(cols[6].Bytes, extra)
	return nil
}

func benchFunc(b *testing.B, recs [][]byte, decode func([]byte, []*coldata.Vec) error) {
	cols := newCols(bidColumns, 1024)
	b.SetBytes(int64(avgLen(recs)))
	b.ReportAllocs()
	cpu := startCPU(b)
	for i := 0; i < b.N; i++ {
		if i%1024 == 0 {
			resetCols(cols)
		}
		if err := decode(recs[i%len(recs)], cols); err != nil {
			b.Fatal(err)
		}
	}
	cpu.report()
}
