//go:build unix

package engine

import (
	"fmt"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mapFile maps the file at path read-only and private (writableFrom may
// make a part writable, a page copied as first written), returning its
// bytes and the function that unmaps them (after which they must not be
// read). Reading
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
	b, err := syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_PRIVATE)
	if err != nil {
		return nil, nil, fmt.Errorf("map %s: %w", path, err)
	}
	return b, func() { _ = syscall.Munmap(b) }, nil
}

// mapsFiles: mapFile maps files, so that rows may be read in place.
const mapsFiles = true

// rowsPage is the offset in mapping b (mapFile's) of the page rest, a
// part of it, starts in.
func rowsPage(b, rest []byte) int {
	off := uintptr(unsafe.Pointer(unsafe.SliceData(rest))) - uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return int(off &^ uintptr(os.Getpagesize()-1))
}

// writableFrom makes the pages of mapping b from rest's on writable: the
// mapping is private, so a write copies the page it falls in, and the
// file stays as it is. Rows read in place (readViewRows) may then be
// written to as any column may.
func writableFrom(b, rest []byte) error {
	if len(rest) == 0 {
		return nil
	}
	if err := unix.Mprotect(b[rowsPage(b, rest):], unix.PROT_READ|unix.PROT_WRITE); err != nil {
		return fmt.Errorf("make the rows' pages writable: %w", err)
	}
	return nil
}

// unmapBefore unmaps the whole pages of mapping b that come before rest,
// a part of b that stays mapped for the process's life: the values of a
// view's rows point into it (readViewRows), and no owner of theirs could
// tell when the last is gone. With rest empty, all of b goes.
func unmapBefore(b, rest []byte) {
	cut := len(b)
	if len(rest) > 0 {
		cut = rowsPage(b, rest)
	}
	if cut > 0 {
		_ = unix.MunmapPtr(unsafe.Pointer(unsafe.SliceData(b)), uintptr(cut))
	}
}
