package engine

import (
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/sluice-db/sluice/pgwire"
	"github.com/sluice-db/sluice/sqlerr"
)

// execCreateSchema runs CREATE SCHEMA. Sluice has one schema for user
// relations, public, which always exists: CREATE SCHEMA IF NOT EXISTS public
// (which migration tools send before creating their tables) succeeds.
func (st *statement) execCreateSchema(n *pg.CreateSchemaStmt, w pgwire.ResultWriter) (string, error) {
	if n.Schemaname != "public" {
		return "", sqlerr.Unsupported("CREATE SCHEMA is not supported: relations live in schema public")
	}
	if !n.IfNotExists || len(n.SchemaElts) > 0 {
		return "", sqlerr.New(sqlerr.DuplicateSchema, "schema \"public\" already exists")
	}
	return "CREATE SCHEMA", w.Notice("NOTICE", sqlerr.DuplicateSchema, "schema \"public\" already exists, skipping")
}
