package engine_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-db/sluice/engine"
)

// spillStream is a clicks stream of spillEvents events, of the two columns
// the view reads (so that the stream's rows in memory take little of the
// heap measured); spillView's inner
// aggregate holds spillGroups groups, each hit by events spread over the
// whole stream, and its output is one row.
const (
	spillEvents = 1_000_000
	spillGroups = 600_000
	spillStream = `CREATE STREAM clicks (event_id bigint, product_id bigint) WITH (connector = 'datagen', generator = 'clicks', rate = 'max', seed = '5', events = '%d')`
	spillView   = `CREATE MATERIALIZED VIEW v AS
		SELECT count(*) AS groups, sum(n) AS total, sum(products) AS products
		FROM (SELECT (event_id * 7919) %% %d AS k, count(*) AS n, sum(product_id) AS products FROM clicks GROUP BY 1) g`
	// spillTextView is spillView keyed by text (of 12 to 13 bytes, which
	// the groups hold as their key encodings).
	spillTextView = `CREATE MATERIALIZED VIEW v AS
		SELECT count(*) AS groups, sum(n) AS total, sum(products) AS products
		FROM (SELECT 'item/' || ((event_id * 7919) %% %d)::text AS k, count(*) AS n, sum(product_id) AS products FROM clicks GROUP BY 1) g`
	// spillWindowStream is spillStream with event times on a fixed
	// timeline, 6 events a second from a midnight (1M events: a day and
	// 22 hours) under a watermark 5 minutes behind (the generator's late
	// events are 2 minutes late).
	spillWindowStream = `CREATE STREAM clicks (event_id bigint, product_id bigint, ts timestamptz, WATERMARK FOR ts AS ts - INTERVAL '5 minutes')
		WITH (connector = 'datagen', generator = 'clicks', rate = '6', start_time = '2026-01-01T00:00:00Z', seed = '5', events = '%d')`
	// spillWindowView is spillView over 1-day tumbling windows: a windowed
	// aggregate whose first window closes with about 350k groups, and the
	// second holds about 330k at the end.
	spillWindowView = `CREATE MATERIALIZED VIEW v AS
		SELECT count(*) AS groups, sum(n) AS total, sum(products) AS products
		FROM (SELECT (event_id * 7919) %% %d AS k, window_start, count(*) AS n, sum(product_id) AS products
			FROM TUMBLE(clicks, ts, INTERVAL '1 day') GROUP BY 1, 2) g`
	// spillTextWindowView is spillWindowView keyed by text (of 12 to 13
	// bytes): the groups hold their key encodings, window start first.
	spillTextWindowView = `CREATE MATERIALIZED VIEW v AS
		SELECT count(*) AS groups, sum(n) AS total, sum(products) AS products
		FROM (SELECT 'item/' || ((event_id * 7919) %% %d)::text AS k, window_start, count(*) AS n, sum(product_id) AS products
			FROM TUMBLE(clicks, ts, INTERVAL '1 day') GROUP BY 1, 2) g`
	// spillDistinctView holds spillGroups distinct rows of a text (of 12 to
	// 13 bytes) and a bigint, each seen in events spread over the whole
	// stream; its output is one row.
	spillDistinctView = `CREATE MATERIALIZED VIEW v AS
		SELECT count(*) AS groups, sum(j) AS total, sum(length(k)) AS products
		FROM (SELECT DISTINCT 'item/' || ((event_id * 7919) %% %[1]d)::text AS k, (event_id * 7919) %% %[1]d AS j FROM clicks) d`
	// spillNumericView is spillView keyed by a numeric (k/4: equal values
	// print alike, 0.25 to 149999.75), with a numeric sum (product/100,
	// of scale 2): its groups keep their key values and sums, which spill
	// beside their words.
	spillNumericView = `CREATE MATERIALIZED VIEW v AS
		SELECT count(*) AS groups, sum(n) AS total, sum(products) AS products
		FROM (SELECT ((event_id * 7919) %% %d)::numeric / 4 AS k, count(*) AS n, sum(product_id::numeric / 100) AS products FROM clicks GROUP BY 1) g`
	// spillNumericDistinctView holds spillGroups distinct numerics (j/8),
	// each seen in events spread over the whole stream; its output is one
	// row.
	spillNumericDistinctView = `CREATE MATERIALIZED VIEW v AS
		SELECT count(*) AS groups, sum(k) AS total, sum(length(k::text)) AS products
		FROM (SELECT DISTINCT ((event_id * 7919) %% %d)::numeric / 8 AS k FROM clicks) d`
	// spillTopNView keeps the top 2 clicks (by product, ties broken by
	// event) of each of spillGroups/6 keys, each hit by 10 events spread
	// over the whole stream: a top-N per group of spillTopNRows rows over
	// an append-only input, which keeps only its windows; its output is
	// one row.
	spillTopNView = `CREATE MATERIALIZED VIEW v AS
		SELECT count(*) AS groups, sum(event_id) AS total, sum(product_id) AS products
		FROM (SELECT event_id, product_id, row_number() OVER (PARTITION BY k ORDER BY product_id DESC, event_id) AS rn
			FROM (SELECT (event_id * 7919) %% (%d / 6) AS k, event_id, product_id FROM clicks) c) t
		WHERE rn <= 2`
	spillTopNRows = spillGroups / 6 * 2
	// spillTopNAllView is spillTopNView keeping the top 10 clicks of each
	// key: every click, a top-N of spillEvents rows.
	spillTopNAllView = `CREATE MATERIALIZED VIEW v AS
		SELECT count(*) AS groups, sum(event_id) AS total, sum(product_id) AS products
		FROM (SELECT event_id, product_id, row_number() OVER (PARTITION BY k ORDER BY product_id DESC, event_id) AS rn
			FROM (SELECT (event_id * 7919) %% (%d / 6) AS k, event_id, product_id FROM clicks) c) t
		WHERE rn <= 10`
	// spillJoinView joins the even clicks with the odd ones of the same
	// key, of spillGroups/6 keys each hit by 10 clicks spread over the
	// whole stream: a join that stores every click, its output one row.
	spillJoinView = `CREATE MATERIALIZED VIEW v AS
		SELECT count(*) AS groups, sum(a.event_id) AS total, sum(b.product_id) AS products
		FROM (SELECT (event_id * 7919) %% (%[1]d / 6) AS k, event_id FROM clicks WHERE event_id %% 2 = 0) a
		JOIN (SELECT (event_id * 7919) %% (%[1]d / 6) AS k, product_id FROM clicks WHERE event_id %% 2 = 1) b ON a.k = b.k`
	// spillSessionView cuts every fifth click into sessions of a 1-day
	// gap per key, of spillSessionRows/10 keys (the fifths of
	// spillGroups/6) each hit by 10 of them spread over the whole stream
	// (a click every 4.6 hours of event time): a session window of
	// spillSessionRows rows in as many partitions as keys, whose sessions
	// grow as the clicks come (retracting their rows and inserting them
	// with the new bounds) and none of which the watermark closes; its
	// output is one row.
	spillSessionView = `CREATE MATERIALIZED VIEW v AS
		SELECT count(*) AS groups, sum(event_id) AS total,
			sum(extract(epoch FROM window_end) - extract(epoch FROM window_start))::bigint AS products
		FROM SESSION((SELECT (event_id * 7919) %% (%d / 6) AS k, event_id, ts FROM clicks WHERE event_id %% 5 = 0),
			ts, INTERVAL '1 day', k) s`
	spillSessionRows = spillEvents / 5
	// spillCountDistinctView counts the distinct event_id %% spillGroups
	// of each of spillGroups/6 keys: the planner lowers it to an inner
	// aggregate of the spillGroups distinct (key, value) pairs (an event
	// and the one spillGroups after it are one pair) and an outer one
	// counting them by key; its output is one row.
	spillCountDistinctView = `CREATE MATERIALIZED VIEW v AS
		SELECT count(*) AS groups, sum(users) AS total, sum(n) AS products
		FROM (SELECT (event_id * 7919) %% (%[1]d / 6) AS k, count(DISTINCT event_id %% %[1]d) AS users, count(*) AS n
			FROM clicks GROUP BY 1) g`
	// spillGlobalDistinctView is the global count(DISTINCT) and
	// sum(DISTINCT) of event_id %% spillGroups: an inner aggregate of
	// spillGroups groups under a global one.
	spillGlobalDistinctView = `CREATE MATERIALIZED VIEW v AS
		SELECT count(DISTINCT event_id %% %[1]d) AS groups, count(*) AS total, sum(DISTINCT event_id %% %[1]d) AS products FROM clicks`
	// spillStringAggView is spillView with a string_agg of each key's
	// products in event order ('p' and the product, NULL ones left out):
	// each group keeps a multiset of its values, which spills with it. The
	// outer aggregate sums the lists' lengths and 16 bits of each one's
	// md5, so that a list that lost, gained or reordered a value, or its
	// delimiter, changes the answer.
	spillStringAggView = `CREATE MATERIALIZED VIEW v AS
		SELECT count(*) AS groups, sum(length(urls)) AS total,
			sum(ascii(md5(urls)) * 256 + ascii(substr(md5(urls), 2, 1))) AS products
		FROM (SELECT (event_id * 7919) %% %d AS k, string_agg('p' || product_id::text, ',' ORDER BY event_id) AS urls
			FROM clicks GROUP BY 1) g`
	// spillMaxTextView is spillView with the max of a text of each key's
	// products: over a stream each group keeps its running max, a boxed
	// string and its key, which spill with it; the outer aggregate sums
	// 16 bits of each max's md5.
	spillMaxTextView = `CREATE MATERIALIZED VIEW v AS
		SELECT count(*) AS groups, sum(n) AS total,
			sum(ascii(md5(top)) * 256 + ascii(substr(md5(top), 2, 1))) AS products
		FROM (SELECT (event_id * 7919) %% %d AS k, count(*) AS n, max('product/' || product_id::text) AS top
			FROM clicks GROUP BY 1) g`
)

// TestViewStateLargerThanMemoryLimit computes a view whose aggregate holds
// about 27 MiB of group state without a memory limit and with one of
// 4 MiB: the answers must be the same, and the live heap with the limit
// must be below the one without by most of the state. A restart restores
// the limited view from its checkpoint (the spilled groups included) to
// the same answer, within the limit again.
func TestViewStateLargerThanMemoryLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("ingests 1M events twice")
	}
	const limit = 4 << 20
	plain, plainHeap := spillViewRun(t, t.TempDir(), 0, spillStream, spillView, true)
	dir := t.TempDir()
	spilled, spilledHeap := spillViewRun(t, dir, limit, spillStream, spillView, true)
	want := fmt.Sprintf("%d %d", spillGroups, spillEvents)
	if plain[:len(want)] != want {
		t.Fatalf("without a limit: got %q, want it to start %q", plain, want)
	}
	if spilled != plain {
		t.Fatalf("with a limit of %d bytes: got %q, want %q", limit, spilled, plain)
	}
	restarted, restartedHeap := spillViewRun(t, dir, limit, "", "", false)
	if restarted != plain {
		t.Fatalf("restarted with a limit of %d bytes: got %q, want %q", limit, restarted, plain)
	}
	// A group's words: its key, row count, count and sum (3 words).
	state := uint64(spillGroups * 6 * 8)
	t.Logf("state %d MiB of words, limit %d MiB; live heap without a limit %d MiB, with it %d MiB, restarted with it %d MiB",
		state>>20, limit>>20, plainHeap>>20, spilledHeap>>20, restartedHeap>>20)
	for _, h := range []uint64{spilledHeap, restartedHeap} {
		if h+state/2 > plainHeap {
			t.Fatalf("live heap with the limit %d MiB, without it %d MiB: less than half the state (%d MiB) spilled", h>>20, plainHeap>>20, state>>20)
		}
	}
}

// spillViewRun starts a server on dir with a memory limit (0: none),
// creating the stream (stream, of spillEvents events) and view (view, of
// spillGroups keys) when create
// and otherwise expecting the view restored from its checkpoint, and
// returns the view's row once it holds every event and the live heap
// then. The server is closed (and checkpoints the view) before it
// returns.
func spillViewRun(t *testing.T, dir string, limit int64, stream, view string, create bool) (string, uint64) {
	t.Helper()
	var opts []engine.Option
	if limit > 0 {
		opts = append(opts, engine.WithMemoryLimit(limit, filepath.Join(dir, "spill")))
	}
	s := startCheckpointServer(t, dir, time.Hour, opts...)
	defer func() { _ = s.srv.Close() }()
	conn := connect(t, s.srv)
	began, cpu := time.Now(), processCPU(t)
	if create {
		mustExec(t, conn, fmt.Sprintf(stream, spillEvents))
		mustExec(t, conn, fmt.Sprintf(view, spillGroups))
	} else if got := s.restored(); !slices.Equal(got, []string{"v"}) {
		t.Fatalf("views restored from checkpoints %v, want [v]\n%s", got, s.log.String())
	}
	// The outer (global) aggregate is listed, not the inner one nor a
	// session window.
	awaitClicks(t, s, conn, spillEvents, "keys=[0", "SessionWindow")
	t.Logf("limit %d, create %v: the view holds every event after %.2f s, %.2f CPU-s (the generator and commits included)",
		limit, create, time.Since(began).Seconds(), (processCPU(t) - cpu).Seconds())
	row := rowsString(t, conn, "SELECT groups, total::text, products::text FROM v")
	// Twice: what sync.Pools hold survives one GC.
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	_ = conn.Close(context.Background())
	if err := s.srv.Close(); err != nil {
		t.Fatal(err)
	}
	return row, m.HeapAlloc
}

// TestTextViewStateLargerThanMemoryLimit is
// TestViewStateLargerThanMemoryLimit with the groups keyed by text (about
// 40 MiB of state: key strings, slots and words): the view must hold the
// batch query's answer with a limit of a tenth of that, and the same after
// a restart from its checkpoint, with a live heap below the one without a
// limit by most of the state.
func TestTextViewStateLargerThanMemoryLimit(t *testing.T) {
	// A group's key string (16 bytes of header, 16 of text), slot and free
	// id (8) and words (row count, count and sum: 24).
	checkSpillAgainstBatch(t, spillStream, spillTextView, spillGroups*64)
}

// TestDistinctViewStateLargerThanMemoryLimit is
// TestTextViewStateLargerThanMemoryLimit over a SELECT DISTINCT of a text
// and a bigint (spillDistinctView), which the planner lowers to an
// aggregate that spills: about 34 MiB of state.
func TestDistinctViewStateLargerThanMemoryLimit(t *testing.T) {
	// A row's key encoding (16 bytes of header, 16 for the text and the
	// bigint's encoding), slot and free id (8) and row count (8).
	checkSpillAgainstBatch(t, spillStream, spillDistinctView, spillGroups*56)
}

// TestCountDistinctViewStateLargerThanMemoryLimit is
// TestViewStateLargerThanMemoryLimit over count(DISTINCT) by key
// (spillCountDistinctView): the inner aggregate of the distinct pairs
// spills, where a DISTINCT call's sets of values were kept in memory.
func TestCountDistinctViewStateLargerThanMemoryLimit(t *testing.T) {
	// A pair's packed key (16), row count (8; count(*) is the row count),
	// slot and free id (8).
	checkSpillAgainstBatch(t, spillStream, spillCountDistinctView, spillGroups*32)
}

// TestGlobalCountDistinctViewStateLargerThanMemoryLimit is
// TestCountDistinctViewStateLargerThanMemoryLimit over the global
// count(DISTINCT) (spillGlobalDistinctView).
func TestGlobalCountDistinctViewStateLargerThanMemoryLimit(t *testing.T) {
	// A value's packed key and row count (16), slot and free id (8).
	checkSpillAgainstBatch(t, spillStream, spillGlobalDistinctView, spillGroups*24)
}

// TestNumericViewStateLargerThanMemoryLimit is
// TestTextViewStateLargerThanMemoryLimit keyed by a numeric, with a
// numeric sum (spillNumericView): the groups spill with their key values
// and sums.
func TestNumericViewStateLargerThanMemoryLimit(t *testing.T) {
	// A group's key encoding (16 bytes of header and about 16 of
	// encoding), its key value (an interface and a numeric: 56), its sum
	// (an interface and the sum with its counts and a scale: 136), slot
	// and free id (8) and words (row count and count: 16); about 250.
	checkSpillAgainstBatch(t, spillStream, spillNumericView, spillGroups*250)
}

// TestStringAggViewStateLargerThanMemoryLimit is
// TestViewStateLargerThanMemoryLimit with a string_agg by key
// (spillStringAggView): its groups spill with their multisets of values,
// where they were kept in memory (and the aggregate logged as unbounded).
func TestStringAggViewStateLargerThanMemoryLimit(t *testing.T) {
	// A group's words, slot and free id (24), its multiset (an interface,
	// the multiset and its block: 72) and about 1.7 entries (the entry, its
	// key of order, value and delimiter, the value boxed with its
	// delimiter: about 150 each); about 350, 250 counted here.
	checkSpillAgainstBatch(t, spillStream, spillStringAggView, spillGroups*250)
}

// TestMaxTextViewStateLargerThanMemoryLimit is
// TestViewStateLargerThanMemoryLimit with the max of a text by key
// (spillMaxTextView): its groups spill with their running max (a boxed
// string and its key), where they were kept in memory.
func TestMaxTextViewStateLargerThanMemoryLimit(t *testing.T) {
	// A group's words (row count: 8), slot and free id (8), its max (an
	// interface, the extreme, its key and the string: about 100).
	checkSpillAgainstBatch(t, spillStream, spillMaxTextView, spillGroups*110)
}

// TestNumericDistinctViewStateLargerThanMemoryLimit is
// TestDistinctViewStateLargerThanMemoryLimit over a SELECT DISTINCT of a
// numeric (spillNumericDistinctView), which the planner lowers to an
// aggregate whose groups keep the value they show and spill it.
func TestNumericDistinctViewStateLargerThanMemoryLimit(t *testing.T) {
	// A row's key encoding (32), its value (56), slot and free id (8) and
	// row count (8).
	checkSpillAgainstBatch(t, spillStream, spillNumericDistinctView, spillGroups*104)
}

// TestWindowViewStateLargerThanMemoryLimit is
// TestViewStateLargerThanMemoryLimit over 1-day tumbling windows
// (spillWindowView): the windowed aggregate spills, its first window
// closes with most of its groups spilled, and the second holds about
// 16 MiB of state at the end.
func TestWindowViewStateLargerThanMemoryLimit(t *testing.T) {
	// A group's words: its key and window start, row count, count and
	// sum, and its slot and free id (8); the second day's 330k groups.
	checkSpillAgainstBatch(t, spillWindowStream, spillWindowView, 330_000*48)
}

// TestTopNViewStateLargerThanMemoryLimit is
// TestViewStateLargerThanMemoryLimit over a top-N per group
// (spillTopNView): its groups spill whole, with their rows.
func TestTopNViewStateLargerThanMemoryLimit(t *testing.T) {
	// A row's tree item and entry, its entry in the rows, its order key
	// and three values, and half its group's own (window entries, key,
	// map entries): about 650 bytes of live heap a row without a limit
	// (142 MiB against 13 after a restart under the limit), 500 counted
	// here.
	checkSpillAgainstBatch(t, spillStream, spillTopNView, spillTopNRows*500)
}

// TestSessionViewStateLargerThanMemoryLimit is
// TestViewStateLargerThanMemoryLimit over a session window partitioned
// by key (spillSessionView): its partitions spill whole, with their rows,
// and a click of a spilled partition loads it back.
func TestSessionViewStateLargerThanMemoryLimit(t *testing.T) {
	// A row's tree item and entry, key, values and column slots, and a
	// tenth of its partition's own (vectors, key, map entry): about 280
	// bytes of live heap a row without a limit, 200 counted here.
	checkSpillAgainstBatch(t, spillWindowStream, spillSessionView, spillSessionRows*200)
}

// TestTextWindowViewStateLargerThanMemoryLimit is
// TestWindowViewStateLargerThanMemoryLimit keyed by text
// (spillTextWindowView): the windowed aggregate of encoded keys spills
// too, and the second day holds about 25 MiB of state at the end.
func TestTextWindowViewStateLargerThanMemoryLimit(t *testing.T) {
	// A group's key string (16 bytes of header, 32 for the window start's
	// and the text's encodings), slot and free id (8) and words (row
	// count, count and sum: 24); the second day's 330k groups.
	checkSpillAgainstBatch(t, spillWindowStream, spillTextWindowView, 330_000*80)
}

// checkSpillAgainstBatch computes view (of spillGroups keys, about state
// bytes of operator state) over stream under a limit of 4 MiB, then the view's
// query as a batch query, restarts the limited view from its checkpoint
// and computes it again without a limit: all must be the batch query's
// answer, and the live heaps with the limit below the one without by at
// least half the state, less the filter of spilled keys that stays in
// memory (up to 32 bits a key: 2.3 MiB, which matters beside the 13 MiB of
// a global count(DISTINCT)'s small groups).
func checkSpillAgainstBatch(t *testing.T, stream, view string, state uint64) {
	t.Helper()
	if testing.Short() {
		t.Skip("ingests 1M events three times")
	}
	const limit = 4 << 20
	dir := t.TempDir()
	spilled, spilledHeap := spillViewRun(t, dir, limit, stream, view, true)
	s := startCheckpointServer(t, t.TempDir(), time.Hour)
	conn := connect(t, s.srv)
	mustExec(t, conn, fmt.Sprintf(stream, spillEvents))
	for queryInt(t, conn, "SELECT count(*) FROM clicks") < spillEvents {
		time.Sleep(50 * time.Millisecond)
	}
	query := strings.TrimPrefix(strings.TrimSpace(fmt.Sprintf(view, spillGroups)), "CREATE MATERIALIZED VIEW v AS")
	batch := rowsString(t, conn, "SELECT groups, total::text, products::text FROM ("+query+") v")
	_ = conn.Close(context.Background())
	if err := s.srv.Close(); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%d %d", spillGroups, spillEvents)
	switch view {
	case spillWindowView, spillTextWindowView:
		// Groups of a key and a day: fewer than spillGroups a day.
		want = ""
	case spillTopNView:
		want = fmt.Sprintf("%d ", spillTopNRows)
	case spillSessionView:
		want = fmt.Sprintf("%d ", spillSessionRows)
	case spillDistinctView:
		// The distinct rows' j, 0 to spillGroups-1.
		want = fmt.Sprintf("%d %d", spillGroups, spillGroups*(spillGroups-1)/2)
	case spillCountDistinctView:
		want = fmt.Sprintf("%d %d %d", spillGroups/6, spillGroups, spillEvents)
	case spillGlobalDistinctView:
		// The distinct values 0 to spillGroups-1.
		want = fmt.Sprintf("%d %d %d", spillGroups, spillEvents, spillGroups*(spillGroups-1)/2)
	case spillNumericDistinctView:
		// The distinct j/8: a sum of j/8 over 0 to spillGroups-1.
		want = fmt.Sprintf("%d %d", spillGroups, spillGroups*(spillGroups-1)/2/8)
	case spillStringAggView:
		// The lists' lengths depend on the products.
		want = fmt.Sprintf("%d ", spillGroups)
	}
	if batch[:len(want)] != want {
		t.Fatalf("the batch query: got %q, want it to start %q", batch, want)
	}
	if spilled != batch {
		t.Fatalf("with a limit of %d bytes: got %q, want the batch query's %q", limit, spilled, batch)
	}
	restarted, restartedHeap := spillViewRun(t, dir, limit, "", "", false)
	if restarted != batch {
		t.Fatalf("restarted with a limit of %d bytes: got %q, want %q", limit, restarted, batch)
	}
	plain, plainHeap := spillViewRun(t, t.TempDir(), 0, stream, view, true)
	if plain != batch {
		t.Fatalf("without a limit: got %q, want %q", plain, batch)
	}
	t.Logf("state about %d MiB, limit %d MiB; live heap without a limit %d MiB, with it %d MiB, restarted with it %d MiB",
		state>>20, limit>>20, plainHeap>>20, spilledHeap>>20, restartedHeap>>20)
	const filter = spillGroups * 4
	for _, h := range []uint64{spilledHeap, restartedHeap} {
		if h+state/2 > plainHeap+filter {
			t.Fatalf("live heap with the limit %d MiB, without it %d MiB: less than half the state (%d MiB) spilled", h>>20, plainHeap>>20, state>>20)
		}
	}
}

// awaitClicks waits until the clicks stream holds events events and the
// views have taken them in, then fails if the log lists an operator
// naming one of named (any, when none) as not bounded by the memory
// limit.
func awaitClicks(t *testing.T, s *checkpointServer, conn *pgx.Conn, events int64, named ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for queryInt(t, conn, "SELECT count(*) FROM clicks") < events {
		if time.Now().After(deadline) {
			t.Fatalf("the stream did not reach %d events", events)
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.syncViews(t)
	for _, line := range strings.Split(s.log.String(), "\n") {
		names := func(n string) bool { return strings.Contains(line, n) }
		if strings.Contains(line, "not bounded by the memory limit") && (len(named) == 0 || slices.ContainsFunc(named, names)) {
			t.Fatalf("an operator is not bounded by the memory limit: %s", line)
		}
	}
}

// processCPU returns the user and system CPU time the process has taken.
func processCPU(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestTextWindowOnCloseViewUnderMemoryLimit computes an EMIT ON WINDOW
// CLOSE view of 1-day tumbling windows keyed by text (the dashboard
// shape: GROUP BY a text key and window_start) under a 4 MiB limit: its
// first day closes with about 518k groups (about 40 MiB of state), most
// of them spilled, which must emit the batch query's rows of the closed
// windows (the late events' day before included), and the same after a
// restart from the checkpoint; the aggregate must not be logged as
// unbounded.
func TestTextWindowOnCloseViewUnderMemoryLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("ingests 1M events")
	}
	const (
		limit = 4 << 20
		query = `SELECT 'item/' || ((event_id * 7919) % 600000)::text AS k, window_start, count(*) AS n, sum(product_id) AS products
			FROM TUMBLE(clicks, ts, INTERVAL '1 day') GROUP BY 1, 2`
		summary = `SELECT count(*), sum(n)::text, sum(products)::text, min(window_start)::text, max(window_start)::text FROM `
	)
	dir := t.TempDir()
	opts := []engine.Option{engine.WithMemoryLimit(limit, filepath.Join(dir, "spill"))}
	s := startCheckpointServer(t, dir, time.Hour, opts...)
	conn := connect(t, s.srv)
	mustExec(t, conn, fmt.Sprintf(spillWindowStream, spillEvents))
	mustExec(t, conn, "CREATE MATERIALIZED VIEW v AS "+query+" EMIT ON WINDOW CLOSE")
	awaitClicks(t, s, conn, spillEvents)
	// The watermark (the last event's time less 5 minutes) has closed
	// the first day only.
	batch := rowsString(t, conn, summary+"("+query+") b WHERE window_start < '2026-01-02T00:00:00Z'")
	if groups, err := strconv.Atoi(strings.Fields(batch)[0]); err != nil || groups < 500_000 || !strings.HasSuffix(batch, " 2026-01-01 00:00:00+00") {
		t.Fatalf("the batch query's closed windows: %q, want over 500k groups, the last of 2026-01-01", batch)
	}
	if got := rowsString(t, conn, summary+"v"); got != batch {
		t.Fatalf("with a limit of %d bytes: the view holds %q, the batch query says %q", limit, got, batch)
	}
	_ = conn.Close(context.Background())
	if err := s.srv.Close(); err != nil {
		t.Fatal(err)
	}
	s = startCheckpointServer(t, dir, time.Hour, opts...)
	defer func() { _ = s.srv.Close() }()
	if got := s.restored(); !slices.Equal(got, []string{"v"}) {
		t.Fatalf("views restored from checkpoints %v, want [v]\n%s", got, s.log.String())
	}
	conn = connect(t, s.srv)
	defer conn.Close(context.Background())
	s.syncViews(t)
	if got := rowsString(t, conn, summary+"v"); got != batch {
		t.Fatalf("restarted with a limit of %d bytes: the view holds %q, the batch query says %q", limit, got, batch)
	}
}

// TestSpilledBaseCheckpointHeap takes the base checkpoint of spillView's
// aggregate (about 20 MiB of spilled groups as a checkpoint writes them)
// under a limit of 2 MiB, at the server's close: the live heap, sampled
// after a collection again and again while the base is taken and written,
// must not grow by more than a small multiple of the limit (the groups in
// memory, the write's buffers), not by the spilled state, which the writer
// streams from the spill store. A restart restores the view from that base
// to the same answer.
func TestSpilledBaseCheckpointHeap(t *testing.T) {
	checkSpilledBaseHeap(t, spillView, "keys=[0")
}

// TestSpilledTopNBaseCheckpointHeap is TestSpilledBaseCheckpointHeap over
// a top-N that keeps every click (spillTopNAllView): its spilled groups'
// rows are streamed from the spill store.
func TestSpilledTopNBaseCheckpointHeap(t *testing.T) {
	checkSpilledBaseHeap(t, spillTopNAllView, "TopN")
}

// TestSpilledJoinBaseCheckpointHeap is TestSpilledBaseCheckpointHeap over
// a join that keeps every click (spillJoinView): its spilled keys' rows
// are streamed from the spill store.
func TestSpilledJoinBaseCheckpointHeap(t *testing.T) {
	checkSpilledBaseHeap(t, spillJoinView, "Join")
}

// checkSpilledBaseHeap runs view over spillStream under a limit of 2 MiB
// and checks the live heap while its base is taken at the close (see
// TestSpilledBaseCheckpointHeap), failing if an operator named is not
// bounded by the limit.
func checkSpilledBaseHeap(t *testing.T, view string, named ...string) {
	t.Helper()
	if testing.Short() {
		t.Skip("ingests 1M events twice")
	}
	const limit = 2 << 20
	dir := t.TempDir()
	s := startCheckpointServer(t, dir, time.Hour, engine.WithMemoryLimit(limit, filepath.Join(dir, "spill")))
	defer func() { _ = s.srv.Close() }()
	conn := connect(t, s.srv)
	mustExec(t, conn, fmt.Sprintf(spillStream, spillEvents))
	mustExec(t, conn, fmt.Sprintf(view, spillGroups))
	awaitClicks(t, s, conn, spillEvents, named...)
	want := rowsString(t, conn, "SELECT groups, total::text, products::text FROM v")
	_ = conn.Close(context.Background())
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	before := m.HeapAlloc
	stop, peak := make(chan struct{}), make(chan uint64)
	go func() {
		most := uint64(0)
		for {
			select {
			case <-stop:
				peak <- most
				return
			default:
			}
			runtime.GC()
			runtime.ReadMemStats(&m)
			most = max(most, m.HeapAlloc)
		}
	}()
	eng := s.srv.Engine()
	began := time.Now()
	err := s.srv.Close()
	closed := time.Since(began)
	close(stop)
	most := <-peak
	if err != nil {
		t.Fatal(err)
	}
	base := int64(0)
	for _, b := range readDir(t, filepath.Join(dir, "checkpoints")) {
		base += int64(len(b))
	}
	growth := int64(most) - int64(before)
	pause := eng.IngestTimings().CheckpointPause
	t.Logf("base checkpoint files %d MiB, limit %d MiB; live heap before the close %d MiB, growth during it %.1f MiB (close %.2f s, %d loop pauses of %.3f s)",
		base>>20, limit>>20, before>>20, float64(growth)/(1<<20), closed.Seconds(), pause.Count, pause.Sum)
	if base < 8*limit {
		t.Fatalf("the base checkpoint holds %d bytes: not 8 times the limit", base)
	}
	if growth > 3*limit {
		t.Fatalf("the live heap grew by %d bytes while the base of %d bytes was written, more than 3 times the limit %d", growth, base, limit)
	}
	restarted, _ := spillViewRun(t, dir, limit, "", "", false)
	if restarted != want {
		t.Fatalf("restarted from the streamed base: got %q, want %q", restarted, want)
	}
}
