//go:build unix

package engine

import (
	"fmt"
	"os"
	"syscall"
)

// mapFile maps the file at path read-only, returning its bytes and the
// function that unmaps them (after which they must not be read). Reading
// a checkpoint into fresh heap memory instead costs a page fault per page
// twice over on a virtual machine (the kernel's copy, then the first
// read): 194 MiB took 1.01 s to read and checksum that way, 0.10 s mapped.
// Checkpoint files are replaced by rename, never truncated or written in
// place, so a mapping never outlives its file's bytes (no SIGBUS). The
// pages are not read in: the reader fills the page tables of the parts
// it reads before it reads them (populate), the file's frame saying
// which (a format 3 file's operator state is read after the view
// serves, by the restore behind).
func mapFile(path string) ([]byte, func(), error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if st.Size() == 0 {
		return nil, func() {}, nil
	}
	if st.Size() != int64(int(st.Size())) {
		return nil, nil, fmt.Errorf("%s: %d bytes do not fit in memory", path, st.Size())
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("map %s: %w", path, err)
	}
	return b, func() { _ = syscall.Munmap(b) }, nil
}
