package planner

import (
	"slices"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/sluice-db/sluice/catalog"
	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/exec"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// binder holds the state of binding one statement.
type binder struct {
	p      *Planner
	opts   Options
	params []*types.T
	ctes   []map[string]*cte
	// grouping, when set, maps expressions of an aggregated query level onto
	// the aggregation's output columns.
	grouping *grouping
	// unrepeatable is set when the statement calls a function whose value
	// is not a function of its arguments and the settings planned with
	// (Planned.Repeatable).
	unrepeatable bool
}

type cte struct {
	plan exec.Plan
	cols []ResultColumn
}

func newBinder(p *Planner, opts Options) *binder {
	b := &binder{p: p, opts: opts}
	for _, t := range opts.ParamTypes {
		if t == nil {
			t = types.Unknown
		}
		b.params = append(b.params, t)
	}
	if b.opts.Cfg == nil {
		b.opts.Cfg = types.DefaultConfig()
	}
	if len(b.opts.SearchPath) == 0 {
		b.opts.SearchPath = []string{"public"}
	}
	return b
}

func (b *binder) bindStatement(n *pg.Node) (*Planned, error) {
	var out *Planned
	var err error
	switch {
	case n.GetSelectStmt() != nil:
		var q *query
		q, err = b.bindSelect(n.GetSelectStmt(), nil)
		if err == nil {
			out = &Planned{Plan: pruneColumns(q.plan), Columns: q.cols, Tag: "SELECT", Returns: true}
		}
	case n.GetInsertStmt() != nil:
		out, err = b.bindInsert(n.GetInsertStmt())
	case n.GetUpdateStmt() != nil:
		out, err = b.bindUpdate(n.GetUpdateStmt())
	case n.GetDeleteStmt() != nil:
		out, err = b.bindDelete(n.GetDeleteStmt())
	default:
		return nil, sqlerr.Bug("planner: unexpected statement %T", n.Node)
	}
	if err != nil {
		return nil, err
	}
	for i, t := range b.params {
		if t.Family == types.UnknownFamily {
			b.params[i] = types.Text
		}
	}
	out.ParamTypes = b.params
	out.Repeatable = !b.unrepeatable
	return out, nil
}

// query is a bound query expression: its plan and output columns.
type query struct {
	plan exec.Plan
	cols []ResultColumn
}

func (q *query) scope(alias string) *scope {
	s := &scope{}
	for _, c := range q.cols {
		s.cols = append(s.cols, scopeCol{table: alias, name: c.Name, typ: c.Type, tableOID: c.TableOID, attNum: c.AttNum})
	}
	return s
}

// lookupTable resolves a possibly schema-qualified table name. Unqualified
// names are looked up in pg_catalog first unless the search path places it
// elsewhere, as Postgres does, so pg_class means pg_catalog.pg_class.
func (b *binder) lookupTable(rv *pg.RangeVar) (*tableInfo, error) {
	name := rv.Relname
	schemas := b.searchPath()
	if rv.Schemaname != "" {
		schemas = []string{rv.Schemaname}
	}
	for _, s := range schemas {
		if s == "$user" || s == `"$user"` {
			continue
		}
		if t, ok := catalog.LookupSystem(s, name); ok {
			ref := &exec.TableRef{ID: t.ID, Name: t.Name, Types: append(t.Types(), types.Oid),
				ColNames: append(t.ColumnNames(), "tableoid"), System: true}
			ref.NotNull = make([]bool, len(ref.Types))
			return &tableInfo{ref: ref, desc: t}, nil
		}
		if t, ok := b.p.Cat.Lookup(s, name); ok {
			ref := &exec.TableRef{ID: t.ID, Name: t.Name, Types: t.Types(), PK: t.PK, ColNames: t.ColumnNames(),
				Stream: t.Kind == catalog.KindStream, Reference: t.Kind != catalog.KindStream && t.Kind != catalog.KindMaterializedView,
				EventTime: -1}
			if t.Watermark != nil {
				ref.EventTime = t.ColumnIndex(t.Watermark.Column)
			}
			if t.Kind == catalog.KindMaterializedView {
				ref.AppendOnly = t.AppendOnly
				for _, et := range t.EventTimes {
					if i := t.ColumnIndex(et.Column); i >= 0 {
						if ref.TimeBounds == nil {
							ref.TimeBounds = map[int]exec.TimeBound{}
						}
						ref.TimeBounds[i] = exec.TimeBound{Lag: et.LagMicros, Grid: et.GridMicros, Offset: et.GridOffsetMicros}
					}
				}
			}
			ref.NotNull = make([]bool, len(t.Columns))
			for i, c := range t.Columns {
				ref.NotNull[i] = c.NotNull
			}
			for _, k := range t.PK {
				ref.NotNull[k] = true
			}
			return &tableInfo{ref: ref, desc: t}, nil
		}
	}
	full := name
	if rv.Schemaname != "" {
		full = rv.Schemaname + "." + name
	}
	return nil, sqlerr.New(sqlerr.UndefinedTable, "relation \"%s\" does not exist", full).At(int(rv.Location) + 1)
}

// searchPath is the schemas unqualified names are looked up in: pg_catalog
// first unless the session's search path names it.
func (b *binder) searchPath() []string {
	if slices.Contains(b.opts.SearchPath, "pg_catalog") {
		return b.opts.SearchPath
	}
	return append([]string{"pg_catalog"}, b.opts.SearchPath...)
}

// coerce converts e to typ for an assignment or a context that needs exactly
// that type; unknown literals are parsed as typ. what names the context for
// the error message.
func (b *binder) coerce(e expr.Expr, typ *types.T, what string, explicit bool) (expr.Expr, error) {
	from := e.Type()
	if from.Equal(typ) {
		return e, nil
	}
	if p, ok := e.(*expr.Param); ok && from.Family == types.UnknownFamily {
		b.params[p.Idx] = typ
		return &expr.Param{Idx: p.Idx, Typ: typ}, nil
	}
	if c, ok := e.(*expr.Const); ok && from.Family == types.UnknownFamily {
		if c.Val == nil {
			return &expr.Const{Typ: typ, Val: nil}, nil
		}
		parseAs := typ
		if explicit && typ.Family == types.StringFamily && typ.Width > 0 {
			parseAs = types.Text
		}
		d, err := types.ParseText(parseAs, c.Val.(string), b.opts.Cfg)
		if err != nil {
			return nil, err
		}
		if parseAs != typ {
			if d, err = types.CastDatum(d, parseAs, typ, true, b.opts.Cfg); err != nil {
				return nil, err
			}
		}
		return &expr.Const{Typ: typ, Val: d}, nil
	}
	if !explicit && !assignable(from, typ) {
		return nil, sqlerr.New(sqlerr.DatatypeMismatch, "%s is of type %s but expression is of type %s", what, typ.String(), from.String()).
			WithHint("You will need to rewrite or cast the expression.")
	}
	return foldCast(b, &expr.Cast{Arg: e, To: typ, Explicit: explicit})
}

// assignable reports whether Postgres allows an assignment cast from → to.
func assignable(from, to *types.T) bool {
	if expr.ImplicitCast(from, to) {
		return true
	}
	switch {
	case from.Family == types.IntFamily && (to.Family == types.IntFamily || to.Family == types.NumericFamily || to.Family == types.FloatFamily):
		return true
	case from.Family == types.NumericFamily || from.Family == types.FloatFamily:
		return to.Family == types.IntFamily || to.Family == types.NumericFamily || to.Family == types.FloatFamily
	case to.Family == types.StringFamily:
		return true // every type has an assignment cast to text through its output function
	case from.Family == types.TimestampTZFamily || from.Family == types.TimestampFamily:
		return to.Family == types.DateFamily || to.Family == types.TimeFamily || to.Family == types.TimestampFamily
	case from.Family == types.JSONFamily:
		return to.Family == types.JSONFamily
	case from.Family == types.ArrayFamily && to.Family == types.ArrayFamily:
		return assignable(from.Elem, to.Elem)
	}
	return false
}

// foldCast evaluates casts of constants at bind time, so bad literals fail
// early and with the literal's position.
func foldCast(b *binder, c *expr.Cast) (expr.Expr, error) {
	if _, ok := c.Arg.(*expr.Const); ok {
		v, err := c.Eval(b.evalCtx(), &coldata.Chunk{Len: 1})
		if err != nil {
			return nil, err
		}
		return &expr.Const{Typ: c.To, Val: v.Get(0)}, nil
	}
	if parsesClockWords(c.Arg.Type(), c.To) {
		b.unrepeatable = true
	}
	return c, nil
}

// parsesClockWords reports whether a cast from a value of type from to
// type to, run on rows, may read the statement's clock: text parsed as a
// date or time takes 'now', 'today', 'tomorrow' and 'yesterday'
// (Planned.Repeatable).
func parsesClockWords(from, to *types.T) bool {
	for from.Family == types.ArrayFamily && to.Family == types.ArrayFamily {
		from, to = from.Elem, to.Elem
	}
	if from.Family != types.StringFamily && from.Family != types.UnknownFamily && from.Family != types.JSONFamily {
		return false
	}
	switch to.Family {
	case types.DateFamily, types.TimeFamily, types.TimestampFamily, types.TimestampTZFamily:
		return true
	}
	return false
}

func (b *binder) evalCtx() *expr.EvalCtx {
	return &expr.EvalCtx{Cfg: b.opts.Cfg, TxnTime: b.opts.Cfg.Now, StmtTime: b.opts.Cfg.Now}
}

// resolveTypeName maps a pg_query TypeName (with typmods and array bounds)
// to a type.
func resolveTypeName(tn *pg.TypeName) (*types.T, error) {
	var parts []string
	for _, n := range tn.Names {
		parts = append(parts, n.GetString_().Sval)
	}
	name := parts[len(parts)-1]
	if len(parts) == 2 && parts[0] != "pg_catalog" && parts[0] != "public" {
		return nil, sqlerr.New(sqlerr.UndefinedObject, "type \"%s\" does not exist", strings.Join(parts, ".")).At(int(tn.Location) + 1)
	}
	base := types.ByName(name)
	if base == nil {
		return nil, sqlerr.New(sqlerr.UndefinedObject, "type \"%s\" does not exist", name).At(int(tn.Location) + 1)
	}
	t := base
	if len(tn.Typmods) > 0 {
		var mods []int32
		for _, m := range tn.Typmods {
			c := m.GetAConst()
			if c == nil || c.GetIval() == nil {
				return nil, sqlerr.New(sqlerr.SyntaxError, "type modifiers must be simple constants").At(int(tn.Location) + 1)
			}
			mods = append(mods, c.GetIval().Ival)
		}
		cp := *base
		switch base.Oid {
		case types.OidVarchar, types.OidBPChar:
			if mods[0] < 1 {
				return nil, sqlerr.New(sqlerr.InvalidParameterValue, "length for type %s must be at least 1", base.TypName()).At(int(tn.Location) + 1)
			}
			cp.Width = mods[0]
		case types.OidNumeric:
			cp.Width = mods[0]
			if len(mods) > 1 {
				cp.Scale = mods[1]
			}
			if cp.Width < 1 || cp.Width > 1000 {
				return nil, sqlerr.New(sqlerr.InvalidParameterValue, "NUMERIC precision %d must be between 1 and 1000", cp.Width).At(int(tn.Location) + 1)
			}
		case types.OidTimestamp, types.OidTimestampTZ, types.OidTime, types.OidInterval:
			// Fractional-second precision is accepted and ignored.
		case types.OidFloat8:
			if mods[0] <= 24 {
				cp = *types.Float4
			}
		default:
			return nil, sqlerr.New(sqlerr.SyntaxError, "type modifier is not allowed for type \"%s\"", name).At(int(tn.Location) + 1)
		}
		t = &cp
	} else if base.Oid == types.OidBPChar && (name == "char" || name == "character" || name == "bpchar") && name != "bpchar" {
		cp := *base
		cp.Width = 1
		t = &cp
	}
	if len(tn.ArrayBounds) > 0 {
		t = types.ArrayOf(t)
	}
	return t, nil
}
