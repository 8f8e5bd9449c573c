package dataflow

import "sync/atomic"

// SpillSpace is one operator instance's keys in the spill store
// (storage.SpillSpace; docs/format/spill.md). Set and Delete take effect
// at Commit; Lookup and Scan read what is committed. Keys are passed
// without the space's prefix and values are valid during the call only.
type SpillSpace interface {
	Set(key, value []byte) error
	Delete(key []byte) error
	Commit() error
	// Lookup calls found for each of keys (sorted) the space holds.
	Lookup(keys [][]byte, found func(i int, value []byte) error) error
	// Scan calls f for every key starting with sub, in order.
	Scan(sub []byte, f func(key, value []byte) error) error
	// ScanRange calls f for every key from lo up to hi (excluded), in
	// order.
	ScanRange(lo, hi []byte, f func(key, value []byte) error) error
	// DeleteAll removes every key starting with sub.
	DeleteAll(sub []byte) error
	// Snapshot returns a view of the committed keys as they are now,
	// which later writes do not change, readable from any goroutine
	// until closed.
	Snapshot() SpillView
}

// SpillView is a SpillSpace's keys at one point: Scan reads them as
// SpillSpace.Scan does. It is the same type as storage.SpillView.
type SpillView = interface {
	Scan(sub []byte, f func(key, value []byte) error) error
	Close() error
}

// Budget is the memory the state of spilling operators may take, shared
// by every dataflow given it (MemoryBudget), and the spill store they
// evict their coldest state to. The limit is split evenly among the
// operator instances (one per worker) that spill: each keeps its share
// at the end of every epoch (docs/memory.md says which operators spill).
type Budget struct {
	limit int64
	// newSpace returns an empty key space of the spill store.
	newSpace func() SpillSpace
	// holders is how many operator instances share the limit.
	holders atomic.Int64
}

// NewBudget returns a budget of limit bytes whose operators evict to the
// spaces newSpace returns (storage.Spill's Space).
func NewBudget(limit int64, newSpace func() SpillSpace) *Budget {
	return &Budget{limit: limit, newSpace: newSpace}
}

// Limit returns the budget's bytes.
func (b *Budget) Limit() int64 { return b.limit }

// join adds an operator instance to the budget's holders and returns its
// key space in the spill store.
func (b *Budget) join() SpillSpace {
	b.holders.Add(1)
	return b.newSpace()
}

// leave removes an operator instance that joined.
func (b *Budget) leave() { b.holders.Add(-1) }

// share returns the bytes each holder may keep now.
func (b *Budget) share() int64 { return b.limit / max(b.holders.Load(), 1) }

// MemoryBudget makes the dataflow's spilling operators keep their state
// within b, evicting the rest to its spill store.
func MemoryBudget(b *Budget) Option { return func(c *config) { c.budget = b } }

// UnboundedState names the operators of the dataflow that keep state the
// budget does not bound: every stateful one but the aggregates, joins,
// top-Ns and session windows that spill (all of them without a budget),
// and the global aggregates whose state is words (one group of a fixed
// size, such as the outer count of a count(DISTINCT)).
func (d *Dataflow) UnboundedState() []string {
	var names []string
	for i, op := range d.workers[0].ops {
		if _, ok := op.(stateless); ok {
			continue
		}
		if a, ok := op.(*aggregateOp); ok && (a.spill != nil || len(a.spec.Keys) == 0 && a.groups.no == 0) {
			continue
		}
		if j, ok := op.(*joinOp); ok && j.spill != nil {
			continue
		}
		if t, ok := op.(*topNOp); ok && t.spill != nil {
			continue
		}
		if s, ok := op.(*sessionOp); ok && s.spill != nil {
			continue
		}
		names = append(names, d.g.Nodes[i].Spec.String())
	}
	return names
}
