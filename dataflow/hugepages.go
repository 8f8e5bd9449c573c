package dataflow

import "unsafe"

// makeHuge is make([]T, n), its memory advised for huge pages when it
// spans several: a restore fills gigabytes of fresh memory, and the first
// touch of each small page faults (about 17 µs of CPU a 4 KiB page on
// these virtual machines: filling 512 MiB took 2.3 s of CPU in small
// pages, 0.9-1.4 s in huge ones). Memory Go used before (not fresh) is
// cleared by make, and keeps its pages.
func makeHuge[T any](n int) []T {
	xs := make([]T, n)
	var zero T
	if size := uintptr(n) * unsafe.Sizeof(zero); size >= 2*hugePageBytes {
		adviseHugePages(unsafe.Pointer(unsafe.SliceData(xs)), size)
	}
	return xs
}
