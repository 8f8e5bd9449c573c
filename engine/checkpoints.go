package engine

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/dataflow"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/storage"
	"github.com/sluice-db/sluice/types"
)

// A view checkpoint is a base, <dir>/<view id>.ckpt (the view's whole
// operator state and rows at one point of the dataflows loop), and the
// deltas taken after it, <dir>/<view id>.<n>.delta for n = 1, 2, ... (what
// changed since the one before), each with the inputs it corresponds to.
// Every file is written as .tmp, synced, renamed, directory synced; a
// delta names its base's generation, so deltas a new base left behind
// (a crash before their removal) end the chain. docs/format/checkpoints.md
// gives the layout.
const (
	checkpointMagic  = "SLUICECK"
	checkpointFormat = 3
	checkpointExt    = ".ckpt"
	deltaExt         = ".delta"
	// DefaultCheckpointInterval is how often, in loop time, the running
	// views are checkpointed by default.
	DefaultCheckpointInterval = time.Second
	// A view's chain ends with a new base once the base and its deltas
	// hold twice what a base would (dataflow.SnapshotSize: records written
	// over since, pages rewritten; and the view's rows: a delta's output
	// changes, a retraction and an insertion per changed row, are rows a
	// restore consolidates), or maxDeltas files: a restore reads at most
	// twice the state. The delta being taken counts with them (estimated
	// before it is serialized, exact after: see checkpoint). A state that
	// only grows (Nexmark q5's) writes little over, so its base is not
	// written again each time it doubles: the loop serializes deltas.
	chainFactor = 2
	maxDeltas   = 256
	// insertWeight and retractWeight price a delta's output changes
	// against a base's rows. A restore decodes them and consolidates them
	// with the base's rows: a new row about 2.4 times the CPU per byte of
	// a base's (a 4M-group view: a 534 MiB base decoded in 1.08 s, a
	// 138 MB base with 857 MB of deltas of new groups in 4.47 s), an
	// update, a retraction and an insertion of an existing row, 6 to 8
	// times (a 560 MB base restored in 2.2 CPU-s, the same base with a
	// 208 MB delta of updates in 7.0 to 9.2; priced 2 a row, that chain
	// was allowed and its restarts took 4.1 to 6.1 s).
	insertWeight  = 2
	retractWeight = 10
	// A stateless view over streams only (their filtered, projected
	// history) that keeps at least 1/replayRatio of the rows it reads is
	// not checkpointed: a restart replays the history after its last
	// checkpoint, which costs about what reading the rows back from one
	// does (measured: 4M rows of a pass-through view, 2.6–3.6 CPU-s to
	// recompute, 3.6–4.4 to restore), while writing them costs every
	// interval (Nexmark q0 at 1 s checkpoints: −25 % events per
	// CPU-second). A selective view's checkpoints save replaying history
	// it mostly drops, and are small.
	replayRatio = 8
)

// Kinds of checkpoint files.
const (
	checkpointBase  = 1
	checkpointDelta = 2
)

var checkpointCRC = crc32.MakeTable(crc32.Castagnoli)

// Kinds of checkpoint inputs.
const (
	// inputStream: the view holds the stream's history up to a position.
	inputStream = 1
	// inputTable: the view holds the table's content of a hash.
	inputTable = 2
)

// checkpointInput is what a checkpoint holds of one relation a view reads.
type checkpointInput struct {
	rel   uint32
	kind  uint64
	value uint64 // stream: history positions; table: content hash
}

// checkpoint is a decoded checkpoint file: a base, or a delta of one.
type checkpoint struct {
	view uint32
	kind uint64
	// gen identifies a base, and the deltas of it; seq is a delta's place
	// after its base (1, 2, ...; 0 for a base).
	gen, seq uint64
	planHash []byte
	workers  int
	inputs   []checkpointInput
	// state is dataflow.Snapshot (base) or SnapshotDelta (delta), as
	// read; rows the view's rows (ArrangementSnapshot.WriteRows) or their
	// changes since the file before (dataflow.WriteChanges).
	state []byte
	rows  []byte
	// stateUnchecked: state's checksum, stateCRC, is still to be checked
	// (checkState): a format 3 file's reading checks the rest only.
	stateUnchecked bool
	stateCRC       uint32
	// deltas are, for a base read to be restored, its deltas in order.
	deltas []*checkpoint
	// unmap releases the file's mapping, which state and rows are part
	// of (nil once released, and for a checkpoint being written); mapped
	// is that mapping.
	unmap  func()
	mapped []byte
	// rowsShared: the view's rows read from rows point into the mapping
	// (readViewRows), which release then keeps from the rows on.
	rowsShared bool
}

// release unmaps the files of c and of its deltas: their bytes are not
// read after, but for the rows' pages of a file whose rows are shared,
// which stay mapped for the process's life (NB: its disk space too, once
// a later base removes the file). It may be called more than once.
func (c *checkpoint) release() {
	for _, f := range append([]*checkpoint{c}, c.deltas...) {
		if f.unmap != nil && f.rowsShared {
			unmapBefore(f.mapped, f.rows)
		} else if f.unmap != nil {
			f.unmap()
		}
		f.unmap, f.mapped = nil, nil
		f.state, f.rows = nil, nil
	}
}

// checkpointJob is a checkpoint the loop took, for the writer to write:
// the operator state serialized on the loop (in blocks, written as they
// are; the rows of joins, top-N and DISTINCT, and an aggregate's stored
// keys and min/max values, are gathered into columns there, which the
// writer encodes: dataflow.NewDeferredSnapshotWriter; an aggregate's
// spilled groups the writer streams from a spill store snapshot the loop
// took, which goes with the job: Release it if not written), and either the
// view's rows as an arrangement snapshot the writer scans (a base) or its
// output's changes since the checkpoint before (a delta). A job only ever
// writes: a DROP's removal goes to checkpointer.remove.
type checkpointJob struct {
	ck      checkpoint
	state   *dataflow.SnapshotWriter
	rows    *dataflow.ArrangementSnapshot
	changes []*coldata.Chunk
}

// checkpointer writes the loop's checkpoints in the background, one batch
// at a time, and removes the checkpoints of dropped views. The loop never
// waits for it: it hands over a batch only when the writer is idle (busy
// covers a batch from its hand-over to the end of its write, so at most
// one batch of state copies is alive), and a DROP's removal joins a list
// the writer drains after each write (so it follows any write of the
// view's checkpoint taken before the DROP).
type checkpointer struct {
	dir      string
	interval time.Duration
	log      *slog.Logger
	last     time.Time // loop-owned: when the loop last took checkpoints
	busy     atomic.Bool
	// written (capacity 1) is signalled after each batch the writer
	// wrote, for waitIdle.
	written chan struct{}
	wake    chan struct{} // capacity 1: work is waiting
	stop    chan struct{}
	done    chan struct{}
	// rowWriter is the writer's, reused for each file's rows (Reset):
	// a base's go out through it a megabyte at a time, a delta's changes
	// whole.
	rowWriter *dataflow.SnapshotWriter
	// fileBuffer is the writer's buffer of checkpointWriteBuffer bytes,
	// reused for each file (Reset): one a file allocated a megabyte for a
	// delta of a few kilobytes, 110 MB in 30 s of bench serve.
	fileBuffer *bufio.Writer
	// syncFile makes a written file durable ((*os.File).Sync) and
	// syncDir the renames into the directory (syncDirectory); tests
	// count and hold their calls.
	syncFile func(f *os.File) error
	syncDir  func(dir string) error
	// stagedLimit bounds the files staged (open, not yet synced) before
	// they are committed: a batch of more changed views commits in
	// groups of it (maxStagedFiles; tests lower it).
	stagedLimit int

	mu sync.Mutex
	// batch is the batch handed over, not yet taken by the writer.
	batch []checkpointJob
	// removals are the dropped views whose checkpoint is to be removed.
	removals []uint32
	// rowBytes is, per view, the bytes per row of the rows or changes
	// its last checkpoint file held (writer sets, loop reads).
	rowBytes map[uint32]float64
	// unwritten are the views whose checkpoint the writer failed to
	// write, for the loop to take again (writer adds, loop takes).
	unwritten []uint32
}

func newCheckpointer(dir string, interval time.Duration, log *slog.Logger) *checkpointer {
	c := &checkpointer{dir: dir, interval: interval, log: log, last: time.Now(), rowBytes: map[uint32]float64{},
		rowWriter: dataflow.NewSnapshotWriter(nil), fileBuffer: bufio.NewWriterSize(nil, checkpointWriteBuffer), syncFile: (*os.File).Sync, syncDir: syncDirectory, stagedLimit: maxStagedFiles,
		written: make(chan struct{}, 1), wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	return c
}

// due reports whether the loop takes its checkpoints at now: an interval
// after the last ones, the writer idle, and, while commits wait for the
// loop (queued), not before a second interval: a commit queued waits for
// the pause (bench serve's freshness markers waited up to its p99, 55-340
// ms at load 7-10, before the small ones went ahead between its views),
// so it comes when the loop is idle, and a loop never idle still takes
// one every two intervals.
func (c *checkpointer) due(now time.Time, queued bool) bool {
	since := now.Sub(c.last)
	return since >= c.interval && !c.busy.Load() && (!queued || since >= 2*c.interval)
}

func (c *checkpointer) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// submit hands batch to the writer, which must not be busy.
func (c *checkpointer) submit(batch []checkpointJob) {
	c.busy.Store(true)
	c.mu.Lock()
	c.batch = batch
	c.mu.Unlock()
	c.signal()
}

// remove has the writer remove view's checkpoint, after any write of it
// handed over before.
func (c *checkpointer) remove(view uint32) {
	c.mu.Lock()
	c.removals = append(c.removals, view)
	c.mu.Unlock()
	c.signal()
}

func (c *checkpointer) run() {
	defer close(c.done)
	for {
		stopping := false
		select {
		case <-c.wake:
		case <-c.stop:
			stopping = true
		}
		c.mu.Lock()
		batch := c.batch
		c.batch = nil
		c.mu.Unlock()
		if batch != nil {
			c.writeBatch(batch)
			c.busy.Store(false)
			select {
			case c.written <- struct{}{}:
			default:
			}
		}
		c.removeDropped(nil)
		if stopping {
			return
		}
	}
}

// writeBatch writes batch's checkpoints, removing the dropped views'
// after each file (and not writing those of views dropped before). The
// files are written to their .tmp first, then synced at once, renamed,
// and the renames made durable by one sync of the directory
// (commitStaged): with checkpoints every 100 ms, a sync per file and one
// for each base's rename (five syncs an interval for bench serve's four
// views, one after the other) kept the writer in fsync most of the
// interval, and the source commits' syncs queued behind them. A batch
// of more than stagedLimit files commits in groups of it.
func (c *checkpointer) writeBatch(batch []checkpointJob) {
	began := time.Now()
	dropped := map[uint32]bool{}
	var staged []*stagedFile
	size := 0
	commit := func() {
		for i, err := range c.commitStaged(staged) {
			if err != nil {
				c.failed(staged[i].view, err)
				continue
			}
			size += staged[i].size
		}
		staged = staged[:0]
	}
	for i := range batch {
		j := &batch[i]
		c.removeDropped(dropped)
		if dropped[j.ck.view] {
			if err := j.state.Release(); err != nil {
				c.log.Warn("dataflow: dropped view's snapshot not released", "view", j.ck.view, "err", err)
			}
			continue
		}
		s, err := c.stage(j)
		if err != nil {
			c.failed(j.ck.view, err)
			continue
		}
		staged = append(staged, s)
		if len(staged) == c.stagedLimit {
			commit()
		}
	}
	commit()
	c.removeDropped(nil)
	if size > 0 {
		c.log.Debug("dataflow: checkpoints written", "views", len(batch), "bytes", size, "elapsed", time.Since(began).Round(time.Microsecond))
	}
}

// failed records that view's checkpoint was not written, for the loop to
// take again.
func (c *checkpointer) failed(view uint32, err error) {
	c.log.Error("dataflow: checkpoint not written", "view", view, "err", err)
	c.mu.Lock()
	c.unwritten = append(c.unwritten, view)
	c.mu.Unlock()
}

// removeDropped removes the checkpoints of the views dropped since its
// last call, adding them to dropped when not nil.
func (c *checkpointer) removeDropped(dropped map[uint32]bool) {
	c.mu.Lock()
	views := c.removals
	c.removals = nil
	c.mu.Unlock()
	for _, v := range views {
		c.mu.Lock()
		delete(c.rowBytes, v)
		c.mu.Unlock()
		c.removeFile(v)
		if dropped != nil {
			dropped[v] = true
		}
	}
}

// viewRowBytes returns the bytes per row of view's last checkpoint's rows
// (0 before its first).
func (c *checkpointer) viewRowBytes(view uint32) float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rowBytes[view]
}

// takeUnwritten returns, on the loop, the views whose checkpoint the
// writer failed to write since the last call.
func (c *checkpointer) takeUnwritten() []uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	u := c.unwritten
	c.unwritten = nil
	return u
}

// waitIdle waits until the writer has written the batch handed over, if
// any.
func (c *checkpointer) waitIdle() {
	for c.busy.Load() {
		<-c.written
	}
}

// close waits for the write handed over, if any, and the removals asked
// so far, and stops the writer.
func (c *checkpointer) close() {
	close(c.stop)
	<-c.done
}

func (c *checkpointer) path(view uint32) string {
	return filepath.Join(c.dir, strconv.FormatUint(uint64(view), 10)+checkpointExt)
}

func (c *checkpointer) deltaPath(view uint32, seq uint64) string {
	return filepath.Join(c.dir, strconv.FormatUint(uint64(view), 10)+"."+strconv.FormatUint(seq, 10)+deltaExt)
}

// viewOfFile returns the view id a checkpoint file name starts with.
func viewOfFile(name string) (uint32, bool) {
	id, _, _ := strings.Cut(name, ".")
	v, err := strconv.ParseUint(id, 10, 32)
	return uint32(v), err == nil
}

// removeFile removes view's base, its deltas and its temporary files.
func (c *checkpointer) removeFile(view uint32) {
	c.removeFiles(view, func(string) bool { return true })
}

// removeFiles removes the checkpoint files of view that remove picks by
// name.
func (c *checkpointer) removeFiles(view uint32, remove func(name string) bool) {
	for _, name := range c.fileNames() {
		if v, ok := viewOfFile(name); !ok || v != view || !remove(name) {
			continue
		}
		if err := os.Remove(filepath.Join(c.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			c.log.Error("dataflow: checkpoint not removed", "view", view, "file", name, "err", err)
		}
	}
}

// stagedFile is a checkpoint file written whole to its .tmp, neither
// synced nor renamed yet (commitStaged does both, for a batch at once).
type stagedFile struct {
	view      uint32
	kind      uint64
	tmp, path string
	f         *os.File
	size      int
}

// stage encodes j and writes it to its file's .tmp, left open for
// commitStaged: a base is to replace the view's base (and its deltas are
// removed after it), a delta to be added after the deltas. The payload
// goes to the file as it is encoded, through a bounded buffer: the
// state's blocks as they are, its streamed parts (an aggregate's spilled
// groups, read from a spill store snapshot) and a base's rows a piece at
// a time, so that a state larger than memory is never held whole.
func (c *checkpointer) stage(j *checkpointJob) (staged *stagedFile, err error) {
	ck := &j.ck
	// The spill store snapshots the state streams from go with the job,
	// written or not.
	defer func() { err = errors.Join(err, j.state.Release()) }()
	// The columns the loop gathered are encoded here, off the loop.
	if err := j.state.Finish(); err != nil {
		return nil, fmt.Errorf("checkpoint of view %d: %w", ck.view, err)
	}
	w := dataflow.NewSnapshotWriter(nil)
	w.Uvarint(uint64(ck.view))
	w.Uvarint(ck.kind)
	w.Uvarint(ck.gen)
	w.Uvarint(ck.seq)
	w.Blob(ck.planHash)
	w.Uvarint(uint64(ck.workers))
	w.Uvarint(uint64(len(ck.inputs)))
	for _, in := range ck.inputs {
		w.Uvarint(uint64(in.rel))
		w.Uvarint(in.kind)
		w.Uvarint(in.value)
	}
	w.Uvarint(uint64(j.state.Len()))
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return nil, fmt.Errorf("checkpoint directory: %w", err)
	}
	path := c.path(ck.view)
	if ck.kind == checkpointDelta {
		path = c.deltaPath(ck.view, ck.seq)
	}
	staged = &stagedFile{view: ck.view, kind: ck.kind, tmp: path + ".tmp", path: path}
	rows, rowBytes := 0, int64(0)
	staged.f, staged.size, err = writeCheckpointFile(staged.tmp, c.fileBuffer, func(out *payloadWriter) error {
		if _, err := out.Write(w.Bytes()); err != nil {
			return err
		}
		err := out.writeState(func() error {
			_, err := j.state.WriteTo(out)
			return err
		})
		if err != nil {
			return err
		}
		before := out.n
		rw := c.rowWriter
		rw.Reset()
		flush := func() error {
			_, err := rw.WriteTo(out)
			rw.Reset()
			return err
		}
		if ck.kind == checkpointBase {
			rows = j.rows.Len()
			// A base's rows go out a few blocks at a time.
			err := j.rows.WriteRows(rw, func() error {
				if rw.Len() < checkpointWriteBuffer {
					return nil
				}
				return flush()
			})
			if err != nil {
				return err
			}
		} else {
			rows = changedRows(j.changes)
			if err := dataflow.WriteChanges(rw, j.changes); err != nil {
				return err
			}
		}
		if err := flush(); err != nil {
			return err
		}
		rowBytes = out.n - before
		return nil
	})
	if err != nil {
		return nil, err
	}
	if rows > 0 {
		c.mu.Lock()
		c.rowBytes[ck.view] = float64(rowBytes) / float64(rows)
		c.mu.Unlock()
	}
	return staged, nil
}

// maxStagedFiles bounds the files a batch holds open at once: one per
// changed view until they are committed, so hundreds of views changing
// in one interval would hold hundreds of descriptors.
const maxStagedFiles = 64

// maxParallelSyncs bounds the files commitStaged syncs at once (a batch
// holds a file per view that changed).
const maxParallelSyncs = 16

// commitStaged makes staged files durable in their places; errs[i] says
// how staged[i] ended (its .tmp removed when it failed). Their syncs run
// at once, so that the filesystem commits them together, then they are
// renamed and the directory synced once for all: a crash leaves each
// file's old version or its new one, and before the directory's sync
// may lose some of the renames (of a delta: a restore reads a view's
// deltas up to the first missing one). Only after that sync are the old
// deltas of a new base removed: a crash before leaves files of another
// generation, which end the new base's chain.
func (c *checkpointer) commitStaged(staged []*stagedFile) (errs []error) {
	errs = make([]error, len(staged))
	if len(staged) == 0 {
		return errs
	}
	var wg sync.WaitGroup
	slots := make(chan struct{}, maxParallelSyncs)
	for i, s := range staged {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			errs[i] = c.syncFile(s.f)
			if err := s.f.Close(); errs[i] == nil {
				errs[i] = err
			}
		})
	}
	wg.Wait()
	renamed := 0
	for i, s := range staged {
		if errs[i] == nil {
			if errs[i] = os.Rename(s.tmp, s.path); errs[i] == nil {
				renamed++
				continue
			}
		}
		errs[i] = fmt.Errorf("checkpoint %s: %w", s.tmp, errs[i])
		_ = os.Remove(s.tmp) // the error reported is the sync's or the rename's
	}
	if renamed == 0 {
		return errs
	}
	if err := c.syncDir(c.dir); err != nil {
		for i := range staged {
			if errs[i] == nil {
				errs[i] = err
			}
		}
		return errs
	}
	for i, s := range staged {
		if errs[i] == nil && s.kind == checkpointBase {
			c.removeFiles(s.view, func(name string) bool { return strings.HasSuffix(name, deltaExt) })
		}
	}
	return errs
}

// checkpointWriteBuffer is the buffer a checkpoint file is written
// through: small pieces (varints, a streamed block's columns) go out
// together, large blocks directly.
const checkpointWriteBuffer = 1 << 20

// payloadWriter writes a checkpoint's payload to its file, counting its
// bytes and their checksums: the operator state's (writeState) apart
// from the rest's, which is what a restart reads before the view serves.
type payloadWriter struct {
	out *bufio.Writer
	// crc sums the bytes written but the state's, stateCRC the state's
	// (written while inState, from stateAt on, stateLen bytes).
	crc, stateCRC     uint32
	inState           bool
	stateAt, stateLen int64
	n                 int64
}

func (p *payloadWriter) Write(b []byte) (int, error) {
	if p.inState {
		p.stateCRC = crc32.Update(p.stateCRC, checkpointCRC, b)
	} else {
		p.crc = crc32.Update(p.crc, checkpointCRC, b)
	}
	n, err := p.out.Write(b)
	p.n += int64(n)
	return n, err
}

// writeState writes the payload's operator state with write, which writes
// it to p: its place and checksum go into the frame's trailer.
func (p *payloadWriter) writeState(write func() error) error {
	p.inState, p.stateAt = true, p.n
	err := write()
	p.inState, p.stateLen = false, p.n-p.stateAt
	return err
}

// trailer returns the frame's trailer (format 3) of the payload p wrote:
// the state's offset and length in the payload, the checksum of the rest
// of the payload followed by those two, and the state's.
func (p *payloadWriter) trailer() []byte {
	t := binary.LittleEndian.AppendUint64(make([]byte, 0, checkpointTrailer), uint64(p.stateAt))
	t = binary.LittleEndian.AppendUint64(t, uint64(p.stateLen))
	t = binary.LittleEndian.AppendUint32(t, crc32.Update(p.crc, checkpointCRC, t))
	return binary.LittleEndian.AppendUint32(t, p.stateCRC)
}

// checkpointTrailer is the bytes of a format 3 frame's trailer.
const checkpointTrailer = 24

// writeCheckpointFile writes a new checkpoint file at path, its payload
// written by payload, and returns it open, not synced (commitStaged
// syncs a batch's files at once), with its bytes, through buf (Reset to
// the file). The payload's length, unknown until it is written, goes into
// the frame's head last. A file not written whole is removed.
func writeCheckpointFile(path string, buf *bufio.Writer, payload func(out *payloadWriter) error) (*os.File, int, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, 0, fmt.Errorf("checkpoint: %w", err)
	}
	head := append([]byte(checkpointMagic), make([]byte, 12)...)
	binary.LittleEndian.PutUint32(head[len(checkpointMagic):], checkpointFormat)
	buf.Reset(f)
	out := &payloadWriter{out: buf}
	if _, err = buf.Write(head); err == nil {
		err = payload(out)
	}
	if err == nil {
		_, err = buf.Write(out.trailer())
	}
	if err == nil {
		err = buf.Flush()
	}
	if err == nil {
		_, err = f.WriteAt(binary.LittleEndian.AppendUint64(nil, uint64(out.n)), int64(len(checkpointMagic)+4))
	}
	if err != nil {
		_ = f.Close()
		_ = os.Remove(path) // the error reported is the write's
		return nil, 0, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return f, len(head) + int(out.n) + checkpointTrailer, nil
}

func syncDirectory(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("checkpoint directory: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("checkpoint directory: %w", err)
	}
	return nil
}

// read returns view's base checkpoint with its deltas, nil when it has
// none, or why it cannot be used (a damaged base or delta: the view is
// computed again). The deltas are read in order up to the first missing
// or of another base's generation; the last one's inputs are the
// checkpoint's.
func (c *checkpointer) read(view uint32) (*checkpoint, error) {
	// The files are read and checksummed at once, on as many goroutines
	// as there are CPUs (a start has nothing else to do yet): the deltas
	// that exist are known from a listing, and are then taken in order as
	// before, up to the first missing.
	deltas := 0
	for ; deltas < maxDeltas; deltas++ {
		if _, err := os.Stat(c.deltaPath(view, uint64(deltas+1))); err != nil {
			break
		}
	}
	files := make([]*checkpoint, 1+deltas)
	errs := make([]error, len(files))
	missing := make([]bool, len(files))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(files)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < len(files); i = int(next.Add(1) - 1) {
				path := c.path(view)
				if i > 0 {
					path = c.deltaPath(view, uint64(i))
				}
				b, unmap, err := mapFile(path)
				switch {
				case errors.Is(err, fs.ErrNotExist):
					missing[i] = true
				case err != nil:
					errs[i] = err
				default:
					if files[i], errs[i] = decodeCheckpoint(view, b); errs[i] != nil {
						unmap()
					} else {
						files[i].unmap, files[i].mapped = unmap, b
					}
				}
			}
		}()
	}
	wg.Wait()
	base, err := chainCheckpoints(view, files, errs, missing)
	kept := 0
	if base != nil {
		kept = 1 + len(base.deltas)
	}
	for _, f := range files[kept:] {
		if f != nil {
			f.release()
		}
	}
	return base, err
}

// chainCheckpoints returns the base read (files[0]) with the deltas that
// follow it, in order, nil when there is none, or why it cannot be used.
func chainCheckpoints(view uint32, files []*checkpoint, errs []error, missing []bool) (*checkpoint, error) {
	if missing[0] {
		return nil, nil
	}
	if errs[0] != nil {
		return nil, errs[0]
	}
	base := files[0]
	if base.kind != checkpointBase {
		return nil, sqlerr.New(sqlerr.DataCorrupted, "checkpoint of view %d: a delta as its base", view)
	}
	for seq := 1; seq < len(files); seq++ {
		if missing[seq] {
			return base, nil
		}
		if errs[seq] != nil {
			return nil, fmt.Errorf("delta %d: %w", seq, errs[seq])
		}
		d := files[seq]
		if d.gen != base.gen {
			return base, nil // left by an older base
		}
		if d.kind != checkpointDelta || d.seq != uint64(seq) || !bytes.Equal(d.planHash, base.planHash) || d.workers != base.workers {
			return nil, sqlerr.New(sqlerr.DataCorrupted, "checkpoint of view %d: delta %d does not follow its base", view, seq)
		}
		base.deltas = append(base.deltas, d)
		base.inputs = d.inputs
	}
	return base, nil
}

// decodeCheckpoint decodes a checkpoint file of view, b, mapped (mapFile):
// it checks the frame and the checksum of what the view's serving reads,
// its pages read in first (populate). A format 3 file's operator state is
// left unread, its checksum to checkState; format 2's (one checksum of
// the whole payload) is checked whole.
func decodeCheckpoint(view uint32, b []byte) (*checkpoint, error) {
	damaged := func(format string, args ...any) error {
		return sqlerr.New(sqlerr.DataCorrupted, "checkpoint of view %d: "+format, append([]any{view}, args...)...)
	}
	head := len(checkpointMagic) + 12
	if len(b) < head || string(b[:len(checkpointMagic)]) != checkpointMagic {
		return nil, damaged("not a checkpoint")
	}
	format := binary.LittleEndian.Uint32(b[len(checkpointMagic):])
	trailer := checkpointTrailer
	switch format {
	case checkpointFormat:
	case 2:
		trailer = 4 // the payload's checksum
	default:
		return nil, damaged("format %d, want %d", format, checkpointFormat)
	}
	if len(b) < head+trailer {
		return nil, damaged("not a checkpoint")
	}
	n := binary.LittleEndian.Uint64(b[len(checkpointMagic)+4:])
	if n != uint64(len(b)-head-trailer) {
		return nil, damaged("%d bytes of payload, the file holds %d", n, len(b)-head-trailer)
	}
	payload, t := b[head:len(b)-trailer], b[len(b)-trailer:]
	var stateAt, stateLen uint64
	if format == 2 {
		populate(b)
		if checkpointChecksum(payload) != binary.LittleEndian.Uint32(t) {
			return nil, damaged("checksum mismatch")
		}
	} else {
		stateAt, stateLen = binary.LittleEndian.Uint64(t), binary.LittleEndian.Uint64(t[8:])
		if stateAt > n || stateLen > n-stateAt {
			return nil, damaged("state of %d bytes at %d, in a payload of %d", stateLen, stateAt, n)
		}
		populate(b[:head+int(stateAt)])
		populate(b[head+int(stateAt+stateLen):])
		rest := payload[stateAt+stateLen:]
		sum := crc32Combine(checkpointChecksum(payload[:stateAt]), checkpointChecksum(rest), len(rest))
		if crc32.Update(sum, checkpointCRC, t[:16]) != binary.LittleEndian.Uint32(t[16:]) {
			return nil, damaged("checksum mismatch")
		}
	}
	r := dataflow.NewSnapshotReader(payload)
	ck := &checkpoint{view: uint32(r.Uvarint()), kind: r.Uvarint(), gen: r.Uvarint(), seq: r.Uvarint(), planHash: []byte(r.String()), workers: int(r.Uvarint())}
	for range r.Len(0) {
		ck.inputs = append(ck.inputs, checkpointInput{rel: uint32(r.Uvarint()), kind: r.Uvarint(), value: r.Uvarint()})
	}
	ck.state = r.Bytes()
	ck.rows = r.Rest()
	if err := r.Err(); err != nil {
		return nil, damaged("%v", err)
	}
	if format == checkpointFormat {
		// The state must be the part the trailer's checksums leave apart.
		if uint64(len(ck.state)) != stateLen || uint64(len(payload)-len(ck.rows)) != stateAt+stateLen {
			return nil, damaged("state of %d bytes, the trailer says %d at %d", len(ck.state), stateLen, stateAt)
		}
		ck.stateUnchecked, ck.stateCRC = true, binary.LittleEndian.Uint32(t[20:])
	}
	if ck.view != view {
		return nil, damaged("holds view %d", ck.view)
	}
	return ck, nil
}

// checkState checks the checksums of the operator state of ck and of its
// deltas that their reading left (format 3), their pages read in first:
// the restore does, before it reads the state, off the view's path to
// serving when it restores behind.
func (ck *checkpoint) checkState() error {
	for i, f := range append([]*checkpoint{ck}, ck.deltas...) {
		if !f.stateUnchecked {
			continue
		}
		populate(f.state)
		if checkpointChecksum(f.state) != f.stateCRC {
			err := sqlerr.New(sqlerr.DataCorrupted, "checkpoint of view %d: state checksum mismatch", f.view)
			if i > 0 {
				return fmt.Errorf("delta %d: %w", i, err)
			}
			return err
		}
		f.stateUnchecked = false
	}
	return nil
}

// fileNames lists the checkpoint directory (nothing, logged, when it cannot
// be read; nothing when it does not exist yet).
func (c *checkpointer) fileNames() []string {
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			c.log.Error("dataflow: checkpoint directory not read", "err", err)
		}
		return nil
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names
}

// removeOrphans deletes the checkpoints of views that do not exist (a
// crash came between a DROP's commit and the removal of its checkpoint)
// and temporary files a crash left.
func (c *checkpointer) removeOrphans(views map[uint32]bool) {
	for _, name := range c.fileNames() {
		// A view's temporary file may be the writer's, at work now.
		if id, ok := viewOfFile(name); ok && views[id] {
			continue
		}
		if err := os.Remove(filepath.Join(c.dir, name)); err != nil {
			c.log.Error("dataflow: orphan checkpoint not removed", "file", name, "err", err)
		}
	}
}

// planHash identifies what a view computes and how its state is laid out:
// its definition, its graph (operators, their inputs and partitioning,
// the relations and column types of its sources), its rows' types and key,
// the number of workers, the evaluation settings its expressions run
// under (the default time zone changes what date_trunc('day', ts) of a
// timestamptz returns) and the operators' state layout
// (dataflow.StateLayout). A checkpoint of another hash is not used.
func planHash(plan *viewPlan, workers int) []byte {
	h := sha256.New()
	fmt.Fprintf(h, "layout %d\x00%d\x00%s\x00%s\x00", dataflow.StateLayout, workers, plan.def, plan.graph.String())
	if cfg := plan.cfg; cfg != nil {
		loc := ""
		if cfg.Location != nil {
			loc = cfg.Location.String()
		}
		fmt.Fprintf(h, "cfg %q %d %v %d\x00", loc, cfg.ExtraFloatDigits, cfg.DateStyle, cfg.IntervalStyle)
	}
	for _, n := range plan.graph.Nodes {
		fmt.Fprintf(h, "%d %T %v %s|", n.ID, n.Spec, n.Inputs, n.Spec.String())
		for _, t := range n.Spec.Types() {
			fmt.Fprintf(h, "%s,", t.String())
		}
		if src, ok := n.Spec.(*dataflow.Source); ok {
			fmt.Fprintf(h, "src %d %v", src.ID, src.Reference)
		}
	}
	for _, t := range plan.types {
		fmt.Fprintf(h, "%s,", t.String())
	}
	fmt.Fprintf(h, "%v", plan.key)
	return h.Sum(nil)
}

// tableHash adds to h (or, with diff -1, takes from it) the hash of every
// row of c, by value and representation: equal multisets of rows hash
// equal in any order.
func tableHash(h uint64, c *coldata.Chunk, buf []byte) (uint64, []byte) {
	for i := range c.Len {
		buf = buf[:0]
		for _, v := range c.Cols {
			buf = v.AppendIdentity(buf, i)
		}
		d := int64(1)
		if c.Diffs != nil {
			d = c.Diffs[i]
		}
		h += uint64(d) * xxhash.Sum64(buf)
	}
	return h, buf
}

// scanHash returns the content hash of a table scan.
func scanHash(s *storage.TableScan) (uint64, error) {
	var h uint64
	var buf []byte
	for {
		c, _, ok := s.Next()
		if !ok {
			return h, s.Err()
		}
		h, buf = tableHash(h, c, buf)
	}
}

// inputsMatch reports whether ck's inputs are exactly ours (same
// relations, same kinds).
func inputsMatch(ck, ours []checkpointInput) bool {
	if len(ck) != len(ours) {
		return false
	}
	a, b := slices.Clone(ck), slices.Clone(ours)
	for _, s := range [][]checkpointInput{a, b} {
		slices.SortFunc(s, func(x, y checkpointInput) int { return int(x.rel) - int(y.rel) })
	}
	for i := range a {
		if a[i].rel != b[i].rel || a[i].kind != b[i].kind {
			return false
		}
	}
	return true
}

// value returns the checkpoint's position or hash of relation rel.
func (ck *checkpoint) value(rel uint32) uint64 {
	for _, in := range ck.inputs {
		if in.rel == rel {
			return in.value
		}
	}
	return 0
}

// startInput is what a view's first epoch reads: its sources' scans and
// watermarks at one cut and, for a checkpointed view, what restoring its
// checkpoint needs.
type startInput struct {
	plan  *viewPlan
	scans map[uint32]*storage.TableScan
	cut   map[uint32]int64
	// ck is the checkpoint to restore (nil: none); tails are its streams'
	// history after its positions; hashScans the scans of the tables the
	// view reads, for their content hash.
	ck        *checkpoint
	tails     map[uint32]*storage.TableScan
	hashScans map[uint32]*storage.TableScan
	// read and decoded are how long reading ck's files and decoding them
	// (operator state and rows; rows only when behind) took, for the log.
	read, decoded time.Duration
	// behind: ck is caught up, and its operators' state restores after
	// the view serves its rows (resumeBehind).
	behind bool
}

// prepareCheckpoints decides, before v starts, whether v is checkpointed
// (a catalog view over streams and tables only, whose operators can all
// snapshot) and reads its checkpoint if it has a usable one.
func (d *dataflows) prepareCheckpoints(v *runningView, plan *viewPlan, tables map[uint32]*storage.Table, in *startInput) {
	if d.ckpt == nil || plan.def == "" {
		return
	}
	v.planHash = planHash(plan, d.workers)
	why := ""
	for rel := range v.sources {
		t, ok := tables[rel]
		if !ok {
			why = "it reads a view"
			break
		}
		kind := uint64(inputTable)
		if t.Info().AppendOnly {
			kind = inputStream
		}
		v.inputs = append(v.inputs, checkpointInput{rel: rel, kind: kind})
	}
	if ok, reason := v.df.CanSnapshot(); why == "" && !ok {
		why = reason
	}
	if why != "" {
		d.log.Info("dataflow: view not checkpointed, a restart computes it again", "view", v.name, "reason", why)
		v.inputs = nil
		return
	}
	v.checkpointed = true
	v.replayable = v.df.Stateless() && !slices.ContainsFunc(v.inputs, func(i checkpointInput) bool { return i.kind != inputStream })
	began := time.Now()
	ck, err := d.ckpt.read(v.id)
	in.read = time.Since(began)
	switch {
	case err != nil:
		d.log.Warn("dataflow: checkpoint not used, the view is computed again", "view", v.name, "err", err)
	case ck == nil:
	case !bytes.Equal(ck.planHash, v.planHash) || ck.workers != d.workers:
		d.log.Info("dataflow: checkpoint not used: the view's plan or workers changed", "view", v.name)
		ck.release()
	case !inputsMatch(ck.inputs, v.inputs):
		d.log.Info("dataflow: checkpoint not used: the view's inputs changed", "view", v.name)
		ck.release()
	default:
		in.ck = ck
	}
}

// scanCheckpointInputs opens, at the install's cut, the scans restoring
// and tracking v's inputs need.
func (in *startInput) scanCheckpointInputs(v *runningView, txn *storage.Txn, tables map[uint32]*storage.Table) {
	in.tails, in.hashScans = map[uint32]*storage.TableScan{}, map[uint32]*storage.TableScan{}
	for _, i := range v.inputs {
		t := tables[i.rel]
		switch {
		case i.kind == inputTable:
			in.hashScans[i.rel] = txn.Scan(t)
		case in.ck != nil:
			in.tails[i.rel] = txn.ScanFrom(t, int(in.ck.value(i.rel)))
		}
	}
}

// inputState returns, on the loop, the state at the install's cut of each
// of v's checkpoint inputs: a stream's history length, a table's content
// hash. A table the loop tracks already has its hash at the cut (its
// changes up to the cut came before v's start).
func (d *dataflows) inputState(v *runningView, in *startInput) map[uint32]uint64 {
	state := map[uint32]uint64{}
	for _, i := range v.inputs {
		if i.kind == inputStream {
			state[i.rel] = uint64(in.scans[i.rel].Positions())
			continue
		}
		h, ok := d.tableHashes[i.rel]
		if !ok {
			var err error
			if h, err = scanHash(in.hashScans[i.rel]); err != nil {
				d.log.Warn("dataflow: view not checkpointed", "view", v.name, "err", err)
				if in.ck != nil {
					in.ck.release()
				}
				v.checkpointed, v.inputs, in.ck = false, nil, nil
				return nil
			}
		}
		state[i.rel] = h
	}
	return state
}

// restore restores v's dataflow from its checkpoint if the checkpoint's
// inputs are still what the view reads (a stream's history at least as
// long, a table's content the same), returning the view's rows it held
// (consolidated, in chunks) and true; false when v must be computed from
// its inputs instead. Only a failure to build the dataflow again is an
// error.
//
// When the checkpoint is caught up (no history after it, the sources'
// watermarks where they were), the view's first epoch is its rows alone:
// restore only decodes them (in.behind), and resume serves them before it
// restores the operators' state, which only the next epoch needs.
func (d *dataflows) restore(v *runningView, in *startInput, state map[uint32]uint64) ([]*coldata.Chunk, bool, error) {
	ck := in.ck
	if ck == nil {
		return nil, false, nil
	}
	for _, i := range ck.inputs {
		if i.kind == inputStream && i.value > state[i.rel] || i.kind == inputTable && i.value != state[i.rel] {
			d.log.Info("dataflow: checkpoint not used: its inputs changed since", "view", v.name, "relation", i.rel)
			ck.release()
			return nil, false, nil
		}
	}
	began := time.Now()
	defer func() { in.decoded = time.Since(began) }()
	deltas := ck.stateDeltas()
	last := ck.state
	if len(deltas) > 0 {
		last = deltas[len(deltas)-1]
	}
	var rows []*coldata.Chunk
	var err error
	// Under a memory limit the state restores first: its operators evict
	// to their share at the end of the start's epoch, before the next
	// view starts, instead of holding it whole while the views go on.
	if d.budget == nil && ck.caughtUp(state) && v.df.SnapshotAt(last, d.sourceWatermarks(v)) {
		if rows, err = readViewRows(ck, v.arr.Types()); err == nil {
			in.behind = true
			return rows, true, nil
		}
	} else {
		// The rows decode beside the operators' state (which restores on
		// every worker at once): neither reads the other.
		var rowsErr error
		var wg sync.WaitGroup
		wg.Go(func() { rows, rowsErr = readViewRows(ck, v.arr.Types()) })
		if err = ck.checkState(); err == nil {
			err = v.df.Restore(ck.state, deltas...)
		}
		wg.Wait()
		err = errors.Join(err, rowsErr)
	}
	// The files' bytes are decoded: their mappings go.
	ck.release()
	if err == nil {
		return rows, true, nil
	}
	d.log.Warn("dataflow: checkpoint not used, the view is computed again", "view", v.name, "err", err)
	v.df.Close()
	if v.df, err = d.newDataflow(in.plan); err != nil {
		return nil, false, err
	}
	return nil, false, nil
}

// stateDeltas returns the operator state of ck's deltas, in order.
func (ck *checkpoint) stateDeltas() [][]byte {
	deltas := make([][]byte, len(ck.deltas))
	for i, d := range ck.deltas {
		deltas[i] = d.state
	}
	return deltas
}

// caughtUp reports whether ck holds every row of its streams' history as
// it is now (state, inputState's): nothing comes after it to replay.
func (ck *checkpoint) caughtUp(state map[uint32]uint64) bool {
	for _, i := range ck.inputs {
		if i.kind == inputStream && i.value != state[i.rel] {
			return false
		}
	}
	return true
}

// readViewRows decodes the view's rows ck holds (typs): the base's rows
// then its deltas' changes, not consolidated: into the view's empty
// arrangement, Apply settles them (dataflow.Arrangement.Apply).
//
// A mapped checkpoint's rows are read in place (their text, ints,
// timestamps and floats point into the mapping, not into copies), and its
// files' rows stay mapped for the process's life (release): copying them
// was most of the rows' decoding, into fresh memory.
func readViewRows(ck *checkpoint, typs []*types.T) ([]*coldata.Chunk, error) {
	files := append([]*checkpoint{ck}, ck.deltas...)
	inPlace := mapsFiles && slices.ContainsFunc(typs, func(t *types.T) bool {
		p := t.Phys()
		return p == types.PhysBytes || p == types.PhysInt || p == types.PhysFloat
	})
	for _, f := range files {
		inPlace = inPlace && f.mapped != nil && writableFrom(f.mapped, f.rows) == nil
	}
	reader := func(b []byte) *dataflow.SnapshotReader {
		r := dataflow.NewSnapshotReader(b)
		if inPlace {
			r.InPlace()
		}
		return r
	}
	rows, err := dataflow.ReadRows(reader(ck.rows), typs)
	if err != nil {
		return nil, err
	}
	parts := [][]*coldata.Chunk{rows}
	for i, d := range ck.deltas {
		changes, err := dataflow.ReadChanges(reader(d.rows), typs)
		if err != nil {
			return nil, fmt.Errorf("delta %d: %w", i+1, err)
		}
		parts = append(parts, changes)
	}
	for _, f := range files {
		f.rowsShared = inPlace
	}
	return slices.Concat(parts...), nil
}

// resume is start for a view restored from its checkpoint: its first
// epoch is its streams' history after the checkpoint, and its first
// output the checkpoint's rows with that epoch's changes.
func (d *dataflows) resume(v *runningView, in *startInput, state map[uint32]uint64, rows []*coldata.Chunk) error {
	if in.behind {
		return d.resumeBehind(v, in, state, rows)
	}
	began := time.Now()
	replayed := 0
	out, wm, err := v.df.StepFeed(func(put func(int, *coldata.Chunk)) error {
		for rel, nodes := range v.sources {
			tail := in.tails[rel]
			if tail == nil {
				continue // a table, whose content the checkpoint holds
			}
			for {
				c, _, ok := tail.Next()
				if !ok {
					if err := tail.Err(); err != nil {
						return err
					}
					break
				}
				if c.Len == 0 {
					continue
				}
				replayed += c.Len
				v.feed(put, nodes, c)
			}
		}
		return nil
	}, d.sourceWatermarks(v))
	if err != nil {
		return err
	}
	retracts := false
	for _, c := range out {
		for _, x := range c.Diffs[:c.Len] {
			retracts = retracts || x < 0
		}
	}
	rows = append(rows, out...)
	if retracts {
		rows = dataflow.ConsolidateChunks(rows)
	}
	// Unless the history after the checkpoint changed it, the view is
	// what its checkpoint holds.
	v.dirty = replayed > 0
	replay := time.Since(began)
	indexing := time.Now()
	d.run(v, state, rows, wm)
	d.logRestored(v, in, replayed, replay, time.Since(indexing))
	return nil
}

// resumeBehind is resume for a checkpoint restore found caught up: the
// view serves the checkpoint's rows, then its operators' state restores
// on goroutines of their own (the dataflow's next use waits for it), and
// finishRestore steps the epoch the start left out once it is done.
// Until then the view's output watermark is NoWatermark (that of an input
// with none yet): the views that read it start after finishRestore. A
// state that fails to restore, or whose first step fails, has the view
// computed again (recompute).
func (d *dataflows) resumeBehind(v *runningView, in *startInput, state map[uint32]uint64, rows []*coldata.Chunk) error {
	v.dirty = false
	v.restoring = true
	v.fallback = in
	indexing := time.Now()
	d.run(v, state, rows, dataflow.NoWatermark)
	indexed := time.Since(indexing)
	ck := in.ck
	began := time.Now()
	v.df.RestoreBehind(ck.checkState, func(err error) {
		ck.release()
		if err == nil {
			d.log.Info("dataflow: view's operator state restored behind its first epoch", "view", v.name, "elapsed", time.Since(began).Round(time.Millisecond))
		}
		d.enqueue(feedItem{cmd: func() { d.finishRestore(v) }})
	}, ck.state, ck.stateDeltas()...)
	d.logRestored(v, in, 0, 0, indexed)
	return nil
}

// finishRestore ends the start of v, whose operators' state restored
// behind its first epoch, unless a step did first (v.restoring false):
// the epoch its start left out (no rows, no watermark moved since the
// checkpoint) gives the view's output watermark.
func (d *dataflows) finishRestore(v *runningView) {
	if !v.restoring {
		return
	}
	v.restoring = false
	if v.failed != nil || d.running[v.id] != v {
		return
	}
	out, wm, err := v.df.Step(nil, d.sourceWatermarks(v))
	if err != nil && v.fallback != nil {
		out, wm, err = d.recompute(v, nil, err)
	}
	v.fallback = nil
	if err != nil {
		d.fail(v, err)
		return
	}
	if changedRows(out) > 0 {
		// SnapshotAt says an epoch without changes outputs nothing: it
		// is published all the same, as are a recomputed view's changes.
		v.dirty = true
		d.publish(map[uint32][]*coldata.Chunk{v.id: out})
	}
	if wm != v.watermark {
		d.setWatermark(v, wm)
	}
}

// recompute computes v again from its inputs, as a start without its
// checkpoint does, when the operators' state that restored behind its
// rows failed (cause: the restore's error, or the first step's after
// it): a damaged state, a restore's bug. The view has not stepped since
// its start (its steps wait for the state), so its inputs are what the
// start's cut read (v.fallback) and inputs, the epoch being stepped, if
// any. The rows it serves are the checkpoint's until the caller
// publishes what recompute returns: the changes from them to the rows
// computed (none when they were right), and the output watermark, so
// that readers, subscriptions and the views reading v see one or the
// other, never a part. The next checkpoint is a base.
func (d *dataflows) recompute(v *runningView, inputs map[int][]*coldata.Chunk, cause error) ([]*coldata.Chunk, int64, error) {
	in := v.fallback
	d.log.Warn("dataflow: checkpoint not used, the view is computed again", "view", v.name, "err", cause)
	v.df.Close()
	df, err := d.newDataflow(in.plan)
	if err != nil {
		return nil, 0, err
	}
	v.df = df
	out, wm, err := v.df.StepFeed(func(put func(int, *coldata.Chunk)) error {
		if err := d.feedContent(v, in.scans, put); err != nil {
			return err
		}
		v.df.Graph().PutInputs(inputs, put)
		return nil
	}, d.sourceWatermarks(v))
	if err != nil {
		return nil, 0, err
	}
	v.dirty = true
	v.endChain()
	s := v.arr.Snapshot(d.epoch)
	if s == nil {
		return nil, 0, sqlerr.Bug("view %q has no snapshot at its published epoch %d", v.name, d.epoch)
	}
	if s.Len() == 0 {
		return out, wm, nil
	}
	next := s.Scan()
	var served []*coldata.Chunk
	for c := next(); c != nil; c = next() {
		served = append(served, withDiffs(c, -1))
	}
	var changes []*coldata.Chunk
	for _, c := range dataflow.ConsolidateChunks(append(served, out...)) {
		if c.Len > 0 {
			changes = append(changes, c)
		}
	}
	return changes, wm, nil
}

// logRestored logs the restore of v from its checkpoint, with the rows
// its first epoch published (the changes it was given are not
// consolidated: see readViewRows).
func (d *dataflows) logRestored(v *runningView, in *startInput, replayed int, replay, indexed time.Duration) {
	rows := 0
	if s := v.arr.Snapshot(d.epoch); s != nil {
		rows = s.Len()
	}
	d.log.Info("dataflow: view restored from its checkpoint", "view", v.name, "rows", rows, "stream_rows_replayed", replayed, "deltas", len(in.ck.deltas),
		"read", in.read.Round(time.Millisecond), "decoded", in.decoded.Round(time.Millisecond), "elapsed", replay.Round(time.Millisecond),
		"indexed", indexed.Round(time.Millisecond), "state_behind", in.behind)
}

// trackChange follows a committed change of a checkpoint input.
func (d *dataflows) trackChange(c storage.Change) {
	if _, ok := d.positions[c.TableID]; ok {
		d.positions[c.TableID] = c.Positions
	}
	if h, ok := d.tableHashes[c.TableID]; ok {
		for _, ch := range c.Chunks {
			h, d.hashBuf = tableHash(h, ch, d.hashBuf)
		}
		d.tableHashes[c.TableID] = h
	}
}

// checkpoint takes, between two epochs, a checkpoint of every checkpointed
// view that stepped since its last one (or whose last one failed to
// write) and hands them to the writer: every interval, or now when force.
// The loop only gathers the operators' state (serializing what the
// writer cannot encode later); the writer encodes the rest, scans the
// views' rows (an arrangement snapshot) and writes the files. An interval
// whose previous checkpoints are still being written takes none: the
// loop never waits for the writer. A forced one (the shutdown's, once the
// loop has stopped) waits for them first.
//
// The pause is taken a view at a time: before each view it serializes,
// the loop steps the small commits waiting for it that may go ahead of
// the others (stepSmallQueued), so that a freshness marker
// committed during the step before the checkpoint, or during it, waits
// for one view's serialization, not for every view's (pause p50 15-19 ms,
// p99 25-92 ms at 1000 bench serve connections). Each view's file records
// its own inputs' positions (or hashes) as they are when its state is
// taken, and a restart restores each view from its own file and catches
// it up on its own (views over views are not checkpointed), so the views
// of one checkpoint need not be taken at one epoch.
func (d *dataflows) checkpoint(force bool) {
	c := d.ckpt
	if c == nil || !force && !c.due(time.Now(), d.commitsQueued()) {
		return
	}
	if force {
		c.waitIdle()
	}
	if failed := c.takeUnwritten(); len(failed) > 0 {
		// Their last checkpoint was not written: take them again, as a
		// base (a delta would follow the one not written).
		for _, v := range d.order {
			if slices.Contains(failed, v.id) {
				v.dirty = true
				v.endChain()
			}
		}
	}
	var batch []checkpointJob
	stateBytes := 0
	// paused is the loop's time serializing; longest its longest piece
	// (a view's), what a small commit queued meanwhile waits for.
	var paused, longest time.Duration
	for _, v := range d.order {
		// A view that did not step since its last checkpoint takes none:
		// its chain is within the rule (a delta that would have outgrown
		// it was replaced by a base).
		if !v.checkpointed || v.failed != nil || !v.dirty {
			continue
		}
		if !force {
			d.stepSmallQueued()
		}
		if v.failed != nil || d.replays(v) {
			continue
		}
		began := time.Now()
		job, ok := d.checkpointView(v)
		took := time.Since(began)
		paused += took
		longest = max(longest, took)
		if ok {
			stateBytes += job.state.Len()
			batch = append(batch, job)
			d.log.Debug("dataflow: view's checkpoint taken", "view", v.name, "base", job.ck.kind == checkpointBase, "state_bytes", job.state.Len(), "loop_pause", took.Round(time.Microsecond))
		}
	}
	c.last = time.Now()
	if len(batch) == 0 {
		return
	}
	d.timings.checkpointPause.Observe(longest.Seconds())
	d.log.Debug("dataflow: checkpoint taken", "views", len(batch), "state_bytes", stateBytes, "loop_pause", paused.Round(time.Microsecond), "longest", longest.Round(time.Microsecond))
	c.submit(batch)
}

// stepSmallQueued steps, in one epoch, the small commits taken or queued
// before the first command that may go ahead of the others (goesAhead).
// The others stay where they are, in order: those queued still count in
// the sources' backlog (waitBacklog), which taking them at each view
// would let the sources fill again.
func (d *dataflows) stepSmallQueued() {
	d.mu.Lock()
	taken := len(d.taken)
	items := slices.Concat(d.taken, d.queue)
	free := d.aheadOfCommand(map[uint32]bool{}, items)
	if free == nil {
		d.mu.Unlock()
		return
	}
	var ahead, keptTaken, keptQueue []feedItem
	dequeued := false
	for i, it := range items {
		switch {
		case i < len(free) && free[i]:
			ahead = append(ahead, it)
			if i >= taken {
				d.queuedRows -= it.rows
				dequeued = true
			}
		case i < taken:
			keptTaken = append(keptTaken, it)
		default:
			keptQueue = append(keptQueue, it)
		}
	}
	d.taken, d.queue = keptTaken, keptQueue
	if dequeued {
		d.signalDrained()
	}
	d.mu.Unlock()
	d.stepEpoch(ahead, false)
}

// checkpointView takes v's checkpoint at the loop's epoch, a delta or a
// base (checkpoint), with its inputs' positions and hashes as they are;
// ok is false when none is to be written.
func (d *dataflows) checkpointView(v *runningView) (job checkpointJob, ok bool) {
	rowBytes := d.ckpt.viewRowBytes(v.id)
	inputs := slices.Clone(v.inputs)
	for i, in := range inputs {
		if in.kind == inputStream {
			inputs[i].value = uint64(d.positions[in.rel])
		} else {
			inputs[i].value = d.tableHashes[in.rel]
		}
	}
	job = checkpointJob{ck: checkpoint{view: v.id, planHash: v.planHash, workers: d.workers, inputs: inputs}, state: dataflow.NewDeferredSnapshotWriter()}
	var err error
	// baseFailed: the base taken in place of a delta failed, so the
	// delta goes out and the chain ends after it.
	baseFailed := false
	if v.deltaDue(d.epoch, rowBytes) {
		job.ck.kind, job.ck.gen, job.ck.seq = checkpointDelta, v.gen, uint64(v.deltas+1)
		job.changes = v.changes
		err = v.df.SnapshotDelta(job.state)
		// A delta's state size is known exactly only once it is
		// serialized (deltaDue estimated it, from the aggregates' pages
		// only): a delta that rewrote most of the state would leave a
		// chain a restart reads and decodes whole, base and deltas, for
		// one state. A base replaces it now, in the same pause, so that
		// the chain never stays overgrown (nor waits for the view to
		// go idle). SnapshotSize holds the delta's pages by now.
		if err == nil && !v.chainWithin(d.epoch, rowBytes, job.state.Len(), 0) {
			base := checkpointJob{ck: job.ck, state: dataflow.NewDeferredSnapshotWriter()}
			if berr := d.takeBase(v, &base); berr != nil {
				d.releaseState(v, base.state)
				// The operators' delta tracking restarted with the
				// delta: it is the only record of what changed, so
				// it is written, and the next checkpoint is a base.
				d.log.Warn("dataflow: view's delta checkpoint not replaced by a base", "view", v.name, "err", berr)
				baseFailed = true
			} else {
				d.releaseState(v, job.state)
				job = base
			}
		}
	} else if err = d.takeBase(v, &job); job.rows == nil {
		// The arrangement no longer holds the loop's epoch (it cannot
		// be behind its own view, but a nil snapshot must not become
		// an empty or missing checkpoint): the next interval tries
		// again.
		d.log.Warn("dataflow: view not checkpointed this interval: its rows at the epoch are gone", "view", v.name, "epoch", d.epoch)
		return job, false
	}
	if err != nil {
		d.releaseState(v, job.state)
		d.log.Error("dataflow: view not checkpointed", "view", v.name, "err", err)
		v.checkpointed = false
		v.endChain()
		return job, false
	}
	v.dirty = false
	changes := v.changesCost
	v.changes, v.changesCost = nil, 0
	if job.ck.kind == checkpointBase {
		v.endChain()
		v.baseSize, v.deltaSize = job.state.Len(), 0
		v.baseRows, v.deltaCost = job.rows.Len(), 0
		// Deltas follow this base: the output's changes are kept
		// from now on.
		v.gen = job.ck.gen
	} else {
		v.deltas++
		v.deltaSize += job.state.Len()
		v.deltaCost += changes
	}
	if baseFailed {
		v.endChain()
		v.dirty = true
	}
	return job, true
}

// releaseState releases what a snapshot not to be written streams from
// (its spill store snapshots).
func (d *dataflows) releaseState(v *runningView, state *dataflow.SnapshotWriter) {
	if err := state.Release(); err != nil {
		d.log.Warn("dataflow: view's snapshot not released", "view", v.name, "err", err)
	}
}

// replays reports whether v's checkpoints are skipped: v is replayable
// and keeps at least 1/replayRatio of the rows its streams' history
// holds. The decision is made again at every interval (logged when it
// changes); while skipping, v's chain is ended (its output changes are not
// kept), so its next checkpoint is a base. Files it wrote before stay
// valid: a restart restores them and replays the history after them.
func (d *dataflows) replays(v *runningView) bool {
	if !v.replayable {
		return false
	}
	read, kept := 0, 0
	for _, in := range v.inputs {
		read += d.positions[in.rel]
	}
	if s := v.arr.Snapshot(d.epoch); s != nil {
		kept = s.Len()
	}
	replay := kept*replayRatio >= read
	if replay != v.replaying {
		v.replaying = replay
		if replay {
			d.log.Info("dataflow: view not checkpointed while it keeps most of what it reads: a restart replays its streams' history", "view", v.name, "rows", kept, "stream_rows", read)
		} else {
			d.log.Info("dataflow: view checkpointed again: it keeps few of the rows it reads", "view", v.name, "rows", kept, "stream_rows", read)
		}
	}
	if replay {
		v.endChain()
	}
	return replay
}

// deltaDue reports whether v's next checkpoint, at epoch, is a delta: it
// has a base (written, or handed to the writer before this delta), fewer
// than maxDeltas deltas, and a chain within the rule with the delta as
// the operators estimate it (dataflow.SnapshotDeltaSize: an aggregate
// whose every page changed would write the state again) and the output
// changes it would hold.
func (v *runningView) deltaDue(epoch uint64, rowBytes float64) bool {
	if v.gen == 0 || v.deltas >= maxDeltas {
		return false
	}
	delta, growth := v.df.SnapshotDeltaSize()
	return v.chainWithin(epoch, rowBytes, delta, growth)
}

// chainWithin reports whether v's base and deltas, with a delta of
// deltaState state bytes and the output changes kept since the last
// checkpoint, hold less than chainFactor times what a base would (the
// state, which the delta grows by growth bytes, and the rows, priced at
// rowBytes each).
func (v *runningView) chainWithin(epoch uint64, rowBytes float64, deltaState, growth int) bool {
	rows := 0
	if s := v.arr.Snapshot(epoch); s != nil {
		rows = s.Len()
	}
	chain := float64(v.baseSize+v.deltaSize+deltaState) + float64(v.baseRows+v.deltaCost+v.changesCost)*rowBytes
	// An empty chain (a base of no state and no rows) is never overgrown.
	return chain == 0 || chain < chainFactor*(float64(v.df.SnapshotSize()+growth)+float64(rows)*rowBytes)
}

// takeBase fills j, a job of v's, as a base: v's rows at the loop's epoch
// and its whole operator state. j.rows stays nil when the arrangement no
// longer holds the epoch.
func (d *dataflows) takeBase(v *runningView, j *checkpointJob) error {
	if j.rows = v.arr.Snapshot(d.epoch); j.rows == nil {
		return fmt.Errorf("view %s: its rows at epoch %d are gone", v.name, d.epoch)
	}
	j.ck.kind, j.ck.gen, j.ck.seq = checkpointBase, newGen(), 0
	j.changes = nil
	return v.df.Snapshot(j.state)
}

// changeCost prices output changes in base rows (insertWeight,
// retractWeight).
func changeCost(out []*coldata.Chunk) int {
	n := 0
	for _, c := range out {
		if c.Diffs == nil {
			n += insertWeight * c.Len
			continue
		}
		for _, d := range c.Diffs {
			if d < 0 {
				n += retractWeight
			} else {
				n += insertWeight
			}
		}
	}
	return n
}

// endChain makes v's next checkpoint a base.
func (v *runningView) endChain() {
	v.gen, v.deltas, v.changes, v.changesCost = 0, 0, nil, 0
}

// newGen returns a base generation, random so that no delta of the
// directory holds it: deltas of another generation end a base's chain.
func newGen() uint64 {
	for {
		if g := rand.Uint64(); g != 0 {
			return g
		}
	}
}

// logChanges keeps v's output changes of an epoch for its next delta
// checkpoint (only while it has a base).
func (v *runningView) logChanges(out []*coldata.Chunk) {
	if v.gen != 0 {
		v.changes = append(v.changes, out...)
		v.changesCost += changeCost(out)
	}
}
