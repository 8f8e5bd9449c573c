package expr

// Scratch lends the buffers an evaluation uses only while it runs (a CASE's
// lists of rows), so that a goroutine evaluating chunk after chunk does not
// allocate them for each. It is one goroutine's: not safe for concurrent
// use. A nil Scratch allocates every buffer.
type Scratch struct {
	// ints are the buffers given back, taken last first: a CASE nested in
	// another's arm takes its own while the outer one's is out.
	ints [][]int
}

// maxScratchInts bounds the buffers a Scratch keeps: an evaluation over an
// unusually large chunk does not hold its buffer for the goroutine's life.
const maxScratchInts = 1 << 16

// takeInts returns a buffer of n ints, its contents undefined, to be given
// back with giveInts once nothing reads it.
func (s *Scratch) takeInts(n int) []int {
	if s == nil {
		return make([]int, n)
	}
	if k := len(s.ints) - 1; k >= 0 {
		b := s.ints[k]
		s.ints = s.ints[:k]
		if cap(b) >= n {
			return b[:n]
		}
	}
	return make([]int, n)
}

// giveInts returns b, taken with takeInts, for the next evaluation.
func (s *Scratch) giveInts(b []int) {
	if s != nil && cap(b) <= maxScratchInts {
		s.ints = append(s.ints, b)
	}
}
