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
	probing    probeState
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

// maxJoinPairs bounds the candidate pairs one probe step makes, so that a
// left chunk whose rows match many build rows each is joined in bounded
// pieces instead of all at once.
const maxJoinPairs = 1 << 16

// probeState is the left chunk being probed: rows before next are done,
// row next has been paired with its first rpos candidates.
type probeState struct {
	ch         *coldata.Chunk
	next, rpos int
	matched    []bool // per left row: a pair passed the condition
}

func (j *joinOp) Next() (*coldata.Chunk, error) {
	if !j.built {
		j.built = true
		if err := j.buildSide(); err != nil {
			return nil, err
		}
	}
	for !j.leftDone || j.probing.ch != nil {
		if err := j.c.Eval.Ctx.Err(); err != nil {
			return nil, err
		}
		if j.probing.ch == nil {
			ch, err := j.left.Next()
			if err != nil {
				return nil, err
			}
			if ch == nil {
				j.leftDone = true
				break
			}
			j.probing = probeState{ch: ch, matched: make([]bool, ch.Len)}
		}
		out, err := j.probe()
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

// candidates returns the build rows left row i may join: list, or every
// build row when all is set (no equality keys); none for a NULL key.
func (j *joinOp) candidates(ch *coldata.Chunk, i int) (list []int32, all bool) {
	switch {
	case len(j.plan.LeftKeys) == 0:
		return nil, true
	case j.intTable != nil:
		kv := ch.Cols[j.plan.LeftKeys[0]]
		if kv.IsNull(i) {
			return nil, false
		}
		return j.intTable[kv.Ints[i]], false
	}
	k, ok := j.joinKey(ch, j.plan.LeftKeys, i)
	if !ok {
		return nil, false
	}
	return j.table[k], false
}

// probe joins the next piece of the left chunk being probed (at most
// maxJoinPairs candidate pairs) against the build side, and lets the chunk
// go once its last row is done.
func (j *joinOp) probe() (*coldata.Chunk, error) {
	p := &j.probing
	ch, start := p.ch, p.next
	var li, ri []int
	for p.next < ch.Len && len(li) < maxJoinPairs {
		list, all := j.candidates(ch, p.next)
		n := len(list)
		if all {
			n = j.build.Len
		}
		for ; p.rpos < n && len(li) < maxJoinPairs; p.rpos++ {
			r := p.rpos
			if !all {
				r = int(list[p.rpos])
			}
			li = append(li, p.next)
			ri = append(ri, r)
		}
		if p.rpos < n {
			break // row p.next goes on in the next piece
		}
		p.next, p.rpos = p.next+1, 0
	}
	done := p.next // rows [start, done) have had every candidate
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
	for _, l := range li {
		p.matched[l] = true
	}
	matched := p.matched
	if p.next == ch.Len {
		j.probing = probeState{}
	}
	switch j.plan.Kind {
	case InnerJoin, RightJoin:
		return pairs, nil
	case SemiJoin, AntiJoin:
		var sel []int
		for i := start; i < done; i++ {
			if matched[i] == (j.plan.Kind == SemiJoin) {
				sel = append(sel, i)
			}
		}
		return ch.Gather(sel), nil
	}
	// Left and full joins: pairs plus the done left rows that matched
	// nothing, padded with NULLs, keeping the left order.
	out := coldata.NewChunk(j.plan.Types(), pairs.Len)
	nl := len(ch.Cols)
	k := 0
	for i := start; i < done || k < len(li); i++ {
		if i < done && !matched[i] {
			for c := 0; c < nl; c++ {
				out.Cols[c].AppendFrom(ch.Cols[c], i)
			}
			for c := range j.build.Cols {
				out.Cols[nl+c].Append(nil)
			}
			out.Len++
			continue
		}
		for k < len(li) && li[k] == i {
			out.AppendFrom(pairs, k)
			k++
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
