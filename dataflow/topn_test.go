package dataflow

import (
	"cmp"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

var topNSeed = flag.Uint64("topn-seed", 0, "seed of TestTopNRandom (0: time-based)")

func init() {
	// topn in order=COL[:asc|desc][:nullsfirst|nullslast],... [limit=N]
	// [offset=N] [numbered=true] [ties=true] [dense=true]: NULLs default to last for asc and first for
	// desc, as in PostgreSQL; no limit means all rows from offset on.
	testOps["topn"] = func(in [][]*types.T, args map[string]string) (OpSpec, error) {
		t := &TopN{Typs: in[0], Limit: -1}
		for _, s := range strings.Split(args["order"], ",") {
			if s == "" {
				continue
			}
			parts := strings.Split(s, ":")
			col, err := strconv.Atoi(parts[0])
			if err != nil {
				return nil, fmt.Errorf("order %q: %v", s, err)
			}
			k := SortKey{Col: col}
			for _, p := range parts[1:] {
				switch p {
				case "asc":
				case "desc":
					k.Desc = true
				case "nullsfirst", "nullslast":
				default:
					return nil, fmt.Errorf("order %q: unknown %q", s, p)
				}
			}
			k.NullsFirst = k.Desc
			if slices.Contains(parts, "nullsfirst") {
				k.NullsFirst = true
			} else if slices.Contains(parts, "nullslast") {
				k.NullsFirst = false
			}
			t.Order = append(t.Order, k)
		}
		var err error
		if s, ok := args["limit"]; ok {
			if t.Limit, err = strconv.ParseInt(s, 10, 64); err != nil {
				return nil, err
			}
		}
		if s, ok := args["offset"]; ok {
			if t.Offset, err = strconv.ParseInt(s, 10, 64); err != nil {
				return nil, err
			}
		}
		t.Numbered = args["numbered"] == "true"
		t.WithTies = args["ties"] == "true"
		t.Dense = args["dense"] == "true"
		return t, nil
	}
}

// topNReference computes the output of spec over input from scratch: sort
// with types.Compare, cut the window out of the expanded rowBag.
func topNReference(spec *TopN, input rowBag) map[string]int64 {
	keys := make([]string, 0, len(input))
	for k := range input {
		keys = append(keys, k)
	}
	cmpOrder := func(a, b []types.Datum) int {
		for _, k := range spec.Order {
			av, bv := a[k.Col], b[k.Col]
			var c int
			switch {
			case av == nil && bv == nil:
			case av == nil:
				c = 1
				if k.NullsFirst {
					c = -1
				}
			case bv == nil:
				c = -1
				if k.NullsFirst {
					c = 1
				}
			default:
				c = types.Compare(spec.Typs[k.Col], av, bv)
				if k.Desc {
					c = -c
				}
			}
			if c != 0 {
				return c
			}
		}
		return 0
	}
	slices.SortFunc(keys, func(x, y string) int {
		return cmp.Or(cmpOrder(input[x].row, input[y].row), strings.Compare(x, y))
	})
	end := int64(-1)
	if spec.Limit >= 0 {
		end = spec.Offset + spec.Limit
	}
	// With ties, the rows tied with the one at rank end-1 are in too.
	var cutoff []types.Datum
	var rank int64
	for _, k := range keys {
		if rank += input[k].n; end > spec.Offset && rank >= end {
			cutoff = input[k].row
			break
		}
	}
	want := map[string]int64{}
	var tieRank, denseRank int64
	var prev []types.Datum
	rank = 0
	for _, k := range keys {
		row := input[k].row
		lo, hi := rank, rank+input[k].n
		if prev == nil || cmpOrder(prev, row) != 0 {
			tieRank = lo + 1 // rank(): the rank of the first row tied
			denseRank++      // dense_rank(): the place of the row's value
		}
		prev, rank = row, hi
		lo = max(lo, spec.Offset)
		tied := spec.WithTies && cutoff != nil && cmpOrder(row, cutoff) == 0
		if end >= 0 && !tied {
			hi = min(hi, end)
		}
		if spec.Dense {
			lo, hi, tieRank = 0, input[k].n, denseRank
			if denseRank > spec.Limit {
				hi = 0
			}
		}
		switch {
		case hi <= lo:
		case spec.Numbered && spec.WithTies:
			want[datumKey(spec.Types(), append(slices.Clone(row), tieRank))] = hi - lo
		case spec.Numbered:
			// Each copy is a row of its own with its 1-based rank.
			for r := lo; r < hi; r++ {
				want[datumKey(spec.Types(), append(slices.Clone(row), r+1))] = 1
			}
		default:
			want[k] = hi - lo
		}
	}
	return want
}

// topNGroupedReference is topNReference per group of spec.Group.
func topNGroupedReference(spec *TopN, input rowBag) map[string]int64 {
	groups := map[string]rowBag{}
	for k, r := range input {
		c := coldata.NewChunk(spec.Typs, 1)
		c.AppendRow(r.row)
		g := ""
		if len(spec.Group) > 0 { // RowKey of no columns is of all
			g = string(RowKey(nil, c, spec.Group, 0))
		}
		if groups[g] == nil {
			groups[g] = rowBag{}
		}
		groups[g][k] = r
	}
	want := map[string]int64{}
	for _, bag := range groups {
		maps.Copy(want, topNReference(spec, bag))
	}
	return want
}

func TestTopNRandom(t *testing.T) {
	rng := seededRand(t, topNSeed, "topn-seed")
	configs := []struct {
		name                    string
		domain, changes, epochs int
		limits, offsets         []int64
	}{
		// Few distinct values: ties, multiplicities, NULLs at the edges.
		{"small", 4, 6, 40, []int64{-1, 0, 1, 3}, []int64{0, 1, 4}},
		// Thousands of rows: tree splits, rank seeks deep in the tree and
		// rebuilds after mass deletes.
		{"large", 5000, 1500, 12, []int64{-1, 10, 500}, []int64{0, 7, 900}},
	}
	for _, cfg := range configs {
		for _, workers := range []int{1, 3} {
			for i := 0; i < 4; i++ {
				spec := &TopN{Typs: mixedTypes, Limit: cfg.limits[rng.IntN(len(cfg.limits))], Offset: cfg.offsets[rng.IntN(len(cfg.offsets))]}
				for _, col := range rng.Perm(3)[:1+rng.IntN(3)] {
					spec.Order = append(spec.Order, SortKey{Col: col, Desc: rng.IntN(2) == 0, NullsFirst: rng.IntN(2) == 0})
				}
				// Half the specs rank within groups (DISTINCT ON, top-N per
				// group): of one column, or two.
				if rng.IntN(2) == 0 {
					spec.Group = rng.Perm(3)[:1+rng.IntN(2)]
				}
				// A third over an append-only input, which lets the
				// operator forget rows past the window.
				spec.AppendOnly = spec.Limit >= 0 && rng.IntN(3) == 0
				// A third of the limited ones number their rows
				// (row_number() <= N).
				spec.Numbered = spec.Limit >= 0 && rng.IntN(3) == 0
				// A third of those keep the rows tied with the last
				// (FETCH FIRST … WITH TIES, rank() <= N).
				spec.WithTies = spec.Limit >= 0 && (spec.Offset == 0 || !spec.Numbered) && rng.IntN(3) == 0
				// Half of those without an offset count values, not rows
				// (dense_rank() <= N).
				spec.Dense = spec.WithTies && spec.Offset == 0 && rng.IntN(2) == 0
				t.Run(fmt.Sprintf("%s/workers=%d/%s", cfg.name, workers, spec), func(t *testing.T) {
					randomEpochs{
						spec:       spec,
						epochs:     cfg.epochs,
						changes:    cfg.changes,
						domain:     cfg.domain,
						workers:    workers,
						chunk:      []int{3, coldata.DefaultChunkSize}[rng.IntN(2)],
						expected:   func(input rowBag) map[string]int64 { return topNGroupedReference(spec, input) },
						insertOnly: spec.AppendOnly,
					}.run(t, rng)
				})
			}
		}
	}
}

// TestOrderTree checks ranks and order of the tree against a sorted slice
// through inserts, count changes and zero-count items.
func TestOrderTree(t *testing.T) {
	rng := seededRand(t, topNSeed, "topn-seed")
	var tree orderTree[struct{}]
	counts := map[string]int64{}
	for range 20000 {
		key := fmt.Sprintf("%05d", rng.IntN(3000))
		d := int64(1 + rng.IntN(3))
		if counts[key] > 0 && rng.IntN(2) == 0 {
			d = -min(d, counts[key])
		}
		counts[key] += d
		tree.add([]byte(key), d)
	}
	_, ranks := checkTreeCounts(t, &tree, counts, "")
	for _, r := range []int{0, 1, 62, 63, 64, len(ranks) / 2, len(ranks) - 1, len(ranks), len(ranks) + 5} {
		it, skip := tree.seek(int64(r))
		var got []string
		for item := it.next(); item != nil && len(got) < 200; item = it.next() {
			for n := item.count - skip; n > 0 && len(got) < 200; n-- {
				got = append(got, item.key)
			}
			skip = 0
		}
		if want := ranks[min(r, len(ranks)):min(r+200, len(ranks))]; !slices.Equal(got, want) {
			t.Fatalf("seek(%d): got %v, want %v", r, got, want)
		}
	}
}

// checkTreeCounts checks tree's total count, zero-count items and items
// against counts, the model of what was added to it, and returns the
// model's keys, sorted, and the key at each rank. where prefixes a
// failure.
func checkTreeCounts(t *testing.T, tree *orderTree[struct{}], counts map[string]int64, where string) (keys, ranks []string) {
	t.Helper()
	keys = slices.Sorted(maps.Keys(counts))
	zeros := 0
	for _, k := range keys {
		if counts[k] == 0 {
			zeros++
		}
		for range counts[k] {
			ranks = append(ranks, k)
		}
	}
	if tree.total() != int64(len(ranks)) || tree.zeros != zeros || tree.items != len(keys) {
		t.Fatalf("%stotal %d zeros %d items %d, want %d %d %d", where, tree.total(), tree.zeros, tree.items, len(ranks), zeros, len(keys))
	}
	return keys, ranks
}

// TestBuildOrderTreeSmall checks that a tree of a few items costs about
// its items: top-N and session windows build one per group, and a block of
// nodes for each (as once) held 25 KB a group.
func TestBuildOrderTreeSmall(t *testing.T) {
	items := []*orderItem[struct{}]{{key: "a", count: 1}, {key: "b", count: 1}, {key: "c", count: 1}}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const trees = 20000
	for range trees {
		buildOrderTree(items)
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / trees; per > 512 {
		t.Fatalf("a tree of 3 items allocated %d bytes, want at most 512", per)
	}
}

// TestBuildOrderTree builds trees of sorted items (from 65536 on, the root's
// children on every CPU), checks their shape (every
// leaf at one depth, no node empty or over full, sizes summed right), order
// and ranks, then adds items to them.
func TestBuildOrderTree(t *testing.T) {
	rng := seededRand(t, topNSeed, "topn-seed")
	for _, n := range []int{0, 1, 31, 32, 33, 63, 64, 1023, 1056, 1057, 40000, 70000, 150000} {
		var items []*orderItem[struct{}]
		counts := map[string]int64{}
		for i := range n {
			key := fmt.Sprintf("%06d", 2*i)
			items = append(items, &orderItem[struct{}]{key: key, count: int64(rng.IntN(3))})
			counts[key] = items[i].count
		}
		tree := buildOrderTree(items)
		leafDepth := -1
		nodes := 0
		var walk func(nd *orderNode[struct{}], depth int) int64
		walk = func(nd *orderNode[struct{}], depth int) int64 {
			nodes++
			if len(nd.items) == 0 || len(nd.items) > maxNodeItems {
				t.Fatalf("n=%d: node of %d items", n, len(nd.items))
			}
			var sum int64
			for _, e := range nd.items {
				sum += e.item.count
			}
			if nd.children == nil {
				if leafDepth >= 0 && depth != leafDepth {
					t.Fatalf("n=%d: leaves at depths %d and %d", n, leafDepth, depth)
				}
				leafDepth = depth
			} else if len(nd.children) != len(nd.items)+1 {
				t.Fatalf("n=%d: %d children for %d items", n, len(nd.children), len(nd.items))
			}
			for _, c := range nd.children {
				sum += walk(c, depth+1)
			}
			if sum != nd.size {
				t.Fatalf("n=%d: node size %d, counts sum to %d", n, nd.size, sum)
			}
			return sum
		}
		if tree.root != nil {
			walk(tree.root, 0)
			height, capacity := 0, halfNodeItems
			for capacity < n {
				height, capacity = height+1, halfNodeItems+(halfNodeItems+1)*capacity
			}
			if want := orderNodes(n, height, capacity); nodes != want {
				t.Fatalf("n=%d: %d nodes, orderNodes says %d", n, nodes, want)
			}
		}
		// Odd keys go between the built ones.
		for range 200 {
			key := fmt.Sprintf("%06d", 2*rng.IntN(n+10)+1)
			d := int64(1 + rng.IntN(2))
			counts[key] += d
			tree.add([]byte(key), d)
		}
		keys, ranks := checkTreeCounts(t, &tree, counts, fmt.Sprintf("n=%d: ", n))
		var got []string
		it := tree.seekKey(nil)
		for item := it.next(); item != nil; item = it.next() {
			got = append(got, item.key)
		}
		if !slices.Equal(got, keys) {
			t.Fatalf("n=%d: keys out of order", n)
		}
		for range 50 {
			from := fmt.Sprintf("%06d", rng.IntN(2*n+30))
			it := tree.seekKey([]byte(from))
			want, _ := slices.BinarySearch(keys, from)
			if item := it.next(); (item == nil) != (want == len(keys)) || item != nil && item.key != keys[want] {
				t.Fatalf("n=%d: seekKey(%s) = %v", n, from, item)
			}
		}
		for _, r := range []int{0, len(ranks) / 3, len(ranks) - 1} {
			if r < 0 {
				continue
			}
			it, skip := tree.seek(int64(r))
			if item := it.next(); item == nil || item.key != ranks[r] || skip >= item.count {
				t.Fatalf("n=%d: seek(%d) = %v, want %s", n, r, item, ranks[r])
			}
		}
	}
}

// BenchmarkTopN pushes 1M random rows into an ORDER BY value LIMIT 10, one
// epoch per 1024-row chunk.
func BenchmarkTopN(b *testing.B) {
	typs := []*types.T{types.Int8, types.Int8}
	rng := rand.New(rand.NewPCG(1, 2))
	const rows = 1 << 20
	var chunks []*coldata.Chunk
	for lo := 0; lo < rows; lo += coldata.DefaultChunkSize {
		c := NewChanges(typs, coldata.DefaultChunkSize)
		for i := 0; i < coldata.DefaultChunkSize; i++ {
			c.AppendRow([]types.Datum{rng.Int64(), int64(lo + i)})
			c.Diffs = append(c.Diffs, 1)
		}
		chunks = append(chunks, c)
	}
	spec := &TopN{Typs: typs, Order: []SortKey{{Col: 0}}, Limit: 10}
	emit := func(*coldata.Chunk) error { return nil }
	b.ResetTimer()
	for range b.N {
		op, _ := spec.New(&Env{Workers: 1})
		for _, c := range chunks {
			if err := op.Push(0, c, emit); err != nil {
				b.Fatal(err)
			}
			if err := op.Flush(emit); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
}
