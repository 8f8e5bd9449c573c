package pgwire

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"maps"
	"slices"

	"github.com/jackc/pgx/v5/pgproto3"
)

// SCRAM authenticates clients with SCRAM-SHA-256, as PostgreSQL's
// scram-sha-256 method: the client proves it knows the password without
// sending it, and the server proves it holds the verifier. Over TLS it also
// offers SCRAM-SHA-256-PLUS, which binds the exchange to the server's
// certificate (tls-server-end-point), so a man in the middle holding another
// certificate cannot relay it. A SCRAM is immutable once built and safe for
// concurrent connections.
type SCRAM struct {
	users map[string]SCRAMVerifier
	// lookup finds the users not in users (the catalog's roles, which
	// change while the server runs); nil: none.
	lookup func(user string) (SCRAMVerifier, bool)
	// mockKey derives a stable fake salt for unknown users, so the exchange
	// does not tell whether a user exists (PostgreSQL's mock authentication);
	// mockIterations is the iteration count most users have, for the same
	// reason.
	mockKey        []byte
	mockIterations int
}

// NewSCRAM returns an Authenticator that accepts the given users (user name
// to verifier).
func NewSCRAM(users map[string]SCRAMVerifier) *SCRAM {
	s := &SCRAM{users: maps.Clone(users), mockKey: make([]byte, sha256.Size), mockIterations: DefaultSCRAMIterations}
	_, _ = rand.Read(s.mockKey) // NB: crypto/rand.Read never fails (Go 1.24+)
	count := map[int]int{}
	for _, v := range users {
		count[v.Iterations]++
	}
	for it, n := range count {
		if best := count[s.mockIterations]; n > best || n == best && it < s.mockIterations {
			s.mockIterations = it
		}
	}
	return s
}

// AlsoLookup returns a copy of s that also accepts the users lookup finds,
// after its own. lookup is called once per authentication, concurrently.
func (s *SCRAM) AlsoLookup(lookup func(user string) (SCRAMVerifier, bool)) *SCRAM {
	cp := *s
	cp.lookup = lookup
	return &cp
}

// scramNonceLen is the server nonce's length in random bytes, as PostgreSQL's
// SCRAM_RAW_NONCE_LEN.
const scramNonceLen = 18

// Authenticate implements Authenticator.
func (s *SCRAM) Authenticate(_ context.Context, c AuthConn, params map[string]string) error {
	x := s.exchange(params["user"])
	x.channelBinding = c.TLSServerEndPoint()
	mechanisms := []string{scramSHA256}
	if x.channelBinding != nil {
		mechanisms = []string{scramSHA256Plus, scramSHA256} // PostgreSQL's order
	}
	if err := c.Send(&pgproto3.AuthenticationSASL{AuthMechanisms: mechanisms}); err != nil {
		return err
	}
	if err := c.Flush(); err != nil {
		return err
	}
	if err := c.SetAuthType(pgproto3.AuthTypeSASL); err != nil {
		return err
	}
	msg, err := c.Receive()
	if err != nil {
		return err
	}
	initial, ok := msg.(*pgproto3.SASLInitialResponse)
	if !ok {
		return errNotSASL(msg)
	}
	if !slices.Contains(mechanisms, initial.AuthMechanism) {
		return protocolViolation("client selected an invalid SASL authentication mechanism")
	}
	x.plus = initial.AuthMechanism == scramSHA256Plus
	var nonce [scramNonceLen]byte
	_, _ = rand.Read(nonce[:])
	first, err := x.serverFirstMessage(initial.Data, base64.StdEncoding.EncodeToString(nonce[:]))
	if err != nil {
		return err
	}
	if err := c.Send(&pgproto3.AuthenticationSASLContinue{Data: first}); err != nil {
		return err
	}
	if err := c.Flush(); err != nil {
		return err
	}
	if err := c.SetAuthType(pgproto3.AuthTypeSASLContinue); err != nil {
		return err
	}
	if msg, err = c.Receive(); err != nil {
		return err
	}
	resp, ok := msg.(*pgproto3.SASLResponse)
	if !ok {
		return errNotSASL(msg)
	}
	final, err := x.serverFinalMessage(resp.Data)
	if err != nil {
		return err
	}
	return c.Send(&pgproto3.AuthenticationSASLFinal{Data: final})
}

// exchange starts an exchange for user; an unknown user gets a verifier
// whose salt is stable per name and whose keys match no password.
func (s *SCRAM) exchange(user string) *scramExchange {
	if v, ok := s.users[user]; ok {
		return &scramExchange{user: user, verifier: v, known: true}
	}
	if s.lookup != nil {
		if v, ok := s.lookup(user); ok {
			return &scramExchange{user: user, verifier: v, known: true}
		}
	}
	mock := hmacSHA256(s.mockKey, "salt\x00"+user)
	return &scramExchange{user: user, verifier: SCRAMVerifier{
		Iterations: s.mockIterations,
		Salt:       mock[:scramSaltLen],
		StoredKey:  hmacSHA256(s.mockKey, "stored\x00"+user),
		ServerKey:  hmacSHA256(s.mockKey, "server\x00"+user),
	}}
}
