//go:build unix && !linux

package engine

// mapPopulate is 0 where mmap cannot fill a mapping at once (mapFile).
const mapPopulate = 0
