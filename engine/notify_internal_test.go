package engine

import (
	"testing"

	"github.com/sluice-db/sluice/pgwire"
)

// An inbox keeps maxInbox notifications and drops the rest until taken,
// and wakes the connection once, for the first.
func TestInboxBound(t *testing.T) {
	var b inbox
	wakes := 0
	b.wake = func() { wakes++ }
	for i := range maxInbox + 10 {
		b.add(pgwire.Notification{PID: uint32(i), Channel: "c"})
	}
	if len(b.notes) != maxInbox || b.dropped != 10 {
		t.Fatalf("inbox holds %d, dropped %d; want %d and 10", len(b.notes), b.dropped, maxInbox)
	}
	if b.notes[maxInbox-1].PID != maxInbox-1 {
		t.Fatalf("the last kept notification is %d, want the oldest ones kept", b.notes[maxInbox-1].PID)
	}
	if wakes != 1 {
		t.Fatalf("%d wakes for one batch of notifications, want 1", wakes)
	}
	b.notes = nil // taken
	b.add(pgwire.Notification{Channel: "c"})
	if wakes != 2 {
		t.Fatalf("a notification after a take did not wake the connection (%d wakes)", wakes)
	}
}
