package expr

import (
	"context"
	"testing"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// TestCoalesceIsLazy checks that later arguments run only on rows still
// NULL: COALESCE(x, 10 / x) must not divide by zero where x = 0.
func TestCoalesceIsLazy(t *testing.T) {
	r := NewRegistry()
	div, _, ret, err := r.Resolve("/", []*types.T{types.Int8, types.Int8})
	if err != nil {
		t.Fatal(err)
	}
	x := &ColRef{Idx: 0, Typ: types.Int8, Name: "x"}
	ch := coldata.NewChunk([]*types.T{types.Int8}, 3)
	ch.AppendRow([]types.Datum{int64(0)})
	ch.AppendRow([]types.Datum{nil})
	ch.AppendRow([]types.Datum{int64(5)})
	// Rows: x = 0 (kept), NULL (10 / NULL is NULL, so 2), 5 (kept).
	two := &Const{Typ: types.Int8, Val: int64(2)}
	c := &Coalesce{Typ: types.Int8, Args: []Expr{x, &Call{Fn: div, Args: []Expr{&Const{Typ: types.Int8, Val: int64(10)}, x}, Typ: ret}, two}}
	v, err := c.Eval(&EvalCtx{Ctx: context.Background(), Cfg: types.DefaultConfig()}, ch)
	if err != nil {
		t.Fatalf("10 / x was evaluated on a row where x is 0: %v", err)
	}
	if got := []any{v.Get(0), v.Get(1), v.Get(2)}; got[0] != int64(0) || got[1] != int64(2) || got[2] != int64(5) {
		t.Errorf("COALESCE = %v, want [0 2 5]", got)
	}
}

// TestInList checks the one-pass x IN (constants) against the general
// three-valued OR of its comparisons, on integers and strings with NULLs,
// and that ORs it does not cover are left to the general path.
func TestInList(t *testing.T) {
	r := NewRegistry()
	ctx := &EvalCtx{Ctx: context.Background(), Cfg: types.DefaultConfig()}
	for _, tc := range []struct {
		typ    *types.T
		row    func(i int) types.Datum
		consts []types.Datum
	}{
		{types.Int8, func(i int) types.Datum { return int64(i % 9) }, []types.Datum{int64(2), int64(5), int64(100)}},
		{types.Int4, func(i int) types.Datum { return int64(i % 4) }, []types.Datum{int64(0)}},
		{types.Text, func(i int) types.Datum { return []string{"Google", "Apple", "other", ""}[i%4] }, []types.Datum{"Apple", "", "Baidu"}},
	} {
		eq, _, _, err := r.Resolve("=", []*types.T{tc.typ, tc.typ})
		if err != nil {
			t.Fatal(err)
		}
		x := &ColRef{Idx: 0, Typ: tc.typ, Name: "x"}
		in := &Or{}
		for _, c := range tc.consts {
			in.Args = append(in.Args, &Call{Fn: eq, Args: []Expr{x, &Const{Typ: tc.typ, Val: c}}, Typ: types.Bool})
		}
		if in.inList() != x {
			t.Fatalf("%s: x IN %v is not taken for an IN list", tc.typ, tc.consts)
		}
		ch := coldata.NewChunk([]*types.T{tc.typ}, 50)
		for i := range 50 {
			d := tc.row(i)
			if i%6 == 1 {
				d = nil
			}
			ch.AppendRow([]types.Datum{d})
		}
		got, err := in.Eval(ctx, ch)
		if err != nil {
			t.Fatal(err)
		}
		want, err := evalBoolJunction(ctx, ch, in.Args, true)
		if err != nil {
			t.Fatal(err)
		}
		for i := range ch.Len {
			if got.Get(i) != want.Get(i) {
				t.Fatalf("%s: row %d (x = %v): IN list = %v, OR = %v", tc.typ, i, ch.Cols[0].Get(i), got.Get(i), want.Get(i))
			}
		}
	}
	eq, _, _, err := r.Resolve("=", []*types.T{types.BPChar, types.BPChar})
	if err != nil {
		t.Fatal(err)
	}
	textEq, _, _, err := r.Resolve("=", []*types.T{types.Text, types.Text})
	if err != nil {
		t.Fatal(err)
	}
	a, b := &ColRef{Idx: 0, Typ: types.Text}, &ColRef{Idx: 1, Typ: types.Text}
	for name, or := range map[string]*Or{
		"bpchar, whose = ignores trailing blanks": {Args: []Expr{&Call{Fn: eq, Args: []Expr{&ColRef{Typ: types.BPChar}, &Const{Typ: types.BPChar, Val: "a"}}, Typ: types.Bool}}},
		"a NULL constant":                         {Args: []Expr{&Call{Fn: textEq, Args: []Expr{a, &Const{Typ: types.Text}}, Typ: types.Bool}}},
		"two columns": {Args: []Expr{&Call{Fn: textEq, Args: []Expr{a, &Const{Typ: types.Text, Val: "x"}}, Typ: types.Bool},
			&Call{Fn: textEq, Args: []Expr{b, &Const{Typ: types.Text, Val: "y"}}, Typ: types.Bool}}},
	} {
		if or.inList() != nil {
			t.Errorf("%s: taken for an IN list", name)
		}
	}
}
