package engine

import (
	"fmt"
	"testing"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// Changes are cut into transactions of about maxRows rows, never between
// two rows of one key.
func TestSinkTransactions(t *testing.T) {
	changes := coldata.NewChunk([]*types.T{types.Text, types.Int8}, 0)
	for i, k := range []string{"a", "b", "a", "c", "b", "d", "e"} {
		changes.AppendRow([]types.Datum{k, int64(i)})
		changes.Diffs = append(changes.Diffs, 1)
	}
	show := func(parts []*coldata.Chunk) string {
		s := ""
		for _, p := range parts {
			s += "["
			for i := 0; i < p.Len; i++ {
				s += fmt.Sprintf(" %s%d", p.Cols[0].Get(i), p.Cols[1].Get(i))
			}
			s += " ]"
		}
		return s
	}
	for _, tc := range []struct {
		key  []int
		max  int
		want string
	}{
		{[]int{0}, 10, "[ a0 b1 a2 c3 b4 d5 e6 ]"},
		{[]int{0}, 1, "[ a0 a2 ][ b1 b4 ][ c3 ][ d5 ][ e6 ]"},
		{[]int{0}, 3, "[ a0 a2 b1 b4 ][ c3 d5 e6 ]"},
		{nil, 3, "[ a0 b1 a2 ][ c3 b4 d5 ][ e6 ]"},
	} {
		if got := show(transactions(changes, tc.key, tc.max)); got != tc.want {
			t.Errorf("key %v max %d: %s, want %s", tc.key, tc.max, got, tc.want)
		}
	}
	if got := transactions(coldata.NewChunk([]*types.T{types.Text}, 0), nil, 3); got != nil {
		t.Errorf("no changes: %d transactions", len(got))
	}
}
