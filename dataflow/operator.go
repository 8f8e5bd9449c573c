package dataflow

import (
	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/types"
)

// Emit receives an operator's output changes. The chunk carries Diffs; the
// receiver must not keep it past the call unless it copies it.
type Emit func(c *coldata.Chunk) error

// Operator is one worker's instance of a graph node.
type Operator interface {
	// Push applies the changes c arriving on input port in (0 for
	// single-input operators; 0 = left, 1 = right for joins). Linear
	// operators emit their output at once.
	Push(in int, c *coldata.Chunk, emit Emit) error
	// Flush ends the epoch: operators that settle per epoch (aggregate,
	// distinct, top-N, session window) emit the epoch's changes now.
	Flush(emit Emit) error
}

// OpSpec describes what a node computes, independent of workers.
type OpSpec interface {
	// Types are the output column types.
	Types() []*types.T
	// String is one line for EXPLAIN.
	String() string
	// New returns a fresh operator instance for one worker.
	New(env *Env) (Operator, error)
	// Partition tells how the rows on input port in are placed on workers:
	// nil means "stay on the worker that produced them" (linear operators);
	// a non-nil slice of column ordinals routes each row by the hash of those
	// columns; an empty non-nil slice sends every row to worker 0 (global
	// state such as an aggregate without GROUP BY or a top-N).
	Partition(in int) []int
}

// Env is what an operator instance may use: the expression context and the
// state stores of its worker.
type Env struct {
	Worker  int
	Workers int
	Eval    *expr.EvalCtx
	// Budget, when not nil, bounds the state of the operators that
	// spill.
	Budget *Budget
}

// Source is the OpSpec of a graph input: changes to one relation.
type Source struct {
	// Name and ID identify the relation (table, stream or view).
	Name string
	ID   uint32
	Typs []*types.T
	// Reference marks reference data (a table): its watermark is ignored,
	// so that it does not hold back the event time of the streams it is
	// joined with.
	Reference bool
}

func (s *Source) Types() []*types.T          { return s.Typs }
func (s *Source) String() string             { return "Source " + s.Name }
func (s *Source) Partition(int) []int        { return nil }
func (s *Source) New(*Env) (Operator, error) { return passThrough{}, nil }

type passThrough struct{}

func (passThrough) Push(_ int, c *coldata.Chunk, emit Emit) error { return emit(c) }
func (passThrough) Flush(Emit) error                              { return nil }
