package dataflow

import (
	"github.com/cockroachdb/apd/v3"

	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/internal/randtest"
	"github.com/sluice-db/sluice/types"
)

// ConsolidateChunks, serial (few rows) and partitioned on every CPU (many
// rows), must equal a consolidation by a map of the rows' printed text:
// the same rows in the same order (each at its first copy) with the same
// sums, none zero; and 1.0 and 1.00 stay apart.
func TestConsolidateChunks(t *testing.T) {
	seed := uint64(randtest.EnvInt(t, "SLUICE_CONSOLIDATE_SEED", time.Now().UnixNano()))
	t.Logf("seed %d (SLUICE_CONSOLIDATE_SEED replays it)", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	typs := []*types.T{types.Int8, types.Text, types.Numeric}
	for _, rows := range []int{0, 1, 50, 3000, parallelConsolidateRows + 5000} {
		t.Run(fmt.Sprint(rows), func(t *testing.T) {
			distinct := max(rows/3, 1)
			var lines []string
			for range rows {
				k := rng.IntN(distinct)
				num := fmt.Sprintf("%d.0", k%7)
				if k%2 == 0 {
					num += "0" // equal, printed apart
				}
				d := []int64{-1, 1, 1, 2}[rng.IntN(4)]
				lines = append(lines, fmt.Sprintf("%+d %d s%d %s", d, k%1000, k, num))
			}
			all := changeChunk(t, typs, lines...)
			// Some empty chunks among the pieces.
			var cs []*coldata.Chunk
			for _, c := range splitChunk(all, rng) {
				if rng.IntN(5) == 0 {
					cs = append(cs, NewChanges(typs, 0))
				}
				cs = append(cs, c)
			}
			want := oracleConsolidate(typs, all)
			var got []string
			out := ConsolidateChunks(cs)
			if len(out) != len(cs) {
				t.Fatalf("%d chunks out of %d", len(out), len(cs))
			}
			for _, c := range out {
				for i := range c.Len {
					if c.Diffs[i] == 0 {
						t.Fatalf("a zero diff kept")
					}
					got = append(got, fmt.Sprintf("%+d %s", c.Diffs[i], rowText(typs, c.Row(i))))
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("%d rows, want %d; first %q, want %q", len(got), len(want), got[:min(3, len(got))], want[:min(3, len(want))])
			}
			if one := Consolidate(all); rows > 0 && one.Len != len(want) {
				t.Fatalf("Consolidate: %d rows, want %d", one.Len, len(want))
			}
		})
	}
}

// oracleConsolidate consolidates by the rows' printed text (which tells
// 1.0 from 1.00), keeping first occurrences' order.
func oracleConsolidate(typs []*types.T, c *coldata.Chunk) []string {
	first := map[string]int{}
	var keys []string
	var sums []int64
	for i := range c.Len {
		k := rowText(typs, c.Row(i))
		j, ok := first[k]
		if !ok {
			j = len(keys)
			first[k] = j
			keys = append(keys, k)
			sums = append(sums, 0)
		}
		sums[j] += c.Diffs[i]
	}
	var out []string
	for j, k := range keys {
		if sums[j] != 0 {
			out = append(out, fmt.Sprintf("%+d %s", sums[j], k))
		}
	}
	return out
}

// BenchmarkConsolidate consolidates an epoch's output of 4096 rows (an
// aggregate's: each group's retraction and insertion, no two equal) as
// Step does, and one where half the rows cancel.
func BenchmarkConsolidate(b *testing.B) {
	for _, num := range []bool{false, true} {
		typs := []*types.T{types.Int8, types.Text, types.Int8}
		if num {
			typs[2] = types.Numeric
		}
		for _, cancel := range []bool{false, true} {
			c := NewChanges(typs, 4096)
			value := func(i int) types.Datum {
				if num {
					return apd.New(int64(i)*100+5, -2)
				}
				return int64(i)
			}
			for i := range 2048 {
				old := value(i)
				if !cancel {
					old = value(i + 1)
				}
				c.AppendRow([]types.Datum{int64(i), fmt.Sprintf("group-%d", i), old})
				c.Diffs = append(c.Diffs, -1)
				c.AppendRow([]types.Datum{int64(i), fmt.Sprintf("group-%d", i), value(i)})
				c.Diffs = append(c.Diffs, 1)
			}
			b.Run(fmt.Sprintf("numeric=%v/cancel=%v", num, cancel), func(b *testing.B) {
				b.ReportAllocs()
				for range b.N {
					Consolidate(c)
				}
			})
		}
	}
}
