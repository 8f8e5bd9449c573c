package dataflow

import (
	"errors"
	"io/fs"
	"os"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/sluice-db/sluice/internal/smaps"
)

// makeHuge's memory is advised for huge pages (its mapping's VmFlags has
// hg), where the kernel gives them on advice. Whether it gets them depends
// on whether Go's heap had the memory fresh.
func TestMakeHugeAdvised(t *testing.T) {
	if b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled"); err != nil || !strings.Contains(string(b), "[madvise]") && !strings.Contains(string(b), "[always]") {
		t.Skipf("transparent huge pages are not given on advice here: %q %v", b, err)
	}
	xs := makeHuge[int64](4 * hugePageBytes / 8)
	for i := range xs {
		if xs[i] != 0 {
			t.Fatalf("word %d is %d, want 0", i, xs[i])
		}
		xs[i] = int64(i)
	}
	// The advice splits the mapping: the advised pages, from the first
	// whole huge page on, are one of their own.
	first := (uintptr(unsafe.Pointer(&xs[0])) + hugePageBytes - 1) &^ (hugePageBytes - 1)
	if flags := vmFlags(t, first); !slices.Contains(flags, "hg") {
		t.Fatalf("the mapping of makeHuge's 8 MiB has flags %v, want hg (huge pages advised)", flags)
	}
}

// vmFlags returns the VmFlags of the mapping holding addr.
func vmFlags(t *testing.T, addr uintptr) []string {
	m, err := smaps.Of(addr)
	if errors.Is(err, fs.ErrNotExist) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return m.Flags
}
