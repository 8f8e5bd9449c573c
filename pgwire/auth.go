package pgwire

import (
	"context"

	"github.com/jackc/pgx/v5/pgproto3"
)

// Authenticator decides whether a client may connect. It runs after the
// startup message and before the session opens; on success the server sends
// AuthenticationOk. A SCRAM-SHA-256 implementation sends
// AuthenticationSASL, exchanges SASLInitialResponse/SASLResponse through c
// (after c.SetAuthType) and ends with AuthenticationSASLFinal; over TLS it
// can bind the exchange to the channel with c.TLSServerEndPoint. Returning a
// *sqlerr.Error (e.g. 28P01) reports it to the client as FATAL.
type Authenticator interface {
	Authenticate(ctx context.Context, c AuthConn, params map[string]string) error
}

// AuthConn is the message channel an Authenticator uses.
type AuthConn interface {
	// Send queues a message; Flush writes the queue to the client.
	Send(msg pgproto3.BackendMessage) error
	Flush() error
	// Receive reads the client's next message.
	Receive() (pgproto3.FrontendMessage, error)
	// SetAuthType tells the decoder how to read the next 'p' message.
	SetAuthType(authType uint32) error
	// TLSServerEndPoint is the connection's tls-server-end-point channel
	// binding data (RFC 5929: a hash of the server's certificate), nil
	// when the connection is not TLS or the hash is not defined for the
	// certificate.
	TLSServerEndPoint() []byte
}

// Trust accepts every client, as Postgres' trust method.
type Trust struct{}

// Authenticate implements Authenticator.
func (Trust) Authenticate(context.Context, AuthConn, map[string]string) error { return nil }
