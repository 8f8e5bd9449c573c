//go:build integration

package psqltest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/jackc/pgx/v5"

	"github.com/sluice-db/sluice/server"
)

// database is the name the outputs show for the database psql connects to
// on both servers. Sluice serves one database under any name; on PostgreSQL
// the test creates dbName, unique to the process (the cluster may be shared
// by concurrent test runs), and outputs show it as database.
const database = "sluice_psqltest"

var dbName = fmt.Sprintf("%s_%d", database, os.Getpid())

// sluiceSetup creates the objects the commands describe.
var sluiceSetup = []string{
	`CREATE TABLE psql_rides (ride_id text PRIMARY KEY, city text NOT NULL DEFAULT 'Paris',
	   fare numeric(10,2) DEFAULT 0, distance double precision, ts timestamptz DEFAULT now(), tags text[])`,
	`CREATE TABLE psql_cities (city text PRIMARY KEY, country char(2), name varchar(40), population bigint DEFAULT -1)`,
	`CREATE STREAM psql_events (event_id bigint, city text, amount double precision, at timestamptz)`,
	`CREATE MATERIALIZED VIEW psql_revenue AS
	   SELECT city, count(*) AS rides, sum(fare) AS revenue FROM psql_rides GROUP BY city`,
	`CREATE MATERIALIZED VIEW psql_by_country AS
	   SELECT c.country, count(*) AS events, max(e.amount) AS top
	   FROM psql_events e JOIN psql_cities c ON e.city = c.city GROUP BY c.country`,
	`CREATE SEQUENCE psql_ids START 100`,
	`COMMENT ON TABLE psql_cities IS 'cities served'`,
	`COMMENT ON COLUMN psql_cities.country IS 'ISO 3166 code'`,
	`COMMENT ON MATERIALIZED VIEW psql_revenue IS 'revenue per city'`,
}

// postgresSetup creates the PostgreSQL objects equivalent to sluiceSetup: a
// stream is a table (relkind 'r', as Sluice shows streams) with the comment
// Sluice gives streams, and a materialized view has a unique index on the
// key Sluice keeps its rows by.
var postgresSetup = []string{
	`CREATE TABLE psql_rides (ride_id text PRIMARY KEY, city text NOT NULL DEFAULT 'Paris',
	   fare numeric(10,2) DEFAULT 0, distance double precision, ts timestamptz DEFAULT now(), tags text[])`,
	`CREATE TABLE psql_cities (city text PRIMARY KEY, country char(2), name varchar(40), population bigint DEFAULT -1)`,
	`CREATE TABLE psql_events (event_id bigint, city text, amount double precision, at timestamptz)`,
	`COMMENT ON TABLE psql_events IS 'append-only stream'`,
	`CREATE MATERIALIZED VIEW psql_revenue AS
	   SELECT city, count(*) AS rides, sum(fare) AS revenue FROM psql_rides GROUP BY city`,
	`CREATE UNIQUE INDEX ON psql_revenue (city)`,
	`CREATE MATERIALIZED VIEW psql_by_country AS
	   SELECT c.country, count(*) AS events, max(e.amount) AS top
	   FROM psql_events e JOIN psql_cities c ON e.city = c.city GROUP BY c.country`,
	`CREATE UNIQUE INDEX ON psql_by_country (country)`,
	`CREATE SEQUENCE psql_ids START 100`,
	`COMMENT ON TABLE psql_cities IS 'cities served'`,
	`COMMENT ON COLUMN psql_cities.country IS 'ISO 3166 code'`,
	`COMMENT ON MATERIALIZED VIEW psql_revenue IS 'revenue per city'`,
}

// singleRelationSources are the relations single-relation views read:
// PostgreSQL before 16 qualified their columns in view definitions
// (psql_rides.city), 16 and Sluice do not.
var singleRelationSources = []string{"psql_rides"}

// target is one server psql talks to.
type target struct {
	name string
	psql string
	args []string // connection arguments
}

func (tg *target) run(t *testing.T, extra []string, input string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := append(append([]string{"-X", "-P", "pager=off"}, tg.args...), extra...)
	for _, line := range strings.Split(strings.TrimSpace(input), "\n") {
		args = append(args, "-c", line)
	}
	cmd := exec.CommandContext(ctx, tg.psql, args...)
	cmd.Env = append(os.Environ(), "PGCONNECT_TIMEOUT=10", "PGSSLMODE=disable", "PSQLRC=/dev/null", "PGTZ=UTC", "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	if err != nil && ctx.Err() != nil {
		t.Fatalf("psql on %s timed out:\n%s", tg.name, out)
	}
	return string(out)
}

func startSluice(t *testing.T) string {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := server.Start(context.Background(), server.Config{PGAddr: "127.0.0.1:0", DataDir: t.TempDir(), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
	})
	return srv.PGAddr()
}

func execAll(t *testing.T, url string, stmts []string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// postgresTarget creates a fresh database on the PostgreSQL at pgURL and
// returns a target connected to it, and its server_version_num.
func postgresTarget(t *testing.T, psql, pgURL string) (*target, int) {
	t.Helper()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var version int
	if err := admin.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"DROP DATABASE IF EXISTS " + dbName, "CREATE DATABASE " + dbName} {
		if _, err := admin.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	t.Cleanup(func() {
		ctx := context.Background()
		if admin, err := pgx.Connect(ctx, pgURL); err == nil {
			_, _ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+dbName+" WITH (FORCE)")
			admin.Close(ctx)
		}
	})
	u, err := url.Parse(pgURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + dbName
	execAll(t, u.String(), postgresSetup)
	return &target{name: "PostgreSQL", psql: psql, args: []string{"-d", u.String()}}, version
}

// goldenPsql is the psql major version testdata/describe was written with:
// psql's output (and the queries it sends) change between versions.
const goldenPsql = 15

// psqlMajor returns the major version of a psql binary (0 if unknown).
func psqlMajor(psql string) int {
	out, err := exec.Command(psql, "--version").Output()
	if err != nil {
		return 0
	}
	m := regexp.MustCompile(`(\d+)\.\d+`).FindStringSubmatch(string(out))
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// userOf is the user name in a connection URL ("postgres" by default).
func userOf(pgURL string) string {
	if u, err := url.Parse(pgURL); err == nil && u.User != nil && u.User.Username() != "" {
		return u.User.Username()
	}
	return "postgres"
}

// TestDescribe runs psql's describe commands against Sluice, checks the
// output against testdata/describe and, with SLUICE_TEST_PG_URL set,
// against PostgreSQL's for equivalent objects.
//
// Commands:
//
//	psql [unaligned] [sluice-only] [only-database]
//	<one psql command per line>
//	----
//	<Sluice's output>
//
// unaligned runs psql -A and replaces sizes ("16 kB") by SIZE, which differ
// between the servers' storage; only-database keeps the header and the row
// of the test database (\l); sluice-only skips the comparison for commands
// whose output rightly differs (objects PostgreSQL has and Sluice has not).
func TestDescribe(t *testing.T) {
	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Skip("psql not installed")
	}
	pgURL := os.Getenv("SLUICE_TEST_PG_URL")
	user := userOf(pgURL)
	host, port, _ := net.SplitHostPort(startSluice(t))
	sluiceURL := fmt.Sprintf("postgres://%s@%s:%s/%s?sslmode=disable", user, host, port, dbName)
	execAll(t, sluiceURL, sluiceSetup)
	sl := &target{name: "Sluice", psql: psql, args: []string{"-d", sluiceURL}}

	golden := psqlMajor(psql) == goldenPsql
	if !golden {
		t.Logf("psql is not version %d: comparing with PostgreSQL only, not with testdata/describe", goldenPsql)
	}
	var pgT *target
	pgVersion := 0
	if pgURL != "" {
		pgT, pgVersion = postgresTarget(t, psql, pgURL)
	} else {
		t.Log("SLUICE_TEST_PG_URL not set: checking the golden file only")
	}

	datadriven.RunTest(t, "testdata/describe", func(t *testing.T, d *datadriven.TestData) string {
		if d.Cmd != "psql" {
			d.Fatalf(t, "unknown command %q", d.Cmd)
		}
		var extra []string
		if d.HasArg("unaligned") {
			extra = append(extra, "-A")
		}
		norm := func(out string, fromPG bool) string {
			if d.HasArg("unaligned") {
				out = sizes.ReplaceAllString(out, "SIZE")
			}
			if d.HasArg("only-database") {
				out = onlyDatabase(out)
			}
			out = strings.ReplaceAll(out, dbName, database)
			if fromPG && pgVersion < 160000 {
				out = unqualifyViewDefinitions(out)
			}
			return out
		}
		got := norm(sl.run(t, extra, d.Input), false)
		if pgT != nil && !d.HasArg("sluice-only") {
			want := norm(pgT.run(t, extra, d.Input), true)
			if got != want {
				t.Errorf("%s: Sluice and PostgreSQL differ\n--- PostgreSQL\n%s\n--- Sluice\n%s", d.Pos, want, got)
			}
		}
		if !golden {
			return d.Expected
		}
		return got
	})
}

var sizes = regexp.MustCompile(`\b\d+ (bytes|kB|MB|GB)\b`)

// onlyDatabase keeps the first two lines (title, header) of unaligned \l
// output and the test database's row, with the locale columns of
// PostgreSQL's initdb (C.UTF-8) read as C, the byte order Sluice sorts in.
func onlyDatabase(out string) string {
	lines := strings.Split(out, "\n")
	var keep []string
	for i, l := range lines {
		if i < 2 || strings.HasPrefix(l, dbName+"|") {
			keep = append(keep, strings.ReplaceAll(l, "|C.UTF-8|C.UTF-8|", "|C|C|"))
		}
	}
	return strings.Join(keep, "\n") + "\n"
}

// unqualifyViewDefinitions removes the qualification PostgreSQL < 16 puts
// on the columns of single-relation views.
func unqualifyViewDefinitions(out string) string {
	lines := strings.Split(out, "\n")
	in := false
	for i, l := range lines {
		switch {
		case l == "View definition:":
			in = true
		case in && !strings.HasPrefix(l, " "):
			in = false
		case in:
			for _, rel := range singleRelationSources {
				lines[i] = strings.ReplaceAll(lines[i], rel+".", "")
			}
		}
	}
	return strings.Join(lines, "\n")
}

// everyDescribeCommand lists psql 15's describe commands; each runs plain,
// with +, with S and with S+.
var everyDescribeCommand = []string{`\d`, `\da`, `\dA`, `\dAc`, `\dAf`, `\dAo`, `\dAp`, `\db`, `\dc`, `\dC`, `\dd`,
	`\dD`, `\ddp`, `\dE`, `\des`, `\det`, `\deu`, `\dew`, `\df`, `\dF`, `\dFd`, `\dFp`, `\dFt`, `\dg`, `\di`, `\dl`,
	`\dL`, `\dm`, `\dn`, `\do`, `\dO`, `\dp`, `\dP`, `\drds`, `\dRp`, `\dRs`, `\ds`, `\dt`, `\dT`, `\du`, `\dv`, `\dx`,
	`\dX`, `\dy`, `\l`, `\z`, `\dconfig`, `\dfa`, `\dfn`, `\dfw`, `\dft`, `\d psql_rides`, `\d psql_revenue`,
	`\d psql_rides_pkey`, `\d pg_class`, `\d information_schema.tables`}

// knownUnsupported are the commands whose queries use what Sluice lacks;
// they must fail with this SQLSTATE, never with an internal error.
var knownUnsupported = map[string]string{
	`\dP+`: "0A000", // LATERAL (SELECT … FROM pg_partition_tree(c.oid))
}

// TestEveryDescribeCommand runs every describe command against Sluice: none
// may fail but the known ones, and those with their SQLSTATE.
func TestEveryDescribeCommand(t *testing.T) {
	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Skip("psql not installed")
	}
	host, port, _ := net.SplitHostPort(startSluice(t))
	sluiceURL := fmt.Sprintf("postgres://postgres@%s:%s/%s?sslmode=disable", host, port, dbName)
	execAll(t, sluiceURL, sluiceSetup)
	sl := &target{name: "Sluice", psql: psql, args: []string{"-d", sluiceURL, "-v", "VERBOSITY=verbose"}}
	sqlstate := regexp.MustCompile(`ERROR:  ([0-9A-Z]{5}):`)
	for _, base := range everyDescribeCommand {
		variants := []string{base, base + "+"}
		if !strings.Contains(base, " ") {
			variants = append(variants, base+"S", base+"S+")
		}
		for _, cmd := range variants {
			out := sl.run(t, nil, cmd)
			m := sqlstate.FindStringSubmatch(out)
			want, known := knownUnsupported[cmd]
			switch {
			case strings.Contains(out, "connection") || strings.Contains(out, "[BUG]"):
				t.Errorf("%s: %s", cmd, out)
			case m == nil && known:
				t.Errorf("%s now works: remove it from knownUnsupported", cmd)
			case m != nil && !known:
				t.Errorf("%s fails:\n%s", cmd, out)
			case m != nil && m[1] != want:
				t.Errorf("%s fails with %s, want %s:\n%s", cmd, m[1], want, out)
			}
		}
	}
}

// TestSessionCommands runs psql's client-side commands that talk to the
// server: \conninfo, \timing, \copy in both directions, and a
// notification of LISTEN/NOTIFY.
func TestSessionCommands(t *testing.T) {
	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Skip("psql not installed")
	}
	host, port, _ := net.SplitHostPort(startSluice(t))
	sluiceURL := fmt.Sprintf("postgres://sluice@%s:%s/%s?sslmode=disable", host, port, database)
	execAll(t, sluiceURL, []string{`CREATE TABLE psql_copy (id int PRIMARY KEY, v text)`})
	in := filepath.Join(t.TempDir(), "in.tsv")
	if err := os.WriteFile(in, []byte("1\tone\n2\ttwo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sl := &target{name: "Sluice", psql: psql, args: []string{"-d", sluiceURL}}
	out := sl.run(t, nil, `\conninfo
\copy psql_copy from '`+in+`'
\timing on
SELECT count(*) FROM psql_copy
\timing off
\copy (SELECT id, upper(v) FROM psql_copy ORDER BY id) to stdout
LISTEN psql_chan
NOTIFY psql_chan, 'hello'`)
	for _, want := range []string{
		`You are connected to database "` + database + `" as user "sluice" on host "` + host + `" at port "` + port + `".`,
		"COPY 2",
		"Timing is on.",
		"Time: ",
		"Timing is off.",
		"1\tONE\n2\tTWO\n",
		`Asynchronous notification "psql_chan" with payload "hello" received from server process with PID `,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("psql output lacks %q:\n%s", want, out)
		}
	}
}

// TestTabCompletion types into psql on a terminal (util-linux's script
// gives it one, so readline runs) and checks that Tab completes a table
// name and a column name from the catalog queries psql sends.
func TestTabCompletion(t *testing.T) {
	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Skip("psql not installed")
	}
	script, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script (util-linux) not installed")
	}
	host, port, _ := net.SplitHostPort(startSluice(t))
	sluiceURL := fmt.Sprintf("postgres://sluice@%s:%s/%s?sslmode=disable", host, port, database)
	execAll(t, sluiceURL, []string{`CREATE TABLE psql_tabtarget (tab_column int)`})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, script, "-qfec", psql+" -X -P pager=off -d '"+sluiceURL+"'", "/dev/null")
	cmd.Env = append(os.Environ(), "PSQLRC=/dev/null", "TERM=dumb", "LC_ALL=C")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Each Tab waits for psql's completion query before the next keys; a
	// completed word ends with a space.
	for _, keys := range []string{"SELECT * FROM psql_tabt", "\t", "WHERE tab_co", "\t", "IS NULL;\n", "\\q\n"} {
		time.Sleep(500 * time.Millisecond)
		if _, err := io.WriteString(stdin, keys); err != nil {
			_ = cmd.Wait()
			t.Fatalf("writing to psql: %v\n%s", err, out.String())
		}
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("psql: %v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{"FROM psql_tabtarget WHERE tab_column IS NULL", "(0 rows)"} {
		if !strings.Contains(got, want) {
			t.Errorf("the terminal shows no %q:\n%s", want, got)
		}
	}
}
