package dataflow

import (
	"encoding/binary"
	"math"
	"math/bits"

	"github.com/cockroachdb/apd/v3"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// aggKernel maintains one aggregate call for the groups of an Aggregate.
// A group's state for the call lives in the group's words (fixed-size
// accumulators) and objs (variable-size ones) in the groupTable, at offsets
// the kernel took when the operator was built. Counts may go negative within an epoch (a
// delete can overtake its insert through the exchange), so kernels only
// check consistency when asked for a result at the epoch's end.
type aggKernel interface {
	// update folds row i of c into group groups[i] with multiplicity
	// diffs[i]; rows whose group is negative are skipped.
	update(t *groupTable, groups []int32, diffs []int64, c *coldata.Chunk) error
	// result appends the group's current value to out.
	result(t *groupTable, g int32, out *coldata.Vec) error
}

// slots hands out the offsets of the kernels' per-group state.
type slots struct{ words, objs int }

func (s *slots) word(n int) int { w := s.words; s.words += n; return w }
func (s *slots) obj() int       { o := s.objs; s.objs++; return o }

// newAggKernel returns the kernel of call over input columns of types in,
// FILTER and DISTINCT included; appendOnly says the input never retracts
// (Aggregate.AppendOnly).
func newAggKernel(call *AggCall, in []*types.T, appendOnly bool, s *slots) (aggKernel, error) {
	if call.Func == "count_star" && len(call.Args) == 0 && call.Filter < 0 && !call.Distinct {
		return rowCountKernel{}, nil
	}
	k, err := newBaseKernel(call, in, appendOnly, s)
	if err != nil {
		return nil, err
	}
	if call.Distinct {
		if call.Func == "count_star" {
			return nil, sqlerr.Bug("count(DISTINCT *)")
		}
		cols := append([]int{}, call.Args...)
		for _, o := range call.OrderBy {
			cols = append(cols, o.Col)
		}
		k = &distinctKernel{o: s.obj(), cols: cols, inner: k}
	}
	if call.Filter >= 0 {
		k = &filterKernel{col: call.Filter, inner: k}
	}
	return k, nil
}

func newBaseKernel(call *AggCall, in []*types.T, appendOnly bool, s *slots) (aggKernel, error) {
	args := make([]*types.T, len(call.Args))
	for i, c := range call.Args {
		args[i] = in[c]
	}
	unknown := sqlerr.New(sqlerr.UndefinedFunction, "aggregate %s(%v) does not exist", call.Func, args)
	wantArgs := 1
	switch call.Func {
	case "count_star":
		wantArgs = 0
	case "string_agg":
		wantArgs = 2
	}
	if len(args) != wantArgs {
		return nil, unknown
	}
	// Values kept in a multiset are told apart by representation too when
	// equal ones can print differently (numeric 1.0 and 1.00), so that the
	// result shows the ones present. Under DISTINCT equal values are one,
	// shown as the first to come.
	identity := len(args) > 0 && !types.KeyIdentifies(args[0]) && !call.Distinct
	switch call.Func {
	case "count_star":
		return &countKernel{w: s.word(1), arg: -1}, nil
	case "count":
		return &countKernel{w: s.word(1), arg: call.Args[0]}, nil
	case "sum", "avg":
		avg := call.Func == "avg"
		switch args[0].Family {
		case types.IntFamily:
			return &intSumKernel{w: s.word(3), arg: call.Args[0], avg: avg, typ: call.Typ}, nil
		case types.FloatFamily:
			return &floatSumKernel{w: s.word(floatSumWords), arg: call.Args[0], avg: avg, f4: call.Typ.Oid == types.OidFloat4}, nil
		case types.NumericFamily:
			return &decimalSumKernel{o: s.obj(), arg: call.Args[0], avg: avg}, nil
		case types.IntervalFamily:
			return &intervalSumKernel{w: s.word(5), arg: call.Args[0], avg: avg}, nil
		}
	case "min", "max":
		if appendOnly {
			return newExtremeKernel(call.Args[0], args[0], call.Func == "max", identity, s), nil
		}
		return &minMaxKernel{valueMultisets: valueMultisets{o: s.obj(), typ: args[0]}, arg: call.Args[0], max: call.Func == "max", identity: identity}, nil
	case "bool_and", "bool_or":
		if args[0].Family == types.BoolFamily {
			return &boolKernel{w: s.word(2), arg: call.Args[0], and: call.Func == "bool_and"}, nil
		}
	case "string_agg":
		if f := args[0].Family; f == types.StringFamily || f == types.BytesFamily {
			return &stringAggKernel{o: s.obj(), value: call.Args[0], delim: call.Args[1], order: call.OrderBy}, nil
		}
	case "array_agg":
		return &arrayAggKernel{valueMultisets: valueMultisets{o: s.obj(), typ: args[0]}, arg: call.Args[0], identity: identity, order: call.OrderBy}, nil
	}
	return nil, unknown
}

// errNegative reports a count below zero at an epoch's end: rows were
// deleted that had never been inserted.
func errNegative(what string) error {
	return sqlerr.Bug("aggregate %s below zero at the end of an epoch: a row was deleted that was never inserted", what)
}

// filterKernel feeds its inner kernel only the rows whose FILTER column is
// true.
type filterKernel struct {
	col    int
	inner  aggKernel
	groups []int32
}

func (k *filterKernel) update(t *groupTable, groups []int32, diffs []int64, c *coldata.Chunk) error {
	cond := c.Cols[k.col]
	k.groups = append(k.groups[:0], groups...)
	for i := range k.groups {
		if cond.IsNull(i) || !cond.Bools[i] {
			k.groups[i] = -1
		}
	}
	return k.inner.update(t, k.groups, diffs, c)
}

func (k *filterKernel) result(t *groupTable, g int32, out *coldata.Vec) error {
	return k.inner.result(t, g, out)
}

// distinctKernel turns row changes into changes of each group's set of
// distinct argument tuples (+1 when a tuple appears, -1 when its last copy
// goes), so its inner kernel sees every distinct tuple once. The per-group
// tuple counts are a multiset in objs[o].
type distinctKernel struct {
	o      int
	cols   []int
	inner  aggKernel
	key    []byte
	groups []int32
	diffs  []int64
}

func (k *distinctKernel) update(t *groupTable, groups []int32, diffs []int64, c *coldata.Chunk) error {
	k.groups, k.diffs = k.groups[:0], k.diffs[:0]
	for i, g := range groups {
		var step int64
		if g >= 0 {
			k.key = RowKey(k.key[:0], c, k.cols, i)
			before, after := t.multiset(g, k.o).add(k.key, diffs[i], nilValue)
			switch {
			case before <= 0 && after > 0:
				step = 1
			case before > 0 && after <= 0:
				step = -1
			}
		}
		if step == 0 {
			g = -1
		}
		k.groups = append(k.groups, g)
		k.diffs = append(k.diffs, step)
	}
	return k.inner.update(t, k.groups, k.diffs, c)
}

func (k *distinctKernel) result(t *groupTable, g int32, out *coldata.Vec) error {
	if m, _ := t.objects(g)[k.o].(*multiset); m != nil && m.negative > 0 {
		return errNegative("DISTINCT value count")
	}
	return k.inner.result(t, g, out)
}

func nilValue() any { return nil }

// rowCountKernel is count(*) without FILTER: the group's row count, which
// the operator keeps in words[0] anyway, so it takes no word of its own.
type rowCountKernel struct{}

func (rowCountKernel) update(*groupTable, []int32, []int64, *coldata.Chunk) error { return nil }

func (rowCountKernel) result(t *groupTable, g int32, out *coldata.Vec) error {
	n := t.state(g)[0]
	if n < 0 {
		return errNegative("count")
	}
	appendInt(out, n)
	return nil
}

// countKernel is count(*) (arg < 0) and count(arg).
type countKernel struct {
	w   int
	arg int
}

func (k *countKernel) update(t *groupTable, groups []int32, diffs []int64, c *coldata.Chunk) error {
	var nulls []bool
	if k.arg >= 0 {
		nulls = c.Cols[k.arg].Nulls
	}
	w := k.w
	diffs = diffs[:len(groups)]
	if nulls == nil {
		for i, g := range groups {
			if g >= 0 {
				t.state(g)[w] += diffs[i]
			}
		}
		return nil
	}
	nulls = nulls[:len(groups)]
	for i, g := range groups {
		if g >= 0 && !nulls[i] {
			t.state(g)[w] += diffs[i]
		}
	}
	return nil
}

func (k *countKernel) result(t *groupTable, g int32, out *coldata.Vec) error {
	n := t.state(g)[k.w]
	if n < 0 {
		return errNegative("count")
	}
	appendInt(out, n)
	return nil
}

// intSumKernel is sum and avg over integers. The sum is a 128-bit
// two's-complement integer in words w (low) and w+1 (high), so it never
// overflows: wrapping is harmless because every sum read back is that of a
// real multiset of int64 values, which fits in 127 bits. words[w+2] counts
// the non-NULL values.
type intSumKernel struct {
	w, arg int
	avg    bool
	typ    *types.T
}

func (k *intSumKernel) update(t *groupTable, groups []int32, diffs []int64, c *coldata.Chunk) error {
	v := c.Cols[k.arg]
	xs := v.Ints[:len(groups)]
	diffs = diffs[:len(groups)]
	w := k.w
	for i, g := range groups {
		if g < 0 || v.IsNull(i) {
			continue
		}
		s := t.state(g)[w : w+3 : w+3]
		addProduct(s, xs[i], diffs[i])
		s[2] += diffs[i]
	}
	return nil
}

func (k *intSumKernel) result(t *groupTable, g int32, out *coldata.Vec) error {
	s := t.state(g)[k.w : k.w+3]
	switch {
	case s[2] < 0:
		return errNegative("count")
	case s[2] == 0:
		out.Append(nil)
		return nil
	case k.avg:
		var sum apd.Decimal
		setInt128(&sum, s[0], s[1])
		d, err := expr.DecimalDiv(&sum, apd.New(s[2], 0))
		if err != nil {
			return err
		}
		out.Append(d)
	case k.typ.Phys() == types.PhysInt:
		if s[1] != s[0]>>63 {
			return sqlerr.New(sqlerr.NumericValueOutOfRange, "bigint out of range")
		}
		appendInt(out, s[0])
	default:
		setInt128(appendDecimal(out), s[0], s[1])
	}
	return nil
}

// addProduct adds x*d to the 128-bit two's-complement integer s[0] (low
// word), s[1] (high word).
func addProduct(s []int64, x, d int64) {
	hi, lo := bits.Mul64(uint64(x), uint64(d))
	// Mul64 multiplies the operands as unsigned; correct the high word for
	// negative ones (x as unsigned is x+2^64).
	if x < 0 {
		hi -= uint64(d)
	}
	if d < 0 {
		hi -= uint64(x)
	}
	l, carry := bits.Add64(uint64(s[0]), lo, 0)
	h, _ := bits.Add64(uint64(s[1]), hi, carry)
	s[0], s[1] = int64(l), int64(h)
}

// setInt128 sets d to the 128-bit integer (lo, hi).
func setInt128(d *apd.Decimal, lo, hi int64) {
	if hi == lo>>63 {
		d.SetFinite(lo, 0)
		return
	}
	neg := hi < 0
	ulo, uhi := uint64(lo), uint64(hi)
	if neg {
		var borrow uint64
		ulo, borrow = bits.Sub64(0, ulo, 0)
		uhi, _ = bits.Sub64(0, uhi, borrow)
	}
	var mag [16]byte
	binary.BigEndian.PutUint64(mag[:8], uhi)
	binary.BigEndian.PutUint64(mag[8:], ulo)
	d.Coeff.SetBytes(mag[:])
	d.Exponent, d.Form, d.Negative = 0, apd.Finite, neg
}

// Words of a floatSumKernel's state.
const (
	floatSum       = iota // the running sum of the finite values, as float64 bits
	floatComp             // the rounding error that sum has accumulated, as float64 bits
	floatCount            // non-NULL values
	floatNaN              // NaN values
	floatPosInf           // +Infinity values
	floatNegInf           // -Infinity values
	floatRetracted        // 1 once a value was deleted
	floatSumWords
)

// floatSumKernel is sum and avg over floats. Infinities and NaNs are counted
// apart, so that deleting them restores the finite sum. While the group is
// append-only the result is the plain running sum, which equals
// PostgreSQL's for rows summed in the same order; once values were deleted
// it is the compensated sum (Neumaier), since subtracting from a rounded sum
// would drift from any sum of the remaining rows.
type floatSumKernel struct {
	w, arg  int
	avg, f4 bool
}

func (k *floatSumKernel) update(t *groupTable, groups []int32, diffs []int64, c *coldata.Chunk) error {
	v := c.Cols[k.arg]
	xs := v.Floats[:len(groups)]
	diffs = diffs[:len(groups)]
	w := k.w
	for i, g := range groups {
		if g < 0 || v.IsNull(i) {
			continue
		}
		s := t.state(g)[w : w+floatSumWords : w+floatSumWords]
		x, d := xs[i], diffs[i]
		s[floatCount] += d
		if x-x != 0 { // NaN or an infinity
			switch {
			case math.IsNaN(x):
				s[floatNaN] += d
			case x > 0:
				s[floatPosInf] += d
			default:
				s[floatNegInf] += d
			}
			continue
		}
		if d < 0 {
			s[floatRetracted] = 1
		}
		y := x * float64(d)
		sum, comp := math.Float64frombits(uint64(s[floatSum])), math.Float64frombits(uint64(s[floatComp]))
		t := sum + y
		if math.Abs(sum) >= math.Abs(y) {
			comp += (sum - t) + y
		} else {
			comp += (y - t) + sum
		}
		s[floatSum], s[floatComp] = int64(math.Float64bits(t)), int64(math.Float64bits(comp))
	}
	return nil
}

func (k *floatSumKernel) result(t *groupTable, g int32, out *coldata.Vec) error {
	s := t.state(g)[k.w : k.w+floatSumWords]
	for _, n := range s[floatCount : floatNegInf+1] {
		if n < 0 {
			return errNegative("count")
		}
	}
	if s[floatCount] == 0 {
		out.Append(nil)
		return nil
	}
	r := math.Float64frombits(uint64(s[floatSum]))
	switch {
	case s[floatNaN] > 0 || s[floatPosInf] > 0 && s[floatNegInf] > 0:
		r = math.NaN()
	case s[floatPosInf] > 0:
		r = math.Inf(1)
	case s[floatNegInf] > 0:
		r = math.Inf(-1)
	case s[floatRetracted] != 0:
		r += math.Float64frombits(uint64(s[floatComp]))
	}
	if k.avg {
		r /= float64(s[floatCount])
	}
	if k.f4 {
		r = float64(float32(r))
	}
	appendFloat(out, r)
	return nil
}

// decimalSumKernel is sum and avg over numerics, in objs[o] (a *decimalSum).
type decimalSumKernel struct {
	o, arg  int
	avg     bool
	product apd.Decimal
}

// decimalSum is the exact sum of a group's finite numerics, with the
// non-finite ones counted apart and the display scales of the finite ones
// counted so that the result keeps PostgreSQL's scale (the largest one
// present) after deletions.
type decimalSum struct {
	sum                    apd.Decimal
	n, nan, posInf, negInf int64
	scales                 []scaleCount
}

type scaleCount struct {
	scale int32
	n     int64
}

func (k *decimalSumKernel) update(t *groupTable, groups []int32, diffs []int64, c *coldata.Chunk) error {
	v := c.Cols[k.arg]
	for i, g := range groups {
		if g < 0 || v.IsNull(i) {
			continue
		}
		s, _ := t.objects(g)[k.o].(*decimalSum)
		if s == nil {
			s = &decimalSum{}
			t.objects(g)[k.o] = s
		}
		x, d := &v.Decs[i], diffs[i]
		s.n += d
		switch x.Form {
		case apd.NaN, apd.NaNSignaling:
			s.nan += d
			continue
		case apd.Infinite:
			if x.Negative {
				s.negInf += d
			} else {
				s.posInf += d
			}
			continue
		}
		var err error
		switch d {
		case 1:
			_, err = expr.DecimalCtx.Add(&s.sum, &s.sum, x)
		case -1:
			_, err = expr.DecimalCtx.Sub(&s.sum, &s.sum, x)
		default:
			if _, err = expr.DecimalCtx.Mul(&k.product, x, apd.New(d, 0)); err == nil {
				_, err = expr.DecimalCtx.Add(&s.sum, &s.sum, &k.product)
			}
		}
		if err != nil {
			return sqlerr.Wrap(sqlerr.NumericValueOutOfRange, err)
		}
		s.addScale(expr.DecScale(x), d)
	}
	return nil
}

func (s *decimalSum) addScale(scale int32, d int64) {
	for i := range s.scales {
		if s.scales[i].scale == scale {
			if s.scales[i].n += d; s.scales[i].n == 0 {
				s.scales = append(s.scales[:i], s.scales[i+1:]...)
			}
			return
		}
	}
	s.scales = append(s.scales, scaleCount{scale: scale, n: d})
}

// maxScale is the largest scale present. Counts may be negative for good
// when a delete named an equal value of another scale (1.0 for 1.00), so
// only positive ones count.
func (s *decimalSum) maxScale() int32 {
	var m int32
	for _, sc := range s.scales {
		if sc.n > 0 {
			m = max(m, sc.scale)
		}
	}
	return m
}

func (k *decimalSumKernel) result(t *groupTable, g int32, out *coldata.Vec) error {
	s, _ := t.objects(g)[k.o].(*decimalSum)
	if s == nil || s.n == 0 {
		out.Append(nil)
		return nil
	}
	for _, n := range [...]int64{s.n, s.nan, s.posInf, s.negInf} {
		if n < 0 {
			return errNegative("count")
		}
	}
	r := new(apd.Decimal)
	switch {
	case s.nan > 0 || s.posInf > 0 && s.negInf > 0:
		r.Form = apd.NaN
	case s.posInf > 0:
		r.Form = apd.Infinite
	case s.negInf > 0:
		r.Form, r.Negative = apd.Infinite, true
	default:
		if _, err := expr.DecimalCtx.Quantize(r, &s.sum, -s.maxScale()); err != nil {
			return sqlerr.Wrap(sqlerr.NumericValueOutOfRange, err)
		}
		if k.avg {
			var err error
			if r, err = expr.DecimalDiv(r, apd.New(s.n, 0)); err != nil {
				return err
			}
		}
	}
	out.Append(r)
	return nil
}

// intervalSumKernel is sum and avg over intervals: words w, w+1 sum months
// and days, w+2 and w+3 are the 128-bit sum of microseconds (as in
// intSumKernel), w+4 counts the non-NULL values.
type intervalSumKernel struct {
	w, arg int
	avg    bool
}

func (k *intervalSumKernel) update(t *groupTable, groups []int32, diffs []int64, c *coldata.Chunk) error {
	v := c.Cols[k.arg]
	w := k.w
	for i, g := range groups {
		if g < 0 || v.IsNull(i) {
			continue
		}
		s := t.state(g)[w : w+5 : w+5]
		x, d := v.Ivals[i], diffs[i]
		s[0] += int64(x.Months) * d
		s[1] += int64(x.Days) * d
		addProduct(s[2:4], x.Micros, d)
		s[4] += d
	}
	return nil
}

func (k *intervalSumKernel) result(t *groupTable, g int32, out *coldata.Vec) error {
	s := t.state(g)[k.w : k.w+5]
	switch {
	case s[4] < 0:
		return errNegative("count")
	case s[4] == 0:
		out.Append(nil)
		return nil
	}
	if s[0] != int64(int32(s[0])) || s[1] != int64(int32(s[1])) || s[3] != s[2]>>63 {
		return sqlerr.New(sqlerr.DatetimeFieldOverflow, "interval out of range")
	}
	sum := types.IntervalValue{Months: int32(s[0]), Days: int32(s[1]), Micros: s[2]}
	if k.avg {
		sum = expr.IntervalDiv(sum, float64(s[4]))
	}
	out.Append(sum)
	return nil
}

// boolKernel is bool_and and bool_or: words w and w+1 count the true and
// false values.
type boolKernel struct {
	w, arg int
	and    bool
}

func (k *boolKernel) update(t *groupTable, groups []int32, diffs []int64, c *coldata.Chunk) error {
	v := c.Cols[k.arg]
	w := k.w
	for i, g := range groups {
		if g < 0 || v.IsNull(i) {
			continue
		}
		if v.Bools[i] {
			t.state(g)[w] += diffs[i]
		} else {
			t.state(g)[w+1] += diffs[i]
		}
	}
	return nil
}

func (k *boolKernel) result(t *groupTable, g int32, out *coldata.Vec) error {
	trues, falses := t.state(g)[k.w], t.state(g)[k.w+1]
	switch {
	case trues < 0 || falses < 0:
		return errNegative("count")
	case trues == 0 && falses == 0:
		out.Append(nil)
	case k.and:
		out.Append(falses == 0)
	default:
		out.Append(trues > 0)
	}
	return nil
}

// minMaxKernel is min and max over an input that may retract: the group's
// values in a multiset (objs[o]), so that deleting the extreme uncovers the
// next one. Over an append-only input the running-extreme kernels
// (newExtremeKernel) keep the extreme alone.
type minMaxKernel struct {
	valueMultisets // of the argument's type
	arg            int
	max            bool
	identity       bool
	key            []byte
}

func (k *minMaxKernel) update(t *groupTable, groups []int32, diffs []int64, c *coldata.Chunk) error {
	v := c.Cols[k.arg]
	for i, g := range groups {
		if g < 0 || v.IsNull(i) {
			continue
		}
		k.key = v.AppendKey(k.key[:0], i)
		if k.identity {
			k.key = v.AppendIdentitySuffix(k.key, i)
		}
		t.multiset(g, k.o).add(k.key, diffs[i], func() any { return copyDatum(v.Get(i)) })
	}
	return nil
}

func (k *minMaxKernel) result(t *groupTable, g int32, out *coldata.Vec) error {
	m, _ := t.objects(g)[k.o].(*multiset)
	if m == nil {
		out.Append(nil)
		return nil
	}
	if m.negative > 0 {
		return errNegative("value count")
	}
	e, ok := m.first()
	if k.max {
		e, ok = m.last()
	}
	if !ok {
		out.Append(nil)
		return nil
	}
	out.Append(e.val)
	return nil
}

// stringAggKernel is string_agg(value, delimiter): the group's non-NULL
// values in a multiset (objs[o]) ordered by the call's ORDER BY, then the
// value, then the delimiter, so the result is deterministic.
type stringAggKernel struct {
	o, value, delim int
	order           []SortKey
	key             []byte
}

// stringAggElem is one string_agg input: the value and the delimiter that
// precedes it unless it comes first.
type stringAggElem struct {
	val, delim string
	hasDelim   bool
}

func (k *stringAggKernel) update(t *groupTable, groups []int32, diffs []int64, c *coldata.Chunk) error {
	val, delim := c.Cols[k.value], c.Cols[k.delim]
	for i, g := range groups {
		if g < 0 || val.IsNull(i) {
			continue
		}
		k.key = appendOrderKey(k.key[:0], c, k.order, i)
		k.key = appendSortKey(k.key, val, i, false, false)
		k.key = delim.AppendKey(k.key, i)
		t.multiset(g, k.o).add(k.key, diffs[i], func() any {
			return stringAggElem{val: val.Bytes[i], delim: delim.Bytes[i], hasDelim: !delim.IsNull(i)}
		})
	}
	return nil
}

func (k *stringAggKernel) result(t *groupTable, g int32, out *coldata.Vec) error {
	m, _ := t.objects(g)[k.o].(*multiset)
	if m == nil || len(m.blocks) == 0 {
		out.Append(nil)
		return nil
	}
	if m.negative > 0 {
		return errNegative("value count")
	}
	var buf []byte
	first := true
	m.all(func(e *multisetEntry) {
		el := e.val.(stringAggElem)
		for range e.n {
			if !first && el.hasDelim {
				buf = append(buf, el.delim...)
			}
			buf = append(buf, el.val...)
			first = false
		}
	})
	out.Append(string(buf))
	return nil
}

// arrayAggKernel is array_agg(arg): the group's values, NULLs included, in a
// multiset (objs[o]) ordered by the call's ORDER BY, then the value (NULLs
// last).
type arrayAggKernel struct {
	valueMultisets // of the element type
	arg            int
	identity       bool
	order          []SortKey
	key            []byte
}

func (k *arrayAggKernel) update(t *groupTable, groups []int32, diffs []int64, c *coldata.Chunk) error {
	v := c.Cols[k.arg]
	for i, g := range groups {
		if g < 0 {
			continue
		}
		k.key = appendOrderKey(k.key[:0], c, k.order, i)
		k.key = appendSortKey(k.key, v, i, false, false)
		if k.identity {
			k.key = v.AppendIdentitySuffix(k.key, i)
		}
		t.multiset(g, k.o).add(k.key, diffs[i], func() any { return copyDatum(v.Get(i)) })
	}
	return nil
}

func (k *arrayAggKernel) result(t *groupTable, g int32, out *coldata.Vec) error {
	m, _ := t.objects(g)[k.o].(*multiset)
	if m == nil || len(m.blocks) == 0 {
		out.Append(nil)
		return nil
	}
	if m.negative > 0 {
		return errNegative("value count")
	}
	var elems []types.Datum
	m.all(func(e *multisetEntry) {
		for range e.n {
			elems = append(elems, e.val)
		}
	})
	out.Append(&types.Array{Elem: k.typ, Elems: elems})
	return nil
}

// appendOrderKey appends the ORDER BY key of row i of c.
func appendOrderKey(buf []byte, c *coldata.Chunk, order []SortKey, i int) []byte {
	for _, o := range order {
		buf = appendSortKey(buf, c.Cols[o.Col], i, o.Desc, o.NullsFirst)
	}
	return buf
}

// appendSortKey appends the key of row i of v such that keys compare
// bytewise as ORDER BY v [DESC] NULLS FIRST|LAST orders rows. It relies on
// AppendKey's encoding being order-preserving and prefix-free: complementing
// it reverses the order and keeps later key columns from mattering before
// this one is decided.
func appendSortKey(buf []byte, v *coldata.Vec, i int, desc, nullsFirst bool) []byte {
	if v.IsNull(i) {
		if nullsFirst {
			return append(buf, 0x00)
		}
		return append(buf, 0x02)
	}
	start := len(buf)
	buf = v.AppendKey(buf, i) // a 0x01 marker, then the value
	if desc {
		for j := start + 1; j < len(buf); j++ {
			buf[j] = ^buf[j]
		}
	}
	return buf
}

// copyDatum detaches a numeric, which Vec.Get returns as a pointer into the
// vector, from the chunk it came from.
func copyDatum(d types.Datum) types.Datum {
	if p, ok := d.(*apd.Decimal); ok {
		c := new(apd.Decimal)
		c.Set(p)
		return c
	}
	return d
}

func appendInt(v *coldata.Vec, x int64) {
	v.Ints = append(v.Ints, x)
	if v.Nulls != nil {
		v.Nulls = append(v.Nulls, false)
	}
}

// appendDecimal appends a zero numeric to v and returns it, to be set in
// place.
func appendDecimal(v *coldata.Vec) *apd.Decimal {
	v.Decs = append(v.Decs, apd.Decimal{})
	if v.Nulls != nil {
		v.Nulls = append(v.Nulls, false)
	}
	return &v.Decs[len(v.Decs)-1]
}

func appendFloat(v *coldata.Vec, x float64) {
	v.Floats = append(v.Floats, x)
	if v.Nulls != nil {
		v.Nulls = append(v.Nulls, false)
	}
}
