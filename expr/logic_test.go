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
