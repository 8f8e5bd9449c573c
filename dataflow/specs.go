package dataflow

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/timewindow"
	"github.com/sluice-db/sluice/types"
)

// AggCall is one aggregate of an Aggregate node.
type AggCall struct {
	// Func is the aggregate's name: count_star, count, sum, avg, min, max,
	// bool_and, bool_or, string_agg, array_agg.
	Func string
	// Args are input column ordinals (string_agg: value, delimiter).
	Args     []int
	ArgTypes []*types.T
	Distinct bool
	// Filter is the input column holding the FILTER condition, or -1.
	Filter int
	// OrderBy orders the values of string_agg/array_agg (empty: by value).
	OrderBy []SortKey
	Typ     *types.T
}

func (a *AggCall) String() string {
	var sb strings.Builder
	sb.WriteString(a.Func + "(")
	if a.Distinct {
		sb.WriteString("DISTINCT ")
	}
	for i, c := range a.Args {
		if i > 0 {
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, "#%d", c)
	}
	sb.WriteString(")")
	if a.Filter >= 0 {
		fmt.Fprintf(&sb, " FILTER #%d", a.Filter)
	}
	return sb.String()
}

// Aggregate groups its input by Keys and maintains the aggregates of every
// group under inserts and deletes. Output: the key columns, then one column
// per aggregate. Without keys it holds exactly one row (the aggregates of
// the empty input until rows arrive), as SQL's global aggregate does.
type Aggregate struct {
	Keys    []int
	Aggs    []AggCall
	InTypes []*types.T
	// Window, when set, says the group key holds an event-time window and
	// the input is append-only: a group whose window has closed (its end
	// at or below the input watermark) never changes again.
	Window *AggWindow
	// AppendOnly says the input only ever inserts rows (the planner proves
	// it): min and max then keep only each group's running extreme, and a
	// retraction reaching the aggregate fails the dataflow as a bug rather
	// than leave them wrong.
	AppendOnly bool
}

// AggWindow is the event-time window of an Aggregate's groups.
type AggWindow struct {
	// Key is the position in Keys of the column giving the window, which
	// closes when that column's value plus EndOffset is at or below the
	// input's watermark: 0 for window_end over a stream's event time, the
	// size for window_start of TUMBLE or HOP; more for a window over a
	// view's column that lags the view's watermark, less (even negative)
	// when the window's time column lies on a grid its ends lie on
	// (planner.timeBound).
	Key       int
	EndOffset int64
	// OnClose is EMIT ON WINDOW CLOSE: a group emits nothing until its
	// window closes, then its final row once (insert only). Otherwise the
	// groups emit their changes each epoch, and a closed group's state is
	// freed (its row stays in the output).
	OnClose bool
}

func (w *AggWindow) String() string {
	s := fmt.Sprintf("window=key%d", w.Key)
	if w.EndOffset > 0 {
		s += "+" + timewindow.FormatLength(w.EndOffset)
	} else if w.EndOffset < 0 {
		s += timewindow.FormatLength(w.EndOffset)
	}
	if w.OnClose {
		s += " emit=on-window-close"
	}
	return s
}

func (a *Aggregate) Types() []*types.T {
	ts := make([]*types.T, 0, len(a.Keys)+len(a.Aggs))
	for _, k := range a.Keys {
		ts = append(ts, a.InTypes[k])
	}
	for _, ag := range a.Aggs {
		ts = append(ts, ag.Typ)
	}
	return ts
}

func (a *Aggregate) String() string {
	aggs := make([]string, len(a.Aggs))
	for i := range a.Aggs {
		aggs[i] = a.Aggs[i].String()
	}
	s := fmt.Sprintf("Aggregate keys=%v aggs=[%s]", a.Keys, strings.Join(aggs, ", "))
	if a.Window != nil {
		s += " " + a.Window.String()
	}
	if a.AppendOnly {
		s += " input=append-only"
	}
	return s
}

func (a *Aggregate) Partition(int) []int { return append([]int{}, a.Keys...) }

// JoinKind is the kind of a Join.
type JoinKind uint8

const (
	InnerJoin JoinKind = iota
	LeftJoin
	RightJoin
	FullJoin
	// SemiJoin outputs each left row (with its multiplicity) while at least
	// one right row matches it; AntiJoin while none does. Both output left
	// columns only.
	SemiJoin
	AntiJoin
)

func (k JoinKind) String() string {
	return [...]string{"inner", "left", "right", "full", "semi", "anti"}[k]
}

// Join joins input 0 (left) and input 1 (right) on LeftKeys = RightKeys
// (SQL equality: NULL keys never match) and Cond, evaluated over the
// concatenated row (left columns then right). Without keys every row goes
// to worker 0 (a nested-loop join). Output: left columns then right columns
// (NULL-padded for outer joins); semi and anti joins output left columns.
type Join struct {
	Kind                JoinKind
	LeftKeys, RightKeys []int
	Cond                expr.Expr // nil: none
	LeftTypes           []*types.T
	RightTypes          []*types.T
	// Interval, when set, is implied by Cond of an inner join of two
	// append-only inputs: rows match only within a bounded event-time
	// distance, so a row that the other side's watermark has passed by
	// more than the bound can never match again, and its state is freed.
	// The output's watermark then bounds both time columns.
	Interval *JoinInterval
	// Closing, when set, names equal key columns whose changes to come
	// the inputs' watermarks bound (window columns of windows that close,
	// event times): a key value behind both bounds is touched by no change
	// to come on either side, so its rows are final and their state is
	// freed. Joining windowed results on their window is such a join.
	Closing *JoinClosing
}

// JoinClosing bounds the key columns LeftCol and RightCol (equal in every
// match): every change to come on the left has LeftCol at or after the
// left watermark - LeftLag, on the right RightCol at or after the right
// watermark - RightLag, in microseconds.
type JoinClosing struct {
	LeftCol, RightCol int
	LeftLag, RightLag int64
}

func (c *JoinClosing) String() string {
	return fmt.Sprintf("closing left#%d (lag %s) = right#%d (lag %s)", c.LeftCol, timewindow.FormatLength(c.LeftLag), c.RightCol, timewindow.FormatLength(c.RightLag))
}

// bound returns the least key value a change to come can have, given the
// inputs' watermarks.
func (c *JoinClosing) bound(left, right int64) int64 {
	return min(shiftWatermark(left, -c.LeftLag), shiftWatermark(right, -c.RightLag))
}

// JoinInterval bounds the event times of matching rows: a left row at time
// l (column LeftTime) matches right rows at time r (column RightTime) only
// when Lower <= l - r <= Upper, in microseconds.
type JoinInterval struct {
	LeftTime, RightTime int
	Lower, Upper        int64
}

func (i *JoinInterval) String() string {
	return fmt.Sprintf("interval left#%d - right#%d in [%s, %s]", i.LeftTime, i.RightTime, timewindow.FormatLength(i.Lower), timewindow.FormatLength(i.Upper))
}

func (j *Join) Types() []*types.T {
	if j.Kind == SemiJoin || j.Kind == AntiJoin {
		return j.LeftTypes
	}
	return append(append([]*types.T(nil), j.LeftTypes...), j.RightTypes...)
}

func (j *Join) String() string {
	s := fmt.Sprintf("Join %s", j.Kind)
	if len(j.LeftKeys) > 0 {
		s += fmt.Sprintf(" on %v = %v", j.LeftKeys, j.RightKeys)
	}
	if j.Cond != nil {
		s += " cond " + j.Cond.String()
	}
	if j.Interval != nil {
		s += " " + j.Interval.String()
	}
	if j.Closing != nil {
		s += " " + j.Closing.String()
	}
	return s
}

func (j *Join) Partition(in int) []int {
	if in == 0 {
		return append([]int{}, j.LeftKeys...)
	}
	return append([]int{}, j.RightKeys...)
}

// Distinct keeps one copy of every row present with a positive count.
type Distinct struct {
	Typs []*types.T
}

func (d *Distinct) Types() []*types.T   { return d.Typs }
func (d *Distinct) String() string      { return "Distinct" }
func (d *Distinct) Partition(int) []int { return coldata.AllColumns(len(d.Typs)) }

// SortKey orders by one column.
type SortKey struct {
	Col        int
	Desc       bool
	NullsFirst bool
}

// TopN maintains the rows at positions [Offset, Offset+Limit) of its input
// in Order (ties broken by the whole row, so the result is deterministic),
// per group of rows equal in the Group columns (SELECT DISTINCT ON is the
// first row of each group). Limit < 0 means no limit.
type TopN struct {
	Group         []int
	Order         []SortKey
	Limit, Offset int64
	// Typs are the input's types; the output's are the same, and with
	// Numbered a bigint column after them.
	Typs []*types.T
	// AppendOnly says the input never retracts: a row ranked past
	// Offset+Limit can then never come back into the window, and is
	// forgotten.
	AppendOnly bool
	// WithTies extends the window over the rows tied on Order with its
	// last one (FETCH FIRST … WITH TIES; rank() <= N).
	WithTies bool
	// Numbered adds each output row's 1-based rank in its group, as
	// row_number() numbers it (copies of a row get ranks of their own),
	// or with WithTies as rank() does (tied rows share theirs): a row
	// whose rank changes is retracted and inserted again. It needs a
	// limit, and with ties no offset.
	Numbered bool
	// Dense, with WithTies and no Offset, counts Limit in distinct values
	// of Order rather than in rows: the window holds the rows of a group's
	// first Limit values (dense_rank() <= N), and Numbered numbers them as
	// dense_rank() does.
	Dense bool
}

func (t *TopN) Types() []*types.T {
	if t.Numbered {
		return append(slices.Clone(t.Typs), types.Int8)
	}
	return t.Typs
}

// Partition sends a group's rows to one worker; without groups every row
// goes to one.
func (t *TopN) Partition(int) []int {
	if t.Group == nil {
		return []int{}
	}
	return t.Group
}

func (t *TopN) String() string {
	keys := make([]string, len(t.Order))
	for i, k := range t.Order {
		keys[i] = k.String()
	}
	group := ""
	if len(t.Group) > 0 {
		group = fmt.Sprintf(" group=%v", t.Group)
	}
	flags := ""
	if t.AppendOnly {
		flags = " append-only"
	}
	if t.WithTies {
		flags += " with-ties"
	}
	if t.Dense {
		flags += " dense"
	}
	if t.Numbered {
		flags += " numbered"
	}
	return fmt.Sprintf("TopN%s order=[%s] limit=%d offset=%d%s", group, strings.Join(keys, ", "), t.Limit, t.Offset, flags)
}

func (k SortKey) String() string {
	s := fmt.Sprintf("#%d", k.Col)
	if k.Desc {
		s += " DESC"
	}
	if k.NullsFirst {
		s += " NULLS FIRST"
	} else {
		s += " NULLS LAST"
	}
	return s
}
