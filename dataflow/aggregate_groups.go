package dataflow

import (
	"hash/maphash"
	"unsafe"
)

// groupPageBits sets how many groups a page of group state holds. State
// grows a page at a time, so it is never copied as it grows and carries at
// most one partly used page; small enough that a view with a few groups
// does not pay for thousands.
const (
	groupPageBits = 8
	groupPage     = 1 << groupPageBits
)

// slotIDBits is how many bits of a slot hold the group id (plus one) while
// ids are small, the other 7 holding hash bits.
const slotIDBits = 25

// maxPackedKeys is the most key columns a packed key holds: their NULL
// flags are one byte.
const maxPackedKeys = 8

// groupTable holds an Aggregate's groups on one worker, named by ids that
// are reused once freed. A group's state is nw words and no objs, at the
// offsets the kernels took, in pages shared by all groups: a group costs
// no Go object and no pointer of its own.
//
// Keys map to ids in one of two ways. When every key column is a
// fixed-width integer whose value identifies it (GROUP BY k, window_end:
// the common case), a group's key is packed into nk words (0 for NULL)
// with NULL flags (bit j for key column j), and slots is an
// open-addressing table (linear probing) over them. A slot holds id+1 in
// its low idBits bits (0 for an empty slot) and above them the top bits of
// the key's hash, so that a probe compares keys, which means reading a
// group's words from anywhere in memory, almost only for the key it looks
// for. Past 2^idBits ids the slots give up their hash bits (idBits 32).
// The key words lead the group's row of words: comparing a probed key
// brings in the state the kernels update next. Otherwise strKeys keeps each
// group's key encoding (RowKey) and the slots index them alike, by a hash
// of the encoding (seeded per table): a Go map by key took 24 bytes a
// group and, restoring millions of groups, a second to make and fill.
type groupTable struct {
	nw, no int
	// words holds rows of nk key words then nw state words.
	words [][]int64
	objs  [][]any
	ids   idPool
	live  int // groups in the key index

	nk     int
	slots  []uint32
	idBits uint
	// nullKeys holds the NULL flags of the groups whose key has a NULL.
	// Those are rare: the other groups pay no memory for flags, and no
	// lookup while the map is empty (a miss means no NULL).
	nullKeys map[int32]uint8

	strKeys [][]string
	seed    maphash.Seed
	// strBytes is the length of the indexed groups' key encodings, from
	// which a spilling aggregate prices a group.
	strBytes int

	// dirty has bit p set when page p changed since the last snapshot
	// (a delta snapshot writes those pages only). Marking costs a bit
	// per touched group.
	dirty []uint64
	// indexed has bit g set while group g is in the key index (an id may
	// be held by a group that only waits for its window to close),
	// groupPage/64 words a page: a delta snapshot writes the words of the
	// pages it writes, without a pass over the slots, and a restore reads
	// them back and builds the index from them.
	indexed []int64
}

// indexedWords is how many words of indexed a page takes.
const indexedWords = groupPage / 64

// pageIndexed returns page p's words of indexed.
func (t *groupTable) pageIndexed(p int) []int64 {
	return t.indexed[p*indexedWords : (p+1)*indexedWords : (p+1)*indexedWords]
}

// isIndexed reports whether group g is in the key index.
func (t *groupTable) isIndexed(g int32) bool { return t.indexed[g>>6]&(1<<(g&63)) != 0 }

func (t *groupTable) setIndexed(g int32)   { t.indexed[g>>6] |= 1 << (g & 63) }
func (t *groupTable) clearIndexed(g int32) { t.indexed[g>>6] &^= 1 << (g & 63) }

// markDirty records that group g's page changed.
func (t *groupTable) markDirty(g int32) {
	p := int(g >> groupPageBits)
	if w := p >> 6; w >= len(t.dirty) {
		t.dirty = append(t.dirty, make([]uint64, w+1-len(t.dirty))...)
	}
	t.dirty[p>>6] |= 1 << (p & 63)
}

func newGroupTable(nw, no, nk int) *groupTable {
	return &groupTable{nw: nw, no: no, nk: nk, slots: make([]uint32, 16), idBits: slotIDBits, seed: maphash.MakeSeed()}
}

// state returns group g's words.
func (t *groupTable) state(g int32) []int64 {
	o := int(g&(groupPage-1))*(t.nk+t.nw) + t.nk
	return t.words[g>>groupPageBits][o : o+t.nw : o+t.nw]
}

// objects returns group g's objs.
func (t *groupTable) objects(g int32) []any {
	o := int(g&(groupPage-1)) * t.no
	return t.objs[g>>groupPageBits][o : o+t.no : o+t.no]
}

// packedKey returns group g's packed key words and NULL flags.
func (t *groupTable) packedKey(g int32) ([]int64, uint8) {
	o := int(g&(groupPage-1)) * (t.nk + t.nw)
	return t.words[g>>groupPageBits][o : o+t.nk : o+t.nk], t.nullFlags(g)
}

func (t *groupTable) nullFlags(g int32) uint8 {
	if len(t.nullKeys) == 0 {
		return 0
	}
	return t.nullKeys[g]
}

// multiset returns the multiset in objs[o] of group g, creating it on first
// use.
func (t *groupTable) multiset(g int32, o int) *multiset {
	objs := t.objects(g)
	m, _ := objs[o].(*multiset)
	if m == nil {
		m = &multiset{}
		objs[o] = m
	}
	return m
}

// alloc returns a group id with zero state, not in the key index.
func (t *groupTable) alloc() int32 {
	g, fresh := t.ids.take()
	t.markDirty(g)
	if !fresh {
		return g
	}
	if int(g>>groupPageBits) == len(t.words) {
		t.words = append(t.words, make([]int64, groupPage*(t.nk+t.nw)))
		t.indexed = append(t.indexed, make([]int64, indexedWords)...)
		if t.no > 0 {
			t.objs = append(t.objs, make([]any, groupPage*t.no))
		}
		if t.nk == 0 {
			t.strKeys = append(t.strKeys, make([]string, groupPage))
		}
	}
	return g
}

// clearState zeroes group g's state, letting go of its objects.
func (t *groupTable) clearState(g int32) {
	t.markDirty(g)
	clear(t.state(g))
	if t.no > 0 {
		clear(t.objects(g))
	}
}

// release clears group g, which is out of the key index, and makes its id
// reusable.
func (t *groupTable) release(g int32) {
	t.clearState(g)
	if len(t.nullKeys) > 0 {
		delete(t.nullKeys, g)
	}
	t.ids.release(g)
}

// hashPacked hashes a packed key: each word is mixed in (SplitMix64's
// multiply-xorshift), so that keys differing in any bit, such as window
// ends that are multiples of a second, spread over the table.
func hashPacked(key []int64, nulls uint8) uint64 {
	h := uint64(nulls) + 0x9e3779b97f4a7c15
	for _, w := range key {
		h = (h ^ uint64(w)) * 0xbf58476d1ce4e5b9
		h ^= h >> 31
	}
	h *= 0x94d049bb133111eb
	return h ^ h>>29
}

// dropPages keeps the first n pages of groups (their words, indexed
// bits, objects and string keys) and gives back the others.
func (t *groupTable) dropPages(n int) {
	// NB: the dropped pages must leave the backing arrays too, or they
	// stay reachable.
	clear(t.words[n:])
	t.words, t.indexed = t.words[:n], t.indexed[:n*indexedWords]
	if t.no > 0 {
		clear(t.objs[n:])
		t.objs = t.objs[:n]
	}
	if t.nk == 0 {
		clear(t.strKeys[n:])
		t.strKeys = t.strKeys[:n]
	}
}

// hashGroup hashes group g's key: packed, or encoded.
func (t *groupTable) hashGroup(g int32) uint64 {
	if t.nk > 0 {
		return hashPacked(t.packedKey(g))
	}
	return maphash.String(t.seed, t.strKey(g))
}

// strKey returns group g's key encoding (nk 0).
func (t *groupTable) strKey(g int32) string {
	return t.strKeys[g>>groupPageBits][g&(groupPage-1)]
}

// idMask returns the mask of a slot's id bits.
func (t *groupTable) idMask() uint32 { return uint32(1<<t.idBits - 1) }

// slot returns the slot of group g, whose key hashes to h.
func (t *groupTable) slot(h uint64, g int32) uint32 {
	return uint32(h>>57)<<t.idBits | uint32(g+1)
}

// probePacked returns the group of a packed key, or -1 and the empty slot
// where it would go.
func (t *groupTable) probePacked(key []int64, nulls uint8) (int32, uint64) {
	mask := uint64(len(t.slots) - 1)
	nk, stride := t.nk, t.nk+t.nw
	h := hashPacked(key, nulls)
	idMask := t.idMask()
	tag := t.slot(h, -1) // the hash bits, with an id of zero
	p := h & mask
	for ; t.slots[p] != 0; p = (p + 1) & mask {
		s := t.slots[p]
		if s&^idMask != tag {
			continue
		}
		g := int32(s&idMask) - 1
		o := int(g&(groupPage-1)) * stride
		if equalWords(t.words[g>>groupPageBits][o:o+nk:o+nk], key) && t.nullFlags(g) == nulls {
			return g, p
		}
	}
	return -1, p
}

// findPacked returns the group of a packed key, adding it when absent
// (added).
func (t *groupTable) findPacked(key []int64, nulls uint8) (g int32, added bool) {
	g, p := t.probePacked(key, nulls)
	if g >= 0 {
		return g, false
	}
	g = t.alloc()
	if t.widenIDs(g) {
		_, p = t.probePacked(key, nulls)
	}
	k, _ := t.packedKey(g)
	copy(k, key)
	if nulls != 0 {
		if t.nullKeys == nil {
			t.nullKeys = map[int32]uint8{}
		}
		t.nullKeys[g] = nulls
	}
	t.slots[p] = t.slot(hashPacked(key, nulls), g)
	t.setIndexed(g)
	t.grown()
	return g, true
}

// widenIDs gives up the slots' hash bits when group g's id does not fit
// beside them, and reports whether it did (moving every slot).
func (t *groupTable) widenIDs(g int32) bool {
	idMask := t.idMask()
	if uint32(g+1) <= idMask {
		return false
	}
	t.idBits = 32
	t.rehash(len(t.slots), idMask)
	return true
}

// grown counts a group added to the slots, and grows them at a load of
// 13/16: probes stay short while the table costs 5 to 10 bytes a group.
func (t *groupTable) grown() {
	if t.live++; t.live*16 > len(t.slots)*13 {
		t.rehash(2*len(t.slots), t.idMask())
	}
}

func equalWords(a, b []int64) bool {
	b = b[:len(a)]
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// rehash rebuilds the slots at size, from slots whose id bits are idMask.
func (t *groupTable) rehash(size int, idMask uint32) {
	old := t.slots
	t.slots = make([]uint32, size)
	mask := uint64(size - 1)
	for _, s := range old {
		if s == 0 {
			continue
		}
		g := int32(s&idMask) - 1
		h := t.hashGroup(g)
		p := h & mask
		for t.slots[p] != 0 {
			p = (p + 1) & mask
		}
		t.slots[p] = t.slot(h, g)
	}
}

// probeKey returns the group of an encoded key hashing to h, or -1 and
// the empty slot where it would go.
func (t *groupTable) probeKey(key string, h uint64) (int32, uint64) {
	mask := uint64(len(t.slots) - 1)
	idMask := t.idMask()
	tag := t.slot(h, -1) // the hash bits, with an id of zero
	p := h & mask
	for ; t.slots[p] != 0; p = (p + 1) & mask {
		s := t.slots[p]
		if s&^idMask != tag {
			continue
		}
		if g := int32(s&idMask) - 1; t.strKey(g) == key {
			return g, p
		}
	}
	return -1, p
}

// encoded returns key as a string sharing its bytes, for probes (which
// only compare it, so it needs no copy), and its hash.
func (t *groupTable) encoded(key []byte) (string, uint64) {
	return unsafe.String(unsafe.SliceData(key), len(key)), maphash.Bytes(t.seed, key)
}

// stringBytes returns the bytes of s, shared, for reading only.
func stringBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// findKey returns the group of an encoded key, adding it when absent
// (added).
func (t *groupTable) findKey(key []byte) (g int32, added bool) {
	k, h := t.encoded(key)
	g, p := t.probeKey(k, h)
	if g >= 0 {
		return g, false
	}
	return t.insertKey(string(key), h, p), true
}

// insertKey adds a group of encoded key k, hashing to h, at slot p, the
// empty slot where probeKey found it would go. The group keeps k.
func (t *groupTable) insertKey(k string, h, p uint64) int32 {
	g := t.alloc()
	if t.widenIDs(g) {
		_, p = t.probeKey(k, h)
	}
	t.strKeys[g>>groupPageBits][g&(groupPage-1)] = k
	t.strBytes += len(k)
	t.slots[p] = t.slot(h, g)
	t.setIndexed(g)
	t.grown()
	return g
}

// adoptKey returns the group of the key of group g of from (a table of
// the same nk), adding it when absent: an encoded key's string is shared,
// not copied.
func (t *groupTable) adoptKey(from *groupTable, g int32) int32 {
	if t.nk > 0 {
		ng, _ := t.findPacked(from.packedKey(g))
		return ng
	}
	k := from.strKey(g)
	h := maphash.String(t.seed, k)
	ng, p := t.probeKey(k, h)
	if ng < 0 {
		ng = t.insertKey(k, h, p)
	}
	return ng
}

// keyBytes estimates what a group's key costs: its packed words, or its
// encoding's string (header and bytes at the mean length of the keys
// indexed, rounded up to a word as the allocator does).
func (t *groupTable) keyBytes() int64 {
	if t.nk > 0 {
		return int64(8 * t.nk)
	}
	if t.live == 0 {
		return 16
	}
	return 16 + int64((t.strBytes/t.live+7)&^7)
}

// unindex removes group g from the key index; its id and state stay until
// released.
func (t *groupTable) unindex(g int32) {
	t.markDirty(g)
	t.clearIndexed(g)
	t.live--
	mask, idMask := uint64(len(t.slots)-1), t.idMask()
	p := t.hashGroup(g) & mask
	for t.slots[p]&idMask != uint32(g+1) {
		p = (p + 1) & mask
	}
	backshiftDelete(t.slots, int(p), func(s uint32) int { return int(t.hashGroup(int32(s&idMask)-1) & mask) })
	if t.nk == 0 {
		t.strBytes -= len(t.strKey(g))
		t.strKeys[g>>groupPageBits][g&(groupPage-1)] = ""
	}
}

// backshiftDelete empties slot p of an open-addressing table (linear
// probing, 0 for an empty slot) and moves up every later entry of its run
// whose home slot is not between the hole and it, so that no probe meets a
// hole before its key and no tombstones pile up.
func backshiftDelete[S uint32 | uint64](slots []S, p int, home func(S) int) {
	mask := len(slots) - 1
	for j := p; ; {
		slots[p] = 0
		for {
			j = (j + 1) & mask
			s := slots[j]
			if s == 0 {
				return
			}
			if (j-home(s))&mask >= (j-p)&mask {
				slots[p] = s
				p = j
				break
			}
		}
	}
}
