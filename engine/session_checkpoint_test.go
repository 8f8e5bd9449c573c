package engine_test

import (
	"bytes"
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// sessionCheckpointViews are the views of TestSessionViewsRestartFromCheckpoints:
// a session window's rows, its sessions as changes and its sessions EMIT
// ON WINDOW CLOSE, partitioned by a key that is NULL at times, and the
// sessions of the whole stream (one partition).
var sessionCheckpointViews = map[string]string{
	"v_sess_rows":  "SELECT * FROM SESSION(s, ts, INTERVAL '1 second', k)",
	"v_sess_live":  "SELECT k, window_start, window_end, count(*) AS n, sum(v) AS total FROM SESSION(s, ts, INTERVAL '1 second', k) GROUP BY k, window_start, window_end",
	"v_sess_final": "SELECT k, window_start, window_end, count(*) AS n, max(v) AS top FROM SESSION(s, ts, INTERVAL '1 second', k) GROUP BY k, window_start, window_end EMIT ON WINDOW CLOSE",
	"v_sess_all":   "SELECT window_start, window_end, count(*) AS n FROM SESSION(s, ts, INTERVAL '300 milliseconds') GROUP BY window_start, window_end",
}

// TestSessionViewsRestartFromCheckpoints restarts a server whose views
// have session windows from checkpoints (a base and deltas) older than
// the stream's history, as a crash leaves them, then from those of a
// clean shutdown: each view must be restored from its checkpoint, not
// computed again, replaying the history after it in the first case, and
// must equal its query run in batch over the stream's history (the
// closed sessions, up to the view's watermark, for EMIT ON WINDOW CLOSE),
// and after more rows the same query created afresh. The rows come out
// of time order within the watermark's delay, so that sessions open at a
// checkpoint extend and merge after it.
func TestSessionViewsRestartFromCheckpoints(t *testing.T) {
	dir := t.TempDir()
	s := startCheckpointServer(t, dir, 20*time.Millisecond)
	conn := connect(t, s.srv)
	mustExec(t, conn, "CREATE STREAM s (k int, v int, ts timestamptz, WATERMARK FOR ts AS ts - INTERVAL '2 seconds')")
	names := createViews(t, conn, sessionCheckpointViews)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	row := 0
	// Rows 50 ms apart on average, jittered by up to 1.5 s, over four keys
	// and NULL; every 40th row is followed by a pause that ends sessions.
	insert := func(n int) {
		insertRows(t, conn, "s", &row, n, func(row int) string {
			at := time.Duration(row)*50*time.Millisecond + time.Duration(row/40)*3*time.Second +
				time.Duration((row*7919)%1500)*time.Millisecond
			k := "NULL"
			if row%5 > 0 {
				k = fmt.Sprint(row % 5)
			}
			return fmt.Sprintf("(%s, %d, '%s')", k, (row*31)%100, base.Add(at).Format(time.RFC3339Nano))
		})
	}
	insert(1500)
	ckptDir := filepath.Join(dir, "checkpoints")
	var saved map[string][]byte
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		saved = readDir(t, ckptDir)
		if len(saved) == len(names) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("checkpoints %v, want one per view of %v\n%s", mapKeys(saved), names, s.log.String())
		}
	}
	// The deltas too: a crash leaves a base and a prefix of its deltas.
	// Rows after the bases make the next checkpoints deltas (the bases may
	// have come after every row above). Two reads alike are one state of
	// the directory: a base replacing a chain is renamed into place before
	// the chain's deltas are removed.
	for deadline := time.Now().Add(20 * time.Second); ; {
		insert(100)
		time.Sleep(30 * time.Millisecond)
		saved = readAll(t, ckptDir)
		if slices.ContainsFunc(mapKeys(saved), func(name string) bool { return strings.HasSuffix(name, ".delta") }) &&
			maps.EqualFunc(saved, readAll(t, ckptDir), bytes.Equal) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no delta among checkpoints %v\n%s", mapKeys(saved), s.log.String())
		}
	}
	insert(1500)
	s.syncViews(t)
	// checkBatch checks each view against its query run in batch.
	checkBatch := func(when string) {
		t.Helper()
		wm, _ := s.srv.Engine().ViewWatermarks()["v_sess_final"].(int64)
		for _, name := range names {
			query, args := sessionCheckpointViews[name], []any{}
			if name == "v_sess_final" {
				query = strings.Replace(strings.TrimSuffix(query, " EMIT ON WINDOW CLOSE"), " GROUP BY", " WHERE window_end <= $1 GROUP BY", 1)
				args = append(args, time.UnixMicro(wm))
			}
			got, want := rowsText(t, conn, "SELECT * FROM "+name), rowsText(t, conn, query, args...)
			if !slices.Equal(got, want) {
				t.Errorf("%s %s: %d rows\n%s\nbatch: %d rows\n%s", name, when, len(got), strings.Join(got, "\n"), len(want), strings.Join(want, "\n"))
			}
		}
		if n := len(rowsText(t, conn, "SELECT * FROM v_sess_final")); n < 20 {
			t.Fatalf("only %d sessions closed %s", n, when)
		}
	}
	checkBatch("before the restarts")
	restart := func(interval time.Duration, between func()) {
		t.Helper()
		if err := s.srv.Close(); err != nil {
			t.Fatal(err)
		}
		between()
		s = startCheckpointServer(t, dir, interval)
		conn = connect(t, s.srv)
		if got := s.restored(); !slices.Equal(got, names) {
			t.Errorf("restored %v, want %v\n%s", got, names, s.log.String())
		}
		s.syncViews(t)
	}
	restart(20*time.Millisecond, func() { writeDir(t, ckptDir, saved) })
	if !regexp.MustCompile(`view=v_sess_rows rows=\d+ stream_rows_replayed=[1-9]`).MatchString(s.log.String()) {
		t.Errorf("v_sess_rows restored without replaying the stream's rows after its checkpoint\n%s", s.log.String())
	}
	if !regexp.MustCompile(`view=v_sess_\w+ rows=\d+ stream_rows_replayed=\d+ deltas=[1-9]`).MatchString(s.log.String()) {
		t.Errorf("no session view restored from a base and deltas\n%s", s.log.String())
	}
	checkBatch("restored from older checkpoints")
	insert(1000)
	s.syncViews(t)
	restart(time.Hour, func() {})
	checkBatch("restored from a clean shutdown's checkpoints")
	t.Cleanup(func() { _ = s.srv.Close() })
	insert(1000)
	compareWithFresh(t, s, conn, sessionCheckpointViews)
	checkBatch("restored, then stepped")
}

// readAll returns the checkpoint files in dir by name, bases and deltas:
// all but those being written.
func readAll(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	return readDirWhere(t, dir, func(name string) bool { return !strings.HasSuffix(name, ".tmp") })
}
