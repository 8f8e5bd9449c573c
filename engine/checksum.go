package engine

import (
	"hash/crc32"
	"runtime"
	"sync"
)

// checksumPartBytes is the least a checkpoint's checksum hands each CPU:
// below it, one CPU checksums the whole (at about 2 GB/s, a part takes
// 30 ms, more than starting a goroutine costs).
const checksumPartBytes = 64 << 20

// checkpointChecksum returns the CRC-32C of b, the parts of a large b
// checksummed on every CPU and combined: a restart's 1 GiB base took
// 0.5 s of one CPU to checksum before any of it decoded.
func checkpointChecksum(b []byte) uint32 {
	parts := min(runtime.GOMAXPROCS(0), len(b)/checksumPartBytes)
	if parts <= 1 {
		return crc32.Checksum(b, checkpointCRC)
	}
	sums := make([]uint32, parts)
	size := (len(b) + parts - 1) / parts
	var wg sync.WaitGroup
	for i := range parts {
		wg.Go(func() { sums[i] = crc32.Checksum(b[i*size:min((i+1)*size, len(b))], checkpointCRC) })
	}
	wg.Wait()
	sum := sums[0]
	for i := 1; i < parts; i++ {
		sum = crc32Combine(sum, sums[i], min((i+1)*size, len(b))-i*size)
	}
	return sum
}

// crc32Combine returns the CRC-32C of a followed by b from theirs (crcA,
// crcB) and b's length, as zlib's crc32_combine does: crcA times x^(8
// lenB) modulo the polynomial, plus crcB.
func crc32Combine(crcA, crcB uint32, lenB int) uint32 {
	// Bit 31 is x^0 in the reflected representation; sq runs through
	// x^(2^k), from x^8 (a byte).
	pow, sq := uint32(1)<<31, uint32(1)<<30
	for range 3 {
		sq = crcMultiply(sq, sq)
	}
	for n := lenB; n > 0; n >>= 1 {
		if n&1 != 0 {
			pow = crcMultiply(sq, pow)
		}
		sq = crcMultiply(sq, sq)
	}
	return crcMultiply(pow, crcA) ^ crcB
}

// crcMultiply returns a times b modulo the Castagnoli polynomial, both
// reflected.
func crcMultiply(a, b uint32) uint32 {
	const poly = 0x82f63b78 // crc32.Castagnoli, reflected
	p := uint32(0)
	for m := uint32(1) << 31; m != 0; m >>= 1 {
		if a&m != 0 {
			p ^= b
		}
		if b&1 != 0 {
			b = b>>1 ^ poly
		} else {
			b >>= 1
		}
	}
	return p
}
