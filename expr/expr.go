package expr

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// Expr is a bound, typed scalar expression.
type Expr interface {
	Type() *types.T
	// Eval computes the expression for every row of ch.
	Eval(ctx *EvalCtx, ch *coldata.Chunk) (*coldata.Vec, error)
	String() string
}

// SubqueryRunner runs a subquery plan for the current outer row. The batch
// executor implements it; expr only knows plans as opaque values.
type SubqueryRunner interface {
	// Run evaluates plan with outer as the innermost outer row and returns its
	// rows (at most limit rows when limit > 0).
	Run(ctx *EvalCtx, plan any, limit int) ([][]types.Datum, error)
}

// EvalCtx carries what an evaluation needs beyond its input chunk.
type EvalCtx struct {
	Ctx context.Context
	Cfg *types.Config
	// Params are the values of $1..$n, already of their bound types.
	Params []types.Datum
	// Outer holds the rows of enclosing queries for correlated subqueries,
	// innermost last.
	Outer [][]types.Datum
	// Subqueries runs subquery plans.
	Subqueries SubqueryRunner
	// TxnTime is now() / current_timestamp: the start of the transaction.
	TxnTime time.Time
	// StmtTime is statement_timestamp().
	StmtTime time.Time
	// SubqueryCache holds uncorrelated subquery results for this statement.
	SubqueryCache SubqueryCache
	// Settings reads a session setting for current_setting() and friends.
	Settings func(name string) (string, bool)
	// Catalog answers the catalog functions (pg_get_viewdef, …); nil where
	// there is no session (views' dataflows).
	Catalog Catalog
	// Privileges answers the privilege functions; nil where there is no
	// session.
	Privileges Privileges
	// Identities hands out identity column values; nil where no row is
	// inserted.
	Identities Identities
	// Regexes caches compiled patterns; nil compiles each pattern where it
	// is used.
	Regexes *RegexCache
	// Scratch lends buffers to the evaluation of the one goroutine that
	// uses this context; nil allocates them.
	Scratch *Scratch
}

// Const is a constant.
type Const struct {
	Typ *types.T
	Val types.Datum
}

func (c *Const) Type() *types.T { return c.Typ }
func (c *Const) Eval(_ *EvalCtx, ch *coldata.Chunk) (*coldata.Vec, error) {
	return coldata.ConstVec(c.Typ, c.Val, ch.Len), nil
}
func (c *Const) String() string {
	if c.Val == nil {
		return "NULL::" + c.Typ.String()
	}
	return "'" + string(types.AppendText(nil, c.Typ, c.Val, types.DefaultConfig())) + "'::" + c.Typ.String()
}

// ColRef reads column Idx of the input chunk.
type ColRef struct {
	Idx  int
	Typ  *types.T
	Name string
}

func (c *ColRef) Type() *types.T { return c.Typ }
func (c *ColRef) Eval(_ *EvalCtx, ch *coldata.Chunk) (*coldata.Vec, error) {
	return ch.Cols[c.Idx], nil
}

// String names the column and its input position, so that two columns of
// the same name (a.x, b.x) never print, or key a grouping, alike.
func (c *ColRef) String() string {
	return fmt.Sprintf("%s#%d", c.Name, c.Idx)
}

// Param reads $Idx+1.
type Param struct {
	Idx int
	Typ *types.T
}

func (p *Param) Type() *types.T { return p.Typ }
func (p *Param) Eval(ctx *EvalCtx, ch *coldata.Chunk) (*coldata.Vec, error) {
	var d types.Datum
	if p.Idx < len(ctx.Params) {
		d = ctx.Params[p.Idx]
	}
	return coldata.ConstVec(p.Typ, d, ch.Len), nil
}
func (p *Param) String() string { return fmt.Sprintf("$%d", p.Idx+1) }

// OuterRef reads column Idx of an enclosing query's current row; Level 1 is
// the innermost enclosing query.
type OuterRef struct {
	Level int
	Idx   int
	Typ   *types.T
	Name  string
}

func (o *OuterRef) Type() *types.T { return o.Typ }
func (o *OuterRef) Eval(ctx *EvalCtx, ch *coldata.Chunk) (*coldata.Vec, error) {
	row := ctx.Outer[len(ctx.Outer)-o.Level]
	return coldata.ConstVec(o.Typ, row[o.Idx], ch.Len), nil
}
func (o *OuterRef) String() string { return fmt.Sprintf("outer%d.%s#%d", o.Level, o.Name, o.Idx) }

// Call applies a resolved function overload to its arguments.
type Call struct {
	Fn   *Overload
	Args []Expr
	Typ  *types.T
}

func (c *Call) Type() *types.T { return c.Typ }
func (c *Call) String() string {
	args := make([]string, len(c.Args))
	for i, a := range c.Args {
		args[i] = a.String()
	}
	if c.Fn.Infix && len(args) == 2 {
		return "(" + args[0] + " " + c.Fn.Name + " " + args[1] + ")"
	}
	return c.Fn.Name + "(" + strings.Join(args, ", ") + ")"
}

func (c *Call) Eval(ctx *EvalCtx, ch *coldata.Chunk) (*coldata.Vec, error) {
	if c.Fn.ConstInts != nil {
		if k, ints, constFirst, ok := constAndInts(c.Args); ok {
			v, err := ints.Eval(ctx, ch)
			if err != nil {
				return nil, err
			}
			return c.Fn.ConstInts(ctx, k.Val, constFirst, v, c.Typ)
		}
	}
	args := make([]*coldata.Vec, len(c.Args))
	for i, a := range c.Args {
		v, err := a.Eval(ctx, ch)
		if err != nil {
			return nil, err
		}
		args[i] = v
	}
	if c.Fn.Vec != nil {
		return c.Fn.Vec(ctx, args, ch.Len, c.Typ)
	}
	return evalRowwise(ctx, c.Fn, args, ch.Len, c.Typ)
}

// constAndInts splits the two arguments of a call into a constant and an
// integer expression that a Cast widens exactly to numeric (CastVec's
// SetInt64 of each row), and returns that integer expression.
func constAndInts(args []Expr) (k *Const, ints Expr, constFirst, ok bool) {
	if len(args) != 2 {
		return nil, nil, false, false
	}
	for i, a := range args {
		k, isConst := a.(*Const)
		cast, isCast := args[1-i].(*Cast)
		if isConst && isCast && cast.Arg.Type().Family == types.IntFamily && cast.To.Oid == types.OidNumeric && cast.To.Width == 0 {
			return k, cast.Arg, i == 0, true
		}
	}
	return nil, nil, false, false
}

// evalRowwise is the generic kernel for row functions: it boxes each row's
// arguments, so only long-tail functions should rely on it.
func evalRowwise(ctx *EvalCtx, fn *Overload, args []*coldata.Vec, n int, out *types.T) (*coldata.Vec, error) {
	res := coldata.NewVec(out, n)
	row := make([]types.Datum, len(args))
	for i := 0; i < n; i++ {
		null := false
		for j, a := range args {
			row[j] = a.Get(i)
			if row[j] == nil {
				null = true
			}
		}
		if null && !fn.NullOK {
			res.Append(nil)
			continue
		}
		d, err := fn.Row(ctx, row)
		if err != nil {
			return nil, err
		}
		res.Append(d)
	}
	return res, nil
}
