package pgwire

import (
	"bytes"
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"github.com/sluice-db/sluice/sqlerr"
)

// The exchange of RFC 7677, section 3 (user "user", password "pencil").
const (
	rfcClientFirst = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
	rfcServerNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
	rfcServerFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
	rfcClientFinal = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
	rfcServerFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
)

func rfcVerifier(t testing.TB) SCRAMVerifier {
	t.Helper()
	salt, _ := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	v, err := scramVerifierWithSalt("pencil", salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func rfcSCRAM(t testing.TB) *SCRAM {
	t.Helper()
	return NewSCRAM(map[string]SCRAMVerifier{"user": rfcVerifier(t)})
}

func TestSCRAMRFC7677(t *testing.T) {
	x := rfcSCRAM(t).exchange("user")
	first, err := x.serverFirstMessage([]byte(rfcClientFirst), rfcServerNonce)
	if err != nil || string(first) != rfcServerFirst {
		t.Fatalf("server-first %q, %v\nwant %q", first, err, rfcServerFirst)
	}
	final, err := x.serverFinalMessage([]byte(rfcClientFinal))
	if err != nil || string(final) != rfcServerFinal {
		t.Fatalf("server-final %q, %v\nwant %q", final, err, rfcServerFinal)
	}
}

// TestSCRAMWrongProof: a proof off by one bit, and the right proof for a
// user that does not exist, fail alike.
func TestSCRAMWrongProof(t *testing.T) {
	s := rfcSCRAM(t)
	proof, _ := base64.StdEncoding.DecodeString(rfcClientFinal[strings.LastIndex(rfcClientFinal, "p=")+2:])
	proof[0] ^= 1
	wrong := rfcClientFinal[:strings.LastIndex(rfcClientFinal, "p=")+2] + base64.StdEncoding.EncodeToString(proof)
	for _, tc := range []struct{ user, final string }{
		{"user", wrong},
		{"nobody", rfcClientFinal},
	} {
		x := s.exchange(tc.user)
		if _, err := x.serverFirstMessage([]byte(rfcClientFirst), rfcServerNonce); err != nil {
			t.Fatal(err)
		}
		_, err := x.serverFinalMessage([]byte(tc.final))
		want := fmt.Sprintf("password authentication failed for user %q", tc.user)
		if e, ok := sqlerr.As(err); !ok || e.Code != sqlerr.InvalidPassword || e.Message != want {
			t.Errorf("user %s: got %v, want 28P01 %s", tc.user, err, want)
		}
	}
}

// TestSCRAMMockSalt: an unknown user gets the same salt every time (a real
// user's salt never changes either) and not another user's salt.
func TestSCRAMMockSalt(t *testing.T) {
	s := rfcSCRAM(t)
	a1, a2, b := s.exchange("ghost"), s.exchange("ghost"), s.exchange("phantom")
	if string(a1.verifier.Salt) != string(a2.verifier.Salt) || string(a1.verifier.Salt) == string(b.verifier.Salt) {
		t.Fatalf("mock salts: %x %x %x", a1.verifier.Salt, a2.verifier.Salt, b.verifier.Salt)
	}
	if a1.known || a1.verifier.Iterations != DefaultSCRAMIterations || len(a1.verifier.Salt) != scramSaltLen {
		t.Fatalf("mock verifier %+v", a1)
	}
	// Where most users have another iteration count, so do unknown users.
	v := rfcVerifier(t)
	v.Iterations = 10000
	s = NewSCRAM(map[string]SCRAMVerifier{"a": v, "b": v, "c": rfcVerifier(t)})
	if it := s.exchange("ghost").verifier.Iterations; it != 10000 {
		t.Fatalf("mock iterations %d, want 10000", it)
	}
}

// TestSCRAMAlsoLookup: users the lookup finds log in after the fixed ones;
// the copy leaves the original alone.
func TestSCRAMAlsoLookup(t *testing.T) {
	base := rfcSCRAM(t)
	s := base.AlsoLookup(func(user string) (SCRAMVerifier, bool) {
		if user == "role" || user == "user" {
			v := rfcVerifier(t)
			v.Iterations = 100 // not the fixed user's verifier
			return v, true
		}
		return SCRAMVerifier{}, false
	})
	if x := s.exchange("role"); !x.known || x.verifier.Iterations != 100 {
		t.Fatalf("looked-up user: %+v", x)
	}
	if x := s.exchange("user"); !x.known || x.verifier.Iterations != 4096 {
		t.Fatalf("a fixed user is looked up first: %+v", x)
	}
	if s.exchange("nobody").known || base.exchange("role").known {
		t.Fatal("unknown user known")
	}
}

func TestSCRAMMalformed(t *testing.T) {
	firsts := map[string]string{
		"":                         "08P01",
		"n":                        "08P01",
		"x,,n=,r=abc":              "08P01",
		"p=tls-server-end-point,,": "08P01",
		"n,a=admin,n=,r=abc":       "0A000",
		"n,,m=ext,n=,r=abc":        "0A000",
		"n,,r=abc":                 "08P01",
		"n,,n=,x=abc":              "08P01",
		"n,,n=,r=":                 "08P01",
		"n,,n=,r=a b":              "08P01",
		"n,,n=":                    "08P01",
	}
	s := rfcSCRAM(t)
	for msg, code := range firsts {
		_, err := s.exchange("user").serverFirstMessage([]byte(msg), rfcServerNonce)
		if e, ok := sqlerr.As(err); !ok || e.Code != code {
			t.Errorf("client-first %q: got %v, want %s", msg, err, code)
		}
	}
	nonce := "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
	finals := []string{
		"",
		"c=biws",
		"p=" + rfcClientFinal[len(rfcClientFinal)-44:],
		"c=biws,p=AAAA",
		"c=!!!!," + nonce + ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		"c=eSws," + nonce + ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", // y,, where n,, was sent
		"c=biws,r=rOprNGfwEbeRWgbNEkqOother,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		"c=biws," + nonce + ",p=dHzb",
		"c=biws," + nonce + ",p=",
		"r=x,c=biws,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
	}
	for _, msg := range finals {
		x := s.exchange("user")
		if _, err := x.serverFirstMessage([]byte(rfcClientFirst), rfcServerNonce); err != nil {
			t.Fatal(err)
		}
		_, err := x.serverFinalMessage([]byte(msg))
		if e, ok := sqlerr.As(err); !ok || e.Code != sqlerr.ProtocolViolation {
			t.Errorf("client-final %q: got %v, want 08P01", msg, err)
		}
	}
}

// FuzzSCRAMExchange: any pair of client messages gives an answer or a
// *sqlerr.Error, never a panic, and only the RFC's proof succeeds.
func FuzzSCRAMExchange(f *testing.F) {
	f.Add([]byte(rfcClientFirst), []byte(rfcClientFinal))
	f.Add([]byte("y,,n=,r=abc"), []byte("c=eSws,r=abc"+rfcServerNonce+",p=AAAA"))
	f.Add([]byte("n,,n=,r=,"), []byte(",p=,p="))
	s := rfcSCRAM(f)
	f.Fuzz(func(t *testing.T, first, final []byte) {
		x := s.exchange("user")
		if _, err := x.serverFirstMessage(first, rfcServerNonce); err != nil {
			if _, ok := sqlerr.As(err); !ok {
				t.Fatalf("client-first %q: %T %v", first, err, err)
			}
			return
		}
		out, err := x.serverFinalMessage(final)
		if err != nil {
			if _, ok := sqlerr.As(err); !ok {
				t.Fatalf("client-final %q: %T %v", final, err, err)
			}
			return
		}
		if string(out) != rfcServerFinal {
			t.Fatalf("accepted %q / %q", first, final)
		}
	})
}

func TestSCRAMVerifierText(t *testing.T) {
	v := rfcVerifier(t)
	text := v.Encode()
	// The RFC's salt and password give these keys (checked with Python's
	// hashlib.pbkdf2_hmac and hmac).
	const want = "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
	if text != want {
		t.Fatalf("Encode: %s\nwant    %s", text, want)
	}
	back, err := ParseSCRAMVerifier(text)
	if err != nil || back.Encode() != text {
		t.Fatalf("round trip: %v, %v", back.Encode(), err)
	}
	for _, bad := range []string{
		"", "md5abc", "SCRAM-SHA-256$", "SCRAM-SHA-256$4096:c2FsdA==",
		"SCRAM-SHA-256$0:c2FsdA==$" + want[len(want)-89:],
		"SCRAM-SHA-256$x:c2FsdA==$" + want[len(want)-89:],
		"SCRAM-SHA-256$4096:!!$" + want[len(want)-89:],
		"SCRAM-SHA-256$4096:c2FsdA==$AAAA:AAAA",
	} {
		if _, err := ParseSCRAMVerifier(bad); err == nil {
			t.Errorf("ParseSCRAMVerifier(%q) accepted", bad)
		} else if strings.Contains(err.Error(), "c2FsdA") {
			t.Errorf("error quotes the verifier: %v", err)
		}
	}
}

// TestSCRAMVerifierRedacted: printing or logging a verifier shows no key.
func TestSCRAMVerifierRedacted(t *testing.T) {
	v := rfcVerifier(t)
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "v", v, "p", &v)
	for _, s := range []string{fmt.Sprint(v), fmt.Sprintf("%+v %#v %v", v, v, &v), logged.String()} {
		if strings.Contains(s, "W22ZaJ0") || strings.Contains(s, "WG5d8") || strings.Contains(s, "wfPLw") {
			t.Errorf("verifier shown: %s", s)
		}
	}
}

func TestNewSCRAMVerifier(t *testing.T) {
	a, err := NewSCRAMVerifier("pencil", DefaultSCRAMIterations)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewSCRAMVerifier("pencil", DefaultSCRAMIterations)
	if string(a.Salt) == string(b.Salt) || len(a.Salt) != scramSaltLen {
		t.Fatalf("salts %x %x", a.Salt, b.Salt)
	}
	same, _ := scramVerifierWithSalt("pencil", a.Salt, DefaultSCRAMIterations)
	if same.Encode() != a.Encode() {
		t.Fatal("the same salt gave other keys")
	}
	if _, err := NewSCRAMVerifier("x", 0); err == nil {
		t.Fatal("0 iterations accepted")
	}
}

// clientFinal computes the client-final message for password, as a client
// does, after the given client-first message and server-first answer.
func clientFinal(t *testing.T, password string, clientFirst, serverFirst, cbindInput []byte) []byte {
	t.Helper()
	attrs := map[string]string{}
	for _, a := range strings.Split(string(serverFirst), ",") {
		attrs[a[:1]] = a[2:]
	}
	salt, _ := base64.StdEncoding.DecodeString(attrs["s"])
	iter, _ := strconv.Atoi(attrs["i"])
	v, err := scramVerifierWithSalt(password, salt, iter)
	if err != nil {
		t.Fatal(err)
	}
	bare := string(clientFirst[strings.Index(string(clientFirst), "n="):])
	withoutProof := "c=" + base64.StdEncoding.EncodeToString(cbindInput) + ",r=" + attrs["r"]
	sig := hmacSHA256(v.StoredKey, bare+","+string(serverFirst)+","+withoutProof)
	salted, _ := pbkdf2.Key(sha256.New, password, salt, iter, scramKeyLen)
	proof := make([]byte, scramKeyLen)
	subtle.XORBytes(proof, hmacSHA256(salted, "Client Key"), sig)
	return []byte(withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof))
}

// TestSCRAMChannelBinding: PostgreSQL's rules for SCRAM-SHA-256-PLUS, and a
// proof bound to another certificate's hash fails even with the password.
func TestSCRAMChannelBinding(t *testing.T) {
	s := rfcSCRAM(t)
	ours, theirs := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	const p = "p=tls-server-end-point,,n=,r=abc"
	for _, tc := range []struct {
		name    string
		offered []byte // the connection's binding data: -PLUS offered
		plus    bool   // the client chose -PLUS
		first   string
		cbind   []byte // the client's c= data; nil: its GS2 header alone
		want    string // "" for success, else the error
	}{
		{name: "plus", offered: ours, plus: true, first: p, cbind: append([]byte("p=tls-server-end-point,,"), ours...)},
		{name: "plus with another certificate", offered: ours, plus: true, first: p,
			cbind: append([]byte("p=tls-server-end-point,,"), theirs...), want: "malformed SCRAM message"},
		{name: "plus with the header alone", offered: ours, plus: true, first: p, want: "malformed SCRAM message"},
		{name: "plus without data", offered: ours, plus: true, first: "y,,n=,r=abc", want: "malformed SCRAM message"},
		{name: "plus, other type", offered: ours, plus: true, first: "p=tls-unique,,n=,r=abc", want: `unsupported SCRAM channel-binding type "tls-unique"`},
		{name: "offered, client cannot bind", offered: ours, first: "n,,n=,r=abc"},
		{name: "offered, client thinks we cannot", offered: ours, first: "y,,n=,r=abc", want: "SCRAM channel binding negotiation error"},
		{name: "not offered, y", first: "y,,n=,r=abc"},
		{name: "not offered, p", first: p, want: "malformed SCRAM message"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := s.exchange("user")
			x.channelBinding, x.plus = tc.offered, tc.plus
			first, err := x.serverFirstMessage([]byte(tc.first), rfcServerNonce)
			if err == nil {
				cbind := tc.cbind
				if cbind == nil {
					cbind = []byte(tc.first[:strings.Index(tc.first, "n=")])
				}
				_, err = x.serverFinalMessage(clientFinal(t, "pencil", []byte(tc.first), first, cbind))
			}
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || err.Error() != tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if e, ok := sqlerr.As(err); err != nil && (!ok || e.Code != sqlerr.ProtocolViolation) {
				t.Fatalf("%v is not 08P01", err)
			}
		})
	}
}
