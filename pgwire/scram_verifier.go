package pgwire

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/text/secure/precis"
)

// SCRAM-SHA-256 parameters PostgreSQL uses by default.
const (
	scramSHA256            = "SCRAM-SHA-256"
	scramSHA256Plus        = "SCRAM-SHA-256-PLUS"
	scramBindingType       = "tls-server-end-point"
	DefaultSCRAMIterations = 4096 // scram_iterations
	scramSaltLen           = 16
	scramKeyLen            = sha256.Size
	maxSCRAMIterations     = 1 << 24 // a verifier asking for more is refused, not computed
	scramVerifierPrefix    = scramSHA256 + "$"
	scramVerifierExample   = "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>"
)

// SCRAMVerifier is what the server stores for a password: PostgreSQL's
// rolpassword for SCRAM-SHA-256. It lets the server check a client's proof
// but not recover the password or impersonate the client elsewhere.
type SCRAMVerifier struct {
	Iterations int
	Salt       []byte
	StoredKey  []byte // H(HMAC(SaltedPassword, "Client Key"))
	ServerKey  []byte // HMAC(SaltedPassword, "Server Key")
}

// NewSCRAMVerifier derives the verifier of password with a fresh random salt.
// The password is normalized as PostgreSQL and libpq do (SASLprep, kept raw
// when it is not valid for SASLprep).
func NewSCRAMVerifier(password string, iterations int) (SCRAMVerifier, error) {
	if iterations < 1 || iterations > maxSCRAMIterations {
		return SCRAMVerifier{}, fmt.Errorf("scram: iterations must be between 1 and %d, not %d", maxSCRAMIterations, iterations)
	}
	salt := make([]byte, scramSaltLen)
	_, _ = rand.Read(salt) // NB: crypto/rand.Read never fails (Go 1.24+)
	return scramVerifierWithSalt(password, salt, iterations)
}

func scramVerifierWithSalt(password string, salt []byte, iterations int) (SCRAMVerifier, error) {
	salted, err := pbkdf2.Key(sha256.New, normalizeSCRAMPassword(password), salt, iterations, scramKeyLen)
	if err != nil {
		return SCRAMVerifier{}, fmt.Errorf("scram: salting the password: %w", err)
	}
	clientKey := hmacSHA256(salted, "Client Key")
	storedKey := sha256.Sum256(clientKey)
	return SCRAMVerifier{Iterations: iterations, Salt: salt, StoredKey: storedKey[:],
		ServerKey: hmacSHA256(salted, "Server Key")}, nil
}

// normalizeSCRAMPassword applies SASLprep (approximated by PRECIS'
// OpaqueString, as pgx does); like PostgreSQL it keeps the raw password when
// normalization fails.
func normalizeSCRAMPassword(password string) string {
	if s, err := precis.OpaqueString.String(password); err == nil {
		return s
	}
	return password
}

// ParseSCRAMVerifier reads PostgreSQL's text form,
// SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey> (base64).
// Errors never quote the verifier.
func ParseSCRAMVerifier(s string) (SCRAMVerifier, error) {
	bad := func(what string) (SCRAMVerifier, error) {
		return SCRAMVerifier{}, fmt.Errorf("scram: malformed verifier (%s); want %s", what, scramVerifierExample)
	}
	rest, ok := strings.CutPrefix(s, scramVerifierPrefix)
	if !ok {
		return bad("no " + scramVerifierPrefix + " prefix")
	}
	params, keys, ok := strings.Cut(rest, "$")
	if !ok {
		return bad("no $ before the keys")
	}
	iterText, saltText, ok1 := strings.Cut(params, ":")
	storedText, serverText, ok2 := strings.Cut(keys, ":")
	if !ok1 || !ok2 {
		return bad("missing ':'")
	}
	iter, err := strconv.Atoi(iterText)
	if err != nil || iter < 1 || iter > maxSCRAMIterations {
		return bad("iterations")
	}
	v := SCRAMVerifier{Iterations: iter}
	if v.Salt, err = base64.StdEncoding.DecodeString(saltText); err != nil || len(v.Salt) == 0 {
		return bad("salt")
	}
	if v.StoredKey, err = base64.StdEncoding.DecodeString(storedText); err != nil || len(v.StoredKey) != scramKeyLen {
		return bad("StoredKey")
	}
	if v.ServerKey, err = base64.StdEncoding.DecodeString(serverText); err != nil || len(v.ServerKey) != scramKeyLen {
		return bad("ServerKey")
	}
	return v, nil
}

// Encode returns PostgreSQL's text form of v.
func (v SCRAMVerifier) Encode() string {
	enc := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("%s%d:%s$%s:%s", scramVerifierPrefix, v.Iterations, enc(v.Salt), enc(v.StoredKey), enc(v.ServerKey))
}

// String hides the keys, so that a verifier printed or logged by mistake
// gives nothing away; Encode is the way to write one out.
func (v SCRAMVerifier) String() string { return scramVerifierPrefix + "[redacted]" }

// GoString hides the keys from %#v too.
func (v SCRAMVerifier) GoString() string { return v.String() }

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}
