package engine

import (
	"testing"

	"github.com/sluice-db/sluice/connector/kafka"
)

// An unreadable position record keeps its stream's source from starting
// (starting over would duplicate rows); other streams' positions are read
// as stored.
func TestReadPositions(t *testing.T) {
	meta := map[string][]byte{
		sourceOffsetKey(1, kafka.Partition{Topic: "bids", Partition: 0}): []byte("42"),
		sourceOffsetKey(1, kafka.Partition{Topic: "bids", Partition: 1}): []byte("7"),
		sourceOffsetKey(2, kafka.Partition{Topic: "a/b", Partition: 3}):  []byte("5"),
		sourceOffsetKey(3, kafka.Partition{Topic: "x", Partition: 0}):    []byte("garbage"),
		sourceOffsetKey(4, kafka.Partition{Topic: "y", Partition: 0}):    []byte("-3"),
		"source/5/generated": []byte("1200"),
		"source/6/generated": []byte("12x"),
		"catalog/9":          []byte("{}"),
	}
	stored := readPositions(meta)
	if got := stored.offsets[1][kafka.Partition{Topic: "bids", Partition: 1}]; got != 7 || len(stored.offsets[1]) != 2 {
		t.Errorf("stream 1: %v", stored.offsets[1])
	}
	if got := stored.offsets[2][kafka.Partition{Topic: "a/b", Partition: 3}]; got != 5 {
		t.Errorf("stream 2 (a topic with a slash): %v", stored.offsets[2])
	}
	if got := stored.generated[5]; got != 1200 {
		t.Errorf("stream 5 generated %d, want 1200", got)
	}
	for _, id := range []uint32{3, 4, 6} {
		if _, ok := stored.corrupt[id]; !ok {
			t.Errorf("stream %d's bad record was not reported", id)
		}
	}
	if len(stored.corrupt) != 3 {
		t.Errorf("corrupt: %v, want streams 3, 4 and 6", stored.corrupt)
	}
}
