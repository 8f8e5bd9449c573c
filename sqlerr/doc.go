// Package sqlerr owns user-facing SQL errors: a Postgres SQLSTATE, message,
// detail, hint and the 1-based character position psql draws a caret under.
// Every package that reports a user error builds one of these; pgwire turns it
// into an ErrorResponse. Errors that are not *Error reach the client as XX000.
package sqlerr
