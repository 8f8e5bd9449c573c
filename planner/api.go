package planner

import (
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/sluice-db/sluice/catalog"
	"github.com/sluice-db/sluice/exec"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/types"
)

// Catalog is what the planner reads of the catalog.
type Catalog interface {
	Lookup(schema, name string) (*catalog.Table, bool)
}

// Planner binds and plans statements.
type Planner struct {
	Cat Catalog
	Reg *expr.Registry
}

// Options are per-statement inputs from the session.
type Options struct {
	// ParamTypes are the client-declared types of $1..$n (nil or Unknown = infer).
	ParamTypes []*types.T
	// SearchPath lists schemas for unqualified names.
	SearchPath []string
	Cfg        *types.Config
	// Incremental plans for a dataflow: every relation is read by a full
	// scan (its change feed), never by a point lookup.
	Incremental bool
	// EmitOnWindowClose plans a view with EMIT ON WINDOW CLOSE.
	EmitOnWindowClose bool
}

// ResultColumn describes one output column.
type ResultColumn struct {
	Name     string
	Type     *types.T
	TableOID uint32
	AttNum   int16
}

// Planned is a bound statement ready to run.
type Planned struct {
	Plan    exec.Plan
	Columns []ResultColumn
	// ParamTypes are the final types of $1..$n.
	ParamTypes []*types.T
	// Tag is the command tag verb: SELECT, INSERT, UPDATE, DELETE.
	Tag string
	// Returns reports whether the statement yields rows (SELECT or RETURNING).
	Returns bool
	// Repeatable reports that the statement calls no function whose value
	// depends on more than its arguments, the rows read and the settings
	// it was planned with: no volatile one (random(), current_user, the
	// catalog's), none reading the clock (now(), age(x)) or a setting
	// (current_setting). Run twice over the same rows with the same
	// parameters, such a statement gives the same answer.
	Repeatable bool
}

// PlanQuery binds SELECT, VALUES, INSERT, UPDATE and DELETE statements.
func (p *Planner) PlanQuery(stmt *pg.Node, opts Options) (*Planned, error) {
	b := newBinder(p, opts)
	return b.bindStatement(stmt)
}

// ResolveType resolves a type name as written in DDL or a cast, with typmods.
func ResolveType(tn *pg.TypeName) (*types.T, error) { return resolveTypeName(tn) }

// BindDefault binds a column DEFAULT expression (no column references) to the
// column type, for CREATE TABLE validation and for INSERT.
func (p *Planner) BindDefault(n *pg.Node, typ *types.T, opts Options) (expr.Expr, error) {
	b := newBinder(p, opts)
	e, err := b.bindExpr(n, &scope{})
	if err != nil {
		return nil, err
	}
	return b.coerce(e, typ, "DEFAULT", false)
}

// Explain renders a plan as an indented tree.
func Explain(plan exec.Plan) string { return explain(plan) }
