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

// mapsFiles: mapFile copies files into the heap, where rows read in place
// would keep a whole file alive; they are copied.
const mapsFiles = false

// writableFrom and unmapBefore are never called where mapsFiles is false.
func writableFrom(b, rest []byte) error { return nil }
func unmapBefore(b, rest []byte)        {}
