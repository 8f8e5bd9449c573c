package datagen

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/internal/sched"
	"github.com/sluice-db/sluice/types"
)

// Events draws a stream's events into column chunks.
type Events struct {
	opts   *Options
	layout []int
	b      block
}

// NewEvents returns the events of a generator stream whose column i is the
// generator's column layout[i] (see Generator.Layout).
func NewEvents(o *Options, layout []int) *Events {
	return &Events{opts: o, layout: layout, b: block{seed: mix(o.Seed), sessions: newSessions(o.Rate), rate: o.Rate}}
}

// Append appends the stream's rows first .. first+n-1 to out. clock is, in
// microseconds since the Unix epoch, the emission time of event 0 when the
// rate is limited (event k is emitted k/rate later), or of all n rows when
// it is not.
func (e *Events) Append(out *coldata.Chunk, first int64, n int, clock int64) {
	b := &e.b
	g := e.opts.Generator
	b.reset(n)
	for i := range b.event {
		b.event[i] = g.event(first + int64(i))
	}
	if g.draw != nil {
		g.draw(b)
	}
	disorder := float64(e.opts.Disorder.Microseconds())
	lateBy := e.opts.LateBy.Microseconds()
	for i, k := range b.event {
		emitted := clock
		if e.opts.Rate > 0 {
			emitted += int64(float64(k) * 1e6 / e.opts.Rate)
		}
		delay := int64(unit(b.rand(k, 1)) * disorder)
		if unit(b.rand(k, 0)) < e.opts.LateFraction {
			delay += lateBy
		}
		b.ts[i] = emitted - delay
	}
	for i, j := range e.layout {
		g.columns[j].emit(b, out.Cols[i])
	}
	out.Len += n
}

// Target receives what a source generated.
type Target interface {
	// Deliver appends rows to the stream and stores generated, the number
	// of events generated so far, atomically. It may block (backpressure).
	// An error stops the source. rows are Deliver's to keep.
	Deliver(ctx context.Context, rows *coldata.Chunk, generated int64) error
}

// Config configures a Source.
type Config struct {
	Options *Options
	// Layout maps the stream's columns to the generator's; Types are the
	// stream's column types.
	Layout []int
	Types  []*types.T
	// Generated is the number of events the stream already holds: the
	// source goes on with the next.
	Generated int64
	Target    Target
	Log       *slog.Logger
	// BatchRows bounds a delivery (default 65536 events); a rate-limited
	// source delivers what is due every round, Interval (default 50 ms) or
	// less at high rates (see RoundRows), at most max(PacedBatchRows, its
	// rows of two Intervals) at once, or half of BatchRows when it owes
	// more than BatchRows and that is more.
	BatchRows int
	Interval  time.Duration
	// Gate, if not nil, has the source take turns with the other ingest
	// goroutines while it generates (not while it delivers, which may
	// wait on them).
	Gate *sched.Gate
}

// drawRows is how many rows the source draws between turns at the gate:
// about half a millisecond of work.
const drawRows = 2048

// RoundRows is about what a rate-limited source delivers a round: its
// round is Interval or, when its rate makes more rows in an Interval, the
// time the rate takes to make RoundRows (not under minRound). A view steps
// a delivery whole, and a commit after it to another view (a freshness
// marker) waits for that step in progress: at 294 k bids/s a 50 ms round
// delivered 15-18 Ki bids, whose steps took 70-92 ms at p99 waiting for a
// core, where 4 Ki take a quarter of their CPU. A source whose commits take
// longer than its round falls behind and delivers what it owes, up to
// PacedBatchRows, without pausing: its deliveries grow with its commits'
// time, and its throughput is that of bigger commits.
const RoundRows = 4 << 10

// minRound bounds a round from below: at a million rows a second RoundRows
// are 4 ms, and shorter rounds would be commits with little in them.
const minRound = 5 * time.Millisecond

// PacedBatchRows bounds the deliveries of a rate-limited source that fell
// behind its schedule (a stalled machine, a slow commit) unless two
// Intervals' rows are more (what is due when a delivery took about an
// Interval: so it keeps to one commit a round). A view steps a delivery's
// commit whole, and everything committed after it waits for that step to
// be published: one 64 Ki-row catch-up delivery held bench serve's
// freshness markers over 100 ms. Bounded deliveries let a commit made
// between them (a marker, an INSERT) be published after the first. A
// source owing more than BatchRows delivers half of BatchRows (a storage
// segment's: storage keeps a commit of half a segment as it is, not
// copied): on a starved machine 16 Ki-row commits, each with its syncs
// and a copy, could not catch up (bench serve at load 10-16 ingested
// 130-180k bids/s of 270k), and 64 Ki-row ones held every commit behind
// them for a 64 Ki-row step (bench serve's epochs of 64 Ki rows, steps
// of 60-950 ms at load 7).
const PacedBatchRows = 16 << 10

// Stats is a source's progress.
type Stats struct {
	// Generated is the number of events in the stream; Delivered those
	// this source generated since it started.
	Generated, Delivered int64
	// Done: the source generated Options.Events and stopped.
	Done bool
	Err  error
}

// Source is a running generator.
type Source struct {
	cfg    Config
	cancel context.CancelFunc
	exited chan struct{}

	mu    sync.Mutex
	stats Stats
}

// Start starts generating from cfg.Generated.
func Start(cfg Config) *Source {
	if cfg.BatchRows <= 0 {
		cfg.BatchRows = 1 << 16
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 50 * time.Millisecond
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Source{cfg: cfg, cancel: cancel, exited: make(chan struct{}), stats: Stats{Generated: cfg.Generated}}
	go s.run(ctx)
	return s
}

// Close stops the source and waits for it.
func (s *Source) Close() {
	s.cancel()
	<-s.exited
}

// Stats returns the source's progress.
func (s *Source) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

func (s *Source) run(ctx context.Context) {
	defer close(s.exited)
	o := s.cfg.Options
	g := o.Generator
	events := NewEvents(o, s.cfg.Layout)
	pos := s.cfg.Generated
	// The schedule puts the next row at now: a restart goes on from the
	// stored position without a burst for the time it was down.
	clock := time.Now().UnixMicro()
	if o.Rate > 0 {
		clock -= int64(float64(g.event(pos)) * 1e6 / o.Rate)
	}
	// With a start time the events are a replay of a fixed timeline: they
	// come as fast as the stream takes them.
	paced := o.Rate > 0 && o.StartTime.IsZero()
	// limit bounds a paced source's deliveries, catchUp those of one
	// owing more than BatchRows.
	limit, catchUp := int64(s.cfg.BatchRows), int64(s.cfg.BatchRows)
	round := s.cfg.Interval
	if paced {
		round = pacedRound(g, o.Rate, s.cfg.Interval)
		// Behind, it catches up as it did with rounds of Interval: its
		// throughput is that of these bigger commits.
		twoIntervals := g.rowsBefore(int64(2 * o.Rate * s.cfg.Interval.Seconds()))
		limit = min(limit, max(PacedBatchRows, twoIntervals))
		catchUp = max(limit, catchUp/2)
	}
	gate := s.cfg.Gate.Worker()
	// wait: the next draw waits a round first (the last one was on
	// schedule); behind, or unlimited, the source draws again at once.
	wait := false
	draw := func(ctx context.Context) (delivery, bool) {
		for o.Events == 0 || pos < o.Events {
			if wait {
				select {
				case <-ctx.Done():
					return delivery{}, false
				case <-time.After(round):
				}
			}
			// A Close must stop a source behind schedule too.
			if ctx.Err() != nil {
				return delivery{}, false
			}
			now := time.Now().UnixMicro()
			n, behind := int64(s.cfg.BatchRows), true
			if paced {
				// Owing more than BatchRows, it catches up in batches of
				// catchUp (see PacedBatchRows).
				if owed := g.rowsBefore(int64(float64(now-clock)*o.Rate/1e6)+1) - pos; owed <= n {
					n = min(owed, limit)
					behind = owed > n
				} else {
					n = catchUp
				}
			}
			if o.Events > 0 {
				n = min(n, o.Events-pos)
			}
			wait = !behind
			if n <= 0 {
				continue
			}
			rows := coldata.NewChunk(s.cfg.Types, int(n))
			at := clock
			switch {
			case !o.StartTime.IsZero():
				at = o.StartTime.UnixMicro()
			case o.Rate == 0:
				at = now
			}
			gate.Enter()
			for off := int64(0); off < n; off += drawRows {
				gate.Yield()
				events.Append(rows, pos+off, int(min(drawRows, n-off)), at)
			}
			gate.Leave()
			pos += n
			return delivery{rows: rows, generated: pos}, true
		}
		return delivery{}, false
	}
	deliver := func(ctx context.Context, d delivery) error {
		if err := s.cfg.Target.Deliver(ctx, d.rows, d.generated); err != nil {
			return err
		}
		s.mu.Lock()
		s.stats.Generated, s.stats.Delivered = d.generated, s.stats.Delivered+int64(d.rows.Len)
		s.mu.Unlock()
		return nil
	}
	err := pipeline(ctx, draw, deliver)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case ctx.Err() != nil:
	case err != nil:
		s.cfg.Log.Error("datagen: delivery failed; the source stops", "err", err)
		s.stats.Err = err
	default:
		s.stats.Done = true
	}
}

// delivery is a drawn chunk of rows and the number of events generated
// once it is delivered.
type delivery struct {
	rows      *coldata.Chunk
	generated int64
}

// pipeline delivers what draw returns, in order, until draw returns false,
// deliver fails or ctx is cancelled, and returns deliver's error. It draws
// the next delivery while deliver commits the one before, at most one
// ahead: drawing and committing (mostly syncs: the history log's and
// Pebble's) took turns on one goroutine, and at 400 k events/s beside 200
// bench serve panels that goroutine was busy 77 % of the time, so the
// source fell behind and caught up in big deliveries that every commit
// after them waits for. draw and deliver get a context cancelled once
// deliver failed.
func pipeline(ctx context.Context, draw func(context.Context) (delivery, bool), deliver func(context.Context, delivery) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	drawn := make(chan delivery)
	delivered := make(chan struct{})
	var err error
	go func() {
		defer close(delivered)
		for d := range drawn {
			if err = deliver(ctx, d); err != nil {
				cancel()
				return
			}
		}
	}()
	for running := true; running; {
		d, ok := draw(ctx)
		if !ok {
			break
		}
		select {
		case drawn <- d:
		case <-delivered:
			running = false
		case <-ctx.Done():
			running = false
		}
	}
	close(drawn)
	<-delivered
	return err
}

// pacedRound is the round of a source of g at rate events a second: interval,
// or the time its rows take to reach RoundRows when that is shorter, but not
// under minRound.
func pacedRound(g *Generator, rate float64, interval time.Duration) time.Duration {
	rowsPerSecond := float64(g.rowsBefore(int64(rate)))
	if rowsPerSecond <= 0 {
		return interval
	}
	toRoundRows := time.Duration(RoundRows / rowsPerSecond * float64(time.Second))
	return max(min(interval, toRoundRows), min(interval, minRound))
}
