package dataflow

import (
	"fmt"
	"math"
	"math/rand"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/apd/v3"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/internal/randtest"
	"github.com/sluice-db/sluice/types"
)

// storedKeyColumns are the input of the tests of aggregates whose groups
// keep their key values or numeric sums: a numeric key, a float key, a
// numeric value, an integer, a bool, an interval key, whose equal values
// print differently (numericKey, floatKey, intervalKey).
var storedKeyColumns = []*types.T{types.Numeric, types.Float8, types.Numeric, types.Int8, types.Bool, types.Interval}

// numericKey returns a numeric equal to k/4 at a scale of 2 to 4 by rep
// (1.25, 1.250, 1.2500; 1.00 and 1.0000), NaN for k%37 == 0 and NULL for
// k%31 == 0: equal values of one key print differently.
func numericKey(k, rep int) types.Datum {
	switch {
	case k%31 == 0:
		return nil
	case k%37 == 0:
		return &apd.Decimal{Form: apd.NaN}
	}
	zeros := rep % 3
	return apd.New(int64(k)*25*int64(math.Pow10(zeros)), int32(-2-zeros))
}

// floatKey returns k/8 as a float, or for some k -0 or 0 (by rep: many
// keys are 0, so that rep must be the same for all of an epoch's rows,
// whose order through the workers' exchange varies), NaN, +Inf, -Inf or
// NULL.
func floatKey(k, rep int) types.Datum {
	switch {
	case k%29 == 0:
		return nil
	case k%13 == 0:
		if rep%2 == 0 {
			return math.Copysign(0, -1)
		}
		return 0.0
	case k%17 == 0:
		return math.NaN()
	case k%19 == 0:
		return math.Inf(1)
	case k%23 == 0:
		return math.Inf(-1)
	}
	return float64(k) / 8
}

// intervalKey returns k days as days or as hours (by rep; equal, printed
// apart).
func intervalKey(k, rep int) types.Datum {
	if rep%2 == 0 {
		return types.IntervalValue{Days: int32(k)}
	}
	return types.IntervalValue{Micros: int64(k) * 24 * 3600 * 1e6}
}

// numericValue returns a numeric of scale 0 to 3, or of 18 digits and a
// scale up to 6 (a float holds neither their sums nor them), rarely NaN,
// ±Inf or NULL.
func numericValue(rng *rand.Rand) types.Datum {
	switch rng.Intn(200) {
	case 0:
		return &apd.Decimal{Form: apd.NaN}
	case 1:
		return &apd.Decimal{Form: apd.Infinite, Negative: rng.Intn(2) == 0}
	case 2:
		return nil
	}
	if rng.Intn(4) == 0 {
		return apd.New(rng.Int63n(2e18)-1e18, -int32(rng.Intn(7)))
	}
	return apd.New(rng.Int63n(200000)-100000, -int32(rng.Intn(4)))
}

// storedKeyEpochs draws n epochs of inserts and deletes over keys groups
// of storedKeyColumns, some hot and most cold, so that groups are evicted,
// loaded back, emptied and created again; a delete names the row inserted,
// which may print its key otherwise than the row the group shows. The
// rows of a key print it alike within an epoch and apart from one epoch
// to the next: which of an epoch's rows reaches the group first depends
// on the workers' exchange.
func storedKeyEpochs(rng *rand.Rand, n, keys int) []snapshotEpoch {
	return changeEpochs(rng, n, keys, storedKeyColumns, false, 1, func(e, k int) []types.Datum {
		rep := (e*7919 + k*104729) % 6
		return []types.Datum{numericKey(k, rep), floatKey(k, e), numericValue(rng), int64(k) - 500, rng.Intn(2) == 0, intervalKey(k, rep)}
	})
}

// storedKeyCalls are the calls of TestAggregateSpillStoredKeysRandom:
// numeric sums and averages (FILTER too) and min/max under retractions
// (multisets of numerics, floats and intervals, whose equal values print
// differently) beside word kernels.
const storedKeyCalls = "count_star,sum:2,avg:2,sum:2:filter=4,count:2,sum:3,avg:1,min:2,max:2,min:1,max:5:filter=4"

// TestAggregateSpillStoredKeysRandom runs random epochs through
// aggregates whose groups keep their key values (numeric, float, interval
// keys: a group shows the first of its equal values), numeric sums and
// min/max multisets,
// under a budget so small that most groups are spilled, and without one:
// every epoch's output must be the same (checkSpillRandom: snapshots of
// either restored into either too). A spilled group that lost its key
// values or whose sum was encoded with less than its digits and scales
// shows otherwise once loaded back.
func TestAggregateSpillStoredKeysRandom(t *testing.T) {
	seed := randtest.Seed(t)
	rng := rand.New(rand.NewSource(seed))
	spill := openTestSpill(t)
	for _, c := range []struct {
		keys  []int
		calls string
	}{
		{[]int{0}, storedKeyCalls},
		{[]int{1}, storedKeyCalls},
		{[]int{0, 1, 3}, "count_star"},
		{[]int{5, 4}, storedKeyCalls},
		// Numeric sums and min/max under keys that are identical (packed).
		{[]int{3}, "sum:2,avg:2,min:2,max:1"},
	} {
		calls, err := parseAggCalls(c.calls, storedKeyColumns)
		if err != nil {
			t.Fatal(err)
		}
		for _, workers := range []int{1, 3} {
			t.Run(fmt.Sprintf("keys=%v/calls=%s/workers=%d", c.keys, c.calls, workers), func(t *testing.T) {
				spec := &Aggregate{Keys: c.keys, Aggs: calls, InTypes: storedKeyColumns}
				// A byte: every instance keeps its floor of a page of groups.
				budget := NewBudget(1, func() SpillSpace { return spill.Space() })
				newDF := func(b *Budget) *Dataflow {
					g := &Graph{}
					g.Add(spec, g.Add(&Source{Name: "t", Typs: storedKeyColumns}))
					return newBudgetDataflow(t, g, b, Workers(workers), ChunkSize(64+rng.Intn(256)))
				}
				checkSpillRandom(t, rng, newDF, budget, storedKeyEpochs(rng, 24, 8000*workers), spillChecks{})
			})
		}
	}
}

// TestAggregateSpillKeepsShownKey creates groups of a numeric and a float
// key, lets them be spilled, then touches them with equal values printed
// otherwise (1.00 for 1.0, 0 for -0): the rows retracted and inserted
// must show the first values, and their sums every digit.
func TestAggregateSpillKeepsShownKey(t *testing.T) {
	typs := []*types.T{types.Numeric, types.Float8, types.Numeric}
	calls, err := parseAggCalls("count_star,sum:2", typs)
	if err != nil {
		t.Fatal(err)
	}
	spill := openTestSpill(t)
	g := &Graph{}
	g.Add(&Aggregate{Keys: []int{0, 1}, Aggs: calls, InTypes: typs}, g.Add(&Source{Name: "t", Typs: typs}))
	df := newBudgetDataflow(t, g, NewBudget(1, func() SpillSpace { return spill.Space() }))
	dec := func(s string) *apd.Decimal {
		d, _, err := apd.NewFromString(s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	epoch := func(rows ...[]types.Datum) snapshotEpoch {
		c := NewChanges(typs, len(rows))
		for _, r := range rows {
			c.AppendRow(r)
			c.Diffs = append(c.Diffs, 1)
		}
		c.Len = len(rows)
		return snapshotEpoch{in: map[int][]*coldata.Chunk{0: {c}}}
	}
	negZero := math.Copysign(0, -1)
	first := epoch([]types.Datum{dec("1.0"), negZero, dec("12345678901234567890.123456789")}, []types.Datum{dec("2.50"), 0.0, dec("0.1")})
	stepText(t, df, first)
	// Groups enough to evict the two: every instance keeps a page.
	var fill [][]types.Datum
	for k := range 4 * groupPage {
		fill = append(fill, []types.Datum{apd.New(int64(k)+100, 0), 1.0, dec("1")})
	}
	stepText(t, df, epoch(fill...))
	if n := spilledKeys(df); n < 2*groupPage {
		t.Fatalf("%d groups spilled, want most", n)
	}
	got := stepText(t, df, epoch([]types.Datum{dec("1.00"), 0.0, dec("-0.000000000000000000001")}, []types.Datum{dec("2.5"), negZero, dec("0.20")}))
	want := strings.Join([]string{
		"1.0 -0 1 12345678901234567890.123456789 -1",
		"1.0 -0 2 12345678901234567890.123456788999999999999 +1",
		"2.50 0 1 0.1 -1",
		"2.50 0 2 0.30 +1",
		"watermark " + fmt.Sprint(NoWatermark),
	}, "\n")
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

// BenchmarkAggregateSpillNumeric is BenchmarkAggregateSpill keyed by a
// numeric (k/100) with a numeric sum and a count over 256k groups (about
// 250 bytes a group by the estimate: key encoding, key value, sum, slot
// and words; a live heap of about 60 MiB without a budget), with a budget
// of an eighth of the estimate: a spilled group's value holds its key
// value and its sum.
func BenchmarkAggregateSpillNumeric(b *testing.B) {
	const keys = 1 << 18
	benchSpillRows(b, []*types.T{types.Numeric, types.Numeric}, "sum:1,count:1", keys, keys*250/8, func(k, i int) []types.Datum {
		return []types.Datum{apd.New(int64(k), -2), apd.New(int64(i%1000), -2)}
	})
}

// BenchmarkAggregateSpillMinMax is BenchmarkAggregateSpill with min and
// max over an input that retracts (each group a multiset of its values)
// over 256k groups (about 300 bytes a group by the estimate: key, words,
// two multisets of about an entry), with a budget of an eighth of it: a
// spilled group's value holds its multisets.
func BenchmarkAggregateSpillMinMax(b *testing.B) {
	const keys = 1 << 18
	benchSpillRows(b, []*types.T{types.Int8, types.Int8}, "min:1,max:1,count:1", keys, keys*300/8, func(k, i int) []types.Datum {
		return []types.Datum{int64(k), int64(i % 1000)}
	})
}

// objectColumns are the input of the tests of aggregates whose kernels
// keep objects: an integer key, its text key (spillText), a text value
// (sometimes NULL, empty or long), a delimiter (sometimes NULL), an
// integer, a numeric (numericValue: equal values printed differently) and
// a bool.
var objectColumns = []*types.T{types.Int8, types.Text, types.Text, types.Text, types.Int8, types.Numeric, types.Bool}

// objectCalls keep objects under retractions: multisets of string_agg
// (ordered too), array_agg, min/max of text and numerics, DISTINCT sets of
// one and of several calls (their inner kernels' objects beside them),
// with and without FILTER.
const objectCalls = "count_star,string_agg:2:3,string_agg:2:3:order=4d,array_agg:4,array_agg:2:order=4+2d," +
	"min:2,max:2,max:5,min:2:filter=6,count:2:distinct,sum:5:distinct,string_agg:2:3:distinct:filter=6," +
	"array_agg:2:distinct,count:4:distinct"

// appendOnlyObjectCalls keep objects over an append-only input: running
// extremes of text and numerics (boxed), string_agg, array_agg and
// DISTINCT sets.
const appendOnlyObjectCalls = "count_star,min:2,max:2,max:5,min:5:filter=6,string_agg:2:3,array_agg:4,count:2:distinct,min:2:distinct"

// objectValue returns a text value: one of a few words (so that values
// repeat in a group), rarely NULL or empty, sometimes long.
func objectValue(rng *rand.Rand) types.Datum {
	switch n := rng.Intn(40); {
	case n == 0:
		return nil
	case n == 1:
		return ""
	case n < 6:
		return strings.Repeat("v", 200) + strconv.Itoa(rng.Intn(5))
	}
	return "url/" + strconv.Itoa(rng.Intn(30))
}

// objectEpochs draws n epochs of changes (inserts only if appendOnly) over
// keys groups of objectColumns.
func objectEpochs(rng *rand.Rand, n, keys int, appendOnly bool) []snapshotEpoch {
	delims := []types.Datum{",", "; ", nil}
	return changeEpochs(rng, n, keys, objectColumns, appendOnly, 2, func(_, k int) []types.Datum {
		return []types.Datum{int64(k), spillText(k), objectValue(rng), delims[rng.Intn(len(delims))], int64(rng.Intn(20)), numericValue(rng), rng.Intn(3) != 0}
	})
}

// TestAggregateSpillObjectsRandom runs random epochs through aggregates
// whose kernels keep objects (string_agg, array_agg, min/max multisets and
// running extremes of text and numerics, DISTINCT sets), keyed by an
// integer (packed) and by text (encoded), over inputs that retract and
// append-only ones, under a budget so small that most groups are spilled,
// and without one: every epoch's output must be the same
// (checkSpillRandom: snapshots of either restored into either too). A
// spilled group whose objects lost an entry, a count, a delimiter or a
// value's representation shows otherwise once loaded back.
func TestAggregateSpillObjectsRandom(t *testing.T) {
	seed := randtest.Seed(t)
	rng := rand.New(rand.NewSource(seed))
	spill := openTestSpill(t)
	for _, c := range []struct {
		keys       []int
		calls      string
		appendOnly bool
	}{
		{[]int{0}, objectCalls, false},
		{[]int{1}, objectCalls, false},
		{[]int{0}, appendOnlyObjectCalls, true},
		{[]int{1, 6}, appendOnlyObjectCalls, true},
	} {
		calls, err := parseAggCalls(c.calls, objectColumns)
		if err != nil {
			t.Fatal(err)
		}
		for _, workers := range []int{1, 3} {
			t.Run(fmt.Sprintf("keys=%v/append-only=%v/workers=%d", c.keys, c.appendOnly, workers), func(t *testing.T) {
				spec := &Aggregate{Keys: c.keys, Aggs: calls, InTypes: objectColumns, AppendOnly: c.appendOnly}
				// A byte: every instance keeps its floor of a page of groups.
				budget := NewBudget(1, func() SpillSpace { return spill.Space() })
				newDF := func(b *Budget) *Dataflow {
					g := &Graph{}
					g.Add(spec, g.Add(&Source{Name: "t", Typs: objectColumns}))
					return newBudgetDataflow(t, g, b, Workers(workers), ChunkSize(64+rng.Intn(256)))
				}
				checkSpillRandom(t, rng, newDF, budget, objectEpochs(rng, 14, 4000*workers, c.appendOnly), spillChecks{})
			})
		}
	}
}
