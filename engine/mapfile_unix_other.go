//go:build unix && !linux

package engine

// populate does nothing where a mapping's page tables cannot be filled
// at once: the reads fault the pages in.
func populate([]byte) {}
