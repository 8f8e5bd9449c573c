package dataflow

import (
	"runtime"
	"sort"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// ConsolidatePages is ConsolidateChunks for the rows of a restored view
// (its base's rows, of types typs, with its deltas' changes), laid out
// for the arrangement's bulk load to adopt as its pages instead of
// copying them: first the chunks of cs that fill a page and whose every
// row stays, as they are (their diffs the sums); then the rows that stay
// of the other chunks, copied into chunks of a page each (the last may be
// shorter), their columns cut from blocks advised for huge pages, a range
// of pages on each CPU. The rows' order is not kept: a view's rows are a
// set.
//
// NB: consolidated chunk by chunk, every chunk a delta touched was
// gathered into one of its own length, and the load copied each chunk
// from the first such one on into new pages: two copies of the rows, in
// small pages, where a delta changes a row of every page.
func ConsolidatePages(cs []*coldata.Chunk, typs []*types.T) []*coldata.Chunk {
	rows := newChunkRows(cs)
	sums := rows.sums()
	var out []*coldata.Chunk
	// packed are the chunks whose rows that stay are copied, first[k]
	// the number of those rows in the packed chunks before packed[k].
	var packed []*coldata.Chunk
	var bases []int
	first := []int{0}
	for ci, c := range cs {
		base := rows.starts[ci]
		stay := 0
		for _, d := range sums[base : base+c.Len] {
			if d != 0 {
				stay++
			}
		}
		switch {
		case stay == c.Len && pageSized(c):
			x := *c
			x.Diffs = sums[base : base+c.Len : base+c.Len]
			out = append(out, &x)
		case stay > 0:
			packed = append(packed, c)
			bases = append(bases, base)
			first = append(first, first[len(first)-1]+stay)
		}
	}
	n := first[len(first)-1]
	pages := make([]*coldata.Chunk, (n+versionPageRows-1)>>versionPageBits)
	parts := min(runtime.GOMAXPROCS(0), len(pages))
	forEach(parts, func(w int) {
		lo, hi := w*len(pages)/parts, (w+1)*len(pages)/parts
		from, to := lo<<versionPageBits, min(hi<<versionPageBits, n)
		// The packed chunk holding the part's first row.
		k := sort.SearchInts(first, from+1) - 1
		p := pagePacker{packed: packed, bases: bases, sums: sums, typs: typs, blocks: &columnBlocks{rows: to - from}, k: k}
		for skip := from - first[k]; skip > 0; p.i++ {
			if sums[bases[k]+p.i] != 0 {
				skip--
			}
		}
		for pg := lo; pg < hi; pg++ {
			pages[pg] = p.page(min(versionPageRows, n-pg<<versionPageBits))
		}
	})
	return append(out, pages...)
}

// pagePacker copies the rows that stay (their sums nonzero) of the packed
// chunks into pages, in order, from row i of packed[k] on.
type pagePacker struct {
	packed []*coldata.Chunk
	bases  []int // the number of each packed chunk's first row
	sums   []int64
	typs   []*types.T
	blocks *columnBlocks
	k, i   int
	runs   []packRun
}

// packRun is a run of rows copied into a page: rows [from, from+n) of
// packed chunk k to rows [to, to+n).
type packRun struct{ k, from, n, to int }

// page returns a chunk of the next size rows that stay, copied a column
// at a time.
func (p *pagePacker) page(size int) *coldata.Chunk {
	p.runs = p.runs[:0]
	for to := 0; to < size; {
		c, base := p.packed[p.k], p.bases[p.k]
		for ; p.i < c.Len && to < size; p.i++ {
			if p.sums[base+p.i] == 0 {
				continue
			}
			if r := len(p.runs) - 1; r >= 0 && p.runs[r].k == p.k && p.runs[r].from+p.runs[r].n == p.i {
				p.runs[r].n++
			} else {
				p.runs = append(p.runs, packRun{k: p.k, from: p.i, n: 1, to: to})
			}
			to++
		}
		if p.i == c.Len && p.k+1 < len(p.packed) {
			p.k, p.i = p.k+1, 0
		}
	}
	out := &coldata.Chunk{Len: size, Cols: make([]*coldata.Vec, len(p.typs))}
	out.Diffs = cutBlock(&p.blocks.ints, size, min(p.blocks.rows, columnBlockRows))[:size]
	for _, r := range p.runs {
		at := p.bases[r.k] + r.from
		copy(out.Diffs[r.to:r.to+r.n], p.sums[at:at+r.n])
	}
	for j, t := range p.typs {
		col := p.blocks.filledVec(t, size)
		for _, r := range p.runs {
			col.SetRange(r.to, p.packed[r.k].Cols[j], r.from, r.n)
		}
		out.Cols[j] = col
	}
	return out
}
