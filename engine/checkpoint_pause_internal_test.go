package engine

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A checkpoint's pause is taken a view at a time, and before each view
// the loop steps the small commits queued: one queued when the checkpoint
// comes (a marker committed during the step before it) and those committed
// while an earlier view was serialized are published before the next view
// is. The views of the checkpoint are then taken at different epochs, each
// with its own inputs' positions: restored from those files (not the ones
// a clean shutdown writes), every view equals its recomputation.
func TestCheckpointPauseStepsSmallCommits(t *testing.T) {
	dir := t.TempDir()
	// onLog runs on the goroutine logging, the loop for a checkpoint's.
	var onLog atomic.Pointer[func(slog.Record)]
	c := openHookedChainEngine(t, dir, func(r slog.Record) {
		if f := onLog.Load(); f != nil {
			(*f)(r)
		}
	})
	views := map[string]string{
		"v1": "SELECT k, count(*) AS n, sum(v) AS s FROM a GROUP BY k",
		"v2": "SELECT k, max(v) AS top FROM a GROUP BY k",
		"vm": "SELECT max(id) AS id FROM m",
	}
	c.exec("CREATE STREAM a (k int, v int)")
	c.exec("CREATE STREAM m (id int)")
	for _, name := range []string{"v1", "v2", "vm"} {
		c.exec("CREATE MATERIALIZED VIEW " + name + " AS " + views[name])
	}
	c.insert(0, 100)
	c.exec("INSERT INTO m VALUES (1)")
	c.checkpointNow()
	c.insert(0, 10)
	c.exec("INSERT INTO m VALUES (2)")
	ctx := context.Background()
	if err := c.e.SyncViews(ctx); err != nil {
		t.Fatal(err)
	}

	// The loop commits through a session of its own (not t's: a failure
	// there must not end the loop's goroutine).
	s, err := c.e.Open(ctx, map[string]string{"user": "sluice"})
	if err != nil {
		t.Fatal(err)
	}
	var loopErrs []error
	commit := func(sql string) {
		stmts, err := s.Parse(ctx, sql)
		if err != nil {
			loopErrs = append(loopErrs, fmt.Errorf("%s: %w", sql, err))
			return
		}
		for _, st := range stmts {
			p, err := st.Bind(ctx, nil, nil)
			if err == nil {
				_, _, err = p.Execute(ctx, 0, &rowsWriter{})
			}
			if err != nil {
				loopErrs = append(loopErrs, fmt.Errorf("%s: %w", sql, err))
			}
		}
	}
	afterV1 := func(r slog.Record) {
		if r.Message != "dataflow: view's checkpoint taken" {
			return
		}
		view := ""
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "view" {
				view = a.Value.String()
			}
			return true
		})
		if view == "v1" {
			commit("INSERT INTO a SELECT g, 1000 + g FROM generate_series(0, 4) g")
			commit("INSERT INTO m VALUES (4)")
		}
	}
	onLog.Store(&afterV1)
	d := c.e.views
	c.waitWriter()
	var stepped uint64
	var left int
	if err := d.call(ctx, func() {
		// The checkpoint runs as the loop runs it, after stepNext: the
		// loop's taken is stepNext's while the command runs (it holds
		// the command and what is behind it, nothing here).
		d.taken = nil
		commit("INSERT INTO m VALUES (3)")
		d.ckpt.last = time.Now().Add(-3 * d.ckpt.interval)
		before := d.epoch
		d.checkpoint(false)
		stepped, left = d.epoch-before, len(d.taken)
	}); err != nil {
		t.Fatal(err)
	}
	onLog.Store(nil)
	if len(loopErrs) > 0 {
		t.Fatal(loopErrs)
	}
	// One epoch before v1 (the marker 3), one before v2 (5 rows of a and
	// the marker 4).
	if stepped != 2 || left != 0 {
		t.Fatalf("the checkpoint's pause stepped %d epochs, left %d commits, want 2 and none\n%s", stepped, left, c.log.String())
	}
	c.waitWriter()
	a := c.viewID("a")
	m := c.viewID("m")
	for _, want := range []struct {
		view string
		rel  uint32
		pos  uint64
	}{{"v1", a, 110}, {"v2", a, 115}, {"vm", m, 4}} {
		ck, err := d.ckpt.read(c.viewID(want.view))
		if err != nil || ck == nil {
			t.Fatalf("%s's checkpoint: %v", want.view, err)
		}
		if got := ck.value(want.rel); got != want.pos {
			t.Errorf("%s's checkpoint is at position %d of its stream, want %d", want.view, got, want.pos)
		}
		ck.release()
	}
	if got := c.exec("SELECT id FROM vm"); !slices.Equal(got, []string{"[4]"}) {
		t.Fatalf("vm: %v", got)
	}

	// A clean shutdown checkpoints v1 again: restart from the pause's.
	saved := filepath.Join(t.TempDir(), "checkpoints")
	if err := os.CopyFS(saved, os.DirFS(c.ckptDir())); err != nil {
		t.Fatal(err)
	}
	c.close()
	if err := os.RemoveAll(c.ckptDir()); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(c.ckptDir(), os.DirFS(saved)); err != nil {
		t.Fatal(err)
	}
	r := openChainEngine(t, dir)
	if n := strings.Count(r.log.String(), "view restored from its checkpoint"); n != 3 {
		t.Fatalf("%d views restored from their checkpoints, want 3\n%s", n, r.log.String())
	}
	for name, query := range views {
		r.exec("CREATE MATERIALIZED VIEW " + name + "_fresh AS " + query)
		restored, fresh := r.exec("SELECT * FROM "+name), r.exec("SELECT * FROM "+name+"_fresh")
		if !slices.Equal(restored, fresh) {
			t.Errorf("%s restored: %v\nrecomputed: %v", name, restored, fresh)
		}
	}
}
