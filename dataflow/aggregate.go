package dataflow

import (
	"container/heap"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// New returns the Aggregate's operator for one worker. It keeps its groups
// in a groupTable. Push folds changes into the groups at once and
// remembers, for each group the epoch touches first, the row it showed
// before; Flush computes the rows now and emits the difference.
func (a *Aggregate) New(env *Env) (Operator, error) {
	o := &aggregateOp{
		spec:  a,
		env:   env,
		types: a.Types(),
	}
	s := slots{words: 1} // words[0] is the row count
	for i := range a.Aggs {
		k, err := newAggKernel(&a.Aggs[i], a.InTypes, a.AppendOnly, &s)
		if err != nil {
			return nil, err
		}
		o.kernels = append(o.kernels, k)
	}
	o.objs = s.objs
	packed := len(a.Keys) > 0 && len(a.Keys) <= maxPackedKeys
	decodes := true
	for _, k := range a.Keys {
		t := a.InTypes[k]
		if !types.KeyIdentifies(t) {
			o.storedKeys = true
		}
		if t.Phys() != types.PhysInt || !types.KeyIdentifies(t) {
			packed = false
		}
		decodes = decodes && types.KeyDecodes(t)
	}
	// A closed group's row is emitted when no row touches it, so it must
	// know its key values: a packed key holds them already, an encoded one
	// of types that decode gives them back (emitFinal).
	if a.Window != nil && a.Window.OnClose && !packed && !decodes {
		o.storedKeys = true
	}
	nk, no := 0, s.objs
	if packed {
		nk = len(a.Keys)
		o.keyCols = make([]*coldata.Vec, nk)
		o.packed = make([]int64, nk)
	} else {
		o.encOrder, o.encCols = keyEncodingOrder(a)
	}
	if o.storedKeys {
		no += len(a.Keys)
	}
	o.groups = newGroupTable(s.words, no, nk)
	if env.Budget != nil && o.canSpill() {
		o.spill = &groupSpill{budget: env.Budget, space: env.Budget.join()}
		o.spillWriter = NewSnapshotWriter(nil)
		if o.storedKeys {
			for _, k := range a.Keys {
				o.spillKeyVals = append(o.spillKeyVals, coldata.NewVec(a.InTypes[k], 1))
			}
		}
		// An encoded key leads with its window already (encOrder).
		if a.Window != nil && nk > 0 {
			o.spill.windowed, o.spill.window = true, a.Window.Key
		}
	}
	o.frontier, o.closed = NoWatermark, NoWatermark
	if a.Window != nil {
		o.open = map[int64][]int32{}
	}
	o.epoch = o.newEpoch()
	return o, nil
}

type aggregateOp struct {
	spec    *Aggregate
	env     *Env
	types   []*types.T
	kernels []aggKernel
	// objs is the number of the kernels' objs of a group; the key values
	// follow when storedKeys.
	objs int
	// storedKeys: some key type has equal values that print differently
	// (numeric 1.0 and 1.00), so each group keeps the key values it was
	// created with and keeps showing those; or a closed window's groups
	// must show keys that are not packed. Otherwise they are taken from
	// the rows touching the group.
	storedKeys bool
	// encOrder lists the key columns (positions in spec.Keys) in the order
	// an encoded key holds them, encCols their input columns: the window
	// key first, so that a windowed group's key encoding, and its spill
	// store key, lead with its window.
	encOrder, encCols []int
	groups            *groupTable
	epoch             aggEpoch
	// touched has bit g set when group g is in the epoch.
	touched []uint64
	ids     []int32 // the group of each row of the chunk being pushed
	key     []byte
	// keyCols, packed and packedNulls are scratch for packing a row's key.
	keyCols     []*coldata.Vec
	packed      []int64
	packedNulls uint8
	// With spec.Window: frontier is the input watermark of the epoch and
	// closed the one windows have been closed up to. open holds the groups
	// by window end, ends those ends as a min-heap, so that closing windows
	// touches only the closing groups.
	frontier, closed int64
	open             map[int64][]int32
	ends             endHeap
	// openWritten holds how many groups of each open window the last
	// snapshot wrote.
	openWritten map[int64]int
	// pageBytes holds the bytes each page took in the snapshot that last
	// wrote it, pagesBytes their sum: the size of a whole snapshot now,
	// up to the changes since (SnapshotSize).
	pageBytes  []int
	pagesBytes int
	// spill holds the groups evicted under a budget (nil: none).
	spill *groupSpill
	// pendingSpill holds, while a snapshot and its deltas are restored
	// without a budget, the spilled groups' values (appendSpillValue) by
	// spill store key.
	pendingSpill map[string][]byte
	// spillKeyVals are scratch columns of a stored key value each, which
	// a spilled group's value holds (writeGroupObjects), written by
	// spillWriter.
	spillKeyVals []*coldata.Vec
	spillWriter  *SnapshotWriter
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

// aggEpoch holds the groups touched in the current epoch, in order of
// first touch, with what Flush needs to emit their changes.
type aggEpoch struct {
	groups  []int32
	existed []bool // whether the group had an output row before the epoch
	keyVals []*coldata.Vec
	// before holds each call's result before the epoch for the groups
	// that had a row, at beforeAt[i] for epoch group i (-1: no row; a new
	// group has no before, so an epoch that creates millions of groups
	// does not append millions of NULLs). after holds its result at the
	// epoch's end, for every epoch group; live whether the group has a row
	// then.
	before, after []*coldata.Vec
	beforeAt      []int32
	live          []bool
}

// epochScratchKept is the most groups (or rows of a chunk) an epoch may
// touch for its buffers to be reused by the next one; past it they are
// dropped, so that one large epoch does not pin its scratch memory for
// good.
const epochScratchKept = 1 << 14

func (o *aggregateOp) newEpoch() aggEpoch {
	var e aggEpoch
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
	for _, g := range e.groups {
		o.touched[g>>6] &^= 1 << (g & 63)
	}
	if cap(o.ids) > epochScratchKept {
		o.ids = nil
	}
	if len(e.groups) > epochScratchKept {
		*e = o.newEpoch()
		return
	}
	e.groups, e.existed, e.live, e.beforeAt = e.groups[:0], e.existed[:0], e.live[:0], e.beforeAt[:0]
	for _, vs := range [][]*coldata.Vec{e.keyVals, e.before, e.after} {
		for _, v := range vs {
			v.Reset()
		}
	}
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
	if o.spill != nil && o.spill.spilled > 0 {
		if err := o.unspill(c); err != nil {
			return err
		}
	}
	ids, err := o.assign(c)
	if err != nil {
		return err
	}
	t := o.groups
	diffs := c.Diffs[:len(ids)]
	if o.spec.AppendOnly {
		for _, d := range diffs {
			if d < 0 {
				return sqlerr.Bug("aggregate: a retraction reached an aggregate over an append-only input")
			}
		}
	}
	for i, g := range ids {
		t.state(g)[0] += diffs[i]
	}
	for _, k := range o.kernels {
		if err := k.update(t, ids, diffs, c); err != nil {
			return err
		}
	}
	return nil
}

// assign returns the group of every row of c, creating the groups new to
// the table and touching those new to the epoch.
func (o *aggregateOp) assign(c *coldata.Chunk) ([]int32, error) {
	if cap(o.ids) < c.Len {
		o.ids = make([]int32, c.Len)
	}
	ids := o.ids[:c.Len]
	t := o.groups
	switch {
	case len(o.spec.Keys) == 0:
		g, added := t.findKey(nil)
		if err := o.touchOnce(g, !added, c, 0); err != nil {
			return nil, err
		}
		for i := range ids {
			ids[i] = g
		}
		return ids, nil
	case t.nk == 0:
		for i := range ids {
			o.key = RowKey(o.key[:0], c, o.encCols, i)
			g, added := t.findKey(o.key)
			if err := o.touchOnce(g, !added, c, i); err != nil {
				return nil, err
			}
			ids[i] = g
		}
		return ids, nil
	}
	for j, k := range o.spec.Keys {
		o.keyCols[j] = c.Cols[k]
	}
	// Rows of one group often come together: a row whose key is the one
	// before's takes its group without a probe.
	for i := range ids {
		nulls, same := o.packRow(i)
		if same && i > 0 {
			ids[i] = ids[i-1]
			continue
		}
		g, added := t.findPacked(o.packed, nulls)
		if err := o.touchOnce(g, !added, c, i); err != nil {
			return nil, err
		}
		ids[i] = g
	}
	return ids, nil
}

// packRow packs the key of row i into o.packed, returning its NULL flags
// and whether the key is the one packed before.
func (o *aggregateOp) packRow(i int) (nulls uint8, same bool) {
	key := o.packed
	same = true
	for j, col := range o.keyCols {
		var w int64
		if col.IsNull(i) {
			nulls |= 1 << j
		} else {
			w = col.Ints[i]
		}
		same = same && key[j] == w
		key[j] = w
	}
	same = same && nulls == o.packedNulls
	o.packedNulls = nulls
	return nulls, same
}

// touchOnce touches group g unless the epoch has already.
func (o *aggregateOp) touchOnce(g int32, existed bool, c *coldata.Chunk, row int) error {
	w := int(g >> 6)
	if w < len(o.touched) && o.touched[w]&(1<<(g&63)) != 0 {
		return nil
	}
	return o.touch(g, existed, c, row)
}

// touch adds group g to the epoch, taking its key values from row row of c
// (storing them if it is new and keeps them), and records the row it
// showed before.
func (o *aggregateOp) touch(g int32, existed bool, c *coldata.Chunk, row int) error {
	e := &o.epoch
	t := o.groups
	if w := int(g >> 6); w >= len(o.touched) {
		o.touched = append(o.touched, make([]uint64, w+1-len(o.touched))...)
	}
	o.touched[g>>6] |= 1 << (g & 63)
	if o.spill != nil {
		o.spill.markRecent(g)
	}
	// The epoch's kernels change the group's state.
	t.markDirty(g)
	if o.storedKeys && !existed {
		objs := t.objects(g)
		for j, k := range o.spec.Keys {
			objs[o.objs+j] = copyDatum(c.Cols[k].Get(row))
		}
	}
	for j, k := range o.spec.Keys {
		if o.storedKeys {
			e.keyVals[j].Append(t.objects(g)[o.objs+j])
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
	at := int32(-1)
	if existed && len(kernels) > 0 {
		at = int32(e.before[0].Len())
		for j, k := range kernels {
			if err := k.result(t, g, e.before[j]); err != nil {
				return err
			}
		}
	}
	e.beforeAt = append(e.beforeAt, at)
	e.groups = append(e.groups, g)
	e.existed = append(e.existed, existed)
	return nil
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
	t := o.groups
	global := len(o.spec.Keys) == 0
	if global && o.env.Worker == 0 && len(e.groups) == 0 {
		if g, added := t.findKey(nil); added {
			if err := o.touch(g, false, nil, 0); err != nil {
				return err
			}
		}
	}
	n := len(e.groups)
	if n == 0 {
		return o.endFlush()
	}
	for j := range o.kernels {
		e.after[j].Grow(n)
	}
	for _, g := range e.groups {
		rows := t.state(g)[0]
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
			if err := k.result(t, g, e.after[j]); err != nil {
				return err
			}
		}
	}
	// The epoch groups whose row before goes (retract) and whose row now
	// comes (insert).
	var retract, insert []int
	for i := range n {
		if e.existed[i] && e.live[i] && sameIdentity(e.before, int(e.beforeAt[i]), e.after, i) {
			continue
		}
		if e.existed[i] {
			retract = append(retract, i)
		}
		if e.live[i] {
			insert = append(insert, i)
		}
	}
	for i, g := range e.groups {
		switch {
		case !e.live[i]:
			o.drop(g, e.existed[i])
		case !e.existed[i]:
			o.track(i)
		}
	}
	if err := o.emitRows(e.before, e.beforeAt, retract, -1, emit); err != nil {
		return err
	}
	if err := o.emitRows(e.after, nil, insert, +1, emit); err != nil {
		return err
	}
	o.resetEpoch()
	return o.endFlush()
}

// endFlush ends an epoch emitting as changes happen: closing windows,
// then keeping within the budget.
func (o *aggregateOp) endFlush() error {
	if err := o.closeWindows(nil); err != nil {
		return err
	}
	if o.spill != nil {
		return o.evict()
	}
	return nil
}

// drop removes group g, which lost its rows, from the table. A windowed
// group that existed before the epoch is listed under its window end: its
// id stays taken (cleared, with no rows) until the window closes, so that
// the list never names another group that reused it.
func (o *aggregateOp) drop(g int32, existed bool) {
	o.groups.unindex(g)
	if o.spec.Window != nil && existed {
		o.groups.clearState(g)
		return
	}
	o.groups.release(g)
}

// Advance implements watermarkObserver. Windowed, the output's watermark
// is the window key up to which windows have closed (the input's minus
// EndOffset): an EMIT ON WINDOW CLOSE view has emitted exactly its windows
// ending by its watermark, and a change still to come has its key after it.
func (o *aggregateOp) Advance(in []int64) int64 {
	o.frontier = minWatermark(in)
	if w := o.spec.Window; w != nil {
		return shiftWatermark(o.frontier, -w.EndOffset)
	}
	return o.frontier
}

// track indexes new epoch group i by its window end, when windowed. A
// group whose window key is NULL (a bounded column may hold NULLs) never
// closes.
func (o *aggregateOp) track(i int) {
	w := o.spec.Window
	if w == nil || o.epoch.keyVals[w.Key].IsNull(i) {
		return
	}
	o.openAt(o.epoch.keyVals[w.Key].Ints[i]+w.EndOffset, o.epoch.groups[i])
}

// keyEncodingOrder returns the order an encoded key of a holds its key
// columns in (positions in a.Keys) and their input columns: as a.Keys,
// but a window key first. Neither is nil (RowKey reads nil columns as
// all of them).
func keyEncodingOrder(a *Aggregate) (order, cols []int) {
	order, cols = make([]int, 0, len(a.Keys)), make([]int, 0, len(a.Keys))
	if a.Window != nil {
		order = append(order, a.Window.Key)
	}
	for j := range a.Keys {
		if a.Window == nil || j != a.Window.Key {
			order = append(order, j)
		}
	}
	for _, j := range order {
		cols = append(cols, a.Keys[j])
	}
	return order, cols
}

// openGroup lists group g under its window end (unless its window key is
// NULL): its packed key's window word, or the integer its key encoding
// leads with.
func (o *aggregateOp) openGroup(g int32) {
	w, t := o.spec.Window, o.groups
	if t.nk == 0 {
		if start, _, ok := types.DecodeKeyInt(stringBytes(t.strKey(g))); ok {
			o.openAt(start+w.EndOffset, g)
		}
		return
	}
	key, nulls := t.packedKey(g)
	if nulls&(1<<w.Key) == 0 {
		o.openAt(key[w.Key]+w.EndOffset, g)
	}
}

// openAt lists group g under window end end.
func (o *aggregateOp) openAt(end int64, g int32) {
	gs, ok := o.open[end]
	if !ok {
		heap.Push(&o.ends, end)
	}
	o.open[end] = append(gs, g)
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
// kept without emitting, then the groups of every window the frontier
// has reached emit their final rows.
func (o *aggregateOp) flushOnClose(emit Emit) error {
	e := &o.epoch
	for i, g := range e.groups {
		rows := o.groups.state(g)[0]
		switch {
		case rows < 0:
			return errNegative("row count")
		case rows == 0:
			o.drop(g, e.existed[i])
		case !e.existed[i]:
			o.track(i)
		}
	}
	o.resetEpoch()
	if err := o.closeWindows(emit); err != nil {
		return err
	}
	if o.spill != nil {
		return o.evict()
	}
	return nil
}

// closeWindows frees the groups of the windows that end at or before the
// frontier, emitting their final rows first when emit is not nil: those
// in memory by their windows' lists, the spilled ones by a scan of the
// spill store.
func (o *aggregateOp) closeWindows(emit Emit) error {
	if o.spec.Window == nil {
		return nil
	}
	t := o.groups
	for len(o.ends) > 0 && o.ends[0] <= o.frontier {
		end := heap.Pop(&o.ends).(int64)
		gs := o.open[end]
		delete(o.open, end)
		if emit != nil {
			if err := o.emitFinal(gs, emit); err != nil {
				return err
			}
			continue
		}
		for _, g := range gs {
			// A group without rows was dropped already and only waits for
			// its id to be freed.
			if t.state(g)[0] != 0 {
				t.unindex(g)
			}
			t.release(g)
		}
	}
	if o.spill != nil && o.spill.spilled > 0 && o.frontier > o.closed {
		if err := o.closeSpilled(emit); err != nil {
			return err
		}
	}
	o.closed = max(o.closed, o.frontier)
	return nil
}

// emitFinal emits the rows of groups gs (+1 each), in chunks of at most
// coldata.DefaultChunkSize rows, and frees them. Those that lost all their
// rows emit nothing (a SESSION window's group whose session merged into
// another); a group that lost its rows and came back is listed under its
// new id as well.
func (o *aggregateOp) emitFinal(gs []int32, emit Emit) error {
	t := o.groups
	nk := len(o.spec.Keys)
	for lo := 0; lo < len(gs); lo += coldata.DefaultChunkSize {
		part := gs[lo:min(lo+coldata.DefaultChunkSize, len(gs))]
		c := NewChanges(o.types, len(part))
		for _, g := range part {
			if t.state(g)[0] == 0 {
				t.release(g)
				continue
			}
			if t.nk > 0 {
				key, nulls := t.packedKey(g)
				for j, w := range key {
					if nulls&(1<<j) != 0 {
						c.Cols[j].Append(nil)
					} else {
						appendInt(c.Cols[j], w)
					}
				}
			} else if o.storedKeys {
				for j := range nk {
					c.Cols[j].Append(t.objects(g)[o.objs+j])
				}
			} else if err := o.appendDecodedKey(c, g); err != nil {
				return err
			}
			for j, k := range o.kernels {
				if err := k.result(t, g, c.Cols[nk+j]); err != nil {
					return err
				}
			}
			c.Diffs = append(c.Diffs, 1)
			t.unindex(g)
			t.release(g)
		}
		c.Len = len(c.Diffs)
		if err := emit(c); err != nil {
			return err
		}
	}
	return nil
}

// appendDecodedKey appends the key values of group g, of an encoded key
// of types that decode, to the key columns of c.
func (o *aggregateOp) appendDecodedKey(c *coldata.Chunk, g int32) error {
	key := o.groups.strKey(g)
	rest := stringBytes(key)
	for _, j := range o.encOrder {
		col := c.Cols[j]
		// Integers (the window key) and strings are appended unboxed.
		switch col.Typ.Phys() {
		case types.PhysInt:
			if x, r, ok := types.DecodeKeyInt(rest); ok {
				col.AppendInt(x)
				rest = r
				continue
			}
		case types.PhysBytes:
			if str, r, ok := types.DecodeKeyString(rest); ok {
				col.AppendString(str)
				rest = r
				continue
			}
		}
		d, r, ok := types.DecodeKey(rest, col.Typ)
		if !ok {
			return sqlerr.New(sqlerr.DataCorrupted, "aggregate: key %x of group %d does not decode as %s", key, g, col.Typ)
		}
		col.Append(d)
		rest = r
	}
	if len(rest) != 0 {
		return sqlerr.New(sqlerr.DataCorrupted, "aggregate: key %x of group %d has %d bytes after its values", key, g, len(rest))
	}
	return nil
}

// emitRows emits the rows of epoch groups sel (key values, then results)
// with diff, in chunks of at most coldata.DefaultChunkSize rows. Epoch group
// i's results are at row at[i] of results (at nil: at row i).
func (o *aggregateOp) emitRows(results []*coldata.Vec, at []int32, sel []int, diff int64, emit Emit) error {
	keyVals := o.epoch.keyVals
	var resultRows []int
	for lo := 0; lo < len(sel); lo += coldata.DefaultChunkSize {
		part := sel[lo:min(lo+coldata.DefaultChunkSize, len(sel))]
		c := &coldata.Chunk{Cols: make([]*coldata.Vec, 0, len(o.types)), Len: len(part), Diffs: make([]int64, len(part))}
		for _, v := range keyVals {
			c.Cols = append(c.Cols, pickRows(v, part))
		}
		rows := part
		if at != nil {
			resultRows = resultRows[:0]
			for _, i := range part {
				resultRows = append(resultRows, int(at[i]))
			}
			rows = resultRows
		}
		for _, v := range results {
			c.Cols = append(c.Cols, pickRows(v, rows))
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

// pickRows returns rows of v. Most epochs change every group they touch:
// rows that are a run are v's own (they stay put until the epoch is reset,
// after the emit), others a copy.
func pickRows(v *coldata.Vec, rows []int) *coldata.Vec {
	first, last := rows[0], rows[len(rows)-1]
	if last-first == len(rows)-1 {
		return v.Slice(first, last+1)
	}
	return v.Gather(rows)
}
