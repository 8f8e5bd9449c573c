package dataflow

import (
	"bytes"
	"math"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// The running-extreme kernels are min and max over an append-only input
// (Aggregate.AppendOnly): with no value ever deleted, the group's extreme
// can only be overtaken, so they keep that one value instead of every value
// (minMaxKernel). They pick the value minMaxKernel would: the least or
// greatest by the value's key (Vec.AppendKey) then, when identity is set,
// by its identity suffix, so that equal values that print differently
// (numeric 1.0 and 1.00, float -0 and 0) give the batch answer whatever
// order rows arrive in. Without identity (under DISTINCT) the first of
// equal values stays, as minMaxKernel's multiset keeps it.

// newExtremeKernel returns the running-extreme kernel of min or max over
// values of type t: in words for integer-like and float types, boxed in
// objs otherwise.
func newExtremeKernel(arg int, t *types.T, max, identity bool, s *slots) aggKernel {
	switch {
	case t.Phys() == types.PhysInt && types.KeyIdentifies(t):
		return &intExtremeKernel{w: s.word(2), arg: arg, max: max}
	case t.Phys() == types.PhysFloat:
		return &floatExtremeKernel{w: s.word(2), arg: arg, max: max, identity: identity}
	}
	return &boxedExtremeKernel{o: s.obj(), arg: arg, typ: t, max: max, identity: identity}
}

// intExtremeKernel is the running extreme of integer-like values (integers,
// dates, times, timestamps), which their int64 orders and identifies: words
// w (1 once the group has a value) and w+1 (the value).
type intExtremeKernel struct {
	w, arg int
	max    bool
}

func (k *intExtremeKernel) update(t *groupTable, groups []int32, diffs []int64, c *coldata.Chunk) error {
	v := c.Cols[k.arg]
	xs := v.Ints[:len(groups)]
	diffs = diffs[:len(groups)]
	w := k.w
	for i, g := range groups {
		if g < 0 || diffs[i] == 0 || v.IsNull(i) {
			continue
		}
		s := t.state(g)[w : w+2 : w+2]
		x := xs[i]
		if s[0] == 0 || (k.max && x > s[1]) || (!k.max && x < s[1]) {
			s[0], s[1] = 1, x
		}
	}
	return nil
}

func (k *intExtremeKernel) result(t *groupTable, g int32, out *coldata.Vec) error {
	s := t.state(g)[k.w : k.w+2]
	if s[0] == 0 {
		out.Append(nil)
		return nil
	}
	appendInt(out, s[1])
	return nil
}

// floatExtremeKernel is the running extreme of floats: words w (1 once the
// group has a value) and w+1 (the value's bits). Floats order by
// types.FloatKeyBits, then (identity) by their bits, as their key and
// identity suffix do.
type floatExtremeKernel struct {
	w, arg        int
	max, identity bool
}

func (k *floatExtremeKernel) update(t *groupTable, groups []int32, diffs []int64, c *coldata.Chunk) error {
	v := c.Cols[k.arg]
	xs := v.Floats[:len(groups)]
	diffs = diffs[:len(groups)]
	w := k.w
	for i, g := range groups {
		if g < 0 || diffs[i] == 0 || v.IsNull(i) {
			continue
		}
		s := t.state(g)[w : w+2 : w+2]
		x := math.Float64bits(xs[i])
		if s[0] == 0 || k.overtakes(x, uint64(s[1])) {
			s[0], s[1] = 1, int64(x)
		}
	}
	return nil
}

// overtakes reports whether the float with bits x replaces the extreme
// with bits cur.
func (k *floatExtremeKernel) overtakes(x, cur uint64) bool {
	xk, ck := types.FloatKeyBits(math.Float64frombits(x)), types.FloatKeyBits(math.Float64frombits(cur))
	if xk == ck {
		if !k.identity {
			return false
		}
		xk, ck = x, cur
	}
	if k.max {
		return xk > ck
	}
	return xk < ck
}

func (k *floatExtremeKernel) result(t *groupTable, g int32, out *coldata.Vec) error {
	s := t.state(g)[k.w : k.w+2]
	if s[0] == 0 {
		out.Append(nil)
		return nil
	}
	appendFloat(out, math.Float64frombits(uint64(s[1])))
	return nil
}

// boxedExtremeKernel is the running extreme of values of other types, in
// objs[o] (a *boxedExtreme, nil until the group has a value).
type boxedExtremeKernel struct {
	o, arg        int
	typ           *types.T // the argument's
	max, identity bool
	key           []byte
}

// boxedExtreme is a group's extreme value and its key (with the identity
// suffix when the kernel compares by it).
type boxedExtreme struct {
	key []byte
	val types.Datum
}

func (k *boxedExtremeKernel) update(t *groupTable, groups []int32, diffs []int64, c *coldata.Chunk) error {
	v := c.Cols[k.arg]
	for i, g := range groups {
		if g < 0 || diffs[i] == 0 || v.IsNull(i) {
			continue
		}
		k.key = v.AppendKey(k.key[:0], i)
		if k.identity {
			k.key = v.AppendIdentitySuffix(k.key, i)
		}
		objs := t.objects(g)
		e, _ := objs[k.o].(*boxedExtreme)
		if e == nil {
			e = &boxedExtreme{}
			objs[k.o] = e
		} else if cmp := bytes.Compare(k.key, e.key); k.max && cmp <= 0 || !k.max && cmp >= 0 {
			continue
		}
		e.key = append(e.key[:0], k.key...)
		e.val = copyDatum(v.Get(i))
	}
	return nil
}

func (k *boxedExtremeKernel) result(t *groupTable, g int32, out *coldata.Vec) error {
	e, _ := t.objects(g)[k.o].(*boxedExtreme)
	if e == nil {
		out.Append(nil)
		return nil
	}
	out.Append(e.val)
	return nil
}
