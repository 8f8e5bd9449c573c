package exec

import (
	"cmp"
	"slices"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

type sortOp struct {
	c    *Ctx
	in   Operator
	plan *Sort
	done bool
}

func (s *sortOp) Next() (*coldata.Chunk, error) {
	if s.done {
		return nil, nil
	}
	s.done = true
	all, err := drain(s.in, s.plan.Types(), 0)
	if err != nil {
		return nil, err
	}
	perm := sortPerm(all, s.plan.Keys)
	return all.Gather(perm), nil
}

// sortPerm returns the stable ordering of ch's rows by keys.
func sortPerm(ch *coldata.Chunk, keys []SortKey) []int {
	perm := make([]int, ch.Len)
	for i := range perm {
		perm[i] = i
	}
	cmps := make([]func(a, b int) int, len(keys))
	for k, key := range keys {
		cmps[k] = columnComparator(ch.Cols[key.Col], key)
	}
	slices.SortStableFunc(perm, func(a, b int) int {
		for _, c := range cmps {
			if r := c(a, b); r != 0 {
				return r
			}
		}
		return 0
	})
	return perm
}

// columnComparator compares two rows of one column under a sort key. NULLs
// sort last ascending and first descending unless NULLS FIRST/LAST says otherwise.
func columnComparator(v *coldata.Vec, key SortKey) func(a, b int) int {
	var base func(a, b int) int
	switch v.Typ.Phys() {
	case types.PhysInt:
		base = func(a, b int) int { return cmp.Compare(v.Ints[a], v.Ints[b]) }
	case types.PhysFloat:
		base = func(a, b int) int { return types.Compare(v.Typ, v.Floats[a], v.Floats[b]) }
	case types.PhysBytes:
		if v.Typ.Oid == types.OidBPChar || v.Typ.Oid == types.OidJSONB {
			base = func(a, b int) int { return types.Compare(v.Typ, v.Bytes[a], v.Bytes[b]) }
		} else {
			base = func(a, b int) int { return cmp.Compare(v.Bytes[a], v.Bytes[b]) }
		}
	case types.PhysBool:
		base = func(a, b int) int {
			x, y := v.Bools[a], v.Bools[b]
			switch {
			case x == y:
				return 0
			case !x:
				return -1
			}
			return 1
		}
	default:
		base = func(a, b int) int { return types.Compare(v.Typ, v.Get(a), v.Get(b)) }
	}
	sign := 1
	if key.Desc {
		sign = -1
	}
	nullsFirst := key.NullsFirst
	return func(a, b int) int {
		na, nb := v.IsNull(a), v.IsNull(b)
		switch {
		case na && nb:
			return 0
		case na:
			if nullsFirst {
				return -1
			}
			return 1
		case nb:
			if nullsFirst {
				return 1
			}
			return -1
		}
		return sign * base(a, b)
	}
}
