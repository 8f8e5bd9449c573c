package dataflow

import (
	"errors"
	"testing"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/types"
)

// StepFeed takes an epoch far larger than the inbox as it is fed, and an
// aggregate over it emits each group once (no retraction of a group's
// earlier rows within the epoch); a failed feed fails the dataflow.
func TestStepFeed(t *testing.T) {
	in := []*types.T{types.Int8, types.Int8}
	calls, err := parseAggCalls("count:1,sum:1", in)
	if err != nil {
		t.Fatal(err)
	}
	g := &Graph{}
	src := g.Add(&Source{Name: "t", Typs: in})
	g.Add(&Aggregate{Keys: []int{0}, Aggs: calls, InTypes: in}, src)
	df, err := newDataflow(g, &expr.EvalCtx{Cfg: types.DefaultConfig()}, Workers(2), ChunkSize(64))
	if err != nil {
		t.Fatal(err)
	}
	defer df.Close()
	const groups, chunks, rows = 500, 200, 512 // 200 * 512 / 64 chunks: far past the inbox
	outs, _, err := df.StepFeed(func(put func(int, *coldata.Chunk)) error {
		for range chunks {
			c := NewChanges(in, rows)
			for i := range rows {
				c.AppendRow([]types.Datum{int64(i % groups), int64(1)})
				c.Diffs = append(c.Diffs, 1)
			}
			put(src, c)
		}
		return nil
	}, nil)
	out := stepOutput(df, outs)
	if err != nil {
		t.Fatal(err)
	}
	if out.Len != groups {
		t.Fatalf("%d output rows, want one per group (%d)", out.Len, groups)
	}
	var total int64
	for i := range out.Len {
		if out.Diffs[i] != 1 {
			t.Fatalf("row %d has diff %d", i, out.Diffs[i])
		}
		total += out.Cols[1].Ints[i]
	}
	if total != chunks*rows {
		t.Fatalf("counts add up to %d, want %d", total, chunks*rows)
	}

	bad := errors.New("storage read failed")
	if _, _, err := df.StepFeed(func(put func(int, *coldata.Chunk)) error { return bad }, nil); !errors.Is(err, bad) {
		t.Fatalf("failed feed: %v", err)
	}
	if _, _, err := df.Step(nil, nil); !errors.Is(err, bad) {
		t.Fatalf("step after a failed feed: %v", err)
	}
}

// stepOutput is the output changes a Step returned, in one chunk.
func stepOutput(df *Dataflow, outs []*coldata.Chunk) *coldata.Chunk {
	return Concat(df.g.Nodes[df.g.Output].Spec.Types(), outs)
}
