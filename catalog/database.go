package catalog

import (
	"encoding/json"
	"sort"
	"strings"

	"github.com/sluice-db/sluice/sqlerr"
)

// DatabaseName is a name made with CREATE DATABASE. Sluice has one
// database, which every name connects to; a created name is listed in
// pg_database, so tools that look for their database there before
// connecting (dbmate up) find it.
type DatabaseName struct {
	OID  uint32 `json:"oid"`
	Name string `json:"name"`
}

const databaseMetaPrefix = "database/"

// DatabaseMetaKey is the storage meta key of the database name name.
func DatabaseMetaKey(name string) string { return databaseMetaPrefix + name }

// IsDatabaseMetaKey reports whether a storage meta key holds a database name.
func IsDatabaseMetaKey(k string) bool { return strings.HasPrefix(k, databaseMetaPrefix) }

// Encode returns the name's durable form.
func (d *DatabaseName) Encode() ([]byte, error) { return json.Marshal(d) }

// DecodeDatabaseName parses a database name written by Encode under meta key k.
func DecodeDatabaseName(k string, b []byte) (*DatabaseName, error) {
	var d DatabaseName
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, sqlerr.New(sqlerr.DataCorrupted, "corrupt database record %q: %v", k, err)
	}
	if DatabaseMetaKey(d.Name) != k || d.OID == 0 {
		return nil, sqlerr.New(sqlerr.DataCorrupted, "corrupt database record %q: holds database %q with oid %d", k, d.Name, d.OID)
	}
	return &d, nil
}

// DatabaseNames returns the created database names ordered by name.
func (c *Catalog) DatabaseNames() []*DatabaseName {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]*DatabaseName, 0, len(c.databases))
	for _, d := range c.databases {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// DatabaseNamed finds a created database name.
func (c *Catalog) DatabaseNamed(name string) (*DatabaseName, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	d, ok := c.databases[name]
	return d, ok
}

// PublishDatabaseName makes a database name visible, after its record
// committed.
func (c *Catalog) PublishDatabaseName(d *DatabaseName) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.databases[d.Name] = d
	if d.OID >= c.nextID {
		c.nextID = d.OID + 1
	}
}
