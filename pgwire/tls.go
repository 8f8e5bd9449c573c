package pgwire

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"net"
	"slices"

	"github.com/sluice-db/sluice/sqlerr"
)

const (
	// alpnProtocol is the ALPN name PostgreSQL 17 registers for its protocol.
	alpnProtocol = "postgresql"
	// tlsHandshakeRecord is the first byte of a TLS ClientHello; a startup
	// packet's length never begins with it.
	tlsHandshakeRecord = 0x16
)

// WithTLS makes the server answer SSLRequest with 'S' and speak TLS with
// cfg (which must hold a certificate); it also accepts PostgreSQL 17's
// direct TLS (sslnegotiation=direct), which needs ALPN "postgresql". TLS
// versions below 1.2 are refused whatever cfg says. Without it SSLRequest is
// answered 'N' and clients go on in plaintext.
func WithTLS(cfg *tls.Config) Option {
	return func(s *Server) {
		s.tls, s.tlsEndPoint = nil, nil
		if cfg == nil {
			return
		}
		c := cfg.Clone()
		c.MinVersion = max(c.MinVersion, tls.VersionTLS12)
		if !slices.Contains(c.NextProtos, alpnProtocol) {
			c.NextProtos = append(c.NextProtos, alpnProtocol)
		}
		s.tls = c
		// NB: with one certificate and no callback, every handshake presents
		// that certificate, so its hash binds every TLS connection; otherwise
		// the certificate a client saw is unknown here and SCRAM-SHA-256-PLUS
		// is not offered.
		if len(c.Certificates) == 1 && c.GetCertificate == nil && c.GetConfigForClient == nil {
			s.tlsEndPoint = tlsServerEndPoint(c.Certificates[0])
		}
	}
}

// tlsServerEndPoint is RFC 5929's tls-server-end-point channel binding
// data for cert: its hash with the hash function of its signature, SHA-256
// for MD5 and SHA-1. It is nil where RFC 5929 defines none (Ed25519) or the
// certificate does not parse.
func tlsServerEndPoint(cert tls.Certificate) []byte {
	if len(cert.Certificate) == 0 {
		return nil
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil
	}
	switch leaf.SignatureAlgorithm {
	case x509.MD5WithRSA, x509.SHA1WithRSA, x509.ECDSAWithSHA1,
		x509.SHA256WithRSA, x509.SHA256WithRSAPSS, x509.ECDSAWithSHA256:
		h := sha256.Sum256(leaf.Raw)
		return h[:]
	case x509.SHA384WithRSA, x509.SHA384WithRSAPSS, x509.ECDSAWithSHA384:
		h := sha512.Sum384(leaf.Raw)
		return h[:]
	case x509.SHA512WithRSA, x509.SHA512WithRSAPSS, x509.ECDSAWithSHA512:
		h := sha512.Sum512(leaf.Raw)
		return h[:]
	}
	return nil
}

// WithTLSRequired refuses, with FATAL 28000, clients that send their startup
// message without TLS (as a pg_hba.conf of only hostssl lines). Cancel
// requests are still served in plaintext, as in PostgreSQL.
func WithTLSRequired(required bool) Option { return func(s *Server) { s.tlsRequired = required } }

// startTLS runs the server side of the TLS handshake on the socket. read is
// what was already read of the ClientHello (direct TLS), nil after an
// SSLRequest. It reports whether the connection goes on, now encrypted.
func (c *conn) startTLS(read []byte) bool {
	var nc net.Conn = c.nc
	if len(read) > 0 {
		nc = &prefixConn{Conn: c.nc, prefix: read}
	}
	tc := tls.Server(nc, c.s.tls)
	if err := tc.HandshakeContext(c.ctx); err != nil {
		c.s.log.Info("pgwire: TLS handshake failed", "remote", c.raw.RemoteAddr().String(), "err", err)
		return false
	}
	c.nc = tc
	c.channelBinding = c.s.tlsEndPoint
	if len(read) > 0 && tc.ConnectionState().NegotiatedProtocol != alpnProtocol {
		// NB: PostgreSQL insists on ALPN here, so that a TLS connection
		// meant for another protocol can never be taken for ours.
		c.sendFatalRaw(sqlerr.New(sqlerr.ProtocolViolation,
			"received direct SSL connection request without ALPN protocol negotiation extension"))
		return false
	}
	return true
}

// prefixConn replays bytes already read from the socket before reading on.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if len(p.prefix) > 0 {
		n := copy(b, p.prefix)
		p.prefix = p.prefix[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}
