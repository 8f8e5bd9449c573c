package engine_test

import (
	"context"
	"testing"
)

// A stream longer than the few segments storage keeps in memory is read
// back from disk: by batch queries, by a view created after the rows came
// (its first epoch), and after a restart; each agrees with a view that saw
// the rows arrive.
func TestStreamHistoryReadBack(t *testing.T) {
	const events = 300_000 // 4.6 segments of 64Ki rows: at least two evicted
	dir := t.TempDir()
	srv := startServer(t, dir)
	conn := connect(t, srv)
	mustExec(t, conn, `CREATE STREAM clicks (
		event_id bigint, user_id bigint, session_id bigint, event_type text, page text,
		product_id bigint, price numeric(10,2), ts timestamptz
	) WITH (connector = 'datagen', generator = 'clicks', rate = 'max', seed = '3', events = '300000')`)
	mustExec(t, conn, "CREATE MATERIALIZED VIEW live AS "+perTypeQuery)
	eventually(t, conn, "SELECT count(*) FROM clicks", events)
	mustExec(t, conn, "CREATE MATERIALIZED VIEW later AS "+perTypeQuery)
	if err := srv.Engine().SyncViews(context.Background()); err != nil {
		t.Fatal(err)
	}
	const show = "SELECT event_type, n, revenue::text, users, ids::text FROM "
	check := func(when string) {
		t.Helper()
		batch := rowsString(t, conn, show+"("+perTypeQuery+") q ORDER BY event_type")
		for _, v := range []string{"live", "later"} {
			if got := rowsString(t, conn, show+v+" ORDER BY event_type"); got != batch {
				t.Fatalf("%s: view %s\n%s\nbatch\n%s", when, v, got, batch)
			}
		}
		if got := queryInt(t, conn, "SELECT sum(event_id) FROM clicks"); got != int64(events)*(events+1)/2 { // ids 1..events
			t.Fatalf("%s: sum of event ids %d", when, got)
		}
	}
	check("running")
	_ = conn.Close(context.Background())
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	srv = startServer(t, dir)
	conn = connect(t, srv)
	if err := srv.Engine().SyncViews(context.Background()); err != nil {
		t.Fatal(err)
	}
	check("after restart")
}
