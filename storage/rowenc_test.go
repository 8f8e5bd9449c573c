package storage

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/cockroachdb/apd/v3"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

var allTypes = []*types.T{types.Bool, types.Int8, types.Float8, types.Numeric, types.Text, types.Bytea,
	types.Interval, types.ArrayOf(types.Int8), types.ArrayOf(types.Text), types.TimestampTZ}

func randDatum(r *rand.Rand, t *types.T) types.Datum {
	if r.IntN(5) == 0 {
		return nil
	}
	switch t.Phys() {
	case types.PhysBool:
		return r.IntN(2) == 1
	case types.PhysInt:
		return []int64{0, 1, -1, math.MaxInt64, math.MinInt64, r.Int64()}[r.IntN(6)]
	case types.PhysFloat:
		return []float64{0, math.Copysign(0, -1), math.Inf(1), math.NaN(), r.NormFloat64()}[r.IntN(5)]
	case types.PhysDecimal:
		d, _, _ := apd.NewFromString([]string{"1.00", "-3E+5", "NaN", "Infinity", "123456789012345678901234567890.5"}[r.IntN(5)])
		return d
	case types.PhysBytes:
		b := make([]byte, r.IntN(20))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return string(b)
	case types.PhysInterval:
		return types.IntervalValue{Months: r.Int32() - math.MaxInt32/2, Days: -3, Micros: r.Int64()}
	}
	a := &types.Array{Elem: t.Elem}
	for range r.IntN(4) {
		a.Elems = append(a.Elems, randDatum(r, t.Elem))
	}
	return a
}

func seed(t *testing.T) uint64 {
	s := uint64(rand.Int64())
	if v := os.Getenv("SLUICE_SEED"); v != "" {
		s, _ = strconv.ParseUint(v, 10, 64)
	}
	t.Logf("seed %d (replay with SLUICE_SEED)", s)
	return s
}

// TestRowRoundTrip encodes random rows and decodes them back; then feeds
// every prefix and random mutations to the decoder, which must not panic.
func TestRowRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 1))
	in := coldata.NewChunk(allTypes, 0)
	for range 200 {
		row := make([]types.Datum, len(allTypes))
		for c, ct := range allTypes {
			row[c] = randDatum(r, ct)
		}
		in.AppendRow(row)
	}
	out := coldata.NewChunk(allTypes, 0)
	for i := 0; i < in.Len; i++ {
		b, err := encodeRow(nil, in.Cols, i)
		if err != nil {
			t.Fatal(err)
		}
		if err := decodeRowInto(b, out.Cols); err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		out.Len++
		want, got := in.Row(i), out.Row(i)
		if fmtRow(want) != fmtRow(got) || string(appendRowKey(allTypes, want)) != string(appendRowKey(allTypes, got)) {
			t.Fatalf("row %d: got %v want %v", i, got, want)
		}
		// Corrupt inputs: prefixes and bit flips give errors or other rows, never panics.
		scratch := coldata.NewChunk(allTypes, 0)
		for n := range b {
			_ = decodeRowInto(b[:n], scratch.Cols)
			m := append([]byte(nil), b...)
			m[n] ^= byte(1 << r.IntN(8))
			_ = decodeRowInto(m, coldata.NewChunk(allTypes, 0).Cols)
		}
	}
	// Fewer columns on disk than in the schema: missing columns read as NULL.
	short, _ := encodeRow(nil, in.Cols[:2], 0)
	wide := coldata.NewChunk(allTypes, 0)
	if err := decodeRowInto(short, wide.Cols); err != nil || wide.Cols[5].Get(0) != nil {
		t.Fatalf("short row: %v", err)
	}
}

// TestRunRoundTrip encodes random stretches of random rows (randDatum
// makes NULLs too, so some columns have a null bitmap and some not) as runs
// and decodes them back; then feeds every prefix and random mutations of
// each to the decoder, which must not panic.
func TestRunRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 2))
	in := coldata.NewChunk(allTypes, 0)
	for range 300 {
		row := make([]types.Datum, len(allTypes))
		for c, ct := range allTypes {
			if r.IntN(3) > 0 { // columns without NULLs in short runs, too
				row[c] = randDatum(r, ct)
			}
		}
		in.AppendRow(row)
	}
	for range 50 {
		lo := r.IntN(in.Len)
		n := 1 + r.IntN(min(in.Len-lo, 100))
		b, err := encodeRun(nil, in.Cols, lo, n)
		if err != nil {
			t.Fatal(err)
		}
		out := coldata.NewChunk(allTypes, 0)
		got, err := decodeInto(b, out.Cols)
		if err != nil || got != n {
			t.Fatalf("rows %d..%d: decoded %d rows: %v", lo, lo+n-1, got, err)
		}
		out.Len = n
		for i := range n {
			want, got := in.Row(lo+i), out.Row(i)
			if fmtRow(want) != fmtRow(got) || string(appendRowKey(allTypes, want)) != string(appendRowKey(allTypes, got)) {
				t.Fatalf("row %d: got %v want %v", lo+i, got, want)
			}
		}
		for range 100 { // a sample: runs are long
			k := r.IntN(len(b))
			_, _ = decodeInto(b[:k], coldata.NewChunk(allTypes, 0).Cols)
			m := append([]byte(nil), b...)
			m[k] ^= byte(1 << r.IntN(8))
			_, _ = decodeInto(m, coldata.NewChunk(allTypes, 0).Cols)
		}
	}
	// Fewer columns on disk than in the schema: missing columns read as NULL.
	short, _ := encodeRun(nil, in.Cols[:2], 0, 3)
	wide := coldata.NewChunk(allTypes, 0)
	if n, err := decodeInto(short, wide.Cols); err != nil || n != 3 || wide.Cols[5].Get(2) != nil {
		t.Fatalf("short run: %d rows, %v", n, err)
	}
}

func appendRowKey(ts []*types.T, row []types.Datum) []byte {
	var b []byte
	for i, d := range row {
		b = types.AppendKey(b, ts[i], d)
	}
	return b
}

func TestKeyEquality(t *testing.T) {
	dec := func(s string) types.Datum { d, _, _ := apd.NewFromString(s); return d }
	same := [][2]types.Datum{
		{dec("1.0"), dec("1.00")}, {dec("0"), dec("-0.000")}, {0.0, math.Copysign(0, -1)},
		{math.NaN(), -math.NaN()},
		{types.IntervalValue{Days: 1}, types.IntervalValue{Micros: types.MicrosPerDay}},
		{types.IntervalValue{Months: 1}, types.IntervalValue{Days: 30}},
		{types.IntervalValue{Days: 1, Micros: -1}, types.IntervalValue{Micros: types.MicrosPerDay - 1}},
	}
	for _, p := range same {
		typ := types.Numeric
		switch p[0].(type) {
		case types.IntervalValue:
			typ = types.Interval
		case float64:
			typ = types.Float8
		}
		if string(types.AppendKey(nil, typ, p[0])) != string(types.AppendKey(nil, typ, p[1])) {
			t.Errorf("%v and %v should have equal keys", p[0], p[1])
		}
	}
	if string(types.AppendKey(nil, types.BPChar, "a  ")) != string(types.AppendKey(nil, types.BPChar, "a")) {
		t.Error("bpchar trailing blanks")
	}
	if string(types.AppendKey(nil, types.Text, "a ")) == string(types.AppendKey(nil, types.Text, "a")) {
		t.Error("text trailing blanks are significant")
	}
	// Self-delimiting: ("a\x00", "b") differs from ("a", "\x00b").
	k1 := types.AppendKey(types.AppendKey(nil, types.Text, "a\x00"), types.Text, "b")
	k2 := types.AppendKey(types.AppendKey(nil, types.Text, "a"), types.Text, "\x00b")
	if string(k1) == string(k2) {
		t.Error("string keys must be self-delimiting")
	}
	// Order-preserving for ints and strings.
	ints := []int64{math.MinInt64, -5, -1, 0, 1, 7, math.MaxInt64}
	for i := 1; i < len(ints); i++ {
		if string(types.AppendKey(nil, types.Int8, ints[i-1])) >= string(types.AppendKey(nil, types.Int8, ints[i])) {
			t.Errorf("int order %d %d", ints[i-1], ints[i])
		}
	}
	strs := []string{"", "\x00", "\x00\x00", "a", "a\x00", "ab", "b"}
	for i := 1; i < len(strs); i++ {
		if string(types.AppendKey(nil, types.Text, strs[i-1])) >= string(types.AppendKey(nil, types.Text, strs[i])) {
			t.Errorf("string order %q %q", strs[i-1], strs[i])
		}
	}
}

// TestEncodedSize checks the batch size hint against the encodings, for the
// types it sizes exactly, NULLs excepted (it counts their zero values).
func TestEncodedSize(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	ts := []*types.T{types.Bool, types.Int8, types.Float8, types.Text, types.Bytea, types.TimestampTZ}
	c := coldata.NewChunk(ts, 0)
	for range 1000 {
		row := make([]types.Datum, len(ts))
		for j, typ := range ts {
			for row[j] == nil {
				row[j] = randDatum(r, typ)
			}
		}
		c.AppendRow(row)
	}
	dead := make([]bool, c.Len)
	want := 0
	for i := range dead {
		if dead[i] = r.IntN(4) == 0; dead[i] {
			continue
		}
		enc, err := encodeRow(nil, c.Cols, i)
		if err != nil {
			t.Fatal(err)
		}
		want += len(enc)
	}
	if got := encodedSize(c.Cols, c.Len, dead); got != want {
		t.Errorf("encodedSize = %d, want %d", got, want)
	}
	all := 0
	for i := range c.Len {
		enc, err := encodeRow(nil, c.Cols, i)
		if err != nil {
			t.Fatal(err)
		}
		all += len(enc)
	}
	if got := encodedSize(c.Cols, c.Len, nil); got != all {
		t.Errorf("encodedSize without dead rows = %d, want %d", got, all)
	}
}

// bidRun returns n rows shaped like Nexmark's bids as a Kafka stream
// holds them (auction, bidder, price, channel, url, date_time, extra):
// small and large integers, short and long text.
func bidRun(n int) *coldata.Chunk {
	c := coldata.NewChunk([]*types.T{types.Int8, types.Int8, types.Int8, types.Text, types.Text, types.TimestampTZ, types.Text}, n)
	for i := range n {
		c.AppendRow([]types.Datum{int64(1000 + i%5000), int64(i * 7919), int64(i%10_000_000 + 100),
			"channel-" + strconv.Itoa(i%5), "https://www.nexmark.com/item.htm?query=1&channel_id=" + strconv.Itoa(i%1000),
			int64(1_700_000_000_000_000 + i*1000), fmt.Sprintf("%0*d", 40+i%120, i)})
	}
	return c
}

// BenchmarkEncodeRun encodes bid-like rows as history frames' runs do
// (runRows rows a run), the CPU an append-only commit spends on its rows
// besides the write.
func BenchmarkEncodeRun(b *testing.B) {
	c := bidRun(runRows)
	buf, err := encodeRun(nil, c.Cols, 0, c.Len)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if buf, err = encodeRun(buf[:0], c.Cols, 0, c.Len); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*c.Len), "ns/row")
}
