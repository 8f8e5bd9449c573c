package engine

import (
	"testing"

	"github.com/sluice-db/sluice/pgwire"
)

// An inbox keeps maxInbox notifications and drops the rest until taken.
func TestInboxBound(t *testing.T) {
	b := newInbox()
	for i := range maxInbox + 10 {
		b.add(pgwire.Notification{PID: uint32(i), Channel: "c"})
	}
	if len(b.notes) != maxInbox || b.dropped != 10 {
		t.Fatalf("inbox holds %d, dropped %d; want %d and 10", len(b.notes), b.dropped, maxInbox)
	}
	if b.notes[maxInbox-1].PID != maxInbox-1 {
		t.Fatalf("the last kept notification is %d, want the oldest ones kept", b.notes[maxInbox-1].PID)
	}
}
