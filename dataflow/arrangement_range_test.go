package dataflow

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// rangeDomain is the values of a key column for TestArrangementScanRange.
type rangeDomain struct {
	typ *types.T
	// rows are the values rows take, distinct under types.Compare. bounds
	// are the values ranges take: more of them, some equal to row values
	// in another form (1.50 for 1.5), some between them.
	rows, bounds []string
}

var rangeDomains = []rangeDomain{
	{types.Int8, []string{"-9223372036854775808", "-3", "-1", "0", "1", "2", "7", "9223372036854775807"},
		[]string{"-9223372036854775808", "-4", "-1", "0", "2", "5", "7", "9223372036854775807"}},
	{types.Numeric, []string{"-Infinity", "-2.5", "-1", "0", "0.001", "1.5", "10", "1e20", "Infinity", "NaN"},
		[]string{"-Infinity", "-2.50", "-2", "0.0", "0.0010", "1.50", "2", "9.99", "100000000000000000000", "Infinity", "NaN"}},
	{types.Text, []string{"", "A", "B", "a", "aa", "ab", "b", "é", "zz"},
		[]string{"", "A", "Z", "a", "aa", "aaa", "b", "ba", "é", "ê"}},
	{types.BPChar, []string{"a", "ab", "b", "c d"},
		[]string{"a  ", "aa", "ab", "b ", "c"}},
	{types.Timestamp, []string{"1999-12-31 23:59:59", "2000-01-01 00:00:00", "2000-01-01 00:00:00.000001", "2024-02-29 12:00:00"},
		[]string{"1999-01-01 00:00:00", "2000-01-01 00:00:00", "2000-01-01 00:00:00.000001", "2024-02-29 11:59:59", "2030-01-01 00:00:00"}},
	{types.Float8, []string{"-Infinity", "-1.5", "0", "2", "Infinity", "NaN"},
		[]string{"-Infinity", "-1.5", "-0", "1", "2", "Infinity", "NaN"}},
	{types.Bool, []string{"false", "true"}, []string{"false", "true"}},
}

// rangeRow is a row of the TestArrangementScanRange reference: key columns
// k0 (the domain's type) and k1 (int8), then a text value.
type rangeRow [3]types.Datum

// TestArrangementScanRange applies random epochs to arrangements keyed by
// (k0) and by (k0, k1), compacting as it goes, and checks ScanRange on the
// latest and on older snapshots against a filtered, sorted reference:
// bounds on every key type, inclusive or not, a prefix of the key, NULL keys.
func TestArrangementScanRange(t *testing.T) {
	rng := seededRand(t, arrangementSeed, "arrangement-seed")
	for _, d := range rangeDomains {
		for _, keyLen := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/key=%d", d.typ, keyLen), func(t *testing.T) {
				testArrangementScanRange(t, rand.New(rand.NewPCG(rng.Uint64(), 0)), d, keyLen)
			})
		}
	}
}

func testArrangementScanRange(t *testing.T, rng *rand.Rand, d rangeDomain, keyLen int) {
	typs := []*types.T{d.typ, types.Int8, types.Text}
	key := []int{0, 1}[:keyLen]
	parse := func(vals []string) []types.Datum {
		out := make([]types.Datum, len(vals))
		for i, s := range vals {
			v, err := types.ParseText(d.typ, s, types.DefaultConfig())
			if err != nil {
				t.Fatal(err)
			}
			out[i] = v
		}
		return out
	}
	// A NULL k0 too: NULL keys are in no range with a bound on k0.
	values := append(parse(d.rows), nil)
	bounds := parse(d.bounds)
	randK1 := func() types.Datum {
		if keyLen == 1 || rng.IntN(5) == 0 {
			return nil
		}
		return int64(rng.IntN(4))
	}

	a := NewArrangement(typs, key)
	// model maps a row's key (indexes into values, and k1) to the row.
	type modelKey struct {
		k0 int
		k1 types.Datum
	}
	model := map[modelKey]rangeRow{}
	states := map[uint64][]rangeRow{}
	type keptSnapshot struct {
		s    *ArrangementSnapshot
		rows []rangeRow
	}
	var kept []keptSnapshot
	checks, compactions := 0, 0
	check := func(s *ArrangementSnapshot, rows []rangeRow) {
		r := KeyRange{}
		if keyLen == 2 && rng.IntN(3) == 0 {
			r.Prefix = []types.Datum{values[rng.IntN(len(values)-1)]}
		}
		bound := func() *KeyBound {
			if rng.IntN(3) == 0 {
				return nil
			}
			var v types.Datum = int64(rng.IntN(6) - 1) // a k1 bound
			if len(r.Prefix) == 0 {
				v = bounds[rng.IntN(len(bounds))]
			}
			return &KeyBound{Value: v, Inclusive: rng.IntN(2) == 0}
		}
		r.Lower, r.Upper = bound(), bound()
		col := key[len(r.Prefix)]
		colType := typs[col]
		var want []rangeRow
		for _, row := range rows {
			if len(r.Prefix) > 0 && (row[0] == nil || types.Compare(d.typ, row[0], r.Prefix[0]) != 0) {
				continue
			}
			v := row[col]
			if r.Lower != nil || r.Upper != nil {
				if v == nil {
					continue
				}
				if b := r.Lower; b != nil {
					if c := types.Compare(colType, v, b.Value); c < 0 || (c == 0 && !b.Inclusive) {
						continue
					}
				}
				if b := r.Upper; b != nil {
					if c := types.Compare(colType, v, b.Value); c > 0 || (c == 0 && !b.Inclusive) {
						continue
					}
				}
			}
			want = append(want, row)
		}
		slices.SortFunc(want, func(x, y rangeRow) int {
			for _, k := range key {
				if c := compareNullsFirst(typs[k], x[k], y[k]); c != 0 {
					return c
				}
			}
			return 0
		})
		var got []rangeRow
		next := s.ScanRange(r)
		for c := next(); c != nil; c = next() {
			for i := 0; i < c.Len; i++ {
				got = append(got, rangeRow(c.Row(i)))
			}
		}
		gotText, wantText := rangeRowsText(typs, got), rangeRowsText(typs, want)
		if !slices.Equal(gotText, wantText) {
			t.Fatalf("epoch %d, range %s: got %v, want %v", s.Epoch(), rangeText(colType, r), gotText, wantText)
		}
		checks++
	}

	const epochs = 1500
	for e := uint64(1); e <= epochs; e++ {
		c := NewChanges(typs, 0)
		touched := map[modelKey]bool{}
		for range rng.IntN(24) {
			k := modelKey{rng.IntN(len(values)), randK1()}
			if touched[k] { // changes are consolidated: one per key
				continue
			}
			touched[k] = true
			old, present := model[k]
			row := rangeRow{values[k.k0], k.k1, fmt.Sprintf("e%d", e)}
			if present {
				c.AppendRow(old[:])
				c.Diffs = append(c.Diffs, -1)
				delete(model, k)
			}
			if !present || rng.IntN(3) > 0 {
				c.AppendRow(row[:])
				c.Diffs = append(c.Diffs, 1)
				model[k] = row
			}
		}
		if err := a.Apply(e, c.Gather(rng.Perm(c.Len))); err != nil {
			t.Fatal(err)
		}
		rows := make([]rangeRow, 0, len(model))
		for _, row := range model {
			rows = append(rows, row)
		}
		states[e] = rows
		if e%37 == 0 {
			kept = append(kept, keptSnapshot{a.Snapshot(e), rows})
		}
		// Readers of the last three epochs keep them readable.
		before := a.cur
		a.Compact(max(e, 3) - 2)
		if a.cur != before {
			compactions++
		}
		for range 3 {
			at := max(e, 3) - 2 + uint64(rng.IntN(3))
			if s := a.Snapshot(min(at, e)); s != nil {
				check(s, states[s.Epoch()])
			}
		}
		if len(kept) > 0 {
			k := kept[rng.IntN(len(kept))]
			check(k.s, k.rows)
		}
	}
	if compactions == 0 {
		t.Errorf("no compaction in %d epochs", epochs)
	}
	t.Logf("%d range checks, %d compactions", checks, compactions)
}

// compareNullsFirst is types.Compare with NULL below every value, the order
// of key encodings.
func compareNullsFirst(t *types.T, x, y types.Datum) int {
	switch {
	case x == nil && y == nil:
		return 0
	case x == nil:
		return -1
	case y == nil:
		return 1
	}
	return types.Compare(t, x, y)
}

func rangeRowsText(typs []*types.T, rows []rangeRow) []string {
	out := make([]string, len(rows))
	for i, row := range rows {
		out[i] = rowText(typs, row[:])
	}
	return out
}

func rangeText(t *types.T, r KeyRange) string {
	s := fmt.Sprintf("prefix %v", r.Prefix)
	if b := r.Lower; b != nil {
		s += fmt.Sprintf(" lower %s inclusive=%v", rowText([]*types.T{t}, []types.Datum{b.Value}), b.Inclusive)
	}
	if b := r.Upper; b != nil {
		s += fmt.Sprintf(" upper %s inclusive=%v", rowText([]*types.T{t}, []types.Datum{b.Value}), b.Inclusive)
	}
	return s
}

// TestArrangementScanRangeChunks scans more keys than a chunk, half of them
// deleted, so that the scan resumes across chunks and lock releases.
func TestArrangementScanRangeChunks(t *testing.T) {
	const keys = 5000
	a := NewArrangement(keyedTypes, []int{0})
	ins, del := NewChanges(keyedTypes, 0), NewChanges(keyedTypes, 0)
	for k := range keys {
		row := []types.Datum{int64(k), "v"}
		ins.AppendRow(row)
		ins.Diffs = append(ins.Diffs, 1)
		if k%2 == 1 {
			del.AppendRow(row)
			del.Diffs = append(del.Diffs, -1)
		}
	}
	if err := a.Apply(1, ins); err != nil {
		t.Fatal(err)
	}
	if err := a.Apply(2, del); err != nil {
		t.Fatal(err)
	}
	r := KeyRange{Lower: &KeyBound{Value: int64(10), Inclusive: true}, Upper: &KeyBound{Value: int64(4990)}}
	for e, step := range map[uint64]int64{1: 1, 2: 2} {
		next := a.Snapshot(e).ScanRange(r)
		want := int64(10)
		for c := next(); c != nil; c = next() {
			if c.Len == 0 || c.Len > coldata.DefaultChunkSize {
				t.Fatalf("epoch %d: chunk of %d rows", e, c.Len)
			}
			for i := 0; i < c.Len; i++ {
				if got := c.Cols[0].Ints[i]; got != want {
					t.Fatalf("epoch %d: key %d, want %d", e, got, want)
				}
				want += step
			}
		}
		if want != 4990 {
			t.Errorf("epoch %d: scan ended before %d", e, want)
		}
	}
}
