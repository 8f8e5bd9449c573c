package catalog

import (
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// View is one session's view of the user objects: the published catalog
// with the session's uncommitted DDL laid over it. *Catalog is a View.
type View interface {
	Lookup(schema, name string) (*Table, bool)
	ByID(id uint32) (*Table, bool)
	Tables() []*Table
}

// Proc is one function or aggregate, a pg_proc row.
type Proc struct {
	Oid       uint32
	Name      string
	Kind      byte // 'f' function, 'a' aggregate, 'w' window function
	Args      []uint32
	Variadic  uint32 // element type of a VARIADIC last argument, or 0
	Ret       uint32
	RetSet    bool
	Strict    bool
	Volatile  bool
	ArgsShown string // argument list as pg_get_function_arguments prints it ("" derives it)
}

// Setting is one configuration parameter, a pg_settings row.
type Setting struct {
	Name, Value, Default, Description string
	ReadOnly                          bool
}

// Activity is the session's pg_stat_activity row.
type Activity struct {
	PID             int32
	ApplicationName string
	BackendStart    time.Time
	Query           string
}

// Lock is an advisory lock held or awaited, a pg_locks row: classid and
// objid are the key's two halves (a bigint key's high and low 32 bits, or
// the two int keys), objsubid 1 for a bigint key and 2 for two int keys.
type Lock struct {
	PID      int32
	ClassID  uint32
	ObjID    uint32
	ObjSubID int16
	Shared   bool
	Granted  bool
}

// Renderer prints object definitions the way Postgres' ruleutils does. The
// planner implements it (it can bind expressions); without one a Snapshot
// prints the stored SQL text.
type Renderer interface {
	// DefaultExpr is pg_get_expr of column col's default: the bound
	// expression with the types Postgres would show ('x'::text).
	DefaultExpr(t *Table, col int) string
	// ViewQuery is pg_get_viewdef of a materialized view.
	ViewQuery(t *Table, pretty bool) string
}

// Env is what a Snapshot knows of the session and server beyond the objects.
type Env struct {
	User      string // the session user, shown as the owner of everything
	Roles     []*Role
	Sequences []*Sequence
	// SequenceValue is a sequence's last value and whether it was handed
	// out; nil: as its definition says.
	SequenceValue func(*Sequence) (last int64, called bool)
	Database      string // the database the client connected to
	// DatabaseNames are the other names of the database (CREATE DATABASE).
	DatabaseNames []*DatabaseName
	SearchPath    []string
	Procs         []Proc
	Settings      func() []Setting
	Activity      *Activity
	// Locks lists the advisory locks held and awaited in the server; nil:
	// none.
	Locks  func() []Lock
	Render Renderer
	// Size estimates a relation's live rows and bytes; nil or false: unknown.
	Size func(t *Table) (rows, bytes int64, ok bool)
}

// Snapshot is the catalog as one statement sees it: the rows of the system
// relations and the answers of the catalog functions (pg_get_viewdef,
// pg_table_is_visible, …) are computed from it. It is built lazily and is
// safe for concurrent use.
type Snapshot struct {
	view  View
	envFn func() Env
	env   Env // envFn's result, set by build

	once   sync.Once
	rels   []*rel // every relation, by OID
	byOID  map[uint32]*rel
	procs  map[uint32]*Proc
	byName map[string]*rel // key: schema.name

	rowsMu   sync.Mutex
	rowsMade map[uint32]*coldata.Chunk // system relations' rows, by OID
}

// rel is one pg_class row: a user relation, its key index, or a system
// relation.
type rel struct {
	oid     uint32
	name    string
	schema  string
	nsp     uint32
	relkind byte
	cols    []Column
	user    *Table  // the user relation (for an index: the one it indexes)
	sys     *sysRel // the system relation
	index   bool    // the key index of user
	key     []int   // key column ordinals (of user)
}

// NewSnapshot returns the snapshot of view as a session described by env
// sees it. Neither is read until a question needs them.
func NewSnapshot(view View, env func() Env) *Snapshot {
	return &Snapshot{view: view, envFn: env}
}

func (s *Snapshot) build() {
	s.once.Do(func() {
		s.env = s.envFn()
		s.byOID, s.byName, s.procs = map[uint32]*rel{}, map[string]*rel{}, map[uint32]*Proc{}
		add := func(r *rel) {
			s.rels = append(s.rels, r)
			s.byOID[r.oid] = r
			s.byName[key(r.schema, r.name)] = r
		}
		for _, sr := range systemList {
			add(&rel{oid: sr.desc.ID, name: sr.desc.Name, schema: sr.desc.Schema, nsp: sr.nsp, relkind: sr.relkind, cols: sr.desc.Columns, sys: sr})
		}
		for _, t := range s.view.Tables() {
			r := &rel{oid: t.ID, name: t.Name, schema: t.Schema, nsp: namespaceOID(t.Schema), relkind: 'r', cols: t.Columns, user: t}
			if t.Kind == KindMaterializedView {
				r.relkind = 'm'
			}
			add(r)
			if len(t.PK) > 0 {
				idx := &rel{oid: IndexOID(t.ID), name: indexName(t), schema: t.Schema, nsp: r.nsp, relkind: 'i', user: t, index: true, key: t.PK}
				for _, k := range t.PK {
					idx.cols = append(idx.cols, t.Columns[k])
				}
				add(idx)
			}
		}
		for _, q := range s.env.Sequences {
			add(&rel{oid: q.OID, name: q.Name, schema: "public", nsp: NamespacePublic, relkind: 'S', cols: sequenceColumns})
		}
		sort.Slice(s.rels, func(i, j int) bool { return s.rels[i].oid < s.rels[j].oid })
		for i := range s.env.Procs {
			p := &s.env.Procs[i]
			s.procs[p.Oid] = p
		}
	})
}

// sequenceColumns are the columns of a sequence relation in Postgres.
var sequenceColumns = []Column{{Name: "last_value", Type: types.Int8, NotNull: true},
	{Name: "log_cnt", Type: types.Int8, NotNull: true}, {Name: "is_called", Type: types.Bool, NotNull: true}}

// indexName names a relation's key index as Postgres names the index of a
// primary key (t_pkey) or of CREATE UNIQUE INDEX ON mv (a, b) (mv_a_b_idx).
func indexName(t *Table) string {
	if t.Kind != KindMaterializedView {
		return truncName(t.Name, "pkey")
	}
	cols := make([]string, len(t.PK))
	for i, k := range t.PK {
		cols[i] = t.Columns[k].Name
	}
	return truncName(t.Name+"_"+strings.Join(cols, "_"), "idx")
}

// truncName joins name and suffix with "_" within Postgres' 63-byte
// identifier limit, shortening name as ChooseRelationName does.
func truncName(name, suffix string) string {
	limit := 63 - len(suffix) - 1
	for len(name) > limit {
		name = name[:len(name)-1]
	}
	return name + "_" + suffix
}

func namespaceOID(schema string) uint32 {
	switch schema {
	case "pg_catalog":
		return NamespacePgCatalog
	case "information_schema":
		return NamespaceInformationSchema
	case "pg_toast":
		return NamespacePgToast
	}
	return NamespacePublic
}

func namespaceName(oid uint32) (string, bool) {
	switch oid {
	case NamespacePgCatalog:
		return "pg_catalog", true
	case NamespaceInformationSchema:
		return "information_schema", true
	case NamespacePgToast:
		return "pg_toast", true
	case NamespacePublic:
		return "public", true
	}
	return "", false
}

// searchPath is the effective search path: pg_catalog first unless the
// path names it elsewhere, as Postgres searches it.
func (s *Snapshot) searchPath() []string {
	path := s.env.SearchPath
	if len(path) == 0 {
		path = []string{"public"}
	}
	if !slices.Contains(path, "pg_catalog") {
		path = append([]string{"pg_catalog"}, path...)
	}
	return path
}

// relByName finds the relation a possibly qualified name means.
func (s *Snapshot) relByName(schema, name string) *rel {
	s.build()
	if schema != "" {
		return s.byName[key(schema, name)]
	}
	for _, sch := range s.searchPath() {
		if r := s.byName[key(sch, name)]; r != nil {
			return r
		}
	}
	return nil
}

// visible reports whether r is found by its unqualified name.
func (s *Snapshot) visible(r *rel) bool { return s.relByName("", r.name) == r }

func (s *Snapshot) rel(oid uint32) *rel {
	s.build()
	return s.byOID[oid]
}

// RoleName returns the name of a role (pg_get_userbyid).
func (s *Snapshot) RoleName(oid uint32) (string, bool) {
	s.build()
	for _, r := range s.roles() {
		if r.oid == oid {
			return r.name, true
		}
	}
	return "", false
}

// RelationVisible is pg_table_is_visible; ok is false for an unknown OID.
func (s *Snapshot) RelationVisible(oid uint32) (visible, ok bool) {
	r := s.rel(oid)
	if r == nil {
		return false, false
	}
	return s.visible(r), true
}

// TypeVisible is pg_type_is_visible: every type lives in pg_catalog.
func (s *Snapshot) TypeVisible(oid uint32) (visible, ok bool) {
	if types.FormatType(oid, -1, false) != "???" {
		return true, true
	}
	return false, false
}

// FunctionVisible is pg_function_is_visible.
func (s *Snapshot) FunctionVisible(oid uint32) (visible, ok bool) {
	s.build()
	if s.procs[oid] == nil {
		return false, false
	}
	return true, true
}

// RelationSize is pg_relation_size and friends: the estimated bytes of a
// relation (0 when unknown, as for a relation never written).
func (s *Snapshot) RelationSize(oid uint32) (int64, bool) {
	r := s.rel(oid)
	if r == nil {
		return 0, false
	}
	if r.user != nil && !r.index && s.env.Size != nil {
		if _, bytes, ok := s.env.Size(r.user); ok {
			return bytes, true
		}
	}
	return 0, true
}

// relRows estimates a relation's rows for pg_class.reltuples (-1: unknown).
func (s *Snapshot) relRows(r *rel) float64 {
	if r.user != nil && !r.index && s.env.Size != nil {
		if rows, _, ok := s.env.Size(r.user); ok {
			return float64(rows)
		}
	}
	return -1
}

// DatabaseSize is pg_database_size: the estimated bytes of all relations.
func (s *Snapshot) DatabaseSize() int64 {
	s.build()
	var n int64
	for _, r := range s.rels {
		if r.user != nil && !r.index {
			b, _ := s.RelationSize(r.oid)
			n += b
		}
	}
	return n
}
