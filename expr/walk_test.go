package expr

import (
	"testing"

	"github.com/sluice-db/sluice/types"
)

// TestMapKeepsSharing checks that a node reached twice is rebuilt once:
// the arms of `x IN (…)` share x, and evaluate it once only while they do.
func TestMapKeepsSharing(t *testing.T) {
	eq := &Overload{Name: "=", Args: []*types.T{types.Text, types.Text}, Ret: types.Bool, Infix: true}
	lower := &Overload{Name: "lower", Args: []*types.T{types.Text}, Ret: types.Text}
	x := &Call{Fn: lower, Args: []Expr{&ColRef{Idx: 3, Typ: types.Text}}, Typ: types.Text}
	in := &Or{Args: []Expr{
		&Call{Fn: eq, Args: []Expr{x, &Const{Typ: types.Text, Val: "a"}}, Typ: types.Bool},
		&Call{Fn: eq, Args: []Expr{x, &Const{Typ: types.Text, Val: "b"}}, Typ: types.Bool},
	}}
	if in.inList() == nil {
		t.Fatal("the input is not an IN list")
	}
	out := Map(in, func(e Expr) Expr {
		if c, ok := e.(*ColRef); ok {
			return &ColRef{Idx: c.Idx - 1, Typ: c.Typ}
		}
		return e
	}).(*Or)
	a, b := out.Args[0].(*Call).Args[0], out.Args[1].(*Call).Args[0]
	if a != b {
		t.Fatalf("Map rebuilt the shared x twice: %p, %p", a, b)
	}
	if a == Expr(x) || a.(*Call).Args[0].(*ColRef).Idx != 2 {
		t.Fatalf("Map did not rebuild x: %s", a)
	}
	if out.inList() == nil {
		t.Fatal("the rebuilt IN list is not one")
	}
}
