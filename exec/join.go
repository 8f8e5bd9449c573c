package exec

import (
	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// joinOp is a hash join when the plan has equality keys and a nested-loop
// join otherwise. The right input is built into memory; left rows stream.
type joinOp struct {
	c           *Ctx
	left, right Operator
	plan        *Join

	built      bool
	build      *coldata.Chunk
	table      map[string][]int32
	intTable   map[int64][]int32
	rightMatch []bool
	leftDone   bool
	buf        []byte
}

func (j *joinOp) buildSide() error {
	var err error
	j.build, err = drain(j.right, j.plan.Right.Types(), 0)
	if err != nil {
		return err
	}
	j.rightMatch = make([]bool, j.build.Len)
	if len(j.plan.RightKeys) == 0 {
		return nil
	}
	if j.intKeyed() {
		j.intTable = make(map[int64][]int32, j.build.Len)
		kv := j.build.Cols[j.plan.RightKeys[0]]
		for i := 0; i < j.build.Len; i++ {
			if !kv.IsNull(i) {
				j.intTable[kv.Ints[i]] = append(j.intTable[kv.Ints[i]], int32(i))
			}
		}
		return nil
	}
	j.table = make(map[string][]int32, j.build.Len)
	for i := 0; i < j.build.Len; i++ {
		if k, ok := j.joinKey(j.build, j.plan.RightKeys, i); ok {
			j.table[k] = append(j.table[k], int32(i))
		}
	}
	return nil
}

func (j *joinOp) intKeyed() bool {
	if len(j.plan.LeftKeys) != 1 {
		return false
	}
	lt := j.plan.Left.Types()[j.plan.LeftKeys[0]]
	rt := j.plan.Right.Types()[j.plan.RightKeys[0]]
	return lt.Family == types.IntFamily && rt.Family == types.IntFamily
}

// joinKey encodes row i's key columns; ok is false when a key is NULL (NULL
// never equals anything).
func (j *joinOp) joinKey(ch *coldata.Chunk, cols []int, i int) (string, bool) {
	for _, c := range cols {
		if ch.Cols[c].IsNull(i) {
			return "", false
		}
	}
	j.buf = rowKey(j.buf[:0], ch, cols, i)
	return string(j.buf), true
}

func (j *joinOp) Next() (*coldata.Chunk, error) {
	if !j.built {
		j.built = true
		if err := j.buildSide(); err != nil {
			return nil, err
		}
	}
	for !j.leftDone {
		ch, err := j.left.Next()
		if err != nil {
			return nil, err
		}
		if ch == nil {
			j.leftDone = true
			break
		}
		if err := j.c.Eval.Ctx.Err(); err != nil {
			return nil, err
		}
		out, err := j.probe(ch)
		if err != nil {
			return nil, err
		}
		if out != nil && out.Len > 0 {
			return out, nil
		}
	}
	if (j.plan.Kind == RightJoin || j.plan.Kind == FullJoin) && j.rightMatch != nil {
		out := coldata.NewChunk(j.plan.Types(), 0)
		nl := len(j.plan.Left.Types())
		for i, m := range j.rightMatch {
			if m {
				continue
			}
			for c := 0; c < nl; c++ {
				out.Cols[c].Append(nil)
			}
			for c := range j.build.Cols {
				out.Cols[nl+c].AppendFrom(j.build.Cols[c], i)
			}
			out.Len++
		}
		j.rightMatch = nil
		if out.Len > 0 {
			return out, nil
		}
	}
	return nil, nil
}

// probe joins one left chunk against the build side.
func (j *joinOp) probe(ch *coldata.Chunk) (*coldata.Chunk, error) {
	// Candidate pairs (left row, right row).
	var li, ri []int
	// A chunk of left rows with many matches each makes many pairs: check
	// for cancellation (statement_timeout) as they pile up.
	check := func() error {
		if len(li)&(1<<16-1) == 0 && len(li) > 0 {
			return j.c.Eval.Ctx.Err()
		}
		return nil
	}
	switch {
	case len(j.plan.LeftKeys) == 0:
		for i := 0; i < ch.Len; i++ {
			for r := 0; r < j.build.Len; r++ {
				li = append(li, i)
				ri = append(ri, r)
				if err := check(); err != nil {
					return nil, err
				}
			}
		}
	case j.intTable != nil:
		kv := ch.Cols[j.plan.LeftKeys[0]]
		for i := 0; i < ch.Len; i++ {
			if kv.IsNull(i) {
				continue
			}
			for _, r := range j.intTable[kv.Ints[i]] {
				li = append(li, i)
				ri = append(ri, int(r))
				if err := check(); err != nil {
					return nil, err
				}
			}
		}
	default:
		for i := 0; i < ch.Len; i++ {
			k, ok := j.joinKey(ch, j.plan.LeftKeys, i)
			if !ok {
				continue
			}
			for _, r := range j.table[k] {
				li = append(li, i)
				ri = append(ri, int(r))
				if err := check(); err != nil {
					return nil, err
				}
			}
		}
	}
	pairs := j.pairChunk(ch, li, ri)
	if j.plan.Cond != nil && pairs.Len > 0 {
		v, err := j.plan.Cond.Eval(j.c.Eval, pairs)
		if err != nil {
			return nil, err
		}
		var keep []int
		for k := 0; k < pairs.Len; k++ {
			if !v.IsNull(k) && v.Bools[k] {
				keep = append(keep, k)
			}
		}
		if len(keep) != pairs.Len {
			nli, nri := make([]int, len(keep)), make([]int, len(keep))
			for x, k := range keep {
				nli[x], nri[x] = li[k], ri[k]
			}
			li, ri = nli, nri
			pairs = pairs.Gather(keep)
		}
	}
	for _, r := range ri {
		j.rightMatch[r] = true
	}
	switch j.plan.Kind {
	case InnerJoin, RightJoin:
		return pairs, nil
	case SemiJoin, AntiJoin:
		matched := make([]bool, ch.Len)
		for _, l := range li {
			matched[l] = true
		}
		var sel []int
		for i, m := range matched {
			if m == (j.plan.Kind == SemiJoin) {
				sel = append(sel, i)
			}
		}
		return ch.Gather(sel), nil
	}
	// Left and full joins: pairs plus unmatched left rows padded with NULLs,
	// keeping the left order.
	matched := make([]bool, ch.Len)
	for _, l := range li {
		matched[l] = true
	}
	out := coldata.NewChunk(j.plan.Types(), pairs.Len)
	nl := len(ch.Cols)
	p := 0
	for i := 0; i < ch.Len; i++ {
		if !matched[i] {
			for c := 0; c < nl; c++ {
				out.Cols[c].AppendFrom(ch.Cols[c], i)
			}
			for c := range j.build.Cols {
				out.Cols[nl+c].Append(nil)
			}
			out.Len++
			continue
		}
		for p < len(li) && li[p] == i {
			out.AppendFrom(pairs, p)
			p++
		}
	}
	return out, nil
}

func (j *joinOp) pairChunk(ch *coldata.Chunk, li, ri []int) *coldata.Chunk {
	out := &coldata.Chunk{Len: len(li)}
	for _, v := range ch.Cols {
		out.Cols = append(out.Cols, v.Gather(li))
	}
	for _, v := range j.build.Cols {
		out.Cols = append(out.Cols, v.Gather(ri))
	}
	return out
}
