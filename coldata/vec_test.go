package coldata

import (
	"slices"
	"testing"

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
