package dataflow

import (
	"math/rand"
	"runtime"
	"testing"
)

// fuzzGraphs are the operators FuzzRestore restores damaged state into:
// aggregates of every kernel (keyed and global), DISTINCT, a grouped
// top-N and a join, each fed by Source nodes of randomColumns.
var fuzzGraphs = []func() *Graph{
	aggregateGraph([]int{0}),
	aggregateGraph(nil),
	overRandomColumns(&Distinct{Typs: randomColumns}),
	overRandomColumns(&TopN{Group: []int{0}, Order: []SortKey{{Col: 4}}, Limit: 2, WithTies: true, Numbered: true, Typs: randomColumns}),
	joinOverRandomColumns(&Join{Kind: LeftJoin, LeftKeys: []int{4}, RightKeys: []int{4}, LeftTypes: randomColumns, RightTypes: randomColumns}),
}

// aggregateGraph builds graphs of an aggregate of randomCalls grouped by
// keys.
func aggregateGraph(keys []int) func() *Graph {
	calls, err := parseAggCalls(randomCalls, randomColumns)
	if err != nil {
		panic(err)
	}
	return overRandomColumns(&Aggregate{Keys: keys, Aggs: calls, InTypes: randomColumns})
}

// fuzzEpochs are random epochs for the graphs of fuzzGraphs (the join's
// right side gets the left's rows too).
func fuzzEpochs(seed int64, n int) []snapshotEpoch {
	epochs := randomSnapshotEpochs(rand.New(rand.NewSource(seed)), n)
	for _, e := range epochs {
		e.in[1] = e.in[0]
	}
	return epochs
}

// FuzzRestore restores damaged state (whole snapshots, or a delta after
// an intact base) of every kind of operator's: Restore may fail or
// succeed, but neither it nor the next step may panic, and a stored
// count may not make it allocate far beyond the bytes it reads. The
// seeds are real snapshots and deltas of each graph.
func FuzzRestore(f *testing.F) {
	epochs := fuzzEpochs(1, 3)
	bases := make([][]byte, len(fuzzGraphs))
	for g, graph := range fuzzGraphs {
		df := roundTripDataflows(f, graph, 2)()
		for _, e := range epochs[:1] {
			if _, _, err := df.Step(e.in, e.watermarks); err != nil {
				f.Fatal(err)
			}
		}
		base, err := snapshotBytes(df.Snapshot)
		if err != nil {
			f.Fatal(err)
		}
		bases[g] = base
		f.Add(uint8(2*g), base)
		for _, e := range epochs[1:2] {
			if _, _, err := df.Step(e.in, e.watermarks); err != nil {
				f.Fatal(err)
			}
		}
		delta, err := snapshotBytes(df.SnapshotDelta)
		if err != nil {
			f.Fatal(err)
		}
		if err := roundTripDataflows(f, graph, 2)().Restore(base, delta); err != nil {
			f.Fatalf("graph %d: an intact snapshot and delta: %v", g, err)
		}
		f.Add(uint8(2*g+1), delta)
	}
	next := epochs[len(epochs)-1]
	f.Fuzz(func(t *testing.T, kind uint8, b []byte) {
		g := int(kind/2) % len(fuzzGraphs)
		df := roundTripDataflows(t, fuzzGraphs[g], 2)()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		var err error
		if kind%2 == 0 {
			err = df.Restore(b)
		} else {
			err = df.Restore(bases[g], b)
		}
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20+uint64(256*len(b)) {
			t.Fatalf("restoring %d bytes allocated %d MiB", len(b), grew>>20)
		}
		if err == nil {
			_, _, _ = df.Step(next.in, next.watermarks)
		}
	})
}
