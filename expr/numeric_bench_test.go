package expr

import (
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/apd/v3"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// BenchmarkNumericTimesBigint is Nexmark q1's 0.908 * price over a chunk
// of 65 536 bigint prices, as the planner binds it: the constant times the
// column widened to numeric.
func BenchmarkNumericTimesBigint(b *testing.B) {
	ov, _, _, err := NewRegistry().Resolve("*", []*types.T{types.Numeric, types.Numeric})
	if err != nil {
		b.Fatal(err)
	}
	k, _, err := apd.NewFromString("0.908")
	if err != nil {
		b.Fatal(err)
	}
	const n = 65536
	rng := rand.New(rand.NewPCG(1, 2))
	prices := coldata.NewVec(types.Int8, n)
	for range n {
		prices.Append(rng.Int64N(10_000_000))
	}
	call := &Call{Fn: ov, Typ: types.Numeric, Args: []Expr{&Const{Typ: types.Numeric, Val: k},
		&Cast{Arg: &ColRef{Idx: 0, Typ: types.Int8, Name: "price"}, To: types.Numeric}}}
	ch := &coldata.Chunk{Cols: []*coldata.Vec{prices}, Len: n}
	ctx := &EvalCtx{Cfg: types.DefaultConfig()}
	b.ReportAllocs()
	b.SetBytes(n)
	for b.Loop() {
		if _, err := call.Eval(ctx, ch); err != nil {
			b.Fatal(err)
		}
	}
}
