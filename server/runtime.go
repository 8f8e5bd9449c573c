package server

import (
	"math"
	"net/http"
	"net/http/pprof"
	"regexp"
	runtimemetrics "runtime/metrics"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// goCollector is the Go runtime's metrics, with three runtime/metrics
// counters beside the defaults: the garbage collector's CPU, the bytes
// allocated and the collections, which say what a query load costs the
// collector (`sluice bench serve` reads them).
func goCollector() prometheus.Collector {
	return collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(collectors.GoRuntimeMetricsRule{
		Matcher: regexp.MustCompile(`^/(cpu/classes/gc/total:cpu-seconds|gc/heap/allocs:bytes|gc/cycles/total:gc-cycles)$`),
	}))
}

// schedLatencyBuckets are sluice_scheduling_latency_seconds' bucket bounds:
// 1 µs to 10 s, each about 1.4 times the last. NB: the Go collector's own
// go_sched_latencies_seconds has a bucket per power of ten, too coarse for
// a p99 of a few milliseconds.
var schedLatencyBuckets = prometheus.ExponentialBucketsRange(1e-6, 10, 48)

// schedLatency exposes the runtime's /sched/latencies:seconds, how long
// runnable goroutines waited for a core: when every core is busy (ingest,
// the collector) a query waits there, not in Sluice's code.
type schedLatency struct{ desc *prometheus.Desc }

func newSchedLatency() *schedLatency {
	return &schedLatency{desc: prometheus.NewDesc("sluice_scheduling_latency_seconds",
		"How long runnable goroutines waited for a core (the Go runtime's /sched/latencies:seconds).", nil, nil)}
}

func (c *schedLatency) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *schedLatency) Collect(ch chan<- prometheus.Metric) {
	s := []runtimemetrics.Sample{{Name: "/sched/latencies:seconds"}}
	runtimemetrics.Read(s)
	if s[0].Value.Kind() != runtimemetrics.KindFloat64Histogram {
		return
	}
	h := s[0].Value.Float64Histogram()
	cumulative := make(map[float64]uint64, len(schedLatencyBuckets))
	var count uint64
	var sum float64
	b := 0
	for i, n := range h.Counts {
		// Runtime bucket i is [Buckets[i], Buckets[i+1]): it counts under
		// the first bound at or above its upper end.
		hi := h.Buckets[i+1]
		for b < len(schedLatencyBuckets) && schedLatencyBuckets[b] < hi {
			cumulative[schedLatencyBuckets[b]] = count
			b++
		}
		count += n
		if !math.IsInf(hi, 1) {
			sum += float64(n) * hi
		}
	}
	for ; b < len(schedLatencyBuckets); b++ {
		cumulative[schedLatencyBuckets[b]] = count
	}
	ch <- prometheus.MustNewConstHistogram(c.desc, count, sum, cumulative)
}

// handleProfiling serves net/http/pprof's profiles under /debug/pprof/.
func handleProfiling(mux *http.ServeMux) {
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
}

// DefaultGCPercent is the collector's GOGC unless told otherwise, in
// `sluice serve` and in the servers `sluice bench` runs in its own
// process, so that the bench measures what a server does. Go's 100
// collected about ten times in 15 s under `sluice bench serve` (1000
// panels, Nexmark at 150k events/s, 2 cores), and each cycle's assists and
// pauses landed on the queries; 200 collects half as often, with half the
// collector's CPU, for a peak RSS about a third higher. Draining 10 M
// bids into a pass-through view (which keeps them all) took as many page
// faults and CPU at 200 as at 100, for a peak RSS 1.3-1.6 GB higher
// (docs/memory.md).
const DefaultGCPercent = 200

// GCPercent returns the GOGC to set: pct when it was given (by a flag or
// its environment variable), else the default unless the GOGC
// environment variable (gogcEnv) is set, which the runtime has already
// applied (false: leave the runtime's setting alone).
func GCPercent(given bool, pct int, gogcEnv string) (int, bool) {
	if !given && gogcEnv != "" {
		return 0, false
	}
	return pct, true
}

// Procs returns the GOMAXPROCS to set on a machine whose runtime default
// is cores: n when it was given (by a flag or its environment variable)
// and positive, one more than the cores when given as 0 or not at all,
// unless the GOMAXPROCS environment variable (gomaxprocsEnv) is set, which
// the runtime has already applied (false: leave the runtime's setting
// alone).
//
// Why one more than the cores: with a P per core, while ingest and the
// collector run on every P, a socket that becomes readable is seen only
// by a P that runs out of work or by the runtime's monitor, which polls
// the network every 10 ms or so, and a query waits that long before it
// starts. An extra P is mostly idle, its thread blocked in the network
// poller; the kernel wakes that thread when a query arrives and, a thread
// just woken, runs it ahead of the busy ones (the runtime's side of it:
// golang/go#51651). The ingest gate still
// counts cores (Config.Cores), so ingest leaves a core, not a P, to the
// queries. `sluice bench serve`, 1000 panels at 312 k bids/s, 2 cores:
// query p99 15.0-15.8 ms and 7.6-12.2 ms with 3 Ps against 26.3 and
// 17.5 ms with 2; the scheduling latency p99 2.7-7.5 ms against
// 10.5-20.9 (docs/metrics.md "One P more than the cores").
func Procs(given bool, n int, gomaxprocsEnv string, cores int) (int, bool) {
	if !given && gomaxprocsEnv != "" {
		return 0, false
	}
	if n > 0 {
		return n, true
	}
	return cores + 1, true
}
