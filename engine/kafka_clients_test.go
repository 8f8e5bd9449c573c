//go:build integration

package engine_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// needClient finds a client program, skipping the test without it unless
// SLUICE_REQUIRE_CLIENTS is set (make ci sets it: there a missing client
// is a failure, not a skip).
func needClient(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("SLUICE_REQUIRE_CLIENTS") != "" {
			t.Fatalf("%s is not installed (scripts/ci-deps.sh installs it)", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return p
}

// Records produced by librdkafka (kcat) and by kafkajs reach a stream on the
// embedded broker, keys and headers included.
func TestKafkaClientsProduce(t *testing.T) {
	kcat := needClient(t, "kcat")
	node := needClient(t, "node")
	jsDir, err := filepath.Abs("../connector/kafka/testdata/kafkajs")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(jsDir, "node_modules", "kafkajs")); err != nil {
		if os.Getenv("SLUICE_REQUIRE_CLIENTS") != "" {
			t.Fatalf("kafkajs is not installed in %s (run npm ci there; scripts/ci-deps.sh does)", jsDir)
		}
		t.Skipf("kafkajs is not installed in %s", jsDir)
	}

	srv := startKafkaServer(t, "", nil)
	conn := connect(t, srv)
	mustExec(t, conn, `CREATE STREAM bids (auction int8, bidder int8, price numeric(10,2), city text PATH '$.loc.city',
		_key text, _headers jsonb) WITH (connector = 'kafka', topic = 'kc', format = 'json')`)
	mustExec(t, conn, "CREATE MATERIALIZED VIEW per_city AS SELECT city, count(*) AS n FROM bids GROUP BY city")

	var lines strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&lines, "k%d|{\"auction\": %d, \"bidder\": %d, \"price\": %d.5, \"loc\": {\"city\": \"c%d\"}}\n", i, i%10, i, i, i%3)
	}
	file := filepath.Join(t.TempDir(), "bids.ndjson")
	if err := os.WriteFile(file, []byte(lines.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(kcat, "-b", srv.KafkaAddr(), "-t", "kc", "-P", "-K", "|", "-H", "client=kcat", "-l", file).CombinedOutput(); err != nil {
		t.Fatalf("kcat: %v\n%s", err, out)
	}
	cmd := exec.Command(node, "produce.js", srv.KafkaAddr(), "kc", "1000", "1000")
	cmd.Dir = jsDir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kafkajs: %v\n%s", err, out)
	}

	eventually(t, conn, "SELECT sum(n)::int8 FROM per_city", 2000)
	eventually(t, conn, "SELECT n FROM per_city WHERE city = 'c1'", 667)
	expectInts(t, conn, map[string]int64{
		"SELECT count(*) FROM bids WHERE _headers->>'client' = 'kcat'":    1000,
		"SELECT count(*) FROM bids WHERE _headers->>'client' = 'kafkajs'": 1000,
		"SELECT count(DISTINCT _key) FROM bids WHERE _key LIKE 'k%'":      2000,
		"SELECT count(DISTINCT bidder) FROM bids":                         2000,
		"SELECT count(*) FROM sluice_dead_letters":                        0,
	})
}
