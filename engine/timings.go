package engine

import (
	"math"
	"slices"
	"sync/atomic"
	"time"
)

// Histogram counts observations in fixed buckets, without locks: sources
// and the dataflows loop observe into it while /metrics reads it.
type Histogram struct {
	bounds []float64       // upper bounds, ascending
	counts []atomic.Uint64 // counts[i]: observations ≤ bounds[i] and > bounds[i-1]; the last, above every bound
	sum    atomic.Uint64   // float64 bits of the sum of the observations
}

func newHistogram(bounds []float64) *Histogram {
	return &Histogram{bounds: bounds, counts: make([]atomic.Uint64, len(bounds)+1)}
}

// Observe adds one observation.
func (h *Histogram) Observe(v float64) {
	i, _ := slices.BinarySearch(h.bounds, v)
	h.counts[i].Add(1)
	for {
		old := h.sum.Load()
		if h.sum.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// observeSince observes the seconds since t.
func (h *Histogram) observeSince(t time.Time) { h.Observe(time.Since(t).Seconds()) }

// HistogramSnapshot is a Histogram at one moment, in Prometheus' form:
// Buckets maps each upper bound to the observations at or below it.
type HistogramSnapshot struct {
	Count   uint64
	Sum     float64
	Buckets map[float64]uint64
}

// Snapshot reads the histogram. Observations racing with it may show in
// Count but not yet in Sum, or the reverse: a scrape is not a barrier.
func (h *Histogram) Snapshot() HistogramSnapshot {
	s := HistogramSnapshot{Buckets: make(map[float64]uint64, len(h.bounds)), Sum: math.Float64frombits(h.sum.Load())}
	for i, b := range h.bounds {
		s.Count += h.counts[i].Load()
		s.Buckets[b] = s.Count
	}
	s.Count += h.counts[len(h.bounds)].Load()
	return s
}

// secondsBuckets are the bounds of the latency histograms: 100 µs to
// about 13 s, each about 1.3 times the last, fine enough to read a p99
// of tens of milliseconds.
func secondsBuckets() []float64 {
	var b []float64
	for v := 1e-4; v < 15; v *= 1.3 {
		b = append(b, v)
	}
	return b
}

// rowsBuckets are the bounds of the rows-per-commit histogram: powers of
// two up to a storage segment and past it.
func rowsBuckets() []float64 {
	var b []float64
	for v := 1.0; v <= 1<<20; v *= 2 {
		b = append(b, v)
	}
	return b
}

// ingestTimings break down the time from a source's batch to the epoch
// that publishes it (docs/metrics.md): where freshness goes.
type ingestTimings struct {
	backlogWait  *Histogram // a source batch waiting for the views' backlog to drain
	commitWait   *Histogram // a source commit waiting for its commit group to start
	commitHold   *Histogram // a source commit's group: encode, sync, apply
	commitRows   *Histogram // rows per source commit
	publishDelay *Histogram // from a commit views read to the epoch publishing it
	step         *Histogram // one epoch of the dataflows loop: step the views, publish
	// epochRows is the changed rows each epoch steps the views over: with
	// step, whether a slow epoch was a big one.
	epochRows *Histogram
	// checkpointPause is, per checkpoint, the loop's longest time
	// gathering one view's state (the writer encodes most of it), which
	// the next epoch waits for: between views the loop steps the small
	// commits queued.
	checkpointPause *Histogram
}

func newIngestTimings() *ingestTimings {
	return &ingestTimings{
		backlogWait:  newHistogram(secondsBuckets()),
		commitWait:   newHistogram(secondsBuckets()),
		commitHold:   newHistogram(secondsBuckets()),
		commitRows:   newHistogram(rowsBuckets()),
		publishDelay: newHistogram(secondsBuckets()),
		step:         newHistogram(secondsBuckets()),
		epochRows:    newHistogram(rowsBuckets()),

		checkpointPause: newHistogram(secondsBuckets()),
	}
}

// IngestTimings is the breakdown of ingestion latency, for /metrics: each
// histogram is in seconds but CommitRows and EpochRows.
type IngestTimings struct {
	BacklogWait, CommitWait, CommitHold, CommitRows, PublishDelay, Step, EpochRows, CheckpointPause HistogramSnapshot
}

// IngestTimings reads the ingestion latency histograms.
func (e *Engine) IngestTimings() IngestTimings {
	t := e.timings
	return IngestTimings{
		BacklogWait: t.backlogWait.Snapshot(), CommitWait: t.commitWait.Snapshot(), CommitHold: t.commitHold.Snapshot(),
		CommitRows: t.commitRows.Snapshot(), PublishDelay: t.publishDelay.Snapshot(), Step: t.step.Snapshot(),
		EpochRows: t.epochRows.Snapshot(), CheckpointPause: t.checkpointPause.Snapshot(),
	}
}
