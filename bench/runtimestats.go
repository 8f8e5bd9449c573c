package bench

import (
	"math"
	"runtime/metrics"
	"time"
)

// runtimeSample is the Go runtime's own account of where a server's time
// went, read from its /metrics: CPU in the garbage collector, and how long
// goroutines waited to run once runnable (the queue a query waits in when
// the cores are busy).
type runtimeSample struct {
	gcCPU time.Duration
	sched *metrics.Float64Histogram
	// allocated is the bytes allocated on the heap so far, and gcs the
	// collections finished: unlike CPU time, neither depends on how busy
	// the machine is.
	allocated, gcs uint64
	// stages are the server's freshness breakdown histograms, by metric
	// name (breakdownMetrics); absent from servers that have none.
	stages map[string]*metrics.Float64Histogram
	// epochRows is the server's epochRowsMetric, nil if it has none.
	epochRows *metrics.Float64Histogram
	// resultHits and resultMisses are the server's shared answers
	// (resultHitsMetric, resultMissesMetric); 0 for a server without them.
	resultHits, resultMisses float64
}

// breakdownMetrics are the histograms of the server's freshness breakdown
// (docs/metrics.md) that bench serve reports, in the order a record meets
// them, with their short names.
var breakdownMetrics = []struct{ metric, name string }{
	{"sluice_source_backlog_wait_seconds", "backlog wait"},
	{"sluice_source_commit_wait_seconds", "commit wait"},
	{"sluice_source_commit_seconds", "commit"},
	{"sluice_view_publish_delay_seconds", "publish delay"},
	{"sluice_view_step_seconds", "step"},
	{"sluice_view_checkpoint_pause_seconds", "checkpoint pause"},
}

// epochRowsMetric is the server's histogram of the changed rows each
// epoch of the views steps over: whether a slow step was a big one.
const epochRowsMetric = "sluice_view_epoch_rows"

// resultHitsMetric and resultMissesMetric count the statements the server
// answered from another run's answer, and those that could have been and
// ran (--result-cache-bytes).
const (
	resultHitsMetric   = "sluice_result_cache_hits_total"
	resultMissesMetric = "sluice_result_cache_misses_total"
)

// EpochRows is how many epochs the views ran over a measurement and the
// quantiles of the changed rows each stepped over.
type EpochRows struct {
	Count uint64  `json:"count"`
	P50   float64 `json:"p50_rows"`
	P99   float64 `json:"p99_rows"`
}

// epochRows is the views' epochs between two samples, nil when the server
// reports none.
func epochRows(before, after runtimeSample) *EpochRows {
	b, a := before.epochRows, after.epochRows
	if b == nil || a == nil || len(b.Counts) != len(a.Counts) {
		return nil
	}
	e := &EpochRows{P50: histBound(b, a, 0.5), P99: histBound(b, a, 0.99)}
	for i := range a.Counts {
		e.Count += a.Counts[i] - b.Counts[i]
	}
	return e
}

// schedQuantile is the q-quantile of the scheduling latencies between two
// samples (the upper bound of the bucket it falls in), or 0 when unknown.
func schedQuantile(before, after runtimeSample, q float64) time.Duration {
	return histQuantile(before.sched, after.sched, q)
}

// Stage is one stage of the server's freshness breakdown over a
// measurement: how many times it was observed, and its quantiles.
type Stage struct {
	Name  string   `json:"name"`
	Count uint64   `json:"count"`
	P50   Duration `json:"p50_seconds"`
	P99   Duration `json:"p99_seconds"`
}

// stages is the server's freshness breakdown between two samples, nil
// when the server has none.
func stages(before, after runtimeSample) []Stage {
	var out []Stage
	for _, m := range breakdownMetrics {
		b, a := before.stages[m.metric], after.stages[m.metric]
		if b == nil || a == nil {
			continue
		}
		var n uint64
		for i := range a.Counts {
			n += a.Counts[i]
			if i < len(b.Counts) {
				n -= b.Counts[i]
			}
		}
		out = append(out, Stage{Name: m.name, Count: n, P50: Duration(histQuantile(b, a, 0.5)), P99: Duration(histQuantile(b, a, 0.99))})
	}
	return out
}

// histQuantile is the q-quantile of the observations of a histogram
// between two readings (the upper bound of the bucket it falls in), or 0
// when unknown.
func histQuantile(before, after *metrics.Float64Histogram, q float64) time.Duration {
	return time.Duration(histBound(before, after, q) * float64(time.Second))
}

// clientSchedLatencies reads this process's histogram of how long runnable
// goroutines waited for a core (nil if the runtime has none).
func clientSchedLatencies() *metrics.Float64Histogram {
	s := []metrics.Sample{{Name: "/sched/latencies:seconds"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return nil
	}
	return s[0].Value.Float64Histogram()
}

// histBound is the q-quantile of the observations of a histogram between
// two readings, in its own unit: the upper bound of the bucket it falls
// in, or 0 when unknown.
func histBound(before, after *metrics.Float64Histogram, q float64) float64 {
	if before == nil || after == nil || len(before.Counts) != len(after.Counts) {
		return 0
	}
	var total uint64
	counts := make([]uint64, len(after.Counts))
	for i := range counts {
		counts[i] = after.Counts[i] - before.Counts[i]
		total += counts[i]
	}
	if total == 0 {
		return 0
	}
	want := uint64(math.Ceil(q * float64(total)))
	var seen uint64
	for i, c := range counts {
		seen += c
		if seen >= want {
			hi := after.Buckets[i+1]
			if math.IsInf(hi, 1) {
				hi = after.Buckets[i]
			}
			return hi
		}
	}
	return 0
}

// gcSample is this process's collections so far and the CPU the runtime
// estimates they took (runtime/metrics' /cpu/classes/gc, which it updates
// as each collection ends).
type gcSample struct {
	cycles uint64
	cpu    time.Duration
}

// readGC samples this process's collections.
func readGC() gcSample {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}, {Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(s)
	var g gcSample
	if s[0].Value.Kind() == metrics.KindUint64 {
		g.cycles = s[0].Value.Uint64()
	}
	if s[1].Value.Kind() == metrics.KindFloat64 {
		g.cpu = time.Duration(s[1].Value.Float64() * float64(time.Second))
	}
	return g
}
