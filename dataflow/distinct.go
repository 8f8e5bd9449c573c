package dataflow

import (
	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

func (d *Distinct) New(env *Env) (Operator, error) {
	return &distinctOp{
		typs:   d.Typs,
		counts: NewStore[distinctRow](env, "distinct"),
		before: map[string]int64{},
		rows:   NewChanges(d.Typs, 0),
	}, nil
}

// distinctOp keeps the multiplicity of every input row and outputs a row
// while its multiplicity is positive. Within an epoch a row's count may dip
// below zero (a delete can arrive before the insert it cancels), so the
// output is decided at Flush from the counts before and after the epoch.
type distinctOp struct {
	typs []*types.T
	// counts maps a row's key (rows equal under SQL comparison share one)
	// to its multiplicity in the input and the row output for it.
	counts Store[distinctRow]
	// before maps the key of each row changed this epoch to its count at the
	// start of the epoch; rows holds one copy of each such row and keys their
	// keys, in the order they were first changed.
	before map[string]int64
	rows   *coldata.Chunk
	keys   []string
	key    []byte // scratch
	// changed holds, from the first snapshot on, a row of each key whose
	// multiplicity changed since the last one: a delta writes them with
	// their multiplicity now.
	changed map[string][]types.Datum
	size    recordSize
}

// distinctRow is the state of one distinct row. out is the row emitted for
// its key: equal rows may print differently (1.0, 1.00), and the retraction
// must name the row that was emitted.
type distinctRow struct {
	n   int64
	out []types.Datum
}

func (o *distinctOp) Push(_ int, c *coldata.Chunk, _ Emit) error {
	for i := 0; i < c.Len; i++ {
		o.key = RowKey(o.key[:0], c, nil, i)
		k := string(o.key)
		r, _ := o.counts.Get(k)
		if _, ok := o.before[k]; !ok {
			o.before[k] = r.n
			o.keys = append(o.keys, k)
			o.rows.AppendFrom(c, i)
		}
		if r.n += c.Diffs[i]; r.n == 0 && r.out == nil {
			o.counts.Delete(k)
		} else {
			o.counts.Put(k, r)
		}
	}
	return nil
}

func (o *distinctOp) Flush(emit Emit) error {
	if len(o.keys) == 0 {
		return nil
	}
	out := NewChanges(o.typs, 0)
	for j, k := range o.keys {
		r, _ := o.counts.Get(k)
		if r.n < 0 {
			return sqlerr.Bug("distinct: row deleted more often than inserted (multiplicity %d)", r.n)
		}
		if _, ok := o.changed[k]; !ok && o.changed != nil {
			o.changed[k] = o.rows.Row(j)
		}
		switch before := o.before[k]; {
		case before == 0 && r.n > 0:
			out.AppendFrom(o.rows, j)
			out.Diffs[out.Len-1] = 1
			r.out = o.rows.Row(j)
			o.counts.Put(k, r)
		case before > 0 && r.n == 0:
			out.AppendRow(r.out)
			out.Diffs = append(out.Diffs, -1)
			o.counts.Delete(k)
		}
	}
	clear(o.before)
	o.keys = o.keys[:0]
	o.rows = NewChanges(o.typs, 0)
	if out.Len == 0 {
		return nil
	}
	return emit(out)
}
