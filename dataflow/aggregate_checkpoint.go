package dataflow

import (
	"container/heap"
	"encoding/binary"
	"math/bits"
	"unsafe"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// objKernel is a kernel whose per-group objects a snapshot holds: every
// kernel that keeps objects (numeric sums, multisets of min/max,
// string_agg, array_agg and DISTINCT, running extremes of boxed values).
type objKernel interface {
	// snapshotObjs writes the objects of groups [lo, hi); restoreObjs
	// reads them into groups whose objects are cleared.
	snapshotObjs(t *groupTable, w *SnapshotWriter, lo, hi int32) error
	restoreObjs(t *groupTable, r *SnapshotReader, lo, hi int32) error
	// heldBytes estimates what group g's objects hold besides their
	// interface values: what a spilled group gives back (objBytes).
	heldBytes(t *groupTable, g int32) int64
}

// objKernelOf returns k (under its FILTER) as an objKernel, if it is one.
func objKernelOf(k aggKernel) (objKernel, bool) {
	if f, ok := k.(*filterKernel); ok {
		k = f.inner
	}
	ok, is := k.(objKernel)
	return ok, is
}

// Snapshot implements Snapshotter: every page of the group table (keys
// and state words, which groups are in the key index, NULL flags, string
// keys, stored key values and kernel objects of its groups), the id pool
// and the window bookkeeping. The slots or the key index are not written:
// finishRestore builds them from the indexed groups.
func (o *aggregateOp) Snapshot(w *SnapshotWriter) error {
	return o.snapshotPages(w, false)
}

// SnapshotDelta implements Snapshotter: what Snapshot writes, but of
// the pages changed since the last snapshot only.
func (o *aggregateOp) SnapshotDelta(w *SnapshotWriter) error {
	return o.snapshotPages(w, true)
}

func (o *aggregateOp) snapshotPages(w *SnapshotWriter, delta bool) error {
	t := o.groups
	w.Uvarint(uint64(len(t.words)))
	w.Uvarint(uint64(t.ids.n))
	w.Int32s(t.ids.free)
	w.Uvarint(uint64(t.idBits))
	w.Uvarint(uint64(len(t.slots)))
	var pages []int
	if delta {
		for i, word := range t.dirty {
			for ; word != 0; word &= word - 1 {
				// NB: compact leaves the bits of the pages it dropped.
				if p := i<<6 | bits.TrailingZeros64(word); p < len(t.words) {
					pages = append(pages, p)
				}
			}
		}
	} else {
		pages = make([]int, len(t.words))
		for p := range pages {
			pages[p] = p
		}
	}
	clear(t.dirty)
	w.Uvarint(uint64(len(pages)))
	if !delta {
		o.pageBytes, o.pagesBytes = o.pageBytes[:0], 0
	}
	o.pageBytes = append(o.pageBytes, make([]int, len(t.words)-len(o.pageBytes))...)
	for _, p := range pages {
		at := w.Len()
		w.Uvarint(uint64(p))
		w.Int64s(t.words[p])
		lo := int32(p << groupPageBits)
		hi := min(lo+groupPage, t.ids.n)
		indexed := t.pageIndexed(p)
		w.Int64s(indexed)
		var nulls []int32
		for g := lo; g < hi; g++ {
			if t.nullFlags(g) != 0 {
				nulls = append(nulls, g-lo)
			}
		}
		w.Uvarint(uint64(len(nulls)))
		for _, i := range nulls {
			w.Uvarint(uint64(i))
			w.Uvarint(uint64(t.nullKeys[lo+i]))
		}
		if t.nk == 0 {
			for g := lo; g < hi; g++ {
				if t.isIndexed(g) {
					w.String(t.strKeys[p][g-lo])
				}
			}
		}
		if o.storedKeys {
			for j, k := range o.spec.Keys {
				v := coldata.NewVec(o.spec.InTypes[k], int(hi-lo))
				for g := lo; g < hi; g++ {
					v.Append(t.objects(g)[o.objs+j])
				}
				if err := w.VecLater(v); err != nil {
					return err
				}
			}
		}
		for _, k := range o.kernels {
			if ok, is := objKernelOf(k); is {
				if err := ok.snapshotObjs(t, w, lo, hi); err != nil {
					return err
				}
			}
		}
		o.pagesBytes += w.Len() - at - o.pageBytes[p]
		o.pageBytes[p] = w.Len() - at
	}
	w.Varint(o.frontier)
	w.Varint(o.closed)
	w.Int64s(o.ends)
	// A window's list of groups only grows until the window closes: a
	// delta writes the groups added since the last snapshot.
	written := make(map[int64]int, len(o.ends))
	for _, end := range o.ends {
		gs, prev := o.open[end], 0
		if delta {
			prev = min(o.openWritten[end], len(gs))
		}
		w.Uvarint(uint64(prev))
		w.Int32s(gs[prev:])
		written[end] = len(gs)
	}
	o.openWritten = written
	if o.canSpill() {
		return o.snapshotSpilled(w, delta)
	}
	return nil
}

// SnapshotSize implements Snapshotter: the pages as last written,
// the free ids, the windows' groups and the spilled groups (exactly).
func (o *aggregateOp) SnapshotSize() int {
	size := o.pagesBytes + 4*len(o.groups.ids.free)
	for _, gs := range o.open {
		size += 4*len(gs) + 2*binary.MaxVarintLen64
	}
	if s, t := o.spill, o.groups; s != nil {
		size += spilledSize(t.nk, t.nw, s.spilled, s.blobBytes)
	}
	return size
}

// SnapshotDeltaSize implements deltaSizer: the pages changed since the
// last snapshot, each at the bytes it took when last written (a page not
// written yet at the average of those), and of them the new pages'.
func (o *aggregateOp) SnapshotDeltaSize() (delta, growth int) {
	written := 0
	for _, b := range o.pageBytes {
		if b > 0 {
			written++
		}
	}
	avg := 0
	if written > 0 {
		avg = o.pagesBytes / written
	}
	for w, word := range o.groups.dirty {
		for ; word != 0; word &= word - 1 {
			p := w<<6 | bits.TrailingZeros64(word)
			if p < len(o.pageBytes) && o.pageBytes[p] > 0 {
				delta += o.pageBytes[p]
			} else {
				delta += avg
				growth += avg
			}
		}
	}
	return delta, growth
}

// Restore implements Snapshotter. The group table is complete once
// finishRestore has built its index.
func (o *aggregateOp) Restore(r *SnapshotReader) error {
	return o.restorePages(r)
}

// RestoreDelta implements Snapshotter.
func (o *aggregateOp) RestoreDelta(r *SnapshotReader) error {
	return o.restorePages(r)
}

// restorePages reads what snapshotPages wrote: the pages it holds replace
// the table's, the rest of the table stays.
func (o *aggregateOp) restorePages(r *SnapshotReader) error {
	t := o.groups
	stride := groupPage * (t.nk + t.nw)
	// NB: the page count is no count of what follows (r.Len): a delta
	// holds the changed pages only, and one of few (none, on a worker
	// whose groups did not change) takes fewer bytes than the table has
	// pages. The pages new to the table are all in it: they bound the
	// count.
	n := r.Uvarint()
	if r.err == nil && n > uint64(len(t.words)+len(r.b)/(8*max(stride, 1))) {
		r.fail("aggregate: %d pages (had %d) in %d bytes", n, len(t.words), len(r.b))
	}
	pages := int(n)
	ids := r.Uvarint()
	t.ids.free = r.Int32s()
	t.idBits = uint(r.Uvarint())
	slots := r.Uvarint()
	if r.err == nil && (pages < len(t.words) && !o.canSpill() || ids > uint64(pages*groupPage) || (t.nk > 0 && (slots < 16 || slots > 1<<32 || slots&(slots-1) != 0))) {
		r.fail("aggregate: %d groups in %d pages (had %d), %d slots", ids, pages, len(t.words), slots)
	}
	if r.err != nil {
		return r.err
	}
	if pages < len(t.words) {
		// A spilling aggregate gave back the pages past its live groups
		// (compact).
		t.dropPages(pages)
		for g := range t.nullKeys {
			if g >= int32(pages*groupPage) {
				delete(t.nullKeys, g)
			}
		}
	}
	t.ids.n = int32(ids)
	if t.nk > 0 && uint64(len(t.slots)) != slots {
		t.slots = makeHuge[uint32](int(slots))
	}
	if add := pages - len(t.words); add > 0 {
		// The new pages' objects and string keys are cut from one block
		// each, advised for huge pages: a small allocation per page, each
		// in a fresh page faulting as first touched, took a tenth of
		// restoring millions of groups.
		var objs []any
		var strs []string
		if t.no > 0 {
			objs = makeHuge[any](add * groupPage * t.no)
		}
		if t.nk == 0 {
			strs = makeHuge[string](add * groupPage)
		}
		for i := range add {
			t.words = append(t.words, nil)
			if t.no > 0 {
				n := groupPage * t.no
				t.objs = append(t.objs, objs[i*n:(i+1)*n:(i+1)*n])
			}
			if t.nk == 0 {
				t.strKeys = append(t.strKeys, strs[i*groupPage:(i+1)*groupPage:(i+1)*groupPage])
			}
			t.indexed = append(t.indexed, make([]int64, indexedWords)...)
		}
	}
	var keys [][]byte
	var text []byte // the block the pages' string keys are copied into
	if t.nk == 0 {
		keys = make([][]byte, 0, groupPage)
	}
	written := r.Len(pages)
	if r.err == nil && written*stride*8 > len(r.b) {
		r.fail("aggregate: %d pages of %d words in %d bytes", written, stride, len(r.b))
	}
	// The pages' words in one block (cut at each page's end, so that a
	// page never grows into the next), advised for huge pages: copied
	// into fresh small pages, they faulted a page each, most of
	// restoring them.
	block := makeHuge[int64](written * stride)
	for i := range written {
		p := r.Uvarint()
		words := block[i*stride : (i+1)*stride : (i+1)*stride]
		r.int64sInto(words)
		if r.err == nil && p >= uint64(pages) {
			r.fail("aggregate: page %d of %d", p, pages)
		}
		if r.err != nil {
			return r.err
		}
		indexed := t.pageIndexed(int(p))
		r.int64sInto(indexed)
		t.words[p] = words
		lo := int32(p << groupPageBits)
		for g := lo; g < lo+groupPage; g++ {
			if len(t.nullKeys) > 0 {
				delete(t.nullKeys, g)
			}
			if t.nk == 0 {
				t.strKeys[p][g-lo] = ""
			}
		}
		if t.no > 0 {
			clear(t.objs[p])
		}
		for range r.Len(groupPage) {
			i, flags := r.Uvarint(), r.Uvarint()
			if r.err == nil && (i >= groupPage || flags == 0 || flags > 0xff) {
				r.fail("aggregate: NULL flags %d of group %d of a page", flags, i)
			}
			if r.err != nil {
				return r.err
			}
			if t.nullKeys == nil {
				t.nullKeys = map[int32]uint8{}
			}
			t.nullKeys[lo+int32(i)] = uint8(flags)
		}
		hi := min(lo+groupPage, t.ids.n)
		if t.nk == 0 {
			// A block of keys lives while any of its keys is in memory: a
			// spilling aggregate, which evicts most of what it restores
			// before its first epoch (coldest first, in id order), takes
			// small blocks, so that the blocks of the groups it evicted go.
			most := len(r.b)
			if o.spill != nil {
				most = min(most, spillTextBlockBytes)
			}
			restoreStrKeys(r, t.strKeys[p], indexed, int(hi-lo), keys[:0], &text, most)
		}
		if o.storedKeys {
			for j, k := range o.spec.Keys {
				v := r.Vec(o.spec.InTypes[k])
				if r.err == nil && v.Len() != int(max(hi-lo, 0)) {
					r.fail("aggregate: %d stored keys for %d groups", v.Len(), hi-lo)
				}
				if r.err != nil {
					return r.err
				}
				for g := lo; g < hi; g++ {
					t.objects(g)[o.objs+j] = v.Get(int(g - lo))
				}
			}
		}
		for _, k := range o.kernels {
			if ok, is := objKernelOf(k); is && r.err == nil {
				if err := ok.restoreObjs(t, r, lo, hi); err != nil {
					return err
				}
			}
		}
	}
	o.frontier = r.Varint()
	o.closed = r.Varint()
	o.ends = r.Int64s()
	if o.spec.Window != nil {
		open := make(map[int64][]int32, len(o.ends))
		for _, end := range o.ends {
			prev, gs := r.Uvarint(), r.Int32s()
			if _, dup := open[end]; dup || prev > uint64(len(o.open[end])) {
				r.fail("aggregate: window end %d twice or of %d groups before, %d restored", end, prev, len(o.open[end]))
				break
			}
			open[end] = append(o.open[end][:prev:prev], gs...)
		}
		o.open = open
	} else if len(o.ends) > 0 {
		r.fail("aggregate: window ends without a window")
	}
	if r.err == nil && o.canSpill() {
		return o.restoreSpilled(r)
	}
	return r.err
}

// spillTextBlockBytes is the most bytes of a block of keys a spilling
// aggregate's restore copies keys into.
const spillTextBlockBytes = 256 << 10

// restoreStrKeys reads the encoded keys of the first n groups of a page
// whose bits in indexed are set into strs, as strings into *text (cutText
// of at most most bytes: a block shared by the pages a restore reads,
// advised for huge pages): a string each took a tenth of restoring
// millions of groups, most of it allocating, and as many objects for the
// collector to scan; a block per page, as much again faulting its fresh
// pages in. keys is scratch.
func restoreStrKeys(r *SnapshotReader, strs []string, indexed []int64, n int, keys [][]byte, text *[]byte, most int) {
	size := 0
	for i := range n {
		if indexed[i>>6]&(1<<(i&63)) != 0 {
			// Bytes shares the reader's memory, held until the copy below.
			keys = append(keys, r.Bytes())
			size += len(keys[len(keys)-1])
		}
	}
	if r.err != nil {
		return
	}
	block := cutText(text, size, most)
	for i := range n {
		if indexed[i>>6]&(1<<(i&63)) == 0 {
			continue
		}
		key := keys[0]
		keys = keys[1:]
		if len(key) > 0 {
			block = append(block, key...)
			strs[i] = unsafe.String(&block[len(block)-len(key)], len(key))
		}
	}
}

// finishRestore checks the restored table (every page read, every id used
// once: free, or held, and indexed at most once by its key) and builds its
// slots or key index from the indexed groups.
func (o *aggregateOp) finishRestore() error {
	t := o.groups
	damaged := func(format string, args ...any) error {
		return sqlerr.New(sqlerr.DataCorrupted, "dataflow snapshot: aggregate: "+format, args...)
	}
	free := make([]bool, t.ids.n)
	for _, g := range t.ids.free {
		if g < 0 || g >= t.ids.n || free[g] {
			return damaged("free group %d of %d", g, t.ids.n)
		}
		free[g] = true
	}
	if t.nk > 0 {
		if t.idBits != slotIDBits && t.idBits != 32 || t.idBits == slotIDBits && uint32(t.ids.n) > t.idMask() {
			return damaged("%d id bits for %d groups", t.idBits, t.ids.n)
		}
		clear(t.slots)
	} else {
		// The slots of encoded keys are made for the groups held, at most
		// half full, not as written: a checkpoint of before they had slots
		// wrote none.
		size := 16
		for size < 2*(int(t.ids.n)-len(t.ids.free)) {
			size *= 2
		}
		t.slots, t.idBits = makeHuge[uint32](size), slotIDBits
		if uint32(t.ids.n) > t.idMask() {
			t.idBits = 32
		}
	}
	t.live, t.strBytes = 0, 0
	for p, words := range t.words {
		if words == nil {
			return damaged("page %d of %d never written", p, len(t.words))
		}
		for i := range groupPage {
			g := int32(p<<groupPageBits | i)
			if !t.isIndexed(g) {
				continue
			}
			if g >= t.ids.n || free[g] {
				return damaged("group %d of %d indexed and free or out of range", g, t.ids.n)
			}
			if t.live++; t.live*16 > len(t.slots)*13 {
				return damaged("%d groups in %d slots", t.live, len(t.slots))
			}
			h := t.hashGroup(g)
			var x int32
			var at uint64
			if t.nk > 0 {
				x, at = t.probePacked(t.packedKey(g))
			} else {
				x, at = t.probeKey(t.strKey(g), h)
				t.strBytes += len(t.strKey(g))
			}
			if x >= 0 {
				return damaged("key of group %d indexed twice", g)
			}
			t.slots[at] = t.slot(h, g)
		}
	}
	for g := range t.nullKeys {
		if g >= t.ids.n {
			return damaged("NULL flags of group %d of %d", g, t.ids.n)
		}
	}
	for end, gs := range o.open {
		for _, g := range gs {
			// A window's groups are held until it closes: indexed, or
			// dropped and waiting for their id to be freed. Closing it
			// unindexes those with rows, a probe that would never end for
			// a group not in the index.
			if g < 0 || g >= t.ids.n || int(g>>groupPageBits) >= len(t.words) || free[g] {
				return damaged("window end %d holds group %d of %d, free or held by another window", end, g, t.ids.n)
			}
			free[g] = true
			if !t.isIndexed(g) && t.state(g)[0] != 0 {
				return damaged("window end %d holds group %d, which has rows and is not indexed", end, g)
			}
		}
	}
	if o.spec.Window != nil {
		heap.Init(&o.ends)
	}
	clear(t.dirty)
	if o.canSpill() {
		return o.finishRestoreSpill()
	}
	return nil
}

// writeMultisets writes the multisets in objs[o] of groups [lo, hi): each
// group's entry count, then all entries' counts and keys, in key order;
// val, if not nil, is handed every entry in that order, for the kernel to
// write their values after.
func writeMultisets(t *groupTable, w *SnapshotWriter, o int, lo, hi int32, val func(e *multisetEntry)) {
	entries := make([]int64, max(hi-lo, 0))
	var ns []int64
	var keys []string
	for g := lo; g < hi; g++ {
		m, _ := t.objects(g)[o].(*multiset)
		if m == nil {
			continue
		}
		m.all(func(e *multisetEntry) {
			entries[g-lo]++
			ns = append(ns, e.n)
			keys = append(keys, e.key)
			if val != nil {
				val(e)
			}
		})
	}
	w.Int64s(entries)
	w.Int64s(ns)
	for _, key := range keys {
		w.String(key)
	}
}

// multisetEntries is what writeMultisets wrote of groups [lo, hi): keys
// shares the reader's memory.
type multisetEntries struct {
	lo, hi      int32
	entries, ns []int64
	keys        [][]byte
}

func readMultisets(r *SnapshotReader, lo, hi int32) multisetEntries {
	m := multisetEntries{lo: lo, hi: hi, entries: r.Int64s(), ns: r.Int64s()}
	if r.err == nil && len(m.entries) != int(max(hi-lo, 0)) {
		r.fail("multisets: %d groups of %d", len(m.entries), hi-lo)
	}
	if r.err != nil {
		return m
	}
	m.keys = make([][]byte, 0, len(m.ns))
	for range m.ns {
		m.keys = append(m.keys, r.Bytes())
	}
	return m
}

// fill adds the entries to the multisets in objs[o] of their groups, entry
// j with value val(j), given values read for them. Between epochs every
// count is positive, and a group's sum to no more than its rows (words
// read before): a damaged count, which string_agg and array_agg would
// repeat their value by, fails instead.
func (m multisetEntries) fill(t *groupTable, r *SnapshotReader, o, values int, val func(j int) any) error {
	if r.err == nil && values != len(m.ns) {
		r.fail("multisets: %d values of %d entries", values, len(m.ns))
	}
	if r.err != nil {
		return r.err
	}
	j := 0
	for i, n := range m.entries {
		g := m.lo + int32(i)
		if n < 0 || j+int(n) > len(m.ns) {
			r.fail("multisets: %d entries of a group, %d in all", n, len(m.ns))
			return r.err
		}
		rows := t.state(g)[0]
		for ; n > 0; n-- {
			c := m.ns[j]
			if c <= 0 || c > rows {
				r.fail("multisets: a count of %d in a group of %d rows", c, t.state(g)[0])
				return r.err
			}
			rows -= c
			v := val(j)
			t.multiset(g, o).add(m.keys[j], m.ns[j], func() any { return v })
			j++
		}
	}
	if j != len(m.ns) {
		r.fail("multisets: %d entries of %d", j, len(m.ns))
		return r.err
	}
	return nil
}

// multisetSample is how many entries of a multiset heldBytes measures the
// keys and values of: the others are taken to cost their mean.
const multisetSample = 64

// multisetBytes estimates what multiset m holds: its entries, their keys
// and what valBytes says each value points to.
func multisetBytes(m *multiset, valBytes func(v any) int64) int64 {
	if m == nil {
		return 0
	}
	n := int64(m.len())
	size := int64(unsafe.Sizeof(multiset{})) + int64(len(m.blocks))*int64(unsafe.Sizeof(m.blocks[0:0])) + n*int64(unsafe.Sizeof(multisetEntry{}))
	var sampled, bytes int64
	for _, blk := range m.blocks {
		for i := range blk {
			if sampled == multisetSample {
				return size + bytes*n/sampled
			}
			bytes += int64(len(blk[i].key)+7)&^7 + valBytes(blk[i].val)
			sampled++
		}
	}
	if sampled > 0 {
		size += bytes * n / sampled
	}
	return size
}

// boxedValueBytes is what a value boxed in an interface points to.
func boxedValueBytes(v any) int64 { return datumBytes(v) - 16 }

// valueMultisets is the state of a kernel keeping a multiset of values of
// type typ in objs[o] (min/max under retractions, array_agg), and its
// objKernel methods: writeMultisets, then the entries' values, NULLs
// included, as a column.
type valueMultisets struct {
	o   int
	typ *types.T
}

func (v valueMultisets) snapshotObjs(t *groupTable, w *SnapshotWriter, lo, hi int32) error {
	vals := coldata.NewVec(v.typ, 0)
	writeMultisets(t, w, v.o, lo, hi, func(e *multisetEntry) { vals.Append(e.val) })
	return w.VecLater(vals)
}

func (v valueMultisets) restoreObjs(t *groupTable, r *SnapshotReader, lo, hi int32) error {
	m := readMultisets(r, lo, hi)
	vals := r.Vec(v.typ)
	if r.err != nil {
		return r.err
	}
	return m.fill(t, r, v.o, vals.Len(), func(j int) any { return vals.Get(j) })
}

func (v valueMultisets) heldBytes(t *groupTable, g int32) int64 {
	m, _ := t.objects(g)[v.o].(*multiset)
	return multisetBytes(m, boxedValueBytes)
}

// snapshotObjs writes every group's multiset of values (writeMultisets),
// then the entries' values, delimiters (strings) and whether each has a
// delimiter (a blob of 0 or 1 each).
func (k *stringAggKernel) snapshotObjs(t *groupTable, w *SnapshotWriter, lo, hi int32) error {
	var elems []stringAggElem
	writeMultisets(t, w, k.o, lo, hi, func(e *multisetEntry) { elems = append(elems, e.val.(stringAggElem)) })
	delims := make([]byte, len(elems))
	for i, e := range elems {
		w.String(e.val)
		w.String(e.delim)
		if e.hasDelim {
			delims[i] = 1
		}
	}
	w.Blob(delims)
	return nil
}

func (k *stringAggKernel) restoreObjs(t *groupTable, r *SnapshotReader, lo, hi int32) error {
	m := readMultisets(r, lo, hi)
	if r.err != nil {
		return r.err
	}
	elems := make([]stringAggElem, len(m.ns))
	for i := range elems {
		elems[i].val, elems[i].delim = r.String(), r.String()
	}
	delims := r.Bytes()
	if r.err == nil && len(delims) != len(elems) {
		r.fail("string_agg: %d delimiter flags of %d values", len(delims), len(elems))
	}
	if r.err != nil {
		return r.err
	}
	return m.fill(t, r, k.o, len(elems), func(j int) any {
		elems[j].hasDelim = delims[j] != 0
		return elems[j]
	})
}

func (k *stringAggKernel) heldBytes(t *groupTable, g int32) int64 {
	m, _ := t.objects(g)[k.o].(*multiset)
	return multisetBytes(m, func(v any) int64 {
		e := v.(stringAggElem)
		return int64(unsafe.Sizeof(e)) + int64(len(e.val)+7)&^7 + int64(len(e.delim)+7)&^7
	})
}

// snapshotObjs writes every group's multiset of distinct argument tuples
// (writeMultisets: their keys, no values), then its inner kernel's
// objects, if it keeps some.
func (k *distinctKernel) snapshotObjs(t *groupTable, w *SnapshotWriter, lo, hi int32) error {
	writeMultisets(t, w, k.o, lo, hi, nil)
	if inner, ok := k.inner.(objKernel); ok {
		return inner.snapshotObjs(t, w, lo, hi)
	}
	return nil
}

func (k *distinctKernel) restoreObjs(t *groupTable, r *SnapshotReader, lo, hi int32) error {
	m := readMultisets(r, lo, hi)
	if err := m.fill(t, r, k.o, len(m.ns), func(int) any { return nil }); err != nil {
		return err
	}
	if inner, ok := k.inner.(objKernel); ok {
		return inner.restoreObjs(t, r, lo, hi)
	}
	return nil
}

func (k *distinctKernel) heldBytes(t *groupTable, g int32) int64 {
	m, _ := t.objects(g)[k.o].(*multiset)
	n := multisetBytes(m, func(any) int64 { return 0 })
	if inner, ok := k.inner.(objKernel); ok {
		n += inner.heldBytes(t, g)
	}
	return n
}

// snapshotObjs writes whether each group has an extreme (a blob of 0 or 1
// each), the keys of those that have (blobs) and their values as a column.
func (k *boxedExtremeKernel) snapshotObjs(t *groupTable, w *SnapshotWriter, lo, hi int32) error {
	has := make([]byte, max(hi-lo, 0))
	var held []*boxedExtreme
	for g := lo; g < hi; g++ {
		if e, _ := t.objects(g)[k.o].(*boxedExtreme); e != nil {
			has[g-lo] = 1
			held = append(held, e)
		}
	}
	w.Blob(has)
	vals := coldata.NewVec(k.typ, len(held))
	for _, e := range held {
		w.Blob(e.key)
		vals.Append(e.val)
	}
	return w.VecLater(vals)
}

func (k *boxedExtremeKernel) restoreObjs(t *groupTable, r *SnapshotReader, lo, hi int32) error {
	has := r.Bytes()
	if r.err == nil && len(has) != int(max(hi-lo, 0)) {
		r.fail("min/max: %d flags for %d groups", len(has), hi-lo)
	}
	var keys [][]byte
	for _, h := range has {
		if h != 0 {
			keys = append(keys, r.Bytes())
		}
	}
	vals := r.Vec(k.typ)
	if r.err == nil && vals.Len() != len(keys) {
		r.fail("min/max: %d values of %d extremes", vals.Len(), len(keys))
	}
	if r.err != nil {
		return r.err
	}
	j := 0
	for i, h := range has {
		if h != 0 {
			t.objects(lo + int32(i))[k.o] = &boxedExtreme{key: append([]byte{}, keys[j]...), val: vals.Get(j)}
			j++
		}
	}
	return nil
}

func (k *boxedExtremeKernel) heldBytes(t *groupTable, g int32) int64 {
	e, _ := t.objects(g)[k.o].(*boxedExtreme)
	if e == nil {
		return 0
	}
	return int64(unsafe.Sizeof(*e)) + int64(cap(e.key)+7)&^7 + boxedValueBytes(e.val)
}

// snapshotObjs writes every group's sum: whether it has one, then its
// fields.
func (k *decimalSumKernel) snapshotObjs(t *groupTable, w *SnapshotWriter, lo, hi int32) error {
	for g := lo; g < hi; g++ {
		s, _ := t.objects(g)[k.o].(*decimalSum)
		w.Bool(s != nil)
		if s == nil {
			continue
		}
		w.scratch = s.sum.Append(w.scratch[:0], 'G')
		w.Blob(w.scratch)
		for _, x := range []int64{s.n, s.nan, s.posInf, s.negInf} {
			w.Varint(x)
		}
		w.Uvarint(uint64(len(s.scales)))
		for _, sc := range s.scales {
			w.Varint(int64(sc.scale))
			w.Varint(sc.n)
		}
	}
	return nil
}

func (k *decimalSumKernel) restoreObjs(t *groupTable, r *SnapshotReader, lo, hi int32) error {
	for g := lo; g < hi; g++ {
		if !r.Bool() {
			continue
		}
		s := &decimalSum{}
		if _, _, err := s.sum.SetString(r.String()); err != nil {
			r.fail("numeric sum: %v", err)
		}
		s.n, s.nan, s.posInf, s.negInf = r.Varint(), r.Varint(), r.Varint(), r.Varint()
		for range r.Len(0) {
			s.scales = append(s.scales, scaleCount{scale: int32(r.Varint()), n: r.Varint()})
		}
		if r.err != nil {
			return r.err
		}
		t.objects(g)[k.o] = s
	}
	return nil
}

func (k *decimalSumKernel) heldBytes(t *groupTable, g int32) int64 {
	s, _ := t.objects(g)[k.o].(*decimalSum)
	if s == nil {
		return 0
	}
	return int64(unsafe.Sizeof(*s)) + int64(cap(s.scales))*int64(unsafe.Sizeof(scaleCount{}))
}
