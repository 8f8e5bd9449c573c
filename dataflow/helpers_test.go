package dataflow

import (
	"math/rand"
	"testing"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/types"
)

// windowedChanges is a random epoch of changes to rows windowed by their
// first column, a window's end (a multiple of 10), under watermark wm:
// inserts rows, each in one of the next windows (ends up to wm+10*windows),
// made by row from its window's end; then each row of live whose window
// is still open (end > wm) deleted once in deleteOneIn. It returns the
// changes and the rows live after them.
func windowedChanges(rng *rand.Rand, typs []*types.T, live [][]types.Datum, wm int64, inserts int, windows int64, deleteOneIn int, row func(end int64) []types.Datum) (*coldata.Chunk, [][]types.Datum) {
	c := NewChanges(typs, 0)
	for range inserts {
		end := wm + 10*(1+rng.Int63n(windows))
		r := row(end - end%10)
		c.AppendRow(r)
		c.Diffs = append(c.Diffs, 1)
		live = append(live, r)
	}
	kept := live[:0]
	for _, r := range live {
		if r[0].(int64) > wm && rng.Intn(deleteOneIn) == 0 {
			c.AppendRow(r)
			c.Diffs = append(c.Diffs, -1)
			continue
		}
		kept = append(kept, r)
	}
	return c, kept
}

// benchEnv is a benchmark's operator Env: one worker, under a budget of
// limit bytes spilling to a temporary store (none when limit is 0).
func benchEnv(b *testing.B, limit int64) *Env {
	env := &Env{Workers: 1, Eval: &expr.EvalCtx{Cfg: types.DefaultConfig()}}
	if limit > 0 {
		spill := openTestSpill(b)
		env.Budget = NewBudget(limit, func() SpillSpace { return spill.Space() })
	}
	return env
}

// pushEpoch pushes chunks to op's input 0 and flushes it, dropping what
// it emits: a benchmark's epoch.
func pushEpoch(b *testing.B, op Operator, chunks []*coldata.Chunk) {
	discard := func(*coldata.Chunk) error { return nil }
	for _, c := range chunks {
		if err := op.Push(0, c, discard); err != nil {
			b.Fatal(err)
		}
	}
	if err := op.Flush(discard); err != nil {
		b.Fatal(err)
	}
}
