package dataflow

import (
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"
	"unsafe"

	"github.com/cockroachdb/apd/v3"

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

// pointsInto fails t unless the values of the chunks' text columns (and,
// where words are read in place, of their int and float columns, and
// their diffs if diffs) lie within b.
func pointsInto(t *testing.T, chunks []*coldata.Chunk, b []byte, diffs bool) {
	t.Helper()
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	within := func(p unsafe.Pointer, size int) bool {
		return size == 0 || uintptr(p) >= lo && uintptr(p)+uintptr(size) <= lo+uintptr(len(b))
	}
	words := littleEndian && unalignedWords
	for _, c := range chunks {
		if words && diffs && !within(unsafe.Pointer(unsafe.SliceData(c.Diffs)), 8*c.Len) {
			t.Fatalf("diffs of %d rows outside the snapshot's bytes", c.Len)
		}
		for _, v := range c.Cols {
			switch v.Typ.Phys() {
			case types.PhysBytes:
				for _, s := range v.Bytes {
					if !within(unsafe.Pointer(unsafe.StringData(s)), len(s)) {
						t.Fatalf("a string of %d bytes outside the snapshot's", len(s))
					}
				}
			case types.PhysInt:
				if words && !within(unsafe.Pointer(unsafe.SliceData(v.Ints)), 8*len(v.Ints)) {
					t.Fatalf("%d ints outside the snapshot's bytes", len(v.Ints))
				}
			case types.PhysFloat:
				if words && !within(unsafe.Pointer(unsafe.SliceData(v.Floats)), 8*len(v.Floats)) {
					t.Fatalf("%d floats outside the snapshot's bytes", len(v.Floats))
				}
			}
		}
	}
}

// TestReadChangesInPlace reads seeded random chunks of every physical
// type back as ReadChanges does, copied and in place (InPlace): both must
// equal the chunks written, and the values read in place must lie within
// the bytes read.
// SLUICE_SEED=<n> replays a run.
func TestReadChangesInPlace(t *testing.T) {
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
				r.InPlace()
			}
			got, err := ReadChanges(r, everyPhysType)
			if err != nil {
				t.Fatalf("round %d, shared %t: %v", round, share, err)
			}
			sameChunks(t, got, chunks)
			if share {
				pointsInto(t, got, b, true)
			}
		}
	}
}

// TestReadRowsInPlaceRoundTrip restores a keyed arrangement's rows of
// every physical type through WriteRows and ReadRows in place: the
// restored arrangement must hold the rows written.
func TestReadRowsInPlaceRoundTrip(t *testing.T) {
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
	rows, err := ReadRows(NewSnapshotReader(bytes).InPlace(), everyPhysType)
	if err != nil {
		t.Fatal(err)
	}
	pointsInto(t, rows, bytes, false)
	b := NewArrangement(everyPhysType, []int{1, 4})
	if err := b.Apply(1, rows...); err != nil {
		t.Fatal(err)
	}
	if got, want := scanText(b.Snapshot(1), everyPhysType), scanText(a.Snapshot(100), everyPhysType); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("restored %d rows, want %d", len(got), len(want))
	}
}
