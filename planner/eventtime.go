package planner

import (
	"github.com/sluice-db/sluice/dataflow"
	"github.com/sluice-db/sluice/exec"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/timewindow"
	"github.com/sluice-db/sluice/types"
)

// A GROUP BY whose key holds a window's end over an append-only input has
// groups that close: once the input's watermark reaches the window's end,
// no row of the window can come. The dataflow then frees their state, and
// under EMIT ON WINDOW CLOSE emits their rows only then. The analysis here
// finds that window and proves the input append-only, with the window's
// time column bounded by the watermark. A SESSION window's end is bounded
// too: its output retracts rows when sessions merge, but only rows of
// sessions still open, which end after the watermark.

// errOnWindowClose is the refusal of EMIT ON WINDOW CLOSE for a view whose
// query lacks what it needs, named by what.
func errOnWindowClose(what string) *sqlerr.Error {
	return sqlerr.Unsupported("EMIT ON WINDOW CLOSE needs %s", what).
		WithHint("Group by window_end of TUMBLE, HOP, CUMULATE or SESSION over a stream, or use EMIT CHANGES.")
}

// onCloseAggregate returns the GROUP BY at the top of a view's plan (under
// its projections, HAVING filter and ORDER BY), which EMIT ON WINDOW CLOSE
// applies to.
func onCloseAggregate(p exec.Plan) (*exec.HashAgg, error) {
	for {
		switch q := p.(type) {
		case *exec.Project:
			p = q.Input
		case *exec.Sort:
			p = q.Input
		case *exec.Filter:
			if hasSubquery(q.Cond) {
				// A HAVING subquery becomes a join that can retract
				// emitted rows.
				return nil, errOnWindowClose("a HAVING clause without subqueries")
			}
			p = q.Input
		case *exec.HashAgg:
			if len(q.Keys) == 0 {
				return nil, errOnWindowClose("a GROUP BY on window_end of a window table function")
			}
			return q, nil
		default:
			return nil, errOnWindowClose("a GROUP BY on window_end of a window table function at the top of the query")
		}
	}
}

// aggWindow finds the closing window of a GROUP BY: a key column that is
// window_end (or window_start of TUMBLE or HOP, whose end is start + size)
// of a window over an append-only input whose time column the input's
// watermark bounds. nil when there is none; why says what is missing.
// SESSION needs window_end: sessions that share a start can end apart.
func aggWindow(a *exec.HashAgg) (w *dataflow.AggWindow, why string) {
	why = "a GROUP BY on window_end of a window table function"
	for i, k := range a.Keys {
		wa, end := windowOf(a.Input, k)
		if wa == nil {
			continue
		}
		if !end && wa.Spec.Kind == timewindow.Session {
			why = "a GROUP BY on window_end of SESSION (window_start does not fix a session's end)"
			continue
		}
		if !end && wa.Spec.Kind == timewindow.Cumulate {
			why = "a GROUP BY on window_end of CUMULATE (window_start does not tell its windows apart)"
			continue
		}
		// Both refuse what lies between the window and the GROUP BY, such
		// as a subquery condition (a join that can retract rows).
		bounded := eventTime(a.Input, k)
		if !end {
			bounded = appendOnly(a.Input) && eventTime(wa.Input, wa.Time.Idx)
		}
		if !bounded {
			return nil, "an append-only input whose window time is a stream's WATERMARK FOR column (streams, their filters, projections, UNION ALL and interval joins)"
		}
		ew := &dataflow.AggWindow{Key: i}
		if !end {
			ew.EndOffset = wa.Spec.Size
		}
		if w == nil || end && w.EndOffset != 0 {
			w = ew
		}
	}
	if w == nil {
		return nil, why
	}
	return w, ""
}

// windowOf traces column col of p through projections and filters to
// a window table function: the window whose window_end (end) or
// window_start (!end) it is, or nil.
func windowOf(p exec.Plan, col int) (w *exec.WindowAssign, end bool) {
	for {
		switch q := p.(type) {
		case *exec.Project:
			cr, ok := q.Exprs[col].(*expr.ColRef)
			if !ok {
				return nil, false
			}
			p, col = q.Input, cr.Idx
		case *exec.Filter:
			p = q.Input
		case *exec.WindowAssign:
			n := len(q.Input.Types())
			if col >= n {
				return q, col == n+1
			}
			p = q.Input
		default:
			return nil, false
		}
	}
}

// eventTime reports whether p's column col is the event time of a stream,
// its WATERMARK FOR column (or a window end of it): every change still to
// come on that column is at or after p's watermark. p is append-only, or
// retracts only rows of SESSION windows still open, which end after the
// watermark. Through a join only for an interval join's time columns:
// otherwise a row that arrives late on one side joins old rows of the
// other, whose times can be far behind.
func eventTime(p exec.Plan, col int) bool {
	switch q := p.(type) {
	case *exec.Scan:
		return q.Table.Stream && q.Table.EventTime == col
	case *exec.Filter:
		return !hasSubquery(q.Cond) && eventTime(q.Input, col)
	case *exec.Project:
		cr, ok := q.Exprs[col].(*expr.ColRef)
		return ok && eventTime(q.Input, cr.Idx)
	case *exec.WindowAssign:
		// A row's window ends are after its time, so window_end is bounded
		// by the watermark as the time is; window_start is not (a row just
		// past the watermark starts a window before it, or extends an open
		// session back). SESSION passes no other column: a merge retracts
		// and inserts old rows again, whatever their times.
		switch n := len(q.Input.Types()); {
		case col == n:
			return false
		case col == n+1:
			col = q.Time.Idx
		case q.Spec.Kind == timewindow.Session:
			return false
		}
		return eventTime(q.Input, col)
	case *exec.Distinct:
		return len(q.OnKeys) == 0 && eventTime(q.Input, col)
	case *exec.SetOp:
		return q.Kind == exec.Union && q.All && eventTime(q.Left, col) && eventTime(q.Right, col)
	case *exec.Join:
		// Only an interval join's time columns: its watermark lags its
		// inputs' by the interval, so that it bounds them.
		iv := joinInterval(q)
		return iv != nil && (col == iv.LeftTime || col == len(q.Left.Types())+iv.RightTime)
	}
	return false
}

// appendOnly reports whether p only ever inserts rows (over streams).
func appendOnly(p exec.Plan) bool {
	switch q := p.(type) {
	case *exec.Scan:
		return q.Table.Stream
	case *exec.Filter:
		return !hasSubquery(q.Cond) && appendOnly(q.Input)
	case *exec.Project:
		return appendOnly(q.Input)
	case *exec.WindowAssign:
		return q.Spec.Kind != timewindow.Session && appendOnly(q.Input)
	case *exec.Distinct:
		return len(q.OnKeys) == 0 && appendOnly(q.Input)
	case *exec.Join:
		return (q.Kind == exec.InnerJoin || q.Kind == exec.SemiJoin) && (q.Cond == nil || !hasSubquery(q.Cond)) && appendOnly(q.Left) && appendOnly(q.Right)
	case *exec.SetOp:
		return q.Kind == exec.Union && q.All && appendOnly(q.Left) && appendOnly(q.Right)
	}
	return false
}

// joinInterval recognises an interval join: an inner join of append-only
// inputs whose condition bounds the distance of a left and a right event
// time from both sides (`l.ts BETWEEN r.ts - INTERVAL … AND r.ts + INTERVAL
// …`, or the same with comparisons), with intervals of fixed length (no
// months or days). nil when it is not one.
func joinInterval(j *exec.Join) *dataflow.JoinInterval {
	if j.Kind != exec.InnerJoin || j.Cond == nil || !appendOnly(j.Left) || !appendOnly(j.Right) {
		return nil
	}
	width := len(j.Left.Types())
	var iv *dataflow.JoinInterval
	hasLower, hasUpper := false, false
	for _, c := range splitAnd(j.Cond) {
		call, ok := c.(*expr.Call)
		if !ok || len(call.Args) != 2 {
			continue
		}
		a, aOff, okA := timeOffset(call.Args[0])
		b, bOff, okB := timeOffset(call.Args[1])
		if !okA || !okB || (a < width) == (b < width) {
			continue
		}
		// a + aOff op b + bOff, with one column on each side: as l - r op v.
		op, l, r, v := call.Fn.Name, a, b-width, bOff-aOff
		if a >= width {
			op, l, r, v = flipComparison(op), b, a-width, aOff-bOff
		}
		if iv == nil {
			iv = &dataflow.JoinInterval{LeftTime: l, RightTime: r}
		} else if iv.LeftTime != l || iv.RightTime != r {
			continue
		}
		// Strict bounds are kept as inclusive ones: the state lives a
		// moment longer, never too short.
		switch op {
		case ">=", ">":
			if !hasLower || v > iv.Lower {
				iv.Lower, hasLower = v, true
			}
		case "<=", "<":
			if !hasUpper || v < iv.Upper {
				iv.Upper, hasUpper = v, true
			}
		}
	}
	if iv == nil || !hasLower || !hasUpper || iv.Lower > iv.Upper ||
		!eventTime(j.Left, iv.LeftTime) || !eventTime(j.Right, iv.RightTime) {
		return nil
	}
	return iv
}

func flipComparison(op string) string {
	return map[string]string{">=": "<=", ">": "<", "<=": ">=", "<": ">"}[op]
}

// timeOffset reads e as a timestamp column plus a constant fixed-length
// interval (col + off, in microseconds).
func timeOffset(e expr.Expr) (col int, off int64, ok bool) {
	switch x := e.(type) {
	case *expr.ColRef:
		f := x.Typ.Family
		return x.Idx, 0, f == types.TimestampFamily || f == types.TimestampTZFamily
	case *expr.Call:
		if len(x.Args) != 2 || x.Fn.Name != "+" && x.Fn.Name != "-" {
			return 0, 0, false
		}
		k, ok := x.Args[1].(*expr.Const)
		if !ok || k.Val == nil {
			return 0, 0, false
		}
		iv, ok := k.Val.(types.IntervalValue)
		if !ok || iv.Months != 0 || iv.Days != 0 || iv.Micros > timewindow.MaxLength || iv.Micros < -timewindow.MaxLength {
			return 0, 0, false
		}
		col, off, ok := timeOffset(x.Args[0])
		if !ok || off != 0 {
			return 0, 0, false
		}
		if x.Fn.Name == "-" {
			return col, -iv.Micros, true
		}
		return col, iv.Micros, true
	}
	return 0, 0, false
}
