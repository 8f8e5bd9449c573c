package dataflow

import (
	"syscall"
	"unsafe"
)

// hugePageBytes is the size of a transparent huge page on linux/amd64 and
// arm64 (with 4 KiB base pages).
const hugePageBytes = 2 << 20

// adviseHugePages asks the kernel to back the whole 2 MiB pages within the
// size bytes at p with huge pages as they are first touched (where
// transparent huge pages are "madvise", as on the machines Sluice runs on,
// memory is not otherwise). Only memory p's object owns is advised; if the
// advice fails, the memory just keeps its small pages.
func adviseHugePages(p unsafe.Pointer, size uintptr) {
	lo := (uintptr(p) + hugePageBytes - 1) &^ (hugePageBytes - 1)
	hi := (uintptr(p) + size) &^ (hugePageBytes - 1)
	if hi <= lo {
		return
	}
	_ = syscall.Madvise(unsafe.Slice((*byte)(unsafe.Add(p, lo-uintptr(p))), hi-lo), syscall.MADV_HUGEPAGE)
}
