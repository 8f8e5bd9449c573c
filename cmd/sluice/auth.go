package main

import (
	"bufio"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"slices"
	"strings"

	"github.com/sluice-db/sluice/pgwire"
	"github.com/sluice-db/sluice/server"
)

// passwordUser is the user whose password SLUICE_PASSWORD gives: the one
// `sluice serve` tells people to connect as.
const passwordUser = "sluice"

// Authentication methods of --auth, named as in pg_hba.conf.
const (
	authTrust = "trust"
	authSCRAM = "scram-sha-256"
)

// authFlags are serve's flags for who may connect over the wire protocol
// and how the connection is encrypted.
type authFlags struct {
	method      string
	usersFile   string
	tlsCert     string
	tlsKey      string
	tlsRequired bool
	insecure    bool // allow trust on an address other hosts can reach
}

func addAuthFlags(fs *flag.FlagSet) *authFlags {
	f := &authFlags{}
	fs.StringVar(&f.method, "auth", envDefault("SLUICE_AUTH", ""), "wire protocol authentication: trust or scram-sha-256; default scram-sha-256 when --users-file or SLUICE_PASSWORD gives users, else trust (env SLUICE_AUTH)")
	fs.StringVar(&f.usersFile, "users-file", envDefault("SLUICE_USERS_FILE", ""), "file of user:SCRAM-SHA-256$... lines (see sluice passwd); SLUICE_PASSWORD sets the password of user sluice (env SLUICE_USERS_FILE)")
	fs.StringVar(&f.tlsCert, "tls-cert", envDefault("SLUICE_TLS_CERT", ""), "PEM certificate (chain) for TLS on the wire protocol; needs --tls-key (env SLUICE_TLS_CERT)")
	fs.StringVar(&f.tlsKey, "tls-key", envDefault("SLUICE_TLS_KEY", ""), "PEM private key of --tls-cert (env SLUICE_TLS_KEY)")
	fs.BoolVar(&f.tlsRequired, "tls-required", false, "refuse wire protocol clients that do not use TLS; needs --tls-cert (env SLUICE_TLS_REQUIRED)")
	fs.BoolVar(&f.insecure, "insecure", false, "allow --auth trust on a --pg-addr other hosts can reach (env SLUICE_INSECURE)")
	return f
}

// apply checks the flags and sets cfg's Auth, TLS and TLSRequired.
// password is SLUICE_PASSWORD's value. It returns a line that says how
// clients connect, for the operator.
func (f *authFlags) apply(cfg *server.Config, password string, log *slog.Logger) (string, error) {
	users := map[string]pgwire.SCRAMVerifier{}
	if f.usersFile != "" {
		var err error
		if users, err = readUsersFile(f.usersFile); err != nil {
			return "", err
		}
	}
	if password != "" {
		if _, ok := users[passwordUser]; ok {
			return "", fmt.Errorf("SLUICE_PASSWORD and --users-file %s both set the password of user %s", f.usersFile, passwordUser)
		}
		v, err := pgwire.NewSCRAMVerifier(password, pgwire.DefaultSCRAMIterations)
		if err != nil {
			return "", fmt.Errorf("SLUICE_PASSWORD: %w", err)
		}
		users[passwordUser] = v
	}
	cfg.Superusers = slices.Sorted(maps.Keys(users))
	method := f.method
	if method == "" {
		method = authTrust
		if len(users) > 0 {
			method = authSCRAM
		}
	}
	switch method {
	case authTrust:
		if len(users) > 0 {
			log.Warn("--auth trust: the users of --users-file and SLUICE_PASSWORD are not asked for passwords")
		}
		if !isLoopback(cfg.PGAddr) {
			if !f.insecure {
				return "", fmt.Errorf("--pg-addr %s is reachable from other hosts and --auth is trust: anyone who reaches it could connect as any user; "+
					"give users (--users-file or SLUICE_PASSWORD, --auth scram-sha-256), listen on 127.0.0.1, or pass --insecure", cfg.PGAddr)
			}
			log.Warn("--auth trust --insecure on an address other hosts can reach: anyone who reaches it can connect as any user", "pg_addr", cfg.PGAddr)
		}
	case authSCRAM:
		if len(users) == 0 {
			return "", errors.New("--auth scram-sha-256 needs users: give --users-file or SLUICE_PASSWORD")
		}
		cfg.Auth = pgwire.NewSCRAM(users)
	default:
		return "", fmt.Errorf("--auth must be %s or %s, not %q", authTrust, authSCRAM, method)
	}

	if (f.tlsCert == "") != (f.tlsKey == "") {
		return "", errors.New("--tls-cert and --tls-key go together")
	}
	if f.tlsRequired && f.tlsCert == "" {
		return "", errors.New("--tls-required needs --tls-cert and --tls-key")
	}
	tlsMode := "off"
	if f.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
		if err != nil {
			return "", fmt.Errorf("--tls-cert %s, --tls-key %s: %w", f.tlsCert, f.tlsKey, err)
		}
		cfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		cfg.TLSRequired = f.tlsRequired
		tlsMode = "offered"
		if f.tlsRequired {
			tlsMode = "required"
		}
	}
	return fmt.Sprintf("authentication %s (%d users), TLS %s", method, len(users), tlsMode), nil
}

// readUsersFile reads lines of user:verifier, PostgreSQL's SCRAM-SHA-256
// verifier as `sluice passwd` prints it. Blank lines and lines starting
// with # are skipped. Errors name the line, never its verifier.
func readUsersFile(path string) (map[string]pgwire.SCRAMVerifier, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--users-file: %w", err)
	}
	defer f.Close()
	users, err := parseUsers(f)
	if err != nil {
		return nil, fmt.Errorf("--users-file %s: %w", path, err)
	}
	return users, nil
}

func parseUsers(r io.Reader) (map[string]pgwire.SCRAMVerifier, error) {
	users := map[string]pgwire.SCRAMVerifier{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, verifier, ok := strings.Cut(line, ":")
		if !ok || user == "" {
			return nil, fmt.Errorf("line %d: want user:SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>", n)
		}
		if _, dup := users[user]; dup {
			return nil, fmt.Errorf("line %d: user %q again", n, user)
		}
		v, err := pgwire.ParseSCRAMVerifier(verifier)
		if err != nil {
			return nil, fmt.Errorf("line %d (user %q): %w", n, user, err)
		}
		users[user] = v
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return users, nil
}

// isLoopback reports whether addr (host:port) listens only on this host.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
