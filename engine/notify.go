package engine

import (
	"slices"
	"sync"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/pgwire"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// LISTEN, UNLISTEN and NOTIFY between the sessions of one server, as in
// Postgres: a NOTIFY (or pg_notify) is sent when its transaction commits,
// once per distinct channel and payload, to every session then listening
// on the channel (the sender too); LISTEN and UNLISTEN take effect when
// their transaction commits. pgwire writes a session's notifications to
// its client when the connection is idle, or before the next
// ReadyForQuery.

// Postgres' limits on a channel name (an identifier) and a payload, in
// bytes.
const (
	maxChannelName   = 63
	maxNotifyPayload = 7999
)

// notification is a NOTIFY of a transaction.
type notification struct{ channel, payload string }

// listeners are the sessions listening, by channel.
type listeners struct {
	mu sync.Mutex
	by map[string]map[*session]struct{}
}

func (l *listeners) listen(s *session, channel string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.by == nil {
		l.by = map[string]map[*session]struct{}{}
	}
	if l.by[channel] == nil {
		l.by[channel] = map[*session]struct{}{}
	}
	l.by[channel][s] = struct{}{}
}

// unlisten stops s listening on channel ("": on every channel).
func (l *listeners) unlisten(s *session, channel string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for ch, ss := range l.by {
		if channel == "" || ch == channel {
			delete(ss, s)
			if len(ss) == 0 {
				delete(l.by, ch)
			}
		}
	}
}

// channels lists the channels s listens on, sorted.
func (l *listeners) channels(s *session) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for ch, ss := range l.by {
		if _, ok := ss[s]; ok {
			out = append(out, ch)
		}
	}
	slices.Sort(out)
	return out
}

// deliver sends notes, from the session with pid, to the sessions
// listening on their channels.
func (l *listeners) deliver(pid int32, notes []notification) {
	if len(notes) == 0 {
		return // every commit comes here: most notify nobody
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, n := range notes {
		for s := range l.by[n.channel] {
			s.inbox.add(pgwire.Notification{PID: uint32(pid), Channel: n.channel, Payload: n.payload})
		}
	}
}

// maxInbox bounds the notifications waiting for one session: a client
// that listens and never reads (or a slow one) must not grow the server
// without end. Postgres bounds its shared queue (8 GB) and then fails
// NOTIFY; here the notifications beyond are dropped for that listener.
const maxInbox = 1 << 16

// inbox holds a session's notifications until pgwire takes them.
type inbox struct {
	mu      sync.Mutex
	notes   []pgwire.Notification
	dropped int64  // notifications dropped since the inbox was last full
	wake    func() // pgwire's; called when notes stop being empty
}

func (b *inbox) add(n pgwire.Notification) {
	b.mu.Lock()
	// Only the first note after a take wakes the connection: it takes
	// them all, and interrupting it once per note would be wasted.
	first := len(b.notes) == 0
	if len(b.notes) < maxInbox {
		b.notes = append(b.notes, n)
	} else {
		b.dropped++
	}
	wake := b.wake
	b.mu.Unlock()
	if first && wake != nil {
		wake()
	}
}

// SetNotificationWake implements pgwire.Notifier.
func (s *session) SetNotificationWake(wake func()) {
	s.inbox.mu.Lock()
	s.inbox.wake = wake
	s.inbox.mu.Unlock()
}

// TakeNotifications implements pgwire.Notifier.
func (s *session) TakeNotifications() []pgwire.Notification {
	s.inbox.mu.Lock()
	out, dropped := s.inbox.notes, s.inbox.dropped
	s.inbox.notes, s.inbox.dropped = nil, 0
	s.inbox.mu.Unlock()
	if dropped > 0 {
		s.e.log.Warn("engine: notifications dropped for a session that did not read them", "pid", s.pid, "dropped", dropped, "kept", len(out))
	}
	return out
}

// notify queues a NOTIFY in ts, sent when it commits.
func (ts *txnState) notify(channel, payload string) error {
	if channel == "" {
		return sqlerr.New(sqlerr.InvalidParameterValue, "channel name cannot be empty")
	}
	if len(channel) > maxChannelName {
		return sqlerr.New(sqlerr.InvalidParameterValue, "channel name too long")
	}
	if len(payload) > maxNotifyPayload {
		return sqlerr.New(sqlerr.InvalidParameterValue, "payload string too long")
	}
	n := notification{channel, payload}
	if !slices.Contains(ts.notifies, n) {
		ts.notifies = append(ts.notifies, n)
	}
	return nil
}

// execListen runs LISTEN, UNLISTEN and NOTIFY in ts.
func (st *statement) execListen(ts *txnState, n *pg.Node) (string, error) {
	s := st.s
	switch x := n.Node.(type) {
	case *pg.Node_ListenStmt:
		ch := x.ListenStmt.Conditionname
		ts.afterCommit = append(ts.afterCommit, func() error { s.e.listeners.listen(s, ch); return nil })
		return "LISTEN", nil
	case *pg.Node_UnlistenStmt:
		ch := x.UnlistenStmt.Conditionname // "" for UNLISTEN *
		ts.afterCommit = append(ts.afterCommit, func() error { s.e.listeners.unlisten(s, ch); return nil })
		return "UNLISTEN", nil
	case *pg.Node_NotifyStmt:
		ts.notifyPID = s.pid
		return "NOTIFY", ts.notify(x.NotifyStmt.Conditionname, x.NotifyStmt.Payload)
	}
	return "", sqlerr.Bug("execListen of %T", n.Node)
}

// registerNotifyFuncs adds pg_notify, NOTIFY as a function (of the
// transaction of the statement that calls it).
func registerNotifyFuncs(r *expr.Registry) {
	r.Add(&expr.Overload{Name: "pg_notify", Args: []*types.T{types.Text, types.Text}, Ret: types.Void, Volatile: true,
		Row: func(ctx *expr.EvalCtx, a []types.Datum) (types.Datum, error) {
			s, err := sessionOf(ctx)
			if err != nil {
				return nil, err
			}
			ts := s.running
			if ts == nil {
				return nil, sqlerr.Bug("pg_notify outside a transaction")
			}
			ch, _ := a[0].(string)
			payload, _ := a[1].(string)
			ts.notifyPID = s.pid
			return "", ts.notify(ch, payload)
		}})
}
