package engine

import (
	"context"
	"sync"

	"github.com/sluice-db/sluice/catalog"
	"github.com/sluice-db/sluice/pgwire"
)

// advisoryKey names an advisory lock. As in Postgres, the bigint form and the
// (int, int) form are different key spaces: pg_advisory_lock(1) and
// pg_advisory_lock(0, 1) are different locks.
type advisoryKey struct {
	hi, lo int32
	pair   bool // taken by the (int, int) form
}

func bigintKey(k int64) advisoryKey {
	return advisoryKey{hi: int32(k >> 32), lo: int32(k)}
}

func pairKey(k1, k2 int64) advisoryKey {
	return advisoryKey{hi: int32(k1), lo: int32(k2), pair: true}
}

// advisoryMode is how a lock is held: shared locks share with each other,
// an exclusive lock with nothing (of another session).
type advisoryMode int

const (
	exclusiveLock advisoryMode = iota
	sharedLock
)

// lockTypeName is the lock's name in Postgres' "you don't own a lock" warning.
func (m advisoryMode) lockTypeName() string {
	if m == sharedLock {
		return "ShareLock"
	}
	return "ExclusiveLock"
}

// advisoryScope is how long a lock lives: until unlocked or the session
// ends, or until the transaction ends.
type advisoryScope int

const (
	sessionScope advisoryScope = iota
	xactScope
)

// advisoryHolds counts one session's holds of one lock; locks are
// reentrant, and each lock call needs its own unlock.
type advisoryHolds [2][2]int // [mode][scope]

func (h *advisoryHolds) holds(m advisoryMode) bool {
	return h[m][sessionScope]+h[m][xactScope] > 0
}

func (h *advisoryHolds) empty() bool {
	return !h.holds(exclusiveLock) && !h.holds(sharedLock)
}

// advisoryLock is one key's holders; released is closed (and replaced) when
// a hold ends, waking the sessions that wait for the lock.
type advisoryLock struct {
	holders  map[*session]*advisoryHolds
	released chan struct{}
}

// advisoryLocks is the engine's table of advisory locks (pg_advisory_lock
// and friends). A session never conflicts with itself; there is no deadlock
// detection: a waiting lock call ends when its statement is cancelled.
type advisoryLocks struct {
	mu    sync.Mutex
	locks map[advisoryKey]*advisoryLock
	// waiting are the sessions waiting in lock, for pg_locks.
	waiting map[*session]advisoryWait
}

// advisoryWait is the lock a session waits for.
type advisoryWait struct {
	key  advisoryKey
	mode advisoryMode
}

func newAdvisoryLocks() *advisoryLocks {
	return &advisoryLocks{locks: map[advisoryKey]*advisoryLock{}, waiting: map[*session]advisoryWait{}}
}

// grantable reports whether s may take l in mode m now.
func (l *advisoryLock) grantable(s *session, m advisoryMode) bool {
	for o, h := range l.holders {
		if o == s {
			continue
		}
		if h.holds(exclusiveLock) || (m == exclusiveLock && h.holds(sharedLock)) {
			return false
		}
	}
	return true
}

// tryLock takes the lock if no other session holds it in a conflicting
// mode. When it does not, it returns a channel closed at the next release.
func (t *advisoryLocks) tryLock(s *session, k advisoryKey, m advisoryMode, sc advisoryScope) (bool, <-chan struct{}) {
	t.mu.Lock()
	defer t.mu.Unlock()
	l := t.locks[k]
	if l == nil {
		l = &advisoryLock{holders: map[*session]*advisoryHolds{}, released: make(chan struct{})}
		t.locks[k] = l
	}
	if !l.grantable(s, m) {
		return false, l.released
	}
	h := l.holders[s]
	if h == nil {
		h = &advisoryHolds{}
		l.holders[s] = h
	}
	h[m][sc]++
	return true, nil
}

// lock takes the lock, waiting while another session holds it in a
// conflicting mode, until ctx is done.
func (t *advisoryLocks) lock(ctx context.Context, s *session, k advisoryKey, m advisoryMode, sc advisoryScope) error {
	defer t.setWaiting(s, nil)
	for {
		ok, released := t.tryLock(s, k, m, sc)
		if ok {
			return nil
		}
		t.setWaiting(s, &advisoryWait{k, m})
		// The holder may need a slot to release the lock (pgwire.Waiting).
		pgwire.Waiting(ctx)
		select {
		case <-released:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// setWaiting records (w != nil) or forgets the lock s waits for.
func (t *advisoryLocks) setWaiting(s *session, w *advisoryWait) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if w == nil {
		delete(t.waiting, s)
	} else {
		t.waiting[s] = *w
	}
}

// unlock drops one session-level hold; false when s held none.
func (t *advisoryLocks) unlock(s *session, k advisoryKey, m advisoryMode) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	l := t.locks[k]
	if l == nil || l.holders[s] == nil || l.holders[s][m][sessionScope] == 0 {
		return false
	}
	l.holders[s][m][sessionScope]--
	t.released(k, l, s)
	return true
}

// releaseAll drops the holds of s in the given scopes (at the end of a
// transaction, pg_advisory_unlock_all, the end of the session). It walks
// every lock: callers skip it when s holds none in those scopes.
func (t *advisoryLocks) releaseAll(s *session, scopes ...advisoryScope) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, l := range t.locks {
		h := l.holders[s]
		if h == nil {
			continue
		}
		for _, sc := range scopes {
			h[exclusiveLock][sc], h[sharedLock][sc] = 0, 0
		}
		t.released(k, l, s)
	}
}

// list returns the held locks, a row per session and mode, and the
// awaited ones, for pg_locks.
func (t *advisoryLocks) list() []catalog.Lock {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []catalog.Lock
	for k, l := range t.locks {
		for s, h := range l.holders {
			for _, m := range []advisoryMode{exclusiveLock, sharedLock} {
				if h.holds(m) {
					out = append(out, k.pgLock(s, m, true))
				}
			}
		}
	}
	for s, w := range t.waiting {
		out = append(out, w.key.pgLock(s, w.mode, false))
	}
	return out
}

// pgLock is the pg_locks row of s holding (or awaiting) k in mode m.
func (k advisoryKey) pgLock(s *session, m advisoryMode, granted bool) catalog.Lock {
	sub := int16(1)
	if k.pair {
		sub = 2
	}
	return catalog.Lock{PID: s.pid, ClassID: uint32(k.hi), ObjID: uint32(k.lo), ObjSubID: sub, Shared: m == sharedLock, Granted: granted}
}

// released wakes the waiters of l after a hold of s ended, and forgets s
// (and l) once they hold nothing. t.mu is held.
func (t *advisoryLocks) released(k advisoryKey, l *advisoryLock, s *session) {
	if l.holders[s].empty() {
		delete(l.holders, s)
	}
	close(l.released)
	l.released = make(chan struct{})
	if len(l.holders) == 0 {
		delete(t.locks, k)
	}
}
