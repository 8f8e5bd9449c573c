package engine

import (
	"sync"
	"testing"
)

// A histogram counts each observation in the first bucket whose bound is at
// or above it (Prometheus' le), cumulatively, and above every bound only in
// the count; concurrent observers lose nothing.
func TestHistogram(t *testing.T) {
	h := newHistogram([]float64{1, 2, 4})
	for _, v := range []float64{0.5, 1, 1.5, 4, 9} {
		h.Observe(v)
	}
	s := h.Snapshot()
	want := map[float64]uint64{1: 2, 2: 3, 4: 4}
	for b, n := range want {
		if s.Buckets[b] != n {
			t.Errorf("bucket le %v: %d, want %d", b, s.Buckets[b], n)
		}
	}
	if s.Count != 5 || s.Sum != 16 {
		t.Errorf("count %d sum %v, want 5 16", s.Count, s.Sum)
	}

	h = newHistogram(secondsBuckets())
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				h.Observe(0.25)
			}
		}()
	}
	wg.Wait()
	if s := h.Snapshot(); s.Count != 4000 || s.Sum != 1000 {
		t.Errorf("concurrent: count %d sum %v, want 4000 1000", s.Count, s.Sum)
	}
}
