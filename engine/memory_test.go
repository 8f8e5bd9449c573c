package engine_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"
)

// An unbounded stream with windowed views runs in bounded memory: the
// stream's history beyond its newest segments stays on disk, and closed
// windows free their state. Two runs, of one and of two million events (17
// and 33 minutes of event time), end with about the same live heap; a
// million click rows kept in memory take 128 MiB.
func TestWindowedViewsBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("ingests 3M events")
	}
	// Subtests: each one's cleanups (closing its server) run at its end.
	var h1, h2 uint64
	t.Run("1M", func(t *testing.T) { h1 = windowedViewsHeap(t, 1_000_000) })
	t.Run("2M", func(t *testing.T) { h2 = windowedViewsHeap(t, 2_000_000) })
	growth := int64(h2) - int64(h1)
	t.Logf("live heap after 1M events %d MiB, after 2M %d MiB", h1>>20, h2>>20)
	if growth > 16<<20 {
		t.Fatalf("live heap grew by %d MiB with the second million events", growth>>20)
	}
}

// windowedViewsHeap runs a server whose clicks stream takes events events
// into two windowed views, and returns the live heap once they hold them.
func windowedViewsHeap(t *testing.T, events int64) uint64 {
	srv := startServer(t, t.TempDir())
	conn := connect(t, srv)
	mustExec(t, conn, fmt.Sprintf(`CREATE STREAM clicks (
		event_id bigint, user_id bigint, session_id bigint, event_type text, page text,
		product_id bigint, price numeric(10,2), ts timestamptz,
		WATERMARK FOR ts AS ts - INTERVAL '5 seconds'
	) WITH (connector = 'datagen', generator = 'clicks', rate = '1000', start_time = '2026-01-01T00:00:00Z',
		seed = '11', events = '%d', disorder = '3 seconds', late_fraction = '0')`, events))
	mustExec(t, conn, `CREATE MATERIALIZED VIEW per_minute AS
		SELECT event_type, window_start, window_end, count(*) AS n, sum(price) AS revenue
		FROM TUMBLE(clicks, ts, INTERVAL '1 minute') GROUP BY event_type, window_start, window_end
		EMIT ON WINDOW CLOSE`)
	mustExec(t, conn, `CREATE MATERIALIZED VIEW active_users AS
		SELECT window_end, count(DISTINCT user_id) AS users
		FROM HOP(clicks, ts, INTERVAL '1 minute', INTERVAL '5 minutes') GROUP BY window_end`)
	deadline := time.Now().Add(3 * time.Minute)
	for queryInt(t, conn, "SELECT count(*) FROM clicks") < events {
		if time.Now().After(deadline) {
			t.Fatalf("the stream did not reach %d events", events)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := srv.Engine().SyncViews(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Every minute but the last few (still open) is in per_minute.
	if got := queryInt(t, conn, "SELECT sum(n) FROM per_minute"); got < events*9/10 {
		t.Fatalf("per_minute counts %d of %d events", got, events)
	}
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
