// Package planner owns binding and planning: it resolves names, types,
// functions and parameters in pg_query's AST against the catalog, checks the
// query the way Postgres does (grouping, ambiguity, type errors with
// positions), and builds an exec plan. A Planner is immutable and shared; each
// PlanQuery call uses its own binder state and only reads the parse tree it
// is given, which the engine shares among sessions planning it at once (the
// golden tests check that a plan leaves its tree as it was).
package planner
