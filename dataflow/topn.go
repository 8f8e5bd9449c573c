package dataflow

import (
	"hash/maphash"
	"math"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

func (t *TopN) New(env *Env) (Operator, error) {
	if t.Numbered && (t.Limit < 0 || t.WithTies && t.Offset > 0) {
		return nil, sqlerr.Bug("top-N: ranks without a limit, or with ties after an offset")
	}
	if t.Dense && (!t.WithTies || t.Limit < 0 || t.Offset > 0) {
		return nil, sqlerr.Bug("top-N: dense ranks without ties, without a limit or after an offset")
	}
	o := &topNOp{spec: t, env: env, rows: NewStore[topNRow](env, "topn"), groups: map[string]*topNGroup{}}
	if env.Budget != nil && o.canSpill() {
		o.spill = &topNSpill{budget: env.Budget, space: env.Budget.join(), seed: maphash.MakeSeed()}
	}
	return o, nil
}

// topNItem is what a top-N operator keeps with a distinct input row in its
// group's orderTree, whose key is the row's order key (see
// topNOp.orderKey) and count its multiplicity.
type topNItem struct {
	row []types.Datum
	// tieLen is the length of the order key's group and order columns:
	// rows equal in them tie.
	tieLen int
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
	env  *Env // of rows, built again as the groups shrink
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
	key           []byte              // scratch
	numbered      []types.Datum       // scratch: a row and its rank
	rankDiffs     map[rankedRow]int64 // scratch of numberedChanges
	prefix        int                 // the length of the group key at the front of key
	tieLen        int                 // the length of its group and order columns
	// changed holds, from the first snapshot on, the rows whose
	// multiplicity changed since the last one, with their multiplicity
	// now (0: gone) and then, by order key: a delta writes them as they
	// are, not looking each up in rows again.
	changed map[string]topNChange
	size    recordSize
	// spill holds the groups evicted under a budget (nil: none).
	spill *topNSpill
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
	// slot is the group's place in its operator's spill clock, recent
	// whether it was touched since the clock's hand last passed it.
	slot   int
	recent bool
}

// windowEntry is a distinct row in a window and how many of its copies fall
// in the window.
type windowEntry struct {
	key  string
	row  []types.Datum
	n    int64
	rank int64 // see topNGroup.collect
}

func (o *topNOp) Push(_ int, c *coldata.Chunk, _ Emit) error {
	_, hi := o.windowRanks()
	pastOnly := o.spec.AppendOnly && o.spec.Limit >= 0
	if pastOnly && hi <= 0 {
		return nil // LIMIT 0: no row is ever in the window
	}
	if o.spill != nil && o.spill.spilled > 0 {
		if err := o.unspill(c, 0, c.Len, pastOnly); err != nil {
			return err
		}
	}
	for i := 0; i < c.Len; i++ {
		o.key = o.orderKey(o.key[:0], c, i)
		g := o.groups[string(o.key[:o.prefix])]
		switch {
		case g == nil && pastOnly && o.pastSpilledCut(o.key, o.prefix, o.tieLen):
			continue // its group, spilled, would forget it at Flush
		case g == nil:
			g = o.newGroup(o.key[:o.prefix])
		case pastOnly && o.ranksPast(g, o.key, o.tieLen, hi):
			continue // it would be forgotten at Flush
		}
		it := g.tree.add(o.key, c.Diffs[i])
		if it.val.row == nil {
			it.val.tieLen = o.tieLen
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
			g.touched, g.recent = true, true
			o.touchedGroups = append(o.touchedGroups, g)
		}
	}
	return nil
}

// ranksPast reports whether a row of order key k (its first tieLen bytes
// the group and order columns) would rank at hi or beyond in g over an
// input that never retracts: g holds hi rows or more and the one at rank
// hi-1 comes before k, or with ties before k's ties. Dense, g's window as
// of the last Flush holds hi distinct values and k's comes after them:
// rows only arrive, so the window now ends no later.
func (o *topNOp) ranksPast(g *topNGroup, k []byte, tieLen int, hi int64) bool {
	cut, ok := o.cutOf(g, hi)
	return ok && cut < string(o.pastKey(k, tieLen))
}

// cutOf returns g's cut-off for ranksPast: a row whose pastKey comes
// after it ranks at hi or beyond. It is the order key of the row at rank
// hi-1, or with ties its tie prefix; dense, the order key of the window's
// last row once the window holds hi distinct values (tie prefixes are
// self-delimiting: an order key sorts before a tie prefix exactly when
// its own tie prefix does). ok is false when no row can rank past.
func (o *topNOp) cutOf(g *topNGroup, hi int64) (cut string, ok bool) {
	if o.spec.Dense {
		n := len(g.window)
		if n == 0 || g.window[n-1].rank < hi {
			return "", false
		}
		return g.window[n-1].key, true
	}
	last := g.rowAt(hi - 1)
	if last == nil {
		return "", false
	}
	if o.spec.WithTies {
		return last.key[:last.val.tieLen], true
	}
	return last.key, true
}

// pastKey returns what of order key k (its first tieLen bytes the group
// and order columns) is compared with a cut-off: with ties (dense ranks
// included) its tie prefix, else all of it.
func (o *topNOp) pastKey(k []byte, tieLen int) []byte {
	if o.spec.WithTies {
		return k[:tieLen]
	}
	return k
}

// rowAt returns the row at rank r of g, or nil.
func (g *topNGroup) rowAt(r int64) *orderItem[topNItem] {
	if r < 0 || g.tree.total() <= r {
		return nil
	}
	it, _ := g.tree.seek(r)
	item := it.next()
	for item != nil && item.count == 0 {
		item = it.next()
	}
	return item
}

// group returns the group of group key k, made if new.
func (o *topNOp) group(k []byte) *topNGroup {
	if g := o.groups[string(k)]; g != nil {
		return g
	}
	return o.newGroup(k)
}

// newGroup makes the group of group key k, which o does not hold.
func (o *topNOp) newGroup(k []byte) *topNGroup {
	g := &topNGroup{key: string(k)}
	o.groups[g.key] = g
	if o.spill != nil {
		o.spill.listGroup(g)
	}
	return g
}

// orderKey appends the order key of row i of c, setting o.prefix to the
// length of its group key and o.tieLen to that of its group and order
// columns.
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
	o.tieLen = len(buf) - start
	return RowIdentity(buf, c, nil, i)
}

// Flush emits the epoch's changes; a spilling top-N then evicts its
// coldest groups down to its budget share.
func (o *topNOp) Flush(emit Emit) error {
	if err := o.flush(emit); err != nil {
		return err
	}
	if o.spill != nil {
		return o.evict()
	}
	return nil
}

func (o *topNOp) flush(emit Emit) error {
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
	// Cleared: past their length they would keep the items (and an
	// evicted group's rows) reachable.
	clear(o.touched)
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
		window := g.collect(lo, hi, o.spec.WithTies, o.spec.Dense)
		if o.spec.Numbered {
			o.numberedChanges(out, g.window, window)
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
			o.dropGroup(g)
		case g.tree.zeros > max(minZeros, live):
			g.compact()
		}
	}
	clear(o.touchedGroups)
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
// each diff times sign. Both are in key order: one merge pass, no map.
func windowChanges(out *coldata.Chunk, sign int64, old, cur []windowEntry) {
	change := func(e *windowEntry, d int64) {
		out.AppendRow(e.row)
		out.Diffs = append(out.Diffs, d)
	}
	for i, j := 0, 0; i < len(old) || j < len(cur); {
		switch {
		case j == len(cur) || i < len(old) && old[i].key < cur[j].key:
			change(&old[i], -sign*old[i].n)
			i++
		case i == len(old) || cur[j].key < old[i].key:
			change(&cur[j], sign*cur[j].n)
			j++
		default:
			if d := cur[j].n - old[i].n; d != 0 {
				change(&cur[j], sign*d)
			}
			i, j = i+1, j+1
		}
	}
}

// rankedRow is a row, by order key, at a rank.
type rankedRow struct {
	key  string
	rank int64
}

// numberedChanges appends how a group's numbered window changed from old
// to cur: a row at a rank it did not hold before is inserted, one no
// longer at a rank it held is retracted.
func (o *topNOp) numberedChanges(out *coldata.Chunk, old, cur []windowEntry) {
	if o.rankDiffs == nil {
		o.rankDiffs = map[rankedRow]int64{}
	}
	// emit deletes every entry: the map is empty again at the end.
	diffs := o.rankDiffs
	each := func(w []windowEntry, f func(e *windowEntry, r rankedRow, n int64)) {
		for i := range w {
			e := &w[i]
			if o.spec.WithTies {
				f(e, rankedRow{e.key, e.rank}, e.n)
				continue
			}
			for c := range e.n {
				f(e, rankedRow{e.key, e.rank + c}, 1)
			}
		}
	}
	each(old, func(_ *windowEntry, r rankedRow, n int64) { diffs[r] -= n })
	each(cur, func(_ *windowEntry, r rankedRow, n int64) { diffs[r] += n })
	emit := func(e *windowEntry, r rankedRow, _ int64) {
		if d := diffs[r]; d != 0 {
			o.numbered = append(append(o.numbered[:0], e.row...), r.rank)
			out.AppendRow(o.numbered)
			out.Diffs = append(out.Diffs, d)
		}
		delete(diffs, r)
	}
	each(old, emit)
	each(cur, emit)
}

// forgetPast drops g's rows at ranks hi and beyond, which an input that
// never retracts can never bring back into the window: the state of a
// top-N over a stream is its windows, not its input.
func (o *topNOp) forgetPast(g *topNGroup, hi int64) {
	if o.spec.Dense {
		// Past the window's hi values is past its rows, once it has them
		// all.
		n := len(g.window)
		if n == 0 || g.window[n-1].rank < hi {
			return
		}
		hi = 0
		for _, e := range g.window {
			hi += e.n
		}
	}
	type cut struct {
		item *orderItem[topNItem]
		keep int64
	}
	var cuts []cut
	// With ties the rows tied with the one at rank hi-1 stay.
	tied := ""
	if last := g.rowAt(hi - 1); o.spec.WithTies && last != nil {
		tied = last.key[:last.val.tieLen]
	}
	it, skip := g.tree.seek(hi)
	for item := it.next(); item != nil; item = it.next() {
		if tied != "" && item.key[:item.val.tieLen] == tied {
			skip = 0
			continue
		}
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

// topNChange is a row whose multiplicity changed since the last
// snapshot: its multiplicity now (Count) and then (Before).
type topNChange struct {
	topNRow
	Before int64
}

// store sets the multiplicity of the row of order key k to n (0: gone).
func (o *topNOp) store(k string, row []types.Datum, n int64) {
	if o.changed != nil {
		o.trackChange(k, row, n)
	}
	if n == 0 {
		o.rows.Delete(k)
	} else {
		o.rows.Put(k, topNRow{Row: row, Count: n})
	}
}

// trackChange notes that the row of order key k, held in rows, is about
// to take multiplicity n. A row back at its multiplicity of the last
// snapshot is no change: over a stream most rows enter a window and are
// forgotten between two snapshots, and are then no longer held.
func (o *topNOp) trackChange(k string, row []types.Datum, n int64) {
	c, ok := o.changed[k]
	if !ok {
		prev, _ := o.rows.Get(k)
		c.Before = prev.Count
	}
	if n == c.Before {
		delete(o.changed, k)
		return
	}
	c.Row, c.Count = row, n
	o.changed[k] = c
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

// collect returns the group's rows at ranks [lo, hi) in order, with ties
// also those tied with the last, each with its rank: the 1-based rank of
// its first copy there, or with ties that of the first row it ties with.
// Dense (with ties, lo 0), hi counts distinct values of the order, not
// rows, and a row's rank is its value's 1-based place among them.
func (g *topNGroup) collect(lo, hi int64, ties, dense bool) []windowEntry {
	if hi <= lo {
		return nil
	}
	var w []windowEntry
	it, skip := g.tree.seek(lo)
	pos, rank, tied := lo, int64(0), ""
	for left := hi - lo; ; skip = 0 {
		item := it.next()
		if item == nil {
			break
		}
		n := item.count - skip
		if n <= 0 {
			continue
		}
		prefix := item.key[:item.val.tieLen]
		newValue := w == nil || prefix != tied
		if left <= 0 && (!ties || newValue) {
			break
		}
		switch {
		case !ties:
			n = min(n, left)
			rank = pos + 1
		case newValue && dense:
			rank++
		case newValue:
			rank = pos + 1
		}
		tied = prefix
		w = append(w, windowEntry{key: item.key, row: item.val.row, n: n, rank: rank})
		pos += n
		switch {
		case !dense:
			left -= n
		case newValue:
			left--
		}
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
