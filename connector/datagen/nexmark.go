package datagen

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// Nexmark's generator (../shared/NEXMARK.md): one sequence of events, of
// which event e is a person when e%50 < 1, an auction when e%50 < 4 and a
// bid otherwise. Each kind is a generator of its own, taking its share of
// the sequence, so three streams with one seed and rate are one Nexmark
// run. Event time is the sequence's: event e is due at clock + e/rate.
const (
	nexmarkCycle     = 50
	firstPersonID    = 1000
	firstAuctionID   = 1000
	firstCategoryID  = 10
	nexmarkActive    = 1000 // people a random person is drawn from
	nexmarkInFlight  = 100  // auctions a random auction is drawn from
	nexmarkLead      = 10   // ids past the newest a random draw may name
	nexmarkHotRatio  = 100  // hot sellers, bidders and auctions are multiples of it
	nexmarkPoolSize  = 1024 // precomputed emails and cards
	nexmarkLetterLen = 4096 // random letters that names and padding are cut from
	auctionsPerCycle = 3
)

// The shares of the sequence each kind takes.
func personShare() *share  { return &share{cycle: nexmarkCycle, lo: 0, width: 1} }
func auctionShare() *share { return &share{cycle: nexmarkCycle, lo: 1, width: auctionsPerCycle} }
func bidShare() *share     { return &share{cycle: nexmarkCycle, lo: 4, width: 46} }

// nexmarkText is the text the Nexmark generators cut their strings from,
// made once per generator from a fixed seed, so rows keep no allocation
// of their own.
type nexmarkText struct {
	letters string
}

func newNexmarkText() *nexmarkText {
	b := make([]byte, nexmarkLetterLen)
	for i := range b {
		b[i] = 'a' + byte(mix(uint64(i)*golden+7)%26)
	}
	return &nexmarkText{letters: string(b)}
}

// cut returns n letters at a position chosen by r.
func (t *nexmarkText) cut(r uint64, n int) string {
	at := int(r % uint64(len(t.letters)-n))
	return t.letters[at : at+n]
}

// pad returns padding that brings a record of fixed bytes to about size
// bytes (±20 %).
func (t *nexmarkText) pad(r1, r2 uint64, fixed, size int) string {
	n := size - fixed
	if n <= 0 {
		return ""
	}
	n += int(r2%uint64(n*2/5+1)) - n/5
	return t.cut(r1, n)
}

// pool makes n strings prefix + letters + suffix.
func (t *nexmarkText) pool(prefix string, letters int, suffix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + t.cut(mix(uint64(i)*golden+uint64(len(prefix))), letters) + suffix
	}
	return out
}

// lastPerson and lastAuction are the newest person and auction (from 0)
// at event e.
func lastPerson(e int64) int64 { return e / nexmarkCycle }

func lastAuction(e int64) int64 {
	return max(e/nexmarkCycle*auctionsPerCycle+min(max(e%nexmarkCycle, 0), auctionsPerCycle)-1, 0)
}

// randomPerson is uniform over the last nexmarkActive people and
// nexmarkLead not generated yet.
func randomPerson(e int64, r uint64) int64 {
	next := lastPerson(e) + 1
	active := min(next, nexmarkActive)
	return next - active + int64(r%uint64(active+nexmarkLead))
}

func randomAuction(e int64, r uint64) int64 {
	next := lastAuction(e) + 1
	active := min(next, nexmarkInFlight)
	return next - active + int64(r%uint64(active+nexmarkLead))
}

// nexmarkPrice is round(10^(U·6) × 100), with 10^x as math.Pow gives it.
func nexmarkPrice(r uint64) int64 { return int64(math.Round(math.Pow(10, unit(r)*6) * 100)) }

// nexmarkPrices draws nexmarkPrice's prices at a fraction of math.Pow's
// cost (a bid's price was a third of the bid generator's CPU): 10^x from a
// table of 10^(i/priceSteps) times a short series. Where that lands within
// its error of a half-integer, where rounding might tell the two apart, it
// takes math.Pow: the prices, and so every seeded stream, stay the same.
type nexmarkPrices struct {
	steps [6 * priceSteps]float64 // 10^(i/priceSteps)
}

// priceSteps is the table's entries per decade: a step spans less than
// 0.009 of 10^x's natural exponent, where five terms of exp's series err
// by under 1e-15.
const priceSteps = 256

// priceSlack bounds the relative distance between the table's 10^x and
// math.Pow's (each within a few 1e-16 of the true value) with a margin
// of about a hundred.
const priceSlack = 1e-13

func newNexmarkPrices() *nexmarkPrices {
	p := &nexmarkPrices{}
	for i := range p.steps {
		p.steps[i] = math.Pow(10, float64(i)/priceSteps)
	}
	return p
}

func (p *nexmarkPrices) price(r uint64) int64 {
	x := unit(r) * 6
	i := int(x * priceSteps)
	t := (x - float64(i)/priceSteps) * math.Ln10
	z := p.steps[i] * (1 + t*(1+t*(1.0/2+t*(1.0/6+t*(1.0/24+t*(1.0/120)))))) * 100
	if math.Abs(z-math.Floor(z)-0.5) <= z*priceSlack {
		return nexmarkPrice(r)
	}
	return int64(math.Round(z))
}

func nexmarkPersonGenerator() *Generator {
	t := newNexmarkText()
	firsts := []string{"Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"}
	lasts := []string{"Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"}
	names := make([]string, 0, len(firsts)*len(lasts))
	for _, f := range firsts {
		for _, l := range lasts {
			names = append(names, f+" "+l)
		}
	}
	cities := []string{"Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"}
	states := []string{"AZ", "CA", "ID", "OR", "WA", "WY"}
	emails := t.pool("", 7, "@example.com", nexmarkPoolSize)
	cards := make([]string, nexmarkPoolSize)
	for i := range cards {
		r := mix(uint64(i) * golden)
		cards[i] = fmt.Sprintf("%04d %04d %04d %04d", r%10000, r/10000%10000, r/1e8%10000, r/1e12%10000)
	}
	return &Generator{name: "nexmark_person", share: personShare(), columns: []column{
		eventIntColumn("id", func(b *block, e int64) int64 { return firstPersonID + lastPerson(e) }),
		eventTextColumn("name", func(b *block, e int64) string { return names[b.rand(e, 2)%uint64(len(names))] }),
		eventTextColumn("email_address", func(b *block, e int64) string { return emails[b.rand(e, 3)%nexmarkPoolSize] }),
		eventTextColumn("credit_card", func(b *block, e int64) string { return cards[b.rand(e, 4)%nexmarkPoolSize] }),
		eventTextColumn("city", func(b *block, e int64) string { return cities[b.rand(e, 5)%uint64(len(cities))] }),
		eventTextColumn("state", func(b *block, e int64) string { return states[b.rand(e, 6)%uint64(len(states))] }),
		tsColumn("date_time"),
		eventTextColumn("extra", func(b *block, e int64) string { return t.pad(b.rand(e, 7), b.rand(e, 8), 80, 200) }),
	}}
}

func nexmarkAuctionGenerator() *Generator {
	t := newNexmarkText()
	prices := newNexmarkPrices()
	return &Generator{name: "nexmark_auction", share: auctionShare(), columns: []column{
		eventIntColumn("id", func(b *block, e int64) int64 { return firstAuctionID + lastAuction(e) }),
		eventTextColumn("item_name", func(b *block, e int64) string { return t.cut(b.rand(e, 2), 20) }),
		eventTextColumn("description", func(b *block, e int64) string { return t.cut(b.rand(e, 3), 100) }),
		eventIntColumn("initial_bid", func(b *block, e int64) int64 { return prices.price(b.rand(e, 4)) }),
		eventIntColumn("reserve", func(b *block, e int64) int64 { return prices.price(b.rand(e, 4)) + prices.price(b.rand(e, 5)) }),
		tsColumn("date_time"),
		{name: "expires", typ: types.TimestampTZ, emit: func(b *block, v *coldata.Vec) {
			rate := b.rate
			if rate == 0 {
				rate = DefaultRate
			}
			// Twice the time 100 more auctions take, at most.
			span := uint64(2 * nexmarkInFlight * nexmarkCycle / auctionsPerCycle * 1e6 / rate)
			for i, e := range b.event[:b.n] {
				v.AppendInt(b.ts[i] + 1000 + int64(b.rand(e, 6)%(span+1)))
			}
		}},
		eventIntColumn("seller", func(b *block, e int64) int64 {
			if b.rand(e, 7)%4 != 0 {
				return firstPersonID + lastPerson(e)/nexmarkHotRatio*nexmarkHotRatio
			}
			return firstPersonID + randomPerson(e, b.rand(e, 8))
		}),
		eventIntColumn("category", func(b *block, e int64) int64 { return firstCategoryID + int64(b.rand(e, 9)%5) }),
		eventTextColumn("extra", func(b *block, e int64) string { return t.pad(b.rand(e, 10), b.rand(e, 11), 170, 500) }),
	}}
}

// nexmarkURL is a bid's URL as Flink's Nexmark generator makes them: three
// directories of five letters chosen by r.
func (t *nexmarkText) nexmarkURL(r uint64) string {
	return "https://www.nexmark.com/" + t.cut(mix(r), 5) + "/" + t.cut(mix(r+1), 5) + "/" + t.cut(mix(r+2), 5) + "/item.htm?query=1"
}

func nexmarkBidGenerator() *Generator {
	t := newNexmarkText()
	prices := newNexmarkPrices()
	// As in Flink's generator, a channel has one URL: each hot channel its
	// own, channel-N one that names it as channel_id (the bits of N
	// reversed, as Java's Integer.reverse) nine times in ten, so that q21's
	// regular expression finds it and q22's directories vary.
	hotChannels := []string{"Google", "Facebook", "Baidu", "Apple"}
	hotURLs := make([]string, len(hotChannels))
	for i := range hotURLs {
		hotURLs[i] = t.nexmarkURL(uint64(i) * golden)
	}
	channels, urls := make([]string, 10000), make([]string, 10000)
	for i := range channels {
		channels[i] = fmt.Sprintf("channel-%d", i)
		urls[i] = t.nexmarkURL(uint64(len(hotURLs)+i) * golden)
		if mix(uint64(i)*golden+3)%10 > 0 {
			id := int32(bits.Reverse32(uint32(i)))
			urls[i] += fmt.Sprintf("&channel_id=%d", max(id, -id))
		}
	}
	channelOf := func(b *block, e int64) int {
		if r := b.rand(e, 7); r%2 == 0 {
			return -1 - int(r/2%uint64(len(hotChannels)))
		}
		return int(b.rand(e, 8) % uint64(len(channels)))
	}
	return &Generator{name: "nexmark_bid", share: bidShare(), columns: []column{
		eventIntColumn("auction", func(b *block, e int64) int64 {
			if b.rand(e, 2)%2 == 0 {
				return firstAuctionID + lastAuction(e)/nexmarkHotRatio*nexmarkHotRatio
			}
			return firstAuctionID + randomAuction(e, b.rand(e, 3))
		}),
		eventIntColumn("bidder", func(b *block, e int64) int64 {
			if b.rand(e, 4)%4 != 0 {
				return firstPersonID + lastPerson(e)/nexmarkHotRatio*nexmarkHotRatio + 1
			}
			return firstPersonID + randomPerson(e, b.rand(e, 5))
		}),
		eventIntColumn("price", func(b *block, e int64) int64 { return prices.price(b.rand(e, 6)) }),
		eventTextColumn("channel", func(b *block, e int64) string {
			c := channelOf(b, e)
			if c < 0 {
				return hotChannels[-1-c]
			}
			return channels[c]
		}),
		eventTextColumn("url", func(b *block, e int64) string {
			c := channelOf(b, e)
			if c < 0 {
				return hotURLs[-1-c]
			}
			return urls[c]
		}),
		tsColumn("date_time"),
		// As in Flink, extra pads the bid to about 100 bytes after its four
		// numbers, channel and url.
		eventTextColumn("extra", func(b *block, e int64) string {
			fixed := 32
			if c := channelOf(b, e); c < 0 {
				fixed += len(hotChannels[-1-c]) + len(hotURLs[-1-c])
			} else {
				fixed += len(channels[c]) + len(urls[c])
			}
			return t.pad(b.rand(e, 10), b.rand(e, 11), fixed, 100)
		}),
	}}
}

// eventIntColumn is a bigint column whose value is a function of the event.
func eventIntColumn(name string, value func(b *block, e int64) int64) column {
	return column{name: name, typ: types.Int8, emit: func(b *block, v *coldata.Vec) {
		for _, e := range b.event[:b.n] {
			v.AppendInt(value(b, e))
		}
	}}
}

func eventTextColumn(name string, value func(b *block, e int64) string) column {
	return column{name: name, typ: types.Text, emit: func(b *block, v *coldata.Vec) {
		for _, e := range b.event[:b.n] {
			v.AppendString(value(b, e))
		}
	}}
}
