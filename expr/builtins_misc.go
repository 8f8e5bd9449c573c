package expr

import (
	"crypto/rand"
	"math"
	"time"

	"github.com/cockroachdb/apd/v3"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// setReturning lists the functions that produce rows: each is registered as a
// row function returning a *types.Array whose elements are the output rows
// (for jsonb_each/json_each[_text]: a 2-element array {key, value} per row).
// The planner expands them.
var setReturning = map[string]bool{
	"generate_series": true, "unnest": true, "regexp_split_to_table": true, "string_to_table": true,
	"jsonb_array_elements": true, "jsonb_array_elements_text": true, "jsonb_object_keys": true,
	"jsonb_each": true, "jsonb_each_text": true, "json_array_elements": true, "json_array_elements_text": true,
	"json_object_keys": true, "json_each": true, "json_each_text": true, "regexp_matches": true,
	"pg_options_to_table": true, "generate_subscripts": true, "_pg_expandarray": true,
}

// IsSetReturning reports whether name is a set-returning function.
// NB: regexp_matches is registered as a scalar returning the first match's
// text[]; as a set-returning function without the 'g' flag that is its only row.
func IsSetReturning(name string) bool { return setReturning[name] }

func registerMiscFuncs(r *Registry) {
	T, B, I4 := types.Text, types.Bool, types.Int4
	r.Add(&Overload{Name: "gen_random_uuid", Ret: types.UUID, Volatile: true, Vec: func(_ *EvalCtx, _ []*coldata.Vec, n int, out *types.T) (*coldata.Vec, error) {
		o := coldata.MakeVec(out, n)
		buf := make([]byte, 16*n)
		_, _ = rand.Read(buf)
		for i := range o.Bytes {
			u := buf[16*i : 16*i+16]
			u[6] = u[6]&0x0f | 0x40
			u[8] = u[8]&0x3f | 0x80
			o.Bytes[i] = string(u)
		}
		return o, nil
	}})
	for _, name := range []string{"num_nulls", "num_nonnulls"} {
		wantNull := name == "num_nulls"
		r.Add(&Overload{Name: name, Variadic: AnyType, Ret: I4, NullOK: true, Vec: func(_ *EvalCtx, args []*coldata.Vec, n int, out *types.T) (*coldata.Vec, error) {
			o := coldata.MakeVec(out, n)
			for _, a := range args {
				for i := 0; i < n; i++ {
					if a.IsNull(i) == wantNull {
						o.Ints[i]++
					}
				}
			}
			return o, nil
		}})
	}
	settingFn := func(ctx *EvalCtx, a []types.Datum) (types.Datum, error) {
		if a[0] == nil {
			return nil, nil
		}
		name := a[0].(string)
		missingOK := len(a) > 1 && a[1] != nil && a[1].(bool)
		if ctx.Settings != nil {
			if v, ok := ctx.Settings(name); ok {
				return v, nil
			}
		}
		if missingOK {
			return nil, nil
		}
		return nil, sqlerr.New(sqlerr.UndefinedObject, "unrecognized configuration parameter \"%s\"", name)
	}
	r.Add(&Overload{Name: "current_setting", Args: ts(T), Ret: T, Row: settingFn})
	r.Add(&Overload{Name: "current_setting", Args: ts(T, B), Ret: T, NullOK: true, Row: settingFn})
	r.Add(&Overload{Name: "pg_sleep", Args: ts(types.Float8), Ret: T, Volatile: true, Row: func(ctx *EvalCtx, a []types.Datum) (types.Datum, error) {
		secs := a[0].(float64)
		if secs <= 0 || math.IsNaN(secs) {
			return "", nil
		}
		d := time.Duration(math.Min(secs, 1e9) * float64(time.Second))
		t := time.NewTimer(d)
		defer t.Stop()
		if ctx.Ctx == nil {
			<-t.C
			return "", nil
		}
		select {
		case <-t.C:
			return "", nil
		case <-ctx.Ctx.Done():
			return nil, sqlerr.New(sqlerr.QueryCanceled, "canceling statement due to user request")
		}
	}})
}

// registerGenerateSeries adds generate_series over integers, numerics and
// timestamps, returning the whole series as an array.
func registerGenerateSeries(r *Registry) {
	const maxRows = 100_000_000
	tooMany := func() error {
		return sqlerr.New(sqlerr.ProgramLimitExceeded, "generate_series would return more than %d rows", maxRows)
	}
	for _, t := range []*types.T{types.Int4, types.Int8} {
		t := t
		fn := func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
			start, stop := a[0].(int64), a[1].(int64)
			step := int64(1)
			if len(a) > 2 {
				step = a[2].(int64)
			}
			if step == 0 {
				return nil, errInvalidParam("step size cannot equal zero")
			}
			out := &types.Array{Elem: t, Elems: []types.Datum{}}
			for x := start; (step > 0 && x <= stop) || (step < 0 && x >= stop); x += step {
				if len(out.Elems) >= maxRows {
					return nil, tooMany()
				}
				out.Elems = append(out.Elems, x)
				if (step > 0 && x > math.MaxInt64-step) || (step < 0 && x < math.MinInt64-step) {
					break
				}
			}
			return out, nil
		}
		r.Add(&Overload{Name: "generate_series", Args: ts(t, t), Ret: types.ArrayOf(t), Row: fn})
		r.Add(&Overload{Name: "generate_series", Args: ts(t, t, t), Ret: types.ArrayOf(t), Row: fn})
	}
	numFn := func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		start, stop := a[0].(*apd.Decimal), a[1].(*apd.Decimal)
		step := apd.New(1, 0)
		if len(a) > 2 {
			step = a[2].(*apd.Decimal)
		}
		if step.IsZero() {
			return nil, errInvalidParam("step size cannot equal zero")
		}
		for _, d := range []*apd.Decimal{start, stop, step} {
			if d.Form == apd.NaN {
				return nil, errInvalidParam("%s value cannot be NaN", map[bool]string{true: "step size", false: "start"}[d == step])
			}
		}
		out := &types.Array{Elem: types.Numeric, Elems: []types.Datum{}}
		x := new(apd.Decimal).Set(start)
		for (!step.Negative && x.Cmp(stop) <= 0) || (step.Negative && x.Cmp(stop) >= 0) {
			if len(out.Elems) >= maxRows {
				return nil, tooMany()
			}
			out.Elems = append(out.Elems, new(apd.Decimal).Set(x))
			nx := new(apd.Decimal)
			_, _ = DecimalCtx.Add(nx, x, step)
			x = nx
		}
		return out, nil
	}
	r.Add(&Overload{Name: "generate_series", Args: ts(types.Numeric, types.Numeric), Ret: types.ArrayOf(types.Numeric), Row: numFn})
	r.Add(&Overload{Name: "generate_series", Args: ts(types.Numeric, types.Numeric, types.Numeric), Ret: types.ArrayOf(types.Numeric), Row: numFn})
	for _, t := range []*types.T{types.Timestamp, types.TimestampTZ} {
		t := t
		r.Add(&Overload{Name: "generate_series", Args: ts(t, t, types.Interval), Ret: types.ArrayOf(t), Row: func(ctx *EvalCtx, a []types.Datum) (types.Datum, error) {
			start, stop, step := a[0].(int64), a[1].(int64), a[2].(types.IntervalValue)
			if step == (types.IntervalValue{}) {
				return nil, errInvalidParam("step size cannot equal zero")
			}
			var loc *time.Location
			if t == types.TimestampTZ {
				loc = cfgOf(ctx).Location
			}
			// Direction from the step applied once to the start.
			probe, err := addInterval(start, step, loc)
			if err != nil {
				return nil, err
			}
			up := probe > start
			out := &types.Array{Elem: t, Elems: []types.Datum{}}
			// Postgres adds the step cumulatively to the running value.
			x := start
			for (up && x <= stop) || (!up && x >= stop) {
				if len(out.Elems) >= maxRows {
					return nil, tooMany()
				}
				out.Elems = append(out.Elems, x)
				nx, err := addInterval(x, step, loc)
				if err != nil {
					break
				}
				if nx == x {
					break
				}
				x = nx
			}
			return out, nil
		}})
	}
}
