package pgwire

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"
)

// MaxMessageSizeLimit is the hard cap on a client message's declared length,
// as in Postgres (PQ_LARGE_MESSAGE_LIMIT is 1 GiB - 1).
const MaxMessageSizeLimit = 1 << 30

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("pgwire: server closed")

// Server accepts Postgres connections and runs each on its own goroutine
// against a Backend.
type Server struct {
	backend        Backend
	log            *slog.Logger
	maxMessageSize int
	auth           Authenticator
	startupTimeout time.Duration
	tls            *tls.Config // nil: SSLRequest is answered 'N'
	tlsRequired    bool
	tlsEndPoint    []byte // tls-server-end-point of tls's one certificate; nil: no channel binding
	maxConns       int    // 0: no limit
	// slots holds a token for each statement running (admission.go); nil:
	// no bound.
	slots chan struct{}

	// baseCtx is the parent of every connection's context; Shutdown cancels it.
	baseCtx    context.Context
	cancelBase context.CancelCauseFunc
	shutdownCh chan struct{}

	wg sync.WaitGroup

	mu        sync.Mutex // guards the fields below (the cancel registry)
	closed    bool
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	byPID     map[uint32]*conn
	admitted  int // connections past startup that count against maxConns
}

// Option configures a Server.
type Option func(*Server)

// WithLogger sets the logger for connection errors and recovered panics
// (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.log = l } }

// WithMaxMessageSize sets the largest client message accepted, in bytes
// (default and hard cap MaxMessageSizeLimit). A larger declared length ends
// the connection with FATAL 08P01.
func WithMaxMessageSize(n int) Option {
	return func(s *Server) {
		if n > 0 && n <= MaxMessageSizeLimit {
			s.maxMessageSize = n
		}
	}
}

// WithAuthenticator sets how clients prove who they are (default Trust).
func WithAuthenticator(a Authenticator) Option { return func(s *Server) { s.auth = a } }

// WithStartupTimeout bounds the time from accept to the end of authentication
// (default 60 s, Postgres' authentication_timeout).
func WithStartupTimeout(d time.Duration) Option {
	return func(s *Server) {
		if d > 0 {
			s.startupTimeout = d
		}
	}
}

// WithMaxConnections caps the connections open at once (default 0: no
// cap). As in Postgres a client is counted once its startup packet is read,
// before it authenticates; one over the cap gets FATAL 53300. Cancel
// requests are not counted.
func WithMaxConnections(n int) Option {
	return func(s *Server) {
		if n > 0 {
			s.maxConns = n
		}
	}
}

// WithMaxActiveQueries bounds the statements running at once (default 0:
// no bound); the others wait for a slot, parked (admission.go). A
// connection holds a slot only while it runs statements without waiting
// for its client or another session.
func WithMaxActiveQueries(n int) Option {
	return func(s *Server) {
		if n > 0 {
			s.slots = make(chan struct{}, n)
		}
	}
}

// NewServer returns a server that opens sessions on b.
func NewServer(b Backend, opts ...Option) *Server {
	s := &Server{
		backend:        b,
		log:            slog.Default(),
		maxMessageSize: MaxMessageSizeLimit,
		auth:           Trust{},
		startupTimeout: 60 * time.Second,
		shutdownCh:     make(chan struct{}),
		listeners:      map[net.Listener]struct{}{},
		conns:          map[*conn]struct{}{},
		byPID:          map[uint32]*conn{},
	}
	s.baseCtx, s.cancelBase = context.WithCancelCause(context.Background())
	for _, o := range opts {
		o(s)
	}
	return s
}

// Addr returns the address of the first listener being served, or nil.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ln := range s.listeners {
		return ln.Addr()
	}
	return nil
}

// Serve accepts connections on ln until Shutdown (then it returns
// ErrServerClosed) or a listener error. It closes ln on return.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		_ = ln.Close()
	}()

	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isClosed() {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// NB: EMFILE and friends are transient; retry like net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("pgwire: accept failed; retrying", "err", err, "in", backoff)
			select {
			case <-time.After(backoff):
			case <-s.shutdownCh:
				return ErrServerClosed
			}
			continue
		}
		backoff = 0
		c := newConn(s, nc)
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = nc.Close()
			return ErrServerClosed
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			defer s.forget(c)
			c.serve()
		}()
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Shutdown stops accepting connections, cancels running queries, ends every
// connection (idle ones get FATAL 57P01) and waits for all goroutines. If ctx
// ends first, remaining sockets are closed forcibly and ctx's error returned
// once the goroutines have exited.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.shutdownCh)
		s.cancelBase(errShutdown)
	}
	for ln := range s.listeners {
		_ = ln.Close()
	}
	for c := range s.conns {
		if c.inStartup {
			_ = c.raw.Close() // it reads the startup packet; a FATAL cannot be framed yet
		} else {
			c.rd.interrupt() // an idle connection then reads errShutdown
		}
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	for c := range s.conns {
		_ = c.raw.Close()
	}
	s.mu.Unlock()
	<-done
	return ctx.Err()
}

// register gives c a fresh process ID and secret key for CancelRequest.
func (s *Server) register(c *conn) {
	var b [8]byte
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		_, _ = rand.Read(b[:])
		pid := binary.BigEndian.Uint32(b[:4]) & 0x7fffffff // positive, as a real pid
		if pid == 0 || s.byPID[pid] != nil {
			continue
		}
		c.pid = pid
		c.secret = binary.BigEndian.Uint32(b[4:])
		s.byPID[pid] = c
		return
	}
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	if c.admitted {
		s.admitted--
	}
	if c.pid != 0 && s.byPID[c.pid] == c {
		delete(s.byPID, c.pid)
	}
}

// admit counts c against the connection cap; false: the cap is reached.
func (s *Server) admit(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.maxConns > 0 && s.admitted >= s.maxConns {
		return false
	}
	s.admitted++
	c.admitted = true
	return true
}

// setQueryCancel publishes (or, with nil, clears) the cancel function of c's
// running query.
func (s *Server) setQueryCancel(c *conn, cancel context.CancelCauseFunc) {
	s.mu.Lock()
	c.cancelQuery = cancel
	s.mu.Unlock()
}

// cancelRequest cancels the running query of the connection with that key.
// Unknown keys and idle connections are ignored, as in Postgres.
func (s *Server) cancelRequest(pid uint32, secret []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.byPID[pid]
	if c == nil || len(secret) != 4 {
		return
	}
	var want [4]byte
	binary.BigEndian.PutUint32(want[:], c.secret)
	if subtle.ConstantTimeCompare(want[:], secret) != 1 {
		return
	}
	if c.cancelQuery != nil {
		c.cancelQuery(errCanceledByUser)
	}
}
