package dataflow

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/internal/sched"
	"github.com/sluice-db/sluice/types"
)

// Option configures a Dataflow.
type Option func(*config)

type config struct {
	workers   int
	chunkSize int
	budget    *Budget
	gate      *sched.Gate
	// inlineRows bounds the input rows of a Step its caller runs itself
	// (-1: none does; steps fed by StepFeed never are, but when forced);
	// inlineFor is how long it runs one before it hands the rest of the
	// epoch to the workers (0: never).
	inlineRows int
	inlineFor  time.Duration
	// forceInline has the caller run every step, StepFeed's too, to the
	// end (tests).
	forceInline bool
}

// Workers sets how many workers (goroutines) run the graph; at least 1.
func Workers(n int) Option { return func(c *config) { c.workers = max(n, 1) } }

// IngestGate has the workers take turns at gate while queries are served,
// a message (one chunk, or a barrier) at a time, so that they leave a P
// to the queries (nil: they run freely).
func IngestGate(g *sched.Gate) Option { return func(c *config) { c.gate = g } }

// InlineSteps has the caller of Step run an epoch whose inputs hold at most
// rows rows itself, the workers' goroutines left parked, for up to d, then
// hand what is left of the epoch to the workers (d 0: never). A 1-row epoch
// on the workers is several goroutine wake-ups in a row (the feed, each
// exchange, the output's barrier), and on a busy machine each waits for a
// P. rows < 0: every step runs on the workers.
func InlineSteps(rows int, d time.Duration) Option {
	return func(c *config) { c.inlineRows, c.inlineFor, c.forceInline = rows, d, false }
}

// InlineAlways has the caller run every epoch itself, StepFeed's too,
// whatever its size (tests: the workers' goroutines then never run one).
func InlineAlways() Option {
	return func(c *config) { c.inlineRows, c.inlineFor, c.forceInline = -1, 0, true }
}

// DefaultInlineRows and DefaultInlineFor are InlineSteps' default: a chunk
// of rows, and 1 ms before a long epoch (a watermark closing many windows)
// goes to the workers. BenchmarkStepInline: see docs/dataflow.md "Workers".
const (
	DefaultInlineRows = coldata.DefaultChunkSize
	DefaultInlineFor  = time.Millisecond
)

// ChunkSize sets how many source rows are pushed at a time.
func ChunkSize(n int) Option { return func(c *config) { c.chunkSize = max(n, 1) } }

// Dataflow is a Graph instantiated on its workers.
type Dataflow struct {
	g       *Graph
	cfg     config
	workers []*worker
	// edges[n] lists the consumers of node n's output.
	edges [][]edge
	// expect[n][port] is how many barriers node n awaits on that port.
	expect [][]int
	done   chan workerResult
	failed error
	// exchange recycles the chunks split sends between workers, so that
	// the exchange does not allocate (and fault in) new memory per chunk.
	exchange sync.Pool
	// consolidated: the output node's epoch output needs no consolidation.
	consolidated bool
	// sourceWatermarks holds each Source node's last watermark: a source
	// that Step is not given a watermark for keeps it.
	sourceWatermarks map[int]int64
	// snapshotted: a full Snapshot was taken, so SnapshotDelta has a base
	// its changes follow.
	snapshotted bool
	// restoring, when not nil, is closed once the restore RestoreBehind
	// started is over (failed then holds its error).
	restoring chan struct{}
}

type edge struct {
	to, port int
	part     []int // nil: local
}

type msg struct {
	node, port int
	chunk      *coldata.Chunk
	barrier    bool
	// watermark is the sender's output watermark, on barriers.
	watermark int64
	// exchanged: chunk came from split's pool and goes back to it once
	// pushed (operators do not keep the chunks they are given).
	exchanged bool
	// kept: chunk is a Step input, which nothing changes once given, so
	// that an output sharing its columns need not be copied (see route).
	kept bool
}

type workerResult struct {
	out       []*coldata.Chunk
	watermark int64
	err       error
}

// New instantiates g on the configured workers. Each worker's operators
// evaluate under a copy of eval with a Scratch of the worker's own (one
// goroutine at a time runs a worker's operators). Close stops the workers.
func New(g *Graph, eval *expr.EvalCtx, opts ...Option) (*Dataflow, error) {
	cfg := config{workers: 1, chunkSize: coldata.DefaultChunkSize, inlineRows: DefaultInlineRows, inlineFor: DefaultInlineFor}
	for _, o := range opts {
		o(&cfg)
	}
	d := &Dataflow{g: g, cfg: cfg, done: make(chan workerResult, cfg.workers), consolidated: consolidatedOutput(g, g.Output),
		sourceWatermarks: map[int]int64{}}
	d.edges = make([][]edge, len(g.Nodes))
	d.expect = make([][]int, len(g.Nodes))
	for _, n := range g.Nodes {
		d.expect[n.ID] = make([]int, len(n.Inputs))
		for port, in := range n.Inputs {
			part := n.Spec.Partition(port)
			if cfg.workers == 1 {
				// One worker owns every key: rows need no exchange.
				part = nil
			}
			d.edges[in] = append(d.edges[in], edge{to: n.ID, port: port, part: part})
			d.expect[n.ID][port] = 1
			if part != nil {
				d.expect[n.ID][port] = cfg.workers
			}
		}
	}
	for w := 0; w < cfg.workers; w++ {
		wk := &worker{d: d, id: w, ops: make([]Operator, len(g.Nodes)), seen: make([][]int, len(g.Nodes)), watermarks: make([][]int64, len(g.Nodes)),
			gate: cfg.gate.Publisher()}
		newQueue(&wk.inbox)
		workerEval := *eval
		workerEval.Scratch = &expr.Scratch{}
		env := &Env{Worker: w, Workers: cfg.workers, Eval: &workerEval, Budget: cfg.budget}
		for _, n := range g.Nodes {
			op, err := n.Spec.New(env)
			if err != nil {
				return nil, err
			}
			if f, ok := op.(*filterOp); ok {
				f.read = d.readColumns(n.ID)
			}
			wk.ops[n.ID] = op
			wk.seen[n.ID] = make([]int, len(n.Inputs))
			wk.watermarks[n.ID] = make([]int64, len(n.Inputs))
			resetWatermarks(wk.watermarks[n.ID])
		}
		d.workers = append(d.workers, wk)
	}
	for _, wk := range d.workers {
		go wk.run()
	}
	return d, nil
}

// readColumns returns which output columns of node id its consumers read,
// or nil when that is all of them or not known. Only projections, local
// ones, are known to read less: they read through column references
// alone. A filter ahead of a projection that drops wide columns (a view's
// WHERE over a stream) then does not gather them.
func (d *Dataflow) readColumns(id int) []bool {
	if id == d.g.Output {
		return nil
	}
	read := make([]bool, len(d.g.Nodes[id].Spec.Types()))
	for _, e := range d.edges[id] {
		p, ok := d.g.Nodes[e.to].Spec.(*Project)
		if !ok || e.part != nil {
			return nil
		}
		for _, x := range p.Exprs {
			expr.Walk(x, func(x expr.Expr) bool {
				if c, ok := x.(*expr.ColRef); ok {
					read[c.Idx] = true
				}
				return true
			})
		}
	}
	return read
}

// Graph returns the graph the dataflow runs.
func (d *Dataflow) Graph() *Graph { return d.g }

// Step runs one epoch: inputs maps a Source node id to its changes and
// watermarks to its watermark for the epoch (a source missing from it keeps
// its last one, NoWatermark at first; a Reference source's is ignored). It
// returns the consolidated changes of the output node and the output's
// watermark (Unconstrained when only reference data feeds it). The changes
// come in the chunks the workers emitted when the epoch retracts nothing
// (equal inserted rows may then stay apart), else in one consolidated chunk;
// there are none when nothing changed. After an error the dataflow's state
// is undefined and every later Step returns that error. An epoch of few
// rows runs on the calling goroutine (InlineSteps).
//
// The inputs must not change once given: the output may share their
// columns.
func (d *Dataflow) Step(inputs map[int][]*coldata.Chunk, watermarks map[int]int64) ([]*coldata.Chunk, int64, error) {
	rows := 0
	for _, src := range d.g.Sources() {
		for _, c := range inputs[src] {
			rows += c.Len
		}
	}
	return d.stepFeed(func(put func(src int, c *coldata.Chunk)) error {
		d.g.PutInputs(inputs, put)
		return nil
	}, watermarks, true, d.cfg.forceInline || rows <= d.cfg.inlineRows)
}

// StepFeed is Step with the epoch's changes given by feed, which calls put
// with each chunk of changes of a Source node, as it reads them: the
// workers take the chunks as they come, so an epoch may be far larger than
// memory (a view's first epoch over a stream's whole history). An error
// from feed fails the dataflow.
func (d *Dataflow) StepFeed(feed func(put func(src int, c *coldata.Chunk)) error, watermarks map[int]int64) ([]*coldata.Chunk, int64, error) {
	return d.stepFeed(feed, watermarks, false, d.cfg.forceInline)
}

// stepFeed is StepFeed, with its output sharing the columns of the chunks
// fed if keep, run by the caller if inline.
func (d *Dataflow) stepFeed(feed func(put func(src int, c *coldata.Chunk)) error, watermarks map[int]int64, keep, inline bool) ([]*coldata.Chunk, int64, error) {
	d.awaitRestore()
	if d.failed != nil {
		return nil, 0, d.failed
	}
	var ep epoch
	var feedErr error
	if inline {
		ep, feedErr = d.runInline(feed, watermarks, keep)
	} else {
		ep, feedErr = d.runWorkers(feed, watermarks, keep)
	}
	if ep.err == nil {
		ep.err = feedErr
	}
	if ep.err != nil {
		d.failed = ep.err
		return nil, 0, ep.err
	}
	if d.consolidated || insertsOnly(ep.outs) {
		// Not concatenated: the chunks are the workers' own copies (or
		// Step's inputs' columns), and copying them all into one would
		// cost about as much again.
		return ep.outs, ep.watermark, nil
	}
	return []*coldata.Chunk{Consolidate(Concat(d.g.Nodes[d.g.Output].Spec.Types(), ep.outs))}, ep.watermark, nil
}

// epoch gathers the workers' results of one epoch.
type epoch struct {
	outs      []*coldata.Chunk
	watermark int64
	err       error
	// finished counts the workers whose output took the epoch's barriers.
	finished int
}

func newEpoch() epoch { return epoch{watermark: Unconstrained} }

func (ep *epoch) add(r workerResult) {
	if r.err != nil && ep.err == nil {
		ep.err = r.err
	}
	ep.watermark = min(ep.watermark, r.watermark)
	ep.outs = append(ep.outs, r.out...)
	ep.finished++
}

// runWorkers runs an epoch on the workers' goroutines: it feeds them and
// waits for each one's output.
func (d *Dataflow) runWorkers(feed func(put func(src int, c *coldata.Chunk)) error, watermarks map[int]int64, keep bool) (epoch, error) {
	next := 0
	feedErr := feed(func(src int, c *coldata.Chunk) {
		for lo := 0; lo < c.Len; lo += d.cfg.chunkSize {
			hi := min(lo+d.cfg.chunkSize, c.Len)
			d.workers[next].inbox.putBounded(msg{node: src, chunk: c.Slice(lo, hi), kept: keep})
			next = (next + 1) % len(d.workers)
		}
	})
	// The barriers go out even after a failed feed, so that the workers
	// finish the epoch.
	d.putBarriers(watermarks)
	ep := newEpoch()
	d.awaitWorkers(&ep)
	return ep, feedErr
}

// runInline runs an epoch on the calling goroutine: it takes the workers'
// inboxes from their goroutines (lend), which stay parked, and handles
// each worker's messages in turn, as that worker, until the epoch's
// barriers reach the output on every one. A worker's goroutine touches its
// operators only between taking a message and sending its epoch's result,
// so between epochs the caller may run them. Past inlineFor (unless
// forced) it hands the inboxes back, and the workers' goroutines finish
// the epoch.
func (d *Dataflow) runInline(feed func(put func(src int, c *coldata.Chunk)) error, watermarks map[int]int64, keep bool) (epoch, error) {
	for _, wk := range d.workers {
		wk.inbox.lend()
	}
	// One allocation for the state put shares with the rest of the
	// epoch (captured one by one, they each moved to the heap).
	f := &inlineFeed{d: d, keep: keep, ep: newEpoch()}
	if d.cfg.inlineFor > 0 && !d.cfg.forceInline {
		f.deadline = time.Now().Add(d.cfg.inlineFor)
	}
	feedErr := feed(f.put)
	d.putBarriers(watermarks)
	if !f.handed {
		f.handed = d.drainInline(&f.ep, f.deadline)
	}
	if f.handed {
		d.awaitWorkers(&f.ep)
		return f.ep, feedErr
	}
	for _, wk := range d.workers {
		wk.inbox.giveBack()
	}
	if f.ep.finished != len(d.workers) {
		f.ep.err = fmt.Errorf("[BUG] dataflow: inline epoch ended with %d of %d workers' outputs done", f.ep.finished, len(d.workers))
	}
	return f.ep, feedErr
}

// inlineFeed is runInline's epoch: handed once the workers' goroutines
// have it, next the worker the next source chunk goes to.
type inlineFeed struct {
	d        *Dataflow
	keep     bool
	deadline time.Time
	ep       epoch
	handed   bool
	next     int
}

// put gives the workers src's chunk c, a chunkSize at a time, and runs
// what it leads to before the next (so that a forced StepFeed holds a
// chunk at a time, as the workers' bounded inboxes would), unless the
// workers' goroutines have the epoch.
func (f *inlineFeed) put(src int, c *coldata.Chunk) {
	d := f.d
	for lo := 0; lo < c.Len; lo += d.cfg.chunkSize {
		hi := min(lo+d.cfg.chunkSize, c.Len)
		m := msg{node: src, chunk: c.Slice(lo, hi), kept: f.keep}
		wk := d.workers[f.next]
		f.next = (f.next + 1) % len(d.workers)
		if f.handed {
			wk.inbox.putBounded(m)
			continue
		}
		wk.inbox.put(m)
		f.handed = d.drainInline(&f.ep, f.deadline)
	}
}

// drainInline handles the messages in the lent inboxes, worker by worker,
// until none is left, adding the results of the workers whose output the
// epoch's barriers reach to ep. Past deadline (when not zero) it hands the
// inboxes back to the workers' goroutines and reports true.
func (d *Dataflow) drainInline(ep *epoch, deadline time.Time) bool {
	for {
		handled := false
		for _, wk := range d.workers {
			for {
				m, ok := wk.inbox.take()
				if !ok {
					break
				}
				handled = true
				wk.handle(m)
				if wk.finished {
					ep.add(wk.result())
				}
				if !deadline.IsZero() && time.Now().After(deadline) {
					for _, wk := range d.workers {
						wk.inbox.giveBack()
					}
					return true
				}
			}
		}
		if !handled {
			return false
		}
	}
}

// awaitWorkers adds to ep the results of the workers whose output has not
// taken the epoch's barriers yet, as their goroutines send them.
func (d *Dataflow) awaitWorkers(ep *epoch) {
	for ep.finished < len(d.workers) {
		ep.add(<-d.done)
	}
}

// putBarriers starts the epoch's barriers at the input nodes, on every
// worker.
func (d *Dataflow) putBarriers(watermarks map[int]int64) {
	for _, n := range d.g.Nodes {
		if len(n.Inputs) > 0 {
			continue
		}
		wm := d.sourceWatermark(n, watermarks)
		for _, wk := range d.workers {
			wk.inbox.put(msg{node: n.ID, barrier: true, watermark: wm})
		}
	}
}

// Concat returns the rows and diffs of chunks, of types typs, in one chunk.
func Concat(typs []*types.T, chunks []*coldata.Chunk) *coldata.Chunk {
	if len(chunks) == 1 {
		return chunks[0]
	}
	rows := 0
	for _, c := range chunks {
		rows += c.Len
	}
	out := NewChanges(typs, rows)
	for _, c := range chunks {
		out.AppendChunk(c)
	}
	return out
}

// insertsOnly reports whether cs retract nothing: then there is nothing to
// cancel, and equal rows may stay apart (their diffs add up wherever they
// are applied), so consolidating (a hash of every row) would be wasted.
func insertsOnly(cs []*coldata.Chunk) bool {
	for _, c := range cs {
		for _, d := range c.Diffs[:c.Len] {
			if d < 0 {
				return false
			}
		}
	}
	return true
}

// sourceWatermark is the watermark input node n starts the epoch's barrier
// with: reference data and constants never hold the minimum back.
func (d *Dataflow) sourceWatermark(n *Node, watermarks map[int]int64) int64 {
	src, ok := n.Spec.(*Source)
	if !ok || src.Reference {
		return Unconstrained
	}
	wm, ok := watermarks[n.ID]
	if !ok {
		if wm, ok = d.sourceWatermarks[n.ID]; !ok {
			wm = NoWatermark
		}
	}
	d.sourceWatermarks[n.ID] = wm
	return wm
}

// Close stops the workers and lets go of the operators' spilled state.
func (d *Dataflow) Close() {
	d.awaitRestore()
	for _, wk := range d.workers {
		wk.inbox.close()
		for _, op := range wk.ops {
			if s, ok := op.(spiller); ok {
				s.dropSpill()
			}
		}
	}
}

type worker struct {
	d    *Dataflow
	id   int
	ops  []Operator
	seen [][]int // barriers received per node and port this epoch
	// watermarks holds, per node and port, the minimum watermark of the
	// barriers received this epoch (Unconstrained before the first).
	watermarks [][]int64
	inbox      queue
	// finished: the epoch's barriers reached the output node, whose
	// watermark is outWatermark; result takes them.
	finished     bool
	outWatermark int64
	// gate is the worker's turn at the ingest gate: held while it works
	// through its inbox, never while it waits on it.
	gate *sched.Worker
	out  []*coldata.Chunk
	// fed is the kept input chunk being pushed, nil while none is.
	fed *coldata.Chunk
	err error
	// Scratch of split: each row's hash, the rows bound for each worker, a
	// row's key.
	hashes []uint64
	sels   [][]int
	key    []byte
}

func (w *worker) run() {
	for {
		m, ok := w.inbox.tryGet()
		if ok {
			w.gate.Yield()
		} else {
			w.gate.Leave()
			if m, ok = w.inbox.get(); !ok {
				return
			}
			w.gate.Enter()
		}
		w.handle(m)
		if w.finished {
			// NB: the last touch of the worker's state in the epoch: the
			// receiver may run its operators from here on (runInline).
			w.d.done <- w.result()
		}
	}
}

// result takes the worker's output of the epoch that finished.
func (w *worker) result() workerResult {
	r := workerResult{out: w.out, watermark: w.outWatermark, err: w.err}
	w.out, w.finished = nil, false
	return r
}

// handle pushes one message's chunk, or takes its barrier.
func (w *worker) handle(m msg) {
	if m.barrier {
		w.barrier(m.node, m.port, m.watermark)
		return
	}
	if m.kept {
		w.fed = m.chunk
	}
	if w.err == nil {
		if err := w.push(m.node, m.port, m.chunk); err != nil {
			w.err = err
		}
	}
	w.fed = nil
	if m.exchanged {
		w.d.exchange.Put(m.chunk)
	}
}

// push hands c to node's operator and routes what it emits.
func (w *worker) push(node, port int, c *coldata.Chunk) error {
	if c.Len == 0 {
		return nil
	}
	return w.ops[node].Push(port, c, w.emitter(node))
}

func (w *worker) emitter(node int) Emit {
	return func(c *coldata.Chunk) error { return w.route(node, c) }
}

// route delivers node's output c to its consumers: locally at once, or
// through the exchange to the workers owning each row's key.
func (w *worker) route(node int, c *coldata.Chunk) error {
	if c.Len == 0 {
		return nil
	}
	if node == w.d.g.Output {
		w.out = append(w.out, w.keep(c))
	}
	for _, e := range w.d.edges[node] {
		if e.part == nil {
			if err := w.push(e.to, e.port, c); err != nil {
				return err
			}
			continue
		}
		for target, part := range w.split(c, e.part) {
			if part != nil {
				w.d.workers[target].inbox.put(msg{node: e.to, port: e.port, chunk: part, exchanged: true})
			}
		}
	}
	return nil
}

// keep returns c made to outlive the epoch: its columns and diffs that are
// the kept input's being pushed shared, as those never change, the others
// copied (an operator may reuse them for its next chunk). A projection of
// a stream's columns comes out without a copy; one that computes a column
// too (q1's 0.908 * price) copies that column only: copying the whole
// chunk, the stream's text among it, was 4.6 % of q1's CPU. Only Step's
// inputs are kept: a view's first epoch over a stream's history (StepFeed)
// would hold the history's columns, rather than copies of the rows the
// view takes, until it ends.
func (w *worker) keep(c *coldata.Chunk) *coldata.Chunk {
	fed := w.fed
	if fed == nil || c.Len != fed.Len {
		return c.Clone()
	}
	fedDiffs := len(c.Diffs) > 0 && len(c.Diffs) == len(fed.Diffs) && &c.Diffs[0] == &fed.Diffs[0]
	isFed := func(v *coldata.Vec) bool { return slices.Contains(fed.Cols, v) }
	if fedDiffs && !slices.ContainsFunc(c.Cols, func(v *coldata.Vec) bool { return !isFed(v) }) {
		return c
	}
	out := &coldata.Chunk{Cols: slices.Clone(c.Cols), Len: c.Len, Diffs: c.Diffs}
	for j, v := range out.Cols {
		if !isFed(v) {
			out.Cols[j] = coldata.NewVec(v.Typ, c.Len)
			out.Cols[j].AppendVec(v, c.Len)
		}
	}
	if !fedDiffs {
		out.Diffs = slices.Clone(c.Diffs)
	}
	return out
}

// barrier records one barrier, carrying its sender's watermark, for node's
// port; once all inputs are complete the node learns its inputs'
// watermarks, flushes, and passes the barrier on with the minimum of them.
// An input node's barrier carries its own watermark.
func (w *worker) barrier(node, port int, watermark int64) {
	n := w.d.g.Nodes[node]
	if len(n.Inputs) > 0 {
		w.seen[node][port]++
		ws := w.watermarks[node]
		ws[port] = min(ws[port], watermark)
		for p, want := range w.d.expect[node] {
			if w.seen[node][p] < want {
				return
			}
		}
		clear(w.seen[node])
		watermark = minWatermark(ws)
		if o, ok := w.ops[node].(watermarkObserver); ok && w.err == nil {
			watermark = o.Advance(ws)
		}
		resetWatermarks(ws)
	}
	if w.err == nil {
		if err := w.ops[node].Flush(w.emitter(node)); err != nil {
			w.err = err
		}
	}
	for _, e := range w.d.edges[node] {
		if e.part == nil {
			w.barrier(e.to, e.port, watermark)
			continue
		}
		for _, t := range w.d.workers {
			t.inbox.put(msg{node: e.to, port: e.port, barrier: true, watermark: watermark})
		}
	}
	if node == w.d.g.Output {
		w.finished, w.outWatermark = true, watermark
	}
}

func resetWatermarks(ws []int64) {
	for i := range ws {
		ws[i] = Unconstrained
	}
}

// split partitions c by the hash of columns cols; with no columns every row
// goes to worker 0. A nil entry means no rows for that worker.
func (w *worker) split(c *coldata.Chunk, cols []int) []*coldata.Chunk {
	workers := len(w.d.workers)
	parts := make([]*coldata.Chunk, workers)
	if len(cols) == 0 {
		parts[0] = w.d.exchangeChunk(c, nil)
		return parts
	}
	if cap(w.hashes) < c.Len {
		w.hashes = make([]uint64, c.Len)
	}
	hashes := w.hashes[:c.Len]
	if v := c.Cols[cols[0]]; len(cols) == 1 && v.Typ.Phys() == types.PhysInt {
		// A lone integer key is hashed as it is, without encoding it. NULLs
		// hash as zero.
		for i, x := range v.Ints[:c.Len] {
			hashes[i] = mix64(uint64(x))
			if v.IsNull(i) {
				hashes[i] = 0
			}
		}
	} else {
		for i := range hashes {
			w.key = RowKey(w.key[:0], c, cols, i)
			hashes[i] = xxhash.Sum64(w.key)
		}
	}
	if len(w.sels) < workers {
		w.sels = make([][]int, workers)
	}
	sels := w.sels[:workers]
	for t := range sels {
		sels[t] = sels[t][:0]
	}
	for i, h := range hashes {
		t := h % uint64(workers)
		sels[t] = append(sels[t], i)
	}
	for t, sel := range sels {
		if len(sel) > 0 {
			parts[t] = w.d.exchangeChunk(c, sel)
		}
	}
	return parts
}

// exchangeChunk returns rows sel of c (all rows when sel is nil) in a
// chunk from the exchange pool.
func (d *Dataflow) exchangeChunk(c *coldata.Chunk, sel []int) *coldata.Chunk {
	out, _ := d.exchange.Get().(*coldata.Chunk)
	if out == nil {
		out = &coldata.Chunk{}
	}
	if sel == nil {
		sel = make([]int, c.Len)
		for i := range sel {
			sel[i] = i
		}
	}
	c.GatherInto(out, sel)
	return out
}

// mix64 is the finaliser of MurmurHash3: it spreads every input bit over
// the whole word, so that consecutive keys land on different workers.
func mix64(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// queue is a worker's FIFO inbox. Workers put to each other without bound,
// so that two workers sending to each other never deadlock; Step feeds the
// sources with putBounded, which waits while the inbox holds sourceBacklog
// messages, so a large epoch flows through instead of piling up in memory.
// While lent (runInline) the worker's goroutine takes nothing from it and
// is not woken: the caller of Step takes the messages.
type queue struct {
	mu     sync.Mutex
	cond   *sync.Cond // items arrived or closed
	space  *sync.Cond // items taken
	items  []msg
	closed bool
	lent   bool
}

// sourceBacklog is how many source chunks an inbox holds before Step waits.
const sourceBacklog = 64

func newQueue(q *queue) {
	q.cond = sync.NewCond(&q.mu)
	q.space = sync.NewCond(&q.mu)
}

func (q *queue) put(m msg) {
	q.mu.Lock()
	q.items = append(q.items, m)
	lent := q.lent
	q.mu.Unlock()
	if !lent {
		q.cond.Signal()
	}
}

// putBounded puts m once the inbox holds fewer than sourceBacklog messages.
// Only Step calls it: workers never wait on it, so the inbox drains.
func (q *queue) putBounded(m msg) {
	q.mu.Lock()
	for len(q.items) >= sourceBacklog && !q.closed {
		q.space.Wait()
	}
	q.items = append(q.items, m)
	q.mu.Unlock()
	q.cond.Signal()
}

// get waits for a message for the worker's goroutine: false once closed.
func (q *queue) get() (msg, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for (len(q.items) == 0 || q.lent) && !q.closed {
		q.cond.Wait()
	}
	return q.pop()
}

// tryGet is get without waiting: false when the inbox is empty or lent.
func (q *queue) tryGet() (msg, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.lent {
		return msg{}, false
	}
	return q.pop()
}

// lend keeps the worker's goroutine from the inbox, for take.
func (q *queue) lend() {
	q.mu.Lock()
	q.lent = true
	q.mu.Unlock()
}

// take is tryGet for the caller the inbox is lent to.
func (q *queue) take() (msg, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.pop()
}

// giveBack returns a lent inbox to the worker's goroutine, waking it for
// the messages left.
func (q *queue) giveBack() {
	q.mu.Lock()
	q.lent = false
	wake := len(q.items) > 0
	q.mu.Unlock()
	if wake {
		q.cond.Signal()
	}
}

// pop takes the first message, with q.mu held: false when there is none.
func (q *queue) pop() (msg, bool) {
	if len(q.items) == 0 {
		return msg{}, false
	}
	m := q.items[0]
	q.items[0] = msg{}
	q.items = q.items[1:]
	q.space.Signal()
	return m, true
}

func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.cond.Broadcast()
	q.space.Broadcast()
}
