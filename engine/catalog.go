package engine

import (
	"sort"
	"strings"

	"github.com/sluice-db/sluice/catalog"
	"github.com/sluice-db/sluice/exec"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/planner"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// This file connects sessions to the catalog's system relations and
// functions: every statement run gets a catalog.Snapshot of the session's
// view (pg_catalog rows, pg_get_viewdef, …), and the session's format
// config reads and prints regclass and friends as names.

var _ expr.Catalog = (*catalog.Snapshot)(nil)

// catalogView is the catalog as the session sees it, with its transaction's
// uncommitted DDL.
func (s *session) catalogView() catalog.View {
	if s.tx.stagesDDL() {
		return txnCatalog{s.e.cat, s.tx}
	}
	return s.e.cat
}

// catalogSnapshot returns a snapshot of the session's view of the catalog
// for one statement. It is built lazily, on the first catalog question.
func (s *session) catalogSnapshot() *catalog.Snapshot {
	view := s.catalogView()
	return catalog.NewSnapshot(view, func() catalog.Env {
		return catalog.Env{
			User:          s.user,
			Roles:         s.e.cat.Roles(),
			Sequences:     s.e.sequencesIn(s.tx),
			SequenceValue: s.e.sequences.value,
			Database:      s.database,
			DatabaseNames: s.e.cat.DatabaseNames(),
			SearchPath:    s.searchPath(),
			Procs:         s.e.procs(),
			Settings:      s.settingRows,
			Activity:      &catalog.Activity{PID: s.pid, ApplicationName: valueOr(s.get("application_name")), BackendStart: s.started, Query: s.query},
			Locks:         s.e.locks.list,
			Render:        planner.Renderer{P: &planner.Planner{Cat: view, Reg: s.e.reg}, Opts: s.planOpts(nil)},
			Size:          s.e.relationSize,
		}
	})
}

// relationSize estimates a table's or stream's rows and bytes from storage
// (views are not counted yet).
func (e *Engine) relationSize(t *catalog.Table) (rows, bytes int64, ok bool) {
	st, ok := e.db.Table(t.ID)
	if !ok {
		return 0, 0, false
	}
	n := int64(st.Len())
	width := int64(24) // per-row overhead, as a heap tuple header
	for _, c := range t.Columns {
		if sz := c.Type.Size(); sz > 0 {
			width += int64(sz)
		} else {
			width += 16 // a guess for variable-length values
		}
	}
	return n, n * width, true
}

// settingRows lists the session's settings for pg_settings.
func (s *session) settingRows() []catalog.Setting {
	out := make([]catalog.Setting, 0, len(settingList))
	for _, st := range settingList {
		v, _ := s.get(st.name)
		out = append(out, catalog.Setting{Name: st.name, Value: v, Default: st.def(s), Description: st.desc, ReadOnly: st.readOnly})
	}
	return out
}

// sessionNames is the types.Names of a session: it resolves names against
// a snapshot cached until the catalog, the search path or the
// transaction's DDL changes.
type sessionNames struct{ s *session }

func (n sessionNames) snapshot() *catalog.Snapshot {
	s := n.s
	if s.tx.stagesDDL() {
		return s.catalogSnapshot()
	}
	ver := s.e.catVersion.Load()
	path := strings.Join(s.searchPath(), ",")
	if s.names == nil || s.namesVer != ver || s.namesPath != path {
		s.names, s.namesVer, s.namesPath = s.catalogSnapshot(), ver, path
	}
	return s.names
}

func (n sessionNames) OidOf(t *types.T, name string) (uint32, error) {
	return n.snapshot().OidOf(t, name)
}

func (n sessionNames) NameOf(t *types.T, oid uint32) (string, bool) {
	return n.snapshot().NameOf(t, oid)
}

// systemRelation finds the system relation a name in DDL or COPY means:
// unqualified names find pg_catalog first, as in Postgres.
func systemRelation(schema, name string) (*catalog.Table, bool) {
	switch schema {
	case "":
		return catalog.LookupSystem("pg_catalog", name)
	case "pg_catalog", "information_schema":
		return catalog.LookupSystem(schema, name)
	}
	return nil, false
}

// errSystemCatalog is Postgres' error for DDL on a system relation.
func errSystemCatalog(name string) error {
	return sqlerr.New(sqlerr.InsufficientPrivilege, "permission denied: \"%s\" is a system catalog", name)
}

// systemAccess returns the rows of a system relation for a statement.
func systemAccess(snap *catalog.Snapshot, ref *exec.TableRef) (exec.TableAccess, error) {
	rows, err := snap.Rows(ref.ID)
	if err != nil {
		return nil, err
	}
	return &exec.ReadOnlyRows{Name: ref.Name, Rows: rows}, nil
}

// windowFuncs are the window functions pg_proc lists (prokind 'w').
var windowFuncs = []string{"cume_dist", "dense_rank", "first_value", "lag", "last_value", "lead", "nth_value",
	"ntile", "percent_rank", "rank", "row_number"}

// aggregateFuncs are the aggregates pg_proc lists (prokind 'a'), each with
// one argument of any type.
var aggregateFuncs = []string{"array_agg", "avg", "bit_and", "bit_or", "bool_and", "bool_or", "count", "every",
	"json_agg", "jsonb_agg", "max", "min", "mode", "percentile_cont", "percentile_disc", "stddev", "stddev_pop",
	"stddev_samp", "string_agg", "sum", "var_pop", "var_samp", "variance"}

// firstProcOid is where the pg_proc OIDs of functions without a known
// Postgres OID start: above Postgres' hand-assigned OIDs, below the user
// range, so tools treat them as built-in.
const firstProcOid = 10000

// procs lists the functions of the registry as pg_proc rows. Operators are
// left out (they belong to pg_operator).
func (e *Engine) procs() []catalog.Proc {
	e.procsOnce.Do(func() {
		oidOf := func(t *types.T) uint32 {
			if t == nil {
				return types.OidText
			}
			return t.Oid
		}
		next := uint32(firstProcOid)
		alloc := func(known uint32) uint32 {
			if known != 0 {
				return known
			}
			next++
			return next - 1
		}
		for _, name := range e.reg.Names() {
			if strings.Trim(name, "+-*/<>=~!@#%^&|`?") == "" {
				continue
			}
			for _, o := range e.reg.Overloads(name) {
				p := catalog.Proc{Oid: alloc(o.Oid), Name: name, Kind: 'f', Strict: !o.NullOK, Volatile: o.Volatile}
				for _, a := range o.Args {
					p.Args = append(p.Args, oidOf(a))
				}
				if o.Variadic != nil {
					p.Variadic = oidOf(o.Variadic)
				}
				ret := o.Ret
				if o.RetFn != nil {
					ret = polymorphicResult(o)
				}
				if expr.IsSetReturning(name) {
					p.RetSet = true
					if ret != nil && ret.Family == types.ArrayFamily && ret.Elem != nil {
						ret = ret.Elem
					}
				}
				p.Ret = oidOf(ret)
				e.procList = append(e.procList, p)
			}
		}
		for _, name := range aggregateFuncs {
			e.procList = append(e.procList, catalog.Proc{Oid: alloc(0), Name: name, Kind: 'a', Args: []uint32{expr.AnyType.Oid}, Ret: expr.AnyElement.Oid})
		}
		for _, name := range windowFuncs {
			e.procList = append(e.procList, catalog.Proc{Oid: alloc(0), Name: name, Kind: 'w', Ret: types.OidInt8})
		}
		e.procList = append(e.procList, catalog.ArrayIOProcs()...)
		sort.SliceStable(e.procList, func(i, j int) bool { return e.procList[i].Oid < e.procList[j].Oid })
	})
	return e.procList
}

// polymorphicResult is the declared result type of an overload whose result
// depends on its arguments: anyelement or anyarray when it follows the
// polymorphic arguments, else what it computes.
func polymorphicResult(o *expr.Overload) (res *types.T) {
	defer func() {
		if recover() != nil {
			res = expr.AnyElement // RetFn did not expect these arguments
		}
	}()
	args := make([]*types.T, len(o.Args))
	for i, a := range o.Args {
		switch a {
		case expr.AnyElement, expr.AnyType:
			args[i] = types.Text
		case expr.AnyArray:
			args[i] = types.ArrayOf(types.Text)
		default:
			args[i] = a
		}
	}
	ret := o.RetFn(args)
	switch {
	case ret == nil:
		return expr.AnyElement
	case ret.Oid == types.OidTextArray:
		return expr.AnyArray
	case ret.Oid == types.OidText:
		return expr.AnyElement
	}
	return ret
}
