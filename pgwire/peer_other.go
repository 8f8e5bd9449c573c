//go:build !unix

package pgwire

import "syscall"

// peerClosed cannot tell here without reading: a statement whose client hung
// up runs on until it ends or is cancelled.
func peerClosed(syscall.RawConn) bool { return false }
