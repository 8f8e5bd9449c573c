package dataflow

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"math/bits"
	"slices"
	"unsafe"

	"github.com/cockroachdb/apd/v3"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// Spill store keys of an aggregate (docs/format/spill.md): a spilled
// group under spilledGroup, and under spillChanged an empty marker for
// every group spilled or loaded back since the last snapshot, which the
// next delta writes.
const (
	spilledGroup = 'g'
	spillChanged = 'c'
)

// A windowed aggregate's store keys lead with their window: after sub,
// spillWindowed and the window key word (as spillKey writes words), so
// that the groups of the windows a watermark closes are one range from
// the first; or spillNullWindow, for the groups whose window key is NULL,
// which never close, after all of them. An encoded key leads with its
// window key's encoding (encOrder): after sub, types.KeyNotNull and the
// window key word alike, or the NULL marker, before them.
const (
	spillWindowed   = 0
	spillNullWindow = 1
)

// spillBlock is how many spilled groups a snapshot writes (and a load
// back looks up) at a time.
const spillBlock = 4096

// commitBlock commits space's batch when spilled, the groups spilled so
// far, ends a block: a batch is held in memory until committed, so an
// eviction commits a block at a time.
func commitBlock(space SpillSpace, spilled int) error {
	if spilled%spillBlock != 0 {
		return nil
	}
	return space.Commit()
}

// spiller is an operator that may hold state in the spill store.
type spiller interface {
	// dropSpill removes the operator's spilled state and leaves its
	// budget. NB: the store is scratch: keys a failed removal leaves go
	// at the next start, so the error is not reported.
	dropSpill()
}

// groupSpill is what an aggregate whose groups outgrow its budget share
// keeps of the groups it evicted: they are in the spill store, and a
// filter says which keys may be there, so that a key that is not (most
// keys, while few are spilled) costs no lookup. Groups are evicted at
// the end of an epoch, coldest first by a clock: a group touched since
// the hand last passed gets another turn.
type groupSpill struct {
	budget  *Budget
	space   SpillSpace
	spilled int // groups in the store
	// blobBytes is what a whole snapshot writes of the spilled groups'
	// blobs (groupBlobBytes): with spilled, the bytes of their blocks.
	blobBytes int
	filter    spillFilter
	// windowed: the store keys of packed keys lead with key column
	// window, which gives a windowed aggregate's window.
	windowed bool
	window   int
	// hand is the next group id the clock looks at; recent has bit g set
	// when group g was touched since.
	hand   int32
	recent []uint64
	// Scratch: the keys of a chunk's rows that may be spilled, in buf
	// (each ending at its ends entry); prev the key encoding of the row
	// before.
	buf  []byte
	ends []int
	keys [][]byte
	val  []byte
	prev []byte
}

// canSpill reports whether the aggregate's groups can spill: keyed,
// whatever its kernels (state in words, or objects a snapshot holds:
// objKernel) and keys (packed integers, or encoded: text, boolean, bytea,
// more than 8 integers, mixes of those and integers, and the types whose
// equal values print differently: numeric, float, interval, char(n),
// jsonb …). A group whose key values are stored (storedKeys: numeric 1.0
// and 1.00 are one key, the group shows the first) or that keeps objects
// (numeric sums; multisets of min/max under retractions, string_agg,
// array_agg and DISTINCT calls; running extremes of boxed values) spills
// them beside its words (appendSpillValue). A windowed aggregate's
// (TUMBLE, HOP, CUMULATE) store keys lead with its window, packed or
// encoded, so that closing windows is one range scan.
func (o *aggregateOp) canSpill() bool {
	return len(o.spec.Keys) > 0
}

func (o *aggregateOp) dropSpill() {
	if s := o.spill; s != nil {
		_ = s.space.DeleteAll(nil)
		s.budget.leave()
		o.spill = nil
	}
}

// markRecent records that group g was touched.
func (s *groupSpill) markRecent(g int32) {
	if w := int(g >> 6); w >= len(s.recent) {
		s.recent = append(s.recent, make([]uint64, w+1-len(s.recent))...)
	}
	s.recent[g>>6] |= 1 << (g & 63)
}

// spillKey appends the store key of a packed key under sub: its words
// big-endian with the sign bit flipped (so keys sort as their values),
// then its NULL flags.
func spillKey(dst []byte, sub byte, key []int64, nulls uint8) []byte {
	return appendPackedKey(append(dst, sub), key, nulls)
}

// appendPackedKey appends what spillKey writes after sub.
func appendPackedKey(dst []byte, key []int64, nulls uint8) []byte {
	for _, w := range key {
		dst = binary.BigEndian.AppendUint64(dst, uint64(w)^1<<63)
	}
	return append(dst, nulls)
}

// decodeSpillKey reads what spillKey wrote into key, returning its NULL
// flags, or false when k is not such a key.
func decodeSpillKey(k []byte, key []int64) (uint8, bool) {
	if len(k) != 2+8*len(key) {
		return 0, false
	}
	for j := range key {
		key[j] = int64(binary.BigEndian.Uint64(k[1+8*j:]) ^ 1<<63)
	}
	return k[len(k)-1], true
}

// key appends the store key of a packed key under sub: spillKey's,
// windowed after the window prefix.
func (s *groupSpill) key(dst []byte, sub byte, key []int64, nulls uint8) []byte {
	if !s.windowed {
		return spillKey(dst, sub, key, nulls)
	}
	dst = append(dst, sub)
	if nulls&(1<<s.window) != 0 {
		dst = append(dst, spillNullWindow)
	} else {
		dst = binary.BigEndian.AppendUint64(append(dst, spillWindowed), uint64(key[s.window])^1<<63)
	}
	return appendPackedKey(dst, key, nulls)
}

// unprefixed returns store key k less its window prefix, from the byte
// before its packed key on (which the key parsers skip as they skip sub).
// An unwindowed key is k itself.
func (s *groupSpill) unprefixed(k []byte) []byte {
	switch {
	case !s.windowed || len(k) < 2:
		return k
	case k[1] == spillWindowed && len(k) >= 10:
		return k[9:]
	}
	return k[1:]
}

// appendSpillKey appends the store key of group g under sub: its packed
// key (key), or sub then its key encoding.
func (s *groupSpill) appendSpillKey(dst []byte, t *groupTable, sub byte, g int32) []byte {
	if t.nk > 0 {
		key, nulls := t.packedKey(g)
		return s.key(dst, sub, key, nulls)
	}
	return append(append(dst, sub), t.strKey(g)...)
}

// hashStored returns the hash of the group key of store key k, as
// hashGroup does it; key is scratch of nk words.
func (t *groupTable) hashStored(k []byte, key []int64) (uint64, error) {
	if t.nk == 0 {
		if len(k) == 0 {
			return 0, errSpill("empty key")
		}
		return maphash.Bytes(t.seed, k[1:]), nil
	}
	nulls, ok := decodeSpillKey(k, key)
	if !ok {
		return 0, errSpill("key %x", k)
	}
	return hashPacked(key, nulls), nil
}

// findStored returns the group of store key k, adding it when absent
// (added); key is scratch of nk words.
func (t *groupTable) findStored(k []byte, key []int64) (g int32, added bool, err error) {
	if t.nk == 0 {
		if len(k) == 0 {
			return 0, false, errSpill("empty key")
		}
		g, added = t.findKey(k[1:])
		return g, added, nil
	}
	nulls, ok := decodeSpillKey(k, key)
	if !ok {
		return 0, false, errSpill("key %x", k)
	}
	g, added = t.findPacked(key, nulls)
	return g, added, nil
}

// probeStored returns the group of store key k, or -1; key is scratch of
// nk words.
func (t *groupTable) probeStored(k []byte, key []int64) (int32, error) {
	if t.nk == 0 {
		if len(k) == 0 {
			return -1, errSpill("empty key")
		}
		g, _ := t.probeKey(t.encoded(k[1:]))
		return g, nil
	}
	nulls, ok := decodeSpillKey(k, key)
	if !ok {
		return -1, errSpill("key %x", k)
	}
	g, _ := t.probePacked(key, nulls)
	return g, nil
}

func appendWords(dst []byte, ws []int64) []byte {
	for _, w := range ws {
		dst = binary.LittleEndian.AppendUint64(dst, uint64(w))
	}
	return dst
}

// appendSpillValue appends the spill store value of group g: its state
// words, then, when its groups keep objects (stored key values, numeric
// sums, min/max multisets), those as a snapshot writes them
// (writeGroupObjects), through one writer reused: a writer each took a
// fresh block of minSnapshotBlock, most of an eviction's time.
func (o *aggregateOp) appendSpillValue(dst []byte, g int32) ([]byte, error) {
	t := o.groups
	dst = appendWords(dst, t.state(g))
	if t.no == 0 {
		return dst, nil
	}
	w := o.spillWriter
	w.Reset()
	if err := o.writeGroupObjects(w, g); err != nil {
		return nil, err
	}
	for _, p := range w.Parts() {
		dst = append(dst, p...)
	}
	return dst, nil
}

// writeGroupObjects writes group g's stored key values, a column of one
// row each (the column encoding keeps a numeric's exponent and a float's
// bits: 1.00 and -0 read back as they were), then each object kernel's
// objects of it.
func (o *aggregateOp) writeGroupObjects(w *SnapshotWriter, g int32) error {
	t := o.groups
	if o.storedKeys {
		objs := t.objects(g)
		for j, v := range o.spillKeyVals {
			v.Reset()
			v.Append(objs[o.objs+j])
			if err := w.Vec(v); err != nil {
				return err
			}
		}
	}
	for _, k := range o.kernels {
		if ok, is := objKernelOf(k); is {
			if err := ok.snapshotObjs(t, w, g, g+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// loadSpillValue sets group g, whose objects are cleared, from what
// appendSpillValue wrote.
func (o *aggregateOp) loadSpillValue(g int32, value []byte) error {
	t := o.groups
	n := 8 * t.nw
	if len(value) < n || t.no == 0 && len(value) != n {
		return errSpill("%d bytes of state for %d words", len(value), t.nw)
	}
	readWords64(value[:n], t.state(g))
	if t.no == 0 {
		return nil
	}
	r := NewSnapshotReader(value[n:])
	if o.storedKeys {
		objs := t.objects(g)
		for j, k := range o.spec.Keys {
			v := r.Vec(o.spec.InTypes[k])
			if r.err == nil && v.Len() != 1 {
				r.fail("%d values of key column %d", v.Len(), j)
			}
			if r.err != nil {
				break
			}
			objs[o.objs+j] = v.Get(0)
		}
	}
	for _, k := range o.kernels {
		if ok, is := objKernelOf(k); is && r.err == nil {
			if err := ok.restoreObjs(t, r, g, g+1); err != nil {
				break
			}
		}
	}
	if r.err == nil && len(r.Rest()) != 0 {
		r.fail("%d bytes after the objects", len(r.Rest()))
	}
	if r.err != nil {
		return errSpill("group of %d bytes: %v", len(value), r.err)
	}
	return nil
}

func readWords64(b []byte, ws []int64) bool {
	if len(b) != 8*len(ws) {
		return false
	}
	for j := range ws {
		ws[j] = int64(binary.LittleEndian.Uint64(b[8*j:]))
	}
	return true
}

func errSpill(format string, args ...any) error {
	return sqlerr.New(sqlerr.DataCorrupted, "aggregate spill store: "+format, args...)
}

// residentTarget returns how many groups the table may hold: the share
// of the budget less the filter, at a group's words plus about 8 bytes
// of slot and free id, and for an encoded key its string (header and
// bytes, rounded up to a word as the allocator does); at least a page.
func (o *aggregateOp) residentTarget() int {
	t, s := o.groups, o.spill
	perGroup := t.keyBytes() + int64(8*t.nw+8) + o.objBytes()
	n := (s.budget.share() - int64(8*len(s.filter.bits))) / perGroup
	return max(int(n), groupPage)
}

// objBytes estimates what a group's objects cost: an interface each,
// and what it points to: a stored key value (a numeric, a float, an
// interval boxed; a char(n), jsonb or array at about a short string's
// cost), and the kernels' objects (heldBytes: numeric sums, multisets,
// extremes) at their mean over up to a page of the groups held, measured
// at each eviction: a group holding many more values than the mean costs
// more than counted.
func (o *aggregateOp) objBytes() int64 {
	t := o.groups
	n := int64(16 * t.no)
	if o.storedKeys {
		for _, k := range o.spec.Keys {
			n += boxedBytes(o.spec.InTypes[k])
		}
	}
	var held []objKernel
	for _, k := range o.kernels {
		if ok, is := objKernelOf(k); is {
			held = append(held, ok)
		}
	}
	if len(held) == 0 {
		return n
	}
	var groups, bytes int64
	for g := int32(0); g < t.ids.n && groups < groupPage; g++ {
		if t.state(g)[0] == 0 {
			continue
		}
		groups++
		for _, k := range held {
			bytes += k.heldBytes(t, g)
		}
	}
	if groups > 0 {
		n += bytes / groups
	}
	return n
}

// boxedBytes estimates what a value of t costs boxed in an interface: a
// numeric the size of an apd.Decimal, an integer or float 8 bytes, others
// (text, intervals, arrays) about 32.
func boxedBytes(t *types.T) int64 {
	switch t.Phys() {
	case types.PhysDecimal:
		return int64(unsafe.Sizeof(apd.Decimal{}))
	case types.PhysFloat, types.PhysInt:
		return 8
	}
	return 32
}

// evict moves groups to the spill store, coldest first, until the table
// holds at most an eighth under its target (so that evictions come in
// batches). It runs between epochs: no group is in the epoch.
func (o *aggregateOp) evict() error {
	t, s := o.groups, o.spill
	target := o.residentTarget()
	if t.live <= target {
		return nil
	}
	if o.spec.Window != nil {
		o.releaseWaiting()
	}
	evict := t.live - (target - target/8)
	if err := s.filter.reserve(s, t, evict); err != nil {
		return err
	}
	// Two turns of the clock meet every group with its recent bit clear.
	for steps := 2 * int(t.ids.n); evict > 0 && steps > 0; steps-- {
		if s.hand >= t.ids.n {
			s.hand = 0
		}
		g := s.hand
		s.hand++
		// Between epochs a group has rows, or its id is free (a windowed
		// group waiting for its window was released above).
		st := t.state(g)
		if st[0] == 0 {
			continue
		}
		if w := int(g >> 6); w < len(s.recent) && s.recent[w]&(1<<(g&63)) != 0 {
			s.recent[w] &^= 1 << (g & 63)
			continue
		}
		s.buf = s.appendSpillKey(s.buf[:0], t, spilledGroup, g)
		var err error
		if s.val, err = o.appendSpillValue(s.val[:0], g); err != nil {
			return err
		}
		if err := s.space.Set(s.buf, s.val); err != nil {
			return err
		}
		s.buf[0] = spillChanged
		if err := s.space.Set(s.buf, nil); err != nil {
			return err
		}
		s.filter.add(t.hashGroup(g))
		t.unindex(g)
		t.release(g)
		s.spilled++
		s.blobBytes += groupBlobBytes(t, s.buf, s.val)
		evict--
		if err := commitBlock(s.space, s.spilled); err != nil {
			return err
		}
	}
	if err := s.space.Commit(); err != nil {
		return err
	}
	o.compact()
	if o.spec.Window != nil {
		o.reopen()
	}
	return nil
}

// releaseWaiting frees the ids of the windowed groups that lost their rows
// and wait for their window to close (drop), so that evict and compact
// meet only groups with rows and free ids: reopen then lists the windows'
// groups again from those held, and no list names an id reused.
func (o *aggregateOp) releaseWaiting() {
	t := o.groups
	free := make([]uint64, (t.ids.n+63)>>6)
	for _, g := range t.ids.free {
		free[g>>6] |= 1 << (g & 63)
	}
	for g := range t.ids.n {
		if free[g>>6]&(1<<(g&63)) == 0 && t.state(g)[0] == 0 {
			t.release(g)
		}
	}
}

// reopen lists the groups held under their windows' ends again, after
// evict freed ids and compact moved groups: an eviction changes the lists
// anywhere, so the next snapshot writes them whole (openWritten).
func (o *aggregateOp) reopen() {
	t := o.groups
	clear(o.open)
	o.ends = o.ends[:0]
	for g := range t.ids.n {
		if t.state(g)[0] != 0 {
			o.openGroup(g)
		}
	}
	o.openWritten = nil
}

// closeSpilled closes the spilled groups of the windows that end at or
// before the frontier: one ordered scan of the store from the first
// window key up to the frontier less EndOffset (after spillWindowed for
// packed keys, types.KeyNotNull for encoded ones). Under EMIT ON WINDOW
// CLOSE (emit not nil) each is loaded back and emits its final row
// (emitFinal), a block at a time; otherwise it goes, its row staying in
// the output. Each leaves a changed marker, so that the next delta
// writes it as gone.
func (o *aggregateOp) closeSpilled(emit Emit) error {
	t, s := o.groups, o.spill
	windowed := byte(spillWindowed)
	if t.nk == 0 {
		windowed = types.KeyNotNull
	}
	lo := []byte{spilledGroup, windowed}
	hi := []byte{spilledGroup, windowed + 1}
	if bound := shiftWatermark(o.frontier, -o.spec.Window.EndOffset); bound < Unconstrained {
		hi = binary.BigEndian.AppendUint64(lo[:2:2], uint64(bound+1)^1<<63)
	}
	key := make([]int64, t.nk)
	var gs []int32
	closeBlock := func() error {
		if err := s.space.Commit(); err != nil {
			return err
		}
		if len(gs) == 0 {
			return nil
		}
		err := o.emitFinal(gs, emit)
		gs = gs[:0]
		return err
	}
	n := 0
	err := s.space.ScanRange(lo, hi, func(k, value []byte) error {
		if emit != nil {
			g, added, err := t.findStored(s.unprefixed(k), key)
			if err != nil {
				return err
			}
			if !added {
				return sqlerr.Bug("spilled key %x is in the table too", k)
			}
			if err := o.loadSpillValue(g, value); err != nil {
				return err
			}
			gs = append(gs, g)
		}
		s.buf = append(s.buf[:0], k...)
		if err := s.space.Delete(s.buf); err != nil {
			return err
		}
		s.buf[0] = spillChanged
		if err := s.space.Set(s.buf, nil); err != nil {
			return err
		}
		s.spilled--
		s.blobBytes -= groupBlobBytes(t, k, value)
		if n++; n%spillBlock == 0 {
			return closeBlock()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return closeBlock()
}

// compact gives back the memory of the groups evicted: an epoch that
// creates many groups (a view's first, over a stream's whole history)
// grows the pages and slots for all of them, and eviction only frees their
// ids. When the pages hold more than a quarter (and a page) over the live
// groups, the groups past the live ones' pages move to free ids below,
// and the pages past them go; slots at a load under 1/8 are rebuilt
// smaller.
func (o *aggregateOp) compact() {
	t, s := o.groups, o.spill
	keep := (t.live + t.live/8 + groupPage) >> groupPageBits // pages kept
	if len(t.words) <= keep+keep/4+1 {
		return
	}
	n := int32(keep << groupPageBits)
	var low []int32 // free ids below n
	for _, g := range t.ids.free {
		if g < n {
			low = append(low, g)
		}
	}
	mask, idMask := uint64(len(t.slots)-1), t.idMask()
	stride := t.nk + t.nw
	for g := n; g < t.ids.n; g++ {
		if t.state(g)[0] == 0 {
			continue
		}
		to := low[len(low)-1]
		low = low[:len(low)-1]
		from, into := int(g&(groupPage-1))*stride, int(to&(groupPage-1))*stride
		copy(t.words[to>>groupPageBits][into:into+stride], t.words[g>>groupPageBits][from:from+stride])
		if nulls := t.nullFlags(g); nulls != 0 {
			t.nullKeys[to] = nulls
		}
		if t.nk == 0 {
			t.strKeys[to>>groupPageBits][to&(groupPage-1)] = t.strKey(g)
		}
		if t.no > 0 {
			copy(t.objects(to), t.objects(g))
		}
		h := t.hashGroup(to)
		p := h & mask
		for t.slots[p]&idMask != uint32(g+1) {
			p = (p + 1) & mask
		}
		t.slots[p] = t.slot(h, to)
		t.setIndexed(to)
		t.markDirty(to)
		if w := int(g >> 6); w < len(s.recent) && s.recent[w]&(1<<(g&63)) != 0 {
			s.markRecent(to)
		}
	}
	for g := range t.nullKeys {
		if g >= n {
			delete(t.nullKeys, g)
		}
	}
	t.dropPages(keep)
	t.ids.n, t.ids.free = n, low
	s.recent = s.recent[:min(len(s.recent), int(n)>>6)]
	s.hand = 0
	if len(o.pageBytes) > keep {
		for _, b := range o.pageBytes[keep:] {
			o.pagesBytes -= b
		}
		o.pageBytes = o.pageBytes[:keep]
	}
	if len(t.slots) > 16 && t.live*8 < len(t.slots) {
		size := 16
		for t.live*16 > size*6 {
			size *= 2
		}
		t.rehash(size, idMask)
	}
}

// unspill loads back the spilled groups of c's rows, so that assign finds
// every group in the table: the keys the filter may hold and the table
// does not are looked up in one sorted pass.
func (o *aggregateOp) unspill(c *coldata.Chunk) error {
	t, s := o.groups, o.spill
	if t.nk == 0 {
		for i := range c.Len {
			// Rows of one group often come together: a key is looked at
			// once a run.
			s.prev, o.key = o.key, RowKey(s.prev[:0], c, o.encCols, i)
			if i > 0 && bytes.Equal(o.key, s.prev) {
				continue
			}
			s.note(t, nil, 0, o.key)
		}
	} else {
		for j, k := range o.spec.Keys {
			o.keyCols[j] = c.Cols[k]
		}
		for i := range c.Len {
			nulls, same := o.packRow(i)
			if same && i > 0 {
				continue
			}
			s.note(t, o.packed, nulls, nil)
		}
	}
	return s.loadBack(t, func(g int32, key, value []byte) error {
		if err := o.loadSpillValue(g, value); err != nil {
			return err
		}
		if o.spec.Window != nil {
			// A group loaded back is in the epoch as one that existed,
			// which Flush does not list: it is listed here.
			o.openGroup(g)
		}
		marker := append(s.val[:0], key...)
		marker[0] = spillChanged
		s.val = marker
		return s.space.Set(marker, nil)
	})
}

// note adds a chunk row's key, packed (packed, nulls) or encoded (enc) as
// t keeps its keys, to those loadBack looks up if the filter may hold it
// and t does not.
func (s *groupSpill) note(t *groupTable, packed []int64, nulls uint8, enc []byte) {
	var g int32
	if t.nk > 0 {
		if !s.filter.mayHold(hashPacked(packed, nulls)) {
			return
		}
		g, _ = t.probePacked(packed, nulls)
	} else {
		k, h := t.encoded(enc)
		if !s.filter.mayHold(h) {
			return
		}
		g, _ = t.probeKey(k, h)
	}
	if g >= 0 {
		return
	}
	if len(s.ends) == 0 {
		s.buf = s.buf[:0] // also the evictions' scratch
	}
	if t.nk > 0 {
		s.buf = s.key(s.buf, spilledGroup, packed, nulls)
	} else {
		s.buf = append(append(s.buf, spilledGroup), enc...)
	}
	s.ends = append(s.ends, len(s.buf))
}

// loadBack looks the noted keys up in one sorted pass and moves each the
// store holds into t: it adds the key's group, calls load with it and the
// stored key and value, and deletes the key from the store.
func (s *groupSpill) loadBack(t *groupTable, load func(g int32, key, value []byte) error) error {
	defer func() { s.ends = s.ends[:0] }()
	if len(s.ends) == 0 {
		return nil
	}
	s.keys = sortedKeys(s.keys[:0], s.buf, s.ends)
	key := make([]int64, t.nk)
	_, err := loadSpilled(s.space, s.keys, func(k, value []byte) error {
		g, added, err := t.findStored(s.unprefixed(k), key)
		if err != nil {
			return err
		}
		if !added {
			return sqlerr.Bug("spilled key %x is in the table too", k)
		}
		if err := load(g, k, value); err != nil {
			return err
		}
		s.spilled--
		s.blobBytes -= groupBlobBytes(t, k, value)
		return nil
	})
	return err
}

// loadSpilled looks the sorted keys up in space in one pass, hands each
// one found with its value to load and deletes it, and commits: the
// loading back that the spilling operators share. It returns how many
// keys were found.
func loadSpilled(space SpillSpace, keys [][]byte, load func(key, value []byte) error) (int, error) {
	found := 0
	err := space.Lookup(keys, func(i int, value []byte) error {
		found++
		if err := load(keys[i], value); err != nil {
			return err
		}
		return space.Delete(keys[i])
	})
	if err != nil {
		return found, err
	}
	return found, space.Commit()
}

// sortedKeys appends to dst the keys in buf (each ending at its ends
// entry), sorted, each once: a load back's lookups in one sorted pass.
func sortedKeys(dst [][]byte, buf []byte, ends []int) [][]byte {
	lo := 0
	for _, hi := range ends {
		dst = append(dst, buf[lo:hi:hi])
		lo = hi
	}
	slices.SortFunc(dst, bytes.Compare)
	return slices.CompactFunc(dst, bytes.Equal)
}

// spillFilter is a Bloom filter (two bits a key, 16 bits a key it is
// sized for: 1.4% of false positives when full) over the hashes of the
// keys spilled. Keys loaded back stay in it until it is rebuilt, when it
// has taken as many keys as it was sized for.
type spillFilter struct {
	bits []uint64
	adds int // keys added since it was built
}

const spillFilterBitsPerKey = 16

func (f *spillFilter) positions(h uint64) (uint64, uint64) {
	mask := uint64(len(f.bits))*64 - 1
	return h & mask, bits.RotateLeft64(h, 32) & mask
}

func (f *spillFilter) add(h uint64) {
	p, q := f.positions(h)
	f.bits[p>>6] |= 1 << (p & 63)
	f.bits[q>>6] |= 1 << (q & 63)
	f.adds++
}

func (f *spillFilter) mayHold(h uint64) bool {
	if len(f.bits) == 0 {
		return false
	}
	p, q := f.positions(h)
	return f.bits[p>>6]&(1<<(p&63)) != 0 && f.bits[q>>6]&(1<<(q&63)) != 0
}

// reserve makes room for the filter to take keys more keys than were
// added since it was built, rebuilding it from the store (sized for twice
// what it will hold) if it has not.
func (f *spillFilter) reserve(s *groupSpill, t *groupTable, keys int) error {
	key := make([]int64, t.nk)
	return f.reserveIn(s.space, s.spilled, keys, func(k []byte) (uint64, error) {
		return t.hashStored(s.unprefixed(k), key)
	})
}

// reserveIn is reserve over the spilledGroup keys of space (spilled of
// them), hashed by hashStored.
func (f *spillFilter) reserveIn(space SpillSpace, spilled, keys int, hashStored func(k []byte) (uint64, error)) error {
	if len(f.bits) > 0 && f.adds+keys <= len(f.bits)*64/spillFilterBitsPerKey {
		return nil
	}
	size := uint64(1) << bits.Len64(uint64(max(2*(spilled+keys), 1024)*spillFilterBitsPerKey/64-1))
	f.bits, f.adds = make([]uint64, size), 0
	return space.Scan([]byte{spilledGroup}, func(k, _ []byte) error {
		h, err := hashStored(k)
		if err != nil {
			return err
		}
		f.add(h)
		return nil
	})
}

// snapshotSpilled writes the spilled groups after the pages: all of them
// in a whole snapshot, those spilled or loaded back since the last
// snapshot in a delta (a group loaded back, which a page now holds or
// which lost its rows, as gone). In blocks of at most spillBlock groups:
// uvarint n (0 ends), the keys (packed: their words, then their NULL
// flags as a blob; encoded: n blobs), whether each is gone (blob of 0 or
// 1), the state words of those that are not, then, when the groups keep
// objects, a blob each of those not gone: its objects as its spill store
// value holds them after its words. An aggregate that could spill but
// has no budget writes no block.
//
// A whole snapshot's groups are streamed (StreamLater): the loop takes a
// snapshot of the spill store, whose bytes it knows (spilledSize), and a
// deferring writer's WriteTo reads the groups from it a block at a time,
// so that a state many times the memory limit is never held whole.
func (o *aggregateOp) snapshotSpilled(w *SnapshotWriter, delta bool) error {
	s := o.spill
	if s == nil {
		w.Uvarint(0)
		return nil
	}
	if !delta {
		if err := s.space.Commit(); err != nil {
			return err
		}
		view := s.space.Snapshot()
		// The writer's goroutine reads nothing of the aggregate but the
		// layout, fixed since it was made, copied here.
		blocks := newSpilledBlocks(o.groups, s)
		err := w.StreamLater(spilledSize(blocks.nk, blocks.nw, s.spilled, s.blobBytes), func(w *SnapshotWriter, flush func() error) error {
			err := view.Scan([]byte{spilledGroup}, func(k, value []byte) error {
				if full, err := blocks.add(k, value); !full || err != nil {
					return err
				}
				blocks.flush(w)
				return flush()
			})
			if err != nil {
				return err
			}
			blocks.flush(w)
			w.Uvarint(0)
			return nil
		}, view.Close)
		if err != nil {
			return err
		}
		return s.space.DeleteAll([]byte{spillChanged})
	}
	blocks := newSpilledBlocks(o.groups, s)
	err := o.snapshotChangedSpill(func(k, value []byte) error {
		if full, err := blocks.add(k, value); !full || err != nil {
			return err
		}
		blocks.flush(w)
		return nil
	})
	if err != nil {
		return err
	}
	blocks.flush(w)
	w.Uvarint(0)
	return s.space.DeleteAll([]byte{spillChanged})
}

// spilledBlocks gathers spilled groups into the blocks snapshotSpilled
// writes. It holds the table's layout, not the table: a base's writer
// fills it on its own goroutine.
type spilledBlocks struct {
	nk, nw, no int
	unprefixed func(k []byte) []byte
	keys       []int64
	states     []int64
	nulls      []byte
	gone       []byte
	// The encoded keys of a block: each ends at its encEnds entry of enc;
	// the objects of its groups not gone alike in objs.
	enc, objs        []byte
	encEnds, objEnds []int
	key, state       []int64 // scratch
}

func newSpilledBlocks(t *groupTable, s *groupSpill) *spilledBlocks {
	// unprefixed reads only the window layout, fixed with the spill.
	return &spilledBlocks{nk: t.nk, nw: t.nw, no: t.no, unprefixed: s.unprefixed, key: make([]int64, t.nk), state: make([]int64, t.nw)}
}

// add gathers the group of store key k, with its state value or nil when
// gone, and reports whether the block is full.
func (b *spilledBlocks) add(k, value []byte) (bool, error) {
	if b.nk == 0 {
		if len(k) == 0 {
			return false, errSpill("empty key")
		}
		b.enc = append(b.enc, k[1:]...)
		b.encEnds = append(b.encEnds, len(b.enc))
	} else {
		n, ok := decodeSpillKey(b.unprefixed(k), b.key)
		if !ok {
			return false, errSpill("key %x", k)
		}
		b.keys, b.nulls = append(b.keys, b.key...), append(b.nulls, n)
	}
	if value == nil {
		b.gone = append(b.gone, 1)
	} else {
		n := 8 * b.nw
		if len(value) < n || b.no == 0 && len(value) != n {
			return false, errSpill("%d bytes of state for %d words", len(value), b.nw)
		}
		readWords64(value[:n], b.state)
		b.gone, b.states = append(b.gone, 0), append(b.states, b.state...)
		if b.no > 0 {
			b.objs = append(b.objs, value[n:]...)
			b.objEnds = append(b.objEnds, len(b.objs))
		}
	}
	return len(b.gone) == spillBlock, nil
}

// flush writes the block gathered, if any, and empties it.
func (b *spilledBlocks) flush(w *SnapshotWriter) {
	if len(b.gone) == 0 {
		return
	}
	w.Uvarint(uint64(len(b.gone)))
	if b.nk > 0 {
		w.Int64s(b.keys)
		w.Blob(b.nulls)
	} else {
		lo := 0
		for _, hi := range b.encEnds {
			w.Blob(b.enc[lo:hi])
			lo = hi
		}
	}
	w.Blob(b.gone)
	w.Int64s(b.states)
	lo := 0
	for _, hi := range b.objEnds {
		w.Blob(b.objs[lo:hi])
		lo = hi
	}
	b.keys, b.states, b.nulls, b.gone, b.enc, b.encEnds = b.keys[:0], b.states[:0], b.nulls[:0], b.gone[:0], b.enc[:0], b.encEnds[:0]
	b.objs, b.objEnds = b.objs[:0], b.objEnds[:0]
}

// spilledSize returns the bytes snapshotSpilled writes of a whole state's
// n spilled groups (none gone), of nk key and nw state words each, whose
// blobs (encoded keys, objects) take blobBytes, the 0 that ends the blocks
// included: the blocks' layout follows from n.
func spilledSize(nk, nw, n, blobBytes int) int {
	size := blobBytes + 1
	for ; n > 0; n -= spillBlock {
		m := min(n, spillBlock)
		size += uvarintLen(uint64(m))
		if nk > 0 {
			size += uvarintLen(uint64(m*nk)) + 8*m*nk + uvarintLen(uint64(m)) + m
		}
		size += uvarintLen(uint64(m)) + m + uvarintLen(uint64(m*nw)) + 8*m*nw
	}
	return size
}

// groupBlobBytes returns the bytes of the blobs a whole snapshot writes
// of the spilled group of store key k and value: its encoded key (k less
// sub) when keys are not packed, its objects when it keeps some.
func groupBlobBytes(t *groupTable, k, value []byte) int {
	n := 0
	if t.nk == 0 {
		n += uvarintLen(uint64(len(k)-1)) + len(k) - 1
	}
	if t.no > 0 {
		objs := len(value) - 8*t.nw
		n += uvarintLen(uint64(objs)) + objs
	}
	return n
}

// snapshotChangedSpill calls take for every group marked changed in the
// spill store, with its state there or nil when it is no longer spilled,
// looking them up a block at a time.
func (o *aggregateOp) snapshotChangedSpill(take func(k, value []byte) error) error {
	s := o.spill
	var buf []byte
	var ends []int
	lookup := func() error {
		keys := make([][]byte, 0, len(ends))
		lo := 0
		for _, hi := range ends {
			keys = append(keys, buf[lo:hi:hi])
			lo = hi
		}
		found := make([][]byte, len(keys))
		err := s.space.Lookup(keys, func(i int, value []byte) error {
			found[i] = append([]byte{}, value...)
			return nil
		})
		for i, k := range keys {
			if err == nil {
				err = take(k, found[i])
			}
		}
		buf, ends = buf[:0], ends[:0]
		return err
	}
	err := s.space.Scan([]byte{spillChanged}, func(k, _ []byte) error {
		buf = append(append(buf, spilledGroup), k[1:]...)
		ends = append(ends, len(buf))
		if len(ends) == spillBlock {
			return lookup()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return lookup()
}

// restoreSpilled reads what snapshotSpilled wrote: into the spill store
// under a budget, otherwise into pendingSpill, which finishRestore puts
// in the table.
func (o *aggregateOp) restoreSpilled(r *SnapshotReader) error {
	t, s := o.groups, o.spill
	for {
		n := r.Len(spillBlock)
		if n == 0 || r.err != nil {
			return r.err
		}
		var keys []int64
		var nulls []byte
		var enc [][]byte // shares the reader's memory
		if t.nk > 0 {
			keys, nulls = r.Int64s(), r.Bytes()
		} else {
			enc = make([][]byte, n)
			for i := range enc {
				enc[i] = r.Bytes()
			}
		}
		gone, states := r.Bytes(), r.Int64s()
		kept := 0
		for _, g := range gone {
			if g == 0 {
				kept++
			}
		}
		var objs [][]byte // shares the reader's memory
		if t.no > 0 && r.err == nil {
			objs = make([][]byte, kept)
			for i := range objs {
				objs[i] = r.Bytes()
			}
		}
		if r.err == nil && (t.nk > 0 && (len(keys) != n*t.nk || len(nulls) != n) || len(gone) != n || len(states) != kept*t.nw) {
			r.fail("aggregate: %d spilled groups of %d key words, %d flags, %d gone flags, %d state words", n, len(keys), len(nulls), len(gone), len(states))
		}
		if r.err != nil {
			return r.err
		}
		if s == nil && o.pendingSpill == nil {
			o.pendingSpill = map[string][]byte{}
		}
		var k, v []byte
		for i := range n {
			switch {
			case t.nk > 0 && s != nil:
				k = s.key(k[:0], spilledGroup, keys[i*t.nk:(i+1)*t.nk], nulls[i])
			case t.nk > 0:
				// pendingSpill's keys are unprefixed: finishRestoreSpill
				// parses them.
				k = spillKey(k[:0], spilledGroup, keys[i*t.nk:(i+1)*t.nk], nulls[i])
			default:
				k = append(append(k[:0], spilledGroup), enc[i]...)
			}
			var err error
			switch {
			case gone[i] != 0 && s != nil:
				err = s.space.Delete(k)
			case gone[i] != 0:
				delete(o.pendingSpill, string(k))
			default:
				v = appendWords(v[:0], states[:t.nw])
				if t.no > 0 {
					v = append(v, objs[0]...)
				}
				if s != nil {
					err = s.space.Set(k, v)
				} else {
					o.pendingSpill[string(k)] = append([]byte{}, v...)
				}
			}
			if gone[i] == 0 {
				states = states[t.nw:]
				if t.no > 0 {
					objs = objs[1:]
				}
			}
			if err != nil {
				return err
			}
		}
		if s != nil {
			if err := s.space.Commit(); err != nil {
				return err
			}
		}
	}
}

// finishRestoreSpill completes a restore once the table's index is built:
// without a budget the spilled groups join the table; under one the
// store's groups are counted into the filter, and the table evicts down
// to its share.
func (o *aggregateOp) finishRestoreSpill() error {
	t, s := o.groups, o.spill
	if s == nil {
		key := make([]int64, t.nk)
		for k, value := range o.pendingSpill {
			g, added, err := t.findStored([]byte(k), key)
			if err != nil {
				return err
			}
			if !added {
				return sqlerr.New(sqlerr.DataCorrupted, "dataflow snapshot: aggregate: spilled group %x is in a page too", k)
			}
			if err := o.loadSpillValue(g, value); err != nil {
				return err
			}
			if o.spec.Window != nil {
				o.openGroup(g)
			}
		}
		o.pendingSpill = nil
		return nil
	}
	s.spilled, s.blobBytes = 0, 0
	key := make([]int64, t.nk)
	err := s.space.Scan([]byte{spilledGroup}, func(k, value []byte) error {
		g, err := t.probeStored(s.unprefixed(k), key)
		if err != nil {
			return err
		}
		if g >= 0 {
			return sqlerr.New(sqlerr.DataCorrupted, "dataflow snapshot: aggregate: spilled group %x is in a page too", k)
		}
		s.spilled++
		s.blobBytes += groupBlobBytes(t, k, value)
		return nil
	})
	if err != nil {
		return err
	}
	s.filter = spillFilter{}
	if err := s.filter.reserve(s, t, 0); err != nil {
		return err
	}
	return o.evict()
}
