package exec

import (
	"strings"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// checkNotNull enforces NOT NULL on rows about to be written.
func checkNotNull(c *Ctx, t *TableRef, ch *coldata.Chunk) error {
	for j, nn := range t.NotNull {
		if !nn {
			continue
		}
		v := ch.Cols[j]
		for i := 0; i < ch.Len; i++ {
			if v.IsNull(i) {
				return sqlerr.New(sqlerr.NotNullViolation, "null value in column \"%s\" of relation \"%s\" violates not-null constraint", t.ColNames[j], t.Name).
					WithDetail("Failing row contains (%s).", formatRow(c, ch, i))
			}
		}
	}
	return nil
}

func formatRow(c *Ctx, ch *coldata.Chunk, i int) string {
	parts := make([]string, len(ch.Cols))
	for j, v := range ch.Cols {
		if v.IsNull(i) {
			parts[j] = "null"
		} else {
			parts[j] = string(types.AppendText(nil, v.Typ, v.Get(i), c.Eval.Cfg))
		}
	}
	return strings.Join(parts, ", ")
}

type insertOp struct {
	c    *Ctx
	in   Operator
	plan *Insert
	done bool
}

func (o *insertOp) Next() (*coldata.Chunk, error) {
	if o.done {
		return nil, nil
	}
	o.done = true
	ta, err := o.c.Tables(o.plan.Table)
	if err != nil {
		return nil, err
	}
	written := coldata.NewChunk(o.plan.Table.Types, 0)
	for {
		ch, err := o.in.Next()
		if err != nil {
			return nil, err
		}
		if ch == nil {
			break
		}
		if err := checkNotNull(o.c, o.plan.Table, ch); err != nil {
			return nil, err
		}
		if o.plan.OnConflict == nil {
			if err := ta.Insert(ch); err != nil {
				return nil, err
			}
			o.c.RowsAffected += int64(ch.Len)
			if len(o.plan.Returning) > 0 {
				written.AppendChunk(ch)
			}
			continue
		}
		if err := o.upsert(ta, ch, written); err != nil {
			return nil, err
		}
	}
	if len(o.plan.Returning) == 0 || written.Len == 0 {
		return nil, nil
	}
	return projectChunk(o.c.Eval, written, o.plan.Returning)
}

// upsert handles INSERT … ON CONFLICT row by row, so a conflict with a row
// inserted earlier by the same statement is seen.
func (o *insertOp) upsert(ta TableAccess, ch *coldata.Chunk, written *coldata.Chunk) error {
	oc := o.plan.OnConflict
	pk := o.plan.Table.PK
	touched := map[int]bool{}
	for i := 0; i < ch.Len; i++ {
		row := ch.Slice(i, i+1)
		key := make([]types.Datum, len(pk))
		for k, c := range pk {
			key[k] = ch.Cols[c].Get(i)
		}
		existing, pos, found, err := ta.Lookup(key)
		if err != nil {
			return err
		}
		if !found {
			if err := ta.Insert(row); err != nil {
				return err
			}
			o.c.RowsAffected++
			written.AppendChunk(row)
			continue
		}
		if oc.DoNothing {
			continue
		}
		if touched[pos] {
			return sqlerr.New(sqlerr.CardinalityViolation, "ON CONFLICT DO UPDATE command cannot affect row a second time").
				WithHint("Ensure that no rows proposed for insertion within the same command have duplicate constrained values.")
		}
		both := coldata.NewChunk(append(append([]*types.T(nil), o.plan.Table.Types...), o.plan.Table.Types...), 1)
		both.AppendRow(append(existing, row.Row(0)...))
		if oc.Where != nil {
			v, err := oc.Where.Eval(o.c.Eval, both)
			if err != nil {
				return err
			}
			if v.IsNull(0) || !v.Bools[0] {
				continue
			}
		}
		newRow, err := projectChunk(o.c.Eval, both, oc.Set)
		if err != nil {
			return err
		}
		if err := checkNotNull(o.c, o.plan.Table, newRow); err != nil {
			return err
		}
		if err := ta.Update([]int{pos}, newRow); err != nil {
			return err
		}
		// The updated row now lives at a new position; look it up again if
		// needed rather than trusting pos.
		if _, npos, ok, err := ta.Lookup(key); err == nil && ok {
			touched[npos] = true
		}
		o.c.RowsAffected++
		written.AppendChunk(newRow)
	}
	return nil
}

// uniquePositions returns each row position once, with the index of its
// first occurrence: a target row reached through several source rows is
// changed once, as Postgres does.
func uniquePositions(col []int64) (pos []int, keep []int) {
	seen := make(map[int64]bool, len(col))
	for i, p := range col {
		if !seen[p] {
			seen[p] = true
			pos = append(pos, int(p))
			keep = append(keep, i)
		}
	}
	return pos, keep
}

type updateOp struct {
	c    *Ctx
	in   Operator
	plan *Update
	done bool
}

func (o *updateOp) Next() (*coldata.Chunk, error) {
	if o.done {
		return nil, nil
	}
	o.done = true
	ta, err := o.c.Tables(o.plan.Table)
	if err != nil {
		return nil, err
	}
	nCols := len(o.plan.Table.Types)
	// Collect first: updating while scanning the same table would see our own
	// new row versions.
	all, err := drain(o.in, append(append([]*types.T(nil), o.plan.Table.Types...), types.Int8), 0)
	if err != nil {
		return nil, err
	}
	if all.Len == 0 {
		return nil, nil
	}
	rows := &coldata.Chunk{Cols: all.Cols[:nCols], Len: all.Len}
	if err := checkNotNull(o.c, o.plan.Table, rows); err != nil {
		return nil, err
	}
	pos, keep := uniquePositions(all.Cols[nCols].Ints)
	if len(keep) != all.Len {
		rows = rows.Gather(keep)
	}
	if err := ta.Update(pos, rows); err != nil {
		return nil, err
	}
	o.c.RowsAffected += int64(len(keep))
	if len(o.plan.Returning) == 0 {
		return nil, nil
	}
	return projectChunk(o.c.Eval, rows, o.plan.Returning)
}

type deleteOp struct {
	c    *Ctx
	in   Operator
	plan *Delete
	done bool
}

func (o *deleteOp) Next() (*coldata.Chunk, error) {
	if o.done {
		return nil, nil
	}
	o.done = true
	ta, err := o.c.Tables(o.plan.Table)
	if err != nil {
		return nil, err
	}
	nCols := len(o.plan.Table.Types)
	all, err := drain(o.in, append(append([]*types.T(nil), o.plan.Table.Types...), types.Int8), 0)
	if err != nil || all.Len == 0 {
		return nil, err
	}
	pos, keep := uniquePositions(all.Cols[nCols].Ints)
	if err := ta.Delete(pos); err != nil {
		return nil, err
	}
	o.c.RowsAffected += int64(len(pos))
	if len(o.plan.Returning) == 0 {
		return nil, nil
	}
	rows := &coldata.Chunk{Cols: all.Cols[:nCols], Len: all.Len}
	return projectChunk(o.c.Eval, rows.Gather(keep), o.plan.Returning)
}
