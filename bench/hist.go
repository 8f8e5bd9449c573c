package bench

import (
	"math/bits"
	"time"
)

// subBits sets the histogram's precision: values are kept with subBits
// significant bits, i.e. within 1/2^(subBits-1) (under 1%) of their value.
const subBits = 8

const (
	subCount  = 1 << subBits
	halfCount = subCount / 2
	// Values below subCount get one bucket each; each further power of two
	// up to 2^63 gets halfCount buckets.
	numBuckets = subCount + (63-subBits)*halfCount
)

// histogram is a log-linear latency histogram in the manner of HdrHistogram:
// fixed size (about 60 KiB) however many values it records, so recording
// ten million lookups does not inflate the RSS being measured. Not safe for
// concurrent use: each client owns one and they are merged at the end.
type histogram struct {
	counts [numBuckets]uint64
	n      uint64
	max    int64
}

func bucketOf(v int64) int {
	if v < subCount {
		if v < 0 {
			return 0
		}
		return int(v)
	}
	e := bits.Len64(uint64(v)) - subBits
	return e*halfCount + int(v>>e)
}

// bucketValue is the midpoint of bucket i's range.
func bucketValue(i int) int64 {
	if i < subCount {
		return int64(i)
	}
	e := (i - halfCount) / halfCount
	lo := int64(i-e*halfCount) << e
	return lo + (int64(1)<<e)/2
}

func (h *histogram) record(d time.Duration) {
	v := int64(d)
	h.counts[bucketOf(v)]++
	h.n++
	if v > h.max {
		h.max = v
	}
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	if o.max > h.max {
		h.max = o.max
	}
}

// quantile returns the value at q (0..1): the smallest recorded bucket whose
// cumulative count reaches q of all values, never more than the maximum.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	if rank < 1 {
		rank = 1
	}
	if rank >= h.n {
		return time.Duration(h.max)
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(bucketValue(i), h.max))
		}
	}
	return time.Duration(h.max)
}
