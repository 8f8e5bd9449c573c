// Package sched shares the processors between ingest and queries. On a
// machine with few cores, ingest goroutines (source decoding, dataflow
// workers) that run for long stretches can hold every P at once; a query's
// goroutine made runnable meanwhile waits in the run queue, and a socket
// that becomes readable is not even polled, until the runtime preempts one
// of them (10 ms slices) or sysmon polls the network (up to 10 ms more).
// A Gate bounds how many ingest goroutines run at once to one fewer than
// the cores while queries are being served, so one core is left to the
// queries. (`sluice serve` also runs one P more than the cores, so that a
// P is usually idle, blocked in the network poller, which then wakes a
// reader at once.) Served
// means at least ServingQueries queries in the last ReaderWindow or so:
// dashboards, not a script polling a view now and then, which should not
// take a core from ingest.
//
// Turns go first to the goroutines that publish what is already
// committed (a view's dataflow workers stepping an epoch: Publisher), then
// to those that bring new rows in (sources: Worker): a source taking turns
// with them in round robin stretched a big epoch's step, which every
// commit behind it waits for to be published.
package sched

import (
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Quantum is how long an ingest goroutine holding the gate runs before it
// lets the others take a turn (and queries queued on its P run).
const Quantum = 500 * time.Microsecond

// MaxWait bounds how long Enter waits for a turn; then the goroutine runs
// without one. On a machine the OS shares with other busy processes a
// turn's holder may not run for many milliseconds, and ingest must not
// stall behind it (bench serve at load 16-20 fell to a fifth of the rate
// without this bound).
const MaxWait = 2 * time.Millisecond

// ReaderWindow and ServingQueries define serving: ServingQueries queries
// (200 a second) within a ReaderWindow, counted in consecutive windows
// (the current one and, early in it, the previous one too).
const (
	ReaderWindow   = 100 * time.Millisecond
	ServingQueries = 20
)

// Gate bounds how many ingest goroutines run at once while queries are
// served. A nil *Gate bounds nothing.
type Gate struct {
	mu sync.Mutex // guards free and waiting
	// free is the number of turns nobody holds; waiting are the goroutines
	// waiting for one, publishers' (first) and sources', each in FIFO
	// order.
	free    int
	waiting [2][]*Worker
	epoch   time.Time
	// span is ReaderWindow and maxWait MaxWait (tests lengthen them, so
	// that a stalled machine does not end them under them).
	span, maxWait time.Duration
	// window is the number of the current ReaderWindow since epoch, count
	// the queries started in it, prev those of the one before (0 if that
	// one saw none). Concurrent Query calls may miscount a query at a
	// window's turn: the counts only decide whether ingest is bounded.
	window, count, prev atomic.Int64
}

// NewGate returns a gate that lets max(cores-1, 1) ingest goroutines run at
// once while queries are served.
func NewGate(cores int) *Gate {
	return &Gate{free: max(cores-1, 1), epoch: time.Now(), span: ReaderWindow, maxWait: MaxWait}
}

// Query notes that a query starts.
func (g *Gate) Query() {
	if g == nil {
		return
	}
	w := g.now()
	if cur := g.window.Load(); cur != w && g.window.CompareAndSwap(cur, w) {
		n := g.count.Swap(0)
		if w != cur+1 {
			n = 0
		}
		g.prev.Store(n)
	}
	g.count.Add(1)
}

// now is the number of the current window.
func (g *Gate) now() int64 { return int64(time.Since(g.epoch) / g.span) }

// serving reports whether queries are being served: ServingQueries in the
// current window, or in it and the previous one together.
func (g *Gate) serving() bool {
	switch g.now() - g.window.Load() {
	case 0:
		return g.count.Load()+g.prev.Load() >= ServingQueries
	case 1:
		return g.count.Load() >= ServingQueries
	}
	return false
}

// The classes of ingest goroutines, in the order turns go to them.
const (
	publisher = iota
	source
)

// Worker is one ingest goroutine's hold on the gate; it is used by that
// goroutine only. A Worker of a nil Gate does nothing.
type Worker struct {
	g     *Gate
	class int
	held  bool
	since time.Time
	// turn receives the turn a leaving goroutine hands this one while it
	// waits in g.waiting.
	turn chan struct{}
}

// Worker returns a handle for one source goroutine (new rows in).
func (g *Gate) Worker() *Worker { return &Worker{g: g, class: source, turn: make(chan struct{}, 1)} }

// Publisher returns a handle for one goroutine that publishes committed
// rows (a dataflow worker): waiting, it gets a turn before any source.
func (g *Gate) Publisher() *Worker {
	return &Worker{g: g, class: publisher, turn: make(chan struct{}, 1)}
}

// Enter starts a stretch of ingest work: while queries are served it
// waits for a turn. The stretch must not wait on another ingest goroutine
// (a channel, a lock it holds across its own stretch): a goroutine waiting
// inside a stretch keeps its turn from the others.
func (w *Worker) Enter() {
	if w.g == nil || w.held {
		return
	}
	w.since = time.Now()
	g := w.g
	if !g.serving() {
		return
	}
	g.mu.Lock()
	// Leave hands a turn to a waiting goroutine rather than free it, so
	// a free turn has nobody waiting for it.
	if g.free > 0 {
		g.free--
		g.mu.Unlock()
		w.held = true
		return
	}
	g.waiting[w.class] = append(g.waiting[w.class], w)
	g.mu.Unlock()
	t := time.NewTimer(g.maxWait)
	defer t.Stop()
	select {
	case <-w.turn:
	case <-t.C:
		g.mu.Lock()
		q := g.waiting[w.class]
		if i := slices.Index(q, w); i >= 0 {
			// The holder is not running (the OS took its thread, or it
			// is in a long stretch): go on without a turn rather than
			// let ingest stall behind it.
			g.waiting[w.class] = slices.Delete(q, i, i+1)
			g.mu.Unlock()
			return
		}
		// Handed a turn as the timer fired.
		g.mu.Unlock()
		<-w.turn
	}
	w.held = true
	w.since = time.Now()
}

// Leave ends a stretch (before the goroutine blocks for more work),
// handing the turn to the first publisher waiting, else the first source.
func (w *Worker) Leave() {
	if !w.held {
		return
	}
	w.held = false
	g := w.g
	g.mu.Lock()
	defer g.mu.Unlock()
	for c, q := range g.waiting {
		if len(q) > 0 {
			next := q[0]
			q[0] = nil
			g.waiting[c] = q[1:]
			next.turn <- struct{}{}
			return
		}
	}
	g.free++
}

// Yield is called at chunk boundaries inside a stretch: after a Quantum
// holding a turn it hands the turn on and lets the goroutines queued on
// its P run, then waits for a turn again. A goroutine running without a
// turn (none was needed, or none came within MaxWait) tries to take one
// after a Quantum.
func (w *Worker) Yield() {
	if w.g == nil || time.Since(w.since) < Quantum {
		return
	}
	if w.held {
		w.Leave()
		runtime.Gosched()
	}
	w.Enter()
}
