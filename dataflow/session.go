package dataflow

import (
	"cmp"
	"container/heap"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/timewindow"
	"github.com/sluice-db/sluice/types"
)

// SessionWindow is SESSION(rel, time, gap, partition…): within each
// partition of equal PartitionBy values (NULLs equal), rows whose times lie
// less than Spec.Gap apart form a session [first time, last time + gap), and
// every row is output once with window_start and window_end of its session
// appended, as timewindow.Spec.Sessions cuts them in batch. Unlike the other
// windows a row's window depends on its neighbours: a row can extend a
// session or bridge two, a deletion can shorten or split one, and the rows of
// every session so changed are retracted and inserted again with their new
// bounds.
type SessionWindow struct {
	Spec        timewindow.Spec
	Time        *expr.ColRef
	PartitionBy []int
	InTypes     []*types.T
	// Closes says that no change still to come has a Time before the
	// input's watermark (an append-only input whose Time is its event time):
	// a session ending at or before the watermark can then never change
	// again, and its rows and bookkeeping are freed. Over tables and views
	// a retraction can reach any session, so nothing is freed.
	Closes bool
}

func (w *SessionWindow) Types() []*types.T {
	return append(append([]*types.T(nil), w.InTypes...), w.Time.Typ, w.Time.Typ)
}

func (w *SessionWindow) String() string {
	s := "SessionWindow gap=" + timewindow.FormatLength(w.Spec.Gap) + " time=" + w.Time.String()
	if len(w.PartitionBy) > 0 {
		s += fmt.Sprintf(" partition=%v", w.PartitionBy)
	}
	if w.Closes {
		s += " closes"
	}
	return s
}

// Partition places each partition's rows on one worker (all on worker 0
// without partition columns): a session's rows must meet.
func (w *SessionWindow) Partition(int) []int { return append([]int{}, w.PartitionBy...) }

func (w *SessionWindow) New(env *Env) (Operator, error) {
	if w.Spec.Kind != timewindow.Session {
		return nil, sqlerr.Bug("dataflow: %s is not a SESSION window", w.Spec.Kind)
	}
	o := &sessionOp{
		spec:      w,
		types:     w.Types(),
		parts:     NewStore[*sessionPartition](env, "session"),
		epoch:     map[string]*sessionPartition{},
		watermark: NoWatermark,
	}
	if env.Budget != nil && o.canSpill() {
		o.spill = &sessionSpill{budget: env.Budget, space: env.Budget.join(), spilled: map[string]spilledPartition{}}
	}
	o.out = sessionOutput{spec: w, c: NewChanges(o.types, coldata.DefaultChunkSize)}
	return o, nil
}

// sessionOp keeps, per partition, its rows ordered by time and its sessions
// as of the last Flush. Push only counts the changes into the rows; Flush
// recomputes the sessions around the times whose rows changed and emits, per
// row there, the difference between its old and new annotated copies, so an
// epoch that adds many rows to one session retracts its old rows once.
type sessionOp struct {
	spec  *SessionWindow
	types []*types.T
	parts Store[*sessionPartition]
	// epoch holds the partitions touched this epoch by key, epochKeys their
	// keys in order of first touch.
	epoch     map[string]*sessionPartition
	epochKeys []string
	out       sessionOutput
	// With spec.Closes: watermark is the input's of the epoch, and ends
	// indexes the partitions by the end of their first session, so that
	// closing touches only the partitions with a closed session.
	watermark int64
	ends      sessionEnds
	// Scratch, reused between pushes and flushes.
	sel     []int // the timed rows of a pushed chunk
	key     []byte
	changed []*orderItem[sessionRow]
	freed   []*orderItem[sessionRow]
	spans   []sessionSpan
	fresh   []session // the spans' sessions after the epoch, span after span
	pending []pendingRow
	// From the first snapshot on (tracking), dirty lists the partitions
	// whose rows changed multiplicity since the last snapshot (those
	// deleted since included), removed the rows compaction dropped since
	// with their change (minus their multiplicity then); liveRows counts
	// the rows the stored partitions hold: what SnapshotDelta writes and
	// SnapshotSize prices.
	tracking bool
	dirty    []*sessionPartition
	removed  *coldata.Chunk
	liveRows int
	size     recordSize
	// spill holds the partitions evicted under a budget (nil: none).
	spill *sessionSpill
}

// sessionPartition is one partition's state. Its sessions are disjoint and
// ascending, so that the sessions ending before a time (closed once the
// watermark passes their end) are a prefix that can be freed with their rows.
type sessionPartition struct {
	// rows holds the partition's distinct input rows, appended as they first
	// arrive; tree orders them by time and counts their multiplicities. Its
	// keys are the time (timeKey) followed by the row's RowIdentity, and its
	// items whose count drops to zero keep their rows until the partition is
	// compacted.
	rows *coldata.Chunk
	tree orderTree[sessionRow]
	// sessions are the sessions as of the last Flush.
	sessions []session
	// changed lists the tree items touched this epoch.
	changed []*orderItem[sessionRow]
	// indexed is the end under which the partition is in sessionOp.ends
	// (Unconstrained when it is not). Entries whose end is not indexed are
	// stale and skipped.
	indexed int64
	// dirty lists the tree items whose multiplicity changed since the last
	// snapshot, and listed says that the partition is in sessionOp.dirty;
	// counted is its rows counted in sessionOp.liveRows.
	dirty   []*orderItem[sessionRow]
	listed  bool
	counted int
	// Under a budget: key is the partition's store key, slot its place in
	// the spill clock (-1: not in it), recent whether it was touched since
	// the clock's hand last passed it.
	key    string
	slot   int
	recent bool
}

// sessionEnd is an entry of sessionOp.ends: a partition by store key, and
// the end of its first session when it was indexed.
type sessionEnd struct {
	end int64
	key string
}

// sessionEnds is a min-heap of sessionEnd by end.
type sessionEnds []sessionEnd

func (h sessionEnds) Len() int           { return len(h) }
func (h sessionEnds) Less(i, j int) bool { return h[i].end < h[j].end }
func (h sessionEnds) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *sessionEnds) Push(x any)        { *h = append(*h, x.(sessionEnd)) }
func (h *sessionEnds) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// sessionRow is what a partition's tree keeps with a distinct row.
type sessionRow struct {
	ts int64
	// row is the row's index in the partition's rows.
	row int
	// prev is the row's multiplicity as of the last Flush (the item's count
	// runs ahead during an epoch).
	prev    int64
	touched bool
	// snap is the row's multiplicity as of the last snapshot, dirty whether
	// it is in its partition's dirty list.
	snap  int64
	dirty bool
}

// session is a session by its first and last times; its end is
// Spec.SessionEnd(last).
type session struct{ start, last int64 }

// sessionSpan is a stretch of a partition's time [lo, hi] to recompute at
// Flush: it holds times whose rows changed and the old sessions [first, end)
// those changes touch, and no row outside it can join a session with a row
// inside.
type sessionSpan struct {
	lo, hi     int64
	first, end int
	// changedLo and changedHi delimit the span's changed rows in
	// sessionOp.changed; removes says whether one of them has no copy left
	// (or, a bug recompute reports, fewer than none).
	changedLo, changedHi int
	removes              bool
	// fresh is where the span's sessions after the epoch are in
	// sessionOp.fresh.
	freshLo, freshHi int
}

// inside reports whether s's changes cannot move any session bound: rows
// that come or change multiplicity, none that go, all within one old session
// (between its first and last times).
func (s *sessionSpan) inside(ss []session) bool {
	return !s.removes && s.end-s.first == 1 && s.lo == ss[s.first].start && s.hi == ss[s.first].last
}

// pendingRow is a row of the session being cut, awaiting its end.
type pendingRow struct {
	item *orderItem[sessionRow]
	old  int // index of its old session, when prev > 0
}

// timeKey appends t so that keys order as times do.
func timeKey(buf []byte, t int64) []byte {
	return binary.BigEndian.AppendUint64(buf, uint64(t)^(1<<63))
}

func (o *sessionOp) Push(_ int, c *coldata.Chunk, _ Emit) error {
	if c.Diffs == nil {
		return sqlerr.Bug("session window input without diffs")
	}
	ts := c.Cols[o.spec.Time.Idx]
	// A row with a NULL or infinite time is in no session, as in batch.
	o.sel = timewindow.Timed(ts, 0, c.Len, o.sel[:0])
	if o.spill != nil && len(o.spill.spilled) > 0 {
		if err := o.unspill(c, o.sel); err != nil {
			return err
		}
	}
	for _, i := range o.sel {
		t := ts.Ints[i]
		if o.spec.Closes && t < o.watermark {
			// The input promised no such row, and the sessions it could
			// join may be freed (and their final rows emitted) already.
			return sqlerr.Bug("session window: a row at %d arrived after the watermark passed it (%d)", t, o.watermark)
		}
		p := o.partition(c, i)
		it := o.add(p, c, i, t, c.Diffs[i])
		if !it.val.touched {
			it.val.touched = true
			p.changed = append(p.changed, it)
		}
	}
	return nil
}

// add adds diff copies of row i of c, at time t, to p and returns its
// tree item, marked dirty when tracking.
func (o *sessionOp) add(p *sessionPartition, c *coldata.Chunk, i int, t, diff int64) *orderItem[sessionRow] {
	o.key = RowIdentity(timeKey(o.key[:0], t), c, nil, i)
	before := p.tree.items
	it := p.tree.add(o.key, diff)
	if p.tree.items != before {
		it.val = sessionRow{ts: t, row: p.rows.Len}
		for j, v := range p.rows.Cols {
			v.AppendFrom(c.Cols[j], i)
		}
		p.rows.Len++
	}
	if o.tracking && !it.val.dirty {
		it.val.dirty = true
		p.dirty = append(p.dirty, it)
		if !p.listed {
			p.listed = true
			o.dirty = append(o.dirty, p)
		}
	}
	return it
}

// partition returns the partition of row i of c, adding it to the epoch.
func (o *sessionOp) partition(c *coldata.Chunk, i int) *sessionPartition {
	o.partitionKey(c, i)
	if p, ok := o.epoch[string(o.key)]; ok {
		return p
	}
	k := string(o.key)
	p, _ := o.storedPartition(k)
	o.epoch[k] = p
	o.epochKeys = append(o.epochKeys, k)
	return p
}

// partitionKey sets o.key to the partition key of row i of c.
func (o *sessionOp) partitionKey(c *coldata.Chunk, i int) {
	o.key = o.key[:0]
	if len(o.spec.PartitionBy) > 0 {
		// NB: RowKey reads a nil column list as all columns.
		o.key = RowKey(o.key, c, o.spec.PartitionBy, i)
	}
}

// storedPartition returns the partition stored under k and true, or a
// new empty one and false when there is none.
func (o *sessionOp) storedPartition(k string) (*sessionPartition, bool) {
	if p, ok := o.parts.Get(k); ok {
		return p, true
	}
	return &sessionPartition{rows: coldata.NewChunk(o.spec.InTypes, 0), indexed: Unconstrained, slot: -1}, false
}

func (o *sessionOp) Flush(emit Emit) error {
	out := &o.out
	out.emit, out.err = emit, nil
	for _, k := range o.epochKeys {
		p := o.epoch[k]
		if err := o.flushPartition(p, out); err != nil {
			return err
		}
		o.store(k, p)
	}
	clear(o.epoch)
	o.epochKeys = o.epochKeys[:0]
	if o.spec.Closes {
		if err := o.closeSessions(); err != nil {
			return err
		}
	}
	if err := out.flush(); err != nil {
		return err
	}
	if o.spill != nil {
		return o.evict()
	}
	return nil
}

// Advance implements watermarkObserver. A row still to come starts or
// extends a session ending after the watermark, and any session it changes
// ends after it too, so the output's window_end is bounded by the input's
// watermark (its window_start is not: a row can extend an older session).
func (o *sessionOp) Advance(in []int64) int64 {
	o.watermark = minWatermark(in)
	return o.watermark
}

// store keeps p under key k after a change: indexed by its first session's
// end when sessions close, compacted when most of its rows are gone, and
// deleted when it has no session left. Under a budget it is listed in the
// spill clock as touched.
func (o *sessionOp) store(k string, p *sessionPartition) {
	if len(p.sessions) == 0 {
		o.liveRows -= p.counted
		p.counted = 0
		o.parts.Delete(k)
		if o.spill != nil {
			o.spill.unlist(p)
		}
		return
	}
	if o.spill != nil {
		o.spill.list(k, p)
	}
	if end := o.spec.Spec.SessionEnd(p.sessions[0].last); o.spec.Closes && end < p.indexed {
		p.indexed = end
		heap.Push(&o.ends, sessionEnd{end: end, key: k})
	}
	if p.tree.zeros > max(32, p.tree.items-p.tree.zeros) {
		o.compact(p)
	}
	live := p.tree.items - p.tree.zeros
	o.liveRows += live - p.counted
	p.counted = live
	o.parts.Put(k, p)
}

// closeSessions frees the sessions that end at or before the watermark,
// with their rows: no change still to come can reach them. They are a
// prefix of their partition's sessions. A spilled partition whose last
// session closed is deleted from the spill store without being loaded
// back: closing emits nothing.
func (o *sessionOp) closeSessions() error {
	deleted := false
	for len(o.ends) > 0 && o.ends[0].end <= o.watermark {
		e := heap.Pop(&o.ends).(sessionEnd)
		p, ok := o.parts.Get(e.key)
		if !ok {
			if o.spill != nil {
				gone, err := o.dropClosed(e)
				if err != nil {
					return err
				}
				deleted = deleted || gone
			}
			continue
		}
		if p.indexed != e.end {
			continue
		}
		p.indexed = Unconstrained
		closed := sort.Search(len(p.sessions), func(i int) bool { return o.spec.Spec.SessionEnd(p.sessions[i].last) > o.watermark })
		o.free(p, closed)
		o.store(e.key, p)
	}
	if deleted {
		return o.spill.space.Commit()
	}
	return nil
}

// free drops p's first n sessions and their rows: the rows' counts go to
// zero, and compaction reclaims them. Their multiplicity as of the last
// snapshot goes to zero too: a delta need not carry them, since a restore
// frees the sessions the watermark closed again (finishRestore).
func (o *sessionOp) free(p *sessionPartition, n int) {
	if n == 0 {
		return
	}
	last := p.sessions[n-1].last
	freed := o.freed[:0]
	it := p.tree.seekKey(timeKey(o.key[:0], p.sessions[0].start))
	for item := it.next(); item != nil && item.val.ts <= last; item = it.next() {
		if item.count != 0 {
			freed = append(freed, item)
		}
	}
	// Counting down after the walk: an add can split the nodes it passes.
	for _, item := range freed {
		o.key = append(o.key[:0], item.key...)
		p.tree.add(o.key, -item.count)
		item.val.prev, item.val.snap = 0, 0
	}
	clear(freed)
	o.freed = freed[:0]
	p.sessions = slices.Delete(p.sessions, 0, n)
}

// flushPartition emits the changes of p's annotated rows this epoch and
// brings its sessions up to date.
func (o *sessionOp) flushPartition(p *sessionPartition, out *sessionOutput) error {
	changed := o.changed[:0]
	for _, it := range p.changed {
		it.val.touched = false
		if it.count != it.val.prev {
			changed = append(changed, it)
		}
	}
	clear(p.changed)
	p.changed = p.changed[:0]
	slices.SortFunc(changed, func(a, b *orderItem[sessionRow]) int { return cmp.Compare(a.val.ts, b.val.ts) })
	o.changed = changed
	spans := o.spans[:0]
	ss := p.sessions
	for i, it := range changed {
		t := it.val.ts
		// The old sessions a row at t can touch: those ending after t and
		// starting before t's own session end; a gap exactly equal splits.
		reach := o.spec.Spec.SessionEnd(t)
		first := sort.Search(len(ss), func(k int) bool { return o.spec.Spec.SessionEnd(ss[k].last) > t })
		end := sort.Search(len(ss), func(k int) bool { return ss[k].start >= reach })
		lo, hi := t, t
		if first < end {
			lo, hi = min(lo, ss[first].start), max(hi, ss[end-1].last)
		}
		// Times are ascending, so a span can only merge into the one before;
		// it must when they share a session or their rows could join.
		if n := len(spans); n > 0 && (first < spans[n-1].end || lo < o.spec.Spec.SessionEnd(spans[n-1].hi)) {
			last := &spans[n-1]
			last.hi, last.end = max(last.hi, hi), max(last.end, end)
			last.changedHi = i + 1
			last.removes = last.removes || it.count <= 0
			continue
		}
		spans = append(spans, sessionSpan{lo: lo, hi: hi, first: first, end: end, changedLo: i, changedHi: i + 1, removes: it.count <= 0})
	}
	o.spans = spans
	o.fresh = o.fresh[:0]
	for i := range spans {
		s := &spans[i]
		if !s.inside(ss) {
			if err := o.recompute(p, s, out); err != nil {
				return err
			}
			continue
		}
		// The session keeps its bounds: only the changed rows change, and
		// the rest of a long session is not walked.
		for _, it := range changed[s.changedLo:s.changedHi] {
			out.add(p, it.val.row, ss[s.first], it.count-it.val.prev)
			it.val.prev = it.count
		}
		s.freshLo, s.freshHi = len(o.fresh), len(o.fresh)+1
		o.fresh = append(o.fresh, ss[s.first])
	}
	clear(o.changed)
	// Backwards, so that the indexes of the spans before stay valid.
	for i := len(spans) - 1; i >= 0; i-- {
		s := &spans[i]
		p.sessions = slices.Replace(p.sessions, s.first, s.end, o.fresh[s.freshLo:s.freshHi]...)
	}
	return nil
}

// recompute cuts the rows of span s into sessions as they are now and emits
// each row's change: its old copy retracted and its new one inserted, or,
// when its session did not change, the change of its multiplicity.
func (o *sessionOp) recompute(p *sessionPartition, s *sessionSpan, out *sessionOutput) error {
	pending := o.pending[:0]
	var cur session
	old := p.sessions
	k := s.first
	s.freshLo = len(o.fresh)
	closeSession := func() {
		for _, r := range pending {
			v := &r.item.val
			switch {
			case v.prev > 0 && old[r.old] == cur:
				out.add(p, v.row, cur, r.item.count-v.prev)
			default:
				if v.prev > 0 {
					out.add(p, v.row, old[r.old], -v.prev)
				}
				out.add(p, v.row, cur, r.item.count)
			}
			v.prev = r.item.count
		}
		o.fresh = append(o.fresh, cur)
		pending = pending[:0]
	}
	it := p.tree.seekKey(timeKey(o.key[:0], s.lo))
	for item := it.next(); item != nil && item.val.ts <= s.hi; item = it.next() {
		v := &item.val
		if item.count < 0 {
			return sqlerr.Bug("session window: row deleted more often than inserted (multiplicity %d)", item.count)
		}
		r := pendingRow{item: item}
		if v.prev > 0 {
			for k < s.end && old[k].last < v.ts {
				k++
			}
			if k == s.end || old[k].start > v.ts {
				return sqlerr.Bug("session window: row at %d outside the old sessions %v of its span", v.ts, old[s.first:s.end])
			}
			r.old = k
		}
		if item.count == 0 {
			if v.prev > 0 {
				out.add(p, v.row, old[k], -v.prev)
				v.prev = 0
			}
			continue
		}
		if len(pending) > 0 && v.ts >= o.spec.Spec.SessionEnd(cur.last) {
			closeSession()
		}
		if len(pending) == 0 {
			cur.start = v.ts
		}
		cur.last = v.ts
		pending = append(pending, r)
	}
	if len(pending) > 0 {
		closeSession()
	}
	s.freshHi = len(o.fresh)
	o.pending = pending
	return nil
}

// compact drops the rows of p whose multiplicity is zero; those that had
// copies at the last snapshot go to the removed rows first, for the next
// delta.
func (o *sessionOp) compact(p *sessionPartition) {
	var items []*orderItem[sessionRow]
	var sel []int
	it := p.tree.seekKey(nil)
	for item := it.next(); item != nil; item = it.next() {
		if item.count == 0 {
			if item.val.snap != 0 {
				o.trackRemoval(p, item)
			}
			continue
		}
		sel = append(sel, item.val.row)
		item.val.row = len(items)
		items = append(items, item)
	}
	p.rows = p.rows.Gather(sel)
	p.tree = buildOrderTree(items)
}

// sessionOutput collects a Flush's changes and emits them in chunks of
// coldata.DefaultChunkSize rows, reusing one chunk: receivers copy what
// they keep.
type sessionOutput struct {
	spec *SessionWindow
	emit Emit
	c    *coldata.Chunk
	// err is the first emit error; adds after it are dropped and flush
	// returns it, sparing the loops that add an error check per row.
	err error
}

// add appends row of p annotated with session s and diff, unless the diff is
// zero or s ends beyond the finite timestamp range (such sessions do not
// exist, as in batch).
func (out *sessionOutput) add(p *sessionPartition, row int, s session, diff int64) {
	end := out.spec.Spec.SessionEnd(s.last)
	if diff == 0 || end >= types.MaxTimestamp || out.err != nil {
		return
	}
	c := out.c
	for j, v := range p.rows.Cols {
		c.Cols[j].AppendFrom(v, row)
	}
	n := len(p.rows.Cols)
	c.Cols[n].AppendInt(s.start)
	c.Cols[n+1].AppendInt(end)
	c.Diffs = append(c.Diffs, diff)
	c.Len++
	if c.Len == coldata.DefaultChunkSize {
		out.err = out.flush()
	}
}

// flush emits the collected changes.
func (out *sessionOutput) flush() error {
	if out.err != nil || out.c.Len == 0 {
		return out.err
	}
	err := out.emit(out.c)
	out.c.Reset()
	return err
}
