package bench

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// A bid of the kafka workload in each record format: the same fields and
// values, so that the formats' figures compare decoders, not payloads.

// bidFormatNames are the formats the kafka workload can run, in report order.
var bidFormatNames = []string{"json", "avro", "protobuf"}

// bidFormat is one record format of the bids: how the topic's records are
// encoded and the stream's WITH options that decode them.
type bidFormat struct {
	name    string
	options map[string]string
	encode  func(b []byte, i int64) []byte
}

// bidSchemaAvro is the bids' Avro schema (inline, no registry).
const bidSchemaAvro = `{"type":"record","name":"Bid","fields":[
 {"name":"auction","type":"long"},{"name":"bidder","type":"long"},{"name":"price","type":"long"},
 {"name":"channel","type":"string"},{"name":"url","type":"string"},
 {"name":"date_time","type":{"type":"long","logicalType":"timestamp-micros"}},{"name":"extra","type":"string"}]}`

// bidProto is the bids' protobuf schema.
const bidProto = `syntax = "proto3";
package nexmark;
import "google/protobuf/timestamp.proto";
message Bid {
  int64 auction = 1;
  int64 bidder = 2;
  int64 price = 3;
  string channel = 4;
  string url = 5;
  google.protobuf.Timestamp date_time = 6;
  string extra = 7;
}
`

// newBidFormat returns format name; protobuf's schema file is written
// under dir (the stream reads it by path).
func newBidFormat(name, dir string) (bidFormat, error) {
	switch name {
	case "json":
		return bidFormat{name: name, options: map[string]string{"format": "json"}, encode: appendBid}, nil
	case "avro":
		return bidFormat{name: name, options: map[string]string{"format": "avro", "avro_schema": bidSchemaAvro}, encode: appendBidAvro}, nil
	case "protobuf":
		path := filepath.Join(dir, "bid.proto")
		if err := os.WriteFile(path, []byte(bidProto), 0o644); err != nil {
			return bidFormat{}, err
		}
		return bidFormat{name: name, options: map[string]string{"format": "protobuf", "proto_file": path, "proto_message": "nexmark.Bid"},
			encode: appendBidProto}, nil
	}
	return bidFormat{}, fmt.Errorf("unknown kafka format %q (valid: %s)", name, strings.Join(bidFormatNames, ", "))
}

// withClause is the stream's WITH options for reading topic in format f.
func (f bidFormat) withClause(topic string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "connector = 'kafka', topic = '%s'", topic)
	for _, k := range []string{"format", "avro_schema", "proto_file", "proto_message"} {
		if v, ok := f.options[k]; ok {
			fmt.Fprintf(&b, ", %s = '%s'", k, strings.ReplaceAll(v, "'", "''"))
		}
	}
	return b.String()
}

// bid is bid i's fields; appendBid (JSON) defines their values.
type bid struct {
	auction, bidder, price int64
	channel, url, extra    string
	at                     time.Time
}

var bidEpoch = time.Unix(1_700_000_000, 0).UTC()

// bidPaddedLen is the JSON length up to the extra field's closing quote:
// extra pads every bid to about 200 bytes of JSON.
const bidPaddedLen = 196

func newBid(i int64) bid {
	b := bid{auction: bidAuction(i), bidder: 1001 + int64(mix(i+17)>>54), price: int64(mix(i+19) >> 44),
		url: "https://www.nexmark.com/item.htm?query=1&channel_id=" + strconv.FormatInt(int64(mix(i+29)>>40), 10),
		at:  bidEpoch.Add(time.Duration(i) * time.Microsecond)}
	if c := mix(i + 23); c&1 == 0 {
		b.channel = bidChannels[(c>>1)&3]
	} else {
		b.channel = "channel-" + strconv.FormatInt(int64(c>>50)%10000, 10)
	}
	return b
}

// appendBid appends bid i as a Nexmark JSON object of about 200 bytes.
func appendBid(buf []byte, i int64) []byte {
	b := newBid(i)
	start := len(buf)
	buf = append(buf, `{"auction":`...)
	buf = strconv.AppendInt(buf, b.auction, 10)
	buf = append(buf, `,"bidder":`...)
	buf = strconv.AppendInt(buf, b.bidder, 10)
	buf = append(buf, `,"price":`...)
	buf = strconv.AppendInt(buf, b.price, 10)
	buf = append(buf, `,"channel":"`...)
	buf = append(buf, b.channel...)
	buf = append(buf, `","url":"`...)
	buf = append(buf, b.url...)
	buf = append(buf, `","date_time":"`...)
	buf = b.at.AppendFormat(buf, time.RFC3339Nano)
	buf = append(buf, `","extra":"`...)
	for len(buf)-start < bidPaddedLen {
		buf = append(buf, 'x')
	}
	return append(buf, `"}`...)
}

// bidExtra is bid i's extra field: the padding its JSON carries.
func bidExtra(i int64) string {
	j := appendBid(nil, i)
	k := strings.LastIndex(string(j), `"extra":"`) + len(`"extra":"`)
	return string(j[k : len(j)-2])
}

// appendBidAvro appends bid i in Avro's binary encoding (longs and lengths
// are zigzag varints, as encoding/binary's AppendVarint writes them).
func appendBidAvro(buf []byte, i int64) []byte {
	b := newBid(i)
	buf = binary.AppendVarint(buf, b.auction)
	buf = binary.AppendVarint(buf, b.bidder)
	buf = binary.AppendVarint(buf, b.price)
	for _, s := range []string{b.channel, b.url} {
		buf = binary.AppendVarint(buf, int64(len(s)))
		buf = append(buf, s...)
	}
	buf = binary.AppendVarint(buf, b.at.UnixMicro())
	extra := bidExtra(i)
	buf = binary.AppendVarint(buf, int64(len(extra)))
	return append(buf, extra...)
}

// appendBidProto appends bid i as a nexmark.Bid protobuf message.
func appendBidProto(buf []byte, i int64) []byte {
	b := newBid(i)
	for f, v := range []int64{b.auction, b.bidder, b.price} {
		buf = protowire.AppendTag(buf, protowire.Number(f+1), protowire.VarintType)
		buf = protowire.AppendVarint(buf, uint64(v))
	}
	buf = protowire.AppendTag(buf, 4, protowire.BytesType)
	buf = protowire.AppendString(buf, b.channel)
	buf = protowire.AppendTag(buf, 5, protowire.BytesType)
	buf = protowire.AppendString(buf, b.url)
	var ts []byte
	ts = protowire.AppendTag(ts, 1, protowire.VarintType)
	ts = protowire.AppendVarint(ts, uint64(b.at.Unix()))
	if ns := b.at.Nanosecond(); ns != 0 {
		ts = protowire.AppendTag(ts, 2, protowire.VarintType)
		ts = protowire.AppendVarint(ts, uint64(ns))
	}
	buf = protowire.AppendTag(buf, 6, protowire.BytesType)
	buf = protowire.AppendBytes(buf, ts)
	buf = protowire.AppendTag(buf, 7, protowire.BytesType)
	return protowire.AppendString(buf, bidExtra(i))
}
