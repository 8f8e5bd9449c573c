package engine_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

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
	plain, plainHeap := spillViewRun(t, t.TempDir(), 0, true)
	dir := t.TempDir()
	spilled, spilledHeap := spillViewRun(t, dir, limit, true)
	want := fmt.Sprintf("%d %d", spillGroups, spillEvents)
	if plain[:len(want)] != want {
		t.Fatalf("without a limit: got %q, want it to start %q", plain, want)
	}
	if spilled != plain {
		t.Fatalf("with a limit of %d bytes: got %q, want %q", limit, spilled, plain)
	}
	restarted, restartedHeap := spillViewRun(t, dir, limit, false)
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
// creating the stream and view when create and otherwise expecting the
// view restored from its checkpoint, and returns the view's row once it
// holds every event and the live heap then. The server is closed (and
// checkpoints the view) before it returns.
func spillViewRun(t *testing.T, dir string, limit int64, create bool) (string, uint64) {
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
		mustExec(t, conn, fmt.Sprintf(spillStream, spillEvents))
		mustExec(t, conn, fmt.Sprintf(spillView, spillGroups))
	} else if got := s.restored(); !slices.Equal(got, []string{"v"}) {
		t.Fatalf("views restored from checkpoints %v, want [v]\n%s", got, s.log.String())
	}
	deadline := time.Now().Add(5 * time.Minute)
	for queryInt(t, conn, "SELECT count(*) FROM clicks") < spillEvents {
		if time.Now().After(deadline) {
			t.Fatalf("the stream did not reach %d events", spillEvents)
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.syncViews(t)
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

// processCPU returns the user and system CPU time the process has taken.
func processCPU(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
