package engine

import (
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-db/sluice/catalog"
	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/connector/kafka"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/pgwire"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/storage"
	"github.com/sluice-db/sluice/types"
)

// lateEventsName is the stream that keeps the rows that came too late for
// their stream.
const lateEventsName = "sluice_late_events"

// defaultIdleTimeout is how long a source partition without rows keeps
// holding its stream's watermark back, when the stream does not say.
const defaultIdleTimeout = 30 * time.Second

// sqlPartitionID is the partition number of the rows INSERT, COPY and HTTP
// push add: together they are one source partition of the stream.
const sqlPartitionID = -1

func sqlPartition() kafka.Partition { return kafka.Partition{Partition: sqlPartitionID} }

// eventTimes tracks the event-time watermark of each stream with a
// WATERMARK FOR: per source partition the greatest event time seen, and the
// watermark W = min over active partitions of (max - delay), which never
// goes back. What storage holds (Table.Watermark) is the completeness
// frontier W - allowed_lateness, committed with the rows that advanced it.
//
// A stream's clock is locked from judging a batch to the end of the
// batch's commit, so batches are judged in commit order; clocks are locked
// in stream id order when a transaction writes several streams.
type eventTimes struct {
	e      *Engine
	mu     sync.Mutex
	clocks map[uint32]*streamClock
	// wake tells watchIdle that a partition became known, whose idle
	// timeout may end before watchIdle's next look.
	wake chan struct{}
	stop chan struct{}
	done chan struct{}
}

// streamClock is one stream's event-time state.
type streamClock struct {
	mu       sync.Mutex
	id       uint32
	name     string
	col      int
	delay    int64 // microseconds
	lateness int64 // microseconds
	idle     time.Duration
	// w is the watermark W (not the frontier), storage.NoWatermark before
	// the first one.
	w     int64
	parts map[kafka.Partition]*partitionTime
	late  atomic.Int64
}

// partitionTime is what a source partition has delivered.
type partitionTime struct {
	max     int64 // greatest event time; NoWatermark before the first
	lastRow time.Time
}

func newEventTimes(e *Engine) *eventTimes {
	et := &eventTimes{e: e, clocks: map[uint32]*streamClock{}, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go et.watchIdle()
	return et
}

func (et *eventTimes) close() {
	close(et.stop)
	<-et.done
}

// clock returns the clock of stream desc, made on first use. A new clock
// starts from the stored frontier: W = frontier + allowed_lateness. The
// per-partition maxima are not stored, so after a restart W waits for
// every partition again (or for it to go idle).
func (et *eventTimes) clock(desc *catalog.Table, tbl *storage.Table) *streamClock {
	et.mu.Lock()
	defer et.mu.Unlock()
	if c := et.clocks[desc.ID]; c != nil {
		return c
	}
	c := &streamClock{id: desc.ID, name: desc.Name, col: desc.ColumnIndex(desc.Watermark.Column),
		delay: desc.Watermark.DelayMicros, w: storage.NoWatermark, parts: map[kafka.Partition]*partitionTime{}}
	c.lateness, c.idle = watermarkOptions(desc)
	if f := tbl.Watermark(); f != storage.NoWatermark {
		c.w = addMicros(f, c.lateness)
	}
	et.clocks[desc.ID] = c
	return c
}

// forget drops the clock of a dropped stream.
func (et *eventTimes) forget(id uint32) {
	et.mu.Lock()
	delete(et.clocks, id)
	et.mu.Unlock()
}

func (et *eventTimes) list() []*streamClock {
	et.mu.Lock()
	defer et.mu.Unlock()
	out := make([]*streamClock, 0, len(et.clocks))
	for _, c := range et.clocks {
		out = append(out, c)
	}
	return out
}

// notePartitions makes the partitions a source reads known to the stream's
// clock: from now on each holds the watermark back until it delivers rows
// or goes idle.
func (et *eventTimes) notePartitions(desc *catalog.Table, tbl *storage.Table, ps []kafka.Partition, now time.Time) {
	c := et.clock(desc, tbl)
	c.mu.Lock()
	added := false
	for _, p := range ps {
		if c.parts[p] == nil {
			c.parts[p] = &partitionTime{max: storage.NoWatermark, lastRow: now}
			added = true
		}
	}
	c.mu.Unlock()
	if added {
		et.poke()
	}
}

// poke wakes watchIdle.
func (et *eventTimes) poke() {
	select {
	case et.wake <- struct{}{}:
	default:
	}
}

// frontier is the completeness frontier of watermark w: rows with an
// earlier event time are late.
func (c *streamClock) frontier(w int64) int64 {
	if w == storage.NoWatermark {
		return w
	}
	return addMicros(w, -c.lateness)
}

// watermarkAt is W at time now if the partitions in maxima had just
// delivered rows with those greatest event times. A partition without rows
// for longer than the idle timeout does not count; while a counting
// partition has had no event time yet, or no partition counts, W stays.
func (c *streamClock) watermarkAt(now time.Time, maxima map[kafka.Partition]int64) int64 {
	low, counted := int64(math.MaxInt64), false
	consider := func(max int64, lastRow time.Time) bool {
		if now.Sub(lastRow) > c.idle {
			return true
		}
		if max == storage.NoWatermark {
			return false
		}
		counted = true
		low = min(low, addMicros(max, -c.delay))
		return true
	}
	for p, pt := range c.parts {
		m, last := pt.max, pt.lastRow
		if bm, ok := maxima[p]; ok {
			m, last = max(m, bm), now
		}
		if !consider(m, last) {
			return c.w
		}
	}
	for p, bm := range maxima {
		if c.parts[p] == nil && !consider(bm, now) {
			return c.w
		}
	}
	if !counted {
		return c.w
	}
	return max(c.w, low)
}

// addMicros adds d to t, saturating short of the NoWatermark and infinity
// sentinels.
func addMicros(t, d int64) int64 {
	switch {
	case d > 0 && t > math.MaxInt64-1-d:
		return math.MaxInt64 - 1
	case d < 0 && t < math.MinInt64+1-d:
		return math.MinInt64 + 1
	}
	return t + d
}

// batchOrigin says where a Kafka batch's rows came from; a nil origin means
// INSERT, COPY or HTTP push (the SQL partition, no offsets).
type batchOrigin struct {
	runs    []kafka.Run
	offsets []int64
}

// eachPartition calls fn with each stretch [lo, hi) of pending rows [from,
// to) that came from one partition.
func (o *batchOrigin) eachPartition(from, to int, fn func(p kafka.Partition, lo, hi int)) {
	if o == nil {
		fn(sqlPartition(), from, to)
		return
	}
	start := 0
	for _, r := range o.runs {
		lo, hi := max(start, from), min(r.End, to)
		if lo < hi {
			fn(r.Partition, lo, hi)
		}
		start = r.End
	}
}

// sourceBatch is a batch of one stream that a source (Kafka, HTTP push)
// hands over before it is in the txn: judged first, only its on-time rows
// are inserted, as one chunk that storage keeps whole, rather than all of
// them and then deleting the late ones, which leaves holes to copy around.
type sourceBatch struct {
	tbl *storage.Table
	// rows are the source's to give: storage may keep the chunk.
	rows   *coldata.Chunk
	origin *batchOrigin
}

// judgedStream is one stream's part of a batch: what commits with it, and
// what its clock learns once it has committed.
type judgedStream struct {
	clock *streamClock
	desc  *catalog.Table
	tbl   *storage.Table
	// batch holds the rows when they came from a source; nil: they are
	// the txn's inserts (INSERT, COPY).
	batch  *sourceBatch
	maxima map[kafka.Partition]int64
	w      int64
	late   int
}

// commitWithWatermarks inserts b's rows (if any) and commits ts's storage
// txn. Before, for each stream with a watermark that the batch is for or
// the txn inserted rows into, it judges those rows against W as it was
// before the batch: a row with an event time before the frontier moves, in
// the same txn, to sluice_late_events; the others stay and advance the
// partitions' maxima, and the new frontier commits with them
// (Txn.AdvanceWatermark).
func (e *Engine) commitWithWatermarks(ts *txnState, b *sourceBatch) error {
	cat := txnCatalog{e.cat, ts}
	var judged []*judgedStream
	withWatermark := func(tbl *storage.Table) (*catalog.Table, bool) {
		desc, ok := cat.ByID(tbl.Info().ID)
		return desc, ok && desc.Kind == catalog.KindStream && desc.Watermark != nil
	}
	if b != nil {
		if desc, ok := withWatermark(b.tbl); ok {
			judged = append(judged, &judgedStream{clock: e.eventTimes.clock(desc, b.tbl), desc: desc, tbl: b.tbl, batch: b})
		} else if b.rows.Len > 0 {
			if err := ts.txn.Adopt(b.tbl, b.rows); err != nil {
				ts.txn.Rollback()
				return err
			}
		}
	}
	for _, tbl := range ts.txn.InsertedTables() {
		if desc, ok := withWatermark(tbl); ok && (b == nil || tbl != b.tbl) {
			judged = append(judged, &judgedStream{clock: e.eventTimes.clock(desc, tbl), desc: desc, tbl: tbl})
		}
	}
	if len(judged) == 0 {
		return ts.txn.Commit()
	}
	sort.Slice(judged, func(i, j int) bool { return judged[i].desc.ID < judged[j].desc.ID })
	for _, j := range judged {
		j.clock.mu.Lock()
		defer j.clock.mu.Unlock()
	}
	now := time.Now()
	for _, j := range judged {
		if err := e.judge(ts, cat, j, now); err != nil {
			ts.txn.Rollback()
			return err
		}
	}
	if err := ts.txn.Commit(); err != nil {
		return err
	}
	// A partition new or back from idle has an idle timeout watchIdle
	// does not know of.
	woke := false
	for _, j := range judged {
		c := j.clock
		for p, m := range j.maxima {
			pt := c.parts[p]
			if pt == nil {
				pt = &partitionTime{max: storage.NoWatermark}
				c.parts[p] = pt
			}
			woke = woke || now.Sub(pt.lastRow) > c.idle
			pt.max, pt.lastRow = max(pt.max, m), now
		}
		c.w = j.w
		c.late.Add(int64(j.late))
	}
	if woke {
		e.eventTimes.poke()
	}
	return nil
}

// judge finds j's late rows, moves them to sluice_late_events (from the
// txn, or leaves them out of the source batch's insert), and computes the
// stream's new watermark.
func (e *Engine) judge(ts *txnState, cat txnCatalog, j *judgedStream, now time.Time) error {
	c := j.clock
	frontier := c.frontier(c.w)
	j.maxima = map[kafka.Partition]int64{}
	var origin *batchOrigin
	each := func(fn func(rows *coldata.Chunk, first int) error) error { return ts.txn.EachInserted(j.tbl, fn) }
	if b := j.batch; b != nil {
		origin = b.origin
		each = func(fn func(rows *coldata.Chunk, first int) error) error { return fn(b.rows, 0) }
	}
	var late *coldata.Chunk
	// lateIdx are the late rows' indexes in the batch (pending indexes for
	// the txn's inserts).
	var lateIdx []int
	err := each(func(rows *coldata.Chunk, first int) error {
		v := rows.Cols[c.col]
		times := v.Ints[:rows.Len]
		sel := lateRows(times, v.Nulls, frontier)
		origin.eachPartition(first, first+rows.Len, func(p kafka.Partition, lo, hi int) {
			if m, ok := maxEventTime(times[lo-first:hi-first], nullsOf(v, lo-first, hi-first)); ok {
				if old, seen := j.maxima[p]; !seen || m > old {
					j.maxima[p] = m
				}
			}
		})
		if len(sel) == 0 {
			return nil
		}
		if late == nil {
			late = coldata.NewChunk(rows.Types(), len(sel))
		}
		for _, i := range sel {
			late.AppendFrom(rows, i)
			lateIdx = append(lateIdx, first+i)
		}
		return nil
	})
	if err != nil {
		return err
	}
	j.w = c.watermarkAt(now, j.maxima)
	if err := j.keepOnTime(ts, lateIdx); err != nil {
		return err
	}
	if late != nil {
		if err := e.keepLate(ts, cat, j, late, lateIdx, origin, now); err != nil {
			return err
		}
		j.late = late.Len
	}
	if j.w != storage.NoWatermark {
		return ts.txn.AdvanceWatermark(j.tbl, c.frontier(j.w))
	}
	return nil
}

// keepOnTime leaves only the on-time rows in the stream: it inserts a
// source batch's, or deletes the late ones from the txn's inserts.
func (j *judgedStream) keepOnTime(ts *txnState, lateIdx []int) error {
	b := j.batch
	if b == nil {
		if len(lateIdx) == 0 {
			return nil
		}
		pos := make([]int, len(lateIdx))
		for k, i := range lateIdx {
			pos[k] = storage.InsertedPosition(i)
		}
		return ts.txn.Delete(j.tbl, pos)
	}
	rows := b.rows
	if len(lateIdx) > 0 {
		onTime := make([]int, 0, rows.Len-len(lateIdx))
		for i, k := 0, 0; i < rows.Len; i++ {
			if k < len(lateIdx) && lateIdx[k] == i {
				k++
				continue
			}
			onTime = append(onTime, i)
		}
		rows = rows.Gather(onTime)
	}
	if rows.Len == 0 {
		return nil
	}
	return ts.txn.Adopt(j.tbl, rows)
}

// lateRows returns the indexes of the event times before frontier (NULL
// is never late).
func lateRows(times []int64, nulls []bool, frontier int64) []int {
	var sel []int
	if nulls == nil {
		for i, t := range times {
			if t < frontier {
				sel = append(sel, i)
			}
		}
		return sel
	}
	for i, t := range times {
		if t < frontier && !nulls[i] {
			sel = append(sel, i)
		}
	}
	return sel
}

func nullsOf(v *coldata.Vec, lo, hi int) []bool {
	if v.Nulls == nil {
		return nil
	}
	return v.Nulls[lo:hi]
}

// maxEventTime is the greatest event time of times, leaving out NULLs and
// the infinities (which would push the watermark past every real time).
func maxEventTime(times []int64, nulls []bool) (int64, bool) {
	m, ok := int64(math.MinInt64), false
	for i, t := range times {
		if t > m && t != types.PosInfinity && t != types.NegInfinity && (nulls == nil || !nulls[i]) {
			m, ok = t, true
		}
	}
	return m, ok
}

// keepLate writes j's late rows to sluice_late_events: the stream, the
// event time, W at arrival, the row as a JSON object, its Kafka partition
// and offset.
func (e *Engine) keepLate(ts *txnState, cat txnCatalog, j *judgedStream, late *coldata.Chunk, idx []int, origin *batchOrigin, now time.Time) error {
	desc, ok := cat.Lookup("public", lateEventsName)
	var tbl *storage.Table
	if ok {
		tbl, ok = e.storageTable(ts, desc.ID)
	}
	if !ok || !slices.EqualFunc(desc.Types(), lateEventsStream().Types(), func(a, b *types.T) bool { return a.Oid == b.Oid }) {
		return sqlerr.New(sqlerr.UndefinedTable, "stream \"%s\" is missing or not as Sluice made it: stream \"%s\" cannot keep its late rows", lateEventsName, j.desc.Name).
			WithHint("Drop it if it is there, and recreate it by creating any stream with WATERMARK FOR.")
	}
	rows := coldata.NewChunk(desc.Types(), late.Len)
	names, typs, cfg := j.desc.ColumnNames(), late.Types(), e.viewConfig()
	arrived := now.UnixMicro()
	for k := 0; k < late.Len; k++ {
		row := late.Row(k)
		payload, err := expr.RowJSONB(cfg, names, typs, row)
		if err != nil {
			return err
		}
		var part, off types.Datum
		origin.eachPartition(idx[k], idx[k]+1, func(p kafka.Partition, _, _ int) {
			if p.Partition != sqlPartitionID {
				part, off = int64(p.Partition), origin.offsets[idx[k]]
			}
		})
		rows.AppendRow([]types.Datum{j.desc.Name, late.Cols[j.clock.col].Ints[k], j.clock.w, payload, part, off, arrived})
	}
	return ts.txn.Insert(tbl, rows)
}

// storageTable is the storage table of relation id as ts sees it.
func (e *Engine) storageTable(ts *txnState, id uint32) (*storage.Table, bool) {
	if ct, ok := ts.created[id]; ok {
		return ct.tbl, true
	}
	return e.db.Table(id)
}

// lateEventsStream describes sluice_late_events.
func lateEventsStream() *catalog.Table {
	col := func(name string, t *types.T) catalog.Column { return catalog.Column{Name: name, Type: t} }
	return &catalog.Table{Kind: catalog.KindStream, Schema: "public", Name: lateEventsName,
		Options: map[string]string{"connector": "none"}, Columns: []catalog.Column{
			col("stream", types.Text), col("event_time", types.TimestampTZ), col("watermark", types.TimestampTZ),
			col("payload", types.JSONB), col("partition", types.Int4), col("offset", types.Int8), col("arrived_at", types.TimestampTZ),
		}}
}

// watchIdle advances watermarks held back only by partitions that went
// idle: without rows, nothing else would commit the advance, and windows
// downstream would never close. It looks when the next partition goes
// idle, since the advance is due then (later, the partitions that held
// the newer event times may have gone idle too, and W would stay).
func (et *eventTimes) watchIdle() {
	defer close(et.done)
	t := time.NewTimer(time.Second)
	defer t.Stop()
	for {
		select {
		case <-et.stop:
			return
		case <-et.wake:
			t.Reset(et.advanceIdle(time.Now()))
		case now := <-t.C:
			t.Reset(et.advanceIdle(now))
		}
	}
}

// advanceIdle commits the watermarks that idle partitions no longer hold
// back, and returns when to look again: just after the next partition
// goes idle, and within a second.
func (et *eventTimes) advanceIdle(now time.Time) time.Duration {
	next := time.Second
	for _, c := range et.list() {
		c.mu.Lock()
		for _, pt := range c.parts {
			if d := pt.lastRow.Add(c.idle).Sub(now); d >= 0 {
				next = min(next, d+time.Millisecond)
			}
		}
		if w := c.idleWatermark(now); w > c.w {
			if tbl, ok := et.e.db.Table(c.id); ok {
				txn := et.e.db.Begin()
				err := txn.AdvanceWatermark(tbl, c.frontier(w))
				if err == nil {
					err = txn.Commit()
				}
				if err == nil {
					c.w = w
				} else {
					et.e.log.Warn("engine: idle watermark advance", "stream", c.name, "err", err)
				}
			}
		}
		c.mu.Unlock()
	}
	return next
}

// idleWatermark is W at now with no new rows: the greatest W at any moment
// up to now when a partition went idle. Looking only at now would miss the
// advance due when one partition went idle while another still held newer
// event times, if that one has gone idle too by the time the watcher runs
// (then no partition counts and W stays).
func (c *streamClock) idleWatermark(now time.Time) int64 {
	w := c.watermarkAt(now, nil)
	for _, pt := range c.parts {
		if at := pt.lastRow.Add(c.idle + time.Nanosecond); !at.After(now) {
			w = max(w, c.watermarkAt(at, nil))
		}
	}
	return w
}

// watermarkOptions reads a stream's allowed_lateness (microseconds) and
// idle_timeout, checked at CREATE STREAM.
func watermarkOptions(desc *catalog.Table) (lateness int64, idle time.Duration) {
	idle = defaultIdleTimeout
	if v, ok := desc.Options["allowed_lateness"]; ok {
		lateness, _ = types.DurationMicros(v)
	}
	if v, ok := desc.Options["idle_timeout"]; ok {
		us, _ := types.DurationMicros(v)
		idle = time.Duration(us) * time.Microsecond
	}
	return lateness, idle
}

// streamWatermark checks a new stream's WATERMARK FOR and its
// allowed_lateness and idle_timeout options, and records the watermark in
// desc.
func (st *statement) streamWatermark(desc *catalog.Table) error {
	wf := st.createStream.Watermark
	for _, name := range []string{"allowed_lateness", "idle_timeout"} {
		v, ok := desc.Options[name]
		if !ok {
			continue
		}
		if wf == nil {
			return sqlerr.New(sqlerr.InvalidParameterValue, "option \"%s\" needs a WATERMARK FOR column", name).
				WithHint("Add WATERMARK FOR ts AS ts - INTERVAL '5 seconds' to the column list.")
		}
		us, err := types.DurationMicros(v)
		if err != nil {
			return err
		}
		if name == "idle_timeout" && us == 0 {
			return sqlerr.New(sqlerr.InvalidParameterValue, "idle_timeout must be greater than zero")
		}
	}
	if wf == nil {
		return nil
	}
	i := desc.ColumnIndex(wf.Column)
	if i < 0 {
		return sqlerr.New(sqlerr.UndefinedColumn, "column \"%s\" does not exist", wf.Column).At(st.pos(wf.ColumnLoc))
	}
	if f := desc.Columns[i].Type.Family; f != types.TimestampFamily && f != types.TimestampTZFamily {
		return sqlerr.New(sqlerr.DatatypeMismatch, "watermark column \"%s\" is of type %s, not timestamp or timestamptz", wf.Column, desc.Columns[i].Type).
			At(st.pos(wf.ColumnLoc))
	}
	w := &catalog.Watermark{Column: wf.Column}
	if wf.Delay != "" {
		us, err := types.DurationMicros(wf.Delay)
		if err != nil {
			if e, ok := sqlerr.As(err); ok {
				return e.At(st.pos(wf.DelayLoc))
			}
			return err
		}
		w.DelayMicros = us
	}
	desc.Watermark = w
	return nil
}

// WatermarkRow is one row of SHOW WATERMARKS.
type WatermarkRow struct {
	Name string
	// Watermark and Frontier are Unix microseconds, or NoWatermark.
	Watermark, Frontier int64
	Lateness            int64 // microseconds
	IdleTimeout         time.Duration
	LateEvents          int64
	// Partitions describes each source partition: its greatest event time,
	// and whether it is idle.
	Partitions string
}

// HasWatermark reports whether the stream has had a watermark yet.
func (r WatermarkRow) HasWatermark() bool { return r.Watermark != storage.NoWatermark }

// StreamWatermarks describes the watermark of every stream that has one,
// by name: SHOW WATERMARKS and /metrics read it.
func (e *Engine) StreamWatermarks() []WatermarkRow {
	now := time.Now()
	var out []WatermarkRow
	for _, desc := range e.cat.Tables() {
		if desc.Kind != catalog.KindStream || desc.Watermark == nil {
			continue
		}
		tbl, ok := e.db.Table(desc.ID)
		if !ok {
			continue
		}
		c := e.eventTimes.clock(desc, tbl)
		c.mu.Lock()
		row := WatermarkRow{Name: desc.Name, Watermark: c.w, Frontier: c.frontier(c.w), Lateness: c.lateness,
			IdleTimeout: c.idle, LateEvents: c.late.Load(), Partitions: c.describePartitions(now)}
		c.mu.Unlock()
		out = append(out, row)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// describePartitions is "topic/0=<max>, topic/1=<max> (idle), sql=<max>".
func (c *streamClock) describePartitions(now time.Time) string {
	ps := make([]kafka.Partition, 0, len(c.parts))
	for p := range c.parts {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].Topic != ps[j].Topic {
			return ps[i].Topic < ps[j].Topic
		}
		return ps[i].Partition < ps[j].Partition
	})
	var b strings.Builder
	for k, p := range ps {
		if k > 0 {
			b.WriteString(", ")
		}
		if p.Partition == sqlPartitionID {
			b.WriteString("sql")
		} else {
			b.WriteString(p.Topic + "/" + strconv.Itoa(int(p.Partition)))
		}
		b.WriteByte('=')
		pt := c.parts[p]
		if pt.max == storage.NoWatermark {
			b.WriteString("none")
		} else {
			b.WriteString(types.FormatText(types.TimestampTZ, pt.max, nil))
		}
		if now.Sub(pt.lastRow) > c.idle {
			b.WriteString(" (idle)")
		}
	}
	return b.String()
}

var watermarkColumnTypes = []*types.T{types.Text, types.Text, types.TimestampTZ, types.TimestampTZ, types.Interval, types.Interval, types.Int8, types.Text}

func watermarkColumns() []pgwire.Column {
	return typedColumns([]string{"name", "kind", "watermark", "frontier", "allowed_lateness", "idle_timeout", "late_events", "partitions"},
		watermarkColumnTypes)
}

// execShowWatermarks lists the watermark of every stream that has one
// (NULL before the first row), then every materialized view's: the
// watermark of its output, which its inputs' watermarks bound (NULL when an
// input without one holds it back, or it reads only tables). A view's
// output is complete up to its watermark, so its frontier is the same.
func (s *session) execShowWatermarks(w pgwire.ResultWriter) error {
	ch := coldata.NewChunk(watermarkColumnTypes, 0)
	orNull := func(t int64) types.Datum {
		if t == storage.NoWatermark {
			return nil
		}
		return t
	}
	for _, r := range s.e.StreamWatermarks() {
		ch.AppendRow([]types.Datum{r.Name, "stream", orNull(r.Watermark), orNull(r.Frontier), types.IntervalValue{Micros: r.Lateness},
			types.IntervalValue{Micros: r.IdleTimeout.Microseconds()}, r.LateEvents, r.Partitions})
	}
	for _, v := range s.e.viewWatermarks() {
		ch.AppendRow([]types.Datum{v.Name, "materialized view", v.Watermark, v.Watermark, nil, nil, nil, nil})
	}
	return w.WriteChunk(ch)
}
