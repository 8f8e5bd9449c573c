package coldata

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/apd/v3"

	"github.com/sluice-db/sluice/types"
)

func TestGrowExact(t *testing.T) {
	for _, typ := range []*types.T{types.Bool, types.Int8, types.Float8, types.Numeric, types.Text, types.Interval, types.ArrayOf(types.Int8)} {
		v := NewVec(typ, 0)
		v.Append(nil)
		v.GrowExact(100)
		if v.Cap() != 100 || v.Len() != 1 || cap(v.Nulls) != 100 || !v.IsNull(0) {
			t.Errorf("%s: cap %d (nulls %d), len %d", typ, v.Cap(), cap(v.Nulls), v.Len())
		}
		v.GrowExact(50) // never shrinks
		if v.Cap() != 100 {
			t.Errorf("%s: GrowExact(50) changed cap to %d", typ, v.Cap())
		}
	}
}

func TestAppendSel(t *testing.T) {
	src := NewVec(types.Numeric, 0)
	for _, s := range []string{"1.5", "", "2.25", "3"} {
		if s == "" {
			src.Append(nil)
			continue
		}
		d, err := types.ParseText(types.Numeric, s, types.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		src.Append(d)
	}
	v := NewVec(types.Numeric, 0)
	v.AppendSel(src, []int{3, 0})
	if v.Nulls != nil || v.Len() != 2 || v.Decs[0].String() != "3" || v.Decs[1].String() != "1.5" {
		t.Fatalf("AppendSel(3, 0) = %v, nulls %v", v.Decs, v.Nulls)
	}
	v.AppendSel(src, []int{1, 2})
	if v.Len() != 4 || !slices.Equal(v.Nulls, []bool{false, false, true, false}) || v.Decs[3].String() != "2.25" {
		t.Fatalf("AppendSel(1, 2) = %v, nulls %v", v.Decs, v.Nulls)
	}
	v.AppendSel(NewVec(types.Numeric, 0), nil)
	v.AppendSel(ConstVec(types.Numeric, v.Get(0), 1), []int{0})
	if v.Len() != 5 || len(v.Nulls) != 5 || v.IsNull(4) {
		t.Fatalf("AppendSel from a vector without a mask: len %d, nulls %v", v.Len(), v.Nulls)
	}
}

// TestSetRange checks that SetRange writes what SetFrom row by row would,
// NULLs included, into a vector with and without a NULL mask.
func TestSetRange(t *testing.T) {
	for _, typ := range []*types.T{types.Bool, types.Int8, types.Float8, types.Numeric, types.Text, types.Interval, types.ArrayOf(types.Int8)} {
		src := NewVec(typ, 0)
		for i := range 6 {
			if i == 2 {
				src.Append(nil)
				continue
			}
			src.Append(testValue(typ, i))
		}
		noNulls := src.Slice(3, 6)
		for _, from := range []*Vec{src, noNulls} {
			for _, masked := range []bool{false, true} {
				want, got := MakeVec(typ, 5), MakeVec(typ, 5)
				if masked {
					want.Nulls, got.Nulls = []bool{true, true, true, true, true}, []bool{true, true, true, true, true}
				}
				for k := range 3 {
					want.SetFrom(1+k, from, k)
				}
				got.SetRange(1, from, 0, 3)
				for i := range 5 {
					if (i == 0 || i == 4) && typ.Phys() == types.PhysDatum {
						continue // never set: a nil Datum is no value
					}
					if got.IsNull(i) != want.IsNull(i) || !got.IsNull(i) && types.Compare(typ, got.Get(i), want.Get(i)) != 0 {
						t.Errorf("%s (masked %t, source nulls %t): row %d is %v, want %v", typ, masked, from.Nulls != nil, i, got.Get(i), want.Get(i))
					}
				}
			}
		}
	}
}

// testValue is a non-NULL value of typ that differs with i.
func testValue(typ *types.T, i int) types.Datum {
	switch typ.Phys() {
	case types.PhysBool:
		return i%2 == 0
	case types.PhysInt:
		return int64(i)
	case types.PhysFloat:
		return float64(i) / 2
	case types.PhysDecimal:
		return apd.New(int64(i), -1)
	case types.PhysBytes:
		return strings.Repeat("x", i)
	case types.PhysInterval:
		return types.IntervalValue{Days: int32(i)}
	}
	return &types.Array{Elem: typ.Elem, Elems: []types.Datum{int64(i)}}
}

// SameIdentity agrees with AppendIdentity's bytes on every pair of values
// of each type, those equal but printed differently among them.
func TestSameIdentity(t *testing.T) {
	cfg := types.DefaultConfig()
	texts := map[*types.T][]string{
		types.Bool:                   {"true", "false"},
		types.Int8:                   {"0", "1", "-1"},
		types.Float8:                 {"0", "-0", "1.5", "NaN", "Infinity", "-Infinity"},
		types.Numeric:                {"0", "-0", "0.0", "0.00", "1", "1.0", "1.00", "-1.0", "10", "1E+1", "NaN", "Infinity", "-Infinity", "123456789012345678901234567890.5", "123456789012345678901234567890.50"},
		types.Text:                   {"", "a", "a ", "b"},
		types.BPChar:                 {"a", "a  ", "b"},
		types.Interval:               {"1 day", "24 hours", "1 mon", "30 days", "0"},
		types.JSONB:                  {`{"a":1}`, `{"a": 1}`, `[1,2]`},
		types.ArrayOf(types.Numeric): {"{1.0}", "{1.00}", "{1}"},
	}
	for typ, ts := range texts {
		v := NewVec(typ, 0)
		for _, s := range ts {
			d, err := types.ParseText(typ, s, cfg)
			if err != nil {
				t.Fatalf("%s %q: %v", typ, s, err)
			}
			v.Append(d)
		}
		v.Append(nil)
		for i := range v.Len() {
			for j := range v.Len() {
				want := string(v.AppendIdentity(nil, i)) == string(v.AppendIdentity(nil, j))
				if got := SameIdentity(v, i, v, j); got != want {
					t.Errorf("%s: SameIdentity(%v, %v) = %v, the identities say %v", typ, v.Get(i), v.Get(j), got, want)
				}
			}
		}
	}
}

// TestChunkSliceNilColumns checks that Slice shares the rows of each column
// and leaves a column nobody reads (nil) nil, as Gather does.
func TestChunkSliceNilColumns(t *testing.T) {
	c := NewChunk([]*types.T{types.Int8, types.Text}, 4)
	for i := range 4 {
		c.Cols[0].Append(int64(i))
		c.Cols[1].Append(fmt.Sprint(i))
	}
	c.Len, c.Diffs = 4, []int64{1, -1, 1, -1}
	c.Cols[1] = nil
	s := c.Slice(1, 3)
	if s.Len != 2 || s.Cols[1] != nil || !slices.Equal(s.Cols[0].Ints, []int64{1, 2}) || !slices.Equal(s.Diffs, []int64{-1, 1}) {
		t.Fatalf("Slice(1, 3) = len %d cols %v diffs %v", s.Len, s.Cols, s.Diffs)
	}
	if &s.Cols[0].Ints[0] != &c.Cols[0].Ints[1] {
		t.Error("Slice copied the column rather than sharing it")
	}
}

// TestChunkClone checks that a clone holds c's rows, nulls and diffs (nil
// diffs staying nil) and that writing c's vectors and diffs in place
// afterwards leaves the clone as it was.
func TestChunkClone(t *testing.T) {
	typs := []*types.T{types.Bool, types.Int8, types.Float8, types.Numeric, types.Text, types.Interval, types.ArrayOf(types.Int8)}
	for _, diffs := range [][]int64{nil, {1, -1, 2}} {
		c := NewChunk(typs, 3)
		for i := range 3 {
			row := make([]types.Datum, len(typs))
			for j, typ := range typs {
				if i != 1 {
					row[j] = testValue(typ, i)
				}
			}
			c.AppendRow(row)
		}
		c.Diffs = slices.Clone(diffs)
		clone := c.Clone()
		if clone.Len != 3 || !slices.Equal(clone.Diffs, diffs) || (clone.Diffs == nil) != (diffs == nil) {
			t.Fatalf("diffs %v: clone has len %d, diffs %v", diffs, clone.Len, clone.Diffs)
		}
		for _, v := range c.Cols {
			v.SetFrom(0, v, 2)
			v.SetNull(2)
		}
		if diffs != nil {
			c.Diffs[0] = 7
			if clone.Diffs[0] != diffs[0] {
				t.Errorf("the clone's diffs changed with the source's: %v", clone.Diffs)
			}
		}
		for i := range 3 {
			for j, typ := range typs {
				got := clone.Cols[j].Get(i)
				if i == 1 {
					if got != nil {
						t.Errorf("%s row 1: clone has %v, want NULL", typ, got)
					}
				} else if got == nil || types.Compare(typ, got, testValue(typ, i)) != 0 {
					t.Errorf("%s row %d: clone has %v after the source was written, want %v", typ, i, got, testValue(typ, i))
				}
			}
		}
	}
}
