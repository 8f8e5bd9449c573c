package engine_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/sluice-db/sluice/engine"
)

// joinSpillStream is the stream of joinSpillCase views: joinSpillEvents
// clicks of the two columns the view reads.
const (
	joinSpillEvents = 500_000
	joinSpillItems  = 100_000
	joinSpillStream = `CREATE STREAM clicks (event_id bigint, product_id bigint) WITH (connector = 'datagen', generator = 'clicks', rate = 'max', seed = '7', events = '%d')`
)

// joinSpillCase is a view joining the clicks with a table of
// joinSpillItems items, each matched by events spread over the whole
// stream (a few match none): its join holds every event and item, and
// its output is one row. The formats take the item count.
type joinSpillCase struct {
	table, rows, query string
}

// joinSpillInts joins on bigint keys (packed).
var joinSpillInts = joinSpillCase{
	table: `CREATE TABLE items (k bigint PRIMARY KEY, price bigint)`,
	rows:  `INSERT INTO items SELECT i, i * 31 %% 1000 FROM generate_series(0, %d - 1) i`,
	query: `SELECT count(*) AS n, sum(i.price) AS revenue, sum(c.product_id) AS products
		FROM clicks c JOIN items i ON (c.event_id * 7919) %% %d = i.k`,
}

// joinSpillText joins on text keys of 10 to 11 bytes (encoded).
var joinSpillText = joinSpillCase{
	table: `CREATE TABLE items (k text PRIMARY KEY, price bigint)`,
	rows:  `INSERT INTO items SELECT 'item/' || i::text, i * 31 %% 1000 FROM generate_series(0, %d - 1) i`,
	query: `SELECT count(*) AS n, sum(i.price) AS revenue, sum(c.product_id) AS products
		FROM clicks c JOIN items i ON 'item/' || ((c.event_id * 7919) %% %d)::text = i.k`,
}

// TestJoinViewStateLargerThanMemoryLimit computes a view joining a stream
// with a table, whose join holds about 40 MiB of rows without a memory
// limit, and again under a limit of 4 MiB: its answer must be the batch
// query's, and the live heap under the limit below the one without by
// most of the state. A restart restores the limited view from its
// checkpoint (the spilled rows included) to the same answer.
func TestJoinViewStateLargerThanMemoryLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("ingests 500k events three times")
	}
	// A row of either side: two words and about 48 bytes of bookkeeping.
	testJoinViewStateLargerThanMemoryLimit(t, joinSpillInts, 64)
}

// TestTextJoinViewStateLargerThanMemoryLimit is
// TestJoinViewStateLargerThanMemoryLimit joining on text keys, which the
// join holds and spills as their key encodings.
func TestTextJoinViewStateLargerThanMemoryLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("ingests 500k events three times")
	}
	// A row of either side: its key text (16 bytes of header and about
	// 16 of text on the table's side; an event's key is not stored, the
	// view's projection computes it), a word and about 48 bytes of
	// bookkeeping.
	testJoinViewStateLargerThanMemoryLimit(t, joinSpillText, 72)
}

// testJoinViewStateLargerThanMemoryLimit runs the test of c, whose join
// rows cost about rowBytes each: no view is listed as not bounded by the
// limit.
func testJoinViewStateLargerThanMemoryLimit(t *testing.T, c joinSpillCase, rowBytes uint64) {
	const limit = 4 << 20
	plain, batch, plainHeap := joinSpillRun(t, t.TempDir(), 0, true, c)
	if plain != batch {
		t.Fatalf("without a limit: the view holds %q, the batch query says %q", plain, batch)
	}
	dir := t.TempDir()
	spilled, batch, spilledHeap := joinSpillRun(t, dir, limit, true, c)
	if spilled != batch || spilled != plain {
		t.Fatalf("with a limit of %d bytes: the view holds %q, the batch query says %q, without a limit %q", limit, spilled, batch, plain)
	}
	restarted, _, restartedHeap := joinSpillRun(t, dir, limit, false, c)
	if restarted != plain {
		t.Fatalf("restarted with a limit of %d bytes: got %q, want %q", limit, restarted, plain)
	}
	state := (joinSpillEvents + joinSpillItems) * rowBytes
	t.Logf("join state about %d MiB, limit %d MiB; live heap without a limit %d MiB, with it %d MiB, restarted with it %d MiB",
		state>>20, limit>>20, plainHeap>>20, spilledHeap>>20, restartedHeap>>20)
	for _, h := range []uint64{spilledHeap, restartedHeap} {
		if h+state/2 > plainHeap {
			t.Fatalf("live heap with the limit %d MiB, without it %d MiB: less than half the state (%d MiB) spilled", h>>20, plainHeap>>20, state>>20)
		}
	}
}

// joinSpillRun starts a server on dir with a memory limit (0: none),
// creating the inputs and view when create and otherwise expecting the
// view restored from its checkpoint, and returns the view's row once it
// holds every event, the batch query's row, and the live heap then. The
// server is closed (and checkpoints the view) before it returns.
func joinSpillRun(t *testing.T, dir string, limit int64, create bool, c joinSpillCase) (view, batch string, heap uint64) {
	t.Helper()
	var opts []engine.Option
	if limit > 0 {
		opts = append(opts, engine.WithMemoryLimit(limit, filepath.Join(dir, "spill")))
	}
	s := startCheckpointServer(t, dir, time.Hour, opts...)
	defer func() { _ = s.srv.Close() }()
	conn := connect(t, s.srv)
	began, cpu := time.Now(), processCPU(t)
	query := fmt.Sprintf(c.query, joinSpillItems)
	if create {
		mustExec(t, conn, c.table)
		mustExec(t, conn, fmt.Sprintf(c.rows, joinSpillItems))
		mustExec(t, conn, fmt.Sprintf(joinSpillStream, joinSpillEvents))
		mustExec(t, conn, "CREATE MATERIALIZED VIEW v AS "+query)
	} else if got := s.restored(); !slices.Equal(got, []string{"v"}) {
		t.Fatalf("views restored from checkpoints %v, want [v]\n%s", got, s.log.String())
	}
	// The outer (global) aggregate is listed, not the join.
	awaitClicks(t, s, conn, joinSpillEvents, "Join")
	t.Logf("limit %d, create %v: the view holds every event after %.2f s, %.2f CPU-s (the generator and commits included)",
		limit, create, time.Since(began).Seconds(), (processCPU(t) - cpu).Seconds())
	view = rowsString(t, conn, "SELECT n, revenue::text, products::text FROM v")
	// Twice: what sync.Pools hold survives one GC.
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	batch = rowsString(t, conn, "SELECT n, revenue::text, products::text FROM ("+query+") q")
	_ = conn.Close(context.Background())
	if err := s.srv.Close(); err != nil {
		t.Fatal(err)
	}
	return view, batch, m.HeapAlloc
}
