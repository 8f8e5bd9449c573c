package planner

import (
	"strconv"
	"strings"

	"github.com/cockroachdb/apd/v3"
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// loc converts a pg_query location (0-based byte offset, -1 unknown) to an
// error position.
func loc(l int32) int { return int(l) + 1 }

// bindExpr binds one scalar expression in scope s.
func (b *binder) bindExpr(n *pg.Node, s *scope) (expr.Expr, error) {
	if b.grouping != nil {
		if e, ok, err := b.grouping.match(b, n, s); ok || err != nil {
			return e, err
		}
	}
	switch {
	case n.GetAConst() != nil:
		return b.bindConst(n.GetAConst())
	case n.GetColumnRef() != nil:
		return b.bindColumnRef(n.GetColumnRef(), s)
	case n.GetParamRef() != nil:
		p := n.GetParamRef()
		idx := int(p.Number) - 1
		if idx < 0 || idx > 65535 {
			return nil, sqlerr.New(sqlerr.UndefinedParameter, "there is no parameter $%d", p.Number).At(loc(p.Location))
		}
		for len(b.params) <= idx {
			b.params = append(b.params, types.Unknown)
		}
		return &expr.Param{Idx: idx, Typ: b.params[idx]}, nil
	case n.GetTypeCast() != nil:
		tc := n.GetTypeCast()
		t, err := resolveTypeName(tc.TypeName)
		if err != nil {
			return nil, err
		}
		arg, err := b.bindExpr(tc.Arg, s)
		if err != nil {
			return nil, err
		}
		return b.explicitCast(arg, t, loc(tc.Location))
	case n.GetAExpr() != nil:
		return b.bindAExpr(n.GetAExpr(), s)
	case n.GetBoolExpr() != nil:
		be := n.GetBoolExpr()
		args := make([]expr.Expr, len(be.Args))
		for i, a := range be.Args {
			e, err := b.bindExpr(a, s)
			if err != nil {
				return nil, err
			}
			if e, err = b.coerceBool(e, boolOpName(be.Boolop), a); err != nil {
				return nil, err
			}
			args[i] = e
		}
		switch be.Boolop {
		case pg.BoolExprType_AND_EXPR:
			return &expr.And{Args: args}, nil
		case pg.BoolExprType_OR_EXPR:
			return &expr.Or{Args: args}, nil
		}
		return &expr.Not{Arg: args[0]}, nil
	case n.GetNullTest() != nil:
		nt := n.GetNullTest()
		e, err := b.bindExpr(nt.Arg, s)
		if err != nil {
			return nil, err
		}
		return &expr.IsNull{Arg: e, Negate: nt.Nulltesttype == pg.NullTestType_IS_NOT_NULL}, nil
	case n.GetBooleanTest() != nil:
		bt := n.GetBooleanTest()
		e, err := b.bindExpr(bt.Arg, s)
		if err != nil {
			return nil, err
		}
		if e, err = b.coerceBool(e, "IS TRUE", bt.Arg); err != nil {
			return nil, err
		}
		t, f := true, false
		switch bt.Booltesttype {
		case pg.BoolTestType_IS_TRUE:
			return &expr.IsBool{Arg: e, Want: &t}, nil
		case pg.BoolTestType_IS_NOT_TRUE:
			return &expr.IsBool{Arg: e, Want: &t, Negate: true}, nil
		case pg.BoolTestType_IS_FALSE:
			return &expr.IsBool{Arg: e, Want: &f}, nil
		case pg.BoolTestType_IS_NOT_FALSE:
			return &expr.IsBool{Arg: e, Want: &f, Negate: true}, nil
		case pg.BoolTestType_IS_UNKNOWN:
			return &expr.IsBool{Arg: e}, nil
		}
		return &expr.IsBool{Arg: e, Negate: true}, nil
	case n.GetFuncCall() != nil:
		return b.bindFuncCall(n.GetFuncCall(), s)
	case n.GetCaseExpr() != nil:
		return b.bindCase(n.GetCaseExpr(), s)
	case n.GetCoalesceExpr() != nil:
		ce := n.GetCoalesceExpr()
		args, t, err := b.bindUnified(ce.Args, s, "COALESCE")
		if err != nil {
			return nil, err
		}
		return &expr.Coalesce{Args: args, Typ: t}, nil
	case n.GetMinMaxExpr() != nil:
		mm := n.GetMinMaxExpr()
		args, t, err := b.bindUnified(mm.Args, s, "GREATEST/LEAST")
		if err != nil {
			return nil, err
		}
		name := "greatest"
		if mm.Op == pg.MinMaxOp_IS_LEAST {
			name = "least"
		}
		return b.callResolved(name, args, loc(mm.Location), t)
	case n.GetSubLink() != nil:
		return b.bindSubLink(n.GetSubLink(), s)
	case n.GetAArrayExpr() != nil:
		return b.bindArray(n.GetAArrayExpr(), s)
	case n.GetAIndirection() != nil:
		return b.bindIndirection(n.GetAIndirection(), s)
	case n.GetSqlvalueFunction() != nil:
		return b.bindSQLValueFunction(n.GetSqlvalueFunction())
	case n.GetCollateClause() != nil:
		return b.bindExpr(n.GetCollateClause().Arg, s)
	case n.GetNamedArgExpr() != nil:
		return b.bindExpr(n.GetNamedArgExpr().Arg, s)
	case n.GetRowExpr() != nil:
		return nil, sqlerr.Unsupported("row constructors are not supported").At(loc(n.GetRowExpr().Location))
	}
	return nil, sqlerr.Unsupported("expression %T is not supported", n.Node)
}

func boolOpName(op pg.BoolExprType) string {
	switch op {
	case pg.BoolExprType_AND_EXPR:
		return "AND"
	case pg.BoolExprType_OR_EXPR:
		return "OR"
	}
	return "NOT"
}

// coerceBool requires a boolean (unknown literals are parsed as boolean).
func (b *binder) coerceBool(e expr.Expr, ctxName string, n *pg.Node) (expr.Expr, error) {
	if e.Type().Family == types.BoolFamily {
		return e, nil
	}
	if e.Type().Family == types.UnknownFamily {
		return b.coerce(e, types.Bool, ctxName, false)
	}
	return nil, sqlerr.New(sqlerr.DatatypeMismatch, "argument of %s must be type boolean, not type %s", ctxName, e.Type().String()).At(nodeLoc(n))
}

// nodeLoc finds a location for error positions.
func nodeLoc(n *pg.Node) int {
	if n == nil {
		return 0
	}
	switch {
	case n.GetAConst() != nil:
		return loc(n.GetAConst().Location)
	case n.GetColumnRef() != nil:
		return loc(n.GetColumnRef().Location)
	case n.GetFuncCall() != nil:
		return loc(n.GetFuncCall().Location)
	case n.GetAExpr() != nil:
		return loc(n.GetAExpr().Location)
	case n.GetTypeCast() != nil:
		return loc(n.GetTypeCast().Location)
	case n.GetParamRef() != nil:
		return loc(n.GetParamRef().Location)
	case n.GetBoolExpr() != nil:
		return loc(n.GetBoolExpr().Location)
	case n.GetSubLink() != nil:
		return loc(n.GetSubLink().Location)
	case n.GetCaseExpr() != nil:
		return loc(n.GetCaseExpr().Location)
	}
	return 0
}

func (b *binder) bindConst(c *pg.A_Const) (expr.Expr, error) {
	switch {
	case c.Isnull:
		return &expr.Const{Typ: types.Unknown}, nil
	case c.GetIval() != nil:
		v := int64(c.GetIval().Ival)
		return &expr.Const{Typ: types.Int4, Val: v}, nil
	case c.GetFval() != nil:
		s := c.GetFval().Fval
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			if i >= -1<<31 && i < 1<<31 {
				return &expr.Const{Typ: types.Int4, Val: i}, nil
			}
			return &expr.Const{Typ: types.Int8, Val: i}, nil
		}
		d, _, err := apd.NewFromString(s)
		if err != nil {
			return nil, sqlerr.New(sqlerr.InvalidTextRepresentation, "invalid input syntax for type numeric: \"%s\"", s).At(loc(c.Location))
		}
		return &expr.Const{Typ: types.Numeric, Val: d}, nil
	case c.GetBoolval() != nil:
		return &expr.Const{Typ: types.Bool, Val: c.GetBoolval().Boolval}, nil
	case c.GetSval() != nil:
		return &expr.Const{Typ: types.Unknown, Val: c.GetSval().Sval}, nil
	case c.GetBsval() != nil:
		return nil, sqlerr.Unsupported("bit string literals are not supported").At(loc(c.Location))
	}
	return &expr.Const{Typ: types.Int4, Val: int64(0)}, nil
}

func (b *binder) bindColumnRef(cr *pg.ColumnRef, s *scope) (expr.Expr, error) {
	var parts []string
	for _, f := range cr.Fields {
		if f.GetAStar() != nil {
			return nil, sqlerr.New(sqlerr.SyntaxError, "row expansion via \"*\" is not supported here").At(loc(cr.Location))
		}
		parts = append(parts, f.GetString_().Sval)
	}
	switch len(parts) {
	case 1:
		return s.resolve("", parts[0], loc(cr.Location))
	case 2:
		return s.resolve(parts[0], parts[1], loc(cr.Location))
	case 3:
		return s.resolve(parts[1], parts[2], loc(cr.Location))
	}
	return nil, sqlerr.New(sqlerr.SyntaxError, "improper qualified name (too many dotted names): %s", strings.Join(parts, ".")).At(loc(cr.Location))
}

// explicitCast binds arg::t.
func (b *binder) explicitCast(arg expr.Expr, t *types.T, pos int) (expr.Expr, error) {
	from := arg.Type()
	if from.Equal(t) {
		return arg, nil
	}
	if from.Family != types.UnknownFamily {
		if _, ok := arg.(*expr.Param); !ok {
			_, explicitOK := types.CanCast(from, t)
			if !explicitOK {
				return nil, sqlerr.New(sqlerr.CannotCoerce, "cannot cast type %s to %s", from.String(), t.String()).At(pos)
			}
		}
	}
	e, err := b.coerce(arg, t, "", true)
	if err != nil {
		if se, ok := sqlerr.As(err); ok {
			return nil, se.At(pos)
		}
		return nil, err
	}
	return e, nil
}

// callResolved resolves and binds a function or operator call, casting the
// arguments to the chosen overload's parameter types.
func (b *binder) callResolved(name string, args []expr.Expr, pos int, _ *types.T) (expr.Expr, error) {
	argTypes := make([]*types.T, len(args))
	for i, a := range args {
		argTypes[i] = a.Type()
	}
	ov, params, ret, err := b.p.Reg.Resolve(name, argTypes)
	if err != nil {
		if se, ok := sqlerr.As(err); ok {
			return nil, se.At(pos)
		}
		return nil, err
	}
	for i, a := range args {
		if params[i] == expr.AnyType {
			continue
		}
		if !a.Type().Equal(params[i]) {
			c, err := b.coerce(a, params[i], "argument", true)
			if err != nil {
				if se, ok := sqlerr.As(err); ok {
					return nil, se.At(pos)
				}
				return nil, err
			}
			args[i] = c
		}
	}
	if ret == nil {
		ret = types.Text
	}
	if ov.Volatile || timeDependent[ov.Name] || readsMore[ov.Name] {
		b.unrepeatable = true
	}
	call := &expr.Call{Fn: ov, Args: args, Typ: ret}
	return call, nil
}

func opName(names []*pg.Node) string {
	return names[len(names)-1].GetString_().Sval
}

func (b *binder) bindAExpr(a *pg.A_Expr, s *scope) (expr.Expr, error) {
	pos := loc(a.Location)
	switch a.Kind {
	case pg.A_Expr_Kind_AEXPR_OP:
		op := opName(a.Name)
		if a.Lexpr == nil {
			r, err := b.bindExpr(a.Rexpr, s)
			if err != nil {
				return nil, err
			}
			if c, ok := r.(*expr.Const); ok && op == "-" {
				if neg, ok := negateConst(c); ok {
					return neg, nil
				}
			}
			return b.callResolved(op, []expr.Expr{r}, pos, nil)
		}
		l, err := b.bindExpr(a.Lexpr, s)
		if err != nil {
			return nil, err
		}
		r, err := b.bindExpr(a.Rexpr, s)
		if err != nil {
			return nil, err
		}
		return b.binaryOp(op, l, r, pos)
	case pg.A_Expr_Kind_AEXPR_DISTINCT, pg.A_Expr_Kind_AEXPR_NOT_DISTINCT:
		l, err := b.bindExpr(a.Lexpr, s)
		if err != nil {
			return nil, err
		}
		r, err := b.bindExpr(a.Rexpr, s)
		if err != nil {
			return nil, err
		}
		eq, err := b.binaryOp("=", l, r, pos)
		if err != nil {
			return nil, err
		}
		// a IS DISTINCT FROM b: (a = b) IS NOT TRUE when both non-null, else
		// whether exactly one is NULL.
		bothNull := &expr.And{Args: []expr.Expr{&expr.IsNull{Arg: l}, &expr.IsNull{Arg: r}}}
		oneNull := &expr.Or{Args: []expr.Expr{&expr.IsNull{Arg: l}, &expr.IsNull{Arg: r}}}
		t := true
		notDistinct := &expr.Case{Typ: types.Bool, Whens: []expr.When{
			{Cond: bothNull, Then: &expr.Const{Typ: types.Bool, Val: true}},
			{Cond: oneNull, Then: &expr.Const{Typ: types.Bool, Val: false}},
		}, Else: &expr.IsBool{Arg: eq, Want: &t}}
		if a.Kind == pg.A_Expr_Kind_AEXPR_NOT_DISTINCT {
			return notDistinct, nil
		}
		return &expr.Not{Arg: notDistinct}, nil
	case pg.A_Expr_Kind_AEXPR_NULLIF:
		l, err := b.bindExpr(a.Lexpr, s)
		if err != nil {
			return nil, err
		}
		r, err := b.bindExpr(a.Rexpr, s)
		if err != nil {
			return nil, err
		}
		eq, err := b.binaryOp("=", l, r, pos)
		if err != nil {
			return nil, err
		}
		lt := l.Type()
		if lt.Family == types.UnknownFamily {
			lt = types.Text
			if l, err = b.coerce(l, lt, "", false); err != nil {
				return nil, err
			}
		}
		return &expr.Case{Typ: lt, Whens: []expr.When{{Cond: eq, Then: &expr.Const{Typ: lt}}}, Else: l}, nil
	case pg.A_Expr_Kind_AEXPR_IN:
		l, err := b.bindExpr(a.Lexpr, s)
		if err != nil {
			return nil, err
		}
		op := opName(a.Name) // "=" for IN, "<>" for NOT IN
		var terms []expr.Expr
		for _, item := range a.Rexpr.GetList().Items {
			r, err := b.bindExpr(item, s)
			if err != nil {
				return nil, err
			}
			c, err := b.binaryOp("=", l, r, pos)
			if err != nil {
				return nil, err
			}
			terms = append(terms, c)
		}
		var in expr.Expr = &expr.Or{Args: terms}
		if op == "<>" {
			in = &expr.Not{Arg: in}
		}
		return in, nil
	case pg.A_Expr_Kind_AEXPR_LIKE, pg.A_Expr_Kind_AEXPR_ILIKE, pg.A_Expr_Kind_AEXPR_SIMILAR:
		l, err := b.bindExpr(a.Lexpr, s)
		if err != nil {
			return nil, err
		}
		r, err := b.bindExpr(a.Rexpr, s)
		if err != nil {
			return nil, err
		}
		return b.binaryOp(opName(a.Name), l, r, pos)
	case pg.A_Expr_Kind_AEXPR_BETWEEN, pg.A_Expr_Kind_AEXPR_NOT_BETWEEN, pg.A_Expr_Kind_AEXPR_BETWEEN_SYM, pg.A_Expr_Kind_AEXPR_NOT_BETWEEN_SYM:
		x, err := b.bindExpr(a.Lexpr, s)
		if err != nil {
			return nil, err
		}
		bounds := a.Rexpr.GetList().Items
		lo, err := b.bindExpr(bounds[0], s)
		if err != nil {
			return nil, err
		}
		hi, err := b.bindExpr(bounds[1], s)
		if err != nil {
			return nil, err
		}
		ge, err := b.binaryOp(">=", x, lo, pos)
		if err != nil {
			return nil, err
		}
		le, err := b.binaryOp("<=", x, hi, pos)
		if err != nil {
			return nil, err
		}
		var res expr.Expr = &expr.And{Args: []expr.Expr{ge, le}}
		if a.Kind == pg.A_Expr_Kind_AEXPR_BETWEEN_SYM || a.Kind == pg.A_Expr_Kind_AEXPR_NOT_BETWEEN_SYM {
			ge2, err := b.binaryOp(">=", x, hi, pos)
			if err != nil {
				return nil, err
			}
			le2, err := b.binaryOp("<=", x, lo, pos)
			if err != nil {
				return nil, err
			}
			res = &expr.Or{Args: []expr.Expr{res, &expr.And{Args: []expr.Expr{ge2, le2}}}}
		}
		if a.Kind == pg.A_Expr_Kind_AEXPR_NOT_BETWEEN || a.Kind == pg.A_Expr_Kind_AEXPR_NOT_BETWEEN_SYM {
			res = &expr.Not{Arg: res}
		}
		return res, nil
	case pg.A_Expr_Kind_AEXPR_OP_ANY, pg.A_Expr_Kind_AEXPR_OP_ALL:
		l, err := b.bindExpr(a.Lexpr, s)
		if err != nil {
			return nil, err
		}
		r, err := b.bindExpr(a.Rexpr, s)
		if err != nil {
			return nil, err
		}
		return b.bindArrayQuantified(opName(a.Name), l, r, a.Kind == pg.A_Expr_Kind_AEXPR_OP_ALL, pos)
	}
	return nil, sqlerr.Unsupported("operator kind %v is not supported", a.Kind).At(pos)
}

func negateConst(c *expr.Const) (expr.Expr, bool) {
	switch v := c.Val.(type) {
	case int64:
		if c.Typ.Oid == types.OidInt4 || c.Typ.Oid == types.OidInt8 {
			return &expr.Const{Typ: c.Typ, Val: -v}, true
		}
	case *apd.Decimal:
		d := new(apd.Decimal)
		d.Neg(v)
		return &expr.Const{Typ: c.Typ, Val: d}, true
	}
	return nil, false
}

// binaryOp binds l op r, converting `text || non-text` to text concatenation
// as Postgres' anynonarray || text does.
func (b *binder) binaryOp(op string, l, r expr.Expr, pos int) (expr.Expr, error) {
	if op == "||" {
		lt, rt := l.Type(), r.Type()
		isText := func(t *types.T) bool { return t.Family == types.StringFamily || t.Family == types.UnknownFamily }
		if (isText(lt) || isText(rt)) && lt.Family != types.ArrayFamily && rt.Family != types.ArrayFamily &&
			lt.Family != types.JSONFamily && rt.Family != types.JSONFamily && lt.Family != types.BytesFamily {
			var err error
			if l, err = b.toText(l); err != nil {
				return nil, err
			}
			if r, err = b.toText(r); err != nil {
				return nil, err
			}
		}
	}
	return b.callResolved(op, []expr.Expr{l, r}, pos, nil)
}

func (b *binder) toText(e expr.Expr) (expr.Expr, error) {
	if e.Type().Oid == types.OidText {
		return e, nil
	}
	return b.coerce(e, types.Text, "", true)
}

// bindArrayQuantified binds `l op ANY|ALL (array)`.
func (b *binder) bindArrayQuantified(op string, l, r expr.Expr, all bool, pos int) (expr.Expr, error) {
	rt := r.Type()
	if rt.Family == types.UnknownFamily {
		elem := l.Type()
		if elem.Family == types.UnknownFamily {
			elem = types.Text
		}
		var err error
		if r, err = b.coerce(r, types.ArrayOf(elem), "", true); err != nil {
			return nil, err
		}
		rt = r.Type()
	}
	if rt.Family != types.ArrayFamily {
		return nil, sqlerr.New(sqlerr.WrongObjectType, "op ANY/ALL (array) requires array on right side").At(pos)
	}
	if l.Type().Family == types.UnknownFamily {
		var err error
		if l, err = b.coerce(l, rt.Elem, "", false); err != nil {
			return nil, err
		}
	}
	ov, params, _, err := b.p.Reg.Resolve(op, []*types.T{l.Type(), rt.Elem})
	if err != nil {
		if se, ok := sqlerr.As(err); ok {
			return nil, se.At(pos)
		}
		return nil, err
	}
	if !l.Type().Equal(params[0]) {
		if l, err = b.coerce(l, params[0], "", true); err != nil {
			return nil, err
		}
	}
	return &expr.ArrayQuantified{Arg: l, Array: r, Cmp: ov, All: all}, nil
}

func (b *binder) bindCase(ce *pg.CaseExpr, s *scope) (expr.Expr, error) {
	var operand expr.Expr
	if ce.Arg != nil {
		var err error
		if operand, err = b.bindExpr(ce.Arg, s); err != nil {
			return nil, err
		}
	}
	var conds []expr.Expr
	var results []*pg.Node
	for _, w := range ce.Args {
		cw := w.GetCaseWhen()
		c, err := b.bindExpr(cw.Expr, s)
		if err != nil {
			return nil, err
		}
		if operand != nil {
			if c, err = b.binaryOp("=", operand, c, loc(cw.Location)); err != nil {
				return nil, err
			}
		} else if c, err = b.coerceBool(c, "CASE/WHEN", cw.Expr); err != nil {
			return nil, err
		}
		conds = append(conds, c)
		results = append(results, cw.Result)
	}
	if ce.Defresult != nil {
		results = append([]*pg.Node{ce.Defresult}, results...)
	}
	vals, t, err := b.bindUnified(results, s, "CASE")
	if err != nil {
		return nil, err
	}
	if ce.Defresult != nil {
		vals = append(vals[1:], vals[0])
	}
	out := &expr.Case{Typ: t}
	for i, c := range conds {
		out.Whens = append(out.Whens, expr.When{Cond: c, Then: vals[i]})
	}
	if ce.Defresult != nil {
		out.Else = vals[len(vals)-1]
	}
	return out, nil
}

// bindUnified binds expressions that must share one type (CASE results,
// COALESCE, VALUES columns) and casts them to it.
func (b *binder) bindUnified(nodes []*pg.Node, s *scope, what string) ([]expr.Expr, *types.T, error) {
	es := make([]expr.Expr, len(nodes))
	ts := make([]*types.T, len(nodes))
	for i, n := range nodes {
		e, err := b.bindExpr(n, s)
		if err != nil {
			return nil, nil, err
		}
		es[i], ts[i] = e, e.Type()
	}
	es, t, err := b.unify(es, what, nodes)
	return es, t, err
}

func (b *binder) unify(es []expr.Expr, what string, nodes []*pg.Node) ([]expr.Expr, *types.T, error) {
	ts := make([]*types.T, len(es))
	for i, e := range es {
		ts[i] = e.Type()
	}
	t := expr.CommonType(ts)
	if t == nil {
		var first *types.T
		for i, x := range ts {
			if x.Family == types.UnknownFamily {
				continue
			}
			if first == nil {
				first = x
				continue
			}
			pos := 0
			if nodes != nil {
				pos = nodeLoc(nodes[i])
			}
			return nil, nil, sqlerr.New(sqlerr.DatatypeMismatch, "%s types %s and %s cannot be matched", what, first.String(), x.String()).At(pos)
		}
	}
	for i, e := range es {
		if !e.Type().Equal(t) {
			c, err := b.coerce(e, t, what, true)
			if err != nil {
				return nil, nil, err
			}
			es[i] = c
		}
	}
	return es, t, nil
}

func (b *binder) bindArray(a *pg.A_ArrayExpr, s *scope) (expr.Expr, error) {
	if len(a.Elements) == 0 {
		return &expr.Const{Typ: types.Unknown, Val: "{}"}, nil
	}
	es, t, err := b.bindUnified(a.Elements, s, "ARRAY")
	if err != nil {
		return nil, err
	}
	return &expr.ArrayCtor{Elems: es, Typ: types.ArrayOf(t)}, nil
}

func (b *binder) bindIndirection(ind *pg.A_Indirection, s *scope) (expr.Expr, error) {
	e, err := b.bindExpr(ind.Arg, s)
	if err != nil {
		return nil, err
	}
	for _, i := range ind.Indirection {
		if f := i.GetString_(); f != nil {
			if e, err = fieldSelect(e, f.Sval); err != nil {
				return nil, err
			}
			continue
		}
		idx := i.GetAIndices()
		if idx == nil || idx.IsSlice {
			return nil, sqlerr.Unsupported("only simple array subscripts are supported")
		}
		if e.Type().Family != types.ArrayFamily {
			return nil, sqlerr.New(sqlerr.DatatypeMismatch, "cannot subscript type %s because it does not support subscripting", e.Type().String())
		}
		k, err := b.bindExpr(idx.Uidx, s)
		if err != nil {
			return nil, err
		}
		if k, err = b.coerce(k, types.Int8, "array subscript", false); err != nil {
			return nil, err
		}
		e = &expr.Subscript{Arr: e, Idx: k, Typ: e.Type().Elem}
	}
	return e, nil
}

// fieldSelect binds (e).name, a field of a record.
func fieldSelect(e expr.Expr, name string) (expr.Expr, error) {
	t := e.Type()
	if t.Family != types.RecordFamily {
		return nil, sqlerr.New(sqlerr.WrongObjectType, "column notation .%s applied to type %s, which is not a composite type", name, t)
	}
	i := t.FieldIndex(name)
	if i < 0 {
		return nil, sqlerr.New(sqlerr.UndefinedColumn, "could not identify column \"%s\" in record data type", name)
	}
	// A record is an *types.Array of its fields: field i is element i+1.
	return &expr.Subscript{Arr: e, Idx: &expr.Const{Typ: types.Int8, Val: int64(i + 1)}, Typ: t.Fields[i].Typ}, nil
}

func (b *binder) bindSQLValueFunction(f *pg.SQLValueFunction) (expr.Expr, error) {
	name := map[pg.SQLValueFunctionOp]string{
		pg.SQLValueFunctionOp_SVFOP_CURRENT_DATE:        "current_date",
		pg.SQLValueFunctionOp_SVFOP_CURRENT_TIME:        "current_time",
		pg.SQLValueFunctionOp_SVFOP_CURRENT_TIME_N:      "current_time",
		pg.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP:   "now",
		pg.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP_N: "now",
		pg.SQLValueFunctionOp_SVFOP_LOCALTIME:           "localtime",
		pg.SQLValueFunctionOp_SVFOP_LOCALTIME_N:         "localtime",
		pg.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP:      "localtimestamp",
		pg.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP_N:    "localtimestamp",
		pg.SQLValueFunctionOp_SVFOP_CURRENT_ROLE:        "current_user",
		pg.SQLValueFunctionOp_SVFOP_CURRENT_USER:        "current_user",
		pg.SQLValueFunctionOp_SVFOP_USER:                "current_user",
		pg.SQLValueFunctionOp_SVFOP_SESSION_USER:        "session_user",
		pg.SQLValueFunctionOp_SVFOP_CURRENT_CATALOG:     "current_database",
		pg.SQLValueFunctionOp_SVFOP_CURRENT_SCHEMA:      "current_schema",
	}[f.Op]
	return b.callResolved(name, nil, loc(f.Location), nil)
}

// bindSubLink binds a subquery expression. The subquery sees this scope as
// its parent, so its column references may be correlated.
func (b *binder) bindSubLink(sl *pg.SubLink, s *scope) (expr.Expr, error) {
	pos := loc(sl.Location)
	before := s.chainRefs()
	saved := b.grouping
	b.grouping = nil
	q, err := b.bindSelect(sl.Subselect.GetSelectStmt(), s)
	b.grouping = saved
	if err != nil {
		return nil, err
	}
	correlated := s.chainRefs() != before
	sub := &expr.Subquery{Plan: q.plan, Correlated: correlated}
	switch sl.SubLinkType {
	case pg.SubLinkType_EXISTS_SUBLINK:
		sub.Kind, sub.Typ = expr.ExistsSubquery, types.Bool
		return sub, nil
	case pg.SubLinkType_EXPR_SUBLINK:
		if len(q.cols) != 1 {
			return nil, sqlerr.New(sqlerr.SyntaxError, "subquery must return only one column").At(pos)
		}
		sub.Kind, sub.Typ = expr.ScalarSubquery, q.cols[0].Type
		return sub, nil
	case pg.SubLinkType_ARRAY_SUBLINK:
		if len(q.cols) != 1 {
			return nil, sqlerr.New(sqlerr.SyntaxError, "subquery must return only one column").At(pos)
		}
		sub.Kind, sub.Typ = expr.ArraySubquery, types.ArrayOf(q.cols[0].Type)
		return sub, nil
	case pg.SubLinkType_ANY_SUBLINK, pg.SubLinkType_ALL_SUBLINK:
		if len(q.cols) != 1 {
			return nil, sqlerr.New(sqlerr.SyntaxError, "subquery has too many columns").At(pos)
		}
		l, err := b.bindExpr(sl.Testexpr, s)
		if err != nil {
			return nil, err
		}
		op := "="
		if len(sl.OperName) > 0 {
			op = opName(sl.OperName)
		}
		rt := q.cols[0].Type
		if l.Type().Family == types.UnknownFamily {
			if l, err = b.coerce(l, rt, "", false); err != nil {
				return nil, err
			}
		}
		ov, params, _, err := b.p.Reg.Resolve(op, []*types.T{l.Type(), rt})
		if err != nil {
			if se, ok := sqlerr.As(err); ok {
				return nil, se.At(pos)
			}
			return nil, err
		}
		if !l.Type().Equal(params[0]) {
			if l, err = b.coerce(l, params[0], "", true); err != nil {
				return nil, err
			}
		}
		sub.Kind, sub.Typ, sub.Arg, sub.Cmp, sub.ColTyp = expr.AnySubquery, types.Bool, l, ov, rt
		if sl.SubLinkType == pg.SubLinkType_ALL_SUBLINK {
			sub.Kind = expr.AllSubquery
		}
		return sub, nil
	}
	return nil, sqlerr.Unsupported("this kind of subquery is not supported").At(pos)
}
