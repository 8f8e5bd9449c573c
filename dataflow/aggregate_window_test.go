package dataflow

import (
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/types"
)

// BenchmarkAggregateWindowClose measures an EMIT ON WINDOW CLOSE
// aggregate of text keys without a budget: GROUP BY a 1-minute TUMBLE's
// window_start and a text user ("user/" and 7 digits), each iteration an
// epoch of 64 chunks of 1024 rows over 64k users in a window, at the end
// of which the window before closes and its groups emit their final rows
// (about 40k: the users a window's 64k rows drew).
func BenchmarkAggregateWindowClose(b *testing.B) {
	const users = 1 << 16
	const minute = int64(time.Minute / time.Microsecond)
	in := []*types.T{types.Text, types.Int8, types.TimestampTZ}
	calls, err := parseAggCalls("sum:1,count:1", in)
	if err != nil {
		b.Fatal(err)
	}
	spec := &Aggregate{Keys: []int{2, 0}, Aggs: calls, InTypes: in, Window: &AggWindow{Key: 0, EndOffset: minute, OnClose: true}, AppendOnly: true}
	op, err := spec.New(&Env{Workers: 1, Eval: &expr.EvalCtx{Cfg: types.DefaultConfig()}})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	chunks := make([]*coldata.Chunk, 64)
	for i := range chunks {
		c := NewChanges(in, coldata.DefaultChunkSize)
		for range coldata.DefaultChunkSize {
			c.Cols[0].AppendString(fmt.Sprintf("user/%07d", rng.Intn(users)))
			c.Cols[1].AppendInt(rng.Int63n(1000))
			c.Cols[2].AppendInt(0)
			c.Diffs = append(c.Diffs, 1)
		}
		c.Len = coldata.DefaultChunkSize
		chunks[i] = c
	}
	emitted := 0
	emit := func(c *coldata.Chunk) error {
		emitted += c.Len
		return nil
	}
	cpu := processCPU()
	for i := 0; b.Loop(); i++ {
		start := int64(i) * minute
		for _, c := range chunks {
			for j := range c.Cols[2].Ints {
				c.Cols[2].Ints[j] = start
			}
			if err := op.Push(0, c, emit); err != nil {
				b.Fatal(err)
			}
		}
		op.(watermarkObserver).Advance([]int64{start})
		if err := op.Flush(emit); err != nil {
			b.Fatal(err)
		}
	}
	rows := float64(b.N * len(chunks) * coldata.DefaultChunkSize)
	b.ReportMetric(rows/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(rows/(processCPU()-cpu).Seconds(), "rows/cpu-s")
	b.ReportMetric(float64(emitted)/float64(b.N), "emitted/op")
}
