// Package pgwire owns the Postgres v3 wire protocol on the server side: the
// listener, startup (TLS after SSLRequest or PostgreSQL 17's direct TLS, GSS
// refusal, protocol negotiation, cancel requests), authentication (Trust, or
// SCRAM-SHA-256 against PostgreSQL-format verifiers, channel-bound as
// SCRAM-SHA-256-PLUS over TLS), simple and extended
// query, COPY, and turning errors into ErrorResponse messages. It knows
// sessions, not SQL: everything about a statement goes through the Backend
// interface in backend.go. It never logs a password, verifier or proof.
//
// Concurrency: one goroutine per connection owns that connection's session,
// prepared statements, portals and output buffer; no other goroutine touches
// them. That goroutine also reads the socket, so a query wakes one goroutine,
// not two; a notification or Shutdown reaches it while it waits for the
// client by moving the socket's read deadline (connreader.go). While a
// statement runs, a timer polls the socket for a hang-up without reading it,
// so a client that disconnects mid-query cancels the query.
// The only state shared between connections is the Server's registry of live
// connections (for CancelRequest, Shutdown and the connection cap), kept
// behind one mutex, and, with WithMaxActiveQueries, the slots of the
// statements running (a buffered channel, admission.go): a connection holds
// one from its first Query, Parse, Bind or Execute until it touches the
// socket or its statement waits on something else (Waiting).
package pgwire
