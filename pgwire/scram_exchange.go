package pgwire

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/sluice-db/sluice/sqlerr"
)

// scramExchange is the server side of one SCRAM-SHA-256 exchange (RFC 5802,
// as PostgreSQL runs it): it reads the client-first message, writes the
// server-first message, checks the client-final message's proof and writes
// the server-final message. It does no I/O, so the RFC 7677 vector can
// drive it with a fixed nonce.
type scramExchange struct {
	user     string // the startup packet's user; SCRAM's n= is ignored, as in PostgreSQL
	verifier SCRAMVerifier
	known    bool // false: a made-up verifier for an unknown user; the proof always fails
	// channelBinding is the connection's tls-server-end-point data; not nil
	// means SCRAM-SHA-256-PLUS was offered. plus: the client chose it.
	channelBinding []byte
	plus           bool

	// cbindInput is what the client-final's c= must carry: the GS2 header
	// ("n,,", "y,," or "p=tls-server-end-point,,") and, with p=, the
	// channel binding data.
	cbindInput      []byte
	clientFirstBare string
	serverFirst     string
	nonce           string // client nonce + server nonce
}

// serverFirstMessage parses the client-first message and answers with the
// combined nonce, the salt and the iteration count.
func (x *scramExchange) serverFirstMessage(clientFirst []byte, serverNonce string) ([]byte, error) {
	msg := string(clientFirst)
	flag, rest, ok := strings.Cut(msg, ",")
	if !ok {
		return nil, errMalformedSCRAM("the client-first message has no GS2 header")
	}
	// The checks and messages are PostgreSQL's (read_client_first_message).
	switch {
	case (flag == "n" || flag == "y") && x.plus:
		return nil, errMalformedSCRAM("The client selected SCRAM-SHA-256-PLUS, but the SCRAM message does not include channel binding data.")
	case flag == "n":
	case flag == "y":
		// NB: the client could bind the channel but thinks we cannot. If we
		// offered -PLUS, someone in between removed it from the list.
		if x.channelBinding != nil {
			return nil, protocolViolation("SCRAM channel binding negotiation error").WithDetail(
				"The client supports SCRAM channel binding but thinks the server does not. However, this server does support channel binding.")
		}
	case strings.HasPrefix(flag, "p="):
		if !x.plus {
			return nil, errMalformedSCRAM("The client selected SCRAM-SHA-256 without channel binding, but the SCRAM message includes channel binding data.")
		}
		if flag != "p="+scramBindingType {
			return nil, protocolViolation("unsupported SCRAM channel-binding type %q", flag[2:])
		}
	default:
		return nil, errMalformedSCRAM("unexpected channel-binding flag")
	}
	authzid, bare, ok := strings.Cut(rest, ",")
	if !ok {
		return nil, errMalformedSCRAM("the client-first message ends after its channel-binding flag")
	}
	if authzid != "" {
		return nil, sqlerr.New(sqlerr.FeatureNotSupported, "client uses authorization identity, but it is not supported")
	}
	attrs := strings.Split(bare, ",")
	if len(attrs) < 2 {
		return nil, errMalformedSCRAM("the client-first message lacks a user name or nonce")
	}
	if strings.HasPrefix(attrs[0], "m=") {
		return nil, sqlerr.New(sqlerr.FeatureNotSupported, "client requires an unsupported SCRAM extension")
	}
	if !strings.HasPrefix(attrs[0], "n=") {
		return nil, errMalformedSCRAM("expected attribute \"n\"")
	}
	clientNonce, ok := strings.CutPrefix(attrs[1], "r=")
	if !ok {
		return nil, errMalformedSCRAM("expected attribute \"r\"")
	}
	if clientNonce == "" || !printableNonce(clientNonce) {
		return nil, errMalformedSCRAM("the client nonce is empty or not printable")
	}
	x.cbindInput = []byte(flag + "," + authzid + ",")
	if x.plus {
		x.cbindInput = append(x.cbindInput, x.channelBinding...)
	}
	x.clientFirstBare = bare
	x.nonce = clientNonce + serverNonce
	x.serverFirst = "r=" + x.nonce + ",s=" + base64.StdEncoding.EncodeToString(x.verifier.Salt) +
		",i=" + strconv.Itoa(x.verifier.Iterations)
	return []byte(x.serverFirst), nil
}

// serverFinalMessage checks the client-final message. A wrong proof, or any
// proof from an unknown user, gives 28P01 with the same message.
func (x *scramExchange) serverFinalMessage(clientFinal []byte) ([]byte, error) {
	msg := string(clientFinal)
	i := strings.LastIndex(msg, ",p=")
	if i < 0 {
		return nil, errMalformedSCRAM("the client-final message has no proof")
	}
	withoutProof, proofText := msg[:i], msg[i+len(",p="):]
	attrs := strings.Split(withoutProof, ",")
	if len(attrs) < 2 {
		return nil, errMalformedSCRAM("the client-final message lacks channel binding or nonce")
	}
	binding, ok1 := strings.CutPrefix(attrs[0], "c=")
	nonce, ok2 := strings.CutPrefix(attrs[1], "r=")
	if !ok1 || !ok2 {
		return nil, errMalformedSCRAM("expected attributes \"c\" and \"r\"")
	}
	cbind, err := base64.StdEncoding.DecodeString(binding)
	if err != nil {
		return nil, errMalformedSCRAM("the channel binding is not valid base64")
	}
	if subtle.ConstantTimeCompare(cbind, x.cbindInput) != 1 {
		return nil, errMalformedSCRAM("SCRAM channel binding check failed")
	}
	if subtle.ConstantTimeCompare([]byte(nonce), []byte(x.nonce)) != 1 {
		return nil, errMalformedSCRAM("the nonce does not match")
	}
	proof, err := base64.StdEncoding.DecodeString(proofText)
	if err != nil || len(proof) != scramKeyLen {
		return nil, errMalformedSCRAM("the client proof is not a base64 SHA-256 value")
	}

	authMessage := x.clientFirstBare + "," + x.serverFirst + "," + withoutProof
	clientSignature := hmacSHA256(x.verifier.StoredKey, authMessage)
	clientKey := make([]byte, scramKeyLen)
	subtle.XORBytes(clientKey, proof, clientSignature)
	storedKey := sha256.Sum256(clientKey)
	if !hmac.Equal(storedKey[:], x.verifier.StoredKey) || !x.known {
		return nil, errPasswordFailed(x.user)
	}
	return []byte("v=" + base64.StdEncoding.EncodeToString(hmacSHA256(x.verifier.ServerKey, authMessage))), nil
}

// printableNonce reports whether s holds only the characters RFC 5802
// allows in a nonce: printable ASCII except ','.
func printableNonce(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e || s[i] == ',' {
			return false
		}
	}
	return true
}
