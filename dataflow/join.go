package dataflow

import (
	"fmt"
	"slices"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// pairBatch bounds how many candidate pairs are built and evaluated at a
// time, so that a hot key or a nested loop never materializes its whole
// cross product.
const pairBatch = coldata.DefaultChunkSize

// New returns one worker's instance of the join; its state holds the rows
// of both inputs on the keys the worker owns.
func (j *Join) New(env *Env) (Operator, error) {
	if len(j.LeftKeys) != len(j.RightKeys) {
		return nil, fmt.Errorf("join: %d left keys but %d right keys", len(j.LeftKeys), len(j.RightKeys))
	}
	o := &joinOp{
		j:         j,
		env:       env,
		outTypes:  j.Types(),
		pairTypes: append(append([]*types.T(nil), j.LeftTypes...), j.RightTypes...),
		emitPairs: j.Kind != SemiJoin && j.Kind != AntiJoin,
		groupIdx:  map[string]int{},
	}
	o.watermarks = [2]int64{NoWatermark, NoWatermark}
	o.purged = o.watermarks
	o.earliest = [2]int64{Unconstrained, Unconstrained}
	o.sides[0] = newJoinSide(j.LeftKeys, j.LeftTypes, NewStore[*joinBucket](env, "left"))
	o.sides[1] = newJoinSide(j.RightKeys, j.RightTypes, NewStore[*joinBucket](env, "right"))
	switch j.Kind {
	case LeftJoin:
		o.sides[0].emitUnmatched = true
	case RightJoin:
		o.sides[1].emitUnmatched = true
	case FullJoin:
		o.sides[0].emitUnmatched = true
		o.sides[1].emitUnmatched = true
	case SemiJoin:
		o.sides[0].emitMatched = true
	case AntiJoin:
		o.sides[0].emitUnmatched = true
	}
	return o, nil
}

// joinSide is one input of a join and its state.
type joinSide struct {
	keys []int
	// rest are the other columns: the rows of a bucket share their keys, so
	// the rest tell them apart.
	rest  []int
	types []*types.T
	// store maps join-key bytes to the side's distinct rows with that key.
	// Rows with a NULL key are not stored: they never match, so their
	// output is settled the moment they arrive.
	store Store[*joinBucket]
	// emitUnmatched: the side's rows are output (NULL-padded for outer
	// joins, bare for anti) while no row of the other side matches them;
	// emitMatched: output (semi) while some row does. Either way the side
	// keeps every row's match count.
	emitUnmatched, emitMatched bool
}

func newJoinSide(keys []int, ts []*types.T, store Store[*joinBucket]) joinSide {
	rest := []int{}
	for c := range ts {
		if !slices.Contains(keys, c) {
			rest = append(rest, c)
		}
	}
	return joinSide{keys: keys, rest: rest, types: ts, store: store}
}

func (s *joinSide) counted() bool { return s.emitUnmatched || s.emitMatched }

// joinGroup is one distinct join key of a pushed chunk, with the buckets of
// both sides read once per push and written back once at its end.
type joinGroup struct {
	key        string
	own        *joinBucket // nil until the push's rows are applied
	other      *joinBucket // nil: no rows on the other side
	otherDirty bool        // match counts of other's rows changed
}

// joinOp is one worker's instance of a Join. It applies the delta rule: a
// change on one side joins the other side's current rows, then updates the
// side's own state. The unmatched (or, for semi, matched) rows of a side
// are a function of the state, sum of mult × [matches == 0]; every push
// emits that function's exact change, so the folded output stays right even
// while an epoch's changes arrive out of order.
type joinOp struct {
	j                   *Join
	env                 *Env
	outTypes, pairTypes []*types.T
	emitPairs           bool // inner and outer joins output matching pairs
	sides               [2]joinSide
	// With j.Interval: the inputs' watermarks of the epoch, the watermark
	// each side's state was last purged at, and the earliest time each
	// side holds (no purge is needed while that row lives).
	watermarks, purged, earliest [2]int64

	// Scratch for one push, reused between pushes.
	groupIdx map[string]int
	groups   []joinGroup
	groupOf  []int   // per pushed row: its group, -1 for a NULL key
	counts   []int64 // per pushed row: matching rows of the other side
	// The current batch of candidate pairs: pushed row, its group, and the
	// slot of the other side's row in the group's bucket.
	pairRow, pairGroup, pairSlot []int
	keep                         []int
	keyBuf                       []byte
}

func (o *joinOp) Push(in int, d *coldata.Chunk, emit Emit) error {
	own := &o.sides[in]
	o.group(in, d)
	o.counts = slices.Grow(o.counts[:0], d.Len)[:d.Len]
	clear(o.counts)
	for i := 0; i < d.Len; i++ {
		g := o.groupOf[i]
		if g < 0 || o.groups[g].other == nil {
			continue
		}
		for s := range o.groups[g].other.slots {
			if o.groups[g].other.slots[s].mult == 0 {
				continue
			}
			o.pairRow = append(o.pairRow, i)
			o.pairGroup = append(o.pairGroup, g)
			o.pairSlot = append(o.pairSlot, s)
			if len(o.pairRow) == pairBatch {
				if err := o.matchPairs(in, d, emit); err != nil {
					return err
				}
			}
		}
	}
	if len(o.pairRow) > 0 {
		if err := o.matchPairs(in, d, emit); err != nil {
			return err
		}
	}
	if own.counted() {
		// A pushed row's own copies change its output by its diff; its match
		// count depends only on the other side, which this push leaves as is.
		out := NewChanges(o.outTypes, 0)
		for i := 0; i < d.Len; i++ {
			if own.emitUnmatched && o.counts[i] == 0 || own.emitMatched && o.counts[i] != 0 {
				o.appendSideRow(out, in, d, i, d.Diffs[i])
			}
		}
		if out.Len > 0 {
			if err := emit(out); err != nil {
				return err
			}
		}
	}
	o.apply(in, d)
	return nil
}

// Advance implements watermarkObserver. An interval join's output lags
// behind its inputs: a right row to come (at r >= right watermark) joins
// left rows as early as r + Lower, and a left row to come (at l >= left
// watermark) right rows as early as l - Upper. Its watermark bounds both
// time columns.
func (o *joinOp) Advance(in []int64) int64 {
	copy(o.watermarks[:], in)
	iv := o.j.Interval
	if iv == nil {
		return minWatermark(in)
	}
	left, right := in[0], in[1]
	return minWatermark([]int64{left, right, shiftWatermark(right, iv.Lower), shiftWatermark(left, -iv.Upper)})
}

// Flush frees, for an interval join, the rows the other side's watermark
// has left behind: no row still to come on the other side can match them.
func (o *joinOp) Flush(Emit) error {
	iv := o.j.Interval
	if iv == nil {
		return nil
	}
	// Left row at l needs right rows at r <= l - Lower, and every right
	// row to come is at r >= the right watermark: l is dead when
	// l - Lower < right watermark. Right row at r needs left rows at
	// l <= r + Upper: dead when r + Upper < left watermark.
	leftDead := func(l int64) bool { return l-iv.Lower < o.watermarks[1] }
	rightDead := func(r int64) bool { return r+iv.Upper < o.watermarks[0] }
	held := func(side int) bool { return o.earliest[side] != Unconstrained }
	if w := o.watermarks[1]; w > o.purged[0] && w != Unconstrained && held(0) && leftDead(o.earliest[0]) {
		o.earliest[0] = o.sides[0].purge(iv.LeftTime, leftDead)
		o.purged[0] = w
	}
	if w := o.watermarks[0]; w > o.purged[1] && w != Unconstrained && held(1) && rightDead(o.earliest[1]) {
		o.earliest[1] = o.sides[1].purge(iv.RightTime, rightDead)
		o.purged[1] = w
	}
	return nil
}

// purge drops the side's rows whose time (column col) dead reports, and
// the buckets left empty, and returns the earliest time left.
func (s *joinSide) purge(col int, dead func(int64) bool) int64 {
	var emptied, changed []string
	var buckets []*joinBucket
	earliest := Unconstrained
	s.store.Range(func(key string, b *joinBucket) bool {
		times := b.rows.Cols[col]
		n := 0
		for i := range b.slots {
			if b.slots[i].mult == 0 {
				continue
			}
			// A row without a time matches nothing under the interval.
			if t := times.Ints[i]; times.IsNull(i) || dead(t) {
				b.update(i, -b.slots[i].mult, 0)
				n++
			} else {
				earliest = min(earliest, t)
			}
		}
		switch {
		case b.live == 0:
			emptied = append(emptied, key)
		case n > 0:
			changed = append(changed, key)
			buckets = append(buckets, b)
		}
		return true
	})
	for _, key := range emptied {
		s.store.Delete(key)
	}
	for i, key := range changed {
		buckets[i].compact()
		s.store.Put(key, buckets[i])
	}
	return earliest
}

// group assigns every row of d to the group of its join key and reads the
// other side's bucket of each key.
func (o *joinOp) group(in int, d *coldata.Chunk) {
	own, other := &o.sides[in], &o.sides[1-in]
	clear(o.groupIdx)
	o.groups = o.groups[:0]
	o.groupOf = o.groupOf[:0]
rows:
	for i := 0; i < d.Len; i++ {
		o.keyBuf = o.keyBuf[:0]
		for _, c := range own.keys {
			if d.Cols[c].IsNull(i) {
				o.groupOf = append(o.groupOf, -1)
				continue rows
			}
			o.keyBuf = d.Cols[c].AppendKey(o.keyBuf, i)
		}
		g, ok := o.groupIdx[string(o.keyBuf)]
		if !ok {
			g = len(o.groups)
			key := string(o.keyBuf)
			b, _ := other.store.Get(key)
			o.groups = append(o.groups, joinGroup{key: key, other: b})
			o.groupIdx[key] = g
		}
		o.groupOf = append(o.groupOf, g)
	}
}

// matchPairs evaluates the current batch of candidate pairs, emits the
// matching pairs, counts each pushed row's matches and updates the match
// counts of the other side's rows, emitting the rows whose match state
// flips.
func (o *joinOp) matchPairs(in int, d *coldata.Chunk, emit Emit) error {
	own, other := &o.sides[in], &o.sides[1-in]
	var pairs *coldata.Chunk
	if o.emitPairs || o.j.Cond != nil {
		pairs = o.pairChunk(in, d)
	}
	o.keep = o.keep[:0]
	if o.j.Cond != nil {
		v, err := o.j.Cond.Eval(o.env.Eval, pairs)
		if err != nil {
			return err
		}
		for k := range o.pairRow {
			if !v.IsNull(k) && v.Bools[k] {
				o.keep = append(o.keep, k)
			}
		}
	} else {
		for k := range o.pairRow {
			o.keep = append(o.keep, k)
		}
	}
	var out *coldata.Chunk
	if o.emitPairs {
		out = pairs
		if len(o.keep) < pairs.Len {
			out = pairs.Gather(o.keep)
		}
		out.Diffs = make([]int64, len(o.keep))
		for x, k := range o.keep {
			out.Diffs[x] = d.Diffs[o.pairRow[k]] * o.groups[o.pairGroup[k]].other.slots[o.pairSlot[k]].mult
		}
	} else {
		out = NewChanges(o.outTypes, 0)
	}
	for _, k := range o.keep {
		i, g, s := o.pairRow[k], &o.groups[o.pairGroup[k]], o.pairSlot[k]
		slot := &g.other.slots[s]
		if own.counted() {
			o.counts[i] += slot.mult
		}
		if !other.counted() {
			continue
		}
		was := slot.matches
		slot.matches += d.Diffs[i]
		g.otherDirty = true
		if (was == 0) == (slot.matches == 0) {
			continue
		}
		// Each flip changes the row's output by its whole multiplicity; a row
		// flipping twice in one push emits changes that cancel out.
		diff := slot.mult
		if (slot.matches == 0) != other.emitUnmatched {
			diff = -diff
		}
		o.appendSideRow(out, 1-in, g.other.rows, s, diff)
	}
	o.pairRow, o.pairGroup, o.pairSlot = o.pairRow[:0], o.pairGroup[:0], o.pairSlot[:0]
	if out.Len == 0 {
		return nil
	}
	return emit(out)
}

// pairChunk builds the concatenated rows (left columns, then right) of the
// current candidate pairs.
func (o *joinOp) pairChunk(in int, d *coldata.Chunk) *coldata.Chunk {
	n := len(o.pairRow)
	pairs := &coldata.Chunk{Cols: make([]*coldata.Vec, len(o.pairTypes)), Len: n}
	ownOff, otherOff := 0, len(o.j.LeftTypes)
	if in == 1 {
		ownOff, otherOff = otherOff, 0
	}
	for c, v := range d.Cols {
		pairs.Cols[ownOff+c] = v.Gather(o.pairRow)
	}
	for c, t := range o.sides[1-in].types {
		v := coldata.NewVec(t, n)
		for k, g := range o.pairGroup {
			v.AppendFrom(o.groups[g].other.rows.Cols[c], o.pairSlot[k])
		}
		pairs.Cols[otherOff+c] = v
	}
	return pairs
}

// appendSideRow appends row i of src, a row of side s, to out with diff:
// bare for semi and anti joins, NULL-padded for outer joins.
func (o *joinOp) appendSideRow(out *coldata.Chunk, s int, src *coldata.Chunk, i int, diff int64) {
	off := 0
	if s == 1 {
		off = len(o.j.LeftTypes)
	}
	for c, v := range out.Cols {
		if c >= off && c < off+len(src.Cols) {
			v.AppendFrom(src.Cols[c-off], i)
		} else {
			v.Append(nil)
		}
	}
	out.Len++
	out.Diffs = append(out.Diffs, diff)
}

// apply adds the pushed rows to their side's state and writes back every
// bucket the push changed.
func (o *joinOp) apply(in int, d *coldata.Chunk) {
	own, other := &o.sides[in], &o.sides[1-in]
	for i := 0; i < d.Len; i++ {
		if o.groupOf[i] < 0 {
			continue
		}
		g := &o.groups[o.groupOf[i]]
		if g.own == nil {
			b, ok := own.store.Get(g.key)
			if !ok {
				b = newJoinBucket(own.types)
			}
			g.own = b
		}
		o.keyBuf = RowIdentity(o.keyBuf[:0], d, own.rest, i)
		s := g.own.find(o.keyBuf)
		if s < 0 {
			s = g.own.add(d, i, o.keyBuf)
		}
		g.own.update(s, d.Diffs[i], o.counts[i])
	}
	if iv := o.j.Interval; iv != nil {
		col := iv.LeftTime
		if in == 1 {
			col = iv.RightTime
		}
		times := d.Cols[col]
		for i, t := range times.Ints[:d.Len] {
			if times.IsNull(i) {
				// Dead on arrival: the next purge drops it.
				t = types.MinTimestamp
			}
			o.earliest[in] = min(o.earliest[in], t)
		}
	}
	for k := range o.groups {
		g := &o.groups[k]
		if g.own != nil {
			if g.own.live == 0 {
				own.store.Delete(g.key)
			} else {
				g.own.compact()
				own.store.Put(g.key, g.own)
			}
		}
		if g.otherDirty {
			other.store.Put(g.key, g.other)
		}
	}
	clear(o.groups)
}
