package kafka

import (
	"fmt"
	"sort"
	"sync"
)

// PartitionStats is a partition's progress, for SHOW SOURCES and /metrics.
type PartitionStats struct {
	Partition
	// Position is the next offset to deliver (-1 before the first
	// delivery); HighWatermark the partition's end at the last fetch (-1:
	// not fetched yet).
	Position, HighWatermark int64
	Records, Bytes          int64 // read, dead letters included
	DeadLetters             int64
	Pauses                  int64 // hand-offs that waited for a slow worker, holding back its client's fetching
	LastError               string
}

// Lag is how many records the partition holds past the position.
func (p PartitionStats) Lag() int64 {
	if p.HighWatermark < 0 {
		return 0
	}
	return max(p.HighWatermark-max(p.Position, 0), 0)
}

// statsCell is one partition's live counters.
type statsCell struct {
	mu sync.Mutex
	s  PartitionStats
}

func (c *statsCell) setHighWatermark(h int64) { c.mu.Lock(); c.s.HighWatermark = h; c.mu.Unlock() }
func (c *statsCell) setError(err error)       { c.mu.Lock(); c.s.LastError = err.Error(); c.mu.Unlock() }
func (c *statsCell) addPause()                { c.mu.Lock(); c.s.Pauses++; c.mu.Unlock() }

func (c *statsCell) addRead(records, bytes, dead int64) {
	c.mu.Lock()
	c.s.Records += records
	c.s.Bytes += bytes
	c.s.DeadLetters += dead
	c.mu.Unlock()
}

func (s *Source) stat(p Partition) *statsCell {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cells[p]
	if c == nil {
		c = &statsCell{s: PartitionStats{Partition: p, Position: -1, HighWatermark: -1}}
		if off, ok := s.cfg.Offsets[p]; ok {
			c.s.Position = off
		}
		s.cells[p] = c
	}
	return c
}

// delivered records the positions a delivery reached.
func (s *Source) delivered(b *Batch) {
	for p, off := range b.Offsets {
		c := s.stat(p)
		c.mu.Lock()
		c.s.Position = off
		c.s.LastError = ""
		c.mu.Unlock()
	}
}

// positions returns the delivered position of every partition that has one.
func (s *Source) positions() map[Partition]int64 {
	out := map[Partition]int64{}
	for _, st := range s.Stats() {
		if st.Position >= 0 {
			out[st.Partition] = st.Position
		}
	}
	return out
}

// Stats returns every known partition's progress, by topic and partition.
func (s *Source) Stats() []PartitionStats {
	s.mu.Lock()
	cells := make([]*statsCell, 0, len(s.cells))
	for _, c := range s.cells {
		cells = append(cells, c)
	}
	s.mu.Unlock()
	out := make([]PartitionStats, len(cells))
	for i, c := range cells {
		c.mu.Lock()
		out[i] = c.s
		c.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Partition.Partition < out[j].Partition.Partition
	})
	return out
}

// RecordError is an undecodable record that stopped a source with
// on_error = 'fail'.
type RecordError struct {
	Partition
	Offset int64
	Err    error
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("record %s/%d@%d: %v", e.Topic, e.Partition.Partition, e.Offset, e.Err)
}

func (e *RecordError) Unwrap() error { return e.Err }

// KeyError is a record whose key could not be decoded.
type KeyError struct{ Err error }

func (e *KeyError) Error() string { return "key: " + e.Err.Error() }

func (e *KeyError) Unwrap() error { return e.Err }
