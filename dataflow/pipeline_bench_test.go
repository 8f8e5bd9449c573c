package dataflow_test

import (
	"fmt"
	"math/rand"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

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

// BenchmarkViewPassThrough runs a pass-through view over a stream of bids
// (auction, bidder, price, channel, url, date_time, extra) the way a Kafka
// stream feeds it: a projection of five columns (Nexmark q0; q1 computes
// one of them, 0.908 * price) through the runtime on two workers, one Step
// per epoch of decoded 16 384-row batches, each epoch's output applied to
// the view's arrangement, 2M rows in all. It reports the process's CPU
// time (user and system) per row beside the wall-clock time, as other work
// on the machine skews the latter.
func BenchmarkViewPassThrough(b *testing.B) {
	for _, q := range []struct{ name, query string }{
		{"q0", "SELECT auction, bidder, price, date_time, extra FROM bid"},
		{"q1", "SELECT auction, bidder, 0.908 * price AS price, date_time, extra FROM bid"},
	} {
		b.Run(q.name, func(b *testing.B) { benchViewPassThrough(b, q.query) })
	}
}

func benchViewPassThrough(b *testing.B, query string) {
	const rows, epochRows, batchRows = 2_000_000, 200_000, 16_384
	s := &catalog.Table{ID: catalog.FirstUserID, Kind: catalog.KindStream, Schema: "public", Name: "bid", Columns: []catalog.Column{
		{Name: "auction", Type: types.Int8}, {Name: "bidder", Type: types.Int8}, {Name: "price", Type: types.Int8},
		{Name: "channel", Type: types.Text}, {Name: "url", Type: types.Text}, {Name: "date_time", Type: types.Timestamp},
		{Name: "extra", Type: types.Text},
	}}
	p := &planner.Planner{Cat: pipelineCatalog{"public.bid": s}, Reg: expr.NewRegistry()}
	res, err := pg.Parse(query)
	if err != nil {
		b.Fatal(err)
	}
	vp, err := p.PlanView(res.Stmts[0].Stmt, planner.Options{SearchPath: []string{"public"}, Cfg: types.DefaultConfig()})
	if err != nil {
		b.Fatal(err)
	}
	g := vp.Graph
	src := g.Sources()[0]
	// batch makes the decoded batch of rows [lo, lo+n): fresh chunks, as
	// the decoder hands each one over.
	batch := func(lo, n int) *coldata.Chunk {
		c := dataflow.NewChanges(s.Types(), n)
		for i := lo; i < lo+n; i++ {
			c.AppendRow([]types.Datum{int64(i % 10_000), int64(i % 7_919), int64(i % 1_000_003),
				"channel-1", "https://www.nexmark.com/item.htm?query=1", int64(i) * 1000, fmt.Sprintf("extra-%030d", i)})
			c.Diffs = append(c.Diffs, 1)
		}
		return c
	}
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		df, err := dataflow.New(g, &expr.EvalCtx{Cfg: types.DefaultConfig()}, dataflow.Workers(2))
		if err != nil {
			b.Fatal(err)
		}
		a := dataflow.NewArrangement(g.Nodes[g.Output].Spec.Types(), nil)
		var epochs [][]*coldata.Chunk
		for lo := 0; lo < rows; lo += epochRows {
			var in []*coldata.Chunk
			for blo := lo; blo < min(lo+epochRows, rows); blo += batchRows {
				in = append(in, batch(blo, min(batchRows, lo+epochRows-blo, rows-blo)))
			}
			epochs = append(epochs, in)
		}
		runtime.GC()
		cpu0 := processCPU(b)
		b.StartTimer()
		for e, in := range epochs {
			epochs[e] = nil
			outs, _, err := df.Step(map[int][]*coldata.Chunk{src: in}, nil)
			if err != nil {
				b.Fatal(err)
			}
			if err := a.Apply(uint64(e+1), outs...); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		cpu += processCPU(b) - cpu0
		df.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*rows), "cpu-ns/row")
}

// processCPU returns the CPU time (user and system) the process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkStepInline steps the dataflow of BenchmarkViewPipeline's view
// (a GROUP BY behind an exchange) on two workers, epochs of 1 to 8 Ki
// inserted rows, run by the workers' goroutines or by the caller
// (InlineAlways): what a small epoch's wake-ups cost, and where running
// on one goroutine stops paying. With busy, two goroutines a P spin
// meanwhile, as a thousand connections' queries keep every P taken: each
// wake-up then waits for a P.
func BenchmarkStepInline(b *testing.B) {
	g := pipelineGraph(b)
	src := g.Sources()[0]
	modes := []struct {
		name string
		opt  dataflow.Option
	}{{"workers", dataflow.InlineSteps(-1, 0)}, {"inline", dataflow.InlineAlways()}}
	for _, busy := range []bool{false, true} {
		for _, rows := range []int{1, 64, 1024, 2048, 4096, 8192} {
			epoch := pipelineEpoch(rows)
			for _, mode := range modes {
				b.Run(fmt.Sprintf("busy=%v/rows=%d/%s", busy, rows, mode.name), func(b *testing.B) {
					df, err := dataflow.New(g, &expr.EvalCtx{Cfg: types.DefaultConfig()}, dataflow.Workers(2), mode.opt)
					if err != nil {
						b.Fatal(err)
					}
					defer df.Close()
					if busy {
						defer spin(2 * runtime.GOMAXPROCS(0))()
					}
					b.ReportAllocs()
					cpu0 := processCPU(b)
					for b.Loop() {
						if _, _, err := df.Step(map[int][]*coldata.Chunk{src: epoch}, nil); err != nil {
							b.Fatal(err)
						}
					}
					if !busy {
						b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
					}
				})
			}
		}
	}
}

// spin starts n goroutines that keep a P busy until the returned func is
// called.
func spin(n int) (stop func()) {
	var done atomic.Bool
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := uint64(1)
			for !done.Load() {
				for range 1000 {
					x = x*6364136223846793005 + 1
				}
			}
			_ = x
		}()
	}
	return func() {
		done.Store(true)
		wg.Wait()
	}
}
