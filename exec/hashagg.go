package exec

import (
	"math"
	"slices"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// bufferedAgg keeps each group's input rows and computes the aggregate at the
// end: for DISTINCT, ORDER BY inside the call, and ordered-set aggregates.
type bufferedAgg struct {
	ev   *expr.EvalCtx
	spec *AggSpec
	rows [][][]types.Datum // per group: rows of (args…, order keys…)
}

func (a *bufferedAgg) grow(n int) { a.rows = growTo(a.rows, n) }

func (a *bufferedAgg) update(groups []int32, args []*coldata.Vec) error {
	for i, g := range groups {
		if g < 0 {
			continue
		}
		row := make([]types.Datum, len(args))
		for j, v := range args {
			row[j] = copyDatum(v.Get(i))
		}
		a.rows[g] = append(a.rows[g], row)
	}
	return nil
}

func (a *bufferedAgg) result(g int) (types.Datum, error) {
	spec := a.spec
	nArgs := len(spec.ArgTypes)
	rows := slices.Clone(a.rows[g])
	switch spec.Kind {
	case "percentile_cont", "percentile_disc", "mode":
		return a.orderedSet(rows)
	}
	if len(spec.OrderBy) > 0 {
		slices.SortStableFunc(rows, func(x, y []types.Datum) int {
			for k, key := range spec.OrderBy {
				if c := compareSortDatums(spec.OrderTypes[k], x[nArgs+k], y[nArgs+k], key); c != 0 {
					return c
				}
			}
			return 0
		})
	}
	if spec.Distinct {
		seen := map[string]bool{}
		var kept [][]types.Datum
		var buf []byte
		for _, r := range rows {
			buf = buf[:0]
			for j := 0; j < nArgs; j++ {
				buf = types.AppendKey(buf, spec.ArgTypes[j], r[j])
			}
			if !seen[string(buf)] {
				seen[string(buf)] = true
				kept = append(kept, r)
			}
		}
		rows = kept
	}
	plain := *spec
	plain.Distinct, plain.OrderBy = false, nil
	inner, err := newPlainAggregator(a.ev, &plain)
	if err != nil {
		return nil, err
	}
	inner.grow(1)
	ch := coldata.NewChunk(spec.ArgTypes, len(rows))
	for _, r := range rows {
		ch.AppendRow(r[:nArgs])
	}
	groups := make([]int32, len(rows))
	if err := inner.update(groups, ch.Cols); err != nil {
		return nil, err
	}
	return inner.result(0)
}

// orderedSet computes percentile_cont, percentile_disc and mode. Args are the
// fraction (constant) then the ordering value.
func (a *bufferedAgg) orderedSet(rows [][]types.Datum) (types.Datum, error) {
	spec := a.spec
	vi := len(spec.ArgTypes) - 1
	t := spec.ArgTypes[vi]
	var vals []types.Datum
	var frac types.Datum
	for _, r := range rows {
		if spec.Kind != "mode" {
			frac = r[0]
		}
		if r[vi] != nil {
			vals = append(vals, r[vi])
		}
	}
	if len(vals) == 0 {
		return nil, nil
	}
	desc := len(spec.OrderBy) > 0 && spec.OrderBy[0].Desc
	slices.SortStableFunc(vals, func(x, y types.Datum) int {
		c := types.Compare(t, x, y)
		if desc {
			return -c
		}
		return c
	})
	if spec.Kind == "mode" {
		best, bestN, run := vals[0], 0, 0
		for i := range vals {
			if i > 0 && types.Compare(t, vals[i], vals[i-1]) == 0 {
				run++
			} else {
				run = 1
			}
			if run > bestN {
				best, bestN = vals[i], run
			}
		}
		return best, nil
	}
	f, ok := frac.(float64)
	if !ok {
		return nil, nil
	}
	if f < 0 || f > 1 || math.IsNaN(f) {
		return nil, sqlerr.New(sqlerr.InvalidParameterValue, "percentile value %g is not between 0 and 1", f)
	}
	n := len(vals)
	if spec.Kind == "percentile_disc" {
		idx := int(math.Ceil(f*float64(n))) - 1
		return vals[max(idx, 0)], nil
	}
	pos := f * float64(n-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	toF := func(d types.Datum) float64 {
		v, _ := types.CastDatum(d, t, types.Float8, true, a.ev.Cfg)
		x, _ := v.(float64)
		return x
	}
	if t.Family == types.IntervalFamily {
		x, y := vals[lo].(types.IntervalValue), vals[hi].(types.IntervalValue)
		w := pos - float64(lo)
		return types.IntervalValue{
			Months: x.Months + int32(math.Round(w*float64(y.Months-x.Months))),
			Days:   x.Days + int32(math.Round(w*float64(y.Days-x.Days))),
			Micros: x.Micros + int64(math.Round(w*float64(y.Micros-x.Micros))),
		}, nil
	}
	x, y := toF(vals[lo]), toF(vals[hi])
	return x + (pos-float64(lo))*(y-x), nil
}

func compareSortDatums(t *types.T, a, b types.Datum, key SortKey) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		if key.NullsFirst {
			return -1
		}
		return 1
	case b == nil:
		if key.NullsFirst {
			return 1
		}
		return -1
	}
	c := types.Compare(t, a, b)
	if key.Desc {
		return -c
	}
	return c
}

// hashAggOp groups its input in a hash table keyed by the encoded group key.
// A single integer key uses a map keyed by the integer itself.
type hashAggOp struct {
	c    *Ctx
	in   Operator
	plan *HashAgg
	done bool
}

func (h *hashAggOp) Next() (*coldata.Chunk, error) {
	if h.done {
		return nil, nil
	}
	h.done = true
	plan := h.plan
	aggs := make([]aggregator, len(plan.Aggs))
	for i := range plan.Aggs {
		a, err := newAggregator(h.c.Eval, &plan.Aggs[i])
		if err != nil {
			return nil, err
		}
		aggs[i] = a
	}
	inTypes := plan.Input.Types()
	keyTypes := make([]*types.T, len(plan.Keys))
	for i, k := range plan.Keys {
		keyTypes[i] = inTypes[k]
	}
	keys := coldata.NewChunk(keyTypes, 0) // one row per group
	intKey := len(plan.Keys) == 1 && keyTypes[0].Phys() == types.PhysInt
	intGroups := map[int64]int32{}
	nullGroup := int32(-1)
	strGroups := map[string]int32{}
	nGroups := 0
	if len(plan.Keys) == 0 {
		nGroups = 1
		for _, a := range aggs {
			a.grow(1)
		}
	}
	var buf []byte
	var groups, fgroups []int32
	for {
		ch, err := h.in.Next()
		if err != nil {
			return nil, err
		}
		if ch == nil {
			break
		}
		if err := h.c.Eval.Ctx.Err(); err != nil {
			return nil, err
		}
		groups = growTo(groups[:0], ch.Len)[:ch.Len]
		before := nGroups
		switch {
		case len(plan.Keys) == 0:
			clear(groups)
		case intKey:
			kv := ch.Cols[plan.Keys[0]]
			for i := 0; i < ch.Len; i++ {
				if kv.IsNull(i) {
					if nullGroup < 0 {
						nullGroup = int32(nGroups)
						nGroups++
						keys.AppendFrom(&coldata.Chunk{Cols: []*coldata.Vec{kv}, Len: ch.Len}, i)
					}
					groups[i] = nullGroup
					continue
				}
				g, ok := intGroups[kv.Ints[i]]
				if !ok {
					g = int32(nGroups)
					nGroups++
					intGroups[kv.Ints[i]] = g
					keys.Cols[0].Ints = append(keys.Cols[0].Ints, kv.Ints[i])
					if keys.Cols[0].Nulls != nil {
						keys.Cols[0].Nulls = append(keys.Cols[0].Nulls, false)
					}
					keys.Len++
				}
				groups[i] = g
			}
		default:
			for i := 0; i < ch.Len; i++ {
				buf = rowKey(buf[:0], ch, plan.Keys, i)
				g, ok := strGroups[string(buf)]
				if !ok {
					g = int32(nGroups)
					nGroups++
					strGroups[string(buf)] = g
					for j, k := range plan.Keys {
						keys.Cols[j].AppendFrom(ch.Cols[k], i)
					}
					keys.Len++
				}
				groups[i] = g
			}
		}
		if nGroups > before {
			for _, a := range aggs {
				a.grow(nGroups)
			}
		}
		for ai := range plan.Aggs {
			spec := &plan.Aggs[ai]
			args := make([]*coldata.Vec, len(spec.Args))
			for j, c := range spec.Args {
				args[j] = ch.Cols[c]
			}
			for _, k := range spec.OrderBy {
				args = append(args, ch.Cols[k.Col])
			}
			g := groups
			if spec.Filter >= 0 {
				fv := ch.Cols[spec.Filter]
				fgroups = append(fgroups[:0], groups...)
				for i := range fgroups {
					if fv.IsNull(i) || !fv.Bools[i] {
						fgroups[i] = -1
					}
				}
				g = fgroups
			}
			if err := aggs[ai].update(g, args); err != nil {
				return nil, err
			}
		}
	}
	out := coldata.NewChunk(plan.Types(), nGroups)
	for j := range plan.Keys {
		out.Cols[j] = keys.Cols[j]
	}
	if len(plan.Keys) > 0 && nGroups == 0 {
		return nil, nil
	}
	for ai, a := range aggs {
		v := out.Cols[len(plan.Keys)+ai]
		for g := 0; g < nGroups; g++ {
			d, err := a.result(g)
			if err != nil {
				return nil, err
			}
			v.Append(d)
		}
	}
	out.Len = nGroups
	return out, nil
}
