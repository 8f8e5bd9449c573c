package coldata

import (
	"encoding/binary"
	"math"
	"slices"

	"github.com/cockroachdb/apd/v3"

	"github.com/sluice-db/sluice/types"
)

// Vec is one column of values of a single type. Exactly one of the typed
// slices is in use, chosen by Typ.Phys(); Nulls[i] marks row i NULL (the typed
// slot then holds the zero value). Nulls may be nil when no row is NULL.
type Vec struct {
	Typ   *types.T
	Nulls []bool

	Bools  []bool
	Ints   []int64
	Floats []float64
	Decs   []apd.Decimal
	Bytes  []string
	Ivals  []types.IntervalValue
	Datums []types.Datum
}

// NewVec returns an empty vector of type t with capacity n.
func NewVec(t *types.T, n int) *Vec {
	v := &Vec{Typ: t}
	switch t.Phys() {
	case types.PhysBool:
		v.Bools = make([]bool, 0, n)
	case types.PhysInt:
		v.Ints = make([]int64, 0, n)
	case types.PhysFloat:
		v.Floats = make([]float64, 0, n)
	case types.PhysDecimal:
		v.Decs = make([]apd.Decimal, 0, n)
	case types.PhysBytes:
		v.Bytes = make([]string, 0, n)
	case types.PhysInterval:
		v.Ivals = make([]types.IntervalValue, 0, n)
	default:
		v.Datums = make([]types.Datum, 0, n)
	}
	return v
}

// Len returns the number of rows.
func (v *Vec) Len() int {
	switch v.Typ.Phys() {
	case types.PhysBool:
		return len(v.Bools)
	case types.PhysInt:
		return len(v.Ints)
	case types.PhysFloat:
		return len(v.Floats)
	case types.PhysDecimal:
		return len(v.Decs)
	case types.PhysBytes:
		return len(v.Bytes)
	case types.PhysInterval:
		return len(v.Ivals)
	}
	return len(v.Datums)
}

// IsNull reports whether row i is NULL.
func (v *Vec) IsNull(i int) bool { return v.Nulls != nil && v.Nulls[i] }

// HasNulls reports whether any row is NULL.
func (v *Vec) HasNulls() bool {
	for _, n := range v.Nulls {
		if n {
			return true
		}
	}
	return false
}

// SetNull marks row i NULL, allocating the null mask on first use.
func (v *Vec) SetNull(i int) {
	if v.Nulls == nil {
		v.Nulls = make([]bool, v.Len(), max(v.Len(), 8))
	}
	v.Nulls[i] = true
}

// Get returns row i as a Datum (nil for NULL). It boxes: use it at row
// boundaries, not in kernels.
func (v *Vec) Get(i int) types.Datum {
	if v.IsNull(i) {
		return nil
	}
	switch v.Typ.Phys() {
	case types.PhysBool:
		return v.Bools[i]
	case types.PhysInt:
		return v.Ints[i]
	case types.PhysFloat:
		return v.Floats[i]
	case types.PhysDecimal:
		return &v.Decs[i]
	case types.PhysBytes:
		return v.Bytes[i]
	case types.PhysInterval:
		return v.Ivals[i]
	}
	return v.Datums[i]
}

// Append adds one Datum (nil for NULL) at the end.
func (v *Vec) Append(d types.Datum) {
	n := v.Len()
	switch v.Typ.Phys() {
	case types.PhysBool:
		b, _ := d.(bool)
		v.Bools = append(v.Bools, b)
	case types.PhysInt:
		x, _ := d.(int64)
		v.Ints = append(v.Ints, x)
	case types.PhysFloat:
		x, _ := d.(float64)
		v.Floats = append(v.Floats, x)
	case types.PhysDecimal:
		var x apd.Decimal
		if p, ok := d.(*apd.Decimal); ok && p != nil {
			x.Set(p)
		}
		v.Decs = append(v.Decs, x)
	case types.PhysBytes:
		s, _ := d.(string)
		v.Bytes = append(v.Bytes, s)
	case types.PhysInterval:
		x, _ := d.(types.IntervalValue)
		v.Ivals = append(v.Ivals, x)
	default:
		v.Datums = append(v.Datums, d)
	}
	if d == nil {
		if v.Nulls == nil {
			v.Nulls = make([]bool, n, max(n+1, 8))
		}
		v.Nulls = append(v.Nulls, true)
	} else if v.Nulls != nil {
		v.Nulls = append(v.Nulls, false)
	}
}

// AppendFrom appends row i of src (same physical type) without boxing.
func (v *Vec) AppendFrom(src *Vec, i int) {
	n := v.Len()
	switch v.Typ.Phys() {
	case types.PhysBool:
		v.Bools = append(v.Bools, src.Bools[i])
	case types.PhysInt:
		v.Ints = append(v.Ints, src.Ints[i])
	case types.PhysFloat:
		v.Floats = append(v.Floats, src.Floats[i])
	case types.PhysDecimal:
		v.Decs = append(v.Decs, apd.Decimal{})
		v.Decs[n].Set(&src.Decs[i])
	case types.PhysBytes:
		v.Bytes = append(v.Bytes, src.Bytes[i])
	case types.PhysInterval:
		v.Ivals = append(v.Ivals, src.Ivals[i])
	default:
		v.Datums = append(v.Datums, src.Datums[i])
	}
	null := src.IsNull(i)
	if null && v.Nulls == nil {
		v.Nulls = make([]bool, n, max(n+1, 8))
	}
	if v.Nulls != nil {
		v.Nulls = append(v.Nulls, null)
	}
}

// SetFrom overwrites row i with row j of src (same physical type) without
// boxing: for containers that reuse the rows they have freed.
func (v *Vec) SetFrom(i int, src *Vec, j int) {
	switch v.Typ.Phys() {
	case types.PhysBool:
		v.Bools[i] = src.Bools[j]
	case types.PhysInt:
		v.Ints[i] = src.Ints[j]
	case types.PhysFloat:
		v.Floats[i] = src.Floats[j]
	case types.PhysDecimal:
		v.Decs[i].Set(&src.Decs[j])
	case types.PhysBytes:
		v.Bytes[i] = src.Bytes[j]
	case types.PhysInterval:
		v.Ivals[i] = src.Ivals[j]
	default:
		v.Datums[i] = src.Datums[j]
	}
	null := src.IsNull(j)
	if null && v.Nulls == nil {
		n := v.Len()
		v.Nulls = make([]bool, n, max(n, 8))
	}
	if v.Nulls != nil {
		v.Nulls[i] = null
	}
}

// SetRange is SetFrom for the n rows from i, taken from src's from j, a
// column at a time.
func (v *Vec) SetRange(i int, src *Vec, j, n int) {
	switch v.Typ.Phys() {
	case types.PhysBool:
		copy(v.Bools[i:i+n], src.Bools[j:j+n])
	case types.PhysInt:
		copy(v.Ints[i:i+n], src.Ints[j:j+n])
	case types.PhysFloat:
		copy(v.Floats[i:i+n], src.Floats[j:j+n])
	case types.PhysDecimal:
		for k := range n {
			v.Decs[i+k].Set(&src.Decs[j+k])
		}
	case types.PhysBytes:
		copy(v.Bytes[i:i+n], src.Bytes[j:j+n])
	case types.PhysInterval:
		copy(v.Ivals[i:i+n], src.Ivals[j:j+n])
	default:
		copy(v.Datums[i:i+n], src.Datums[j:j+n])
	}
	switch {
	case src.Nulls != nil:
		if v.Nulls == nil {
			m := v.Len()
			v.Nulls = make([]bool, m, max(m, 8))
		}
		copy(v.Nulls[i:i+n], src.Nulls[j:j+n])
	case v.Nulls != nil:
		clear(v.Nulls[i : i+n])
	}
}

// Gather returns a new vector holding rows sel of v, in that order.
func (v *Vec) Gather(sel []int) *Vec {
	out := &Vec{}
	v.GatherInto(out, sel)
	return out
}

// GatherInto sets out to rows sel of v, in that order, reusing out's
// memory: an operator that emits a filtered chunk per input chunk need not
// allocate one each time.
func (v *Vec) GatherInto(out *Vec, sel []int) {
	out.Typ = v.Typ
	out.Nulls, out.Bools, out.Ints, out.Floats = out.Nulls[:0], out.Bools[:0], out.Ints[:0], out.Floats[:0]
	out.Decs, out.Bytes, out.Ivals, out.Datums = out.Decs[:0], out.Bytes[:0], out.Ivals[:0], out.Datums[:0]
	if v.Nulls == nil {
		out.Nulls = nil
	}
	out.AppendSel(v, sel)
}

// AppendSel appends rows sel of src (same physical type), in that order.
// v gets a null mask only once a row it holds is NULL, whether or not src
// has one: kernels take faster paths on vectors without.
func (v *Vec) AppendSel(src *Vec, sel []int) {
	m := v.Len()
	switch v.Typ.Phys() {
	case types.PhysBool:
		v.Bools = appendSel(v.Bools, src.Bools, sel)
	case types.PhysInt:
		v.Ints = appendSel(v.Ints, src.Ints, sel)
	case types.PhysFloat:
		v.Floats = appendSel(v.Floats, src.Floats, sel)
	case types.PhysDecimal:
		v.Decs = slices.Grow(v.Decs, len(sel))[:m+len(sel)]
		for j, i := range sel {
			v.Decs[m+j].Set(&src.Decs[i])
		}
	case types.PhysBytes:
		v.Bytes = appendSel(v.Bytes, src.Bytes, sel)
	case types.PhysInterval:
		v.Ivals = appendSel(v.Ivals, src.Ivals, sel)
	default:
		v.Datums = appendSel(v.Datums, src.Datums, sel)
	}
	if v.Nulls == nil && src.Nulls != nil && slices.ContainsFunc(sel, func(i int) bool { return src.Nulls[i] }) {
		v.Nulls = make([]bool, m, m+len(sel))
	}
	switch {
	case v.Nulls == nil:
	case src.Nulls != nil:
		v.Nulls = appendSel(v.Nulls, src.Nulls, sel)
	default:
		v.Nulls = append(v.Nulls, make([]bool, len(sel))...)
	}
}

// appendSel appends src[sel[0]], src[sel[1]], … to dst.
func appendSel[T any](dst, src []T, sel []int) []T {
	m := len(dst)
	dst = slices.Grow(dst, len(sel))[:m+len(sel)]
	for j, i := range sel {
		dst[m+j] = src[i]
	}
	return dst
}

// Slice returns rows [lo, hi) of v sharing its memory.
func (v *Vec) Slice(lo, hi int) *Vec {
	out := &Vec{Typ: v.Typ}
	switch v.Typ.Phys() {
	case types.PhysBool:
		out.Bools = v.Bools[lo:hi:hi]
	case types.PhysInt:
		out.Ints = v.Ints[lo:hi:hi]
	case types.PhysFloat:
		out.Floats = v.Floats[lo:hi:hi]
	case types.PhysDecimal:
		out.Decs = v.Decs[lo:hi:hi]
	case types.PhysBytes:
		out.Bytes = v.Bytes[lo:hi:hi]
	case types.PhysInterval:
		out.Ivals = v.Ivals[lo:hi:hi]
	default:
		out.Datums = v.Datums[lo:hi:hi]
	}
	if v.Nulls != nil {
		out.Nulls = v.Nulls[lo:hi:hi]
	}
	return out
}

// ConstVec returns a vector of n copies of d.
func ConstVec(t *types.T, d types.Datum, n int) *Vec {
	v := NewVec(t, n)
	if d == nil {
		v.Nulls = make([]bool, n)
		for i := range v.Nulls {
			v.Nulls[i] = true
		}
		v.resize(n)
		return v
	}
	switch t.Phys() {
	case types.PhysBool:
		x := d.(bool)
		v.Bools = v.Bools[:n]
		for i := range v.Bools {
			v.Bools[i] = x
		}
	case types.PhysInt:
		x := d.(int64)
		v.Ints = v.Ints[:n]
		for i := range v.Ints {
			v.Ints[i] = x
		}
	case types.PhysFloat:
		x := d.(float64)
		v.Floats = v.Floats[:n]
		for i := range v.Floats {
			v.Floats[i] = x
		}
	case types.PhysBytes:
		x := d.(string)
		v.Bytes = v.Bytes[:n]
		for i := range v.Bytes {
			v.Bytes[i] = x
		}
	default:
		for i := 0; i < n; i++ {
			v.Append(d)
		}
	}
	return v
}

// resize sets the length of the typed slice to n, zero-filled.
func (v *Vec) resize(n int) {
	switch v.Typ.Phys() {
	case types.PhysBool:
		v.Bools = append(v.Bools[:0], make([]bool, n)...)
	case types.PhysInt:
		v.Ints = append(v.Ints[:0], make([]int64, n)...)
	case types.PhysFloat:
		v.Floats = append(v.Floats[:0], make([]float64, n)...)
	case types.PhysDecimal:
		v.Decs = append(v.Decs[:0], make([]apd.Decimal, n)...)
	case types.PhysBytes:
		v.Bytes = append(v.Bytes[:0], make([]string, n)...)
	case types.PhysInterval:
		v.Ivals = append(v.Ivals[:0], make([]types.IntervalValue, n)...)
	default:
		v.Datums = append(v.Datums[:0], make([]types.Datum, n)...)
	}
}

// MakeVec returns a vector of n zero values (all non-NULL) of type t, for
// kernels that fill by index.
func MakeVec(t *types.T, n int) *Vec {
	v := &Vec{Typ: t}
	v.resize(n)
	return v
}

// AppendKey appends the equality key of row i (types.AppendKey), avoiding
// boxing for integer-like and string columns.
func (v *Vec) AppendKey(buf []byte, i int) []byte {
	if v.IsNull(i) {
		return types.AppendKey(buf, v.Typ, nil)
	}
	switch {
	case v.Typ.Phys() == types.PhysInt:
		return types.AppendKeyInt(buf, v.Ints[i])
	case v.Typ.Family == types.StringFamily:
		return types.AppendKeyString(buf, v.Typ, v.Bytes[i])
	}
	return types.AppendKey(buf, v.Typ, v.Get(i))
}

// AppendIdentity appends row i's AppendKey followed by its identity suffix
// (AppendIdentitySuffix): rows with equal identity keys are the same row to
// a change set, not merely equal.
func (v *Vec) AppendIdentity(buf []byte, i int) []byte {
	buf = v.AppendKey(buf, i)
	if types.KeyIdentifies(v.Typ) {
		return buf
	}
	return v.AppendIdentitySuffix(buf, i)
}

// SameIdentity reports whether row i of a and row j of b (of one type)
// have the same identity, as AppendIdentity's bytes would tell, without
// encoding them: consolidation compares rows whose hashes match.
func SameIdentity(a *Vec, i int, b *Vec, j int) bool {
	if an, bn := a.IsNull(i), b.IsNull(j); an || bn {
		return an == bn
	}
	switch a.Typ.Phys() {
	case types.PhysBool:
		return a.Bools[i] == b.Bools[j]
	case types.PhysInt:
		return a.Ints[i] == b.Ints[j]
	case types.PhysFloat:
		return math.Float64bits(a.Floats[i]) == math.Float64bits(b.Floats[j])
	case types.PhysDecimal:
		return types.SameDecimalIdentity(&a.Decs[i], &b.Decs[j])
	case types.PhysBytes:
		return a.Bytes[i] == b.Bytes[j]
	case types.PhysInterval:
		return a.Ivals[i] == b.Ivals[j]
	}
	return string(a.AppendIdentity(nil, i)) == string(b.AppendIdentity(nil, j))
}

// AppendIdentitySuffix appends what tells apart equal values of row i that
// print differently: a numeric's exponent, a float's bits (-0), an
// interval's fields, a string's bytes (char(n) padding, jsonb), otherwise
// the text. It follows the value's AppendKey (which fixes its length in
// every case that matters), so it needs no delimiting.
func (v *Vec) AppendIdentitySuffix(buf []byte, i int) []byte {
	if v.IsNull(i) {
		return buf
	}
	switch v.Typ.Phys() {
	case types.PhysDecimal:
		return binary.BigEndian.AppendUint32(buf, uint32(v.Decs[i].Exponent))
	case types.PhysFloat:
		return binary.BigEndian.AppendUint64(buf, math.Float64bits(v.Floats[i]))
	case types.PhysInterval:
		return appendIntervalIdentity(buf, v.Ivals[i])
	case types.PhysBytes:
		return append(buf, v.Bytes[i]...)
	}
	return types.AppendText(buf, v.Typ, v.Get(i), types.DefaultConfig())
}

// AppendDatumIdentitySuffix is AppendIdentitySuffix for a boxed value of
// type t (nil for NULL), for code that holds Datums: equal values order by
// these bytes the same way wherever they are compared.
func AppendDatumIdentitySuffix(buf []byte, t *types.T, d types.Datum) []byte {
	switch x := d.(type) {
	case nil:
		return buf
	case *apd.Decimal:
		return binary.BigEndian.AppendUint32(buf, uint32(x.Exponent))
	case float64:
		return binary.BigEndian.AppendUint64(buf, math.Float64bits(x))
	case types.IntervalValue:
		return appendIntervalIdentity(buf, x)
	case string:
		if t.Phys() == types.PhysBytes {
			return append(buf, x...)
		}
	}
	return types.AppendText(buf, t, d, types.DefaultConfig())
}

func appendIntervalIdentity(buf []byte, x types.IntervalValue) []byte {
	buf = binary.BigEndian.AppendUint32(buf, uint32(x.Months))
	buf = binary.BigEndian.AppendUint32(buf, uint32(x.Days))
	return binary.BigEndian.AppendUint64(buf, uint64(x.Micros))
}

// Reset empties v, keeping its memory for the rows to come (and dropping
// its references to values, for the GC).
func (v *Vec) Reset() {
	clear(v.Decs)
	clear(v.Bytes)
	clear(v.Datums)
	v.Nulls, v.Bools, v.Ints, v.Floats = v.Nulls[:0], v.Bools[:0], v.Ints[:0], v.Floats[:0]
	v.Decs, v.Bytes, v.Ivals, v.Datums = v.Decs[:0], v.Bytes[:0], v.Ivals[:0], v.Datums[:0]
}

// Reserve returns s with room for n more elements. When it must grow it at
// least doubles the capacity: append grows large slices by a quarter only,
// which copies a slice built up by many appends several times over.
func Reserve[T any](s []T, n int) []T {
	if cap(s)-len(s) >= n {
		return s
	}
	return slices.Grow(s, max(n, cap(s)))
}

// Grow makes room for n more rows (see Reserve).
func (v *Vec) Grow(n int) { v.grow(n, false) }

// grow makes room for n more rows (Reserve), or, exact, for n rows in all
// (growExact).
func (v *Vec) grow(n int, exact bool) {
	switch v.Typ.Phys() {
	case types.PhysBool:
		v.Bools = growSlice(v.Bools, n, exact)
	case types.PhysInt:
		v.Ints = growSlice(v.Ints, n, exact)
	case types.PhysFloat:
		v.Floats = growSlice(v.Floats, n, exact)
	case types.PhysDecimal:
		v.Decs = growSlice(v.Decs, n, exact)
	case types.PhysBytes:
		v.Bytes = growSlice(v.Bytes, n, exact)
	case types.PhysInterval:
		v.Ivals = growSlice(v.Ivals, n, exact)
	default:
		v.Datums = growSlice(v.Datums, n, exact)
	}
	if v.Nulls != nil {
		v.Nulls = growSlice(v.Nulls, n, exact)
	}
}

func growSlice[T any](s []T, n int, exact bool) []T {
	if exact {
		return growExact(s, n)
	}
	return Reserve(s, n)
}

// AppendVec appends the first n rows of src (same physical type) in bulk.
func (v *Vec) AppendVec(src *Vec, n int) {
	m := v.Len()
	switch v.Typ.Phys() {
	case types.PhysBool:
		v.Bools = append(v.Bools, src.Bools[:n]...)
	case types.PhysInt:
		v.Ints = append(v.Ints, src.Ints[:n]...)
	case types.PhysFloat:
		v.Floats = append(v.Floats, src.Floats[:n]...)
	case types.PhysBytes:
		v.Bytes = append(v.Bytes, src.Bytes[:n]...)
	case types.PhysInterval:
		v.Ivals = append(v.Ivals, src.Ivals[:n]...)
	case types.PhysDatum:
		v.Datums = append(v.Datums, src.Datums[:n]...)
	case types.PhysDecimal:
		// Set, not a plain copy: a large coefficient points to memory that
		// must not be shared between the two vectors.
		v.Decs = append(v.Decs, make([]apd.Decimal, n)...)
		for i := range n {
			v.Decs[m+i].Set(&src.Decs[i])
		}
	}
	switch {
	case src.Nulls != nil:
		if v.Nulls == nil {
			v.Nulls = make([]bool, m, m+n)
		}
		v.Nulls = append(v.Nulls, src.Nulls[:n]...)
	case v.Nulls != nil:
		v.Nulls = append(v.Nulls, make([]bool, n)...)
	}
}

// Truncate shortens v to its first n rows (n ≤ Len), dropping references
// past n for the GC.
func (v *Vec) Truncate(n int) {
	if v.Nulls != nil {
		v.Nulls = v.Nulls[:n]
	}
	switch v.Typ.Phys() {
	case types.PhysBool:
		v.Bools = v.Bools[:n]
	case types.PhysInt:
		v.Ints = v.Ints[:n]
	case types.PhysFloat:
		v.Floats = v.Floats[:n]
	case types.PhysDecimal:
		clear(v.Decs[n:])
		v.Decs = v.Decs[:n]
	case types.PhysBytes:
		clear(v.Bytes[n:])
		v.Bytes = v.Bytes[:n]
	case types.PhysInterval:
		v.Ivals = v.Ivals[:n]
	default:
		clear(v.Datums[n:])
		v.Datums = v.Datums[:n]
	}
}

// growExact returns s with capacity at least c, allocating exactly c when
// it must grow.
func growExact[T any](s []T, c int) []T {
	if cap(s) >= c {
		return s
	}
	t := make([]T, len(s), c)
	copy(t, s)
	return t
}

// GrowExact makes room for c rows in all (not c more), allocating exactly
// that when it must grow: for a container of fixed-size segments, which
// knows the size it will stop at, unlike Grow's doubling.
func (v *Vec) GrowExact(c int) { v.grow(c, true) }

// Cap returns the number of rows v holds without growing.
func (v *Vec) Cap() int {
	switch v.Typ.Phys() {
	case types.PhysBool:
		return cap(v.Bools)
	case types.PhysInt:
		return cap(v.Ints)
	case types.PhysFloat:
		return cap(v.Floats)
	case types.PhysDecimal:
		return cap(v.Decs)
	case types.PhysBytes:
		return cap(v.Bytes)
	case types.PhysInterval:
		return cap(v.Ivals)
	}
	return cap(v.Datums)
}

// AppendInt, AppendFloat, AppendBool and AppendString add one non-NULL
// value to a vector of that physical type without boxing it.
func (v *Vec) AppendInt(x int64) {
	v.Ints = append(v.Ints, x)
	v.NoteValid()
}

func (v *Vec) AppendFloat(f float64) {
	v.Floats = append(v.Floats, f)
	v.NoteValid()
}

func (v *Vec) AppendBool(b bool) {
	v.Bools = append(v.Bools, b)
	v.NoteValid()
}

func (v *Vec) AppendString(s string) {
	v.Bytes = append(v.Bytes, s)
	v.NoteValid()
}

// NoteValid records, in the null mask if there is one, that the value
// just appended to a typed slice is not NULL.
func (v *Vec) NoteValid() {
	if v.Nulls != nil {
		v.Nulls = append(v.Nulls, false)
	}
}
