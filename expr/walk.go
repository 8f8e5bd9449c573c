package expr

// Walk calls fn for e and, while fn returns true, for its sub-expressions
// in depth-first order. It does not enter subquery plans (only a quantified
// subquery's left argument).
func Walk(e Expr, fn func(Expr) bool) {
	if e == nil || !fn(e) {
		return
	}
	each := func(es []Expr) {
		for _, x := range es {
			Walk(x, fn)
		}
	}
	switch e := e.(type) {
	case *Call:
		each(e.Args)
	case *Cast:
		Walk(e.Arg, fn)
	case *And:
		each(e.Args)
	case *Or:
		each(e.Args)
	case *Not:
		Walk(e.Arg, fn)
	case *IsNull:
		Walk(e.Arg, fn)
	case *IsBool:
		Walk(e.Arg, fn)
	case *Case:
		for _, w := range e.Whens {
			Walk(w.Cond, fn)
			Walk(w.Then, fn)
		}
		Walk(e.Else, fn)
	case *Coalesce:
		each(e.Args)
	case *ArrayCtor:
		each(e.Elems)
	case *Subscript:
		Walk(e.Arr, fn)
		Walk(e.Idx, fn)
	case *ArrayQuantified:
		Walk(e.Arg, fn)
		Walk(e.Array, fn)
	case *Subquery:
		Walk(e.Arg, fn)
	}
}

// Map rebuilds e bottom-up: every sub-expression is replaced by fn of its
// rebuilt self. Nodes are copied, never changed in place, so plans sharing
// sub-expressions stay intact; a node reached twice (the binder shares x
// among the arms of `x IN (…)`, which then evaluate it once) is rebuilt
// once, so the result shares it too. Like Walk, it does not enter subquery
// plans.
func Map(e Expr, fn func(Expr) Expr) Expr {
	m := mapper{fn: fn, done: map[Expr]Expr{}}
	return m.mapExpr(e)
}

type mapper struct {
	fn   func(Expr) Expr
	done map[Expr]Expr
}

func (m *mapper) mapExpr(e Expr) Expr {
	if e == nil {
		return nil
	}
	if out, ok := m.done[e]; ok {
		return out
	}
	out := m.rebuild(e)
	m.done[e] = out
	return out
}

func (m *mapper) rebuild(e Expr) Expr {
	fn := m.fn
	each := func(es []Expr) []Expr {
		out := make([]Expr, len(es))
		for i, x := range es {
			out[i] = m.mapExpr(x)
		}
		return out
	}
	switch e := e.(type) {
	case *Call:
		c := *e
		c.Args = each(e.Args)
		return fn(&c)
	case *Cast:
		c := *e
		c.Arg = m.mapExpr(e.Arg)
		return fn(&c)
	case *And:
		return fn(&And{Args: each(e.Args)})
	case *Or:
		return fn(&Or{Args: each(e.Args)})
	case *Not:
		return fn(&Not{Arg: m.mapExpr(e.Arg)})
	case *IsNull:
		c := *e
		c.Arg = m.mapExpr(e.Arg)
		return fn(&c)
	case *IsBool:
		c := *e
		c.Arg = m.mapExpr(e.Arg)
		return fn(&c)
	case *Case:
		c := *e
		c.Whens = make([]When, len(e.Whens))
		for i, w := range e.Whens {
			c.Whens[i] = When{Cond: m.mapExpr(w.Cond), Then: m.mapExpr(w.Then)}
		}
		c.Else = m.mapExpr(e.Else)
		return fn(&c)
	case *Coalesce:
		c := *e
		c.Args = each(e.Args)
		return fn(&c)
	case *ArrayCtor:
		c := *e
		c.Elems = each(e.Elems)
		return fn(&c)
	case *Subscript:
		c := *e
		c.Arr, c.Idx = m.mapExpr(e.Arr), m.mapExpr(e.Idx)
		return fn(&c)
	case *ArrayQuantified:
		c := *e
		c.Arg, c.Array = m.mapExpr(e.Arg), m.mapExpr(e.Array)
		return fn(&c)
	case *Subquery:
		c := *e
		c.Arg = m.mapExpr(e.Arg)
		return fn(&c)
	}
	return fn(e)
}
