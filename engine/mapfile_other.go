//go:build !unix

package engine

import "os"

// mapFile reads the file at path: where memory mapping is not at hand,
// its bytes are a copy in the heap, and the release does nothing.
func mapFile(path string) ([]byte, func(), error) {
	b, err := os.ReadFile(path)
	return b, func() {}, err
}

// populate does nothing: the bytes are in the heap.
func populate([]byte) {}
