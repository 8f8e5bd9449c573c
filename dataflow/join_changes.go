package dataflow

// rowChanges records, for each row of a join side changed since the last
// snapshot, its multiplicity then. It replaces a map keyed by row id: the
// ids are dense (joinRows pages), so the multiplicities sit in pages of
// the same shape, found by index, and a list of the ids touched gives the
// delta and the reset without a walk over every row. Pages are kept
// across snapshots; only the touched rows' marks are cleared.
type rowChanges struct {
	tracking bool
	pages    []*rowChangePage
	// touched lists the ids marked since the last reset, in the order
	// they were first marked; an id unmarked and marked again is listed
	// twice, and walk visits it once.
	touched []int32
}

type rowChangePage struct {
	marked [joinRowPage / 64]uint64
	before [joinRowPage]int64
}

// start turns tracking on, with nothing marked.
func (c *rowChanges) start() {
	c.reset()
	c.tracking = true
}

// reset unmarks every row.
func (c *rowChanges) reset() {
	for _, r := range c.touched {
		p := c.pages[r>>joinRowPageBits]
		i := r & (joinRowPage - 1)
		p.marked[i>>6] &^= 1 << (i & 63)
	}
	c.touched = c.touched[:0]
}

// note records mult as row r's multiplicity before its first change since
// the last reset; later changes keep the first.
func (c *rowChanges) note(r int32, mult int64) {
	pi := int(r >> joinRowPageBits)
	for pi >= len(c.pages) {
		c.pages = append(c.pages, nil)
	}
	p := c.pages[pi]
	if p == nil {
		p = new(rowChangePage)
		c.pages[pi] = p
	}
	i := r & (joinRowPage - 1)
	if w, bit := &p.marked[i>>6], uint64(1)<<(i&63); *w&bit == 0 {
		*w |= bit
		p.before[i] = mult
		c.touched = append(c.touched, r)
	}
}

// take returns row r's multiplicity before its changes and unmarks it;
// ok is false if r is not marked.
func (c *rowChanges) take(r int32) (before int64, ok bool) {
	pi := int(r >> joinRowPageBits)
	if pi >= len(c.pages) || c.pages[pi] == nil {
		return 0, false
	}
	p := c.pages[pi]
	i := r & (joinRowPage - 1)
	w, bit := &p.marked[i>>6], uint64(1)<<(i&63)
	if *w&bit == 0 {
		return 0, false
	}
	*w &^= bit
	return p.before[i], true
}

// walk calls f with each marked row and its multiplicity before, in the
// order first marked, and unmarks them all.
func (c *rowChanges) walk(f func(r int32, before int64)) {
	for _, r := range c.touched {
		if before, ok := c.take(r); ok {
			f(r, before)
		}
	}
	c.touched = c.touched[:0]
}

// len is an upper bound of the rows marked.
func (c *rowChanges) len() int { return len(c.touched) }
