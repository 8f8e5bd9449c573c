package dataflow

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/types"
)

var distinctSeed = flag.Uint64("distinct-seed", 0, "seed of TestDistinctRandom (0: time-based)")

func init() {
	// distinct in
	testOps["distinct"] = func(in [][]*types.T, _ map[string]string) (OpSpec, error) {
		return &Distinct{Typs: in[0]}, nil
	}
}

// rowBag is a rowBag of rows by row key, as a test reference or as the
// fold of an operator's output changes.
type rowBag map[string]*bagRow

type bagRow struct {
	row []types.Datum
	n   int64
}

// datumKey is the RowIdentity of a row given as Datums: the bag tells
// apart equal rows that print differently, as change sets do.
func datumKey(typs []*types.T, row []types.Datum) string {
	c := coldata.NewChunk(typs, 1)
	c.AppendRow(row)
	return string(RowIdentity(nil, c, nil, 0))
}

// datumSQLKey is the RowKey of a row given as Datums: rows equal under SQL
// comparison share it.
func datumSQLKey(typs []*types.T, row []types.Datum) string {
	var buf []byte
	for i, t := range typs {
		buf = types.AppendKey(buf, t, row[i])
	}
	return string(buf)
}

func (m rowBag) add(typs []*types.T, row []types.Datum, n int64) {
	k := datumKey(typs, row)
	r := m[k]
	if r == nil {
		r = &bagRow{row: row}
		m[k] = r
	}
	if r.n += n; r.n == 0 {
		delete(m, k)
	}
}

func (m rowBag) fold(c *coldata.Chunk) {
	ts := c.Types()
	for i := 0; i < c.Len; i++ {
		m.add(ts, c.Row(i), c.Diffs[i])
	}
}

// counts returns the multiplicity of every row.
func (m rowBag) counts() map[string]int64 {
	out := make(map[string]int64, len(m))
	for k, r := range m {
		out[k] = r.n
	}
	return out
}

// sqlCounts returns the multiplicity of every row, rows equal under SQL
// comparison counted as one.
func (m rowBag) sqlCounts(typs []*types.T) map[string]int64 {
	out := make(map[string]int64, len(m))
	for _, r := range m {
		out[datumSQLKey(typs, r.row)] += r.n
	}
	return out
}

// diffCounts describes how got differs from want, or returns "".
func diffCounts(m rowBag, got, want map[string]int64) string {
	var lines []string
	for k, n := range want {
		if got[k] != n {
			lines = append(lines, fmt.Sprintf("%s: got %d, want %d", m.text(k), got[k], n))
		}
	}
	for k, n := range got {
		if _, ok := want[k]; !ok {
			lines = append(lines, fmt.Sprintf("%s: got %d, want 0", m.text(k), n))
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

func (m rowBag) text(k string) string {
	if r := m[k]; r != nil {
		return fmt.Sprint(r.row)
	}
	return fmt.Sprintf("%x", k)
}

// mixedTypes are the columns of the rows mixedRow makes.
var mixedTypes = []*types.T{types.Int8, types.Text, types.Float8}

// mixedRow returns a random row drawn from about domain values per column,
// with NULLs, and float values that are equal but spelled differently.
func mixedRow(rng *rand.Rand, domain int) []types.Datum {
	row := make([]types.Datum, 3)
	if rng.IntN(6) > 0 {
		row[0] = int64(rng.IntN(domain))
	}
	if rng.IntN(6) > 0 {
		row[1] = string(rune('a' + rng.IntN(min(domain, 26))))
	}
	if rng.IntN(4) > 0 {
		row[2] = []float64{math.Inf(-1), -1.5, 0, math.Copysign(0, -1), 2.5, math.NaN()}[rng.IntN(6)]
	}
	return row
}

// randomEpochs drives a graph source -> op through random epochs and checks
// after each one that the fold of the outputs equals expect(input).
type randomEpochs struct {
	spec     OpSpec
	epochs   int
	changes  int // net changes per epoch, about
	domain   int
	workers  int
	chunk    int
	expected func(input rowBag) map[string]int64
	// sqlEqual compares the output with expected by SQL-equality keys: the
	// operator outputs one of several equal rows.
	sqlEqual bool
	// insertOnly draws insertions only (an append-only input).
	insertOnly bool
}

func (r randomEpochs) run(t *testing.T, rng *rand.Rand) {
	t.Helper()
	g := &Graph{}
	src := g.Add(&Source{Name: "in", Typs: mixedTypes})
	g.Add(r.spec, src)
	df, err := newDataflow(g, &expr.EvalCtx{Cfg: types.DefaultConfig()}, Workers(r.workers), ChunkSize(r.chunk))
	if err != nil {
		t.Fatal(err)
	}
	defer df.Close()
	input, output := rowBag{}, rowBag{}
	for epoch := 0; epoch < r.epochs; epoch++ {
		c := r.changesOf(rng, input)
		outs, _, err := df.Step(map[int][]*coldata.Chunk{src: {c}}, nil)
		out := stepOutput(df, outs)
		if err != nil {
			t.Fatalf("epoch %d: %v", epoch, err)
		}
		for i := 0; i < out.Len; i++ {
			if out.Diffs[i] == 0 {
				t.Fatalf("epoch %d: output change with diff 0", epoch)
			}
		}
		output.fold(out)
		got := output.counts()
		if r.sqlEqual {
			got = output.sqlCounts(mixedTypes)
		}
		if d := diffCounts(output, got, r.expected(input)); d != "" {
			t.Fatalf("epoch %d: output differs from the reference:\n%s", epoch, d)
		}
	}
}

// changesOf returns one epoch of changes and applies them to input. Besides
// net changes it adds pairs that cancel (+k and -k of one row, present or
// not), shuffled, so operators see counts dip below zero within an epoch.
func (r randomEpochs) changesOf(rng *rand.Rand, input rowBag) *coldata.Chunk {
	type change struct {
		row []types.Datum
		d   int64
	}
	var changes []change
	for range rng.IntN(2*r.changes + 1) {
		k := int64(1 + rng.IntN(3))
		if len(input) > 0 && !r.insertOnly && rng.IntN(2) == 0 {
			// Delete some copies of a present row: map order is random.
			for _, m := range input {
				k = min(k, m.n)
				changes = append(changes, change{m.row, -k})
				input.add(mixedTypes, m.row, -k)
				break
			}
			continue
		}
		row := mixedRow(rng, r.domain)
		changes = append(changes, change{row, k})
		input.add(mixedTypes, row, k)
	}
	for range rng.IntN(r.changes/4 + 2) {
		if r.insertOnly {
			break
		}
		row, k := mixedRow(rng, r.domain), int64(1+rng.IntN(2))
		changes = append(changes, change{row, k}, change{row, -k})
	}
	rng.Shuffle(len(changes), func(i, j int) { changes[i], changes[j] = changes[j], changes[i] })
	c := NewChanges(mixedTypes, len(changes))
	for _, ch := range changes {
		c.AppendRow(ch.row)
		c.Diffs = append(c.Diffs, ch.d)
	}
	return c
}

// seededRand returns a generator seeded from flag (or the clock), logging the
// seed so that a failure can be replayed.
func seededRand(t *testing.T, flag *uint64, name string) *rand.Rand {
	t.Helper()
	seed := *flag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -%s=%d)", seed, name, seed)
	return rand.New(rand.NewPCG(seed, 0))
}

func TestDistinctRandom(t *testing.T) {
	rng := seededRand(t, distinctSeed, "distinct-seed")
	for _, workers := range []int{1, 3} {
		for _, domain := range []int{3, 50} {
			t.Run(fmt.Sprintf("workers=%d/domain=%d", workers, domain), func(t *testing.T) {
				randomEpochs{
					spec:     &Distinct{Typs: mixedTypes},
					epochs:   30,
					changes:  20,
					domain:   domain,
					workers:  workers,
					chunk:    1 + rng.IntN(8),
					sqlEqual: true,
					expected: func(input rowBag) map[string]int64 {
						want := map[string]int64{}
						for _, r := range input {
							want[datumSQLKey(mixedTypes, r.row)] = 1
						}
						return want
					},
				}.run(t, rng)
			})
		}
	}
}
