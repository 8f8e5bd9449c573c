//go:build !linux

package dataflow

import "unsafe"

const hugePageBytes = 2 << 20

// adviseHugePages does nothing where huge pages are not advised this way.
func adviseHugePages(p unsafe.Pointer, size uintptr) {}
