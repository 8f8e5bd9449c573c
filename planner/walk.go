package planner

import (
	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// collectCalls finds aggregate and window function calls in n, without
// descending into subqueries or into aggregate arguments.
func collectCalls(n *pg.Node, aggs, wins *[]*pg.FuncCall) {
	if n == nil {
		return
	}
	if n.GetSubLink() != nil {
		return
	}
	if fc := n.GetFuncCall(); fc != nil {
		if fc.Over != nil {
			*wins = append(*wins, fc)
			for _, a := range fc.Args {
				collectCalls(a, aggs, wins)
			}
			return
		}
		if isAggCall(fc) {
			*aggs = append(*aggs, fc)
			return
		}
	}
	walkChildren(n.ProtoReflect(), func(c *pg.Node) { collectCalls(c, aggs, wins) })
}

// walkChildren calls f for every direct child Node of a message, looking
// through intermediate non-Node messages (e.g. SortBy inside a List).
func walkChildren(m protoreflect.Message, f func(*pg.Node)) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind {
			return true
		}
		visit := func(mv protoreflect.Message) {
			if n, ok := mv.Interface().(*pg.Node); ok {
				f(n)
				return
			}
			walkChildren(mv, f)
		}
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				visit(l.Get(i).Message())
			}
		case fd.IsMap():
		default:
			visit(v.Message())
		}
		return true
	})
}
