// Package engine is the coordinator between the wire protocol and the rest of
// Sluice: it implements pgwire.Backend. It owns sessions (settings, the
// transaction block state machine), statement execution (parser → planner →
// exec, DDL, SET/SHOW, COPY, EXPLAIN), the published catalog, which it
// loads from storage meta records at startup and changes only in commits,
// and who may do what: roles, their passwords and grants (roles.go,
// grants.go).
//
// Concurrency: a session is used by one goroutine at a time (its connection's)
// and needs no locks of its own. Shared state is the catalog (its own lock),
// storage (its own commit lock) and ddlMu, which serialises the name checks
// and catalog publication of commits that create or drop tables or change
// roles.
package engine
