package server

import (
	"context"
	"net"
	"strings"
	"testing"
)

func TestPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = Start(context.Background(), Config{PGAddr: ln.Addr().String(), DataDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "--pg-addr "+ln.Addr().String()+": address already in use") {
		t.Fatalf("got %v", err)
	}
	// The data directory was released: it opens again.
	dir := t.TempDir()
	if _, err := Start(context.Background(), Config{PGAddr: "127.0.0.1:0", HTTPAddr: ln.Addr().String(), DataDir: dir}); err == nil || !strings.Contains(err.Error(), "--http-addr") {
		t.Fatalf("http: got %v", err)
	}
	s, err := Start(context.Background(), Config{PGAddr: "127.0.0.1:0", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
