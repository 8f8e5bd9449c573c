package engine

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sluice-db/sluice/pgwire"
	"github.com/sluice-db/sluice/storage"
)

// openExpressEngine returns an engine over a fresh store with opts and a
// function opening sessions of it, all closed when the test ends.
func openExpressEngine(t testing.TB, opts ...Option) (*Engine, func() pgwire.Session) {
	t.Helper()
	db, err := storage.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(db, append([]Option{WithLogger(slog.New(slog.DiscardHandler))}, opts...)...)
	if err != nil {
		_ = db.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = e.Close()
		_ = db.Close()
	})
	return e, func() pgwire.Session {
		s, err := e.Open(context.Background(), map[string]string{"user": "sluice"})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

// While the loop steps a big epoch, a small commit queued meanwhile to a
// view sharing nothing with it is stepped and published before the epoch
// ends; one to the big epoch's views, or behind a command, stays queued,
// in order; with serial steps nothing is stepped beside the epoch.
func TestExpressStepsBesideABigEpoch(t *testing.T) {
	for _, tc := range []struct {
		name            string
		serial, command bool
	}{
		{name: "express"},
		{name: "serial", serial: true},
		{name: "behind a command", command: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []Option
			if tc.serial {
				opts = append(opts, WithSerialSteps())
			}
			e, open := openExpressEngine(t, opts...)
			s := open()
			exec := func(sql string) []string {
				t.Helper()
				rows, err := sessionRows(s, sql)
				if err != nil {
					t.Fatal(err)
				}
				return rows
			}
			exec("CREATE STREAM a (k int)")
			exec("CREATE STREAM m (k int)")
			exec("CREATE MATERIALIZED VIEW va AS SELECT count(*) AS n FROM a")
			exec("CREATE MATERIALIZED VIEW vm AS SELECT max(k) AS k FROM m")
			exec("INSERT INTO m VALUES (1)")
			if err := e.SyncViews(context.Background()); err != nil {
				t.Fatal(err)
			}
			d := e.views

			// Hold the loop in a command: the test steps in its stead.
			busy, started := make(chan struct{}), make(chan struct{})
			d.enqueue(feedItem{cmd: func() { close(started); <-busy }})
			<-started
			release := sync.OnceFunc(func() { close(busy) })
			defer release()
			// va's step of the big epoch is held until the test lets it go.
			stepping, hold := make(chan struct{}), make(chan struct{})
			letGo := sync.OnceFunc(func() { close(hold) })
			defer letGo()
			var first sync.Once
			d.viewStepHook = func(v *runningView) {
				if v.name == "va" {
					first.Do(func() {
						close(stepping)
						<-hold
					})
				}
			}

			exec(fmt.Sprintf("INSERT INTO a SELECT g FROM generate_series(1, %d) g", smallCommitRows+1))
			d.mu.Lock()
			items := d.queue
			d.queue, d.queuedRows = nil, 0
			d.mu.Unlock()
			rest := make(chan []feedItem, 1)
			go func() { rest <- d.stepNext(items) }()
			<-stepping
			exec("INSERT INTO a VALUES (0)")
			if tc.command {
				d.enqueue(feedItem{cmd: func() {}})
			}
			exec("INSERT INTO m VALUES (2)")

			marker := func() bool { return slices.Equal(exec("SELECT k FROM vm"), []string{"[2]"}) }
			express := !tc.serial && !tc.command
			wait := 100 * time.Millisecond
			if express {
				wait = 10 * time.Second
			}
			deadline := time.Now().Add(wait)
			for !marker() && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			if marker() != express {
				t.Fatalf("during the big epoch's step the marker is published: %v, want %v", marker(), express)
			}
			if got := exec("SELECT n FROM va"); !slices.Equal(got, []string{"[0]"}) {
				t.Fatalf("va during its step: %v, want [0]", got)
			}
			letGo()
			if left := <-rest; len(left) != 0 {
				t.Fatalf("the big epoch left %d commits", len(left))
			}
			if got, want := exec("SELECT n FROM va"), []string{fmt.Sprintf("[%d]", smallCommitRows+1)}; !slices.Equal(got, want) {
				t.Fatalf("va after its step: %v, want %v", got, want)
			}
			d.mu.Lock()
			var queued []string
			for _, it := range d.queue {
				switch {
				case it.cmd != nil:
					queued = append(queued, "command")
				default:
					queued = append(queued, fmt.Sprintf("%d@%d", it.rows, it.changes[0].TableID))
				}
			}
			queuedRows := d.queuedRows
			d.mu.Unlock()
			aID, mID := relID(t, e, "a"), relID(t, e, "m")
			want := []string{fmt.Sprintf("1@%d", aID), fmt.Sprintf("1@%d", mID)}
			switch {
			case express:
				want = want[:1]
			case tc.command:
				want = slices.Insert(want, 1, "command")
			}
			if !slices.Equal(queued, want) || queuedRows != len(want)-boolInt(tc.command) {
				t.Fatalf("left queued %v (%d rows), want %v", queued, queuedRows, want)
			}
			release()
			if err := e.SyncViews(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got, want := exec("SELECT n FROM va"), []string{fmt.Sprintf("[%d]", smallCommitRows+2)}; !slices.Equal(got, want) || !marker() {
				t.Fatalf("after the loop: va %v (want %v), marker published %v", got, want, marker())
			}
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// relID returns the catalog id of relation name in public.
func relID(t *testing.T, e *Engine, name string) uint32 {
	t.Helper()
	desc, ok := e.cat.Lookup("public", name)
	if !ok {
		t.Fatalf("no relation %q", name)
	}
	return desc.ID
}

// Commits of random sizes from concurrent sessions, big ones to some
// views and small ones to others, leave the views as the commits say
// with express steps as with serial ones; meanwhile every read sees each
// view at a prefix of its commits, the views of one component at one (a
// view and the view over it agree), and a transaction's commit to two
// streams whole.
func TestExpressStepsMatchSerial(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	serial := expressWorkload(t, seed, WithSerialSteps())
	express := expressWorkload(t, seed)
	if !slices.Equal(serial, express) {
		t.Fatalf("seed %d: views with serial steps %v, with express steps %v", seed, serial, express)
	}
}

// expressWorkload runs the random commits of seed on an engine with opts
// and returns its views' rows once they have taken them in.
func expressWorkload(t *testing.T, seed int64, opts ...Option) []string {
	e, open := openExpressEngine(t, opts...)
	s := open()
	for _, sql := range []string{
		"CREATE STREAM s0 (k int)", "CREATE STREAM s1 (k int)", "CREATE STREAM s2 (k int)", "CREATE STREAM s3 (k int)",
		"CREATE MATERIALIZED VIEW v0 AS SELECT count(*) AS n, coalesce(max(k), 0) AS last FROM s0",
		"CREATE MATERIALIZED VIEW v0x2 AS SELECT n * 2 AS n2 FROM v0",
		"CREATE MATERIALIZED VIEW v1 AS SELECT count(*) AS n FROM s1",
		"CREATE MATERIALIZED VIEW v2 AS SELECT k % 7 AS g, count(*) AS n, sum(k) AS s FROM s2 GROUP BY k % 7",
		"CREATE MATERIALIZED VIEW v3 AS SELECT count(*) AS n FROM s3",
	} {
		if _, err := sessionRows(s, sql); err != nil {
			t.Fatal(err)
		}
	}
	const commits = 40
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	sizes := func() int { return []int{1, 2, 50, smallCommitRows + 1, maxEpochRows - 10}[rng.IntN(5)] }
	// s0's commit j (from 1) is prefix[j] - prefix[j-1] rows of k = j, from
	// one session: a read of v0 must find n = prefix[last].
	prefix := make([]int, commits+1)
	for j := 1; j <= commits; j++ {
		prefix[j] = prefix[j-1] + sizes()
	}
	writes := [][]string{nil, nil, nil}
	for j := 1; j <= commits; j++ {
		writes[0] = append(writes[0], fmt.Sprintf("INSERT INTO s0 SELECT %d FROM generate_series(1, %d) g", j, prefix[j]-prefix[j-1]))
		for w := 1; w < len(writes); w++ {
			n := sizes()
			sql := fmt.Sprintf("INSERT INTO s2 SELECT g FROM generate_series(1, %d) g", n)
			if rng.IntN(2) == 0 {
				// s1 and s3 change together only: v1 and v3 agree.
				sql = fmt.Sprintf("BEGIN; INSERT INTO s1 SELECT g FROM generate_series(1, %[1]d) g; INSERT INTO s3 SELECT g FROM generate_series(1, %[1]d) g; COMMIT", min(n, 50))
			}
			writes[w] = append(writes[w], sql)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(writes)+1)
	for _, sqls := range writes {
		ws := open()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, sql := range sqls {
				if _, err := sessionRows(ws, sql); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	var reader sync.WaitGroup
	reader.Add(1)
	go func() {
		defer reader.Done()
		rs := open()
		for {
			select {
			case <-done:
				return
			default:
			}
			rows, err := sessionRows(rs, "SELECT v0.n, v0.last, v0.n * 2 = v0x2.n2, v1.n = v3.n FROM v0, v0x2, v1, v3")
			if err != nil {
				errs <- err
				return
			}
			var n, last int
			var agree, whole bool
			if len(rows) != 1 {
				errs <- fmt.Errorf("read %v", rows)
				return
			}
			if _, err := fmt.Sscanf(rows[0], "[%d %d %t %t]", &n, &last, &agree, &whole); err != nil || n != prefix[last] || !agree || !whole {
				errs <- fmt.Errorf("a read saw %v (%v): v0 not at a prefix (%d rows to its commit %d), v0x2 apart from v0, or a transaction in part", rows, err, prefix[last], last)
				return
			}
		}
	}()
	wg.Wait()
	close(done)
	reader.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := e.SyncViews(context.Background()); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, v := range []string{"v0", "v0x2", "v1", "v2", "v3"} {
		rows, err := sessionRows(s, "SELECT * FROM "+v)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprint(v, rows))
	}
	if want := fmt.Sprint("v0", []string{fmt.Sprintf("[%d %d]", prefix[commits], commits)}); out[0] != want {
		t.Fatalf("v0 holds %s, want %s", out[0], want)
	}
	return out
}
