package catalog

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// Kind is the kind of a catalog object.
type Kind string

const (
	KindTable Kind = "table"
	// KindStream is an append-only relation: INSERT, COPY and HTTP push
	// add rows; UPDATE and DELETE are refused.
	KindStream Kind = "stream"
	// KindMaterializedView is a view maintained incrementally by a dataflow.
	KindMaterializedView Kind = "materialized view"
)

// FirstUserID is the first object id given to user objects; lower ids are
// reserved for built-in objects (pg_catalog rows use Postgres' own OIDs).
const FirstUserID = 16384

// Column describes one column of a relation.
type Column struct {
	Name    string   `json:"name"`
	Type    *types.T `json:"-"`
	NotNull bool     `json:"not_null,omitempty"`
	// Default is the DEFAULT expression as SQL text ("" when none).
	Default string `json:"default,omitempty"`

	TypeOid   uint32 `json:"type_oid"`
	TypeWidth int32  `json:"type_width,omitempty"`
	TypeScale int32  `json:"type_scale,omitempty"`
	ElemOid   uint32 `json:"elem_oid,omitempty"`
	ElemWidth int32  `json:"elem_width,omitempty"`
	ElemScale int32  `json:"elem_scale,omitempty"`
}

// Table is the descriptor of a durable table.
type Table struct {
	ID      uint32   `json:"id"`
	Kind    Kind     `json:"kind"`
	Schema  string   `json:"schema"`
	Name    string   `json:"name"`
	Columns []Column `json:"columns"`
	// PK lists the primary key's column ordinals (empty: no primary key).
	// For a materialized view it is the unique key of its rows (the GROUP BY
	// key), which reads use for point lookups.
	PK []int `json:"pk,omitempty"`
	// Options are a stream's WITH options.
	Options map[string]string `json:"options,omitempty"`
	// Paths maps a stream's columns to where its format finds them in a
	// nested record (from PATH '$.a.b'), outermost field first.
	Paths map[string][]string `json:"paths,omitempty"`
	// Watermark is a stream's WATERMARK FOR clause (nil: none).
	Watermark *Watermark `json:"watermark,omitempty"`
	// Definition is a materialized view's query as SQL text.
	Definition string `json:"definition,omitempty"`
	// DependsOn lists the relations a materialized view reads.
	DependsOn []uint32 `json:"depends_on,omitempty"`
	// AppendOnly marks a materialized view that only inserts rows (EMIT ON
	// WINDOW CLOSE); EventTimes lists its columns that its watermark
	// bounds. Both are found by the planner when the view is created, for
	// the views that read it (docs/event-time.md, "Views over windowed
	// views").
	AppendOnly bool       `json:"append_only,omitempty"`
	EventTimes []ViewTime `json:"event_times,omitempty"`
}

// ViewTime is a column of a materialized view that the view's watermark W
// bounds: every change the view makes after announcing W has the column at
// or after W - LagMicros (or NULL); with GridMicros > 0, strictly after it
// and equal to GridOffsetMicros modulo GridMicros (exec.TimeBound).
type ViewTime struct {
	Column           string `json:"column"`
	LagMicros        int64  `json:"lag_micros,omitempty"`
	GridMicros       int64  `json:"grid_micros,omitempty"`
	GridOffsetMicros int64  `json:"grid_offset_micros,omitempty"`
}

// Watermark is a stream's event-time declaration, WATERMARK FOR Column AS
// Column - Delay: the stream's watermark trails the greatest event time seen
// (per source partition) by Delay.
type Watermark struct {
	Column      string `json:"column"`
	DelayMicros int64  `json:"delay_micros,omitempty"`
}

// Dependents returns the materialized views that read relation id.
func (c *Catalog) Dependents(id uint32) []*Table {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []*Table
	for _, t := range c.byID {
		for _, d := range t.DependsOn {
			if d == id {
				out = append(out, t)
				break
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// ColumnIndex returns the ordinal of the named column, or -1.
func (t *Table) ColumnIndex(name string) int {
	for i, c := range t.Columns {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// Types returns the column types.
func (t *Table) Types() []*types.T {
	ts := make([]*types.T, len(t.Columns))
	for i, c := range t.Columns {
		ts[i] = c.Type
	}
	return ts
}

// ColumnNames returns the column names.
func (t *Table) ColumnNames() []string {
	ns := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		ns[i] = c.Name
	}
	return ns
}

// MetaKey is the storage meta key of a descriptor.
func MetaKey(id uint32) string { return fmt.Sprintf("catalog/%010d", id) }

// Encode returns the descriptor's durable form.
func (t *Table) Encode() ([]byte, error) {
	cp := *t
	cp.Columns = make([]Column, len(t.Columns))
	for i, c := range t.Columns {
		c.TypeOid, c.TypeWidth, c.TypeScale = c.Type.Oid, c.Type.Width, c.Type.Scale
		if c.Type.Elem != nil {
			c.ElemOid, c.ElemWidth, c.ElemScale = c.Type.Elem.Oid, c.Type.Elem.Width, c.Type.Elem.Scale
		}
		cp.Columns[i] = c
	}
	return json.Marshal(&cp)
}

// DecodeTable parses a descriptor written by Encode.
func DecodeTable(b []byte) (*Table, error) {
	var t Table
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, sqlerr.New(sqlerr.DataCorrupted, "corrupt catalog record: %v", err)
	}
	for i := range t.Columns {
		c := &t.Columns[i]
		base := types.ByOid(c.TypeOid)
		if base == nil {
			return nil, sqlerr.New(sqlerr.DataCorrupted, "corrupt catalog record for %q: unknown type oid %d", t.Name, c.TypeOid)
		}
		typ := *base
		typ.Width, typ.Scale = c.TypeWidth, c.TypeScale
		if c.ElemOid != 0 {
			eb := types.ByOid(c.ElemOid)
			if eb == nil {
				return nil, sqlerr.New(sqlerr.DataCorrupted, "corrupt catalog record for %q: unknown type oid %d", t.Name, c.ElemOid)
			}
			elem := *eb
			elem.Width, elem.Scale = c.ElemWidth, c.ElemScale
			typ.Elem = &elem
		}
		c.Type = &typ
	}
	return &t, nil
}

// Catalog is the set of published descriptors and roles.
type Catalog struct {
	mu     sync.RWMutex
	byName map[string]*Table // key: schema.name
	byID   map[uint32]*Table
	roles  map[string]*Role
	nextID uint32 // shared by relations and roles, as Postgres' OIDs
}

// New returns a catalog holding the given descriptors and roles.
func New(tables []*Table, roles ...*Role) *Catalog {
	c := &Catalog{byName: map[string]*Table{}, byID: map[uint32]*Table{}, roles: map[string]*Role{}, nextID: FirstUserID}
	for _, t := range tables {
		c.put(t)
	}
	for _, r := range roles {
		c.putRole(r)
	}
	return c
}

func key(schema, name string) string { return schema + "." + name }

func (c *Catalog) put(t *Table) {
	c.byName[key(t.Schema, t.Name)] = t
	c.byID[t.ID] = t
	if t.ID >= c.nextID {
		c.nextID = t.ID + 1
	}
}

// Lookup finds a relation by schema and name.
func (c *Catalog) Lookup(schema, name string) (*Table, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	t, ok := c.byName[key(schema, name)]
	return t, ok
}

// ByID finds a relation by id.
func (c *Catalog) ByID(id uint32) (*Table, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	t, ok := c.byID[id]
	return t, ok
}

// AllocID reserves a fresh object id.
func (c *Catalog) AllocID() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := c.nextID
	c.nextID++
	return id
}

// Publish makes a descriptor visible (after its creation committed).
func (c *Catalog) Publish(t *Table) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.put(t)
}

// Remove withdraws a descriptor (after its drop committed).
func (c *Catalog) Remove(id uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.byID[id]; ok {
		delete(c.byID, id)
		delete(c.byName, key(t.Schema, t.Name))
	}
}

// Tables returns all descriptors ordered by schema and name.
func (c *Catalog) Tables() []*Table {
	c.mu.RLock()
	defer c.mu.RUnlock()
	ts := make([]*Table, 0, len(c.byID))
	for _, t := range c.byID {
		ts = append(ts, t)
	}
	sort.Slice(ts, func(i, j int) bool {
		return strings.Compare(key(ts[i].Schema, ts[i].Name), key(ts[j].Schema, ts[j].Name)) < 0
	})
	return ts
}
