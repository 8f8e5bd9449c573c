package dataflow

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/timewindow"
	"github.com/sluice-db/sluice/types"
)

// windowedCount builds Source(k int8, v int8, ts timestamptz) → TUMBLE 1s →
// count(*), sum(v) GROUP BY k, window_end: the shape of a count/sum view.
func windowedCount(t testing.TB, onClose bool, workers int) (*Dataflow, int, int) {
	ts := []*types.T{types.Int8, types.Int8, types.TimestampTZ}
	g := &Graph{}
	src := g.Add(&Source{Name: "s", Typs: ts})
	spec := timewindow.Spec{Kind: timewindow.Tumble, Size: 1e6, Step: 1e6}
	w := g.Add(&WindowAssign{Spec: spec, Time: &expr.ColRef{Idx: 2, Typ: types.TimestampTZ, Name: "ts"}, InTypes: ts}, src)
	wts := g.Nodes[w].Spec.Types()
	agg := g.Add(&Aggregate{Keys: []int{0, 4}, InTypes: wts, Window: &AggWindow{Key: 1, OnClose: onClose}, Aggs: []AggCall{
		{Func: "count_star", Filter: -1, Typ: types.Int8},
		{Func: "sum", Args: []int{1}, ArgTypes: []*types.T{types.Int8}, Filter: -1, Typ: types.Numeric},
	}}, w)
	df, err := newDataflow(g, &expr.EvalCtx{Cfg: types.DefaultConfig()}, Workers(workers))
	if err != nil {
		t.Fatal(err)
	}
	return df, src, agg
}

// eventsAt returns keys rows per key (keys 0..keys-1) at event time us.
func eventsAt(keys, rowsPerKey int, us int64) *coldata.Chunk {
	c := NewChanges([]*types.T{types.Int8, types.Int8, types.TimestampTZ}, keys*rowsPerKey)
	for k := range keys {
		for r := range rowsPerKey {
			c.Cols[0].Ints = append(c.Cols[0].Ints, int64(k))
			c.Cols[1].Ints = append(c.Cols[1].Ints, int64(r))
			c.Cols[2].Ints = append(c.Cols[2].Ints, us+int64(r))
			c.Diffs = append(c.Diffs, 1)
		}
	}
	c.Len = keys * rowsPerKey
	return c
}

// liveGroups counts the groups node agg holds over all workers.
func liveGroups(df *Dataflow, agg int) (groups, tracked int) {
	for _, wk := range df.workers {
		o := wk.ops[agg].(*aggregateOp)
		groups += o.groups.live
		for _, keys := range o.open {
			tracked += len(keys)
		}
	}
	return groups, tracked
}

// TestWindowStateBounded feeds an unbounded stream whose event time and
// watermark advance: a windowed aggregate holds only the open windows'
// groups, under both emit modes, while its output stays that of the
// aggregate (each window's count is its rows).
func TestWindowStateBounded(t *testing.T) {
	const keys, epochs, perEpoch = 50, 400, 4 // four epochs a second of event time
	for _, onClose := range []bool{false, true} {
		t.Run(fmt.Sprintf("onClose=%v", onClose), func(t *testing.T) {
			df, src, agg := windowedCount(t, onClose, 2)
			defer df.Close()
			emitted := map[int64]int64{} // window end -> net count over keys
			maxGroups := 0
			for e := range epochs {
				now := int64(e) * 1e6 / perEpoch
				// The watermark trails event time by half a second.
				outs, wm, err := df.Step(map[int][]*coldata.Chunk{src: {eventsAt(keys, 2, now)}}, map[int]int64{src: now - 5e5})
				out := stepOutput(df, outs)
				if err != nil {
					t.Fatal(err)
				}
				if wm != now-5e5 {
					t.Fatalf("epoch %d: output watermark %d, want %d", e, wm, now-5e5)
				}
				for i := range out.Len {
					emitted[out.Cols[1].Ints[i]] += out.Diffs[i] * out.Cols[2].Ints[i]
					if onClose && (out.Diffs[i] != 1 || out.Cols[1].Ints[i] > wm) {
						t.Fatalf("epoch %d: EMIT ON WINDOW CLOSE emitted %+d for window ending %d at watermark %d", e, out.Diffs[i], out.Cols[1].Ints[i], wm)
					}
				}
				groups, tracked := liveGroups(df, agg)
				if groups != tracked {
					t.Fatalf("epoch %d: %d groups, %d tracked by window", e, groups, tracked)
				}
				maxGroups = max(maxGroups, groups)
			}
			// Open windows: the one being filled and the one waiting for the
			// watermark.
			if maxGroups > 2*keys {
				t.Fatalf("%d live groups at most, want <= %d", maxGroups, 2*keys)
			}
			for end, n := range emitted {
				if end <= (epochs-1)*1e6/perEpoch-5e5 && n != keys*2*perEpoch {
					t.Fatalf("window ending %d: count %d over keys, want %d", end, n, keys*2*perEpoch)
				}
			}
		})
	}
}

// settleHeap collects garbage until the workers of a closed dataflow have
// exited and their memory is gone, so that it does not blur a measurement.
func settleHeap() {
	runtime.GC()
	time.Sleep(20 * time.Millisecond)
	runtime.GC()
}

// TestWindowStateBytes measures the memory a windowed count/sum keeps per
// (key, window) group while the window is open, logs it and bounds it.
func TestWindowStateBytes(t *testing.T) {
	const groups = 200_000
	for _, onClose := range []bool{false, true} {
		df, src, agg := windowedCount(t, onClose, 1)
		// One row per key, all in one window that the watermark never
		// closes: every group stays live.
		in := eventsAt(groups, 1, 0)
		var before, after runtime.MemStats
		settleHeap()
		runtime.ReadMemStats(&before)
		if _, _, err := df.Step(map[int][]*coldata.Chunk{src: {in}}, nil); err != nil {
			t.Fatal(err)
		}
		settleHeap()
		runtime.ReadMemStats(&after)
		if n, _ := liveGroups(df, agg); n != groups {
			t.Fatalf("%d groups, want %d", n, groups)
		}
		perGroup := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / groups
		t.Logf("onClose=%v: %.0f bytes of state per (key, window)", onClose, perGroup)
		// 58 bytes under both modes when measured (docs/dataflow.md,
		// "Memory"); a map entry and object per group took 174 and 222.
		if perGroup > 64 {
			t.Errorf("onClose=%v: %.0f bytes of state per (key, window), want <= 64", onClose, perGroup)
		}
		runtime.KeepAlive(in)
		df.Close()
	}
}

// BenchmarkWindowedAggregate measures a count/sum view over an unbounded
// stream whose watermark trails event time: 1000 keys a second, one
// second of event time an epoch, windows closing (and freed) as it goes.
func BenchmarkWindowedAggregate(b *testing.B) {
	for _, onClose := range []bool{false, true} {
		b.Run(fmt.Sprintf("onClose=%v", onClose), func(b *testing.B) {
			df, src, agg := windowedCount(b, onClose, 1)
			defer df.Close()
			const keys, rowsPerKey = 1000, 4
			b.ReportAllocs()
			b.ResetTimer()
			for e := range b.N {
				now := int64(e) * 1e6
				in := eventsAt(keys, rowsPerKey, now)
				if _, _, err := df.Step(map[int][]*coldata.Chunk{src: {in}}, map[int]int64{src: now - 1}); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			groups, _ := liveGroups(df, agg)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*keys*rowsPerKey), "ns/row")
			b.ReportMetric(float64(groups), "live-groups")
		})
	}
}
