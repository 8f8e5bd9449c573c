package expr

import (
	"fmt"
	"strings"

	"github.com/cockroachdb/apd/v3"

	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// Catalog answers the catalog functions psql and other tools call
// (pg_get_viewdef, pg_table_is_visible, …) from the statement's snapshot of
// the catalog. The engine sets EvalCtx.Catalog; catalog.Snapshot implements
// it. A false ok means "no such object": the function then returns NULL, as
// Postgres' do for OIDs they do not know.
type Catalog interface {
	RoleName(oid uint32) (string, bool)
	RelationVisible(oid uint32) (visible, ok bool)
	TypeVisible(oid uint32) (visible, ok bool)
	FunctionVisible(oid uint32) (visible, ok bool)
	RelationSize(oid uint32) (int64, bool)
	DatabaseSize() int64
	IndexDef(oid uint32, col int, pretty bool) (string, bool)
	ConstraintDef(oid uint32) (string, bool)
	ViewDef(oid uint32, pretty bool) (string, bool)
	Description(objoid, classoid uint32, subid int32) (string, bool)
	ProcArgs(oid uint32) (string, bool)
	ProcResult(oid uint32) (string, bool)
	// OidOf resolves a name as the text input of a reg* type does.
	OidOf(t *types.T, name string) (uint32, error)
}

func catalogOf(ctx *EvalCtx) (Catalog, error) {
	if ctx.Catalog == nil {
		return nil, sqlerr.Unsupported("catalog functions cannot be used here")
	}
	return ctx.Catalog, nil
}

func oidArg(d types.Datum) uint32 { return uint32(d.(int64)) }

// catalogFn registers a volatile row function reading the catalog: catalog
// functions must never be folded at bind time or cached across statements.
func catalogFn(r *Registry, name string, args []*types.T, ret *types.T, f func(c Catalog, a []types.Datum) (types.Datum, error)) {
	r.Add(&Overload{Name: name, Args: args, Ret: ret, Volatile: true, Row: func(ctx *EvalCtx, a []types.Datum) (types.Datum, error) {
		c, err := catalogOf(ctx)
		if err != nil {
			return nil, err
		}
		return f(c, a)
	}})
}

// strOrNull returns s, or NULL when ok is false.
func strOrNull(s string, ok bool) (types.Datum, error) {
	if !ok {
		return nil, nil
	}
	return s, nil
}

func boolOrNull(b, ok bool) (types.Datum, error) {
	if !ok {
		return nil, nil
	}
	return b, nil
}

func registerCatalogFuncs(r *Registry) {
	T, B, I4, I8, O, N := types.Text, types.Bool, types.Int4, types.Int8, types.Oid, types.Name
	RC := types.Regclass

	catalogFn(r, "pg_get_userbyid", ts(O), N, func(c Catalog, a []types.Datum) (types.Datum, error) {
		if n, ok := c.RoleName(oidArg(a[0])); ok {
			return n, nil
		}
		return fmt.Sprintf("unknown (OID=%d)", oidArg(a[0])), nil
	})
	catalogFn(r, "pg_table_is_visible", ts(O), B, func(c Catalog, a []types.Datum) (types.Datum, error) {
		return boolOrNull(c.RelationVisible(oidArg(a[0])))
	})
	catalogFn(r, "pg_type_is_visible", ts(O), B, func(c Catalog, a []types.Datum) (types.Datum, error) {
		return boolOrNull(c.TypeVisible(oidArg(a[0])))
	})
	catalogFn(r, "pg_function_is_visible", ts(O), B, func(c Catalog, a []types.Datum) (types.Datum, error) {
		return boolOrNull(c.FunctionVisible(oidArg(a[0])))
	})
	// Objects Sluice has none of: every OID is unknown.
	for _, name := range []string{"pg_operator_is_visible", "pg_opclass_is_visible", "pg_opfamily_is_visible",
		"pg_conversion_is_visible", "pg_statistics_obj_is_visible", "pg_ts_parser_is_visible", "pg_ts_dict_is_visible",
		"pg_ts_template_is_visible", "pg_ts_config_is_visible"} {
		r.Add(&Overload{Name: name, Args: ts(O), Ret: B, Row: func(*EvalCtx, []types.Datum) (types.Datum, error) { return nil, nil }})
	}
	r.Add(&Overload{Name: "pg_collation_is_visible", Args: ts(O), Ret: B, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		switch oidArg(a[0]) {
		case 100, 950, 951:
			return true, nil
		}
		return nil, nil
	}})

	r.Add(&Overload{Name: "format_type", Args: ts(O, I4), Ret: T, NullOK: true, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		if a[0] == nil {
			return nil, nil
		}
		oid := oidArg(a[0])
		if a[1] == nil {
			return types.FormatType(oid, -1, false), nil
		}
		return types.FormatType(oid, int32(a[1].(int64)), true), nil
	}})

	// Sluice's pg_node_tree values are already SQL text (see catalog).
	getExpr := func(_ *EvalCtx, a []types.Datum) (types.Datum, error) { return a[0], nil }
	r.Add(&Overload{Name: "pg_get_expr", Args: ts(types.PgNodeTree, O), Ret: T, Row: getExpr})
	r.Add(&Overload{Name: "pg_get_expr", Args: ts(types.PgNodeTree, O, B), Ret: T, Row: getExpr})

	viewdef := func(c Catalog, oid uint32, pretty bool) (types.Datum, error) {
		return strOrNull(c.ViewDef(oid, pretty))
	}
	catalogFn(r, "pg_get_viewdef", ts(O), T, func(c Catalog, a []types.Datum) (types.Datum, error) {
		return viewdef(c, oidArg(a[0]), false)
	})
	catalogFn(r, "pg_get_viewdef", ts(O, B), T, func(c Catalog, a []types.Datum) (types.Datum, error) {
		return viewdef(c, oidArg(a[0]), a[1].(bool))
	})
	catalogFn(r, "pg_get_viewdef", ts(O, I4), T, func(c Catalog, a []types.Datum) (types.Datum, error) {
		return viewdef(c, oidArg(a[0]), true)
	})
	for _, args := range [][]*types.T{ts(T), ts(T, B)} {
		catalogFn(r, "pg_get_viewdef", args, T, func(c Catalog, a []types.Datum) (types.Datum, error) {
			oid, err := c.OidOf(types.Regclass, a[0].(string))
			if err != nil {
				return nil, err
			}
			return viewdef(c, oid, len(a) > 1 && a[1].(bool))
		})
	}
	// to_regclass and friends: the reg* input function, NULL for a name
	// that resolves to nothing (an invalid name is still an error).
	for _, rt := range []*types.T{types.Regclass, types.Regnamespace, types.Regrole, types.Regproc, types.Regprocedure} {
		catalogFn(r, "to_"+rt.TypName(), ts(T), rt, func(c Catalog, a []types.Datum) (types.Datum, error) {
			oid, err := c.OidOf(rt, a[0].(string))
			if err == nil {
				return int64(oid), nil
			}
			switch sqlerr.Code(err) {
			case sqlerr.UndefinedTable, sqlerr.UndefinedSchema, sqlerr.UndefinedObject, sqlerr.UndefinedFunction, sqlerr.AmbiguousFunction:
				return nil, nil
			}
			return nil, err
		})
	}
	catalogFn(r, "pg_get_indexdef", ts(O), T, func(c Catalog, a []types.Datum) (types.Datum, error) {
		return strOrNull(c.IndexDef(oidArg(a[0]), 0, false))
	})
	catalogFn(r, "pg_get_indexdef", ts(O, I4, B), T, func(c Catalog, a []types.Datum) (types.Datum, error) {
		return strOrNull(c.IndexDef(oidArg(a[0]), int(a[1].(int64)), a[2].(bool)))
	})
	for _, args := range [][]*types.T{ts(O), ts(O, B)} {
		catalogFn(r, "pg_get_constraintdef", args, T, func(c Catalog, a []types.Datum) (types.Datum, error) {
			return strOrNull(c.ConstraintDef(oidArg(a[0])))
		})
	}
	describe := func(c Catalog, objoid uint32, catalogName string, subid int32) (types.Datum, error) {
		classoid, err := c.OidOf(types.Regclass, catalogName)
		if err != nil {
			return nil, nil
		}
		return strOrNull(c.Description(objoid, classoid, subid))
	}
	catalogFn(r, "obj_description", ts(O, N), T, func(c Catalog, a []types.Datum) (types.Datum, error) {
		return describe(c, oidArg(a[0]), "pg_catalog."+a[1].(string), 0)
	})
	catalogFn(r, "obj_description", ts(O), T, func(c Catalog, a []types.Datum) (types.Datum, error) {
		return describe(c, oidArg(a[0]), "pg_catalog.pg_class", 0)
	})
	catalogFn(r, "col_description", ts(O, I4), T, func(c Catalog, a []types.Datum) (types.Datum, error) {
		return describe(c, oidArg(a[0]), "pg_catalog.pg_class", int32(a[1].(int64)))
	})
	catalogFn(r, "shobj_description", ts(O, N), T, func(Catalog, []types.Datum) (types.Datum, error) { return nil, nil })

	relSize := func(c Catalog, a []types.Datum) (types.Datum, error) {
		n, ok := c.RelationSize(oidArg(a[0]))
		if !ok {
			return nil, nil
		}
		return n, nil
	}
	for _, name := range []string{"pg_relation_size", "pg_total_relation_size", "pg_table_size"} {
		catalogFn(r, name, ts(RC), I8, relSize)
	}
	catalogFn(r, "pg_relation_size", ts(RC, T), I8, relSize)
	catalogFn(r, "pg_indexes_size", ts(RC), I8, func(c Catalog, a []types.Datum) (types.Datum, error) {
		if _, ok := c.RelationSize(oidArg(a[0])); !ok {
			return nil, nil
		}
		return int64(0), nil
	})
	for _, t := range []*types.T{N, O} {
		catalogFn(r, "pg_database_size", ts(t), I8, func(c Catalog, _ []types.Datum) (types.Datum, error) {
			return c.DatabaseSize(), nil
		})
	}
	r.Add(&Overload{Name: "pg_size_pretty", Args: ts(I8), Ret: T, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		return sizePretty(a[0].(int64)), nil
	}})
	r.Add(&Overload{Name: "pg_size_pretty", Args: ts(types.Numeric), Ret: T, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		d := a[0].(*apd.Decimal)
		v, err := d.Int64()
		if err != nil {
			var rounded apd.Decimal
			if _, err := apd.BaseContext.WithPrecision(40).RoundToIntegralValue(&rounded, d); err == nil {
				v, err = rounded.Int64()
			}
			if err != nil {
				return nil, sqlerr.Unsupported("pg_size_pretty of sizes beyond bigint is not supported")
			}
		}
		return sizePretty(v), nil
	}})

	for _, name := range []string{"pg_get_function_arguments", "pg_get_function_identity_arguments"} {
		catalogFn(r, name, ts(O), T, func(c Catalog, a []types.Datum) (types.Datum, error) {
			return strOrNull(c.ProcArgs(oidArg(a[0])))
		})
	}
	catalogFn(r, "pg_get_function_result", ts(O), T, func(c Catalog, a []types.Datum) (types.Datum, error) {
		return strOrNull(c.ProcResult(oidArg(a[0])))
	})

	r.Add(&Overload{Name: "pg_encoding_to_char", Args: ts(I4), Ret: N, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		switch a[0].(int64) {
		case 0:
			return "SQL_ASCII", nil
		case 6:
			return "UTF8", nil
		}
		return "", nil
	}})
	for _, name := range []string{"getdatabaseencoding", "pg_client_encoding"} {
		r.Add(&Overload{Name: name, Ret: N, Row: func(*EvalCtx, []types.Datum) (types.Datum, error) { return "UTF8", nil }})
	}
	r.Add(&Overload{Name: "pg_char_to_encoding", Args: ts(N), Ret: I4, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		switch strings.ToUpper(a[0].(string)) {
		case "SQL_ASCII":
			return int64(0), nil
		case "UTF8", "UNICODE":
			return int64(6), nil
		}
		return int64(-1), nil
	}})

	registerPrivilegeFuncs(r)

	// Objects Sluice does not have: their definitions are NULL.
	nullText := func(name string, args ...*types.T) {
		r.Add(&Overload{Name: name, Args: args, Ret: T, Row: func(*EvalCtx, []types.Datum) (types.Datum, error) { return nil, nil }})
	}
	nullText("pg_get_ruledef", O)
	nullText("pg_get_ruledef", O, B)
	nullText("pg_get_triggerdef", O)
	nullText("pg_get_triggerdef", O, B)
	nullText("pg_get_partkeydef", O)
	nullText("pg_get_statisticsobjdef", O)
	nullText("pg_get_statisticsobjdef_columns", O)
	nullText("pg_get_serial_sequence", T, T)
	nullText("pg_get_function_sqlbody", O)
	// pg_options_to_table splits name=value options into (option_name,
	// option_value) rows (a set-returning function, see IsSetReturning).
	r.Add(&Overload{Name: "pg_options_to_table", Args: ts(types.ArrayOf(T)), Ret: types.ArrayOf(T), Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		in := a[0].(*types.Array)
		out := &types.Array{Elem: types.ArrayOf(T), Elems: make([]types.Datum, 0, len(in.Elems))}
		for _, e := range in.Elems {
			s, _ := e.(string)
			name, value, ok := strings.Cut(s, "=")
			var v types.Datum = value
			if !ok {
				v = nil
			}
			out.Elems = append(out.Elems, &types.Array{Elem: T, Elems: []types.Datum{name, v}})
		}
		return out, nil
	}})
	for _, t := range []*types.T{N, O} {
		r.Add(&Overload{Name: "pg_tablespace_size", Args: ts(t), Ret: I8, Row: func(*EvalCtx, []types.Datum) (types.Datum, error) {
			return int64(0), nil
		}})
	}
	r.Add(&Overload{Name: "pg_relation_is_publishable", Args: ts(RC), Ret: B, Row: func(*EvalCtx, []types.Datum) (types.Datum, error) {
		return false, nil
	}})
	r.Add(&Overload{Name: "pg_tablespace_location", Args: ts(O), Ret: T, Row: func(*EvalCtx, []types.Datum) (types.Datum, error) {
		return "", nil
	}})
	r.Add(&Overload{Name: "pg_is_other_temp_schema", Args: ts(O), Ret: B, Row: func(*EvalCtx, []types.Datum) (types.Datum, error) {
		return false, nil
	}})
	r.Add(&Overload{Name: "pg_my_temp_schema", Ret: O, Row: func(*EvalCtx, []types.Datum) (types.Datum, error) {
		return int64(0), nil
	}})
	r.Add(&Overload{Name: "pg_is_in_recovery", Ret: B, Row: func(*EvalCtx, []types.Datum) (types.Datum, error) {
		return false, nil
	}})
}

// sizePretty is Postgres' pg_size_pretty: bytes below 10 kB, then kB, MB,
// GB, TB, PB with half-rounding.
func sizePretty(size int64) string {
	units := []struct {
		name  string
		limit int64
		round bool
		bits  uint
	}{{"bytes", 10 * 1024, false, 0}, {"kB", 20*1024 - 1, true, 10}, {"MB", 20*1024 - 1, true, 20},
		{"GB", 20*1024 - 1, true, 30}, {"TB", 20*1024 - 1, true, 40}, {"PB", 20*1024 - 1, true, 50}}
	abs := func(v int64) int64 {
		if v < 0 {
			return -v
		}
		return v
	}
	b2i := func(b bool) uint {
		if b {
			return 1
		}
		return 0
	}
	for i, u := range units {
		if i == len(units)-1 || abs(size) < u.limit {
			if u.round {
				if size < 0 {
					size = (size - 1) / 2
				} else {
					size = (size + 1) / 2
				}
			}
			return fmt.Sprintf("%d %s", size, u.name)
		}
		next := units[i+1]
		bits := next.bits - u.bits - b2i(next.round) + b2i(u.round)
		size /= int64(1) << bits
	}
	return ""
}
