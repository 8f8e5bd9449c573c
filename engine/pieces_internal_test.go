package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/dataflow"
	"github.com/sluice-db/sluice/storage"
	"github.com/sluice-db/sluice/types"
)

// cutChunks cuts at any row, slicing the chunk the cut falls in, and
// loses or doubles no row.
func TestCutChunks(t *testing.T) {
	chunk := func(lo, n int) *coldata.Chunk {
		c := coldata.NewChunk([]*types.T{types.Int8}, n)
		for i := range n {
			c.Cols[0].Ints = append(c.Cols[0].Ints, int64(lo+i))
		}
		c.Len = n
		return c
	}
	chunks := []*coldata.Chunk{chunk(0, 3), chunk(3, 5), chunk(8, 2)}
	rows := func(cs []*coldata.Chunk) []int64 {
		var out []int64
		for _, c := range cs {
			out = append(out, c.Cols[0].Ints[:c.Len]...)
		}
		return out
	}
	for n := 0; n <= 10; n++ {
		head, rest := cutChunks(chunks, n)
		got := append(rows(head), rows(rest)...)
		if changedRows(head) != n || len(got) != 10 {
			t.Fatalf("cut at %d: head of %d rows, %d in all", n, changedRows(head), len(got))
		}
		for i, v := range got {
			if v != int64(i) {
				t.Fatalf("cut at %d: rows %v", n, got)
			}
		}
	}
}

// A commit to one stream of more than maxEpochRows rows is stepped in
// pieces of maxEpochRows, in order, each published as a prefix of the
// stream in every view reading it; a small commit to another view goes
// ahead between them; the watermark moves with the last piece only; a
// checkpoint taken between pieces restores to the whole commit.
func TestBigStreamCommitSteppedInPieces(t *testing.T) {
	dir := t.TempDir()
	c := openChainEngine(t, dir)
	c.exec("CREATE STREAM a (k int, v int, ts timestamptz, WATERMARK FOR ts AS ts - INTERVAL '1 second')")
	insert := func(lo, hi int) {
		c.exec(fmt.Sprintf("INSERT INTO a SELECT g, g %% 13, to_timestamp(g) FROM generate_series(%d, %d) g", lo, hi-1))
	}
	c.exec("CREATE STREAM m (k int)")
	c.exec("CREATE MATERIALIZED VIEW v AS SELECT k % 13 AS g, count(*) AS n, sum(k) AS s FROM a GROUP BY k % 13")
	c.exec("CREATE MATERIALIZED VIEW w AS SELECT count(*) AS n, min(k) AS lo, max(k) AS hi, sum(v) AS s FROM a")
	c.exec("CREATE MATERIALIZED VIEW mv AS SELECT count(*) AS n FROM m")
	insert(0, 10)
	if err := c.e.SyncViews(context.Background()); err != nil {
		t.Fatal(err)
	}
	d := c.e.views
	aID := c.viewID("a")

	// Hold the loop in a command: the test steps in its stead.
	busy, started := make(chan struct{}), make(chan struct{})
	d.enqueue(feedItem{cmd: func() { close(started); <-busy }})
	<-started
	released := false
	release := func() {
		if !released {
			released = true
			close(busy)
		}
	}
	defer release()
	takeQueue := func() []feedItem {
		d.mu.Lock()
		defer d.mu.Unlock()
		items := d.queue
		d.queue, d.queuedRows = nil, 0
		return items
	}
	total := 2*maxEpochRows + 100

	// A statement's rows are seen at once: its commit is stepped whole.
	insert(10, 10+total)
	items := takeQueue()
	if len(items) != 1 || items[0].rows != total || items[0].changes[0].Divisible {
		t.Fatalf("queued %d items (divisible %v), want the INSERT's commit, not divisible", len(items), items[0].changes[0].Divisible)
	}
	if rest := d.stepNext(items); len(rest) != 0 {
		t.Fatalf("the INSERT's commit was stepped in pieces: %d items left", len(rest))
	}
	before := 10 + total

	// A source's delivery of as many rows is stepped in pieces.
	desc, _ := c.e.cat.Lookup("public", "a")
	rows := coldata.NewChunk(desc.Types(), total)
	for g := before; g < before+total; g++ {
		rows.AppendRow([]types.Datum{int64(g), int64(g % 13), int64(g) * 1_000_000})
	}
	delivery := &streamTarget{e: c.e, id: aID, name: "a"}
	if err := delivery.commit(context.Background(), rows, nil, nil, func(*storage.Txn) {}); err != nil {
		t.Fatal(err)
	}
	c.exec("INSERT INTO m VALUES (1)")
	items = takeQueue()
	if len(items) != 2 || items[0].rows != total || !items[0].changes[0].Divisible {
		t.Fatalf("queued %d items, want the delivery, divisible, and the marker", len(items))
	}
	wmBefore := d.watermarks[aID]
	wmAfter := items[0].changes[0].Watermark
	if wmAfter <= wmBefore {
		t.Fatalf("the big commit moves the watermark from %d to %d", wmBefore, wmAfter)
	}
	positions := items[0].changes[0].Positions

	prefix := func(n int) []string {
		// Rows 0..n-1 of a: k = i, v = k % 13.
		s := 0
		for i := range n {
			s += i % 13
		}
		return []string{fmt.Sprintf("[%d 0 %d %d]", n, n-1, s)}
	}
	// The marker goes ahead, then the first piece.
	rest := d.stepNext(items)
	if got := c.exec("SELECT * FROM mv"); !slices.Equal(got, []string{"[1]"}) {
		t.Fatalf("marker's view after the first step: %v", got)
	}
	if got, want := c.exec("SELECT * FROM w"), prefix(before+maxEpochRows); !slices.Equal(got, want) {
		t.Fatalf("after the first piece w holds %v, want %v", got, want)
	}
	if len(rest) != 1 || rest[0].rows != total-maxEpochRows || d.watermarks[aID] != wmBefore || d.positions[aID] != positions-rest[0].rows {
		t.Fatalf("after the first piece: %d items left, watermark %d (before %d), position %d", len(rest), d.watermarks[aID], wmBefore, d.positions[aID])
	}
	// A checkpoint between the pieces, kept aside as a crash would leave it.
	d.checkpoint(true)
	for deadline := time.Now().Add(20 * time.Second); d.ckpt.busy.Load(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the checkpoint writer is still busy")
		}
	}
	midCheckpoint := readFiles(t, c.ckptDir())

	rest = d.stepNext(rest)
	if got, want := c.exec("SELECT * FROM w"), prefix(before+2*maxEpochRows); !slices.Equal(got, want) {
		t.Fatalf("after the second piece w holds %v, want %v", got, want)
	}
	rest = d.stepNext(rest)
	if len(rest) != 0 || d.watermarks[aID] != wmAfter || d.positions[aID] != positions {
		t.Fatalf("after the last piece: %d items left, watermark %d (want %d), position %d (want %d)", len(rest), d.watermarks[aID], wmAfter, d.positions[aID], positions)
	}
	whole := prefix(before + total)
	if got := c.exec("SELECT * FROM w"); !slices.Equal(got, whole) {
		t.Fatalf("after the last piece w holds %v, want %v", got, whole)
	}
	release()
	groups := c.exec("SELECT * FROM v")
	c.close()

	// Restart from the checkpoint taken between the pieces: the views
	// replay the stream after the first piece.
	writeFiles(t, c.ckptDir(), midCheckpoint)
	r := openChainEngine(t, dir)
	if !strings.Contains(r.log.String(), "view restored from its checkpoint") {
		t.Errorf("no view was restored from its checkpoint\n%s", r.log.String())
	}
	if got := r.exec("SELECT * FROM w"); !slices.Equal(got, whole) {
		t.Fatalf("restored from between the pieces, w holds %v, want %v", got, whole)
	}
	if got := r.exec("SELECT * FROM v"); !slices.Equal(got, groups) {
		t.Fatalf("restored from between the pieces, v holds %v, want %v", got, groups)
	}
}

// A statement's commit, a commit to a table, or to several relations, is
// stepped whole: a reader never sees part of a statement or a transaction.
func TestDivideHeadCutsStreamCommitsOnly(t *testing.T) {
	d, _, _, _ := busyLoop(t)
	tx := d.db.Begin()
	stream, err := d.db.CreateTable(tx, storage.TableInfo{ID: 100, Name: "s", ColNames: []string{"k"}, Types: []*types.T{types.Int8}, AppendOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	table, err := d.db.CreateTable(tx, storage.TableInfo{ID: 101, Name: "t", ColNames: []string{"k"}, Types: []*types.T{types.Int8}})
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	change := func(rel uint32, n int) storage.Change {
		rows := coldata.NewChunk([]*types.T{types.Int8}, n)
		rows.Cols[0].Ints = make([]int64, n)
		rows.Len = n
		return storage.Change{TableID: rel, Chunks: []*coldata.Chunk{rows}, Watermark: dataflow.NoWatermark, Positions: n}
	}
	divisible := func(c storage.Change) storage.Change {
		c.Divisible = true
		return c
	}
	big := maxEpochRows + 1
	for _, tc := range []struct {
		name    string
		changes []storage.Change
		pieces  int
	}{
		{"stream, a delivery", []storage.Change{divisible(change(stream.Info().ID, big))}, 2},
		{"stream, a statement", []storage.Change{change(stream.Info().ID, big)}, 1},
		{"small stream delivery", []storage.Change{divisible(change(stream.Info().ID, maxEpochRows))}, 1},
		{"table", []storage.Change{divisible(change(table.Info().ID, big))}, 1},
		{"stream and table", []storage.Change{divisible(change(stream.Info().ID, big)), divisible(change(table.Info().ID, 1))}, 1},
	} {
		rows := 0
		for _, c := range tc.changes {
			rows += changedRows(c.Chunks)
		}
		got := d.divideHead([]feedItem{{changes: tc.changes, rows: rows}})
		if len(got) != tc.pieces {
			t.Errorf("%s: %d items, want %d", tc.name, len(got), tc.pieces)
		}
	}
}

// readFiles returns the files of dir by name.
func readFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

// writeFiles makes dir hold files and nothing else.
func writeFiles(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
