package dataflow

import (
	"slices"
	"strings"
	"testing"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// An operator equal to one already in the graph, on the same inputs, is
// that operator: a subquery read twice is maintained once.
func TestGraphSharesEqualNodes(t *testing.T) {
	typs := []*types.T{types.Int8, types.Text}
	g := &Graph{}
	src := g.Add(&Source{Name: "s", Typs: typs})
	if again := g.Add(&Source{Name: "s", Typs: typs}); again != src {
		t.Fatalf("a second equal source is node %d, want %d", again, src)
	}
	agg := func() OpSpec { return &Distinct{Typs: typs} }
	a := g.Add(agg(), src)
	if b := g.Add(agg(), src); b != a {
		t.Fatalf("an equal operator on the same input is node %d, want %d", b, a)
	}
	if other := g.Add(&Source{Name: "other", Typs: typs}); other == src {
		t.Fatal("a source of another stream was taken for the first")
	}
	u := g.Add(&Union{Typs: typs, Inputs: 2}, a, a)
	if len(g.Nodes) != 4 || g.Output != u {
		t.Fatalf("%d nodes, output %d; want 4 and %d", len(g.Nodes), g.Output, u)
	}
	if s := g.String(); strings.Count(s, "Source s") != 1 || !strings.Contains(s, "(shared) Distinct") {
		t.Fatalf("the shared node is not printed once in full, then as shared:\n%s", s)
	}
}

// PutInputs puts the chunks given to Source nodes, source by source in
// the order of Sources and each source's in its order, and none given to
// another node.
func TestGraphPutInputs(t *testing.T) {
	typs := []*types.T{types.Int8}
	g := &Graph{}
	a := g.Add(&Source{Name: "a", Typs: typs})
	b := g.Add(&Source{Name: "b", Typs: typs})
	u := g.Add(&Union{Typs: typs, Inputs: 2}, a, b)
	chunk := func() *coldata.Chunk { return coldata.NewChunk(typs, 0) }
	a1, a2, b1 := chunk(), chunk(), chunk()
	inputs := map[int][]*coldata.Chunk{b: {b1}, u: {chunk()}, a: {a1, a2}}
	type put struct {
		src int
		c   *coldata.Chunk
	}
	var got []put
	g.PutInputs(inputs, func(src int, c *coldata.Chunk) { got = append(got, put{src, c}) })
	if want := []put{{a, a1}, {a, a2}, {b, b1}}; !slices.Equal(got, want) {
		t.Fatalf("PutInputs put %v, want %v", got, want)
	}
}
