package storage

import (
	"encoding/binary"
	"fmt"
	"os"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/sstable"
)

// Spill is the scratch store operators evict cold state to when it
// outgrows their memory budget (docs/format/spill.md). It is a Pebble
// database of its own, without a WAL and never synced: checkpoints stay
// the durable truth, so OpenSpill wipes whatever a process before left.
// Each operator instance writes under a Space of its own.
type Spill struct {
	pe *pebble.DB
	// spaces hands out space prefixes.
	spaces atomic.Uint64
}

// OpenSpill removes dir and opens an empty spill store in it.
func OpenSpill(dir string) (*Spill, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("spill store: %w", err)
	}
	// Small memtables and cache: the store exists to save memory. Without
	// cgo, Pebble allocates both on the Go heap. Pebble reserves its
	// memtables (the one written and one being flushed) out of the block
	// cache: a cache of only their size (8 MiB, as it was) cached no block
	// at all, and every lookup read its blocks from the files. Memtables of
	// 16 MiB rather than 4 flush a quarter as many tables, each compaction
	// rewriting the whole last level (keys are spilled at random): half
	// the bytes compacted and a quarter less CPU under the engine's spill
	// tests (docs/memory.md).
	const memtable, blocks = 16 << 20, 8 << 20
	opts := &pebble.Options{CacheSize: blocks + 2*memtable, MemTableSize: memtable, DisableWAL: true, Logger: spillLogger{}}
	// Every load back deletes a key: tables dense with tombstones are the
	// rule here, and rewriting them for it (most of the compactions) reads
	// faster only keys the filters skip anyway.
	opts.Experimental.TombstoneDenseCompactionThreshold = -1
	opts.EnsureDefaults()
	// Group states are short and read back at random: decompressing a
	// block for each lookup and compacting cost more than the bytes saved.
	// A Bloom filter in every table lets Lookup's seeks skip the tables
	// that do not hold a key, most of them: without one, each seek read a
	// block of every level and L0 table.
	for i := range opts.Levels {
		opts.Levels[i].Compression = func() *sstable.CompressionProfile { return sstable.NoCompression }
		opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	pe, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("spill store: %w", wrapPebble(err))
	}
	return &Spill{pe: pe}, nil
}

// Close closes the store; its files stay until the next OpenSpill.
func (s *Spill) Close() error { return wrapPebble(s.pe.Close()) }

// Space returns a new, empty key space of the store.
func (s *Spill) Space() *SpillSpace {
	sp := &SpillSpace{pe: s.pe}
	binary.BigEndian.PutUint64(sp.prefix[:], s.spaces.Add(1))
	return sp
}

// SpillSpace is one operator instance's part of the spill store: keys
// under an 8-byte prefix. Set and Delete collect writes in a batch that
// Commit applies at once; Lookup and Scan read what is committed. A space
// is used by one goroutine at a time.
type SpillSpace struct {
	pe     *pebble.DB
	prefix [8]byte
	key    []byte // scratch: prefix + a key
	batch  *pebble.Batch
}

func (sp *SpillSpace) fullKey(k []byte) []byte {
	sp.key = append(append(sp.key[:0], sp.prefix[:]...), k...)
	return sp.key
}

// bounds returns the span of the space's keys starting with sub.
func (sp *SpillSpace) bounds(sub []byte) (lo, hi []byte) {
	lo = append(sp.prefix[:len(sp.prefix):len(sp.prefix)], sub...)
	hi = append([]byte(nil), lo...)
	for i := len(hi) - 1; i >= 0; i-- {
		if hi[i]++; hi[i] != 0 {
			return lo, hi[:i+1]
		}
	}
	return lo, nil
}

func (sp *SpillSpace) pending() *pebble.Batch {
	if sp.batch == nil {
		sp.batch = sp.pe.NewBatch()
	}
	return sp.batch
}

// Set writes key (within the space) with value at the next Commit.
func (sp *SpillSpace) Set(key, value []byte) error {
	return wrapPebble(sp.pending().Set(sp.fullKey(key), value, nil))
}

// Delete removes key (within the space) at the next Commit.
func (sp *SpillSpace) Delete(key []byte) error {
	return wrapPebble(sp.pending().Delete(sp.fullKey(key), nil))
}

// Commit applies the writes since the last Commit, unsynced: the store is
// scratch.
func (sp *SpillSpace) Commit() error {
	b := sp.batch
	if b == nil {
		return nil
	}
	sp.batch = nil
	defer b.Close()
	if b.Empty() {
		return nil
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("spill store: %w", wrapPebble(err))
	}
	return nil
}

// Lookup calls found for each of keys (sorted, within the space) the
// space holds, with its value (valid during the call), seeking one
// iterator forward through them by prefix, the whole key: a seek reads
// only the tables whose filter may hold the key.
func (sp *SpillSpace) Lookup(keys [][]byte, found func(i int, value []byte) error) error {
	if len(keys) == 0 {
		return nil
	}
	lo, hi := sp.bounds(nil)
	it, err := sp.pe.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return fmt.Errorf("spill store: %w", wrapPebble(err))
	}
	for i, k := range keys {
		full := sp.fullKey(k)
		if !it.SeekPrefixGE(full) || string(it.Key()) != string(full) {
			continue
		}
		v, err := it.ValueAndErr()
		if err == nil {
			err = found(i, v)
		}
		if err != nil {
			it.Close()
			return err
		}
	}
	return wrapPebble(it.Close())
}

// Scan calls f for every key of the space starting with sub, in order,
// with the key (less the space's prefix) and its value, both valid during
// the call only.
func (sp *SpillSpace) Scan(sub []byte, f func(key, value []byte) error) error {
	lo, hi := sp.bounds(sub)
	return sp.scan(lo, hi, f)
}

// ScanRange is Scan over the space's keys from lo up to hi (excluded):
// an operator whose keys sort by a time reads the part of it a
// watermark passed.
func (sp *SpillSpace) ScanRange(lo, hi []byte, f func(key, value []byte) error) error {
	return sp.scan(append(sp.prefix[:len(sp.prefix):len(sp.prefix)], lo...), append(sp.prefix[:len(sp.prefix):len(sp.prefix)], hi...), f)
}

func (sp *SpillSpace) scan(lo, hi []byte, f func(key, value []byte) error) error {
	it, err := sp.pe.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return fmt.Errorf("spill store: %w", wrapPebble(err))
	}
	return scanIter(it, len(sp.prefix), f)
}

// scanIter calls f for every key of it in order, less its first prefix
// bytes, with its value, and closes it.
func scanIter(it *pebble.Iterator, prefix int, f func(key, value []byte) error) error {
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err == nil {
			err = f(it.Key()[prefix:], v)
		}
		if err != nil {
			it.Close()
			return err
		}
	}
	return wrapPebble(it.Close())
}

// Snapshot returns a consistent view of the space's committed keys as
// they are now, which the space's later writes do not change: a
// checkpoint's writer reads an operator's spilled state from it while
// the operator goes on. It pins what it sees in the store (compactions
// keep it) until closed; the store must not be closed before it.
func (sp *SpillSpace) Snapshot() SpillView {
	return &SpillSnapshot{snap: sp.pe.NewSnapshot(), space: sp.prefix}
}

// SpillView is what Snapshot returns; an alias of an unnamed interface, so
// that dataflow's alike (dataflow.SpillView) is the same type and a
// SpillSpace is a dataflow.SpillSpace without either package importing
// the other.
type SpillView = interface {
	Scan(sub []byte, f func(key, value []byte) error) error
	Close() error
}

// SpillSnapshot is a SpillSpace's keys at one point (Snapshot). It may be
// read from any goroutine, one at a time.
type SpillSnapshot struct {
	snap  *pebble.Snapshot
	space [8]byte
}

// Scan calls f for every key of the space starting with sub, as
// SpillSpace.Scan does, as the space was when the snapshot was taken.
func (ss *SpillSnapshot) Scan(sub []byte, f func(key, value []byte) error) error {
	sp := SpillSpace{prefix: ss.space}
	lo, hi := sp.bounds(sub)
	it, err := ss.snap.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return fmt.Errorf("spill store snapshot: %w", wrapPebble(err))
	}
	return scanIter(it, len(ss.space), f)
}

// Close releases the snapshot.
func (ss *SpillSnapshot) Close() error {
	if err := ss.snap.Close(); err != nil {
		return fmt.Errorf("spill store snapshot: %w", wrapPebble(err))
	}
	return nil
}

// DeleteAll removes every key of the space starting with sub.
func (sp *SpillSpace) DeleteAll(sub []byte) error {
	lo, hi := sp.bounds(sub)
	if hi == nil {
		return fmt.Errorf("spill store: [BUG] unbounded space %x", lo)
	}
	if err := sp.pe.DeleteRange(lo, hi, pebble.NoSync); err != nil {
		return fmt.Errorf("spill store: %w", wrapPebble(err))
	}
	return nil
}

// spillLogger drops Pebble's informational lines (a scratch store's
// compactions are no news); errors go to Pebble's default logger.
type spillLogger struct{}

func (spillLogger) Infof(string, ...any)              {}
func (spillLogger) Errorf(format string, args ...any) { pebble.DefaultLogger.Errorf(format, args...) }
func (spillLogger) Fatalf(format string, args ...any) { pebble.DefaultLogger.Fatalf(format, args...) }
