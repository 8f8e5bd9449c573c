package coldata

import (
	"slices"

	"github.com/sluice-db/sluice/types"
)

// DefaultChunkSize is the number of rows batch operators aim to put in a chunk.
const DefaultChunkSize = 1024

// Chunk is a set of rows stored column by column. All vectors have Len rows.
// Diffs, when non-nil, gives each row's multiplicity change in a change chunk
// (+n inserts n copies, -n deletes n); batch results leave it nil. A nil
// vector is a column its readers never look at (a dataflow filter does not
// gather the columns the projection after it drops); Gather keeps it nil.
type Chunk struct {
	Cols  []*Vec
	Len   int
	Diffs []int64
}

// AllColumns returns the ordinals 0..n-1: every column of rows of n
// columns, where a list of columns is asked for.
func AllColumns(n int) []int {
	cols := make([]int, n)
	for i := range cols {
		cols[i] = i
	}
	return cols
}

// NewChunk returns an empty chunk with one vector per type.
func NewChunk(ts []*types.T, capacity int) *Chunk {
	c := &Chunk{Cols: make([]*Vec, len(ts))}
	for i, t := range ts {
		c.Cols[i] = NewVec(t, capacity)
	}
	return c
}

// AppendRow appends one row of Datums.
func (c *Chunk) AppendRow(row []types.Datum) {
	for i, d := range row {
		c.Cols[i].Append(d)
	}
	c.Len++
}

// AppendFrom appends row i of src, which has the same column types.
func (c *Chunk) AppendFrom(src *Chunk, i int) {
	for j, v := range c.Cols {
		v.AppendFrom(src.Cols[j], i)
	}
	if src.Diffs != nil {
		c.Diffs = append(c.Diffs, src.Diffs[i])
	}
	c.Len++
}

// Row returns row i as Datums (boxing; for row boundaries).
func (c *Chunk) Row(i int) []types.Datum {
	row := make([]types.Datum, len(c.Cols))
	for j, v := range c.Cols {
		row[j] = v.Get(i)
	}
	return row
}

// Gather returns a new chunk holding rows sel of c.
func (c *Chunk) Gather(sel []int) *Chunk {
	out := &Chunk{Cols: make([]*Vec, len(c.Cols)), Len: len(sel)}
	for j, v := range c.Cols {
		if v != nil {
			out.Cols[j] = v.Gather(sel)
		}
	}
	if c.Diffs != nil {
		out.Diffs = make([]int64, len(sel))
		for k, i := range sel {
			out.Diffs[k] = c.Diffs[i]
		}
	}
	return out
}

// GatherInto sets out to rows sel of c, reusing out's vectors and diffs
// (see Vec.GatherInto).
func (c *Chunk) GatherInto(out *Chunk, sel []int) {
	if len(out.Cols) != len(c.Cols) {
		out.Cols = make([]*Vec, len(c.Cols))
	}
	for j, v := range c.Cols {
		switch {
		case v == nil:
			out.Cols[j] = nil
		case out.Cols[j] == nil:
			out.Cols[j] = v.Gather(sel)
		default:
			v.GatherInto(out.Cols[j], sel)
		}
	}
	out.Len = len(sel)
	if c.Diffs == nil {
		out.Diffs = nil
		return
	}
	out.Diffs = slices.Grow(out.Diffs[:0], len(sel))[:len(sel)]
	for k, i := range sel {
		out.Diffs[k] = c.Diffs[i]
	}
}

// Slice returns rows [lo, hi) of c sharing its memory. Columns left nil
// (a filter leaves those nobody reads) stay nil, as in Gather.
func (c *Chunk) Slice(lo, hi int) *Chunk {
	out := &Chunk{Cols: make([]*Vec, len(c.Cols)), Len: hi - lo}
	for j, v := range c.Cols {
		if v != nil {
			out.Cols[j] = v.Slice(lo, hi)
		}
	}
	if c.Diffs != nil {
		out.Diffs = c.Diffs[lo:hi:hi]
	}
	return out
}

// Types returns the column types.
func (c *Chunk) Types() []*types.T {
	ts := make([]*types.T, len(c.Cols))
	for i, v := range c.Cols {
		ts[i] = v.Typ
	}
	return ts
}

// Reset empties c, keeping its memory (see Vec.Reset).
func (c *Chunk) Reset() {
	for _, v := range c.Cols {
		v.Reset()
	}
	if c.Diffs != nil {
		c.Diffs = c.Diffs[:0]
	}
	c.Len = 0
}

// Grow makes room for n more rows in every vector and the diffs (see
// Reserve).
func (c *Chunk) Grow(n int) {
	for _, v := range c.Cols {
		v.Grow(n)
	}
	if c.Diffs != nil {
		c.Diffs = Reserve(c.Diffs, n)
	}
}

// Clone returns a copy of c that shares no memory a writer changes: its
// own vectors, nulls and diffs (nil diffs stay nil), for handing to another
// goroutine or keeping past the producer's reuse of c. Strings and Datums,
// values never written in place, are shared.
func (c *Chunk) Clone() *Chunk {
	out := NewChunk(c.Types(), c.Len)
	out.AppendChunk(c)
	return out
}

// AppendChunk appends all rows of src, which has the same column types.
func (c *Chunk) AppendChunk(src *Chunk) {
	if src.Len == 0 {
		return
	}
	for j, v := range c.Cols {
		v.AppendVec(src.Cols[j], src.Len)
	}
	if src.Diffs != nil {
		c.Diffs = append(c.Diffs, src.Diffs...)
	}
	c.Len += src.Len
}
