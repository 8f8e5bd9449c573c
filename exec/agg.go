package exec

import (
	"bytes"
	"math"
	"slices"

	"github.com/cockroachdb/apd/v3"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// aggregator folds input rows into per-group states. groups[i] is the group
// of row i; rows whose group is negative are skipped (FILTER).
type aggregator interface {
	grow(nGroups int)
	update(groups []int32, args []*coldata.Vec) error
	// result returns the group's current value without consuming it, so window
	// frames can read running aggregates.
	result(g int) (types.Datum, error)
}

// AggResultType returns the result type of an aggregate over args, or nil if
// the aggregate does not accept them.
func AggResultType(kind AggKind, args []*types.T) *types.T {
	arg := func(i int) *types.T { return args[i] }
	switch kind {
	case "count", "count_star":
		return types.Int8
	case "sum":
		switch arg(0).Oid {
		case types.OidInt2, types.OidInt4:
			return types.Int8
		case types.OidInt8, types.OidNumeric:
			return types.Numeric
		case types.OidFloat4, types.OidFloat8, types.OidInterval:
			return types.ByOid(arg(0).Oid)
		}
	case "avg":
		switch arg(0).Family {
		case types.IntFamily, types.NumericFamily:
			return types.Numeric
		case types.FloatFamily:
			return types.Float8
		case types.IntervalFamily:
			return types.Interval
		}
	case "min", "max":
		if arg(0).Family == types.StringFamily && arg(0).Oid != types.OidBPChar {
			return types.Text
		}
		return arg(0)
	case "bool_and", "bool_or", "every":
		if arg(0).Family == types.BoolFamily {
			return types.Bool
		}
	case "string_agg":
		if arg(0).Family == types.BytesFamily {
			return types.Bytea
		}
		return types.Text
	case "array_agg":
		return types.ArrayOf(arg(0))
	case "stddev", "stddev_samp", "stddev_pop", "variance", "var_samp", "var_pop":
		switch arg(0).Family {
		case types.FloatFamily:
			return types.Float8
		case types.IntFamily, types.NumericFamily:
			return types.Numeric
		}
	case "percentile_cont":
		if args[1].Family == types.IntervalFamily {
			return types.Interval
		}
		return types.Float8
	case "percentile_disc", "mode":
		return args[len(args)-1]
	case "json_agg", "jsonb_agg":
		if kind == "json_agg" {
			return types.JSON
		}
		return types.JSONB
	case "bit_and", "bit_or":
		if arg(0).Family == types.IntFamily {
			return arg(0)
		}
	}
	return nil
}

// IsAggregate reports whether name is an aggregate function.
func IsAggregate(name string) bool {
	switch name {
	case "count", "sum", "avg", "min", "max", "bool_and", "bool_or", "every", "string_agg", "array_agg",
		"stddev", "stddev_samp", "stddev_pop", "variance", "var_samp", "var_pop", "percentile_cont",
		"percentile_disc", "mode", "json_agg", "jsonb_agg", "bit_and", "bit_or":
		return true
	}
	return false
}

func newAggregator(ev *expr.EvalCtx, spec *AggSpec) (aggregator, error) {
	if spec.Distinct || len(spec.OrderBy) > 0 || spec.Kind == "percentile_cont" || spec.Kind == "percentile_disc" || spec.Kind == "mode" {
		return &bufferedAgg{ev: ev, spec: spec}, nil
	}
	return newPlainAggregator(ev, spec)
}

func newPlainAggregator(ev *expr.EvalCtx, spec *AggSpec) (aggregator, error) {
	var in *types.T
	if len(spec.ArgTypes) > 0 {
		in = spec.ArgTypes[0]
	}
	switch spec.Kind {
	case "count_star":
		return &countAgg{star: true}, nil
	case "count":
		return &countAgg{}, nil
	case "sum", "avg":
		avg := spec.Kind == "avg"
		switch in.Family {
		case types.IntFamily:
			return &intSumAgg{avg: avg, out: spec.Typ}, nil
		case types.FloatFamily:
			return &floatSumAgg{avg: avg, f4: spec.Typ.Oid == types.OidFloat4}, nil
		case types.NumericFamily:
			return &decSumAgg{avg: avg}, nil
		case types.IntervalFamily:
			return &ivalSumAgg{avg: avg}, nil
		}
	case "min", "max":
		return &minMaxAgg{max: spec.Kind == "max", typ: in}, nil
	case "bool_and", "every":
		return &boolAgg{and: true}, nil
	case "bool_or":
		return &boolAgg{}, nil
	case "bit_and", "bit_or":
		return &bitAgg{and: spec.Kind == "bit_and"}, nil
	case "string_agg":
		return &stringAgg{}, nil
	case "array_agg", "json_agg", "jsonb_agg":
		return &arrayAgg{elem: in, kind: spec.Kind, cfg: ev.Cfg}, nil
	case "stddev", "stddev_samp", "stddev_pop", "variance", "var_samp", "var_pop":
		return &varianceAgg{kind: spec.Kind, float: in.Family == types.FloatFamily}, nil
	}
	return nil, sqlerr.New(sqlerr.UndefinedFunction, "aggregate %s(%v) does not exist", spec.Kind, spec.ArgTypes)
}

type countAgg struct {
	star   bool
	counts []int64
}

func (a *countAgg) grow(n int) { a.counts = growTo(a.counts, n) }
func (a *countAgg) update(groups []int32, args []*coldata.Vec) error {
	if a.star || args[0].Nulls == nil {
		for _, g := range groups {
			if g >= 0 {
				a.counts[g]++
			}
		}
		return nil
	}
	nulls := args[0].Nulls
	for i, g := range groups {
		if g >= 0 && !nulls[i] {
			a.counts[g]++
		}
	}
	return nil
}
func (a *countAgg) result(g int) (types.Datum, error) { return a.counts[g], nil }

func growTo[T any](s []T, n int) []T {
	if len(s) >= n {
		return s
	}
	return append(s, make([]T, n-len(s))...)
}

// intSumAgg sums integers in int64, moving a group to exact decimal only when
// its sum overflows.
type intSumAgg struct {
	avg    bool
	out    *types.T
	sums   []int64
	counts []int64
	big    map[int]*apd.Decimal
}

func (a *intSumAgg) grow(n int) {
	a.sums = growTo(a.sums, n)
	a.counts = growTo(a.counts, n)
}

func (a *intSumAgg) update(groups []int32, args []*coldata.Vec) error {
	x := args[0].Ints
	nulls := args[0].Nulls
	for i, g := range groups {
		if g < 0 || (nulls != nil && nulls[i]) {
			continue
		}
		s := a.sums[g]
		r := s + x[i]
		if (r > s) != (x[i] > 0) {
			a.spill(int(g), s)
			r = x[i]
		}
		a.sums[g] = r
		a.counts[g]++
	}
	return nil
}

func (a *intSumAgg) spill(g int, s int64) {
	if a.big == nil {
		a.big = map[int]*apd.Decimal{}
	}
	d, ok := a.big[g]
	if !ok {
		d = new(apd.Decimal)
		a.big[g] = d
	}
	_, _ = expr.DecimalCtx.Add(d, d, apd.New(s, 0))
}

func (a *intSumAgg) total(g int) *apd.Decimal {
	d := apd.New(a.sums[g], 0)
	if b, ok := a.big[g]; ok {
		_, _ = expr.DecimalCtx.Add(d, d, b)
	}
	return d
}

func (a *intSumAgg) result(g int) (types.Datum, error) {
	if a.counts[g] == 0 {
		return nil, nil
	}
	if a.avg {
		return expr.DecimalDiv(a.total(g), apd.New(a.counts[g], 0))
	}
	if a.out.Oid == types.OidInt8 {
		if _, ok := a.big[g]; ok {
			return nil, sqlerr.New(sqlerr.NumericValueOutOfRange, "bigint out of range")
		}
		return a.sums[g], nil
	}
	return a.total(g), nil
}

type floatSumAgg struct {
	avg    bool
	f4     bool
	sums   []float64
	counts []int64
}

func (a *floatSumAgg) grow(n int) {
	a.sums = growTo(a.sums, n)
	a.counts = growTo(a.counts, n)
}
func (a *floatSumAgg) update(groups []int32, args []*coldata.Vec) error {
	x := args[0].Floats
	nulls := args[0].Nulls
	for i, g := range groups {
		if g < 0 || (nulls != nil && nulls[i]) {
			continue
		}
		a.sums[g] += x[i]
		a.counts[g]++
	}
	return nil
}
func (a *floatSumAgg) result(g int) (types.Datum, error) {
	if a.counts[g] == 0 {
		return nil, nil
	}
	s := a.sums[g]
	if a.avg {
		s /= float64(a.counts[g])
	}
	if a.f4 {
		s = float64(float32(s))
	}
	return s, nil
}

type decSumAgg struct {
	avg    bool
	sums   []apd.Decimal
	counts []int64
}

func (a *decSumAgg) grow(n int) {
	a.sums = growTo(a.sums, n)
	a.counts = growTo(a.counts, n)
}
func (a *decSumAgg) update(groups []int32, args []*coldata.Vec) error {
	for i, g := range groups {
		if g < 0 || args[0].IsNull(i) {
			continue
		}
		if _, err := expr.DecimalCtx.Add(&a.sums[g], &a.sums[g], &args[0].Decs[i]); err != nil {
			return sqlerr.Wrap(sqlerr.NumericValueOutOfRange, err)
		}
		a.counts[g]++
	}
	return nil
}
func (a *decSumAgg) result(g int) (types.Datum, error) {
	if a.counts[g] == 0 {
		return nil, nil
	}
	if a.avg {
		return expr.DecimalDiv(&a.sums[g], apd.New(a.counts[g], 0))
	}
	d := new(apd.Decimal)
	d.Set(&a.sums[g])
	return d, nil
}

type ivalSumAgg struct {
	avg    bool
	sums   []types.IntervalValue
	counts []int64
}

func (a *ivalSumAgg) grow(n int) {
	a.sums = growTo(a.sums, n)
	a.counts = growTo(a.counts, n)
}
func (a *ivalSumAgg) update(groups []int32, args []*coldata.Vec) error {
	for i, g := range groups {
		if g < 0 || args[0].IsNull(i) {
			continue
		}
		x := args[0].Ivals[i]
		s := &a.sums[g]
		s.Months += x.Months
		s.Days += x.Days
		s.Micros += x.Micros
		a.counts[g]++
	}
	return nil
}
func (a *ivalSumAgg) result(g int) (types.Datum, error) {
	if a.counts[g] == 0 {
		return nil, nil
	}
	s := a.sums[g]
	if !a.avg {
		return s, nil
	}
	return expr.IntervalDiv(s, float64(a.counts[g])), nil
}

type minMaxAgg struct {
	max  bool
	typ  *types.T
	vals []types.Datum
	ints []int64
	set  []bool
	// xid and yid are scratch for compareIdentity.
	xid, yid []byte
}

func (a *minMaxAgg) grow(n int) {
	a.set = growTo(a.set, n)
	if a.typ.Phys() == types.PhysInt {
		a.ints = growTo(a.ints, n)
	} else {
		a.vals = growTo(a.vals, n)
	}
}

func (a *minMaxAgg) update(groups []int32, args []*coldata.Vec) error {
	v := args[0]
	if a.typ.Phys() == types.PhysInt {
		for i, g := range groups {
			if g < 0 || v.IsNull(i) {
				continue
			}
			x := v.Ints[i]
			if !a.set[g] || (a.max && x > a.ints[g]) || (!a.max && x < a.ints[g]) {
				a.ints[g] = x
				a.set[g] = true
			}
		}
		return nil
	}
	for i, g := range groups {
		if g < 0 || v.IsNull(i) {
			continue
		}
		x := v.Get(i)
		if !a.set[g] {
			a.vals[g] = copyDatum(x)
			a.set[g] = true
			continue
		}
		c := types.Compare(a.typ, x, a.vals[g])
		if c == 0 && !types.KeyIdentifies(a.typ) {
			c = a.compareIdentity(x, a.vals[g])
		}
		if (a.max && c > 0) || (!a.max && c < 0) {
			a.vals[g] = copyDatum(x)
		}
	}
	return nil
}

// compareIdentity orders equal values that print differently (1.0 and
// 1.00) by their identity suffix, as a view's min/max does, so the result
// does not depend on the order rows are read in.
func (a *minMaxAgg) compareIdentity(x, y types.Datum) int {
	a.xid = coldata.AppendDatumIdentitySuffix(a.xid[:0], a.typ, x)
	a.yid = coldata.AppendDatumIdentitySuffix(a.yid[:0], a.typ, y)
	return bytes.Compare(a.xid, a.yid)
}

// copyDatum detaches a boxed decimal from the vector it points into.
func copyDatum(d types.Datum) types.Datum {
	if p, ok := d.(*apd.Decimal); ok {
		c := new(apd.Decimal)
		c.Set(p)
		return c
	}
	return d
}

func (a *minMaxAgg) result(g int) (types.Datum, error) {
	if !a.set[g] {
		return nil, nil
	}
	if a.typ.Phys() == types.PhysInt {
		return a.ints[g], nil
	}
	return a.vals[g], nil
}

type boolAgg struct {
	and  bool
	vals []bool
	set  []bool
}

func (a *boolAgg) grow(n int) {
	a.vals = growTo(a.vals, n)
	a.set = growTo(a.set, n)
}
func (a *boolAgg) update(groups []int32, args []*coldata.Vec) error {
	for i, g := range groups {
		if g < 0 || args[0].IsNull(i) {
			continue
		}
		x := args[0].Bools[i]
		if !a.set[g] {
			a.vals[g], a.set[g] = x, true
		} else if a.and {
			a.vals[g] = a.vals[g] && x
		} else {
			a.vals[g] = a.vals[g] || x
		}
	}
	return nil
}
func (a *boolAgg) result(g int) (types.Datum, error) {
	if !a.set[g] {
		return nil, nil
	}
	return a.vals[g], nil
}

type bitAgg struct {
	and  bool
	vals []int64
	set  []bool
}

func (a *bitAgg) grow(n int) {
	a.vals = growTo(a.vals, n)
	a.set = growTo(a.set, n)
}
func (a *bitAgg) update(groups []int32, args []*coldata.Vec) error {
	for i, g := range groups {
		if g < 0 || args[0].IsNull(i) {
			continue
		}
		x := args[0].Ints[i]
		switch {
		case !a.set[g]:
			a.vals[g], a.set[g] = x, true
		case a.and:
			a.vals[g] &= x
		default:
			a.vals[g] |= x
		}
	}
	return nil
}
func (a *bitAgg) result(g int) (types.Datum, error) {
	if !a.set[g] {
		return nil, nil
	}
	return a.vals[g], nil
}

type stringAgg struct {
	vals [][]byte
	set  []bool
}

func (a *stringAgg) grow(n int) {
	a.vals = growTo(a.vals, n)
	a.set = growTo(a.set, n)
}
func (a *stringAgg) update(groups []int32, args []*coldata.Vec) error {
	for i, g := range groups {
		if g < 0 || args[0].IsNull(i) {
			continue
		}
		if a.set[g] && !args[1].IsNull(i) {
			a.vals[g] = append(a.vals[g], args[1].Bytes[i]...)
		}
		a.vals[g] = append(a.vals[g], args[0].Bytes[i]...)
		a.set[g] = true
	}
	return nil
}
func (a *stringAgg) result(g int) (types.Datum, error) {
	if !a.set[g] {
		return nil, nil
	}
	return string(a.vals[g]), nil
}

type arrayAgg struct {
	elem *types.T
	kind AggKind
	cfg  *types.Config
	vals [][]types.Datum
	set  []bool
}

func (a *arrayAgg) grow(n int) {
	a.vals = growTo(a.vals, n)
	a.set = growTo(a.set, n)
}
func (a *arrayAgg) update(groups []int32, args []*coldata.Vec) error {
	for i, g := range groups {
		if g < 0 {
			continue
		}
		a.vals[g] = append(a.vals[g], copyDatum(args[0].Get(i)))
		a.set[g] = true
	}
	return nil
}
func (a *arrayAgg) result(g int) (types.Datum, error) {
	if !a.set[g] {
		return nil, nil
	}
	elems := slices.Clone(a.vals[g])
	if a.kind == "array_agg" {
		return &types.Array{Elem: a.elem, Elems: elems}, nil
	}
	return expr.JSONArrayOf(a.elem, elems, a.kind == "jsonb_agg", a.cfg)
}

type varianceAgg struct {
	kind   AggKind
	float  bool
	n      []int64
	sum    []apd.Decimal
	sumSq  []apd.Decimal
	fsum   []float64
	fsumSq []float64
}

func (a *varianceAgg) grow(n int) {
	a.n = growTo(a.n, n)
	if a.float {
		a.fsum = growTo(a.fsum, n)
		a.fsumSq = growTo(a.fsumSq, n)
	} else {
		a.sum = growTo(a.sum, n)
		a.sumSq = growTo(a.sumSq, n)
	}
}

func (a *varianceAgg) update(groups []int32, args []*coldata.Vec) error {
	v := args[0]
	for i, g := range groups {
		if g < 0 || v.IsNull(i) {
			continue
		}
		a.n[g]++
		if a.float {
			a.fsum[g] += v.Floats[i]
			a.fsumSq[g] += v.Floats[i] * v.Floats[i]
			continue
		}
		var x apd.Decimal
		if v.Typ.Phys() == types.PhysInt {
			x.SetInt64(v.Ints[i])
		} else {
			x.Set(&v.Decs[i])
		}
		var sq apd.Decimal
		_, _ = expr.DecimalCtx.Mul(&sq, &x, &x)
		_, _ = expr.DecimalCtx.Add(&a.sum[g], &a.sum[g], &x)
		_, _ = expr.DecimalCtx.Add(&a.sumSq[g], &a.sumSq[g], &sq)
	}
	return nil
}

func (a *varianceAgg) result(g int) (types.Datum, error) {
	n := a.n[g]
	sample := a.kind != "stddev_pop" && a.kind != "var_pop"
	stddev := a.kind == "stddev" || a.kind == "stddev_samp" || a.kind == "stddev_pop"
	if n == 0 || (sample && n == 1) {
		return nil, nil
	}
	if a.float {
		fn := float64(n)
		num := fn*a.fsumSq[g] - a.fsum[g]*a.fsum[g]
		if num < 0 {
			num = 0
		}
		den := fn * fn
		if sample {
			den = fn * (fn - 1)
		}
		r := num / den
		if stddev {
			r = math.Sqrt(r)
		}
		return r, nil
	}
	// Postgres' numeric_stddev_internal: exact sums, then one division at
	// select_div_scale and a square root at the same scale.
	var sumSq, num apd.Decimal
	nd := apd.New(n, 0)
	_, _ = expr.DecimalCtx.Mul(&sumSq, &a.sum[g], &a.sum[g])
	_, _ = expr.DecimalCtx.Mul(&num, nd, &a.sumSq[g])
	_, _ = expr.DecimalCtx.Sub(&num, &num, &sumSq)
	if num.Sign() <= 0 {
		return apd.New(0, 0), nil
	}
	den := new(apd.Decimal)
	if sample {
		_, _ = expr.DecimalCtx.Mul(den, nd, apd.New(n-1, 0))
	} else {
		_, _ = expr.DecimalCtx.Mul(den, nd, nd)
	}
	r, err := expr.DecimalDiv(&num, den)
	if err != nil || !stddev {
		return r, err
	}
	scale := expr.DecScale(r)
	c := expr.DecimalCtx
	c.Precision = uint32(scale) + 40
	s := new(apd.Decimal)
	if _, err := c.Sqrt(s, r); err != nil {
		return nil, sqlerr.Wrap(sqlerr.NumericValueOutOfRange, err)
	}
	return expr.RoundDecimal(s, scale), nil
}
