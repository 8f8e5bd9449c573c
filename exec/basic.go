package exec

import (
	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

type scanOp struct {
	c    *Ctx
	plan *Scan
	it   TableIter
}

// table resolves the scanned table, unless the statement was cancelled.
func (s *scanOp) table() (TableAccess, error) {
	if err := s.c.Eval.Ctx.Err(); err != nil {
		return nil, err
	}
	return s.c.Tables(s.plan.Table)
}

func (s *scanOp) Next() (*coldata.Chunk, error) {
	if s.it == nil {
		ta, err := s.table()
		if err != nil {
			return nil, err
		}
		if s.it, err = ta.Scan(); err != nil {
			return nil, err
		}
	}
	ch, pos, err := s.it.Next()
	if err != nil || ch == nil {
		return nil, err
	}
	if err := s.c.Eval.Ctx.Err(); err != nil {
		return nil, err
	}
	if !s.plan.Positions {
		return ch, nil
	}
	return withPositions(ch, pos), nil
}

func withPositions(ch *coldata.Chunk, pos []int) *coldata.Chunk {
	pv := coldata.MakeVec(types.Int8, len(pos))
	for i, p := range pos {
		pv.Ints[i] = int64(p)
	}
	return &coldata.Chunk{Cols: append(append([]*coldata.Vec(nil), ch.Cols...), pv), Len: ch.Len}
}

type lookupOp struct {
	c    *Ctx
	plan *PointLookup
	done bool
}

func (l *lookupOp) Next() (*coldata.Chunk, error) {
	if l.done {
		return nil, nil
	}
	l.done = true
	key := make([]types.Datum, len(l.plan.Key))
	var one *coldata.Chunk
	for i, e := range l.plan.Key {
		d, ok := scalarDatum(l.c.Eval, e)
		if !ok {
			if one == nil {
				one = &coldata.Chunk{Len: 1}
			}
			v, err := e.Eval(l.c.Eval, one)
			if err != nil {
				return nil, err
			}
			d = v.Get(0)
		}
		if key[i] = d; d == nil {
			return nil, nil
		}
	}
	ta, err := l.c.Tables(l.plan.Table)
	if err != nil {
		return nil, err
	}
	if cl, ok := ta.(ChunkLookup); ok && !l.plan.Positions {
		return cl.LookupChunk(key)
	}
	row, pos, found, err := ta.Lookup(key)
	if err != nil || !found {
		return nil, err
	}
	out := coldata.NewChunk(l.plan.Table.Types, 1)
	out.AppendRow(row)
	if l.plan.Positions {
		return withPositions(out, []int{pos}), nil
	}
	return out, nil
}

// scalarDatum returns the value of e when it is a constant or a parameter
// of a type whose vectors hold the datum as it is (ok false otherwise): a
// point lookup's key is mostly $1, and evaluating it as a vector of one
// row made a chunk and a vector per key column of every panel query.
func scalarDatum(ev *expr.EvalCtx, e expr.Expr) (types.Datum, bool) {
	var d types.Datum
	switch e := e.(type) {
	case *expr.Const:
		d = e.Val
	case *expr.Param:
		if e.Idx < len(ev.Params) {
			d = ev.Params[e.Idx]
		}
	default:
		return nil, false
	}
	if d == nil {
		return nil, true
	}
	switch e.Type().Phys() {
	case types.PhysBool:
		_, ok := d.(bool)
		return d, ok
	case types.PhysInt:
		_, ok := d.(int64)
		return d, ok
	case types.PhysFloat:
		_, ok := d.(float64)
		return d, ok
	case types.PhysBytes:
		_, ok := d.(string)
		return d, ok
	}
	return nil, false
}

type rangeScanOp struct {
	c    *Ctx
	plan *RangeScan
	it   TableIter
	// empty is set when a bound or prefix value is NULL: no key compares
	// true with it.
	empty bool
}

func (r *rangeScanOp) Next() (*coldata.Chunk, error) {
	if r.empty {
		return nil, nil
	}
	if err := r.c.Eval.Ctx.Err(); err != nil {
		return nil, err
	}
	if r.it == nil {
		kr, ok, err := r.keyRange()
		if err != nil {
			return nil, err
		}
		if !ok {
			r.empty = true
			return nil, nil
		}
		ta, err := r.c.Tables(r.plan.Table)
		if err != nil {
			return nil, err
		}
		ra, ok := ta.(RangeAccess)
		if !ok {
			return nil, sqlerr.Bug("range scan of %q, which is not kept in key order", r.plan.Table.Name)
		}
		if r.it, err = ra.ScanRange(kr); err != nil {
			return nil, err
		}
	}
	ch, _, err := r.it.Next()
	return ch, err
}

// keyRange evaluates the prefix and bounds; false when one is NULL.
func (r *rangeScanOp) keyRange() (KeyRange, bool, error) {
	one := &coldata.Chunk{Len: 1}
	eval := func(e expr.Expr) (types.Datum, error) {
		v, err := e.Eval(r.c.Eval, one)
		if err != nil {
			return nil, err
		}
		return v.Get(0), nil
	}
	var kr KeyRange
	for _, e := range r.plan.Prefix {
		v, err := eval(e)
		if err != nil || v == nil {
			return kr, false, err
		}
		kr.Prefix = append(kr.Prefix, v)
	}
	bound := func(b *RangeBound) (*KeyBound, bool, error) {
		if b == nil {
			return nil, true, nil
		}
		v, err := eval(b.Value)
		if err != nil || v == nil {
			return nil, false, err
		}
		return &KeyBound{Value: v, Inclusive: b.Inclusive}, true, nil
	}
	var ok bool
	var err error
	if kr.Lower, ok, err = bound(r.plan.Lower); !ok {
		return kr, false, err
	}
	kr.Upper, ok, err = bound(r.plan.Upper)
	return kr, ok, err
}

type valuesOp struct {
	c    *Ctx
	plan *Values
	done bool
}

func (v *valuesOp) Next() (*coldata.Chunk, error) {
	if v.done {
		return nil, nil
	}
	v.done = true
	out := coldata.NewChunk(v.plan.Typs, len(v.plan.Rows))
	one := &coldata.Chunk{Len: 1}
	for _, row := range v.plan.Rows {
		for j, e := range row {
			vec, err := e.Eval(v.c.Eval, one)
			if err != nil {
				return nil, err
			}
			out.Cols[j].AppendFrom(vec, 0)
		}
		out.Len++
	}
	return out, nil
}

type filterOp struct {
	c    *Ctx
	in   Operator
	cond expr.Expr
}

func (f *filterOp) Next() (*coldata.Chunk, error) {
	for {
		ch, err := f.in.Next()
		if err != nil || ch == nil {
			return nil, err
		}
		v, err := f.cond.Eval(f.c.Eval, ch)
		if err != nil {
			return nil, err
		}
		sel := make([]int, 0, ch.Len)
		for i, b := range v.Bools {
			if b && (v.Nulls == nil || !v.Nulls[i]) {
				sel = append(sel, i)
			}
		}
		if len(sel) == ch.Len {
			return ch, nil
		}
		if len(sel) > 0 {
			return ch.Gather(sel), nil
		}
	}
}

type projectOp struct {
	c     *Ctx
	in    Operator
	exprs []expr.Expr
}

func (p *projectOp) Next() (*coldata.Chunk, error) {
	ch, err := p.in.Next()
	if err != nil || ch == nil {
		return nil, err
	}
	return projectChunk(p.c.Eval, ch, p.exprs)
}

func projectChunk(ev *expr.EvalCtx, ch *coldata.Chunk, exprs []expr.Expr) (*coldata.Chunk, error) {
	out := &coldata.Chunk{Cols: make([]*coldata.Vec, len(exprs)), Len: ch.Len}
	for i, e := range exprs {
		v, err := e.Eval(ev, ch)
		if err != nil {
			return nil, err
		}
		out.Cols[i] = v
	}
	return out, nil
}

// countScanOp is a scan projected to no columns (count(*) of a table): the
// rows' count in chunks of no columns, from a RowCounter without reading
// the rows, else from the scan.
type countScanOp struct {
	scanOp
	started bool
	left    int64 // rows a RowCounter counted, still to return
}

func (s *countScanOp) Next() (*coldata.Chunk, error) {
	if !s.started {
		s.started = true
		ta, err := s.table()
		if err != nil {
			return nil, err
		}
		if rc, ok := ta.(RowCounter); ok {
			s.left, err = rc.RowCount()
		} else {
			s.it, err = ta.Scan()
		}
		if err != nil {
			return nil, err
		}
	}
	if s.it != nil {
		ch, err := s.scanOp.Next()
		if err != nil || ch == nil {
			return nil, err
		}
		return &coldata.Chunk{Cols: []*coldata.Vec{}, Len: ch.Len}, nil
	}
	n := min(s.left, coldata.DefaultChunkSize)
	if n == 0 {
		return nil, nil
	}
	s.left -= n
	return &coldata.Chunk{Cols: []*coldata.Vec{}, Len: int(n)}, nil
}

type limitOp struct {
	c       *Ctx
	in      Operator
	plan    *Limit
	started bool
	skip    int64
	left    int64 // -1: unlimited
	// last holds, with ties once the count is passed, the ORDER BY
	// values of the last row counted: rows equal on them pass too.
	last []types.Datum
}

func (l *limitOp) evalCount(e expr.Expr, what string) (int64, bool, error) {
	if e == nil {
		return 0, false, nil
	}
	v, err := e.Eval(l.c.Eval, &coldata.Chunk{Len: 1})
	if err != nil {
		return 0, false, err
	}
	if v.IsNull(0) {
		return 0, false, nil
	}
	n := v.Ints[0]
	if n < 0 {
		if what == "LIMIT" {
			return 0, false, sqlerr.New("2201W", "LIMIT must not be negative")
		}
		return 0, false, sqlerr.New("2201X", "OFFSET must not be negative")
	}
	return n, true, nil
}

func (l *limitOp) Next() (*coldata.Chunk, error) {
	if !l.started {
		l.started = true
		n, ok, err := l.evalCount(l.plan.Count, "LIMIT")
		if err != nil {
			return nil, err
		}
		l.left = -1
		if ok {
			l.left = n
		}
		if l.skip, _, err = l.evalCount(l.plan.Offset, "OFFSET"); err != nil {
			return nil, err
		}
	}
	for {
		if l.left == 0 && l.last == nil {
			return nil, nil
		}
		ch, err := l.in.Next()
		if err != nil || ch == nil {
			return nil, err
		}
		lo := 0
		if l.skip > 0 {
			if int64(ch.Len) <= l.skip {
				l.skip -= int64(ch.Len)
				continue
			}
			lo = int(l.skip)
			l.skip = 0
		}
		hi := ch.Len
		switch {
		case l.left == 0: // past the count, with ties
			hi = lo + l.tied(ch, lo)
		case l.left > 0 && int64(hi-lo) >= l.left:
			hi = lo + int(l.left)
			l.left = 0
			if l.plan.Ties != nil {
				l.last = l.last[:0]
				for _, k := range l.plan.Ties {
					l.last = append(l.last, ch.Cols[k.Col].Get(hi-1))
				}
				hi += l.tied(ch, hi)
			}
		case l.left > 0:
			l.left -= int64(hi - lo)
		}
		if hi == lo {
			continue
		}
		if lo == 0 && hi == ch.Len {
			return ch, nil
		}
		return ch.Slice(lo, hi), nil
	}
}

// tied returns how many rows of ch from row i on equal l.last on the
// ORDER BY keys, forgetting l.last at the first that does not.
func (l *limitOp) tied(ch *coldata.Chunk, i int) int {
	n := 0
	for ; i+n < ch.Len; n++ {
		for k, key := range l.plan.Ties {
			v := ch.Cols[key.Col]
			if d := v.Get(i + n); (d == nil) != (l.last[k] == nil) || d != nil && types.Compare(v.Typ, d, l.last[k]) != 0 {
				l.last = nil
				return n
			}
		}
	}
	return n
}

type distinctOp struct {
	in   Operator
	plan *Distinct
	seen map[string]struct{}
	buf  []byte
}

func (d *distinctOp) Next() (*coldata.Chunk, error) {
	if d.seen == nil {
		d.seen = map[string]struct{}{}
	}
	for {
		ch, err := d.in.Next()
		if err != nil || ch == nil {
			return nil, err
		}
		cols := d.plan.OnKeys
		if cols == nil {
			cols = coldata.AllColumns(len(ch.Cols))
		}
		var sel []int
		for i := 0; i < ch.Len; i++ {
			d.buf = rowKey(d.buf[:0], ch, cols, i)
			if _, ok := d.seen[string(d.buf)]; ok {
				continue
			}
			d.seen[string(d.buf)] = struct{}{}
			sel = append(sel, i)
		}
		if len(sel) > 0 {
			return ch.Gather(sel), nil
		}
	}
}

// rowKey appends the equality key of row i over cols (NULLs equal each other,
// as grouping and DISTINCT require).
func rowKey(buf []byte, ch *coldata.Chunk, cols []int, i int) []byte {
	for _, c := range cols {
		buf = ch.Cols[c].AppendKey(buf, i)
	}
	return buf
}

type setOpOp struct {
	left, right Operator
	plan        *SetOp
	done        bool
	leftDone    bool
	seen        map[string]struct{}
	buf         []byte
}

func (s *setOpOp) Next() (*coldata.Chunk, error) {
	if s.plan.Kind == Union {
		return s.nextUnion()
	}
	if s.done {
		return nil, nil
	}
	s.done = true
	// INTERSECT / EXCEPT: count right rows, then stream left rows against them.
	counts := map[string]int{}
	var buf []byte
	for {
		ch, err := s.right.Next()
		if err != nil {
			return nil, err
		}
		if ch == nil {
			break
		}
		cols := coldata.AllColumns(len(ch.Cols))
		for i := 0; i < ch.Len; i++ {
			buf = rowKey(buf[:0], ch, cols, i)
			counts[string(buf)]++
		}
	}
	out := coldata.NewChunk(s.plan.Types(), 0)
	emitted := map[string]int{}
	for {
		ch, err := s.left.Next()
		if err != nil {
			return nil, err
		}
		if ch == nil {
			break
		}
		cols := coldata.AllColumns(len(ch.Cols))
		for i := 0; i < ch.Len; i++ {
			buf = rowKey(buf[:0], ch, cols, i)
			k := string(buf)
			keep := false
			switch {
			case s.plan.Kind == Intersect && s.plan.All:
				if counts[k] > 0 {
					counts[k]--
					keep = true
				}
			case s.plan.Kind == Intersect:
				keep = counts[k] > 0 && emitted[k] == 0
			case s.plan.All: // EXCEPT ALL
				if counts[k] > 0 {
					counts[k]--
				} else {
					keep = true
				}
			default: // EXCEPT
				keep = counts[k] == 0 && emitted[k] == 0
			}
			if keep {
				emitted[k]++
				out.AppendFrom(ch, i)
			}
		}
	}
	return out, nil
}

func (s *setOpOp) nextUnion() (*coldata.Chunk, error) {
	for {
		src := s.left
		if s.leftDone {
			src = s.right
		}
		ch, err := src.Next()
		if err != nil {
			return nil, err
		}
		if ch == nil {
			if s.leftDone {
				return nil, nil
			}
			s.leftDone = true
			continue
		}
		if s.plan.All {
			return ch, nil
		}
		if s.seen == nil {
			s.seen = map[string]struct{}{}
		}
		cols := coldata.AllColumns(len(ch.Cols))
		var sel []int
		for i := 0; i < ch.Len; i++ {
			s.buf = rowKey(s.buf[:0], ch, cols, i)
			if _, ok := s.seen[string(s.buf)]; !ok {
				s.seen[string(s.buf)] = struct{}{}
				sel = append(sel, i)
			}
		}
		if len(sel) > 0 {
			return ch.Gather(sel), nil
		}
	}
}

type projectSetOp struct {
	c    *Ctx
	in   Operator
	plan *ProjectSet
}

func (p *projectSetOp) Next() (*coldata.Chunk, error) {
	for {
		ch, err := p.in.Next()
		if err != nil || ch == nil {
			return nil, err
		}
		vals := make([]*coldata.Vec, len(p.plan.Exprs))
		for j, e := range p.plan.Exprs {
			if vals[j], err = e.Eval(p.c.Eval, ch); err != nil {
				return nil, err
			}
		}
		out := coldata.NewChunk(p.plan.Typs, ch.Len)
		anySRF := false
		for _, srf := range p.plan.SRF {
			anySRF = anySRF || srf
		}
		for i := 0; i < ch.Len; i++ {
			n := 0
			if !anySRF {
				n = 1 // a scalar function in FROM is one row
			}
			for j, srf := range p.plan.SRF {
				if srf && !vals[j].IsNull(i) {
					n = max(n, len(vals[j].Get(i).(*types.Array).Elems))
				}
			}
			for k := 0; k < n; k++ {
				if p.plan.Ordinality {
					out.Cols[len(vals)].Append(int64(k + 1))
				}
				for j, v := range vals {
					if !p.plan.SRF[j] {
						out.Cols[j].AppendFrom(v, i)
						continue
					}
					var d types.Datum
					if !v.IsNull(i) {
						if a := v.Get(i).(*types.Array); k < len(a.Elems) {
							d = a.Elems[k]
						}
					}
					out.Cols[j].Append(d)
				}
				out.Len++
			}
		}
		if out.Len > 0 {
			return out, nil
		}
	}
}
