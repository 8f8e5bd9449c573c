package pgwire

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluice-db/sluice/sqlerr"
)

// Causes attached to cancelled contexts, so an error can say why.
var (
	errCanceledByUser = errors.New("pgwire: query canceled by CancelRequest")
	errShutdown       = errors.New("pgwire: server shutting down")
	errClientGone     = errors.New("pgwire: client disconnected")
)

func errQueryCanceled() *sqlerr.Error {
	return sqlerr.New(sqlerr.QueryCanceled, "canceling statement due to user request")
}

func errAdminShutdown() *sqlerr.Error {
	return &sqlerr.Error{Code: sqlerr.AdminShutdown, Severity: "FATAL",
		Message: "terminating connection due to administrator command"}
}

func errTooManyConnections() *sqlerr.Error {
	return sqlerr.New(sqlerr.TooManyConnections, "sorry, too many clients already")
}

func protocolViolation(format string, args ...any) *sqlerr.Error {
	return sqlerr.New(sqlerr.ProtocolViolation, format, args...)
}

// errPasswordFailed is the one answer to a wrong password and to an unknown
// user alike, so a client cannot tell which it was.
func errPasswordFailed(user string) *sqlerr.Error {
	return sqlerr.New(sqlerr.InvalidPassword, "password authentication failed for user %q", user)
}

func errMalformedSCRAM(detail string) *sqlerr.Error {
	return protocolViolation("malformed SCRAM message").WithDetail("%s", detail)
}

// errNotSASL answers a message other than the SASL response awaited; like
// Postgres it names the message by its type byte.
func errNotSASL(msg pgproto3.FrontendMessage) *sqlerr.Error {
	b, err := msg.Encode(nil)
	if err != nil || len(b) == 0 {
		return protocolViolation("expected SASL response")
	}
	return protocolViolation("expected SASL response, got message type %d", b[0])
}

func errTLSRequired() *sqlerr.Error {
	return sqlerr.New(sqlerr.InvalidAuthorization, "connection without SSL is not allowed").
		WithHint("Connect with sslmode=require or stronger.")
}

func fatal(e *sqlerr.Error) *sqlerr.Error {
	e.Severity = "FATAL"
	return e
}

// toSQLError turns any error from a Backend call into a user-facing error.
// cause is context.Cause of the query's context (nil if it was not cancelled).
func toSQLError(err error, cause error) *sqlerr.Error {
	if e, ok := sqlerr.As(err); ok {
		return e
	}
	if errors.Is(err, context.Canceled) || (cause != nil && errors.Is(err, cause)) {
		if errors.Is(cause, errShutdown) {
			return errAdminShutdown()
		}
		return errQueryCanceled()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return sqlerr.New(sqlerr.QueryCanceled, "canceling statement due to statement timeout")
	}
	return sqlerr.New(sqlerr.InternalError, "%s", err.Error())
}

// errorResponse builds the ErrorResponse (or NoticeResponse fields) for e.
func errorResponse(e *sqlerr.Error) *pgproto3.ErrorResponse {
	sev := e.Severity
	if sev == "" {
		sev = "ERROR"
	}
	code := e.Code
	if code == "" {
		code = sqlerr.InternalError
	}
	r := &pgproto3.ErrorResponse{
		Severity:            sev,
		SeverityUnlocalized: sev,
		Code:                code,
		Message:             e.Message,
		Detail:              e.Detail,
		Hint:                e.Hint,
	}
	if e.Position > 0 {
		r.Position = int32(e.Position)
	}
	return r
}

// panicError is a recovered panic from a Backend call.
type panicError struct{ v any }

func (p panicError) Error() string { return fmt.Sprintf("internal error: %v", p.v) }
