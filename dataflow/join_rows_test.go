package dataflow

import (
	"testing"

	"github.com/sluice-db/sluice/types"
)

// TestJoinRowsIdentity checks that joinRows, which hashes and compares
// values rather than their encodings, tells rows apart exactly as
// RowIdentity does: values that are equal but print differently (numeric
// 1.0 and 1.00, float 0 and -0, interval 1 day and 24 hours, char(n)
// padding) are different rows, NULL is none of them, and a freed id's
// reuse leaves no trace of its old row.
func TestJoinRowsIdentity(t *testing.T) {
	cfg := types.DefaultConfig()
	cols := []struct {
		typ  *types.T
		vals []string
	}{
		{types.Int8, []string{"0", "1", "NULL"}},
		{types.Numeric, []string{"1.0", "1.00", "2", "NULL"}},
		{types.Float8, []string{"0", "-0", "NaN", "NULL"}},
		{types.Interval, []string{"1 day", "24 hours", "NULL"}},
		{types.BPChar, []string{"a", "a ", "NULL"}},
		{types.Text, []string{"", "x", "NULL"}},
	}
	ts := make([]*types.T, len(cols))
	for c := range cols {
		ts[c] = cols[c].typ
	}
	// The rows that vary one column from the first values, each twice.
	src := NewChanges(ts, 0)
	for c := range cols {
		for _, s := range cols[c].vals {
			row := make([]types.Datum, len(cols))
			for k := range cols {
				v := cols[k].vals[0]
				if k == c {
					v = s
				}
				if v == "NULL" {
					continue
				}
				d, err := types.ParseText(cols[k].typ, v, cfg)
				if err != nil {
					t.Fatal(err)
				}
				row[k] = d
			}
			for range 2 {
				src.AppendRow(row)
				src.Diffs = append(src.Diffs, 1)
			}
		}
	}
	idents := map[string]bool{}
	for i := 0; i < src.Len; i++ {
		idents[string(RowIdentity(nil, src, nil, i))] = true
	}
	rows := newJoinRows(ts)
	for round := range 2 {
		hs := rows.hashRows(nil, src)
		held := map[int32]bool{}
		for i := 0; i < src.Len; i++ {
			r, p := rows.find(src, i, hs[i])
			if r < 0 {
				r = rows.add(src, i, hs[i], p, 0)
			}
			page, at := rows.at(r)
			if got, want := RowIdentity(nil, page, nil, at), RowIdentity(nil, src, nil, i); string(got) != string(want) {
				t.Fatalf("round %d: row %d found as %q, want %q", round, i, got, want)
			}
			held[r] = true
		}
		if len(held) != len(idents) || rows.live != len(idents) {
			t.Fatalf("round %d: %d rows held (%d live) for %d identities", round, len(held), rows.live, len(idents))
		}
		// Free every row: the next round stores them again in reused ids.
		for r := range held {
			rows.remove(r)
		}
	}
}

// TestJoinRowsGather checks the column-at-a-time gather of stored rows
// against their values, NULLs included.
func TestJoinRowsGather(t *testing.T) {
	ts := []*types.T{types.Int8, types.Text, types.Float8}
	rows := newJoinRows(ts)
	src := NewChanges(ts, 0)
	for i := range int64(3000) {
		row := []types.Datum{i, "v", float64(i) / 2}
		if i%7 == 0 {
			row[1] = nil
		}
		src.AppendRow(row)
		src.Diffs = append(src.Diffs, 1)
	}
	hs := rows.hashRows(nil, src)
	for i := 0; i < src.Len; i++ {
		_, p := rows.find(src, i, hs[i])
		rows.add(src, i, hs[i], p, 0)
	}
	ids := []int32{2999, 0, 7, 1024, 1500}
	for c := range ts {
		v := rows.gather(c, ids)
		for k, r := range ids {
			want, got := src.Cols[c].Get(int(r)), v.Get(k)
			if want != got {
				t.Fatalf("column %d row %d: got %v, want %v", c, r, got, want)
			}
		}
	}
}
