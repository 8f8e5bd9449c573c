package dataflow

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"unsafe"

	"github.com/cockroachdb/apd/v3"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

var arrangementSeed = flag.Uint64("arrangement-seed", 0, "seed of the random arrangement tests (0: time-based)")

var keyedTypes = []*types.T{types.Int8, types.Text}

// rowText prints a row for comparisons.
func rowText(typs []*types.T, row []types.Datum) string {
	parts := make([]string, len(row))
	for i, d := range row {
		if d == nil {
			parts[i] = "NULL"
			continue
		}
		parts[i] = string(types.AppendText(nil, typs[i], d, types.DefaultConfig()))
	}
	return strings.Join(parts, " ")
}

// scanText returns the rows a snapshot scans, printed and sorted.
func scanText(s *ArrangementSnapshot, typs []*types.T) []string {
	var rows []string
	next := s.Scan()
	for c := next(); c != nil; c = next() {
		if c.Diffs != nil || c.Len > coldata.DefaultChunkSize || c.Len == 0 {
			panic(fmt.Sprintf("scan chunk of %d rows, diffs %v", c.Len, c.Diffs))
		}
		for i := 0; i < c.Len; i++ {
			rows = append(rows, rowText(typs, c.Row(i)))
		}
	}
	slices.Sort(rows)
	return rows
}

// changeChunk builds a change chunk from "diff value..." lines.
func changeChunk(t testing.TB, typs []*types.T, lines ...string) *coldata.Chunk {
	c := NewChanges(typs, len(lines))
	for _, l := range lines {
		f := strings.Fields(l)
		var d int64
		fmt.Sscan(f[0], &d)
		row := make([]types.Datum, len(typs))
		for i, s := range f[1:] {
			if s == "NULL" {
				continue
			}
			v, err := types.ParseText(typs[i], s, types.DefaultConfig())
			if err != nil {
				t.Fatal(err)
			}
			row[i] = v
		}
		c.AppendRow(row)
		c.Diffs = append(c.Diffs, d)
	}
	return c
}

func TestArrangementKeyed(t *testing.T) {
	a := NewArrangement(keyedTypes, []int{0})
	apply := func(e uint64, lines ...string) error { return a.Apply(e, changeChunk(t, keyedTypes, lines...)) }
	if err := apply(1, "+1 1 a", "+1 2 b", "+1 NULL n"); err != nil {
		t.Fatal(err)
	}
	s1 := a.Snapshot(1)
	// An update is -old,+new of one key; the insertion may come first.
	if err := apply(3, "+1 1 x", "-1 1 a", "-1 2 b"); err != nil {
		t.Fatal(err)
	}
	s3 := a.Snapshot(3)
	for _, c := range []struct {
		s    *ArrangementSnapshot
		want []string
	}{
		{s1, []string{"1 a", "2 b", "NULL n"}},
		{a.Snapshot(2), []string{"1 a", "2 b", "NULL n"}},
		{s3, []string{"1 x", "NULL n"}},
		{a.Snapshot(0), nil},
	} {
		if got := scanText(c.s, keyedTypes); !slices.Equal(got, c.want) || c.s.Len() != len(c.want) {
			t.Errorf("epoch %d: scan %q (Len %d), want %q", c.s.Epoch(), got, c.s.Len(), c.want)
		}
	}
	for _, c := range []struct {
		s    *ArrangementSnapshot
		key  types.Datum
		want string // "" for absent
	}{
		{s1, int64(1), "1 a"},
		{s3, int64(1), "1 x"},
		{s1, int64(2), "2 b"},
		{s3, int64(2), ""},
		{s3, nil, "NULL n"},
		{s3, int64(7), ""},
	} {
		row, ok := c.s.Lookup([]types.Datum{c.key})
		if got := map[bool]string{true: rowText(keyedTypes, row)}[ok]; got != c.want {
			t.Errorf("epoch %d: Lookup(%v) = %q, want %q", c.s.Epoch(), c.key, got, c.want)
		}
	}

	// Rows breaking the key are the view's (a declared key is a promise):
	// a unique violation. The rest are bugs.
	const dup = "SQLSTATE 23505"
	for _, c := range []struct {
		e     uint64
		lines []string
		want  string
	}{
		{4, []string{"-1 2 b"}, "[BUG]"},       // deleted key
		{4, []string{"-1 1 a"}, "[BUG]"},       // not the row of key 1
		{4, []string{"+1 1 y"}, dup},           // second row for key 1
		{4, []string{"+2 5 e"}, dup},           // two copies of a key
		{4, []string{"+1 5 e", "+1 5 f"}, dup}, // two rows for a new key
		{3, []string{"+1 6 f"}, "[BUG]"},       // epoch not after the last one
	} {
		b := NewArrangement(keyedTypes, []int{0})
		if err := b.Apply(3, changeChunk(t, keyedTypes, "+1 1 x")); err != nil {
			t.Fatal(err)
		}
		err := b.Apply(c.e, changeChunk(t, keyedTypes, c.lines...))
		if got := errorText(err); !strings.Contains(got, c.want) {
			t.Errorf("%v at %d: got %q, want %s", c.lines, c.e, got, c.want)
		}
		if got := scanText(b.Snapshot(3), keyedTypes); !slices.Equal(got, []string{"1 x"}) {
			t.Errorf("%v: after the failed Apply epoch 3 reads %q", c.lines, got)
		}
	}
}

func TestArrangementMultiset(t *testing.T) {
	a := NewArrangement(keyedTypes, nil)
	if err := a.Apply(1, changeChunk(t, keyedTypes, "+3 1 a", "+1 NULL NULL", "+1 2 b")); err != nil {
		t.Fatal(err)
	}
	if err := a.Apply(2, changeChunk(t, keyedTypes, "-2 1 a", "+2 NULL NULL", "-1 2 b")); err != nil {
		t.Fatal(err)
	}
	for e, want := range map[uint64][]string{
		1: {"1 a", "1 a", "1 a", "2 b", "NULL NULL"},
		2: {"1 a", "NULL NULL", "NULL NULL", "NULL NULL"},
	} {
		s := a.Snapshot(e)
		if got := scanText(s, keyedTypes); !slices.Equal(got, want) || s.Len() != len(want) {
			t.Errorf("epoch %d: scan %q (Len %d), want %q", e, got, s.Len(), want)
		}
	}
	if err := a.Apply(3, changeChunk(t, keyedTypes, "-2 1 a")); err == nil || !strings.Contains(err.Error(), "[BUG]") {
		t.Errorf("retracting two of one copy: got %v, want a [BUG] error", err)
	}
	// A row with more copies than a chunk holds.
	b := NewArrangement(keyedTypes, nil)
	if err := b.Apply(1, changeChunk(t, keyedTypes, "+1500 1 a", "+1 2 b")); err != nil {
		t.Fatal(err)
	}
	if got := scanText(b.Snapshot(1), keyedTypes); len(got) != 1501 || got[1499] != "1 a" || got[1500] != "2 b" {
		t.Errorf("scan of 1500 copies: %d rows", len(got))
	}
}

// TestArrangementCompact checks that compaction keeps what readers at the
// compacted epoch or later see, that older snapshots keep their content, and
// that a snapshot too old for the compacted arrays is refused.
func TestArrangementCompact(t *testing.T) {
	a := NewArrangement(keyedTypes, []int{0})
	c := NewChanges(keyedTypes, 0)
	for k := range 100 {
		c.AppendRow([]types.Datum{int64(k), "v0"})
		c.Diffs = append(c.Diffs, 1)
	}
	if err := a.Apply(1, c); err != nil {
		t.Fatal(err)
	}
	old := a.Snapshot(1)
	want := scanText(old, keyedTypes)
	// Rewrite every key each epoch: dead versions outgrow 1024 and the live ones.
	e := uint64(1)
	for a.cur.horizon == 0 {
		e++
		c := NewChanges(keyedTypes, 0)
		for k := range 100 {
			c.AppendRow([]types.Datum{int64(k), fmt.Sprintf("v%d", e-2)})
			c.AppendRow([]types.Datum{int64(k), fmt.Sprintf("v%d", e-1)})
			c.Diffs = append(c.Diffs, -1, 1)
		}
		if err := a.Apply(e, c); err != nil {
			t.Fatal(err)
		}
		a.Compact(e)
	}
	if n := a.work.n; n != 100 {
		t.Errorf("compacted to %d positions, want 100", n)
	}
	if got := scanText(old, keyedTypes); !slices.Equal(got, want) {
		t.Errorf("old snapshot changed after compaction")
	}
	if row, ok := old.Lookup([]types.Datum{int64(7)}); !ok || row[1] != "v0" {
		t.Errorf("old snapshot Lookup(7) = %v %v", row, ok)
	}
	if s := a.Snapshot(e - 1); s != nil {
		t.Errorf("Snapshot(%d) after Compact(%d) = %v, want nil", e-1, e, s)
	}
	s := a.Snapshot(e)
	if row, ok := s.Lookup([]types.Datum{int64(7)}); !ok || row[1] != fmt.Sprintf("v%d", e-1) || s.Len() != 100 {
		t.Errorf("Lookup(7) at %d = %v %v, Len %d", e, row, ok, s.Len())
	}
}

// TestArrangementConcurrent runs a writer applying random epochs while
// readers snapshot the latest published epoch and compare every snapshot,
// and older snapshots they keep, with the writer's reference state of that
// epoch. Run it under -race.
func TestArrangementConcurrent(t *testing.T) {
	rng := seededRand(t, arrangementSeed, "arrangement-seed")
	for _, keyed := range []bool{true, false} {
		t.Run(fmt.Sprintf("keyed=%v", keyed), func(t *testing.T) {
			testArrangementConcurrent(t, rand.New(rand.NewPCG(rng.Uint64(), 0)), keyed)
		})
	}
}

// epochState is the reference content of an arrangement at one epoch.
type epochState struct {
	rows  []string         // sorted, a row per copy
	byKey map[int64]string // keyed: key -> row
}

func testArrangementConcurrent(t *testing.T, rng *rand.Rand, keyed bool) {
	const epochs, keys = 400, 150
	var key []int
	if keyed {
		key = []int{0}
	}
	a := NewArrangement(keyedTypes, key)
	states := make([]epochState, epochs+1) // written before the epoch is published
	states[0] = epochState{byKey: map[int64]string{}}
	var published atomic.Uint64
	var done atomic.Bool
	var checked atomic.Int64 // snapshot checks done by readers

	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			check := func(s *ArrangementSnapshot) bool {
				want := states[s.Epoch()]
				if got := scanText(s, keyedTypes); !slices.Equal(got, want.rows) || s.Len() != len(want.rows) {
					errs <- fmt.Sprintf("reader %d epoch %d: scan %d rows (Len %d), want %d", r, s.Epoch(), len(got), s.Len(), len(want.rows))
					return false
				}
				if keyed {
					for k := int64(0); k < keys; k += 7 {
						row, ok := s.Lookup([]types.Datum{k})
						got := ""
						if ok {
							got = rowText(keyedTypes, row)
						}
						if got != want.byKey[k] {
							errs <- fmt.Sprintf("reader %d epoch %d: Lookup(%d) = %q, want %q", r, s.Epoch(), k, got, want.byKey[k])
							return false
						}
					}
					// Keys [20, 90) in order, as the writer changes the tree.
					var got, wantRange []string
					for k := int64(20); k < 90; k++ {
						if row, ok := want.byKey[k]; ok {
							wantRange = append(wantRange, row)
						}
					}
					next := s.ScanRange(KeyRange{Lower: &KeyBound{Value: int64(20), Inclusive: true}, Upper: &KeyBound{Value: int64(90)}})
					for c := next(); c != nil; c = next() {
						for i := 0; i < c.Len; i++ {
							got = append(got, rowText(keyedTypes, c.Row(i)))
						}
					}
					if !slices.Equal(got, wantRange) {
						errs <- fmt.Sprintf("reader %d epoch %d: ScanRange [20, 90) = %v, want %v", r, s.Epoch(), got, wantRange)
						return false
					}
				}
				checked.Add(1)
				return true
			}
			var kept []*ArrangementSnapshot
			for !done.Load() {
				s := a.Snapshot(published.Load())
				if s == nil { // compacted past the epoch we read: retry
					continue
				}
				if !check(s) {
					return
				}
				if len(kept) < 20 && s.Epoch()%17 == 0 && (len(kept) == 0 || kept[len(kept)-1].Epoch() != s.Epoch()) {
					kept = append(kept, s)
				}
				for _, old := range kept {
					if !check(old) {
						return
					}
				}
			}
		}()
	}

	stopReaders := func() {
		done.Store(true)
		wg.Wait()
	}
	defer stopReaders() // also on t.Fatal

	byKey := map[int64]string{}  // keyed state
	counts := map[string]int64{} // rowBag state: row text -> copies
	compactions := 0
	for e := uint64(1); e <= epochs; e++ {
		c := NewChanges(keyedTypes, 0)
		add := func(row []types.Datum, d int64) {
			c.AppendRow(row)
			c.Diffs = append(c.Diffs, d)
		}
		if keyed {
			for _, k := range rng.Perm(keys)[:rng.IntN(40)] {
				k := int64(k)
				old, present := byKey[k]
				newRow := []types.Datum{k, fmt.Sprintf("e%dk%d", e, k)}
				switch {
				case present && rng.IntN(4) == 0: // delete
					add([]types.Datum{k, strings.Fields(old)[1]}, -1)
					delete(byKey, k)
				case present: // update
					add([]types.Datum{k, strings.Fields(old)[1]}, -1)
					add(newRow, 1)
					byKey[k] = rowText(keyedTypes, newRow)
				default:
					add(newRow, 1)
					byKey[k] = rowText(keyedTypes, newRow)
				}
			}
		} else {
			seen := map[string]bool{}
			for range rng.IntN(40) {
				row := []types.Datum{int64(rng.IntN(keys)), []string{"x", "y"}[rng.IntN(2)]}
				if rng.IntN(8) == 0 {
					row[0] = nil
				}
				txt := rowText(keyedTypes, row)
				if seen[txt] { // changes are consolidated: one per row
					continue
				}
				seen[txt] = true
				d := int64(1 + rng.IntN(3))
				if counts[txt] > 0 && rng.IntN(2) == 0 {
					d = -min(d, counts[txt])
				}
				add(row, d)
				if counts[txt] += d; counts[txt] == 0 {
					delete(counts, txt)
				}
			}
		}
		// Retractions must be applied first wherever they sit in the chunk.
		c = c.Gather(rng.Perm(c.Len))

		st := epochState{byKey: map[int64]string{}}
		for k, row := range byKey {
			st.byKey[k] = row
			st.rows = append(st.rows, row)
		}
		for txt, n := range counts {
			for range n {
				st.rows = append(st.rows, txt)
			}
		}
		slices.Sort(st.rows)
		states[e] = st
		if err := a.Apply(e, c); err != nil {
			t.Fatal(err)
		}
		published.Store(e)
		before := a.cur
		a.Compact(e)
		if a.cur != before {
			compactions++
		}
	}
	stopReaders()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d snapshot checks, %d compactions", checked.Load(), compactions)
	if compactions == 0 {
		t.Errorf("no compaction in %d epochs", epochs)
	}
}

// BenchmarkArrangementApply applies epochs of 512 updates (1024 rows of
// -old,+new) to an arrangement of 10 000 keys, compacting as the engine does.
func BenchmarkArrangementApply(b *testing.B) {
	const keys, updates = 10000, coldata.DefaultChunkSize / 2
	typs := []*types.T{types.Int8, types.Int8}
	a := NewArrangement(typs, []int{0})
	vals := make([]int64, keys)
	load := NewChanges(typs, keys)
	for k := range keys {
		load.AppendRow([]types.Datum{int64(k), int64(0)})
		load.Diffs = append(load.Diffs, 1)
	}
	if err := a.Apply(1, load); err != nil {
		b.Fatal(err)
	}
	c := NewChanges(typs, 2*updates)
	// Each epoch updates keys start, start+step, ... (step is prime to keys,
	// so they are distinct), a different stretch every epoch.
	const step = 7919
	b.ResetTimer()
	for i := range b.N {
		e, start := uint64(i+2), i*updates
		ks, vs := c.Cols[0].Ints[:0], c.Cols[1].Ints[:0]
		c.Diffs = c.Diffs[:0]
		for j := range updates {
			k := (start + j*step) % keys
			ks = append(ks, int64(k), int64(k))
			vs = append(vs, vals[k], int64(e))
			c.Diffs = append(c.Diffs, -1, 1)
			vals[k] = int64(e)
		}
		c.Cols[0].Ints, c.Cols[1].Ints, c.Len = ks, vs, len(ks)
		if err := a.Apply(e, c); err != nil {
			b.Fatal(err)
		}
		a.Compact(e)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*2*updates), "ns/row")
}

// BenchmarkArrangementLookup looks up random keys of a 10 000-key
// arrangement that has seen a few hundred update epochs.
func BenchmarkArrangementLookup(b *testing.B) {
	const keys = 10000
	typs := []*types.T{types.Int8, types.Text}
	a := NewArrangement(typs, []int{0})
	rng := rand.New(rand.NewPCG(1, 2))
	vals := make([]string, keys)
	for e := uint64(1); e <= 300; e++ {
		c := NewChanges(typs, 0)
		ks := rng.Perm(keys)[:coldata.DefaultChunkSize/2]
		if e == 1 {
			ks = rng.Perm(keys)
		}
		for _, k := range ks {
			if vals[k] != "" {
				c.AppendRow([]types.Datum{int64(k), vals[k]})
				c.Diffs = append(c.Diffs, -1)
			}
			vals[k] = fmt.Sprintf("value %d of %d", e, k)
			c.AppendRow([]types.Datum{int64(k), vals[k]})
			c.Diffs = append(c.Diffs, 1)
		}
		if err := a.Apply(e, c); err != nil {
			b.Fatal(err)
		}
		a.Compact(e)
	}
	s := a.Snapshot(300)
	key := make([]types.Datum, 1)
	b.ResetTimer()
	for i := range b.N {
		key[0] = int64(i * 7919 % keys)
		if _, ok := s.Lookup(key); !ok {
			b.Fatal("missing key")
		}
	}
}

// errorText renders err with its SQLSTATE.
func errorText(err error) string {
	if err == nil {
		return "no error"
	}
	return "SQLSTATE " + sqlerr.Code(err) + " " + err.Error()
}

// TestArrangementInsertOnlyThenRetract checks an unkeyed arrangement that
// stores insertions without an index: equal rows inserted in several epochs
// sit at several positions until the first retraction indexes them (merging
// the copies); every epoch's snapshot, taken before or after, keeps its rows,
// and compaction afterwards keeps them too.
func TestArrangementInsertOnlyThenRetract(t *testing.T) {
	a := NewArrangement(keyedTypes, nil)
	for e, lines := range [][]string{
		{"+1 1 a", "+2 2 b"},
		{"+1 1 a", "+1 3 c"},
		{"+1 1 a"},
	} {
		if err := a.Apply(uint64(e+1), changeChunk(t, keyedTypes, lines...)); err != nil {
			t.Fatal(err)
		}
	}
	if a.indexed || len(a.index) != 0 {
		t.Fatalf("insertions built an index: %d keys", len(a.index))
	}
	snaps := []*ArrangementSnapshot{a.Snapshot(1), a.Snapshot(2), a.Snapshot(3)}
	if err := a.Apply(4, changeChunk(t, keyedTypes, "-2 1 a", "-1 2 b", "+1 4 d")); err != nil {
		t.Fatal(err)
	}
	if err := a.Apply(5, changeChunk(t, keyedTypes, "-1 1 a", "+1 1 a")); err != nil {
		t.Fatal(err)
	}
	want := map[uint64][]string{
		1: {"1 a", "2 b", "2 b"},
		2: {"1 a", "1 a", "2 b", "2 b", "3 c"},
		3: {"1 a", "1 a", "1 a", "2 b", "2 b", "3 c"},
		4: {"1 a", "2 b", "3 c", "4 d"},
		5: {"1 a", "2 b", "3 c", "4 d"},
	}
	for i, s := range snaps {
		if got := scanText(s, keyedTypes); !slices.Equal(got, want[uint64(i+1)]) {
			t.Errorf("snapshot of epoch %d taken before the index: %q, want %q", i+1, got, want[uint64(i+1)])
		}
	}
	for e := uint64(1); e <= 5; e++ {
		if got := scanText(a.Snapshot(e), keyedTypes); !slices.Equal(got, want[e]) {
			t.Errorf("epoch %d: %q, want %q", e, got, want[e])
		}
	}
	if err := a.Apply(6, changeChunk(t, keyedTypes, "-1 4 d")); err != nil {
		t.Fatal(err)
	}
	e := uint64(6)
	for i := 0; a.cur.horizon == 0 && i < 2000; i++ {
		e++
		if err := a.Apply(e, changeChunk(t, keyedTypes, "+1 9 z", "-1 3 c")); err != nil {
			t.Fatal(err)
		}
		e++
		if err := a.Apply(e, changeChunk(t, keyedTypes, "-1 9 z", "+1 3 c")); err != nil {
			t.Fatal(err)
		}
		a.Compact(e)
	}
	if a.cur.horizon == 0 {
		t.Fatal("never compacted")
	}
	last := a.lastEpoch
	if got, want := scanText(a.Snapshot(last), keyedTypes), []string{"1 a", "2 b", "3 c"}; !slices.Equal(got, want) {
		t.Errorf("after compaction: %q, want %q", got, want)
	}
}

// BenchmarkArrangementAppend appends 2M rows to an arrangement without a
// key in epochs of 10 000, as a view passing a stream through does.
func BenchmarkArrangementAppend(b *testing.B) {
	const rows, epoch = 2_000_000, 10_000
	typs := []*types.T{types.Int8, types.Int8, types.Text}
	c := NewChanges(typs, epoch)
	for i := range epoch {
		c.AppendRow([]types.Datum{int64(i), int64(i * 7), fmt.Sprintf("row %d", i)})
		c.Diffs = append(c.Diffs, 1)
	}
	for range b.N {
		a := NewArrangement(typs, nil)
		for e := range rows / epoch {
			if err := a.Apply(uint64(e+1), c); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
}

// BenchmarkArrangementSmall builds keyed arrangements of a few rows, as
// most aggregate views are, and reports the heap each one holds.
func BenchmarkArrangementSmall(b *testing.B) {
	typs := []*types.T{types.Int8, types.Int8}
	for _, rows := range []int{0, 1, 100} {
		c := NewChanges(typs, rows)
		for i := range rows {
			c.AppendRow([]types.Datum{int64(i), int64(i)})
			c.Diffs = append(c.Diffs, 1)
		}
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			held := make([]*Arrangement, b.N)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			for i := range b.N {
				held[i] = NewArrangement(typs, []int{0})
				if err := held[i].Apply(1, c); err != nil {
					b.Fatal(err)
				}
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(b.N), "held-B/op")
			runtime.KeepAlive(held)
		})
	}
}

// TestArrangementPages fills an unkeyed arrangement over several pages of
// versions in epochs of varied sizes (the first page growing under
// snapshots taken earlier), with NULLs arriving late in a page, then
// retracts rows from every page (indexing them) and compacts: every
// snapshot keeps its rows throughout.
func TestArrangementPages(t *testing.T) {
	a := NewArrangement(keyedTypes, nil)
	var rows []string // inserted so far, as rowText prints them
	var snaps []*ArrangementSnapshot
	var want [][]string
	next := 0
	for e, n := range []int{1, 3, 5, 700, 2500, 1, versionPageRows} {
		c := NewChanges(keyedTypes, n)
		for range n {
			row := []types.Datum{int64(next), fmt.Sprintf("r%d", next)}
			if next%97 == 50 {
				row[1] = nil
			}
			c.AppendRow(row)
			c.Diffs = append(c.Diffs, 1)
			rows = append(rows, rowText(keyedTypes, row))
			next++
		}
		if err := a.Apply(uint64(e+1), c); err != nil {
			t.Fatal(err)
		}
		snaps = append(snaps, a.Snapshot(uint64(e+1)))
		want = append(want, slices.Sorted(slices.Values(rows)))
	}
	check := func(when string) {
		t.Helper()
		for i, s := range snaps {
			if got := scanText(s, keyedTypes); !slices.Equal(got, want[i]) {
				t.Fatalf("%s: snapshot of epoch %d scans %d rows, want %d", when, s.Epoch(), len(got), len(want[i]))
			}
		}
	}
	check("after inserting")

	// Retract two rows of three, from every page: enough for compaction.
	c := NewChanges(keyedTypes, 0)
	var kept []string
	for i := range next {
		row := []types.Datum{int64(i), fmt.Sprintf("r%d", i)}
		if i%97 == 50 {
			row[1] = nil
		}
		if i%3 == 0 {
			kept = append(kept, rowText(keyedTypes, row))
			continue
		}
		c.AppendRow(row)
		c.Diffs = append(c.Diffs, -1)
	}
	e := uint64(len(snaps) + 1)
	if err := a.Apply(e, c); err != nil {
		t.Fatal(err)
	}
	snaps = append(snaps, a.Snapshot(e))
	want = append(want, slices.Sorted(slices.Values(kept)))
	check("after retracting")
	a.Compact(e)
	if a.work.n != len(kept) {
		t.Errorf("compacted to %d positions, want %d", a.work.n, len(kept))
	}
	check("after compacting")
	if got := scanText(a.Snapshot(e), keyedTypes); !slices.Equal(got, want[len(want)-1]) {
		t.Errorf("snapshot after compacting scans %d rows, want %d", len(got), len(kept))
	}
}

// TestArrangementLeanPages checks that insertions of one copy each into an
// unkeyed arrangement leave pages lean (no version columns), that a row of
// several copies makes its page full mid-page while later pages are lean
// again, and that snapshots across lean and full pages, taken before and
// after the first retraction fills every page, keep their rows.
func TestArrangementLeanPages(t *testing.T) {
	a := NewArrangement(keyedTypes, nil)
	var rows []string
	var snaps []*ArrangementSnapshot
	var want [][]string
	next := 0
	insert := func(e uint64, parts ...[2]int) { // runs of (rows, copies each)
		t.Helper()
		c := NewChanges(keyedTypes, 0)
		for _, part := range parts {
			for range part[0] {
				row := []types.Datum{int64(next), fmt.Sprintf("r%d", next)}
				c.AppendRow(row)
				c.Diffs = append(c.Diffs, int64(part[1]))
				for range part[1] {
					rows = append(rows, rowText(keyedTypes, row))
				}
				next++
			}
		}
		if err := a.Apply(e, c); err != nil {
			t.Fatal(err)
		}
		snaps = append(snaps, a.Snapshot(e))
		want = append(want, slices.Sorted(slices.Values(rows)))
	}
	check := func(when string) {
		t.Helper()
		for i, s := range snaps {
			// Taken then, and taken now of the same epoch: the latter sees
			// the rows of later epochs and must skip them.
			for _, s := range []*ArrangementSnapshot{s, a.Snapshot(s.Epoch())} {
				if got := scanText(s, keyedTypes); !slices.Equal(got, want[i]) || s.Len() != len(want[i]) {
					t.Fatalf("%s: snapshot of epoch %d scans %d rows (Len %d), want %d", when, s.Epoch(), len(got), s.Len(), len(want[i]))
				}
			}
		}
	}
	insert(1, [2]int{3, 1})
	insert(2, [2]int{1500, 1})
	insert(3, [2]int{10, 1}, [2]int{1, 2}, [2]int{5, 1})
	insert(4, [2]int{2500, 1})
	check("after inserting")
	for i, p := range a.work.pages {
		if full := i == 1; p.lean() == full {
			t.Errorf("page %d: lean %v, want %v", i, p.lean(), !full)
		}
	}

	// Retract one row of ten, from every page: the index fills the pages.
	c := NewChanges(keyedTypes, 0)
	rows = rows[:0]
	for i := range next {
		row := []types.Datum{int64(i), fmt.Sprintf("r%d", i)}
		copies := 1
		if i == 1513 { // the row of two copies
			copies = 2
		}
		if i%10 == 0 {
			c.AppendRow(row)
			c.Diffs = append(c.Diffs, int64(-copies))
			continue
		}
		for range copies {
			rows = append(rows, rowText(keyedTypes, row))
		}
	}
	if err := a.Apply(5, c); err != nil {
		t.Fatal(err)
	}
	snaps = append(snaps, a.Snapshot(5))
	want = append(want, slices.Sorted(slices.Values(rows)))
	check("after retracting")
	for i, p := range a.work.pages {
		if p.lean() {
			t.Errorf("page %d is lean after the index", i)
		}
	}
}

// TestArrangementCopiesStrings checks that insertions keep copies of their
// strings, not the larger strings they were cut from (a record's).
func TestArrangementCopiesStrings(t *testing.T) {
	record := strings.Repeat("x", 100) + "kept" + strings.Repeat("y", 100)
	c := NewChanges(keyedTypes, 0)
	c.AppendRow([]types.Datum{int64(1), record[100:104]})
	c.AppendRow([]types.Datum{int64(2), ""})
	c.Diffs = append(c.Diffs, 1, 1)
	a := NewArrangement(keyedTypes, nil)
	if err := a.Apply(1, c); err != nil {
		t.Fatal(err)
	}
	got := a.work.pages[0].rows.Cols[1].Bytes[0]
	lo := uintptr(unsafe.Pointer(unsafe.StringData(record)))
	if p := uintptr(unsafe.Pointer(unsafe.StringData(got))); got != "kept" || p >= lo && p < lo+uintptr(len(record)) {
		t.Errorf("stored %q inside the record it was cut from", got)
	}
	if got := scanText(a.Snapshot(1), keyedTypes); !slices.Equal(got, []string{"1 kept", "2 "}) {
		t.Errorf("scan %q", got)
	}

	// Retract all rows but one and compact: the survivor's string moves
	// out of the block it shared with the dropped rows.
	block := a.work.arena[:cap(a.work.arena)]
	c = NewChanges(keyedTypes, 0)
	for i := range 3000 {
		c.AppendRow([]types.Datum{int64(100 + i), fmt.Sprintf("row %d", i)})
		c.Diffs = append(c.Diffs, 1)
	}
	if err := a.Apply(2, c); err != nil {
		t.Fatal(err)
	}
	for i := range 3000 {
		c.Diffs[i] = -1
	}
	if err := a.Apply(3, c); err != nil {
		t.Fatal(err)
	}
	a.Compact(3)
	if a.cur.horizon != 3 {
		t.Fatal("not compacted")
	}
	got = a.work.pages[0].rows.Cols[1].Bytes[0]
	lo = uintptr(unsafe.Pointer(&block[0]))
	if p := uintptr(unsafe.Pointer(unsafe.StringData(got))); got != "kept" || p >= lo && p < lo+uintptr(len(block)) {
		t.Errorf("compaction kept %q in its first block", got)
	}
	if got := scanText(a.Snapshot(3), keyedTypes); !slices.Equal(got, []string{"1 kept", "2 "}) {
		t.Errorf("scan after compaction %q", got)
	}
}

// BenchmarkArrangementNewKeys applies epochs of 512 new keys, scattered
// over the key space, to a growing arrangement: the writer's cost of adding
// keys, which readers search without a lock (each epoch copies the tree
// nodes on the new keys' paths once).
func BenchmarkArrangementNewKeys(b *testing.B) {
	const perEpoch = coldata.DefaultChunkSize / 2
	typs := []*types.T{types.Int8, types.Int8}
	a := NewArrangement(typs, []int{0})
	rng := rand.New(rand.NewPCG(1, 2))
	c := NewChanges(typs, perEpoch)
	b.ResetTimer()
	for i := range b.N {
		ks, vs := c.Cols[0].Ints[:0], c.Cols[1].Ints[:0]
		c.Diffs = c.Diffs[:0]
		for range perEpoch {
			ks = append(ks, rng.Int64())
			vs = append(vs, int64(i))
			c.Diffs = append(c.Diffs, 1)
		}
		c.Cols[0].Ints, c.Cols[1].Ints, c.Len = ks, vs, len(ks)
		if err := a.Apply(uint64(i+1), c); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perEpoch), "ns/key")
}

// pageText is row r of text column j of page p, packed or not.
func pageText(p *versionPage, j, r int) string {
	if p.packed != nil && p.packed[j] != nil {
		return p.packed[j].at(r)
	}
	return p.rows.Cols[j].Bytes[r]
}

// spread is the integer of row i of the tests of shared pages: rows
// 2^33 apart, too far to pack (packInts), so that whole pages share them.
func spread(i int) int64 { return int64(i) << 33 }

// TestArrangementSharesLeanRows checks that the whole pages of an
// insert-only run share the chunk's integer column (too spread to pack)
// wherever the run starts in its chunk and the page in the arrangement,
// copy its strings out of the records they were cut from, leave the
// chunks as they were through a retraction and a compaction, and read
// back the rows.
func TestArrangementSharesLeanRows(t *testing.T) {
	a := NewArrangement(keyedTypes, nil)
	record := strings.Repeat("r", 64)
	var chunks []*coldata.Chunk
	var starts []int // the position of each chunk's first row
	var want []string
	next := 0
	for e, n := range []int{3, 1500, 777, 5000} {
		c := NewChanges(keyedTypes, n)
		for range n {
			s := record[:next%64]
			c.AppendRow([]types.Datum{spread(next), s})
			c.Diffs = append(c.Diffs, 1)
			want = append(want, rowText(keyedTypes, []types.Datum{spread(next), s}))
			next++
		}
		chunks, starts = append(chunks, c), append(starts, next-n)
		if err := a.Apply(uint64(e+1), c); err != nil {
			t.Fatal(err)
		}
	}
	ints := make([][]int64, len(chunks))
	for i, c := range chunks {
		ints[i] = slices.Clone(c.Cols[0].Ints)
	}
	slices.Sort(want)
	if got := scanText(a.Snapshot(4), keyedTypes); !slices.Equal(got, want) {
		t.Fatalf("scan: %d rows, want %d", len(got), len(want))
	}
	shared := 0
	recLo := uintptr(unsafe.Pointer(unsafe.StringData(record)))
	for p, page := range a.work.pages {
		first := p << versionPageBits
		c := sort.SearchInts(starts, first+1) - 1
		inChunk := first+page.rows.Len <= starts[c]+chunks[c].Len
		aliases := &page.rows.Cols[0].Ints[0] == &chunks[c].Cols[0].Ints[first-starts[c]]
		// The first page grows by copies until it is full-sized.
		if wantShared := p > 0 && inChunk; aliases != wantShared {
			t.Errorf("page %d (chunk %d from row %d): shares the chunk's integers %v, want %v", p, c, first-starts[c], aliases, wantShared)
		}
		if aliases {
			shared++
		}
		// A shared page packs its text; the others keep strings.
		packed := page.packed != nil && page.packed[1] != nil
		if packed != aliases || packed && page.rows.Cols[1].Bytes != nil {
			t.Errorf("page %d: text packed %v (strings %d), want %v", p, packed, len(page.rows.Cols[1].Bytes), aliases)
		}
		for r := range min(page.rows.Len, next-first) {
			s := pageText(page, 1, r)
			if q := uintptr(unsafe.Pointer(unsafe.StringData(s))); s != "" && q >= recLo && q < recLo+uintptr(len(record)) {
				t.Fatalf("page %d row %d keeps the record's string", p, r)
			}
		}
	}
	if shared != 4 {
		t.Errorf("%d pages share a chunk's rows, want 4", shared)
	}

	// Retract every third row, then compact: the chunks stay as they were.
	c := NewChanges(keyedTypes, 0)
	want = want[:0]
	for i := range next {
		row := []types.Datum{spread(i), record[:i%64]}
		if i%3 == 0 {
			c.AppendRow(row)
			c.Diffs = append(c.Diffs, -1)
			continue
		}
		want = append(want, rowText(keyedTypes, row))
	}
	if err := a.Apply(5, c); err != nil {
		t.Fatal(err)
	}
	a.Compact(5)
	slices.Sort(want)
	if got := scanText(a.Snapshot(5), keyedTypes); !slices.Equal(got, want) {
		t.Fatalf("scan after the retraction: %d rows, want %d", len(got), len(want))
	}
	for i, c := range chunks {
		if !slices.Equal(c.Cols[0].Ints, ints[i]) {
			t.Errorf("chunk %d changed", i)
		}
	}
}

// TestArrangementSharesLeanDecimals checks that the whole pages of an
// insert-only run share the chunk's decimal column (as q1's 0.908 * price
// comes out of the view's step), small and large coefficients and NULLs
// alike, leave it as it was through a retraction and a compaction, and
// read back the rows.
func TestArrangementSharesLeanDecimals(t *testing.T) {
	typs := []*types.T{types.Numeric, types.Int8}
	const n = 3000
	row := func(i int) []types.Datum {
		if i%7 == 0 {
			return []types.Datum{nil, int64(i)}
		}
		d, _, err := apd.NewFromString(fmt.Sprintf("%d.%03d", i*int(1e15), i%1000))
		if err != nil {
			t.Fatal(err)
		}
		return []types.Datum{d, int64(i)}
	}
	a := NewArrangement(typs, nil)
	c := NewChanges(typs, n)
	var want []string
	for i := range n {
		c.AppendRow(row(i))
		c.Diffs = append(c.Diffs, 1)
		want = append(want, rowText(typs, row(i)))
	}
	before := make([]string, n)
	for i := range n {
		before[i] = rowText(typs, c.Row(i))
	}
	if err := a.Apply(1, c); err != nil {
		t.Fatal(err)
	}
	slices.Sort(want)
	if got := scanText(a.Snapshot(1), typs); !slices.Equal(got, want) {
		t.Fatalf("scan: %d rows, want %d", len(got), len(want))
	}
	shared := 0
	for p, page := range a.work.pages {
		if first := p << versionPageBits; p > 0 && first+page.rows.Len <= n {
			if &page.rows.Cols[0].Decs[0] != &c.Cols[0].Decs[first] {
				t.Errorf("page %d copies the chunk's decimals", p)
			}
			shared++
		}
	}
	if shared == 0 {
		t.Fatal("no whole page to share the chunk's decimals")
	}

	// Retract every third row, then compact: the chunk stays as it was.
	r := NewChanges(typs, 0)
	want = want[:0]
	for i := range n {
		if i%3 == 0 {
			r.AppendRow(row(i))
			r.Diffs = append(r.Diffs, -1)
			continue
		}
		want = append(want, rowText(typs, row(i)))
	}
	if err := a.Apply(2, r); err != nil {
		t.Fatal(err)
	}
	a.Compact(2)
	slices.Sort(want)
	if got := scanText(a.Snapshot(2), typs); !slices.Equal(got, want) {
		t.Fatalf("scan after the retraction: %d rows, want %d", len(got), len(want))
	}
	for i := range n {
		if got := rowText(typs, c.Row(i)); got != before[i] {
			t.Fatalf("chunk row %d changed: %s, was %s", i, got, before[i])
		}
	}
}

// TestArrangementAlignsSlices checks that an epoch handed over as 1024-row
// slices (as the dataflow cuts a stream's batches), after an epoch of an
// odd size, is laid out so that every slice but one starts a page and
// shares the chunk's rows, and that the rows read back, at both epochs.
func TestArrangementAlignsSlices(t *testing.T) {
	a := NewArrangement(keyedTypes, nil)
	batch := func(lo, n int) *coldata.Chunk {
		c := NewChanges(keyedTypes, n)
		for i := lo; i < lo+n; i++ {
			c.AppendRow([]types.Datum{spread(i), fmt.Sprintf("r%d", i)})
			c.Diffs = append(c.Diffs, 1)
		}
		return c
	}
	rowsOf := func(n int) []string {
		var want []string
		for i := range n {
			want = append(want, rowText(keyedTypes, []types.Datum{spread(i), fmt.Sprintf("r%d", i)}))
		}
		slices.Sort(want)
		return want
	}
	if err := a.Apply(1, batch(0, 1500)); err != nil {
		t.Fatal(err)
	}
	big, odd := batch(1500, 8192), batch(1500+8192, 300)
	var cs []*coldata.Chunk
	for lo := 0; lo < big.Len; lo += 1024 {
		cs = append(cs, big.Slice(lo, lo+1024))
	}
	cs = append(cs, odd)
	if err := a.Apply(2, cs...); err != nil {
		t.Fatal(err)
	}
	shared := 0
	for _, p := range a.work.pages {
		first := &p.rows.Cols[0].Ints[0]
		for r := range big.Len {
			if first == &big.Cols[0].Ints[r] {
				shared++
			}
		}
	}
	// The page at 1024 is filled by the 300 odd rows and 248 of the first
	// slice; the seven other slices are pages of their own.
	if shared != 7 {
		t.Errorf("%d pages share the batch's rows, want 7", shared)
	}
	for e, n := range map[uint64]int{1: 1500, 2: 1500 + 8192 + 300} {
		if got := scanText(a.Snapshot(e), keyedTypes); !slices.Equal(got, rowsOf(n)) {
			t.Errorf("epoch %d: scan of %d rows, want %d", e, len(got), n)
		}
	}
}
