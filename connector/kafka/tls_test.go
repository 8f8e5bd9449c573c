package kafka

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A broker that speaks only TLS is read with tls = 'true' and the CA that
// signed its certificate; without the CA the handshake fails.
func TestSourceTLS(t *testing.T) {
	cert, caPEM, _ := issue(t, nil, x509.ExtKeyUsageServerAuth, "sluice-test")
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DialTLSConfig(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	produce(t, cl, "t", ints(0, 500)...)

	col := newCollector()
	s := startSource(t, c, map[string]string{"topic": "t", "tls": "true", "tls_ca": ca}, col, nil, true)
	defer s.Close()
	waitFor(t, "500 records over TLS", func() bool { r, _ := col.count(); return r == 500 })

	if _, err := ParseOptions("s", map[string]string{"topic": "t", "tls": "true", "tls_ca": ca + ".missing"}, c.ListenAddrs()); err == nil {
		t.Error("a missing tls_ca file was accepted")
	}
	if err := ping(t, c, map[string]string{"topic": "t"}); err == nil {
		t.Error("a plaintext client reached the TLS-only broker")
	}
}

// issue returns a certificate for 127.0.0.1 signed by ca (self-signed when
// ca is nil) with the given usage, and its certificate and key as PEM.
func issue(t *testing.T, ca *tls.Certificate, usage x509.ExtKeyUsage, name string) (cert tls.Certificate, certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
	}
	parent, signer := tmpl, any(key)
	if ca == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	} else {
		if parent, err = x509.ParseCertificate(ca.Certificate[0]); err != nil {
			t.Fatal(err)
		}
		signer = ca.PrivateKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

// A broker that requires client certificates (mutual TLS) is read with
// tls_cert and tls_key naming a certificate its CA signed; a client
// without one, or with one the broker's CA did not sign, is refused.
func TestSourceMutualTLS(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ca, caPEM, _ := issue(t, nil, x509.ExtKeyUsageAny, "sluice-test-ca")
	server, _, _ := issue(t, &ca, x509.ExtKeyUsageServerAuth, "broker")
	_, clientPEM, clientKey := issue(t, &ca, x509.ExtKeyUsageClientAuth, "sluice")
	_, strangerPEM, strangerKey := issue(t, nil, x509.ExtKeyUsageClientAuth, "stranger")
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{server}, ClientCAs: pool,
			ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	opts := map[string]string{"topic": "t", "tls": "true", "tls_ca": write("ca.pem", caPEM),
		"tls_cert": write("client.pem", clientPEM), "tls_key": write("client.key", clientKey)}

	without := map[string]string{"topic": "t", "tls": "true", "tls_ca": opts["tls_ca"]}
	if err := ping(t, c, without); err == nil {
		t.Error("a client without a certificate reached the broker")
	}
	stranger := map[string]string{"topic": "t", "tls": "true", "tls_ca": opts["tls_ca"],
		"tls_cert": write("stranger.pem", strangerPEM), "tls_key": write("stranger.key", strangerKey)}
	if err := ping(t, c, stranger); err == nil {
		t.Error("a client certificate the broker's CA did not sign was accepted")
	}

	cl := clientFor(t, c, opts)
	defer cl.Close()
	produce(t, cl, "t", ints(0, 300)...)
	col := newCollector()
	s := startSource(t, c, opts, col, nil, true)
	defer s.Close()
	waitFor(t, "300 records over mutual TLS", func() bool { r, _ := col.count(); return r == 300 })

	if _, err := ParseOptions("s", map[string]string{"topic": "t", "tls": "true", "tls_cert": opts["tls_cert"]}, c.ListenAddrs()); err == nil {
		t.Error("tls_cert without tls_key was accepted")
	}
}

// clientFor is a client with a stream's security options (opts) for c.
func clientFor(t *testing.T, c *kfake.Cluster, opts map[string]string) *kgo.Client {
	t.Helper()
	o, err := ParseOptions("s", opts, c.ListenAddrs())
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(o.Brokers...)}, o.ClientOpts()...)...)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// ping reports whether a client with a stream's options reaches c.
func ping(t *testing.T, c *kfake.Cluster, opts map[string]string) error {
	t.Helper()
	cl := clientFor(t, c, opts)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return cl.Ping(ctx)
}
