package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"time"

	"github.com/google/pprof/profile"
	"github.com/twmb/franz-go/pkg/kfake"
)

// The Kafka benchmarks run their broker (kfake) in the process they
// measure, so the process's CPU time is Sluice's plus the broker's, and the
// two cannot be told apart by /proc: Go runs any goroutine on any thread.
// Instead every goroutine of the broker carries a profiler label (a
// goroutine inherits its creator's labels, and newBroker creates the
// cluster under it), and each measured run is CPU-profiled: the labeled
// samples' share of the profile is the broker's share of the process's CPU
// time. Unlabeled runtime work (background GC marking, the scavenger) is
// counted as Sluice's, also where the broker's garbage caused it: the
// figure without the broker is an upper bound on what it costs Sluice.

const (
	roleLabel  = "sluice_bench_role"
	brokerRole = "broker"
)

// newBroker starts an in-process broker whose goroutines carry the broker
// label.
func newBroker(opts ...kfake.Opt) (*kfake.Cluster, error) {
	var c *kfake.Cluster
	var err error
	pprof.Do(context.Background(), pprof.Labels(roleLabel, brokerRole), func(context.Context) {
		c, err = kfake.NewCluster(opts...)
	})
	if err != nil {
		return nil, fmt.Errorf("start the in-process broker: %w", err)
	}
	return c, nil
}

// cpuMeter measures the process's CPU time over a run and the broker's
// share of it.
type cpuMeter struct {
	prof    bytes.Buffer
	cpu0    time.Duration
	stopped bool
}

// runCPU is a run's process CPU time and, of it, the broker's.
type runCPU struct{ total, broker time.Duration }

// sluice is the CPU time that was not the broker's.
func (c runCPU) sluice() time.Duration { return c.total - c.broker }

// startCPUMeter starts profiling the process. Only one profile runs at a
// time in a process: a run is measured by one meter.
func startCPUMeter() (*cpuMeter, error) {
	m := &cpuMeter{}
	if err := pprof.StartCPUProfile(&m.prof); err != nil {
		return nil, fmt.Errorf("start CPU profile: %w", err)
	}
	m.cpu0, _ = processCPU()
	return m, nil
}

// stop stops the profile, writes it to path unless that is "", and
// returns the run's CPU times. Once stopped, stop does nothing: a run
// defers it for its error returns.
func (m *cpuMeter) stop(path string) (runCPU, error) {
	if m.stopped {
		return runCPU{}, nil
	}
	m.stopped = true
	cpu1, _ := processCPU()
	pprof.StopCPUProfile()
	c := runCPU{total: cpu1 - m.cpu0}
	if path != "" {
		if err := os.WriteFile(path, m.prof.Bytes(), 0o644); err != nil {
			return c, fmt.Errorf("write CPU profile: %w", err)
		}
	}
	broker, all, err := profileCPUByRole(m.prof.Bytes(), brokerRole)
	if err != nil {
		return c, err
	}
	if all > 0 {
		c.broker = time.Duration(float64(c.total) * float64(broker) / float64(all))
	}
	return c, nil
}

// profileCPUByRole sums the CPU time of a CPU profile's samples (as
// runtime/pprof writes it): of those labeled role, and of all.
func profileCPUByRole(prof []byte, role string) (labeled, all time.Duration, err error) {
	p, err := profile.ParseData(prof)
	if err != nil {
		return 0, 0, fmt.Errorf("read CPU profile: %w", err)
	}
	// CPU profiles have two values a sample, samples/count and
	// cpu/nanoseconds.
	cpu := slices.IndexFunc(p.SampleType, func(t *profile.ValueType) bool { return t.Type == "cpu" })
	if cpu < 0 {
		return 0, 0, errors.New("CPU profile: no cpu sample type")
	}
	for _, s := range p.Sample {
		all += time.Duration(s.Value[cpu])
		if slices.Contains(s.Label[roleLabel], role) {
			labeled += time.Duration(s.Value[cpu])
		}
	}
	return labeled, all, nil
}
