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
// sub-expressions stay intact. Like Walk, it does not enter subquery plans.
func Map(e Expr, fn func(Expr) Expr) Expr {
	if e == nil {
		return nil
	}
	each := func(es []Expr) []Expr {
		out := make([]Expr, len(es))
		for i, x := range es {
			out[i] = Map(x, fn)
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
		c.Arg = Map(e.Arg, fn)
		return fn(&c)
	case *And:
		return fn(&And{Args: each(e.Args)})
	case *Or:
		return fn(&Or{Args: each(e.Args)})
	case *Not:
		return fn(&Not{Arg: Map(e.Arg, fn)})
	case *IsNull:
		c := *e
		c.Arg = Map(e.Arg, fn)
		return fn(&c)
	case *IsBool:
		c := *e
		c.Arg = Map(e.Arg, fn)
		return fn(&c)
	case *Case:
		c := *e
		c.Whens = make([]When, len(e.Whens))
		for i, w := range e.Whens {
			c.Whens[i] = When{Cond: Map(w.Cond, fn), Then: Map(w.Then, fn)}
		}
		c.Else = Map(e.Else, fn)
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
		c.Arr, c.Idx = Map(e.Arr, fn), Map(e.Idx, fn)
		return fn(&c)
	case *ArrayQuantified:
		c := *e
		c.Arg, c.Array = Map(e.Arg, fn), Map(e.Array, fn)
		return fn(&c)
	case *Subquery:
		c := *e
		c.Arg = Map(e.Arg, fn)
		return fn(&c)
	}
	return fn(e)
}
