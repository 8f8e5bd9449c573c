package engine

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/sluice-db/sluice/catalog"
	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/dataflow"
)

// SinkStep is a point of a sink's commit, where WithSinkHook is called.
type SinkStep int

const (
	// SinkPendingWritten: the transaction's pending record is durable; a
	// kafka sink has written its records and progress marker but not sent
	// EndTxn, a webhook has not posted the batch.
	SinkPendingWritten SinkStep = iota
	// SinkCommitted: EndTxn succeeded, or the endpoint took the batch;
	// the pending record is not settled yet.
	SinkCommitted
)

// Sink retry pacing: an attempt that fails is retried after a pause that
// doubles up to sinkMaxBackoff, and starts over from sinkMinBackoff once an
// attempt has run for sinkMaxBackoff.
const (
	sinkMinBackoff = 100 * time.Millisecond
	sinkMaxBackoff = 30 * time.Second
	// sinkConnectTimeout bounds reaching the brokers when a sink starts.
	sinkConnectTimeout = 10 * time.Second
	// defaultSinkTxnRows is about the most rows a sink writes in one
	// transaction.
	defaultSinkTxnRows = 1 << 16
	// defaultSinkEndTimeout is how long a sink waits for EndTxn before it
	// settles the outcome from the progress topic instead.
	defaultSinkEndTimeout = 10 * time.Second
)

// runningSink is a sink's goroutine and what SHOW SINKS reports of it.
type runningSink struct {
	e      *Engine
	desc   *catalog.Sink
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	status string
	seq    uint64 // the last committed transaction's sequence number
}

// start runs desc's sink. With stopOnError (CREATE SINK) it waits for the
// first attempt to reach the brokers and, if it fails, stops the sink and
// returns why; otherwise (a restart's sinks) the sink keeps retrying.
func (ss *sinks) start(ctx context.Context, desc *catalog.Sink, stopOnError bool) error {
	runCtx, cancel := context.WithCancel(context.Background())
	r := &runningSink{e: ss.e, desc: desc, cancel: cancel, done: make(chan struct{}), status: "starting"}
	ss.mu.Lock()
	ss.running[desc.ID] = r
	ss.mu.Unlock()
	started := make(chan error, 1)
	go r.run(runCtx, started)
	if !stopOnError {
		return nil
	}
	var err error
	select {
	case err = <-started:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		ss.stop(desc.ID)
	}
	return err
}

// stop ends sink id's goroutine (if running) and waits for it. An open
// transaction is left to the next producer of the sink to fence.
func (ss *sinks) stop(id uint32) {
	ss.mu.Lock()
	r := ss.running[id]
	delete(ss.running, id)
	ss.mu.Unlock()
	if r != nil {
		r.cancel()
		<-r.done
	}
}

func (ss *sinks) close() {
	for _, id := range runningIDs(&ss.mu, ss.running) {
		ss.stop(id)
	}
}

// status returns sink id's state and its number of committed transactions.
func (ss *sinks) status(id uint32) (string, int64) {
	ss.mu.Lock()
	r := ss.running[id]
	ss.mu.Unlock()
	if r == nil {
		return "stopped", 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status, int64(r.seq)
}

func (r *runningSink) setStatus(status string, seq uint64) {
	r.mu.Lock()
	r.status, r.seq = status, seq
	r.mu.Unlock()
}

// run makes attempts until ctx ends. Every attempt starts from what is
// durable: it settles a pending transaction, then writes the difference
// between the view and the emitted rows, then follows the view's changes.
// So any failure (brokers, a fenced producer, a subscription that fell
// behind) is handled the same way: the attempt ends and a new one starts.
func (r *runningSink) run(ctx context.Context, started chan<- error) {
	defer close(r.done)
	backoff := sinkMinBackoff
	for {
		began := time.Now()
		err := r.attempt(ctx, started)
		started = nil
		if ctx.Err() != nil {
			return
		}
		r.e.log.Warn("engine: sink attempt failed", "sink", r.desc.Name, "err", err)
		r.mu.Lock()
		r.status = "retrying: " + err.Error()
		r.mu.Unlock()
		if time.Since(began) > sinkMaxBackoff {
			backoff = sinkMinBackoff
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, sinkMaxBackoff)
	}
}

// attempt runs the sink once; started (if not nil) gets the outcome of
// reaching its destination.
func (r *runningSink) attempt(ctx context.Context, started chan<- error) (err error) {
	e := r.e
	defer func() {
		if started != nil {
			started <- err
		}
	}()
	sp, err := e.sinkSpec(r.desc, nil)
	if err != nil {
		return err
	}
	st, err := loadSinkState(e.db, r.desc.ID, sp.target.types)
	if err != nil {
		return err
	}
	out, err := r.open(ctx, sp)
	if err != nil {
		return err
	}
	defer out.close()
	if started != nil {
		started <- nil
		started = nil
	}
	if st.pending != nil {
		if err := out.recover(ctx, st); err != nil {
			return err
		}
	}
	r.setStatus("running", st.seq)
	run, err := e.startSubscribe(ctx, sp.target, true)
	if err != nil {
		return err
	}
	defer run.close()
	emitted, err := st.emitted()
	if err != nil {
		return err
	}
	// The first event is the view's rows: what the destination lacks of
	// them (or holds beyond them) is their difference with the emitted
	// rows.
	first, ok := r.next(ctx, run.sub, true)
	if !ok {
		return r.ended(ctx, run.sub)
	}
	batch := []*coldata.Chunk{emitted, first.rows}
	for {
		ev, ok := r.next(ctx, run.sub, len(batch) == 0)
		if ok {
			batch = append(batch, ev.rows)
			continue
		}
		if len(batch) == 0 || ctx.Err() != nil {
			return r.ended(ctx, run.sub)
		}
		for _, changes := range transactions(consolidated(sp.target, batch), sp.key, e.sinkTxnRows) {
			if err := out.emit(ctx, st, changes); err != nil {
				return err
			}
		}
		r.setStatus("running", st.seq)
		batch = batch[:0]
	}
}

// transactions cuts consolidated changes into the changes of transactions
// of about maxRows rows (none when there are no changes), keeping the rows
// of a key together: a key's old and new row go in one transaction, so a
// consumer never sees the key's row deleted in between.
func transactions(changes *coldata.Chunk, key []int, maxRows int) []*coldata.Chunk {
	switch {
	case changes.Len == 0:
		return nil
	case changes.Len <= maxRows:
		return []*coldata.Chunk{changes}
	}
	// groups are the rows of each key, keys in the order of their first row
	// (each row alone without a key).
	var groups [][]int
	index := map[string]int{}
	var k []byte
	for i := 0; i < changes.Len; i++ {
		if len(key) == 0 {
			groups = append(groups, []int{i})
			continue
		}
		k = dataflow.RowKey(k[:0], changes, key, i)
		g, ok := index[string(k)]
		if !ok {
			g = len(groups)
			index[string(k)] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	var out []*coldata.Chunk
	var sel []int
	for _, g := range groups {
		sel = append(sel, g...)
		if len(sel) >= maxRows {
			out = append(out, changes.Gather(sel))
			sel = sel[:0]
		}
	}
	if len(sel) > 0 {
		out = append(out, changes.Gather(sel))
	}
	return out
}

// ended says why an attempt's subscription gave no more events.
func (r *runningSink) ended(ctx context.Context, sub *subscription) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return fmt.Errorf("subscription ended: %w", sub.err)
}

// next returns the subscription's next event, waiting for one only when
// wait; ok is false when there is none (or the subscription ended).
func (r *runningSink) next(ctx context.Context, sub *subscription, wait bool) (subscriptionEvent, bool) {
	if !wait {
		select {
		case ev, ok := <-sub.events:
			return ev, ok
		default:
			return subscriptionEvent{}, false
		}
	}
	select {
	case ev, ok := <-sub.events:
		return ev, ok
	case <-ctx.Done():
		return subscriptionEvent{}, false
	}
}

// consolidated adds up chunks of changes into one consolidated chunk.
func consolidated(target *subscribeTarget, chunks []*coldata.Chunk) *coldata.Chunk {
	n := 0
	for _, c := range chunks {
		n += c.Len
	}
	all := dataflow.NewChanges(target.types, n)
	for _, c := range chunks {
		all.AppendChunk(c)
	}
	return dataflow.Consolidate(all)
}

// sinkHook calls the WithSinkHook hook, if any.
func (e *Engine) sinkHook(ctx context.Context, sink string, step SinkStep) error {
	if e.sinkStepHook == nil {
		return nil
	}
	return e.sinkStepHook(ctx, sink, step)
}
