package dataflow

import (
	"github.com/sluice-db/sluice/coldata"
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

// Consolidate sums the diffs of equal rows and drops rows whose diffs sum to
// zero. The first occurrence of a row keeps its place.
func Consolidate(c *coldata.Chunk) *coldata.Chunk {
	if c.Len == 0 {
		return c
	}
	first := make(map[string]int, c.Len)
	sum := make([]int64, 0, c.Len)
	sel := make([]int, 0, c.Len)
	var key []byte
	for i := 0; i < c.Len; i++ {
		key = RowIdentity(key[:0], c, nil, i)
		if j, ok := first[string(key)]; ok {
			sum[j] += c.Diffs[i]
			continue
		}
		first[string(key)] = len(sel)
		sel = append(sel, i)
		sum = append(sum, c.Diffs[i])
	}
	keep := sel[:0]
	diffs := make([]int64, 0, len(sel))
	for j, i := range sel {
		if sum[j] != 0 {
			keep = append(keep, i)
			diffs = append(diffs, sum[j])
		}
	}
	out := c.Gather(keep)
	out.Diffs = diffs
	return out
}
