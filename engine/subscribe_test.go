package engine_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"
	"go.uber.org/goleak"

	"github.com/sluice-db/sluice/server"
)

// startSubscribeServer starts a server with a stream of rides and a view
// counting them by city: a=2, b=1.
func startSubscribeServer(t *testing.T) (*server.Server, *pgx.Conn) {
	t.Helper()
	srv, err := server.Start(context.Background(), server.Config{PGAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", DataDir: t.TempDir(), Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	conn := connect(t, srv)
	mustExec(t, conn, "CREATE STREAM rides (city text, fare int)")
	mustExec(t, conn, "CREATE MATERIALIZED VIEW counts AS SELECT city, count(*) AS n FROM rides GROUP BY city")
	mustExec(t, conn, "INSERT INTO rides VALUES ('a', 1), ('a', 2), ('b', 3)")
	if err := srv.Engine().SyncViews(context.Background()); err != nil {
		t.Fatal(err)
	}
	return srv, conn
}

// change is one SUBSCRIBE row: epoch, diff and the view's row as text.
type change struct {
	epoch int64
	diff  int32
	row   string
}

// scanChange scans the current row of a SUBSCRIBE of counts.
func scanChange(t *testing.T, rows pgx.Rows) change {
	t.Helper()
	var c change
	var city string
	var count int64
	if err := rows.Scan(&c.epoch, &c.diff, &city, &count); err != nil {
		t.Fatal(err)
	}
	c.row = fmt.Sprintf("%s=%d", city, count)
	return c
}

// readChanges reads n rows of a SUBSCRIBE of counts.
func readChanges(t *testing.T, rows pgx.Rows, n int) []change {
	t.Helper()
	var out []change
	for len(out) < n && rows.Next() {
		out = append(out, scanChange(t, rows))
	}
	if len(out) < n {
		t.Fatalf("got %d of %d rows: %v", len(out), n, rows.Err())
	}
	return out
}

// diffs renders changes without their epochs, sorted: "+a=2 -b=1".
func diffs(cs []change) string {
	var s []string
	for _, c := range cs {
		s = append(s, fmt.Sprintf("%+d%s", c.diff, c.row))
	}
	slices.Sort(s)
	return strings.Join(s, " ")
}

// sameEpoch checks that cs share one epoch and returns it.
func sameEpoch(t *testing.T, cs []change) int64 {
	t.Helper()
	for _, c := range cs {
		if c.epoch != cs[0].epoch {
			t.Fatalf("rows of one change in different epochs: %v", cs)
		}
	}
	return cs[0].epoch
}

func TestSubscribe(t *testing.T) {
	srv, conn := startSubscribeServer(t)
	ctx := context.Background()
	// Every subscription below ends with its temporary view and dataflow.
	before := goleak.IgnoreCurrent()
	sub := connect(t, srv)

	rows, err := sub.Query(ctx, "SUBSCRIBE TO counts", pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range rows.FieldDescriptions() {
		names = append(names, f.Name)
	}
	if got := strings.Join(names, ","); got != "sluice_epoch,sluice_diff,city,n" {
		t.Errorf("columns %s", got)
	}
	snap := readChanges(t, rows, 2)
	if got := diffs(snap); got != "+1a=2 +1b=1" {
		t.Errorf("snapshot %s", got)
	}
	e0 := sameEpoch(t, snap)

	// A changed count is retracted and inserted in one later epoch.
	mustExec(t, conn, "INSERT INTO rides VALUES ('a', 4)")
	ch := readChanges(t, rows, 2)
	if got := diffs(ch); got != "+1a=3 -1a=2" {
		t.Errorf("change %s", got)
	}
	e1 := sameEpoch(t, ch)
	mustExec(t, conn, "INSERT INTO rides VALUES ('c', 5)")
	ch = readChanges(t, rows, 1)
	if got := diffs(ch); got != "+1c=1" {
		t.Errorf("new group %s", got)
	}
	if e2 := ch[0].epoch; !(e0 < e1 && e1 < e2) {
		t.Errorf("epochs %d, %d, %d do not increase", e0, e1, e2)
	}

	// CancelRequest ends it promptly with 57014, and the session goes on.
	start := time.Now()
	if err := sub.PgConn().CancelRequest(ctx); err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
	}
	if pe := pgErr(t, rows.Err()); pe.Code != "57014" || pe.Message != "canceling statement due to user request" {
		t.Errorf("cancel: %v", pe)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("cancel took %v", d)
	}
	var one int
	if err := sub.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Fatalf("after cancel: %v", err)
	}

	// snapshot = false: only later changes, through the extended protocol
	// (where pgx's Query returns at the first row).
	inserted := make(chan error, 1)
	go func() {
		time.Sleep(100 * time.Millisecond)
		_, err := conn.Exec(ctx, "INSERT INTO rides VALUES ('b', 6)")
		inserted <- err
	}()
	rows, err = sub.Query(ctx, "SUBSCRIBE counts WITH (snapshot = false)")
	if err != nil {
		t.Fatal(err)
	}
	if err := <-inserted; err != nil {
		t.Fatal(err)
	}
	if got := diffs(readChanges(t, rows, 2)); got != "+1b=2 -1b=1" {
		t.Errorf("snapshot = false: %s", got)
	}
	if err := sub.PgConn().CancelRequest(ctx); err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
	}
	if pe := pgErr(t, rows.Err()); pe.Code != "57014" {
		t.Errorf("cancel: %v", pe)
	}

	// A query runs as a temporary view of its own.
	rows, err = sub.Query(ctx, "SUBSCRIBE (SELECT city, fare::int8 FROM rides WHERE fare > 4)", pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatal(err)
	}
	if got := diffs(readChanges(t, rows, 2)); got != "+1b=6 +1c=5" {
		t.Errorf("query snapshot %s", got)
	}
	mustExec(t, conn, "INSERT INTO rides VALUES ('d', 9), ('d', 1)")
	if got := diffs(readChanges(t, rows, 1)); got != "+1d=9" {
		t.Errorf("query change %s", got)
	}
	if err := sub.PgConn().CancelRequest(ctx); err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
	}
	if pe := pgErr(t, rows.Err()); pe.Code != "57014" {
		t.Errorf("cancel: %v", pe)
	}

	// A stream subscribed by name, and unknown relations.
	rows, err = sub.Query(ctx, "SUBSCRIBE rides", pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatal(err)
	}
	if !rows.Next() || len(rows.RawValues()) != 4 {
		t.Fatalf("stream: %v", rows.Err())
	}
	if err := sub.PgConn().CancelRequest(ctx); err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
	}
	for sql, pos := range map[string]int32{"SUBSCRIBE nope": 11, "SUBSCRIBE (SELECT * FROM nope)": 26} {
		_, err := sub.Exec(ctx, sql, pgx.QueryExecModeSimpleProtocol)
		if pe := pgErr(t, err); pe.Code != "42P01" || pe.Position != pos {
			t.Errorf("%s: %v at %d, want 42P01 at %d", sql, pe, pe.Position, pos)
		}
	}

	// Dropping what a query reads ends its subscription.
	mustExec(t, conn, "CREATE STREAM extra (x int)")
	rows, err = sub.Query(ctx, "SUBSCRIBE (SELECT x FROM extra)", pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, conn, "DROP STREAM extra")
	for rows.Next() {
	}
	if pe := pgErr(t, rows.Err()); pe.Code != "42P01" || pe.Message != `subscription ended: relation "extra" was dropped` {
		t.Errorf("dropped source: %v", pe)
	}

	// A client that goes away ends it too (pgx closes the connection when
	// the context of a query is canceled).
	qctx, cancel := context.WithCancel(ctx)
	rows, err = sub.Query(qctx, "SUBSCRIBE (SELECT city FROM rides)", pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatal(err)
	}
	if !rows.Next() {
		t.Fatal(rows.Err())
	}
	cancel()
	for rows.Next() {
	}
	sub.Close(ctx)
	goleak.VerifyNone(t, before)
}

func TestSubscribeCopy(t *testing.T) {
	srv, conn := startSubscribeServer(t)
	before := goleak.IgnoreCurrent()
	for _, tc := range []struct {
		sql   string
		lines []string // after the snapshot: its rows, then the change
	}{
		{"COPY (SUBSCRIBE counts) TO STDOUT", []string{"1\ta\t2", "1\tb\t1", "-1\ta\t2", "1\ta\t3"}},
		{"COPY (SUBSCRIBE counts) TO STDOUT WITH (FORMAT csv, HEADER)", []string{"sluice_epoch,sluice_diff,city,n", "1,a,3", "1,b,1", "-1,a,3", "1,a,4"}},
	} {
		sub := connect(t, srv)
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() {
			_, err := sub.PgConn().CopyTo(context.Background(), pw, tc.sql)
			pw.Close()
			done <- err
		}()
		lines := bufio.NewScanner(pr)
		var got []string
		next := func() {
			if !lines.Scan() {
				t.Fatalf("%s: stream ended after %v: %v", tc.sql, got, <-done)
			}
			line := lines.Text()
			if _, rest, ok := strings.Cut(line, "\t"); ok && !strings.HasPrefix(line, "sluice") {
				line = rest // drop the epoch
			} else if _, rest, ok := strings.Cut(line, ","); ok && !strings.HasPrefix(line, "sluice") {
				line = rest
			}
			got = append(got, line)
		}
		for len(got) < len(tc.lines)-2 {
			next()
		}
		mustExec(t, conn, "INSERT INTO rides VALUES ('a', 7)")
		next()
		next()
		slices.Sort(got[len(got)-4:])
		want := slices.Clone(tc.lines)
		slices.Sort(want[len(want)-4:])
		if !slices.Equal(got, want) {
			t.Errorf("%s:\ngot  %q\nwant %q", tc.sql, got, want)
		}
		start := time.Now()
		if err := sub.PgConn().CancelRequest(context.Background()); err != nil {
			t.Fatal(err)
		}
		go func() { _, _ = io.Copy(io.Discard, pr) }()
		select {
		case err := <-done:
			if pe := pgErr(t, err); pe.Code != "57014" {
				t.Errorf("cancel: %v", pe)
			}
		case <-time.After(3 * time.Second):
			t.Fatal("COPY (SUBSCRIBE …) not canceled")
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("cancel took %v", d)
		}
		sub.Close(context.Background())
	}
	_, err := conn.Exec(context.Background(), "COPY (SUBSCRIBE counts) TO STDOUT WITH (FORMAT binary)")
	if pe := pgErr(t, err); pe.Code != "0A000" {
		t.Errorf("binary: %v", pe)
	}
	goleak.VerifyNone(t, before)
}

func TestSubscribeCursor(t *testing.T) {
	srv, conn := startSubscribeServer(t)
	ctx := context.Background()
	before := goleak.IgnoreCurrent()
	cur := connect(t, srv)

	_, err := cur.Exec(ctx, "DECLARE c CURSOR FOR SUBSCRIBE counts")
	if pe := pgErr(t, err); pe.Code != "25P01" || pe.Message != "DECLARE CURSOR can only be used in transaction blocks" {
		t.Errorf("outside a block: %v", pe)
	}
	mustExec(t, cur, "BEGIN")
	mustExec(t, cur, "DECLARE c CURSOR FOR SUBSCRIBE counts")
	fetch := func(sql string) ([]change, string) {
		t.Helper()
		rows, err := cur.Query(ctx, sql)
		if err != nil {
			t.Fatal(err)
		}
		var cs []change
		for rows.Next() {
			cs = append(cs, scanChange(t, rows))
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return cs, rows.CommandTag().String()
	}
	if cs, tag := fetch("FETCH 1 c"); len(cs) != 1 || tag != "FETCH 1" {
		t.Errorf("FETCH 1: %v %s", cs, tag)
	}
	if cs, tag := fetch("FETCH ALL c"); len(cs) != 1 || tag != "FETCH 1" {
		t.Errorf("FETCH ALL: %v %s", cs, tag)
	}
	// Nothing has arrived: a timeout returns no rows.
	if cs, tag := fetch("FETCH ALL c WITH (timeout = '0s')"); len(cs) != 0 || tag != "FETCH 0" {
		t.Errorf("timeout 0s: %v %s", cs, tag)
	}
	start := time.Now()
	if cs, tag := fetch("FETCH 10 FROM c WITH (timeout = '200ms')"); len(cs) != 0 || tag != "FETCH 0" {
		t.Errorf("timeout: %v %s", cs, tag)
	}
	if d := time.Since(start); d < 200*time.Millisecond || d > 3*time.Second {
		t.Errorf("timeout 200ms took %v", d)
	}
	// FETCH waits for the next epoch, then returns what is there.
	inserted := make(chan error, 1)
	go func() {
		time.Sleep(100 * time.Millisecond)
		_, err := conn.Exec(context.Background(), "INSERT INTO rides VALUES ('b', 8)")
		inserted <- err
	}()
	cs, tag := fetch("FETCH 10 c")
	if got := diffs(cs); got != "+1b=2 -1b=1" || tag != "FETCH 2" {
		t.Errorf("waiting FETCH: %s %s", got, tag)
	}
	if err := <-inserted; err != nil {
		t.Fatal(err)
	}
	mustExec(t, conn, "INSERT INTO rides VALUES ('b', 9)")
	if cs, tag := fetch("FETCH 1 FROM c WITH (timeout = '5s')"); len(cs) != 1 || tag != "FETCH 1" {
		t.Errorf("FETCH 1 with timeout: %v %s", cs, tag)
	}
	if tag := mustExec(t, cur, "MOVE 5 c"); tag.String() != "MOVE 1" {
		t.Errorf("MOVE: %s", tag)
	}
	if tag := mustExec(t, cur, "CLOSE c"); tag.String() != "CLOSE CURSOR" {
		t.Errorf("CLOSE: %s", tag)
	}
	_, err = cur.Exec(ctx, "FETCH 1 c")
	if pe := pgErr(t, err); pe.Code != "34000" || pe.Message != `cursor "c" does not exist` {
		t.Errorf("closed cursor: %v", pe)
	}
	mustExec(t, cur, "ROLLBACK")

	// COMMIT closes the cursors of the block.
	mustExec(t, cur, "BEGIN")
	mustExec(t, cur, "DECLARE d CURSOR FOR SUBSCRIBE (SELECT city FROM rides)")
	_, err = cur.Exec(ctx, "DECLARE d CURSOR FOR SUBSCRIBE counts")
	if pe := pgErr(t, err); pe.Code != "42P03" {
		t.Errorf("duplicate cursor: %v", pe)
	}
	mustExec(t, cur, "ROLLBACK")
	mustExec(t, cur, "BEGIN")
	mustExec(t, cur, "DECLARE d CURSOR FOR SUBSCRIBE counts WITH (snapshot = false)")
	if cs, _ := fetch("FETCH ALL d WITH (timeout = '0s')"); len(cs) != 0 {
		t.Errorf("snapshot = false: %v", cs)
	}
	mustExec(t, cur, "COMMIT")
	mustExec(t, cur, "BEGIN")
	_, err = cur.Exec(ctx, "FETCH ALL d WITH (timeout = '0s')")
	if pe := pgErr(t, err); pe.Code != "34000" {
		t.Errorf("cursor after COMMIT: %v", pe)
	}
	mustExec(t, cur, "ROLLBACK")
	// A multi-statement query is a transaction block of its own.
	res, err := cur.PgConn().Exec(ctx, "DECLARE e CURSOR FOR SUBSCRIBE counts; FETCH ALL e").ReadAll()
	if err != nil || len(res) != 2 || len(res[1].Rows) != 2 {
		t.Errorf("multi-statement: %v %v", res, err)
	}
	cur.Close(ctx)
	goleak.VerifyNone(t, before)
}

// TestSubscribeSuspended reads a SUBSCRIBE through the extended protocol's
// row limit, one row per Execute, and ends it at Sync.
func TestSubscribeSuspended(t *testing.T) {
	srv, _ := startSubscribeServer(t)
	before := goleak.IgnoreCurrent()
	hj, err := connect(t, srv).PgConn().Hijack()
	if err != nil {
		t.Fatal(err)
	}
	defer hj.Conn.Close()
	fe := hj.Frontend
	fe.Send(&pgproto3.Parse{Query: "SUBSCRIBE (SELECT city FROM rides)"})
	fe.Send(&pgproto3.Bind{})
	for range 3 {
		fe.Send(&pgproto3.Execute{MaxRows: 1})
	}
	fe.Send(&pgproto3.Sync{})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		msg, err := fe.Receive()
		if err != nil {
			t.Fatal(err)
		}
		switch m := msg.(type) {
		case *pgproto3.DataRow:
			got = append(got, "row")
		case *pgproto3.PortalSuspended:
			got = append(got, "suspended")
		case *pgproto3.ErrorResponse:
			t.Fatalf("error: %s", m.Message)
		}
		if _, ok := msg.(*pgproto3.ReadyForQuery); ok {
			break
		}
	}
	if want := strings.Repeat("row suspended ", 3); strings.Join(got, " ")+" " != want {
		t.Errorf("got %v", got)
	}
	fe.Send(&pgproto3.Terminate{})
	_ = fe.Flush()
	goleak.VerifyNone(t, before)
}

func TestSubscribeSSE(t *testing.T) {
	srv, conn := startSubscribeServer(t)
	before := goleak.IgnoreCurrent()
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	base := "http://" + srv.HTTPAddr() + "/api/subscribe/"

	resp, err := client.Get(base + "nope")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown view: %s", resp.Status)
	}

	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"counts", nil)
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("%s %s", resp.Status, ct)
	}
	type event struct {
		Epoch int64          `json:"epoch"`
		Diff  int64          `json:"diff"`
		Row   map[string]any `json:"row"`
	}
	lines := bufio.NewScanner(resp.Body)
	read := func(n int) []change {
		t.Helper()
		var out []change
		for len(out) < n && lines.Scan() {
			data, ok := strings.CutPrefix(lines.Text(), "data: ")
			if !ok {
				continue
			}
			var ev event
			if err := json.Unmarshal([]byte(data), &ev); err != nil {
				t.Fatalf("%s: %v", data, err)
			}
			// n is a JSON number, city a string.
			out = append(out, change{epoch: ev.Epoch, diff: int32(ev.Diff), row: fmt.Sprintf("%s=%v", ev.Row["city"], ev.Row["n"])})
		}
		if len(out) < n {
			t.Fatalf("stream ended after %v: %v", out, lines.Err())
		}
		return out
	}
	if got := diffs(read(2)); got != "+1a=2 +1b=1" {
		t.Errorf("snapshot %s", got)
	}
	mustExec(t, conn, "INSERT INTO rides VALUES ('a', 3)")
	if got := diffs(read(2)); got != "+1a=3 -1a=2" {
		t.Errorf("change %s", got)
	}
	cancel()
	resp.Body.Close()
	client.CloseIdleConnections()
	goleak.VerifyNone(t, before)
}

// TestSubscribePsql streams COPY (SUBSCRIBE …) through psql. psql writes
// COPY data with stdio, which buffers a pipe (not a terminal): stdbuf makes
// its output line-buffered, as on a terminal.
func TestSubscribePsql(t *testing.T) {
	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Skip("psql is not installed")
	}
	stdbuf, err := exec.LookPath("stdbuf")
	if err != nil {
		t.Skip("stdbuf is not installed")
	}
	srv, conn := startSubscribeServer(t)
	host, port, _ := strings.Cut(srv.PGAddr(), ":")
	cmd := exec.Command(stdbuf, "-oL", psql, "-X", "-w", "-h", host, "-p", port, "-U", "sluice", "-d", "sluice",
		"-c", "COPY (SUBSCRIBE counts) TO STDOUT WITH (FORMAT csv)")
	cmd.Env = append(cmd.Environ(), "PGCONNECT_TIMEOUT=5")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	lines := bufio.NewScanner(out)
	var got []string
	read := func(n int) {
		for i := 0; i < n && lines.Scan(); i++ {
			_, row, _ := strings.Cut(lines.Text(), ",")
			got = append(got, row)
		}
	}
	read(2)
	mustExec(t, conn, "INSERT INTO rides VALUES ('b', 3)")
	read(2)
	if len(got) != 4 {
		t.Fatalf("psql printed %v", got)
	}
	slices.Sort(got[:2])
	slices.Sort(got[2:])
	if want := []string{"1,a,2", "1,b,1", "-1,b,1", "1,b,2"}; !slices.Equal(got, want) {
		t.Errorf("psql printed %v, want %v", got, want)
	}
}
