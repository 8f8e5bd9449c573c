package dataflow

import (
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
