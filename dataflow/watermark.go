package dataflow

import "math"

// Event-time watermarks travel with the barrier, once an epoch: a node's
// watermark is the minimum of its inputs' (a completeness frontier in Unix
// microseconds: every row with an earlier event time that the input will
// ever carry has been pushed). Operators never see them per row.
const (
	// NoWatermark is the watermark of an input that has none (a stream
	// without WATERMARK FOR, or before its first event): nothing is
	// complete. It holds back every minimum it takes part in.
	NoWatermark int64 = math.MinInt64
	// Unconstrained is the watermark of reference data (a table, a
	// constant): it never holds back a minimum. A dataflow over reference
	// data only has this watermark.
	Unconstrained int64 = math.MaxInt64
)

// watermarkObserver is an operator whose state or output depends on event
// time being complete: before each Flush the runtime gives it every input
// port's watermark for the epoch, and it returns its output's (other
// operators' is the minimum of their inputs').
type watermarkObserver interface {
	Advance(in []int64) int64
}

// shiftWatermark moves w by d, keeping NoWatermark and Unconstrained and
// saturating in between.
func shiftWatermark(w, d int64) int64 {
	if w == NoWatermark || w == Unconstrained {
		return w
	}
	s := w + d
	switch {
	case d > 0 && s < w:
		return Unconstrained - 1
	case d < 0 && s > w:
		return NoWatermark + 1
	}
	return s
}

// minWatermark is the minimum of ws; Unconstrained for none.
func minWatermark(ws []int64) int64 {
	m := Unconstrained
	for _, w := range ws {
		m = min(m, w)
	}
	return m
}
