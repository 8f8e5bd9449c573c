package dataflow

import (
	"hash/maphash"
	"math"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// A join stores each distinct row of a side once, found again by its
// identity: what RowIdentity encodes. Encoding every pushed row costs more
// than the rest of storing it, so identities are hashed and compared on
// the values, which tell them apart exactly as their encodings do: an
// integer, bool or string is its encoding's only source (AppendKey plus,
// where it does not identify, the raw string), a float its bits, an
// interval its three fields. Numerics hash by their class, exponent and
// coefficient and compare by their encoding, other values go by their
// encoding. Consolidation hashes rows so too (identityHashes).

// nullHash stands for NULL among a row's hashed values.
const nullHash = 0x6e756c6c6e756c6c

// mixHash mixes w into h (SplitMix64's multiply-xorshift), so that rows
// differing in any bit of any value spread over the slots.
func mixHash(h, w uint64) uint64 {
	h = (h ^ w) * 0xbf58476d1ce4e5b9
	return h ^ h>>31
}

// hashRows returns the identity hashes of the rows of c, in hs's memory,
// hashing a column at a time.
func (t *joinRows) hashRows(hs []uint32, c *coldata.Chunk) []uint32 {
	n := c.Len
	t.wide = append(t.wide[:0], make([]uint64, n)...)
	t.colHash = append(t.colHash[:0], make([]uint64, n)...)
	t.ident = identityHashes(t.wide, t.colHash, c.Cols, t.seed, t.ident)
	hs = append(hs[:0], make([]uint32, n)...)
	for i, h := range t.wide {
		h *= 0x94d049bb133111eb
		hs[i] = uint32((h ^ h>>29) >> 32)
	}
	return hs
}

// identityHashes sets wide[i] to a hash of the identity of row i of cols
// (len(wide) rows), col being scratch of as many, and returns ident, its
// scratch for encodings: rows of one identity hash alike. A column at a
// time, each value by what tells it apart (above), a numeric by its class,
// exponent and coefficient (types.DecimalIdentityHash).
func identityHashes(wide, col []uint64, cols []*coldata.Vec, seed maphash.Seed, ident []byte) []byte {
	n := len(wide)
	for i := range wide {
		wide[i] = 0x9e3779b97f4a7c15
	}
	for _, v := range cols {
		switch v.Typ.Phys() {
		case types.PhysInt:
			for i, x := range v.Ints[:n] {
				col[i] = uint64(x)
			}
		case types.PhysFloat:
			for i, x := range v.Floats[:n] {
				col[i] = math.Float64bits(x)
			}
		case types.PhysBool:
			for i, x := range v.Bools[:n] {
				col[i] = 0
				if x {
					col[i] = 1
				}
			}
		case types.PhysBytes:
			for i, x := range v.Bytes[:n] {
				col[i] = maphash.String(seed, x)
			}
		case types.PhysDecimal:
			for i := range v.Decs[:n] {
				col[i] = types.DecimalIdentityHash(&v.Decs[i])
			}
		case types.PhysInterval:
			for i, x := range v.Ivals[:n] {
				col[i] = mixHash(uint64(x.Months)<<32|uint64(uint32(x.Days)), uint64(x.Micros))
			}
		default:
			for i := range col {
				ident = v.AppendIdentity(ident[:0], i)
				col[i] = maphash.Bytes(seed, ident)
			}
		}
		// A NULL's typed slot is not part of its identity.
		if v.Nulls != nil {
			for i, null := range v.Nulls[:n] {
				if null {
					col[i] = nullHash
				}
			}
		}
		for i, x := range col {
			wide[i] = mixHash(wide[i], x)
		}
	}
	return ident
}

// equal reports whether stored row r and row i of src have one identity.
func (t *joinRows) equal(r int32, src *coldata.Chunk, i int) bool {
	page, at := t.at(r)
	for c, v := range page.Cols {
		w := src.Cols[c]
		if v.IsNull(at) || w.IsNull(i) {
			if v.IsNull(at) != w.IsNull(i) {
				return false
			}
			continue
		}
		var same bool
		switch v.Typ.Phys() {
		case types.PhysInt:
			same = v.Ints[at] == w.Ints[i]
		case types.PhysFloat:
			same = math.Float64bits(v.Floats[at]) == math.Float64bits(w.Floats[i])
		case types.PhysBool:
			same = v.Bools[at] == w.Bools[i]
		case types.PhysBytes:
			same = v.Bytes[at] == w.Bytes[i]
		case types.PhysInterval:
			same = v.Ivals[at] == w.Ivals[i]
		default:
			t.ident = v.AppendIdentity(t.ident[:0], at)
			t.otherIdent = w.AppendIdentity(t.otherIdent[:0], i)
			same = string(t.ident) == string(t.otherIdent)
		}
		if !same {
			return false
		}
	}
	return true
}
