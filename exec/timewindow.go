package exec

import (
	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/timewindow"
)

// windowAssignOp expands each row into its TUMBLE, HOP or CUMULATE windows,
// a block of input rows at a time so that output chunks stay near the
// default chunk size however many windows a row joins.
type windowAssignOp struct {
	c    *Ctx
	in   Operator
	plan *WindowAssign
	cur  *coldata.Chunk // the input chunk being expanded
	pos  int            // its next row
	a    timewindow.Assignment
}

func (w *windowAssignOp) Next() (*coldata.Chunk, error) {
	block := max(1, coldata.DefaultChunkSize/int(w.plan.Spec.WindowsPerRow()))
	for {
		if w.cur == nil || w.pos >= w.cur.Len {
			ch, err := w.in.Next()
			if err != nil || ch == nil {
				return nil, err
			}
			w.cur, w.pos = ch, 0
		}
		hi := min(w.pos+block, w.cur.Len)
		w.a.Reset()
		w.plan.Spec.Assign(w.cur.Cols[w.plan.Time.Idx], w.pos, hi, &w.a)
		w.pos = hi
		if w.a.Len() > 0 {
			return w.a.Apply(w.cur, w.plan.Time.Typ), nil
		}
	}
}

// sessionOp reads its whole input, sorts the rows with a time by partition
// and time, and cuts them into sessions.
type sessionOp struct {
	c    *Ctx
	in   Operator
	plan *WindowAssign
	done bool
}

func (s *sessionOp) Next() (*coldata.Chunk, error) {
	if s.done {
		return nil, nil
	}
	s.done = true
	all, err := drain(s.in, s.plan.Input.Types(), 0)
	if err != nil {
		return nil, err
	}
	all = all.Gather(timewindow.Timed(all.Cols[s.plan.Time.Idx], 0, all.Len, nil))
	keys := make([]SortKey, 0, len(s.plan.PartitionBy)+1)
	for _, p := range s.plan.PartitionBy {
		keys = append(keys, SortKey{Col: p.Idx})
	}
	keys = append(keys, SortKey{Col: s.plan.Time.Idx})
	sorted := all.Gather(sortPerm(all, keys))
	n := sorted.Len
	newPart := make([]bool, n)
	cmps := make([]func(a, b int) int, len(s.plan.PartitionBy))
	for k, p := range s.plan.PartitionBy {
		cmps[k] = columnComparator(sorted.Cols[p.Idx], SortKey{Col: p.Idx})
	}
	for i := 1; i < n; i++ {
		for _, c := range cmps {
			if c(i-1, i) != 0 {
				newPart[i] = true
				break
			}
		}
	}
	starts, ends, keep := make([]int64, n), make([]int64, n), make([]bool, n)
	s.plan.Spec.Sessions(sorted.Cols[s.plan.Time.Idx].Ints, newPart, starts, ends, keep)
	var out timewindow.Assignment
	for i := range n {
		if keep[i] {
			out.Rows = append(out.Rows, i)
			out.Starts = append(out.Starts, starts[i])
			out.Ends = append(out.Ends, ends[i])
		}
	}
	return out.Apply(sorted, s.plan.Time.Typ), nil
}
