package main

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-db/sluice/pgwire"
	"github.com/sluice-db/sluice/server"
)

// A verifier of "pencil" with the salt of RFC 7677.
const pencil = "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="

func TestParseUsers(t *testing.T) {
	users, err := parseUsers(strings.NewReader("# users\n\nalice:" + pencil + "\n  bob:" + pencil + "  \n"))
	if err != nil || len(users) != 2 || users["alice"].Encode() != pencil || users["bob"].Iterations != 4096 {
		t.Fatalf("got %v, %v", users, err)
	}
	for in, want := range map[string]string{
		"alice\n":                               "line 1: want user:",
		":" + pencil:                            "line 1: want user:",
		"alice:" + pencil + "\nalice:" + pencil: `line 2: user "alice" again`,
		"\nalice:md5" + pencil[14:]:             `line 2 (user "alice"): scram: malformed verifier`,
		"alice:SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb": `line 1 (user "alice"): scram: malformed verifier`,
	} {
		_, err := parseUsers(strings.NewReader(in))
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: got %v, want %s...", in, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "W22Za") {
			t.Errorf("%q: the error shows the verifier: %v", in, err)
		}
	}
}

func TestAuthFlags(t *testing.T) {
	dir := t.TempDir()
	usersFile := filepath.Join(dir, "users")
	if err := os.WriteFile(usersFile, []byte("alice:"+pencil+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	for _, tc := range []struct {
		name     string
		flags    authFlags
		password string
		addr     string
		want     string // the line for the operator, or the error
		scram    bool
		warn     string
	}{
		{name: "default trust", want: "authentication trust (0 users), TLS off"},
		{name: "users file", flags: authFlags{usersFile: usersFile}, want: "authentication scram-sha-256 (1 users), TLS off", scram: true},
		{name: "password", password: "pw", want: "authentication scram-sha-256 (1 users), TLS off", scram: true},
		{name: "both", flags: authFlags{usersFile: usersFile}, password: "pw", want: "authentication scram-sha-256 (2 users), TLS off", scram: true},
		{name: "explicit trust with users", flags: authFlags{method: "trust"}, password: "pw", want: "authentication trust (1 users), TLS off", warn: "not asked for passwords"},
		{name: "trust on all interfaces", addr: "0.0.0.0:5488", want: "--pg-addr 0.0.0.0:5488 is reachable from other hosts and --auth is trust"},
		{name: "trust on all interfaces, any port", addr: ":5488", want: "--pg-addr :5488 is reachable from other hosts and --auth is trust"},
		{name: "trust on all interfaces, insecure", flags: authFlags{insecure: true}, addr: "0.0.0.0:5488", want: "authentication trust (0 users), TLS off", warn: "anyone who reaches it"},
		{name: "scram on all interfaces", password: "pw", addr: "0.0.0.0:5488", want: "authentication scram-sha-256 (1 users), TLS off", scram: true},
		{name: "scram without users", flags: authFlags{method: "scram-sha-256"}, want: "--auth scram-sha-256 needs users"},
		{name: "unknown method", flags: authFlags{method: "md5"}, want: `--auth must be trust or scram-sha-256, not "md5"`},
		{name: "missing users file", flags: authFlags{usersFile: filepath.Join(dir, "nope")}, want: "--users-file: open"},
		{name: "cert without key", flags: authFlags{tlsCert: "c.pem"}, want: "--tls-cert and --tls-key go together"},
		{name: "required without cert", flags: authFlags{tlsRequired: true}, want: "--tls-required needs --tls-cert"},
		{name: "bad cert", flags: authFlags{tlsCert: usersFile, tlsKey: usersFile}, want: "--tls-cert " + usersFile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs.Reset()
			cfg := server.Config{PGAddr: "127.0.0.1:5488"}
			if tc.addr != "" {
				cfg.PGAddr = tc.addr
			}
			line, err := tc.flags.apply(&cfg, tc.password, log)
			got := line
			if err != nil {
				got = err.Error()
			}
			if !strings.HasPrefix(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			if tc.name == "both" && strings.Join(cfg.Superusers, ",") != "alice,sluice" {
				t.Fatalf("Superusers %q", cfg.Superusers)
			}
			if _, ok := cfg.Auth.(*pgwire.SCRAM); ok != tc.scram {
				t.Fatalf("Auth %T", cfg.Auth)
			}
			if !strings.Contains(logs.String(), tc.warn) || (tc.warn == "" && logs.Len() > 0) {
				t.Fatalf("log %q, want %q", logs.String(), tc.warn)
			}
			if strings.Contains(logs.String()+got, "pw") && tc.password != "" {
				t.Fatalf("the password shows: %s %s", logs.String(), got)
			}
		})
	}
}

func TestPasswd(t *testing.T) {
	var out, errs bytes.Buffer
	if code := passwd([]string{"--iterations", "100", "alice"}, strings.NewReader("pencil\n"), &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	users, err := parseUsers(&out)
	if err != nil || users["alice"].Iterations != 100 {
		t.Fatalf("passwd printed what --users-file does not read: %v %v", users, err)
	}
	if strings.Contains(out.String()+errs.String(), "pencil") {
		t.Fatal("passwd printed the password")
	}
	out.Reset()
	if code := passwd(nil, strings.NewReader("pencil"), &out, io.Discard); code != 0 {
		t.Fatal(code)
	}
	if _, err := pgwire.ParseSCRAMVerifier(strings.TrimSuffix(out.String(), "\n")); err != nil {
		t.Fatalf("%q: %v", out.String(), err)
	}
	for in, want := range map[string]string{
		"":                        "empty password",
		"\n":                      "empty password",
		"a\nb\n":                  "spans lines",
		strings.Repeat("x", 2000): "longer than 1024 bytes",
	} {
		errs.Reset()
		if code := passwd(nil, strings.NewReader(in), io.Discard, &errs); code != 1 || !strings.Contains(errs.String(), want) {
			t.Errorf("%.10q: exit %d, %s; want %s", in, code, errs.String(), want)
		}
	}
}

// serve refuses trust on a reachable address before it opens anything, and
// says which flags change that; a bad --max-connections is refused too.
func TestServeRefusesInsecureListener(t *testing.T) {
	t.Setenv("SLUICE_PASSWORD", "")
	dir := filepath.Join(t.TempDir(), "data")
	for args, want := range map[string]string{
		"--pg-addr 0.0.0.0:0 --auth trust":          "--pg-addr 0.0.0.0:0 is reachable from other hosts and --auth is trust",
		"--pg-addr 127.0.0.1:0 --max-connections 0": "--max-connections must be at least 1",
	} {
		var errs bytes.Buffer
		code := serve(append(strings.Fields(args), "--data-dir", dir), io.Discard, &errs, false)
		if code != 2 || !strings.Contains(errs.String(), want) || (strings.Contains(want, "trust") && !strings.Contains(errs.String(), "--insecure")) {
			t.Errorf("%s: exit %d, %s; want %s", args, code, errs.String(), want)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("the data directory was created: %v", err)
	}
}
