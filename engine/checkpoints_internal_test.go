package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/dataflow"
	"github.com/sluice-db/sluice/internal/testbin"
	"github.com/sluice-db/sluice/pgwire"
	"github.com/sluice-db/sluice/storage"
	"github.com/sluice-db/sluice/types"
)

// rowsWriter is a pgwire.ResultWriter that keeps the rows as text.
type rowsWriter struct{ rows []string }

func (w *rowsWriter) WriteChunk(c *coldata.Chunk) error {
	for i := range c.Len {
		w.rows = append(w.rows, fmt.Sprint(c.Row(i)))
	}
	return nil
}
func (*rowsWriter) CopyIn(pgwire.CopyFormat, int) (io.Reader, error)  { return nil, io.EOF }
func (*rowsWriter) CopyOut(pgwire.CopyFormat, int) (io.Writer, error) { return io.Discard, nil }
func (*rowsWriter) ParameterStatus(string, string) error              { return nil }
func (*rowsWriter) Notice(string, string, string) error               { return nil }
func (*rowsWriter) Flush() error                                      { return nil }

// chainEngine is an engine over dir whose views are checkpointed only
// when the test says (checkpointNow), one session of it, and its log.
type chainEngine struct {
	t   *testing.T
	dir string
	db  *storage.DB
	e   *Engine
	s   pgwire.Session
	log *testbin.SyncBuffer
	// closed: close was called (a failed test's cleanup closes the rest).
	closed bool
}

func openChainEngine(t *testing.T, dir string) *chainEngine {
	t.Helper()
	return openHookedChainEngine(t, dir, nil)
}

// openHookedChainEngine is openChainEngine whose logger also hands every
// record, of any level, to hook (on the goroutine logging it).
func openHookedChainEngine(t *testing.T, dir string, hook func(slog.Record)) *chainEngine {
	t.Helper()
	c := &chainEngine{t: t, dir: dir, log: &testbin.SyncBuffer{}}
	var err error
	if c.db, err = storage.Open(filepath.Join(dir, "db")); err != nil {
		t.Fatal(err)
	}
	var h slog.Handler = slog.NewTextHandler(c.log, nil)
	if hook != nil {
		h = hookedHandler{Handler: h, hook: hook}
	}
	// An interval of an hour: the loop takes none of its own.
	if c.e, err = New(c.db, WithLogger(slog.New(h)), WithCheckpoints(c.ckptDir(), time.Hour)); err != nil {
		_ = c.db.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !c.closed {
			_ = c.e.Close()
			_ = c.db.Close()
		}
	})
	if c.s, err = c.e.Open(context.Background(), map[string]string{"user": "sluice"}); err != nil {
		t.Fatal(err)
	}
	return c
}

// hookedHandler hands every record to hook, and those its Handler takes
// to it.
type hookedHandler struct {
	slog.Handler
	hook func(slog.Record)
}

func (h hookedHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h hookedHandler) Handle(ctx context.Context, r slog.Record) error {
	h.hook(r)
	if !h.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h hookedHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return hookedHandler{Handler: h.Handler.WithAttrs(attrs), hook: h.hook}
}

func (h hookedHandler) WithGroup(name string) slog.Handler {
	return hookedHandler{Handler: h.Handler.WithGroup(name), hook: h.hook}
}

func (c *chainEngine) ckptDir() string { return filepath.Join(c.dir, "checkpoints") }

func (c *chainEngine) close() {
	c.t.Helper()
	c.closed = true
	if err := c.e.Close(); err != nil {
		c.t.Fatal(err)
	}
	if err := c.db.Close(); err != nil {
		c.t.Fatal(err)
	}
}

// exec runs sql and returns its rows as text, sorted.
func (c *chainEngine) exec(sql string) []string {
	c.t.Helper()
	rows, err := sessionRows(c.s, sql)
	if err != nil {
		c.t.Fatal(err)
	}
	return rows
}

// sessionRows runs sql in s and returns its rows as text, sorted.
func sessionRows(s pgwire.Session, sql string) ([]string, error) {
	ctx := context.Background()
	stmts, err := s.Parse(ctx, sql)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", sql, err)
	}
	w := &rowsWriter{}
	for _, st := range stmts {
		p, err := st.Bind(ctx, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", sql, err)
		}
		if _, _, err := p.Execute(ctx, 0, w); err != nil {
			return nil, fmt.Errorf("%s: %w", sql, err)
		}
	}
	slices.Sort(w.rows)
	return w.rows, nil
}

// insert adds a row to every group of [lo, hi) of stream a.
func (c *chainEngine) insert(lo, hi int) {
	c.t.Helper()
	c.exec(fmt.Sprintf("INSERT INTO a SELECT g, g %% 13 FROM generate_series(%d, %d) g", lo, hi-1))
}

// checkpointNow has the loop take the views' checkpoints after every
// change so far, and waits until the writer has written them.
func (c *chainEngine) checkpointNow() {
	c.t.Helper()
	d := c.e.views
	c.waitWriter()
	if err := d.call(context.Background(), func() { d.checkpoint(true) }); err != nil {
		c.t.Fatal(err)
	}
	c.waitWriter()
}

// waitWriter waits until the checkpoint writer is idle.
func (c *chainEngine) waitWriter() {
	c.t.Helper()
	for deadline := time.Now().Add(20 * time.Second); c.e.views.ckpt.busy.Load(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			c.t.Fatalf("the checkpoint writer is still busy\n%s", c.log.String())
		}
	}
}

// files returns the view's checkpoint files (temporary ones excluded),
// sorted, and its base's bytes.
func (c *chainEngine) files(view string) ([]string, []byte) {
	c.t.Helper()
	id := fmt.Sprint(c.viewID(view))
	entries, err := os.ReadDir(c.ckptDir())
	if err != nil {
		c.t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if rest, ok := strings.CutPrefix(e.Name(), id+"."); ok && !strings.HasSuffix(rest, ".tmp") {
			names = append(names, rest)
		}
	}
	base, err := os.ReadFile(filepath.Join(c.ckptDir(), id+checkpointExt))
	if err != nil {
		c.t.Fatal(err)
	}
	return names, base
}

func (c *chainEngine) viewID(view string) uint32 {
	c.t.Helper()
	return relID(c.t, c.e, view)
}

const chainGroups = 5000

// startChain creates view v over stream a with chainGroups groups (some
// twenty pages of its aggregate), takes its base, then a delta of a few
// groups: the chain a large delta follows.
func startChain(t *testing.T, dir string) *chainEngine {
	c := openChainEngine(t, dir)
	c.exec("CREATE STREAM a (k int, v int)")
	c.exec("CREATE MATERIALIZED VIEW v AS SELECT k, count(*) AS n, sum(v) AS s FROM a GROUP BY k")
	c.insert(0, chainGroups)
	c.checkpointNow()
	if names, _ := c.files("v"); !slices.Equal(names, []string{"ckpt"}) {
		t.Fatalf("files after the first checkpoint: %v, want the base\n%s", names, c.log.String())
	}
	c.insert(0, 10)
	c.checkpointNow()
	if names, _ := c.files("v"); !slices.Equal(names, []string{"1.delta", "ckpt"}) {
		t.Fatalf("files after a change of a few groups: %v, want the base and a delta\n%s", names, c.log.String())
	}
	return c
}

// restartSame restarts c's engine and checks that view v, restored from
// its checkpoint, holds what it held before, and what it holds created
// afresh.
func (c *chainEngine) restartSame() *chainEngine {
	c.t.Helper()
	before := c.exec("SELECT * FROM v")
	c.close()
	r := openChainEngine(c.t, c.dir)
	if !strings.Contains(r.log.String(), "view restored from its checkpoint") {
		r.t.Errorf("the view was not restored from its checkpoint\n%s", r.log.String())
	}
	if after := r.exec("SELECT * FROM v"); !slices.Equal(after, before) {
		r.t.Fatalf("after restart %d rows, before %d", len(after), len(before))
	}
	r.exec("CREATE MATERIALIZED VIEW v_fresh AS SELECT k, count(*) AS n, sum(v) AS s FROM a GROUP BY k")
	if fresh := r.exec("SELECT * FROM v_fresh"); !slices.Equal(fresh, before) {
		r.t.Fatalf("created afresh %d rows, restored %d", len(fresh), len(before))
	}
	return r
}

// A delta that touches every group holds as much as the state: the chain
// it would end (base, a small delta, it) holds more than twice a base, so
// a base is taken in its place, at once, not a delta (to be followed by a
// base once the view goes idle).
func TestCheckpointChainEndsAtLargeDelta(t *testing.T) {
	c := startChain(t, t.TempDir())
	_, oldBase := c.files("v")
	c.insert(0, chainGroups)
	c.checkpointNow()
	names, base := c.files("v")
	if !slices.Equal(names, []string{"ckpt"}) || slices.Equal(base, oldBase) {
		t.Fatalf("files after a change of every group: %v (base replaced: %v), want a new base alone\n%s",
			names, !slices.Equal(base, oldBase), c.log.String())
	}
	c.restartSame()
}

// A base taken in place of a delta that fails to be written leaves the
// chain as it was (the base and the small delta, which a restart reads
// and then replays the stream after); the delta's changes are in neither,
// so the next checkpoint, though the view changed little since, must be a
// base and not a delta after the small one.
func TestCheckpointFailedBaseEndsChain(t *testing.T) {
	c := startChain(t, t.TempDir())
	_, oldBase := c.files("v")
	// A directory where the base's temporary file goes fails its write.
	blocker := filepath.Join(c.ckptDir(), fmt.Sprint(c.viewID("v"))+checkpointExt+".tmp")
	if err := os.Mkdir(blocker, 0o755); err != nil {
		t.Fatal(err)
	}
	c.insert(0, chainGroups)
	c.checkpointNow()
	names, base := c.files("v")
	if !slices.Equal(names, []string{"1.delta", "ckpt"}) || !slices.Equal(base, oldBase) || !strings.Contains(c.log.String(), "checkpoint not written") {
		t.Fatalf("files after a base that failed: %v (base replaced: %v), want the chain before\n%s", names, !slices.Equal(base, oldBase), c.log.String())
	}
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	c.insert(0, 10)
	c.checkpointNow()
	names, base = c.files("v")
	if !slices.Equal(names, []string{"ckpt"}) || slices.Equal(base, oldBase) {
		t.Fatalf("files after the failed base and a change of a few groups: %v (base replaced: %v), want a new base alone\n%s",
			names, !slices.Equal(base, oldBase), c.log.String())
	}
	c.restartSame()
}

// A restart after the base in place of a delta failed to be written (and
// the shutdown's base too) reads the chain before it and replays the
// stream after: the view is what it was.
func TestCheckpointFailedBaseRestart(t *testing.T) {
	c := startChain(t, t.TempDir())
	blocker := filepath.Join(c.ckptDir(), fmt.Sprint(c.viewID("v"))+checkpointExt+".tmp")
	if err := os.Mkdir(blocker, 0o755); err != nil {
		t.Fatal(err)
	}
	c.insert(0, chainGroups)
	c.checkpointNow()
	if names, _ := c.files("v"); !slices.Equal(names, []string{"1.delta", "ckpt"}) {
		t.Fatalf("files after a base that failed: %v, want the chain before\n%s", names, c.log.String())
	}
	r := c.restartSame()
	if !strings.Contains(r.log.String(), "deltas=1") || strings.Contains(r.log.String(), "stream_rows_replayed=0 ") {
		t.Fatalf("the view was not restored from its base and delta and the stream after\n%s", r.log.String())
	}
}

// A restart from a base and deltas of which one changed no page of the
// aggregate (the view stepped on a row its filter drops) restores the
// view: the aggregate read its page count, some 40 a worker, as a count
// of what follows, and a delta of no page, a few bytes, stopped the view
// ("count 39 out of range").
func TestCheckpointDeltaOfNoPageRestores(t *testing.T) {
	const groups = 40000
	const def = "SELECT k, count(*) AS n, sum(v) AS s FROM a WHERE v >= 0 GROUP BY k"
	c := openChainEngine(t, t.TempDir())
	c.exec("CREATE STREAM a (k int, v int)")
	c.exec("CREATE MATERIALIZED VIEW v AS " + def)
	c.insert(0, groups)
	c.checkpointNow()
	c.insert(groups-5, groups+5) // groups changed and new
	c.checkpointNow()
	c.exec("INSERT INTO a VALUES (1, -1)") // no group changed
	c.checkpointNow()
	c.insert(groups+5, groups+6) // a new group
	c.checkpointNow()
	if names, _ := c.files("v"); !slices.Equal(names, []string{"1.delta", "2.delta", "3.delta", "ckpt"}) {
		t.Fatalf("files: %v, want a base and three deltas\n%s", names, c.log.String())
	}
	before := c.exec("SELECT * FROM v")
	c.close()
	r := openChainEngine(t, c.dir)
	if !strings.Contains(r.log.String(), "deltas=3") || strings.Contains(r.log.String(), "not used") {
		t.Fatalf("the view was not restored from its base and three deltas\n%s", r.log.String())
	}
	if after := r.exec("SELECT * FROM v"); !slices.Equal(after, before) {
		t.Fatalf("after restart %d rows, before %d", len(after), len(before))
	}
	// The state restores behind the rows served: a step waits for it.
	r.insert(groups+6, groups+7)
	if err := r.e.SyncViews(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, want := r.exec("SELECT * FROM v"), r.exec(def); !slices.Equal(got, want) {
		t.Fatalf("after a change the view has %d rows, the query %d", len(got), len(want))
	}
}

// DISTINCT does not estimate its deltas (dataflow.SnapshotDeltaSize):
// that a delta of it holds the state again (every row's multiplicity
// changed, the output not at all) is known once it is serialized, and a
// delta that ends a chain of more than twice the state is replaced by a
// base then. The view restores to what it was either way.
func TestCheckpointChainEndsAtLargeDeltaUnestimated(t *testing.T) {
	c := openChainEngine(t, t.TempDir())
	c.exec("CREATE STREAM a (k int, v int)")
	c.exec("CREATE MATERIALIZED VIEW v AS SELECT DISTINCT k FROM a")
	c.insert(0, chainGroups)
	c.checkpointNow()
	_, oldBase := c.files("v")
	// The base and a delta of the state again: within twice the state
	// and rows.
	c.insert(0, chainGroups)
	c.checkpointNow()
	if names, _ := c.files("v"); !slices.Equal(names, []string{"1.delta", "ckpt"}) {
		t.Fatalf("files after every row's multiplicity changed once: %v, want the base and a delta\n%s", names, c.log.String())
	}
	c.insert(0, chainGroups)
	c.checkpointNow()
	names, base := c.files("v")
	if !slices.Equal(names, []string{"ckpt"}) || slices.Equal(base, oldBase) {
		t.Fatalf("files after every row's multiplicity changed again: %v (base replaced: %v), want a new base alone\n%s",
			names, !slices.Equal(base, oldBase), c.log.String())
	}
	before := c.exec("SELECT * FROM v")
	c.close()
	r := openChainEngine(t, c.dir)
	if after := r.exec("SELECT * FROM v"); !slices.Equal(after, before) || !strings.Contains(r.log.String(), "view restored from its checkpoint") {
		t.Fatalf("after restart %d rows, before %d\n%s", len(after), len(before), r.log.String())
	}
}

// A delta's output changes are priced in the chain rule by what a
// restore does with them (insertWeight, retractWeight): a view with next
// to no operator state (a projection of a table) is chained by its
// changes alone, priced at the bytes per row of its last file like its
// rows. Of 1000 rows, 20 change (a retraction and an insertion each: 240
// base rows) and go out as a delta; 350 more make a chain of 1000 + 240
// + 4200, over twice the 1000 a base holds: a base replaces it. Counted
// once, the chain would be 1740 rows and stay.
func TestCheckpointChainWeighsChanges(t *testing.T) {
	const rows = 1000
	c := openChainEngine(t, t.TempDir())
	c.exec("CREATE TABLE t (k int PRIMARY KEY, v int)")
	c.exec(fmt.Sprintf("INSERT INTO t SELECT g, 0 FROM generate_series(0, %d) g", rows-1))
	c.exec("CREATE MATERIALIZED VIEW v AS SELECT k, v FROM t")
	c.checkpointNow()
	_, oldBase := c.files("v")
	c.exec(fmt.Sprintf("UPDATE t SET v = 1 WHERE k < %d", rows/50))
	c.checkpointNow()
	if names, _ := c.files("v"); !slices.Equal(names, []string{"1.delta", "ckpt"}) {
		t.Fatalf("files after %d rows changed: %v, want the base and a delta\n%s", rows/50, names, c.log.String())
	}
	c.exec(fmt.Sprintf("UPDATE t SET v = 2 WHERE k < %d", rows*35/100))
	c.checkpointNow()
	names, base := c.files("v")
	if !slices.Equal(names, []string{"ckpt"}) || slices.Equal(base, oldBase) {
		t.Fatalf("files after %d rows changed: %v (base replaced: %v), want a new base alone\n%s",
			rows*35/100, names, !slices.Equal(base, oldBase), c.log.String())
	}
	before := c.exec("SELECT * FROM v")
	c.close()
	r := openChainEngine(t, c.dir)
	if after := r.exec("SELECT * FROM v"); !slices.Equal(after, before) || !strings.Contains(r.log.String(), "view restored from its checkpoint") {
		t.Fatalf("after restart %d rows, before %d\n%s", len(after), len(before), r.log.String())
	}
}

// A due checkpoint waits while commits are queued for the loop, but not
// past a second interval; one is not due before an interval, nor while
// the writer is busy.
func TestCheckpointDueDefersWhileCommitsQueued(t *testing.T) {
	last := time.Unix(1000, 0)
	c := &checkpointer{interval: time.Second, last: last}
	for _, tc := range []struct {
		after  time.Duration
		queued bool
		busy   bool
		want   bool
	}{
		{after: 500 * time.Millisecond, want: false},
		{after: time.Second, want: true},
		{after: time.Second, queued: true, want: false},
		{after: 1900 * time.Millisecond, queued: true, want: false},
		{after: 2 * time.Second, queued: true, want: true},
		{after: 3 * time.Second, busy: true, want: false},
		{after: 3 * time.Second, queued: true, busy: true, want: false},
	} {
		c.busy.Store(tc.busy)
		if got := c.due(last.Add(tc.after), tc.queued); got != tc.want {
			t.Errorf("%v after the last, queued %v, writer busy %v: due %v, want %v", tc.after, tc.queued, tc.busy, got, tc.want)
		}
	}
}

// TestCheckpointWriteFailsMidStream writes a checkpoint whose state has a
// streamed part (as a spilled aggregate's base), then the same file again
// with a part that fails after some of it went out: the file written
// first must stay as it was and decode, the failed one's .tmp must be
// gone, and both parts must be released.
func TestCheckpointWriteFailsMidStream(t *testing.T) {
	dir := t.TempDir()
	c := newCheckpointer(dir, time.Hour, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(c.close)
	piece := strings.Repeat("p", 300<<10)
	released := 0
	job := func(fail bool) *checkpointJob {
		state := dataflow.NewDeferredSnapshotWriter()
		state.Uvarint(5)
		pieces := 8
		err := state.StreamLater(pieces*(3+len(piece)), func(w *dataflow.SnapshotWriter, flush func() error) error {
			for i := range pieces {
				if fail && i == pieces/2 {
					return errors.New("spill store read failed")
				}
				w.String(piece)
				if err := flush(); err != nil {
					return err
				}
			}
			return nil
		}, func() error { released++; return nil })
		if err != nil {
			t.Fatal(err)
		}
		return &checkpointJob{ck: checkpoint{view: 7, kind: checkpointDelta, gen: 1, seq: 1, planHash: make([]byte, 32), workers: 1}, state: state}
	}
	if err := writeCheckpoint(c, job(false)); err != nil {
		t.Fatal(err)
	}
	path := c.deltaPath(7, 1)
	first, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeCheckpoint(c, job(true)); err == nil || !strings.Contains(err.Error(), "spill store read failed") {
		t.Fatalf("a write failing mid-stream: %v", err)
	}
	if released != 2 {
		t.Fatalf("%d streamed parts released, want 2", released)
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(after, first) {
		t.Fatalf("the file written first changed: %d bytes, %d before", len(after), len(first))
	}
	ck, err := decodeCheckpoint(7, after)
	if err != nil {
		t.Fatal(err)
	}
	if want := 1 + 8*(3+len(piece)); len(ck.state) != want {
		t.Fatalf("the checkpoint's state holds %d bytes, want %d", len(ck.state), want)
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Fatalf("the failed write's .tmp: %v", err)
	}
	// The file buffer the failed write left part full writes the next
	// file from its start.
	if err := writeCheckpoint(c, job(false)); err != nil {
		t.Fatal(err)
	}
	again, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, first) {
		t.Fatalf("the file written after the failed one: %d bytes, %d the first time", len(again), len(first))
	}
}

// TestCheckpointFileBufferReused bounds what writing a small delta
// allocates: the writer's file buffer (a megabyte) is its own, reused,
// not made again for each file.
func TestCheckpointFileBufferReused(t *testing.T) {
	dir := t.TempDir()
	c := newCheckpointer(dir, time.Hour, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(c.close)
	write := func(seq uint64) {
		state := dataflow.NewSnapshotWriter(nil)
		state.Uvarint(seq)
		j := &checkpointJob{ck: checkpoint{view: 7, kind: checkpointDelta, gen: 1, seq: seq, planHash: make([]byte, 32), workers: 1}, state: state}
		if err := writeCheckpoint(c, j); err != nil {
			t.Fatal(err)
		}
	}
	write(1)
	const files = 8
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for seq := range uint64(files) {
		write(seq + 2)
	}
	runtime.ReadMemStats(&m1)
	if perFile := (m1.TotalAlloc - m0.TotalAlloc) / files; perFile > checkpointWriteBuffer/4 {
		t.Fatalf("a small delta's file allocated %d bytes, want at most %d", perFile, checkpointWriteBuffer/4)
	}
}

// writeCheckpoint writes j alone, as the writer writes a batch.
func writeCheckpoint(c *checkpointer, j *checkpointJob) error {
	s, err := c.stage(j)
	if err != nil {
		return err
	}
	return c.commitStaged([]*stagedFile{s})[0]
}

// checkpointBatch is a batch of a base of view 6 and deltas of views 7,
// 8 and 9.
func checkpointBatch() []checkpointJob {
	var jobs []checkpointJob
	for _, view := range []uint32{6, 7, 8, 9} {
		state := dataflow.NewSnapshotWriter(nil)
		state.Uvarint(uint64(view))
		ck := checkpoint{view: view, kind: checkpointDelta, gen: 1, seq: 1, planHash: make([]byte, 32), workers: 1}
		j := checkpointJob{ck: ck, state: state}
		if view == 6 {
			j.ck.kind, j.ck.seq = checkpointBase, 0
			j.rows = dataflow.NewArrangement([]*types.T{types.Int8}, nil).Snapshot(0)
		}
		jobs = append(jobs, j)
	}
	return jobs
}

// A batch syncs the checkpoint directory once, after all of its files,
// bases and deltas (a sync per delta, and one per base before its old
// deltas were removed, queued the source commits' syncs behind them);
// when that sync fails, every view of the batch is taken again.
func TestCheckpointBatchSyncsDirectoryOnce(t *testing.T) {
	dir := t.TempDir()
	c := newCheckpointer(dir, time.Hour, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(c.close)
	syncs := 0
	var syncErr error
	c.syncDir = func(string) error { syncs++; return syncErr }
	// An old generation's delta of view 6, which its new base replaces.
	if err := os.WriteFile(c.deltaPath(6, 1), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	c.writeBatch(checkpointBatch())
	if syncs != 1 {
		t.Fatalf("a batch of a base and three deltas synced the directory %d times, want once", syncs)
	}
	if _, err := os.Stat(c.path(6)); err != nil {
		t.Fatalf("view 6's base: %v", err)
	}
	if _, err := os.Stat(c.deltaPath(6, 1)); !os.IsNotExist(err) {
		t.Fatalf("view 6's old delta after its new base: %v", err)
	}
	for _, view := range []uint32{7, 8, 9} {
		if _, err := os.Stat(c.deltaPath(view, 1)); err != nil {
			t.Fatalf("view %d's delta: %v", view, err)
		}
	}
	if u := c.takeUnwritten(); len(u) != 0 {
		t.Fatalf("unwritten after a good batch: %v", u)
	}
	if err := os.WriteFile(c.deltaPath(6, 1), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	syncErr = errors.New("sync failed")
	c.writeBatch(checkpointBatch())
	if u := c.takeUnwritten(); !slices.Equal(u, []uint32{6, 7, 8, 9}) {
		t.Fatalf("unwritten after the directory's sync failed: %v, want every view of the batch", u)
	}
	if _, err := os.Stat(c.deltaPath(6, 1)); err != nil {
		t.Fatalf("view 6's old delta removed though its new base's rename was not synced: %v", err)
	}
}

// A batch's files are synced at once, before any is renamed: each sync
// here waits until every file of the batch is being synced, which syncs
// one after the other never reach. A file whose sync fails is not
// renamed into place (its .tmp is removed) and is taken again; the others
// are written.
func TestCheckpointBatchSyncsFilesAtOnce(t *testing.T) {
	dir := t.TempDir()
	c := newCheckpointer(dir, time.Hour, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(c.close)
	batch := checkpointBatch()
	var arrived sync.WaitGroup
	arrived.Add(len(batch))
	c.syncFile = func(f *os.File) error {
		if _, err := os.Stat(c.deltaPath(7, 1)); !os.IsNotExist(err) {
			t.Errorf("a file renamed before the batch's syncs ended: %v", err)
		}
		arrived.Done()
		all := make(chan struct{})
		go func() { arrived.Wait(); close(all) }()
		select {
		case <-all:
		case <-time.After(10 * time.Second):
			t.Error("the batch's files were not synced at once")
		}
		if strings.HasPrefix(filepath.Base(f.Name()), "8.") {
			return errors.New("sync failed")
		}
		return f.Sync()
	}
	c.writeBatch(batch)
	if u := c.takeUnwritten(); !slices.Equal(u, []uint32{8}) {
		t.Fatalf("unwritten: %v, want the view whose file's sync failed", u)
	}
	if _, err := os.Stat(c.deltaPath(8, 1)); !os.IsNotExist(err) {
		t.Fatalf("the delta whose sync failed: %v", err)
	}
	if _, err := os.Stat(c.deltaPath(8, 1) + ".tmp"); !os.IsNotExist(err) {
		t.Fatalf("the .tmp of the delta whose sync failed: %v", err)
	}
	for _, view := range []uint32{7, 9} {
		if _, err := os.Stat(c.deltaPath(view, 1)); err != nil {
			t.Fatalf("view %d's delta: %v", view, err)
		}
	}
	if _, err := os.Stat(c.path(6)); err != nil {
		t.Fatalf("view 6's base: %v", err)
	}
}

// A batch of more changed views than stagedLimit commits in groups of
// it, so the files it holds open never exceed the limit: each group's
// files are synced, renamed and the directory synced before the next
// group is staged.
func TestCheckpointBatchCommitsInGroups(t *testing.T) {
	dir := t.TempDir()
	c := newCheckpointer(dir, time.Hour, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(c.close)
	c.stagedLimit = 3
	dirSyncs, maxTmp := 0, 0
	c.syncDir = func(string) error { dirSyncs++; return nil }
	c.syncFile = func(f *os.File) error {
		tmp, err := filepath.Glob(filepath.Join(dir, "*.tmp"))
		if err != nil {
			return err
		}
		maxTmp = max(maxTmp, len(tmp))
		return f.Sync()
	}
	batch := checkpointBatch()
	for _, view := range []uint32{10, 11, 12} {
		j := batch[1]
		j.ck.view = view
		j.state = dataflow.NewSnapshotWriter(nil)
		batch = append(batch, j)
	}
	c.writeBatch(batch)
	if dirSyncs != 3 {
		t.Fatalf("a batch of 7 files in groups of 3 synced the directory %d times, want 3", dirSyncs)
	}
	if maxTmp > 3 {
		t.Fatalf("%d files staged at once, want at most 3", maxTmp)
	}
	if u := c.takeUnwritten(); len(u) != 0 {
		t.Fatalf("unwritten: %v", u)
	}
	for _, view := range []uint32{7, 8, 9, 10, 11, 12} {
		if _, err := os.Stat(c.deltaPath(view, 1)); err != nil {
			t.Fatalf("view %d's delta: %v", view, err)
		}
	}
}

// rewriteBase rewrites view's base checkpoint file with rewrite, given
// the file's bytes and the part its operator state takes.
func (c *chainEngine) rewriteBase(view uint32, rewrite func(b []byte, state []byte) []byte) {
	c.t.Helper()
	path := filepath.Join(c.ckptDir(), fmt.Sprint(view)+checkpointExt)
	b, err := os.ReadFile(path)
	if err != nil {
		c.t.Fatal(err)
	}
	ck, err := decodeCheckpoint(view, b)
	if err != nil {
		c.t.Fatal(err)
	}
	off := int(uintptr(unsafe.Pointer(unsafe.SliceData(ck.state))) - uintptr(unsafe.Pointer(unsafe.SliceData(b))))
	if err := os.WriteFile(path, rewrite(b, b[off:off+len(ck.state)]), 0o644); err != nil {
		c.t.Fatal(err)
	}
}

// damageState rewrites the operator state of view's base checkpoint with
// damage; resum makes its checksum right again: the file reads as whole,
// and its state decodes wrong.
func (c *chainEngine) damageState(view uint32, damage func(state []byte), resum bool) {
	c.t.Helper()
	c.rewriteBase(view, func(b, state []byte) []byte {
		damage(state)
		if resum {
			binary.LittleEndian.PutUint32(b[len(b)-4:], checkpointChecksum(state))
		}
		return b
	})
}

// toFormat2 rewrites view's base checkpoint as format 2 wrote it: one
// checksum of the payload after it.
func (c *chainEngine) toFormat2(view uint32) {
	c.t.Helper()
	c.rewriteBase(view, func(b, _ []byte) []byte {
		head := len(checkpointMagic) + 12
		payload := b[head : len(b)-checkpointTrailer]
		binary.LittleEndian.PutUint32(b[len(checkpointMagic):], 2)
		return binary.LittleEndian.AppendUint32(b[:len(b)-checkpointTrailer], checkpointChecksum(payload))
	})
}

// stateSections returns where the workers' sections of a dataflow state
// start: past its format, kind, workers, nodes and source watermarks.
func stateSections(state []byte) int {
	off := 0
	uvarint := func() uint64 {
		x, n := binary.Uvarint(state[off:])
		off += n
		return x
	}
	for range 4 {
		uvarint()
	}
	for range uvarint() {
		uvarint()
		_, n := binary.Varint(state[off:])
		off += n
	}
	return off
}

// A view whose operators' state fails to restore behind the rows it
// serves (a state that decodes wrong under a whole file's checksum) is
// computed again from its inputs, whether the failure is found by the
// step the restore's end brings or by a step of new rows, with its rows
// and its watermark right for the view that reads it; it goes on stepping
// and is checkpointed again, and the other views are restored.
func TestCheckpointDamagedStateRecomputed(t *testing.T) {
	const groups = 3000
	views := map[string]string{
		"v":  "SELECT k, count(*) AS n, sum(v) AS s FROM a GROUP BY k",
		"w":  "SELECT v, count(*) AS n, min(k) AS low FROM a GROUP BY v",
		"vv": "SELECT sum(n) AS n, count(*) AS groups FROM v",
		"vt": "SELECT r, count(*) AS n FROM a JOIN t ON a.v = t.id GROUP BY r",
	}
	c := openChainEngine(t, t.TempDir())
	c.exec("CREATE STREAM a (k int, v int)")
	c.exec("CREATE TABLE t (id int PRIMARY KEY, r text)")
	c.exec("INSERT INTO t SELECT g, 'r' || (g % 4) FROM generate_series(0, 12) g")
	for _, name := range []string{"v", "w", "vv", "vt"} {
		c.exec("CREATE MATERIALIZED VIEW " + name + " AS " + views[name])
	}
	c.insert(0, groups)
	c.insert(0, groups/2)
	c.checkpointNow()
	id := c.viewID("v")
	check := func(r *chainEngine, when string) {
		t.Helper()
		if err := r.e.SyncViews(context.Background()); err != nil {
			t.Fatal(err)
		}
		for name, def := range views {
			if got, want := r.exec("SELECT * FROM "+name), r.exec(def); !slices.Equal(got, want) {
				t.Fatalf("%s %s: %d rows, its query %d\n%s", name, when, len(got), len(want), r.log.String())
			}
		}
	}
	damages := []struct {
		name   string
		damage func(state []byte)
		// resum: the state's checksum is made right, so the state
		// decodes wrong; else the checksum finds it.
		resum bool
		// changes are made at once after the restart: their step may
		// find the failure before the restore's end does.
		changes bool
	}{
		{"format", func(state []byte) { state[0] = 9 }, true, false},
		{"section length", func(state []byte) {
			off := stateSections(state)
			binary.LittleEndian.PutUint64(state[off:], binary.LittleEndian.Uint64(state[off:])-1)
		}, true, true},
		{"a bit, its checksum not made right", func(state []byte) { state[len(state)/2] ^= 0x10 }, false, false},
		{"a bit, changes at once", func(state []byte) { state[len(state)-1] ^= 0x01 }, false, true},
	}
	for _, dm := range damages {
		c.close()
		c.damageState(id, dm.damage, dm.resum)
		r := openChainEngine(t, c.dir)
		if dm.changes {
			r.insert(groups-10, groups+10)
			r.exec("UPDATE t SET r = 'moved' WHERE id = 3")
		}
		check(r, "after a restart from a state damaged: "+dm.name)
		log := r.log.String()
		if n := strings.Count(log, "checkpoint not used"); n != 1 || !strings.Contains(log, "checkpoint not used, the view is computed again\" view=v ") {
			t.Fatalf("%s: %d checkpoints not used, want v's\n%s", dm.name, n, log)
		}
		for _, name := range []string{"v", "w", "vt"} {
			if !strings.Contains(log, "view restored from its checkpoint\" view="+name+" ") {
				t.Fatalf("%s: %s not restored\n%s", dm.name, name, log)
			}
		}
		if strings.Contains(log, "stopped") {
			t.Fatalf("%s: a view stopped\n%s", dm.name, log)
		}
		wms := r.e.views.viewWatermarks()
		if wms[id] != wms[r.viewID("w")] {
			t.Fatalf("%s: v's watermark %d, w's %d", dm.name, wms[id], wms[r.viewID("w")])
		}
		// The view goes on, and its next checkpoint (a base) restores.
		r.insert(groups, groups+100)
		check(r, "stepped after its recompute")
		r.checkpointNow()
		c = r
	}
	r := c.restartSame()
	if strings.Contains(r.log.String(), "not used") {
		t.Fatalf("the checkpoint after the recompute was not used\n%s", r.log.String())
	}
	check(r, "restored from the checkpoint taken after its recompute")
	// A file of format 2 (one checksum of the whole payload, checked
	// before the view serves) is restored as it was.
	r.close()
	r.toFormat2(id)
	r = openChainEngine(t, c.dir)
	if log := r.log.String(); strings.Contains(log, "not used") || !strings.Contains(log, "view restored from its checkpoint\" view=v ") {
		t.Fatalf("a checkpoint of format 2 not restored\n%s", log)
	}
	check(r, "restored from a checkpoint of format 2")
}

// BenchmarkCheckpointSmallDelta writes and commits a delta of a few bytes
// of state, as a view that changed little since its last checkpoint has.
func BenchmarkCheckpointSmallDelta(b *testing.B) {
	c := newCheckpointer(b.TempDir(), time.Hour, slog.New(slog.NewTextHandler(io.Discard, nil)))
	b.Cleanup(c.close)
	b.ReportAllocs()
	seq := uint64(0)
	for b.Loop() {
		seq++
		state := dataflow.NewSnapshotWriter(nil)
		state.Uvarint(seq)
		j := &checkpointJob{ck: checkpoint{view: 7, kind: checkpointDelta, gen: 1, seq: seq, planHash: make([]byte, 32), workers: 1}, state: state}
		if err := writeCheckpoint(c, j); err != nil {
			b.Fatal(err)
		}
	}
}
