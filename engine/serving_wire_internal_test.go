package engine

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluice-db/sluice/pgwire"
)

// wirePointLookup serves a view of 1000 auctions over pgwire and returns
// the function that sends query i, a panel's prepared point lookup
// (Bind, Execute, Sync), and reads its answer up to ReadyForQuery. The
// client writes pre-encoded messages and reads into one buffer, allocating
// nothing: what a query allocates is the server's.
func wirePointLookup(tb testing.TB) func(i int) {
	_, url := wireServer(tb)
	ctx := context.Background()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		tb.Fatal(err)
	}
	for _, sql := range []string{
		"CREATE TABLE bid (auction bigint, price bigint)",
		"INSERT INTO bid SELECT g % 1000, g FROM generate_series(1, 10000) AS g",
		"CREATE MATERIALIZED VIEW auction_bids AS SELECT auction, count(*) AS bids, max(price) AS top_price FROM bid GROUP BY auction",
	} {
		if _, err := c.Exec(ctx, sql); err != nil {
			tb.Fatalf("%s: %v", sql, err)
		}
	}
	if _, err := c.Prepare(ctx, "lookup", "SELECT bids, top_price FROM auction_bids WHERE auction = $1"); err != nil {
		tb.Fatal(err)
	}
	hc, err := c.PgConn().Hijack()
	if err != nil {
		tb.Fatal(err)
	}
	conn := hc.Conn
	tb.Cleanup(func() { _ = conn.Close() })
	const keys = 64
	msgs := make([][]byte, keys)
	for k := range msgs {
		key := binary.BigEndian.AppendUint64(nil, uint64(k*13%1000))
		var b []byte
		for _, m := range []pgproto3.FrontendMessage{
			&pgproto3.Bind{PreparedStatement: "lookup", ParameterFormatCodes: []int16{1}, Parameters: [][]byte{key}, ResultFormatCodes: []int16{1}},
			&pgproto3.Execute{}, &pgproto3.Sync{},
		} {
			if b, err = m.Encode(b); err != nil {
				tb.Fatal(err)
			}
		}
		msgs[k] = b
	}
	buf := make([]byte, 4096)
	return func(i int) {
		if n := wireAnswer(tb, conn, buf, "point lookup", msgs[i%keys]); n != 1 {
			tb.Fatalf("query %d returned %d rows, want 1", i, n)
		}
	}
}

// wireServer serves a test engine over pgwire on a local port until the
// test ends and returns it and the URL to connect to it.
func wireServer(tb testing.TB) (*Engine, string) {
	e, _ := testEngine(tb)
	srv := pgwire.NewServer(e, pgwire.WithLogger(slog.New(slog.DiscardHandler)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	tb.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	return e, "postgres://sluice@" + ln.Addr().String() + "/sluice?sslmode=disable"
}

// wireAnswer writes msg to conn and reads whole messages into buf up to
// the ReadyForQuery that ends the answer; it returns the DataRows read.
func wireAnswer(tb testing.TB, conn net.Conn, buf []byte, what string, msg []byte) int {
	if _, err := conn.Write(msg); err != nil {
		tb.Fatal(err)
	}
	rows := 0
	for have := 0; ; {
		for have < 5 || have < 1+int(binary.BigEndian.Uint32(buf[1:5])) {
			n, err := conn.Read(buf[have:])
			if err != nil {
				tb.Fatal(err)
			}
			have += n
		}
		typ, size := buf[0], 1+int(binary.BigEndian.Uint32(buf[1:5]))
		switch typ {
		case 'E':
			tb.Fatalf("%s failed: %q", what, buf[:size])
		case 'D':
			rows++
		case 'Z':
			if have != size {
				tb.Fatalf("%s: %d bytes past ReadyForQuery", what, have-size)
			}
			return rows
		}
		have = copy(buf, buf[size:have])
	}
}

// BenchmarkWirePointLookup is a panel's prepared point lookup on a view
// over pgwire, end to end.
func BenchmarkWirePointLookup(b *testing.B) {
	query := wirePointLookup(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		query(i)
		i++
	}
}

// TestWirePointLookupAllocs bounds the allocations of a prepared point
// lookup on a view over pgwire (the server's: the client allocates
// nothing): 56 when its key was evaluated as a vector of one row and the
// row came back as Datums, 49 since, 47 since its execution context is
// one allocation (engine.execState), 40 since pgwire frames CommandComplete
// and ReadyForQuery itself, reuses its result writer and gives Bind and
// Execute one query context until Sync, and the session makes its
// settings func once, 38 since the query context is kept until one is
// cancelled and the tag is made without fmt.Sprintf.
func TestWirePointLookupAllocs(t *testing.T) {
	query := wirePointLookup(t)
	i := 0
	if n := testing.AllocsPerRun(2000, func() { query(i); i++ }); n > 38 {
		t.Errorf("a point lookup allocates %.0f times, want at most 38", n)
	}
}

// The dashboard of `sluice bench serve` (bench/serve.go), its views and
// its panel's queries, over a stream filled once with two minutes of bids
// (what the views hold in a run of `sluice bench serve`).
var (
	panelSetup = []string{
		"CREATE STREAM bid (auction bigint, channel text, price bigint, date_time timestamptz, WATERMARK FOR date_time AS date_time)",
		`INSERT INTO bid SELECT g % 1000, (ARRAY['Google', 'Facebook', 'Baidu', 'Apple', 'c1', 'c2'])[g % 6 + 1], g % 997,
			'2026-12-04 03:00:00+00'::timestamptz + g * INTERVAL '12 milliseconds' FROM generate_series(0, 9999) AS g`,
		`CREATE MATERIALIZED VIEW bids_per_minute AS
			SELECT CASE WHEN channel IN ('Google', 'Facebook', 'Baidu', 'Apple') THEN channel ELSE 'other' END AS channel,
				window_start, window_end, count(*) AS bids, sum(price) AS volume, max(price) AS top_price
			FROM TUMBLE(bid, date_time, INTERVAL '1 minute') GROUP BY 1, window_start, window_end`,
		"CREATE MATERIALIZED VIEW auction_bids AS SELECT auction, count(*) AS bids, max(price) AS top_price FROM bid GROUP BY auction",
		"CREATE MATERIALIZED VIEW top_auctions AS SELECT auction, count(*) AS bids FROM bid GROUP BY auction ORDER BY bids DESC, auction LIMIT 10",
	}
	panelTop   = "SELECT auction, bids FROM top_auctions ORDER BY bids DESC, auction LIMIT 10"
	panelRange = `SELECT window_start AS "time", channel, bids, volume FROM bids_per_minute
		WHERE window_start BETWEEN '%s'::timestamptz AND '%s'::timestamptz ORDER BY 1, 2`
	panelAuction = "SELECT bids, top_price FROM auction_bids WHERE auction = $1"
	panelMinute  = "SELECT bids, top_price FROM bids_per_minute WHERE channel = $1 AND window_start = $2"
)

// wirePanel serves the dashboard over pgwire to conns connections and
// returns the function that sends refresh i of a panel as `sluice bench
// serve`'s client sends it, on connection i % conns: the top-10 and the
// one-hour range over the simple protocol (the range's literals those of
// second i / conns, so that each text is sent once by every connection, as
// by a thousand panels showing the same range), two prepared auction
// lookups and a prepared minute lookup (Bind, Execute, Sync), each read up
// to ReadyForQuery. The client writes pre-encoded messages and reads into
// one buffer, allocating nothing: what a refresh allocates is the server's.
func wirePanel(tb testing.TB, conns int) func(i int) {
	e, url := wireServer(tb)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		tb.Fatal(err)
	}
	defer admin.Close(ctx)
	for _, sql := range panelSetup {
		if _, err := admin.Exec(ctx, sql); err != nil {
			tb.Fatalf("%s: %v", sql, err)
		}
	}
	if err := e.SyncViews(ctx); err != nil {
		tb.Fatal(err)
	}
	socks := make([]net.Conn, conns)
	// names are the statements' names, as pgx names a statement prepared
	// under its text.
	var names [2]string
	for i := range socks {
		c, err := pgx.Connect(ctx, url)
		if err != nil {
			tb.Fatal(err)
		}
		for j, q := range []string{panelAuction, panelMinute} {
			sd, err := c.Prepare(ctx, q, q)
			if err != nil {
				tb.Fatal(err)
			}
			names[j] = sd.Name
		}
		hc, err := c.PgConn().Hijack()
		if err != nil {
			tb.Fatal(err)
		}
		socks[i] = hc.Conn
		tb.Cleanup(func() { _ = hc.Conn.Close() })
	}
	encode := func(msgs ...pgproto3.FrontendMessage) []byte {
		var b []byte
		for _, m := range msgs {
			if b, err = m.Encode(b); err != nil {
				tb.Fatal(err)
			}
		}
		return b
	}
	t0 := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	const seconds = 512
	ranges := make([][]byte, seconds)
	for s := range ranges {
		to := t0.Add(30*time.Minute + time.Duration(s)*time.Second)
		sql := fmt.Sprintf(panelRange, to.Add(-time.Hour).Format(time.RFC3339), to.Format(time.RFC3339))
		ranges[s] = encode(&pgproto3.Query{String: sql})
	}
	top := encode(&pgproto3.Query{String: panelTop})
	const keys = 64
	lookups := make([][]byte, keys)
	for k := range lookups {
		key := binary.BigEndian.AppendUint64(nil, uint64(k*13%1000))
		lookups[k] = encode(&pgproto3.Bind{PreparedStatement: names[0], ParameterFormatCodes: []int16{1}, Parameters: [][]byte{key}, ResultFormatCodes: []int16{1}},
			&pgproto3.Execute{}, &pgproto3.Sync{})
	}
	// The minute lookups: every channel's first two minutes.
	var minutes [][]byte
	for m := range 2 {
		// Microseconds since 2000-01-01, timestamptz's binary form.
		at := binary.BigEndian.AppendUint64(nil, uint64(t0.Add(time.Duration(m)*time.Minute).Sub(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).Microseconds()))
		for _, ch := range []string{"Google", "Facebook", "Baidu", "Apple", "other"} {
			minutes = append(minutes, encode(&pgproto3.Bind{PreparedStatement: names[1], ParameterFormatCodes: []int16{0, 1},
				Parameters: [][]byte{[]byte(ch), at}, ResultFormatCodes: []int16{1}}, &pgproto3.Execute{}, &pgproto3.Sync{}))
		}
	}
	buf := make([]byte, 64<<10)
	send := func(conn net.Conn, what string, msg []byte) int { return wireAnswer(tb, conn, buf, what, msg) }
	return func(i int) {
		conn := socks[i%conns]
		if n := send(conn, "top-10", top); n != 10 {
			tb.Fatalf("the top-10 returned %d rows", n)
		}
		if n := send(conn, "range", ranges[i/conns%seconds]); n != 10 {
			tb.Fatalf("the range returned %d rows, want the stream's 2 minutes of 5 channels", n)
		}
		for j := range 2 {
			if n := send(conn, "auction lookup", lookups[(2*i+j)%keys]); n != 1 {
				tb.Fatalf("an auction lookup returned %d rows", n)
			}
		}
		if n := send(conn, "minute lookup", minutes[i%len(minutes)]); n != 1 {
			tb.Fatalf("a minute lookup returned %d rows", n)
		}
	}
}

// BenchmarkWirePanel is one refresh of a `sluice bench serve` panel (five
// queries) over pgwire, end to end, from 100 connections in turn. Besides
// the time it reports the process's CPU time per refresh (the server's
// and the client's, which is the same in every build): on a machine
// shared with other work it varies less than the time.
func BenchmarkWirePanel(b *testing.B) {
	refresh := wirePanel(b, 100)
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	i := 0
	for b.Loop() {
		refresh(i)
		i++
	}
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
}

// TestWirePanelAllocs bounds the allocations of a panel's refresh (five
// queries): 327 on main, 296-298 since the query context is kept,
// RowDescription is framed without pgproto3, timestamps are written
// without boxing, and the tag and readsClock allocate less.
func TestWirePanelAllocs(t *testing.T) {
	refresh := wirePanel(t, 100)
	i := 0
	if n := testing.AllocsPerRun(1000, func() { refresh(i); i++ }); n > 305 {
		t.Errorf("a panel's refresh allocates %.0f times, want at most 305", n)
	}
}

// cpuTime returns the user and system CPU time the process has taken.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
