package engine_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-db/sluice/internal/testbin"
)

// shownWatermark is a row of SHOW WATERMARKS, as text ("" for NULL).
type shownWatermark struct {
	w, frontier, partitions string
	late                    int64
}

func showWatermark(t *testing.T, conn *pgx.Conn, stream string) shownWatermark {
	t.Helper()
	var out shownWatermark
	for _, r := range shownWatermarks(t, conn) {
		if r.name == stream && r.kind == "stream" {
			if r.w != nil {
				out.w, out.frontier = *r.w, *r.frontier
			}
			out.late, out.partitions = *r.late, *r.partitions
		}
	}
	return out
}

// watermarkRow is a row of SHOW WATERMARKS as scanned (nil for NULL).
type watermarkRow struct {
	name, kind                              string
	w, frontier, lateness, idle, partitions *string
	late                                    *int64
}

// shownWatermarks returns the rows of SHOW WATERMARKS.
func shownWatermarks(t *testing.T, conn *pgx.Conn) []watermarkRow {
	t.Helper()
	rows, err := conn.Query(context.Background(), "SHOW WATERMARKS", pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []watermarkRow
	for rows.Next() {
		var r watermarkRow
		if err := rows.Scan(&r.name, &r.kind, &r.w, &r.frontier, &r.lateness, &r.idle, &r.late, &r.partitions); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// watermarkOf returns SHOW WATERMARKS' watermark and frontier of stream
// and its late_events count.
func watermarkOf(t *testing.T, conn *pgx.Conn, stream string) (w, frontier string, late int64) {
	t.Helper()
	s := showWatermark(t, conn, stream)
	return s.w, s.frontier, s.late
}

// queryStrings returns sql's first column as text; args may hold a
// pgx.QueryExecMode.
func queryStrings(t *testing.T, conn *pgx.Conn, sql string, args ...any) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}

func expectStrings(t *testing.T, conn *pgx.Conn, sql string, want ...string) {
	t.Helper()
	got := queryStrings(t, conn, sql)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\n got %q\nwant %q", sql, got, want)
	}
}

// An INSERT-fed stream: the watermark advances per statement (per
// transaction), rows of one batch are not late to each other, a row at the
// frontier is on time, a row before it goes to sluice_late_events, allowed
// lateness keeps rows, NULL event times stay; the watermark survives a
// restart; metrics count late rows.
func TestWatermarkInsert(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, dir)
	conn := connect(t, srv)
	mustExec(t, conn, "SET TimeZone = 'UTC'")
	mustExec(t, conn, `CREATE STREAM ev (id int, ts timestamptz, WATERMARK FOR ts AS ts - INTERVAL '5 seconds')`)
	if w, _, _ := watermarkOf(t, conn, "ev"); w != "" {
		t.Fatalf("watermark before any row: %q", w)
	}
	// One statement: 10 s advances W only after the batch, so 0 s is on time.
	mustExec(t, conn, "INSERT INTO ev VALUES (1, '2026-01-01 00:00:10Z'), (2, '2026-01-01 00:00:00Z')")
	if w, f, _ := watermarkOf(t, conn, "ev"); w != "2026-01-01 00:00:05+00" || f != w {
		t.Fatalf("after the first insert: W %q frontier %q", w, f)
	}
	mustExec(t, conn, "INSERT INTO ev VALUES (3, '2026-01-01 00:00:05Z'), (7, NULL)")
	mustExec(t, conn, "INSERT INTO ev VALUES (4, '2026-01-01 00:00:04.999999Z')")
	expectStrings(t, conn, "SELECT id::text FROM ev ORDER BY id", "1", "2", "3", "7")
	expectStrings(t, conn, `SELECT concat_ws(' | ', stream, event_time, watermark, payload, partition, "offset", arrived_at > now() - interval '1 minute') FROM sluice_late_events`,
		`ev | 2026-01-01 00:00:04.999999+00 | 2026-01-01 00:00:05+00 | {"id": 4, "ts": "2026-01-01T00:00:04.999999+00:00"} | t`)

	// A transaction block is one batch: its rows are judged at COMMIT
	// against W before it.
	mustExec(t, conn, "BEGIN")
	mustExec(t, conn, "INSERT INTO ev VALUES (5, '2026-01-01 00:00:30Z')")
	mustExec(t, conn, "INSERT INTO ev VALUES (6, '2026-01-01 00:00:06Z')")
	mustExec(t, conn, "COMMIT")
	expectStrings(t, conn, "SELECT count(*)::text FROM ev WHERE id IN (5, 6)", "2")
	if w, _, late := watermarkOf(t, conn, "ev"); w != "2026-01-01 00:00:25+00" || late != 1 {
		t.Fatalf("after the block: W %q, %d late", w, late)
	}
	// A batch of late rows only leaves W where it was.
	mustExec(t, conn, "INSERT INTO ev VALUES (8, '2026-01-01 00:00:01Z'), (9, '2026-01-01 00:00:02Z')")
	if w, _, late := watermarkOf(t, conn, "ev"); w != "2026-01-01 00:00:25+00" || late != 3 {
		t.Fatalf("after late rows: W %q, %d late", w, late)
	}

	mustExec(t, conn, `CREATE STREAM lax (id int, ts timestamp, WATERMARK FOR ts AS ts) WITH (allowed_lateness = '10 seconds', idle_timeout = '1 min')`)
	mustExec(t, conn, "INSERT INTO lax VALUES (1, '2026-01-01 00:01:40')")
	mustExec(t, conn, "INSERT INTO lax VALUES (2, '2026-01-01 00:01:31'), (3, '2026-01-01 00:01:30'), (4, '2026-01-01 00:01:29.5')")
	expectStrings(t, conn, "SELECT id::text FROM lax ORDER BY id", "1", "2", "3")
	expectStrings(t, conn, "SELECT payload->>'id' FROM sluice_late_events WHERE stream = 'lax'", "4")
	if w, f, _ := watermarkOf(t, conn, "lax"); w != "2026-01-01 00:01:40+00" || f != "2026-01-01 00:01:30+00" {
		t.Fatalf("lax: W %q frontier %q", w, f)
	}
	expectStrings(t, conn, "SELECT array_to_string(reloptions, ',') FROM pg_class WHERE relname = 'lax'", "allowed_lateness=10 seconds,idle_timeout=1 min")
	expectStrings(t, conn, "SELECT obj_description('lax'::regclass)", "append-only stream, watermark ts")
	expectStrings(t, conn, "SELECT obj_description('ev'::regclass)", "append-only stream, watermark ts - 00:00:05")

	metrics := testbin.HTTPGet(t, "http://"+srv.HTTPAddr()+"/metrics", http.StatusOK)
	for _, want := range []string{`sluice_late_events_total{stream="ev"} 3`, `sluice_late_events_total{stream="lax"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics: no %q", want)
		}
	}

	// sluice_late_events is a stream like any: a view reads it.
	mustExec(t, conn, "CREATE MATERIALIZED VIEW late_per_stream AS SELECT stream, count(*) AS n FROM sluice_late_events GROUP BY stream")
	eventually(t, conn, "SELECT n FROM late_per_stream WHERE stream = 'ev'", 3)

	_ = conn.Close(context.Background())
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	srv = startServer(t, dir)
	conn = connect(t, srv)
	mustExec(t, conn, "SET TimeZone = 'UTC'")
	if w, f, _ := watermarkOf(t, conn, "lax"); w != "2026-01-01 00:01:40+00" || f != "2026-01-01 00:01:30+00" {
		t.Fatalf("lax after restart: W %q frontier %q", w, f)
	}
	// W restarts from the stored frontier (ev has no allowed lateness).
	mustExec(t, conn, "INSERT INTO ev VALUES (10, '2026-01-01 00:00:24.5Z'), (11, '2026-01-01 00:00:25Z')")
	expectStrings(t, conn, "SELECT id::text FROM ev WHERE id >= 10", "11")
}

func TestWatermarkErrors(t *testing.T) {
	srv := startServer(t, "")
	conn := connect(t, srv)
	for _, tc := range []struct {
		sql, code string
		pos       int32
	}{
		{"CREATE STREAM s (ts timestamptz, WATERMARK FOR tz AS tz)", "42703", 48},
		{"CREATE STREAM s (ts text, WATERMARK FOR ts AS ts)", "42804", 41},
		{"CREATE STREAM s (ts timestamptz, WATERMARK FOR ts AS ts - INTERVAL 'soon')", "22007", 68},
		{"CREATE STREAM s (ts timestamptz, WATERMARK FOR ts AS ts - INTERVAL '1 month')", "22023", 68},
		{"CREATE STREAM s (ts timestamptz, WATERMARK FOR ts AS ts - INTERVAL '-1 s')", "22023", 68},
		{"CREATE STREAM s (ts timestamptz, WATERMARK FOR ts AS ts + INTERVAL '1 s')", "0A000", 57},
		{"CREATE STREAM s (ts timestamptz, WATERMARK FOR ts AS ts) WITH (allowed_lateness = 'later')", "22007", 0},
		{"CREATE STREAM s (ts timestamptz, WATERMARK FOR ts AS ts) WITH (idle_timeout = '0 s')", "22023", 0},
		{"CREATE STREAM s (ts timestamptz) WITH (allowed_lateness = '1 s')", "22023", 0},
	} {
		_, err := conn.Exec(context.Background(), tc.sql)
		if pe := pgErr(t, err); pe.Code != tc.code || pe.Position != tc.pos {
			t.Errorf("%s: %s at %d (%s), want %s at %d", tc.sql, pe.Code, pe.Position, pe.Message, tc.code, tc.pos)
		}
	}
	// Failed CREATEs leave nothing behind, the late-events stream included.
	expectStrings(t, conn, "SELECT count(*)::text FROM pg_class WHERE relname IN ('s', 'sluice_late_events')", "0")

	// Without sluice_late_events, a batch with late rows fails whole
	// rather than lose them; creating a stream with a watermark brings it
	// back.
	mustExec(t, conn, "CREATE STREAM s (ts timestamptz, WATERMARK FOR ts AS ts)")
	mustExec(t, conn, "INSERT INTO s VALUES ('2026-01-01 00:01:00Z')")
	mustExec(t, conn, "DROP STREAM sluice_late_events")
	_, err := conn.Exec(context.Background(), "INSERT INTO s VALUES ('2026-01-01 00:02:00Z'), ('2026-01-01 00:00:00Z')")
	if pe := pgErr(t, err); pe.Code != "42P01" || !strings.Contains(pe.Hint, "WATERMARK FOR") {
		t.Errorf("late row without sluice_late_events: %s %s (%s)", pe.Code, pe.Message, pe.Hint)
	}
	mustExec(t, conn, "INSERT INTO s VALUES ('2026-01-01 00:02:00Z')")
	mustExec(t, conn, "CREATE STREAM s2 (ts timestamptz, WATERMARK FOR ts AS ts)")
	mustExec(t, conn, "INSERT INTO s VALUES ('2026-01-01 00:00:00Z')")
	expectStrings(t, conn, "SELECT count(*)::text FROM s", "2")
	expectStrings(t, conn, "SELECT count(*)::text FROM sluice_late_events", "1")
}

// COPY and HTTP push are batches too: each judged against W before it.
func TestWatermarkCopyAndPush(t *testing.T) {
	srv := startServer(t, "")
	conn := connect(t, srv)
	mustExec(t, conn, "SET TimeZone = 'UTC'")
	mustExec(t, conn, `CREATE STREAM ev (id int, ts timestamptz, WATERMARK FOR ts AS ts - INTERVAL '1 second')`)
	copyIn := func(data string) {
		t.Helper()
		if _, err := conn.PgConn().CopyFrom(context.Background(), strings.NewReader(data), "COPY ev FROM STDIN"); err != nil {
			t.Fatal(err)
		}
	}
	copyIn("1\t2026-01-01 00:00:10Z\n2\t2026-01-01 00:00:01Z\n")
	copyIn("3\t2026-01-01 00:00:09Z\n4\t2026-01-01 00:00:08.5Z\n5\t2026-01-01 00:00:20Z\n")
	expectStrings(t, conn, "SELECT id::text FROM ev ORDER BY id", "1", "2", "3", "5")
	post := func(body string) {
		t.Helper()
		resp, err := http.Post("http://"+srv.HTTPAddr()+"/api/streams/ev", "application/x-ndjson", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("push: %s", resp.Status)
		}
	}
	post(`{"id": 6, "ts": "2026-01-01T00:00:30Z"}` + "\n" + `{"id": 7, "ts": "2026-01-01T00:00:19Z"}` + "\n")
	post(`{"id": 8, "ts": "2026-01-01T00:00:28Z"}` + "\n" + `{"id": 9, "ts": "2026-01-01T00:00:29Z"}` + "\n")
	expectStrings(t, conn, "SELECT id::text FROM ev ORDER BY id", "1", "2", "3", "5", "6", "7", "9")
	expectStrings(t, conn, "SELECT (payload->>'id') || ' ' || watermark::text FROM sluice_late_events ORDER BY event_time",
		"4 2026-01-01 00:00:09+00", "8 2026-01-01 00:00:29+00")
	if w, _, late := watermarkOf(t, conn, "ev"); w != "2026-01-01 00:00:29+00" || late != 2 {
		t.Fatalf("W %q, %d late", w, late)
	}
}

// eventuallyWatermark waits until SHOW WATERMARKS gives stream watermark w.
func eventuallyWatermark(t *testing.T, conn *pgx.Conn, stream, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		w, _, _ := watermarkOf(t, conn, stream)
		if w == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: watermark %q, want %q", stream, w, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Two streams read one two-partition topic: "slow" never counts a
// partition idle, "fast" after 500 ms. W is the minimum over partitions; a
// quiet partition holds slow back but not fast; a row behind fast's
// frontier lands in sluice_late_events with its partition and offset; both
// watermarks survive a restart.
func TestWatermarkKafka(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "ev"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dir := t.TempDir()
	srv := startKafkaServer(t, dir, c.ListenAddrs())
	conn := connect(t, srv)
	mustExec(t, conn, "SET TimeZone = 'UTC'")
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	produce := func(partition int32, id, second int) {
		t.Helper()
		v := fmt.Sprintf(`{"id": %d, "ts": "2026-01-01T00:%02d:%02dZ"}`, id, second/60, second%60)
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: "ev", Partition: partition, Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	// Produced before the streams start, so that both partitions deliver
	// their first rows well within fast's idle timeout.
	produce(0, 1, 100)
	produce(1, 2, 50)
	for name, idle := range map[string]string{"slow": "1 hour", "fast": "500ms"} {
		mustExec(t, conn, `CREATE STREAM `+name+` (id int, ts timestamptz, _partition int, WATERMARK FOR ts AS ts)
			WITH (connector = 'kafka', topic = 'ev', format = 'json', idle_timeout = '`+idle+`')`)
	}
	eventually(t, conn, "SELECT count(*) FROM slow", 2)
	eventuallyWatermark(t, conn, "slow", "2026-01-01 00:00:50+00")
	// fast must have its first rows before the next one is produced: were
	// all three to come in one batch, both partitions would go idle at
	// once, and with every partition idle W stays.
	eventuallyWatermark(t, conn, "fast", "2026-01-01 00:00:50+00")

	produce(0, 3, 200)
	eventually(t, conn, "SELECT count(*) FROM slow", 3)
	eventuallyWatermark(t, conn, "fast", "2026-01-01 00:03:20+00")
	if w, _, _ := watermarkOf(t, conn, "slow"); w != "2026-01-01 00:00:50+00" {
		t.Fatalf("slow: W %q: partition 1 is quiet but not idle", w)
	}
	if p := showWatermark(t, conn, "fast").partitions; !strings.Contains(p, "ev/1=2026-01-01 00:00:50+00 (idle)") {
		t.Errorf("fast partitions: %q", p)
	}

	produce(1, 4, 150)
	eventually(t, conn, "SELECT count(*) FROM slow", 4)
	eventuallyWatermark(t, conn, "slow", "2026-01-01 00:02:30+00")
	eventually(t, conn, "SELECT count(*) FROM sluice_late_events", 1)
	expectStrings(t, conn, `SELECT concat_ws(' ', stream, payload->>'id', partition, "offset", watermark) FROM sluice_late_events`,
		"fast 4 1 1 2026-01-01 00:03:20+00")
	expectStrings(t, conn, "SELECT count(*)::text FROM fast", "3")

	_ = conn.Close(context.Background())
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	srv = startKafkaServer(t, dir, c.ListenAddrs())
	conn = connect(t, srv)
	mustExec(t, conn, "SET TimeZone = 'UTC'")
	for stream, w := range map[string]string{"slow": "2026-01-01 00:02:30+00", "fast": "2026-01-01 00:03:20+00"} {
		if got, _, _ := watermarkOf(t, conn, stream); got != w {
			t.Errorf("%s after restart: W %q, want %q", stream, got, w)
		}
	}
	produce(0, 5, 120)
	eventually(t, conn, "SELECT count(*) FROM sluice_late_events", 3)
	expectStrings(t, conn, `SELECT stream FROM sluice_late_events WHERE payload->>'id' = '5' ORDER BY stream`, "fast", "slow")
}

// A datagen stream that generates late events: every event ends up either
// in the stream or in sluice_late_events, and each late one was behind the
// watermark it met.
func TestWatermarkDatagen(t *testing.T) {
	srv := startServer(t, "")
	conn := connect(t, srv)
	mustExec(t, conn, `CREATE STREAM clicks (
		event_id bigint, user_id bigint, session_id bigint, event_type text, page text,
		product_id bigint, price numeric(10,2), ts timestamptz,
		WATERMARK FOR ts AS ts - INTERVAL '5 seconds'
	) WITH (connector = 'datagen', generator = 'clicks', rate = '5000', seed = '7', events = '3000',
		disorder = '2 seconds', late_fraction = '0.05', late_by = '1 minute')`)
	eventually(t, conn, "SELECT (SELECT count(*) FROM clicks) + (SELECT count(*) FROM sluice_late_events)", 3000)
	expectInts(t, conn, map[string]int64{
		"SELECT count(*) FROM sluice_late_events WHERE stream <> 'clicks' OR event_time >= watermark OR partition IS NOT NULL": 0,
		"SELECT count(DISTINCT event_id) FROM clicks":                                                              queryInt(t, conn, "SELECT count(*) FROM clicks"),
		"SELECT count(*) FROM clicks c JOIN sluice_late_events l ON c.event_id = (l.payload->>'event_id')::bigint": 0,
	})
	if n := queryInt(t, conn, "SELECT count(*) FROM sluice_late_events"); n < 50 {
		t.Errorf("%d late events of 3000 with a late fraction of 5%%", n)
	}
}
