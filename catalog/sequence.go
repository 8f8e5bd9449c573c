package catalog

import (
	"encoding/json"
	"math"
	"sort"
	"strings"

	"github.com/sluice-db/sluice/sqlerr"
)

// Sequence is a sequence object (CREATE SEQUENCE), in schema public. Its
// definition is immutable once published; the engine keeps the value it
// hands out and writes it into the same record (Last, Called), as
// Postgres' sequence relation holds last_value and is_called.
type Sequence struct {
	OID  uint32 `json:"oid"`
	Name string `json:"name"`
	// TypeOid is the type of its values (AS smallint | integer | bigint).
	TypeOid   uint32 `json:"type_oid"`
	Start     int64  `json:"start"`
	Increment int64  `json:"increment"`
	Min       int64  `json:"min"`
	Max       int64  `json:"max"`
	Cycle     bool   `json:"cycle,omitempty"`
	// Last is last_value: the last value handed out when Called, else the
	// value nextval returns next.
	Last   int64 `json:"last"`
	Called bool  `json:"called,omitempty"`
}

// SequenceBounds are the default MINVALUE and MAXVALUE of a sequence as
// Postgres chooses them from its type (bigint unless AS says otherwise)
// and the sign of its increment.
func SequenceBounds(typeMax, increment int64) (min, max int64) {
	if increment > 0 {
		return 1, typeMax
	}
	typeMin := int64(math.MinInt64)
	if typeMax != math.MaxInt64 {
		typeMin = -typeMax - 1
	}
	return typeMin, -1
}

const sequenceMetaPrefix = "sequence/"

// SequenceMetaKey is the storage meta key of the sequence named name.
func SequenceMetaKey(name string) string { return sequenceMetaPrefix + name }

// IsSequenceMetaKey reports whether a storage meta key holds a sequence.
func IsSequenceMetaKey(k string) bool { return strings.HasPrefix(k, sequenceMetaPrefix) }

// Encode returns the sequence's durable form.
func (q *Sequence) Encode() ([]byte, error) { return json.Marshal(q) }

// DecodeSequence parses a sequence written by Encode under meta key k.
func DecodeSequence(k string, b []byte) (*Sequence, error) {
	var q Sequence
	if err := json.Unmarshal(b, &q); err != nil {
		return nil, sqlerr.New(sqlerr.DataCorrupted, "corrupt sequence record %q: %v", k, err)
	}
	if SequenceMetaKey(q.Name) != k || q.OID == 0 || q.Increment == 0 || q.Min > q.Max {
		return nil, sqlerr.New(sqlerr.DataCorrupted, "corrupt sequence record %q: holds sequence %q with oid %d", k, q.Name, q.OID)
	}
	return &q, nil
}

// Sequence finds a sequence by name.
func (c *Catalog) Sequence(name string) (*Sequence, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	q, ok := c.sequences[name]
	return q, ok
}

// SequenceByOID finds a sequence by OID.
func (c *Catalog) SequenceByOID(oid uint32) (*Sequence, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	q, ok := c.sequenceByOID[oid]
	return q, ok
}

// Sequences returns every sequence ordered by name.
func (c *Catalog) Sequences() []*Sequence {
	c.mu.RLock()
	defer c.mu.RUnlock()
	qs := make([]*Sequence, 0, len(c.sequences))
	for _, q := range c.sequences {
		qs = append(qs, q)
	}
	sort.Slice(qs, func(i, j int) bool { return qs[i].Name < qs[j].Name })
	return qs
}

// PublishSequence makes a sequence visible, after its record committed.
func (c *Catalog) PublishSequence(q *Sequence) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.sequences[q.Name]; ok {
		delete(c.sequenceByOID, old.OID)
	}
	c.sequences[q.Name] = q
	c.sequenceByOID[q.OID] = q
	if q.OID >= c.nextID {
		c.nextID = q.OID + 1
	}
}

// RemoveSequence withdraws a sequence, after its removal committed.
func (c *Catalog) RemoveSequence(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if q, ok := c.sequences[name]; ok {
		delete(c.sequenceByOID, q.OID)
	}
	delete(c.sequences, name)
}
