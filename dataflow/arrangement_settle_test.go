package dataflow

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/apd/v3"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/internal/randtest"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

var settleTypes = []*types.T{types.Int8, types.Text, types.Numeric}

// settleRow prints group k's row of value v: a numeric whose scale
// changes with v (2.1 and 2.10 are different rows of one key), or NULL.
func settleRow(k, v int) string {
	num := "NULL"
	if v%5 != 0 {
		num = fmt.Sprintf("%d.%d", v, v%3)
		if v%2 == 0 {
			num += "0"
		}
	}
	return fmt.Sprintf("%d k%d %s", k, k, num)
}

// pagesOf cuts c into chunks of a page, the last shorter.
func pagesOf(c *coldata.Chunk) []*coldata.Chunk {
	var out []*coldata.Chunk
	for lo := 0; lo < c.Len; lo += versionPageRows {
		sel := make([]int, 0, versionPageRows)
		for i := lo; i < min(lo+versionPageRows, c.Len); i++ {
			sel = append(sel, i)
		}
		out = append(out, c.Gather(sel))
	}
	return out
}

// restoredChanges returns a view's base of groups rows (in chunks of a
// page, the last shorter) and two deltas' changes (in chunks of random
// sizes) as a restore reads them, and the rows they settle to, printed
// and sorted. The first delta changes one group in ten of every other
// page of the base (-old, +new), adds groups and inserts and takes back
// one; the second changes some of those again, deletes groups of the
// base and of the first delta, and adds one back that the first took.
func restoredChanges(t testing.TB, rng *rand.Rand, groups int) (base, deltas []*coldata.Chunk, want []string) {
	var lines, delta1, delta2 []string
	for k := range groups {
		lines = append(lines, "+1 "+settleRow(k, k))
	}
	value := map[int]int{}
	for k := range groups {
		value[k] = k
		if k>>versionPageBits%2 == 1 && rng.IntN(10) == 0 {
			delta1 = append(delta1, "-1 "+settleRow(k, k), "+1 "+settleRow(k, k+1))
			value[k] = k + 1
		}
	}
	for k := groups; k < groups+groups/7; k++ {
		delta1 = append(delta1, "+1 "+settleRow(k, k))
		value[k] = k
	}
	delta1 = append(delta1, "+1 "+settleRow(-1, 1), "-1 "+settleRow(-1, 1))
	for k := range groups + groups/7 {
		switch rng.IntN(20) {
		case 0:
			delta2 = append(delta2, "-1 "+settleRow(k, value[k]), "+1 "+settleRow(k, value[k]+2))
			value[k] += 2
		case 1:
			delta2 = append(delta2, "-1 "+settleRow(k, value[k]))
			delete(value, k)
		}
	}
	delta2 = append(delta2, "+1 "+settleRow(-1, 3))
	value[-1] = 3
	for k, v := range value {
		want = append(want, settleRow(k, v))
	}
	for i, w := range want {
		want[i] = rowText(settleTypes, changeChunk(t, settleTypes, "+1 "+w).Row(0))
	}
	slices.Sort(want)
	base = pagesOf(changeChunk(t, settleTypes, lines...))
	for _, d := range [][]string{delta1, delta2} {
		rng.Shuffle(len(d), func(i, j int) { d[i], d[j] = d[j], d[i] })
		deltas = append(deltas, splitChunk(changeChunk(t, settleTypes, d...), rng)...)
	}
	return base, deltas, want
}

// A restored view's base rows with its deltas' changes, not consolidated,
// applied to its empty arrangement, must read as the rows they settle to:
// by scans, lookups and ranges, and take changes after, keyed or not,
// bulk loaded or not. A bulk load adopts the base's pages as they are,
// whatever the chunks' order, and its dead positions are dropped by a
// compaction.
func TestArrangementSettlesRestoredChanges(t *testing.T) {
	seed := uint64(randtest.EnvInt(t, "SLUICE_SETTLE_SEED", time.Now().UnixNano()))
	t.Logf("seed %d (SLUICE_SETTLE_SEED replays it)", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	for _, groups := range []int{300, 5*versionPageRows + 300, 20000} {
		for _, key := range [][]int{{0}, nil} {
			t.Run(fmt.Sprintf("%d/%v", groups, key), func(t *testing.T) {
				base, deltas, want := restoredChanges(t, rng, groups)
				cs := slices.Concat(base, deltas)
				if rng.IntN(2) == 0 {
					cs = slices.Concat(deltas, base)
				}
				a := NewArrangement(settleTypes, key)
				if err := a.Apply(1, cs...); err != nil {
					t.Fatal(err)
				}
				s := a.Snapshot(1)
				if got := scanText(s, settleTypes); !slices.Equal(got, want) {
					t.Fatalf("%d rows, want %d; first %q, want %q", len(got), len(want), got[:min(3, len(got))], want[:min(3, len(want))])
				}
				if s.Len() != len(want) {
					t.Fatalf("Len %d, want %d", s.Len(), len(want))
				}
				if key == nil {
					return
				}
				for _, w := range want[:min(50, len(want))] {
					f := strings.Fields(w)
					k := changeChunk(t, settleTypes, "+1 "+w).Row(0)[0]
					if row, ok := s.Lookup([]types.Datum{k}); !ok || rowText(settleTypes, row) != w {
						t.Fatalf("Lookup %s: %v %v, want %q", f[0], row, ok, w)
					}
				}
				if got := scanRangeText(s, settleTypes, KeyRange{}); !slices.Equal(slices.Sorted(slices.Values(got)), want) {
					t.Fatalf("range scan: %d rows, want %d", len(got), len(want))
				}
				bulk := len(want) > presizedIndexRows
				if bulk {
					for i, b := range base[:len(base)-1] {
						if a.work.pages[i].rows.Cols[0] != b.Cols[0] {
							t.Fatalf("page %d of the base copied, not adopted", i)
						}
					}
				}
				// Every group taken back at epoch 2: the writer's index
				// holds the rows that live, not the dead ones of their
				// keys.
				var back []string
				for _, w := range want {
					back = append(back, "-1 "+w)
				}
				if err := a.Apply(2, changeChunk(t, settleTypes, back...)); err != nil {
					t.Fatal(err)
				}
				compacted := a.Compact(2)
				if got := scanText(a.Snapshot(2), settleTypes); len(got) != 0 {
					t.Fatalf("%d rows after taking every group back", len(got))
				}
				if bulk && (!compacted || a.work.n != 0) {
					t.Fatalf("%d positions after the compaction, want none", a.work.n)
				}
			})
		}
	}
}

// Changes that do not settle to an insertion of one copy per key fail as
// they would consolidated: a retraction of a row the base does not hold
// (a [BUG]), a key inserted twice (a unique violation).
func TestArrangementSettleFails(t *testing.T) {
	var base []string
	for k := range 3 * presizedIndexRows {
		base = append(base, "+1 "+settleRow(k, k))
	}
	for _, c := range []struct {
		name  string
		delta []string
		code  string
	}{
		{"retract another value", []string{"-1 " + settleRow(7, 8), "+1 " + settleRow(7, 9)}, ""},
		{"retract an absent key", []string{"-1 " + settleRow(-5, 1)}, ""},
		{"insert a key again", []string{"-1 " + settleRow(3, 3), "+1 " + settleRow(3, 4), "+1 " + settleRow(4, 5)}, sqlerr.UniqueViolation},
		{"retract twice", []string{"-1 " + settleRow(3, 3), "-1 " + settleRow(3, 3), "+1 " + settleRow(3, 4)}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := NewArrangement(settleTypes, []int{0})
			err := a.Apply(1, slices.Concat(pagesOf(changeChunk(t, settleTypes, base...)), []*coldata.Chunk{changeChunk(t, settleTypes, c.delta...)})...)
			if err == nil {
				t.Fatal("Apply succeeded")
			}
			if se, ok := sqlerr.As(err); c.code != "" && (!ok || se.Code != c.code) {
				t.Fatalf("Apply: %v, want code %s", err, c.code)
			}
		})
	}
}

// BenchmarkArrangementRestore applies a restore's rows to a view's empty
// arrangement: a base of 1 M rows (an int key, text, a numeric) in
// page-sized chunks with a delta changing one row in ten, as a restart
// from a base and a delta does.
func BenchmarkArrangementRestore(b *testing.B) {
	const groups = 1 << 20
	rng := rand.New(rand.NewPCG(1, 2))
	var cs []*coldata.Chunk
	for lo := 0; lo < groups; lo += versionPageRows {
		c := NewChanges(settleTypes, versionPageRows)
		for k := lo; k < lo+versionPageRows; k++ {
			c.AppendRow([]types.Datum{int64(k), fmt.Sprintf("name%d", k), apd.New(int64(k), 0)})
			c.Diffs = append(c.Diffs, 1)
		}
		cs = append(cs, c)
	}
	// The delta changes one group in ten, spread over every page, in
	// chunks of an epoch's output.
	var changed []int
	for k := range groups {
		if rng.IntN(10) == 0 {
			changed = append(changed, k)
		}
	}
	for lo := 0; lo < len(changed); lo += 1000 {
		c := NewChanges(settleTypes, 2000)
		for _, k := range changed[lo:min(lo+1000, len(changed))] {
			c.AppendRow([]types.Datum{int64(k), fmt.Sprintf("name%d", k), apd.New(int64(k), 0)})
			c.AppendRow([]types.Datum{int64(k), fmt.Sprintf("name%d", k), apd.New(int64(k+1), 0)})
			c.Diffs = append(c.Diffs, -1, 1)
		}
		cs = append(cs, c)
	}
	b.ResetTimer()
	for range b.N {
		if err := NewArrangement(settleTypes, []int{0}).Apply(1, cs...); err != nil {
			b.Fatal(err)
		}
	}
}
