package dataflow

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
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
// worker, which then behaves as the written one would have.
type Snapshotter interface {
	Snapshot(w *SnapshotWriter) error
	Restore(r *SnapshotReader) error
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

// DeltaSnapshotter is a Snapshotter that also writes only what changed
// since its last snapshot (full or delta): RestoreDelta reads such a delta
// into an instance restored up to the snapshot before it. Every snapshot
// starts the next delta's tracking.
type DeltaSnapshotter interface {
	Snapshotter
	SnapshotDelta(w *SnapshotWriter) error
	RestoreDelta(r *SnapshotReader) error
}

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
const StateLayout = 2

// CanSnapshot reports whether every operator of the dataflow can be
// snapshotted, and otherwise names the first that cannot.
func (d *Dataflow) CanSnapshot() (bool, string) {
	for _, op := range d.workers[0].ops {
		if _, ok := op.(stateless); ok {
			continue
		}
		if s, ok := op.(Snapshotter); ok {
			if c, ok := s.(interface{ snapshottable() error }); ok {
				if err := c.snapshottable(); err != nil {
					return false, err.Error()
				}
			}
			continue
		}
		return false, fmt.Sprintf("operator %T keeps state it cannot snapshot", op)
	}
	return true, ""
}

// CanSnapshotDelta reports whether every stateful operator can write delta
// snapshots (aggregates and joins can; DISTINCT and top-N cannot yet).
func (d *Dataflow) CanSnapshotDelta() bool {
	if ok, _ := d.CanSnapshot(); !ok {
		return false
	}
	for _, op := range d.workers[0].ops {
		if _, ok := op.(Snapshotter); ok {
			if _, ok := op.(DeltaSnapshotter); !ok {
				return false
			}
		}
	}
	return true
}

// Snapshot appends the state of every operator on every worker, and the
// sources' watermarks, to buf. It must be called between epochs (no Step
// running); the dataflow goes on unchanged. It is the base the next
// SnapshotDelta's changes follow.
func (d *Dataflow) Snapshot(buf []byte) ([]byte, error) {
	if ok, why := d.CanSnapshot(); !ok && d.failed == nil {
		return buf, sqlerr.New(sqlerr.FeatureNotSupported, "dataflow: cannot snapshot: %s", why)
	}
	buf, err := d.snapshot(buf, snapshotFull)
	d.snapshotted = err == nil
	return buf, err
}

// SnapshotDelta appends what changed since the last Snapshot or
// SnapshotDelta: Restore of that snapshot followed by the deltas taken
// after it, in order, restores the state of the last. It must be called
// between epochs, after a Snapshot, on a dataflow CanSnapshotDelta accepts.
func (d *Dataflow) SnapshotDelta(buf []byte) ([]byte, error) {
	if !d.CanSnapshotDelta() {
		return buf, sqlerr.Bug("dataflow: delta snapshot of a dataflow whose operators do not write deltas")
	}
	if !d.snapshotted {
		return buf, sqlerr.Bug("dataflow: delta snapshot without a snapshot before it")
	}
	buf, err := d.snapshot(buf, snapshotDelta)
	d.snapshotted = err == nil
	return buf, err
}

func (d *Dataflow) snapshot(buf []byte, kind uint64) ([]byte, error) {
	if d.failed != nil {
		return buf, d.failed
	}
	w := &SnapshotWriter{buf: buf}
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
	for _, wk := range d.workers {
		// Each worker's section starts with its length, so that a restore
		// reads the workers' sections in parallel.
		at := len(w.buf)
		w.buf = binary.LittleEndian.AppendUint64(w.buf, 0)
		for _, op := range wk.ops {
			var err error
			switch s := op.(type) {
			case DeltaSnapshotter:
				if kind == snapshotDelta {
					err = s.SnapshotDelta(w)
				} else {
					err = s.Snapshot(w)
				}
			case Snapshotter:
				err = s.Snapshot(w)
			}
			if err != nil {
				return w.buf, err
			}
		}
		binary.LittleEndian.PutUint64(w.buf[at:], uint64(len(w.buf)-at-8))
	}
	return w.buf, nil
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
		var err error
		switch s := op.(type) {
		case DeltaSnapshotter:
			if kind == snapshotDelta {
				err = s.RestoreDelta(r)
			} else {
				err = s.Restore(r)
			}
		case Snapshotter:
			if kind == snapshotDelta {
				err = sqlerr.New(sqlerr.DataCorrupted, "dataflow snapshot: a delta of operator %T, which writes none", op)
			} else {
				err = s.Restore(r)
			}
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

// SnapshotWriter appends a snapshot's values to a byte buffer: integers as
// varints, columns as whole arrays.
type SnapshotWriter struct {
	buf []byte
	// scratch holds one value's encoding on its way into buf (Vec), so
	// that values are not allocated one by one.
	scratch []byte
}

func (w *SnapshotWriter) Uvarint(x uint64) { w.buf = binary.AppendUvarint(w.buf, x) }
func (w *SnapshotWriter) Varint(x int64)   { w.buf = binary.AppendVarint(w.buf, x) }
func (w *SnapshotWriter) Bool(b bool) {
	var x uint64
	if b {
		x = 1
	}
	w.Uvarint(x)
}
func (w *SnapshotWriter) String(s string) {
	w.Uvarint(uint64(len(s)))
	w.buf = append(w.buf, s...)
}

// Blob writes b as String does, without converting it.
func (w *SnapshotWriter) Blob(b []byte) {
	w.Uvarint(uint64(len(b)))
	w.buf = append(w.buf, b...)
}

// littleEndian: the machine's words are laid out as snapshots store them,
// so arrays of them are copied as they are.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// appendWords appends xs little-endian: one copy of their memory on a
// little-endian machine.
func appendWords[T int64 | uint64 | int32 | uint32](buf []byte, xs []T) []byte {
	if len(xs) == 0 {
		return buf
	}
	size := int(unsafe.Sizeof(xs[0]))
	if littleEndian {
		return append(buf, unsafe.Slice((*byte)(unsafe.Pointer(&xs[0])), size*len(xs))...)
	}
	buf = slices.Grow(buf, size*len(xs))
	for _, x := range xs {
		if size == 8 {
			buf = binary.LittleEndian.AppendUint64(buf, uint64(x))
		} else {
			buf = binary.LittleEndian.AppendUint32(buf, uint32(x))
		}
	}
	return buf
}

// Int64s writes a length and fixed-width words: the bulk of group state.
func (w *SnapshotWriter) Int64s(xs []int64) {
	w.Uvarint(uint64(len(xs)))
	w.buf = appendWords(w.buf, xs)
}

func (w *SnapshotWriter) Int32s(xs []int32) {
	w.Uvarint(uint64(len(xs)))
	w.buf = appendWords(w.buf, xs)
}

func (w *SnapshotWriter) Uint32s(xs []uint32) {
	w.Uvarint(uint64(len(xs)))
	w.buf = appendWords(w.buf, xs)
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
		w.buf = appendWords(w.buf, v.Ints[:n])
	case types.PhysFloat:
		w.buf = slices.Grow(w.buf, 8*n)
		for _, f := range v.Floats[:n] {
			w.buf = binary.LittleEndian.AppendUint64(w.buf, math.Float64bits(f))
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
	size := int(unsafe.Sizeof(zero))
	b := r.bytes(int(min(n, uint64(len(r.b)+1))) * size)
	if r.err != nil {
		return nil
	}
	xs := make([]T, n)
	if littleEndian && n > 0 {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&xs[0])), len(b)), b)
		return xs
	}
	for i := range xs {
		if size == 8 {
			xs[i] = T(binary.LittleEndian.Uint64(b[8*i:]))
		} else {
			xs[i] = T(binary.LittleEndian.Uint32(b[4*i:]))
		}
	}
	return xs
}

func (r *SnapshotReader) Int64s() []int64   { return readWords[int64](r) }
func (r *SnapshotReader) Int32s() []int32   { return readWords[int32](r) }
func (r *SnapshotReader) Uint32s() []uint32 { return readWords[uint32](r) }

// Vec reads a column of type t.
func (r *SnapshotReader) Vec(t *types.T) *coldata.Vec {
	n := r.Len(0)
	v := coldata.NewVec(t, n)
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
		b := r.bytes(8 * n)
		for i := 0; i < len(b); i += 8 {
			v.Ints = append(v.Ints, int64(binary.LittleEndian.Uint64(b[i:])))
		}
	case types.PhysFloat:
		b := r.bytes(8 * n)
		for i := 0; i < len(b); i += 8 {
			v.Floats = append(v.Floats, math.Float64frombits(binary.LittleEndian.Uint64(b[i:])))
		}
	case types.PhysDecimal:
		v.Decs = make([]apd.Decimal, n)
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
		// One block holds the column's strings: a string each was most
		// of a restore's allocations (and of the GC's work after it). A
		// block lives while any of its strings does, which holds at most
		// the column's bytes as read.
		from, size := r.b, 0
		for range n {
			size += len(r.Bytes())
		}
		if r.err != nil {
			break
		}
		r.b = from
		block := make([]byte, 0, size)
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

// NewSnapshotWriter returns a writer appending to buf.
func NewSnapshotWriter(buf []byte) *SnapshotWriter { return &SnapshotWriter{buf: buf} }

// Bytes returns what was written.
func (w *SnapshotWriter) Bytes() []byte { return w.buf }

// NewSnapshotReader returns a reader of b.
func NewSnapshotReader(b []byte) *SnapshotReader { return &SnapshotReader{b: b} }

// Rest returns what is left to read.
func (r *SnapshotReader) Rest() []byte { return r.b }

// WriteRows writes the visible rows of s, a copy per unit of multiplicity,
// as columns in chunks, then an empty chunk. The snapshot may be written
// from any goroutine while the arrangement goes on.
func (s *ArrangementSnapshot) WriteRows(w *SnapshotWriter) error {
	w.Uvarint(uint64(s.Len()))
	next := s.Scan()
	for c := next(); c != nil; c = next() {
		w.Uvarint(uint64(c.Len))
		for _, v := range c.Cols {
			if err := w.Vec(v); err != nil {
				return err
			}
		}
	}
	w.Uvarint(0)
	return nil
}

// ReadRows reads rows of types typs that WriteRows wrote, as insertions
// (diffs 1), in the chunks they were written in: a restore hands them to
// the arrangement as they are, without copying them into one.
func ReadRows(r *SnapshotReader, typs []*types.T) ([]*coldata.Chunk, error) {
	// The count is checked against the rows read, not used to allocate:
	// a damaged one must not allocate rows the columns do not hold.
	total, read := r.Len(0), 0
	var out []*coldata.Chunk
	for {
		n := r.Len(0)
		if n == 0 || r.err != nil {
			break
		}
		c := &coldata.Chunk{Len: n, Cols: make([]*coldata.Vec, len(typs))}
		for i, t := range typs {
			if c.Cols[i] = r.Vec(t); c.Cols[i].Len() != n && r.err == nil {
				r.fail("column of %d rows in a chunk of %d", c.Cols[i].Len(), n)
			}
		}
		if r.err != nil {
			break
		}
		c.Diffs = make([]int64, n)
		for i := range c.Diffs {
			c.Diffs[i] = 1
		}
		out = append(out, c)
		read += n
	}
	if r.err == nil && read != total {
		r.fail("%d rows, the count says %d", read, total)
	}
	if r.err != nil {
		return nil, r.err
	}
	return out, nil
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
				w.buf = binary.LittleEndian.AppendUint64(w.buf, 1)
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
// diffs, in the chunks they were written in.
func ReadChanges(r *SnapshotReader, typs []*types.T) ([]*coldata.Chunk, error) {
	total, read := r.Len(0), 0
	var out []*coldata.Chunk
	for {
		n := r.Len(0)
		if n == 0 || r.err != nil {
			break
		}
		c := &coldata.Chunk{Len: n, Cols: make([]*coldata.Vec, len(typs)), Diffs: r.Int64s()}
		if len(c.Diffs) != n && r.err == nil {
			r.fail("%d diffs in a chunk of %d rows", len(c.Diffs), n)
		}
		for i, t := range typs {
			if c.Cols[i] = r.Vec(t); c.Cols[i].Len() != n && r.err == nil {
				r.fail("column of %d rows in a chunk of %d", c.Cols[i].Len(), n)
			}
		}
		if r.err != nil {
			break
		}
		out = append(out, c)
		read += n
	}
	if r.err == nil && read != total {
		r.fail("%d changes, the count says %d", read, total)
	}
	if r.err != nil {
		return nil, r.err
	}
	return out, nil
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
