package exec

import (
	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// ReadOnlyRows is the TableAccess of a relation whose rows were made when
// the statement read it (a system relation): scans return them, writes fail.
// The planner refuses DML on such relations, so a write here is a bug.
type ReadOnlyRows struct {
	Name string
	Rows *coldata.Chunk
}

type onceIter struct{ ch *coldata.Chunk }

func (o *onceIter) Next() (*coldata.Chunk, []int, error) {
	ch := o.ch
	o.ch = nil
	if ch == nil {
		return nil, nil, nil
	}
	return ch, nil, nil
}

// Scan implements TableAccess.
func (r *ReadOnlyRows) Scan() (TableIter, error) { return &onceIter{ch: r.Rows}, nil }

// Lookup implements TableAccess.
func (r *ReadOnlyRows) Lookup([]types.Datum) ([]types.Datum, int, bool, error) {
	return nil, 0, false, sqlerr.Bug("exec: key lookup in read-only relation %q", r.Name)
}

// Insert implements TableAccess.
func (r *ReadOnlyRows) Insert(*coldata.Chunk) error { return r.readOnly() }

// Delete implements TableAccess.
func (r *ReadOnlyRows) Delete([]int) error { return r.readOnly() }

// Update implements TableAccess.
func (r *ReadOnlyRows) Update([]int, *coldata.Chunk) error { return r.readOnly() }

func (r *ReadOnlyRows) readOnly() error {
	return sqlerr.Bug("exec: write to read-only relation %q", r.Name)
}
