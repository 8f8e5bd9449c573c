package sched

import (
	"testing"
	"time"
)

// entered reports whether w.Enter returns within d.
func entered(w *Worker, d time.Duration) (bool, chan struct{}) {
	done := make(chan struct{})
	go func() { w.Enter(); close(done) }()
	select {
	case <-done:
		return true, done
	case <-time.After(d):
		return false, done
	}
}

// serve has g see the queries of dashboards.
func serve(g *Gate) {
	for range ServingQueries {
		g.Query()
	}
}

// While queries are served, a two-P gate lets one ingest goroutine run at
// a time; the other enters once the first leaves.
func TestGateBoundsIngestWhileServing(t *testing.T) {
	g := NewGate(2)
	g.span, g.maxWait = time.Hour, time.Hour
	serve(g)
	a, b := g.Worker(), g.Worker()
	a.Enter()
	ok, done := entered(b, 20*time.Millisecond)
	if ok {
		t.Fatal("a second ingest goroutine entered while the first held the only turn")
	}
	a.Leave()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the second ingest goroutine did not enter after the first left")
	}
	b.Leave()
}

// With fewer than ServingQueries queries in a window (a script polling a
// view), ingest runs freely.
func TestGateIdleWithoutQueries(t *testing.T) {
	g := NewGate(2)
	g.span, g.maxWait = time.Hour, time.Hour
	for range ServingQueries - 1 {
		g.Query()
	}
	a, b := g.Worker(), g.Worker()
	a.Enter()
	if ok, _ := entered(b, 5*time.Second); !ok {
		t.Fatal("ingest was bounded with no query served")
	}
	a.Leave()
	b.Leave()
	if g.free != 1 {
		t.Fatalf("%d turns free after everyone left, want 1", g.free)
	}
}

// Yield hands the turn on once a Quantum has passed, and takes one (after
// a Quantum) when queries started being served during a stretch begun
// without.
func TestYield(t *testing.T) {
	g := NewGate(2)
	g.span, g.maxWait = time.Hour, time.Hour
	a, b := g.Worker(), g.Worker()
	a.Enter()
	serve(g)
	time.Sleep(Quantum)
	a.Yield()
	if !a.held {
		t.Fatal("Yield took no turn although queries are served")
	}
	ok, done := entered(b, 20*time.Millisecond)
	if ok {
		t.Fatal("b entered while a held the turn")
	}
	time.Sleep(Quantum)
	// a hands the turn to b, then waits for it again.
	yielded := make(chan struct{})
	go func() { a.Yield(); close(yielded) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Yield after a Quantum did not hand the turn on")
	}
	b.Leave()
	select {
	case <-yielded:
	case <-time.After(5 * time.Second):
		t.Fatal("a did not get its turn back")
	}
	a.Leave()
}

// A nil gate bounds nothing.
func TestNilGate(t *testing.T) {
	var g *Gate
	g.Query()
	w := g.Worker()
	w.Enter()
	w.Yield()
	w.Leave()
}

// Serving ends a window after the queries stop, and the count starts over.
func TestServingWindows(t *testing.T) {
	g := NewGate(2)
	g.span = 200 * time.Millisecond
	serve(g)
	if !g.serving() {
		t.Fatal("not serving after ServingQueries queries")
	}
	time.Sleep(3 * g.span)
	if g.serving() {
		t.Fatal("still serving two windows after the last query")
	}
	g.Query()
	if g.serving() {
		t.Fatal("serving after one query: the old windows' queries still counted")
	}
}

// A goroutine waits at most maxWait for a turn, then runs without one.
func TestEnterWaitsAtMostMaxWait(t *testing.T) {
	g := NewGate(2)
	g.span, g.maxWait = time.Hour, 10*time.Millisecond
	serve(g)
	a, b := g.Worker(), g.Worker()
	a.Enter()
	start := time.Now()
	b.Enter()
	if waited := time.Since(start); waited < g.maxWait {
		t.Fatalf("b entered after %v, before maxWait, while a held the only turn", waited)
	}
	if b.held {
		t.Fatal("b holds a turn that a never gave up")
	}
	b.Leave()
	a.Leave()
	if g.free != 1 {
		t.Fatalf("%d turns free after everyone left, want 1", g.free)
	}
}

// A turn goes to a waiting publisher before a source that waited longer,
// and to the sources in the order they came.
func TestPublishersFirst(t *testing.T) {
	g := NewGate(2)
	g.span, g.maxWait = time.Hour, time.Hour
	serve(g)
	holder := g.Worker()
	holder.Enter()
	s1, s2, p := g.Worker(), g.Worker(), g.Publisher()
	order := make(chan *Worker, 3)
	waitFor := func(w *Worker, n int) {
		go func() { w.Enter(); order <- w }()
		for {
			g.mu.Lock()
			k := len(g.waiting[source]) + len(g.waiting[publisher])
			g.mu.Unlock()
			if k == n {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitFor(s1, 1)
	waitFor(s2, 2)
	waitFor(p, 3)
	holder.Leave()
	for i, want := range []*Worker{p, s1, s2} {
		select {
		case got := <-order:
			if got != want {
				t.Fatalf("turn %d went to class %d, want class %d (the publisher first, then the sources in order)", i, got.class, want.class)
			}
			got.Leave()
		case <-time.After(5 * time.Second):
			t.Fatalf("turn %d was not handed on", i)
		}
	}
	if g.free != 1 {
		t.Fatalf("%d turns free after everyone left, want 1", g.free)
	}
}
