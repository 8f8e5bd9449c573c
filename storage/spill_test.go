package storage

import (
	"encoding/binary"
	"testing"
)

// TestSpillLookupCachesBlocks fills a spill store past its memtables (so
// that lookups read tables), looks the same keys up twice and checks that
// the second pass is served from the block cache: Pebble reserves its
// memtables out of the cache, which once left it no room for any block.
// It also checks Lookup finds exactly the keys written (the filters skip
// tables, not keys).
func TestSpillLookupCachesBlocks(t *testing.T) {
	s, err := OpenSpill(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sp := s.Space()
	const n = 200_000
	key := func(i int) []byte { return binary.BigEndian.AppendUint64([]byte{'g'}, uint64(i)) }
	value := make([]byte, 24)
	// Even keys only: the odd ones are absent, in the tables' spans.
	for i := 0; i < n; i += 2 {
		binary.LittleEndian.PutUint64(value, uint64(i))
		if err := sp.Set(key(i), value); err != nil {
			t.Fatal(err)
		}
		if i%4096 == 0 {
			if err := sp.Commit(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := sp.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := s.pe.Flush(); err != nil {
		t.Fatal(err)
	}
	var keys [][]byte
	for i := 0; i < n; i += 97 {
		keys = append(keys, key(i))
	}
	lookup := func() {
		found := 0
		err := sp.Lookup(keys, func(i int, v []byte) error {
			k := int(binary.BigEndian.Uint64(keys[i][1:]))
			if k%2 != 0 || binary.LittleEndian.Uint64(v) != uint64(k) {
				t.Fatalf("key %d: found value %x", k, v)
			}
			found++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if want := (len(keys) + 1) / 2; found != want {
			t.Fatalf("found %d of %d keys, want %d", found, len(keys), want)
		}
	}
	lookup()
	before := s.pe.Metrics().BlockCache
	lookup()
	after := s.pe.Metrics().BlockCache
	hits, misses := after.Hits-before.Hits, after.Misses-before.Misses
	if after.Count == 0 || hits == 0 || misses > hits/10 {
		t.Fatalf("second pass: %d blocks cached, %d hits and %d misses, want most hits", after.Count, hits, misses)
	}
}
