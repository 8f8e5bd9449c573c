package engine_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-db/sluice/server"
)

// Windowed views combined with other views and tables (docs/event-time.md,
// "Windows over views"): rollups of EMIT ON WINDOW CLOSE views, EMIT
// CHANGES over them and under them, windows over a view that filters a
// stream, a stream enriched by a table then windowed (EMIT CHANGES), and
// windowed counts joined with a table.
const (
	// perTen counts clicks per user and 10-second window, closed.
	perTen = `CREATE MATERIALIZED VIEW per_ten AS
		SELECT user_id, window_start, window_end, count(*) AS n
		FROM TUMBLE(clicks, ts, INTERVAL '10 seconds')
		GROUP BY user_id, window_start, window_end EMIT ON WINDOW CLOSE`
	// perMinute rolls per_ten up by minute on its window_start: a minute
	// closes when the watermark reaches its end (per_ten's starts are on a
	// 10-second grid that the minutes' ends lie on).
	perMinute = `CREATE MATERIALIZED VIEW per_minute AS
		SELECT user_id, window_start, window_end, sum(n) AS n, count(*) AS tens
		FROM TUMBLE(per_ten, window_start, INTERVAL '1 minute')
		GROUP BY user_id, window_start, window_end EMIT ON WINDOW CLOSE`
	// perMinuteLive is the same rollup under EMIT CHANGES.
	perMinuteLive = `CREATE MATERIALIZED VIEW per_minute_live AS
		SELECT user_id, window_start, window_end, sum(n) AS n, count(*) AS tens
		FROM TUMBLE(per_ten, window_start, INTERVAL '1 minute')
		GROUP BY user_id, window_start, window_end`
	// tenLive and its closed rollup: EMIT ON WINDOW CLOSE over an EMIT
	// CHANGES windowed view.
	tenLive = `CREATE MATERIALIZED VIEW ten_live AS
		SELECT page, window_start, window_end, count(*) AS n
		FROM TUMBLE(clicks, ts, INTERVAL '10 seconds') GROUP BY page, window_start, window_end`
	pageMinute = `CREATE MATERIALIZED VIEW page_minute AS
		SELECT page, window_end, sum(n) AS n, max(n) AS peak
		FROM TUMBLE(ten_live, window_start, INTERVAL '1 minute')
		GROUP BY page, window_end EMIT ON WINDOW CLOSE`
	// A view that filters the stream keeps its event time.
	productClicks = `CREATE MATERIALIZED VIEW product_clicks AS
		SELECT user_id, ts AS at FROM clicks WHERE page LIKE '/p%'`
	productSessions = `CREATE MATERIALIZED VIEW product_sessions AS
		SELECT user_id, window_start, window_end, count(*) AS n
		FROM SESSION(product_clicks, at, INTERVAL '20 seconds', user_id)
		GROUP BY user_id, window_start, window_end EMIT ON WINDOW CLOSE`
	// Enrichment then window, EMIT CHANGES: a user's change retracts and
	// re-inserts its clicks' counts.
	enriched = `CREATE MATERIALIZED VIEW enriched AS
		SELECT u.country, window_start, window_end, count(*) AS n
		FROM TUMBLE(clicks, ts, INTERVAL '10 seconds') c JOIN users u ON c.user_id = u.user_id
		GROUP BY u.country, window_start, window_end`
	// Windowed counts then joined with the table, EMIT CHANGES.
	tenByCountry = `CREATE MATERIALIZED VIEW ten_by_country AS
		SELECT u.country, t.window_start, t.window_end, sum(t.n) AS n
		FROM per_ten t JOIN users u ON t.user_id = u.user_id
		GROUP BY u.country, t.window_start, t.window_end`

	// nestedQuery rolls 10-second windows up by minute in one query (the
	// inner GROUP BY is not EMIT ON WINDOW CLOSE: it retracts while open);
	// hopNested windows hop windows' ends, 30-second windows over ends on
	// a 5-second grid: each closes 5 s before the watermark reaches its
	// end (the hop windows ending by then are all closed).
	nestedQuery = `SELECT window_end, sum(n) AS n, count(*) AS tens
		FROM TUMBLE((SELECT window_start, count(*) AS n FROM TUMBLE(clicks, ts, INTERVAL '10 seconds')
			GROUP BY window_start, window_end), window_start, INTERVAL '1 minute')`
	hopNested = `SELECT window_end, sum(n) AS n
		FROM TUMBLE((SELECT window_end AS e, count(*) AS n FROM HOP(clicks, ts, INTERVAL '5 seconds', INTERVAL '15 seconds')
			GROUP BY window_end), e, INTERVAL '30 seconds')`

	// batchTen is per_ten's query in batch over the windows ending at or
	// before $1.
	batchTen = `SELECT user_id, window_start, window_end, count(*) AS n
		FROM TUMBLE(clicks, ts, INTERVAL '10 seconds')
		WHERE window_end <= $1 GROUP BY user_id, window_start, window_end`
)

func startRollups(t *testing.T, srv *server.Server) {
	t.Helper()
	conn := connect(t, srv)
	mustExec(t, conn, "CREATE STREAM clicks (user_id text, page text, ts timestamptz, "+testWatermark+")")
	mustExec(t, conn, "CREATE TABLE users (user_id text PRIMARY KEY, country text)")
	mustExec(t, conn, "CREATE MATERIALIZED VIEW nested AS "+nestedQuery+" GROUP BY window_end EMIT ON WINDOW CLOSE")
	mustExec(t, conn, "CREATE MATERIALIZED VIEW hop_nested AS "+hopNested+" GROUP BY window_end EMIT ON WINDOW CLOSE")
	for _, v := range []string{perTen, perMinute, perMinuteLive, tenLive, pageMinute, productClicks, productSessions, enriched, tenByCountry} {
		mustExec(t, conn, v)
	}
}

// checkRollups compares each view with its batch query once the watermark
// is at frontier.
func checkRollups(t *testing.T, srv *server.Server, frontier time.Time, what string) {
	t.Helper()
	conn := connect(t, srv)
	syncViews(t, srv)
	check := func(view, batch string, args ...any) {
		t.Helper()
		if got, want := rowsText(t, conn, "SELECT * FROM "+view), rowsText(t, conn, batch, args...); !slices.Equal(got, want) {
			t.Fatalf("%s: %s:\n%v\nwant\n%v", what, view, got, want)
		}
	}
	check("per_ten", batchTen, frontier)
	// The rollup of the batch query's closed 10-second windows.
	rollup := `SELECT user_id, window_start, window_end, sum(n), count(*)
		FROM TUMBLE((` + batchTen + `), window_start, INTERVAL '1 minute')`
	check("per_minute", rollup+" WHERE window_end <= $1 GROUP BY user_id, window_start, window_end", frontier)
	check("per_minute_live", rollup+" GROUP BY user_id, window_start, window_end", frontier)
	check("page_minute", `SELECT page, window_end, sum(n), max(n)
		FROM TUMBLE((SELECT page, window_start, count(*) AS n FROM TUMBLE(clicks, ts, INTERVAL '10 seconds')
			GROUP BY page, window_start, window_end), window_start, INTERVAL '1 minute')
		WHERE window_end <= $1 GROUP BY page, window_end`, frontier)
	check("nested", nestedQuery+" WHERE window_end <= $1 GROUP BY window_end", frontier)
	check("hop_nested", hopNested+" WHERE window_end <= $1 GROUP BY window_end", frontier.Add(5*time.Second))
	check("product_sessions", `SELECT user_id, window_start, window_end, count(*)
		FROM SESSION((SELECT user_id, ts AS at FROM clicks WHERE page LIKE '/p%'), at, INTERVAL '20 seconds', user_id)
		WHERE window_end <= $1 GROUP BY user_id, window_start, window_end`, frontier)
	check("enriched", `SELECT u.country, window_start, window_end, count(*)
		FROM TUMBLE(clicks, ts, INTERVAL '10 seconds') c JOIN users u ON c.user_id = u.user_id
		GROUP BY u.country, window_start, window_end`)
	check("ten_by_country", `SELECT u.country, t.window_start, t.window_end, sum(t.n)
		FROM (`+batchTen+`) t JOIN users u ON t.user_id = u.user_id
		GROUP BY u.country, t.window_start, t.window_end`, frontier)
}

// TestRollupsDifferential feeds random clicks (never behind the watermark),
// watermarks and changes to the users table, and compares every view with
// its batch query: rollups of closed windows equal the batch rollup of the
// closed windows, joins with the table follow its changes.
func TestRollupsDifferential(t *testing.T) {
	rng, seed := eventTimeRand(t)
	srv, _ := startRandomWorkers(t, rng)
	conn := connect(t, srv)
	startRollups(t, srv)
	pages := []string{"/", "/p/1", "/p/2", "/cart"}
	frontier := t0
	for round := range 40 {
		var vals []string
		for range rng.IntN(25) {
			at := frontier.Add(time.Duration(rng.IntN(90_000)) * time.Millisecond)
			vals = append(vals, fmt.Sprintf("('u%d', '%s', '%s')", rng.IntN(4), pages[rng.IntN(len(pages))], at.Format(time.RFC3339Nano)))
		}
		if len(vals) > 0 {
			mustExec(t, conn, "INSERT INTO clicks VALUES "+strings.Join(vals, ", "))
		}
		switch u := fmt.Sprintf("u%d", rng.IntN(5)); rng.IntN(4) {
		case 0:
			mustExec(t, conn, "DELETE FROM users WHERE user_id = $1", u)
		case 1, 2:
			mustExec(t, conn, "INSERT INTO users VALUES ($1, $2) ON CONFLICT (user_id) DO UPDATE SET country = excluded.country",
				u, []string{"de", "fr", "us"}[rng.IntN(3)])
		}
		if rng.IntN(3) > 0 {
			frontier = frontier.Add(time.Duration(rng.IntN(30_000)) * time.Millisecond)
			advanceStream(t, srv, "clicks", frontier)
		}
		if round%5 == 4 {
			checkRollups(t, srv, frontier, fmt.Sprintf("seed %d round %d", seed, round))
		}
	}
	if n := rowsText(t, conn, "SELECT count(*) FROM per_minute"); n[0] == "0" {
		t.Fatalf("seed %d: no minute closed", seed)
	}
}

// TestRollupsRestart: after a restart the views over views are planned
// again from their catalog descriptors (which record the columns their
// watermarks bound), recomputed, and go on closing windows.
func TestRollupsRestart(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, dir)
	startRollups(t, srv)
	conn := connect(t, srv)
	mustExec(t, conn, "INSERT INTO users VALUES ('u1', 'de'), ('u2', 'fr')")
	ins := func(user, page string, at time.Duration) {
		mustExec(t, conn, "INSERT INTO clicks VALUES ($1, $2, $3)", user, page, t0.Add(at))
	}
	ins("u1", "/p/1", 5*time.Second)
	ins("u1", "/", 15*time.Second)
	ins("u2", "/p/2", 59*time.Second)
	ins("u2", "/p/2", 61*time.Second)
	advanceStream(t, srv, "clicks", t0.Add(time.Minute-time.Microsecond))
	syncViews(t, srv)
	// The minute [0, 1m) closes at its end.
	if got := rowsText(t, conn, "SELECT user_id, n FROM per_minute"); len(got) != 0 {
		t.Fatalf("per_minute before its end: %v", got)
	}
	advanceStream(t, srv, "clicks", t0.Add(70*time.Second))
	checkRollups(t, srv, t0.Add(70*time.Second), "before restart")
	if got, want := rowsText(t, conn, "SELECT user_id, n::int8, tens FROM per_minute"), []string{"u1 2 2", "u2 1 1"}; !slices.Equal(got, want) {
		t.Fatalf("per_minute: %v, want %v", got, want)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	srv = startServer(t, dir)
	conn = connect(t, srv)
	checkRollups(t, srv, t0.Add(70*time.Second), "after restart")
	mustExec(t, conn, "UPDATE users SET country = 'us' WHERE user_id = 'u2'")
	ins("u1", "/p/1", 80*time.Second)
	advanceStream(t, srv, "clicks", t0.Add(130*time.Second))
	checkRollups(t, srv, t0.Add(130*time.Second), "after restart, next minute")
	if got, want := rowsText(t, conn, "SELECT user_id, n::int8, tens FROM per_minute"), []string{"u1 1 1", "u1 2 2", "u2 1 1", "u2 1 1"}; !slices.Equal(got, want) {
		t.Fatalf("per_minute: %v, want %v", got, want)
	}
	if got, want := rowsText(t, conn, "SELECT country, n::int8 FROM ten_by_country"), []string{"de 1", "de 1", "de 1", "us 1", "us 1"}; !slices.Equal(got, want) {
		t.Fatalf("ten_by_country: %v, want %v", got, want)
	}
}

// TestWindowOverViewRefusals: what EMIT ON WINDOW CLOSE refuses over views
// and joins with tables, with the construct named and a hint.
func TestWindowOverViewRefusals(t *testing.T) {
	srv := startServer(t, "")
	startRollups(t, srv)
	conn := connect(t, srv)
	for _, c := range []struct{ sql, msg, hint string }{
		{`CREATE MATERIALIZED VIEW x AS SELECT u.country, window_end, count(*) FROM TUMBLE(clicks, ts, INTERVAL '1 minute') c
			JOIN users u ON c.user_id = u.user_id GROUP BY u.country, window_end EMIT ON WINDOW CLOSE`,
			`a join with table "users"`, "Aggregate the stream in an EMIT ON WINDOW CLOSE view"},
		{`CREATE MATERIALIZED VIEW x AS SELECT country, window_end, sum(n) FROM TUMBLE(ten_by_country, window_start, INTERVAL '1 minute')
			GROUP BY country, window_end EMIT ON WINDOW CLOSE`,
			`materialized view "ten_by_country" has no column its watermark bounds`, "use EMIT CHANGES"},
		{`CREATE MATERIALIZED VIEW x AS SELECT window_end, count(*) FROM TUMBLE(product_sessions, window_start, INTERVAL '1 minute')
			GROUP BY window_end EMIT ON WINDOW CLOSE`,
			`column "window_start" of materialized view "product_sessions" is not bounded by its watermark`, `Window over "window_end"`},
	} {
		_, err := conn.Exec(context.Background(), c.sql)
		pe := pgErr(t, err)
		if pe.Code != "0A000" || !strings.Contains(pe.Message, c.msg) || !strings.Contains(pe.Hint, c.hint) {
			t.Errorf("%s: %v (hint %q), want 0A000 with %q and hint %q", c.sql, err, pe.Hint, c.msg, c.hint)
		}
	}
}

func advanceStream(t *testing.T, srv *server.Server, stream string, at time.Time) {
	t.Helper()
	if err := srv.Engine().AdvanceWatermark(stream, at.UnixMicro()); err != nil {
		t.Fatal(err)
	}
}
