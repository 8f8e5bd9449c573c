package dataflow

import (
	"slices"
	"sort"

	"github.com/sluice-db/sluice/coldata"
)

// loadRows locates a bulk load's positions: the rows of cs in order, from
// position starts[c] on for cs[c], in pages.
type loadRows struct {
	cs     []*coldata.Chunk
	starts []int
	pages  []*versionPage
}

// at returns the chunk holding position p and p's row in it.
func (l loadRows) at(p int) (*coldata.Chunk, int) {
	c := sort.SearchInts(l.starts, p+1) - 1
	return l.cs[c], p - l.starts[c]
}

// kill lets position p die at epoch e, the one it is born at: no reader
// ever sees it.
func (l loadRows) kill(p int, e uint64) {
	l.pages[p>>versionPageBits].died[p&(versionPageRows-1)] = e
}

// pageSizedFirst returns cs with its page-sized chunks first, each part
// in its order.
func pageSizedFirst(cs []*coldata.Chunk) []*coldata.Chunk {
	out := make([]*coldata.Chunk, 0, len(cs))
	for _, c := range cs {
		if pageSized(c) {
			out = append(out, c)
		}
	}
	for _, c := range cs {
		if !pageSized(c) {
			out = append(out, c)
		}
	}
	return out
}

// settleKeys settles the changes of a bulk load (load with settle) key by
// key: in the keys' order (order, with their prefixes), each run of items
// of one key holds that key's changes, and of the rows' identities among
// them the one whose diffs sum to 1 keeps a position that inserts it while
// every other position dies at e (its item's count set to 0). A run on
// each of parts ranges of the order at once. It returns how many died, and
// false (having killed some, maybe) when the changes do not settle to at
// most an insertion of one copy per key: an identity summing to other than
// 0 or 1, two summing to 1, or a change other than an insertion of one
// copy without another change of its key (changed counts those in all).
func settleKeys(e uint64, rows loadRows, items []orderItem[*keyEntry], order []int32, prefixes [2][]uint64, parts, changed int) (int, bool) {
	n := len(order)
	parts = max(1, min(parts, n))
	sameKey := func(x, y int) bool {
		i, j := order[x], order[y]
		return prefixes[0][i] == prefixes[0][j] && prefixes[1][i] == prefixes[1][j] && items[i].key == items[j].key
	}
	// starts[w] is where part w's runs begin: a run that began in the
	// part before is that part's.
	starts := make([]int, parts+1)
	starts[parts] = n
	for w := 1; w < parts; w++ {
		from := max(w*n/parts, starts[w-1])
		for from > 0 && from < n && sameKey(from-1, from) {
			from++
		}
		starts[w] = from
	}
	dead, settled := make([]int, parts), make([]int, parts)
	failed := make([]bool, parts)
	forEach(parts, func(w int) {
		var s runSettler
		for lo, to := starts[w], starts[w+1]; lo < to && !failed[w]; {
			hi := lo + 1
			for hi < to && sameKey(hi, lo) {
				hi++
			}
			if hi-lo > 1 {
				k, ok := s.settle(e, rows, items, order[lo:hi])
				dead[w] += hi - lo - 1
				if k < 0 {
					dead[w]++
				}
				settled[w] += s.changed
				failed[w] = !ok
			}
			lo = hi
		}
	})
	return sumOf(dead), !slices.Contains(failed, true) && sumOf(settled) == changed
}

// runSettler settles the run of one key's changes, keeping its scratch
// from one run to the next.
type runSettler struct {
	// ident[k] is the first change of the run with change k's identity,
	// sums[k] the sum of the diffs of that identity's changes when
	// ident[k] == k.
	ident []int
	sums  []int64
	diffs []int64
	// changed counts the run's changes that are not insertions of one
	// copy.
	changed int
}

// settle settles run, positions holding one key, and returns the change
// that keeps its position (-1 for none: the key is gone) and whether the
// run settles to at most one insertion of one copy.
func (s *runSettler) settle(e uint64, rows loadRows, items []orderItem[*keyEntry], run []int32) (int, bool) {
	s.ident, s.sums, s.diffs, s.changed = s.ident[:0], s.sums[:0], s.diffs[:0], 0
	for k, p := range run {
		c, i := rows.at(int(p))
		id := k
		for j := range k {
			if s.ident[j] == j {
				if cj, ij := rows.at(int(run[j])); sameIdentity(c.Cols, i, cj.Cols, ij) {
					id = j
					break
				}
			}
		}
		d := c.Diffs[i]
		if d != 1 {
			s.changed++
		}
		s.ident, s.sums, s.diffs = append(s.ident, id), append(s.sums, 0), append(s.diffs, d)
		s.sums[id] += d
	}
	kept, ok := -1, true
	for k, id := range s.ident {
		if id != k || s.sums[k] == 0 {
			continue
		}
		if s.sums[k] != 1 || kept >= 0 {
			ok = false
		}
		kept = k
	}
	if kept >= 0 {
		// The identity's first insertion.
		id := kept
		kept = -1
		for k := range run {
			if s.ident[k] == id && s.diffs[k] == 1 {
				kept = k
				break
			}
		}
	}
	for k, p := range run {
		if k != kept {
			items[p].count = 0
			rows.kill(int(p), e)
		}
	}
	return kept, ok
}

// sumOf returns the sum of xs.
func sumOf(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}
