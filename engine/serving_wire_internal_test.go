package engine

import (
	"context"
	"encoding/binary"
	"log/slog"
	"net"
	"testing"

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
	e, _ := testEngine(tb)
	srv := pgwire.NewServer(e, pgwire.WithLogger(slog.New(slog.DiscardHandler)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	tb.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	ctx := context.Background()
	c, err := pgx.Connect(ctx, "postgres://sluice@"+ln.Addr().String()+"/sluice?sslmode=disable")
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
		if _, err := conn.Write(msgs[i%keys]); err != nil {
			tb.Fatal(err)
		}
		rows := 0
		// Read whole messages until ReadyForQuery, which ends the answer.
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
				tb.Fatalf("query %d failed: %q", i, buf[:size])
			case 'D':
				rows++
			case 'Z':
				if rows != 1 {
					tb.Fatalf("query %d returned %d rows, want 1", i, rows)
				}
				if have != size {
					tb.Fatalf("%d bytes past ReadyForQuery", have-size)
				}
				return
			}
			have = copy(buf, buf[size:have])
		}
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
// settings func once.
func TestWirePointLookupAllocs(t *testing.T) {
	query := wirePointLookup(t)
	i := 0
	if n := testing.AllocsPerRun(2000, func() { query(i); i++ }); n > 40 {
		t.Errorf("a point lookup allocates %.0f times, want at most 40", n)
	}
}
