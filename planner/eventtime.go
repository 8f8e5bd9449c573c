package planner

import (
	"fmt"
	"math"
	"strings"

	"github.com/sluice-db/sluice/dataflow"
	"github.com/sluice-db/sluice/exec"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/timewindow"
	"github.com/sluice-db/sluice/types"
)

// A GROUP BY whose key holds a window's end over an input whose changes
// to come are bounded by its watermark has groups that close: once the
// input's watermark reaches the window's end, no row of the window can
// come. The dataflow then frees their state, and under EMIT ON WINDOW
// CLOSE emits their rows only then. The analysis here finds that window
// and proves its time column bounded (timeBound). A SESSION window's end
// is bounded too: its output retracts rows when sessions merge, but only
// rows of sessions still open, which end after the watermark.
//
// Bounds cross views: a view records which of its columns its watermark
// bounds, and by how much they can lag it (catalog.Table.EventTimes), so
// that a window over an EMIT ON WINDOW CLOSE view (a rollup) closes too.

// errOnWindowClose is the refusal of EMIT ON WINDOW CLOSE for a view whose
// query lacks what it needs, named by what.
func errOnWindowClose(what string) *sqlerr.Error {
	return sqlerr.Unsupported("EMIT ON WINDOW CLOSE needs %s", what).
		WithHint("Group by window_end of TUMBLE, HOP, CUMULATE or SESSION over a stream with WATERMARK FOR (or over a view of one), or use EMIT CHANGES.")
}

// refusal says why a GROUP BY's window does not close, and what would.
type refusal struct {
	what, hint string
}

func (r *refusal) err() *sqlerr.Error {
	e := errOnWindowClose(r.what)
	if r.hint != "" {
		e = e.WithHint("%s", r.hint)
	}
	return e
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
// of a window whose time column the input's watermark bounds. nil when
// there is none; why says what is missing. SESSION needs window_end:
// sessions that share a start can end apart.
//
// The window's EndOffset is how far the key column may lag the input's
// watermark in changes still to come (the size for window_start, plus the
// lag of a view's column): the group closes when key + EndOffset is at or
// below the watermark.
func aggWindow(a *exec.HashAgg) (w *dataflow.AggWindow, why *refusal) {
	why = &refusal{what: "a GROUP BY on window_end of a window table function"}
	for i, k := range a.Keys {
		wa, end := windowOf(a.Input, k)
		if wa == nil {
			continue
		}
		if !end && wa.Spec.Kind == timewindow.Session {
			why = &refusal{what: "a GROUP BY on window_end of SESSION (window_start does not fix a session's end)"}
			continue
		}
		if !end && wa.Spec.Kind == timewindow.Cumulate {
			why = &refusal{what: "a GROUP BY on window_end of CUMULATE (window_start does not tell its windows apart)"}
			continue
		}
		// timeBound refuses what lies between the window and the GROUP
		// BY, such as a subquery condition (a join that can retract rows).
		b, ok := timeBound(a.Input, k)
		if !ok {
			return nil, unbounded(a.Input, k)
		}
		if w == nil || b.Lag < w.EndOffset {
			w = &dataflow.AggWindow{Key: i, EndOffset: b.Lag}
		}
	}
	if w == nil {
		// A window column of a GROUP BY (or closing join) below: a group
		// whose key is at or behind the bound gets no change to come
		// (values on a grid are strictly after it). Not a stream's raw
		// event time: it may be ±infinity, and the window_end of TUMBLE
		// over it says the same.
		for i, k := range a.Keys {
			if wa, _ := windowOf(a.Input, k); wa != nil {
				continue
			}
			b, ok := timeBound(a.Input, k)
			if !ok || b.Grid == 0 {
				continue
			}
			if w == nil || b.Lag < w.EndOffset {
				w = &dataflow.AggWindow{Key: i, EndOffset: b.Lag}
			}
		}
	}
	if w == nil {
		for _, k := range a.Keys {
			if wa, _ := windowOf(a.Input, k); wa == nil && windowBelow(a.Input, k) {
				// A window's column, through what does not keep it
				// bounded (a join): say what.
				return nil, unbounded(a.Input, k)
			}
		}
		return nil, why
	}
	return w, nil
}

// windowBelow reports whether p's column col is a window's window_end
// traced through projections, filters and joins (which windowOf does not
// cross).
func windowBelow(p exec.Plan, col int) bool {
	for {
		switch q := p.(type) {
		case *exec.Project:
			cr, ok := q.Exprs[col].(*expr.ColRef)
			if !ok {
				return false
			}
			p, col = q.Input, cr.Idx
		case *exec.Filter:
			p = q.Input
		case *exec.Join:
			if n := len(q.Left.Types()); col >= n {
				p, col = q.Right, col-n
			} else {
				p = q.Left
			}
		case *exec.WindowAssign:
			if n := len(q.Input.Types()); col < n {
				p = q.Input
				continue
			}
			return true
		default:
			return false
		}
	}
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

// eventTime reports whether the watermark bounds p's column col without
// lag (timeBound with a lag of at most 0): a stream's WATERMARK FOR
// column, a window end of it.
func eventTime(p exec.Plan, col int) bool {
	b, ok := timeBound(p, col)
	return ok && b.Lag <= 0
}

// timeBound reports whether p's watermark bounds its column col, and how:
// after p announces watermark W, every change it makes (insert or
// retraction) has col at or after W - lag, or NULL (exec.TimeBound). A
// stream's WATERMARK FOR column is bounded with lag 0 (rows behind the
// frontier are late, kept aside). A window's end is after its time t
// (strictly: [start, end) holds t), and on the window's grid of ends; its
// start after end - size. When t is on a grid of its own (a window column
// of an inner window or of a view) and the window's ends lie on it, a
// window ending at E holds only t <= E - step: it closes a step earlier.
// SESSION passes on window_end only: a merge retracts and inserts old rows
// again, whatever their times, but only of sessions still open, which end
// after the watermark. Through a join only an interval join's time
// columns: otherwise a row that arrives late on one side joins old rows of
// the other (or a table's change retracts them), whose times can be far
// behind. A GROUP BY whose groups close bounds its window's key columns: a
// closed group never changes again, so its changes are of open windows. A
// materialized view's columns are bounded as its query's were when it was
// created (TableRef.TimeBounds).
func timeBound(p exec.Plan, col int) (b exec.TimeBound, ok bool) {
	switch q := p.(type) {
	case *exec.Scan:
		if q.Table.Stream {
			return b, q.Table.EventTime >= 0 && q.Table.EventTime == col
		}
		b, ok = q.Table.TimeBounds[col]
		return b, ok
	case *exec.Filter:
		if hasSubquery(q.Cond) {
			return b, false
		}
		return timeBound(q.Input, col)
	case *exec.Project:
		cr, ok := q.Exprs[col].(*expr.ColRef)
		if !ok {
			return b, false
		}
		return timeBound(q.Input, cr.Idx)
	case *exec.Sort:
		// Only at the top of a view, which ignores it.
		return timeBound(q.Input, col)
	case *exec.WindowAssign:
		n := len(q.Input.Types())
		if col < n {
			if q.Spec.Kind == timewindow.Session {
				return b, false
			}
			return timeBound(q.Input, col)
		}
		t, ok := timeBound(q.Input, q.Time.Idx)
		if !ok || col == n && q.Spec.Kind == timewindow.Session {
			return b, false
		}
		end := exec.TimeBound{Lag: t.Lag}
		if q.Spec.Kind != timewindow.Session {
			end.Grid, end.Offset = endGrid(q.Spec)
			if t.Grid > 0 && end.Grid%t.Grid == 0 && mod(end.Offset-t.Offset, t.Grid) == 0 {
				end.Lag = satAdd(end.Lag, -t.Grid)
			}
		}
		if col == n+1 {
			return end, true
		}
		start := exec.TimeBound{Lag: satAdd(end.Lag, q.Spec.Size), Grid: q.Spec.Step, Offset: mod(q.Spec.Offset, q.Spec.Step)}
		if q.Spec.Kind == timewindow.Cumulate {
			start.Grid, start.Offset = q.Spec.Size, mod(q.Spec.Offset, q.Spec.Size)
		}
		return start, true
	case *exec.Distinct:
		if len(q.OnKeys) > 0 {
			return b, false
		}
		return timeBound(q.Input, col)
	case *exec.SetOp:
		if q.Kind != exec.Union || !q.All {
			return b, false
		}
		l, okL := timeBound(q.Left, col)
		r, okR := timeBound(q.Right, col)
		b = exec.TimeBound{Lag: max(l.Lag, r.Lag)}
		if l.Grid == r.Grid && l.Offset == r.Offset {
			b.Grid, b.Offset = l.Grid, l.Offset
		}
		return b, okL && okR
	case *exec.Join:
		// Only an interval join's time columns: its watermark lags its
		// inputs' by the interval, so that it bounds them. And a closing
		// join's key columns: a change on either side has them at or
		// after that side's watermark - its lag, the output's watermark
		// being the lesser of the sides'.
		if iv := joinInterval(q); iv != nil {
			return b, col == iv.LeftTime || col == len(q.Left.Types())+iv.RightTime
		}
		c := joinClosing(q)
		if c == nil {
			return b, false
		}
		// A side an outer join NULL-pads passes no bound on.
		left := col == c.LeftCol && q.Kind != exec.RightJoin && q.Kind != exec.FullJoin
		right := col == len(q.Left.Types())+c.RightCol && q.Kind != exec.LeftJoin && q.Kind != exec.FullJoin
		if !left && !right {
			return b, false
		}
		b = exec.TimeBound{Lag: max(c.LeftLag, c.RightLag)}
		// Values on one grid on both sides stay on it.
		l, _ := timeBound(q.Left, c.LeftCol)
		r, _ := timeBound(q.Right, c.RightCol)
		if l.Grid == r.Grid && l.Offset == r.Offset {
			b.Grid, b.Offset = l.Grid, l.Offset
		}
		return b, true
	case *exec.HashAgg:
		if col >= len(q.Keys) {
			return b, false
		}
		w, _ := aggWindow(q)
		if w == nil {
			return b, false
		}
		// A group changes (or, closing, emits) only while key + EndOffset
		// is after the input's watermark, that is key after the output's
		// (the aggregate's watermark lags its input's by EndOffset).
		in, ok := timeBound(q.Input, q.Keys[col])
		if !ok {
			return b, false
		}
		b = exec.TimeBound{Grid: in.Grid, Offset: in.Offset}
		if col == w.Key {
			return b, true
		}
		// Another column of the group's window: its distance from the
		// window's end.
		wa, endW := windowOf(q.Input, q.Keys[w.Key])
		wb, end := windowOf(q.Input, q.Keys[col])
		switch {
		case wb == nil || wb != wa:
			return b, false
		case end == endW:
		case end:
			// The key is TUMBLE's or HOP's window_start: end = start + size.
			b.Lag = satAdd(b.Lag, -wa.Spec.Size)
		case wa.Spec.Kind == timewindow.Session:
			return b, false
		default:
			// window_start of a window of the key's window_end: it starts
			// after end - size.
			b.Lag = satAdd(b.Lag, wa.Spec.Size)
		}
		return b, true
	}
	return b, false
}

// endGrid is the grid a window's ends lie on: offset + size + k * step
// (CUMULATE: offset + k * step, its size a multiple of its step).
func endGrid(s timewindow.Spec) (grid, offset int64) {
	if s.Kind == timewindow.Cumulate {
		return s.Step, mod(s.Offset, s.Step)
	}
	return s.Step, mod(s.Offset+s.Size, s.Step)
}

func mod(a, m int64) int64 {
	r := a % m
	if r < 0 {
		r += m
	}
	return r
}

// satAdd adds lags, saturating.
func satAdd(a, b int64) int64 {
	s := a + b
	switch {
	case b > 0 && s < a:
		return math.MaxInt64
	case b < 0 && s > a:
		return math.MinInt64
	}
	return s
}

// unbounded says what in p keeps its column col from being bounded by a
// watermark (timeBound is false), for a refusal of EMIT ON WINDOW CLOSE,
// with a hint at what would work.
func unbounded(p exec.Plan, col int) *refusal {
	const needs = "a window time column bounded by a watermark (a stream's WATERMARK FOR column, or a window column of a windowed view, through filters, projections, UNION ALL and interval joins)"
	at := func(what, hint string) *refusal {
		return &refusal{what: needs + "; " + what, hint: hint}
	}
	for {
		switch q := p.(type) {
		case *exec.Scan:
			t := q.Table
			name := func(i int) string {
				if i >= 0 && i < len(t.ColNames) {
					return t.ColNames[i]
				}
				return "?"
			}
			if _, ok := timeBound(q, col); ok {
				return at("what lies between it and the window retracts rows", "")
			}
			switch {
			case t.Stream && t.EventTime < 0:
				return at(fmt.Sprintf("stream \"%s\" has no WATERMARK FOR", t.Name),
					"Declare WATERMARK FOR its event-time column in CREATE STREAM, or use EMIT CHANGES.")
			case t.Stream:
				return at(fmt.Sprintf("column \"%s\" of stream \"%s\" is not its WATERMARK FOR column \"%s\"", name(col), t.Name, name(t.EventTime)),
					fmt.Sprintf("Window over \"%s\", or use EMIT CHANGES.", name(t.EventTime)))
			case t.Reference:
				return at(fmt.Sprintf("table \"%s\" has no event time (its rows can change at any time)", t.Name),
					"Window a stream, or use EMIT CHANGES.")
			case len(t.TimeBounds) == 0:
				return at(fmt.Sprintf("materialized view \"%s\" has no column its watermark bounds", t.Name),
					"A view's columns are bounded when it passes on a stream's WATERMARK FOR column or groups by a window of one; otherwise use EMIT CHANGES.")
			default:
				var cols []string
				for i := range t.Types {
					if _, ok := t.TimeBounds[i]; ok {
						cols = append(cols, "\""+name(i)+"\"")
					}
				}
				return at(fmt.Sprintf("column \"%s\" of materialized view \"%s\" is not bounded by its watermark", name(col), t.Name),
					fmt.Sprintf("Window over %s, or use EMIT CHANGES.", strings.Join(cols, " or ")))
			}
		case *exec.Filter:
			if hasSubquery(q.Cond) {
				return at("a subquery condition becomes a join that can retract rows of windows already closed", "")
			}
			p = q.Input
		case *exec.Project:
			cr, ok := q.Exprs[col].(*expr.ColRef)
			if !ok {
				return at("the window time is computed (only a plain column keeps its bound)", "")
			}
			p, col = q.Input, cr.Idx
		case *exec.Sort:
			p = q.Input
		case *exec.WindowAssign:
			n := len(q.Input.Types())
			switch {
			case col == n || col == n+1:
				col = q.Time.Idx
			case q.Spec.Kind == timewindow.Session:
				return at("SESSION passes on its input's columns unbounded (a merge retracts and inserts old rows again)", "Window over window_end of SESSION.")
			}
			p = q.Input
		case *exec.Distinct:
			if len(q.OnKeys) > 0 {
				return at("DISTINCT ON can retract rows", "")
			}
			p = q.Input
		case *exec.SetOp:
			if q.Kind != exec.Union || !q.All {
				return at("UNION, INTERSECT and EXCEPT without ALL can retract rows", "Use UNION ALL.")
			}
			if _, ok := timeBound(q.Left, col); !ok {
				p = q.Left
			} else {
				p = q.Right
			}
		case *exec.Join:
			if t := referenceScan(q); t != "" {
				return at(fmt.Sprintf("a join with table \"%s\" retracts and inserts joined rows again when the table changes, also of windows already closed", t),
					"Aggregate the stream in an EMIT ON WINDOW CLOSE view (grouped by the join key) and join that view with the table in another view; or keep the join and use EMIT CHANGES.")
			}
			if joinInterval(q) != nil {
				return at("only the time columns of an interval join are bounded", "")
			}
			return at("a join that is not an interval join of streams (l.ts BETWEEN r.ts - INTERVAL … AND r.ts + INTERVAL …) joins late rows with old ones",
				"Bound the join by both streams' WATERMARK FOR columns, or use EMIT CHANGES.")
		case *exec.HashAgg:
			if col < len(q.Keys) {
				if w, why := aggWindow(q); w == nil {
					return why
				}
			}
			return at("a GROUP BY bounds only the window columns of its closing window", "")
		default:
			what := "this query"
			switch p.(type) {
			case *exec.Limit:
				what = "a LIMIT"
			case *exec.Window:
				what = "a window function"
			case *exec.Values:
				what = "VALUES"
			}
			return at(what+" has no event time", "")
		}
	}
}

// referenceScan returns the name of a table (reference data) that a join
// reads directly or through filters and projections, or "".
func referenceScan(j *exec.Join) string {
	for _, side := range []exec.Plan{j.Left, j.Right} {
		for p := side; p != nil; {
			switch q := p.(type) {
			case *exec.Scan:
				if q.Table.Reference {
					return q.Table.Name
				}
				p = nil
			case *exec.Filter:
				p = q.Input
			case *exec.Project:
				p = q.Input
			case *exec.Join:
				if t := referenceScan(q); t != "" {
					return t
				}
				p = nil
			default:
				p = nil
			}
		}
	}
	return ""
}

// appendOnly reports whether p only ever inserts rows (over streams and
// EMIT ON WINDOW CLOSE views).
func appendOnly(p exec.Plan) bool {
	switch q := p.(type) {
	case *exec.Scan:
		return q.Table.Stream || q.Table.AppendOnly
	case *exec.Filter:
		return !hasSubquery(q.Cond) && appendOnly(q.Input)
	case *exec.Project:
		return appendOnly(q.Input)
	case *exec.Sort:
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

// joinClosing recognises a closing join: an equi-join (of any kind) with
// a pair of key columns both bounded by their side's watermark, such as
// windowed results joined on their window. Of several pairs it takes the
// one with the least lag. nil when there is none, or for an interval join
// (which frees its state by its own bounds).
func joinClosing(j *exec.Join) *dataflow.JoinClosing {
	if joinInterval(j) != nil {
		return nil
	}
	var best *dataflow.JoinClosing
	for k, lc := range j.LeftKeys {
		rc := j.RightKeys[k]
		if j.Left.Types()[lc].Phys() != types.PhysInt {
			continue // the dataflow reads the bound column as integers
		}
		l, okL := timeBound(j.Left, lc)
		r, okR := timeBound(j.Right, rc)
		if !okL || !okR {
			continue
		}
		c := &dataflow.JoinClosing{LeftCol: lc, RightCol: rc, LeftLag: l.Lag, RightLag: r.Lag}
		if best == nil || max(c.LeftLag, c.RightLag) < max(best.LeftLag, best.RightLag) {
			best = c
		}
	}
	return best
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
