package server

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/sluice-db/sluice/internal/testbin"
)

// /metrics has the collector's CPU, the bytes allocated and the
// scheduling latencies; /debug/pprof/ only when Profiling is on.
func TestRuntimeMetricsAndProfiling(t *testing.T) {
	for _, profiling := range []bool{false, true} {
		s, err := Start(context.Background(), Config{PGAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", DataDir: t.TempDir(), Profiling: profiling})
		if err != nil {
			t.Fatal(err)
		}
		metrics := testbin.HTTPGet(t, "http://"+s.HTTPAddr()+"/metrics", http.StatusOK)
		for _, name := range []string{"go_cpu_classes_gc_total_cpu_seconds_total ", "go_gc_heap_allocs_bytes_total ",
			"go_gc_cycles_total_gc_cycles_total ", `sluice_scheduling_latency_seconds_bucket{le="0.001`} {
			if !strings.Contains(metrics, "\n"+name) {
				t.Errorf("/metrics has no %s", name)
			}
		}
		want := http.StatusNotFound
		if profiling {
			want = http.StatusOK
		}
		testbin.HTTPGet(t, "http://"+s.HTTPAddr()+"/debug/pprof/heap", want)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// The scheduling latencies' buckets count up to the histogram's count, and
// something has waited for a core by now (the test's own goroutines).
func TestSchedLatencyBuckets(t *testing.T) {
	ch := make(chan prometheus.Metric, 1)
	newSchedLatency().Collect(ch)
	var m dto.Metric
	if err := (<-ch).Write(&m); err != nil {
		t.Fatal(err)
	}
	h := m.GetHistogram()
	if len(h.GetBucket()) != len(schedLatencyBuckets) || h.GetSampleCount() == 0 {
		t.Fatalf("%d buckets, %d samples", len(h.GetBucket()), h.GetSampleCount())
	}
	var last uint64
	for _, b := range h.GetBucket() {
		if b.GetCumulativeCount() < last || b.GetCumulativeCount() > h.GetSampleCount() {
			t.Fatalf("bucket le=%g counts %d after %d (of %d)", b.GetUpperBound(), b.GetCumulativeCount(), last, h.GetSampleCount())
		}
		last = b.GetCumulativeCount()
	}
}
