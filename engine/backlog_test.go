package engine

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/storage"
	"github.com/sluice-db/sluice/types"
)

// waitBacklog holds a source back while the views' loop has more than the
// limit of changed rows to take, and lets it go once the loop takes them.
func TestWaitBacklog(t *testing.T) {
	db, err := storage.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	d := newDataflows(db, slog.New(slog.DiscardHandler), 1, 1024, time.Hour, nil, nil, nil, newIngestTimings(), true)
	defer d.close()

	release := make(chan struct{})
	d.enqueue(feedItem{cmd: func() { <-release }}) // the loop is busy
	time.Sleep(10 * time.Millisecond)
	rows := coldata.NewChunk([]*types.T{types.Int8}, 0)
	rows.Len = 600
	for range 2 {
		d.enqueue(feedItem{changes: []storage.Change{{TableID: 1, Chunks: []*coldata.Chunk{rows}}}})
	}
	if err := d.waitBacklog(context.Background(), 1200); err != nil {
		t.Fatalf("1200 queued rows within a limit of 1200: %v", err)
	}
	waited := make(chan error, 1)
	go func() { waited <- d.waitBacklog(context.Background(), 1000) }()
	select {
	case err := <-waited:
		t.Fatalf("waitBacklog returned (%v) with 1200 rows queued and a limit of 1000", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	select {
	case err := <-waited:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waitBacklog still waiting after the loop took the queue")
	}
	ctx, cancel := context.WithCancel(context.Background())
	release = make(chan struct{})
	defer close(release)
	d.enqueue(feedItem{cmd: func() { <-release }})
	time.Sleep(10 * time.Millisecond)
	d.enqueue(feedItem{changes: []storage.Change{{TableID: 1, Chunks: []*coldata.Chunk{rows}}}})
	cancel()
	if err := d.waitBacklog(ctx, 10); err != context.Canceled {
		t.Fatalf("cancelled wait: %v", err)
	}
}

// The loop steps the commits it took in order, in epochs of at most
// maxEpochRows rows (or one commit), so that a commit queued behind a big
// one is not held until the commits after it are stepped too.
func TestEpochsBoundedByRows(t *testing.T) {
	d, timings, commit, release := busyLoop(t)
	commit(1, 100)
	commit(1, maxEpochRows)
	commit(1, 100)
	commit(1, 100)
	release()
	if err := d.sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Epochs of 100, maxEpochRows and 200 rows.
	s := timings.epochRows.Snapshot()
	if s.Count != 3 || s.Sum != maxEpochRows+300 {
		t.Fatalf("the loop stepped %d epochs of %v rows in all, want 3 of %d", s.Count, s.Sum, maxEpochRows+300)
	}
}

// A small commit goes ahead of a bigger one queued before it, in an epoch
// of its own, when no view reads both (through other views too); every
// view's commits stay in commit order.
func TestSmallCommitsGoAheadOfOtherViews(t *testing.T) {
	d := &dataflows{order: []*runningView{
		{id: 10, sources: map[uint32][]int{1: {0}}},
		{id: 11, sources: map[uint32][]int{2: {0}}},
		// Reads view 10 and relation 4: 4 is in 1's component.
		{id: 12, sources: map[uint32][]int{10: {0}, 4: {1}}},
	}}
	var names []string
	commit := func(name string, rels []uint32, n int) feedItem {
		it := feedItem{rows: n * len(rels), at: time.Unix(int64(len(names)), 0)}
		for _, rel := range rels {
			rows := coldata.NewChunk([]*types.T{types.Int8}, 0)
			rows.Len = n
			it.changes = append(it.changes, storage.Change{TableID: rel, Chunks: []*coldata.Chunk{rows}})
		}
		names = append(names, name)
		return it
	}
	named := func(items []feedItem) []string {
		var out []string
		for _, it := range items {
			out = append(out, names[it.at.Unix()])
		}
		return out
	}
	commits := []feedItem{
		commit("small1", []uint32{1}, 10),
		commit("big", []uint32{1}, 20000),
		commit("viaview", []uint32{4}, 3),
		commit("marker", []uint32{2}, 1),
		commit("both", []uint32{2, 1}, 1),
		commit("marker2", []uint32{2}, 1),
		commit("unread", []uint32{3}, 5),
		commit("bigother", []uint32{3}, 5000),
	}
	ahead, behind := d.overtaking(commits)
	if got, want := named(ahead), []string{"small1", "marker", "unread"}; !slices.Equal(got, want) {
		t.Errorf("ahead: %v, want %v", got, want)
	}
	if got, want := named(behind), []string{"big", "viaview", "both", "marker2", "bigother"}; !slices.Equal(got, want) {
		t.Errorf("behind: %v, want %v", got, want)
	}
	// Nothing bigger behind: in order, as one run.
	if ahead, behind := d.overtaking(commits[2:4]); ahead != nil || len(behind) != 2 {
		t.Errorf("two small commits: ahead %v, behind %v", named(ahead), named(behind))
	}
}

// The loop steps a small commit queued behind a big one to another view
// first, in an epoch of its own, then the big one with what followed it.
func TestLoopStepsSmallCommitsAhead(t *testing.T) {
	d, timings, commit, release := busyLoop(t)
	commit(1, maxEpochRows-50)
	commit(2, 1)
	commit(1, 100)
	release()
	if err := d.sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	// In commit order the marker would share the big commit's epoch and
	// the last commit have one of its own; ahead, the marker has its own
	// and the two commits to relation 1 are too many rows for one.
	s := timings.epochRows.Snapshot()
	if s.Count != 3 || s.Sum != maxEpochRows+51 {
		t.Fatalf("the loop stepped %d epochs of %v rows in all, want 3 of %d", s.Count, s.Sum, maxEpochRows+51)
	}
}

// The loop steps one epoch of the commits it took and takes the queue
// again, what it took first: a small commit made while the loop steps the
// first of several epochs goes ahead of the rest (to another view).
func TestSmallCommitsOvertakeTheRestOfATake(t *testing.T) {
	// The loop is held in a command: the test steps in its stead.
	d, timings, _, _ := busyLoop(t)
	rows := func(rel uint32, n int) feedItem {
		c := coldata.NewChunk([]*types.T{types.Int8}, 0)
		c.Len = n
		return feedItem{changes: []storage.Change{{TableID: rel, Chunks: []*coldata.Chunk{c}}}, rows: n}
	}
	taken := []feedItem{rows(1, maxEpochRows), rows(1, maxEpochRows), rows(1, 100)}
	rest := d.stepNext(taken)
	if len(rest) != 2 || rest[0].rows != maxEpochRows || rest[1].rows != 100 {
		t.Fatalf("after one epoch, left %d commits, want the last two", len(rest))
	}
	if s := timings.epochRows.Snapshot(); s.Count != 1 || s.Sum != maxEpochRows {
		t.Fatalf("stepped %d epochs of %v rows, want one of %d", s.Count, s.Sum, maxEpochRows)
	}
	// A marker to relation 2, queued meanwhile, steps next on its own;
	// then the first of the two left.
	rest = d.stepNext(append(rest, rows(2, 1)))
	if len(rest) != 1 || rest[0].rows != 100 {
		t.Fatalf("after the marker and an epoch, left %d commits, want the last", len(rest))
	}
	if s := timings.epochRows.Snapshot(); s.Count != 3 || s.Sum != 2*maxEpochRows+1 {
		t.Fatalf("stepped %d epochs of %v rows, want 3 of %d", s.Count, s.Sum, 2*maxEpochRows+1)
	}
	// What the loop took and has not stepped is queued, for a checkpoint
	// that waits for no commit to be queued.
	d.taken = rest
	if !d.commitsQueued() {
		t.Fatal("a commit taken and not stepped is not queued")
	}
	d.taken = nil
	// A command waits for the commits before it.
	ran := false
	rest = d.stepNext(append(rest, feedItem{cmd: func() { ran = true }}))
	if ran || len(rest) != 1 || rest[0].cmd == nil {
		t.Fatalf("a command behind a commit ran (%v) or was lost (%d left)", ran, len(rest))
	}
	if rest = d.stepNext(rest); !ran || len(rest) != 0 {
		t.Fatalf("the command left ran %v, %d items left", ran, len(rest))
	}
}

// Between the views a checkpoint serializes, the loop steps the small
// commits taken or queued that may go ahead of the others: not one behind
// a bigger commit a view reads with it, nor one behind a command. The
// others stay where they were, in order, the queued ones counted in the
// sources' backlog.
func TestCheckpointPauseStepsSmallQueued(t *testing.T) {
	// The loop is held in a command: the test steps in its stead.
	d, timings, commit, _ := busyLoop(t)
	rows := func(rel uint32, n int) feedItem {
		c := coldata.NewChunk([]*types.T{types.Int8}, 0)
		c.Len = n
		return feedItem{changes: []storage.Change{{TableID: rel, Chunks: []*coldata.Chunk{c}}}, rows: n}
	}
	d.taken = []feedItem{rows(1, maxEpochRows), rows(1, 5), rows(2, 7)}
	commit(3, 11)
	commit(4, maxEpochRows)
	ran := false
	d.enqueue(feedItem{cmd: func() { ran = true }})
	commit(5, 13)
	d.stepSmallQueued()
	if s := timings.epochRows.Snapshot(); s.Count != 1 || s.Sum != 18 {
		t.Fatalf("stepped %d epochs of %v rows, want one of 18", s.Count, s.Sum)
	}
	counts := func(items []feedItem) []int {
		var out []int
		for _, it := range items {
			out = append(out, it.rows)
		}
		return out
	}
	d.mu.Lock()
	taken, queued, queuedRows := counts(d.taken), counts(d.queue), d.queuedRows
	d.mu.Unlock()
	if want := []int{maxEpochRows, 5}; !slices.Equal(taken, want) {
		t.Errorf("left taken %v, want %v", taken, want)
	}
	if want := []int{maxEpochRows, 0, 13}; ran || !slices.Equal(queued, want) || queuedRows != maxEpochRows+13 {
		t.Errorf("left queued %v of %d rows (command ran %v), want %v of %d", queued, queuedRows, ran, want, maxEpochRows+13)
	}
}

// busyLoop returns dataflows without views whose loop is busy until
// release, their timings, and commit, which queues a commit of n rows to
// relation rel meanwhile.
func busyLoop(t *testing.T) (d *dataflows, timings *ingestTimings, commit func(rel uint32, n int), release func()) {
	db, err := storage.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	timings = newIngestTimings()
	d = newDataflows(db, slog.New(slog.DiscardHandler), 1, 1024, time.Hour, nil, nil, nil, timings, true)
	t.Cleanup(d.close)
	busy, started := make(chan struct{}), make(chan struct{})
	d.enqueue(feedItem{cmd: func() { close(started); <-busy }})
	// Busy from here on: a test may use the loop's state in its stead.
	<-started
	// A test that failed before its release must not leave close waiting.
	release = sync.OnceFunc(func() { close(busy) })
	t.Cleanup(release)
	commit = func(rel uint32, n int) {
		rows := coldata.NewChunk([]*types.T{types.Int8}, 0)
		rows.Len = n
		d.enqueue(feedItem{changes: []storage.Change{{TableID: rel, Chunks: []*coldata.Chunk{rows}}}})
	}
	return d, timings, commit, release
}
