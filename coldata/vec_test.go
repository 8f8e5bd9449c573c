package coldata

import (
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
