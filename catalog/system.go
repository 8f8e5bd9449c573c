package catalog

import (
	"fmt"

	"github.com/sluice-db/sluice/types"
)

// KindSystem is a system relation of pg_catalog or information_schema: its
// rows are produced from a Snapshot when a query reads it, and it cannot be
// written.
const KindSystem Kind = "system"

// Namespace OIDs, as in Postgres.
const (
	NamespacePgCatalog         uint32 = 11
	NamespacePgToast           uint32 = 99
	NamespacePublic            uint32 = 2200
	NamespaceInformationSchema uint32 = 13207
)

// BootstrapSuperuser names RoleSuperuser when the session's user is a role
// of the catalog: the user `sluice serve` tells people to connect as.
const BootstrapSuperuser = "sluice"

// Built-in role, database and other OIDs (Postgres' own where it has them).
const (
	// RoleSuperuser is the bootstrap superuser: the session's user (or
	// BootstrapSuperuser when that is a role of the catalog), owner of every
	// object.
	RoleSuperuser uint32 = 10
	// RoleDatabaseOwner owns the public schema, as in Postgres 15+.
	RoleDatabaseOwner uint32 = 6171
	// DatabaseOID is the OID of the one database Sluice serves, under
	// whatever name the client connected with.
	DatabaseOID uint32 = 5

	TablespaceDefault uint32 = 1663
	TablespaceGlobal  uint32 = 1664
	AmHeap            uint32 = 2
	AmBtree           uint32 = 403
	CollationDefault  uint32 = 100
	CollationC        uint32 = 950
	CollationPOSIX    uint32 = 951
	LanguageInternal  uint32 = 12
	LanguageSQL       uint32 = 14

	// OIDs of the catalogs that pg_description and pg_depend rows name in
	// classoid.
	ClassPgClass      uint32 = 1259
	ClassPgNamespace  uint32 = 2615
	ClassPgType       uint32 = 1247
	ClassPgProc       uint32 = 1255
	ClassPgConstraint uint32 = 2606
	ClassPgDatabase   uint32 = 1262
	ClassPgAttrdef    uint32 = 2604
)

// Derived OIDs. A relation's key (a table's primary key, a materialized
// view's unique key) is shown as an index with OID IndexOID(id); a table's
// primary key constraint has ConstraintOID(id); a column default has
// AttrdefOID(id, attnum). They live in the upper quarters of the OID space,
// far above the ids the catalog allocates from FirstUserID.
func IndexOID(id uint32) uint32      { return 1<<30 + id }
func ConstraintOID(id uint32) uint32 { return 2<<30 + id }
func AttrdefOID(id uint32, attnum int) uint32 {
	return 3<<30 + (id<<11+uint32(attnum))&(1<<30-1)
}

// sysRelSpec and sysColSpec are the generated form of a system relation
// (system_schema.go).
type sysRelSpec struct {
	schema, name string
	oid          uint32
	relkind      byte
	cols         []sysColSpec
}

type sysColSpec struct {
	name, typ string
	notNull   bool
}

// sysRel is a system relation: its descriptor and how its rows are made.
type sysRel struct {
	desc    *Table
	nsp     uint32
	relkind byte
	rows    func(s *Snapshot, b *rowBuilder)
}

var (
	systemByName = map[string]*sysRel{} // key: schema.name
	systemByID   = map[uint32]*sysRel{}
	systemList   []*sysRel
)

// postgres16 is what Postgres 16, the version Sluice reports, changed in
// the relations of system_schema.go (generated from 15): psql and drivers
// pick their catalog queries by server version, so psql 16 and 17 read
// these columns. after "" puts a column first; a column that exists is
// retyped.
var postgres16 = []struct {
	rel, after string
	col        sysColSpec
}{
	{"pg_auth_members", "", sysColSpec{"oid", "oid", true}},
	{"pg_auth_members", "admin_option", sysColSpec{"inherit_option", "boolean", true}},
	{"pg_auth_members", "inherit_option", sysColSpec{"set_option", "boolean", true}},
	{"pg_collation", "colliculocale", sysColSpec{"collicurules", "text", false}},
	{"pg_database", "daticulocale", sysColSpec{"daticurules", "text", false}},
	{"pg_subscription", "substream", sysColSpec{"substream", "\"char\"", true}},
	{"pg_subscription", "subdisableonerr", sysColSpec{"subpasswordrequired", "boolean", true}},
	{"pg_subscription", "subpasswordrequired", sysColSpec{"subrunasowner", "boolean", true}},
	{"pg_subscription", "subpublications", sysColSpec{"suborigin", "text", false}},
}

// withPostgres16 applies postgres16 to a relation's columns.
func withPostgres16(spec sysRelSpec) []sysColSpec {
	cols := append([]sysColSpec(nil), spec.cols...)
	for _, ch := range postgres16 {
		if spec.schema != "pg_catalog" || ch.rel != spec.name {
			continue
		}
		at := -1
		for i, c := range cols {
			if c.name == ch.col.name {
				cols[i] = ch.col
				at = -2
				break
			}
			if c.name == ch.after {
				at = i + 1
			}
		}
		switch {
		case at == -2:
		case ch.after == "":
			cols = append([]sysColSpec{ch.col}, cols...)
		case at < 0:
			panic("[BUG] catalog: postgres16 names unknown column " + ch.rel + "." + ch.after)
		default:
			cols = append(cols[:at], append([]sysColSpec{ch.col}, cols[at:]...)...)
		}
	}
	return cols
}

func init() {
	for _, spec := range systemSchema {
		spec.cols = withPostgres16(spec)
		desc := &Table{ID: spec.oid, Kind: KindSystem, Schema: spec.schema, Name: spec.name}
		for _, c := range spec.cols {
			desc.Columns = append(desc.Columns, Column{Name: c.name, Type: sysType(c.typ), NotNull: c.notNull})
		}
		r := &sysRel{desc: desc, nsp: NamespacePgCatalog, relkind: spec.relkind, rows: systemRows[spec.schema+"."+spec.name]}
		if spec.schema == "information_schema" {
			r.nsp = NamespaceInformationSchema
		}
		systemByName[key(spec.schema, spec.name)] = r
		systemByID[spec.oid] = r
		systemList = append(systemList, r)
	}
}

// sysType maps a column type as the generator wrote it (Postgres'
// format_type) to a Sluice type. Types Sluice lacks become the closest it
// has: aclitem[] is text[] (always NULL: there are no privileges to show),
// the information_schema domains are their base types.
func sysType(name string) *types.T {
	switch name {
	case "aclitem[]":
		return types.ArrayOf(types.Text)
	case "anyarray", "inet", "pg_lsn":
		return types.Text
	case "information_schema.sql_identifier":
		return types.Name
	case "information_schema.character_data", "information_schema.yes_or_no":
		return types.Varchar
	case "information_schema.cardinal_number":
		return types.Int4
	case "information_schema.time_stamp":
		return types.TimestampTZ
	}
	t, err := types.ParseTypeName(name)
	if err != nil {
		panic(fmt.Sprintf("[BUG] catalog: system column type %q: %v", name, err))
	}
	return t
}

// LookupSystem finds a system relation by schema ("pg_catalog" or
// "information_schema") and name.
func LookupSystem(schema, name string) (*Table, bool) {
	if r, ok := systemByName[key(schema, name)]; ok {
		return r.desc, true
	}
	return nil, false
}

// IsSystemID reports whether id is the OID of a system relation.
func IsSystemID(id uint32) bool { return systemByID[id] != nil }

// SystemTables returns the descriptors of all system relations.
func SystemTables() []*Table {
	out := make([]*Table, len(systemList))
	for i, r := range systemList {
		out[i] = r.desc
	}
	return out
}
