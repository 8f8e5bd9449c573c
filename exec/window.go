package exec

import (
	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

type windowOp struct {
	c    *Ctx
	in   Operator
	plan *Window
	done bool
}

func (w *windowOp) Next() (*coldata.Chunk, error) {
	if w.done {
		return nil, nil
	}
	w.done = true
	p := w.plan
	all, err := drain(w.in, p.Input.Types(), 0)
	if err != nil {
		return nil, err
	}
	keys := make([]SortKey, 0, len(p.PartitionBy)+len(p.OrderBy))
	for _, c := range p.PartitionBy {
		keys = append(keys, SortKey{Col: c})
	}
	keys = append(keys, p.OrderBy...)
	perm := sortPerm(all, keys)
	sorted := all.Gather(perm)
	n := sorted.Len
	out := &coldata.Chunk{Cols: append([]*coldata.Vec(nil), sorted.Cols...), Len: n}
	// Partition and peer-group boundaries.
	partCmp := make([]func(a, b int) int, len(p.PartitionBy))
	for i, c := range p.PartitionBy {
		partCmp[i] = columnComparator(sorted.Cols[c], SortKey{Col: c})
	}
	ordCmp := make([]func(a, b int) int, len(p.OrderBy))
	for i, k := range p.OrderBy {
		ordCmp[i] = columnComparator(sorted.Cols[k.Col], k)
	}
	same := func(cmps []func(a, b int) int, a, b int) bool {
		for _, c := range cmps {
			if c(a, b) != 0 {
				return false
			}
		}
		return true
	}
	for _, f := range p.Funcs {
		res := coldata.NewVec(f.Typ, n)
		for start := 0; start < n; {
			end := start + 1
			for end < n && same(partCmp, start, end) {
				end++
			}
			part := newPartition(sorted, start, end, func(a, b int) bool { return same(ordCmp, a, b) })
			if err := w.compute(&f, part, res); err != nil {
				return nil, err
			}
			start = end
		}
		out.Cols = append(out.Cols, res)
	}
	return out, nil
}

type partition struct {
	sorted *coldata.Chunk
	lo, hi int
	// peerStart and peerEnd give, for row lo+k, the first and one-past-last
	// row of its peer group (rows equal under ORDER BY), found in one pass.
	peerStart, peerEnd []int
}

func newPartition(sorted *coldata.Chunk, lo, hi int, peers func(a, b int) bool) *partition {
	p := &partition{sorted: sorted, lo: lo, hi: hi, peerStart: make([]int, hi-lo), peerEnd: make([]int, hi-lo)}
	for s := lo; s < hi; {
		e := s + 1
		for e < hi && peers(s, e) {
			e++
		}
		for k := s; k < e; k++ {
			p.peerStart[k-lo], p.peerEnd[k-lo] = s, e
		}
		s = e
	}
	return p
}

// peerBounds returns the first and one-past-last row of row i's peer group.
func (p *partition) peerBounds(i int) (int, int) {
	return p.peerStart[i-p.lo], p.peerEnd[i-p.lo]
}

func (w *windowOp) constArg(f *WindowFunc, i int) (types.Datum, error) {
	if i >= len(f.ArgExprs) || f.ArgExprs[i] == nil {
		return nil, nil
	}
	v, err := f.ArgExprs[i].Eval(w.c.Eval, &coldata.Chunk{Len: 1})
	if err != nil {
		return nil, err
	}
	return v.Get(0), nil
}

func (w *windowOp) compute(f *WindowFunc, p *partition, res *coldata.Vec) error {
	s := p.sorted
	switch f.Name {
	case "row_number":
		for i := p.lo; i < p.hi; i++ {
			res.Append(int64(i - p.lo + 1))
		}
	case "rank", "dense_rank", "percent_rank", "cume_dist":
		rank, dense := int64(1), int64(1)
		n := p.hi - p.lo
		for i := p.lo; i < p.hi; {
			_, e := p.peerBounds(i)
			for k := i; k < e; k++ {
				switch f.Name {
				case "rank":
					res.Append(rank)
				case "dense_rank":
					res.Append(dense)
				case "percent_rank":
					if n == 1 {
						res.Append(0.0)
					} else {
						res.Append(float64(rank-1) / float64(n-1))
					}
				case "cume_dist":
					res.Append(float64(e-p.lo) / float64(n))
				}
			}
			rank += int64(e - i)
			dense++
			i = e
		}
	case "ntile":
		d, err := w.constArg(f, 0)
		if err != nil {
			return err
		}
		buckets, _ := d.(int64)
		if buckets <= 0 {
			return sqlerr.New(sqlerr.InvalidParameterValue, "argument of ntile must be greater than zero")
		}
		n := int64(p.hi - p.lo)
		per, extra := n/buckets, n%buckets
		row := int64(0)
		for b := int64(1); b <= buckets && row < n; b++ {
			size := per
			if b <= extra {
				size++
			}
			for k := int64(0); k < size; k++ {
				res.Append(b)
				row++
			}
		}
	case "lag", "lead":
		off := int64(1)
		if d, err := w.constArg(f, 1); err != nil {
			return err
		} else if d != nil {
			off = d.(int64)
		}
		def, err := w.constArg(f, 2)
		if err != nil {
			return err
		}
		if f.Name == "lag" {
			off = -off
		}
		src := s.Cols[f.Args[0]]
		for i := p.lo; i < p.hi; i++ {
			j := i + int(off)
			if j < p.lo || j >= p.hi {
				res.Append(def)
			} else {
				res.AppendFrom(src, j)
			}
		}
	case "first_value", "last_value", "nth_value":
		src := s.Cols[f.Args[0]]
		nth := int64(1)
		if f.Name == "nth_value" {
			d, err := w.constArg(f, 1)
			if err != nil {
				return err
			}
			nth, _ = d.(int64)
			if nth <= 0 {
				return sqlerr.New(sqlerr.InvalidParameterValue, "argument of nth_value must be greater than zero")
			}
		}
		for i := p.lo; i < p.hi; i++ {
			fs, fe, err := w.frame(p, i)
			if err != nil {
				return err
			}
			var j int
			switch f.Name {
			case "first_value":
				j = fs
			case "last_value":
				j = fe - 1
			default:
				j = fs + int(nth) - 1
			}
			if fs >= fe || j >= fe {
				res.Append(nil)
			} else {
				res.AppendFrom(src, j)
			}
		}
	default:
		return w.aggregate(f, p, res)
	}
	return nil
}

// frame returns the frame [start, end) of row i.
func (w *windowOp) frame(p *partition, i int) (int, int, error) {
	fr := w.plan.Frame
	if !fr.Explicit {
		if len(w.plan.OrderBy) == 0 {
			return p.lo, p.hi, nil
		}
		_, e := p.peerBounds(i)
		return p.lo, e, nil
	}
	bound := func(b FrameBound, isStart bool) (int, error) {
		switch b.Kind {
		case "unbounded_preceding":
			return p.lo, nil
		case "unbounded_following":
			return p.hi, nil
		case "current":
			if fr.Mode == "rows" {
				if isStart {
					return i, nil
				}
				return i + 1, nil
			}
			s, e := p.peerBounds(i)
			if isStart {
				return s, nil
			}
			return e, nil
		}
		d, err := b.Offset.Eval(w.c.Eval, &coldata.Chunk{Len: 1})
		if err != nil {
			return 0, err
		}
		if d.IsNull(0) {
			return 0, sqlerr.New("22013", "frame starting offset must not be null")
		}
		if fr.Mode != "rows" {
			return 0, sqlerr.Unsupported("RANGE and GROUPS frames with an offset are not supported")
		}
		off := int(d.Ints[0])
		if off < 0 {
			return 0, sqlerr.New("22013", "frame starting offset must not be negative")
		}
		pos := i + off
		if b.Kind == "preceding" {
			pos = i - off
		}
		if !isStart {
			pos++
		}
		return min(max(pos, p.lo), p.hi), nil
	}
	s, err := bound(fr.Start, true)
	if err != nil {
		return 0, 0, err
	}
	e, err := bound(fr.End, false)
	if err != nil {
		return 0, 0, err
	}
	return s, max(s, e), nil
}

// aggregate computes an aggregate over each row's frame. Frames that start at
// the partition start and only grow are computed incrementally.
func (w *windowOp) aggregate(f *WindowFunc, p *partition, res *coldata.Vec) error {
	s := p.sorted
	args := make([]*coldata.Vec, len(f.Agg.Args))
	for j, c := range f.Agg.Args {
		args[j] = s.Cols[c]
	}
	for _, k := range f.Agg.OrderBy {
		args = append(args, s.Cols[k.Col])
	}
	var filter *coldata.Vec
	if f.Agg.Filter >= 0 {
		filter = s.Cols[f.Agg.Filter]
	}
	feed := func(a aggregator, lo, hi int) error {
		if hi <= lo {
			return nil
		}
		sub := make([]*coldata.Vec, len(args))
		for j, v := range args {
			sub[j] = v.Slice(lo, hi)
		}
		groups := make([]int32, hi-lo)
		if filter != nil {
			for k := range groups {
				if filter.IsNull(lo+k) || !filter.Bools[lo+k] {
					groups[k] = -1
				}
			}
		}
		return a.update(groups, sub)
	}
	var run aggregator
	runEnd := p.lo
	for i := p.lo; i < p.hi; i++ {
		fs, fe, err := w.frame(p, i)
		if err != nil {
			return err
		}
		if fs == p.lo && (run == nil || fe >= runEnd) {
			if run == nil {
				if run, err = newAggregator(w.c.Eval, f.Agg); err != nil {
					return err
				}
				run.grow(1)
			}
			if err := feed(run, runEnd, fe); err != nil {
				return err
			}
			runEnd = max(runEnd, fe)
			d, err := run.result(0)
			if err != nil {
				return err
			}
			res.Append(d)
			continue
		}
		a, err := newAggregator(w.c.Eval, f.Agg)
		if err != nil {
			return err
		}
		a.grow(1)
		if err := feed(a, fs, fe); err != nil {
			return err
		}
		d, err := a.result(0)
		if err != nil {
			return err
		}
		res.Append(d)
	}
	return nil
}
