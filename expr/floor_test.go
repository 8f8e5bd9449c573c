package expr

import (
	"testing"

	"github.com/cockroachdb/apd/v3"

	"github.com/sluice-db/sluice/types"
)

// TestNumericFloorCeil covers values whose every digit is dropped, which
// apd's Quantize does not round by floor/ceiling.
func TestNumericFloorCeil(t *testing.T) {
	for _, c := range [][3]string{{"-0.08", "-1", "0"}, {"0.08", "0", "1"}, {"-1.5", "-2", "-1"}, {"2", "2", "2"}, {"1.01", "1", "2"}, {"-0.0", "0", "0"}} {
		d, _, _ := apd.NewFromString(c[0])
		f, _ := decRoundFunc(apd.RoundFloor, false)(nil, []types.Datum{d})
		g, _ := decRoundFunc(apd.RoundCeiling, false)(nil, []types.Datum{d})
		if f.(*apd.Decimal).String() != c[1] || g.(*apd.Decimal).String() != c[2] {
			t.Errorf("%s: floor %s ceil %s, want %s %s", c[0], f, g, c[1], c[2])
		}
	}
}
