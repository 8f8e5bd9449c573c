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
	}
	o.watermarks = [2]int64{NoWatermark, NoWatermark}
	o.purged = o.watermarks
	o.earliest = [2]int64{Unconstrained, Unconstrained}
	o.sides[0] = newJoinSide(j.LeftKeys, j.LeftTypes)
	o.sides[1] = newJoinSide(j.RightKeys, j.RightTypes)
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
	o.keyTotals = j.Cond == nil && (o.sides[0].counted() || o.sides[1].counted())
	keyWords := 2
	if o.keyTotals {
		keyWords = 4
	}
	// Integer keys are packed: their values are their equality keys
	// (AppendKey of a PhysInt column is its value's), on either side.
	nk := len(j.LeftKeys)
	for k := range j.LeftKeys {
		if j.LeftTypes[j.LeftKeys[k]].Phys() != types.PhysInt || j.RightTypes[j.RightKeys[k]].Phys() != types.PhysInt {
			nk = 0
		}
	}
	if nk > maxPackedKeys {
		nk = 0
	}
	o.keys = newGroupTable(keyWords, 0, nk)
	o.packed = make([]int64, nk)
	if env.Budget != nil && o.canSpill() {
		o.spill = &groupSpill{budget: env.Budget, space: env.Budget.join()}
	}
	return o, nil
}

// joinSide is one input of a join and its state.
type joinSide struct {
	keys  []int
	types []*types.T
	// rows holds the side's distinct rows. Rows with a NULL key are not
	// stored: they never match, so their output is settled the moment
	// they arrive.
	rows *joinRows
	// emitUnmatched: the side's rows are output (NULL-padded for outer
	// joins, bare for anti) while no row of the other side matches them;
	// emitMatched: output (semi) while some row does. Either way the side
	// keeps every row's match count.
	emitUnmatched, emitMatched bool
	// Delta tracking, from the first snapshot on: before holds, for each
	// row changed since the last snapshot, its multiplicity then; removed
	// the rows freed since, each with minus that multiplicity (an id freed
	// may be reused by another row).
	before  rowChanges
	removed *coldata.Chunk
	// size is what the snapshots since the last whole one wrote of
	// the rows, for SnapshotSize.
	size recordSize
}

func newJoinSide(keys []int, ts []*types.T) joinSide {
	return joinSide{keys: keys, types: ts, rows: newJoinRows(ts)}
}

func (s *joinSide) counted() bool { return s.emitUnmatched || s.emitMatched }

// joinOp is one worker's instance of a Join. It applies the delta rule: a
// change on one side joins the other side's current rows, then updates the
// side's own state. The unmatched (or, for semi, matched) rows of a side
// are a function of the state, sum of mult × [matches == 0]; every push
// emits that function's exact change, so the folded output stays right even
// while an epoch's changes arrive out of order.
//
// The state is the rows of each side (joinRows) and one key table shared
// by both sides: a join key's first two words hold the first row (id+1, 0
// for none) of each side's list of rows with that key. A key is freed once
// both lists are empty.
//
// Without a condition (keyTotals), a row matches exactly the other side's
// rows of its key, so its match count is that side's total multiplicity
// on the key: two more words of the key hold each side's total, and rows
// keep no count of their own. A change then walks the other side's list
// only to build pairs, or when its side's total on the key turns zero or
// nonzero (every row of the list flips, and is emitted). A semi or anti
// join counting matches row by row walks the whole list of a hot key for
// every change on the other side without emitting anything: an epoch's
// cost grew with its changes times the rows held, and views over such a
// join stopped keeping up.
type joinOp struct {
	j                   *Join
	env                 *Env
	outTypes, pairTypes []*types.T
	emitPairs           bool // inner and outer joins output matching pairs
	keyTotals           bool
	sides               [2]joinSide
	keys                *groupTable
	// spill holds the keys evicted under a budget (nil: none),
	// spilledRows counts each side's rows they hold and spilledBytes the
	// bytes of each side's chunks in their values (spillKey).
	spill        *groupSpill
	spilledRows  [2]int
	spilledBytes [2]int
	// spillChunk is scratch: the first side's chunk of a key spilling.
	spillChunk []byte
	// rowCosts are the sides' row costs (rowCost) at the last eviction.
	rowCosts [2]int64
	// With j.Interval or j.Closing: the inputs' watermarks of the epoch,
	// the watermark each side's state was last purged at, and the earliest
	// time each side holds (no purge is needed while that row lives).
	watermarks, purged, earliest [2]int64

	// Scratch for one push, reused between pushes.
	keyOf  []int32 // per pushed row: its key, -1 for a NULL key
	counts []int64 // per pushed row: matching rows of the other side
	// The current batch of candidate pairs: pushed row and the other
	// side's row.
	pairRow   []int
	pairOther []int32
	keep      []int
	emptied   []int32  // keys whose list of the pushed side emptied
	hashes    []uint32 // per pushed row: its identity hash
	keyBuf    []byte
	packed    []int64
}

func (o *joinOp) Push(in int, d *coldata.Chunk, emit Emit) error {
	own, other := &o.sides[in], &o.sides[1-in]
	if o.spill != nil && o.spill.spilled > 0 {
		if err := o.unspill(in, d); err != nil {
			return err
		}
	}
	o.group(in, d)
	o.counts = slices.Grow(o.counts[:0], d.Len)[:d.Len]
	clear(o.counts)
	if o.keyTotals {
		if err := o.countByTotals(in, d, emit); err != nil {
			return err
		}
	}
	// The other side's rows of each key are walked to build pairs, or to
	// count matches under a condition.
	if o.emitPairs || !o.keyTotals {
		for i, g := range o.keyOf {
			if g < 0 {
				continue
			}
			for r := o.head(g, 1-in); r >= 0; r = other.rows.row(r).next {
				o.pairRow = append(o.pairRow, i)
				o.pairOther = append(o.pairOther, r)
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
	// A join has no state of the epoch but its rows: it need not wait for
	// the epoch's end to evict, so that an epoch touching far more keys
	// than its share holds (a view's first, over a stream's whole
	// history) stays near it too.
	if o.spill != nil && o.stateSize() > o.spill.budget.share()+o.spill.budget.share()/4 {
		return o.evict()
	}
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
// has left behind: no row still to come on the other side can match them;
// for a closing join, the rows whose key value no change to come can have.
// A spilling join evicts its coldest keys down to its budget share.
func (o *joinOp) Flush(Emit) error {
	if o.spill != nil {
		return o.evict()
	}
	if c := o.j.Closing; c != nil {
		bound := c.bound(o.watermarks[0], o.watermarks[1])
		if bound == Unconstrained {
			return nil // no side has a watermark to free rows by
		}
		dead := func(t int64) bool { return t < bound }
		for side, col := range [2]int{c.LeftCol, c.RightCol} {
			if bound > o.purged[side] && o.earliest[side] != Unconstrained && dead(o.earliest[side]) {
				o.earliest[side] = o.purge(side, col, dead)
				o.purged[side] = bound
			}
		}
		return nil
	}
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
		o.earliest[0] = o.purge(0, iv.LeftTime, leftDead)
		o.purged[0] = w
	}
	if w := o.watermarks[0]; w > o.purged[1] && w != Unconstrained && held(1) && rightDead(o.earliest[1]) {
		o.earliest[1] = o.purge(1, iv.RightTime, rightDead)
		o.purged[1] = w
	}
	return nil
}

// countByTotals is Push's matching for keyTotals: each pushed row's match
// count is its key's total on the other side, which the push leaves as it
// is; each row adds its diff to its key's total on its own side, and when
// that total turns zero or nonzero, the other side's rows of the key flip
// and are emitted (with their whole multiplicities; a key flipping twice in
// one push emits changes that cancel out).
func (o *joinOp) countByTotals(in int, d *coldata.Chunk, emit Emit) error {
	other := &o.sides[1-in]
	var out *coldata.Chunk
	for i, g := range o.keyOf {
		if g < 0 {
			continue
		}
		totals := o.keys.state(g)[2:4]
		o.counts[i] = totals[1-in]
		was := totals[in]
		totals[in] += d.Diffs[i]
		if !other.counted() || (was == 0) == (totals[in] == 0) {
			continue
		}
		for r := o.head(g, 1-in); r >= 0; r = other.rows.row(r).next {
			m := other.rows.row(r)
			diff := m.mult
			if (totals[in] == 0) != other.emitUnmatched {
				diff = -diff
			}
			if out == nil {
				out = NewChanges(o.outTypes, 0)
			}
			page, at := other.rows.at(r)
			o.appendSideRow(out, 1-in, page, at, diff)
			if out.Len == pairBatch {
				if err := emit(out); err != nil {
					return err
				}
				out = nil
			}
		}
	}
	if out != nil {
		return emit(out)
	}
	return nil
}

// purge frees the rows of side whose time (column col) dead reports, and
// the keys left without rows, and returns the earliest time left. It reads
// the time column page by page.
func (o *joinOp) purge(side, col int, dead func(int64) bool) int64 {
	rows := o.sides[side].rows
	earliest := Unconstrained
	for p, page := range rows.pages {
		times, meta := page.Cols[col], rows.meta[p]
		for i := range page.Len {
			if meta[i].mult == 0 {
				continue
			}
			// A row without a time matches nothing under the interval.
			if t := times.Ints[i]; times.IsNull(i) || dead(t) {
				g := meta[i].key
				if o.keyTotals {
					o.keys.state(g)[2+side] -= meta[i].mult
				}
				o.removeRow(side, int32(p<<joinRowPageBits|i))
				o.releaseIfEmpty(g)
			} else {
				earliest = min(earliest, t)
			}
		}
	}
	return earliest
}

// group finds (adding when new) the key of every row of d.
func (o *joinOp) group(in int, d *coldata.Chunk) {
	own := &o.sides[in]
	o.keyOf = slices.Grow(o.keyOf[:0], d.Len)[:d.Len]
	if o.keys.nk == 0 {
		for i := range o.keyOf {
			if !o.rowKey(in, d, i) {
				o.keyOf[i] = -1
				continue
			}
			o.keyOf[i], _ = o.keys.findKey(o.keyBuf)
			if o.spill != nil {
				o.spill.markRecent(o.keyOf[i])
			}
		}
		return
	}
	prev := int32(-1)
packedRows:
	for i := range o.keyOf {
		same := prev >= 0
		for k, c := range own.keys {
			v := d.Cols[c]
			if v.IsNull(i) {
				o.keyOf[i], prev = -1, -1
				continue packedRows
			}
			same = same && o.packed[k] == v.Ints[i]
			o.packed[k] = v.Ints[i]
		}
		// Rows of one key often come together: a row whose key is the one
		// before's takes its key without a probe.
		if !same {
			prev, _ = o.keys.findPacked(o.packed, 0)
			if o.spill != nil {
				o.spill.markRecent(prev)
			}
		}
		o.keyOf[i] = prev
	}
}

// rowKey puts the join key of row i of d, pushed on side in, in o.packed
// (packed keys) or o.keyBuf (encoded), and reports false when it has a
// NULL: such a row matches nothing.
func (o *joinOp) rowKey(in int, d *coldata.Chunk, i int) bool {
	if o.keys.nk == 0 {
		o.keyBuf = o.keyBuf[:0]
		for _, c := range o.sides[in].keys {
			if d.Cols[c].IsNull(i) {
				return false
			}
			o.keyBuf = d.Cols[c].AppendKey(o.keyBuf, i)
		}
		return true
	}
	for k, c := range o.sides[in].keys {
		v := d.Cols[c]
		if v.IsNull(i) {
			return false
		}
		o.packed[k] = v.Ints[i]
	}
	return true
}

// head returns the first row of side's list of rows with key g, or -1.
func (o *joinOp) head(g int32, side int) int32 {
	return int32(o.keys.state(g)[side]) - 1
}

// linkRow puts row r of side at the head of its key's list.
func (o *joinOp) linkRow(side int, r int32) {
	rows := o.sides[side].rows
	m := rows.row(r)
	heads := o.keys.state(m.key)
	if first := int32(heads[side]) - 1; first >= 0 {
		rows.row(first).prev = r
		m.next = first
	}
	heads[side] = int64(r) + 1
}

// removeRow takes row r of side out of its key's list and frees it.
func (o *joinOp) removeRow(side int, r int32) {
	rows := o.sides[side].rows
	m := rows.row(r)
	if s := &o.sides[side]; s.before.tracking {
		o.trackRemoval(s, r, m.mult)
	}
	if m.prev >= 0 {
		rows.row(m.prev).next = m.next
	} else {
		o.keys.state(m.key)[side] = int64(m.next) + 1
	}
	if m.next >= 0 {
		rows.row(m.next).prev = m.prev
	}
	rows.remove(r)
}

// releaseIfEmpty frees key g once neither side holds a row with it.
func (o *joinOp) releaseIfEmpty(g int32) {
	if heads := o.keys.state(g); heads[0] == 0 && heads[1] == 0 {
		o.keys.unindex(g)
		o.keys.release(g)
	}
}

// matchPairs evaluates the current batch of candidate pairs, emits the
// matching pairs and, unless the key totals count matches, counts them
// (countPairs).
func (o *joinOp) matchPairs(in int, d *coldata.Chunk, emit Emit) error {
	other := &o.sides[1-in]
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
			out.Diffs[x] = d.Diffs[o.pairRow[k]] * other.rows.row(o.pairOther[k]).mult
		}
	} else {
		out = NewChanges(o.outTypes, 0)
	}
	if !o.keyTotals {
		o.countPairs(in, d, out)
	}
	o.pairRow, o.pairOther = o.pairRow[:0], o.pairOther[:0]
	if out.Len == 0 {
		return nil
	}
	return emit(out)
}

// countPairs counts the matching pairs of the batch (o.keep) into the
// pushed rows' counts and the other side's rows' match counts, appending
// to out the other side's rows whose match state flips.
func (o *joinOp) countPairs(in int, d *coldata.Chunk, out *coldata.Chunk) {
	own, other := &o.sides[in], &o.sides[1-in]
	for _, k := range o.keep {
		i, r := o.pairRow[k], o.pairOther[k]
		m := other.rows.row(r)
		if own.counted() {
			o.counts[i] += m.mult
		}
		if !other.counted() {
			continue
		}
		was := m.matches
		m.matches += d.Diffs[i]
		if (was == 0) == (m.matches == 0) {
			continue
		}
		// Each flip changes the row's output by its whole multiplicity; a row
		// flipping twice in one push emits changes that cancel out.
		diff := m.mult
		if (m.matches == 0) != other.emitUnmatched {
			diff = -diff
		}
		page, at := other.rows.at(r)
		o.appendSideRow(out, 1-in, page, at, diff)
	}
}

// pairChunk builds the concatenated rows (left columns, then right) of the
// current candidate pairs.
func (o *joinOp) pairChunk(in int, d *coldata.Chunk) *coldata.Chunk {
	pairs := &coldata.Chunk{Cols: make([]*coldata.Vec, len(o.pairTypes)), Len: len(o.pairRow)}
	ownOff, otherOff := 0, len(o.j.LeftTypes)
	if in == 1 {
		ownOff, otherOff = otherOff, 0
	}
	for c, v := range d.Cols {
		pairs.Cols[ownOff+c] = v.Gather(o.pairRow)
	}
	other := o.sides[1-in].rows
	for c := range other.types {
		pairs.Cols[otherOff+c] = other.gather(c, o.pairOther)
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

// apply adds the pushed rows to their side's state, freeing the rows whose
// multiplicity drops to zero and the keys left without rows.
func (o *joinOp) apply(in int, d *coldata.Chunk) {
	rows := o.sides[in].rows
	o.emptied = o.emptied[:0]
	o.hashes = rows.hashRows(o.hashes, d)
	var times *coldata.Vec // the column the watermarks free rows by
	if col := o.timeColumn(in); col >= 0 {
		times = d.Cols[col]
	}
	for i, g := range o.keyOf {
		if g < 0 {
			continue
		}
		h := o.hashes[i]
		r, p := rows.find(d, i, h)
		if r < 0 {
			r = rows.add(d, i, h, p, g)
			o.linkRow(in, r)
		}
		m := rows.row(r)
		if own := &o.sides[in]; own.before.tracking {
			own.before.note(r, m.mult)
		}
		m.mult += d.Diffs[i]
		m.matches = o.counts[i]
		if m.mult == 0 {
			o.removeRow(in, r)
			if o.head(g, in) < 0 {
				o.emptied = append(o.emptied, g)
			}
		} else if times != nil {
			// Only a stored row can call for a purge. One without a time
			// is dead on arrival: the next purge drops it.
			t := int64(types.MinTimestamp)
			if !times.IsNull(i) {
				t = times.Ints[i]
			}
			o.earliest[in] = min(o.earliest[in], t)
		}
	}
	// A key emptied twice is listed twice: it is freed once.
	slices.Sort(o.emptied)
	for _, g := range slices.Compact(o.emptied) {
		o.releaseIfEmpty(g)
	}
}

// timeColumn returns the column of side whose values the watermarks free
// the side's rows by (interval and closing joins), or -1.
func (o *joinOp) timeColumn(side int) int {
	switch {
	case o.j.Interval != nil:
		return [2]int{o.j.Interval.LeftTime, o.j.Interval.RightTime}[side]
	case o.j.Closing != nil:
		return [2]int{o.j.Closing.LeftCol, o.j.Closing.RightCol}[side]
	}
	return -1
}
