package dataflow

import (
	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

func (d *Distinct) New(env *Env) (Operator, error) {
	return &distinctOp{
		typs:   d.Typs,
		counts: NewStore[int64](env, "distinct"),
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
	// counts maps a row's key to its multiplicity in the input.
	counts Store[int64]
	// before maps the key of each row changed this epoch to its count at the
	// start of the epoch; rows holds one copy of each such row and keys their
	// keys, in the order they were first changed.
	before map[string]int64
	rows   *coldata.Chunk
	keys   []string
	key    []byte // scratch
}

func (o *distinctOp) Push(_ int, c *coldata.Chunk, _ Emit) error {
	for i := 0; i < c.Len; i++ {
		o.key = RowKey(o.key[:0], c, nil, i)
		k := string(o.key)
		n, _ := o.counts.Get(k)
		if _, ok := o.before[k]; !ok {
			o.before[k] = n
			o.keys = append(o.keys, k)
			o.rows.AppendFrom(c, i)
		}
		if n += c.Diffs[i]; n == 0 {
			o.counts.Delete(k)
		} else {
			o.counts.Put(k, n)
		}
	}
	return nil
}

func (o *distinctOp) Flush(emit Emit) error {
	if len(o.keys) == 0 {
		return nil
	}
	var sel []int
	for j, k := range o.keys {
		after, _ := o.counts.Get(k)
		if after < 0 {
			return sqlerr.Bug("distinct: row deleted more often than inserted (multiplicity %d)", after)
		}
		switch before := o.before[k]; {
		case before == 0 && after > 0:
			o.rows.Diffs[j] = 1
		case before > 0 && after == 0:
			o.rows.Diffs[j] = -1
		default:
			continue
		}
		sel = append(sel, j)
	}
	out := o.rows.Gather(sel)
	clear(o.before)
	o.keys = o.keys[:0]
	o.rows = NewChanges(o.typs, 0)
	if out.Len == 0 {
		return nil
	}
	return emit(out)
}
