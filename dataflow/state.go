package dataflow

// Store is one operator's keyed state on one worker. Operators keep their
// state between epochs in Stores so that the durability work can back them
// with Pebble without touching operator logic; MemStore keeps it in a map.
// Aggregates and joins, whose state is the largest, keep theirs in columnar
// tables of their own (groupTable, joinRows) instead.
type Store[V any] interface {
	Get(key string) (V, bool)
	Put(key string, v V)
	Delete(key string)
	Len() int
	// Range calls fn for every entry, in no particular order, until fn
	// returns false. fn must not modify the store.
	Range(fn func(key string, v V) bool)
}

// NewStore returns the state store named name for one operator instance.
func NewStore[V any](env *Env, name string) Store[V] {
	return &MemStore[V]{m: map[string]V{}}
}

// MemStore is a Store in a Go map.
type MemStore[V any] struct{ m map[string]V }

func (s *MemStore[V]) Get(k string) (V, bool) { v, ok := s.m[k]; return v, ok }
func (s *MemStore[V]) Put(k string, v V)      { s.m[k] = v }
func (s *MemStore[V]) Delete(k string)        { delete(s.m, k) }
func (s *MemStore[V]) Len() int               { return len(s.m) }
func (s *MemStore[V]) Range(fn func(string, V) bool) {
	for k, v := range s.m {
		if !fn(k, v) {
			return
		}
	}
}
