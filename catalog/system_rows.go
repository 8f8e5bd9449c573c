package catalog

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// Rows returns the rows of system relation oid as this snapshot sees them:
// its columns, then tableoid (oid itself), the system column catalog
// queries read. They are made once per snapshot (psql's correlated
// subqueries read pg_attrdef once per column): the vectors are shared, and
// callers must not modify them.
func (s *Snapshot) Rows(oid uint32) (*coldata.Chunk, error) {
	s.rowsMu.Lock()
	defer s.rowsMu.Unlock()
	ch, ok := s.rowsMade[oid]
	if !ok {
		var err error
		if ch, err = s.makeRows(oid); err != nil {
			return nil, err
		}
		if s.rowsMade == nil {
			s.rowsMade = map[uint32]*coldata.Chunk{}
		}
		s.rowsMade[oid] = ch
	}
	return &coldata.Chunk{Cols: append([]*coldata.Vec(nil), ch.Cols...), Len: ch.Len}, nil
}

func (s *Snapshot) makeRows(oid uint32) (*coldata.Chunk, error) {
	r := systemByID[oid]
	if r == nil {
		return nil, sqlerr.Bug("catalog: %d is not a system relation", oid)
	}
	s.build()
	b := newRowBuilder(r.desc)
	if r.rows != nil {
		r.rows(s, b)
	}
	if b.err != nil {
		return nil, b.err
	}
	b.ch.Cols = append(b.ch.Cols, coldata.ConstVec(types.Oid, int64(oid), b.ch.Len))
	return b.ch, nil
}

// rowBuilder appends rows to a chunk by column name.
type rowBuilder struct {
	desc *Table
	idx  map[string]int
	ch   *coldata.Chunk
	err  error
}

func newRowBuilder(desc *Table) *rowBuilder {
	b := &rowBuilder{desc: desc, idx: make(map[string]int, len(desc.Columns)), ch: coldata.NewChunk(desc.Types(), 16)}
	for i, c := range desc.Columns {
		b.idx[c.Name] = i
	}
	return b
}

// add appends a row given as column name, value pairs. Columns not named
// are NULL, or the zero value of their type when NOT NULL (false, 0, ”).
func (b *rowBuilder) add(kv ...any) {
	row := make([]types.Datum, len(b.desc.Columns))
	for i, c := range b.desc.Columns {
		if c.NotNull {
			row[i] = zeroDatum(c.Type)
		}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		name := kv[i].(string)
		j, ok := b.idx[name]
		if !ok {
			if b.err == nil {
				b.err = sqlerr.Bug("catalog: %s has no column %s", b.desc.Name, name)
			}
			return
		}
		d, err := toDatum(b.desc.Columns[j].Type, kv[i+1])
		if err != nil && b.err == nil {
			b.err = sqlerr.Bug("catalog: %s.%s: %v", b.desc.Name, name, err)
		}
		row[j] = d
	}
	b.ch.AppendRow(row)
}

func zeroDatum(t *types.T) types.Datum {
	switch t.Phys() {
	case types.PhysBool:
		return false
	case types.PhysInt:
		return int64(0)
	case types.PhysFloat:
		return float64(0)
	case types.PhysBytes:
		return ""
	}
	if t.Family == types.ArrayFamily {
		return &types.Array{Elem: t.Elem, Elems: []types.Datum{}}
	}
	return nil
}

// toDatum converts a Go value of a row literal to a Datum of type t.
func toDatum(t *types.T, v any) (types.Datum, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case bool:
		return x, nil
	case string:
		if t.Phys() != types.PhysBytes {
			return types.ParseText(t, x, nil)
		}
		return x, nil
	case byte:
		return string([]byte{x}), nil
	case int:
		return intDatum(t, int64(x)), nil
	case int16:
		return intDatum(t, int64(x)), nil
	case int32:
		return intDatum(t, int64(x)), nil
	case int64:
		return intDatum(t, x), nil
	case uint32:
		return intDatum(t, int64(x)), nil
	case float64:
		return x, nil
	case time.Time:
		return x.UnixMicro(), nil
	case []string:
		if x == nil {
			return nil, nil // a nil slice is NULL, an empty one {}
		}
		a := &types.Array{Elem: t.Elem, Elems: make([]types.Datum, len(x))}
		for i, s := range x {
			a.Elems[i] = s
		}
		return a, nil
	case []uint32:
		a := &types.Array{Elem: t.Elem, Elems: make([]types.Datum, len(x))}
		for i, n := range x {
			a.Elems[i] = int64(n)
		}
		return a, nil
	case []int16:
		a := &types.Array{Elem: t.Elem, Elems: make([]types.Datum, len(x))}
		for i, n := range x {
			a.Elems[i] = int64(n)
		}
		return a, nil
	}
	return nil, fmt.Errorf("unsupported value %T", v)
}

func intDatum(t *types.T, v int64) types.Datum {
	if t.Phys() == types.PhysFloat {
		return float64(v)
	}
	return v
}

// systemRows makes the rows of each system relation that has any; the
// others are empty (they exist so that queries naming them bind).
var systemRows = map[string]func(s *Snapshot, b *rowBuilder){
	"pg_catalog.pg_am":                     amRows,
	"pg_catalog.pg_attrdef":                attrdefRows,
	"pg_catalog.pg_attribute":              attributeRows,
	"pg_catalog.pg_class":                  classRows,
	"pg_catalog.pg_collation":              collationRows,
	"pg_catalog.pg_constraint":             constraintRows,
	"pg_catalog.pg_database":               databaseRows,
	"pg_catalog.pg_description":            descriptionRows,
	"pg_catalog.pg_index":                  indexRows,
	"pg_catalog.pg_indexes":                indexesRows,
	"pg_catalog.pg_language":               languageRows,
	"pg_catalog.pg_matviews":               matviewsRows,
	"pg_catalog.pg_namespace":              namespaceRows,
	"pg_catalog.pg_proc":                   procRows,
	"pg_catalog.pg_roles":                  rolesRows,
	"pg_catalog.pg_sequence":               sequenceRows,
	"pg_catalog.pg_sequences":              sequencesRows,
	"pg_catalog.pg_settings":               settingsRows,
	"pg_catalog.pg_stat_activity":          activityRows,
	"pg_catalog.pg_locks":                  locksRows,
	"pg_catalog.pg_tables":                 tablesRows,
	"pg_catalog.pg_tablespace":             tablespaceRows,
	"pg_catalog.pg_type":                   typeRows,
	"pg_catalog.pg_user":                   userRows,
	"pg_catalog.pg_views":                  viewsRows,
	"information_schema.columns":           isColumnsRows,
	"information_schema.key_column_usage":  isKeyColumnUsageRows,
	"information_schema.schemata":          isSchemataRows,
	"information_schema.table_constraints": isTableConstraintsRows,
	"information_schema.tables":            isTablesRows,
}

// acl is an ACL granting the owner everything and PUBLIC usage, as
// Postgres' defaults for schemas read.
func acl(owner string) []string { return []string{owner + "=UC/" + owner, "=U/" + owner} }

func namespaceRows(s *Snapshot, b *rowBuilder) {
	u := s.env.User
	b.add("oid", NamespacePgCatalog, "nspname", "pg_catalog", "nspowner", RoleSuperuser, "nspacl", acl(u))
	b.add("oid", NamespacePgToast, "nspname", "pg_toast", "nspowner", RoleSuperuser)
	b.add("oid", NamespacePublic, "nspname", "public", "nspowner", RoleDatabaseOwner, "nspacl", acl("pg_database_owner"))
	b.add("oid", NamespaceInformationSchema, "nspname", "information_schema", "nspowner", RoleSuperuser, "nspacl", acl(u))
}

func classRows(s *Snapshot, b *rowBuilder) {
	owner := s.roles()[0].name
	for _, r := range s.rels {
		am, filenode, replident := AmHeap, r.oid, byte('d')
		switch r.relkind {
		case 'i':
			am, replident = AmBtree, 'n'
		case 'v':
			am, filenode, replident = 0, 0, 'n'
		case 'S':
			am, replident = 0, 'n'
		}
		var opts, relACL []string
		if r.user != nil && !r.index {
			opts = reloptions(r.user)
			relACL = s.relationACL(r.user.ID, owner)
		}
		shared := r.sys != nil && sharedCatalogs[r.name]
		b.add("oid", r.oid, "relname", r.name, "relnamespace", r.nsp, "relowner", RoleSuperuser, "relam", am,
			"relfilenode", filenode, "reltuples", s.relRows(r), "relhasindex", r.user != nil && !r.index && len(r.user.PK) > 0,
			"relisshared", shared, "relpersistence", byte('p'), "relkind", r.relkind, "relnatts", len(r.cols),
			"relhasrules", r.relkind == 'v' || r.relkind == 'm', "relispopulated", true, "relreplident", replident,
			"reloptions", opts, "relacl", relACL)
	}
}

// relationACL is a relation's relacl: NULL (the owner's default
// privileges) unless a role was granted SELECT on it.
func (s *Snapshot) relationACL(id uint32, owner string) []string {
	var acl []string
	for _, r := range s.env.Roles {
		if r.MaySelect(id) {
			acl = append(acl, aclRole(r.Name)+"=r/"+aclRole(owner))
		}
	}
	if acl == nil {
		return nil
	}
	return append([]string{aclRole(owner) + "=arwdDxt/" + aclRole(owner)}, acl...)
}

// aclRole writes a role name as aclitem does: quoted unless it is made of
// letters, digits and underscores.
func aclRole(name string) string {
	for _, c := range name {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
		}
	}
	return name
}

// sharedCatalogs are the catalogs Postgres shares across databases.
var sharedCatalogs = map[string]bool{"pg_database": true, "pg_tablespace": true, "pg_shdescription": true,
	"pg_auth_members": true, "pg_roles": false}

// identityChar is pg_attribute.attidentity: "" for a column that is not
// an identity column.
func identityChar(id byte) string {
	if id == 0 {
		return ""
	}
	return string(id)
}

// identityGeneration is information_schema.columns.identity_generation.
var identityGeneration = map[byte]any{IdentityAlways: "ALWAYS", IdentityByDefault: "BY DEFAULT"}

func attributeRows(s *Snapshot, b *rowBuilder) {
	for _, r := range s.rels {
		for i, c := range r.cols {
			ti := infoOf(c.Type)
			notNull := c.NotNull
			hasDef := c.Default != ""
			if r.user != nil && !r.index {
				notNull = notNull || keyNotNull(r.user, i)
			} else {
				hasDef = false
			}
			ndims := 0
			if c.Type.Family == types.ArrayFamily && !c.Type.IsVector() {
				ndims = 1
			}
			b.add("attrelid", r.oid, "attname", c.Name, "atttypid", c.Type.Oid, "attstattarget", -1,
				"attlen", int(c.Type.Size()), "attnum", i+1, "attndims", ndims, "attcacheoff", -1,
				"atttypmod", int(c.Type.Typmod()), "attbyval", ti.byval, "attalign", ti.align, "attstorage", ti.storage,
				"attnotnull", notNull, "atthasdef", hasDef, "attislocal", true, "attcollation", ti.collation,
				"attidentity", identityChar(c.Identity), "attgenerated", "")
		}
	}
}

func attrdefRows(s *Snapshot, b *rowBuilder) {
	for _, r := range s.rels {
		if r.user == nil || r.index {
			continue
		}
		for i, c := range r.user.Columns {
			if c.Default == "" {
				continue
			}
			b.add("oid", AttrdefOID(r.oid, i+1), "adrelid", r.oid, "adnum", i+1, "adbin", s.defaultExpr(r.user, i))
		}
	}
}

func indexRows(s *Snapshot, b *rowBuilder) {
	for _, r := range s.rels {
		if !r.index {
			continue
		}
		keys := make([]int16, len(r.key))
		zeroOids := make([]uint32, len(r.key))
		zeros := make([]int16, len(r.key))
		colls := make([]uint32, len(r.key))
		for i, k := range r.key {
			keys[i] = int16(k + 1)
			colls[i] = infoOf(r.user.Columns[k].Type).collation
		}
		b.add("indexrelid", r.oid, "indrelid", r.user.ID, "indnatts", len(r.key), "indnkeyatts", len(r.key),
			"indisunique", true, "indisprimary", r.user.Kind != KindMaterializedView, "indimmediate", true,
			"indisvalid", true, "indisready", true, "indislive", true, "indkey", keys, "indcollation", colls,
			"indclass", zeroOids, "indoption", zeros)
	}
}

func constraintRows(s *Snapshot, b *rowBuilder) {
	for _, r := range s.rels {
		if !r.index || r.user.Kind == KindMaterializedView {
			continue
		}
		keys := make([]int16, len(r.key))
		for i, k := range r.key {
			keys[i] = int16(k + 1)
		}
		b.add("oid", ConstraintOID(r.user.ID), "conname", r.name, "connamespace", r.nsp, "contype", byte('p'),
			"convalidated", true, "conrelid", r.user.ID, "conindid", r.oid, "confupdtype", byte(' '),
			"confdeltype", byte(' '), "confmatchtype", byte(' '), "conislocal", true, "connoinherit", true, "conkey", keys)
	}
}

func descriptionRows(s *Snapshot, b *rowBuilder) {
	for _, nsp := range []uint32{NamespacePgCatalog, NamespacePublic} {
		d, _ := s.Description(nsp, ClassPgNamespace, 0)
		b.add("objoid", nsp, "classoid", ClassPgNamespace, "objsubid", 0, "description", d)
	}
	for _, r := range s.rels {
		if d, ok := s.Description(r.oid, ClassPgClass, 0); ok {
			b.add("objoid", r.oid, "classoid", ClassPgClass, "objsubid", 0, "description", d)
		}
		if r.user == nil || r.index {
			continue
		}
		for i, c := range r.user.Columns {
			if c.Comment != "" {
				b.add("objoid", r.oid, "classoid", ClassPgClass, "objsubid", i+1, "description", c.Comment)
			}
		}
	}
}

func amRows(_ *Snapshot, b *rowBuilder) {
	b.add("oid", AmHeap, "amname", "heap", "amtype", byte('t'))
	b.add("oid", AmBtree, "amname", "btree", "amtype", byte('i'))
}

func collationRows(_ *Snapshot, b *rowBuilder) {
	for _, c := range []struct {
		oid      uint32
		name     string
		provider byte
		locale   any
	}{{CollationDefault, "default", 'd', nil}, {CollationC, "C", 'c', "C"}, {CollationPOSIX, "POSIX", 'c', "POSIX"}} {
		b.add("oid", c.oid, "collname", c.name, "collnamespace", NamespacePgCatalog, "collowner", RoleSuperuser,
			"collprovider", c.provider, "collisdeterministic", true, "collencoding", -1, "collcollate", c.locale, "collctype", c.locale)
	}
}

// databaseRows lists the database under the name the session connected
// with and under the names CREATE DATABASE made.
func databaseRows(s *Snapshot, b *rowBuilder) {
	row := func(oid uint32, name string) {
		b.add("oid", oid, "datname", name, "datdba", RoleSuperuser, "encoding", 6, "datlocprovider", byte('c'),
			"datallowconn", true, "datconnlimit", -1, "dattablespace", TablespaceDefault, "datcollate", "C", "datctype", "C")
	}
	row(DatabaseOID, s.env.Database)
	for _, d := range s.env.DatabaseNames {
		if d.Name != s.env.Database {
			row(d.OID, d.Name)
		}
	}
}

func tablespaceRows(_ *Snapshot, b *rowBuilder) {
	b.add("oid", TablespaceDefault, "spcname", "pg_default", "spcowner", RoleSuperuser)
	b.add("oid", TablespaceGlobal, "spcname", "pg_global", "spcowner", RoleSuperuser)
}

func languageRows(_ *Snapshot, b *rowBuilder) {
	b.add("oid", LanguageInternal, "lanname", "internal", "lanowner", RoleSuperuser)
	b.add("oid", LanguageSQL, "lanname", "sql", "lanowner", RoleSuperuser, "lanpltrusted", true)
}

// shownRole is a row of pg_roles.
type shownRole struct {
	oid         uint32
	name        string
	super       bool
	login       bool
	hasPassword bool
}

// roles are the roles Sluice shows: the bootstrap superuser owning
// everything (named as the session's user unless that is a role of the
// catalog), pg_database_owner (owner of public), and the catalog's roles.
func (s *Snapshot) roles() []shownRole {
	owner := s.env.User
	for _, r := range s.env.Roles {
		if r.Name == owner {
			owner = BootstrapSuperuser
		}
	}
	out := []shownRole{{oid: RoleSuperuser, name: owner, super: true, login: true, hasPassword: true},
		{oid: RoleDatabaseOwner, name: "pg_database_owner"}}
	for _, r := range s.env.Roles {
		out = append(out, shownRole{oid: r.OID, name: r.Name, login: r.Login, hasPassword: r.Verifier != ""})
	}
	return out
}

func rolesRows(s *Snapshot, b *rowBuilder) {
	for _, r := range s.roles() {
		var password any // NB: never the verifier; NULL without a password, as Postgres
		if r.hasPassword {
			password = "********"
		}
		b.add("rolname", r.name, "rolsuper", r.super, "rolinherit", true, "rolcreaterole", r.super, "rolcreatedb", r.super,
			"rolcanlogin", r.login, "rolreplication", r.super, "rolconnlimit", -1, "rolpassword", password,
			"rolbypassrls", r.super, "oid", r.oid)
	}
}

func userRows(s *Snapshot, b *rowBuilder) {
	for _, r := range s.roles() {
		if r.login {
			b.add("usename", r.name, "usesysid", r.oid, "usecreatedb", r.super, "usesuper", r.super, "userepl", r.super,
				"usebypassrls", r.super, "passwd", "********")
		}
	}
}

func procRows(s *Snapshot, b *rowBuilder) {
	for _, p := range s.env.Procs {
		strict := p.Strict
		volatile := byte('i')
		if p.Volatile {
			volatile = 'v'
		}
		rows := 0
		if p.RetSet {
			rows = 1000
		}
		args := p.Args
		variadic := uint32(0)
		if p.Variadic != 0 {
			variadic = p.Variadic
			args = append(append([]uint32(nil), args...), types.ArrayOf(typeOf(p.Variadic)).Oid)
		}
		b.add("oid", p.Oid, "proname", p.Name, "pronamespace", NamespacePgCatalog, "proowner", RoleSuperuser,
			"prolang", LanguageInternal, "procost", 1, "prorows", rows, "provariadic", variadic, "prokind", p.Kind,
			"proisstrict", strict, "proretset", p.RetSet, "provolatile", volatile, "proparallel", byte('s'),
			"pronargs", len(args), "prorettype", p.Ret, "proargtypes", args, "prosrc", p.Name)
	}
}

func settingsRows(s *Snapshot, b *rowBuilder) {
	if s.env.Settings == nil {
		return
	}
	for _, st := range s.env.Settings() {
		context, source := "user", "session"
		if st.ReadOnly {
			context = "internal"
		}
		if st.Value == st.Default {
			source = "default"
		}
		b.add("name", st.Name, "setting", st.Value, "category", "Sluice", "short_desc", st.Description, "context", context,
			"vartype", "string", "source", source, "boot_val", st.Default, "reset_val", st.Default, "pending_restart", false)
	}
}

func activityRows(s *Snapshot, b *rowBuilder) {
	a := s.env.Activity
	if a == nil {
		return
	}
	b.add("datid", DatabaseOID, "datname", s.env.Database, "pid", int(a.PID), "usesysid", RoleSuperuser, "usename", s.env.User,
		"application_name", a.ApplicationName, "backend_start", a.BackendStart, "state", "active", "query", a.Query,
		"backend_type", "client backend")
}

func locksRows(s *Snapshot, b *rowBuilder) {
	if s.env.Locks == nil {
		return
	}
	for _, l := range s.env.Locks() {
		mode := "ExclusiveLock"
		if l.Shared {
			mode = "ShareLock"
		}
		b.add("locktype", "advisory", "database", DatabaseOID, "classid", l.ClassID, "objid", l.ObjID,
			"objsubid", int(l.ObjSubID), "pid", int(l.PID), "mode", mode, "granted", l.Granted, "fastpath", false)
	}
}

func tablesRows(s *Snapshot, b *rowBuilder) {
	for _, r := range s.rels {
		if r.relkind != 'r' {
			continue
		}
		b.add("schemaname", r.schema, "tablename", r.name, "tableowner", s.env.User,
			"hasindexes", r.user != nil && len(r.user.PK) > 0, "hasrules", false, "hastriggers", false, "rowsecurity", false)
	}
}

func sequenceRows(s *Snapshot, b *rowBuilder) {
	for _, q := range s.env.Sequences {
		b.add("seqrelid", q.OID, "seqtypid", q.TypeOid, "seqstart", q.Start, "seqincrement", q.Increment,
			"seqmax", q.Max, "seqmin", q.Min, "seqcache", 1, "seqcycle", q.Cycle)
	}
}

func sequencesRows(s *Snapshot, b *rowBuilder) {
	for _, q := range s.env.Sequences {
		last, called := q.Last, q.Called
		if s.env.SequenceValue != nil {
			last, called = s.env.SequenceValue(q)
		}
		var lastValue any // NB: NULL until nextval handed a value out, as in Postgres
		if called {
			lastValue = last
		}
		b.add("schemaname", "public", "sequencename", q.Name, "sequenceowner", s.env.User, "data_type", q.TypeOid,
			"start_value", q.Start, "min_value", q.Min, "max_value", q.Max, "increment_by", q.Increment,
			"cycle", q.Cycle, "cache_size", 1, "last_value", lastValue)
	}
}

func viewsRows(s *Snapshot, b *rowBuilder) {
	for _, r := range s.rels {
		if r.relkind == 'v' {
			b.add("schemaname", r.schema, "viewname", r.name, "viewowner", s.env.User)
		}
	}
}

func matviewsRows(s *Snapshot, b *rowBuilder) {
	for _, r := range s.rels {
		if r.relkind != 'm' {
			continue
		}
		def, _ := s.ViewDef(r.oid, true)
		b.add("schemaname", r.schema, "matviewname", r.name, "matviewowner", s.env.User,
			"hasindexes", len(r.user.PK) > 0, "ispopulated", true, "definition", def)
	}
}

func indexesRows(s *Snapshot, b *rowBuilder) {
	for _, r := range s.rels {
		if !r.index {
			continue
		}
		def, _ := s.IndexDef(r.oid, 0, false)
		b.add("schemaname", r.schema, "tablename", r.user.Name, "indexname", r.name, "indexdef", def)
	}
}

// typeInfo holds the pg_type properties of a type that types.T does not.
type typeInfo struct {
	category  byte
	preferred bool
	byval     bool
	align     byte
	storage   byte
	collation uint32
}

func infoOf(t *types.T) typeInfo {
	ti := typeInfo{align: 'i', storage: 'p'}
	switch t.Size() {
	case 1:
		ti.align, ti.byval = 'c', true
	case 2:
		ti.align, ti.byval = 's', true
	case 4:
		ti.byval = true
	case 8:
		ti.align, ti.byval = 'd', true
	}
	switch t.Family {
	case types.BoolFamily:
		ti.category, ti.preferred = 'B', true
	case types.IntFamily, types.FloatFamily, types.NumericFamily, types.OidFamily:
		ti.category = 'N'
		ti.preferred = t.Oid == types.OidFloat8 || t.Oid == types.OidOid
		if t.Oid == types.OidXid {
			ti.category = 'U'
		}
		if t.Oid == types.OidNumeric {
			ti.storage = 'm'
		}
	case types.StringFamily:
		ti.category, ti.storage, ti.collation = 'S', 'x', CollationDefault
		ti.preferred = t.Oid == types.OidText
		switch t.Oid {
		case types.OidName:
			ti.storage, ti.align, ti.collation = 'p', 'c', CollationC
		case types.OidChar:
			ti.category, ti.storage, ti.collation = 'Z', 'p', 0
		case types.OidPgNodeTree:
			ti.category = 'Z'
		}
	case types.BytesFamily:
		ti.category, ti.storage = 'U', 'x'
	case types.UUIDFamily:
		ti.category, ti.align = 'U', 'c'
	case types.JSONFamily:
		ti.category, ti.storage = 'U', 'x'
	case types.DateFamily, types.TimeFamily, types.TimestampFamily:
		ti.category = 'D'
	case types.TimestampTZFamily:
		ti.category, ti.preferred = 'D', true
	case types.IntervalFamily:
		ti.category, ti.preferred, ti.align = 'T', true, 'd'
	case types.ArrayFamily:
		ti.category = 'A'
		if !t.IsVector() {
			ti.storage = 'x'
			if infoOf(t.Elem).align == 'd' {
				ti.align = 'd'
			}
			ti.collation = infoOf(t.Elem).collation
		}
	case types.UnknownFamily:
		ti.category, ti.align = 'X', 'c'
	}
	return ti
}

func typeRows(_ *Snapshot, b *rowBuilder) {
	var all []*types.T
	for _, t := range types.BaseTypes() {
		all = append(all, t)
		if a := types.ArrayOid(t.Oid); a != 0 {
			all = append(all, types.ByOid(a))
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Oid < all[j].Oid })
	for _, t := range all {
		ti := infoOf(t)
		typtype, elem := byte('b'), uint32(0)
		if t.Family == types.UnknownFamily {
			typtype = 'p'
		}
		if t.Family == types.ArrayFamily {
			elem = t.Elem.Oid
		}
		if t.Oid == types.OidName {
			elem = types.OidChar
		}
		b.add(append([]any{"oid", t.Oid, "typname", t.TypName(), "typnamespace", NamespacePgCatalog, "typowner", RoleSuperuser,
			"typlen", int(t.Size()), "typbyval", ti.byval, "typtype", typtype, "typcategory", ti.category,
			"typispreferred", ti.preferred, "typisdefined", true, "typdelim", byte(','), "typelem", elem,
			"typarray", types.ArrayOid(t.Oid), "typalign", ti.align, "typstorage", ti.storage, "typtypmod", -1,
			"typcollation", ti.collation}, arrayIO(t)...)...)
	}
	for _, oid := range types.PseudoTypes() {
		name := strings.Trim(types.FormatType(oid, -1, false), `"`)
		b.add("oid", oid, "typname", name, "typnamespace", NamespacePgCatalog, "typowner", RoleSuperuser, "typlen", 4,
			"typtype", byte('p'), "typcategory", byte('P'), "typisdefined", true, "typdelim", byte(','), "typalign", byte('i'),
			"typstorage", byte('p'), "typtypmod", -1)
	}
}

// ---- information_schema ----

func yesNo(b bool) string {
	if b {
		return "YES"
	}
	return "NO"
}

func isSchemataRows(s *Snapshot, b *rowBuilder) {
	for _, n := range []struct {
		name, owner string
	}{{"information_schema", s.env.User}, {"pg_catalog", s.env.User}, {"pg_toast", s.env.User}, {"public", "pg_database_owner"}} {
		b.add("catalog_name", s.env.Database, "schema_name", n.name, "schema_owner", n.owner)
	}
}

// isTable reports whether information_schema shows r as a table: Postgres
// leaves out indexes and materialized views.
func isTable(r *rel) bool { return r.relkind == 'r' || r.relkind == 'v' }

func isTablesRows(s *Snapshot, b *rowBuilder) {
	for _, r := range s.rels {
		if !isTable(r) {
			continue
		}
		kind := "BASE TABLE"
		if r.relkind == 'v' {
			kind = "VIEW"
		}
		b.add("table_catalog", s.env.Database, "table_schema", r.schema, "table_name", r.name, "table_type", kind,
			"is_insertable_into", yesNo(r.relkind == 'r'), "is_typed", "NO")
	}
}

func isColumnsRows(s *Snapshot, b *rowBuilder) {
	for _, r := range s.rels {
		if !isTable(r) {
			continue
		}
		for i, c := range r.cols {
			notNull := c.NotNull
			var def any
			if r.user != nil {
				notNull = notNull || keyNotNull(r.user, i)
				if c.Default != "" {
					def = s.defaultExpr(r.user, i)
				}
			}
			t := c.Type
			dataType := types.FormatType(t.Oid, -1, false)
			if t.Family == types.ArrayFamily && !t.IsVector() {
				dataType = "ARRAY"
			}
			var charMax, charOctet, numPrec, numRadix, numScale, dtPrec any
			switch {
			case t.Family == types.StringFamily && (t.Oid == types.OidVarchar || t.Oid == types.OidBPChar || t.Oid == types.OidText):
				if t.Width > 0 {
					charMax, charOctet = int(t.Width), int(t.Width)*4
				} else {
					charOctet = 1073741824
				}
			case t.Family == types.IntFamily:
				numPrec, numRadix, numScale = int(t.Size())*8, 2, 0
			case t.Oid == types.OidFloat4:
				numPrec, numRadix = 24, 2
			case t.Oid == types.OidFloat8:
				numPrec, numRadix = 53, 2
			case t.Family == types.NumericFamily:
				numRadix = 10
				if t.Width > 0 {
					numPrec, numScale = int(t.Width), int(t.Scale)
				}
			case t.Family == types.DateFamily:
				dtPrec = 0
			case t.Family == types.TimeFamily, t.Family == types.TimestampFamily, t.Family == types.TimestampTZFamily, t.Family == types.IntervalFamily:
				dtPrec = 6
			}
			b.add("table_catalog", s.env.Database, "table_schema", r.schema, "table_name", r.name, "column_name", c.Name,
				"ordinal_position", i+1, "column_default", def, "is_nullable", yesNo(!notNull), "data_type", dataType,
				"character_maximum_length", charMax, "character_octet_length", charOctet, "numeric_precision", numPrec,
				"numeric_precision_radix", numRadix, "numeric_scale", numScale, "datetime_precision", dtPrec,
				"udt_catalog", s.env.Database, "udt_schema", "pg_catalog", "udt_name", t.TypName(),
				"dtd_identifier", strconv.Itoa(i+1), "is_self_referencing", "NO", "is_identity", yesNo(c.Identity != 0),
				"identity_generation", identityGeneration[c.Identity], "identity_cycle", "NO",
				"is_generated", "NEVER", "is_updatable", yesNo(r.relkind == 'r'))
		}
	}
}

func isTableConstraintsRows(s *Snapshot, b *rowBuilder) {
	for _, r := range s.rels {
		if !r.index || r.user.Kind == KindMaterializedView {
			continue
		}
		b.add("constraint_catalog", s.env.Database, "constraint_schema", r.schema, "constraint_name", r.name,
			"table_catalog", s.env.Database, "table_schema", r.schema, "table_name", r.user.Name,
			"constraint_type", "PRIMARY KEY", "is_deferrable", "NO", "initially_deferred", "NO", "enforced", "YES")
	}
}

func isKeyColumnUsageRows(s *Snapshot, b *rowBuilder) {
	for _, r := range s.rels {
		if !r.index || r.user.Kind == KindMaterializedView {
			continue
		}
		for i, k := range r.key {
			b.add("constraint_catalog", s.env.Database, "constraint_schema", r.schema, "constraint_name", r.name,
				"table_catalog", s.env.Database, "table_schema", r.schema, "table_name", r.user.Name,
				"column_name", r.user.Columns[k].Name, "ordinal_position", i+1)
		}
	}
}

// keyNotNull reports whether column i is NOT NULL as part of a primary key.
// A materialized view's key (its GROUP BY columns) may hold NULL.
func keyNotNull(t *Table, i int) bool {
	if t.Kind == KindMaterializedView {
		return false
	}
	for _, k := range t.PK {
		if k == i {
			return true
		}
	}
	return false
}
