package bench

import (
	"syscall"
	"testing"
)

// Touching fresh pages shows in processMinorFaults, one fault a page.
func TestProcessMinorFaults(t *testing.T) {
	const pages = 4096
	size := pages * syscall.Getpagesize()
	mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Skipf("mmap: %v", err)
	}
	defer syscall.Munmap(mem)
	// One fault a page, not one per huge page, whatever the machine's
	// transparent huge page setting.
	if err := syscall.Madvise(mem, syscall.MADV_NOHUGEPAGE); err != nil {
		t.Skipf("madvise: %v", err)
	}
	before, ok := processMinorFaults()
	if !ok {
		t.Skip("no /proc/self/stat")
	}
	for i := 0; i < size; i += syscall.Getpagesize() {
		mem[i] = 1
	}
	after, _ := processMinorFaults()
	if got := after - before; got < pages || got > 2*pages {
		t.Errorf("touching %d fresh pages took %d minor faults", pages, got)
	}
}
