package dataflow

import (
	"container/heap"
	"fmt"
	"slices"

	"github.com/sluice-db/sluice/coldata"
)

// snapshottable reports why the aggregate cannot be snapshotted: kernels
// that keep objects (numeric sums, min/max under retractions, DISTINCT,
// string_agg, array_agg) have no encoding yet.
func (o *aggregateOp) snapshottable() error {
	if o.objs > 0 {
		return fmt.Errorf("aggregate %s keeps per-group objects", o.spec)
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
	t.ids.n = int32(r.Uvarint())
	t.ids.free = r.Int32s()
	t.live = int(r.Varint())
	t.slots = r.Uint32s()
	t.idBits = uint(r.Uvarint())
	if r.err == nil && (int(t.ids.n) > pages*groupPage || (t.nk > 0 && (len(t.slots) == 0 || len(t.slots)&(len(t.slots)-1) != 0))) {
		r.fail("aggregate: %d groups in %d pages, %d slots", t.ids.n, pages, len(t.slots))
	}
	if t.nk == 0 {
		t.slots = nil
	}
	for range r.Len(0) {
		if t.nullKeys == nil {
			t.nullKeys = map[int32]uint8{}
		}
		g := int32(r.Uvarint())
		t.nullKeys[g] = uint8(r.Uvarint())
	}
	n := r.Len(0)
	if t.nk == 0 {
		t.index = make(map[string]int32, n)
		t.strKeys = make([][]string, pages)
		for i := range t.strKeys {
			t.strKeys[i] = make([]string, groupPage)
		}
	}
	for range n {
		k, g := r.String(), int32(r.Uvarint())
		if r.err != nil || t.nk > 0 || g < 0 || g >= t.ids.n {
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
	o.frontier = r.Varint()
	o.closed = r.Varint()
	o.ends = r.Int64s()
	if o.spec.Window != nil {
		o.open = make(map[int64][]int32, len(o.ends))
		for _, end := range o.ends {
			o.open[end] = r.Int32s()
		}
		heap.Init(&o.ends)
	} else if len(o.ends) > 0 {
		r.fail("aggregate: window ends without a window")
	}
	return r.err
}
