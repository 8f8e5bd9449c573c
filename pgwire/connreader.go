package pgwire

import (
	"errors"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"
)

// hangUpCheck is how often a running statement's connection is checked for
// a client that hung up (Postgres' client_connection_check_interval).
// Dashboard queries end well within it and are never checked.
const hangUpCheck = 20 * time.Millisecond

// connReader is the connection's io.Reader. The connection goroutine reads
// the socket itself, so a query costs one goroutine wake-up, not two (a
// reader goroutine handing bytes over a channel made every query wait for
// the scheduler twice). Whatever must reach it while it waits for the client
// (a notification, Shutdown) moves the read deadline into the past
// (interrupt), which Read takes as a signal, not an error. While a statement
// runs nothing reads the socket; a timer polls it every hangUpCheck for a
// hang-up, without reading, and onHangUp cancels the statement.
type connReader struct {
	nc       net.Conn
	shutdown <-chan struct{}

	// onWake is called on the connection goroutine when Read is
	// interrupted while waiting for the client: to send notifications.
	onWake func()
	// beforeRead is called before each read of the socket, which may wait
	// for the client: to give back the connection's slot.
	beforeRead func()

	// kicked is set by interrupt before it moves the deadline, so that
	// Read tells an interrupt from the startup timeout.
	kicked atomic.Bool

	sock     syscall.RawConn // the TCP socket under any TLS; nil: no hang-up checks
	onHangUp func()
	check    *time.Timer
	busy     atomic.Bool // a statement runs: the check re-arms itself
}

// newConnReader reads nc; raw is the socket under it (nc itself, or the
// one under TLS).
func newConnReader(nc, raw net.Conn, shutdown <-chan struct{}, onHangUp func()) *connReader {
	r := &connReader{nc: nc, shutdown: shutdown, onHangUp: onHangUp}
	if sc, ok := raw.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			r.sock = rc
			r.check = time.AfterFunc(time.Hour, r.checkHangUp)
			r.check.Stop()
		}
	}
	return r
}

// interrupt makes a Read waiting for the client return to the connection
// goroutine (which then checks for shutdown and calls onWake). Safe from any
// goroutine; whatever it signals must be visible before the call.
func (r *connReader) interrupt() {
	r.kicked.Store(true)
	_ = r.nc.SetReadDeadline(time.Now())
}

// Read implements io.Reader for pgproto3. After Shutdown it fails with
// errShutdown so an idle connection ends.
func (r *connReader) Read(p []byte) (int, error) {
	for {
		select {
		case <-r.shutdown:
			return 0, errShutdown
		default:
		}
		if r.beforeRead != nil {
			r.beforeRead()
		}
		n, err := r.nc.Read(p)
		if n > 0 || err == nil {
			// An error that came with bytes comes again on the next Read.
			return n, nil
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) || !r.kicked.Swap(false) {
			return 0, err
		}
		// Clear the deadline before looking at what it signals: a later
		// interrupt then either moves it again or is seen below.
		_ = r.nc.SetReadDeadline(time.Time{})
		if r.onWake != nil {
			r.onWake()
		}
	}
}

// statementStarts starts the hang-up checks; statementEnds stops them.
func (r *connReader) statementStarts() {
	if r.check != nil {
		r.busy.Store(true)
		r.check.Reset(hangUpCheck)
	}
}

func (r *connReader) statementEnds() {
	if r.check != nil {
		r.busy.Store(false)
		r.check.Stop()
	}
}

// checkHangUp runs on the timer's goroutine. A check that races with
// statementEnds may run once more, or cancel a connection whose client is
// gone anyway.
func (r *connReader) checkHangUp() {
	if !r.busy.Load() {
		return
	}
	if peerClosed(r.sock) {
		r.onHangUp()
		return
	}
	if r.busy.Load() {
		r.check.Reset(hangUpCheck)
	}
}

// stop ends the hang-up checks for good.
func (r *connReader) stop() { r.statementEnds() }
