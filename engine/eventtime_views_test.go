package engine_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-db/sluice/server"
)

const (
	eowcView = `CREATE MATERIALIZED VIEW closed AS
		SELECT city, window_start, window_end, count(*) AS n, sum(fare) AS revenue
		FROM TUMBLE(rides, ts, INTERVAL '1 minute')
		GROUP BY city, window_start, window_end EMIT ON WINDOW CLOSE`
	changesView = `CREATE MATERIALIZED VIEW live AS
		SELECT city, window_start, window_end, count(*) AS n, sum(fare) AS revenue
		FROM TUMBLE(rides, ts, INTERVAL '1 minute')
		GROUP BY city, window_start, window_end EMIT CHANGES`
	// batchWindows is the views' query in batch, over the windows that end
	// at or before $1.
	batchWindows = `SELECT city, window_start, window_end, count(*) AS n, sum(fare) AS revenue
		FROM TUMBLE(rides, ts, INTERVAL '1 minute')
		WHERE window_end <= $1
		GROUP BY city, window_start, window_end`
)

// rowsText returns a query's rows as sorted text lines.
func rowsText(t *testing.T, conn *pgx.Conn, sql string, args ...any) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		line := make([]string, len(vals))
		for i, v := range vals {
			line[i] = fmt.Sprint(v)
		}
		out = append(out, strings.Join(line, " "))
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	slices.Sort(out)
	return out
}

func syncViews(t *testing.T, srv *server.Server) {
	t.Helper()
	if err := srv.Engine().SyncViews(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func advance(t *testing.T, srv *server.Server, at time.Time) {
	t.Helper()
	if err := srv.Engine().AdvanceWatermark("rides", at.UnixMicro()); err != nil {
		t.Fatal(err)
	}
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// testWatermark declares the streams' event time with a delay of ten years,
// so that their own watermarks stay behind every row the tests insert and
// the tests move the watermark themselves (advance).
const testWatermark = "WATERMARK FOR ts AS ts - INTERVAL '87600 hours'"

// TestEmitOnWindowClose: an EMIT ON WINDOW CLOSE view holds each window's
// final row once the stream's watermark reaches window_end (a row at
// window_end is in the next window), exactly once: SUBSCRIBE sees inserts
// only. The view's watermark is the stream's; a view reading it sees it
// too. Both survive a restart.
func TestEmitOnWindowClose(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, dir)
	conn := connect(t, srv)
	ctx := context.Background()
	mustExec(t, conn, "CREATE STREAM rides (city text, fare int, ts timestamptz, "+testWatermark+")")
	mustExec(t, conn, eowcView)
	mustExec(t, conn, changesView)
	mustExec(t, conn, "CREATE MATERIALIZED VIEW big AS SELECT city, window_end, n FROM closed WHERE n > 1")
	mustExec(t, conn, `CREATE MATERIALIZED VIEW keyed WITH (key = 'city, window_end') AS
		SELECT city, window_end, count(*) AS n FROM TUMBLE(rides, ts, INTERVAL '1 minute') GROUP BY city, window_end
		EMIT ON WINDOW CLOSE`)

	sub := connect(t, srv)
	subCtx, cancel := context.WithCancel(ctx)
	subRows, err := sub.Query(subCtx, "SUBSCRIBE TO closed WITH (snapshot = false)", pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatal(err)
	}
	defer subRows.Close()
	defer cancel() // before Close, which would wait for the end of the rows

	ins := func(city string, fare int, at time.Time) {
		mustExec(t, conn, "INSERT INTO rides VALUES ($1, $2, $3)", city, fare, at)
	}
	ins("a", 1, t0.Add(10*time.Second))
	ins("a", 2, t0.Add(59*time.Second))
	ins("b", 5, t0.Add(30*time.Second))
	ins("a", 4, t0.Add(time.Minute)) // window_end of the first window: the next one
	advance(t, srv, t0.Add(time.Minute-time.Microsecond))
	syncViews(t, srv)
	if got := rowsText(t, conn, "SELECT * FROM closed"); len(got) != 0 {
		t.Fatalf("windows emitted before the watermark reached their end: %v", got)
	}
	if got := rowsText(t, conn, "SELECT * FROM live"); len(got) != 3 {
		t.Fatalf("EMIT CHANGES view: %v", got)
	}
	wms := srv.Engine().ViewWatermarks()
	if want := t0.Add(time.Minute - time.Microsecond).UnixMicro(); wms["closed"] != want || wms["big"] != want || wms["keyed"] != want {
		t.Fatalf("view watermarks %v, want %d", wms, want)
	}

	advance(t, srv, t0.Add(time.Minute))
	syncViews(t, srv)
	frontier := t0.Add(time.Minute)
	want := rowsText(t, conn, batchWindows, frontier)
	if len(want) != 2 {
		t.Fatalf("batch: %v", want)
	}
	if got := rowsText(t, conn, "SELECT * FROM closed"); !slices.Equal(got, want) {
		t.Fatalf("closed windows:\n%v\nwant\n%v", got, want)
	}
	if got := rowsText(t, conn, "SELECT city, n FROM big"); !slices.Equal(got, []string{"a 2"}) {
		t.Fatalf("view over the view: %v", got)
	}
	// SUBSCRIBE sees the two final rows, inserted once.
	for range 2 {
		if !subRows.Next() {
			t.Fatal(subRows.Err())
		}
		vals, err := subRows.Values()
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(vals[1]) != "1" {
			t.Fatalf("SUBSCRIBE of an EMIT ON WINDOW CLOSE view saw %v", vals)
		}
	}

	// More rows and a watermark two windows on: each window once more.
	ins("b", 7, t0.Add(90*time.Second))
	advance(t, srv, t0.Add(3*time.Minute))
	syncViews(t, srv)
	frontier = t0.Add(3 * time.Minute)
	want = rowsText(t, conn, batchWindows, frontier)
	if got := rowsText(t, conn, "SELECT * FROM closed"); !slices.Equal(got, want) {
		t.Fatalf("closed windows:\n%v\nwant\n%v", got, want)
	}
	if got, want := rowsText(t, conn, "SELECT * FROM live"), rowsText(t, conn, batchWindows, t0.Add(time.Hour)); !slices.Equal(got, want) {
		t.Fatalf("EMIT CHANGES view:\n%v\nwant\n%v", got, want)
	}
	explain := strings.Join(rowsText(t, conn, "EXPLAIN CREATE MATERIALIZED VIEW x AS SELECT window_end, count(*) FROM TUMBLE(rides, ts, INTERVAL '1 minute') GROUP BY window_end EMIT ON WINDOW CLOSE"), "\n")
	if !strings.Contains(explain, "emit=on-window-close") {
		t.Fatalf("EXPLAIN: %s", explain)
	}

	// What EMIT ON WINDOW CLOSE cannot maintain is refused with 0A000.
	mustExec(t, conn, "CREATE TABLE cities (city text PRIMARY KEY, country text)")
	for _, q := range []string{
		"CREATE MATERIALIZED VIEW bad AS SELECT city, count(*) FROM rides GROUP BY city EMIT ON WINDOW CLOSE",
		`CREATE MATERIALIZED VIEW bad AS SELECT window_end, country, count(*)
			FROM TUMBLE((SELECT r.ts, c.country FROM rides r JOIN cities c USING (city)), ts, INTERVAL '1 minute')
			GROUP BY window_end, country EMIT ON WINDOW CLOSE`,
	} {
		_, err := conn.Exec(ctx, q)
		if pe := pgErr(t, err); pe.Code != "0A000" || !strings.Contains(pe.Message, "EMIT ON WINDOW CLOSE needs") {
			t.Fatalf("%s: %v", q, err)
		}
	}

	// After a restart the view is still EMIT ON WINDOW CLOSE, recomputed
	// at the stored watermark.
	want = rowsText(t, conn, "SELECT * FROM closed")
	cancel()
	subRows.Close()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	srv = startServer(t, dir)
	conn = connect(t, srv)
	syncViews(t, srv)
	if got := rowsText(t, conn, "SELECT * FROM closed"); !slices.Equal(got, want) {
		t.Fatalf("after restart:\n%v\nwant\n%v", got, want)
	}
	if got := rowsText(t, conn, "SELECT count(*) FROM keyed"); !slices.Equal(got, []string{fmt.Sprint(len(want))}) {
		t.Fatalf("keyed view after restart: %v rows, want %d", got, len(want))
	}
	ins("c", 1, t0.Add(3*time.Minute))
	syncViews(t, srv)
	if got := rowsText(t, conn, "SELECT * FROM closed"); !slices.Equal(got, want) {
		t.Fatalf("after restart, an open window shows:\n%v\nwant\n%v", got, want)
	}
	advance(t, srv, t0.Add(4*time.Minute))
	syncViews(t, srv)
	if got, want := rowsText(t, conn, "SELECT * FROM closed"), rowsText(t, conn, batchWindows, t0.Add(4*time.Minute)); !slices.Equal(got, want) {
		t.Fatalf("after restart, the next window:\n%v\nwant\n%v", got, want)
	}
	if wm := srv.Engine().ViewWatermarks()["closed"]; wm != t0.Add(4*time.Minute).UnixMicro() {
		t.Fatalf("watermark after restart %d", wm)
	}
}

// TestWindowViewsDifferential feeds random events and watermarks (events
// never behind the watermark, as the stream's contract promises) to an
// EMIT CHANGES view, which must equal the batch query, and an EMIT ON
// WINDOW CLOSE view, which must equal the batch query's closed windows,
// each inserted once.
func TestWindowViewsDifferential(t *testing.T) {
	rng, seed := eventTimeRand(t)
	srv, _ := startRandomWorkers(t, rng)
	conn := connect(t, srv)
	mustExec(t, conn, "CREATE STREAM rides (city text, fare int, ts timestamptz, "+testWatermark+")")
	mustExec(t, conn, eowcView)
	mustExec(t, conn, changesView)
	mustExec(t, conn, `CREATE MATERIALIZED VIEW hopped AS
		SELECT window_end, count(*) AS n FROM HOP(rides, ts, INTERVAL '20 seconds', INTERVAL '50 seconds')
		GROUP BY window_end EMIT ON WINDOW CLOSE`)
	mustExec(t, conn, `CREATE MATERIALIZED VIEW cumulated AS
		SELECT city, window_end, max(fare) AS top FROM CUMULATE(rides, ts, INTERVAL '15 seconds', INTERVAL '1 minute')
		GROUP BY city, window_end HAVING count(*) > 1 EMIT ON WINDOW CLOSE`)

	// An interval join of two streams, whose state is freed behind the
	// watermarks, must still find every pair.
	mustExec(t, conn, "CREATE STREAM clicks (city text, ts timestamptz, "+testWatermark+")")
	const pairs = `SELECT r.city, r.fare, r.ts, c.ts AS click_ts FROM rides r JOIN clicks c
		ON r.city = c.city AND r.ts BETWEEN c.ts - INTERVAL '20 seconds' AND c.ts + INTERVAL '10 seconds'`
	mustExec(t, conn, "CREATE MATERIALIZED VIEW pairs AS "+pairs)
	// Windows over the interval join close at its watermark:
	// min(rides, clicks, clicks - 20s, rides - 10s).
	const pairWindows = `SELECT window_end, count(*) AS n
		FROM TUMBLE((SELECT r.ts FROM rides r JOIN clicks c ON r.city = c.city
			AND r.ts BETWEEN c.ts - INTERVAL '20 seconds' AND c.ts + INTERVAL '10 seconds'), ts, INTERVAL '30 seconds')`
	mustExec(t, conn, "CREATE MATERIALIZED VIEW pair_windows AS "+pairWindows+" GROUP BY window_end EMIT ON WINDOW CLOSE")
	clickFrontier := t0

	frontier := t0
	closed := 0 // rows of closed windows seen at the checks
	for round := range 30 {
		var vals []string
		for range rng.IntN(20) {
			at := frontier.Add(time.Duration(rng.IntN(150_000)) * time.Millisecond)
			vals = append(vals, fmt.Sprintf("('%c', %d, '%s')", 'a'+rune(rng.IntN(3)), rng.IntN(100), at.Format(time.RFC3339Nano)))
		}
		if len(vals) > 0 {
			mustExec(t, conn, "INSERT INTO rides VALUES "+strings.Join(vals, ", "))
		}
		if rng.IntN(3) > 0 {
			frontier = frontier.Add(time.Duration(rng.IntN(40_000)) * time.Millisecond)
			advance(t, srv, frontier)
		}
		vals = vals[:0]
		for range rng.IntN(10) {
			at := clickFrontier.Add(time.Duration(rng.IntN(100_000)) * time.Millisecond)
			vals = append(vals, fmt.Sprintf("('%c', '%s')", 'a'+rune(rng.IntN(3)), at.Format(time.RFC3339Nano)))
		}
		if len(vals) > 0 {
			mustExec(t, conn, "INSERT INTO clicks VALUES "+strings.Join(vals, ", "))
		}
		if rng.IntN(2) > 0 {
			clickFrontier = clickFrontier.Add(time.Duration(rng.IntN(40_000)) * time.Millisecond)
			if err := srv.Engine().AdvanceWatermark("clicks", clickFrontier.UnixMicro()); err != nil {
				t.Fatal(err)
			}
		}
		if round%5 != 4 {
			continue
		}
		syncViews(t, srv)
		check := func(view, batch string, args ...any) {
			t.Helper()
			if got, want := rowsText(t, conn, "SELECT * FROM "+view), rowsText(t, conn, batch, args...); !slices.Equal(got, want) {
				t.Fatalf("seed %d round %d: %s:\n%v\nwant\n%v", seed, round, view, got, want)
			}
		}
		check("live", batchWindows, t0.Add(time.Hour))
		check("pairs", pairs)
		if !clickFrontier.Equal(t0) && !frontier.Equal(t0) {
			joined := frontier.Add(-10 * time.Second)
			if c := clickFrontier.Add(-20 * time.Second); c.Before(joined) {
				joined = c
			}
			check("pair_windows", pairWindows+" WHERE window_end <= $1 GROUP BY window_end", joined)
		}
		check("closed", batchWindows, frontier)
		check("hopped", `SELECT window_end, count(*) FROM HOP(rides, ts, INTERVAL '20 seconds', INTERVAL '50 seconds')
			WHERE window_end <= $1 GROUP BY window_end`, frontier)
		check("cumulated", `SELECT city, window_end, max(fare) FROM CUMULATE(rides, ts, INTERVAL '15 seconds', INTERVAL '1 minute')
			WHERE window_end <= $1 GROUP BY city, window_end HAVING count(*) > 1`, frontier)
		closed += len(rowsText(t, conn, "SELECT * FROM closed"))
		// Before the test first moves it, the watermark is the stream's
		// own, ten years behind its rows (testWatermark), or none.
		wm := srv.Engine().ViewWatermarks()["closed"]
		own, _ := wm.(int64)
		if wm != frontier.UnixMicro() && !(frontier.Equal(t0) && (wm == nil || own < t0.UnixMicro())) {
			t.Fatalf("seed %d round %d: view watermark %d, want %d", seed, round, wm, frontier.UnixMicro())
		}
	}
	t.Logf("%d rows of closed windows checked", closed)
}

// TestSessionViewsDifferential feeds random events and watermarks to SESSION
// views over the stream's WATERMARK FOR column, which free sessions once
// the watermark reaches their end: an EMIT CHANGES view of sessions and one
// of annotated rows must equal the batch query, an EMIT ON WINDOW CLOSE view
// the batch query's sessions ending at or before the watermark. Events come
// close enough together that sessions extend and merge while open. Halfway
// the server restarts: the views are restored from their checkpoints.
func TestSessionViewsDifferential(t *testing.T) {
	rng, seed := eventTimeRand(t)
	srv, cfg := startRandomWorkers(t, rng)
	conn := connect(t, srv)
	mustExec(t, conn, "CREATE STREAM rides (city text, fare int, ts timestamptz, "+testWatermark+")")
	const sessions = `SELECT city, window_start, window_end, count(*) AS n, sum(fare) AS revenue
		FROM SESSION(rides, ts, INTERVAL '30 seconds', city)`
	const rows = `SELECT * FROM SESSION(rides, ts, INTERVAL '30 seconds', city)`
	mustExec(t, conn, "CREATE MATERIALIZED VIEW session_final AS "+sessions+" GROUP BY city, window_start, window_end EMIT ON WINDOW CLOSE")
	mustExec(t, conn, "CREATE MATERIALIZED VIEW session_live AS "+sessions+" GROUP BY city, window_start, window_end")
	mustExec(t, conn, "CREATE MATERIALIZED VIEW session_rows AS "+rows)
	mustExec(t, conn, `CREATE MATERIALIZED VIEW session_ends AS SELECT window_end, count(*) AS n
		FROM SESSION(rides, ts, INTERVAL '30 seconds') GROUP BY window_end EMIT ON WINDOW CLOSE`)

	frontier := t0
	closed := 0 // sessions seen closed at the checks
	checkAll := func(round int) {
		t.Helper()
		syncViews(t, srv)
		check := func(view, batch string, args ...any) {
			t.Helper()
			if got, want := rowsText(t, conn, "SELECT * FROM "+view), rowsText(t, conn, batch, args...); !slices.Equal(got, want) {
				t.Fatalf("seed %d round %d: %s:\n%v\nwant\n%v", seed, round, view, got, want)
			}
		}
		check("session_live", sessions+" GROUP BY city, window_start, window_end")
		check("session_rows", rows)
		check("session_final", sessions+" WHERE window_end <= $1 GROUP BY city, window_start, window_end", frontier)
		check("session_ends", `SELECT window_end, count(*) FROM SESSION(rides, ts, INTERVAL '30 seconds')
			WHERE window_end <= $1 GROUP BY window_end`, frontier)
		closed += len(rowsText(t, conn, "SELECT * FROM session_final"))
	}
	for round := range 30 {
		var vals []string
		for range rng.IntN(20) {
			at := frontier.Add(time.Duration(rng.IntN(90_000)) * time.Millisecond)
			vals = append(vals, fmt.Sprintf("('%c', %d, '%s')", 'a'+rune(rng.IntN(3)), rng.IntN(100), at.Format(time.RFC3339Nano)))
		}
		if len(vals) > 0 {
			mustExec(t, conn, "INSERT INTO rides VALUES "+strings.Join(vals, ", "))
		}
		if rng.IntN(3) > 0 {
			frontier = frontier.Add(time.Duration(rng.IntN(60_000)) * time.Millisecond)
			advance(t, srv, frontier)
		}
		if round%3 == 2 {
			checkAll(round)
		}
		if round == 15 {
			if err := srv.Close(); err != nil {
				t.Fatal(err)
			}
			var err error
			if srv, err = server.Start(context.Background(), cfg); err != nil {
				t.Fatal(err)
			}
			conn = connect(t, srv)
			checkAll(round)
		}
	}
	// In the end every session closes.
	frontier = frontier.Add(time.Hour)
	advance(t, srv, frontier)
	checkAll(30)
	if len(rowsText(t, conn, "SELECT * FROM session_final")) != len(rowsText(t, conn, "SELECT * FROM session_live")) {
		t.Fatalf("seed %d: not every session closed", seed)
	}
	t.Logf("%d closed sessions checked", closed)
}

// eventTimeRand returns the random source of a randomized event-time test
// and its seed, taken from EVENTTIME_SEED when set (and logged).
func eventTimeRand(t *testing.T) (*rand.Rand, uint64) {
	seed := rand.Uint64()
	if s := os.Getenv("EVENTTIME_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (replay with EVENTTIME_SEED)", seed)
	return rand.New(rand.NewPCG(seed, seed)), seed
}

// startRandomWorkers starts a server on a fresh directory with 1 to 3
// workers drawn from rng, and returns it with its configuration.
func startRandomWorkers(t *testing.T, rng *rand.Rand) (*server.Server, server.Config) {
	cfg := server.Config{PGAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", DataDir: t.TempDir(), Workers: 1 + rng.IntN(3)}
	srv, err := server.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv, cfg
}
