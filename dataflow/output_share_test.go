package dataflow_test

import (
	"fmt"
	"testing"
	"unsafe"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/sluice-db/sluice/catalog"
	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/dataflow"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/planner"
	"github.com/sluice-db/sluice/types"
)

// A projection of a Step input's columns comes out sharing them (not
// copied, as the arrangement a view keeps copies it anyway), with the
// rows and diffs it was given; a column it computes is copied. A filter's output, which the filter reuses
// for its next chunk, is copied, and so is StepFeed's output (a view's
// first epoch over a stream's history).
func TestStepOutputSharesInputColumns(t *testing.T) {
	s := &catalog.Table{ID: catalog.FirstUserID, Kind: catalog.KindStream, Schema: "public", Name: "t", Columns: []catalog.Column{
		{Name: "a", Type: types.Int8}, {Name: "s", Type: types.Text}, {Name: "b", Type: types.Int8},
	}}
	newDataflow := func(query string) (*dataflow.Dataflow, int) {
		p := &planner.Planner{Cat: pipelineCatalog{"public.t": s}, Reg: expr.NewRegistry()}
		res, err := pg.Parse(query)
		if err != nil {
			t.Fatal(err)
		}
		vp, err := p.PlanView(res.Stmts[0].Stmt, planner.Options{SearchPath: []string{"public"}, Cfg: types.DefaultConfig()})
		if err != nil {
			t.Fatal(err)
		}
		df, err := dataflow.New(vp.Graph, &expr.EvalCtx{Cfg: types.DefaultConfig()}, dataflow.Workers(2), dataflow.ChunkSize(64))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(df.Close)
		return df, vp.Graph.Sources()[0]
	}
	const rows = 1000
	input := func() *coldata.Chunk {
		c := dataflow.NewChanges(s.Types(), rows)
		for i := range rows {
			c.AppendRow([]types.Datum{int64(i), fmt.Sprint("s", i), int64(-i)})
			c.Diffs = append(c.Diffs, 1)
		}
		return c
	}
	// within reports whether v's ints lie in column j of c.
	within := func(v *coldata.Vec, c *coldata.Chunk, j int) bool {
		base := uintptr(unsafe.Pointer(&c.Cols[j].Ints[0]))
		p := uintptr(unsafe.Pointer(&v.Ints[0]))
		return p >= base && p < base+uintptr(len(c.Cols[j].Ints))*8
	}
	check := func(name string, outs []*coldata.Chunk, c *coldata.Chunk, want int, shared bool) {
		t.Helper()
		seen := map[int64]bool{}
		for _, o := range outs {
			for i := range o.Len {
				b := o.Cols[0].Ints[i]
				if o.Cols[1].Bytes[i] != fmt.Sprint("s", -b) || o.Diffs[i] != 1 || seen[b] {
					t.Fatalf("%s: row (%d, %q) diff %d (seen: %v)", name, b, o.Cols[1].Bytes[i], o.Diffs[i], seen[b])
				}
				seen[b] = true
			}
			if got := within(o.Cols[0], c, 2); got != shared {
				t.Fatalf("%s: output shares the input's column: %v, want %v", name, got, shared)
			}
		}
		if len(seen) != want {
			t.Fatalf("%s: %d rows out, want %d", name, len(seen), want)
		}
	}
	step := func(query string) ([]*coldata.Chunk, *coldata.Chunk) {
		df, src := newDataflow(query)
		c := input()
		outs, _, err := df.Step(map[int][]*coldata.Chunk{src: {c}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return outs, c
	}

	outs, c := step("SELECT b, s FROM t")
	check("projection", outs, c, rows, true)

	// A computed column is copied (the projection's expression may reuse
	// its vector), the input's columns still shared.
	outs, c = step("SELECT b, s, a * 2 FROM t")
	check("projection computing a column", outs, c, rows, true)
	for _, o := range outs {
		if o.Cols[2].Ints == nil || within(o.Cols[2], c, 0) {
			t.Fatalf("projection computing a column: the computed column is the input's")
		}
		for i := range o.Len {
			if got, want := o.Cols[2].Ints[i], -2*o.Cols[0].Ints[i]; got != want {
				t.Fatalf("projection computing a column: a * 2 = %d, want %d", got, want)
			}
		}
	}

	outs, c = step("SELECT b, s FROM t WHERE a % 3 <> 0")
	check("filter", outs, c, rows-(rows+2)/3, false)

	df, src := newDataflow("SELECT b, s FROM t")
	c = input()
	outs, _, err := df.StepFeed(func(put func(int, *coldata.Chunk)) error { put(src, c); return nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	check("StepFeed", outs, c, rows, false)
}
