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
	return evalBoolJunction(ctx, ch, o.Args, true)
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
	results := make([]*coldata.Vec, n) // vector holding row i's value
	resIdx := make([]int, n)
	pending := make([]int, n)
	for i := range pending {
		pending[i] = i
	}
	cur := readColumns(ch, e)
	for _, w := range e.Whens {
		if len(pending) == 0 {
			break
		}
		cond, err := w.Cond.Eval(ctx, cur)
		if err != nil {
			return nil, err
		}
		var hit, miss []int
		for j := range pending {
			if !cond.IsNull(j) && cond.Bools[j] {
				hit = append(hit, j)
			} else {
				miss = append(miss, j)
			}
		}
		if len(hit) > 0 {
			sub := cur
			if len(hit) != cur.Len {
				sub = cur.Gather(hit)
			}
			v, err := w.Then.Eval(ctx, sub)
			if err != nil {
				return nil, err
			}
			for k, j := range hit {
				results[pending[j]] = v
				resIdx[pending[j]] = k
			}
		}
		if len(miss) != len(pending) {
			next := make([]int, len(miss))
			for k, j := range miss {
				next[k] = pending[j]
			}
			cur = cur.Gather(miss)
			pending = next
		}
	}
	if len(pending) > 0 && e.Else != nil {
		v, err := e.Else.Eval(ctx, cur)
		if err != nil {
			return nil, err
		}
		for k, i := range pending {
			results[i] = v
			resIdx[i] = k
		}
	}
	if n == 0 {
		return coldata.NewVec(e.Typ, 0), nil
	}
	if v := results[0]; v != nil && v.Len() == n {
		// Every row took the same arm (the arm saw the whole chunk): its
		// vector is the answer, in row order.
		return v, nil
	}
	out := coldata.NewVec(e.Typ, n)
	for i := 0; i < n; i++ {
		if results[i] == nil {
			out.Append(nil)
			continue
		}
		out.AppendFrom(results[i], resIdx[i])
	}
	return out, nil
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
