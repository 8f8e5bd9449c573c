package engine

import (
	"context"
	"log/slog"
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
	d := newDataflows(db, slog.New(slog.DiscardHandler), 1, 1024, time.Hour, nil, nil, nil, newIngestTimings())
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
	db, err := storage.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	timings := newIngestTimings()
	d := newDataflows(db, slog.New(slog.DiscardHandler), 1, 1024, time.Hour, nil, nil, nil, timings)
	defer d.close()

	release := make(chan struct{})
	d.enqueue(feedItem{cmd: func() { <-release }}) // the loop is busy
	commit := func(n int) {
		rows := coldata.NewChunk([]*types.T{types.Int8}, 0)
		rows.Len = n
		d.enqueue(feedItem{changes: []storage.Change{{TableID: 1, Chunks: []*coldata.Chunk{rows}}}})
	}
	commit(100)
	commit(maxEpochRows)
	commit(100)
	commit(100)
	close(release)
	if err := d.sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Epochs of 100, maxEpochRows and 200 rows.
	s := timings.epochRows.Snapshot()
	if s.Count != 3 || s.Sum != maxEpochRows+300 {
		t.Fatalf("the loop stepped %d epochs of %v rows in all, want 3 of %d", s.Count, s.Sum, maxEpochRows+300)
	}
}
