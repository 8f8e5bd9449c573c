package dataflow

import (
	"fmt"
	"testing"

	"github.com/cockroachdb/apd/v3"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// restartRows writes n rows of `sluice bench restart`'s view (k, name,
// count, sum as a numeric, max, min) as a view's checkpoint holds them.
func restartRows(tb testing.TB, n int) ([]byte, []*types.T) {
	tb.Helper()
	typs := []*types.T{types.Int8, types.Text, types.Int8, types.Numeric, types.Int8, types.Int8}
	a := NewArrangement(typs, []int{0, 1})
	const batch = 1 << 16
	for lo := 0; lo < n; lo += batch {
		c := NewChanges(typs, batch)
		for i := lo; i < min(lo+batch, n); i++ {
			v := int64(i) * 7919 % 100003
			c.AppendRow([]types.Datum{int64(i), fmt.Sprintf("name-%d", i), int64(2), apd.New(2*v+1, 0), v + 1, v})
			c.Diffs = append(c.Diffs, 1)
		}
		if err := a.Apply(uint64(lo/batch+1), c); err != nil {
			tb.Fatal(err)
		}
	}
	w := NewSnapshotWriter(nil)
	if err := a.Snapshot(uint64(n/batch+1)).WriteRows(w, nil); err != nil {
		tb.Fatal(err)
	}
	return w.Bytes(), typs
}

// BenchmarkReadRows decodes a million rows of the restart benchmark's
// view, on every CPU as a restore does, their text copied or shared with
// the snapshot's bytes (a restore's mapping); cpu-ns/row is the figure
// to compare on a loaded machine.
func BenchmarkReadRows(b *testing.B) {
	const n = 1 << 20
	data, typs := restartRows(b, n)
	for _, share := range []bool{false, true} {
		b.Run(fmt.Sprintf("shared=%t", share), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			var rows []*coldata.Chunk
			began := processCPU()
			for range b.N {
				r := NewSnapshotReader(data)
				if share {
					r.InPlace()
				}
				var err error
				if rows, err = ReadRows(r, typs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/row")
			b.ReportMetric(float64((processCPU()-began).Nanoseconds())/float64(b.N*n), "cpu-ns/row")
			if len(rows) == 0 {
				b.Fatal("no rows")
			}
		})
	}
}
