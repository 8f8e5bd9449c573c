package expr

import (
	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// SubqueryKind says how a subquery's rows become a value.
type SubqueryKind uint8

const (
	// ScalarSubquery yields the single column of the single row (NULL if none).
	ScalarSubquery SubqueryKind = iota
	// ExistsSubquery yields whether any row exists.
	ExistsSubquery
	// AnySubquery yields `arg op ANY (subquery)`; IN is `= ANY`.
	AnySubquery
	// AllSubquery yields `arg op ALL (subquery)`.
	AllSubquery
	// ArraySubquery yields ARRAY(subquery).
	ArraySubquery
)

// Subquery evaluates a nested query plan. Correlated subqueries run once per
// input row with that row pushed onto EvalCtx.Outer; uncorrelated ones run once
// per EvalCtx and are cached there.
type Subquery struct {
	Kind       SubqueryKind
	Plan       any
	Correlated bool
	Typ        *types.T
	// Arg, Cmp and ColTyp are set for ANY/ALL: Cmp compares Arg with the
	// subquery's column, of type ColTyp (cast to Cmp's argument first when
	// they differ).
	Arg    Expr
	Cmp    *Overload
	ColTyp *types.T
}

func (s *Subquery) Type() *types.T { return s.Typ }
func (s *Subquery) String() string {
	switch s.Kind {
	case ExistsSubquery:
		return "EXISTS(subquery)"
	case AnySubquery:
		return s.Arg.String() + " " + s.Cmp.Name + " ANY(subquery)"
	case AllSubquery:
		return s.Arg.String() + " " + s.Cmp.Name + " ALL(subquery)"
	}
	return "(subquery)"
}

// SubqueryCache memoises uncorrelated subquery results for one statement run.
type SubqueryCache map[*Subquery][][]types.Datum

func (s *Subquery) rows(ctx *EvalCtx, outer []types.Datum) ([][]types.Datum, error) {
	limit := 0
	switch s.Kind {
	case ExistsSubquery:
		limit = 1
	case ScalarSubquery:
		limit = 2
	}
	if !s.Correlated {
		if ctx.SubqueryCache != nil {
			if rows, ok := ctx.SubqueryCache[s]; ok {
				return rows, nil
			}
		}
		rows, err := ctx.Subqueries.Run(ctx, s.Plan, limit)
		if err != nil {
			return nil, err
		}
		if ctx.SubqueryCache == nil {
			ctx.SubqueryCache = SubqueryCache{}
		}
		ctx.SubqueryCache[s] = rows
		return rows, nil
	}
	ctx.Outer = append(ctx.Outer, outer)
	rows, err := ctx.Subqueries.Run(ctx, s.Plan, limit)
	ctx.Outer = ctx.Outer[:len(ctx.Outer)-1]
	return rows, err
}

func (s *Subquery) Eval(ctx *EvalCtx, ch *coldata.Chunk) (*coldata.Vec, error) {
	out := coldata.NewVec(s.Typ, ch.Len)
	var argv *coldata.Vec
	if s.Arg != nil {
		v, err := s.Arg.Eval(ctx, ch)
		if err != nil {
			return nil, err
		}
		argv = v
	}
	for i := 0; i < ch.Len; i++ {
		var outer []types.Datum
		if s.Correlated {
			outer = ch.Row(i)
		}
		rows, err := s.rows(ctx, outer)
		if err != nil {
			return nil, err
		}
		switch s.Kind {
		case ScalarSubquery:
			if len(rows) > 1 {
				return nil, sqlerr.New(sqlerr.CardinalityViolation, "more than one row returned by a subquery used as an expression")
			}
			if len(rows) == 0 {
				out.Append(nil)
			} else {
				out.Append(rows[0][0])
			}
		case ExistsSubquery:
			out.Append(len(rows) > 0)
		case ArraySubquery:
			arr := &types.Array{Elem: s.Typ.Elem, Elems: make([]types.Datum, len(rows))}
			for k, r := range rows {
				arr.Elems[k] = r[0]
			}
			out.Append(arr)
		default:
			d, err := s.quantified(ctx, argv, i, rows, s.ColTyp)
			if err != nil {
				return nil, err
			}
			out.Append(d)
		}
	}
	return out, nil
}

// quantified computes ANY/ALL with SQL's NULL rules: ANY is true if some
// comparison is true, else NULL if some is NULL, else false; ALL dually.
// The rows' single column is of type colTyp.
func (s *Subquery) quantified(ctx *EvalCtx, argv *coldata.Vec, i int, rows [][]types.Datum, colTyp *types.T) (types.Datum, error) {
	if len(rows) == 0 {
		return s.Kind == AllSubquery, nil
	}
	left := coldata.NewVec(argv.Typ, len(rows))
	right := coldata.NewVec(colTyp, len(rows))
	a := argv.Get(i)
	for _, r := range rows {
		left.Append(a)
		right.Append(r[0])
	}
	var rv *coldata.Vec = right
	if !right.Typ.Identical(s.Cmp.Args[1]) {
		v, err := CastVec(ctx, right, s.Cmp.Args[1], false)
		if err != nil {
			return nil, err
		}
		rv = v
	}
	var res *coldata.Vec
	var err error
	if s.Cmp.Vec != nil {
		res, err = s.Cmp.Vec(ctx, []*coldata.Vec{left, rv}, len(rows), types.Bool)
	} else {
		res, err = evalRowwise(ctx, s.Cmp, []*coldata.Vec{left, rv}, len(rows), types.Bool)
	}
	if err != nil {
		return nil, err
	}
	sawNull := false
	for j := 0; j < len(rows); j++ {
		if res.IsNull(j) {
			sawNull = true
			continue
		}
		if res.Bools[j] == (s.Kind == AnySubquery) {
			return s.Kind == AnySubquery, nil
		}
	}
	if sawNull {
		return nil, nil
	}
	return s.Kind == AllSubquery, nil
}
