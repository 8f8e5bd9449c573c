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
