package dataflow

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/cockroachdb/apd/v3"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/internal/randtest"
	"github.com/sluice-db/sluice/types"
)

// ConsolidatePages of a view's base (page-sized chunks and a short last
// one) with a delta's changes must hold the rows and sums a consolidation
// by the rows' printed text does, laid out for the bulk load: the base's
// chunks the delta left alone shared as they are, every chunk but the
// last a page, and the load adopting every one of them as a page.
func TestConsolidatePages(t *testing.T) {
	seed := uint64(randtest.EnvInt(t, "SLUICE_CONSOLIDATE_SEED", time.Now().UnixNano()))
	t.Logf("seed %d (SLUICE_CONSOLIDATE_SEED replays it)", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	typs := []*types.T{types.Int8, types.Text, types.Numeric}
	for _, groups := range []int{0, 700, 5*versionPageRows + 300, parallelConsolidateRows + 5000} {
		t.Run(fmt.Sprint(groups), func(t *testing.T) {
			row := func(k, v int) string {
				num := "NULL"
				if v%5 != 0 {
					num = fmt.Sprintf("%d.%d", v, v%3)
				}
				return fmt.Sprintf("k%d %s", k, num)
			}
			var base []string
			for k := range groups {
				base = append(base, fmt.Sprintf("+1 %d %s", k, row(k, k)))
			}
			// The delta changes the groups of every other page of the
			// base (one group in ten of those), retracting the old row
			// and inserting a new one; it adds new groups and one it
			// takes back.
			var delta []string
			for k := range groups {
				if k>>versionPageBits%2 == 1 && rng.IntN(10) == 0 {
					delta = append(delta, fmt.Sprintf("-1 %d %s", k, row(k, k)), fmt.Sprintf("+1 %d %s", k, row(k, k+1)))
				}
			}
			for k := groups; k < groups+groups/7; k++ {
				delta = append(delta, fmt.Sprintf("+1 %d %s", k, row(k, k)))
			}
			delta = append(delta, fmt.Sprintf("+1 %d %s", -1, row(1, 1)), fmt.Sprintf("-1 %d %s", -1, row(1, 1)))
			baseChunk := changeChunk(t, typs, base...)
			var cs []*coldata.Chunk
			for lo := 0; lo < baseChunk.Len; lo += versionPageRows {
				cs = append(cs, baseChunk.Gather(span(lo, min(lo+versionPageRows, baseChunk.Len))))
			}
			pages := len(cs)
			deltaChunk := changeChunk(t, typs, delta...)
			cs = append(cs, splitChunk(deltaChunk, rng)...)

			all := changeChunk(t, typs, append(slices.Clone(base), delta...)...)
			want := oracleConsolidate(typs, all)
			slices.Sort(want)
			out := ConsolidatePages(cs, typs)
			var got []string
			for _, c := range out {
				for i := range c.Len {
					got = append(got, fmt.Sprintf("%+d %s", c.Diffs[i], rowText(typs, c.Row(i))))
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("%d rows, want %d; first %q, want %q", len(got), len(want), got[:min(3, len(got))], want[:min(3, len(want))])
			}
			for i, c := range out[:max(len(out)-1, 0)] {
				if !pageSized(c) {
					t.Fatalf("chunk %d of %d holds %d rows, not a page", i, len(out), c.Len)
				}
			}
			shared := 0
			for _, c := range out {
				for _, b := range cs[:pages] {
					if c.Cols[0] == b.Cols[0] {
						shared++
					}
				}
			}
			// The even pages of the base, but a short last one.
			if fit := groups >> versionPageBits; shared != (fit+1)/2 {
				t.Fatalf("%d chunks of the base shared, want %d", shared, (fit+1)/2)
			}
			if len(want) <= presizedIndexRows {
				return
			}
			a := NewArrangement(typs, []int{0})
			if err := a.Apply(1, out...); err != nil {
				t.Fatal(err)
			}
			for i, p := range a.work.pages[:len(a.work.pages)-1] {
				if p.rows.Cols[0] != out[i].Cols[0] {
					t.Fatalf("page %d of %d copied, not adopted", i, len(a.work.pages))
				}
			}
			if got := scanText(a.Snapshot(1), typs); len(got) != len(want) {
				t.Fatalf("the arrangement holds %d rows, want %d", len(got), len(want))
			}
		})
	}
}

// span returns lo, lo+1, ..., hi-1.
func span(lo, hi int) []int {
	sel := make([]int, 0, hi-lo)
	for i := lo; i < hi; i++ {
		sel = append(sel, i)
	}
	return sel
}

// BenchmarkConsolidatePages consolidates a restore's rows: a base of 1 M
// rows (an int key, text, a numeric) in page-sized chunks with a delta
// changing one row in eight, as ConsolidatePages does at a restart.
func BenchmarkConsolidatePages(b *testing.B) {
	typs := []*types.T{types.Int8, types.Text, types.Numeric}
	const groups = 1 << 20
	rng := rand.New(rand.NewPCG(1, 2))
	page := func(lo, n int, d int64, v func(k int) int) *coldata.Chunk {
		c := NewChanges(typs, n)
		for k := lo; k < lo+n; k++ {
			c.AppendRow([]types.Datum{int64(k), fmt.Sprintf("name%d", k), apd.New(int64(v(k)), 0)})
			c.Diffs = append(c.Diffs, d)
		}
		return c
	}
	var cs []*coldata.Chunk
	for lo := 0; lo < groups; lo += versionPageRows {
		cs = append(cs, page(lo, versionPageRows, 1, func(k int) int { return k }))
	}
	for range groups / 8 / versionPageRows {
		lo := rng.IntN(groups/versionPageRows) * versionPageRows
		cs = append(cs, page(lo, versionPageRows/8, -1, func(k int) int { return k }), page(lo, versionPageRows/8, 1, func(k int) int { return k + 1 }))
	}
	b.ResetTimer()
	for range b.N {
		ConsolidatePages(cs, typs)
	}
}
