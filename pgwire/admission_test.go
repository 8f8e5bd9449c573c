package pgwire

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// waitStarted waits for a pause or sleep statement to signal that it runs.
func waitStarted(t *testing.T, be *testBackend) {
	t.Helper()
	select {
	case <-be.started:
	case <-time.After(10 * time.Second):
		t.Fatal("no statement started")
	}
}

// notStarted fails if a statement starts within 150 ms.
func notStarted(t *testing.T, be *testBackend) {
	t.Helper()
	select {
	case <-be.started:
		t.Fatal("a statement started beyond the slots")
	case <-time.After(150 * time.Millisecond):
	}
}

// With two slots a third concurrent statement waits until one of the two
// ends, then runs; all three complete.
func TestAdmissionQueuesBeyondSlots(t *testing.T) {
	ts := startServer(t, WithMaxActiveQueries(2))
	ts.be.holdPauses.Store(true)
	var clients []*rawClient
	for range 3 {
		c := dialRaw(t, ts.addr)
		c.startup()
		clients = append(clients, c)
	}
	for _, c := range clients[:2] {
		c.send(&pgproto3.Query{String: "pause"})
		waitStarted(t, ts.be)
	}
	clients[2].send(&pgproto3.Query{String: "pause"})
	notStarted(t, ts.be)
	ts.be.resume <- struct{}{}
	waitStarted(t, ts.be)
	ts.be.resume <- struct{}{}
	ts.be.resume <- struct{}{}
	for i, c := range clients {
		if got := c.until('Z'); got[0] != "C PAUSE" {
			t.Errorf("client %d got %q", i, got)
		}
	}
}

// What waits for something other than a processor holds no slot: a
// statement that calls Waiting, a portal suspended at its row limit
// (without Sync), and COPY FROM STDIN waiting for the client's data. With
// one slot, each leaves it to another connection's query.
func TestAdmissionWaitersHoldNoSlot(t *testing.T) {
	ts := startServer(t, WithMaxActiveQueries(1))
	other := dialRaw(t, ts.addr)
	other.startup()
	query := func(what string) {
		t.Helper()
		other.send(&pgproto3.Query{String: "select 5"})
		if got := other.until('Z'); got[len(got)-2] != "C SELECT 1" {
			t.Fatalf("beside %s: %q", what, got)
		}
	}

	waiter := dialRaw(t, ts.addr)
	waiter.startup()
	waiter.send(&pgproto3.Query{String: "waitsleep"})
	waitStarted(t, ts.be)
	query("a statement that waits")
	waiter.send(&pgproto3.Query{String: "sleep"}) // queued behind the first
	_ = waiter.nc.Close()
	select {
	case <-ts.be.ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting statement did not end with its client")
	}

	cursor := dialRaw(t, ts.addr)
	cursor.startup()
	cursor.send(&pgproto3.Parse{Query: "series 10"}, &pgproto3.Bind{},
		&pgproto3.Execute{MaxRows: 2}, &pgproto3.Flush{})
	if got := cursor.until('s'); len(got) != 5 {
		t.Fatalf("suspended portal: %q", got)
	}
	query("a suspended portal")
	cursor.send(&pgproto3.Execute{}, &pgproto3.Sync{})
	if got := cursor.until('Z'); got[len(got)-2] != "C SELECT 8" {
		t.Fatalf("resumed portal: %q", got)
	}

	copier := dialRaw(t, ts.addr)
	copier.startup()
	copier.send(&pgproto3.Query{String: "copy t from stdin"})
	if got := copier.recv(); got[0] != 'G' {
		t.Fatalf("copy in: %q", got)
	}
	query("COPY FROM STDIN")
	copier.send(&pgproto3.CopyData{Data: []byte("x\n")}, &pgproto3.CopyDone{})
	if got := copier.until('Z'); got[0] != "C COPY 1" {
		t.Fatalf("copy in done: %q", got)
	}
}

// A statement waiting for a slot ends when its client hangs up, and gives
// the slot back to none.
func TestAdmissionQueuedStatementEndsWithClient(t *testing.T) {
	ts := startServer(t, WithMaxActiveQueries(1))
	ts.be.holdPauses.Store(true)
	holder := dialRaw(t, ts.addr)
	holder.startup()
	holder.send(&pgproto3.Query{String: "pause"})
	waitStarted(t, ts.be)
	queued := dialRaw(t, ts.addr)
	queued.startup()
	queued.send(&pgproto3.Query{String: "pause"})
	notStarted(t, ts.be)
	_ = queued.nc.Close()
	time.Sleep(5 * hangUpCheck) // the hang-up check cancels its wait
	ts.be.resume <- struct{}{}
	if got := holder.until('Z'); got[0] != "C PAUSE" {
		t.Fatalf("holder: %q", got)
	}
	if len(ts.Server.slots) != 0 {
		t.Fatalf("%d slots held after both ended", len(ts.Server.slots))
	}
}
