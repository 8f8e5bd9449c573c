package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"runtime/metrics"
	"sort"
	"strconv"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// serverSample is a child server's account of itself at one moment: its
// CPU time from /proc, its Go runtime's figures from its /metrics.
type serverSample struct {
	cpu time.Duration
	rt  runtimeSample
}

// The /metrics series a serverSample reads.
const (
	metricGCCPU        = "go_cpu_classes_gc_total_cpu_seconds_total"
	metricAllocated    = "go_gc_heap_allocs_bytes_total"
	metricGCs          = "go_gc_cycles_total_gc_cycles_total"
	metricSchedLatency = "sluice_scheduling_latency_seconds"
)

// sampleServer reads ch's CPU time and /metrics.
func sampleServer(ctx context.Context, ch *child) (serverSample, error) {
	cpu, ok := procCPU(strconv.Itoa(ch.cmd.Process.Pid))
	if !ok {
		return serverSample{}, fmt.Errorf("the server's CPU time: /proc/%d/stat unreadable", ch.cmd.Process.Pid)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+ch.httpAddr+"/metrics", nil)
	if err != nil {
		return serverSample{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return serverSample{}, fmt.Errorf("the server's /metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return serverSample{}, fmt.Errorf("the server's /metrics: %s", resp.Status)
	}
	rt, err := parseRuntimeMetrics(resp.Body)
	if err != nil {
		return serverSample{}, fmt.Errorf("the server's /metrics: %w", err)
	}
	return serverSample{cpu: cpu, rt: rt}, nil
}

// parseRuntimeMetrics reads a runtimeSample from Prometheus' text format.
func parseRuntimeMetrics(r io.Reader) (runtimeSample, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return runtimeSample{}, err
	}
	counter := func(name string) (float64, error) {
		f := fams[name]
		if f == nil || len(f.Metric) != 1 || f.Metric[0].Counter == nil {
			return 0, fmt.Errorf("no counter %s", name)
		}
		return f.Metric[0].Counter.GetValue(), nil
	}
	var s runtimeSample
	gc, err := counter(metricGCCPU)
	if err != nil {
		return s, err
	}
	allocated, err := counter(metricAllocated)
	if err != nil {
		return s, err
	}
	gcs, err := counter(metricGCs)
	if err != nil {
		return s, err
	}
	s.gcCPU = time.Duration(gc * float64(time.Second))
	s.allocated, s.gcs = uint64(allocated), uint64(gcs)
	f := fams[metricSchedLatency]
	if f == nil || len(f.Metric) != 1 || f.Metric[0].Histogram == nil {
		return s, fmt.Errorf("no histogram %s", metricSchedLatency)
	}
	s.sched = promHistogram(f.Metric[0].Histogram)
	for _, m := range breakdownMetrics {
		if f := fams[m.metric]; f != nil && len(f.Metric) == 1 && f.Metric[0].Histogram != nil {
			if s.stages == nil {
				s.stages = map[string]*metrics.Float64Histogram{}
			}
			s.stages[m.metric] = promHistogram(f.Metric[0].Histogram)
		}
	}
	if f := fams[epochRowsMetric]; f != nil && len(f.Metric) == 1 && f.Metric[0].Histogram != nil {
		s.epochRows = promHistogram(f.Metric[0].Histogram)
	}
	s.resultHits, _ = counter(resultHitsMetric)
	s.resultMisses, _ = counter(resultMissesMetric)
	return s, nil
}

// promHistogram converts a Prometheus histogram (cumulative counts under
// upper bounds) into the runtime's form (counts between bounds), which
// schedQuantile reads.
func promHistogram(h *dto.Histogram) *metrics.Float64Histogram {
	buckets := h.GetBucket()
	sort.Slice(buckets, func(i, j int) bool { return buckets[i].GetUpperBound() < buckets[j].GetUpperBound() })
	out := &metrics.Float64Histogram{Buckets: []float64{0}}
	var below uint64
	for _, b := range buckets {
		out.Buckets = append(out.Buckets, b.GetUpperBound())
		out.Counts = append(out.Counts, b.GetCumulativeCount()-below)
		below = b.GetCumulativeCount()
	}
	if last := out.Buckets[len(out.Buckets)-1]; !math.IsInf(last, 1) {
		out.Buckets = append(out.Buckets, math.Inf(1))
		out.Counts = append(out.Counts, h.GetSampleCount()-below)
	}
	return out
}

// fetchProfile writes the server's /debug/pprof/<name> (a CPU profile or
// an execution trace over seconds, or the heap) to path.
func fetchProfile(ctx context.Context, ch *child, name string, seconds int, path string) error {
	u := "http://" + ch.httpAddr + "/debug/pprof/" + name
	if seconds > 0 {
		u += "?seconds=" + strconv.Itoa(seconds)
	} else {
		u += "?gc=1"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("the server's %s profile: %w", name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the server's %s profile: %s", name, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("the server's %s profile: %w", name, err)
	}
	return f.Close()
}
