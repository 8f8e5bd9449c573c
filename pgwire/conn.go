package pgwire

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"maps"
	"net"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluice-db/sluice/sqlerr"
)

// Startup packet codes (the first int32 after the length).
const (
	cancelRequestCode = 80877102
	sslRequestCode    = 80877103
	gssEncRequestCode = 80877104
	maxStartupPacket  = 10000 // MAX_STARTUP_PACKET_LENGTH in Postgres
	maxAuthMessage    = 65535 // PG_MAX_AUTH_TOKEN_LENGTH: an unauthenticated client gets no more
	writeBufSize      = 32 << 10
)

// BackendPIDParam is the key, in the params given to Backend.Open, of the
// process ID (decimal) that the client receives in BackendKeyData.
const BackendPIDParam = "_sluice_backend_pid"

// conn is one client connection. Everything in it belongs to the connection's
// goroutine except cancelQuery, which the Server guards with its mutex.
type conn struct {
	s   *Server
	nc  net.Conn // the socket, or the TLS connection over it
	raw net.Conn // the socket itself; the Server closes it to stop a connection

	ctx    context.Context // cancelled on disconnect and Shutdown
	cancel context.CancelCauseFunc

	rd   *connReader
	bw   *bufio.Writer
	be   *pgproto3.Backend
	sess Session

	pid, secret    uint32
	channelBinding []byte                  // tls-server-end-point data once TLS is up; see AuthConn
	cancelQuery    context.CancelCauseFunc // guarded by s.mu
	inStartup      bool                    // guarded by s.mu
	admitted       bool                    // counted against the connection cap; guarded by s.mu

	stmts          map[string]*prepared
	portals        map[string]*portal
	ignoreTillSync bool  // an extended-protocol message failed; skip to Sync
	werr           error // first write error; the connection is dead
	dead           error // a receive failed inside a statement (COPY FROM)
	out            []byte
	rw             resultWriter // the running statement's (newResultWriter)
	// qctx is the statements' context until one is cancelled
	// (queryContext), qcancel its cancel function.
	qctx    context.Context
	qcancel context.CancelCauseFunc

	// notifier is the session's, when it takes LISTEN/NOTIFY; idle is set
	// from a ReadyForQuery to the next message, when notifications may be
	// sent at once.
	notifier Notifier
	idle     bool

	// slotHeld is set while c holds one of the Server's slots (admission.go).
	slotHeld atomic.Bool
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{s: s, nc: nc, raw: nc, inStartup: true,
		stmts: map[string]*prepared{}, portals: map[string]*portal{}}
	base := context.WithValue(s.baseCtx, statementsKey{}, Statements(connStatements{c}))
	base = context.WithValue(base, waitingKey{}, c)
	c.ctx, c.cancel = context.WithCancelCause(base)
	return c
}

// serve runs the connection to its end. A panic that escapes the per-message
// recovery (the protocol state is then unknown) closes only this connection.
func (c *conn) serve() {
	defer func() {
		if r := recover(); r != nil {
			c.s.log.Error("pgwire: panic; closing connection", "panic", r, "stack", string(debug.Stack()))
		}
		_ = c.nc.Close()
		if c.rd != nil {
			c.rd.stop()
		}
		c.leaveSlot()
		c.cancel(errClientGone)
	}()

	params, ok := c.startup()
	if !ok {
		return
	}
	if !c.s.admit(c) {
		c.s.log.Warn("pgwire: refused a connection over the limit", "max_connections", c.s.maxConns,
			"user", params["user"], "remote", c.raw.RemoteAddr().String())
		c.sendFatalRaw(errTooManyConnections())
		return
	}
	c.bw = bufio.NewWriterSize(socketWriter{c}, writeBufSize)
	c.rd = newConnReader(c.nc, c.raw, c.s.shutdownCh, func() { c.cancel(errClientGone) })
	c.rd.beforeRead = c.leaveSlot
	c.be = pgproto3.NewBackend(c.rd, c.bw)
	c.s.mu.Lock()
	c.inStartup = false
	closed := c.s.closed
	c.s.mu.Unlock()
	if closed {
		c.sendFatal(errAdminShutdown())
		return
	}

	c.be.SetMaxBodyLen(min(c.s.maxMessageSize, maxAuthMessage))
	if err := c.authenticate(params); err != nil {
		if !isConnError(err) {
			e := toSQLError(err, nil)
			c.s.log.Info("pgwire: authentication failed", "user", params["user"],
				"remote", c.raw.RemoteAddr().String(), "code", e.Code, "err", e.Message)
			c.sendFatal(fatal(e))
		}
		return
	}
	c.be.SetMaxBodyLen(c.s.maxMessageSize)
	_ = c.nc.SetDeadline(time.Time{})
	// The key is drawn before Open so the session learns the pid the client
	// will see in BackendKeyData (pg_backend_pid() must match it). The
	// serve goroutine's deferred forget drops it if Open fails.
	c.s.register(c)
	params[BackendPIDParam] = strconv.FormatUint(uint64(c.pid), 10) // NB: overwrites any client-sent value
	if err := c.open(params); err != nil {
		c.sendFatal(fatal(toSQLError(err, nil)))
		return
	}
	defer c.closeSession()

	c.send(&pgproto3.AuthenticationOk{})
	pv := c.sess.Parameters()
	for _, k := range slices.Sorted(maps.Keys(pv)) {
		c.send(&pgproto3.ParameterStatus{Name: k, Value: pv[k]})
	}
	var key [4]byte
	binary.BigEndian.PutUint32(key[:], c.secret)
	c.send(&pgproto3.BackendKeyData{ProcessID: c.pid, SecretKey: key[:]})
	c.readyForQuery()
	if c.flush() != nil {
		return
	}

	for {
		msg, err := c.be.Receive()
		if err != nil {
			c.receiveFailed(err)
			return
		}
		if !c.handle(msg) || c.werr != nil {
			return
		}
		if c.dead != nil {
			c.receiveFailed(c.dead)
			return
		}
	}
}

// startup reads the startup packet straight from the socket (answering
// SSLRequest with 'S' and starting TLS when the server has a certificate,
// else 'N'; GSSENCRequest with 'N'; serving CancelRequest) and returns the
// client's parameters. As in Postgres each request may come once, and
// GSSENCRequest only while the connection is not encrypted.
func (c *conn) startup() (map[string]string, bool) {
	_ = c.nc.SetDeadline(time.Now().Add(c.s.startupTimeout))
	var sslDone, gssDone, encrypted bool
	for {
		var hdr [4]byte
		if _, err := io.ReadFull(c.nc, hdr[:]); err != nil {
			return nil, false
		}
		if hdr[0] == tlsHandshakeRecord && !sslDone && c.s.tls != nil {
			// PostgreSQL 17's direct TLS: a ClientHello instead of SSLRequest.
			if !c.startTLS(hdr[:]) {
				return nil, false
			}
			sslDone, gssDone, encrypted = true, true, true
			continue
		}
		n := int(int32(binary.BigEndian.Uint32(hdr[:])))
		if n < 8 || n > maxStartupPacket {
			c.sendFatalRaw(protocolViolation("invalid length of startup packet"))
			return nil, false
		}
		body := make([]byte, n-4)
		if _, err := io.ReadFull(c.nc, body); err != nil {
			return nil, false
		}
		code := binary.BigEndian.Uint32(body)
		switch {
		case code == sslRequestCode && !sslDone:
			sslDone = true
			if c.s.tls == nil {
				// The client goes on in plaintext, or hangs up if it needs TLS.
				if _, err := c.nc.Write([]byte{'N'}); err != nil {
					return nil, false
				}
				continue
			}
			if _, err := c.nc.Write([]byte{'S'}); err != nil || !c.startTLS(nil) {
				return nil, false
			}
			gssDone, encrypted = true, true
			continue
		case code == gssEncRequestCode && !gssDone:
			gssDone = true
			// NB: no GSS encryption; the client goes on in plaintext or asks for TLS.
			if _, err := c.nc.Write([]byte{'N'}); err != nil {
				return nil, false
			}
			continue
		case code == cancelRequestCode:
			var m pgproto3.CancelRequest
			if m.Decode(body) == nil {
				c.s.cancelRequest(m.ProcessID, m.SecretKey)
			}
			return nil, false
		}
		major, minor := code>>16, code&0xffff
		if major != 3 {
			c.sendFatalRaw(protocolViolation("unsupported frontend protocol %d.%d: server supports 3.0 to 3.0", major, minor))
			return nil, false
		}
		params, unrecognized, err := parseStartupParams(body[4:])
		if err != nil {
			c.sendFatalRaw(err)
			return nil, false
		}
		if params["user"] == "" {
			c.sendFatalRaw(sqlerr.New(sqlerr.InvalidAuthorization, "no PostgreSQL user name specified in startup packet"))
			return nil, false
		}
		if c.s.tlsRequired && !encrypted {
			c.s.log.Info("pgwire: refused a connection without TLS", "user", params["user"],
				"remote", c.raw.RemoteAddr().String())
			c.sendFatalRaw(errTLSRequired())
			return nil, false
		}
		if params["database"] == "" {
			params["database"] = params["user"]
		}
		// Like Postgres 16: a newer 3.x minor or _pq_ options get a
		// NegotiateProtocolVersion and the connection continues at 3.0.
		if minor > 0 || len(unrecognized) > 0 {
			b, _ := (&pgproto3.NegotiateProtocolVersion{NewestMinorProtocol: 0, UnrecognizedOptions: unrecognized}).Encode(nil)
			if _, err := c.nc.Write(b); err != nil {
				return nil, false
			}
		}
		return params, true
	}
}

func parseStartupParams(b []byte) (map[string]string, []string, *sqlerr.Error) {
	params := map[string]string{}
	var unrecognized []string
	for {
		i := strings.IndexByte(string(b), 0)
		if i < 0 {
			return nil, nil, protocolViolation("invalid startup packet layout: expected terminator as last byte")
		}
		if i == 0 {
			if len(b) != 1 {
				return nil, nil, protocolViolation("invalid startup packet layout: expected terminator as last byte")
			}
			return params, unrecognized, nil
		}
		name := string(b[:i])
		b = b[i+1:]
		j := strings.IndexByte(string(b), 0)
		if j < 0 {
			return nil, nil, protocolViolation("invalid startup packet layout: expected terminator as last byte")
		}
		if strings.HasPrefix(name, "_pq_.") {
			unrecognized = append(unrecognized, name)
		} else {
			params[name] = string(b[:j])
		}
		b = b[j+1:]
	}
}

func (c *conn) authenticate(params map[string]string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = c.recovered("Authenticate", r)
		}
	}()
	return c.s.auth.Authenticate(c.ctx, authConn{c}, params)
}

func (c *conn) open(params map[string]string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = c.recovered("Open", r)
		}
	}()
	sess, err := c.s.backend.Open(c.ctx, params)
	if err != nil {
		return err
	}
	if sess == nil {
		return sqlerr.Bug("Backend.Open returned no session")
	}
	c.sess = sess
	if n, ok := sess.(Notifier); ok {
		c.notifier = n
		c.rd.onWake = c.notifyIdle
		n.SetNotificationWake(c.rd.interrupt)
	}
	return nil
}

// sendNotifications sends the session's waiting notifications.
func (c *conn) sendNotifications() {
	if c.notifier == nil {
		return
	}
	for _, n := range c.notifier.TakeNotifications() {
		c.send(&pgproto3.NotificationResponse{PID: n.PID, Channel: n.Channel, Payload: n.Payload})
	}
}

// notifyIdle sends the waiting notifications while the connection is idle;
// otherwise they wait for the next ReadyForQuery.
func (c *conn) notifyIdle() {
	if c.idle {
		c.sendNotifications()
		_ = c.flush()
	}
}

func (c *conn) closeSession() {
	defer func() {
		if r := recover(); r != nil {
			_ = c.recovered("Close", r)
		}
	}()
	for name := range c.portals {
		c.closePortal(name)
	}
	c.sess.Close()
}

// recovered logs a panic from a Backend call and turns it into XX000.
func (c *conn) recovered(where string, r any) error {
	c.s.log.Error("pgwire: recovered panic in backend", "call", where, "pid", c.pid,
		"panic", r, "stack", string(debug.Stack()))
	return sqlerr.New(sqlerr.InternalError, "%s", panicError{r}.Error())
}

type authConn struct{ c *conn }

func (a authConn) Send(msg pgproto3.BackendMessage) error { a.c.send(msg); return a.c.werr }
func (a authConn) Flush() error                           { return a.c.flush() }
func (a authConn) Receive() (pgproto3.FrontendMessage, error) {
	msg, err := a.c.be.Receive()
	if e := receiveError(err); e != nil {
		return nil, e
	}
	return msg, err
}
func (a authConn) SetAuthType(t uint32) error { return a.c.be.SetAuthType(t) }
func (a authConn) TLSServerEndPoint() []byte  { return a.c.channelBinding }

// send queues msg in the write buffer. Errors are kept in c.werr.
func (c *conn) send(msg pgproto3.BackendMessage) {
	if c.werr != nil {
		return
	}
	c.be.Send(msg)
	// NB: pgproto3 buffers until its Flush; move each message into bw at once
	// so raw DataRow/CopyData bytes written to bw stay in order.
	if err := c.be.Flush(); err != nil {
		c.werr = err
	}
}

// write queues raw, already framed message bytes.
func (c *conn) write(b []byte) error {
	if c.werr != nil {
		return c.werr
	}
	if _, err := c.bw.Write(b); err != nil {
		c.werr = err
	}
	return c.werr
}

func (c *conn) flush() error {
	c.leaveSlot()
	if c.werr != nil {
		return c.werr
	}
	if err := c.bw.Flush(); err != nil {
		c.werr = err
	}
	return c.werr
}

func (c *conn) sendError(e *sqlerr.Error) { c.send(errorResponse(e)) }

func (c *conn) sendFatal(e *sqlerr.Error) {
	c.sendError(fatal(e))
	_ = c.flush()
}

// sendFatalRaw reports a startup failure before the buffered writer exists.
func (c *conn) sendFatalRaw(e *sqlerr.Error) {
	b, err := errorResponse(fatal(e)).Encode(nil)
	if err == nil {
		_, _ = c.nc.Write(b)
	}
}

func isConnError(err error) bool {
	var ne net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, errClientGone) || errors.As(err, &ne)
}

// receiveFailed ends the connection after a failed read: shutdown and
// malformed input get a FATAL error first; a vanished client gets nothing.
func (c *conn) receiveFailed(err error) {
	if e := receiveError(err); e != nil {
		c.sendFatal(e)
	}
}

// receiveError is what the client is told about a failed read: nil for no
// error and for a vanished client.
func receiveError(err error) *sqlerr.Error {
	var tooBig *pgproto3.ExceededMaxBodyLenErr
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errShutdown):
		return errAdminShutdown()
	case errors.As(err, &tooBig):
		return protocolViolation("invalid message length")
	case isConnError(err):
		return nil
	}
	return protocolViolation("%s", err.Error())
}

func (c *conn) txStatus() byte {
	switch s := c.sess.TxStatus(); s {
	case 'I', 'T', 'E':
		return s
	}
	return 'I'
}

// readyForQuery sends ReadyForQuery. Outside a transaction block every portal
// is gone, as Postgres drops portals when the (implicit) transaction ends.
func (c *conn) readyForQuery() {
	s := c.txStatus()
	if s == 'I' {
		for name := range c.portals {
			c.closePortal(name)
		}
	}
	c.sendNotifications()
	c.out = append(c.out[:0], 'Z', 0, 0, 0, 5, s)
	_ = c.write(c.out)
	c.idle = true
}

// handle processes one message; false ends the connection.
func (c *conn) handle(msg pgproto3.FrontendMessage) bool {
	c.idle = false
	if c.ignoreTillSync {
		switch msg.(type) {
		case *pgproto3.Sync:
		case *pgproto3.Terminate:
			return false
		default:
			return true
		}
	}
	switch m := msg.(type) {
	case *pgproto3.Query:
		return c.simpleQuery(m.String)
	case *pgproto3.Parse:
		return c.run(true, true, func(ctx context.Context) error { return c.parse(ctx, m) })
	case *pgproto3.Bind:
		return c.run(true, true, func(ctx context.Context) error { return c.bind(ctx, m) })
	case *pgproto3.Describe:
		return c.run(true, false, func(ctx context.Context) error { return c.describe(m) })
	case *pgproto3.Execute:
		return c.run(true, true, func(ctx context.Context) error { return c.execute(ctx, m) })
	case *pgproto3.Close:
		return c.run(true, false, func(ctx context.Context) error { return c.closeMsg(m) })
	case *pgproto3.Sync:
		c.ignoreTillSync = false
		c.readyForQuery()
		_ = c.flush()
	case *pgproto3.Flush:
		_ = c.flush()
	case *pgproto3.Terminate:
		return false
	case *pgproto3.CopyData, *pgproto3.CopyDone, *pgproto3.CopyFail:
		// Left over from a COPY FROM STDIN that failed: dropped, per protocol.
	case *pgproto3.FunctionCall:
		c.sendError(sqlerr.Unsupported("fastpath function calls are not supported"))
		c.readyForQuery()
		_ = c.flush()
	default:
		c.sendFatal(protocolViolation("invalid frontend message type %T", msg))
		return false
	}
	return true
}

// run calls fn with the cancellable query context published for
// CancelRequest, recovers panics and reports errors; with slot, fn runs
// once the connection holds a slot (admission.go). In the extended protocol
// an error aborts the session's transaction and skips messages until Sync.
func (c *conn) run(extended, slot bool, fn func(ctx context.Context) error) bool {
	qctx := c.queryContext()
	c.rd.statementStarts()
	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = c.recovered("statement", r)
			}
		}()
		if slot {
			if err := c.enterSlot(qctx); err != nil {
				return err
			}
		}
		return fn(qctx)
	}()
	c.rd.statementEnds()
	cause := context.Cause(qctx)
	if cause != nil {
		c.endQuery()
	}
	if err == nil {
		return true
	}
	e := toSQLError(err, cause)
	c.sendError(e)
	if extended {
		c.ignoreTillSync = true
		c.abort(err)
	}
	if e.Severity == "FATAL" {
		_ = c.flush()
		return false
	}
	return true
}

// queryContext returns the context of the running statement's messages:
// the one before, unless that was cancelled (a context made and published
// under the Server's mutex for each query cost a dashboard's point lookup
// an allocation, two lock round trips and a cancel). One cancelled is not
// used again: a CancelRequest cancels what runs, not what comes next, and
// one that comes while nothing runs cancels only the context kept for the
// next statement, which then gets a new one.
func (c *conn) queryContext() context.Context {
	if c.qctx != nil && c.qctx.Err() != nil {
		c.endQuery() // cancelled between messages, while nothing ran
	}
	if c.qctx == nil {
		c.qctx, c.qcancel = context.WithCancelCause(c.ctx)
		c.s.setQueryCancel(c, c.qcancel)
	}
	return c.qctx
}

// endQuery ends the query context, if there is one.
func (c *conn) endQuery() {
	if c.qctx == nil {
		return
	}
	c.s.setQueryCancel(c, nil)
	c.qcancel(nil)
	c.qctx, c.qcancel = nil, nil
}

func (c *conn) abort(err error) {
	defer func() {
		if r := recover(); r != nil {
			_ = c.recovered("Abort", r)
		}
	}()
	c.sess.Abort(err)
}

// simpleQuery runs a Query message: every statement in turn, stopping at the
// first error, then ReadyForQuery.
func (c *conn) simpleQuery(sql string) bool {
	// The simple protocol destroys the unnamed statement and portal.
	c.closePortal("")
	delete(c.stmts, "")
	keep := c.run(false, true, func(ctx context.Context) error {
		stmts, err := c.sess.Parse(ctx, sql)
		if err != nil {
			return err
		}
		if len(stmts) == 0 || (len(stmts) == 1 && stmts[0].Empty()) {
			c.send(&pgproto3.EmptyQueryResponse{})
			return nil
		}
		for _, st := range stmts {
			if st.Empty() {
				continue
			}
			if err := c.simpleStatement(ctx, st); err != nil {
				return err
			}
		}
		return nil
	})
	if !keep {
		return false
	}
	c.readyForQuery()
	return c.flush() == nil
}

func (c *conn) simpleStatement(ctx context.Context, st Statement) error {
	p, err := st.Bind(ctx, nil, nil)
	if err != nil {
		return err
	}
	defer p.Close()
	cols := p.Columns()
	if cols != nil {
		c.rowDescription(cols, nil)
	}
	w := c.newResultWriter(nil)
	tag, suspended, err := p.Execute(ctx, 0, w)
	if err = w.finish(err); err != nil {
		return err
	}
	if suspended {
		return sqlerr.Bug("portal suspended without a row limit")
	}
	c.commandComplete(tag)
	return nil
}

// commandComplete sends CommandComplete with tag, framed in c.out rather
// than through pgproto3, which would allocate the message and its tag.
func (c *conn) commandComplete(tag string) {
	c.out = append(c.out[:0], 'C', 0, 0, 0, 0)
	c.out = append(c.out, tag...)
	c.out = append(c.out, 0)
	binary.BigEndian.PutUint32(c.out[1:], uint32(len(c.out)-1))
	_ = c.write(c.out)
}

// rowDescription sends a RowDescription of cols; formats are per column
// (nil: all text). It is framed in c.out rather than through pgproto3,
// which allocated the message, its fields and each name: every simple
// query sends one.
func (c *conn) rowDescription(cols []Column, formats []int16) {
	b := append(c.out[:0], 'T', 0, 0, 0, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(len(cols)))
	for i, col := range cols {
		b = append(b, col.Name...)
		b = append(b, 0)
		b = binary.BigEndian.AppendUint32(b, col.TableOID)
		b = binary.BigEndian.AppendUint16(b, uint16(col.AttrNum))
		b = binary.BigEndian.AppendUint32(b, col.TypeOID)
		b = binary.BigEndian.AppendUint16(b, uint16(col.TypeSize))
		b = binary.BigEndian.AppendUint32(b, uint32(col.TypeMod))
		var f int16
		if i < len(formats) {
			f = formats[i]
		}
		b = binary.BigEndian.AppendUint16(b, uint16(f))
	}
	binary.BigEndian.PutUint32(b[1:], uint32(len(b)-1))
	c.out = b
	_ = c.write(b)
}
