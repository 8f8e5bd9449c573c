// Package parser owns turning a query string into statements: it splits the
// string with pg_query's scanner (so semicolons inside strings, dollar quotes
// and comments do not split), parses each piece with pg_query (Postgres' own
// grammar), and gives Sluice's statement extensions (CREATE STREAM, SUBSCRIBE…)
// a chance to claim a statement first, working on its scanner tokens.
//
// Syntax errors are sqlerr 42601 with Postgres' message and a 1-based
// character position in the whole query string, as Postgres reports them.
//
// A Parser holds only its extension list and is safe for concurrent use once
// built. The package imports sqlerr (for user errors) and nothing else of ours.
package parser
