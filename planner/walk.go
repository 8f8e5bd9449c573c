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
	nodeChildren(n, func(c *pg.Node) { collectCalls(c, aggs, wins) })
}

// nodeChildren calls f for every direct child Node of n, as walkChildren
// does (in field order; walkChildren's is undefined), but reads the
// commonest kinds of node (column
// references, constants, operators, casts, calls, lists, sort keys)
// directly: walking them by reflection was 6 % of a dashboard server's
// CPU, planning its queries.
func nodeChildren(n *pg.Node, f func(*pg.Node)) {
	each := func(ns []*pg.Node) {
		for _, c := range ns {
			f(c)
		}
	}
	one := func(c *pg.Node) {
		if c != nil {
			f(c)
		}
	}
	switch x := n.Node.(type) {
	case *pg.Node_ColumnRef:
		each(x.ColumnRef.Fields)
	case *pg.Node_AConst, *pg.Node_String_, *pg.Node_Integer, *pg.Node_ParamRef, *pg.Node_AStar:
	case *pg.Node_AExpr:
		each(x.AExpr.Name)
		one(x.AExpr.Lexpr)
		one(x.AExpr.Rexpr)
	case *pg.Node_BoolExpr:
		one(x.BoolExpr.Xpr)
		each(x.BoolExpr.Args)
	case *pg.Node_ResTarget:
		each(x.ResTarget.Indirection)
		one(x.ResTarget.Val)
	case *pg.Node_SortBy:
		one(x.SortBy.Node)
		each(x.SortBy.UseOp)
	case *pg.Node_List:
		each(x.List.Items)
	case *pg.Node_TypeCast:
		one(x.TypeCast.Arg)
		if tn := x.TypeCast.TypeName; tn != nil {
			each(tn.Names)
			each(tn.Typmods)
			each(tn.ArrayBounds)
		}
	case *pg.Node_FuncCall:
		fc := x.FuncCall
		each(fc.Funcname)
		each(fc.Args)
		each(fc.AggOrder)
		one(fc.AggFilter)
		if fc.Over != nil {
			walkChildren(fc.Over.ProtoReflect(), f)
		}
	default:
		walkChildren(n.ProtoReflect(), f)
	}
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
