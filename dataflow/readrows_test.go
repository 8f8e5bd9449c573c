package dataflow

import (
	"fmt"
	"math"
	"math/rand"
	"runtime/debug"
	"strings"
	"testing"
	"unsafe"

	"github.com/cockroachdb/apd/v3"
	"golang.org/x/sys/unix"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/internal/randtest"
	"github.com/sluice-db/sluice/types"
)

// everyPhysType has a column of each physical type, and of datums.
var everyPhysType = []*types.T{types.Bool, types.Int8, types.Float8, types.Numeric, types.Text, types.Bytea, types.UUID, types.Interval, types.Date, types.ArrayOf(types.Int8)}

// randomEveryPhysRow draws a row of everyPhysType: NULLs, empty strings,
// big values (extreme ints, 100 KB text, numerics past 18 digits), and
// ordinary ones.
func randomEveryPhysRow(rng *rand.Rand) []types.Datum {
	row := make([]types.Datum, len(everyPhysType))
	for j, t := range everyPhysType {
		if rng.Intn(6) == 0 {
			continue // NULL
		}
		switch t {
		case types.Bool:
			row[j] = rng.Intn(2) == 0
		case types.Int8:
			row[j] = []int64{math.MinInt64, math.MaxInt64, 0, -1, rng.Int63()}[rng.Intn(5)]
		case types.Float8:
			row[j] = []float64{math.NaN(), math.Inf(-1), math.Copysign(0, -1), rng.NormFloat64() * 1e300}[rng.Intn(4)]
		case types.Numeric:
			s := []string{"1.00", "-0", "-12.5", "123456789012345678", "1234567890123456789012345.678", "1E+30", "NaN", fmt.Sprint(rng.Int63n(1e6))}[rng.Intn(8)]
			d, _, err := apd.NewFromString(s)
			if err != nil {
				panic(err)
			}
			row[j] = d
		case types.Text, types.Bytea:
			n := []int{0, 1, rng.Intn(40)}[rng.Intn(3)]
			if rng.Intn(200) == 0 {
				n = 100_000
			}
			b := make([]byte, n)
			rng.Read(b)
			if t == types.Text {
				b = []byte(strings.ToValidUTF8(string(b), "é"))
			}
			row[j] = string(b)
		case types.UUID:
			b := make([]byte, 16)
			rng.Read(b)
			row[j] = string(b)
		case types.Interval:
			row[j] = types.IntervalValue{Months: rng.Int31() - 1<<30, Days: rng.Int31n(100), Micros: rng.Int63() - 1<<62}
		case types.Date:
			row[j] = rng.Int63n(1<<40) - 1<<39
		default:
			row[j] = &types.Array{Elem: types.Int8, Elems: []types.Datum{rng.Int63(), nil}}
		}
	}
	return row
}

// randomEveryPhysChunks draws chunks of everyPhysType of random lengths,
// some of them empty, with random diffs.
func randomEveryPhysChunks(rng *rand.Rand) []*coldata.Chunk {
	var chunks []*coldata.Chunk
	for range 1 + rng.Intn(12) {
		n := []int{0, 1, rng.Intn(300), 1024}[rng.Intn(4)]
		c := NewChanges(everyPhysType, n)
		for range n {
			c.AppendRow(randomEveryPhysRow(rng))
			c.Diffs = append(c.Diffs, rng.Int63n(5)-2)
		}
		chunks = append(chunks, c)
	}
	return chunks
}

// sameChunks fails t unless got holds want's rows and diffs (chunks
// without rows left out) with the same identities.
func sameChunks(t *testing.T, got, want []*coldata.Chunk) {
	t.Helper()
	var nonEmpty []*coldata.Chunk
	for _, c := range want {
		if c.Len > 0 {
			nonEmpty = append(nonEmpty, c)
		}
	}
	if len(got) != len(nonEmpty) {
		t.Fatalf("%d chunks, want %d", len(got), len(nonEmpty))
	}
	for k, c := range got {
		w := nonEmpty[k]
		if c.Len != w.Len {
			t.Fatalf("chunk %d: %d rows, want %d", k, c.Len, w.Len)
		}
		for i := range c.Len {
			if c.Diffs[i] != w.Diffs[i] {
				t.Fatalf("chunk %d row %d: diff %d, want %d", k, i, c.Diffs[i], w.Diffs[i])
			}
			for j, v := range c.Cols {
				if !coldata.SameIdentity(v, i, w.Cols[j], i) {
					t.Fatalf("chunk %d row %d column %s: %v, want %v", k, i, v.Typ, v.Get(i), w.Cols[j].Get(i))
				}
			}
		}
	}
}

// pointsInto fails t unless every non-empty string of the chunks' text
// columns lies within b.
func pointsInto(t *testing.T, chunks []*coldata.Chunk, b []byte) {
	t.Helper()
	lo, hi := uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(unsafe.Pointer(unsafe.SliceData(b)))+uintptr(len(b))
	for _, c := range chunks {
		for _, v := range c.Cols {
			if v.Typ.Phys() != types.PhysBytes {
				continue
			}
			for _, s := range v.Bytes {
				if p := uintptr(unsafe.Pointer(unsafe.StringData(s))); len(s) > 0 && (p < lo || p+uintptr(len(s)) > hi) {
					t.Fatalf("a string of %d bytes outside the snapshot's", len(s))
				}
			}
		}
	}
}

// TestReadChangesSharedText reads seeded random chunks of every physical
// type back as ReadChanges does, with their text copied and with it
// shared with the snapshot's bytes (ShareText): both must equal the
// chunks written, and shared strings must lie within the bytes read.
// SLUICE_SEED=<n> replays a run.
func TestReadChangesSharedText(t *testing.T) {
	rng := rand.New(rand.NewSource(randtest.Seed(t)))
	for round := range 10 {
		chunks := randomEveryPhysChunks(rng)
		w := NewSnapshotWriter(nil)
		if err := WriteChanges(w, chunks); err != nil {
			t.Fatal(err)
		}
		b := w.Bytes()
		for _, share := range []bool{false, true} {
			r := NewSnapshotReader(b)
			if share {
				r.ShareText()
			}
			got, err := ReadChanges(r, everyPhysType)
			if err != nil {
				t.Fatalf("round %d, shared %t: %v", round, share, err)
			}
			sameChunks(t, got, chunks)
			if share {
				pointsInto(t, got, b)
			}
		}
	}
}

// TestReadRowsSharedTextRoundTrip restores a keyed arrangement's rows of
// every physical type through WriteRows and ReadRows with their text
// shared: the restored arrangement must hold the rows written.
func TestReadRowsSharedTextRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewSource(randtest.Seed(t)))
	a := NewArrangement(everyPhysType, []int{1, 4})
	for e, c := range randomEveryPhysChunks(rng) {
		for i := range c.Diffs {
			c.Diffs[i] = 1
		}
		// Every row is its own key: the keys' ints are unique.
		for i := range c.Len {
			c.Cols[1].Ints[i], c.Cols[1].Nulls = int64(e<<20+i), nil
		}
		if err := a.Apply(uint64(e+1), c); err != nil {
			t.Fatal(err)
		}
	}
	w := NewSnapshotWriter(nil)
	if err := a.Snapshot(100).WriteRows(w, nil); err != nil {
		t.Fatal(err)
	}
	bytes := w.Bytes()
	rows, err := ReadRows(NewSnapshotReader(bytes).ShareText(), everyPhysType)
	if err != nil {
		t.Fatal(err)
	}
	pointsInto(t, rows, bytes)
	b := NewArrangement(everyPhysType, []int{1, 4})
	if err := b.Apply(1, rows...); err != nil {
		t.Fatal(err)
	}
	if got, want := scanText(b.Snapshot(1), everyPhysType), scanText(a.Snapshot(100), everyPhysType); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("restored %d rows, want %d", len(got), len(want))
	}
}

// TestReadRowsSharedTextFaultsUnmapped reads rows with their text shared
// from a mapping, then unmaps it: reading a string after faults, so the
// rows do point into the mapping, and whoever maps their bytes must keep
// the mapping while the rows live (engine's readViewRows and release).
func TestReadRowsSharedTextFaultsUnmapped(t *testing.T) {
	c := NewChanges([]*types.T{types.Text}, 3)
	for _, s := range []string{"one", "", strings.Repeat("x", 10_000)} {
		c.AppendRow([]types.Datum{s})
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
	got, err := ReadChanges(NewSnapshotReader(m).ShareText(), []*types.T{types.Text})
	if err != nil {
		t.Fatal(err)
	}
	sameChunks(t, got, []*coldata.Chunk{c})
	s := got[0].Cols[0].Bytes[2]
	if err := unix.Munmap(m); err != nil {
		t.Fatal(err)
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	faulted := func() (faulted bool) {
		defer func() { faulted = recover() != nil }()
		_ = strings.Count(s, "x")
		return false
	}()
	if !faulted {
		t.Fatal("a string read after its mapping went did not fault: the rows were copied")
	}
}
