package dataflow

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// TestArrangementReadersDuringApply checks that a reader of the published
// epoch is not held up by the writer applying the next one: point lookups
// on the view must go on, and stay at the old epoch's answer, while a large
// epoch is applied (a dashboard's queries must not wait for an epoch of
// ingest). An arrangement lock held for the whole Apply would let no lookup
// both start and finish within it.
func TestArrangementReadersDuringApply(t *testing.T) {
	const oldKeys, newKeys, chunkRows = 1000, 1 << 16, 1 << 12
	a := NewArrangement(keyedTypes, []int{0})
	first := NewChanges(keyedTypes, oldKeys)
	for k := range oldKeys {
		first.AppendRow([]types.Datum{int64(k), "old"})
		first.Diffs = append(first.Diffs, 1)
	}
	if err := a.Apply(1, first); err != nil {
		t.Fatal(err)
	}
	// Epoch 2 changes every old key and adds newKeys more.
	var next []*coldata.Chunk
	c := NewChanges(keyedTypes, chunkRows)
	add := func(k int64, v string, d int64) {
		c.AppendRow([]types.Datum{k, v})
		c.Diffs = append(c.Diffs, d)
		if c.Len == chunkRows {
			next = append(next, c)
			c = NewChanges(keyedTypes, chunkRows)
		}
	}
	for k := range int64(oldKeys) {
		add(k, "old", -1)
		add(k, "new", 1)
	}
	for k := range int64(newKeys) {
		add(oldKeys+k, fmt.Sprint("new ", k), 1)
	}
	next = append(next, c)

	var applying, stop atomic.Bool
	var during, reads atomic.Int64
	readerUp := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		close(readerUp)
		for k := int64(0); !stop.Load(); k = (k + 7) % oldKeys {
			before := applying.Load()
			s := a.Snapshot(1)
			row, ok := s.Lookup([]types.Datum{k})
			if !ok || row[1] != "old" {
				t.Errorf("Lookup(%d) at epoch 1 during the apply of epoch 2 = %v, %v; want old", k, row, ok)
				return
			}
			reads.Add(1)
			if before && applying.Load() {
				during.Add(1)
			}
		}
	}()
	<-readerUp
	// Let the reader get going before the apply starts.
	for reads.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	applying.Store(true)
	t0 := time.Now()
	if err := a.Apply(2, next...); err != nil {
		t.Fatal(err)
	}
	took := time.Since(t0)
	applying.Store(false)
	stop.Store(true)
	wg.Wait()
	t.Logf("apply of %d rows took %s; %d lookups started and finished within it, %d in all", newKeys+2*oldKeys, took, during.Load(), reads.Load())
	if during.Load() < 10 {
		t.Errorf("only %d lookups of epoch 1 ran within the %s apply of epoch 2: readers wait for the writer", during.Load(), took)
	}
	row, ok := a.Snapshot(2).Lookup([]types.Datum{int64(3)})
	if !ok || row[1] != "new" {
		t.Errorf("Lookup(3) at epoch 2 = %v, %v; want new", row, ok)
	}
}

// TestArrangementScanSmallAllocates bounds what a scan (or a scan of a key
// range) of a small view
// allocates: a dashboard scans a top-10 view thousands of times a second,
// so its scratch must be sized for the rows there are, not a full chunk.
func TestArrangementScanSmallAllocates(t *testing.T) {
	a := NewArrangement(keyedTypes, []int{0})
	c := NewChanges(keyedTypes, 10)
	for k := range int64(10) {
		c.AppendRow([]types.Datum{k, "auction"})
		c.Diffs = append(c.Diffs, 1)
	}
	if err := a.Apply(1, c); err != nil {
		t.Fatal(err)
	}
	// The iterators are kept, as a query plan keeps its scan's: on the
	// heap, with the scratch they hold.
	var kept []func() *coldata.Chunk
	scan := func() int {
		rows := 0
		kept = append(kept, a.Snapshot(1).Scan())
		if len(kept)%2 == 0 {
			// Every other scan by a range of keys, as an ORDER BY on the
			// key or a WHERE on its first column is.
			kept[len(kept)-1] = a.Snapshot(1).ScanRange(KeyRange{Lower: &KeyBound{Value: int64(0), Inclusive: true}})
		}
		next := kept[len(kept)-1]
		for ch := next(); ch != nil; ch = next() {
			rows += ch.Len
		}
		return rows
	}
	if n := scan(); n != 10 {
		t.Fatalf("scan returned %d rows, want 10", n)
	}
	const runs = 100
	kept = make([]func() *coldata.Chunk, 0, runs+1)
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for range runs {
		scan()
	}
	runtime.ReadMemStats(&m1)
	// The snapshot, the iterator, and one chunk of 10 rows of two columns
	// (with their vectors) take well under 2 KiB; a chunk's worth of
	// positions alone is 8 KiB.
	if per := (m1.TotalAlloc - m0.TotalAlloc) / runs; per > 2048 {
		t.Errorf("a scan of 10 rows allocated %d bytes, want at most 2048", per)
	}
}

// TestArrangementKeyStoredOnce checks that a key the writer adds one change
// at a time is held once, by the index and the ordered tree together (a
// view of millions of keys, such as per-auction counts, held each twice
// before).
func TestArrangementKeyStoredOnce(t *testing.T) {
	a := NewArrangement(keyedTypes, []int{0})
	for e := uint64(1); e <= 3; e++ {
		c := NewChanges(keyedTypes, 100)
		for k := range int64(100) {
			c.AppendRow([]types.Datum{int64(e)*1000 + k, "v"})
			c.Diffs = append(c.Diffs, 1)
		}
		if err := a.Apply(e, c); err != nil {
			t.Fatal(err)
		}
	}
	items := map[*keyEntry]*orderItem[*keyEntry]{}
	keys := a.keys.seekKey(nil)
	for it := keys.next(); it != nil; it = keys.next() {
		items[it.val] = it
	}
	if len(items) != 300 || len(a.index) != 300 {
		t.Fatalf("%d tree items and %d index entries, want 300 each", len(items), len(a.index))
	}
	for k, entry := range a.index {
		it := items[entry]
		if it == nil || it.key != k {
			t.Fatalf("index key %q has tree item %+v", k, it)
		}
		if unsafe.StringData(it.key) != unsafe.StringData(k) {
			t.Fatalf("key %q is held twice, by the index and by the tree", k)
		}
	}
}

// TestArrangementSnapshotKeysFrozen checks that what a snapshot reads of
// the keys is never written again: readers take no lock, so the writer must
// copy the tree nodes it changes (adding keys, splitting nodes) rather than
// write the ones it published. Every node reachable from an epoch's root
// is compared with a deep copy made when the epoch was published.
func TestArrangementSnapshotKeysFrozen(t *testing.T) {
	a := NewArrangement(keyedTypes, []int{0})
	type frozen struct {
		s    *ArrangementSnapshot
		copy *orderNode[*keyEntry]
		keys int
	}
	var epochs []frozen
	rng := rand.New(rand.NewPCG(1, 2))
	var added []int64
	for e := uint64(1); e <= 20; e++ {
		// New keys scattered over the key space, splitting nodes all over
		// the tree, and changes of the previous epoch's first ones.
		c := NewChanges(keyedTypes, 500)
		for _, k := range added[max(len(added)-300, 0):][:min(len(added), 50)] {
			c.AppendRow([]types.Datum{k, "v"})
			c.Diffs = append(c.Diffs, -1)
			c.AppendRow([]types.Datum{k, "w"})
			c.Diffs = append(c.Diffs, 1)
		}
		for range 300 {
			k := rng.Int64N(1 << 40)
			added = append(added, k)
			c.AppendRow([]types.Datum{k, "v"})
			c.Diffs = append(c.Diffs, 1)
		}
		if err := a.Apply(e, c); err != nil {
			t.Fatal(err)
		}
		s := a.Snapshot(e)
		epochs = append(epochs, frozen{s, deepCopyNode(s.keys.root), len(a.index)})
		for _, f := range epochs {
			if !reflect.DeepEqual(f.copy, deepCopyNode(f.s.keys.root)) {
				t.Fatalf("epoch %d: the tree of epoch %d changed after it was published", e, f.s.Epoch())
			}
		}
	}
	for _, f := range epochs {
		n := 0
		next := f.s.ScanRange(KeyRange{})
		for c := next(); c != nil; c = next() {
			n += c.Len
		}
		if n != f.keys {
			t.Errorf("epoch %d: a scan of its snapshot found %d keys, want %d", f.s.Epoch(), n, f.keys)
		}
	}
}

// deepCopyNode copies the nodes and entries of the subtree at n (not the
// items, which the writer shares between trees and never writes).
func deepCopyNode[V any](n *orderNode[V]) *orderNode[V] {
	if n == nil {
		return nil
	}
	c := &orderNode[V]{items: slices.Clone(n.items), size: n.size, gen: n.gen}
	for _, ch := range n.children {
		c.children = append(c.children, deepCopyNode(ch))
	}
	return c
}

// TestArrangementReadersDuringLoad looks keys up while a view's first,
// bulk-loaded epoch is applied: a reader of the snapshot before it must
// find nothing (no key of the load before its rows are published), and
// after it every key.
func TestArrangementReadersDuringLoad(t *testing.T) {
	const rows = 3 * presizedIndexRows
	c := NewChanges(keyedTypes, rows)
	for k := range rows {
		c.AppendRow([]types.Datum{int64(k), "v"})
		c.Diffs = append(c.Diffs, 1)
	}
	for round := range 50 {
		a := NewArrangement(keyedTypes, []int{0})
		var stop atomic.Bool
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := int64(0); !stop.Load(); k = (k + 997) % rows {
				s := a.Snapshot(1)
				if s == nil {
					t.Errorf("round %d: no snapshot at epoch 1", round)
					return
				}
				published := s.Len() > 0
				if _, ok := s.Lookup([]types.Datum{k}); ok != published {
					t.Errorf("round %d: Lookup(%d) = %v in a snapshot of %d rows", round, k, ok, s.Len())
					return
				}
			}
		}()
		if err := a.Apply(1, c); err != nil {
			t.Fatal(err)
		}
		stop.Store(true)
		wg.Wait()
	}
}

// TestArrangementLookupChunk checks that LookupChunk finds what Lookup
// does, at the snapshot's epoch, as a chunk of one row.
func TestArrangementLookupChunk(t *testing.T) {
	a := NewArrangement(keyedTypes, []int{0})
	for e, v := range []string{"one", "two"} {
		c := NewChanges(keyedTypes, 2)
		if e > 0 {
			c.AppendRow([]types.Datum{int64(1), "one"})
			c.Diffs = append(c.Diffs, -1)
		}
		c.AppendRow([]types.Datum{int64(1), v})
		c.Diffs = append(c.Diffs, 1)
		if err := a.Apply(uint64(e+1), c); err != nil {
			t.Fatal(err)
		}
	}
	for e, want := range []string{"one", "two"} {
		s := a.Snapshot(uint64(e + 1))
		c := s.LookupChunk([]types.Datum{int64(1)})
		if c == nil || c.Len != 1 || c.Cols[0].Get(0) != int64(1) || c.Cols[1].Get(0) != want {
			t.Errorf("epoch %d: LookupChunk(1) = %+v, want (1, %s)", e+1, c, want)
		}
		if c := s.LookupChunk([]types.Datum{int64(2)}); c != nil {
			t.Errorf("epoch %d: LookupChunk(2) = %+v, want nil", e+1, c)
		}
	}
}
