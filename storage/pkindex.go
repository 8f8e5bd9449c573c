package storage

import "encoding/binary"

// pkIndex maps primary-key index keys (see appendKey) to live positions.
// A single integer key column, the common case, uses a map keyed by the
// int64 itself: no string per row, and faster probes.
type pkIndex struct {
	ints map[int64]int32
	strs map[string]int32
}

func newPKIndex(intKey bool) *pkIndex {
	if intKey {
		return &pkIndex{ints: map[int64]int32{}}
	}
	return &pkIndex{strs: map[string]int32{}}
}

// intOf decodes the 9-byte key of a non-NULL int64 (0x01 + flipped BE).
func intOf(k string) (int64, bool) {
	if len(k) != 9 || k[0] != 0x01 {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64([]byte(k[1:])) ^ (1 << 63)), true
}

func (x *pkIndex) get(k string) (int, bool) {
	if x.ints != nil {
		i, ok := intOf(k)
		if !ok {
			return 0, false
		}
		p, ok := x.ints[i]
		return int(p), ok
	}
	p, ok := x.strs[k]
	return int(p), ok
}

func (x *pkIndex) set(k string, pos int) {
	if x.ints != nil {
		if i, ok := intOf(k); ok {
			x.ints[i] = int32(pos)
		}
		return
	}
	x.strs[k] = int32(pos)
}

func (x *pkIndex) del(k string) {
	if x.ints != nil {
		if i, ok := intOf(k); ok {
			delete(x.ints, i)
		}
		return
	}
	delete(x.strs, k)
}
