package engine

import (
	"testing"

	"github.com/sluice-db/sluice/connector/kafka"
)

// An unreadable offset record keeps its stream's source from starting
// (starting over would duplicate the partition's rows); other streams'
// offsets are read as stored.
func TestStoredOffsets(t *testing.T) {
	meta := map[string][]byte{
		sourceOffsetKey(1, kafka.Partition{Topic: "bids", Partition: 0}): []byte("42"),
		sourceOffsetKey(1, kafka.Partition{Topic: "bids", Partition: 1}): []byte("7"),
		sourceOffsetKey(2, kafka.Partition{Topic: "a/b", Partition: 3}): []byte("5"),
		sourceOffsetKey(3, kafka.Partition{Topic: "x", Partition: 0}):   []byte("garbage"),
		sourceOffsetKey(4, kafka.Partition{Topic: "y", Partition: 0}):   []byte("-3"),
		"catalog/9": []byte("{}"),
	}
	stored, corrupt := storedOffsets(meta)
	if got := stored[1][kafka.Partition{Topic: "bids", Partition: 1}]; got != 7 || len(stored[1]) != 2 {
		t.Errorf("stream 1: %v", stored[1])
	}
	if got := stored[2][kafka.Partition{Topic: "a/b", Partition: 3}]; got != 5 {
		t.Errorf("stream 2 (a topic with a slash): %v", stored[2])
	}
	for _, id := range []uint32{3, 4} {
		if _, ok := corrupt[id]; !ok {
			t.Errorf("stream %d's bad record was not reported", id)
		}
	}
	if len(corrupt) != 2 {
		t.Errorf("corrupt: %v, want streams 3 and 4", corrupt)
	}
}
