package dataflow_test

import (
	"fmt"
	"math/rand"
	"testing"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/sluice-db/sluice/catalog"
	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/dataflow"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/planner"
	"github.com/sluice-db/sluice/types"
)

// pipelineKeys is the number of GROUP BY keys of the view benchmark.
const pipelineKeys = 10000

// pipelineCatalog holds the stream the benchmark's view reads.
type pipelineCatalog map[string]*catalog.Table

func (c pipelineCatalog) Lookup(schema, name string) (*catalog.Table, bool) {
	t, ok := c[schema+"."+name]
	return t, ok
}

// pipelineGraph plans the benchmark's view over stream s (k int8, v int8,
// pad text) the way CREATE MATERIALIZED VIEW does: filter, project, then
// GROUP BY k with sum and count.
func pipelineGraph(b *testing.B) *dataflow.Graph {
	s := &catalog.Table{ID: catalog.FirstUserID, Kind: catalog.KindStream, Schema: "public", Name: "s", Columns: []catalog.Column{
		{Name: "k", Type: types.Int8}, {Name: "v", Type: types.Int8}, {Name: "pad", Type: types.Text},
	}}
	p := &planner.Planner{Cat: pipelineCatalog{"public.s": s}, Reg: expr.NewRegistry()}
	res, err := pg.Parse("SELECT k, sum(v), count(*) FROM s WHERE v >= 0 GROUP BY k")
	if err != nil {
		b.Fatal(err)
	}
	vp, err := p.PlanView(res.Stmts[0].Stmt, planner.Options{SearchPath: []string{"public"}, Cfg: types.DefaultConfig()})
	if err != nil {
		b.Fatal(err)
	}
	return vp.Graph
}

// pipelineEpoch returns one epoch of stream inserts as 1024-row chunks:
// keys uniform over pipelineKeys, values in [-100, 924) (about a tenth
// fail the filter, as in sluice bench's views workload), a 16-byte pad the
// projection drops.
func pipelineEpoch(rows int) []*coldata.Chunk {
	rng := rand.New(rand.NewSource(1))
	ts := []*types.T{types.Int8, types.Int8, types.Text}
	var chunks []*coldata.Chunk
	for lo := 0; lo < rows; lo += coldata.DefaultChunkSize {
		n := min(coldata.DefaultChunkSize, rows-lo)
		c := dataflow.NewChanges(ts, n)
		for range n {
			c.Cols[0].Ints = append(c.Cols[0].Ints, rng.Int63n(pipelineKeys))
			c.Cols[1].Ints = append(c.Cols[1].Ints, rng.Int63n(1024)-100)
			c.Cols[2].Bytes = append(c.Cols[2].Bytes, "padding-16-bytes")
			c.Diffs = append(c.Diffs, 1)
		}
		c.Len = n
		chunks = append(chunks, c)
	}
	return chunks
}

// BenchmarkViewPipeline runs the dataflow of
//
//	SELECT k, sum(v), count(*) FROM s WHERE v >= 0 GROUP BY k
//
// (10 000 keys) through the runtime, one Step per epoch of the given number
// of inserted rows, on 1 and 2 workers. rows/s/core divides the throughput
// by the workers, the figure the view feature is sized by.
func BenchmarkViewPipeline(b *testing.B) {
	g := pipelineGraph(b)
	src := g.Sources()[0]
	for _, rows := range []int{1 << 14, 1 << 17, 1 << 20} {
		epoch := pipelineEpoch(rows)
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("epoch=%d/workers=%d", rows, workers), func(b *testing.B) {
				df, err := dataflow.New(g, &expr.EvalCtx{Cfg: types.DefaultConfig()}, dataflow.Workers(workers))
				if err != nil {
					b.Fatal(err)
				}
				defer df.Close()
				for b.Loop() {
					if _, _, err := df.Step(map[int][]*coldata.Chunk{src: epoch}, nil); err != nil {
						b.Fatal(err)
					}
				}
				perSec := float64(rows) * float64(b.N) / b.Elapsed().Seconds()
				b.ReportMetric(perSec, "rows/s")
				b.ReportMetric(perSec/float64(workers), "rows/s/core")
			})
		}
	}
}
