//go:build unix

package dataflow

import (
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// TestReadRowsInPlaceFaultsUnmapped reads rows in place from a mapping,
// then takes it away: reading a string or an int after faults, so the rows do
// point into the mapping, and whoever maps their bytes must keep the
// mapping while the rows live (engine's readViewRows and release).
func TestReadRowsInPlaceFaultsUnmapped(t *testing.T) {
	typs := []*types.T{types.Text, types.Int8}
	c := NewChanges(typs, 3)
	for i, s := range []string{"one", "", strings.Repeat("x", 10_000)} {
		c.AppendRow([]types.Datum{s, int64(i)})
		c.Diffs = append(c.Diffs, 1)
	}
	w := NewSnapshotWriter(nil)
	if err := WriteChanges(w, []*coldata.Chunk{c}); err != nil {
		t.Fatal(err)
	}
	m, err := unix.Mmap(-1, 0, len(w.Bytes()), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		t.Skipf("no anonymous mapping: %v", err)
	}
	copy(m, w.Bytes())
	got, err := ReadChanges(NewSnapshotReader(m).InPlace(), typs)
	if err != nil {
		t.Fatal(err)
	}
	sameChunks(t, got, []*coldata.Chunk{c})
	s, ints := got[0].Cols[0].Bytes[2], got[0].Cols[1].Ints
	// Its pages made unreadable, not unmapped: the address is not handed
	// to another mapping meanwhile.
	if err := unix.Mprotect(m, unix.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = unix.Munmap(m) }()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	faults := func(read func()) (faulted bool) {
		defer func() { faulted = recover() != nil }()
		read()
		return false
	}
	if !faults(func() { t.Log(strings.Count(s, "x")) }) {
		t.Fatal("a string read after its mapping went did not fault: the rows were copied")
	}
	if littleEndian && unalignedWords && !faults(func() { t.Log(slices.Max(ints)) }) {
		t.Fatal("an int read after its mapping went did not fault: the rows were copied")
	}
}
