package expr

import (
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// Arrays are one-dimensional *types.Array values with lower bound 1.

func registerArrayFuncs(r *Registry) {
	I4, B, T := types.Int4, types.Bool, types.Text
	arrRet := func(p []*types.T) *types.T {
		for _, t := range p {
			if t.Family == types.ArrayFamily {
				return t
			}
		}
		return types.ArrayOf(p[0])
	}
	elemRet := func(p []*types.T) *types.T { return p[0].Elem }

	r.Add(&Overload{Name: "array_length", Args: ts(AnyArray, I4), Ret: I4, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		arr := a[0].(*types.Array)
		if a[1].(int64) != 1 || len(arr.Elems) == 0 {
			return nil, nil
		}
		return int64(len(arr.Elems)), nil
	}})
	r.Add(&Overload{Name: "array_upper", Args: ts(AnyArray, I4), Ret: I4, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		arr := a[0].(*types.Array)
		if a[1].(int64) != 1 || len(arr.Elems) == 0 {
			return nil, nil
		}
		return int64(len(arr.Elems)), nil
	}})
	r.Add(&Overload{Name: "array_lower", Args: ts(AnyArray, I4), Ret: I4, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		arr := a[0].(*types.Array)
		if a[1].(int64) != 1 || len(arr.Elems) == 0 {
			return nil, nil
		}
		return int64(1), nil
	}})
	r.Add(&Overload{Name: "array_ndims", Args: ts(AnyArray), Ret: I4, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		if len(a[0].(*types.Array).Elems) == 0 {
			return nil, nil
		}
		return int64(1), nil
	}})
	r.Add(&Overload{Name: "array_dims", Args: ts(AnyArray), Ret: T, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		n := len(a[0].(*types.Array).Elems)
		if n == 0 {
			return nil, nil
		}
		return "[1:" + itoa(int64(n)) + "]", nil
	}})
	r.Add(&Overload{Name: "cardinality", Args: ts(AnyArray), Ret: I4, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		return int64(len(a[0].(*types.Array).Elems)), nil
	}})
	r.Add(&Overload{Name: "array_append", Args: ts(AnyArray, AnyElement), RetFn: arrRet, NullOK: true, Vec: typedRows(true, func(_ *EvalCtx, typs []*types.T, a []types.Datum) (types.Datum, error) {
		return &types.Array{Elem: typs[0].Elem, Elems: append(arrElems(a[0]), a[1])}, nil
	})})
	r.Add(&Overload{Name: "array_prepend", Args: ts(AnyElement, AnyArray), RetFn: arrRet, NullOK: true, Vec: typedRows(true, func(_ *EvalCtx, typs []*types.T, a []types.Datum) (types.Datum, error) {
		return &types.Array{Elem: typs[1].Elem, Elems: append([]types.Datum{a[0]}, arrElems(a[1])...)}, nil
	})})
	catFn := typedRows(true, func(_ *EvalCtx, typs []*types.T, a []types.Datum) (types.Datum, error) {
		if a[0] == nil && a[1] == nil {
			return nil, nil
		}
		return &types.Array{Elem: typs[0].Elem, Elems: append(arrElems(a[0]), arrElems(a[1])...)}, nil
	})
	r.Add(&Overload{Name: "array_cat", Args: ts(AnyArray, AnyArray), RetFn: arrRet, NullOK: true, Vec: catFn})
	r.Add(&Overload{Name: "||", Args: ts(AnyArray, AnyArray), RetFn: arrRet, NullOK: true, Infix: true, Vec: catFn})
	r.Add(&Overload{Name: "||", Args: ts(AnyArray, AnyElement), RetFn: arrRet, NullOK: true, Infix: true, Vec: typedRows(true, func(_ *EvalCtx, typs []*types.T, a []types.Datum) (types.Datum, error) {
		return &types.Array{Elem: typs[0].Elem, Elems: append(arrElems(a[0]), a[1])}, nil
	})})
	r.Add(&Overload{Name: "||", Args: ts(AnyElement, AnyArray), RetFn: arrRet, NullOK: true, Infix: true, Vec: typedRows(true, func(_ *EvalCtx, typs []*types.T, a []types.Datum) (types.Datum, error) {
		return &types.Array{Elem: typs[1].Elem, Elems: append([]types.Datum{a[0]}, arrElems(a[1])...)}, nil
	})})
	r.Add(&Overload{Name: "array_position", Args: ts(AnyArray, AnyElement), Ret: I4, NullOK: true, Vec: typedRows(true, arrayPosition)})
	r.Add(&Overload{Name: "array_position", Args: ts(AnyArray, AnyElement, I4), Ret: I4, NullOK: true, Vec: typedRows(true, arrayPosition)})
	r.Add(&Overload{Name: "array_positions", Args: ts(AnyArray, AnyElement), Ret: types.ArrayOf(I4), NullOK: true, Vec: typedRows(true, func(_ *EvalCtx, typs []*types.T, a []types.Datum) (types.Datum, error) {
		if a[0] == nil {
			return nil, nil
		}
		out := &types.Array{Elem: I4, Elems: []types.Datum{}}
		for i, e := range a[0].(*types.Array).Elems {
			if elemEqual(typs[0].Elem, e, a[1]) {
				out.Elems = append(out.Elems, int64(i+1))
			}
		}
		return out, nil
	})})
	r.Add(&Overload{Name: "array_remove", Args: ts(AnyArray, AnyElement), RetFn: arrRet, NullOK: true, Vec: typedRows(true, func(_ *EvalCtx, typs []*types.T, a []types.Datum) (types.Datum, error) {
		if a[0] == nil {
			return nil, nil
		}
		out := &types.Array{Elem: typs[0].Elem, Elems: []types.Datum{}}
		for _, e := range a[0].(*types.Array).Elems {
			if !elemEqual(typs[0].Elem, e, a[1]) {
				out.Elems = append(out.Elems, e)
			}
		}
		return out, nil
	})})
	r.Add(&Overload{Name: "array_replace", Args: ts(AnyArray, AnyElement, AnyElement), RetFn: arrRet, NullOK: true, Vec: typedRows(true, func(_ *EvalCtx, typs []*types.T, a []types.Datum) (types.Datum, error) {
		if a[0] == nil {
			return nil, nil
		}
		out := &types.Array{Elem: typs[0].Elem, Elems: []types.Datum{}}
		for _, e := range a[0].(*types.Array).Elems {
			if elemEqual(typs[0].Elem, e, a[1]) {
				e = a[2]
			}
			out.Elems = append(out.Elems, e)
		}
		return out, nil
	})})
	r.Add(&Overload{Name: "@>", Args: ts(AnyArray, AnyArray), Ret: B, Infix: true, Vec: typedRows(false, func(_ *EvalCtx, typs []*types.T, a []types.Datum) (types.Datum, error) {
		return arrayContains(typs[0].Elem, a[0].(*types.Array), a[1].(*types.Array)), nil
	})})
	r.Add(&Overload{Name: "<@", Args: ts(AnyArray, AnyArray), Ret: B, Infix: true, Vec: typedRows(false, func(_ *EvalCtx, typs []*types.T, a []types.Datum) (types.Datum, error) {
		return arrayContains(typs[0].Elem, a[1].(*types.Array), a[0].(*types.Array)), nil
	})})
	r.Add(&Overload{Name: "&&", Args: ts(AnyArray, AnyArray), Ret: B, Infix: true, Vec: typedRows(false, func(_ *EvalCtx, typs []*types.T, a []types.Datum) (types.Datum, error) {
		for _, x := range a[0].(*types.Array).Elems {
			if x == nil {
				continue
			}
			for _, y := range a[1].(*types.Array).Elems {
				if y != nil && types.Compare(typs[0].Elem, x, y) == 0 {
					return true, nil
				}
			}
		}
		return false, nil
	})})
	// unnest is set-returning: the planner expands the returned array.
	r.Add(&Overload{Name: "unnest", Args: ts(AnyArray), RetFn: arrRet, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		return a[0], nil
	}})
	// generate_subscripts is set-returning: the subscripts of dimension dim
	// (only 1 has any), descending when reverse is true. SQLAlchemy pairs it
	// with unnest over pg_index.indkey to order key columns.
	subscripts := func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		n := len(a[0].(*types.Array).Elems)
		if a[1].(int64) != 1 {
			n = 0
		}
		reverse := len(a) == 3 && a[2].(bool)
		out := &types.Array{Elem: I4, Elems: make([]types.Datum, n)}
		for i := range out.Elems {
			if reverse {
				out.Elems[i] = int64(n - i)
			} else {
				out.Elems[i] = int64(i + 1)
			}
		}
		return out, nil
	}
	r.Add(&Overload{Name: "generate_subscripts", Args: ts(AnyArray, I4), Ret: types.ArrayOf(I4), Row: subscripts})
	r.Add(&Overload{Name: "generate_subscripts", Args: ts(AnyArray, I4, B), Ret: types.ArrayOf(I4), Row: subscripts})
	// information_schema._pg_expandarray is set-returning: a record (x, n)
	// per element, x the element and n its position (pgjdbc's
	// getPrimaryKeys and getIndexInfo select its fields).
	expandRet := func(p []*types.T) *types.T {
		return types.ArrayOf(types.RecordOf(types.Field{Name: "x", Typ: p[0].Elem}, types.Field{Name: "n", Typ: I4}))
	}
	r.Add(&Overload{Name: "_pg_expandarray", Args: ts(AnyArray), RetFn: expandRet, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		elems := a[0].(*types.Array).Elems
		out := &types.Array{Elems: make([]types.Datum, len(elems))}
		for i, e := range elems {
			out.Elems[i] = &types.Array{Elems: []types.Datum{e, int64(i + 1)}}
		}
		return out, nil
	}})
	_ = elemRet
	registerGenerateSeries(r)
}

func itoa(x int64) string {
	if x == 0 {
		return "0"
	}
	neg := x < 0
	if neg {
		x = -x
	}
	var b [20]byte
	i := len(b)
	for x > 0 {
		i--
		b[i] = byte('0' + x%10)
		x /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

func arrElems(d types.Datum) []types.Datum {
	if d == nil {
		return nil
	}
	a := d.(*types.Array)
	return append(make([]types.Datum, 0, len(a.Elems)+1), a.Elems...)
}

// elemEqual is IS NOT DISTINCT FROM on array elements.
func elemEqual(t *types.T, a, b types.Datum) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return types.Compare(t, a, b) == 0
}

func arrayPosition(_ *EvalCtx, typs []*types.T, a []types.Datum) (types.Datum, error) {
	if a[0] == nil {
		return nil, nil
	}
	start := 0
	if len(a) > 2 {
		if a[2] == nil {
			return nil, sqlerr.New(sqlerr.NullValueNotAllowed, "initial position must not be null")
		}
		start = int(a[2].(int64)) - 1
	}
	elems := a[0].(*types.Array).Elems
	for i := max(start, 0); i < len(elems); i++ {
		if elemEqual(typs[0].Elem, elems[i], a[1]) {
			return int64(i + 1), nil
		}
	}
	return nil, nil
}

// arrayContains reports whether every non-NULL element of b is in a; a NULL
// in b is never contained (Postgres' array_contain_compare).
func arrayContains(t *types.T, a, b *types.Array) bool {
outer:
	for _, y := range b.Elems {
		if y == nil {
			return false
		}
		for _, x := range a.Elems {
			if x != nil && types.Compare(t, x, y) == 0 {
				continue outer
			}
		}
		return false
	}
	return true
}

// ArraySubscript returns arr[idx] (1-based), NULL when out of range or when
// either side is NULL.
func ArraySubscript(arr types.Datum, idx int64) types.Datum {
	a, ok := arr.(*types.Array)
	if !ok || a == nil || idx < 1 || idx > int64(len(a.Elems)) {
		return nil
	}
	return a.Elems[idx-1]
}

// ArraySlice returns arr[lo:hi] (1-based, inclusive, clamped), as Postgres'
// slice syntax; hasLo/hasHi false means the bound was omitted.
func ArraySlice(arr types.Datum, lo, hi int64, hasLo, hasHi bool) types.Datum {
	a, ok := arr.(*types.Array)
	if !ok || a == nil {
		return nil
	}
	if !hasLo {
		lo = 1
	}
	if !hasHi {
		hi = int64(len(a.Elems))
	}
	lo = max(lo, 1)
	hi = min(hi, int64(len(a.Elems)))
	out := &types.Array{Elem: a.Elem, Elems: []types.Datum{}}
	if lo <= hi {
		out.Elems = append(out.Elems, a.Elems[lo-1:hi]...)
	}
	return out
}

// AnyArrayCompare evaluates x op ANY/ALL (arr) with three-valued logic: cmp
// reports the comparison of x with one non-NULL element. It returns nil for
// NULL.
func AnyArrayCompare(x types.Datum, arr types.Datum, all bool, cmp func(x, e types.Datum) bool) types.Datum {
	if arr == nil {
		return nil
	}
	a := arr.(*types.Array)
	if len(a.Elems) == 0 {
		return all
	}
	if x == nil {
		return nil
	}
	sawNull := false
	for _, e := range a.Elems {
		if e == nil {
			sawNull = true
			continue
		}
		r := cmp(x, e)
		if all && !r {
			return false
		}
		if !all && r {
			return true
		}
	}
	if sawNull {
		return nil
	}
	return all
}
