package engine_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/connector/datagen"
	"github.com/sluice-db/sluice/server"
	"github.com/sluice-db/sluice/types"
)

const clicksStream = `CREATE STREAM clicks (
	event_id bigint, user_id bigint, session_id bigint, event_type text, page text,
	product_id bigint, price numeric(10,2), ts timestamptz
) WITH (connector = 'datagen', generator = 'clicks', rate = '2000', seed = '7', events = '6000')`

const perTypeQuery = `SELECT event_type, count(*) AS n, sum(price) AS revenue, count(DISTINCT user_id) AS users,
	sum(event_id) AS ids FROM clicks GROUP BY event_type`

// rowsString is rowsText as one string, a row per line.
func rowsString(t *testing.T, conn *pgx.Conn, sql string) string {
	t.Helper()
	return strings.Join(rowsText(t, conn, sql), "\n")
}

// A datagen stream with events = N holds exactly the generator's first N
// events, across a restart of the engine in the middle; a view over it
// equals its query in batch.
func TestDatagenExactlyOnceAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, dir)
	conn := connect(t, srv)
	mustExec(t, conn, clicksStream)
	mustExec(t, conn, "CREATE MATERIALIZED VIEW per_type AS "+perTypeQuery)
	deadline := time.Now().Add(30 * time.Second)
	for queryInt(t, conn, "SELECT count(*) FROM clicks") < 1000 {
		if time.Now().After(deadline) {
			t.Fatal("the generator did not deliver 1000 events in 30 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = conn.Close(context.Background())
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}

	srv = startServer(t, dir)
	conn = connect(t, srv)
	eventually(t, conn, "SELECT count(*) FROM clicks", 6000)
	if err := srv.Engine().SyncViews(context.Background()); err != nil {
		t.Fatal(err)
	}
	const show = "SELECT event_type, n, revenue::text, users, ids::text FROM "
	view := rowsString(t, conn, show+"per_type ORDER BY event_type")
	batch := rowsString(t, conn, show+"("+perTypeQuery+") q ORDER BY event_type")
	if view != batch {
		t.Fatalf("view:\n%s\nbatch:\n%s", view, batch)
	}

	// The stream holds event ids 1..6000 once each, with the values the
	// generator draws for them: nothing skipped or repeated at the restart.
	opts, err := datagen.ParseOptions(map[string]string{"generator": "clicks", "rate": "2000", "seed": "7"})
	if err != nil {
		t.Fatal(err)
	}
	cols := opts.Generator.Columns()
	layout, err := opts.Generator.Layout(cols[:2]) // event_id, user_id
	if err != nil {
		t.Fatal(err)
	}
	ch := coldata.NewChunk([]*types.T{types.Int8, types.Int8}, 6000)
	datagen.NewEvents(opts, layout).Append(ch, 0, 6000, 0)
	var sumUsers, weighted int64
	for i := range ch.Len {
		sumUsers += ch.Cols[1].Ints[i]
		weighted += ch.Cols[0].Ints[i] % 97 * ch.Cols[1].Ints[i]
	}
	expectInts(t, conn, map[string]int64{
		"SELECT count(DISTINCT event_id) FROM clicks":                       6000,
		"SELECT min(event_id) FROM clicks":                                  1,
		"SELECT max(event_id) FROM clicks":                                  6000,
		"SELECT sum(user_id)::int8 FROM clicks":                             sumUsers,
		"SELECT sum(event_id % 97 * user_id)::int8 FROM clicks":             weighted,
		"SELECT count(*) FROM clicks WHERE price IS NULL":                   queryInt(t, conn, "SELECT count(*) FROM clicks WHERE product_id IS NULL"),
		"SELECT count(*) FROM clicks WHERE user_id NOT BETWEEN 1 AND 10000": 0,
	})
	// stream, topic, partition, position, high_watermark, lag, records, …
	if got, want := rowsString(t, conn, "SHOW SOURCES"), "clicks datagen:clicks 0 6000 6000 0"; !strings.HasPrefix(got, want) {
		t.Fatalf("SHOW SOURCES: %q, want %q…", got, want)
	}
}

// CREATE STREAM checks a datagen stream's options and that its columns are
// its generator's; the errors list what is valid.
func TestDatagenStreamErrors(t *testing.T) {
	srv := startServer(t, "")
	conn := connect(t, srv)
	for _, tc := range []struct{ sql, state, msg, hint string }{
		{"CREATE STREAM s (ts timestamptz) WITH (connector = 'datagen')", "22023", `needs the option "generator"`, "clicks, orders, rides"},
		{"CREATE STREAM s (ts timestamptz) WITH (connector = 'datagen', generator = 'bids')", "22023", `unknown generator "bids"`, "clicks, orders, rides"},
		{"CREATE STREAM s (ts timestamptz) WITH (connector = 'datagen', generator = 'rides', topic = 'x')", "22023", `unrecognized stream option "topic"`, "late_fraction"},
		{"CREATE STREAM s (ts timestamptz) WITH (connector = 'datagen', generator = 'rides', rate = 'fast')", "22023", `"rate"`, ""},
		{"CREATE STREAM s (ts timestamptz) WITH (connector = 'datagen', generator = 'rides', disorder = '1 month')", "22023", `"disorder"`, ""},
		{"CREATE STREAM s (ts timestamptz) WITH (connector = 'datagen', generator = 'rides', late_fraction = '2')", "22023", `"late_fraction"`, ""},
		{"CREATE STREAM s (ts timestamptz) WITH (connector = 'datagen', generator = 'rides', events = '0')", "22023", `"events"`, ""},
		{"CREATE STREAM s (city text, colour text) WITH (connector = 'datagen', generator = 'rides')", "42P16", `generator "rides" makes no column "colour"`,
			"ride_id bigint, driver_id text, city text, fare numeric(10,2), status text, ts timestamp with time zone"},
		{"CREATE STREAM s (fare float8) WITH (connector = 'datagen', generator = 'rides')", "42804", `column "fare" is of type double precision but generator "rides" makes numeric(10,2)`, "ride_id bigint"},
		{"CREATE STREAM s (price numeric(10,2) NOT NULL) WITH (connector = 'datagen', generator = 'clicks')", "42P16", `column "price" cannot be NOT NULL`, ""},
		{"CREATE STREAM s (city text PATH '$.c') WITH (connector = 'datagen', generator = 'rides')", "42P16", "PATH needs a connector", ""},
	} {
		_, err := conn.Exec(context.Background(), tc.sql)
		if err == nil {
			t.Errorf("%s: no error", tc.sql)
			continue
		}
		pe := pgErr(t, err)
		if pe.Code != tc.state || !strings.Contains(pe.Message, tc.msg) || !strings.Contains(pe.Hint, tc.hint) {
			t.Errorf("%s: %s %s (hint %q), want %s containing %q (hint %q)", tc.sql, pe.Code, pe.Message, pe.Hint, tc.state, tc.msg, tc.hint)
		}
	}
	if _, err := conn.Exec(context.Background(), "SELECT 1 FROM s"); err == nil {
		t.Error("a refused CREATE STREAM left its stream behind")
	}
}

// A stream may declare a subset of the generator's columns in any order,
// and add more with ALTER STREAM while it runs; DROP STREAM stops the
// generator and forgets its position, so a new stream of the name starts
// again at event 1.
func TestDatagenSubsetAlterAndDrop(t *testing.T) {
	srv := startServer(t, "")
	conn := connect(t, srv)
	const create = "CREATE STREAM rides (fare numeric, city text) WITH (connector = 'datagen', generator = 'rides', rate = 'max', events = '3000')"
	mustExec(t, conn, create)
	eventually(t, conn, "SELECT count(*) FROM rides", 3000)
	if n := queryInt(t, conn, "SELECT count(*) FROM rides WHERE city IN ('Paris', 'Berlin', 'Lisbon', 'Madrid', 'Rome', 'Amsterdam', 'Warsaw', 'Vienna') AND fare >= 0"); n != 3000 {
		t.Fatalf("%d rides with a known city and a fare, want 3000", n)
	}
	if _, err := conn.Exec(context.Background(), "ALTER STREAM rides ADD COLUMN colour text"); err == nil || pgErr(t, err).Code != "42P16" {
		t.Fatalf("ALTER STREAM ADD COLUMN colour: %v, want 42P16", err)
	}
	mustExec(t, conn, "DROP STREAM rides")
	if got := rowsString(t, conn, "SHOW SOURCES"); got != "" {
		t.Fatalf("SHOW SOURCES after DROP: %q", got)
	}
	mustExec(t, conn, strings.Replace(create, "3000", "10", 1))
	eventually(t, conn, "SELECT count(*) FROM rides", 10)
	mustExec(t, conn, "ALTER STREAM rides ADD COLUMN ride_id bigint")
	mustExec(t, conn, "DROP STREAM rides")
	mustExec(t, conn, "CREATE STREAM rides (ride_id bigint, status text) WITH (connector = 'datagen', generator = 'rides', rate = 'max', events = '10')")
	eventually(t, conn, "SELECT max(ride_id) FROM rides", 10)
	eventually(t, conn, "SELECT count(*) FROM rides", 10)
}

// BenchmarkDatagenStream measures generated streams at rate = 'max':
// events generated and committed to the stream, alone and with a view over
// it (then timed until the view has taken every event).
func BenchmarkDatagenStream(b *testing.B) {
	const events = 1_000_000
	for _, bc := range []struct{ name, generator, columns, view string }{
		{"clicks", "clicks", "event_id bigint, user_id bigint, session_id bigint, event_type text, page text, product_id bigint, price numeric(10,2), ts timestamptz", ""},
		{"clicks+view", "clicks", "event_id bigint, user_id bigint, event_type text, price numeric(10,2), ts timestamptz",
			"SELECT event_type, count(*) AS n, sum(price) AS revenue FROM s%d GROUP BY event_type"},
		{"nexmark_bid", "nexmark_bid", "auction bigint, bidder bigint, price bigint, channel text, url text, date_time timestamptz, extra text", ""},
	} {
		b.Run(bc.name, func(b *testing.B) {
			srv, err := server.Start(context.Background(), server.Config{PGAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", DataDir: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			ctx := context.Background()
			conn, err := pgx.Connect(ctx, "postgres://sluice@"+srv.PGAddr()+"/sluice?sslmode=disable")
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close(ctx)
			for i := 0; i < b.N; i++ {
				start := time.Now()
				if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE STREAM s%d (%s) WITH (connector = 'datagen', generator = '%s', rate = 'max', events = '%d')",
					i, bc.columns, bc.generator, events)); err != nil {
					b.Fatal(err)
				}
				count := fmt.Sprintf("SELECT count(*) FROM s%d", i)
				if bc.view != "" {
					if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE MATERIALIZED VIEW v%d AS "+bc.view, i, i)); err != nil {
						b.Fatal(err)
					}
					count = fmt.Sprintf("SELECT sum(n)::int8 FROM v%d", i)
				}
				var n *int64
				for n == nil || *n < events {
					time.Sleep(5 * time.Millisecond)
					if err := conn.QueryRow(ctx, count).Scan(&n); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(events/time.Since(start).Seconds(), "rows/s")
			}
		})
	}
}

// Three Nexmark streams of one seed are one run: bids join the auctions
// they name, and a view of the join equals its query in batch.
func TestDatagenNexmark(t *testing.T) {
	srv := startServer(t, "")
	conn := connect(t, srv)
	for kind, cols := range map[string]string{
		"person":  "id bigint, name text, city text, state text, date_time timestamptz",
		"auction": "id bigint, seller bigint, category bigint, date_time timestamptz, expires timestamptz",
		"bid":     "auction bigint, bidder bigint, price bigint, channel text, date_time timestamptz",
	} {
		events := map[string]string{"person": "200", "auction": "600", "bid": "9200"}[kind]
		mustExec(t, conn, fmt.Sprintf(`CREATE STREAM %s (%s) WITH (connector = 'datagen', generator = 'nexmark_%s',
			rate = 'max', seed = '3', events = '%s', disorder = '0 seconds', late_fraction = '0')`, kind, cols, kind, events))
	}
	const q = `SELECT a.category, count(*) AS bids, max(b.price) AS top FROM auction a JOIN bid b ON a.id = b.auction GROUP BY a.category`
	mustExec(t, conn, "CREATE MATERIALIZED VIEW per_category AS "+q)
	eventually(t, conn, "SELECT count(*) FROM bid", 9200)
	eventually(t, conn, "SELECT count(*) FROM auction", 600)
	eventually(t, conn, "SELECT count(*) FROM person", 200)
	if err := srv.Engine().SyncViews(context.Background()); err != nil {
		t.Fatal(err)
	}
	view, batch := rowsString(t, conn, "SELECT * FROM per_category ORDER BY category"), rowsString(t, conn, q+" ORDER BY category")
	if view != batch || strings.Count(view, "\n") != 4 {
		t.Fatalf("view:\n%s\nbatch:\n%s", view, batch)
	}
	// Only bids on the few auctions ahead of the newest one join nothing.
	if n := queryInt(t, conn, "SELECT count(*) FROM bid WHERE auction NOT IN (SELECT id FROM auction)"); n > 9200/20 {
		t.Fatalf("%d of 9200 bids name no auction", n)
	}
}
