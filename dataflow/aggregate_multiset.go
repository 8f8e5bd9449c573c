package dataflow

// multisetBlock is the largest block of a multiset: an insert or delete
// moves at most this many entries.
const multisetBlock = 256

// multiset is an ordered multiset of values keyed by their order-preserving
// encoding (Vec.AppendKey, appendSortKey), each key with a count and one
// representative value. It is what min, max, string_agg and array_agg need
// to stay correct under deletions: the extremes and the ordered contents of
// whatever is left.
//
// Entries live in sorted blocks so that an insert or delete moves at most
// multisetBlock entries whatever the size of the group.
type multiset struct {
	blocks [][]multisetEntry
	// negative counts the entries whose count is below zero: a delete that
	// overtook its insert on another worker's exchange path. Zero at every
	// epoch end, unless a row was deleted that was never inserted.
	negative int
}

type multisetEntry struct {
	// hi and lo are the key's first 16 bytes, big-endian and zero-padded,
	// so that most comparisons end without following the key's pointer.
	hi, lo uint64
	key    string
	val    any
	n      int64
}

// less reports whether e's key sorts before key, whose prefix is hi, lo.
// Zero padding sorts no higher than any byte a longer key has in its place,
// so prefixes that differ order the keys as the keys do.
func (e *multisetEntry) less(hi, lo uint64, key []byte) bool {
	switch {
	case e.hi != hi:
		return e.hi < hi
	case e.lo != lo:
		return e.lo < lo
	}
	return e.key < string(key)
}

// len returns the number of entries.
func (m *multiset) len() int {
	n := 0
	for _, b := range m.blocks {
		n += len(b)
	}
	return n
}

// find returns where key is, or where it would be inserted: block b, index
// i within it.
func (m *multiset) find(key []byte) (b, i int, found bool) {
	ph, pl := keyPrefix(key, 0), keyPrefix(key, 8)
	// The first block whose last key is >= key holds key or its successor.
	lo, hi := 0, len(m.blocks)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		blk := m.blocks[mid]
		if blk[len(blk)-1].less(ph, pl, key) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == len(m.blocks) {
		if lo == 0 {
			return 0, 0, false
		}
		return lo - 1, len(m.blocks[lo-1]), false
	}
	blk := m.blocks[lo]
	i, hi = 0, len(blk)
	for i < hi {
		mid := int(uint(i+hi) >> 1)
		if blk[mid].less(ph, pl, key) {
			i = mid + 1
		} else {
			hi = mid
		}
	}
	return lo, i, i < len(blk) && blk[i].hi == ph && blk[i].lo == pl && blk[i].key == string(key)
}

// add changes the count of key by d and returns its count before and after.
// A new key is inserted with value val(), called only then so that rows of
// existing keys allocate nothing; a key whose count reaches zero is removed.
func (m *multiset) add(key []byte, d int64, val func() any) (before, after int64) {
	b, i, found := m.find(key)
	if !found {
		if d == 0 {
			return 0, 0
		}
		hi, lo := keyPrefix(key, 0), keyPrefix(key, 8)
		m.insert(b, i, multisetEntry{hi: hi, lo: lo, key: string(key), val: val(), n: d})
		if d < 0 {
			m.negative++
		}
		return 0, d
	}
	e := &m.blocks[b][i]
	before, after = e.n, e.n+d
	e.n = after
	switch {
	case before < 0 && after >= 0:
		m.negative--
	case before >= 0 && after < 0:
		m.negative++
	}
	if after == 0 {
		m.remove(b, i)
	}
	return before, after
}

func (m *multiset) insert(b, i int, e multisetEntry) {
	if len(m.blocks) == 0 {
		m.blocks = [][]multisetEntry{{e}}
		return
	}
	blk := append(m.blocks[b], multisetEntry{})
	copy(blk[i+1:], blk[i:])
	blk[i] = e
	m.blocks[b] = blk
	if len(blk) <= multisetBlock {
		return
	}
	// Split the full block in halves, except at either end of the multiset:
	// values arriving in order (timestamps) then start a new block and leave
	// the full one full.
	var left, right []multisetEntry
	switch {
	case b == len(m.blocks)-1 && i == len(blk)-1:
		blk[i] = multisetEntry{}
		left, right = blk[:i], []multisetEntry{e}
	case b == 0 && i == 0:
		blk[0] = multisetEntry{}
		left, right = []multisetEntry{e}, blk[1:]
	default:
		half := len(blk) / 2
		right = append(make([]multisetEntry, 0, multisetBlock+1), blk[half:]...)
		clear(blk[half:])
		left = blk[:half]
	}
	m.blocks[b] = left
	m.blocks = append(m.blocks, nil)
	copy(m.blocks[b+2:], m.blocks[b+1:])
	m.blocks[b+1] = right
}

func (m *multiset) remove(b, i int) {
	blk := m.blocks[b]
	copy(blk[i:], blk[i+1:])
	blk[len(blk)-1] = multisetEntry{}
	blk = blk[:len(blk)-1]
	if len(blk) > 0 {
		m.blocks[b] = blk
		return
	}
	copy(m.blocks[b:], m.blocks[b+1:])
	m.blocks[len(m.blocks)-1] = nil
	m.blocks = m.blocks[:len(m.blocks)-1]
}

// first and last return the smallest and largest entries; ok is false when
// the multiset is empty.
func (m *multiset) first() (e *multisetEntry, ok bool) {
	if len(m.blocks) == 0 {
		return nil, false
	}
	return &m.blocks[0][0], true
}

func (m *multiset) last() (e *multisetEntry, ok bool) {
	if len(m.blocks) == 0 {
		return nil, false
	}
	blk := m.blocks[len(m.blocks)-1]
	return &blk[len(blk)-1], true
}

// all calls fn for every entry in key order.
func (m *multiset) all(fn func(e *multisetEntry)) {
	for _, blk := range m.blocks {
		for i := range blk {
			fn(&blk[i])
		}
	}
}
