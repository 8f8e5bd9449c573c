package expr

import (
	"fmt"
	"strings"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// And is the three-valued conjunction of its arguments.
type And struct{ Args []Expr }

func (a *And) Type() *types.T { return types.Bool }
func (a *And) String() string { return joinExprs(a.Args, " AND ") }
func (a *And) Eval(ctx *EvalCtx, ch *coldata.Chunk) (*coldata.Vec, error) {
	return evalBoolJunction(ctx, ch, a.Args, false)
}

// Or is the three-valued disjunction of its arguments.
type Or struct{ Args []Expr }

func (o *Or) Type() *types.T { return types.Bool }
func (o *Or) String() string { return joinExprs(o.Args, " OR ") }
func (o *Or) Eval(ctx *EvalCtx, ch *coldata.Chunk) (*coldata.Vec, error) {
	if x := o.inList(); x != nil {
		return o.evalInList(ctx, ch, x)
	}
	return evalBoolJunction(ctx, ch, o.Args, true)
}

// inList returns x when every arm of o is x = c for the same x and a
// non-NULL constant c of x's type, compared as bytes or integers: what the
// planner binds x IN (c1, c2, …) to. Such an OR is evaluated in one pass
// over x, without a vector of each constant and of each comparison (a
// CASE bucketing Nexmark's channels did so for every chunk ingested).
func (o *Or) inList() Expr {
	var x Expr
	for _, a := range o.Args {
		call, ok := a.(*Call)
		if !ok || call.Fn.Name != "=" || len(call.Args) != 2 {
			return nil
		}
		c, ok := call.Args[1].(*Const)
		if !ok || c.Val == nil || !sameExpr(x, call.Args[0]) {
			return nil
		}
		x = call.Args[0]
		if t := x.Type(); t.Oid != c.Typ.Oid || !plainEquality(t) {
			return nil
		}
	}
	return x
}

// sameExpr reports whether b is the first arm's x (a nil a) or reads the
// same as a: the same node, or a reference to the same column.
func sameExpr(a, b Expr) bool {
	if a == nil || a == b {
		return true
	}
	ca, ok1 := a.(*ColRef)
	cb, ok2 := b.(*ColRef)
	return ok1 && ok2 && ca.Idx == cb.Idx
}

// plainEquality reports whether t's = is equality of its physical values
// (NB: not bpchar's, which ignores trailing blanks, nor jsonb's).
func plainEquality(t *types.T) bool {
	switch t.Oid {
	case types.OidInt2, types.OidInt4, types.OidInt8, types.OidText, types.OidName, types.OidBytea:
		return true
	}
	return false
}

// evalInList evaluates o, an inList over x: NULL where x is NULL, else
// whether x equals one of the constants.
func (o *Or) evalInList(ctx *EvalCtx, ch *coldata.Chunk, x Expr) (*coldata.Vec, error) {
	v, err := x.Eval(ctx, ch)
	if err != nil {
		return nil, err
	}
	n := ch.Len
	out := coldata.MakeVec(types.Bool, n)
	r := out.Bools
	for _, a := range o.Args {
		c := a.(*Call).Args[1].(*Const).Val
		switch v.Typ.Phys() {
		case types.PhysInt:
			k := c.(int64)
			for i, y := range v.Ints[:n] {
				r[i] = r[i] || y == k
			}
		default:
			k := c.(string)
			for i, y := range v.Bytes[:n] {
				r[i] = r[i] || y == k
			}
		}
	}
	if v.HasNulls() {
		out.Nulls = make([]bool, n)
		for i := range n {
			if v.Nulls[i] {
				out.Nulls[i], r[i] = true, false
			}
		}
	}
	return out, nil
}

// evalBoolJunction computes AND (dominant=false) or OR (dominant=true): a
// dominant value decides the row, else NULL if any input is NULL.
func evalBoolJunction(ctx *EvalCtx, ch *coldata.Chunk, args []Expr, dominant bool) (*coldata.Vec, error) {
	n := ch.Len
	out := coldata.MakeVec(types.Bool, n)
	for i := range out.Bools {
		out.Bools[i] = !dominant
	}
	var nulls []bool
	for _, a := range args {
		v, err := a.Eval(ctx, ch)
		if err != nil {
			return nil, err
		}
		for i := 0; i < n; i++ {
			if out.Bools[i] == dominant && (nulls == nil || !nulls[i]) {
				continue
			}
			if v.IsNull(i) {
				if nulls == nil {
					nulls = make([]bool, n)
				}
				nulls[i] = true
				continue
			}
			if v.Bools[i] == dominant {
				out.Bools[i] = dominant
				if nulls != nil {
					nulls[i] = false
				}
			}
		}
	}
	out.Nulls = nulls
	return out, nil
}

// Not is three-valued negation.
type Not struct{ Arg Expr }

func (e *Not) Type() *types.T { return types.Bool }
func (e *Not) String() string { return "NOT " + e.Arg.String() }
func (e *Not) Eval(ctx *EvalCtx, ch *coldata.Chunk) (*coldata.Vec, error) {
	v, err := e.Arg.Eval(ctx, ch)
	if err != nil {
		return nil, err
	}
	out := coldata.MakeVec(types.Bool, ch.Len)
	for i, b := range v.Bools {
		out.Bools[i] = !b
	}
	if v.Nulls != nil {
		out.Nulls = append([]bool(nil), v.Nulls...)
	}
	return out, nil
}

// IsNull is `arg IS [NOT] NULL`.
type IsNull struct {
	Arg    Expr
	Negate bool
}

func (e *IsNull) Type() *types.T { return types.Bool }
func (e *IsNull) String() string {
	if e.Negate {
		return e.Arg.String() + " IS NOT NULL"
	}
	return e.Arg.String() + " IS NULL"
}
func (e *IsNull) Eval(ctx *EvalCtx, ch *coldata.Chunk) (*coldata.Vec, error) {
	v, err := e.Arg.Eval(ctx, ch)
	if err != nil {
		return nil, err
	}
	out := coldata.MakeVec(types.Bool, ch.Len)
	for i := range out.Bools {
		null := v.IsNull(i)
		if null && v.Typ.Family == types.UnknownFamily {
			null = true
		}
		out.Bools[i] = null != e.Negate
	}
	return out, nil
}

// IsBool is `arg IS [NOT] TRUE|FALSE|UNKNOWN`.
type IsBool struct {
	Arg    Expr
	Want   *bool // nil: UNKNOWN
	Negate bool
}

func (e *IsBool) Type() *types.T { return types.Bool }
func (e *IsBool) String() string {
	what := "UNKNOWN"
	if e.Want != nil {
		what = strings.ToUpper(fmt.Sprint(*e.Want))
	}
	if e.Negate {
		what = "NOT " + what
	}
	return e.Arg.String() + " IS " + what
}
func (e *IsBool) Eval(ctx *EvalCtx, ch *coldata.Chunk) (*coldata.Vec, error) {
	v, err := e.Arg.Eval(ctx, ch)
	if err != nil {
		return nil, err
	}
	out := coldata.MakeVec(types.Bool, ch.Len)
	for i := range out.Bools {
		var r bool
		if e.Want == nil {
			r = v.IsNull(i)
		} else {
			r = !v.IsNull(i) && v.Bools[i] == *e.Want
		}
		out.Bools[i] = r != e.Negate
	}
	return out, nil
}

// When is one WHEN cond THEN val arm of a searched CASE.
type When struct {
	Cond Expr
	Then Expr
}

// Case is a searched CASE. Each THEN is evaluated only on the rows that reach
// it, so `CASE WHEN x = 0 THEN 0 ELSE 1 / x END` never divides by zero.
type Case struct {
	Whens []When
	Else  Expr // nil: NULL
	Typ   *types.T
}

func (e *Case) Type() *types.T { return e.Typ }
func (e *Case) String() string {
	var b strings.Builder
	b.WriteString("CASE")
	for _, w := range e.Whens {
		b.WriteString(" WHEN " + w.Cond.String() + " THEN " + w.Then.String())
	}
	if e.Else != nil {
		b.WriteString(" ELSE " + e.Else.String())
	}
	b.WriteString(" END")
	return b.String()
}

func (e *Case) Eval(ctx *EvalCtx, ch *coldata.Chunk) (*coldata.Vec, error) {
	n := ch.Len
	if n == 0 {
		return coldata.NewVec(e.Typ, 0), nil
	}
	// rows[j] is the row of ch that row j of cur is: the rows no arm has
	// taken yet. hit and miss are an arm's split of cur's rows. An arm's
	// values go straight to their rows of out, which is made only once
	// two arms share the rows (an arm taking every row is the answer as
	// it is, its vector or its constant's).
	scratch := ctx.Scratch.takeInts(3 * n)
	defer ctx.Scratch.giveInts(scratch)
	rows, hit, miss := scratch[:n], scratch[n:n], scratch[2*n:2*n]
	for i := range rows {
		rows[i] = i
	}
	cur := readColumns(ch, e)
	var out *coldata.Vec
	for w, when := range e.Whens {
		if len(rows) == 0 {
			break
		}
		cond, err := when.Cond.Eval(ctx, cur)
		if err != nil {
			return nil, err
		}
		hit, miss = hit[:0], miss[:0]
		for j := range rows {
			if !cond.IsNull(j) && cond.Bools[j] {
				hit = append(hit, j)
			} else {
				miss = append(miss, j)
			}
		}
		if len(hit) == 0 {
			continue
		}
		// An arm that is a column or a constant is read where its rows
		// are: gathering them first (a bid's channel, for the rows of a
		// hot channel) would copy every value it reads once more.
		sub := cur
		if len(miss) > 0 && !readsInPlace(when.Then) {
			sub = cur.Gather(hit)
		}
		whole := len(rows) == n && len(miss) == 0
		v, mask, err := e.armValue(ctx, when.Then, sub, whole)
		if err != nil || whole {
			return v, err
		}
		if out == nil {
			out = coldata.MakeVec(e.Typ, n)
		}
		if sub == cur {
			for _, j := range hit {
				out.SetFrom(rows[j], v, j&mask)
			}
		} else {
			for k, j := range hit {
				out.SetFrom(rows[j], v, k&mask)
			}
		}
		for k, j := range miss {
			rows[k] = rows[j]
		}
		rows = rows[:len(miss)]
		// The rows left are gathered only for an arm that reads them.
		if _, constElse := e.Else.(*Const); len(miss) > 0 && (w < len(e.Whens)-1 || e.Else != nil && !constElse) {
			cur = cur.Gather(miss)
		}
	}
	if len(rows) > 0 && e.Else != nil {
		whole := len(rows) == n
		v, mask, err := e.armValue(ctx, e.Else, cur, whole)
		if err != nil || whole {
			return v, err
		}
		if out == nil {
			out = coldata.MakeVec(e.Typ, n)
		}
		for k, i := range rows {
			out.SetFrom(i, v, k&mask)
		}
		rows = rows[:0]
	}
	if out == nil {
		return coldata.ConstVec(e.Typ, nil, n), nil
	}
	for _, i := range rows {
		out.SetNull(i)
	}
	return out, nil
}

// readsInPlace reports whether arm's value for a row is read from that row
// alone, with nothing evaluated: a column, or a constant.
func readsInPlace(arm Expr) bool {
	switch arm.(type) {
	case *ColRef, *Const:
		return true
	}
	return false
}

// armValue evaluates an arm's value over the rows that took it (sub), row
// k of them at v's row k&mask. A constant arm is not expanded into a row
// for each unless it is the whole answer (whole: it took every row of the
// CASE): it is one row, and mask 0 reads it for every k.
func (e *Case) armValue(ctx *EvalCtx, arm Expr, sub *coldata.Chunk, whole bool) (v *coldata.Vec, mask int, err error) {
	c, ok := arm.(*Const)
	switch {
	case !ok:
		v, err = arm.Eval(ctx, sub)
		return v, -1, err
	case whole:
		return coldata.ConstVec(c.Typ, c.Val, sub.Len), -1, nil
	}
	return coldata.ConstVec(e.Typ, c.Val, 1), 0, nil
}

// readColumns returns ch with only the columns e reads (the others nil,
// which Gather keeps nil), so that the rows an arm passes on are gathered
// without the columns no arm looks at: a CASE over a bid's channel need not
// copy its url and extra strings for each arm. A correlated subquery reads
// whole rows, so with one ch is returned as it is.
func readColumns(ch *coldata.Chunk, e Expr) *coldata.Chunk {
	used := make([]bool, len(ch.Cols))
	whole := false
	Walk(e, func(x Expr) bool {
		switch x := x.(type) {
		case *ColRef:
			if x.Idx < len(used) {
				used[x.Idx] = true
			}
		case *Subquery:
			whole = whole || x.Correlated
		}
		return !whole
	})
	if whole {
		return ch
	}
	out := &coldata.Chunk{Cols: make([]*coldata.Vec, len(ch.Cols)), Len: ch.Len}
	for i, u := range used {
		if u {
			out.Cols[i] = ch.Cols[i]
		}
	}
	return out
}

// Coalesce returns its first non-NULL argument; later arguments are evaluated
// only for rows still NULL.
type Coalesce struct {
	Args []Expr
	Typ  *types.T
}

func (e *Coalesce) Type() *types.T { return e.Typ }
func (e *Coalesce) String() string { return "COALESCE(" + joinExprs(e.Args, ", ") + ")" }
func (e *Coalesce) Eval(ctx *EvalCtx, ch *coldata.Chunk) (*coldata.Vec, error) {
	// Each argument is evaluated once, on the rows still NULL after the
	// arguments before it.
	n := ch.Len
	src := make([]*coldata.Vec, n)
	idx := make([]int, n)
	pending := make([]int, n)
	for i := range pending {
		pending[i] = i
	}
	cur := ch
	for _, a := range e.Args {
		if len(pending) == 0 {
			break
		}
		v, err := a.Eval(ctx, cur)
		if err != nil {
			return nil, err
		}
		var still, stillRows []int
		for j, row := range pending {
			if v.IsNull(j) {
				still, stillRows = append(still, j), append(stillRows, row)
				continue
			}
			src[row], idx[row] = v, j
		}
		if len(still) > 0 && len(still) != cur.Len {
			cur = cur.Gather(still)
		}
		pending = stillRows
	}
	out := coldata.NewVec(e.Typ, n)
	for i := 0; i < n; i++ {
		if src[i] == nil {
			out.Append(nil)
			continue
		}
		out.AppendFrom(src[i], idx[i])
	}
	return out, nil
}

func joinExprs(es []Expr, sep string) string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.String()
	}
	return "(" + strings.Join(s, sep) + ")"
}
