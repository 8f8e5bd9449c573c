package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/sluice-db/sluice/internal/testbin"
	"github.com/sluice-db/sluice/server"
)

// startKafkaServer runs a server whose kafka streams read brokers (nil: its
// own embedded broker on a free port).
func startKafkaServer(t *testing.T, dir string, brokers []string) *server.Server {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	cfg := server.Config{PGAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", DataDir: dir, KafkaBrokers: brokers}
	if brokers == nil {
		cfg.EmbeddedKafkaAddr = "127.0.0.1:0"
	}
	srv, err := server.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

func producer(t *testing.T, brokers ...string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.AllowAutoTopicCreation(), kgo.MetadataMinAge(100*time.Millisecond),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func produceValues(t *testing.T, cl *kgo.Client, topic string, values []string) {
	t.Helper()
	recs := make([]*kgo.Record, len(values))
	for i, v := range values {
		recs[i] = &kgo.Record{Topic: topic, Value: []byte(v)}
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// bidJSON is the i-th test bid: auction i%10, price i, nested city.
func bidJSON(i int) string {
	return fmt.Sprintf(`{"auction": %d, "bidder": %d, "price": %d.5, "loc": {"city": "c%d"}, "ts": "2026-12-01T00:00:%02dZ", "extra": [1, 2]}`,
		i%10, i, i, i%3, i%60)
}

func bids(lo, hi int) []string {
	var out []string
	for i := lo; i < hi; i++ {
		out = append(out, bidJSON(i))
	}
	return out
}

func queryInt(t *testing.T, conn *pgx.Conn, sql string) int64 {
	t.Helper()
	var n *int64
	if err := conn.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	if n == nil {
		return 0
	}
	return *n
}

// expectInts checks that each query returns its number.
func expectInts(t *testing.T, conn *pgx.Conn, want map[string]int64) {
	t.Helper()
	for sql, n := range want {
		if got := queryInt(t, conn, sql); got != n {
			t.Errorf("%s: %d, want %d", sql, got, n)
		}
	}
}

func eventually(t *testing.T, conn *pgx.Conn, sql string, want int64) {
	t.Helper()
	start := time.Now()
	defer func() { t.Logf("%s: %v", sql, time.Since(start)) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := queryInt(t, conn, sql)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d, want %d", sql, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const bidsStream = `CREATE STREAM bids (
	auction int8, bidder int8, price numeric(10,2), city text PATH '$.loc.city', ts timestamptz,
	_partition int, _offset bigint
) WITH (connector = 'kafka', topic = 'bids', format = 'json')`

// A kafka stream on the embedded broker: JSON decoded into columns (nested
// paths, metadata columns), bad records in the dead letters, a view kept
// current, progress in SHOW SOURCES and /metrics.
func TestKafkaStreamEmbeddedBroker(t *testing.T) {
	srv := startKafkaServer(t, "", nil)
	conn := connect(t, srv)
	mustExec(t, conn, bidsStream)
	mustExec(t, conn, "CREATE MATERIALIZED VIEW per_auction AS SELECT auction, count(*) AS n, sum(price) AS total FROM bids GROUP BY auction")
	cl := producer(t, srv.KafkaAddr())
	produceValues(t, cl, "bids", bids(0, 5000))
	produceValues(t, cl, "bids", []string{`{"auction": `, `{"auction": "seven"}`, `[1, 2]`})
	produceValues(t, cl, "bids", bids(5000, 10000))

	eventually(t, conn, "SELECT sum(n)::int8 FROM per_auction", 10000)
	eventually(t, conn, "SELECT count(*) FROM sluice_dead_letters WHERE stream = 'bids'", 3)
	if n := queryInt(t, conn, "SELECT n FROM per_auction WHERE auction = 3"); n != 1000 {
		t.Fatalf("auction 3: %d bids, want 1000", n)
	}
	// sum of i + 0.5 over i ≡ 3 (mod 10), i < 10000.
	var total string
	if err := conn.QueryRow(context.Background(), "SELECT total::text FROM per_auction WHERE auction = 3").Scan(&total); err != nil {
		t.Fatal(err)
	}
	if want := "4998500.00"; total != want {
		t.Fatalf("auction 3 total %s, want %s", total, want)
	}
	if n := queryInt(t, conn, "SELECT count(*) FROM bids WHERE city = 'c1' AND ts IS NOT NULL"); n != 3333 {
		t.Fatalf("city c1: %d rows, want 3333", n)
	}
	if n := queryInt(t, conn, "SELECT count(DISTINCT _partition::text || ':' || _offset::text) FROM bids"); n != 10000 {
		t.Fatalf("%d distinct (partition, offset), want 10000", n)
	}
	var reason string
	if err := conn.QueryRow(context.Background(), "SELECT error FROM sluice_dead_letters WHERE raw = '{\"auction\": \"seven\"}'::bytea").Scan(&reason); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(reason, "auction") {
		t.Fatalf("dead letter reason %q does not name the column", reason)
	}
	rows, err := conn.Query(context.Background(), "SHOW SOURCES")
	if err != nil {
		t.Fatal(err)
	}
	var records, lag, dead int64
	for rows.Next() {
		v, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		records += v[6].(int64)
		lag += v[5].(int64)
		dead += v[8].(int64)
	}
	if records != 10003 || lag != 0 || dead != 3 {
		t.Fatalf("SHOW SOURCES: records %d lag %d dead %d, want 10003 0 3", records, lag, dead)
	}
	body := testbin.HTTPGet(t, "http://"+srv.HTTPAddr()+"/metrics", http.StatusOK)
	if !strings.Contains(body, `sluice_source_records_total{partition="0",stream="bids",topic="bids"}`) {
		t.Fatalf("/metrics has no source records:\n%s", body)
	}
	// The ingestion breakdown: every decoded row went through a source
	// commit, and the views published what those commits changed.
	if rows := metricValue(t, body, "sluice_source_commit_rows_sum"); rows != 10000 {
		t.Errorf("sluice_source_commit_rows_sum %v, want 10000", rows)
	}
	// The views' epochs stepped over each of those rows once (counted
	// before an epoch publishes, so the view's total implies them).
	if rows := metricValue(t, body, "sluice_view_epoch_rows_sum"); rows != 10000 {
		t.Errorf("sluice_view_epoch_rows_sum %v, want 10000", rows)
	}
	commits := metricValue(t, body, "sluice_source_commit_rows_count")
	for _, name := range []string{"sluice_source_commit_seconds_count", "sluice_source_commit_wait_seconds_count"} {
		if n := metricValue(t, body, name); n != commits {
			t.Errorf("%s %v, want %v (one a commit)", name, n, commits)
		}
	}
	for _, name := range []string{"sluice_view_publish_delay_seconds_count", "sluice_view_step_seconds_count", "sluice_source_backlog_wait_seconds_count"} {
		if n := metricValue(t, body, name); n < 1 {
			t.Errorf("%s %v, want at least 1", name, n)
		}
	}
}

// metricValue returns the value of the unlabelled sample name in a
// /metrics body.
func metricValue(t *testing.T, body, name string) float64 {
	t.Helper()
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("/metrics has no %s", name)
	return 0
}

// Kill Sluice, produce while it is down, start it again: every record is in
// the stream exactly once. Then the broker restarts under a running
// stream, and ingestion resumes.
func TestKafkaRestartsExactlyOnce(t *testing.T) {
	_, p, _ := net.SplitHostPort(testbin.FreeAddr(t))
	port, _ := strconv.Atoi(p)
	kdir := t.TempDir()
	cluster := func() *kfake.Cluster {
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.DataDir(kdir), kfake.SeedTopics(3, "bids"))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := cluster()
	brokers := c.ListenAddrs()
	dir := t.TempDir()
	srv := startKafkaServer(t, dir, brokers)
	conn := connect(t, srv)
	mustExec(t, conn, bidsStream)
	cl := producer(t, brokers...)
	produceValues(t, cl, "bids", bids(0, 3000))
	eventually(t, conn, "SELECT count(*) FROM bids", 3000)
	_ = conn.Close(context.Background())
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}

	produceValues(t, cl, "bids", bids(3000, 6000))
	srv = startKafkaServer(t, dir, brokers)
	conn = connect(t, srv)
	mustExec(t, conn, "CREATE MATERIALIZED VIEW n AS SELECT count(*) AS n, count(DISTINCT bidder) AS d FROM bids")
	eventually(t, conn, "SELECT n FROM n", 6000)
	eventually(t, conn, "SELECT d FROM n", 6000)

	cl.Close()
	c.Close()
	c = cluster()
	defer c.Close()
	cl = producer(t, brokers...)
	produceValues(t, cl, "bids", bids(6000, 9000))
	eventually(t, conn, "SELECT n FROM n", 9000)
	eventually(t, conn, "SELECT d FROM n", 9000)
}

// New partitions are read as they appear; DROP STREAM stops the source and
// forgets its offsets, so a new stream of that name reads from the start.
func TestKafkaPartitionsAndDrop(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "bids"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	srv := startKafkaServer(t, "", c.ListenAddrs())
	conn := connect(t, srv)
	mustExec(t, conn, bidsStream)
	cl := producer(t, c.ListenAddrs()...)
	produceValues(t, cl, "bids", bids(0, 100))
	eventually(t, conn, "SELECT count(*) FROM bids", 100)
	if _, err := kadm.NewClient(cl).CreatePartitions(context.Background(), 2, "bids"); err != nil {
		t.Fatal(err)
	}
	// The source checks metadata every second; the producer learns the new
	// partitions on its own metadata refresh.
	cl.ForceMetadataRefresh()
	time.Sleep(200 * time.Millisecond)
	produceValues(t, cl, "bids", bids(100, 400))
	eventually(t, conn, "SELECT count(*) FROM bids", 400)
	eventually(t, conn, "SELECT count(DISTINCT _partition) FROM bids", 3)

	mustExec(t, conn, "DROP STREAM bids")
	mustExec(t, conn, bidsStream)
	eventually(t, conn, "SELECT count(*) FROM bids", 400)
}

func TestKafkaStreamErrors(t *testing.T) {
	srv := startKafkaServer(t, "", nil)
	conn := connect(t, srv)
	for _, tc := range []struct{ sql, state, msg string }{
		{"CREATE STREAM s (a int) WITH (connector = 'kafka', topic = 't', colour = 'red')", "22023", `unrecognized stream option "colour"`},
		{"CREATE STREAM s (a int) WITH (connector = 'kafka')", "22023", "exactly one of the options topic"},
		{"CREATE STREAM s (a int) WITH (connector = 'kafka', topic = 't', format = 'xml')", "22023", "xml"},
		{"CREATE STREAM s (a int, _offset text) WITH (connector = 'kafka', topic = 't')", "42804", `metadata column "_offset" must be of type bigint`},
		{"CREATE STREAM s (a int PATH 'a.b') WITH (connector = 'kafka', topic = 't')", "22023", "invalid PATH"},
		{"CREATE STREAM s (a int PATH '$.a')", "42P16", "PATH needs a connector"},
		{"CREATE STREAM s (a int) WITH (connector = 'kafka', topic = 't', brokers = '127.0.0.1:1')", "08006", "cannot reach kafka brokers"},
		{"CREATE STREAM s (a int) WITH (connector = 'kafka', topic = 't', key_columns = 'a')", "22023", "key_columns needs key_format"},
	} {
		_, err := conn.Exec(context.Background(), tc.sql)
		if err == nil {
			t.Errorf("%s: no error", tc.sql)
			continue
		}
		pe := pgErr(t, err)
		if pe.Code != tc.state || !strings.Contains(pe.Message, tc.msg) {
			t.Errorf("%s: %s %s, want %s containing %q", tc.sql, pe.Code, pe.Message, tc.state, tc.msg)
		}
	}
	if _, err := conn.Exec(context.Background(), "SELECT 1 FROM s"); err == nil {
		t.Error("a refused CREATE STREAM left its stream behind")
	}
}

// The embedded broker's port taken: the error names the flag.
func TestEmbeddedKafkaPortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = server.Start(context.Background(), server.Config{PGAddr: "127.0.0.1:0", DataDir: t.TempDir(),
		EmbeddedKafkaAddr: ln.Addr().String()})
	if err == nil || !strings.Contains(err.Error(), "--embedded-kafka-addr") || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("got %v", err)
	}
}

// SASL/SCRAM, a topic pattern, and read_committed: records of an aborted
// transaction never reach the stream.
func TestKafkaSASLPatternAndTransactions(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(),
		kfake.Superuser("SCRAM-SHA-256", "sluice", "s3cret"), kfake.SeedTopics(2, "bids.eu", "bids.us", "other"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	auth := scram.Auth{User: "sluice", Pass: "s3cret"}.AsSha256Mechanism()
	produceTxn := func(topic string, values []string, commit bool) {
		t.Helper()
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.SASL(auth),
			kgo.TransactionalID("test-"+topic), kgo.DefaultProduceTopic(topic))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		ctx := context.Background()
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for _, v := range values {
			cl.Produce(ctx, &kgo.Record{Value: []byte(v)}, nil)
		}
		if err := cl.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	srv := startKafkaServer(t, "", c.ListenAddrs())
	conn := connect(t, srv)
	_, err = conn.Exec(context.Background(), `CREATE STREAM b (auction int8, _topic text) WITH (connector = 'kafka',
		topic_pattern = '^bids\.', sasl_mechanism = 'SCRAM-SHA-256', sasl_username = 'sluice', sasl_password = 'wrong')`)
	if err == nil || pgErr(t, err).Code != "08006" || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("bad password: %v", err)
	}
	mustExec(t, conn, `CREATE STREAM b (auction int8, _topic text) WITH (connector = 'kafka',
		topic_pattern = '^bids\.', sasl_mechanism = 'SCRAM-SHA-256', sasl_username = 'sluice', sasl_password = 's3cret')`)
	produceTxn("bids.eu", bids(0, 100), true)
	produceTxn("bids.us", bids(100, 200), false)
	produceTxn("other", bids(200, 300), true)
	produceTxn("bids.us", bids(300, 350), true)
	eventually(t, conn, "SELECT count(*) FROM b", 150)
	expectInts(t, conn, map[string]int64{
		"SELECT count(*) FROM b WHERE _topic = 'bids.eu'":     100,
		"SELECT count(*) FROM b WHERE _topic = 'bids.us'":     50,
		"SELECT min(auction) FROM b WHERE _topic = 'bids.us'": 0,
	})
	time.Sleep(300 * time.Millisecond)
	if n := queryInt(t, conn, "SELECT count(*) FROM b"); n != 150 {
		t.Fatalf("%d rows after settling, want 150", n)
	}

	// The password by reference: an environment variable or a file, read
	// when the source starts; the catalog keeps the reference.
	t.Setenv("SLUICE_TEST_KAFKA_PASSWORD", "s3cret")
	file := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(file, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, ref := range map[string]string{"b_env": "${env:SLUICE_TEST_KAFKA_PASSWORD}", "b_file": "${file:" + file + "}"} {
		mustExec(t, conn, `CREATE STREAM `+name+` (auction int8) WITH (connector = 'kafka', topic = 'bids.eu',
			sasl_mechanism = 'SCRAM-SHA-256', sasl_username = 'sluice', sasl_password = '`+ref+`')`)
		eventually(t, conn, "SELECT count(*) FROM "+name, 100)
	}
	for ref, want := range map[string]string{
		"${env:SLUICE_TEST_UNSET}":  "environment variable SLUICE_TEST_UNSET is not set",
		"${file:" + file + ".none}": "reading the secret file",
		"${vault:x}":                "is not a secret reference",
	} {
		_, err = conn.Exec(context.Background(), `CREATE STREAM b_bad (auction int8) WITH (connector = 'kafka', topic = 'bids.eu',
			sasl_mechanism = 'SCRAM-SHA-256', sasl_username = 'sluice', sasl_password = '`+ref+`')`)
		if err == nil || pgErr(t, err).Code != "22023" || !strings.Contains(err.Error(), want) {
			t.Errorf("sasl_password = %s: %v, want 22023 %q", ref, err, want)
		}
	}
}

// schemaRegistry serves schemas by id as a Confluent schema registry does
// (GET /schemas/ids/{id}), which is all a reader asks it.
func schemaRegistry(t *testing.T, schemas map[int]string) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /schemas/ids/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.Atoi(r.PathValue("id"))
		w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		s, ok := schemas[id]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"error_code": 40403, "message": "Schema %d not found"}`, id)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"schema": s})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// confluent frames payload as the registry's serializers do: magic byte 0,
// the schema id (4 bytes big-endian), then the payload (and, for protobuf,
// the message-index list; a lone 0 means the first message).
func confluent(id int, payload []byte, protobuf bool) []byte {
	b := []byte{0, byte(id >> 24), byte(id >> 16), byte(id >> 8), byte(id)}
	if protobuf {
		b = append(b, 0)
	}
	return append(b, payload...)
}

// Avro through the registry while the producer's schema gains an optional
// field mid-stream; an unknown schema id and a truncated record become dead
// letters, and ingestion goes on.
func TestKafkaAvroSchemaEvolution(t *testing.T) {
	v1 := `{"type": "record", "name": "Bid", "fields": [{"name": "auction", "type": "long"}, {"name": "price", "type": "long"}]}`
	v2 := `{"type": "record", "name": "Bid", "fields": [{"name": "auction", "type": "long"}, {"name": "price", "type": "long"},
		{"name": "city", "type": ["null", "string"], "default": null}]}`
	reg := schemaRegistry(t, map[int]string{1: v1, 2: v2})
	s1, s2 := avro.MustParse(v1), avro.MustParse(v2)
	type bidV1 struct {
		Auction int64 `avro:"auction"`
		Price   int64 `avro:"price"`
	}
	type bidV2 struct {
		Auction int64   `avro:"auction"`
		Price   int64   `avro:"price"`
		City    *string `avro:"city"`
	}
	srv := startKafkaServer(t, "", nil)
	conn := connect(t, srv)
	mustExec(t, conn, `CREATE STREAM bids (auction int8, price int8, city text)
		WITH (connector = 'kafka', topic = 'avro_bids', format = 'avro', schema_registry = '`+reg+`')`)
	mustExec(t, conn, "CREATE MATERIALIZED VIEW per_city AS SELECT city, count(*) AS n, sum(price) AS total FROM bids GROUP BY city")
	var values [][]byte
	for i := range 100 {
		b, err := avro.Marshal(s1, bidV1{Auction: int64(i % 5), Price: int64(i)})
		if err != nil {
			t.Fatal(err)
		}
		values = append(values, confluent(1, b, false))
	}
	values = append(values, confluent(99, []byte{2, 4}, false)) // unknown schema id
	good, _ := avro.Marshal(s1, bidV1{Auction: 1, Price: 1})
	values = append(values, confluent(1, good[:1], false)) // truncated
	city := "Bend"
	for i := range 100 {
		b, err := avro.Marshal(s2, bidV2{Auction: int64(i % 5), Price: 1000 + int64(i), City: &city})
		if err != nil {
			t.Fatal(err)
		}
		values = append(values, confluent(2, b, false))
	}
	cl := producer(t, srv.KafkaAddr())
	recs := make([]*kgo.Record, len(values))
	for i, v := range values {
		recs[i] = &kgo.Record{Topic: "avro_bids", Value: v}
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	eventually(t, conn, "SELECT sum(n)::int8 FROM per_city", 200)
	eventually(t, conn, "SELECT count(*) FROM sluice_dead_letters WHERE stream = 'bids'", 2)
	expectInts(t, conn, map[string]int64{
		"SELECT n FROM per_city WHERE city IS NULL":                        100,
		"SELECT total::int8 FROM per_city WHERE city IS NULL":              4950,
		"SELECT total::int8 FROM per_city WHERE city = 'Bend'":             104950,
		"SELECT count(*) FROM sluice_dead_letters WHERE error LIKE '%99%'": 1,
	})
}

// Protobuf from a .proto file, with the registry framing; a truncated
// message is a dead letter.
func TestKafkaProtobuf(t *testing.T) {
	dir := t.TempDir()
	proto := `syntax = "proto3";
package nexmark;
message Bid { int64 auction = 1; int64 price = 2; string city = 3; }
`
	if err := os.WriteFile(filepath.Join(dir, "bid.proto"), []byte(proto), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := startKafkaServer(t, "", nil)
	conn := connect(t, srv)
	mustExec(t, conn, `CREATE STREAM pbids (auction int8, price int8, city text)
		WITH (connector = 'kafka', topic = 'pb_bids', format = 'protobuf', proto_file = '`+filepath.Join(dir, "bid.proto")+`',
		      proto_message = 'nexmark.Bid', framing = 'confluent')`)
	var recs []*kgo.Record
	for i := range 300 {
		var b []byte
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(i%7))
		b = protowire.AppendTag(b, 2, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(i))
		b = protowire.AppendTag(b, 3, protowire.BytesType)
		b = protowire.AppendString(b, fmt.Sprintf("c%d", i%3))
		if i == 150 {
			b = b[:len(b)-2] // truncated
		}
		recs = append(recs, &kgo.Record{Topic: "pb_bids", Value: confluent(7, b, true)})
	}
	cl := producer(t, srv.KafkaAddr())
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	eventually(t, conn, "SELECT count(*) FROM pbids", 299)
	eventually(t, conn, "SELECT count(*) FROM sluice_dead_letters WHERE stream = 'pbids'", 1)
	if got := queryInt(t, conn, "SELECT sum(price)::int8 FROM pbids WHERE city = 'c0'"); got != 14850-150 {
		t.Errorf("sum of prices in c0: %d, want %d", got, 14850-150)
	}
}

// ALTER STREAM … ADD COLUMN while a kafka stream runs: rows before read
// NULL, records after fill it, the view created before keeps working, a new
// view sees the column, and all of it survives a restart.
func TestKafkaAlterStreamAddColumn(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "bids"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dir := t.TempDir()
	srv := startKafkaServer(t, dir, c.ListenAddrs())
	conn := connect(t, srv)
	mustExec(t, conn, `CREATE STREAM bids (auction int8, bidder int8) WITH (connector = 'kafka', topic = 'bids', format = 'json')`)
	mustExec(t, conn, "CREATE MATERIALIZED VIEW per_auction AS SELECT auction, count(*) AS n FROM bids GROUP BY auction")
	mustExec(t, conn, "CREATE MATERIALIZED VIEW everything AS SELECT * FROM bids")
	cl := producer(t, c.ListenAddrs()...)
	produceValues(t, cl, "bids", bids(0, 1000))
	eventually(t, conn, "SELECT sum(n)::int8 FROM per_auction", 1000)

	mustExec(t, conn, "ALTER STREAM bids ADD COLUMN city text PATH '$.loc.city', ADD COLUMN price numeric")
	produceValues(t, cl, "bids", bids(1000, 2000))
	eventually(t, conn, "SELECT sum(n)::int8 FROM per_auction", 2000)
	eventually(t, conn, "SELECT count(*) FROM everything", 2000)
	mustExec(t, conn, "CREATE MATERIALIZED VIEW per_city AS SELECT city, count(*) AS n, sum(price) AS total FROM bids GROUP BY city")
	check := func() {
		t.Helper()
		var cols int
		if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_attribute WHERE attrelid = 'everything'::regclass AND attnum > 0").Scan(&cols); err != nil {
			t.Fatal(err)
		}
		if cols != 2 {
			t.Errorf("the view created before ADD COLUMN has %d columns, want 2", cols)
		}
		eventually(t, conn, "SELECT n FROM per_city WHERE city IS NULL", 1000)
		eventually(t, conn, "SELECT n FROM per_city WHERE city = 'c1'", 334)
		expectInts(t, conn, map[string]int64{
			"SELECT count(*) FROM bids WHERE city IS NULL AND bidder < 1000": 1000,
			"SELECT count(*) FROM bids WHERE price IS NOT NULL":              1000,
			"SELECT count(*) FROM everything":                                2000,
			"SELECT count(*) FROM sluice_dead_letters":                       0,
		})
	}
	check()
	_ = conn.Close(context.Background())
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	srv = startKafkaServer(t, dir, c.ListenAddrs())
	conn = connect(t, srv)
	check()

	for _, tc := range []struct{ sql, state string }{
		{"ALTER STREAM bids ADD COLUMN city text", "42701"},
		{"ALTER STREAM bids ADD COLUMN x int NOT NULL", "0A000"},
		{"ALTER STREAM bids ADD COLUMN x int DEFAULT 1", "0A000"},
		{"ALTER STREAM bids DROP COLUMN city", "0A000"},
		{"ALTER STREAM sluice_dead_letters ADD COLUMN x int", "42809"},
		{"ALTER STREAM nope ADD COLUMN x int", "42P01"},
	} {
		_, err := conn.Exec(context.Background(), tc.sql)
		if err == nil {
			t.Errorf("%s: no error", tc.sql)
			continue
		}
		if pe := pgErr(t, err); pe.Code != tc.state {
			t.Errorf("%s: %s %s, want %s", tc.sql, pe.Code, pe.Message, tc.state)
		}
	}
	mustExec(t, conn, "ALTER STREAM IF EXISTS nope ADD COLUMN x int")
	mustExec(t, conn, "ALTER STREAM bids ADD COLUMN IF NOT EXISTS city text")
}

// The record key decoded into columns (key_format), CSV values, progress
// committed to the stream's consumer group for lag tools, and on_error =
// 'fail' stopping the source at a bad record (SHOW SOURCES says why).
func TestKafkaKeyCSVGroupAndFail(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "kv", "strict"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	srv := startKafkaServer(t, "", c.ListenAddrs())
	conn := connect(t, srv)
	mustExec(t, conn, `CREATE STREAM kv (id int8, region text, price numeric, qty int4)
		WITH (connector = 'kafka', topic = 'kv', format = 'csv', key_format = 'json', key_columns = 'id, region')`)
	mustExec(t, conn, `CREATE STREAM strict (a int8) WITH (connector = 'kafka', topic = 'strict', on_error = 'fail')`)
	cl := producer(t, c.ListenAddrs()...)
	var recs []*kgo.Record
	for i := range 100 {
		recs = append(recs, &kgo.Record{Topic: "kv", Key: []byte(fmt.Sprintf(`{"id": %d, "region": "r%d"}`, i, i%2)),
			Value: []byte(fmt.Sprintf("%d.25,%d", i, i%5))})
	}
	recs = append(recs, &kgo.Record{Topic: "kv", Key: []byte(`{"id": "x"}`), Value: []byte("1,1")})
	recs = append(recs, &kgo.Record{Topic: "strict", Value: []byte(`{"a": 1}`)},
		&kgo.Record{Topic: "strict", Value: []byte(`{"a": "one"}`)},
		&kgo.Record{Topic: "strict", Value: []byte(`{"a": 3}`)})
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	eventually(t, conn, "SELECT count(*) FROM kv", 100)
	eventually(t, conn, "SELECT count(*) FROM sluice_dead_letters WHERE stream = 'kv' AND error LIKE 'key: %'", 1)
	// The streams fetch on their own: strict's first record may come in
	// after kv's last.
	eventually(t, conn, "SELECT count(*) FROM strict", 1)
	expectInts(t, conn, map[string]int64{
		"SELECT count(*) FROM kv WHERE region = 'r1' AND id % 2 = 1":       50,
		"SELECT sum(qty)::int8 FROM kv":                                    200,
		"SELECT (sum(price) * 100)::int8 FROM kv":                          497500,
		"SELECT count(*) FROM strict":                                      1,
		"SELECT count(*) FROM sluice_dead_letters WHERE stream = 'strict'": 0,
	})
	var stopped string
	deadline := time.Now().Add(10 * time.Second)
	for stopped == "" && time.Now().Before(deadline) {
		r, err := conn.Query(context.Background(), "SHOW SOURCES")
		if err != nil {
			t.Fatal(err)
		}
		for r.Next() {
			v, _ := r.Values()
			if v[0] == "strict" && v[10] != nil {
				stopped = v[10].(string)
			}
		}
		r.Close()
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(stopped, "strict/0@1") {
		t.Fatalf("SHOW SOURCES error of the failed source: %q", stopped)
	}
	// Progress reaches the consumer group within its 5 s commit period.
	adm := kadm.NewClient(cl)
	deadline = time.Now().Add(15 * time.Second)
	for {
		offs, err := adm.FetchOffsets(context.Background(), "sluice.public.kv")
		if err == nil {
			if o, ok := offs.Lookup("kv", 0); ok && o.At == 101 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("group sluice.public.kv has no committed offset 101: %v %v", offs, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// SHOW SOURCES shows an offset it does not know yet (a partition's high
// watermark before its first fetch) as NULL, never -1; start = 'latest'
// begins at each partition's end.
func TestKafkaShowSourcesUnknownOffsets(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "bids"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	srv := startKafkaServer(t, "", c.ListenAddrs())
	conn := connect(t, srv)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	produceValues(t, cl, "bids", bids(0, 10)) // all to partition 0, before the stream
	mustExec(t, conn, strings.Replace(bidsStream, "format = 'json'", "format = 'json', start = 'latest'", 1))
	// stream topic partition position high_watermark lag ...
	waitSources := func(want func(p0, p1 []string) bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			lines := rowsText(t, conn, "SHOW SOURCES") // sorted: partition 0 first
			for _, l := range lines {
				if slices.Contains(strings.Fields(l), "-1") {
					t.Fatalf("SHOW SOURCES shows -1: %q", l)
				}
			}
			if len(lines) == 2 && want(strings.Fields(lines[0]), strings.Fields(lines[1])) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("SHOW SOURCES: %q", lines)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitSources(func(p0, p1 []string) bool { return p0[3] == "10" && p1[3] == "0" && p0[5] == "0" })
	produceValues(t, cl, "bids", bids(10, 11))
	eventually(t, conn, "SELECT count(*) FROM bids", 1)
	waitSources(func(p0, p1 []string) bool { return p0[3] == "11" && p0[4] == "11" && p1[3] == "0" })
}
