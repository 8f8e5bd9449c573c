package catalog

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/sluice-db/sluice/sqlerr"
)

// Sink is the descriptor of a sink: the changes of a materialized view (or
// of a query, run as a view of the sink's own) written to an external
// system. Sinks are not relations: they have their own namespace per schema
// and no pg_class row.
type Sink struct {
	ID     uint32 `json:"id"`
	Schema string `json:"schema"`
	Name   string `json:"name"`
	// From is the materialized view the sink reads (0 when Query is set).
	From uint32 `json:"from,omitempty"`
	// Query is the sink's SELECT as SQL text (when it reads no view).
	Query string `json:"query,omitempty"`
	// DependsOn lists the relations the sink reads: From, or the query's.
	DependsOn []uint32 `json:"depends_on"`
	// Options are the WITH options (connector, topic, format, key, …).
	Options map[string]string `json:"options"`
	// Instance is a random name chosen at CREATE SINK that its external
	// identities (Kafka transactional id, progress records, idempotency
	// keys) carry, so that the sinks of two servers writing to one Kafka
	// cluster never share one. Empty in sinks created before it existed,
	// which keep their identities.
	Instance string `json:"instance,omitempty"`
}

// TransactionalID is the sink's Kafka transactional id: stable across
// restarts, so that a restarted sink fences its earlier producers, and
// the key of its progress records.
func (s *Sink) TransactionalID() string {
	if s.Instance == "" {
		return fmt.Sprintf("sluice-sink-%d", s.ID)
	}
	return fmt.Sprintf("sluice-%s-sink-%d", s.Instance, s.ID)
}

// SinkMetaKey is the storage meta key of a sink's descriptor.
func SinkMetaKey(id uint32) string { return fmt.Sprintf("sink/%010d", id) }

// Encode returns the descriptor's durable form.
func (s *Sink) Encode() ([]byte, error) { return json.Marshal(s) }

// DecodeSink parses a descriptor written by Encode.
func DecodeSink(b []byte) (*Sink, error) {
	var s Sink
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, sqlerr.New(sqlerr.DataCorrupted, "corrupt sink record: %v", err)
	}
	return &s, nil
}

// PublishSink makes a sink visible (after its creation committed).
func (c *Catalog) PublishSink(s *Sink) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putSink(s)
}

func (c *Catalog) putSink(s *Sink) {
	if c.sinks == nil {
		c.sinks = map[uint32]*Sink{}
	}
	c.sinks[s.ID] = s
	if s.ID >= c.nextID {
		c.nextID = s.ID + 1
	}
}

// RemoveSink withdraws a sink (after its drop committed).
func (c *Catalog) RemoveSink(id uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.sinks, id)
}

// LookupSink finds a sink by schema and name.
func (c *Catalog) LookupSink(schema, name string) (*Sink, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, s := range c.sinks {
		if s.Schema == schema && s.Name == name {
			return s, true
		}
	}
	return nil, false
}

// Sinks returns every sink, ordered by id (creation order).
func (c *Catalog) Sinks() []*Sink {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]*Sink, 0, len(c.sinks))
	for _, s := range c.sinks {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// SinksReading returns the sinks that read relation id, ordered by id.
func (c *Catalog) SinksReading(id uint32) []*Sink {
	var out []*Sink
	for _, s := range c.Sinks() {
		for _, d := range s.DependsOn {
			if d == id {
				out = append(out, s)
				break
			}
		}
	}
	return out
}
