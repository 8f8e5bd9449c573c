package pgwire

import (
	"io"
	"net"
)

// netReader moves bytes from the socket to the connection goroutine through a
// channel, so the socket is read even while a query runs: EOF or a socket
// error is noticed at once and cancels the running query (onEOF). It reads at
// most two buffers ahead of the consumer.
type netReader struct {
	nc       net.Conn
	ch       chan []byte
	free     chan []byte
	done     chan struct{} // closed by the consumer when it is finished
	exited   chan struct{} // closed when run returns
	shutdown <-chan struct{}
	onEOF    func()

	err    error // the read error; valid once ch is closed
	cur    []byte
	curBuf []byte

	// wake, when it receives while Read waits for the client, has Read
	// call onWake (on the consumer's goroutine) and wait again: the
	// connection's notifications.
	wake   <-chan struct{}
	onWake func()
}

const netReadBufSize = 16 << 10

func newNetReader(nc net.Conn, shutdown <-chan struct{}, onEOF func()) *netReader {
	r := &netReader{
		nc:       nc,
		ch:       make(chan []byte, 1),
		free:     make(chan []byte, 2),
		done:     make(chan struct{}),
		exited:   make(chan struct{}),
		shutdown: shutdown,
		onEOF:    onEOF,
	}
	r.free <- make([]byte, netReadBufSize)
	r.free <- make([]byte, netReadBufSize)
	go r.run()
	return r
}

func (r *netReader) run() {
	defer close(r.exited)
	defer close(r.ch)
	for {
		var buf []byte
		select {
		case buf = <-r.free:
		case <-r.done:
			return
		}
		n, err := r.nc.Read(buf[:cap(buf)])
		if n > 0 {
			select {
			case r.ch <- buf[:n]:
			case <-r.done:
				return
			}
		} else {
			r.free <- buf
		}
		if err != nil {
			r.err = err
			r.onEOF()
			return
		}
	}
}

// Read implements io.Reader for pgproto3. After Shutdown it fails with
// errShutdown so an idle connection ends.
func (r *netReader) Read(p []byte) (int, error) {
	if len(r.cur) == 0 {
		if r.curBuf != nil {
			r.free <- r.curBuf
			r.curBuf = nil
		}
		select {
		case <-r.shutdown:
			return 0, errShutdown
		default:
		}
	wait:
		select {
		case b, ok := <-r.ch:
			if !ok {
				if r.err == nil {
					return 0, io.EOF
				}
				return 0, r.err
			}
			r.cur, r.curBuf = b, b[:cap(b)]
		case <-r.wake:
			r.onWake()
			goto wait
		case <-r.shutdown:
			return 0, errShutdown
		}
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

// stop ends the reading goroutine; the caller must have closed the socket.
func (r *netReader) stop() {
	close(r.done)
	<-r.exited
}
