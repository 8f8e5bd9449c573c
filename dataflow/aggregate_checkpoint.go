package dataflow

import (
	"container/heap"
	"fmt"
	"slices"

	"github.com/sluice-db/sluice/coldata"
)

// objKernel is a kernel whose per-group objects a snapshot holds.
type objKernel interface {
	snapshotObjs(t *groupTable, w *SnapshotWriter) error
	restoreObjs(t *groupTable, r *SnapshotReader) error
}

// objKernelOf returns k (under its FILTER) as an objKernel, if it is one.
func objKernelOf(k aggKernel) (objKernel, bool) {
	if f, ok := k.(*filterKernel); ok {
		k = f.inner
	}
	ok, is := k.(objKernel)
	return ok, is
}

// snapshottable reports why the aggregate cannot be snapshotted: kernels
// keeping objects other than numeric sums and min/max under retractions
// (DISTINCT, string_agg, array_agg, min/max of boxed types over
// append-only input) have no encoding yet.
func (o *aggregateOp) snapshottable() error {
	held := 0
	for _, k := range o.kernels {
		if _, ok := objKernelOf(k); ok {
			held++
		}
	}
	if held != o.objs {
		return fmt.Errorf("aggregate %s keeps per-group objects snapshots cannot hold", o.spec)
	}
	return nil
}

// Snapshot implements Snapshotter: the group table's pages as they are
// (keys and state words, the id pool, the probe slots or the key index),
// the stored key values as columns, and the window bookkeeping.
func (o *aggregateOp) Snapshot(w *SnapshotWriter) error {
	if err := o.snapshottable(); err != nil {
		return err
	}
	t := o.groups
	w.Uvarint(uint64(len(t.words)))
	for _, p := range t.words {
		w.Int64s(p)
	}
	w.Uvarint(uint64(t.ids.n))
	w.Int32s(t.ids.free)
	w.Varint(int64(t.live))
	w.Uint32s(t.slots)
	w.Uvarint(uint64(t.idBits))
	nullGroups := make([]int32, 0, len(t.nullKeys))
	for g := range t.nullKeys {
		nullGroups = append(nullGroups, g)
	}
	slices.Sort(nullGroups)
	w.Uvarint(uint64(len(nullGroups)))
	for _, g := range nullGroups {
		w.Uvarint(uint64(g))
		w.Uvarint(uint64(t.nullKeys[g]))
	}
	w.Uvarint(uint64(len(t.index)))
	for k, g := range t.index {
		w.String(k)
		w.Uvarint(uint64(g))
	}
	if o.storedKeys {
		for j, k := range o.spec.Keys {
			v := coldata.NewVec(o.spec.InTypes[k], int(t.ids.n))
			for g := range t.ids.n {
				v.Append(t.objects(g)[o.objs+j])
			}
			if err := w.Vec(v); err != nil {
				return err
			}
		}
	}
	for _, k := range o.kernels {
		if ok, is := objKernelOf(k); is {
			if err := ok.snapshotObjs(t, w); err != nil {
				return err
			}
		}
	}
	w.Varint(o.frontier)
	w.Varint(o.closed)
	w.Int64s(o.ends)
	for _, end := range o.ends {
		w.Int32s(o.open[end])
	}
	return nil
}

// Restore implements Snapshotter.
func (o *aggregateOp) Restore(r *SnapshotReader) error {
	if err := o.snapshottable(); err != nil {
		return err
	}
	t := o.groups
	pages := r.Len(0)
	stride := groupPage * (t.nk + t.nw)
	t.words = make([][]int64, 0, pages)
	for range pages {
		p := r.Int64s()
		if len(p) != stride && r.err == nil {
			r.fail("aggregate: page of %d words, want %d", len(p), stride)
		}
		t.words = append(t.words, p)
	}
	ids := r.Uvarint()
	t.ids.free = r.Int32s()
	t.live = int(r.Varint())
	t.slots = r.Uint32s()
	t.idBits = uint(r.Uvarint())
	if r.err == nil && (ids > uint64(pages*groupPage) || (t.nk > 0 && (len(t.slots) == 0 || len(t.slots)&(len(t.slots)-1) != 0))) {
		r.fail("aggregate: %d groups in %d pages, %d slots", ids, pages, len(t.slots))
	}
	if r.err != nil {
		return r.err
	}
	t.ids.n = int32(ids)
	// Every id the table holds must be one it handed out: freed once,
	// indexed once and not freed.
	free := make([]bool, t.ids.n)
	for _, g := range t.ids.free {
		if g < 0 || g >= t.ids.n || free[g] {
			r.fail("aggregate: free group %d of %d", g, t.ids.n)
			return r.err
		}
		free[g] = true
	}
	indexed := make([]bool, t.ids.n)
	used := func(g int32) bool {
		if g < 0 || g >= t.ids.n || free[g] || indexed[g] {
			r.fail("aggregate: group %d of %d indexed twice, freed or out of range", g, t.ids.n)
			return false
		}
		indexed[g] = true
		return true
	}
	if t.nk == 0 {
		t.slots = nil
	} else {
		if t.idBits != slotIDBits && t.idBits != 32 {
			r.fail("aggregate: %d id bits", t.idBits)
			return r.err
		}
		n, idMask := 0, t.idMask()
		for _, s := range t.slots {
			if s == 0 {
				continue
			}
			if n++; s&idMask == 0 || !used(int32(s&idMask)-1) {
				r.fail("aggregate: slot %#x", s)
				return r.err
			}
		}
		if n != t.live || n >= len(t.slots) {
			r.fail("aggregate: %d slots used of %d, %d groups live", n, len(t.slots), t.live)
			return r.err
		}
	}
	for range r.Len(0) {
		if t.nullKeys == nil {
			t.nullKeys = map[int32]uint8{}
		}
		g := int32(r.Uvarint())
		if g < 0 || g >= t.ids.n {
			r.fail("aggregate: NULL flags of group %d of %d", g, t.ids.n)
			return r.err
		}
		t.nullKeys[g] = uint8(r.Uvarint())
	}
	n := r.Len(0)
	if t.nk == 0 && n != t.live && r.err == nil {
		r.fail("aggregate: %d keys indexed, %d groups live", n, t.live)
	}
	if t.nk == 0 {
		t.index = make(map[string]int32, n)
		t.strKeys = make([][]string, pages)
		for i := range t.strKeys {
			t.strKeys[i] = make([]string, groupPage)
		}
	}
	for range n {
		k, g := r.String(), int32(r.Uvarint())
		if r.err != nil || t.nk > 0 || !used(g) {
			r.fail("aggregate: key index entry for group %d", g)
			return r.err
		}
		t.index[k] = g
		t.strKeys[g>>groupPageBits][g&(groupPage-1)] = k
	}
	if t.no > 0 {
		t.objs = make([][]any, pages)
		for i := range t.objs {
			t.objs[i] = make([]any, groupPage*t.no)
		}
	}
	if o.storedKeys {
		for j, k := range o.spec.Keys {
			v := r.Vec(o.spec.InTypes[k])
			if r.err != nil {
				return r.err
			}
			if v.Len() != int(t.ids.n) {
				r.fail("aggregate: %d stored keys for %d groups", v.Len(), t.ids.n)
				return r.err
			}
			for g := range t.ids.n {
				t.objects(g)[o.objs+j] = v.Get(int(g))
			}
		}
	}
	for _, k := range o.kernels {
		if ok, is := objKernelOf(k); is && r.err == nil {
			if err := ok.restoreObjs(t, r); err != nil {
				return err
			}
		}
	}
	o.frontier = r.Varint()
	o.closed = r.Varint()
	o.ends = r.Int64s()
	if o.spec.Window != nil {
		o.open = make(map[int64][]int32, len(o.ends))
		for _, end := range o.ends {
			if _, dup := o.open[end]; dup {
				r.fail("aggregate: window end %d twice", end)
				break
			}
			gs := r.Int32s()
			for _, g := range gs {
				// A window's groups are indexed: closing it unindexes them.
				if g < 0 || g >= t.ids.n || !indexed[g] {
					r.fail("aggregate: window end %d holds group %d of %d, not indexed", end, g, t.ids.n)
					return r.err
				}
			}
			o.open[end] = gs
		}
		heap.Init(&o.ends)
	} else if len(o.ends) > 0 {
		r.fail("aggregate: window ends without a window")
	}
	return r.err
}

// snapshotObjs writes every group's multiset of values: its entry count,
// then all entries' counts, keys and values as columns.
func (k *minMaxKernel) snapshotObjs(t *groupTable, w *SnapshotWriter) error {
	entries := make([]int64, t.ids.n)
	var ns []int64
	var keys []string
	vals := coldata.NewVec(k.typ, 0)
	for g := range t.ids.n {
		m, _ := t.objects(g)[k.o].(*multiset)
		if m == nil {
			continue
		}
		m.all(func(e *multisetEntry) {
			entries[g]++
			ns = append(ns, e.n)
			keys = append(keys, e.key)
			vals.Append(e.val)
		})
	}
	w.Int64s(entries)
	w.Int64s(ns)
	for _, key := range keys {
		w.String(key)
	}
	return w.Vec(vals)
}

func (k *minMaxKernel) restoreObjs(t *groupTable, r *SnapshotReader) error {
	entries, ns := r.Int64s(), r.Int64s()
	keys := make([]string, 0, len(ns))
	for range ns {
		keys = append(keys, r.String())
	}
	vals := r.Vec(k.typ)
	if r.err == nil && (len(entries) != int(t.ids.n) || vals.Len() != len(ns)) {
		r.fail("min/max: %d groups of %d, %d values of %d", len(entries), t.ids.n, vals.Len(), len(ns))
	}
	if r.err != nil {
		return r.err
	}
	j := 0
	for g, n := range entries {
		if n < 0 || j+int(n) > len(ns) {
			r.fail("min/max: %d entries", n)
			return r.err
		}
		for ; n > 0; n-- {
			v := vals.Get(j)
			t.multiset(int32(g), k.o).add([]byte(keys[j]), ns[j], func() any { return v })
			j++
		}
	}
	return nil
}

// snapshotObjs writes every group's sum: whether it has one, then its
// fields.
func (k *decimalSumKernel) snapshotObjs(t *groupTable, w *SnapshotWriter) error {
	for g := range t.ids.n {
		s, _ := t.objects(g)[k.o].(*decimalSum)
		w.Bool(s != nil)
		if s == nil {
			continue
		}
		w.scratch = s.sum.Append(w.scratch[:0], 'G')
		w.Blob(w.scratch)
		for _, x := range []int64{s.n, s.nan, s.posInf, s.negInf} {
			w.Varint(x)
		}
		w.Uvarint(uint64(len(s.scales)))
		for _, sc := range s.scales {
			w.Varint(int64(sc.scale))
			w.Varint(sc.n)
		}
	}
	return nil
}

func (k *decimalSumKernel) restoreObjs(t *groupTable, r *SnapshotReader) error {
	for g := range t.ids.n {
		if !r.Bool() {
			continue
		}
		s := &decimalSum{}
		if _, _, err := s.sum.SetString(r.String()); err != nil {
			r.fail("numeric sum: %v", err)
		}
		s.n, s.nan, s.posInf, s.negInf = r.Varint(), r.Varint(), r.Varint(), r.Varint()
		for range r.Len(0) {
			s.scales = append(s.scales, scaleCount{scale: int32(r.Varint()), n: r.Varint()})
		}
		if r.err != nil {
			return r.err
		}
		t.objects(g)[k.o] = s
	}
	return nil
}
