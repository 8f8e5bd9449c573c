package dataflow

import (
	"fmt"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// Constant is a relation that never changes (VALUES in a view): its rows are
// emitted once, on worker 0, at the end of the first epoch.
type Constant struct {
	Rows *coldata.Chunk
}

func (c *Constant) Types() []*types.T   { return c.Rows.Types() }
func (c *Constant) String() string      { return fmt.Sprintf("Constant rows=%d", c.Rows.Len) }
func (c *Constant) Partition(int) []int { return nil }
func (c *Constant) New(env *Env) (Operator, error) {
	return &constantOp{c: c, done: env.Worker != 0}, nil
}

type constantOp struct {
	c    *Constant
	done bool
}

func (o *constantOp) Push(int, *coldata.Chunk, Emit) error { return nil }

func (o *constantOp) Flush(emit Emit) error {
	if o.done {
		return nil
	}
	o.done = true
	out := NewChanges(o.c.Types(), o.c.Rows.Len)
	out.AppendChunk(o.c.Rows)
	for range o.c.Rows.Len {
		out.Diffs = append(out.Diffs, 1)
	}
	return emit(out)
}
