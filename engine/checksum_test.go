package engine

import (
	"hash/crc32"
	"math/rand/v2"
	"testing"
)

// TestCRC32Combine: the checksum of two pieces combined is the checksum
// of both, for pieces of any length (empty, odd, long), and
// checkpointChecksum of a file cut into parts on every CPU is that of the
// whole.
func TestCRC32Combine(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 3*checksumPartBytes+12345)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	for _, cut := range [][2]int{{0, 0}, {0, 1}, {1, 0}, {5, 3}, {1000, 1}, {7, 4097}, {100000, 99999}, {1 << 20, 3<<20 + 5}} {
		x, y := b[:cut[0]], b[cut[0]:cut[0]+cut[1]]
		got := crc32Combine(crc32.Checksum(x, checkpointCRC), crc32.Checksum(y, checkpointCRC), len(y))
		if want := crc32.Checksum(b[:cut[0]+cut[1]], checkpointCRC); got != want {
			t.Fatalf("pieces of %d and %d bytes combined: %08x, want %08x", cut[0], cut[1], got, want)
		}
	}
	want := crc32.Checksum(b, checkpointCRC)
	if got := checkpointChecksum(b); got != want {
		t.Fatalf("checkpointChecksum of %d bytes: %08x, want %08x", len(b), got, want)
	}
	b[len(b)-1] ^= 1
	if checkpointChecksum(b) == want {
		t.Fatal("checkpointChecksum missed a bit flipped in the last part")
	}
}
