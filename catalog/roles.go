package catalog

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"

	"github.com/sluice-db/sluice/sqlerr"
)

// Role is a role made with CREATE ROLE or CREATE USER. Roles are never
// superusers: the superusers are the users configured outside the catalog
// (a users file, SLUICE_PASSWORD) and, under trust, whoever connects with a
// name that is not a role.
type Role struct {
	OID   uint32 `json:"oid"`
	Name  string `json:"name"`
	Login bool   `json:"login,omitempty"`
	// Verifier is the role's password as a SCRAM-SHA-256 verifier
	// (SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>), never
	// the password; "" when it has none.
	Verifier string `json:"verifier,omitempty"`
	// Select are the relations (by id) the role may read: GRANT SELECT.
	Select []uint32 `json:"select,omitempty"`
}

// MaySelect reports whether the role was granted SELECT on relation id.
func (r *Role) MaySelect(id uint32) bool { return slices.Contains(r.Select, id) }

// roleMetaPrefix starts the storage meta keys of roles.
const roleMetaPrefix = "role/"

// RoleMetaKey is the storage meta key of the role named name.
func RoleMetaKey(name string) string { return roleMetaPrefix + name }

// IsRoleMetaKey reports whether a storage meta key holds a role.
func IsRoleMetaKey(k string) bool { return strings.HasPrefix(k, roleMetaPrefix) }

// Encode returns the role's durable form.
func (r *Role) Encode() ([]byte, error) { return json.Marshal(r) }

// DecodeRole parses a role written by Encode under meta key k.
func DecodeRole(k string, b []byte) (*Role, error) {
	var r Role
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, sqlerr.New(sqlerr.DataCorrupted, "corrupt role record %q: %v", k, err)
	}
	if RoleMetaKey(r.Name) != k || r.OID == 0 {
		return nil, sqlerr.New(sqlerr.DataCorrupted, "corrupt role record %q: holds role %q with oid %d", k, r.Name, r.OID)
	}
	return &r, nil
}

// Role finds a role by name.
func (c *Catalog) Role(name string) (*Role, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	r, ok := c.roles[name]
	return r, ok
}

// Roles returns every role ordered by name.
func (c *Catalog) Roles() []*Role {
	c.mu.RLock()
	defer c.mu.RUnlock()
	rs := make([]*Role, 0, len(c.roles))
	for _, r := range c.roles {
		rs = append(rs, r)
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].Name < rs[j].Name })
	return rs
}

// PublishRole makes a role (or its new version) visible, after the record
// committed. Roles are immutable once published: a change publishes a copy.
func (c *Catalog) PublishRole(r *Role) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putRole(r)
}

func (c *Catalog) putRole(r *Role) {
	c.roles[r.Name] = r
	if r.OID >= c.nextID {
		c.nextID = r.OID + 1
	}
}

// RemoveRole withdraws a role, after its removal committed.
func (c *Catalog) RemoveRole(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.roles, name)
}
