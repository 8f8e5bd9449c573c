package engine

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/dataflow"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/internal/sched"
	"github.com/sluice-db/sluice/pgwire"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/storage"
	"github.com/sluice-db/sluice/types"
)

// dataflows runs the materialized views and publishes their results in
// epochs. Committed changes to the relations views read arrive from storage
// (in commit order, under its commit lock) into a queue; one loop goroutine
// takes the queue and, for the first run of its commits up to maxEpochRows
// (small commits to views sharing nothing with a bigger one queued before
// them first: overtaking; a bigger commit to one stream in pieces of
// maxEpochRows: divideHead), steps every view's dataflow in creation order
// (a view's output of the epoch feeds the views that read it in the same
// epoch), applies the outputs to the views' arrangements, and only then
// publishes the new epoch with a snapshot of every view at it (taken anew
// only for the views the epoch changed or compacted), so a statement sees
// every view at one epoch, never half of one, and takes no snapshot of its
// own; then it takes the queue again, behind what it took and has not
// stepped. While the loop steps an epoch of more than smallCommitRows
// rows, an express goroutine steps the small commits queued meanwhile to
// views sharing nothing with that epoch nor with a commit before them
// (expressSteps), and publishes them at once; the loop joins it before
// anything else, so commands and checkpoints see the loop alone.
type dataflows struct {
	db        *storage.DB
	log       *slog.Logger
	workers   int
	chunkSize int
	tick      time.Duration
	gate      *sched.Gate
	// regexes caches the patterns the views' expressions compile.
	regexes *expr.RegexCache
	timings *ingestTimings

	mu    sync.Mutex // guards queue, queuedRows, drained and wanted
	queue []feedItem
	// queuedRows counts the changed rows in queue; drained is closed (and
	// replaced) whenever the loop takes the queue.
	queuedRows int
	drained    chan struct{}
	wanted     map[uint32]int // relation id -> number of running views reading it
	wake       chan struct{}
	stop       chan struct{}
	stopOnce   sync.Once
	exited     chan struct{}

	pubMu   sync.RWMutex
	epoch   uint64                  // last published epoch
	running map[uint32]*runningView // written by the loop under pubMu
	// published is epoch and the running views as statements read them,
	// replaced by the loop (under pubMu) whenever either changes, so that
	// a statement reads views taking no lock: with pubMu's, a reader
	// stalled inside it (allocating, assisting the collector, descheduled)
	// made the loop's next Lock wait, and every statement after it.
	published atomic.Pointer[publishedViews]

	order []*runningView // loop-owned: creation order
	subs  map[uint32][]*subscription
	// watermarks is loop-owned: the last watermark of each relation views
	// read, from its storage changes (streams, tables) or its dataflow's
	// output (views). A relation without changes in an epoch keeps its own.
	watermarks map[uint32]int64

	// ckpt writes the views' checkpoints (nil: none are taken or used).
	ckpt *checkpointer
	// budget bounds the views' spilling state (nil: no memory limit).
	budget *dataflow.Budget
	// positions and tableHashes are loop-owned, for checkpoints: of each
	// stream a checkpointed view reads, the length of its history the
	// views have taken in; of each table, the hash of its content they
	// have (tableHash).
	positions   map[uint32]int
	tableHashes map[uint32]uint64
	hashBuf     []byte
	// components is loop-owned: viewComponents of order, nil when order
	// changed since; compScratch is commitComponents' result.
	components  map[uint32]uint32
	compScratch []uint32
	// taken is loop-owned: the items the loop took from the queue and has
	// not run or stepped yet, in order, ahead of the queue.
	taken []feedItem

	// express: small commits are stepped while the loop steps a big
	// epoch (expressSteps); off, the loop steps every epoch.
	express bool
	// stepMu is held, while an express goroutine runs, by the loop
	// through its big epoch but for its views' dataflow steps, and by the
	// express goroutine through each of its steps: the loop-owned state
	// both touch (watermarks, positions, tableHashes, hashBuf, components,
	// compScratch, subs, the failed views) and publish are one's at a time.
	stepMu sync.Mutex
	// viewStepHook, when set (tests), is called before a view's dataflow
	// steps an epoch, on the goroutine stepping it (the loop beside an
	// express goroutine without stepMu).
	viewStepHook func(v *runningView)
}

// narrow cuts chunks to the columns source node n was planned with.
func (v *runningView) narrow(n int, chunks []*coldata.Chunk) []*coldata.Chunk {
	w := v.widths[n]
	wide := false
	for _, c := range chunks {
		wide = wide || len(c.Cols) > w
	}
	if !wide {
		return chunks
	}
	out := make([]*coldata.Chunk, len(chunks))
	for i, c := range chunks {
		if len(c.Cols) > w {
			nc := *c
			nc.Cols = c.Cols[:w:w]
			c = &nc
		}
		out[i] = c
	}
	return out
}

// feed puts c, a relation's rows, as insertions to source nodes of v.
func (v *runningView) feed(put func(int, *coldata.Chunk), nodes []int, c *coldata.Chunk) {
	c = withDiffs(c, 1)
	for _, n := range nodes {
		put(n, v.narrow(n, []*coldata.Chunk{c})[0])
	}
}

// runningView is one materialized view's dataflow and result.
type runningView struct {
	id      uint32
	name    string
	df      *dataflow.Dataflow
	arr     *dataflow.Arrangement
	sources map[uint32][]int // relation id -> source node ids
	// widths are the source nodes' column counts: a stream that gains a
	// column (ALTER STREAM) sends wider chunks than the view was planned for.
	widths map[int]int
	// failed is set (by the loop, under pubMu) when a step fails; the view
	// then stops and reads report the error.
	failed error
	// watermark is the dataflow's output watermark (written by the loop
	// under pubMu; dataflow.Unconstrained over reference data only).
	watermark int64
	// inWatermarks is the loop's scratch of the source nodes' watermarks
	// for a step (see sourceWatermarks).
	inWatermarks map[int]int64
	// checkpointed: the loop takes checkpoints of the view (it is a
	// catalog view over streams and tables whose operators all snapshot);
	// planHash and inputs identify them.
	checkpointed bool
	planHash     []byte
	inputs       []checkpointInput
	// replayable: the view reads streams only and keeps no operator
	// state, so a restart can rebuild it by replaying their history;
	// replaying: it keeps so many of the rows it reads that its
	// checkpoints are skipped (see replays).
	replayable, replaying bool
	// dirty: the view stepped since its last checkpoint (or has none).
	dirty bool
	// restoring: the view's operators' state is restoring behind its
	// first epoch (resumeBehind), whose left out epoch is still to step
	// (finishRestore, or the view's next step).
	restoring bool
	// fallback is, from a start restoring behind (resumeBehind) to the
	// view's first step after it, what a start without the checkpoint
	// reads (its plan, its sources' scans at the start's cut): should
	// the state fail, recompute reads them.
	fallback *startInput
	// gen is the generation of the view's last base checkpoint (0: none
	// yet, or its chain ended: the next checkpoint is a base); deltas
	// counts the deltas taken after it, deltaSize their state bytes and
	// deltaCost their output changes in base rows (changeCost); baseSize
	// and baseRows are the base's state bytes and rows. changes are the
	// view's output changes since its last checkpoint, for the next
	// delta, and changesCost their price, kept as they come so that the
	// chain rule does not go over them again.
	gen                 uint64
	deltas              int
	baseSize, deltaSize int
	baseRows, deltaCost int
	changes             []*coldata.Chunk
	changesCost         int
}

// feedItem is a queue entry: the changes of one commit, or a command.
type feedItem struct {
	changes []storage.Change
	cmd     func()
	at      time.Time // when the changes committed, for timings.publishDelay
	rows    int       // the changed rows of changes
}

func newDataflows(db *storage.DB, log *slog.Logger, workers, chunkSize int, tick time.Duration, ckpt *checkpointer, budget *dataflow.Budget, gate *sched.Gate, timings *ingestTimings, express bool) *dataflows {
	d := &dataflows{
		express: express, timings: timings, db: db, log: log, workers: max(workers, 1), chunkSize: max(chunkSize, 1), tick: tick, gate: gate, ckpt: ckpt, budget: budget, regexes: &expr.RegexCache{},
		positions: map[uint32]int{}, tableHashes: map[uint32]uint64{},
		wanted: map[uint32]int{}, drained: make(chan struct{}), wake: make(chan struct{}, 1), stop: make(chan struct{}), exited: make(chan struct{}),
		running: map[uint32]*runningView{}, subs: map[uint32][]*subscription{}, watermarks: map[uint32]int64{},
	}
	d.published.Store(&publishedViews{})
	db.SetObserver(d)
	go d.loop()
	return d
}

// Wants implements storage.ChangeObserver.
func (d *dataflows) Wants(id uint32) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.wanted[id] > 0
}

// Committed implements storage.ChangeObserver: a commit ends an epoch.
func (d *dataflows) Committed(changes []storage.Change) {
	d.enqueue(feedItem{changes: changes, at: time.Now()})
}

func (d *dataflows) enqueue(it feedItem) {
	d.mu.Lock()
	it.rows = commitRows(it.changes)
	d.queue = append(d.queue, it)
	d.queuedRows += it.rows
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// commitsQueued reports whether commits (or commands) wait for the loop,
// taken or not; the loop calls it.
func (d *dataflows) commitsQueued() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.taken) > 0 || len(d.queue) > 0
}

// waitBacklog waits until at most limit changed rows wait for the loop:
// the backpressure between sources and views.
func (d *dataflows) waitBacklog(ctx context.Context, limit int) error {
	for {
		d.mu.Lock()
		n, drained := d.queuedRows, d.drained
		d.mu.Unlock()
		if n <= limit {
			return nil
		}
		select {
		case <-drained:
		case <-d.stop:
			return sqlerr.New(sqlerr.AdminShutdown, "the server is shutting down")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (d *dataflows) close() {
	d.stopOnce.Do(func() {
		close(d.stop)
		<-d.exited
		d.db.SetObserver(nil)
		if d.ckpt != nil {
			// A clean shutdown leaves every view checkpointed where it
			// stopped, after the write in flight, if any.
			d.checkpoint(true)
			d.ckpt.close()
		}
		for _, v := range d.order {
			v.df.Close()
		}
	})
}

func (d *dataflows) loop() {
	defer close(d.exited)
	tick := time.NewTicker(d.tick)
	defer tick.Stop()
	for {
		if len(d.taken) == 0 {
			select {
			case <-d.stop:
				return
			case <-d.wake:
			case <-tick.C:
			}
		} else {
			select {
			case <-d.stop:
				return
			default:
			}
		}
		d.takeQueue()
		d.taken = d.stepNext(d.taken)
		d.checkpoint(false)
	}
}

// takeQueue moves the queue behind the items the loop took and has not
// stepped (taken).
func (d *dataflows) takeQueue() {
	d.mu.Lock()
	// taken is the loop's own (stepNext's), so the queue is added to it
	// in place; with nothing taken the queue is taken as it is.
	if len(d.taken) > 0 {
		d.taken = append(d.taken, d.queue...)
	} else {
		d.taken = d.queue
	}
	d.queue, d.queuedRows = nil, 0
	d.signalDrained()
	d.mu.Unlock()
}

// signalDrained wakes the sources waiting in waitBacklog, after commits
// left the queue; the caller holds mu.
func (d *dataflows) signalDrained() {
	close(d.drained)
	d.drained = make(chan struct{})
}

// stepNext runs the commands at the head of items, then steps the run of
// commits after them: the small ones that go ahead (overtaking) in an
// epoch of their own, then the first epoch of the others (stepEpoch), and
// returns the items left, in order. The loop takes the queue again before
// the next epoch, so a small commit made meanwhile (a marker) waits for
// the step in progress only, not for the rest of a queue taken before it:
// stepping every epoch of a take first held markers for several steps and
// a checkpoint (publish delay p99 341 ms against a step p99 of 119 ms at
// 375 k bids/s beside 200 bench serve panels).
func (d *dataflows) stepNext(items []feedItem) []feedItem {
	for len(items) > 0 && items[0].cmd != nil {
		items[0].cmd()
		items = items[1:]
	}
	run := 0
	for run < len(items) && items[run].cmd == nil {
		run++
	}
	if run == 0 {
		return nil
	}
	ahead, behind := d.overtaking(items[:run])
	d.stepEpoch(ahead, false)
	behind = d.divideHead(behind)
	// Small commits queued meanwhile go ahead of a big epoch's step in
	// progress, not past a command taken behind it.
	var join func()
	if _, rows := epochCommits(behind); d.express && run == len(items) && rows > smallCommitRows {
		join = d.startExpress(behind)
	}
	stepped := d.stepEpoch(behind, join != nil)
	if join != nil {
		join()
	}
	if run == len(items) {
		return behind[stepped:]
	}
	return slices.Concat(behind[stepped:], items[run:])
}

// divideHead returns commits with its first commit cut into a piece of
// maxEpochRows rows and the rest, when it is a commit to one stream of
// more rows: a generator's catch-up delivery (32-64 Ki rows) was one epoch,
// and a marker committed meanwhile waited for all of it (rows per epoch
// p99 65536, publish delay p99 341 ms at the probe's half beside 200 bench
// serve panels). The loop steps the piece and takes the queue again before
// the rest, so small commits to other views go ahead between the pieces.
// A piece is a prefix of the stream: the position it ends at is exact for
// a checkpoint taken after it, and it keeps the watermark from before the
// commit, which only the last piece advances (the rest's rows may be
// older). Only a source's delivery is cut (Change's Divisible): a reader
// sees a SQL statement's rows at once, and never part of a transaction
// across relations.
func (d *dataflows) divideHead(commits []feedItem) []feedItem {
	if len(commits) == 0 || commits[0].rows <= maxEpochRows || len(commits[0].changes) != 1 || !commits[0].changes[0].Divisible {
		return commits
	}
	it := commits[0]
	c := it.changes[0]
	if t, ok := d.db.Table(c.TableID); !ok || !t.Info().AppendOnly {
		return commits
	}
	wm, ok := d.watermarks[c.TableID]
	if !ok {
		wm = dataflow.NoWatermark
	}
	headChunks, restChunks := cutChunks(c.Chunks, maxEpochRows)
	restRows := it.rows - maxEpochRows
	// The head has no commit time: its commit is published with the rest.
	head := feedItem{rows: maxEpochRows, changes: []storage.Change{{TableID: c.TableID, Chunks: headChunks, Watermark: wm, Positions: c.Positions - restRows, Divisible: true}}}
	rest := feedItem{rows: restRows, at: it.at, changes: []storage.Change{{TableID: c.TableID, Chunks: restChunks, Watermark: c.Watermark, Positions: c.Positions, Divisible: true}}}
	return slices.Concat([]feedItem{head, rest}, commits[1:])
}

// cutChunks splits chunks into their first n rows and the others, slicing
// (not copying) the chunk the cut falls in.
func cutChunks(chunks []*coldata.Chunk, n int) (head, rest []*coldata.Chunk) {
	for i, c := range chunks {
		switch {
		case n == 0:
			return head, append(rest, chunks[i:]...)
		case c.Len <= n:
			head = append(head, c)
			n -= c.Len
		default:
			head = append(head, c.Slice(0, n))
			rest = append(rest, c.Slice(n, c.Len))
			return head, append(rest, chunks[i+1:]...)
		}
	}
	return head, rest
}

// stepEpoch steps the first commits of commits, in their order, in one
// epoch: whole commits of at most maxEpochRows rows together (or one
// commit, which divideHead bounds when it is to one stream), so that a
// commit queued behind a step is published once the commits before it are
// stepped, not after those that came after it too.
// It returns how many commits it stepped. shared: an express goroutine
// runs (startExpress), and the caller, the loop, holds stepMu.
func (d *dataflows) stepEpoch(commits []feedItem, shared bool) int {
	pending := map[uint32][]*coldata.Chunk{}
	// committed holds when the pending changes committed: the step
	// publishing them observes their delay.
	var committed []time.Time
	n, pendingRows := epochCommits(commits)
	for _, it := range commits[:n] {
		for _, c := range it.changes {
			// A commit that only advances a watermark has no chunks: the
			// relation is pending all the same, for the views to step.
			pending[c.TableID] = append(pending[c.TableID], c.Chunks...)
			d.watermarks[c.TableID] = c.Watermark
			d.trackChange(c)
		}
		committed = append(committed, it.at)
	}
	d.stepTimed(pending, committed, pendingRows, shared)
	return n
}

// epochCommits returns how many of the first commits of commits stepEpoch
// steps in one epoch, and their rows.
func epochCommits(commits []feedItem) (n, rows int) {
	for _, it := range commits {
		if rows > 0 && rows+it.rows > maxEpochRows {
			break
		}
		n++
		rows += it.rows
	}
	return n, rows
}

// startExpress starts the express goroutine (expressSteps) for the epoch
// the loop is about to step, the first of taken, the commits it took and
// has not stepped, and takes stepMu for the loop. The loop calls the join
// it returns once the epoch is published: it waits for the goroutine to
// end and gives the loop stepMu's state back.
func (d *dataflows) startExpress(taken []feedItem) (join func()) {
	blocked := map[uint32]bool{}
	for _, it := range taken {
		for _, c := range d.commitComponents(it) {
			blocked[c] = true
		}
	}
	done, exited := make(chan struct{}), make(chan struct{})
	d.stepMu.Lock()
	go func() {
		defer close(exited)
		d.expressSteps(blocked, done)
	}()
	return func() {
		close(done)
		d.stepMu.Unlock()
		<-exited
		// The goroutine may have taken the wake-up of commits it left
		// queued: the loop takes them without waiting for the tick.
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}
}

// expressSteps steps, until done, each time commits are queued, the small
// ones that may go ahead (goesAhead) of the commits the loop took and has
// not stepped, whose components are blocked, and of the others queued
// before them, up to the first command, in an epoch of their own, and
// publishes it: a freshness marker committed during a big epoch's step
// (8-16 Ki bid rows, p99 54-71 ms at 1000 bench serve connections) waited
// for all of it. They are few rows, stepped on this goroutine
// (dataflow.InlineSteps) while the loop's views step on their workers.
// Every view still sees its inputs' commits in commit order, and every
// published epoch is the state after a prefix of an order of the commits
// that moved none ahead of one a view reads with it (as overtaking's).
func (d *dataflows) expressSteps(blocked map[uint32]bool, done <-chan struct{}) {
	for {
		select {
		case <-done:
			return
		case <-d.wake:
		}
		d.stepMu.Lock()
		select {
		case <-done:
			d.stepMu.Unlock()
			return
		default:
		}
		if ahead := d.takeExpress(blocked); len(ahead) > 0 {
			d.stepEpoch(ahead, false)
		}
		d.stepMu.Unlock()
	}
}

// takeExpress takes from the queue the commits that may go ahead of the
// commits in the components blocked and of the others queued before them,
// up to the first command; the others stay queued, in order.
func (d *dataflows) takeExpress(blocked map[uint32]bool) []feedItem {
	d.mu.Lock()
	defer d.mu.Unlock()
	free := d.aheadOfCommand(maps.Clone(blocked), d.queue)
	if free == nil {
		return nil
	}
	var ahead, kept []feedItem
	for i, it := range d.queue {
		if i < len(free) && free[i] {
			ahead = append(ahead, it)
			d.queuedRows -= it.rows
		} else {
			kept = append(kept, it)
		}
	}
	d.queue = kept
	d.signalDrained()
	return ahead
}

// overtaking splits a run of queued commits into those stepped first
// (ahead), in an epoch of their own, and the others (behind), each in
// commit order. A small commit (smallCommitRows) goes ahead of the bigger
// ones queued before it when no view reads both, directly or through other
// views (viewComponents): a freshness marker queued behind a generator's
// 16 Ki-row delivery then waits for the step in progress only, not for
// that delivery's step too, and the loop steps one epoch at a time all the
// same. Every view still sees its inputs' commits in commit order, and
// every published epoch is the state after a prefix of an order of the
// commits that moved none ahead of one a view reads with it.
// Nothing goes ahead (ahead is nil) unless a bigger commit stays behind.
func (d *dataflows) overtaking(commits []feedItem) (ahead, behind []feedItem) {
	if len(commits) < 2 {
		return nil, commits
	}
	for i, free := range d.goesAhead(map[uint32]bool{}, commits) {
		if free {
			ahead = append(ahead, commits[i])
		} else {
			behind = append(behind, commits[i])
		}
	}
	if len(behind) == 0 || len(ahead) == 0 {
		return nil, commits
	}
	return ahead, behind
}

// goesAhead reports which of commits may be stepped before the others:
// the small ones (smallCommitRows, up to maxEpochRows together) that no
// view reads with a bigger one queued before them, nor with a commit in
// the components blocked. blocked gains the components of the commits
// left behind.
func (d *dataflows) goesAhead(blocked map[uint32]bool, commits []feedItem) []bool {
	free := make([]bool, len(commits))
	aheadRows := 0
	for i, it := range commits {
		comps := d.commitComponents(it)
		free[i] = it.rows <= smallCommitRows && aheadRows+it.rows <= maxEpochRows
		for _, c := range comps {
			free[i] = free[i] && !blocked[c]
		}
		if !free[i] {
			for _, c := range comps {
				blocked[c] = true
			}
			continue
		}
		aheadRows += it.rows
	}
	return free
}

// aheadOfCommand reports which of items before the first command among
// them may be stepped before the others (goesAhead, from blocked), one
// flag each of those; nil when none may.
func (d *dataflows) aheadOfCommand(blocked map[uint32]bool, items []feedItem) []bool {
	run := slices.IndexFunc(items, func(it feedItem) bool { return it.cmd != nil })
	if run < 0 {
		run = len(items)
	}
	free := d.goesAhead(blocked, items[:run])
	if !slices.Contains(free, true) {
		return nil
	}
	return free
}

// smallCommitRows bounds the commits that go ahead of bigger ones queued
// before them (overtaking): a marker, an INSERT, a Kafka poll's piece,
// not a generator's delivery at a high rate (whose step is what the
// small ones would wait for).
const smallCommitRows = 4096

// commitComponents returns the view components (viewComponents) of the
// relations commit it changes, in d.compScratch.
func (d *dataflows) commitComponents(it feedItem) []uint32 {
	if d.components == nil {
		d.components = viewComponents(d.order)
	}
	d.compScratch = d.compScratch[:0]
	for _, c := range it.changes {
		comp, ok := d.components[c.TableID]
		if !ok {
			comp = c.TableID
		}
		d.compScratch = append(d.compScratch, comp)
	}
	return d.compScratch
}

// viewComponents maps every view and every relation a view reads to its
// component: views that read a common relation, directly or through other
// views, and those relations, are one component, named by one of its ids.
func viewComponents(views []*runningView) map[uint32]uint32 {
	parent := map[uint32]uint32{}
	find := func(x uint32) uint32 {
		for {
			p, ok := parent[x]
			if !ok {
				parent[x] = x
				return x
			}
			if p == x {
				return x
			}
			x = p
		}
	}
	for _, v := range views {
		root := find(v.id)
		for rel := range v.sources {
			if r := find(rel); r != root {
				parent[r] = root
			}
		}
	}
	comps := make(map[uint32]uint32, len(parent))
	for x := range parent {
		comps[x] = find(x)
	}
	return comps
}

// maxEpochRows bounds the rows of the commits one step takes in together
// while more are queued. One datagen commit holds up to a segment (64K
// rows), a Kafka poll's a few thousand: a marker committed between two
// such commits waited for both to be stepped (bench serve's freshness p99
// was two big steps), and a bigger commit to one stream is stepped in
// pieces of it (divideHead); a smaller bound adds steps, each with a
// barrier and an aggregate emission, for little gain.
const maxEpochRows = 1 << 14

// commitRows counts the changed rows of one commit.
func commitRows(changes []storage.Change) int {
	n := 0
	for _, c := range changes {
		n += changedRows(c.Chunks)
	}
	return n
}

// stepTimed steps, and observes the step's duration and rows (the
// changed rows of pending) and the delay from each commit it publishes
// (committed) to its publication; shared as stepEpoch's.
func (d *dataflows) stepTimed(pending map[uint32][]*coldata.Chunk, committed []time.Time, rows int, shared bool) {
	if len(pending) == 0 {
		return
	}
	// Observed before the step publishes, so that a reader who sees the
	// epoch finds its rows counted.
	d.timings.epochRows.Observe(float64(rows))
	began := time.Now()
	d.step(pending, shared)
	d.timings.step.observeSince(began)
	for _, t := range committed {
		if !t.IsZero() {
			d.timings.publishDelay.observeSince(t)
		}
	}
}

// step runs one epoch over the pending changes (nothing when there are
// none). shared: the caller holds stepMu and lets the express goroutine
// have it while each view's dataflow steps, the views of the express
// epochs being others.
func (d *dataflows) step(pending map[uint32][]*coldata.Chunk, shared bool) {
	if len(pending) == 0 {
		return
	}
	outputs := map[uint32][]*coldata.Chunk{}
	// advanced holds the views whose output watermark moved this epoch:
	// the views reading them step even without changes.
	advanced := map[uint32]bool{}
	for _, v := range d.order {
		if v.failed != nil {
			continue
		}
		inputs := map[int][]*coldata.Chunk{}
		touched := false
		for rel, nodes := range v.sources {
			chunks, changed := pending[rel]
			touched = touched || changed || advanced[rel]
			if out := outputs[rel]; out != nil {
				chunks = append(chunks[:len(chunks):len(chunks)], out...)
			}
			if len(chunks) == 0 {
				continue
			}
			for _, n := range nodes {
				inputs[n] = v.narrow(n, chunks)
			}
		}
		if !touched && len(inputs) == 0 {
			continue
		}
		v.dirty = true
		// The epoch a start restoring behind left out had nothing to do:
		// this one does it (its Step waits for the state).
		v.restoring = false
		wms := d.sourceWatermarks(v)
		if shared {
			d.stepMu.Unlock()
		}
		if d.viewStepHook != nil {
			d.viewStepHook(v)
		}
		out, wm, err := v.df.Step(inputs, wms)
		if shared {
			d.stepMu.Lock()
		}
		if err != nil && v.fallback != nil {
			out, wm, err = d.recompute(v, inputs, err)
		}
		v.fallback = nil
		if err != nil {
			d.fail(v, err)
			continue
		}
		if changedRows(out) > 0 {
			outputs[v.id] = out
		}
		if wm != v.watermark {
			advanced[v.id] = true
			d.setWatermark(v, wm)
		}
	}
	d.publish(outputs)
}

// sourceWatermarks maps each source node of v to its relation's watermark.
func (d *dataflows) sourceWatermarks(v *runningView) map[int]int64 {
	if v.inWatermarks == nil {
		v.inWatermarks = map[int]int64{}
	}
	for rel, nodes := range v.sources {
		wm, ok := d.watermarks[rel]
		if !ok {
			wm = dataflow.NoWatermark
		}
		for _, n := range nodes {
			v.inWatermarks[n] = wm
		}
	}
	return v.inWatermarks
}

// setWatermark records v's output watermark, for the views reading v and
// for viewWatermarks.
func (d *dataflows) setWatermark(v *runningView, wm int64) {
	d.watermarks[v.id] = wm
	d.pubMu.Lock()
	v.watermark = wm
	d.pubMu.Unlock()
}

// viewWatermarks returns the output watermark of every running view, by id:
// Unix microseconds, dataflow.NoWatermark while an input has none, or
// dataflow.Unconstrained for a view over reference data only.
func (d *dataflows) viewWatermarks() map[uint32]int64 {
	d.pubMu.RLock()
	defer d.pubMu.RUnlock()
	out := make(map[uint32]int64, len(d.running))
	for id, v := range d.running {
		if v.failed == nil {
			out[id] = v.watermark
		}
	}
	return out
}

// changedRows counts the rows of a view's output chunks.
func changedRows(out []*coldata.Chunk) int {
	n := 0
	for _, c := range out {
		n += c.Len
	}
	return n
}

// publish applies one epoch's view outputs and makes the epoch visible.
func (d *dataflows) publish(outputs map[uint32][]*coldata.Chunk) {
	next := d.epoch + 1
	for id, out := range outputs {
		v := d.running[id]
		if err := v.arr.Apply(next, out...); err != nil {
			d.fail(v, err)
		}
		v.logChanges(out)
	}
	d.pubMu.Lock()
	d.epoch = next
	d.republishChanged(outputs)
	d.pubMu.Unlock()
	compacted := map[uint32][]*coldata.Chunk{}
	for id, out := range outputs {
		if d.running[id].arr.Compact(next) {
			compacted[id] = nil
		}
		d.notify(id, next, out)
	}
	if len(compacted) > 0 {
		// The published snapshots of the compacted views would hold their
		// old generations (as big as the views) until their next change.
		d.pubMu.Lock()
		d.republishChanged(compacted)
		d.pubMu.Unlock()
	}
}

func (d *dataflows) fail(v *runningView, err error) {
	d.log.Error("dataflow: materialized view stopped", "view", v.name, "err", err)
	d.pubMu.Lock()
	v.failed = err
	d.republish()
	d.pubMu.Unlock()
	d.endSubscriptions(v.id, errViewFailed(v.name, err))
}

// call runs fn on the loop after every change queued before it has been
// applied, and waits for it.
func (d *dataflows) call(ctx context.Context, fn func()) error {
	done := make(chan struct{})
	d.enqueue(feedItem{cmd: func() { fn(); close(done) }})
	// The loop may be stepping a big epoch: another query may run meanwhile.
	pgwire.Waiting(ctx)
	select {
	case <-done:
		return nil
	case <-d.exited:
		return sqlerr.New(sqlerr.AdminShutdown, "the server is shutting down")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sync waits until every change committed before it is visible in the views.
func (d *dataflows) sync(ctx context.Context) error { return d.call(ctx, func() {}) }

// install starts the dataflow of view desc planned as plan. Its initial
// input is the current content of its sources, read at one cut of the
// commit order together with the registration for their changes.
func (d *dataflows) install(ctx context.Context, id uint32, name string, plan *viewPlan) error {
	df, err := d.newDataflow(plan)
	if err != nil {
		return err
	}
	if names := df.UnboundedState(); d.budget != nil && len(names) > 0 {
		d.log.Info("view state not bounded by the memory limit: these operators do not spill", "view", name, "operators", names)
	}
	v := &runningView{id: id, name: name, df: df, arr: dataflow.NewArrangement(plan.types, plan.key), sources: map[uint32][]int{}, widths: map[int]int{}}
	for _, n := range plan.graph.Nodes {
		if src, ok := n.Spec.(*dataflow.Source); ok {
			v.sources[src.ID] = append(v.sources[src.ID], n.ID)
			v.widths[n.ID] = len(src.Typs)
		}
	}
	in := startInput{plan: plan, scans: map[uint32]*storage.TableScan{}, cut: map[uint32]int64{}}
	var result error
	done := make(chan struct{})
	tables := map[uint32]*storage.Table{}
	for rel := range v.sources {
		if t, ok := d.db.Table(rel); ok {
			tables[rel] = t
		}
	}
	d.prepareCheckpoints(v, plan, tables, &in)
	d.db.Exclusive(func() {
		txn := d.db.Begin()
		for rel, t := range tables {
			in.scans[rel] = txn.Scan(t)
			in.cut[rel] = t.Watermark()
		}
		if v.checkpointed {
			in.scanCheckpointInputs(v, txn, tables)
		}
		d.mu.Lock()
		for rel := range v.sources {
			d.wanted[rel]++
		}
		d.queue = append(d.queue, feedItem{cmd: func() {
			result = d.start(v, &in)
			close(done)
		}})
		d.mu.Unlock()
	})
	select {
	case d.wake <- struct{}{}:
	default:
	}
	select {
	case <-done:
	case <-d.exited:
		select {
		case <-done:
			// The start ran before the loop ended: the checkpoint is its
			// (a restore behind may still read it).
		default:
			if in.ck != nil {
				in.ck.release()
			}
			return sqlerr.New(sqlerr.AdminShutdown, "the server is shutting down")
		}
	}
	if result != nil {
		d.unwant(v)
		v.df.Close()
	}
	return result
}

func (d *dataflows) newDataflow(plan *viewPlan) (*dataflow.Dataflow, error) {
	opts := []dataflow.Option{dataflow.Workers(d.workers), dataflow.ChunkSize(d.chunkSize), dataflow.IngestGate(d.gate)}
	if d.budget != nil {
		opts = append(opts, dataflow.MemoryBudget(d.budget))
	}
	return dataflow.New(plan.graph, &expr.EvalCtx{Ctx: context.Background(), Cfg: plan.cfg, Regexes: d.regexes}, opts...)
}

// start runs on the loop: the view's first epoch over its sources' content,
// at the tables' watermarks of the scans' cut (cut) and the source views'
// current ones.
//
// A stream's history can be far larger than memory (storage keeps most of
// it on disk), so it is fed to the workers as it is read, in one epoch
// whose barrier brings the watermarks after all of it (the history is in
// arrival order, not event time: no window may close before all of it is
// in). One epoch, not one per slice of the history: an aggregate then
// emits each group once, instead of retracting and re-emitting it at every
// slice (which cost more than the aggregation with millions of groups).
func (d *dataflows) start(v *runningView, in *startInput) error {
	for rel := range v.sources {
		// A view read starts v at its output watermark, which one still
		// restoring behind its first epoch does not know yet.
		if up := d.running[rel]; up != nil {
			d.finishRestore(up)
		}
	}
	for rel, wm := range in.cut {
		// Views already reading rel know its watermark from its changes;
		// without them, its changes up to the cut were not delivered.
		// Watermarks never go back: the larger is the current one.
		if old, ok := d.watermarks[rel]; !ok || wm > old {
			d.watermarks[rel] = wm
		}
	}
	tracked := d.inputState(v, in)
	rows, restored, err := d.restore(v, in, tracked)
	if err != nil {
		return err
	}
	if restored {
		return d.resume(v, in, tracked, rows)
	}
	out, wm, err := v.df.StepFeed(func(put func(int, *coldata.Chunk)) error {
		return d.feedContent(v, in.scans, put)
	}, d.sourceWatermarks(v))
	if err != nil {
		return err
	}
	v.dirty = true
	d.run(v, tracked, out, wm)
	return nil
}

// feedContent puts the current rows of v's sources (a table's from its
// scan in scans, a running view's as published) to its source nodes.
func (d *dataflows) feedContent(v *runningView, scans map[uint32]*storage.TableScan, put func(int, *coldata.Chunk)) error {
	for rel, nodes := range v.sources {
		next, err := d.sourceContent(v, rel, scans[rel])
		if err != nil {
			return err
		}
		for {
			c, err := next()
			if err != nil {
				return err
			}
			if c == nil {
				break
			}
			v.feed(put, nodes, c)
		}
	}
	return nil
}

// run makes v a running view whose first epoch output out, with output
// watermark wm, and tracks its checkpoint inputs from their state at the
// cut (tracked).
func (d *dataflows) run(v *runningView, tracked map[uint32]uint64, out []*coldata.Chunk, wm int64) {
	for _, in := range v.inputs {
		if in.kind == inputStream {
			if _, ok := d.positions[in.rel]; !ok {
				d.positions[in.rel] = int(tracked[in.rel])
			}
		} else if _, ok := d.tableHashes[in.rel]; !ok {
			d.tableHashes[in.rel] = tracked[in.rel]
		}
	}
	d.watermarks[v.id] = wm
	d.pubMu.Lock()
	v.watermark = wm
	d.running[v.id] = v
	d.republish()
	d.pubMu.Unlock()
	d.order = append(d.order, v)
	d.components = nil
	outputs := map[uint32][]*coldata.Chunk{}
	if changedRows(out) > 0 {
		outputs[v.id] = out
	}
	d.publish(outputs)
}

// sourceContent returns an iterator over the current rows of source rel of
// v: a table's scan, or a running view's published rows. It returns nil at
// the end.
func (d *dataflows) sourceContent(v *runningView, rel uint32, scan *storage.TableScan) (func() (*coldata.Chunk, error), error) {
	if scan != nil {
		return func() (*coldata.Chunk, error) {
			c, _, ok := scan.Next()
			if !ok {
				return nil, scan.Err()
			}
			return c, nil
		}, nil
	}
	src := d.running[rel]
	if src == nil {
		return nil, sqlerr.Bug("dataflow: source relation %d of view %q is neither a table nor a running view", rel, v.name)
	}
	if src.failed != nil {
		return nil, errViewFailed(src.name, src.failed)
	}
	next := src.arr.Snapshot(d.epoch).Scan()
	return func() (*coldata.Chunk, error) { return next(), nil }, nil
}

// withDiffs returns c's rows as changes of diff each (1: insertions, -1:
// retractions), sharing c's columns.
func withDiffs(c *coldata.Chunk, diff int64) *coldata.Chunk {
	out := *c
	out.Diffs = make([]int64, c.Len)
	for i := range out.Diffs {
		out.Diffs[i] = diff
	}
	return &out
}

func (d *dataflows) unwant(v *runningView) {
	d.mu.Lock()
	for rel := range v.sources {
		if d.wanted[rel]--; d.wanted[rel] <= 0 {
			delete(d.wanted, rel)
		}
	}
	d.mu.Unlock()
}

// drop stops view id (if running) and forgets it.
func (d *dataflows) drop(ctx context.Context, id uint32) error {
	return d.call(ctx, func() {
		v := d.running[id]
		if v == nil {
			return
		}
		d.pubMu.Lock()
		delete(d.running, id)
		d.republish()
		d.pubMu.Unlock()
		for i, o := range d.order {
			if o == v {
				// Delete clears the vacated slot; a re-slice would keep
				// the last view's dataflow and state reachable.
				d.order = slices.Delete(d.order, i, i+1)
				d.components = nil
				break
			}
		}
		d.unwant(v)
		delete(d.watermarks, id)
		for rel := range v.sources {
			if !d.Wants(rel) {
				delete(d.watermarks, rel)
				delete(d.positions, rel)
				delete(d.tableHashes, rel)
			}
		}
		if v.planHash != nil {
			// Through the writer, after any write of the view's
			// checkpoint it has queued.
			d.ckpt.remove(id)
		}
		if v.df != nil {
			v.df.Close()
		}
		d.endSubscriptions(id, sqlerr.New(sqlerr.UndefinedTable, "materialized view \"%s\" was dropped", v.name))
	})
}

// publishedViews is what statements read of the running views: the last
// published epoch and each view's snapshot at it, or its error, never
// changed once stored in dataflows.published. A statement reads the views
// of one publishedViews, so every view at one epoch; it shares the
// snapshots with every other statement of the epoch: a snapshot is only
// read.
type publishedViews struct {
	// seq numbers the publications, one more at each: an epoch is
	// published again when a view starts, stops or is compacted.
	seq   uint64
	epoch uint64
	views map[uint32]publishedView
}

type publishedView struct {
	name   string
	arr    *dataflow.Arrangement
	snap   *dataflow.ArrangementSnapshot // nil when failed
	failed error
}

// republish stores the running views in published; the caller holds pubMu
// and has just changed which views run (or fail), not the epoch.
func (d *dataflows) republish() { d.republishChanged(nil) }

// republishChanged stores the running views at d.epoch in published,
// snapshotting the views in changed (applied or compacted since the last
// publish) and those published without a snapshot; the others' snapshots
// read the same rows at d.epoch as at the epoch they were taken at, and
// are kept. The caller holds pubMu.
func (d *dataflows) republishChanged(changed map[uint32][]*coldata.Chunk) {
	old := d.published.Load().views
	views := make(map[uint32]publishedView, len(d.running))
	for id, v := range d.running {
		pv := publishedView{name: v.name, arr: v.arr, failed: v.failed}
		if v.failed == nil {
			_, change := changed[id]
			if prev, ok := old[id]; ok && !change && prev.arr == v.arr && prev.snap != nil {
				pv.snap = prev.snap
			} else if pv.snap = v.arr.Snapshot(d.epoch); pv.snap == nil {
				// Only a compaction past d.epoch drops the versions it
				// needs, and compactions are at published epochs.
				pv.failed = sqlerr.Bug("view %q has no snapshot at its published epoch %d", v.name, d.epoch)
			}
		}
		views[id] = pv
	}
	d.published.Store(&publishedViews{seq: d.published.Load().seq + 1, epoch: d.epoch, views: views})
}

func errViewFailed(name string, err error) error {
	e := sqlerr.New(sqlerr.ObjectNotInPrerequisiteState, "materialized view \"%s\" stopped: %v", name, err)
	if se, ok := sqlerr.As(err); ok && se.Code != sqlerr.InternalError {
		e.Code = se.Code
	}
	return e.WithHint("Drop the view and create it again.")
}

// viewPlan is what install needs of a planned view.
type viewPlan struct {
	graph *dataflow.Graph
	types []*types.T
	key   []int
	cfg   *types.Config
	// def identifies a catalog view's definition (viewDefinition); empty
	// for the dataflows of subscriptions, which are not checkpointed.
	def string
}

// installFailed records a view that could not be started (at restart), so
// reads report why instead of a missing relation.
func (d *dataflows) installFailed(id uint32, name string, err error) {
	d.log.Error("dataflow: materialized view not started", "view", name, "err", err)
	_ = d.call(context.Background(), func() {
		d.pubMu.Lock()
		d.running[id] = &runningView{id: id, name: name, failed: err}
		d.republish()
		d.pubMu.Unlock()
	})
}
