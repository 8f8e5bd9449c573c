// Package sqllogictest runs .slt files (sqllogictest) against a server that
// speaks the Postgres wire protocol: Sluice itself, or a real PostgreSQL used as
// the oracle for plain SQL.
//
// It owns the .slt dialect (see README.md): parsing files into records,
// executing each record over a real pgx connection with the simple query
// protocol (so every value arrives in the server's text format, exactly what
// psql prints), formatting and comparing results, and rewriting expected
// results in place (--rewrite).
//
// Concurrency: a Runner holds only configuration and may run several files at
// once; each RunFile call opens its own connections (one per session the file
// names) and uses them from one goroutine only.
package sqllogictest
