package dataflow

import (
	"math"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

func (t *TopN) New(env *Env) (Operator, error) {
	if t.Numbered && t.Limit < 0 {
		return nil, sqlerr.Bug("top-N: ranks without a limit")
	}
	return &topNOp{spec: t, rows: NewStore[topNRow](env, "topn"), groups: map[string]*topNGroup{}}, nil
}

// topNItem is what a top-N operator keeps with a distinct input row in its
// group's orderTree, whose key is the row's order key (see
// topNOp.orderKey) and count its multiplicity.
type topNItem struct {
	row []types.Datum
	// touched marks the item as listed in topNOp.touched this epoch.
	touched bool
}

// topNRow is a distinct input row and its multiplicity.
type topNRow struct {
	Row   []types.Datum
	Count int64
}

// topNOp keeps the multiset of its input rows ordered, per group, and, at
// each Flush, emits how the rows at ranks [Offset, Offset+Limit) of each
// group changed. Without group columns all rows are one group.
//
// Rows are identified by their order key: the group columns' RowKey, then
// per sort column a
// NULL marker placed by NullsFirst or the column's encoding (bytes
// inverted for DESC), then the whole row's RowKey. AppendKey's byte order
// is types.Compare's and its encodings are self-delimiting, so a group's
// rows share a prefix and comparing order keys as bytes orders them by
// Order with ties broken by the row key, without decoding a value.
type topNOp struct {
	spec *TopN
	// rows maps order keys to rows and their multiplicities as of the last
	// Flush: the operator's state. Each group's tree indexes its rows by
	// rank, which a Store cannot (its Range is unordered); it runs ahead of
	// rows during an epoch.
	rows   Store[topNRow]
	groups map[string]*topNGroup
	// touched lists the tree items changed this epoch, touchedGroups their
	// groups.
	touched       []*orderItem[topNItem]
	touchedGroups []*topNGroup
	key           []byte        // scratch
	numbered      []types.Datum // scratch: a row and its rank
	prefix        int           // the length of the group key at the front of key
	// changed holds, from the first snapshot on, the rows whose
	// multiplicity changed since the last one, by order key: a delta
	// writes them with their multiplicity now.
	changed map[string][]types.Datum
	size    recordSize
}

// topNGroup is one group's rows in order and its window.
type topNGroup struct {
	key  string
	tree orderTree[topNItem]
	// window is the stretch of the order tracked as of the last Flush: the
	// output rows, or with no limit the rows before Offset (the output being
	// all the others).
	window  []windowEntry
	touched bool
}

// windowEntry is a distinct row in a window and how many of its copies fall
// in the window.
type windowEntry struct {
	key string
	row []types.Datum
	n   int64
}

func (o *topNOp) Push(_ int, c *coldata.Chunk, _ Emit) error {
	_, hi := o.windowRanks()
	pastOnly := o.spec.AppendOnly && o.spec.Limit >= 0
	if pastOnly && hi <= 0 {
		return nil // LIMIT 0: no row is ever in the window
	}
	for i := 0; i < c.Len; i++ {
		o.key = o.orderKey(o.key[:0], c, i)
		g := o.group(o.key[:o.prefix])
		if pastOnly && g.ranksPast(o.key, hi) {
			continue // it would be forgotten at Flush
		}
		it := g.tree.add(o.key, c.Diffs[i])
		if it.val.row == nil {
			// Copied: c's memory is its sender's to reuse.
			it.val.row = c.Row(i)
			for j, d := range it.val.row {
				it.val.row[j] = copyDatum(d)
			}
		}
		if !it.val.touched {
			it.val.touched = true
			o.touched = append(o.touched, it)
		}
		if !g.touched {
			g.touched = true
			o.touchedGroups = append(o.touchedGroups, g)
		}
	}
	return nil
}

// ranksPast reports whether a row of order key k would rank at hi or
// beyond in g: g holds hi rows or more and the one at rank hi-1 comes
// before k.
func (g *topNGroup) ranksPast(k []byte, hi int64) bool {
	if g.tree.total() < hi {
		return false
	}
	it, _ := g.tree.seek(hi - 1)
	last := it.next()
	for last != nil && last.count == 0 {
		last = it.next()
	}
	return last != nil && last.key < string(k)
}

// group returns the group of group key k, made if new.
func (o *topNOp) group(k []byte) *topNGroup {
	g := o.groups[string(k)]
	if g == nil {
		g = &topNGroup{key: string(k)}
		o.groups[g.key] = g
	}
	return g
}

// orderKey appends the order key of row i of c, setting o.prefix to the
// length of its group key.
func (o *topNOp) orderKey(buf []byte, c *coldata.Chunk, i int) []byte {
	start := len(buf)
	if len(o.spec.Group) > 0 {
		buf = RowKey(buf, c, o.spec.Group, i)
	}
	o.prefix = len(buf) - start
	for _, k := range o.spec.Order {
		v := c.Cols[k.Col]
		if v.IsNull(i) {
			// Non-NULL values start with 0x01.
			if k.NullsFirst {
				buf = append(buf, 0x00)
			} else {
				buf = append(buf, 0x02)
			}
			continue
		}
		start := len(buf)
		buf = v.AppendKey(buf, i)
		if k.Desc {
			for j := start + 1; j < len(buf); j++ {
				buf[j] = ^buf[j]
			}
		}
	}
	return RowIdentity(buf, c, nil, i)
}

func (o *topNOp) Flush(emit Emit) error {
	if len(o.touched) == 0 {
		return nil
	}
	unlimited := o.spec.Limit < 0
	out := NewChanges(o.spec.Types(), 0)
	for _, it := range o.touched {
		it.val.touched = false
		if it.count < 0 {
			return sqlerr.Bug("top-N: row deleted more often than inserted (multiplicity %d)", it.count)
		}
		if unlimited {
			if prev, _ := o.rows.Get(it.key); it.count != prev.Count {
				out.AppendRow(it.val.row)
				out.Diffs = append(out.Diffs, it.count-prev.Count)
			}
		}
		o.store(it.key, it.val.row, it.count)
	}
	o.touched = o.touched[:0]

	// With a limit the window is the output; without, the output is the
	// changes of all rows less those of the window before Offset.
	sign := int64(1)
	if unlimited {
		sign = -1
	}
	lo, hi := o.windowRanks()
	for _, g := range o.touchedGroups {
		g.touched = false
		window := g.collect(lo, hi)
		if o.spec.Numbered {
			o.numberedChanges(out, lo, g.window, window)
		} else {
			windowChanges(out, sign, g.window, window)
		}
		g.window = window
		minZeros := minTopNZeros
		if o.spec.AppendOnly && !unlimited {
			o.forgetPast(g, hi)
			minZeros = 0 // few rows stay: compacting is cheap
		}
		switch live := g.tree.items - g.tree.zeros; {
		case live == 0:
			delete(o.groups, g.key)
		case g.tree.zeros > max(minZeros, live):
			g.compact()
		}
	}
	o.touchedGroups = o.touchedGroups[:0]
	if unlimited {
		out = Consolidate(out)
	}
	if out.Len == 0 {
		return nil
	}
	return emit(out)
}

// windowChanges appends how a group's window changed from old to cur,
// each diff times sign.
func windowChanges(out *coldata.Chunk, sign int64, old, cur []windowEntry) {
	was := make(map[string]int64, len(old))
	for _, e := range old {
		was[e.key] = e.n
	}
	for _, e := range cur {
		if d := e.n - was[e.key]; d != 0 {
			out.AppendRow(e.row)
			out.Diffs = append(out.Diffs, sign*d)
		}
		delete(was, e.key)
	}
	for _, e := range old {
		if n, ok := was[e.key]; ok {
			out.AppendRow(e.row)
			out.Diffs = append(out.Diffs, -sign*n)
		}
	}
}

// numberedChanges appends how a group's numbered window changed from old
// to cur, windows starting at rank lo (0-based): walking both a copy at a
// time, a rank held by another row than before is retracted and inserted.
func (o *topNOp) numberedChanges(out *coldata.Chunk, lo int64, old, cur []windowEntry) {
	var oi, ni int   // the entries of old and cur at this rank
	var oc, nc int64 // the copies of them before this rank
	for rank := lo + 1; oi < len(old) || ni < len(cur); rank++ {
		var was, is *windowEntry
		if oi < len(old) {
			was = &old[oi]
		}
		if ni < len(cur) {
			is = &cur[ni]
		}
		if was == nil || is == nil || was.key != is.key {
			if was != nil {
				o.numbered = append(append(o.numbered[:0], was.row...), rank)
				out.AppendRow(o.numbered)
				out.Diffs = append(out.Diffs, -1)
			}
			if is != nil {
				o.numbered = append(append(o.numbered[:0], is.row...), rank)
				out.AppendRow(o.numbered)
				out.Diffs = append(out.Diffs, 1)
			}
		}
		if was != nil {
			if oc++; oc == was.n {
				oi, oc = oi+1, 0
			}
		}
		if is != nil {
			if nc++; nc == is.n {
				ni, nc = ni+1, 0
			}
		}
	}
}

// forgetPast drops g's rows at ranks hi and beyond, which an input that
// never retracts can never bring back into the window: the state of a
// top-N over a stream is its windows, not its input.
func (o *topNOp) forgetPast(g *topNGroup, hi int64) {
	type cut struct {
		item *orderItem[topNItem]
		keep int64
	}
	var cuts []cut
	it, skip := g.tree.seek(hi)
	for item := it.next(); item != nil; item = it.next() {
		if item.count > skip {
			cuts = append(cuts, cut{item, skip})
		}
		skip = 0
	}
	for _, c := range cuts {
		g.tree.add([]byte(c.item.key), c.keep-c.item.count)
		o.store(c.item.key, c.item.val.row, c.keep)
		if c.keep == 0 {
			c.item.val.row = nil
		}
	}
}

// store sets the multiplicity of the row of order key k to n (0: gone).
func (o *topNOp) store(k string, row []types.Datum, n int64) {
	if n == 0 {
		o.rows.Delete(k)
	} else {
		o.rows.Put(k, topNRow{Row: row, Count: n})
	}
	if o.changed != nil {
		o.changed[k] = row
	}
}

// minTopNZeros is how many zero-count items a group's tree keeps before it
// is rebuilt without them (once they also outnumber its rows).
const minTopNZeros = 64

// windowRanks returns the ranks [lo, hi) of a group's window.
func (o *topNOp) windowRanks() (lo, hi int64) {
	if o.spec.Limit < 0 {
		return 0, o.spec.Offset
	}
	return o.spec.Offset, o.spec.Offset + min(o.spec.Limit, math.MaxInt64-o.spec.Offset)
}

// collect returns the group's rows at ranks [lo, hi) in order.
func (g *topNGroup) collect(lo, hi int64) []windowEntry {
	if hi <= lo {
		return nil
	}
	var w []windowEntry
	it, skip := g.tree.seek(lo)
	for left := hi - lo; left > 0; {
		item := it.next()
		if item == nil {
			break
		}
		if n := min(item.count-skip, left); n > 0 {
			w = append(w, windowEntry{key: item.key, row: item.val.row, n: n})
			left -= n
		}
		skip = 0
	}
	return w
}

// compact rebuilds the group's tree without its zero-count items.
func (g *topNGroup) compact() {
	items := make([]*orderItem[topNItem], 0, g.tree.items-g.tree.zeros)
	it, _ := g.tree.seek(0)
	for item := it.next(); item != nil; item = it.next() {
		if item.count != 0 {
			items = append(items, item)
		}
	}
	g.tree = buildOrderTree(items)
}
