package pgwire

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// peerClosed reports whether the client hung up, without reading: POLLRDHUP
// sees the client's FIN even behind unread bytes (a TLS close_notify, or
// pipelined messages), as Postgres' pq_check_connection does.
func peerClosed(sock syscall.RawConn) bool {
	closed := false
	_ = sock.Control(func(fd uintptr) {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLRDHUP}}
		n, err := unix.Poll(fds, 0)
		closed = err == nil && n > 0 && fds[0].Revents&(unix.POLLRDHUP|unix.POLLHUP|unix.POLLERR) != 0
	})
	return closed
}
