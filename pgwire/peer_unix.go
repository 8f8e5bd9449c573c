//go:build unix && !linux

package pgwire

import "syscall"

// peerClosed reports whether the client hung up, without reading: a peek
// finds the end of the stream, unless unread bytes come before it.
func peerClosed(sock syscall.RawConn) bool {
	closed := false
	_ = sock.Control(func(fd uintptr) {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		closed = (n == 0 && err == nil) || err == syscall.ECONNRESET
	})
	return closed
}
