package datagen

import (
	"fmt"

	"github.com/cockroachdb/apd/v3"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// The id ranges the generators draw from. Users covers the clicks and orders
// generators' user_id (1..Users), so a users table filled with those ids
// joins every event; Products and Drivers likewise.
const (
	Users    = 10000
	Products = 500
	Drivers  = 2000
)

// Session behaviour of the clicks and orders users: a user is active in
// bursts ("sessions") of about eventsPerSession events, meanGap apart on
// average (exponentially distributed, so some gaps are minutes), then is
// idle until another session picks the same user.
const (
	eventsPerSession = 20
	meanGapSeconds   = 15
)

// Generator is one kind of generated event: its columns and how to draw
// them.
type Generator struct {
	name    string
	columns []column
	// draw, if set, fills the block's value arrays for its events.
	draw func(b *block)
	// share, if set, says which events of a sequence shared with other
	// generators are this one's (Nexmark's people, auctions and bids).
	share *share
}

// share selects the events whose number modulo cycle is in [lo, lo+width):
// row k of the stream is the share's k-th event.
type share struct {
	cycle, lo, width int64
}

// event returns the sequence number of row k.
func (g *Generator) event(k int64) int64 { return g.share.event(k) }

// rowsBefore returns how many rows have sequence numbers below e.
func (g *Generator) rowsBefore(e int64) int64 { return g.share.rowsBefore(e) }

// event and rowsBefore of a nil share: every event is the generator's.
func (s *share) event(k int64) int64 {
	if s == nil {
		return k
	}
	return k/s.width*s.cycle + s.lo + k%s.width
}

func (s *share) rowsBefore(e int64) int64 {
	if s == nil {
		return e
	}
	return e/s.cycle*s.width + min(max(e%s.cycle-s.lo, 0), s.width)
}

type column struct {
	name     string
	typ      *types.T
	nullable bool
	// emit appends the block's values of the column to v.
	emit func(b *block, v *coldata.Vec)
}

// Names lists the generators.
func Names() []string {
	return []string{"clicks", "orders", "rides", "nexmark_person", "nexmark_auction", "nexmark_bid"}
}

// Lookup returns the generator of that name, or nil.
func Lookup(name string) *Generator {
	switch name {
	case "clicks":
		return clicksGenerator()
	case "orders":
		return ordersGenerator()
	case "rides":
		return ridesGenerator()
	case "nexmark_person":
		return nexmarkPersonGenerator()
	case "nexmark_auction":
		return nexmarkAuctionGenerator()
	case "nexmark_bid":
		return nexmarkBidGenerator()
	}
	return nil
}

// Name returns the generator's name.
func (g *Generator) Name() string { return g.name }

// StreamColumn is a column a stream declares.
type StreamColumn struct {
	Name    string
	Type    *types.T
	NotNull bool
}

// Layout maps a stream's declared columns to the generator's: the stream
// may declare any of the generator's columns, in any order, each of the
// generator's type (an unconstrained numeric also takes a numeric(p,s)
// one). Layout[i] is the generator column stream column i gets.
func (g *Generator) Layout(cols []StreamColumn) ([]int, error) {
	layout := make([]int, len(cols))
	for i, c := range cols {
		j := -1
		for k, gc := range g.columns {
			if gc.name == c.Name {
				j = k
			}
		}
		if j < 0 {
			return nil, errNotGenerated(g, c.Name)
		}
		gc := g.columns[j]
		numericWider := c.Type.Oid == types.OidNumeric && gc.typ.Oid == types.OidNumeric && c.Type.Width == 0
		if !c.Type.Equal(gc.typ) && !numericWider {
			return nil, errColumnType(g, c.Name, c.Type.String(), gc.typ.String())
		}
		if c.NotNull && gc.nullable {
			return nil, errNullable(g, c.Name)
		}
		layout[i] = j
	}
	return layout, nil
}

// block is the values of a run of consecutive rows, one array per
// quantity, filled by a generator's draw and read by its columns' emit.
type block struct {
	seed     uint64
	n        int
	sessions sessions
	rate     float64

	// event is each row's sequence number: first+i unless the generator
	// takes a share of a sequence.
	event                                   []int64
	seq, actor, session, product, cents, ts []int64
	kind, label                             []int
}

func (b *block) reset(n int) {
	b.n = n
	for _, a := range []*[]int64{&b.event, &b.seq, &b.actor, &b.session, &b.product, &b.cents, &b.ts} {
		*a = coldata.Reserve((*a)[:0], n)[:n]
	}
	b.kind = coldata.Reserve(b.kind[:0], n)[:n]
	b.label = coldata.Reserve(b.label[:0], n)[:n]
}

// drawsPerEvent is how many random draws each event may take: draw j of
// event n is the (n*drawsPerEvent+j)-th value of one splitmix64 sequence,
// so any event is reached without the ones before it.
const drawsPerEvent = 16

const golden = 0x9e3779b97f4a7c15

func mix(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// rand is draw j of event n.
func (b *block) rand(n int64, j uint64) uint64 {
	return mix(b.seed + (uint64(n)*drawsPerEvent+j+1)*golden)
}

// unit maps a draw to [0, 1).
func unit(r uint64) float64 { return float64(r>>11) * (1.0 / (1 << 53)) }

// sessions assigns events to users in bursts. There are slots concurrent
// sessions; each event picks a slot at random, and a slot starts a new
// session (with a new user) every length events of the whole stream, the
// slots staggered so sessions end one at a time. A user's events in a
// session are thus slots/rate seconds apart on average.
type sessions struct {
	slots, length int64
}

func newSessions(rate float64) sessions {
	if rate == 0 {
		rate = DefaultRate
	}
	slots := min(max(int64(rate*meanGapSeconds), 1), Users/4)
	return sessions{slots: slots, length: slots * eventsPerSession}
}

// of returns the session and user of event n, given a random draw.
func (s sessions) of(seed uint64, n int64, r uint64) (session, user int64) {
	slot := int64(r % uint64(s.slots))
	k := (n + slot*eventsPerSession) / s.length
	session = k*s.slots + slot + 1
	return session, int64(mix(seed^uint64(session)*golden)%Users) + 1
}

// favourite is the product a session mostly looks at.
func favourite(seed uint64, session int64) int64 {
	return int64(mix(seed+uint64(session)*0xd1b54a32d192ed03)%Products) + 1
}

// priceCents is product p's price: the same in every stream and seed, so
// clicks and orders agree.
func priceCents(p int64) int64 { return 500 + int64(mix(uint64(p)*golden)%19500) }

// moneyType is numeric(10,2).
func moneyType() *types.T {
	return &types.T{Family: types.NumericFamily, Oid: types.OidNumeric, Width: 10, Scale: 2}
}

func clicksGenerator() *Generator {
	kinds := []string{"page_view", "add_to_cart", "checkout", "purchase"}
	const (
		pageHome = iota
		pageSearch
		pageCheckout
		pageComplete
		pageProduct // pageProduct + p - 1 is product p's page
	)
	pages := []string{"/", "/search", "/checkout", "/checkout/complete"}
	for p := 1; p <= Products; p++ {
		pages = append(pages, fmt.Sprintf("/product/%d", p))
	}
	g := &Generator{name: "clicks", draw: func(b *block) {
		for i := 0; i < b.n; i++ {
			n := b.event[i]
			p := b.shopper(i, n)
			kind, page := 0, pageProduct+int(p)-1
			switch k := b.rand(n, 5) % 100; {
			case k < 70:
				switch b.rand(n, 6) % 10 {
				case 0, 1:
					page, p = pageHome, 0
				case 2:
					page, p = pageSearch, 0
				}
			case k < 87:
				kind = 1
			case k < 95:
				kind, page = 2, pageCheckout
			default:
				kind, page = 3, pageComplete
			}
			b.kind[i], b.label[i], b.product[i] = kind, page, p
			b.cents[i] = 0
			if p != 0 {
				b.cents[i] = priceCents(p)
			}
		}
	}}
	g.columns = []column{
		intColumn("event_id", func(b *block) []int64 { return b.seq }),
		intColumn("user_id", func(b *block) []int64 { return b.actor }),
		intColumn("session_id", func(b *block) []int64 { return b.session }),
		textColumn("event_type", kinds, func(b *block) []int { return b.kind }),
		textColumn("page", pages, func(b *block) []int { return b.label }),
		{name: "product_id", typ: types.Int8, nullable: true, emit: emitNullableInts(func(b *block) []int64 { return b.product })},
		{name: "price", typ: moneyType(), nullable: true, emit: emitMoney(true)},
		tsColumn("ts"),
	}
	return g
}

// shopper draws row i (event n) of a shop's stream: its event id, the
// session and user it belongs to, and the product it is about (half the
// time the session's favourite).
func (b *block) shopper(i int, n int64) (product int64) {
	b.seq[i] = n + 1
	b.session[i], b.actor[i] = b.sessions.of(b.seed, n, b.rand(n, 2))
	product = favourite(b.seed, b.session[i])
	if b.rand(n, 3)&1 == 0 {
		product = int64(b.rand(n, 4)%Products) + 1
	}
	return product
}

func ordersGenerator() *Generator {
	currencies := []string{"EUR", "USD", "GBP"}
	g := &Generator{name: "orders", draw: func(b *block) {
		for i := 0; i < b.n; i++ {
			n := b.event[i]
			p := b.shopper(i, n)
			b.product[i] = p
			b.cents[i] = priceCents(p) * int64(1+b.rand(n, 5)%3)
			switch c := b.rand(n, 6) % 100; {
			case c < 60:
				b.kind[i] = 0
			case c < 90:
				b.kind[i] = 1
			default:
				b.kind[i] = 2
			}
		}
	}}
	g.columns = []column{
		intColumn("order_id", func(b *block) []int64 { return b.seq }),
		intColumn("user_id", func(b *block) []int64 { return b.actor }),
		intColumn("product_id", func(b *block) []int64 { return b.product }),
		{name: "amount", typ: moneyType(), emit: emitMoney(false)},
		textColumn("currency", currencies, func(b *block) []int { return b.kind }),
		tsColumn("ts"),
	}
	return g
}

func ridesGenerator() *Generator {
	statuses := []string{"completed", "cancelled", "no_show"}
	// A driver always drives in one city: driver d (from 0) in cities[d % len].
	cities := []string{"Paris", "Berlin", "Lisbon", "Madrid", "Rome", "Amsterdam", "Warsaw", "Vienna"}
	drivers := make([]string, Drivers)
	for d := range drivers {
		drivers[d] = fmt.Sprintf("d%04d", d+1)
	}
	g := &Generator{name: "rides", draw: func(b *block) {
		for i := 0; i < b.n; i++ {
			n := b.event[i]
			b.seq[i] = n + 1
			d := int(b.rand(n, 2) % Drivers)
			city := d % len(cities)
			b.label[i] = d
			switch s := b.rand(n, 3) % 100; {
			case s < 85:
				b.kind[i] = 0
				b.cents[i] = 600 + int64(city)*150 + int64(b.rand(n, 4)%4000)
			case s < 95:
				b.kind[i], b.cents[i] = 1, 500
			default:
				b.kind[i], b.cents[i] = 2, 0
			}
		}
	}}
	g.columns = []column{
		intColumn("ride_id", func(b *block) []int64 { return b.seq }),
		textColumn("driver_id", drivers, func(b *block) []int { return b.label }),
		{name: "city", typ: types.Text, emit: func(b *block, v *coldata.Vec) {
			for _, d := range b.label[:b.n] {
				v.AppendString(cities[d%len(cities)])
			}
		}},
		{name: "fare", typ: moneyType(), emit: emitMoney(false)},
		textColumn("status", statuses, func(b *block) []int { return b.kind }),
		tsColumn("ts"),
	}
	return g
}

func intColumn(name string, values func(b *block) []int64) column {
	return column{name: name, typ: types.Int8, emit: func(b *block, v *coldata.Vec) {
		v.Ints = append(v.Ints, values(b)[:b.n]...)
		noteValid(v, b.n)
	}}
}

func tsColumn(name string) column {
	return column{name: name, typ: types.TimestampTZ, emit: func(b *block, v *coldata.Vec) {
		v.Ints = append(v.Ints, b.ts[:b.n]...)
		noteValid(v, b.n)
	}}
}

// textColumn is a column whose values are names chosen by index.
func textColumn(name string, names []string, index func(b *block) []int) column {
	return column{name: name, typ: types.Text, emit: func(b *block, v *coldata.Vec) {
		for _, k := range index(b)[:b.n] {
			v.AppendString(names[k])
		}
	}}
}

// emitNullableInts appends the values, 0 as NULL.
func emitNullableInts(values func(b *block) []int64) func(b *block, v *coldata.Vec) {
	return func(b *block, v *coldata.Vec) {
		for _, x := range values(b)[:b.n] {
			if x == 0 {
				v.Append(nil)
				continue
			}
			v.AppendInt(x)
		}
	}
}

// emitMoney appends the cents as numeric(10,2); with nullIfNoProduct an
// event without a product has no price.
func emitMoney(nullIfNoProduct bool) func(b *block, v *coldata.Vec) {
	return func(b *block, v *coldata.Vec) {
		for i, c := range b.cents[:b.n] {
			if nullIfNoProduct && b.product[i] == 0 {
				v.Append(nil)
				continue
			}
			v.Decs = append(v.Decs, apd.Decimal{})
			v.Decs[len(v.Decs)-1].SetFinite(c, -2)
			v.NoteValid()
		}
	}
}

func noteValid(v *coldata.Vec, n int) {
	if v.Nulls != nil {
		v.Nulls = append(v.Nulls, make([]bool, n)...)
	}
}

// Columns lists the generator's columns; NotNull says the generator never
// leaves the column NULL.
func (g *Generator) Columns() []StreamColumn {
	cols := make([]StreamColumn, len(g.columns))
	for i, c := range g.columns {
		cols[i] = StreamColumn{Name: c.name, Type: c.typ, NotNull: !c.nullable}
	}
	return cols
}
