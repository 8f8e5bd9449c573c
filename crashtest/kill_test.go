//go:build integration

package crashtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-db/sluice/internal/randtest"
	"github.com/sluice-db/sluice/internal/testbin"
)

const (
	topic      = "clicks"
	partitions = 4
	users      = 97
	regions    = 5
	// eventStep is the event time between consecutive sequence numbers.
	eventStep = time.Millisecond
)

// kafkaProgressTopic holds the sinks' transaction markers (docs/sinks.md).
const kafkaProgressTopic = "_sluice_sink_progress"

// tsText is how timestamptz values print with TimeZone UTC.
const tsText = "2006-01-02 15:04:05.999999-07"

// epoch0 is the event time of sequence number 0.
var epoch0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

var schema = []string{
	`CREATE TABLE users (id int8 PRIMARY KEY, region text NOT NULL)`,
	`CREATE STREAM clicks (seq int8, user_id int8, amount int8, ts timestamptz,
		WATERMARK FOR ts AS ts - INTERVAL '10 seconds')
		WITH (connector = 'kafka', topic = 'clicks', format = 'json')`,
	`CREATE MATERIALIZED VIEW per_user AS
		SELECT user_id, count(*) AS n, sum(amount) AS total, max(seq) AS last_seq FROM clicks GROUP BY user_id`,
	`CREATE MATERIALIZED VIEW per_second AS
		SELECT window_start, count(*) AS n, sum(amount) AS total
		FROM TUMBLE(clicks, ts, INTERVAL '1 second') GROUP BY window_start`,
	`CREATE MATERIALIZED VIEW per_second_closed AS
		SELECT window_start, count(*) AS n
		FROM TUMBLE(clicks, ts, INTERVAL '1 second') GROUP BY window_start EMIT ON WINDOW CLOSE`,
	// Sessions per user of the clicks whose seq is not a multiple of 7 or
	// 11: a user's clicks are 97 ms apart, so a session ends where one is
	// left out, after 1 to 10 clicks, and the watermark closes it.
	`CREATE MATERIALIZED VIEW user_sessions AS
		SELECT user_id, window_start, window_end, count(*) AS n
		FROM SESSION((SELECT * FROM clicks WHERE seq % 7 <> 0 AND seq % 11 <> 0), ts, INTERVAL '150 milliseconds', user_id)
		GROUP BY user_id, window_start, window_end`,
	`CREATE MATERIALIZED VIEW per_region AS
		SELECT u.region, count(*) AS n, sum(c.amount) AS total
		FROM clicks c JOIN users u ON c.user_id = u.id GROUP BY u.region`,
	// Stateless views: all_clicks keeps every row (not checkpointed: a
	// restart replays the stream's history), rare_clicks a sixteenth
	// (checkpointed, then replayed after its checkpoint).
	`CREATE MATERIALIZED VIEW all_clicks AS SELECT seq, user_id, amount FROM clicks`,
	`CREATE MATERIALIZED VIEW rare_clicks AS SELECT seq, amount FROM clicks WHERE seq % 16 = 0`,
	`CREATE SINK per_user_out FROM per_user
		WITH (connector = 'kafka', topic = 'per_user_out', format = 'json', envelope = 'upsert')`,
	`CREATE SINK per_region_out FROM per_region
		WITH (connector = 'kafka', topic = 'per_region_out', format = 'json', envelope = 'append')`,
}

// TestKillLoop kills sluice with SIGKILL at a random moment 0.2–5 s after
// it is ready, SLUICE_KILLS times, while a producer writes clicks to the
// embedded broker and a client updates the table the join reads. After the
// last restart every view must equal its query computed from the topic and
// the table.
func TestKillLoop(t *testing.T) {
	kills := int(randtest.EnvInt(t, "SLUICE_KILLS", 50))
	if kills < 0 {
		t.Fatalf("SLUICE_KILLS=%d: want at least 0", kills)
	}
	seed := uint64(randtest.EnvInt(t, "SLUICE_KILL_SEED", time.Now().UnixNano()))
	t.Logf("seed %d (replay with SLUICE_KILL_SEED=%d), %d kills", seed, seed, kills)
	rng := rand.New(rand.NewPCG(seed, 0x5eed))

	h := &harness{t: t, bin: testbin.Build(t), dir: t.TempDir(),
		pgAddr: testbin.FreeAddr(t), httpAddr: testbin.FreeAddr(t), kafkaAddr: testbin.FreeAddr(t)}
	h.openLog()
	t.Cleanup(func() {
		// A failure keeps the data directory (the broker's log above all)
		// to be read afterwards.
		if t.Failed() {
			kept := filepath.Join(os.TempDir(), fmt.Sprintf("sluice-killloop-%d", seed))
			if err := os.Rename(h.dir, kept); err == nil {
				t.Logf("the data directory is kept in %s", kept)
			}
		}
	})
	ctx := context.Background()

	h.start()
	h.createTopic(ctx)
	conn := h.connect(ctx)
	mustExec(t, conn, schema[0])
	for id := range users {
		mustExec(t, conn, "INSERT INTO users VALUES ($1, $2)", id, region(id))
	}
	for _, ddl := range schema[1:] {
		mustExec(t, conn, ddl)
	}
	conn.Close(ctx)

	var seq atomic.Int64
	committed := int64(0) // the most rows of clicks seen committed
	var ready, answering []time.Duration
	for kill := 0; kill <= kills; kill++ {
		if kill > 0 {
			h.start()
			ready = append(ready, h.readyAfter)
			conn := h.connect(ctx)
			answering = append(answering, h.readyAfter+h.firstAnswer(ctx, conn))
			n := count(t, ctx, conn, "SELECT count(*) FROM clicks")
			if n < committed {
				t.Fatalf("restart %d: clicks has %d rows, but %d were committed before the kill", kill, n, committed)
			}
			conn.Close(ctx)
		}
		if kill == kills {
			break
		}
		run, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Add(3)
		go func() { defer wg.Done(); h.produce(run, &seq) }()
		go func() { defer wg.Done(); h.updateUsers(run, rand.New(rand.NewPCG(rng.Uint64(), 1))) }()
		var seen atomic.Int64
		go func() { defer wg.Done(); h.watchCommitted(run, &seen) }()
		time.Sleep(200*time.Millisecond + time.Duration(rng.Int64N(int64(4800*time.Millisecond))))
		h.kill()
		stop()
		wg.Wait()
		committed = max(committed, seen.Load())
	}
	t.Logf("produced up to seq %d; start to listening p50 %v p99 %v max %v; start to views answering p50 %v p99 %v max %v; %d views restored from checkpoints",
		seq.Load(), pct(ready, 50), pct(ready, 99), slices.Max(ready), pct(answering, 50), pct(answering, 99), slices.Max(answering), h.restores())
	if kills >= 5 && h.restores() == 0 {
		t.Errorf("no view was restored from a checkpoint in %d restarts", kills)
	}
	h.check(ctx)
}

// harness runs the child process and the clients that work on it.
type harness struct {
	t                           *testing.T
	bin, dir                    string
	pgAddr, httpAddr, kafkaAddr string
	cmd                         *exec.Cmd
	readyAfter                  time.Duration
	// log collects every run's stderr; a failure prints its tail.
	log *os.File
}

// restores counts the views the servers restored from checkpoints, in
// every life, from their log.
func (h *harness) restores() int {
	data, err := os.ReadFile(h.log.Name())
	if err != nil {
		h.t.Fatal(err)
	}
	return strings.Count(string(data), "view restored from its checkpoint")
}

// logTail is how many lines of the servers' log a failure prints.
const logTail = 40

// openLog creates the file the servers' stderr goes to. The test logs it
// only on failure, after its message, and only its tail: logged line by
// line, 50 restarts' output buried the message in the middle.
func (h *harness) openLog() {
	f, err := os.Create(filepath.Join(h.t.TempDir(), "sluice.log"))
	if err != nil {
		h.t.Fatal(err)
	}
	h.log = f
	h.t.Cleanup(func() {
		defer f.Close()
		if !h.t.Failed() {
			return
		}
		data, err := os.ReadFile(f.Name())
		if err != nil {
			h.t.Log(err)
			return
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		h.t.Logf("the last %d lines of the servers' stderr (%d lines in all):\n%s",
			min(logTail, len(lines)), len(lines), strings.Join(lines[max(0, len(lines)-logTail):], "\n"))
	})
}

// start runs `sluice serve` and waits until it listens.
func (h *harness) start() {
	t := h.t
	t.Helper()
	// Checkpoints every 300 ms, so that most kills leave views to restore
	// from one, and most restores replay history after theirs.
	cmd := exec.Command(h.bin, "serve", "--data-dir", h.dir, "--pg-addr", h.pgAddr,
		"--http-addr", h.httpAddr, "--embedded-kafka-addr", h.kafkaAddr, "--checkpoint-interval", "300ms")
	cmd.Stderr = h.log
	began := time.Now()
	testbin.Serve(t, cmd)
	h.readyAfter = time.Since(began)
	h.cmd = cmd
}

func (h *harness) kill() {
	if err := h.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		h.t.Fatal(err)
	}
	_ = h.cmd.Wait()
}

func (h *harness) connect(ctx context.Context) *pgx.Conn {
	h.t.Helper()
	conn, err := pgx.Connect(ctx, "postgres://sluice@"+h.pgAddr+"/sluice?sslmode=disable")
	if err != nil {
		h.t.Fatal(err)
	}
	return conn
}

// firstAnswer is how long after connecting the views first answer.
func (h *harness) firstAnswer(ctx context.Context, conn *pgx.Conn) time.Duration {
	began := time.Now()
	deadline := began.Add(60 * time.Second)
	for {
		var n int64
		err := conn.QueryRow(ctx, "SELECT count(*) FROM per_user").Scan(&n)
		if err == nil {
			return time.Since(began)
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("views do not answer 60 s after a restart: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (h *harness) createTopic(ctx context.Context) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(h.kafkaAddr))
	if err != nil {
		h.t.Fatal(err)
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		h.t.Fatalf("create topic: %v", err)
	}
}

// click is one event of the workload; its fields follow from seq.
type click struct {
	Seq    int64  `json:"seq"`
	UserID int64  `json:"user_id"`
	Amount int64  `json:"amount"`
	TS     string `json:"ts"`
}

func newClick(seq int64) click {
	return click{Seq: seq, UserID: seq % users, Amount: seq%13 + 1,
		TS: epoch0.Add(time.Duration(seq) * eventStep).Format(time.RFC3339Nano)}
}

// produce writes clicks with increasing sequence numbers, about 10 000 a
// second, until ctx ends. Records in flight at a kill may or may not be in
// the topic; the check reads the topic, so either is right.
func (h *harness) produce(ctx context.Context, seq *atomic.Int64) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(h.kafkaAddr), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		h.t.Error(err)
		return
	}
	defer cl.Close()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for range 100 {
			v, _ := json.Marshal(newClick(seq.Add(1) - 1))
			cl.Produce(ctx, &kgo.Record{Value: v}, nil)
		}
	}
}

// updateUsers moves users between regions until ctx ends, so the join
// retracts and re-adds their clicks.
func (h *harness) updateUsers(ctx context.Context, rng *rand.Rand) {
	conn, err := pgx.Connect(ctx, "postgres://sluice@"+h.pgAddr+"/sluice?sslmode=disable")
	if err != nil {
		return
	}
	defer conn.Close(context.Background())
	for ctx.Err() == nil {
		id := rng.IntN(users)
		if _, err := conn.Exec(ctx, "UPDATE users SET region = $1 WHERE id = $2", region(rng.IntN(regions)), id); err != nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// watchCommitted keeps in seen the most rows of clicks a reader saw.
func (h *harness) watchCommitted(ctx context.Context, seen *atomic.Int64) {
	conn, err := pgx.Connect(ctx, "postgres://sluice@"+h.pgAddr+"/sluice?sslmode=disable")
	if err != nil {
		return
	}
	defer conn.Close(context.Background())
	for ctx.Err() == nil {
		var n int64
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM clicks").Scan(&n); err != nil {
			return
		}
		if n > seen.Load() {
			seen.Store(n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// check waits until sluice has read the whole topic, then compares every
// view with its query computed here from the topic and the users table.
func (h *harness) check(ctx context.Context) {
	t := h.t
	clicks := h.readTopic(ctx)
	conn := h.connect(ctx)
	defer conn.Close(ctx)
	mustExec(t, conn, "SET TimeZone = 'UTC'")

	late := map[int64]bool{}
	deadline := time.Now().Add(120 * time.Second)
	for {
		stored := count(t, ctx, conn, "SELECT count(*) FROM clicks")
		lateRows := count(t, ctx, conn, "SELECT count(*) FROM sluice_late_events WHERE stream = 'clicks'")
		if stored+lateRows == int64(len(clicks)) {
			break
		}
		if stored+lateRows > int64(len(clicks)) {
			t.Fatalf("clicks has %d rows and %d went to sluice_late_events, but the topic holds %d records: some were read twice",
				stored, lateRows, len(clicks))
		}
		if time.Now().After(deadline) {
			t.Fatalf("clicks has %d rows and %d late ones, the topic %d records, 120 s after the last restart", stored, lateRows, len(clicks))
		}
		time.Sleep(50 * time.Millisecond)
	}
	rows, err := conn.Query(ctx, "SELECT (payload->>'seq')::int8 FROM sluice_late_events WHERE stream = 'clicks'")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s int64
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		late[s] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(late) > 0 {
		t.Logf("%d clicks were late (in sluice_late_events, not in the views)", len(late))
	}
	var kept []click
	for _, c := range clicks {
		if !late[c.Seq] {
			kept = append(kept, c)
		}
	}
	dups := count(t, ctx, conn, "SELECT count(*) - count(DISTINCT seq) FROM clicks")
	if want := int64(len(kept) - len(distinctSeqs(kept))); dups != want {
		t.Errorf("clicks has %d repeated sequence numbers, the topic %d", dups, want)
	}

	regionOf := map[int64]string{}
	for _, r := range h.queryRows(ctx, conn, "SELECT id::text, region FROM users") {
		id, _ := strconv.ParseInt(r[0], 10, 64)
		regionOf[id] = r[1]
	}
	perUser, perSecond, perRegion := map[string]*agg{}, map[string]*agg{}, map[string]*agg{}
	perSeq, rareSeq := map[string]*agg{}, map[string]*agg{}
	for _, c := range kept {
		ts, _ := time.Parse(time.RFC3339Nano, c.TS)
		addTo(perUser, strconv.FormatInt(c.UserID, 10), c)
		addTo(perSecond, ts.Truncate(time.Second).UTC().Format(tsText), c)
		if r, ok := regionOf[c.UserID]; ok {
			addTo(perRegion, r, c)
		}
		addTo(perSeq, strconv.FormatInt(c.Seq, 10), c)
		if c.Seq%16 == 0 {
			addTo(rareSeq, strconv.FormatInt(c.Seq, 10), c)
		}
	}
	// The views are one epoch; wait until that epoch holds every click.
	h.eventually(ctx, conn, "SELECT coalesce(sum(n), 0)::text FROM per_user", strconv.Itoa(len(kept)))
	h.eventually(ctx, conn, "SELECT coalesce(sum(n), 0)::text FROM per_region",
		strconv.FormatInt(sumN(perRegion), 10))

	nTotal := func(a *agg) []int64 { return []int64{a.n, a.total} }
	h.compare(ctx, conn, "per_user", "SELECT user_id, n, total, last_seq FROM per_user",
		counted(perUser, func(a *agg) []int64 { return []int64{a.n, a.total, a.last} }))
	h.compare(ctx, conn, "per_second", "SELECT window_start, n, total FROM per_second", counted(perSecond, nTotal))
	h.compare(ctx, conn, "per_region", "SELECT region, n, total FROM per_region", counted(perRegion, nTotal))
	h.compare(ctx, conn, "all_clicks", "SELECT seq, count(*), sum(amount) FROM all_clicks GROUP BY seq", counted(perSeq, nTotal))
	h.compare(ctx, conn, "rare_clicks", "SELECT seq, count(*), sum(amount) FROM rare_clicks GROUP BY seq", counted(rareSeq, nTotal))
	h.compare(ctx, conn, "user_sessions", "SELECT user_id || ' ' || window_start, window_end, n FROM user_sessions", userSessions(kept))
	h.checkClosed(ctx, conn, perSecond)
	h.checkSinks(ctx, perUser, perRegion)
}

// sessionGap is the gap of the view user_sessions.
const sessionGap = 150 * time.Millisecond

// userSessions renders the reference of the view user_sessions from the
// clicks: "user start" -> "end clicks".
func userSessions(clicks []click) map[string]string {
	times := map[int64][]time.Time{}
	for _, c := range clicks {
		if c.Seq%7 == 0 || c.Seq%11 == 0 {
			continue
		}
		ts, _ := time.Parse(time.RFC3339Nano, c.TS)
		times[c.UserID] = append(times[c.UserID], ts)
	}
	out := map[string]string{}
	for user, ts := range times {
		slices.SortFunc(ts, time.Time.Compare)
		add := func(first, last time.Time, n int) {
			out[fmt.Sprintf("%d %s", user, first.UTC().Format(tsText))] = fmt.Sprintf("%s %d", last.Add(sessionGap).UTC().Format(tsText), n)
		}
		first, n := ts[0], 1
		for i := 1; i < len(ts); i++ {
			if ts[i].Sub(ts[i-1]) >= sessionGap {
				add(first, ts[i-1], n)
				first, n = ts[i], 0
			}
			n++
		}
		add(first, ts[len(ts)-1], n)
	}
	return out
}

// checkSinks reads the sinks' topics read_committed until they hold the
// views: per_user_out folded by key (upsert), per_region_out summed per row
// (append).
func (h *harness) checkSinks(ctx context.Context, perUser, perRegion map[string]*agg) {
	t := h.t
	wantUser := counted(perUser, func(a *agg) []int64 { return []int64{a.n, a.total, a.last} })
	wantRegion := map[string]string{}
	for k, a := range perRegion {
		wantRegion[fmt.Sprintf("%s %d %d", k, a.n, a.total)] = "1"
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(h.kafkaAddr), kgo.ConsumeTopics("per_user_out", "per_region_out"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	users, regions := map[string]string{}, map[string]int64{}
	readTo := map[string]int64{}
	deadline := time.Now().Add(60 * time.Second)
	for {
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		fs := cl.PollFetches(pctx)
		cancel()
		fs.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("reading %s/%d: %v", topic, p, err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			readTo[r.Topic+"/"+strconv.Itoa(int(r.Partition))] = r.Offset + 1
			switch r.Topic {
			case "per_user_out":
				var key struct {
					UserID int64 `json:"user_id"`
				}
				if err := json.Unmarshal(r.Key, &key); err != nil {
					t.Fatalf("per_user_out key %q: %v", r.Key, err)
				}
				k := strconv.FormatInt(key.UserID, 10)
				if r.Value == nil {
					delete(users, k)
					return
				}
				var v struct {
					N       int64 `json:"n"`
					Total   int64 `json:"total"`
					LastSeq int64 `json:"last_seq"`
				}
				if err := json.Unmarshal(r.Value, &v); err != nil {
					t.Fatalf("per_user_out value %q: %v", r.Value, err)
				}
				users[k] = fmt.Sprintf("%d %d %d", v.N, v.Total, v.LastSeq)
			case "per_region_out":
				var c struct {
					Diff int64
					Row  struct {
						Region   string
						N, Total int64
					}
				}
				if err := json.Unmarshal(r.Value, &c); err != nil {
					t.Fatalf("per_region_out value %q: %v", r.Value, err)
				}
				regions[fmt.Sprintf("%s %d %d", c.Row.Region, c.Row.N, c.Row.Total)] += c.Diff
			}
		})
		gotRegion := map[string]string{}
		for k, d := range regions {
			if d != 0 {
				gotRegion[k] = strconv.FormatInt(d, 10)
			}
		}
		if maps.Equal(users, wantUser) && maps.Equal(gotRegion, wantRegion) {
			t.Logf("the sinks' topics fold to the views: %d users, %d regions", len(users), len(gotRegion))
			return
		}
		if time.Now().After(deadline) {
			conn := h.connect(ctx)
			sinks := h.queryRows(ctx, conn, "SHOW SINKS")
			conn.Close(ctx)
			// Where reading stopped, beside where the topics end.
			ends, _ := kadm.NewClient(cl).ListEndOffsets(ctx, "per_user_out", "per_region_out", kafkaProgressTopic)
			ends.Each(func(o kadm.ListedOffset) {
				t.Logf("%s/%d ends at %d, read up to %d", o.Topic, o.Partition, o.Offset, readTo[o.Topic+"/"+strconv.Itoa(int(o.Partition))])
			})
			t.Fatalf("60 s after the views were complete the sinks' topics differ from them (SHOW SINKS: %q):\nper_user_out %d keys (want %d), first differences %v\nper_region_out %v, want %v",
				sinks, len(users), len(wantUser), firstDiffs(users, wantUser), gotRegion, wantRegion)
		}
	}
}

// firstDiffs lists a few keys whose values differ between got and want.
func firstDiffs(got, want map[string]string) []string {
	var out []string
	for k, w := range want {
		if got[k] != w && len(out) < 5 {
			out = append(out, fmt.Sprintf("%s: %q want %q", k, got[k], w))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok && len(out) < 10 {
			out = append(out, fmt.Sprintf("%s: %q not wanted", k, g))
		}
	}
	return out
}

// checkClosed compares the windows per_second_closed emitted with the
// reference: every window that ended at or before the stream's watermark,
// each counted once and whole, and no other.
func (h *harness) checkClosed(ctx context.Context, conn *pgx.Conn, perSecond map[string]*agg) {
	t := h.t
	var wm time.Time
	deadline := time.Now().Add(60 * time.Second)
	for {
		marks := map[string]time.Time{}
		for _, r := range h.queryRows(ctx, conn, "SHOW WATERMARKS") {
			if ts, err := time.Parse(tsText, r[2]); err == nil {
				marks[r[0]] = ts
			}
		}
		stream, ok1 := marks["clicks"]
		view, ok2 := marks["per_second_closed"]
		// Keyed by window_start, the view's watermark is the start up to
		// which its windows have closed: the stream's minus the size.
		if ok1 && ok2 && !view.Before(stream.Add(-time.Second)) {
			wm = stream
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("per_second_closed's watermark (%v) has not reached the stream's (%v) less its window in 60 s", view, stream)
		}
		time.Sleep(50 * time.Millisecond)
	}
	want := map[string]string{}
	for k, a := range perSecond {
		start, _ := time.Parse(tsText, k)
		if !start.Add(time.Second).After(wm) {
			want[k] = strconv.FormatInt(a.n, 10)
		}
	}
	h.compare(ctx, conn, "per_second_closed", "SELECT window_start, n FROM per_second_closed", want)
}

// readTopic reads every record of the topic, read_committed.
func (h *harness) readTopic(ctx context.Context) []click {
	t := h.t
	adm, err := kgo.NewClient(kgo.SeedBrokers(h.kafkaAddr))
	if err != nil {
		t.Fatal(err)
	}
	ends, err := kadm.NewClient(adm).ListEndOffsets(ctx, topic)
	adm.Close()
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
	cl, err := kgo.NewClient(kgo.SeedBrokers(h.kafkaAddr), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var out []click
	for int64(len(out)) < total {
		fs := cl.PollFetches(rctx)
		if err := rctx.Err(); err != nil {
			t.Fatalf("read %d of %d records: %v", len(out), total, err)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("reading the topic: %v", err) })
		fs.EachRecord(func(r *kgo.Record) {
			var c click
			if err := json.Unmarshal(r.Value, &c); err != nil {
				t.Fatalf("record at %d/%d: %v", r.Partition, r.Offset, err)
			}
			out = append(out, c)
		})
	}
	return out
}

// agg is one group of a reference aggregate.
type agg struct{ n, total, last int64 }

func addTo(m map[string]*agg, key string, c click) {
	a := m[key]
	if a == nil {
		a = &agg{last: -1}
		m[key] = a
	}
	a.n++
	a.total += c.Amount
	a.last = max(a.last, c.Seq)
}

func sumN(m map[string]*agg) int64 {
	var n int64
	for _, a := range m {
		n += a.n
	}
	return n
}

func distinctSeqs(cs []click) map[int64]bool {
	m := make(map[int64]bool, len(cs))
	for _, c := range cs {
		m[c.Seq] = true
	}
	return m
}

// compare checks that query's rows, a key and then values, are want's
// (key to the values joined by spaces).
func (h *harness) compare(ctx context.Context, conn *pgx.Conn, view, query string, want map[string]string) {
	t := h.t
	got := map[string]string{}
	for _, r := range h.queryRows(ctx, conn, query) {
		got[r[0]] = strings.Join(r[1:], " ")
	}
	bad := 0
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			if bad++; bad <= 5 {
				t.Errorf("%s[%s] = %q, want %q", view, k, g, w)
			}
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			if bad++; bad <= 5 {
				t.Errorf("%s has a row %s = %q the reference has not", view, k, g)
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%s: %d rows differ from the reference (%d rows)", view, bad, len(want))
	}
	t.Logf("%s equals the reference: %d rows", view, len(want))
}

// counted renders a reference aggregate as the views print it.
func counted(m map[string]*agg, cols func(*agg) []int64) map[string]string {
	out := make(map[string]string, len(m))
	for k, a := range m {
		var b strings.Builder
		for i, v := range cols(a) {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(strconv.FormatInt(v, 10))
		}
		out[k] = b.String()
	}
	return out
}

func (h *harness) queryRows(ctx context.Context, conn *pgx.Conn, query string) [][]string {
	h.t.Helper()
	rows, err := conn.Query(ctx, query, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		h.t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		vals := rows.RawValues()
		r := make([]string, len(vals))
		for i, v := range vals {
			r[i] = string(v)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		h.t.Fatalf("%s: %v", query, err)
	}
	return out
}

// eventually waits until query's single value is want.
func (h *harness) eventually(ctx context.Context, conn *pgx.Conn, query, want string) {
	deadline := time.Now().Add(60 * time.Second)
	for {
		var got string
		err := conn.QueryRow(ctx, query, pgx.QueryExecModeSimpleProtocol).Scan(&got)
		if err == nil && got == want {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%s = %q (%v), want %q after 60 s", query, got, err, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func region(i int) string { return "r" + strconv.Itoa(i%regions) }

func count(t *testing.T, ctx context.Context, conn *pgx.Conn, query string) int64 {
	t.Helper()
	var n int64
	if err := conn.QueryRow(ctx, query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func mustExec(t *testing.T, conn *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func pct(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)-1)*p/100]
}
