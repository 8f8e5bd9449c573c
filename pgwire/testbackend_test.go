package pgwire

import (
	"context"
	"encoding/binary"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// testBackend is a tiny engine with a fixed statement language:
//
//	select N          one int4 row (fails if its context is done)
//	series N          int8 rows 1..N, written two per chunk (suspendable)
//	echo $1[::int8]   returns the parameter (text, or int8)
//	text, mixed       rows of text (with NULL) / int4,text,bool,int2
//	error             fails at execution: 42601 with position, detail, hint
//	parseerror        fails when parsed
//	sleep             blocks until its context is cancelled
//	waitsleep         sleep, after giving back its slot (Waiting)
//	pause             takes 3 hangUpCheck, so a watcher reads behind it;
//	                  while the backend holds pauses, it signals started and
//	                  then waits for resume
//	panic             panics in Execute; panicbind panics in Bind
//	notice            sends a notice and a ParameterStatus
//	begin/commit/rollback
//	copy ... from stdin / copy ... to stdout   (echoes the copied lines)
type testBackend struct {
	started chan struct{} // a sleep statement began
	ended   chan error    // a sleep statement ended, with its context's cause
	// holdPauses makes a pause statement wait for a value on resume after
	// its time, so that a test can act while it surely runs.
	holdPauses atomic.Bool
	resume     chan struct{}

	mu       sync.Mutex
	aborts   int
	sessions []*testSession
}

// notifyAll queues a notification for every session, as a NOTIFY would
// for sessions listening on the channel.
func (b *testBackend) notifyAll(channel, payload string) {
	b.mu.Lock()
	sessions := slices.Clone(b.sessions)
	b.mu.Unlock()
	for _, s := range sessions {
		s.nmu.Lock()
		first := len(s.notes) == 0
		s.notes = append(s.notes, Notification{PID: 7, Channel: channel, Payload: payload})
		wake := s.wake
		s.nmu.Unlock()
		if first && wake != nil {
			wake()
		}
	}
}

func newTestBackend() *testBackend {
	return &testBackend{started: make(chan struct{}, 64), ended: make(chan error, 64), resume: make(chan struct{}, 64)}
}

func (b *testBackend) abortCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.aborts
}

func (b *testBackend) Open(_ context.Context, params map[string]string) (Session, error) {
	if params["database"] == "nodb" {
		return nil, sqlerr.New(sqlerr.InvalidCatalogName, "database %q does not exist", "nodb")
	}
	s := &testSession{b: b, params: params, tx: 'I'}
	b.mu.Lock()
	b.sessions = append(b.sessions, s)
	b.mu.Unlock()
	return s, nil
}

type testSession struct {
	b      *testBackend
	params map[string]string
	tx     byte
	copied []string

	nmu   sync.Mutex // guards notes and wake
	notes []Notification
	wake  func()
}

func (s *testSession) SetNotificationWake(wake func()) {
	s.nmu.Lock()
	s.wake = wake
	s.nmu.Unlock()
}

func (s *testSession) TakeNotifications() []Notification {
	s.nmu.Lock()
	defer s.nmu.Unlock()
	out := s.notes
	s.notes = nil
	return out
}

func (s *testSession) Parameters() map[string]string {
	return map[string]string{
		"server_version":              "16.4 (Sluice)",
		"server_encoding":             "UTF8",
		"client_encoding":             "UTF8",
		"DateStyle":                   "ISO, MDY",
		"IntervalStyle":               "postgres",
		"TimeZone":                    "UTC",
		"integer_datetimes":           "on",
		"standard_conforming_strings": "on",
		"application_name":            s.params["application_name"],
		"is_superuser":                "on",
		"session_authorization":       s.params["user"],
	}
}

func (s *testSession) FormatConfig() *types.Config { return types.DefaultConfig() }

func (s *testSession) Parse(_ context.Context, sql string) ([]Statement, error) {
	var out []Statement
	for _, part := range strings.Split(sql, ";") {
		var lines []string
		for _, l := range strings.Split(part, "\n") {
			if i := strings.Index(l, "--"); i >= 0 {
				l = l[:i]
			}
			lines = append(lines, l)
		}
		q := strings.TrimSpace(strings.Join(lines, " "))
		if q == "" {
			continue
		}
		st, err := s.newStmt(q, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

func (s *testSession) Prepare(_ context.Context, sql string, oids []uint32) (Statement, error) {
	q := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(sql), ";"))
	if q == "" {
		return &testStmt{s: s, empty: true}, nil
	}
	return s.newStmt(q, oids)
}

func (s *testSession) TxStatus() byte { return s.tx }

func (s *testSession) CursorColumns(string) ([]Column, bool) { return nil, false }

func (s *testSession) Abort(error) {
	s.b.mu.Lock()
	s.b.aborts++
	s.b.mu.Unlock()
	if s.tx == 'T' {
		s.tx = 'E'
	}
}

func (s *testSession) Close() {}

type testStmt struct {
	s      *testSession
	empty  bool
	kind   string
	n      int64
	params []uint32
	cols   []Column
}

func col(name string, t *types.T) Column {
	return Column{Name: name, TypeOID: t.Oid, TypeSize: t.Size(), TypeMod: t.Typmod()}
}

func (s *testSession) newStmt(q string, oids []uint32) (*testStmt, error) {
	lq := strings.ToLower(q)
	f := strings.Fields(lq)
	st := &testStmt{s: s, kind: f[0]}
	switch {
	case f[0] == "select" && len(f) == 2:
		n, err := strconv.ParseInt(f[1], 10, 32)
		if err != nil {
			return nil, sqlerr.New(sqlerr.SyntaxError, "syntax error at or near %q", f[1]).At(8)
		}
		st.n, st.cols = n, []Column{col("?column?", types.Int4)}
	case f[0] == "series" && len(f) == 2:
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return nil, sqlerr.New(sqlerr.SyntaxError, "bad series")
		}
		st.n, st.cols = n, []Column{col("n", types.Int8)}
	case f[0] == "echo" && len(f) == 2:
		pt := types.OidText
		if strings.HasSuffix(f[1], "::int8") {
			pt = types.OidInt8
		}
		if len(oids) > 0 && oids[0] != 0 {
			pt = oids[0]
		}
		st.params = []uint32{pt}
		st.cols = []Column{col("echo", types.ByOid(pt))}
	case lq == "text":
		st.cols = []Column{col("t", types.Text)}
	case lq == "mixed":
		st.cols = []Column{col("i", types.Int4), col("t", types.Varchar), col("b", types.Bool), col("s", types.Int2)}
	case lq == "parseerror":
		return nil, sqlerr.New(sqlerr.SyntaxError, "cannot parse this").At(1)
	case f[0] == "copy" && strings.HasSuffix(lq, "from stdin"):
		st.kind = "copyin"
	case f[0] == "copy" && strings.HasSuffix(lq, "to stdout"):
		st.kind = "copyout"
	case f[0] == "begin" || f[0] == "commit" || f[0] == "rollback":
	case lq == "error", lq == "sleep", lq == "waitsleep", lq == "panic", lq == "panicbind", lq == "notice", lq == "pause":
	default:
		return nil, sqlerr.New(sqlerr.SyntaxError, "syntax error at or near %q", f[0]).At(1)
	}
	return st, nil
}

func (st *testStmt) Empty() bool          { return st.empty }
func (st *testStmt) ParamTypes() []uint32 { return st.params }
func (st *testStmt) Columns() []Column    { return st.cols }

func (st *testStmt) Bind(_ context.Context, params [][]byte, formats []int16) (Portal, error) {
	if st.kind == "panicbind" {
		panic("bind exploded")
	}
	p := &testPortal{st: st}
	if st.kind == "echo" {
		raw := params[0]
		binaryFmt := (len(formats) == 1 && formats[0] == 1) || (len(formats) > 1 && formats[0] == 1)
		switch {
		case raw == nil:
		case st.params[0] == types.OidInt8 && binaryFmt:
			if len(raw) != 8 {
				return nil, sqlerr.New(sqlerr.InvalidBinaryRepresentation, "insufficient data left in message")
			}
			p.val = int64(binary.BigEndian.Uint64(raw))
		case st.params[0] == types.OidInt8:
			n, err := strconv.ParseInt(string(raw), 10, 64)
			if err != nil {
				return nil, sqlerr.New(sqlerr.InvalidTextRepresentation, "invalid input syntax for type bigint: %q", raw)
			}
			p.val = n
		default:
			p.val = string(raw)
		}
	}
	return p, nil
}

type testPortal struct {
	st   *testStmt
	val  types.Datum
	next int64
}

func (p *testPortal) Columns() []Column { return p.st.cols }
func (p *testPortal) Close()            {}

func (p *testPortal) Execute(ctx context.Context, maxRows int, w ResultWriter) (string, bool, error) {
	s := p.st.s
	tag, suspended, err := p.execute(ctx, maxRows, w)
	if err != nil && s.tx == 'T' {
		s.tx = 'E'
	}
	return tag, suspended, err
}

func (p *testPortal) execute(ctx context.Context, maxRows int, w ResultWriter) (string, bool, error) {
	st, s := p.st, p.st.s
	switch st.kind {
	case "select":
		if err := ctx.Err(); err != nil {
			return "", false, err // as the engine's would
		}
		ch := coldata.NewChunk([]*types.T{types.Int4}, 1)
		ch.AppendRow([]types.Datum{st.n})
		return "SELECT 1", false, w.WriteChunk(ch)
	case "series":
		sent := 0
		for p.next < st.n {
			ch := coldata.NewChunk([]*types.T{types.Int8}, 2)
			for ch.Len < 2 && p.next < st.n && (maxRows == 0 || sent < maxRows) {
				p.next++
				sent++
				ch.AppendRow([]types.Datum{p.next})
			}
			if ch.Len > 0 {
				if err := w.WriteChunk(ch); err != nil {
					return "", false, err
				}
			}
			if maxRows > 0 && sent == maxRows && p.next < st.n {
				return "", true, nil
			}
		}
		return "SELECT " + strconv.Itoa(sent), false, nil
	case "echo":
		ch := coldata.NewChunk([]*types.T{types.ByOid(st.params[0])}, 1)
		ch.AppendRow([]types.Datum{p.val})
		return "SELECT 1", false, w.WriteChunk(ch)
	case "text":
		ch := coldata.NewChunk([]*types.T{types.Text}, 3)
		ch.AppendRow([]types.Datum{"a"})
		ch.AppendRow([]types.Datum{nil})
		ch.AppendRow([]types.Datum{"ccc"})
		return "SELECT 3", false, w.WriteChunk(ch)
	case "mixed":
		ch := coldata.NewChunk([]*types.T{types.Int4, types.Varchar, types.Bool, types.Int2}, 1)
		ch.AppendRow([]types.Datum{int64(7), "x", true, int64(-3)})
		return "SELECT 1", false, w.WriteChunk(ch)
	case "error":
		return "", false, sqlerr.New(sqlerr.SyntaxError, "boom").At(3).WithHint("try again").WithDetail("some detail")
	case "sleep", "waitsleep":
		if st.kind == "waitsleep" {
			Waiting(ctx)
		}
		select { // NB: non-blocking so a fuzz input full of sleeps cannot wedge us
		case s.b.started <- struct{}{}:
		default:
		}
		<-ctx.Done()
		select {
		case s.b.ended <- context.Cause(ctx):
		default:
		}
		return "", false, ctx.Err()
	case "panic":
		panic("test panic")
	case "pause":
		held := s.b.holdPauses.Load()
		if held {
			s.b.started <- struct{}{}
		}
		time.Sleep(3 * hangUpCheck)
		if held {
			<-s.b.resume
		}
		return "PAUSE", false, nil
	case "notice":
		if err := w.Notice("NOTICE", "00000", "hello"); err != nil {
			return "", false, err
		}
		return "SET", false, w.ParameterStatus("application_name", "changed")
	case "begin":
		s.tx = 'T'
		return "BEGIN", false, nil
	case "commit", "rollback":
		s.tx = 'I'
		return strings.ToUpper(st.kind), false, nil
	case "copyin":
		r, err := w.CopyIn(CopyText, 1)
		if err != nil {
			return "", false, err
		}
		data, err := io.ReadAll(r)
		if err != nil {
			return "", false, err
		}
		s.copied = strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
		return "COPY " + strconv.Itoa(len(s.copied)), false, nil
	case "copyout":
		cw, err := w.CopyOut(CopyText, 1)
		if err != nil {
			return "", false, err
		}
		for _, l := range s.copied {
			if _, err := cw.Write([]byte(l + "\n")); err != nil {
				return "", false, err
			}
		}
		return "COPY " + strconv.Itoa(len(s.copied)), false, nil
	}
	return "", false, sqlerr.Bug("unknown kind %s", st.kind)
}
