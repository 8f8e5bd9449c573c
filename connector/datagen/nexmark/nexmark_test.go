package nexmark

import (
	"fmt"
	"testing"
	"time"

	"github.com/sluice-db/sluice/coldata"
)

func newCols(k Kind, n int) []*coldata.Vec {
	cols := make([]*coldata.Vec, len(Columns(k)))
	for i, c := range Columns(k) {
		cols[i] = coldata.NewVec(c.Type, n)
	}
	return cols
}

func rows(cols []*coldata.Vec) []string {
	out := make([]string, cols[0].Len())
	for i := range out {
		for _, v := range cols {
			out[i] += fmt.Sprint(v.Get(i)) + "|"
		}
	}
	return out
}

var cfg = Config{Seed: 42, Rate: 1000, Base: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}

// The kinds come in Nexmark's proportions, ids are consecutive from 1000,
// and times advance 1/rate per event.
func TestSequence(t *testing.T) {
	g := New(cfg)
	const n = 50_000
	counts := map[Kind]int{}
	for _, k := range []Kind{Person, Auction, Bid} {
		cols := newCols(k, 0)
		counts[k] = g.Append(k, cols, 0, n)
		if cols[0].Len() != counts[k] {
			t.Fatalf("%s: %d rows for %d events", k, cols[0].Len(), counts[k])
		}
		if k != Bid {
			for i, id := range cols[0].Ints {
				if id != int64(1000+i) {
					t.Fatalf("%s %d has id %d, want %d", k, i, id, 1000+i)
				}
			}
		}
	}
	if counts[Person] != 1000 || counts[Auction] != 3000 || counts[Bid] != 46000 {
		t.Errorf("kinds: %v, want 1000 people, 3000 auctions, 46000 bids", counts)
	}
	if got, want := g.Time(1000), cfg.Base.Add(time.Second).UnixMicro(); got != want {
		t.Errorf("event 1000 at %d, want %d (rate 1000/s)", got, want)
	}
	if g.Time(999) >= g.Time(1000) {
		t.Error("event time does not advance")
	}
}

// Bids follow the generator's shape: auctions and bidders among the recent
// (or a few not yet created), half the auctions and three quarters of the
// bidders hot, prices within [100, 10^8], about 100 bytes of payload.
func TestBidShape(t *testing.T) {
	g := New(cfg)
	const n = 200_000
	cols := newCols(Bid, 0)
	var ids []int64
	for id := int64(0); id < n; id++ {
		if KindOf(id) == Bid {
			ids = append(ids, id)
		}
	}
	g.Append(Bid, cols, 0, n)
	hotAuctions, hotBidders, size := 0, 0, 0
	for i, id := range ids {
		a, b, p := cols[0].Ints[i]-firstAuction, cols[1].Ints[i]-firstPersonID, cols[2].Ints[i]
		last := lastAuction(id)
		if a == last/hotRatio*hotRatio {
			hotAuctions++
		} else if a < last-inFlight || a > last+auctionIDLead {
			t.Fatalf("bid %d: auction %d outside [%d, %d]", id, a, last-inFlight, last+auctionIDLead)
		}
		if b == lastPerson(id)/hotRatio*hotRatio+1 {
			hotBidders++
		}
		if p < 100 || p > 100_000_000 {
			t.Fatalf("bid %d: price %d", id, p)
		}
		if cols[5].Ints[i] != g.Time(id) {
			t.Fatalf("bid %d: time %d, want %d", id, cols[5].Ints[i], g.Time(id))
		}
		size += 8*4 + len(cols[3].Bytes[i]) + len(cols[4].Bytes[i]) + len(cols[6].Bytes[i])
	}
	frac := func(k int) float64 { return float64(k) / float64(len(ids)) }
	if f := frac(hotAuctions); f < 0.48 || f > 0.53 {
		t.Errorf("hot auctions: %.3f of bids, want about 0.5", f)
	}
	if f := frac(hotBidders); f < 0.73 || f > 0.78 {
		t.Errorf("hot bidders: %.3f of bids, want about 0.75", f)
	}
	if avg := size / len(ids); avg < 95 || avg > 140 {
		t.Errorf("bids average %d bytes, want about 100", avg)
	}
}

// The sequence is a function of the seed and the event id: generating it
// in pieces, or with another generator, gives the same rows; another seed
// gives other rows.
func TestDeterministic(t *testing.T) {
	for _, k := range []Kind{Person, Auction, Bid} {
		whole, parts := newCols(k, 0), newCols(k, 0)
		New(cfg).Append(k, whole, 0, 5000)
		g := New(cfg)
		for lo := int64(0); lo < 5000; lo += 777 {
			g.Append(k, parts, lo, min(lo+777, 5000))
		}
		a, b := rows(whole), rows(parts)
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Errorf("%s: generated in pieces differs from at once", k)
		}
		other := newCols(k, 0)
		New(Config{Seed: 43, Rate: cfg.Rate, Base: cfg.Base}).Append(k, other, 0, 5000)
		if fmt.Sprint(rows(other)) == fmt.Sprint(a) {
			t.Errorf("%s: seeds 42 and 43 gave the same events", k)
		}
	}
}

// Auctions expire after they start; sellers are people that exist or are
// about to.
func TestAuctionShape(t *testing.T) {
	g := New(cfg)
	cols := newCols(Auction, 0)
	g.Append(Auction, cols, 0, 100_000)
	for i := range cols[0].Len() {
		if cols[6].Ints[i] <= cols[5].Ints[i] {
			t.Fatalf("auction %d expires at %d, not after %d", cols[0].Ints[i], cols[6].Ints[i], cols[5].Ints[i])
		}
		if c := cols[8].Ints[i]; c < firstCategory || c >= firstCategory+numCategories {
			t.Fatalf("auction %d: category %d", cols[0].Ints[i], c)
		}
		if s := cols[7].Ints[i]; s < firstPersonID || s > firstPersonID+100_000/proportion+personIDLead {
			t.Fatalf("auction %d: seller %d", cols[0].Ints[i], s)
		}
	}
}

// A bid costs no allocation once the vectors have room.
func TestBidAllocs(t *testing.T) {
	g := New(cfg)
	cols := newCols(Bid, 100_000)
	var lo int64
	allocs := testing.AllocsPerRun(10, func() {
		for _, v := range cols {
			v.Reset()
		}
		g.Append(Bid, cols, lo, lo+1000)
		lo += 1000
	})
	if allocs > 0 {
		t.Errorf("%.1f allocations per 1000 events", allocs)
	}
}

func BenchmarkBids(b *testing.B) {
	g := New(cfg)
	cols := newCols(Bid, 1<<16)
	var lo int64
	for b.Loop() {
		for _, v := range cols {
			v.Reset()
		}
		g.Append(Bid, cols, lo, lo+1<<16)
		lo += 1 << 16
	}
	b.ReportMetric(float64(b.N)*(1<<16)/b.Elapsed().Seconds(), "events/s")
}
