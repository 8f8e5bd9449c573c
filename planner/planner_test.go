package planner

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"github.com/sluice-db/sluice/catalog"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/timewindow"
	"github.com/sluice-db/sluice/types"
)

// testCatalog is an in-memory catalog for plan tests.
type testCatalog map[string]*catalog.Table

func (c testCatalog) Lookup(schema, name string) (*catalog.Table, bool) {
	t, ok := c[schema+"."+name]
	return t, ok
}

// TestPlans runs the golden plan files under testdata/: `table name col=type…
// [pk=col…] [kind=materialized-view|stream] [watermark=col]` defines a table
// (or, with kind, a view whose key is pk, or a stream whose WATERMARK FOR is
// col), `build` prints the plan of a query or its error,
// `view [emit=on-window-close]` the dataflow graph of a materialized view's
// query.
func TestPlans(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		cat := testCatalog{}
		var typName string
		p := &Planner{Cat: cat, Reg: expr.NewRegistry()}
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "table":
				tbl := &catalog.Table{ID: uint32(catalog.FirstUserID + len(cat)), Schema: "public", Name: d.CmdArgs[0].Key}
				for _, a := range d.CmdArgs[1:] {
					switch a.Key {
					case "pk":
						tbl.PK = append(tbl.PK, tbl.ColumnIndex(a.Vals[0]))
						continue
					case "kind":
						tbl.Kind = catalog.Kind(strings.ReplaceAll(a.Vals[0], "-", " "))
						continue
					case "watermark":
						tbl.Watermark = &catalog.Watermark{Column: a.Vals[0]}
						continue
					}
					typ := types.ByName(a.Vals[0])
					if typ == nil {
						t.Fatalf("unknown type %s", a.Vals[0])
					}
					tbl.Columns = append(tbl.Columns, catalog.Column{Name: a.Key, Type: typ})
				}
				cat["public."+tbl.Name] = tbl
				return ""
			case "build":
				res, err := pg.Parse(d.Input)
				if err != nil {
					return "parse error: " + err.Error() + "\n"
				}
				// NB: the engine shares one parse tree among sessions
				// planning it at once, so planning must not write to it.
				before := proto.Clone(res.Stmts[0].Stmt)
				planned, err := p.PlanQuery(res.Stmts[0].Stmt, Options{})
				if !proto.Equal(before, res.Stmts[0].Stmt) {
					t.Fatalf("planning changed the parse tree of %s", d.Input)
				}
				if err != nil {
					se, _ := sqlerr.As(err)
					if se == nil {
						return "error: " + err.Error() + "\n"
					}
					return "error " + se.Code + " at " + strconv.Itoa(se.Position) + ": " + se.Message + "\n"
				}
				var cols []string
				for _, c := range planned.Columns {
					cols = append(cols, c.Name+":"+c.Type.String())
				}
				return "columns: " + strings.Join(cols, ", ") + "\n" + Explain(planned.Plan) + "\n"
			case "view":
				res, err := pg.Parse(d.Input)
				if err != nil {
					return "parse error: " + err.Error() + "\n"
				}
				// view emit=on-window-close plans EMIT ON WINDOW CLOSE.
				opts := Options{}
				for _, a := range d.CmdArgs {
					if a.Key == "emit" {
						opts.EmitOnWindowClose = a.Vals[0] == "on-window-close"
					}
				}
				vp, err := p.PlanView(res.Stmts[0].Stmt, opts)
				if err != nil {
					se, _ := sqlerr.As(err)
					if se == nil {
						return "error: " + err.Error() + "\n"
					}
					out := "error " + se.Code + ": " + se.Message + "\n"
					if se.Hint != "" {
						out += "hint: " + se.Hint + "\n"
					}
					return out
				}
				key := "none"
				if vp.Key != nil {
					key = fmt.Sprint(vp.Key)
				}
				out := "key: " + key + "\n" + vp.Graph.String()
				// view create=name also publishes the view as name, with
				// what it says about event time, for the views over it.
				for _, a := range d.CmdArgs {
					if a.Key != "create" {
						continue
					}
					tbl := &catalog.Table{ID: uint32(catalog.FirstUserID + len(cat)), Kind: catalog.KindMaterializedView, Schema: "public", Name: a.Vals[0], PK: vp.Key}
					var names []string
					for _, c := range vp.Columns {
						tbl.Columns = append(tbl.Columns, catalog.Column{Name: c.Name, Type: c.Type})
						names = append(names, c.Name)
					}
					tbl.AppendOnly, tbl.EventTimes = vp.AppendOnly, vp.EventTimes(names)
					cat["public."+tbl.Name] = tbl
					var ets []string
					for _, et := range tbl.EventTimes {
						e := fmt.Sprintf("%s lag %s", et.Column, timewindow.FormatLength(et.LagMicros))
						if et.GridMicros > 0 {
							e += " grid " + timewindow.FormatLength(et.GridMicros)
							if et.GridOffsetMicros != 0 {
								e += "+" + timewindow.FormatLength(et.GridOffsetMicros)
							}
						}
						ets = append(ets, e)
					}
					out += fmt.Sprintf("append-only: %v, bounded: [%s]\n", tbl.AppendOnly, strings.Join(ets, ", "))
				}
				return out
			case "viewdef":
				// A materialized view of the query, printed as pg_get_viewdef.
				res, err := pg.Parse(d.Input)
				if err != nil {
					return "parse error: " + err.Error() + "\n"
				}
				// NB: the engine shares one parse tree among sessions
				// planning it at once, so planning must not write to it.
				before := proto.Clone(res.Stmts[0].Stmt)
				planned, err := p.PlanQuery(res.Stmts[0].Stmt, Options{})
				if !proto.Equal(before, res.Stmts[0].Stmt) {
					t.Fatalf("planning changed the parse tree of %s", d.Input)
				}
				if err != nil {
					return "error: " + err.Error() + "\n"
				}
				def, err := pg.Deparse(res)
				if err != nil {
					t.Fatal(err)
				}
				v := &catalog.Table{Kind: catalog.KindMaterializedView, Schema: "public", Name: "v", Definition: def}
				for _, c := range planned.Columns {
					v.Columns = append(v.Columns, catalog.Column{Name: c.Name, Type: c.Type})
				}
				return Renderer{P: p}.ViewQuery(v, true) + "\n"
			case "default":
				// A column DEFAULT of the given type, printed as pg_get_expr.
				var typ *types.T
				d.ScanArgs(t, "type", &typName)
				if typ = types.ByName(typName); typ == nil {
					t.Fatalf("unknown type %s", typName)
				}
				tbl := &catalog.Table{Columns: []catalog.Column{{Name: "c", Type: typ, Default: strings.TrimSpace(d.Input)}}}
				return Renderer{P: p}.DefaultExpr(tbl, 0) + "\n"
			}
			t.Fatalf("unknown command %s", d.Cmd)
			return ""
		})
	})
}
