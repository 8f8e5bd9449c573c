package dataflow

import (
	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/timewindow"
	"github.com/sluice-db/sluice/types"
)

// WindowAssign is TUMBLE, HOP or CUMULATE: each change row becomes one
// change per window of Spec containing its Time, with window_start and
// window_end appended and the same diff. Window assignment depends on the
// row alone, so the operator is linear (a flat map) and keeps no state.
type WindowAssign struct {
	Spec    timewindow.Spec
	Time    *expr.ColRef
	InTypes []*types.T
}

func (w *WindowAssign) Types() []*types.T {
	return append(append([]*types.T(nil), w.InTypes...), w.Time.Typ, w.Time.Typ)
}

func (w *WindowAssign) String() string {
	return "WindowAssign " + w.Spec.String() + " time=" + w.Time.String()
}

func (w *WindowAssign) Partition(int) []int { return nil }

func (w *WindowAssign) New(*Env) (Operator, error) {
	if w.Spec.Kind == timewindow.Session {
		return nil, sqlerr.Bug("dataflow: SESSION is not a linear window")
	}
	return &windowAssignOp{w: w}, nil
}

type windowAssignOp struct {
	w *WindowAssign
	a timewindow.Assignment
}

// Push expands a block of rows at a time, so that emitted chunks stay near
// the default chunk size however many windows a row joins.
func (o *windowAssignOp) Push(_ int, c *coldata.Chunk, emit Emit) error {
	block := max(1, coldata.DefaultChunkSize/int(o.w.Spec.WindowsPerRow()))
	ts := c.Cols[o.w.Time.Idx]
	for lo := 0; lo < c.Len; lo += block {
		o.a.Reset()
		o.w.Spec.Assign(ts, lo, min(lo+block, c.Len), &o.a)
		if o.a.Len() == 0 {
			continue
		}
		if err := emit(o.apply(c, lo, min(lo+block, c.Len))); err != nil {
			return err
		}
	}
	return nil
}

// apply returns the output rows of rows [lo, hi) of c. When each row is in
// one window, they share c's columns and diffs rather than copies of them
// (a change chunk is read-only to its consumers): gathering every column of
// every row took a fifth of the CPU of a view of bids per minute. Their
// window_start and window_end are the assignment's own vectors, which the
// next block overwrites: an Emit's receiver keeps nothing past the call
// (cloning them allocated 16 bytes a bid of a view of bids per minute).
func (o *windowAssignOp) apply(c *coldata.Chunk, lo, hi int) *coldata.Chunk {
	if !o.a.Run(lo, hi) {
		return o.a.Apply(c, o.w.Time.Typ)
	}
	out := c.Slice(lo, hi)
	out.Cols = append(out.Cols,
		&coldata.Vec{Typ: o.w.Time.Typ, Ints: o.a.Starts},
		&coldata.Vec{Typ: o.w.Time.Typ, Ints: o.a.Ends})
	return out
}

func (o *windowAssignOp) Flush(Emit) error { return nil }
