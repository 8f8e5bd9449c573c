package nexmark

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// Kind is the kind of a Nexmark event.
type Kind int

// The event kinds, in the proportions 1 : 3 : 46 of every 50 events.
const (
	Person Kind = iota
	Auction
	Bid
)

var kindNames = [...]string{"person", "auction", "bid"}

func (k Kind) String() string { return kindNames[k] }

// ParseKind returns the kind named s (person, auction or bid).
func ParseKind(s string) (Kind, bool) {
	for i, n := range kindNames {
		if n == s {
			return Kind(i), true
		}
	}
	return 0, false
}

// Generator constants of the nexmark generator.
const (
	proportion    = 50 // events per person/auction/bid cycle
	personCount   = 1  // persons per cycle
	auctionCount  = 3  // auctions per cycle
	firstPersonID = 1000
	firstAuction  = 1000
	firstCategory = 10
	numCategories = 5
	activePeople  = 1000 // a random person is one of the last activePeople ...
	personIDLead  = 10   // ... or one of the next personIDLead
	inFlight      = 100  // a random auction is one of the last inFlight ...
	auctionIDLead = 10   // ... or one of the next auctionIDLead
	hotRatio      = 100  // hot ids are multiples of hotRatio
	numChannels   = 10000
)

// KindOf returns the kind of event id.
func KindOf(id int64) Kind {
	switch rem := id % proportion; {
	case rem < personCount:
		return Person
	case rem < personCount+auctionCount:
		return Auction
	}
	return Bid
}

// Column is one column of a kind's events.
type Column struct {
	Name string
	Type *types.T
}

var columns = [...][]Column{
	Person: {{"id", types.Int8}, {"name", types.Text}, {"email_address", types.Text}, {"credit_card", types.Text},
		{"city", types.Text}, {"state", types.Text}, {"date_time", types.TimestampTZ}, {"extra", types.Text}},
	Auction: {{"id", types.Int8}, {"item_name", types.Text}, {"description", types.Text}, {"initial_bid", types.Int8},
		{"reserve", types.Int8}, {"date_time", types.TimestampTZ}, {"expires", types.TimestampTZ}, {"seller", types.Int8},
		{"category", types.Int8}, {"extra", types.Text}},
	Bid: {{"auction", types.Int8}, {"bidder", types.Int8}, {"price", types.Int8}, {"channel", types.Text},
		{"url", types.Text}, {"date_time", types.TimestampTZ}, {"extra", types.Text}},
}

// Columns returns the columns of kind k's events, in order.
func Columns(k Kind) []Column { return columns[k] }

// Config is what the event sequence depends on.
type Config struct {
	Seed uint64
	// Rate is events per second of event time: event id i happens at
	// Base + i/Rate seconds.
	Rate float64
	// Base is the event time of event 0.
	Base time.Time
}

// Generator makes the events of one Config.
type Generator struct {
	seed     uint64
	base     int64   // Unix microseconds of event 0
	interval float64 // microseconds of event time between events
	channels []string
	urls     []string
	pad      string // random text the extra fields are sliced from
	emails   []string
	cards    []string
	names    []string
}

var (
	firstNames = [...]string{"Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"}
	lastNames  = [...]string{"Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"}
	cities     = [...]string{"Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"}
	states     = [...]string{"AZ", "CA", "ID", "OR", "WA", "WY"}
	brands     = [...]string{"Google", "Facebook", "Baidu", "Apple"}
)

// Record sizes the extra fields pad to, as the nexmark generator's.
const (
	personBytes  = 200
	auctionBytes = 500
	bidBytes     = 100
)

// New returns the generator of cfg; a Rate <= 0 means 10 M events/s.
func New(cfg Config) *Generator {
	if cfg.Rate <= 0 {
		cfg.Rate = 10_000_000
	}
	g := &Generator{seed: cfg.Seed, base: cfg.Base.UnixMicro(), interval: 1e6 / cfg.Rate}
	r := rng{s: cfg.Seed ^ 0x6a09e667f3bcc909}
	g.channels, g.urls = make([]string, numChannels), make([]string, numChannels)
	for i := range numChannels {
		g.channels[i] = "channel-" + strconv.Itoa(i)
		g.urls[i] = "https://www.nexmark.com/" + r.word(5) + "/" + r.word(5) + "/" + r.word(5) +
			"/item.htm?query=1&channel_id=" + strconv.FormatUint(r.next()>>40, 10)
	}
	var b strings.Builder
	for b.Len() < 2*auctionBytes {
		b.WriteString(r.word(8))
		b.WriteByte(' ')
	}
	g.pad = b.String()
	for _, f := range firstNames {
		for _, l := range lastNames {
			g.names = append(g.names, f+" "+l)
		}
	}
	g.emails, g.cards = make([]string, 1024), make([]string, 1024)
	for i := range g.emails {
		g.emails[i] = r.word(7) + "@" + r.word(5) + ".com"
		g.cards[i] = strconv.Itoa(1000+int(r.next()%9000)) + " " + strconv.Itoa(1000+int(r.next()%9000)) + " " +
			strconv.Itoa(1000+int(r.next()%9000)) + " " + strconv.Itoa(1000+int(r.next()%9000))
	}
	return g
}

// Time returns event id's event time in Unix microseconds.
func (g *Generator) Time(id int64) int64 {
	return g.base + int64(math.Round(float64(id)*g.interval))
}

// lastPerson and lastAuction are the newest base-0 person and auction ids
// at event id.
func lastPerson(id int64) int64 { return id / proportion }

func lastAuction(id int64) int64 {
	epoch, rem := id/proportion, id%proportion
	if rem < personCount {
		return epoch*auctionCount - 1
	}
	return epoch*auctionCount + min(rem-personCount, auctionCount-1)
}

// randomPerson is one of the last activePeople people or the next few.
func randomPerson(id int64, r *rng) int64 {
	n := lastPerson(id) + 1
	active := min(n, activePeople)
	return n - active + int64(r.next()%uint64(active+personIDLead))
}

// randomAuction is one of the in-flight auctions or the next few.
func randomAuction(id int64, r *rng) int64 {
	last := lastAuction(id)
	lo := max(last-inFlight, 0)
	return lo + int64(r.next()%uint64(last-lo+1+auctionIDLead))
}

// price is round(10^(U·6) × 100).
func price(r *rng) int64 {
	return int64(math.Round(math.Pow(10, r.float()*6) * 100))
}

// extra is random padding that brings a record of size bytes to target.
func (g *Generator) extra(r *rng, size, target int) string {
	n := max(target-size, 0)
	off := int(r.next() % uint64(len(g.pad)-n+1))
	return g.pad[off : off+n]
}

// Append appends to cols (laid out as Columns(k)) the events of kind k
// among event ids [from, to), in id order, and returns how many.
func (g *Generator) Append(k Kind, cols []*coldata.Vec, from, to int64) int {
	n := 0
	for id := from; id < to; id++ {
		if KindOf(id) != k {
			continue
		}
		r := rng{s: g.seed ^ uint64(id)*0x9E3779B97F4A7C15}
		switch k {
		case Person:
			g.person(id, &r, cols)
		case Auction:
			g.auction(id, &r, cols)
		default:
			g.bid(id, &r, cols)
		}
		n++
	}
	return n
}

func (g *Generator) person(id int64, r *rng, cols []*coldata.Vec) {
	name := g.names[r.next()%uint64(len(g.names))]
	email, card := g.emails[r.next()%uint64(len(g.emails))], g.cards[r.next()%uint64(len(g.cards))]
	city, state := cities[r.next()%uint64(len(cities))], states[r.next()%uint64(len(states))]
	cols[0].AppendInt(lastPerson(id) + firstPersonID)
	cols[1].AppendString(name)
	cols[2].AppendString(email)
	cols[3].AppendString(card)
	cols[4].AppendString(city)
	cols[5].AppendString(state)
	cols[6].AppendInt(g.Time(id))
	cols[7].AppendString(g.extra(r, 8+len(name)+len(email)+len(card)+len(city)+len(state)+8, personBytes))
}

func (g *Generator) auction(id int64, r *rng, cols []*coldata.Vec) {
	initial := price(r)
	reserve := initial + price(r)
	at := g.Time(id)
	// Expires within twice the event time 100 more auctions take.
	span := int64(float64(inFlight*proportion/auctionCount) * g.interval)
	expires := at + 1000 + int64(r.next()%uint64(2*span+1))
	seller := randomPerson(id, r)
	if r.next()%4 != 0 {
		seller = lastPerson(id) / hotRatio * hotRatio
	}
	item, desc := g.extra(r, 0, 20), g.extra(r, 0, 100)
	cols[0].AppendInt(lastAuction(id) + firstAuction)
	cols[1].AppendString(item)
	cols[2].AppendString(desc)
	cols[3].AppendInt(initial)
	cols[4].AppendInt(reserve)
	cols[5].AppendInt(at)
	cols[6].AppendInt(expires)
	cols[7].AppendInt(seller + firstPersonID)
	cols[8].AppendInt(firstCategory + int64(r.next()%numCategories))
	cols[9].AppendString(g.extra(r, len(item)+len(desc)+8*6, auctionBytes))
}

func (g *Generator) bid(id int64, r *rng, cols []*coldata.Vec) {
	auction := randomAuction(id, r)
	if r.next()%2 == 0 {
		auction = lastAuction(id) / hotRatio * hotRatio
	}
	bidder := randomPerson(id, r)
	if r.next()%4 != 0 {
		bidder = lastPerson(id)/hotRatio*hotRatio + 1
	}
	p := price(r)
	var channel, url string
	if c := r.next(); c%2 == 0 {
		channel, url = brands[(c>>1)%uint64(len(brands))], g.urls[(c>>8)%numChannels]
	} else {
		ch := (c >> 8) % numChannels
		channel, url = g.channels[ch], g.urls[ch]
	}
	cols[0].AppendInt(auction + firstAuction)
	cols[1].AppendInt(bidder + firstPersonID)
	cols[2].AppendInt(p)
	cols[3].AppendString(channel)
	cols[4].AppendString(url)
	cols[5].AppendInt(g.Time(id))
	cols[6].AppendString(g.extra(r, 8*4+len(channel)+len(url), bidBytes))
}

// rng is splitmix64: a few instructions per draw, seeded per event.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0x9E3779B97F4A7C15
	z := r.s
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// float is uniform in [0, 1).
func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// word is n random lowercase letters.
func (r *rng) word(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(r.next()%26)
	}
	return string(b)
}
