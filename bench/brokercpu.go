package bench

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"google.golang.org/protobuf/encoding/protowire"
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

// profileCPUByRole sums the CPU time of a CPU profile's samples (a gzipped
// profile.proto, as runtime/pprof writes it): of those labeled role, and
// of all.
func profileCPUByRole(prof []byte, role string) (labeled, all time.Duration, err error) {
	zr, err := gzip.NewReader(bytes.NewReader(prof))
	if err != nil {
		return 0, 0, fmt.Errorf("read CPU profile: %w", err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		return 0, 0, fmt.Errorf("read CPU profile: %w", err)
	}
	// The string table comes after the samples: keep each sample's value
	// and labels' string indexes, and resolve them at the end.
	var samples []parsedSample
	var strs []string
	var typeNames []int64 // sample_type's type, by value index
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, 0, fmt.Errorf("CPU profile: %w", protowire.ParseError(n))
		}
		b = b[n:]
		if typ != protowire.BytesType {
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return 0, 0, fmt.Errorf("CPU profile: %w", protowire.ParseError(n))
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return 0, 0, fmt.Errorf("CPU profile: %w", protowire.ParseError(n))
		}
		b = b[n:]
		switch num {
		case 1: // sample_type: ValueType{type = 1, unit = 2}
			f, err := int64Fields(v, 1)
			if err != nil {
				return 0, 0, err
			}
			typeNames = append(typeNames, f[1]...)
		case 2: // sample: Sample{location_id = 1, value = 2, label = 3}
			s, err := parseSample(v)
			if err != nil {
				return 0, 0, err
			}
			samples = append(samples, s)
		case 6: // string_table
			strs = append(strs, string(v))
		}
	}
	str := func(i int64) string {
		if i < 0 || i >= int64(len(strs)) {
			return ""
		}
		return strs[i]
	}
	// CPU profiles have two values a sample, samples/count and
	// cpu/nanoseconds.
	cpu := -1
	for i, t := range typeNames {
		if str(t) == "cpu" {
			cpu = i
		}
	}
	if cpu < 0 {
		return 0, 0, fmt.Errorf("CPU profile: no cpu sample type")
	}
	for _, s := range samples {
		if cpu >= len(s.values) {
			continue
		}
		all += time.Duration(s.values[cpu])
		for _, l := range s.labels {
			if str(l[0]) == roleLabel && str(l[1]) == role {
				labeled += time.Duration(s.values[cpu])
				break
			}
		}
	}
	return labeled, all, nil
}

// parsedSample is a profile sample's values and labels (key and string
// value indexes); its locations are not needed.
type parsedSample struct {
	values []int64
	labels [][2]int64 // key, value
}

func parseSample(b []byte) (parsedSample, error) {
	var s parsedSample
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return s, fmt.Errorf("CPU profile sample: %w", protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case num == 2 && typ == protowire.BytesType: // packed values
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return s, fmt.Errorf("CPU profile sample: %w", protowire.ParseError(n))
			}
			b = b[n:]
			for len(v) > 0 {
				x, n := protowire.ConsumeVarint(v)
				if n < 0 {
					return s, fmt.Errorf("CPU profile sample: %w", protowire.ParseError(n))
				}
				v = v[n:]
				s.values = append(s.values, int64(x))
			}
		case num == 2 && typ == protowire.VarintType:
			x, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return s, fmt.Errorf("CPU profile sample: %w", protowire.ParseError(n))
			}
			b = b[n:]
			s.values = append(s.values, int64(x))
		case num == 3 && typ == protowire.BytesType: // Label{key = 1, str = 2}
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return s, fmt.Errorf("CPU profile sample: %w", protowire.ParseError(n))
			}
			b = b[n:]
			f, err := int64Fields(v, 2)
			if err != nil {
				return s, err
			}
			var l [2]int64
			if len(f[1]) > 0 {
				l[0] = f[1][0]
			}
			if len(f[2]) > 0 {
				l[1] = f[2][0]
			}
			s.labels = append(s.labels, l)
		default:
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return s, fmt.Errorf("CPU profile sample: %w", protowire.ParseError(n))
			}
			b = b[n:]
		}
	}
	return s, nil
}

// int64Fields returns the varint fields 1..last of message b by field
// number; other fields are skipped.
func int64Fields(b []byte, last protowire.Number) (map[protowire.Number][]int64, error) {
	f := map[protowire.Number][]int64{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, fmt.Errorf("CPU profile: %w", protowire.ParseError(n))
		}
		b = b[n:]
		if typ == protowire.VarintType && num <= last {
			x, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return nil, fmt.Errorf("CPU profile: %w", protowire.ParseError(n))
			}
			b = b[n:]
			f[num] = append(f[num], int64(x))
			continue
		}
		if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
			return nil, fmt.Errorf("CPU profile: %w", protowire.ParseError(n))
		}
		b = b[n:]
	}
	return f, nil
}
