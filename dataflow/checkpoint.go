package dataflow

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"runtime"
	"slices"
	"sync"
	"unsafe"

	"github.com/cockroachdb/apd/v3"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// Snapshotter is an operator whose state between two epochs can be written
// out and read back into a fresh instance of the same spec on the same
// worker, which then behaves as the written one would have: whole, or as
// only what changed since its last snapshot (whole or delta), which
// RestoreDelta reads into an instance restored up to the snapshot before
// it. Every snapshot starts the next delta's tracking.
type Snapshotter interface {
	Snapshot(w *SnapshotWriter) error
	Restore(r *SnapshotReader) error
	SnapshotDelta(w *SnapshotWriter) error
	RestoreDelta(r *SnapshotReader) error
	// SnapshotSize estimates the bytes Snapshot would write now, from
	// what the snapshots so far wrote (0 before the first).
	SnapshotSize() int
}

// deltaSizer is a Snapshotter that can estimate, before writing it, what
// its next SnapshotDelta would write (delta) and how much of that is
// state added since the last snapshot rather than written over (growth):
// SnapshotSize would grow by about growth once the delta is written.
type deltaSizer interface {
	SnapshotDeltaSize() (delta, growth int)
}

// stateless marks the operators that keep nothing between epochs: a
// snapshot holds nothing of them.
type stateless interface{ stateless() }

func (passThrough) stateless()     {}
func (*filterOp) stateless()       {}
func (*projectOp) stateless()      {}
func (*windowAssignOp) stateless() {}

// A constant's only state, whether its rows went out, is set by Restore:
// they go out in the first epoch, which a snapshot always follows.
func (*constantOp) stateless() {}

// restoreFinisher is an operator whose restored state is completed (indexes
// rebuilt, checked) once the snapshot and all its deltas are read.
type restoreFinisher interface{ finishRestore() error }

// snapshotFormat is the version of Dataflow.Snapshot's encoding; Restore
// rejects any other.
const snapshotFormat = 2

// Kinds of snapshot: the whole state, or the changes since the one before.
const (
	snapshotFull  = 1
	snapshotDelta = 2
)

// StateLayout is the version of what the operators' snapshots hold and
// mean. Bump it whenever any operator's snapshot layout or the meaning of
// its state changes (even when the encoding still decodes): the engine
// hashes it into a view's plan hash, so a binary of another layout
// computes the view again instead of restoring state it would misread.
const StateLayout = 8

// CanSnapshot reports whether every operator of the dataflow can be
// snapshotted, and otherwise names the first that cannot.
func (d *Dataflow) CanSnapshot() (bool, string) {
	for _, op := range d.workers[0].ops {
		if _, ok := op.(stateless); ok {
			continue
		}
		if _, ok := op.(Snapshotter); ok {
			continue
		}
		return false, fmt.Sprintf("operator %T keeps state it cannot snapshot", op)
	}
	return true, ""
}

// Stateless reports whether no operator of the dataflow keeps state
// between epochs (constants aside, which emit once): its output over a
// stream's history is the same whether the history comes in one epoch or
// many, so replaying the history rebuilds it.
func (d *Dataflow) Stateless() bool {
	for _, op := range d.workers[0].ops {
		if _, ok := op.(stateless); !ok {
			return false
		}
	}
	return true
}

// Snapshot writes the state of every operator on every worker, and the
// sources' watermarks, to w. It must be called between epochs (no Step
// running); the dataflow goes on unchanged. It is the base the next
// SnapshotDelta's changes follow.
func (d *Dataflow) Snapshot(w *SnapshotWriter) error {
	d.awaitRestore()
	if ok, why := d.CanSnapshot(); !ok && d.failed == nil {
		return sqlerr.New(sqlerr.FeatureNotSupported, "dataflow: cannot snapshot: %s", why)
	}
	err := d.snapshot(w, snapshotFull)
	d.snapshotted = err == nil
	return err
}

// SnapshotDelta writes to w what changed since the last Snapshot or
// SnapshotDelta: Restore of that snapshot followed by the deltas taken
// after it, in order, restores the state of the last. It must be called
// between epochs, after a Snapshot.
func (d *Dataflow) SnapshotDelta(w *SnapshotWriter) error {
	d.awaitRestore()
	if !d.snapshotted {
		return sqlerr.Bug("dataflow: delta snapshot without a snapshot before it")
	}
	err := d.snapshot(w, snapshotDelta)
	d.snapshotted = err == nil
	return err
}

func (d *Dataflow) snapshot(w *SnapshotWriter, kind uint64) error {
	if d.failed != nil {
		return d.failed
	}
	w.Uvarint(snapshotFormat)
	w.Uvarint(kind)
	w.Uvarint(uint64(len(d.workers)))
	w.Uvarint(uint64(len(d.g.Nodes)))
	srcs := make([]int, 0, len(d.sourceWatermarks))
	for n := range d.sourceWatermarks {
		srcs = append(srcs, n)
	}
	slices.Sort(srcs)
	w.Uvarint(uint64(len(srcs)))
	for _, n := range srcs {
		w.Uvarint(uint64(n))
		w.Varint(d.sourceWatermarks[n])
	}
	// The workers write their sections at once, each to its own blocks
	// (their operators share nothing, as when they run an epoch): the
	// loop waits for the slowest, not for all of them in turn.
	sections := make([]*SnapshotWriter, len(d.workers))
	err := d.eachWorker(func(wk *worker) error {
		sw := &SnapshotWriter{deferring: w.deferring, deferMin: w.deferMin}
		sections[wk.id] = sw
		for _, op := range wk.ops {
			s, ok := op.(Snapshotter)
			if !ok {
				continue
			}
			var err error
			if kind == snapshotDelta {
				err = s.SnapshotDelta(sw)
			} else {
				err = s.Snapshot(sw)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		// The sections' spill store snapshots are not written.
		for _, sw := range sections {
			if sw != nil {
				err = errors.Join(err, sw.Release())
			}
		}
		return err
	}
	for _, sw := range sections {
		// Each section starts with its length, so that a restore reads
		// the workers' sections in parallel.
		w.uint64LE(uint64(sw.Len()))
		w.Append(sw)
	}
	return nil
}

// SnapshotSize estimates the bytes Snapshot would write now, from what
// the snapshots since the last whole one wrote: a base and deltas that
// hold much more than that hold records written over since (pages
// rewritten, rows changed again), and a new base would be smaller. It
// must be called between epochs.
func (d *Dataflow) SnapshotSize() int {
	d.awaitRestore()
	size := 0
	for _, wk := range d.workers {
		for _, op := range wk.ops {
			if s, ok := op.(Snapshotter); ok {
				size += s.SnapshotSize()
			}
		}
	}
	return size
}

// SnapshotDeltaSize estimates, before it is taken, what SnapshotDelta
// would write now, and of that the state added since the last snapshot
// (SnapshotSize would grow by about as much), so that the engine takes a
// base instead of a delta that rewrites most of the state without
// serializing the delta first. Only the operators that can tell cheaply
// (aggregates, from their changed pages) count; it must be called
// between epochs.
func (d *Dataflow) SnapshotDeltaSize() (delta, growth int) {
	d.awaitRestore()
	for _, wk := range d.workers {
		for _, op := range wk.ops {
			if s, ok := op.(deltaSizer); ok {
				dl, gr := s.SnapshotDeltaSize()
				delta += dl
				growth += gr
			}
		}
	}
	return delta, growth
}

// Restore reads back into a fresh dataflow (no Step run yet) a snapshot
// of one over the same graph and number of workers, then the deltas taken
// after it, in order. After an error the dataflow must be closed and not
// used.
func (d *Dataflow) Restore(b []byte, deltas ...[]byte) error {
	if err := d.restore(b, snapshotFull); err != nil {
		return err
	}
	for i, delta := range deltas {
		if err := d.restore(delta, snapshotDelta); err != nil {
			return fmt.Errorf("delta %d: %w", i+1, err)
		}
	}
	return d.eachWorker(func(wk *worker) error {
		for _, op := range wk.ops {
			if f, ok := op.(restoreFinisher); ok {
				if err := f.finishRestore(); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// RestoreBehind is Restore on a goroutine of its own, so that the caller
// may serve what it holds of the dataflow's output meanwhile (a view's
// rows, read from the same checkpoint): every other method waits for it
// first, and a failed restore fails the dataflow (Step returns its
// error). check, when not nil, runs there first (the caller's check of
// the bytes, such as their checksum, off the caller's path): its error
// fails the restore as Restore's would. done runs once the restore is
// over, with its error, before any method waiting for it returns; it may
// not call the dataflow.
func (d *Dataflow) RestoreBehind(check func() error, done func(error), b []byte, deltas ...[]byte) {
	restored := make(chan struct{})
	d.restoring = restored
	go func() {
		defer close(restored)
		var err error
		if check != nil {
			err = check()
		}
		if err == nil {
			err = d.Restore(b, deltas...)
		}
		if err != nil {
			d.failed = fmt.Errorf("dataflow: restore: %w", err)
		}
		done(err)
	}()
}

// awaitRestore waits for the restore RestoreBehind started, if any.
func (d *Dataflow) awaitRestore() {
	if d.restoring != nil {
		<-d.restoring
		d.restoring = nil
	}
}

// SnapshotAt reports whether snapshot b (a whole one or a delta: the
// last a restore reads) was taken with every source of the dataflow at
// watermarks (by Source node): restored, the dataflow's next epoch
// without changes then has nothing to do (no row to take in, no
// watermark moved), and outputs nothing.
func (d *Dataflow) SnapshotAt(b []byte, watermarks map[int]int64) bool {
	r := &SnapshotReader{b: b}
	r.Uvarint() // format
	r.Uvarint() // kind
	r.Uvarint() // workers
	r.Uvarint() // nodes
	taken := map[int]int64{}
	for range r.Len(len(d.g.Nodes)) {
		n := int(r.Uvarint())
		taken[n] = r.Varint()
	}
	if r.err != nil {
		return false
	}
	for _, n := range d.g.Nodes {
		src, ok := n.Spec.(*Source)
		if !ok || src.Reference || len(n.Inputs) > 0 {
			continue
		}
		wm, given := watermarks[n.ID]
		at, ok := taken[n.ID]
		if !ok || given && wm != at {
			return false
		}
	}
	return true
}

// eachWorker runs f on every worker at once, as Step runs them: a worker's
// operators share nothing with another's. It returns the first error.
func (d *Dataflow) eachWorker(f func(wk *worker) error) error {
	errs := make([]error, len(d.workers))
	var wg sync.WaitGroup
	for i, wk := range d.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(wk)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (d *Dataflow) restore(b []byte, kind uint64) error {
	r := &SnapshotReader{b: b}
	if v := r.Uvarint(); v != snapshotFormat && r.err == nil {
		return sqlerr.New(sqlerr.DataCorrupted, "dataflow snapshot: format %d, want %d", v, snapshotFormat)
	}
	if k := r.Uvarint(); k != kind && r.err == nil {
		return sqlerr.New(sqlerr.DataCorrupted, "dataflow snapshot: kind %d, want %d", k, kind)
	}
	if n := r.Uvarint(); n != uint64(len(d.workers)) && r.err == nil {
		return sqlerr.New(sqlerr.DataCorrupted, "dataflow snapshot: %d workers, want %d", n, len(d.workers))
	}
	if n := r.Uvarint(); n != uint64(len(d.g.Nodes)) && r.err == nil {
		return sqlerr.New(sqlerr.DataCorrupted, "dataflow snapshot: %d nodes, want %d", n, len(d.g.Nodes))
	}
	for range r.Len(len(d.g.Nodes)) {
		n := int(r.Uvarint())
		d.sourceWatermarks[n] = r.Varint()
	}
	sections := make([]*SnapshotReader, len(d.workers))
	for i := range sections {
		b := r.bytes(8)
		if r.err != nil {
			return r.err
		}
		sections[i] = &SnapshotReader{b: r.bytes(int(min(binary.LittleEndian.Uint64(b), uint64(len(r.b)+1))))}
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d bytes left over", len(r.b))
	}
	if r.err != nil {
		return r.err
	}
	return d.eachWorker(func(wk *worker) error {
		return restoreWorker(wk, sections[wk.id], kind)
	})
}

// restoreWorker reads one worker's section of a snapshot into its
// operators.
func restoreWorker(wk *worker, r *SnapshotReader, kind uint64) error {
	for _, op := range wk.ops {
		if c, ok := op.(*constantOp); ok {
			c.done = true
		}
		s, ok := op.(Snapshotter)
		if !ok {
			continue
		}
		var err error
		if kind == snapshotDelta {
			err = s.RestoreDelta(r)
		} else {
			err = s.Restore(r)
		}
		if err != nil {
			return err
		}
		if r.err != nil {
			return r.err
		}
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d bytes left over", len(r.b))
	}
	return r.err
}

// SnapshotWriter appends a snapshot's values to a list of blocks: integers
// as varints, columns as whole arrays. A full block is left as it is and
// the next values go to a new one, so a large snapshot is never copied to
// grow (as one growing buffer was, about twice over); Parts hands the
// blocks to the file's writer as they are.
type SnapshotWriter struct {
	// buf is the block being filled: appends to it never pass its
	// capacity (ensure or write starts a new block first).
	buf []byte
	// full are the blocks before buf, in order; fullLen their bytes.
	full    [][]byte
	fullLen int
	// scratch holds one value's encoding on its way into buf (Vec), so
	// that values are not allocated one by one.
	scratch []byte
	// spare are emptied blocks that Reset kept for newBlock to fill again.
	spare [][]byte
	// appended is set once Append gave w blocks it does not own, or split
	// one: Reset then keeps none.
	appended bool
	// deferring: VecLater leaves a column's encoding to Finish (see
	// NewDeferredSnapshotWriter); pending are the columns left, each
	// with the block of full it fills, a nil placeholder until then.
	deferring bool
	pending   []pendingVec
	// deferMin is the least bytes of a column VecLater defers
	// (minDeferredVec; tests defer every column).
	deferMin int
	// streams are the parts StreamLater left to WriteTo, in order, each
	// with the block of full it takes the place of (nil); streamedLen is
	// their bytes, which no block holds.
	streams     []pendingStream
	streamedLen int
}

// pendingStream is a part StreamLater left to WriteTo: block is its place
// in full, size the bytes it takes (counted in fullLen already), write
// writes it and release frees what it reads (nil once called).
type pendingStream struct {
	block   int
	size    int
	write   func(w *SnapshotWriter, flush func() error) error
	release func() error
}

// pendingVec is a column VecLater left to Finish: block is its place in
// full, size the bytes its encoding takes (counted in fullLen already).
type pendingVec struct {
	block int
	v     *coldata.Vec
	size  int
}

// Blocks grow from minSnapshotBlock, doubling with what was written
// (streamed parts aside: a state of few rows held and many spilled takes
// small blocks), up to maxSnapshotBlock: a small delta takes little
// memory, a large base goes in blocks few enough to write one by one.
const (
	minSnapshotBlock = 64 << 10
	maxSnapshotBlock = 4 << 20
)

// minDeferredVec is the least bytes of a column VecLater defers: a
// smaller one costs the loop less to encode than its own block would the
// writer.
const minDeferredVec = 4 << 10

// NewSnapshotWriter returns a writer appending to buf (its first block;
// nil for none).
func NewSnapshotWriter(buf []byte) *SnapshotWriter { return &SnapshotWriter{buf: buf} }

// NewDeferredSnapshotWriter returns a writer whose VecLater leaves the
// encoding of columns of computable size (integers, floats, booleans,
// text, intervals: most of a join's or top-N's rows) to Finish. A
// checkpoint is taken on the dataflows loop, which must not wait for the
// state's bytes to be copied: the operators gather their rows into
// columns of their own there (the strings shared, not copied), and the
// checkpoint writer encodes them. Len counts them from the start, so
// the loop still knows the snapshot's size exactly.
func NewDeferredSnapshotWriter() *SnapshotWriter {
	return &SnapshotWriter{deferring: true, deferMin: minDeferredVec}
}

// ensure makes room for n more bytes in the block being filled.
func (w *SnapshotWriter) ensure(n int) {
	if cap(w.buf)-len(w.buf) < n {
		w.newBlock(n)
	}
}

// newBlock seals the block being filled and starts one of n bytes at
// least.
func (w *SnapshotWriter) newBlock(n int) {
	if len(w.buf) > 0 {
		w.full = append(w.full, w.buf)
		w.fullLen += len(w.buf)
	}
	size := max(n, min(maxSnapshotBlock, max(minSnapshotBlock, w.fullLen-w.streamedLen)))
	// The spare blocks are largest first: take the smallest that fits.
	for k := len(w.spare) - 1; k >= 0; k-- {
		if cap(w.spare[k]) >= size {
			w.buf = w.spare[k]
			w.spare = slices.Delete(w.spare, k, k+1)
			return
		}
	}
	w.buf = make([]byte, 0, size)
}

// maxSpareSnapshotBytes bounds the blocks Reset keeps.
const maxSpareSnapshotBytes = 64 << 20

// Reset empties w to be written again, keeping up to
// maxSpareSnapshotBytes of its blocks to fill: a writer reused for each
// checkpoint writes into memory it has touched before, not fresh pages
// for the kernel to fault in and the collector to sweep. What Parts and
// Bytes returned must not be used after. A writer given blocks by Append
// keeps none: they are not its own.
func (w *SnapshotWriter) Reset() {
	kept := 0
	for _, b := range w.spare {
		kept += cap(b)
	}
	for _, b := range append(w.full, w.buf) {
		if !w.appended && cap(b) >= minSnapshotBlock && kept+cap(b) <= maxSpareSnapshotBytes {
			w.spare = append(w.spare, b[:0])
			kept += cap(b)
		}
	}
	slices.SortFunc(w.spare, func(a, b []byte) int { return cap(b) - cap(a) })
	clear(w.full)
	w.buf, w.full, w.fullLen, w.appended, w.pending, w.streams, w.streamedLen = nil, w.full[:0], 0, false, nil, nil, 0
}

// write appends p, across blocks when it does not fit the one being
// filled.
func write[S ~string | ~[]byte](w *SnapshotWriter, p S) {
	for len(p) > 0 {
		if len(w.buf) == cap(w.buf) {
			w.newBlock(min(len(p), maxSnapshotBlock))
		}
		n := min(len(p), cap(w.buf)-len(w.buf))
		w.buf = append(w.buf, p[:n]...)
		p = p[n:]
	}
}

// Len returns the bytes written.
func (w *SnapshotWriter) Len() int { return w.fullLen + len(w.buf) }

// Finish encodes the columns VecLater left, into blocks of their own in
// their place. It may be called from any goroutine once nothing is
// written to w any more; Parts and Bytes must not be called before it.
func (w *SnapshotWriter) Finish() error {
	for _, p := range w.pending {
		// The slack keeps ensure, which wants room for a whole varint,
		// from starting a block for the last values.
		col := &SnapshotWriter{buf: make([]byte, 0, p.size+binary.MaxVarintLen64)}
		if err := col.Vec(p.v); err != nil {
			return err
		}
		if col.Len() != p.size || len(col.full) != 0 {
			return sqlerr.Bug("dataflow snapshot: a %s column took %d bytes, %d counted", p.v.Typ, col.Len(), p.size)
		}
		w.full[p.block] = col.buf
	}
	w.pending = nil
	return nil
}

// VecLater writes v as Vec does; a deferring writer leaves the encoding
// to Finish when it can count its bytes now (vecSize), v then being the
// writer's: it must not change after.
func (w *SnapshotWriter) VecLater(v *coldata.Vec) error {
	if !w.deferring {
		return w.Vec(v)
	}
	size, ok := vecSize(v)
	if !ok || size < w.deferMin {
		return w.Vec(v)
	}
	w.seal()
	w.pending = append(w.pending, pendingVec{block: len(w.full), v: v, size: size})
	w.full = append(w.full, nil)
	w.fullLen += size
	return nil
}

// StreamLater writes a part of size bytes by calling write, which may
// call flush between pieces of it, then release. A deferring writer
// leaves it to WriteTo, which writes each piece where it goes and empties
// the block it was written in, so that a part larger than memory (an
// operator's spilled state, read from a spill store snapshot) is never
// held whole; write then runs on the writer's goroutine and must read
// nothing the loop changes. Len counts size from now on, and the bytes
// written must be exactly size.
func (w *SnapshotWriter) StreamLater(size int, write func(w *SnapshotWriter, flush func() error) error, release func() error) error {
	p := pendingStream{size: size, write: write, release: release}
	if !w.deferring {
		from := w.Len()
		return p.writeThrough(w, func() error { return nil }, func() int { return w.Len() - from })
	}
	w.seal()
	p.block = len(w.full)
	w.streams = append(w.streams, p)
	w.full = append(w.full, nil)
	w.fullLen += size
	w.streamedLen += size
	return nil
}

// writeThrough writes part p to w, whose flush writes out what w holds,
// releases it, and checks that it took the bytes counted: written says
// how many it took once flushed.
func (p *pendingStream) writeThrough(w *SnapshotWriter, flush func() error, written func() int) error {
	err := p.write(w, flush)
	if err == nil {
		err = flush()
	}
	release := p.release
	p.release = nil
	err = errors.Join(err, release())
	if n := written(); err == nil && n != p.size {
		err = sqlerr.Bug("dataflow snapshot: a streamed part took %d bytes, %d counted", n, p.size)
	}
	return err
}

// WriteTo writes what was written to dst, in order: the blocks as they
// are, and each part StreamLater left through a block of its own,
// written out at each flush and emptied, then released. Finish must have
// been called. It releases every streamed part, written or not.
func (w *SnapshotWriter) WriteTo(dst io.Writer) (int64, error) {
	defer w.Release()
	var n int64
	var part *SnapshotWriter
	next := 0 // the next of w.streams
	for i, b := range w.Parts() {
		if next == len(w.streams) || w.streams[next].block != i {
			m, err := dst.Write(b)
			n += int64(m)
			if err != nil {
				return n, err
			}
			continue
		}
		p := &w.streams[next]
		next++
		if part == nil {
			part = NewSnapshotWriter(nil)
		}
		written := 0
		flush := func() error {
			for _, b := range part.Parts() {
				m, err := dst.Write(b)
				written += m
				if err != nil {
					return err
				}
			}
			part.Reset()
			return nil
		}
		err := p.writeThrough(part, flush, func() int { return written })
		n += int64(written)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Release frees what the parts StreamLater left and WriteTo did not
// write read from (spill store snapshots): a snapshot taken and not
// written (the loop replaced it, or the writer failed) must release them.
// It may be called more than once.
func (w *SnapshotWriter) Release() error {
	var err error
	for i := range w.streams {
		if r := w.streams[i].release; r != nil {
			w.streams[i].release = nil
			err = errors.Join(err, r())
		}
	}
	return err
}

// seal ends the blocks before what is written next: the block being
// filled joins full, and its rest is still w's to fill.
func (w *SnapshotWriter) seal() {
	if len(w.buf) > 0 {
		w.full = append(w.full, w.buf)
		w.fullLen += len(w.buf)
	}
	w.buf = w.buf[len(w.buf):len(w.buf):cap(w.buf)]
}

// vecSize returns the bytes Vec writes of v, when they follow from the
// values' lengths (not for decimals and datums, whose text is their
// encoding).
func vecSize(v *coldata.Vec) (int, bool) {
	n := v.Len()
	size := uvarintLen(uint64(n)) + 1
	if v.HasNulls() {
		size += n
	}
	switch v.Typ.Phys() {
	case types.PhysBool:
		size += n
	case types.PhysInt, types.PhysFloat:
		size += 8 * n
	case types.PhysBytes:
		for _, s := range v.Bytes[:n] {
			size += uvarintLen(uint64(len(s))) + len(s)
		}
	case types.PhysInterval:
		for _, x := range v.Ivals[:n] {
			size += varintLen(int64(x.Months)) + varintLen(int64(x.Days)) + varintLen(x.Micros)
		}
	default:
		return 0, false
	}
	return size, true
}

func uvarintLen(x uint64) int { return (bits.Len64(x|1) + 6) / 7 }

// varintLen is the length of x zig-zag encoded, as binary.AppendVarint.
func varintLen(x int64) int { return uvarintLen(uint64(x<<1) ^ uint64(x>>63)) }

// Parts returns the blocks written, in order; they stay the writer's.
// A part StreamLater left is a nil block until WriteTo writes it.
func (w *SnapshotWriter) Parts() [][]byte {
	if len(w.buf) == 0 {
		return w.full
	}
	return append(w.full[:len(w.full):len(w.full)], w.buf)
}

// Bytes returns what was written, in one slice (copied when it spans
// blocks; later writes may change it), without the parts StreamLater
// left (WriteTo writes those).
func (w *SnapshotWriter) Bytes() []byte {
	if len(w.full) == 0 {
		return w.buf
	}
	b := make([]byte, 0, w.Len())
	for _, p := range w.Parts() {
		b = append(b, p...)
	}
	return b
}

// Append adds what o wrote after what w wrote, taking o's blocks as they
// are: o must not be written to after.
func (w *SnapshotWriter) Append(o *SnapshotWriter) {
	parts := o.Parts()
	if len(parts) == 0 {
		return
	}
	w.seal()
	for _, p := range o.pending {
		p.block += len(w.full)
		w.pending = append(w.pending, p)
	}
	for _, p := range o.streams {
		p.block += len(w.full)
		w.streams = append(w.streams, p)
	}
	o.pending, o.streams = nil, nil
	w.full = append(w.full, parts...)
	w.fullLen += o.Len()
	w.streamedLen += o.streamedLen
	w.appended = true
}

func (w *SnapshotWriter) Uvarint(x uint64) {
	w.ensure(binary.MaxVarintLen64)
	w.buf = binary.AppendUvarint(w.buf, x)
}

func (w *SnapshotWriter) Varint(x int64) {
	w.ensure(binary.MaxVarintLen64)
	w.buf = binary.AppendVarint(w.buf, x)
}

func (w *SnapshotWriter) Bool(b bool) {
	var x uint64
	if b {
		x = 1
	}
	w.Uvarint(x)
}

func (w *SnapshotWriter) String(s string) {
	w.Uvarint(uint64(len(s)))
	write(w, s)
}

// Blob writes b as String does, without converting it.
func (w *SnapshotWriter) Blob(b []byte) {
	w.Uvarint(uint64(len(b)))
	write(w, b)
}

// uint64LE writes x as 8 bytes, little-endian.
func (w *SnapshotWriter) uint64LE(x uint64) {
	w.ensure(8)
	w.buf = binary.LittleEndian.AppendUint64(w.buf, x)
}

// littleEndian: the machine's words are laid out as snapshots store them,
// so arrays of them are copied as they are.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// writeWords writes xs little-endian: one copy of their memory on a
// little-endian machine.
func writeWords[T int64 | uint64 | int32 | uint32](w *SnapshotWriter, xs []T) {
	if len(xs) == 0 {
		return
	}
	size := int(unsafe.Sizeof(xs[0]))
	if littleEndian {
		write(w, unsafe.Slice((*byte)(unsafe.Pointer(&xs[0])), size*len(xs)))
		return
	}
	for _, x := range xs {
		if size == 8 {
			w.uint64LE(uint64(x))
		} else {
			w.ensure(4)
			w.buf = binary.LittleEndian.AppendUint32(w.buf, uint32(x))
		}
	}
}

// Int64s writes a length and fixed-width words: the bulk of group state.
func (w *SnapshotWriter) Int64s(xs []int64) {
	w.Uvarint(uint64(len(xs)))
	writeWords(w, xs)
}

func (w *SnapshotWriter) Int32s(xs []int32) {
	w.Uvarint(uint64(len(xs)))
	writeWords(w, xs)
}

func (w *SnapshotWriter) Uint32s(xs []uint32) {
	w.Uvarint(uint64(len(xs)))
	writeWords(w, xs)
}

// Vec writes the values of v, a column at a time by its physical type.
func (w *SnapshotWriter) Vec(v *coldata.Vec) error {
	n := v.Len()
	w.Uvarint(uint64(n))
	hasNulls := v.HasNulls()
	w.Bool(hasNulls)
	if hasNulls {
		for i := range n {
			w.Bool(v.IsNull(i))
		}
	}
	switch v.Typ.Phys() {
	case types.PhysBool:
		for _, b := range v.Bools[:n] {
			w.Bool(b)
		}
	case types.PhysInt:
		writeWords(w, v.Ints[:n])
	case types.PhysFloat:
		for _, f := range v.Floats[:n] {
			w.uint64LE(math.Float64bits(f))
		}
	case types.PhysDecimal:
		// The text keeps the exponent: 1.00 reads back as 1.00.
		for i := range v.Decs[:n] {
			w.scratch = v.Decs[i].Append(w.scratch[:0], 'G')
			w.Blob(w.scratch)
		}
	case types.PhysBytes:
		for _, s := range v.Bytes[:n] {
			w.String(s)
		}
	case types.PhysInterval:
		for _, x := range v.Ivals[:n] {
			w.Varint(int64(x.Months))
			w.Varint(int64(x.Days))
			w.Varint(x.Micros)
		}
	default:
		for i, d := range v.Datums[:n] {
			if v.IsNull(i) {
				continue
			}
			b, err := types.AppendBinary(w.scratch[:0], v.Typ, d)
			if err != nil {
				return fmt.Errorf("dataflow snapshot: %w", err)
			}
			w.scratch = b
			w.Blob(b)
		}
	}
	return nil
}

// SnapshotReader reads what a SnapshotWriter wrote. The first error sticks:
// later reads return zero values, and Err reports it.
type SnapshotReader struct {
	b   []byte
	err error
	// cols, when not nil, holds the columns Vec reads: ReadRows and
	// ReadChanges set it.
	cols *columnBlocks
	// inPlace: the columns Vec reads point into b where they can
	// (InPlace).
	inPlace bool
}

// InPlace has the columns r's Vec reads, and ReadRows' and ReadChanges'
// with their diffs, point into the bytes r reads instead of into copies
// where the encoding allows: text, and, on a little-endian machine that
// loads words at any address (wordsInPlace), ints, timestamps and floats;
// it returns r. The caller must keep those bytes as long as any value
// read may be used, and changed only by writes to the values (a restore
// maps its files private and its rows writable: a write copies a page).
// Copying them took most of a restart's decoding, into fresh memory that
// a restart after an idle spell faults in at a high cost.
func (r *SnapshotReader) InPlace() *SnapshotReader {
	r.inPlace = true
	return r
}

// unalignedWords: the machine loads a word from any address, so that a
// column's words may be read where they lie in a snapshot.
const unalignedWords = runtime.GOARCH == "amd64" || runtime.GOARCH == "arm64"

// wordsInPlace reports whether r reads columns of words in place.
func (r *SnapshotReader) wordsInPlace() bool { return r.inPlace && littleEndian && unalignedWords }

// wordsAt returns the len(b)/8 little-endian words b holds, in place
// (wordsInPlace), of capacity their count: an append copies them.
func wordsAt[T int64 | float64](b []byte) []T {
	if len(b) < 8 {
		return nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/8)
}

// columnBlocks hands out the memory of the columns of a view's rows, read
// by the million at a restore, from blocks advised for huge pages
// (makeHuge) rather than a small allocation per chunk and column, each in
// fresh pages that fault as first touched. A column gets exactly its rows'
// memory: a Vec never grows into the next one's.
type columnBlocks struct {
	// rows is the rows to read (as counted, bounded by the bytes): a
	// block holds no more, so that a small view takes small ones.
	rows int
	ints []int64
	decs []apd.Decimal
	strs []string
	// text holds the bytes of the text columns' strings.
	text []byte
}

// columnBlockRows is the most rows of a block of columnBlocks.
const columnBlockRows = 1 << 20

// textBlockBytes is the most bytes of a block of text a restore copies
// strings into (columnBlocks.text, an aggregate's keys): a block lives
// while any of its strings does, so it holds at most the text restored.
const textBlockBytes = 8 << 20

// cutBlock returns an empty slice of capacity n from *block, which it
// replaces by a new one of size (at least n) when it has not n left.
func cutBlock[T any](block *[]T, n, size int) []T {
	if cap(*block)-len(*block) < n {
		*block = makeHuge[T](max(n, size))[:0]
	}
	b := *block
	*block = b[:len(b)+n]
	return b[len(b) : len(b) : len(b)+n]
}

// cutText returns an empty slice of capacity n from *block, a new block
// when it has not n left, of at most textBlockBytes and of no more than
// left, the bytes left to read, which bound the text left: a small
// snapshot takes a small block.
func cutText(block *[]byte, n, left int) []byte {
	return cutBlock(block, n, min(left, textBlockBytes))
}

// newVec returns an empty column of type t with room for n values (none
// for words read in place).
func (r *SnapshotReader) newVec(t *types.T, n int) *coldata.Vec {
	if p := t.Phys(); (p == types.PhysInt || p == types.PhysFloat) && r.wordsInPlace() {
		return &coldata.Vec{Typ: t}
	}
	if r.cols != nil {
		return r.cols.vec(t, n)
	}
	return coldata.NewVec(t, n)
}

// vec returns an empty column of type t with room for n values, cut from
// the blocks when its type's values are numbers or strings.
func (b *columnBlocks) vec(t *types.T, n int) *coldata.Vec {
	rows := min(b.rows, columnBlockRows)
	switch t.Phys() {
	case types.PhysInt:
		return &coldata.Vec{Typ: t, Ints: cutBlock(&b.ints, n, rows)}
	case types.PhysDecimal:
		return &coldata.Vec{Typ: t, Decs: cutBlock(&b.decs, n, rows)}
	case types.PhysBytes:
		return &coldata.Vec{Typ: t, Bytes: cutBlock(&b.strs, n, rows)}
	}
	return coldata.NewVec(t, n)
}

// filledVec is vec holding n zero values.
func (b *columnBlocks) filledVec(t *types.T, n int) *coldata.Vec {
	switch t.Phys() {
	case types.PhysInt:
		v := b.vec(t, n)
		v.Ints = v.Ints[:n]
		return v
	case types.PhysDecimal:
		v := b.vec(t, n)
		v.Decs = v.Decs[:n]
		return v
	case types.PhysBytes:
		v := b.vec(t, n)
		v.Bytes = v.Bytes[:n]
		return v
	}
	return coldata.MakeVec(t, n)
}

func (r *SnapshotReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = sqlerr.New(sqlerr.DataCorrupted, "dataflow snapshot: "+format, args...)
	}
	r.b = nil
}

// Err returns the first error met.
func (r *SnapshotReader) Err() error { return r.err }

func (r *SnapshotReader) Uvarint() uint64 {
	x, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("truncated")
		return 0
	}
	r.b = r.b[n:]
	return x
}

func (r *SnapshotReader) Varint() int64 {
	x, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("truncated")
		return 0
	}
	r.b = r.b[n:]
	return x
}

func (r *SnapshotReader) Bool() bool { return r.Uvarint() != 0 }

// Len reads a count, bounded by what is left to read (each item takes a
// byte at least) and by limit when positive, so that a damaged count never
// allocates without bound.
func (r *SnapshotReader) Len(limit int) int {
	n := r.Uvarint()
	if n > uint64(len(r.b)) || (limit > 0 && n > uint64(limit)) {
		r.fail("count %d out of range", n)
		return 0
	}
	return int(n)
}

func (r *SnapshotReader) bytes(n int) []byte {
	if n < 0 || n > len(r.b) {
		r.fail("truncated")
		return nil
	}
	b := r.b[:n:n]
	r.b = r.b[n:]
	return b
}

func (r *SnapshotReader) String() string { return string(r.Bytes()) }

// Bytes reads what String wrote, without copying it: the result shares
// the reader's memory.
func (r *SnapshotReader) Bytes() []byte { return r.bytes(r.Len(0)) }

// readWords reads n little-endian words: one copy on a little-endian
// machine.
func readWords[T int64 | uint64 | int32 | uint32](r *SnapshotReader) []T {
	n := r.Uvarint()
	var zero T
	b := r.bytes(int(min(n, uint64(len(r.b)+1))) * int(unsafe.Sizeof(zero)))
	if r.err != nil {
		return nil
	}
	xs := make([]T, n)
	decodeWords(xs, b)
	return xs
}

// decodeWords sets xs from b, len(xs) little-endian words.
func decodeWords[T int64 | uint64 | int32 | uint32](xs []T, b []byte) {
	if littleEndian && len(xs) > 0 {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&xs[0])), len(b)), b)
		return
	}
	for i := range xs {
		if unsafe.Sizeof(xs[0]) == 8 {
			xs[i] = T(binary.LittleEndian.Uint64(b[8*i:]))
		} else {
			xs[i] = T(binary.LittleEndian.Uint32(b[4*i:]))
		}
	}
}

// int64sInto reads what Int64s reads into dst, which it must fill exactly.
func (r *SnapshotReader) int64sInto(dst []int64) {
	if n := r.Uvarint(); r.err == nil && n != uint64(len(dst)) {
		r.fail("%d words, want %d", n, len(dst))
	}
	b := r.bytes(8 * len(dst))
	if r.err == nil {
		decodeWords(dst, b)
	}
}

func (r *SnapshotReader) Int64s() []int64   { return readWords[int64](r) }
func (r *SnapshotReader) Int32s() []int32   { return readWords[int32](r) }
func (r *SnapshotReader) Uint32s() []uint32 { return readWords[uint32](r) }

// Vec reads a column of type t.
func (r *SnapshotReader) Vec(t *types.T) *coldata.Vec {
	n := r.Len(0)
	v := r.newVec(t, n)
	var nulls []bool
	if r.Bool() {
		nulls = make([]bool, n)
		for i := range nulls {
			nulls[i] = r.Bool()
		}
	}
	if r.err != nil {
		return v
	}
	switch t.Phys() {
	case types.PhysBool:
		for range n {
			v.Bools = append(v.Bools, r.Bool())
		}
	case types.PhysInt:
		// In place, or one copy of the words on a little-endian machine,
		// not a decode and an append per value.
		if b := r.bytes(8 * n); r.wordsInPlace() {
			v.Ints = wordsAt[int64](b)
		} else if r.err == nil {
			v.Ints = slices.Grow(v.Ints, n)[:n]
			decodeWords(v.Ints, b)
		}
	case types.PhysFloat:
		b := r.bytes(8 * n)
		if r.wordsInPlace() {
			v.Floats = wordsAt[float64](b)
			break
		}
		for i := 0; i < len(b); i += 8 {
			v.Floats = append(v.Floats, math.Float64frombits(binary.LittleEndian.Uint64(b[i:])))
		}
	case types.PhysDecimal:
		v.Decs = v.Decs[:n]
		for i := range n {
			b := r.Bytes()
			if setDecimalText(&v.Decs[i], b) {
				continue
			}
			if _, _, err := v.Decs[i].SetString(string(b)); err != nil && r.err == nil {
				r.fail("decimal: %v", err)
			}
		}
	case types.PhysBytes:
		if r.inPlace {
			for range n {
				b := r.Bytes()
				v.Bytes = append(v.Bytes, unsafe.String(unsafe.SliceData(b), len(b)))
			}
			break
		}
		// One block holds the column's strings: a string each was most
		// of a restore's allocations (and of the GC's work after it). A
		// block lives while any of its strings does, which holds at most
		// the column's bytes as read (a view's rows': the rows' text).
		from, size := r.b, 0
		for range n {
			size += len(r.Bytes())
		}
		if r.err != nil {
			break
		}
		r.b = from
		var block []byte
		if r.cols != nil {
			// A view's rows at a restore: from blocks advised for huge
			// pages, not fresh small pages that fault as first touched.
			block = cutText(&r.cols.text, size, len(r.b))
		} else {
			block = make([]byte, 0, size)
		}
		for range n {
			b := r.Bytes()
			if len(b) == 0 {
				v.Bytes = append(v.Bytes, "")
				continue
			}
			off := len(block)
			block = append(block, b...)
			v.Bytes = append(v.Bytes, unsafe.String(&block[off], len(b)))
		}
	case types.PhysInterval:
		for range n {
			v.Ivals = append(v.Ivals, types.IntervalValue{Months: int32(r.Varint()), Days: int32(r.Varint()), Micros: r.Varint()})
		}
	default:
		v.Datums = make([]types.Datum, n)
		for i := range n {
			if nulls != nil && nulls[i] {
				continue
			}
			d, err := types.ParseBinary(t, []byte(r.String()))
			if err != nil && r.err == nil {
				r.fail("%v", err)
			}
			v.Datums[i] = d
		}
	}
	if r.err != nil {
		return coldata.NewVec(t, 0)
	}
	v.Nulls = nulls
	return v
}

// NewSnapshotReader returns a reader of b.
func NewSnapshotReader(b []byte) *SnapshotReader { return &SnapshotReader{b: b} }

// Rest returns what is left to read.
func (r *SnapshotReader) Rest() []byte { return r.b }

// WriteRows writes the visible rows of s, a copy per unit of multiplicity,
// as columns in chunks, then an empty chunk, calling flush (when not nil)
// after each chunk: a checkpoint's writer writes out what w holds. The
// snapshot may be written from any goroutine while the arrangement goes
// on. The rows go in the
// order they are held, not in key order (which would spare a restore's
// load its sort): gathering a million rows of random keys in key order
// (ScanRange) took 1.1-1.6 s of the writer's CPU, against 0.1-0.6 s.
func (s *ArrangementSnapshot) WriteRows(w *SnapshotWriter, flush func() error) error {
	w.Uvarint(uint64(s.Len()))
	next := s.Scan()
	for c := next(); c != nil; c = next() {
		w.Uvarint(uint64(c.Len))
		for _, v := range c.Cols {
			if err := w.Vec(v); err != nil {
				return err
			}
		}
		if flush != nil {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	w.Uvarint(0)
	return nil
}

// ReadRows reads rows of types typs that WriteRows wrote, as insertions
// (diffs 1), in the chunks they were written in: a restore hands them to
// the arrangement as they are, without copying them into one. The chunks
// decode on every CPU (readChunks).
func ReadRows(r *SnapshotReader, typs []*types.T) ([]*coldata.Chunk, error) {
	return readChunks(r, typs, false)
}

// WriteChanges writes changes (rows with their diffs) as WriteRows writes
// rows: a count, then per chunk its rows, its diffs as words and a column
// per column, then an empty chunk. A view's delta checkpoint holds its
// output's changes since the checkpoint before.
func WriteChanges(w *SnapshotWriter, changes []*coldata.Chunk) error {
	total := 0
	for _, c := range changes {
		total += c.Len
	}
	w.Uvarint(uint64(total))
	for _, c := range changes {
		if c.Len == 0 {
			continue
		}
		w.Uvarint(uint64(c.Len))
		if c.Diffs == nil {
			// Insertions only.
			w.Uvarint(uint64(c.Len))
			for range c.Len {
				w.uint64LE(1)
			}
		} else {
			w.Int64s(c.Diffs[:c.Len])
		}
		for _, v := range c.Cols {
			if err := w.Vec(v.Slice(0, c.Len)); err != nil {
				return err
			}
		}
	}
	w.Uvarint(0)
	return nil
}

// ReadChanges reads what WriteChanges wrote, rows of types typs with their
// diffs, in the chunks they were written in, decoded on every CPU.
func ReadChanges(r *SnapshotReader, typs []*types.T) ([]*coldata.Chunk, error) {
	return readChunks(r, typs, true)
}

// readChunks reads what WriteRows (diffs false) or WriteChanges (diffs
// true) wrote. The chunks are independent: one pass skips over them to
// find where each starts (a column of numbers is skipped whole, one of
// text a length at a time), then the runs of chunks of about equal bytes
// decode at once, one a CPU, each into blocks of its own. Decoding them
// on one goroutine took a third of a restart's time to serving at 8 M
// groups.
func readChunks(r *SnapshotReader, typs []*types.T, diffs bool) ([]*coldata.Chunk, error) {
	// The count is checked against the rows read, not used to allocate:
	// a damaged one must not allocate rows the columns do not hold.
	total := r.Len(0)
	runs := splitChunks(r, typs, diffs, runtime.GOMAXPROCS(0))
	if r.err != nil {
		return nil, r.err
	}
	read := 0
	for _, run := range runs {
		read += run.rows
	}
	if read != total {
		r.fail("%d rows, the count says %d", read, total)
		return nil, r.err
	}
	parts := make([][]*coldata.Chunk, len(runs))
	errs := make([]error, len(runs))
	var wg sync.WaitGroup
	for i, run := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			parts[i], errs[i] = run.decode(typs, diffs, r.inPlace)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return slices.Concat(parts...), nil
}

// chunkRun is a run of whole chunks of rows in a snapshot: how many, their
// rows and their bytes.
type chunkRun struct {
	chunks, rows int
	b            []byte
}

// splitChunks reads past the chunks r holds up to the empty one ending
// them, and cuts them into at most parts runs of about equal bytes.
func splitChunks(r *SnapshotReader, typs []*types.T, diffs bool, parts int) []chunkRun {
	from := r.b
	var ends, rows []int // each chunk's end in from, and rows
	for {
		n := r.Len(0)
		if n == 0 || r.err != nil {
			break
		}
		if diffs {
			r.skipWords(8)
		}
		for _, t := range typs {
			r.skipVec(t)
		}
		if r.err != nil {
			return nil
		}
		ends = append(ends, len(from)-len(r.b))
		rows = append(rows, n)
	}
	if r.err != nil || len(ends) == 0 {
		return nil
	}
	size := ends[len(ends)-1]
	var runs []chunkRun
	start, first := 0, 0
	for i, end := range ends {
		// A run ends at the first chunk end past its share of the bytes.
		if i < len(ends)-1 && end*parts < (len(runs)+1)*size {
			continue
		}
		run := chunkRun{chunks: i + 1 - first, b: from[start:end:end]}
		for _, n := range rows[first : i+1] {
			run.rows += n
		}
		runs = append(runs, run)
		start, first = end, i+1
	}
	return runs
}

// decode reads the run's chunks of rows of types typs, with their diffs
// when diffs (else insertions: diffs 1), in place in run.b when inPlace
// (SnapshotReader.InPlace).
func (run chunkRun) decode(typs []*types.T, diffs, inPlace bool) ([]*coldata.Chunk, error) {
	r := &SnapshotReader{b: run.b, cols: &columnBlocks{rows: run.rows}, inPlace: inPlace}
	out := make([]*coldata.Chunk, 0, run.chunks)
	// NB: insertions' chunks share one block of ones as their diffs (each
	// of its length as capacity, so that an append copies): a diff of
	// 1 a row was 8 of the 110 bytes a row took decoded. Nothing writes
	// to the diffs of the chunks it is given.
	var ones []int64
	for range run.chunks {
		n := r.Len(0)
		c := &coldata.Chunk{Len: n, Cols: make([]*coldata.Vec, len(typs))}
		switch {
		case diffs && r.wordsInPlace():
			if m := r.Uvarint(); m != uint64(n) && r.err == nil {
				r.fail("%d diffs, want %d", m, n)
			}
			c.Diffs = wordsAt[int64](r.bytes(8 * n))
		case diffs:
			c.Diffs = cutBlock(&r.cols.ints, n, min(r.cols.rows, columnBlockRows))[:n]
			r.int64sInto(c.Diffs)
		case n <= len(ones):
			c.Diffs = ones[:n:n]
		default:
			ones = make([]int64, n)
			for i := range ones {
				ones[i] = 1
			}
			c.Diffs = ones
		}
		for i, t := range typs {
			if c.Cols[i] = r.Vec(t); c.Cols[i].Len() != n && r.err == nil {
				r.fail("column of %d rows in a chunk of %d", c.Cols[i].Len(), n)
			}
		}
		if r.err != nil {
			return nil, r.err
		}
		out = append(out, c)
	}
	return out, nil
}

// skipWords reads past what Int64s (size 8) or Int32s (size 4) wrote.
func (r *SnapshotReader) skipWords(size int) {
	n := r.Len(0)
	r.bytes(n * size)
}

// skipVec reads past what Vec reads of a column of type t.
func (r *SnapshotReader) skipVec(t *types.T) {
	n := r.Len(0)
	// A column of datums writes nothing of its NULLs.
	nulls := 0
	if r.Bool() {
		for range n {
			if r.Bool() {
				nulls++
			}
		}
	}
	switch t.Phys() {
	case types.PhysBool:
		for range n {
			r.Uvarint()
		}
	case types.PhysInt, types.PhysFloat:
		r.bytes(8 * n)
	case types.PhysDecimal, types.PhysBytes:
		for range n {
			r.Bytes()
		}
	case types.PhysInterval:
		for range n {
			r.Varint()
			r.Varint()
			r.Varint()
		}
	default:
		for range n - nulls {
			r.Bytes()
		}
	}
}

// setDecimalText sets d to the decimal b holds if b is [-]digits[.digits]
// with at most 18 digits, as apd's SetString would (the exponent is minus
// the digits after the point; "-0" is a negative zero), and reports
// whether it did. Most numerics a checkpoint holds are such, and apd's
// parser (lower-casing, prefix checks, a string per value) took a tenth of
// a restore.
func setDecimalText(d *apd.Decimal, b []byte) bool {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	var coeff int64
	digits, point := 0, -1
	for i, c := range b {
		switch {
		case c >= '0' && c <= '9':
			coeff = coeff*10 + int64(c-'0')
			digits++
		case c == '.' && point < 0 && i > 0 && i < len(b)-1:
			point = i
		default:
			return false
		}
	}
	if digits == 0 || digits > 18 {
		return false
	}
	exp := int32(0)
	if point >= 0 {
		exp = -int32(len(b) - point - 1)
	}
	d.SetFinite(coeff, exp)
	d.Negative = neg
	return true
}
