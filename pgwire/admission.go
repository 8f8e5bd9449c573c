package pgwire

import "context"

// Admission bounds the statements running at once (WithMaxActiveQueries).
// On a machine with few cores hundreds of dashboard queries made runnable
// together queue on the processors ahead of the views' dataflow workers,
// which then publish late; a connection waiting for a slot is parked, not
// runnable. A connection takes a slot at the first Query, Parse, Bind or
// Execute message it handles and gives it back as soon as it touches the
// socket (a flush, a write of a full buffer, a read that needs more bytes
// from the client) or its statement waits for something other than the
// processor (Waiting). So a pipelined Bind/Execute/Sync queues once, a
// suspended portal, COPY, a client slow to read its rows or a statement
// waiting on another session holds no slot, and no statement waits for a
// slot held by a statement that waits for it.

type waitingKey struct{}

// Waiting gives back the slot of the connection whose Session, Statement
// or Portal call received ctx: the statement is about to wait for
// something other than a processor (another session's lock, new rows for
// SUBSCRIBE, the views' loop). It goes on without a slot. It does nothing
// for any other context, or a connection that holds none.
func Waiting(ctx context.Context) {
	if c, ok := ctx.Value(waitingKey{}).(*conn); ok {
		c.leaveSlot()
	}
}

// enterSlot waits for a slot unless c holds one or there is no bound; it
// fails when ctx ends first (a cancel request, a client that hung up,
// Shutdown).
func (c *conn) enterSlot(ctx context.Context) error {
	if c.s.slots == nil || c.slotHeld.Load() {
		return nil
	}
	select {
	case c.s.slots <- struct{}{}:
		c.slotHeld.Store(true)
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// leaveSlot gives back c's slot, if it holds one. Safe from any goroutine
// (Waiting may be called on a goroutine a statement started).
func (c *conn) leaveSlot() {
	if c.slotHeld.CompareAndSwap(true, false) {
		<-c.s.slots
	}
}

// socketWriter is the connection's buffered writer's destination: a write
// to the socket may block on the client, so the slot goes first.
type socketWriter struct{ c *conn }

func (w socketWriter) Write(p []byte) (int, error) {
	w.c.leaveSlot()
	return w.c.nc.Write(p)
}
