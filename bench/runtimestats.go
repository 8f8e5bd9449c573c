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
}

// schedQuantile is the q-quantile of the scheduling latencies between two
// samples (the upper bound of the bucket it falls in), or 0 when unknown.
func schedQuantile(before, after runtimeSample, q float64) time.Duration {
	if before.sched == nil || after.sched == nil || len(before.sched.Counts) != len(after.sched.Counts) {
		return 0
	}
	var total uint64
	counts := make([]uint64, len(after.sched.Counts))
	for i := range counts {
		counts[i] = after.sched.Counts[i] - before.sched.Counts[i]
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
			hi := after.sched.Buckets[i+1]
			if math.IsInf(hi, 1) {
				hi = after.sched.Buckets[i]
			}
			return time.Duration(hi * float64(time.Second))
		}
	}
	return 0
}
