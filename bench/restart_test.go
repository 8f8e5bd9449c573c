package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-db/sluice/internal/testbin"
)

// A small restart run, after a SIGKILL and after a clean stop: the view
// is restored from its checkpoint, nothing is replayed, and the restarted
// server's answers equal the ones computed here (runRestart fails
// otherwise).
func TestRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the sluice binary and runs servers")
	}
	bin := testbin.Build(t)
	for _, kill := range []string{"kill", "stop"} {
		t.Run(kill, func(t *testing.T) {
			o := &restartOptions{groups: 20_000, rowsPerGroup: 3, kill: kill, runs: 2, binary: bin, workers: 2, dataDir: t.TempDir()}
			r, err := runRestart(context.Background(), o, t.Logf)
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			writeRestart(&b, r)
			t.Log("\n" + b.String())
			if !r.Restored || r.Replayed != 0 {
				t.Errorf("restored %v, %d stream rows replayed: want restored, none replayed", r.Restored, r.Replayed)
			}
			if r.Groups != o.groups || r.Rows != 60_000 || r.Kill != kill || len(r.AllReady) != 2 || len(r.AllCPU) != 2 {
				t.Errorf("shape %d groups, %d rows, %q, %d runs (%d CPU): want the options'", r.Groups, r.Rows, r.Kill, len(r.AllReady), len(r.AllCPU))
			}
			// The peak is at least what ready saw (timeRestart takes the
			// larger: VmHWM read later was once a few KiB below).
			if len(r.AllFaults) != 2 || !slices.Contains(r.AllFaults, r.Faults) || r.Faults <= 0 || r.ReadyRSS <= 0 || r.ReadyRSS > r.RSS {
				t.Errorf("faults at ready %d (runs' %v), RSS at ready %d (peak %d): want the best run's, positive, RSS at most the peak", r.Faults, r.AllFaults, r.ReadyRSS, r.RSS)
			}
			if !slices.Contains(r.AllCPU, r.CPU) {
				t.Errorf("CPU at ready %v is none of the runs' %v", r.CPU, r.AllCPU)
			}
			if r.CheckpointBytes <= 0 || r.Ready <= 0 || r.Full < r.Ready || r.CPU <= 0 || r.ViewsStarted <= 0 {
				t.Errorf("checkpoint %d B, ready %v, full %v, CPU %v, views started %v: want all positive, full after ready",
					r.CheckpointBytes, r.Ready, r.Full, r.CPU, r.ViewsStarted)
			}
			if !strings.Contains(b.String(), "20.0k") {
				t.Errorf("the table does not show the groups:\n%s", b.String())
			}
			// The data directory is reused: no second build.
			again, err := runRestart(context.Background(), &restartOptions{groups: 20_000, rowsPerGroup: 3, kill: kill, runs: 1, binary: bin, workers: 2, dataDir: o.dataDir}, t.Logf)
			if err != nil {
				t.Fatal(err)
			}
			if again.CheckpointBytes != r.CheckpointBytes || !again.Restored {
				t.Errorf("reused: %d B of checkpoint (before %d), restored %v", again.CheckpointBytes, r.CheckpointBytes, again.Restored)
			}
		})
	}
}

// --server-flag reaches the child's command line after the benchmark's
// own flags, and the child gets none of the SLUICE_* environment.
func TestServerFlags(t *testing.T) {
	var stderr bytes.Buffer
	o, err := parseRestartFlags([]string{"--workers", "2", "--server-flag=--heap-huge-pages=off", "--server-flag=--log-level=warn"}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"--checkpoint-interval", "1s", "--workers", "2", "--heap-huge-pages=off", "--log-level=warn"}
	if got := restartFlags(o); !slices.Equal(got, want) {
		t.Errorf("restart's server flags %q, want %q", got, want)
	}
	// A stand-in for sluice that writes down its arguments and environment.
	dir := t.TempDir()
	args, env := filepath.Join(dir, "args"), filepath.Join(dir, "env")
	bin := filepath.Join(dir, "sluice")
	script := fmt.Sprintf("#!/bin/sh\nprintf '%%s\\n' \"$@\" > %s\nenv > %s\n", args, env)
	if err := os.WriteFile(bin, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SLUICE_HEAP_HUGE_PAGES", "on")
	c, err := startChild(bin, dir, restartFlags(o)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	<-c.logDone
	got := strings.Fields(mustReadFile(t, args))
	if got[0] != "serve" || !slices.Equal(got[len(got)-len(want):], want) {
		t.Errorf("the child's arguments %q, want serve … %q", got, want)
	}
	if e := mustReadFile(t, env); strings.Contains(e, "SLUICE_") {
		t.Errorf("the child's environment holds SLUICE_*:\n%s", e)
	}
}

// --cold takes a wait, not a negative one; without it restarts follow
// each other at once.
func TestColdFlag(t *testing.T) {
	var stderr bytes.Buffer
	o, err := parseRestartFlags([]string{"--cold", "40s"}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if o.cold != 40*time.Second {
		t.Errorf("--cold 40s gave %v", o.cold)
	}
	if o, err := parseRestartFlags(nil, &stderr); err != nil || o.cold != 0 {
		t.Errorf("no --cold gave %v, %v: want 0", o, err)
	}
	if _, err := parseRestartFlags([]string{"--cold", "-1s"}, &stderr); err == nil {
		t.Error("--cold -1s was taken")
	}
}

// The table lists every run's time to ready and CPU at ready, and its
// minor faults at ready where it has them (a report written before them
// has not).
func TestWriteRestartAllRuns(t *testing.T) {
	var b bytes.Buffer
	r := &RestartResult{Restored: true, AllReady: []Duration{Duration(6310 * time.Millisecond), Duration(2380 * time.Millisecond)},
		AllCPU: []Duration{Duration(9040 * time.Millisecond), Duration(3400 * time.Millisecond)}}
	writeRestart(&b, r)
	if !strings.Contains(b.String(), "6.31/9.04 2.38/3.40\n") {
		t.Errorf("the table does not list the runs as ready/CPU:\n%s", b.String())
	}
	b.Reset()
	r.AllFaults, r.Faults, r.ReadyRSS = []int64{131_000, 12_500}, 12_500, 3<<30
	writeRestart(&b, r)
	if !strings.Contains(b.String(), "6.31/9.04/131.0k 2.38/3.40/12.5k\n") || !strings.Contains(b.String(), "12.5k") || !strings.Contains(b.String(), "3072 MiB") {
		t.Errorf("the table does not list the runs as ready/CPU/faults, or the faults and RSS at ready:\n%s", b.String())
	}
}

func mustReadFile(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The expected answer of a few rows, worked out by hand: groups 0 and 1
// over rows 0–4 with v = i*7919 mod 100003.
func TestRestartExpect(t *testing.T) {
	e := newRestartExpect(2, 5)
	v := []int64{0, 7919, 15838, 23757, 31676}
	// Group 0: rows 0, 2, 4; group 1: rows 1, 3.
	if e.n != 5 || e.total != v[0]+v[1]+v[2]+v[3]+v[4] || e.top != v[4]+v[3] || e.low != v[0]+v[1] {
		t.Errorf("sums n %d total %d top %d low %d", e.n, e.total, e.top, e.low)
	}
	if e.probe != 0 || e.probeN != 3 || e.probeTotal != v[0]+v[2]+v[4] || e.probeTop != v[4] || e.probeLow != v[0] {
		t.Errorf("probe %d: n %d total %d top %d low %d", e.probe, e.probeN, e.probeTotal, e.probeTop, e.probeLow)
	}
}

// checkpointWritten waits for a write after a checkpoint taken once the
// view was complete, or, when none is taken, for the writer to be idle
// long enough that the view's last checkpoint held it.
func TestCheckpointWritten(t *testing.T) {
	complete := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	entry := func(msg string, at time.Duration) map[string]any {
		return map[string]any{"msg": msg, "time": complete.Add(at).Format(time.RFC3339Nano)}
	}
	taken := func(at time.Duration) map[string]any { return entry(checkpointTaken, at) }
	written := func(at time.Duration) map[string]any { return entry(checkpointsWritten, at) }
	for _, c := range []struct {
		name string
		log  []map[string]any
		now  time.Duration
		want bool
	}{
		{"nothing yet", nil, time.Minute, false},
		{"taken after, not written", []map[string]any{taken(-time.Second), written(-time.Second / 2), taken(time.Second)}, time.Minute, false},
		{"taken after and written", []map[string]any{taken(time.Second), written(2 * time.Second)}, 2 * time.Second, true},
		{"written before, quiet", []map[string]any{taken(-2 * time.Second), written(-time.Second)}, checkpointQuiet + time.Second, true},
		{"written before, not quiet yet", []map[string]any{taken(-2 * time.Second), written(-time.Second)}, time.Second, false},
		{"being written", []map[string]any{taken(-2 * time.Second)}, time.Minute, false},
		{"written late, quiet from the write", []map[string]any{taken(-2 * time.Second), written(5 * time.Second)}, 5*time.Second + checkpointQuiet - time.Second, false},
	} {
		got, err := checkpointWritten(c.log, complete, complete.Add(c.now))
		if err != nil || got != c.want {
			t.Errorf("%s: %v, %v; want %v", c.name, got, err, c.want)
		}
	}
	if _, err := checkpointWritten([]map[string]any{{"msg": checkpointNotWritten, "err": "disk full"}}, complete, complete); err == nil {
		t.Error("a checkpoint not written is no error")
	}
}

func TestCheckpointFiles(t *testing.T) {
	dir := t.TempDir()
	for name, size := range map[string]int{"16385.ckpt": 300, "16385.1.delta": 20, "16385.2.delta": 10} {
		if err := os.WriteFile(filepath.Join(dir, name), make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	size, deltas, err := checkpointFiles(dir)
	if err != nil || size != 330 || deltas != 2 {
		t.Fatalf("checkpointFiles = %d B, %d deltas, %v; want 330 B, 2 deltas", size, deltas, err)
	}
	r := &RestartResult{CheckpointBytes: 3 << 20, CheckpointDeltas: 2}
	if got, want := r.checkpoint(), "3 MiB: a base and 2 deltas"; got != want {
		t.Errorf("checkpoint() = %q, want %q", got, want)
	}
}
