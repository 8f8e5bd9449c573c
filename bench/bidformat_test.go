package bench

import (
	"fmt"
	"testing"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/connector/format"
	"github.com/sluice-db/sluice/types"
)

// TestBidFormats decodes the same bids from every format with the decoder
// the bid stream uses, and checks that every format yields the JSON's rows:
// the formats' figures then compare decoders, not payloads.
func TestBidFormats(t *testing.T) {
	const n = 500
	decode := func(name string) [][]string {
		t.Helper()
		bf, err := newBidFormat(name, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		f, err := format.Compile(format.Config{Format: bf.options["format"], Columns: kafkaColumns, Options: bf.options})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ts := make([]*types.T, len(kafkaColumns))
		for i, c := range kafkaColumns {
			ts[i] = c.Type
		}
		chunk := coldata.NewChunk(ts, n)
		dec := f.NewDecoder()
		for i := range int64(n) {
			if err := dec.Decode(bf.encode(nil, i), chunk.Cols); err != nil {
				t.Fatalf("%s: bid %d: %v", name, i, err)
			}
		}
		rows := make([][]string, n)
		for i := range rows {
			for _, v := range chunk.Cols {
				rows[i] = append(rows[i], fmt.Sprint(v.Get(i)))
			}
		}
		return rows
	}
	want := decode("json")
	if want[7][6] == "" {
		t.Fatalf("bid 7's extra is %q: the JSON is not padded", want[7][6])
	}
	for _, name := range bidFormatNames[1:] {
		got := decode(name)
		for i := range want {
			if fmt.Sprint(got[i]) != fmt.Sprint(want[i]) {
				t.Fatalf("%s bid %d:\n got %v\nwant %v", name, i, got[i], want[i])
			}
		}
	}
	if _, err := newBidFormat("xml", t.TempDir()); err == nil {
		t.Error("an unknown format was accepted")
	}
}
