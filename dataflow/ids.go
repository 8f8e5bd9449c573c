package dataflow

// idPool hands out the int32 ids of rows or groups kept in pages, reusing
// freed ids first so that the pages stay dense.
type idPool struct {
	n    int32   // ids handed out, freed ones included
	free []int32 // freed ids, reused first
}

// take returns an id, and whether it is new (the pages must make room for
// it) rather than reused.
func (p *idPool) take() (id int32, fresh bool) {
	if k := len(p.free); k > 0 {
		id = p.free[k-1]
		p.free = p.free[:k-1]
		return id, false
	}
	id = p.n
	p.n++
	return id, true
}

// release makes id reusable.
func (p *idPool) release(id int32) { p.free = append(p.free, id) }
