package dataflow_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/sluice-db/sluice/catalog"
	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/dataflow"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/internal/randtest"
	"github.com/sluice-db/sluice/planner"
	"github.com/sluice-db/sluice/types"
)

// inlineViews are views with exchanges (GROUP BY, joins, top-N, windows)
// over a stream of bids and a table of people.
var inlineViews = []struct {
	query             string
	emitOnWindowClose bool
}{
	{query: "SELECT auction, count(*), sum(price), max(price) FROM bid GROUP BY auction"},
	{query: "SELECT max(price) FROM bid"},
	{query: "SELECT b.auction, b.price, p.name FROM bid b JOIN person p ON b.bidder = p.id"},
	{query: "SELECT p.name, count(*), min(b.price) FROM bid b JOIN person p ON b.bidder = p.id GROUP BY p.name"},
	{query: "SELECT auction, price FROM bid ORDER BY price DESC, auction, ts LIMIT 5"},
	{query: "SELECT id, name FROM person ORDER BY name LIMIT 3"},
	{query: "SELECT auction, window_start, count(*), max(price) FROM TUMBLE(bid, ts, INTERVAL '10 seconds') GROUP BY auction, window_start, window_end"},
	{query: "SELECT auction, window_start, count(*) FROM TUMBLE(bid, ts, INTERVAL '10 seconds') GROUP BY auction, window_start, window_end", emitOnWindowClose: true},
}

// Every epoch, small and big, comes out the same whether the workers'
// goroutines run it, the caller does (InlineAlways), or the caller starts
// it and hands it to the workers part way (InlineSteps with a short
// deadline): the views' outputs and watermarks are compared epoch by
// epoch.
func TestStepInlineMatchesWorkers(t *testing.T) {
	seed := randtest.Seed(t)
	bid := &catalog.Table{ID: catalog.FirstUserID, Kind: catalog.KindStream, Schema: "public", Name: "bid", Columns: []catalog.Column{
		{Name: "auction", Type: types.Int8}, {Name: "bidder", Type: types.Int8}, {Name: "price", Type: types.Int8}, {Name: "ts", Type: types.Timestamp},
	}, Watermark: &catalog.Watermark{Column: "ts", DelayMicros: 2_000_000}}
	person := &catalog.Table{ID: catalog.FirstUserID + 1, Kind: catalog.KindTable, Schema: "public", Name: "person", Columns: []catalog.Column{
		{Name: "id", Type: types.Int8}, {Name: "name", Type: types.Text},
	}, PK: []int{0}}
	cat := pipelineCatalog{"public.bid": bid, "public.person": person}
	for vi, view := range inlineViews {
		t.Run(fmt.Sprint(vi), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(seed), uint64(vi)))
			p := &planner.Planner{Cat: cat, Reg: expr.NewRegistry()}
			res, err := pg.Parse(view.query)
			if err != nil {
				t.Fatal(err)
			}
			vp, err := p.PlanView(res.Stmts[0].Stmt, planner.Options{SearchPath: []string{"public"}, Cfg: types.DefaultConfig(), EmitOnWindowClose: view.emitOnWindowClose})
			if err != nil {
				t.Fatal(err)
			}
			workers, chunk := 2+rng.IntN(2), 1+rng.IntN(1100)
			inlineRows, inlineFor := rng.IntN(3000), []time.Duration{time.Nanosecond, 20 * time.Microsecond, time.Millisecond}[rng.IntN(3)]
			t.Logf("workers %d, chunk %d, inline up to %d rows for %v", workers, chunk, inlineRows, inlineFor)
			modes := []dataflow.Option{dataflow.InlineSteps(-1, 0), dataflow.InlineAlways(), dataflow.InlineSteps(inlineRows, inlineFor)}
			dfs := make([]*dataflow.Dataflow, len(modes))
			for i, mode := range modes {
				if dfs[i], err = dataflow.New(vp.Graph, &expr.EvalCtx{Cfg: types.DefaultConfig()}, dataflow.Workers(workers), dataflow.ChunkSize(chunk), mode); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(dfs[i].Close)
			}
			in := inlineInput{rng: rng, people: map[int64]string{}}
			for epoch := range 60 {
				inputs, watermarks := in.epoch(vp.Graph)
				var want string
				for i, df := range dfs {
					out, wm, err := df.Step(inputs, watermarks)
					if err != nil {
						t.Fatalf("epoch %d, mode %d: %v", epoch, i, err)
					}
					got := fmt.Sprintf("watermark %d\n%s", wm, sortedChanges(out))
					if i == 0 {
						want = got
					} else if got != want {
						t.Fatalf("epoch %d: mode %d's output\n%s\nwant (workers)\n%s", epoch, i, got, want)
					}
				}
			}
		})
	}
}

// inlineInput makes the epochs of TestStepInlineMatchesWorkers: bids
// (event times advancing, a few late) and people inserted and deleted.
type inlineInput struct {
	rng    *rand.Rand
	now    int64
	people map[int64]string
}

// epochRows draws an epoch's size: none (a watermark alone), one row, a
// few, about a chunk, or many.
func (in *inlineInput) epochRows() int {
	switch in.rng.IntN(5) {
	case 0:
		return 0
	case 1:
		return 1
	case 2:
		return 2 + in.rng.IntN(50)
	case 3:
		return 900 + in.rng.IntN(300)
	}
	return 3000 + in.rng.IntN(9000)
}

func (in *inlineInput) epoch(g *dataflow.Graph) (map[int][]*coldata.Chunk, map[int]int64) {
	bids := dataflow.NewChanges([]*types.T{types.Int8, types.Int8, types.Int8, types.Timestamp}, 0)
	for range in.epochRows() {
		in.now += in.rng.Int64N(3000)
		bids.AppendRow([]types.Datum{in.rng.Int64N(40), in.rng.Int64N(30), in.rng.Int64N(1000), in.now - in.rng.Int64N(1_000_000)})
		bids.Diffs = append(bids.Diffs, 1)
	}
	people := dataflow.NewChanges([]*types.T{types.Int8, types.Text}, 0)
	for range in.rng.IntN(4) {
		id := in.rng.Int64N(30)
		if name, ok := in.people[id]; ok {
			people.AppendRow([]types.Datum{id, name})
			people.Diffs = append(people.Diffs, -1)
			delete(in.people, id)
			continue
		}
		name := fmt.Sprint("p", in.rng.IntN(10))
		in.people[id] = name
		people.AppendRow([]types.Datum{id, name})
		people.Diffs = append(people.Diffs, 1)
	}
	inputs, watermarks := map[int][]*coldata.Chunk{}, map[int]int64{}
	for _, src := range g.Sources() {
		switch g.Nodes[src].Spec.(*dataflow.Source).Name {
		case "bid":
			inputs[src] = []*coldata.Chunk{bids}
			watermarks[src] = in.now - 2_000_000
		case "person":
			inputs[src] = []*coldata.Chunk{people}
		}
	}
	return inputs, watermarks
}

// sortedChanges prints the rows of chunks with their diffs, summed by row,
// sorted.
func sortedChanges(chunks []*coldata.Chunk) string {
	diffs := map[string]int64{}
	for _, c := range chunks {
		for i := range c.Len {
			diffs[fmt.Sprint(c.Row(i))] += c.Diffs[i]
		}
	}
	var lines []string
	for row, d := range diffs {
		if d != 0 {
			lines = append(lines, fmt.Sprintf("%+d %s", d, row))
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}
