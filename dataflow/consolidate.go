package dataflow

import (
	"hash/maphash"
	"math/bits"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/types"
)

// NewChanges returns an empty change chunk (Diffs non-nil).
func NewChanges(ts []*types.T, capacity int) *coldata.Chunk {
	c := coldata.NewChunk(ts, capacity)
	c.Diffs = make([]int64, 0, capacity)
	return c
}

// RowKey appends the key of row i over cols (all columns when cols is nil):
// rows equal under SQL comparison (NULLs equal) get equal keys.
func RowKey(buf []byte, c *coldata.Chunk, cols []int, i int) []byte {
	if cols == nil {
		for _, v := range c.Cols {
			buf = v.AppendKey(buf, i)
		}
		return buf
	}
	for _, col := range cols {
		buf = c.Cols[col].AppendKey(buf, i)
	}
	return buf
}

// RowIdentity is RowKey for telling rows apart rather than comparing them:
// equal values that print differently (1.0, 1.00) get different keys, so a
// change set never cancels one against the other.
func RowIdentity(buf []byte, c *coldata.Chunk, cols []int, i int) []byte {
	if cols == nil {
		for _, v := range c.Cols {
			buf = v.AppendIdentity(buf, i)
		}
		return buf
	}
	for _, col := range cols {
		buf = c.Cols[col].AppendIdentity(buf, i)
	}
	return buf
}

// sameIdentity reports whether row i of columns a and row j of columns b
// have the same RowIdentity, without encoding them: a sum going from 2.00
// to 2 is a change.
func sameIdentity(a []*coldata.Vec, i int, b []*coldata.Vec, j int) bool {
	for k := range a {
		if !coldata.SameIdentity(a[k], i, b[k], j) {
			return false
		}
	}
	return true
}

// Consolidate sums the diffs of equal rows and drops rows whose diffs sum to
// zero. The first occurrence of a row keeps its place. When every row
// stays, the result shares c's columns.
func Consolidate(c *coldata.Chunk) *coldata.Chunk {
	if c.Len == 0 {
		return c
	}
	return ConsolidateChunks([]*coldata.Chunk{c})[0]
}

// ConsolidateChunks is Consolidate over the rows of cs in order (all with
// diffs): it returns a chunk per chunk of cs holding the rows whose first
// occurrence is there, each with its diffs' sum, none whose sum is zero.
// A chunk all of whose rows stay shares its columns with the one out.
// The chunks are not concatenated first: a restored view's millions of
// rows are not copied once more.
func ConsolidateChunks(cs []*coldata.Chunk) []*coldata.Chunk {
	rows := newChunkRows(cs)
	sums := rows.sums()
	out := make([]*coldata.Chunk, len(cs))
	forEach(len(cs), func(ci int) {
		c, base := cs[ci], rows.starts[ci]
		var sel []int
		var diffs []int64
		for i := range c.Len {
			if d := sums[base+i]; d != 0 {
				sel = append(sel, i)
				diffs = append(diffs, d)
			}
		}
		if len(sel) == c.Len {
			// Every row stays: the chunk's columns are shared, not copied.
			x := *c
			out[ci] = &x
		} else {
			out[ci] = c.Gather(sel)
		}
		out[ci].Diffs = diffs
		if diffs == nil {
			out[ci].Diffs = []int64{}
		}
	})
	return out
}

// sums returns, by row number, the sum of the diffs of each row's copies
// if it is the first of them, else 0.
func (r *chunkRows) sums() []int64 {
	if r.total < parallelConsolidateRows {
		return r.consolidate()
	}
	return r.consolidateParallel()
}

// parallelConsolidateRows is the rows from which ConsolidateChunks works
// on every CPU, in partitions by hash.
const parallelConsolidateRows = 1 << 16

// chunkRows numbers the rows of chunks in order.
type chunkRows struct {
	cs     []*coldata.Chunk
	starts []int // the number of each chunk's first row
	total  int
}

func newChunkRows(cs []*coldata.Chunk) *chunkRows {
	r := &chunkRows{cs: cs, starts: make([]int, len(cs))}
	for i, c := range cs {
		r.starts[i] = r.total
		r.total += c.Len
	}
	return r
}

// at returns row n's chunk and its row in it.
func (r *chunkRows) at(n int) (*coldata.Chunk, int) {
	ci := sort.Search(len(r.starts), func(i int) bool { return r.starts[i] > n }) - 1
	for r.cs[ci].Len == 0 || n-r.starts[ci] >= r.cs[ci].Len {
		ci++ // NB: empty chunks share their start with the next
	}
	return r.cs[ci], n - r.starts[ci]
}

// consolidate sums the diffs of all rows into the first of each row's
// copies, on this goroutine, and returns the sums by row number.
func (r *chunkRows) consolidate() []int64 {
	hashes := r.hashes(1)
	order := make([]int32, r.total)
	for i := range order {
		order[i] = int32(i)
	}
	sums := make([]int64, r.total)
	r.consolidatePart(order, hashes, sums, nil)
	return sums
}

// hashes returns the hash of each row's identity, by row number, the
// chunks hashed on up to parts goroutines, a column at a time
// (identityHashes): encoding each row's identity to hash it was a third
// of a restore's consolidation, much of it printing numerics.
func (r *chunkRows) hashes(parts int) []uint64 {
	hashes := makeHuge[uint64](r.total)
	seed := maphash.MakeSeed()
	type scratch struct {
		col   []uint64
		ident []byte
	}
	forEachWith(min(parts, len(r.cs)), len(r.cs), func(ci int, s *scratch) {
		c := r.cs[ci]
		hs := hashes[r.starts[ci] : r.starts[ci]+c.Len]
		s.col = append(s.col[:0], make([]uint64, c.Len)...)
		s.ident = identityHashes(hs, s.col, c.Cols, seed, s.ident)
		for i, h := range hs {
			// The partitions take the top bits, the tables the low ones.
			h *= 0x94d049bb133111eb
			hs[i] = h ^ h>>29
		}
	})
	return hashes
}

// consolidatePart sums the diffs of the rows of order (row numbers, in
// order; hashes by row number) into the first of each row's copies in
// sums, by row number. Its table is slots, when it has room, else a new
// one, which it returns.
//
// NB: rows are told apart by a hash of their identity, checked against
// the identity of every earlier row of the same hash, in an open-addressed
// table of the rows' places in order: a map keyed by the identities
// themselves allocated a string per row and took most of a restore's
// consolidation, and a Go map of the hashes cost as much again to make
// and probe.
func (r *chunkRows) consolidatePart(order []int32, hashes []uint64, sums []int64, slots []int32) []int32 {
	size := 1 << bits.Len(uint(2*len(order)))
	// slots[s] is 1 + the place in order of a row's first copy; 0 free.
	if cap(slots) < size {
		slots = make([]int32, size)
	} else {
		slots = slots[:size]
		clear(slots)
	}
	mask := uint64(size - 1)
	ci := 0 // the chunk of the row at hand: rows come in order
	for x, n := range order {
		for int(n)-r.starts[ci] >= r.cs[ci].Len {
			ci++
		}
		c, i := r.cs[ci], int(n)-r.starts[ci]
		h := hashes[n]
		s := h & mask
		found := int32(-1)
		for ; slots[s] != 0; s = (s + 1) & mask {
			y := order[slots[s]-1]
			if hashes[y] != h {
				continue
			}
			if oc, oi := r.at(int(y)); sameIdentity(c.Cols, i, oc.Cols, oi) {
				found = y
				break
			}
		}
		if found >= 0 {
			sums[found] += c.Diffs[i]
			continue
		}
		slots[s] = int32(x + 1)
		sums[n] = c.Diffs[i]
	}
	return slots
}

// consolidateParallel is consolidate on every CPU: the rows' hashes are
// computed a range of chunks each, then the rows are partitioned by hash
// (keeping their order) and each partition consolidated on its own, with
// a map small enough to stay in cache.
func (r *chunkRows) consolidateParallel() []int64 {
	hashes := r.hashes(runtime.GOMAXPROCS(0))
	const partBits = 8
	var ends [1 << partBits]int
	for _, h := range hashes {
		ends[h>>(64-partBits)]++
	}
	sum := 0
	for p, n := range ends {
		sum += n
		ends[p] = sum
	}
	order := makeHuge[int32](r.total)
	at := ends
	for n := len(hashes) - 1; n >= 0; n-- {
		p := hashes[n] >> (64 - partBits)
		at[p]--
		order[at[p]] = int32(n)
	}
	sums := makeHuge[int64](r.total)
	// Each goroutine's table is reused from one partition to the next: a
	// table made for each, 128 MiB in all at 8 M rows, faulted fresh small
	// pages.
	forEachWith(runtime.GOMAXPROCS(0), len(ends), func(p int, slots *[]int32) {
		lo := 0
		if p > 0 {
			lo = ends[p-1]
		}
		*slots = r.consolidatePart(order[lo:ends[p]], hashes, sums, *slots)
	})
	return sums
}

// forEach runs f(0) ... f(n-1) on as many goroutines as there are CPUs.
func forEach(n int, f func(int)) {
	forEachWith(runtime.GOMAXPROCS(0), n, func(i int, _ *struct{}) { f(i) })
}

// forEachWith runs f(0, s) ... f(n-1, s) on up to workers goroutines, each
// passing a scratch s of its own, zero at first, to every f it runs.
func forEachWith[S any](workers, n int, f func(int, *S)) {
	workers = min(workers, n)
	if workers <= 1 {
		var s S
		for i := range n {
			f(i, &s)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var s S
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				f(i, &s)
			}
		}()
	}
	wg.Wait()
}

// consolidatedOutput reports whether node id's output over one epoch, all
// workers together, is consolidated already: no row twice, no zero diff.
// Step then hands it on as it is, sparing a hash of every output row; and
// since Consolidate compares rows by SQL equality, it would also cancel an
// aggregate's retraction of 2.00 against its insertion of 2.
//
// Aggregates and distinct change a row at most once an epoch, on the one
// worker owning its key; a session window changes each annotated row at
// most once, on the worker owning the row's partition. A filter keeps a
// subset of its input; a projection that passes every input column on keeps
// rows apart.
func consolidatedOutput(g *Graph, id int) bool {
	n := g.Nodes[id]
	switch s := n.Spec.(type) {
	case *Aggregate, *Distinct, *SessionWindow:
		return true
	case *Filter:
		return consolidatedOutput(g, n.Inputs[0])
	case *Project:
		return passesEveryColumn(s, len(g.Nodes[n.Inputs[0]].Spec.Types())) && consolidatedOutput(g, n.Inputs[0])
	}
	return false
}

// passesEveryColumn reports whether each of the in input columns is one of
// p's outputs as it is.
func passesEveryColumn(p *Project, in int) bool {
	passed := make([]bool, in)
	for _, e := range p.Exprs {
		if c, ok := e.(*expr.ColRef); ok {
			passed[c.Idx] = true
		}
	}
	for _, ok := range passed {
		if !ok {
			return false
		}
	}
	return true
}
