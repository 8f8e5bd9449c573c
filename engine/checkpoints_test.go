package engine_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-db/sluice/engine"
	"github.com/sluice-db/sluice/internal/testbin"
	"github.com/sluice-db/sluice/server"
)

// checkpointViews are the views of TestViewsRestartFromCheckpoints, by
// name: aggregates (keyed, global, windowed as changes and EMIT ON WINDOW
// CLOSE), a view of a table, a stream×table join, DISTINCT, top-N, and a
// view of a view.
var checkpointViews = map[string]string{
	"v_agg":      "SELECT k, count(*) AS n, sum(v) AS s, max(v) AS top FROM s GROUP BY k",
	"v_total":    "SELECT count(*) AS n, sum(v) AS s FROM s",
	"v_win":      "SELECT k, window_start, window_end, count(*) AS n FROM TUMBLE(s, ts, INTERVAL '1 second') GROUP BY k, window_start, window_end EMIT ON WINDOW CLOSE",
	"v_win_live": "SELECT name, window_end, count(*) AS n, min(v) AS low FROM TUMBLE(s, ts, INTERVAL '1 second') GROUP BY name, window_end",
	"v_region":   "SELECT region, count(*) AS n FROM users GROUP BY region",
	"v_join":     "SELECT u.region, count(*) AS n FROM s JOIN users u ON s.k = u.id GROUP BY u.region",
	"v_distinct": "SELECT DISTINCT name FROM s",
	"v_top":      "SELECT k, v FROM s ORDER BY v DESC, k LIMIT 3",
	"v_vov":      "SELECT sum(n) AS n FROM v_agg",
}

// checkpointServer is a server on dir whose log is kept, checkpointing
// every interval (negative: never), with the engine options opts.
type checkpointServer struct {
	srv *server.Server
	log *testbin.SyncBuffer
}

// restartCheckpointServer closes s, starts a server on dir again (as a
// restart does, checkpointing every interval) and connects to it.
func restartCheckpointServer(t *testing.T, s *checkpointServer, dir string, interval time.Duration) (*checkpointServer, *pgx.Conn) {
	t.Helper()
	if err := s.srv.Close(); err != nil {
		t.Fatal(err)
	}
	s = startCheckpointServer(t, dir, interval)
	t.Cleanup(func() { _ = s.srv.Close() })
	return s, connect(t, s.srv)
}

func startCheckpointServer(t *testing.T, dir string, interval time.Duration, opts ...engine.Option) *checkpointServer {
	t.Helper()
	log := &testbin.SyncBuffer{}
	srv, err := server.Start(context.Background(), server.Config{PGAddr: "127.0.0.1:0", DataDir: dir,
		Logger: slog.New(slog.NewTextHandler(log, nil)), CheckpointInterval: interval, Workers: 2, EngineOptions: opts})
	if err != nil {
		t.Fatal(err)
	}
	return &checkpointServer{srv: srv, log: log}
}

// restored returns the views the server restored from checkpoints, sorted:
// not those computed again once their state, restored behind the rows they
// served, was found damaged (a format 3 file's state is checked then).
func (s *checkpointServer) restored() []string {
	log := s.log.String()
	var names []string
	for _, m := range regexp.MustCompile(`view restored from its checkpoint" view=(\w+)`).FindAllStringSubmatch(log, -1) {
		if !strings.Contains(log, `checkpoint not used, the view is computed again" view=`+m[1]+" ") {
			names = append(names, m[1])
		}
	}
	slices.Sort(names)
	return names
}

// syncViews waits until every change committed so far is in the views.
func (s *checkpointServer) syncViews(t *testing.T) {
	t.Helper()
	if err := s.srv.Engine().SyncViews(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestViewsRestartFromCheckpoints restarts a server from checkpoints older
// than the stream's history and the table's content, from the checkpoints
// a clean shutdown leaves, from a damaged one, and without any: every view
// must equal what it was before each restart, and the views that can be
// checkpointed must have been restored where their inputs allow.
func TestViewsRestartFromCheckpoints(t *testing.T) {
	dir := t.TempDir()
	s := startCheckpointServer(t, dir, 20*time.Millisecond)
	conn := connect(t, s.srv)
	mustExec(t, conn, "CREATE STREAM s (k int, name text, v int, ts timestamptz, WATERMARK FOR ts AS ts - INTERVAL '2 seconds')")
	mustExec(t, conn, "CREATE TABLE users (id int PRIMARY KEY, region text)")
	for id := range 8 {
		mustExec(t, conn, "INSERT INTO users VALUES ($1, $2)", id, fmt.Sprint("r", id%3))
	}
	names := createViews(t, conn, checkpointViews) // v_vov after v_agg
	insert := clickInserter(t, &conn)
	insert(2000)
	ckptDir := filepath.Join(dir, "checkpoints")
	want := []string{"v_agg", "v_distinct", "v_join", "v_region", "v_top", "v_total", "v_win", "v_win_live"}
	var saved map[string][]byte
	deadline := time.Now().Add(20 * time.Second)
	for {
		saved = readDir(t, ckptDir)
		if len(saved) == len(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("checkpoints %v, want one per view of %v", mapKeys(saved), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Past the checkpoints kept: more history, windows closing, and the
	// table changing.
	insert(1500)
	mustExec(t, conn, "UPDATE users SET region = 'r9' WHERE id = 1")
	mustExec(t, conn, "DELETE FROM users WHERE id = 2")
	insert(500)
	s.syncViews(t)
	before := viewsText(t, conn, names)
	if len(before["v_win"]) < 10 {
		t.Fatalf("only %d windows closed", len(before["v_win"]))
	}
	conn.Close(context.Background())
	// restart stops the server, runs between (on its files), starts it
	// again checkpointing every interval and checks which views it
	// restored (unless wantRestored is nil) and that every view is as
	// before.
	restart := func(interval time.Duration, between func(), wantRestored []string) {
		t.Helper()
		if err := s.srv.Close(); err != nil {
			t.Fatal(err)
		}
		between()
		s = startCheckpointServer(t, dir, interval)
		conn = connect(t, s.srv)
		if got := s.restored(); wantRestored != nil && !slices.Equal(got, wantRestored) {
			t.Errorf("restored %v, want %v\n%s", got, wantRestored, s.log.String())
		}
		s.syncViews(t)
		after := viewsText(t, conn, names)
		for _, name := range names {
			if !slices.Equal(after[name], before[name]) {
				t.Errorf("%s after restart:\n%s\nbefore:\n%s", name, strings.Join(after[name], "\n"), strings.Join(before[name], "\n"))
			}
		}
	}

	// The checkpoints taken before the last rows, as a crash leaves them:
	// the table changed since, so the views reading it are computed again.
	restart(20*time.Millisecond, func() { writeDir(t, ckptDir, saved) }, []string{"v_agg", "v_distinct", "v_top", "v_total", "v_win", "v_win_live"})
	if !regexp.MustCompile(`view=v_agg rows=\d+ stream_rows_replayed=[1-9]`).MatchString(s.log.String()) {
		t.Errorf("v_agg restored without replaying the stream's rows after its checkpoint\n%s", s.log.String())
	}
	// The clean shutdown's checkpoints: everything restores.
	restart(time.Hour, func() {}, want)
	// A damaged checkpoint, one cut short and one missing: those views are
	// computed again.
	restart(time.Hour, func() {
		files := readDir(t, ckptDir)
		damaged := 0
		for _, name := range mapKeys(files) {
			switch damaged {
			case 0:
				files[name][len(files[name])/2] ^= 0x40
			case 1:
				files[name] = files[name][:len(files[name])-3]
			case 2:
				delete(files, name)
			}
			damaged++
		}
		writeDir(t, ckptDir, files)
	}, nil)
	if got := s.restored(); len(got) != len(want)-3 {
		t.Errorf("restored %v with three checkpoints of %v damaged or missing", got, want)
	}
	if n := strings.Count(s.log.String(), "checkpoint not used"); n != 2 {
		t.Errorf("%d checkpoints reported unused, want 2\n%s", n, s.log.String())
	}
	// Without checkpoints: everything is computed again, and equal.
	restart(-1, func() {}, []string{})
	// A checkpoint of a view that does not exist (a crash between a DROP's
	// commit and the removal of its file) and a temporary file a crash
	// left are removed at start.
	restart(time.Hour, func() {
		files := readDir(t, ckptDir)
		files["999999.ckpt"] = []byte("orphan")
		writeDir(t, ckptDir, files)
		if err := os.WriteFile(filepath.Join(ckptDir, "999998.ckpt.tmp"), []byte("half"), 0o644); err != nil {
			t.Fatal(err)
		}
	}, want)
	if entries, err := os.ReadDir(ckptDir); err != nil || len(entries) != len(want) {
		t.Errorf("checkpoint directory holds %d files (%v), want the %d views'", len(entries), err, len(want))
	}
	// DROP VIEW removes the view's checkpoint (the writer does, after the
	// DROP returns).
	t.Cleanup(func() { _ = s.srv.Close() })
	mustExec(t, conn, "DROP MATERIALIZED VIEW v_vov")
	mustExec(t, conn, "DROP MATERIALIZED VIEW v_agg")
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		// Names only: the writer may remove a file between a listing and
		// a read of it.
		got := checkpointNames(t, ckptDir)
		if len(got) == len(want)-1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("checkpoints %v after dropping v_agg", got)
		}
	}
	// The restored views go on: more history, windows closing, the
	// table's rows changing; each must equal the same query created
	// afresh.
	insert(1000)
	mustExec(t, conn, "UPDATE users SET region = 'r0' WHERE id = 3")
	mustExec(t, conn, "DELETE FROM users WHERE id = 7")
	insert(500)
	rest := map[string]string{}
	for _, name := range names {
		if name != "v_vov" && name != "v_agg" {
			rest[name] = checkpointViews[name]
		}
	}
	compareWithFresh(t, s, conn, rest)
}

// compareWithFresh creates each query of views (by view name) again as
// fresh_<name> and checks that the view equals it.
func compareWithFresh(t *testing.T, s *checkpointServer, conn *pgx.Conn, views map[string]string) {
	t.Helper()
	for _, name := range mapKeys(views) {
		mustExec(t, conn, "CREATE MATERIALIZED VIEW fresh_"+name+" AS "+views[name])
	}
	s.syncViews(t)
	for _, name := range mapKeys(views) {
		got, want := rowsText(t, conn, "SELECT * FROM "+name), rowsText(t, conn, "SELECT * FROM fresh_"+name)
		if !slices.Equal(got, want) {
			t.Errorf("%s restored then stepped:\n%s\ncreated afresh:\n%s", name, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

// TestCheckpointRestoredViewsGoOn restores views from checkpoints older
// than the streams' history (and from before an ALTER STREAM ADD COLUMN,
// which computes the stream's views again), then feeds them more rows,
// closes windows and deletes and updates the table rows holding their
// minimums and maximums: every view must equal its query created afresh.
func TestCheckpointRestoredViewsGoOn(t *testing.T) {
	dir := t.TempDir()
	ckptDir := filepath.Join(dir, "checkpoints")
	s := startCheckpointServer(t, dir, time.Hour)
	conn := connect(t, s.srv)
	mustExec(t, conn, "CREATE STREAM s (k int, name text, v int, d numeric, ts timestamptz, WATERMARK FOR ts AS ts - INTERVAL '2 seconds')")
	mustExec(t, conn, "CREATE TABLE users (id int PRIMARY KEY, region text, score numeric)")
	for id := range 12 {
		mustExec(t, conn, "INSERT INTO users VALUES ($1, $2, $3)", id, fmt.Sprint("r", id%3), fmt.Sprintf("%d.%02d", id, id*7%100))
	}
	views := map[string]string{
		"v_mm":   "SELECT region, min(id) AS lo, max(id) AS hi, sum(score) AS s, max(score) AS ms FROM users GROUP BY region",
		"v_win":  "SELECT k, window_start, window_end, count(*) AS n, sum(d) AS sd FROM TUMBLE(s, ts, INTERVAL '1 second') GROUP BY k, window_start, window_end EMIT ON WINDOW CLOSE",
		"v_live": "SELECT name, window_end, count(*) AS n, min(v) AS low FROM TUMBLE(s, ts, INTERVAL '1 second') GROUP BY name, window_end",
		"v_join": "SELECT u.region, count(*) AS n, max(s.v) AS mv FROM s JOIN users u ON s.k = u.id GROUP BY u.region",
		"v_left": "SELECT u.id, u.region, s.v FROM users u LEFT JOIN s ON s.k = u.id AND s.v > 990",
		"v_dist": "SELECT DISTINCT k, name FROM s",
		"v_top":  "SELECT k, v FROM s ORDER BY v DESC, k LIMIT 3",
		"v_top2": "SELECT id, region FROM users ORDER BY score DESC LIMIT 2 OFFSET 1",
		// SELECT * takes the stream's columns at CREATE: the fresh view
		// names them.
		"v_star": "SELECT k, name, v, d, ts FROM s WHERE v > 980",
	}
	for _, name := range mapKeys(views) {
		q := views[name]
		if name == "v_star" {
			q = "SELECT * FROM s WHERE v > 980"
		}
		mustExec(t, conn, "CREATE MATERIALIZED VIEW "+name+" AS "+q)
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	row := 0
	extra := ""
	insert := func(n int) {
		for range n / 50 {
			var vals []string
			for range 50 {
				ts := base.Add(time.Duration(row) * 37 * time.Millisecond)
				vals = append(vals, fmt.Sprintf("(%d, 'n%d', %d, %d.%d, '%s'%s)", row%13, row%7, (row*7919)%1000, row%5, row%10, ts.Format(time.RFC3339Nano), extra))
				row++
			}
			mustExec(t, conn, "INSERT INTO s VALUES "+strings.Join(vals, ", "))
		}
	}
	insert(600)
	restart := func() {
		t.Helper()
		if err := s.srv.Close(); err != nil {
			t.Fatal(err)
		}
		s = startCheckpointServer(t, dir, time.Hour)
		conn = connect(t, s.srv)
	}
	// The shutdown's checkpoints, kept for later; then more history and a
	// new column.
	restart()
	if got := s.restored(); len(got) != len(views) {
		t.Errorf("restored %v, want every view of %v", got, mapKeys(views))
	}
	saved := readDir(t, ckptDir)
	insert(400)
	mustExec(t, conn, "ALTER STREAM s ADD COLUMN extra int")
	extra = ", 7"
	if err := s.srv.Close(); err != nil {
		t.Fatal(err)
	}
	writeDir(t, ckptDir, saved)
	s = startCheckpointServer(t, dir, time.Hour)
	t.Cleanup(func() { _ = s.srv.Close() })
	conn = connect(t, s.srv)
	// The stream's views are computed again (its columns changed); the
	// table's are restored.
	if got := s.restored(); !slices.Equal(got, []string{"v_mm", "v_top2"}) {
		t.Errorf("restored %v after ALTER STREAM ADD COLUMN, want the table's views only", got)
	}
	insert(1000)
	mustExec(t, conn, "DELETE FROM users WHERE id IN (0, 11, 10)")
	mustExec(t, conn, "UPDATE users SET score = 99.5 WHERE id = 4")
	mustExec(t, conn, "UPDATE users SET region = 'r1' WHERE id = 2")
	insert(500)
	compareWithFresh(t, s, conn, views)
}

// TestCheckpointRestoreManyGroups restores a view of more rows than an
// arrangement takes in bulk (Arrangement.load: its base's chunks of a page
// each become its pages), with text keys (the aggregate's in a block per
// page), then changes a third of its groups, deletes none and adds more:
// the view must equal its query created afresh after the restart and
// after the changes.
func TestCheckpointRestoreManyGroups(t *testing.T) {
	dir := t.TempDir()
	s := startCheckpointServer(t, dir, time.Hour)
	conn := connect(t, s.srv)
	mustExec(t, conn, "CREATE STREAM s (k int8, name text, v int8)")
	views := map[string]string{
		"v_many": "SELECT k, name, count(*) AS n, sum(v) AS total, max(v) AS top, min(v) AS low FROM s GROUP BY k, name",
	}
	mustExec(t, conn, "CREATE MATERIALIZED VIEW v_many AS "+views["v_many"])
	const groups = 3*4096 + 123
	mustExec(t, conn, fmt.Sprintf("INSERT INTO s SELECT i %% %[1]d, 'name-' || (i %% %[1]d), i * 7919 %% 100003 FROM generate_series(0, %[2]d) i", groups, 2*groups-1))
	s.syncViews(t)
	before := rowsText(t, conn, "SELECT * FROM v_many")
	if len(before) != groups {
		t.Fatalf("%d rows before the restart, want %d", len(before), groups)
	}
	s, conn = restartCheckpointServer(t, s, dir, time.Hour)
	if got := s.restored(); !slices.Equal(got, []string{"v_many"}) {
		t.Fatalf("restored %v, want v_many", got)
	}
	if after := rowsText(t, conn, "SELECT * FROM v_many"); !slices.Equal(after, before) {
		t.Fatalf("restored: %d rows, %d before the restart", len(after), len(before))
	}
	mustExec(t, conn, fmt.Sprintf("INSERT INTO s SELECT i, 'name-' || i, -i FROM generate_series(0, %d, 3) i", groups+500))
	compareWithFresh(t, s, conn, views)
}

// TestCheckpointIntervalJoinRestore restores interval joins and a join of
// two windowed aggregates from checkpoints older than both streams'
// history, then feeds them more: each must equal its query created afresh.
func TestCheckpointIntervalJoinRestore(t *testing.T) {
	dir := t.TempDir()
	ckptDir := filepath.Join(dir, "checkpoints")
	s := startCheckpointServer(t, dir, time.Hour)
	conn := connect(t, s.srv)
	mustExec(t, conn, "CREATE STREAM a (k int, v int, ts timestamptz, WATERMARK FOR ts AS ts - INTERVAL '1 second')")
	mustExec(t, conn, "CREATE STREAM b (k int, w int, ts timestamptz, WATERMARK FOR ts AS ts - INTERVAL '1 second')")
	views := map[string]string{
		"v_ij":  "SELECT a.k, a.v, b.w FROM a JOIN b ON a.k = b.k AND a.ts BETWEEN b.ts - INTERVAL '2 seconds' AND b.ts + INTERVAL '1 second'",
		"v_ija": "SELECT a.k, count(*) AS n, sum(b.w) AS sw FROM a JOIN b ON a.k = b.k AND a.ts BETWEEN b.ts - INTERVAL '2 seconds' AND b.ts + INTERVAL '1 second' GROUP BY a.k",
		"v_cl":  "SELECT x.k, x.we, x.n, y.m FROM (SELECT k, window_end AS we, count(*) AS n FROM TUMBLE(a, ts, INTERVAL '1 second') GROUP BY k, window_end) x JOIN (SELECT k, window_end AS we, max(w) AS m FROM TUMBLE(b, ts, INTERVAL '1 second') GROUP BY k, window_end) y ON x.k = y.k AND x.we = y.we",
	}
	createViews(t, conn, views)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	row := 0
	insert := func(n int) {
		for range n / 50 {
			var va, vb []string
			for range 50 {
				ts := base.Add(time.Duration(row) * 53 * time.Millisecond)
				tb := ts.Add(time.Duration((row*31)%1500) * time.Millisecond)
				va = append(va, fmt.Sprintf("(%d, %d, '%s')", row%5, row, ts.Format(time.RFC3339Nano)))
				vb = append(vb, fmt.Sprintf("(%d, %d, '%s')", row%5, row*3, tb.Format(time.RFC3339Nano)))
				row++
			}
			mustExec(t, conn, "INSERT INTO a VALUES "+strings.Join(va, ", "))
			mustExec(t, conn, "INSERT INTO b VALUES "+strings.Join(vb, ", "))
		}
	}
	insert(600)
	if err := s.srv.Close(); err != nil {
		t.Fatal(err)
	}
	saved := readDir(t, ckptDir)
	s = startCheckpointServer(t, dir, time.Hour)
	conn = connect(t, s.srv)
	insert(400)
	if err := s.srv.Close(); err != nil {
		t.Fatal(err)
	}
	writeDir(t, ckptDir, saved)
	s = startCheckpointServer(t, dir, time.Hour)
	t.Cleanup(func() { _ = s.srv.Close() })
	conn = connect(t, s.srv)
	if got := s.restored(); !slices.Equal(got, mapKeys(views)) {
		t.Errorf("restored %v, want every view of %v", got, mapKeys(views))
	}
	insert(500)
	compareWithFresh(t, s, conn, views)
}

// TestCheckpointRestartOtherTimeZone restarts a server under another
// default time zone: a view whose result depends on it (date_trunc('day')
// of a timestamptz) must be computed again, not restored, and equal the
// same view created afresh.
func TestCheckpointRestartOtherTimeZone(t *testing.T) {
	dir := t.TempDir()
	s := startCheckpointServer(t, dir, time.Hour)
	conn := connect(t, s.srv)
	mustExec(t, conn, "CREATE STREAM s (v int, ts timestamptz)")
	const query = "SELECT date_trunc('day', ts) AS d, count(*) AS n, sum(v) AS s FROM s GROUP BY date_trunc('day', ts)"
	mustExec(t, conn, "CREATE MATERIALIZED VIEW v_day AS "+query)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var vals []string
	for i := range 48 {
		vals = append(vals, fmt.Sprintf("(%d, '%s')", i, base.Add(time.Duration(i)*time.Hour).Format(time.RFC3339)))
	}
	mustExec(t, conn, "INSERT INTO s VALUES "+strings.Join(vals, ", "))
	if err := s.srv.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readDir(t, filepath.Join(dir, "checkpoints")); len(got) != 1 {
		t.Fatalf("checkpoints %v after a clean shutdown, want v_day's", mapKeys(got))
	}
	s = startCheckpointServer(t, dir, time.Hour, engine.WithDefaultTimeZone("America/New_York"))
	t.Cleanup(func() { _ = s.srv.Close() })
	conn = connect(t, s.srv)
	if got := s.restored(); len(got) != 0 {
		t.Errorf("restored %v under another time zone\n%s", got, s.log.String())
	}
	mustExec(t, conn, "CREATE MATERIALIZED VIEW v_fresh AS "+query)
	got, want := rowsText(t, conn, "SELECT * FROM v_day"), rowsText(t, conn, "SELECT * FROM v_fresh")
	if !slices.Equal(got, want) {
		t.Errorf("v_day after the restart:\n%s\ncreated afresh:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestCheckpointWriteFailureRetried makes one checkpoint's write fail (its
// directory is a file for a while): the view's next checkpoint must be
// written once the directory can be, though the view did not step since.
func TestCheckpointWriteFailureRetried(t *testing.T) {
	dir := t.TempDir()
	s := startCheckpointServer(t, dir, 20*time.Millisecond)
	t.Cleanup(func() { _ = s.srv.Close() })
	conn := connect(t, s.srv)
	mustExec(t, conn, "CREATE STREAM s (k int, v int)")
	mustExec(t, conn, "CREATE MATERIALIZED VIEW v_sum AS SELECT k, sum(v) AS s FROM s GROUP BY k")
	ckptDir := filepath.Join(dir, "checkpoints")
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no %s\n%s", what, s.log.String())
			}
		}
	}
	mustExec(t, conn, "INSERT INTO s VALUES (1, 1), (2, 2)")
	waitFor("first checkpoint", func() bool { return len(readDir(t, ckptDir)) == 1 })
	// The writer may be writing a file into the directory: it goes aside
	// whole (a rename, where RemoveAll could find it not empty) and a file
	// takes its place, again if the writer made the directory anew.
	aside := 0
	waitFor("checkpoint directory replaced by a file", func() bool {
		aside++
		_ = os.Rename(ckptDir, filepath.Join(dir, fmt.Sprint("checkpoints.aside", aside)))
		return os.WriteFile(ckptDir, nil, 0o644) == nil
	})
	mustExec(t, conn, "INSERT INTO s VALUES (1, 10)")
	waitFor("failed write", func() bool { return strings.Contains(s.log.String(), "checkpoint not written") })
	if err := os.Remove(ckptDir); err != nil {
		t.Fatal(err)
	}
	waitFor("checkpoint after the failed write", func() bool { return len(readDir(t, ckptDir)) == 1 })
}

// clickInserter returns an inserter of n rows at a time into stream s (k
// int, name text, v int, ts timestamptz), rows 37 ms apart, over
// *conn (which a restart replaces).
func clickInserter(t *testing.T, conn **pgx.Conn) func(n int) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	row := 0
	return func(n int) {
		t.Helper()
		insertRows(t, *conn, "s", &row, n, func(row int) string {
			ts := base.Add(time.Duration(row) * 37 * time.Millisecond)
			return fmt.Sprintf("(%d, 'n%d', %d, '%s')", row%10, row%7, (row*7919)%1000, ts.Format(time.RFC3339Nano))
		})
	}
}

// insertRows inserts n rows into table, 50 a statement: row i's values
// are values(i), from *next on, which it advances.
func insertRows(t *testing.T, conn *pgx.Conn, table string, next *int, n int, values func(i int) string) {
	t.Helper()
	for range n / 50 {
		var vals []string
		for range 50 {
			vals = append(vals, values(*next))
			*next++
		}
		mustExec(t, conn, "INSERT INTO "+table+" VALUES "+strings.Join(vals, ", "))
	}
}

// viewsText returns every view's rows as sorted text.
func viewsText(t *testing.T, conn *pgx.Conn, names []string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, name := range names {
		out[name] = rowsText(t, conn, "SELECT * FROM "+name)
	}
	return out
}

// checkpointNames lists the checkpoint files in dir.
func checkpointNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".ckpt") {
			out = append(out, e.Name())
		}
	}
	return out
}

// readDir returns the checkpoint bases in dir by name (nil if dir is
// missing).
func readDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	return readDirWhere(t, dir, func(name string) bool { return strings.HasSuffix(name, ".ckpt") })
}

// readDirWhere returns the files in dir whose names keep takes, by name
// (nil if dir is missing).
func readDirWhere(t *testing.T, dir string, keep func(name string) bool) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		if !keep(e.Name()) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

func writeDir(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadDir(dir)
	for _, e := range old {
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// createViews creates a materialized view of each query of views, named
// by its key, in the order of the names, which it returns.
func createViews(t *testing.T, conn *pgx.Conn, views map[string]string) []string {
	t.Helper()
	names := mapKeys(views)
	for _, name := range names {
		mustExec(t, conn, "CREATE MATERIALIZED VIEW "+name+" AS "+views[name])
	}
	return names
}

func mapKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// TestCheckpointDeltas restarts views from a base checkpoint and the
// deltas taken after it (aggregates, an interval join freeing rows, a
// join of windowed aggregates, DISTINCT, top-N), then from a
// chain with one delta damaged and another view's base of the format
// before deltas: those views are computed again, the others restored, and
// every view must equal its query created afresh.
func TestCheckpointDeltas(t *testing.T) {
	dir := t.TempDir()
	ckptDir := filepath.Join(dir, "checkpoints")
	s := startCheckpointServer(t, dir, 20*time.Millisecond)
	conn := connect(t, s.srv)
	mustExec(t, conn, "CREATE STREAM a (k int, v int, ts timestamptz, WATERMARK FOR ts AS ts - INTERVAL '1 second')")
	mustExec(t, conn, "CREATE STREAM b (k int, w int, ts timestamptz, WATERMARK FOR ts AS ts - INTERVAL '1 second')")
	views := map[string]string{
		"v_agg":  "SELECT k, count(*) AS n, sum(v) AS s, max(v) AS top FROM a GROUP BY k",
		"v_live": "SELECT k % 50 AS k, window_end, count(*) AS n, min(v) AS low FROM TUMBLE(a, ts, INTERVAL '1 second') GROUP BY k % 50, window_end",
		"v_ij":   "SELECT a.k, a.v, b.w FROM a JOIN b ON a.k = b.k AND a.ts BETWEEN b.ts - INTERVAL '2 seconds' AND b.ts + INTERVAL '1 second'",
		"v_cl":   "SELECT x.k, x.we, x.n, y.m FROM (SELECT k % 7 AS k, window_end AS we, count(*) AS n FROM TUMBLE(a, ts, INTERVAL '1 second') GROUP BY k % 7, window_end) x JOIN (SELECT k % 7 AS k, window_end AS we, max(w) AS m FROM TUMBLE(b, ts, INTERVAL '1 second') GROUP BY k % 7, window_end) y ON x.k = y.k AND x.we = y.we",
		"v_dist": "SELECT DISTINCT k % 5 AS k, v % 7 AS r FROM a",
		"v_top":  "SELECT k, count(*) AS n FROM a GROUP BY k ORDER BY n DESC, k LIMIT 5",
	}
	names := createViews(t, conn, views)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	row := 0
	insert := func(n int) {
		t.Helper()
		for range n / 50 {
			var va, vb []string
			for range 50 {
				// Keys spread over many aggregate pages: a batch
				// changes few of them.
				k := (row * 7919) % 5000
				ts := start.Add(time.Duration(row) * 5 * time.Millisecond)
				tb := ts.Add(time.Duration((row*31)%1500) * time.Millisecond)
				va = append(va, fmt.Sprintf("(%d, %d, '%s')", k, (row*7919)%1000, ts.Format(time.RFC3339Nano)))
				vb = append(vb, fmt.Sprintf("(%d, %d, '%s')", k, row*3, tb.Format(time.RFC3339Nano)))
				row++
			}
			mustExec(t, conn, "INSERT INTO a VALUES "+strings.Join(va, ", "))
			mustExec(t, conn, "INSERT INTO b VALUES "+strings.Join(vb, ", "))
		}
	}
	// deltas lists the delta files written since.
	deltas := func(since time.Time) []string {
		t.Helper()
		entries, err := os.ReadDir(ckptDir)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		var out []string
		for _, e := range entries {
			info, err := e.Info()
			if err == nil && strings.HasSuffix(e.Name(), ".delta") && info.ModTime().After(since) {
				out = append(out, e.Name())
			}
		}
		return out
	}
	// feed inserts rows in small batches, after the first, until deltas
	// are written.
	feed := func() {
		t.Helper()
		began := time.Now()
		insert(3000)
		for deadline := time.Now().Add(20 * time.Second); len(deltas(began)) < 4; {
			insert(50)
			time.Sleep(30 * time.Millisecond)
			if time.Now().After(deadline) {
				t.Fatalf("deltas %v\n%s", deltas(began), s.log.String())
			}
		}
		s.syncViews(t)
	}
	stop := func() {
		t.Helper()
		if err := s.srv.Close(); err != nil {
			t.Fatal(err)
		}
	}
	restart := func(interval time.Duration) {
		s = startCheckpointServer(t, dir, interval)
		conn = connect(t, s.srv)
	}
	feed()
	before := viewsText(t, conn, names)
	stop()
	// A chain that has grown to twice a base's size starts again with a
	// base: if every view's last checkpoint before the shutdown was one,
	// there is no delta to restore from, so feed again.
	for try := 1; len(deltas(time.Time{})) == 0; try++ {
		if try == 5 {
			t.Fatal("every view's chain had just started again at each of 5 shutdowns")
		}
		restart(20 * time.Millisecond)
		feed()
		before = viewsText(t, conn, names)
		stop()
	}
	restart(time.Hour)
	if got := s.restored(); !slices.Equal(got, names) {
		t.Errorf("restored %v, want %v\n%s", got, names, s.log.String())
	}
	if !regexp.MustCompile(`deltas=[1-9]`).MatchString(s.log.String()) {
		t.Errorf("no view restored from deltas\n%s", s.log.String())
	}
	after := viewsText(t, conn, names)
	for _, name := range names {
		if !slices.Equal(after[name], before[name]) {
			t.Errorf("%s after restart:\n%s\nbefore:\n%s", name, strings.Join(after[name], "\n"), strings.Join(before[name], "\n"))
		}
	}
	// Deltas again, then one damaged: its view is computed again.
	stop()
	restart(20 * time.Millisecond)
	feed()
	stop()
	ds := deltas(time.Time{})
	if len(ds) == 0 {
		t.Fatal("no delta left after the shutdown")
	}
	b, err := os.ReadFile(filepath.Join(ckptDir, ds[0]))
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x40
	if err := os.WriteFile(filepath.Join(ckptDir, ds[0]), b, 0o644); err != nil {
		t.Fatal(err)
	}
	// And another view's base of format 1 (before deltas; the checksum
	// covers the payload only, so the format is what refuses it).
	damagedView, _, _ := strings.Cut(ds[0], ".")
	old := ""
	for name := range readDir(t, ckptDir) {
		if !strings.HasPrefix(name, damagedView+".") {
			old = name
		}
	}
	b, err = os.ReadFile(filepath.Join(ckptDir, old))
	if err != nil {
		t.Fatal(err)
	}
	b[8] = 1
	if err := os.WriteFile(filepath.Join(ckptDir, old), b, 0o644); err != nil {
		t.Fatal(err)
	}
	restart(time.Hour)
	t.Cleanup(func() { _ = s.srv.Close() })
	if got := s.restored(); len(got) != len(names)-2 {
		t.Errorf("restored %v with a delta damaged and a base of format 1, want all but two of %v\n%s", got, names, s.log.String())
	}
	if n := strings.Count(s.log.String(), "checkpoint not used"); n != 2 || !strings.Contains(s.log.String(), "format 1, want 3") {
		t.Errorf("%d checkpoints reported unused, want 2, one of format 1\n%s", n, s.log.String())
	}
	insert(500)
	compareWithFresh(t, s, conn, views)
}

// TestCheckpointChainFollowsState checks when a view's chain of deltas
// ends: a view whose state only grows (a thousand new groups a batch)
// takes deltas after its one base, though they add up to more than the
// base; a view whose few groups all change every batch writes each delta
// over the one before, and takes a new base once its chain holds twice
// its state. A view's rows count too: a view with no state over a stream
// takes deltas of its new rows, one over a table whose every row changes
// each batch takes new bases (its changes, a retraction and an insertion
// per row, would soon outweigh its rows). All restore to what they were.
func TestCheckpointChainFollowsState(t *testing.T) {
	dir := t.TempDir()
	ckptDir := filepath.Join(dir, "checkpoints")
	s := startCheckpointServer(t, dir, 20*time.Millisecond)
	conn := connect(t, s.srv)
	ctx := context.Background()
	mustExec(t, conn, "CREATE STREAM a (k int, v int)")
	mustExec(t, conn, "CREATE TABLE t (k int PRIMARY KEY, v int)")
	mustExec(t, conn, "INSERT INTO t SELECT g, 0 FROM generate_series(1, 500) g")
	views := map[string]string{
		"v_grow":  "SELECT k, count(*) AS n, sum(v) AS s FROM a GROUP BY k",
		"v_churn": "SELECT k % 10 AS g, count(*) AS n, sum(v) AS s FROM a GROUP BY k % 10",
		// A thirteenth of the rows: a view keeping most would not be
		// checkpointed (TestCheckpointSkipsReplayableViews).
		"v_pass":  "SELECT k, v FROM a WHERE v = 0",
		"v_table": "SELECT k, v FROM t WHERE v >= 0",
	}
	names := mapKeys(views)
	ids := map[string]string{}
	for _, name := range names {
		mustExec(t, conn, "CREATE MATERIALIZED VIEW "+name+" AS "+views[name])
		var oid uint32
		if err := conn.QueryRow(ctx, "SELECT oid FROM pg_class WHERE relname = $1", name).Scan(&oid); err != nil {
			t.Fatal(err)
		}
		ids[name] = strconv.FormatUint(uint64(oid), 10)
	}
	k := 0
	insert := func() {
		t.Helper()
		var vals []string
		for range 1000 {
			vals = append(vals, fmt.Sprintf("(%d, %d)", k, k%13))
			k++
		}
		mustExec(t, conn, "INSERT INTO a VALUES "+strings.Join(vals, ", "))
		mustExec(t, conn, "UPDATE t SET v = v + 1")
	}
	base := func(name string) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(ckptDir, ids[name]+".ckpt"))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		return b
	}
	hasDelta := func(name string, n int) bool {
		_, err := os.Stat(filepath.Join(ckptDir, fmt.Sprintf("%s.%d.delta", ids[name], n)))
		return err == nil
	}
	// Feed until v_grow has a first delta; its base from then on must
	// stay, through 8 deltas, while v_churn's is replaced.
	var growBase, passBase []byte
	churnBases, tableBases := map[string]bool{}, map[string]bool{}
	for deadline := time.Now().Add(30 * time.Second); !hasDelta("v_grow", 8) || !hasDelta("v_pass", 8); {
		insert()
		time.Sleep(30 * time.Millisecond)
		if b := base("v_churn"); b != nil {
			churnBases[string(b)] = true
		}
		if b := base("v_table"); b != nil {
			tableBases[string(b)] = true
		}
		if growBase == nil && hasDelta("v_grow", 1) {
			growBase = base("v_grow")
		}
		if growBase != nil && !bytes.Equal(base("v_grow"), growBase) {
			t.Fatalf("v_grow took a new base after %d rows, its state only grew\n%s", k, s.log.String())
		}
		if passBase == nil && hasDelta("v_pass", 1) {
			passBase = base("v_pass")
		}
		if passBase != nil && !bytes.Equal(base("v_pass"), passBase) {
			t.Fatalf("v_pass took a new base after %d rows, its rows only grew\n%s", k, s.log.String())
		}
		if time.Now().After(deadline) {
			t.Fatalf("v_grow has no 8th delta after %d rows\n%s", k, s.log.String())
		}
	}
	if len(churnBases) < 2 {
		t.Errorf("v_churn kept one base through v_grow's 8 deltas, its chain writes the same groups over")
	}
	if len(tableBases) < 2 {
		t.Errorf("v_table kept one base through v_grow's 8 deltas, its chain changes every row again and again")
	}
	s.syncViews(t)
	before := viewsText(t, conn, names)
	s, conn = restartCheckpointServer(t, s, dir, 20*time.Millisecond)
	if got := s.restored(); !slices.Equal(got, names) {
		t.Errorf("restored %v, want %v\n%s", got, names, s.log.String())
	}
	after := viewsText(t, conn, names)
	for _, name := range names {
		if !slices.Equal(after[name], before[name]) {
			t.Errorf("%s after restart: %d rows, before: %d", name, len(after[name]), len(before[name]))
		}
	}
}

// A view whose few groups all change every batch writes each delta over
// the whole state: such a delta would end a chain holding twice the state,
// so a base is taken in its place, every time (a restart reads its state
// once); an idle view takes nothing.
func TestCheckpointChainEndsWhenIdle(t *testing.T) {
	dir := t.TempDir()
	ckptDir := filepath.Join(dir, "checkpoints")
	s := startCheckpointServer(t, dir, 20*time.Millisecond)
	conn := connect(t, s.srv)
	mustExec(t, conn, "CREATE STREAM a (k int, v int)")
	// Every group is in the view's first base: each change after it
	// rewrites its one page.
	mustExec(t, conn, "INSERT INTO a SELECT g, g % 7 FROM generate_series(0, 99) g")
	mustExec(t, conn, "CREATE MATERIALIZED VIEW v_churn AS SELECT k % 10 AS g, count(*) AS n, sum(v) AS s FROM a GROUP BY k % 10")
	var oid uint32
	if err := conn.QueryRow(context.Background(), "SELECT oid FROM pg_class WHERE relname = 'v_churn'").Scan(&oid); err != nil {
		t.Fatal(err)
	}
	files := func() []string {
		t.Helper()
		entries, err := os.ReadDir(ckptDir)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), fmt.Sprint(oid, ".")) && !strings.HasSuffix(e.Name(), ".tmp") {
				names = append(names, e.Name())
			}
		}
		return names
	}
	hasDelta := func() bool {
		return slices.ContainsFunc(files(), func(n string) bool { return strings.HasSuffix(n, ".delta") })
	}
	readBase := func() []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(ckptDir, fmt.Sprint(oid, ".ckpt")))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		return b
	}
	k := 100
	bases := map[string]bool{}
	for deadline := time.Now().Add(20 * time.Second); len(bases) < 5; {
		mustExec(t, conn, fmt.Sprintf("INSERT INTO a SELECT g, g %% 7 FROM generate_series(%d, %d) g", k, k+99))
		k += 100
		time.Sleep(30 * time.Millisecond)
		if hasDelta() {
			t.Fatalf("a delta rewriting every group was written after %d rows: %v\n%s", k, files(), s.log.String())
		}
		if b := readBase(); b != nil {
			bases[string(b)] = true
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d bases after %d rows: %v\n%s", len(bases), k, files(), s.log.String())
		}
	}
	// Idle now: the last checkpoint holds every change; none follows it.
	// Under load that checkpoint may land well after the interval, so the
	// base is first waited for to hold still for half a second.
	s.syncViews(t)
	base := readBase()
	for still, deadline := time.Now(), time.Now().Add(20*time.Second); time.Since(still) < 500*time.Millisecond; {
		time.Sleep(50 * time.Millisecond)
		if b := readBase(); !bytes.Equal(b, base) {
			base, still = b, time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("the idle view's base kept changing: %v", files())
		}
	}
	time.Sleep(300 * time.Millisecond)
	if again := readBase(); !bytes.Equal(base, again) || hasDelta() {
		t.Fatalf("the idle view took checkpoints after its base: %v", files())
	}
	before := viewsText(t, conn, []string{"v_churn"})
	s, conn = restartCheckpointServer(t, s, dir, time.Hour)
	if got := s.restored(); !slices.Equal(got, []string{"v_churn"}) {
		t.Fatalf("restored %v\n%s", got, s.log.String())
	}
	if after := viewsText(t, conn, []string{"v_churn"}); !slices.Equal(after["v_churn"], before["v_churn"]) {
		t.Fatalf("after restart:\n%s\nbefore:\n%s", strings.Join(after["v_churn"], "\n"), strings.Join(before["v_churn"], "\n"))
	}
}

// TestCheckpointSkipsReplayableViews: a stateless view over a stream that
// keeps most of the rows it reads is not checkpointed (a restart replays
// the stream's history), one that keeps few is, and one that turns
// selective is checkpointed again; after a restart every view is as
// before and goes on like its query created afresh.
func TestCheckpointSkipsReplayableViews(t *testing.T) {
	dir := t.TempDir()
	ckptDir := filepath.Join(dir, "checkpoints")
	s := startCheckpointServer(t, dir, 20*time.Millisecond)
	conn := connect(t, s.srv)
	views := map[string]string{
		"v_all":  "SELECT k, v * 2 AS w FROM s",
		"v_few":  "SELECT k, v FROM s WHERE v < 10",
		"v_turn": "SELECT k FROM s WHERE k < 500 OR v < 10",
	}
	mustExec(t, conn, "CREATE STREAM s (k int, v int)")
	createViews(t, conn, views)
	oid := func(name string) uint32 {
		t.Helper()
		var id uint32
		if err := conn.QueryRow(context.Background(), "SELECT oid FROM pg_class WHERE relname = $1", name).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	has := func(name string) bool {
		_, err := os.Stat(filepath.Join(ckptDir, fmt.Sprint(oid(name), ".ckpt")))
		return err == nil
	}
	// v = k·7919 mod 1000 is below 10 for 1 % of the rows; k < 500 holds
	// for all of the first 500 rows, then for none.
	insert := func(lo, hi int) {
		mustExec(t, conn, fmt.Sprintf("INSERT INTO s SELECT g, g * 7919 %% 1000 FROM generate_series(%d, %d) g", lo, hi))
	}
	insert(0, 999)
	for deadline := time.Now().Add(20 * time.Second); !has("v_few"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint of v_few: %v\n%s", checkpointNames(t, ckptDir), s.log.String())
		}
	}
	// Past many intervals, the views keeping most of what they read have
	// none.
	s.syncViews(t)
	time.Sleep(200 * time.Millisecond)
	if has("v_all") || has("v_turn") {
		t.Fatalf("checkpoints %v: v_all (%d) and v_turn (%d) keep half their rows or more\n%s", checkpointNames(t, ckptDir), oid("v_all"), oid("v_turn"), s.log.String())
	}
	// v_turn keeps 500 of 1000 rows; of 8000 more it keeps 80.
	insert(1000, 8999)
	for deadline := time.Now().Add(20 * time.Second); !has("v_turn"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint of v_turn once it keeps few rows: %v\n%s", checkpointNames(t, ckptDir), s.log.String())
		}
	}
	if !strings.Contains(s.log.String(), `view checkpointed again: it keeps few of the rows it reads" view=v_turn`) {
		t.Errorf("v_turn's return to checkpoints not logged\n%s", s.log.String())
	}
	insert(9000, 9999)
	s.syncViews(t)
	names := mapKeys(views)
	before := viewsText(t, conn, names)
	conn.Close(context.Background())
	s, conn = restartCheckpointServer(t, s, dir, 20*time.Millisecond)
	if got := s.restored(); !slices.Equal(got, []string{"v_few", "v_turn"}) {
		t.Errorf("restored %v, want v_few and v_turn\n%s", got, s.log.String())
	}
	s.syncViews(t)
	after := viewsText(t, conn, names)
	for _, name := range names {
		if !slices.Equal(after[name], before[name]) {
			t.Errorf("%s after restart: %d rows, before %d", name, len(after[name]), len(before[name]))
		}
	}
	insert(10000, 10999)
	compareWithFresh(t, s, conn, views)
}

// behindViews are the views of TestCheckpointRestoreBehind, by name: an
// aggregate keyed by text (as bench restart's), windows closing and live,
// a stream×table join, top-N, DISTINCT, and a view of a view.
var behindViews = map[string]string{
	"v_agg":  "SELECT k, name, count(*) AS n, sum(v) AS total, max(v) AS top, min(v) AS low FROM s GROUP BY k, name",
	"v_win":  "SELECT k, window_start, window_end, count(*) AS n FROM TUMBLE(s, ts, INTERVAL '1 second') GROUP BY k, window_start, window_end EMIT ON WINDOW CLOSE",
	"v_live": "SELECT name, window_end, count(*) AS n, min(v) AS low FROM TUMBLE(s, ts, INTERVAL '1 second') GROUP BY name, window_end",
	"v_join": "SELECT u.region, count(*) AS n, max(s.v) AS mv FROM s JOIN users u ON s.k = u.id GROUP BY u.region",
	"v_top":  "SELECT k, v FROM s ORDER BY v DESC, k LIMIT 3",
	"v_dist": "SELECT DISTINCT name FROM s",
	"v_vov":  "SELECT sum(n) AS n, count(*) AS groups FROM v_agg",
}

// viewWatermarks returns SHOW WATERMARKS' watermark of each materialized
// view, by name.
func viewWatermarks(t *testing.T, conn *pgx.Conn) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, r := range shownWatermarks(t, conn) {
		if r.kind == "materialized view" && r.w != nil {
			out[r.name] = *r.w
		}
	}
	return out
}

// TestCheckpointRestoreBehind restarts from a clean shutdown's
// checkpoints, which hold every row of the stream: each checkpointed view
// serves its rows before its operators' state is restored behind
// (resumeBehind). The views must be as before the restart at once, their
// watermarks as before once the state is in (the view of a view, which
// starts after, needs its source's), and then, fed more rows and table
// changes while the state may still be restoring, equal to their queries
// created afresh; a view dropped at once after a restart goes.
func TestCheckpointRestoreBehind(t *testing.T) {
	dir := t.TempDir()
	s := startCheckpointServer(t, dir, time.Hour)
	conn := connect(t, s.srv)
	mustExec(t, conn, "CREATE STREAM s (k int, name text, v int, ts timestamptz, WATERMARK FOR ts AS ts - INTERVAL '2 seconds')")
	mustExec(t, conn, "CREATE TABLE users (id int PRIMARY KEY, region text)")
	for id := range 10 {
		mustExec(t, conn, "INSERT INTO users VALUES ($1, $2)", id, fmt.Sprint("r", id%3))
	}
	names := createViews(t, conn, behindViews)
	insert := clickInserter(t, &conn)
	insert(3000)
	s.syncViews(t)
	before, wmBefore := viewsText(t, conn, names), viewWatermarks(t, conn)
	if len(before["v_win"]) < 10 || wmBefore["v_win"] == "" {
		t.Fatalf("only %d windows closed, watermark %q", len(before["v_win"]), wmBefore["v_win"])
	}
	restart := func() {
		t.Helper()
		conn.Close(context.Background())
		if err := s.srv.Close(); err != nil {
			t.Fatal(err)
		}
		s = startCheckpointServer(t, dir, time.Hour)
		conn = connect(t, s.srv)
		checkpointed := []string{"v_agg", "v_dist", "v_join", "v_live", "v_top", "v_win"}
		behind := regexp.MustCompile(`view restored from its checkpoint" view=(\w+) .* state_behind=true`).FindAllStringSubmatch(s.log.String(), -1)
		if len(behind) != len(checkpointed) {
			t.Fatalf("%d views restored behind, want %v\n%s", len(behind), checkpointed, s.log.String())
		}
	}
	restart()
	after := viewsText(t, conn, names)
	for _, name := range names {
		if !slices.Equal(after[name], before[name]) {
			t.Errorf("%s after restart:\n%s\nbefore:\n%s", name, strings.Join(after[name], "\n"), strings.Join(before[name], "\n"))
		}
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		got := viewWatermarks(t, conn)
		if maps.Equal(got, wmBefore) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("views' watermarks after restart %v, want %v", got, wmBefore)
		}
	}
	// Changes at once after a restart: the steps wait for the state.
	restart()
	insert(1000)
	mustExec(t, conn, "UPDATE users SET region = 'r9' WHERE id = 1")
	mustExec(t, conn, "DELETE FROM users WHERE id = 2")
	insert(500)
	restart()
	t.Cleanup(func() { _ = s.srv.Close() })
	mustExec(t, conn, "DROP MATERIALIZED VIEW v_dist")
	insert(500)
	views := maps.Clone(behindViews)
	delete(views, "v_dist")
	compareWithFresh(t, s, conn, views)
}

// TestCheckpointDeltasSettledInLoad restarts a keyed view of more groups
// than an arrangement loads in bulk, from a base and deltas that change
// groups spread over its pages and add one each (once, a delta of no
// page on a worker stopped the view: TestCheckpointDeltaOfNoPageRestores
// takes that chain deterministically): the restore hands the
// base's rows and the deltas' changes to the arrangement unconsolidated,
// its load settles them key by key, and the view must read as before the
// restart, by scans and point lookups, and take changes after.
func TestCheckpointDeltasSettledInLoad(t *testing.T) {
	dir := t.TempDir()
	ckptDir := filepath.Join(dir, "checkpoints")
	s := startCheckpointServer(t, dir, 20*time.Millisecond)
	conn := connect(t, s.srv)
	mustExec(t, conn, "CREATE STREAM e (k int8, v int8)")
	names := createViews(t, conn, map[string]string{"v_big": "SELECT k, count(*) AS n, sum(v) AS s, max(v) AS top FROM e GROUP BY k"})
	mustExec(t, conn, "INSERT INTO e SELECT i, i FROM generate_series(1, 20000) i")
	s.syncViews(t)
	hasFile := func(suffix string) bool {
		entries, _ := os.ReadDir(ckptDir)
		return slices.ContainsFunc(entries, func(e os.DirEntry) bool { return strings.HasSuffix(e.Name(), suffix) })
	}
	for deadline := time.Now().Add(20 * time.Second); !hasFile(".ckpt"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no base written\n%s", s.log.String())
		}
	}
	for round := 1; !hasFile(".delta"); round++ {
		if round == 200 {
			t.Fatalf("no delta written\n%s", s.log.String())
		}
		mustExec(t, conn, fmt.Sprintf("INSERT INTO e SELECT i * 37 %% 20000 + 1, %d FROM generate_series(%d, %d) i", round, round*50, round*50+49))
		mustExec(t, conn, fmt.Sprintf("INSERT INTO e VALUES (%d, 1)", 20000+round))
		time.Sleep(30 * time.Millisecond)
	}
	s.syncViews(t)
	before := viewsText(t, conn, names)
	s, conn = restartCheckpointServer(t, s, dir, time.Hour)
	if got := s.restored(); !slices.Equal(got, names) || !regexp.MustCompile(`view=v_big rows=\d+ .*deltas=[1-9]`).MatchString(s.log.String()) {
		t.Fatalf("restored %v, want %v from a base and deltas\n%s", got, names, s.log.String())
	}
	if after := viewsText(t, conn, names); !slices.Equal(after["v_big"], before["v_big"]) {
		t.Fatalf("after the restart %d rows, before %d", len(after["v_big"]), len(before["v_big"]))
	}
	for _, k := range []int{1, 38, 20000} {
		q := fmt.Sprintf("SELECT k, n, s, top FROM v_big WHERE k = %d", k)
		got, want := rowsText(t, conn, q), rowsText(t, conn, fmt.Sprintf("SELECT k, count(*), sum(v), max(v) FROM e WHERE k = %d GROUP BY k", k))
		if !slices.Equal(got, want) {
			t.Fatalf("%s: %v, want %v", q, got, want)
		}
	}
	mustExec(t, conn, "INSERT INTO e VALUES (38, 1000), (30000, 1)")
	s.syncViews(t)
	got := rowsText(t, conn, "SELECT k, n, s, top FROM v_big WHERE k IN (38, 30000) ORDER BY k")
	want := rowsText(t, conn, "SELECT k, count(*), sum(v), max(v) FROM e WHERE k IN (38, 30000) GROUP BY k ORDER BY k")
	if !slices.Equal(got, want) {
		t.Fatalf("after changes: %v, want %v", got, want)
	}
}

// TestCheckpointRowsTextInMapping restarts views with text columns (in a
// key and not, empty, NULL and of 100 KB) from a base and a delta: their
// strings are read in place from the checkpoint files' mappings, which
// must outlive them. The rows must read as before once the operators'
// state is restored behind (when the files are released), after a
// collection, and after later checkpoints replace the files the rows
// were read from; a mapping released too early faults.
func TestCheckpointRowsTextInMapping(t *testing.T) {
	dir := t.TempDir()
	ckptDir := filepath.Join(dir, "checkpoints")
	s := startCheckpointServer(t, dir, 20*time.Millisecond)
	conn := connect(t, s.srv)
	mustExec(t, conn, "CREATE STREAM e (k int8, name text, note text)")
	names := createViews(t, conn, map[string]string{
		"v_named": "SELECT name, count(*) AS n, max(note) AS note FROM e GROUP BY name",
		"v_notes": "SELECT k, note, count(*) AS n FROM e GROUP BY k, note",
	})
	mustExec(t, conn, "INSERT INTO e SELECT i, 'name-' || i, CASE i % 3 WHEN 0 THEN '' WHEN 1 THEN NULL ELSE repeat('x', i % 50) END FROM generate_series(1, 5000) i")
	mustExec(t, conn, "INSERT INTO e VALUES (0, '', repeat('big', 34000)), (-1, NULL, NULL)")
	s.syncViews(t)
	base := func() string {
		entries, _ := os.ReadDir(ckptDir)
		for _, e := range entries {
			if info, err := e.Info(); err == nil && strings.HasSuffix(e.Name(), ".ckpt") {
				return fmt.Sprint(e.Name(), info.ModTime().UnixNano(), info.Size())
			}
		}
		return ""
	}
	for deadline := time.Now().Add(20 * time.Second); base() == ""; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no base written\n%s", s.log.String())
		}
	}
	mustExec(t, conn, "INSERT INTO e SELECT i, 'name-' || i, 'changed' FROM generate_series(1, 5000, 97) i")
	s.syncViews(t)
	time.Sleep(100 * time.Millisecond)
	before := viewsText(t, conn, names)

	s, conn = restartCheckpointServer(t, s, dir, 20*time.Millisecond)
	if got := s.restored(); !slices.Equal(got, names) {
		t.Fatalf("restored %v, want %v\n%s", got, names, s.log.String())
	}
	for deadline := time.Now().Add(20 * time.Second); strings.Count(s.log.String(), "state restored behind") < len(names); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the views' state was not restored behind\n%s", s.log.String())
		}
	}
	runtime.GC()
	if after := viewsText(t, conn, names); !maps.EqualFunc(after, before, slices.Equal) {
		t.Fatalf("after the restart and the files' release:\n%v\nbefore:\n%v", after, before)
	}
	// Later bases replace (and remove) the files the rows were read from.
	replaced := base()
	for round := 1; base() == replaced; round++ {
		if round == 500 {
			t.Fatalf("no new base written\n%s", s.log.String())
		}
		mustExec(t, conn, fmt.Sprintf("INSERT INTO e VALUES (%d, 'later', 'row')", round))
		time.Sleep(20 * time.Millisecond)
	}
	runtime.GC()
	after := viewsText(t, conn, names)
	for _, name := range names {
		later := slices.DeleteFunc(after[name], func(row string) bool { return strings.Contains(row, "later") || strings.HasSuffix(row, " row 1") })
		if !slices.Equal(later, before[name]) {
			t.Fatalf("%s after new bases differs from before the restart", name)
		}
	}
}
