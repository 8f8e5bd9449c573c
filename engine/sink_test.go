package engine_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"net/http"
	"net/http/httptest"

	"github.com/bufbuild/protocompile"
	"github.com/hamba/avro/v2"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/sluice-db/sluice/engine"
	"github.com/sluice-db/sluice/internal/randtest"
	"github.com/sluice-db/sluice/internal/testbin"
	"github.com/sluice-db/sluice/server"
)

// sinkCluster is an external kfake broker for sink tests (so that tests can
// steer it and keep it across server restarts).
func sinkCluster(t *testing.T) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(3))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// sinkHook stops a sink at a chosen step of its commit, as a crash would:
// it blocks until the engine closes.
type sinkHook struct {
	mu   sync.Mutex
	step engine.SinkStep
	on   bool
	hit  chan struct{}
}

func (h *sinkHook) arm(step engine.SinkStep) chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.step, h.on, h.hit = step, true, make(chan struct{})
	return h.hit
}

func (h *sinkHook) call(ctx context.Context, _ string, step engine.SinkStep) error {
	h.mu.Lock()
	fire := h.on && h.step == step
	if fire {
		h.on = false
		close(h.hit)
	}
	h.mu.Unlock()
	if !fire {
		return nil
	}
	<-ctx.Done()
	return ctx.Err()
}

// startSinkServer runs a server whose sinks write at most about two rows a
// transaction (so that a batch of epochs takes several) and give EndTxn a
// second.
func startSinkServer(t *testing.T, dir string, c *kfake.Cluster, opts ...engine.Option) *server.Server {
	t.Helper()
	cfg := server.Config{PGAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", DataDir: dir, KafkaBrokers: c.ListenAddrs(),
		EngineOptions: append([]engine.Option{engine.WithSinkEndTimeout(time.Second), engine.WithSinkTransactionRows(2)}, opts...)}
	srv, err := server.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

const sinkSchema = `
CREATE STREAM orders (item text, qty int8);
CREATE TABLE items (item text PRIMARY KEY, city text);
CREATE MATERIALIZED VIEW per_city AS
  SELECT city, count(*) AS n, sum(qty) AS total FROM orders JOIN items USING (item) GROUP BY city;
CREATE SINK up FROM per_city WITH (connector = 'kafka', topic = 'up', format = 'json');
CREATE SINK app FROM per_city WITH (connector = 'kafka', topic = 'app', envelope = 'append');
`

// startSinkSchema starts a sink server on dir and c whose sink steps go
// through hook, and creates sinkSchema's tables and view (its sink left
// to the caller).
func startSinkSchema(t *testing.T, dir string, c *kfake.Cluster, hook *sinkHook) (*server.Server, *pgx.Conn) {
	t.Helper()
	srv := startSinkServer(t, dir, c, engine.WithSinkHook(hook.call))
	conn := connect(t, srv)
	schema := strings.SplitN(strings.TrimSpace(sinkSchema), "CREATE SINK", 2)[0]
	for _, stmt := range strings.Split(strings.TrimSpace(schema), ";") {
		if strings.TrimSpace(stmt) != "" {
			mustExec(t, conn, stmt)
		}
	}
	return srv, conn
}

// crashAfterRounds runs sinkRound 0 to 2, waits for expect, then runs
// round 3 and stops srv once its sink reached step, as a crash there
// would, and returns a server started again on dir (without the hook)
// and its connection.
func crashAfterRounds(t *testing.T, srv *server.Server, conn *pgx.Conn, dir string, c *kfake.Cluster, hook *sinkHook, step engine.SinkStep, expect func()) (*server.Server, *pgx.Conn) {
	t.Helper()
	for round := range 3 {
		sinkRound(t, conn, round)
	}
	expect()
	hit := hook.arm(step)
	sinkRound(t, conn, 3)
	<-hit
	_ = conn.Close(context.Background())
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	srv = startSinkServer(t, dir, c)
	return srv, connect(t, srv)
}

// sinkRound makes epoch round's changes: new orders, items moving between
// cities (a retraction and an insertion in the view) and items deleted.
func sinkRound(t *testing.T, conn *pgx.Conn, round int) {
	t.Helper()
	for i := range 3 {
		mustExec(t, conn, fmt.Sprintf("INSERT INTO items VALUES ('i%d-%d', 'c%d') ON CONFLICT (item) DO NOTHING", round, i, (round+i)%4))
	}
	mustExec(t, conn, fmt.Sprintf("INSERT INTO orders VALUES ('i%d-0', %d), ('i%d-1', 1), ('i%d-2', 2), ('i0-0', 1)", round, round, round, round))
	if round%2 == 1 {
		mustExec(t, conn, fmt.Sprintf("UPDATE items SET city = 'c%d' WHERE item = 'i%d-0'", (round+1)%5, round-1))
	}
	if round%3 == 2 {
		mustExec(t, conn, fmt.Sprintf("DELETE FROM items WHERE item = 'i%d-1'", round-2))
	}
}

// viewRows returns per_city's rows as the sinks print them.
func viewRows(t *testing.T, conn *pgx.Conn) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), "SELECT city, n, total FROM per_city")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var city string
		var n, total int64
		if err := rows.Scan(&city, &n, &total); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf(`{"city":%q,"n":%d,"total":%d}`, city, n, total))
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	sort.Strings(out)
	return out
}

// readTopic returns every record of topic a read_committed consumer sees.
func readTopic(t *testing.T, c *kfake.Cluster, topic string) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		n := len(out)
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
		if len(out) == n {
			return out
		}
	}
}

// foldUpsert keeps the last value per key (a tombstone deletes).
func foldUpsert(recs []*kgo.Record) []string {
	last := map[string]string{}
	for _, r := range recs {
		if r.Value == nil {
			delete(last, string(r.Key))
		} else {
			last[string(r.Key)] = string(r.Value)
		}
	}
	out := make([]string, 0, len(last))
	for _, v := range last {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// foldAppend sums the diffs per row; a row whose diffs do not sum to 1 is
// reported with its sum (a duplicate or a lost change).
func foldAppend(t *testing.T, recs []*kgo.Record) []string {
	t.Helper()
	sums := map[string]int64{}
	for _, r := range recs {
		var v struct {
			Diff int64           `json:"diff"`
			Row  json.RawMessage `json:"row"`
		}
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatalf("append record %s: %v", r.Value, err)
		}
		sums[string(v.Row)] += v.Diff
	}
	return summedRows(sums)
}

// summedRows lists the rows of sums, sorted, each with its sum when it is
// not 1 (a duplicate or a lost change); rows summing to 0 are left out.
func summedRows(sums map[string]int64) []string {
	var out []string
	for row, n := range sums {
		switch {
		case n == 1:
			out = append(out, row)
		case n != 0:
			out = append(out, fmt.Sprintf("%s x%d", row, n))
		}
	}
	sort.Strings(out)
	return out
}

// expectSinks waits until both sinks' folded topics equal the view, not
// empty (read again each time: SELECT sees the last published epoch, which
// may trail the commits).
func expectSinks(t *testing.T, c *kfake.Cluster, conn *pgx.Conn) {
	t.Helper()
	expectSinksIn(t, c, conn, "up", "app")
}

// expectSinksIn is expectSinks for sinks writing to topics upTopic and
// appTopic.
func expectSinksIn(t *testing.T, c *kfake.Cluster, conn *pgx.Conn, upTopic, appTopic string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		want := viewRows(t, conn)
		up, app := foldUpsert(readTopic(t, c, upTopic)), foldAppend(t, readTopic(t, c, appTopic))
		if len(want) > 0 && sameRows(up, want) && sameRows(app, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("sinks differ from the view:\nview:   %s\nupsert: %s\nappend: %s", strings.Join(want, " "), strings.Join(up, " "), strings.Join(app, " "))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func sameRows(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") }

// A GROUP BY view over a stream joined with a table, changed over many
// epochs with retractions: the upsert topic folded by key, and the append
// topic summed per row, equal the view.
func TestSinkKafkaExactlyOnce(t *testing.T) {
	c := sinkCluster(t)
	srv := startSinkServer(t, t.TempDir(), c)
	conn := connect(t, srv)
	for _, stmt := range strings.Split(strings.TrimSpace(sinkSchema), ";") {
		mustExec(t, conn, stmt)
	}
	for round := range 8 {
		sinkRound(t, conn, round)
	}
	if err := srv.Engine().SyncViews(context.Background()); err != nil {
		t.Fatal(err)
	}
	expectSinks(t, c, conn)
}

// Two servers with sinks of the same ids (same DDL on fresh catalogs)
// writing to one Kafka cluster: their
// transactional ids differ, so neither fences the other's producer nor
// reads the other's progress markers; both topics equal their views.
func TestSinkKafkaTwoServersOneCluster(t *testing.T) {
	c := sinkCluster(t)
	var logs testbin.SyncBuffer
	logger := engine.WithLogger(slog.New(slog.NewTextHandler(&logs, nil)))
	srvA := startSinkServer(t, t.TempDir(), c, logger)
	srvB := startSinkServer(t, t.TempDir(), c, logger)
	connA, connB := connect(t, srvA), connect(t, srvB)
	schemaB := strings.NewReplacer("topic = 'up'", "topic = 'up_b'", "topic = 'app'", "topic = 'app_b'").Replace(sinkSchema)
	for i, schema := range []string{sinkSchema, schemaB} {
		conn := []*pgx.Conn{connA, connB}[i]
		for _, stmt := range strings.Split(strings.TrimSpace(schema), ";") {
			mustExec(t, conn, stmt)
		}
	}
	var wg sync.WaitGroup
	for i, conn := range []*pgx.Conn{connA, connB} {
		wg.Go(func() {
			for round := range 6 {
				sinkRound(t, conn, round+10*i)
			}
		})
	}
	wg.Wait()
	expectSinksIn(t, c, connA, "up", "app")
	expectSinksIn(t, c, connB, "up_b", "app_b")
	if strings.Contains(logs.String(), "sink attempt failed") {
		t.Fatalf("a sink failed (fenced by the other server's?):\n%s", logs.String())
	}
}

// A crash between the pending record and EndTxn (the transaction is left
// open, then fenced and aborted), and one after EndTxn before the emitted
// rows are updated (the transaction committed, unknown to storage): after a
// restart the topics still equal the view, with no change twice.
func TestSinkKafkaCrash(t *testing.T) {
	for _, step := range []engine.SinkStep{engine.SinkPendingWritten, engine.SinkCommitted} {
		t.Run(fmt.Sprint(step), func(t *testing.T) {
			c := sinkCluster(t)
			dir := t.TempDir()
			hook := &sinkHook{}
			srv := startSinkServer(t, dir, c, engine.WithSinkHook(hook.call))
			conn := connect(t, srv)
			for _, stmt := range strings.Split(strings.TrimSpace(sinkSchema), ";") {
				mustExec(t, conn, stmt)
			}
			for round := range 3 {
				sinkRound(t, conn, round)
			}
			expectSinks(t, c, conn)
			hit := hook.arm(step)
			sinkRound(t, conn, 3)
			select {
			case <-hit:
			case <-time.After(30 * time.Second):
				t.Fatal("the sink never reached the step")
			}
			_ = conn.Close(context.Background())
			if err := srv.Close(); err != nil {
				t.Fatal(err)
			}

			srv = startSinkServer(t, dir, c)
			conn = connect(t, srv)
			expectSinks(t, c, conn)
			for round := 4; round < 7; round++ {
				sinkRound(t, conn, round)
			}
			expectSinks(t, c, conn)
		})
	}
}

// An EndTxn held past the sink's timeout: the sink restarts its producer
// (which fences and aborts the transaction) instead of guessing, settles
// the outcome from the progress topic and writes the changes again.
func TestSinkKafkaEndTxnTimeout(t *testing.T) {
	c := sinkCluster(t)
	srv := startSinkServer(t, t.TempDir(), c)
	conn := connect(t, srv)
	for _, stmt := range strings.Split(strings.TrimSpace(sinkSchema), ";") {
		mustExec(t, conn, stmt)
	}
	sinkRound(t, conn, 0)
	expectSinks(t, c, conn)
	held := make(chan struct{})
	var fired atomic.Bool
	c.ControlKey(int16(kmsg.EndTxn), func(kmsg.Request) (kmsg.Response, error, bool) {
		// NB: a control function must not block but in SleepControl,
		// or the cluster's loop stops with it.
		c.DropControl()
		if fired.CompareAndSwap(false, true) {
			close(held)
			c.SleepControl(func() { time.Sleep(3 * time.Second) })
		}
		return nil, nil, false
	})
	// Producers initialised after the hold: the sink's new producer.
	var inits atomic.Int32
	c.ControlKey(int16(kmsg.InitProducerID), func(kmsg.Request) (kmsg.Response, error, bool) {
		if fired.Load() {
			inits.Add(1)
		}
		return nil, nil, false
	})
	for round := 1; round < 4; round++ {
		sinkRound(t, conn, round)
	}
	select {
	case <-held:
	case <-time.After(30 * time.Second):
		t.Fatal("no EndTxn was held")
	}
	expectSinks(t, c, conn)
	if inits.Load() == 0 {
		t.Error("the sink did not initialise a new producer after EndTxn timed out")
	}
}

// CREATE SINK's errors, SHOW SINKS, DROP SINK, and DROP of what a sink
// reads (refused without CASCADE).
func TestSinkDDL(t *testing.T) {
	c := sinkCluster(t)
	srv := startSinkServer(t, t.TempDir(), c)
	conn := connect(t, srv)
	ctx := context.Background()
	mustExec(t, conn, "CREATE TABLE items (item text PRIMARY KEY, city text)")
	mustExec(t, conn, "CREATE MATERIALIZED VIEW per_city AS SELECT city, count(*) AS n FROM items GROUP BY city")
	for _, tc := range []struct{ sql, code, msg string }{
		{"CREATE SINK s FROM nope WITH (topic = 't')", "42P01", `relation "nope" does not exist`},
		{"CREATE SINK s FROM per_city WITH (topic = 't', colour = 'red')", "22023", `unrecognized sink option "colour"`},
		{"CREATE SINK s FROM per_city WITH (connector = 'kafka')", "22023", "a kafka sink needs the option topic"},
		{"CREATE SINK s FROM per_city WITH (topic = 't', format = 'avro')", "22023", "needs the option schema_registry"},
		{"CREATE SINK s FROM per_city WITH (topic = 't', format = 'protobuf')", "22023", "needs the option schema_registry"},
		{"CREATE SINK s FROM per_city WITH (topic = 't', format = 'xml')", "22023", `invalid value for option "format"`},
		{"CREATE SINK s FROM per_city WITH (topic = 't', envelope = 'weird')", "22023", `invalid value for option "envelope"`},
		{"CREATE SINK s FROM per_city WITH (topic = 't', key = (nope))", "42703", `key column "nope"`},
		{"CREATE SINK s FROM items WITH (topic = 't', key = (city), connector = 'kinesis')", "22023", `invalid value for option "connector"`},
		{"CREATE SINK s FROM (SELECT city FROM items) WITH (topic = 't')", "22023", "the upsert envelope needs a key"},
		{"CREATE SINK s FROM (SELECT nope FROM items) WITH (topic = 't')", "42703", `column "nope" does not exist`},
	} {
		_, err := conn.Exec(ctx, tc.sql)
		if err == nil {
			t.Errorf("%s: no error", tc.sql)
			continue
		}
		if pe := pgErr(t, err); pe.Code != tc.code || !strings.Contains(pe.Message, tc.msg) {
			t.Errorf("%s: %s %s, want %s %q", tc.sql, pe.Code, pe.Message, tc.code, tc.msg)
		}
	}
	mustExec(t, conn, "CREATE SINK s FROM per_city WITH (topic = 'per_city')")
	mustExec(t, conn, "CREATE SINK IF NOT EXISTS s FROM per_city WITH (topic = 'other')")
	mustExec(t, conn, "CREATE SINK q FROM (SELECT item, city FROM items WHERE city <> 'x') WITH (topic = 'q', envelope = 'debezium', key = (item))")
	if _, err := conn.Exec(ctx, "CREATE SINK s FROM per_city WITH (topic = 't')"); err == nil || pgErr(t, err).Code != "42710" {
		t.Errorf("duplicate sink: %v", err)
	}
	mustExec(t, conn, "INSERT INTO items VALUES ('a', 'paris'), ('b', 'rome')")
	mustExec(t, conn, "UPDATE items SET city = 'oslo' WHERE item = 'a'")
	// The debezium topic: a create per item, then an update of a.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var ops []string
		for _, r := range readTopic(t, c, "q") {
			var v struct{ Op string }
			if err := json.Unmarshal(r.Value, &v); err != nil {
				t.Fatal(err)
			}
			ops = append(ops, string(r.Key)+":"+v.Op)
		}
		sort.Strings(ops)
		if got := strings.Join(ops, " "); got == `{"item":"a"}:c {"item":"a"}:u {"item":"b"}:c` {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("debezium topic: %s", got)
		}
		time.Sleep(100 * time.Millisecond)
	}
	rows, err := conn.Query(ctx, "SHOW SINKS")
	if err != nil {
		t.Fatal(err)
	}
	var shown []string
	for rows.Next() {
		var schema, name, connector, topic, reads, status string
		var txns int64
		if err := rows.Scan(&schema, &name, &connector, &topic, &reads, &status, &txns); err != nil {
			t.Fatal(err)
		}
		shown = append(shown, strings.Join([]string{schema, name, connector, topic, reads, status}, "|"))
	}
	if got := strings.Join(shown, "\n"); got != "public|s|kafka|per_city|per_city|running\npublic|q|kafka|q|SELECT item, city FROM items WHERE city <> 'x'|running" {
		t.Errorf("SHOW SINKS:\n%s", got)
	}
	for _, sql := range []string{"DROP MATERIALIZED VIEW per_city", "DROP TABLE items"} {
		if _, err := conn.Exec(ctx, sql); err == nil || pgErr(t, err).Code != "2BP01" {
			t.Errorf("%s with a sink reading it: %v", sql, err)
		}
	}
	mustExec(t, conn, "DROP SINK q")
	mustExec(t, conn, "DROP SINK IF EXISTS q")
	if _, err := conn.Exec(ctx, "DROP SINK q"); err == nil || pgErr(t, err).Code != "42704" {
		t.Errorf("DROP SINK of a dropped sink: %v", err)
	}
	mustExec(t, conn, "DROP MATERIALIZED VIEW per_city CASCADE")
	if n := queryInt(t, conn, "SELECT count(*) FROM items"); n != 2 {
		t.Errorf("items: %d rows", n)
	}
	rows, err = conn.Query(ctx, "SHOW SINKS")
	if err != nil {
		t.Fatal(err)
	}
	if rows.Next() {
		t.Error("SHOW SINKS lists a sink after DROP … CASCADE")
	}
	rows.Close()
}

// webhookReceiver is an endpoint that fails its first requests, then
// keeps the rows it gets, once per idempotency key.
type webhookReceiver struct {
	mu       sync.Mutex
	failures int
	seen     map[string]bool
	sums     map[string]int64
	batches  []string
}

func (h *webhookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failures > 0 {
		h.failures--
		http.Error(w, "try later", http.StatusServiceUnavailable)
		return
	}
	var rows []struct {
		Key  string          `json:"idempotency_key"`
		Diff int64           `json:"diff"`
		Row  json.RawMessage `json:"row"`
	}
	if err := json.NewDecoder(r.Body).Decode(&rows); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h.batches = append(h.batches, r.Header.Get("Idempotency-Key"))
	for _, row := range rows {
		if h.seen[row.Key] {
			continue
		}
		h.seen[row.Key] = true
		h.sums[string(row.Row)] += row.Diff
	}
}

func (h *webhookReceiver) rows() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return summedRows(h.sums)
}

// A webhook sink: batches retried past failures, and a batch posted again
// after a crash with the same idempotency keys; the rows the endpoint keeps
// (once per key) equal the view.
func TestSinkWebhook(t *testing.T) {
	c := sinkCluster(t)
	recv := &webhookReceiver{failures: 2, seen: map[string]bool{}, sums: map[string]int64{}}
	hs := httptest.NewServer(recv)
	defer hs.Close()
	dir := t.TempDir()
	hook := &sinkHook{}
	srv, conn := startSinkSchema(t, dir, c, hook)
	mustExec(t, conn, "CREATE SINK hook FROM per_city WITH (connector = 'webhook', url = '"+hs.URL+"')")
	if _, err := conn.Exec(context.Background(), "CREATE SINK bad FROM per_city WITH (connector = 'webhook', url = 'x', topic = 't')"); err == nil || !strings.Contains(err.Error(), `unrecognized webhook sink option "topic"`) {
		t.Errorf("webhook sink with a topic: %v", err)
	}
	expectWebhook := func() {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			want, got := viewRows(t, conn), recv.rows()
			if len(want) > 0 && sameRows(want, got) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("webhook rows differ from the view:\nview:    %s\nwebhook: %s", strings.Join(want, " "), strings.Join(got, " "))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	srv, conn = crashAfterRounds(t, srv, conn, dir, c, hook, engine.SinkCommitted, expectWebhook)
	for round := 4; round < 6; round++ {
		sinkRound(t, conn, round)
	}
	expectWebhook()
	recv.mu.Lock()
	defer recv.mu.Unlock()
	dup := map[string]int{}
	for _, b := range recv.batches {
		dup[b]++
	}
	resent := 0
	for _, n := range dup {
		if n > 1 {
			resent++
		}
	}
	if resent == 0 {
		t.Errorf("no batch was posted twice across the crash: %v", recv.batches)
	}
}

// Random runs of rounds, each run ended by a crash at a random step of a
// sink's commit (or a clean restart), with a random transaction size per
// server: the topics always fold to the view. The seed is logged;
// SLUICE_SEED replays one.
func TestSinkKafkaRandomCrashes(t *testing.T) {
	rng := rand.New(rand.NewPCG(uint64(randtest.Seed(t)), 0))
	c := sinkCluster(t)
	dir := t.TempDir()
	round := 0
	for run := range 4 {
		hook := &sinkHook{}
		txnRows := 1 + rng.IntN(6)
		srv := startSinkServer(t, dir, c, engine.WithSinkHook(hook.call), engine.WithSinkTransactionRows(txnRows))
		conn := connect(t, srv)
		if run == 0 {
			for _, stmt := range strings.Split(strings.TrimSpace(sinkSchema), ";") {
				mustExec(t, conn, stmt)
			}
		}
		for range 1 + rng.IntN(3) {
			sinkRound(t, conn, round)
			round++
		}
		crash := rng.IntN(3) // 0, 1: a crash at that step; 2: a clean restart
		t.Logf("run %d: %d rows a transaction, rounds to %d, crash %d", run, txnRows, round, crash)
		if crash < 2 {
			hit := hook.arm(engine.SinkStep(crash))
			sinkRound(t, conn, round)
			round++
			select {
			case <-hit:
			case <-time.After(30 * time.Second):
				t.Fatal("the sink never reached the step")
			}
		}
		_ = conn.Close(context.Background())
		if err := srv.Close(); err != nil {
			t.Fatal(err)
		}
	}
	srv := startSinkServer(t, dir, c)
	expectSinks(t, c, connect(t, srv))
}

// registryFake is a schema registry that registers schemas (POST
// /subjects/{subject}/versions) and keeps them by id.
type registryFake struct {
	mu       sync.Mutex
	schemas  map[uint32]string
	protobuf map[uint32]bool   // the schema is a .proto file (else Avro)
	ids      map[string]uint32 // subject + schema -> id
}

func (r *registryFake) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var body struct{ Schema, SchemaType string }
	if req.Method != http.MethodPost || json.NewDecoder(req.Body).Decode(&body) != nil {
		http.Error(w, `{"error_code": 40400, "message": "not here"}`, http.StatusNotFound)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	k := req.URL.Path + "\n" + body.Schema
	id, ok := r.ids[k]
	if !ok {
		id = uint32(len(r.schemas) + 1)
		r.ids[k], r.schemas[id], r.protobuf[id] = id, body.Schema, body.SchemaType == "PROTOBUF"
	}
	w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	fmt.Fprintf(w, `{"id": %d}`, id)
}

// decode reads a record in the Confluent framing with its schema: Avro, or
// protobuf (its message indexes: a count, then the indexes).
func (r *registryFake) decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	if len(b) < 5 || b[0] != 0 {
		t.Fatalf("bad framing % x", b)
	}
	id := binary.BigEndian.Uint32(b[1:])
	r.mu.Lock()
	schema, isProto := r.schemas[id], r.protobuf[id]
	r.mu.Unlock()
	b = b[5:]
	if !isProto {
		var v map[string]any
		if err := avro.Unmarshal(avro.MustParse(schema), b, &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	n, w := binary.Varint(b)
	b = b[w:]
	idx := 0
	if n > 0 {
		x, w := binary.Varint(b)
		idx, b = int(x), b[w:]
	}
	c := protocompile.Compiler{Resolver: &protocompile.SourceResolver{Accessor: protocompile.SourceAccessorFromMap(map[string]string{"s.proto": schema})}}
	files, err := c.Compile(context.Background(), "s.proto")
	if err != nil {
		t.Fatal(err)
	}
	m := dynamicpb.NewMessage(files[0].Messages().Get(idx))
	if err := proto.Unmarshal(b, m); err != nil {
		t.Fatal(err)
	}
	v := map[string]any{}
	m.Range(func(fd protoreflect.FieldDescriptor, x protoreflect.Value) bool {
		v[string(fd.Name())] = x.Interface()
		return true
	})
	return v
}

// Avro and protobuf upsert sinks with their schemas in a registry: folded
// by key, the decoded topics equal the view, across a crash.
func TestSinkKafkaRegistryFormats(t *testing.T) {
	for _, f := range []string{"avro", "protobuf"} {
		t.Run(f, func(t *testing.T) { testSinkKafkaRegistryFormat(t, f) })
	}
}

func testSinkKafkaRegistryFormat(t *testing.T, format string) {
	c := sinkCluster(t)
	reg := &registryFake{schemas: map[uint32]string{}, protobuf: map[uint32]bool{}, ids: map[string]uint32{}}
	hs := httptest.NewServer(reg)
	defer hs.Close()
	dir := t.TempDir()
	hook := &sinkHook{}
	srv, conn := startSinkSchema(t, dir, c, hook)
	mustExec(t, conn, "CREATE SINK av FROM per_city WITH (topic = 'av', format = '"+format+"', schema_registry = '"+hs.URL+"')")
	expect := func() {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			want := viewRows(t, conn)
			last := map[string]string{}
			for _, r := range readTopic(t, c, "av") {
				k := fmt.Sprint(reg.decode(t, r.Key))
				if r.Value == nil {
					delete(last, k)
					continue
				}
				v := reg.decode(t, r.Value)
				last[k] = fmt.Sprintf(`{"city":%q,"n":%v,"total":%v}`, v["city"], v["n"], v["total"])
			}
			var got []string
			for _, v := range last {
				got = append(got, v)
			}
			sort.Strings(got)
			if len(want) > 0 && sameRows(got, want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s topic differs from the view:\nview:  %s\ntopic: %s", format, strings.Join(want, " "), strings.Join(got, " "))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	srv, conn = crashAfterRounds(t, srv, conn, dir, c, hook, engine.SinkPendingWritten, expect)
	sinkRound(t, conn, 4)
	expect()
}
