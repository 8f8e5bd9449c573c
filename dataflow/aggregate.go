package dataflow

import (
	"container/heap"
	"math"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// New returns the Aggregate's operator for one worker. It keeps every group
// in a Store keyed by the group key (Vec.AppendKey of the key columns; ""
// for the global group). Push folds changes into the groups at once and
// remembers, for each group the epoch touches first, the row it showed
// before; Flush computes the rows now and emits the difference.
func (a *Aggregate) New(env *Env) (Operator, error) {
	o := &aggregateOp{
		spec:   a,
		env:    env,
		types:  a.Types(),
		groups: NewStore[*aggGroup](env, "aggregate"),
		intKey: len(a.Keys) == 1 && a.InTypes[a.Keys[0]].Phys() == types.PhysInt,
	}
	s := slots{words: 1} // words[0] is the row count
	for i := range a.Aggs {
		k, err := newAggKernel(&a.Aggs[i], a.InTypes, &s)
		if err != nil {
			return nil, err
		}
		o.kernels = append(o.kernels, k)
	}
	o.words, o.objs = s.words, s.objs
	for _, k := range a.Keys {
		if !types.KeyIdentifies(a.InTypes[k]) {
			o.storedKeys = true
		}
	}
	if a.Window != nil && a.Window.OnClose {
		// A closed group's row is emitted when no row touches it, so it
		// must know its key values.
		o.storedKeys = true
	}
	o.frontier, o.closed = NoWatermark, NoWatermark
	if a.Window != nil {
		o.open = map[int64][]string{}
	}
	o.epoch = o.newEpoch()
	return o, nil
}

// aggGroup is one group's state. words[0] is its row count and the rest
// the calls' fixed-size accumulators; objs holds the calls' variable-size
// state, then the group's key values if it keeps them (storedKeys), all at
// offsets the kernels chose.
type aggGroup struct {
	words []int64
	objs  []any
}

// multiset returns the multiset in objs[o], creating it on first use.
func (g *aggGroup) multiset(o int) *multiset {
	m, _ := g.objs[o].(*multiset)
	if m == nil {
		m = &multiset{}
		g.objs[o] = m
	}
	return m
}

type aggregateOp struct {
	spec    *Aggregate
	env     *Env
	types   []*types.T
	kernels []aggKernel
	// words and objs are the sizes of a group's state slices, key values
	// not included.
	words, objs int
	// storedKeys: some key type has equal values that print differently
	// (numeric 1.0 and 1.00), so each group keeps the key values it was
	// created with and keeps showing those. Otherwise they are taken from
	// the rows touching the group.
	storedKeys bool
	// intKey: one key column stored as int64, so the epoch's index of groups
	// can be keyed by the value itself rather than its encoding.
	intKey bool
	groups Store[*aggGroup]
	epoch  aggEpoch
	ids    []int32 // the epoch group of each row of the chunk being pushed
	key    []byte
	// With spec.Window: frontier is the input watermark of the epoch and
	// closed the one windows have been closed up to. open holds the store
	// keys of the groups by window end, ends those ends as a min-heap, so
	// that closing windows touches only the closing groups.
	frontier, closed int64
	open             map[int64][]string
	ends             endHeap
}

// endHeap is a min-heap of window ends.
type endHeap []int64

func (h endHeap) Len() int           { return len(h) }
func (h endHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h endHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *endHeap) Push(x any)        { *h = append(*h, x.(int64)) }
func (h *endHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// aggEpoch holds the groups touched in the current epoch, numbered in order
// of first touch, with what Flush needs to emit their changes.
type aggEpoch struct {
	groups  []*aggGroup
	keys    []string // the groups' store keys
	existed []bool   // whether the group had an output row before the epoch
	keyVals []*coldata.Vec
	// before holds each call's result before the epoch (NULL for groups
	// that had no row), after its result at the epoch's end; live whether
	// the group has a row then.
	before, after []*coldata.Vec
	live          []bool
	index         map[string]int32
	intIndex      map[int64]int32
	nullIndex     int32 // the NULL key's group when intKey, or -1
}

// epochScratchKept is the most groups an epoch may touch for its buffers to
// be reused by the next one; past it they are dropped, so that one large
// epoch does not pin its scratch memory for good.
const epochScratchKept = 1 << 14

func (o *aggregateOp) newEpoch() aggEpoch {
	e := aggEpoch{index: map[string]int32{}, intIndex: map[int64]int32{}, nullIndex: -1}
	for _, k := range o.spec.Keys {
		e.keyVals = append(e.keyVals, coldata.NewVec(o.spec.InTypes[k], 0))
	}
	for i := range o.spec.Aggs {
		e.before = append(e.before, coldata.NewVec(o.spec.Aggs[i].Typ, 0))
		e.after = append(e.after, coldata.NewVec(o.spec.Aggs[i].Typ, 0))
	}
	return e
}

func (o *aggregateOp) resetEpoch() {
	e := &o.epoch
	if len(e.groups) > epochScratchKept {
		*e = o.newEpoch()
		return
	}
	clear(e.groups)
	clear(e.keys)
	e.groups, e.keys, e.existed, e.live = e.groups[:0], e.keys[:0], e.existed[:0], e.live[:0]
	for _, vs := range [][]*coldata.Vec{e.keyVals, e.before, e.after} {
		for _, v := range vs {
			v.Reset()
		}
	}
	clear(e.index)
	clear(e.intIndex)
	e.nullIndex = -1
}

func (o *aggregateOp) Push(_ int, c *coldata.Chunk, _ Emit) error {
	if c.Diffs == nil {
		return sqlerr.Bug("aggregate input without diffs")
	}
	if w := o.spec.Window; w != nil && o.closed != NoWatermark {
		if err := o.checkOpen(c, w); err != nil {
			return err
		}
	}
	ids, err := o.assign(c)
	if err != nil {
		return err
	}
	gs := o.epoch.groups
	diffs := c.Diffs[:len(ids)]
	for i, g := range ids {
		gs[g].words[0] += diffs[i]
	}
	for _, k := range o.kernels {
		if err := k.update(gs, ids, diffs, c); err != nil {
			return err
		}
	}
	return nil
}

// assign returns the epoch group of every row of c, touching the groups
// new to the epoch.
func (o *aggregateOp) assign(c *coldata.Chunk) ([]int32, error) {
	if cap(o.ids) < c.Len {
		o.ids = make([]int32, c.Len)
	}
	ids := o.ids[:c.Len]
	e := &o.epoch
	switch {
	case len(o.spec.Keys) == 0:
		if len(e.groups) == 0 {
			if _, err := o.touch("", c, 0); err != nil {
				return nil, err
			}
		}
		clear(ids)
	case o.intKey:
		col := c.Cols[o.spec.Keys[0]]
		for i := range ids {
			var g int32
			var ok bool
			null := col.IsNull(i)
			if null {
				g, ok = e.nullIndex, e.nullIndex >= 0
			} else {
				g, ok = e.intIndex[col.Ints[i]]
			}
			if !ok {
				o.key = col.AppendKey(o.key[:0], i)
				var err error
				if g, err = o.touch(string(o.key), c, i); err != nil {
					return nil, err
				}
				if null {
					e.nullIndex = g
				} else {
					e.intIndex[col.Ints[i]] = g
				}
			}
			ids[i] = g
		}
	default:
		for i := range ids {
			o.key = RowKey(o.key[:0], c, o.spec.Keys, i)
			g, ok := e.index[string(o.key)]
			if !ok {
				key := string(o.key)
				var err error
				if g, err = o.touch(key, c, i); err != nil {
					return nil, err
				}
				e.index[key] = g
			}
			ids[i] = g
		}
	}
	return ids, nil
}

// touch adds the group of key to the epoch, loading it from the store or
// creating it from row row of c, and records the row it showed before.
func (o *aggregateOp) touch(key string, c *coldata.Chunk, row int) (int32, error) {
	e := &o.epoch
	g, existed := o.groups.Get(key)
	if !existed {
		g = &aggGroup{words: make([]int64, o.words)}
		if o.storedKeys {
			g.objs = make([]any, o.objs, o.objs+len(o.spec.Keys))
			for _, k := range o.spec.Keys {
				g.objs = append(g.objs, copyDatum(c.Cols[k].Get(row)))
			}
		} else if o.objs > 0 {
			g.objs = make([]any, o.objs)
		}
	}
	for j, k := range o.spec.Keys {
		if o.storedKeys {
			e.keyVals[j].Append(g.objs[o.objs+j])
		} else {
			e.keyVals[j].AppendFrom(c.Cols[k], row)
		}
	}
	// Under EMIT ON WINDOW CLOSE nothing is emitted before the window
	// closes: there is no row before to remember.
	kernels := o.kernels
	if o.spec.Window != nil && o.spec.Window.OnClose {
		kernels = nil
	}
	for j, k := range kernels {
		if !existed {
			e.before[j].Append(nil)
			continue
		}
		if err := k.result(g, e.before[j]); err != nil {
			return 0, err
		}
	}
	e.groups = append(e.groups, g)
	e.keys = append(e.keys, key)
	e.existed = append(e.existed, existed)
	return int32(len(e.groups) - 1), nil
}

// Flush emits, for every group the epoch touched, -1 for the row it showed
// and +1 for the row it shows now, unless the two are identical; a group
// without rows shows none, except the global group, which always shows one
// from the first epoch on (on worker 0, which gets all its rows).
func (o *aggregateOp) Flush(emit Emit) error {
	if w := o.spec.Window; w != nil && w.OnClose {
		return o.flushOnClose(emit)
	}
	e := &o.epoch
	global := len(o.spec.Keys) == 0
	if global && o.env.Worker == 0 && len(e.groups) == 0 {
		if _, ok := o.groups.Get(""); !ok {
			if _, err := o.touch("", nil, 0); err != nil {
				return err
			}
		}
	}
	n := len(e.groups)
	if n == 0 {
		return o.closeWindows(nil)
	}
	for _, g := range e.groups {
		rows := g.words[0]
		if rows < 0 {
			return errNegative("row count")
		}
		live := rows > 0 || global
		e.live = append(e.live, live)
		for j, k := range o.kernels {
			if !live {
				e.after[j].Append(nil)
				continue
			}
			if err := k.result(g, e.after[j]); err != nil {
				return err
			}
		}
	}
	// The epoch groups whose row before goes (retract) and whose row now
	// comes (insert).
	var retract, insert []int
	for i := range n {
		if e.existed[i] && e.live[i] && sameRow(e.before, e.after, i) {
			continue
		}
		if e.existed[i] {
			retract = append(retract, i)
		}
		if e.live[i] {
			insert = append(insert, i)
		}
	}
	// Write the touched groups back: the store sees each once an epoch.
	for i, g := range e.groups {
		switch {
		case e.live[i]:
			o.groups.Put(e.keys[i], g)
			if !e.existed[i] {
				o.track(i)
			}
		case e.existed[i]:
			o.groups.Delete(e.keys[i])
		}
	}
	if err := o.emitRows(e.before, retract, -1, emit); err != nil {
		return err
	}
	if err := o.emitRows(e.after, insert, +1, emit); err != nil {
		return err
	}
	o.resetEpoch()
	return o.closeWindows(nil)
}

// Advance implements watermarkObserver.
func (o *aggregateOp) Advance(in []int64) int64 {
	o.frontier = minWatermark(in)
	return o.frontier
}

// track indexes new epoch group i by its window end, when windowed.
func (o *aggregateOp) track(i int) {
	w := o.spec.Window
	if w == nil {
		return
	}
	end := o.epoch.keyVals[w.Key].Ints[i] + w.EndOffset
	keys, ok := o.open[end]
	if !ok {
		heap.Push(&o.ends, end)
	}
	o.open[end] = append(keys, o.epoch.keys[i])
}

// checkOpen fails on a row of a window already closed: the input promised,
// through its watermark, that none would come, and its group's final row
// may already be out.
func (o *aggregateOp) checkOpen(c *coldata.Chunk, w *AggWindow) error {
	col := c.Cols[o.spec.Keys[w.Key]]
	for i, t := range col.Ints[:c.Len] {
		if t+w.EndOffset <= o.closed && !col.IsNull(i) {
			return sqlerr.Bug("aggregate: a row of window ending at %d arrived after the watermark passed it (%d)", t+w.EndOffset, o.closed)
		}
	}
	return nil
}

// flushOnClose ends an EMIT ON WINDOW CLOSE epoch: the touched groups are
// stored without emitting, then the groups of every window the frontier
// has reached emit their final rows.
func (o *aggregateOp) flushOnClose(emit Emit) error {
	e := &o.epoch
	for i, g := range e.groups {
		rows := g.words[0]
		switch {
		case rows < 0:
			return errNegative("row count")
		case rows > 0:
			o.groups.Put(e.keys[i], g)
			if !e.existed[i] {
				o.track(i)
			}
		case e.existed[i]:
			o.groups.Delete(e.keys[i])
		}
	}
	o.resetEpoch()
	return o.closeWindows(emit)
}

// closeWindows frees the groups of the windows that end at or before the
// frontier, emitting their final rows first when emit is not nil.
func (o *aggregateOp) closeWindows(emit Emit) error {
	if o.spec.Window == nil {
		return nil
	}
	for len(o.ends) > 0 && o.ends[0] <= o.frontier {
		end := heap.Pop(&o.ends).(int64)
		keys := o.open[end]
		delete(o.open, end)
		if emit != nil {
			if err := o.emitFinal(keys, emit); err != nil {
				return err
			}
			continue
		}
		for _, k := range keys {
			o.groups.Delete(k)
		}
	}
	o.closed = max(o.closed, o.frontier)
	return nil
}

// emitFinal emits the rows of the stored groups keys (+1 each), in chunks
// of at most coldata.DefaultChunkSize rows, and frees them. Groups are read
// from the store by key: those that lost all their rows are gone and emit
// nothing (a SESSION window's group whose session merged into another), and
// a key listed twice (a group that lost its rows and came back, tracked
// again) emits once.
func (o *aggregateOp) emitFinal(keys []string, emit Emit) error {
	for lo := 0; lo < len(keys); lo += coldata.DefaultChunkSize {
		part := keys[lo:min(lo+coldata.DefaultChunkSize, len(keys))]
		c := NewChanges(o.types, len(part))
		nk := len(o.spec.Keys)
		for _, key := range part {
			g, ok := o.groups.Get(key)
			if !ok {
				continue
			}
			o.groups.Delete(key)
			for j := range nk {
				c.Cols[j].Append(g.objs[o.objs+j])
			}
			for j, k := range o.kernels {
				if err := k.result(g, c.Cols[nk+j]); err != nil {
					return err
				}
			}
			c.Diffs = append(c.Diffs, 1)
		}
		c.Len = len(c.Diffs)
		if err := emit(c); err != nil {
			return err
		}
	}
	return nil
}

// emitRows emits the rows of epoch groups sel (key values, then results)
// with diff, in chunks of at most coldata.DefaultChunkSize rows.
func (o *aggregateOp) emitRows(results []*coldata.Vec, sel []int, diff int64, emit Emit) error {
	keyVals := o.epoch.keyVals
	for lo := 0; lo < len(sel); lo += coldata.DefaultChunkSize {
		part := sel[lo:min(lo+coldata.DefaultChunkSize, len(sel))]
		c := &coldata.Chunk{Cols: make([]*coldata.Vec, 0, len(o.types)), Len: len(part), Diffs: make([]int64, len(part))}
		// Most epochs change every group they touch: rows that are a run of
		// epoch groups are emitted from the epoch's vectors without a copy
		// (they stay put until the epoch is reset, after the emit).
		first, last := part[0], part[len(part)-1]
		run := last-first == len(part)-1
		pick := func(v *coldata.Vec) *coldata.Vec {
			if run {
				return v.Slice(first, last+1)
			}
			return v.Gather(part)
		}
		for _, v := range keyVals {
			c.Cols = append(c.Cols, pick(v))
		}
		for _, v := range results {
			c.Cols = append(c.Cols, pick(v))
		}
		for i := range c.Diffs {
			c.Diffs[i] = diff
		}
		if err := emit(c); err != nil {
			return err
		}
	}
	return nil
}

// sameRow reports whether row i of a and b is identical, not merely equal:
// a sum going from 2.00 to 2 must be emitted.
func sameRow(a, b []*coldata.Vec, i int) bool {
	for j := range a {
		if !sameValue(a[j], b[j], i) {
			return false
		}
	}
	return true
}

func sameValue(a, b *coldata.Vec, i int) bool {
	if an, bn := a.IsNull(i), b.IsNull(i); an || bn {
		return an == bn
	}
	switch a.Typ.Phys() {
	case types.PhysBool:
		return a.Bools[i] == b.Bools[i]
	case types.PhysInt:
		return a.Ints[i] == b.Ints[i]
	case types.PhysFloat:
		x, y := a.Floats[i], b.Floats[i]
		return math.Float64bits(x) == math.Float64bits(y) || math.IsNaN(x) && math.IsNaN(y)
	case types.PhysDecimal:
		x, y := &a.Decs[i], &b.Decs[i]
		return x.Form == y.Form && x.Negative == y.Negative && x.Exponent == y.Exponent && x.Coeff.Cmp(&y.Coeff) == 0
	case types.PhysBytes:
		return a.Bytes[i] == b.Bytes[i]
	case types.PhysInterval:
		return a.Ivals[i] == b.Ivals[i]
	}
	identityConfig := types.DefaultConfig()
	return string(types.AppendText(nil, a.Typ, a.Datums[i], identityConfig)) ==
		string(types.AppendText(nil, b.Typ, b.Datums[i], identityConfig))
}
