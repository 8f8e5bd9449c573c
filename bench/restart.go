package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
)

// `sluice bench restart`: restart-to-serving time of a server whose view
// holds a chosen amount of state. A `sluice serve` child process (this
// binary) builds a GROUP BY view over a stream, checkpoints it, and is
// killed (SIGKILL, or a clean stop); then a fresh child is started on the
// same data directory and timed from its exec until the view answers a
// point SELECT right (ready) and then a SELECT over all of it right (full).
// The child's own log gives the restore's breakdown.

// restartView is the benchmark's view: a group per key with a text column
// in the key (so keys are not packed into words) and four aggregates.
const restartView = `SELECT k, name, count(*) AS n, sum(v) AS total, max(v) AS top, min(v) AS low FROM restart_ev GROUP BY k, name`

// restartBatch is the rows of one INSERT … SELECT generate_series.
const restartBatch = 1_000_000

const (
	shortRestartGroups = 200_000
	// fullRestartGroups is issue 6's restart aim's state: about 1 GiB of
	// checkpoint (1070 MiB, a lone base).
	fullRestartGroups = 8_000_000
)

// buildGCPercent is the building server's --gc-percent: at the server's
// default (200) the build of 8 M groups passed 18 GB of RSS still
// catching up with its rows, at 25 it peaked at 8 GB (the restarted
// servers, which are measured, keep the default).
const buildGCPercent = 25

// restartOptions are `sluice bench restart`'s flags.
type restartOptions struct {
	groups       int64
	rowsPerGroup int64
	kill         string // "kill" (SIGKILL) or "stop" (SIGTERM, a clean shutdown)
	runs         int
	binary       string
	dataDir      string
	workers      int
	cpuProfile   string
	// cold is how long each restart waits idle after dropping the page
	// cache (coldStart); 0: it starts at once.
	cold time.Duration
	// serverFlags are appended to the servers' command lines.
	serverFlags []string
}

// RestartResult is one `sluice bench restart` measurement: the best (by
// time to ready) of Runs restarts of the same data directory.
type RestartResult struct {
	Groups int64  `json:"groups"`
	Rows   int64  `json:"rows"`
	Kill   string `json:"kill"`
	Runs   int    `json:"runs"`
	// CheckpointBytes is the view's checkpoint files (base and deltas).
	CheckpointBytes int64 `json:"checkpoint_bytes"`
	// CheckpointDeltas is how many of those files are deltas: whether the
	// build's last checkpoint was a lone base depends on timing, and a
	// restart from a base and deltas consolidates their rows (more CPU).
	CheckpointDeltas int `json:"checkpoint_deltas"`
	// BuildRSS is the building server's VmHWM.
	BuildRSS int64 `json:"build_peak_rss_bytes"`
	// Ready is from exec until a point SELECT answers right; Full until a
	// SELECT over every group does; CPU and BytesRead (rchar) are the
	// restarted process's at ready.
	Ready     Duration `json:"ready_seconds"`
	Full      Duration `json:"full_seconds"`
	CPU       Duration `json:"cpu_seconds"`
	BytesRead int64    `json:"bytes_read"`
	RSS       int64    `json:"peak_rss_bytes"`
	// From the restarted server's log: reading and decoding the checkpoint
	// files, building the view's index from its rows, and starting every
	// view (storage open excluded).
	Read         Duration `json:"read_seconds"`
	Decoded      Duration `json:"decoded_seconds"`
	Indexed      Duration `json:"indexed_seconds"`
	ViewsStarted Duration `json:"views_started_seconds"`
	Replayed     int64    `json:"stream_rows_replayed"`
	// Restored is false when the server computed the view again instead.
	Restored bool `json:"restored"`
	// Faults are the restarted process's minor page faults at ready, and
	// ReadyRSS its VmHWM then: a restart's first touches of fresh memory
	// (a fault each 4 KiB page, or 2 MiB where huge pages are advised)
	// cost several times more when it is the first after an idle spell
	// (docs/recovery.md, "The first restart").
	Faults   int64 `json:"minor_faults_at_ready,omitempty"`
	ReadyRSS int64 `json:"peak_rss_at_ready_bytes,omitempty"`
	// AllReady are every run's times to ready, AllCPU its CPU at ready
	// and AllFaults its minor faults at ready.
	AllReady  []Duration `json:"all_ready_seconds"`
	AllCPU    []Duration `json:"all_cpu_seconds,omitempty"`
	AllFaults []int64    `json:"all_minor_faults_at_ready,omitempty"`
}

func parseRestartFlags(args []string, stderr io.Writer) (*restartOptions, error) {
	fs := flag.NewFlagSet("bench restart", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: sluice bench restart [flags]\n\n"+
			"Builds a GROUP BY view with --groups groups on a `sluice serve` child process, checkpoints\n"+
			"it, kills the server and times a restarted one until the view answers right.\n\n")
		fs.PrintDefaults()
	}
	o := &restartOptions{}
	groups := fs.String("groups", "1M", "groups of the view (about 140 bytes of checkpoint each: 8M is about 1070 MiB, 8 GB of memory at the build's peak and 4.7 GB at the restart's)")
	fs.Int64Var(&o.rowsPerGroup, "rows-per-group", 2, "stream rows per group")
	fs.StringVar(&o.kill, "kill", "kill", "how the building server stops: kill (SIGKILL) or stop (SIGTERM, clean shutdown)")
	fs.IntVar(&o.runs, "runs", 2, "restarts of the same data directory (the best is reported, all are listed)")
	fs.StringVar(&o.binary, "sluice", "", "the sluice binary the servers run (default: this one)")
	fs.StringVar(&o.dataDir, "data-dir", "", "data directory: reused when it holds the benchmark's view of --groups groups (default: a temporary one, removed)")
	fs.IntVar(&o.workers, "workers", 0, "the servers' --workers (0: their default, the CPUs)")
	fs.DurationVar(&o.cold, "cold", 0, "before each restart, drop the page cache (root only) and wait this long idle, so that it starts as the first after a crash or a boot does: a virtual machine's kernel hands the memory the run before freed back to its host within seconds (free page reporting), and it faults again when first touched (e.g. 40s; 0: restarts follow each other at once)")
	fs.StringVar(&o.cpuProfile, "cpu-profile", "", "CPU profile of each restarted server from exec until serving (the run number is appended)")
	serverFlagVar(fs, &o.serverFlags)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	var err error
	if o.groups, err = parseCount(*groups); err != nil {
		return nil, fmt.Errorf("--groups: %w", err)
	}
	if o.kill != "kill" && o.kill != "stop" {
		return nil, fmt.Errorf("--kill: %q is neither kill nor stop", o.kill)
	}
	if o.rowsPerGroup < 1 || o.runs < 1 {
		return nil, errors.New("--rows-per-group and --runs must be positive")
	}
	if o.cold < 0 {
		return nil, fmt.Errorf("--cold: %v is negative", o.cold)
	}
	return o, nil
}

// RestartMain runs `sluice bench restart`.
func RestartMain(args []string, stdout, stderr io.Writer) int {
	o, err := parseRestartFlags(args, stderr)
	ctx, stop, progress, code := startSubcommand("restart", err, stderr)
	if stop == nil {
		return code
	}
	defer stop()
	r, err := runRestart(ctx, o, progress)
	if r != nil {
		writeRestart(stdout, r)
	}
	if err != nil {
		fmt.Fprintf(stderr, "sluice bench restart: %v\n", err)
		return 1
	}
	return 0
}

func writeRestart(w io.Writer, r *RestartResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "groups\trows\tcheckpoint\tstop\tready\tfull\tCPU at ready\tfaults at ready\tRSS at ready\tread\tdecoded\tindexed\tviews started\tbytes read\tpeak RSS\tall runs (ready/CPU/faults)")
	all := make([]string, len(r.AllReady))
	for i, d := range r.AllReady {
		all[i] = fmt.Sprintf("%.2f", time.Duration(d).Seconds())
		if i < len(r.AllCPU) {
			all[i] += fmt.Sprintf("/%.2f", time.Duration(r.AllCPU[i]).Seconds())
		}
		if i < len(r.AllFaults) {
			all[i] += "/" + fmtRate(float64(r.AllFaults[i]))
		}
	}
	sec := func(d Duration) string { return fmt.Sprintf("%.2f s", time.Duration(d).Seconds()) }
	fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d MiB\t%s\t%s\t%s\t%s\t%d MiB\t%d MiB\t%s\n", fmtRate(float64(r.Groups)), fmtRate(float64(r.Rows)),
		r.checkpoint(), r.Kill, sec(r.Ready), sec(r.Full), sec(r.CPU), fmtRate(float64(r.Faults)), r.ReadyRSS>>20,
		sec(r.Read), sec(r.Decoded), sec(r.Indexed), sec(r.ViewsStarted), r.BytesRead>>20, r.RSS>>20, strings.Join(all, " "))
	tw.Flush()
	if !r.Restored {
		fmt.Fprintln(w, "NB: the view was computed again, not restored from its checkpoint")
	}
	if r.Replayed > 0 {
		fmt.Fprintf(w, "NB: %d stream rows after the checkpoint were replayed\n", r.Replayed)
	}
}

// restartExpect is the view's answer, computed from the generated rows:
// row i has k = i mod groups, name = 'name-' || k, v = i*7919 mod 100003.
type restartExpect struct {
	groups, rows       int64
	n, total, top, low int64 // sums over the groups
	probe              int64 // a key whose group is checked whole
	probeN, probeTotal int64
	probeTop, probeLow int64
}

func restartValue(i int64) int64 { return i * 7919 % 100003 }

func newRestartExpect(groups, rows int64) *restartExpect {
	e := &restartExpect{groups: groups, rows: rows, probe: groups / 3}
	top, low := make([]int64, groups), make([]int64, groups)
	for i := range groups {
		top[i], low[i] = -1, 1<<62
	}
	for i := range rows {
		k, v := i%groups, restartValue(i)
		e.total += v
		top[k], low[k] = max(top[k], v), min(low[k], v)
		if k == e.probe {
			e.probeN++
			e.probeTotal += v
		}
	}
	for k := range groups {
		e.top += top[k]
		e.low += low[k]
	}
	e.n = rows
	e.probeTop, e.probeLow = top[e.probe], low[e.probe]
	return e
}

// checkPoint answers whether the probe group is right; a query error
// (the server not up yet) is returned.
func (e *restartExpect) checkPoint(ctx context.Context, c *pgx.Conn) (bool, error) {
	var name string
	var n, total, top, low int64
	err := c.QueryRow(ctx, "SELECT name, n, total, top, low FROM restart_view WHERE k = $1", e.probe).Scan(&name, &n, &total, &top, &low)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return name == fmt.Sprintf("name-%d", e.probe) && n == e.probeN && total == e.probeTotal && top == e.probeTop && low == e.probeLow, nil
}

// checkFull returns what differs between the whole view and the
// expectation ("" when nothing).
func (e *restartExpect) checkFull(ctx context.Context, c *pgx.Conn) (string, error) {
	var groups, n, total, top, low, badNames int64
	err := c.QueryRow(ctx, `SELECT count(*), coalesce(sum(n), 0), coalesce(sum(total), 0), coalesce(sum(top), 0), coalesce(sum(low), 0),
		count(*) FILTER (WHERE name <> 'name-' || k) FROM restart_view`).Scan(&groups, &n, &total, &top, &low, &badNames)
	if err != nil {
		return "", err
	}
	got := [6]int64{groups, n, total, top, low, badNames}
	want := [6]int64{e.groups, e.n, e.total, e.top, e.low, 0}
	if got != want {
		return fmt.Sprintf("groups, sum(n), sum(total), sum(top), sum(low), bad names = %v, want %v", got, want), nil
	}
	return "", nil
}

// runRestart builds (or reuses) the data directory, then restarts it
// o.runs times.
func runRestart(ctx context.Context, o *restartOptions, progress func(string, ...any)) (*RestartResult, error) {
	bin := o.binary
	if bin == "" {
		var err error
		if bin, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("the sluice binary: %w", err)
		}
	}
	dir := o.dataDir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "sluice-bench-restart-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
	}
	r := &RestartResult{Groups: o.groups, Rows: o.groups * o.rowsPerGroup, Kill: o.kill, Runs: o.runs}
	progress("computing the expected answer of %d rows", r.Rows)
	want := newRestartExpect(r.Groups, r.Rows)
	marker := filepath.Join(dir, "bench-restart.json")
	if b, err := os.ReadFile(marker); err == nil && string(b) == restartMarker(o) {
		progress("reusing %s", dir)
	} else {
		if err := os.RemoveAll(dir); err != nil {
			return nil, err
		}
		if err := buildRestart(ctx, o, bin, dir, want, r, progress); err != nil {
			return nil, fmt.Errorf("build: %w", err)
		}
		if err := os.WriteFile(marker, []byte(restartMarker(o)), 0o644); err != nil {
			return nil, err
		}
	}
	var err error
	if r.CheckpointBytes, r.CheckpointDeltas, err = checkpointFiles(filepath.Join(dir, "checkpoints")); err != nil {
		return nil, err
	}
	progress("checkpoint: %s", r.checkpoint())
	for run := 1; run <= o.runs; run++ {
		if o.cold > 0 {
			progress("dropping the page cache and waiting %v idle", o.cold)
			if err := coldStart(ctx, o.cold); err != nil {
				return r, fmt.Errorf("restart %d: %w", run, err)
			}
		}
		progress("restart %d of %d", run, o.runs)
		m, err := timeRestart(ctx, o, bin, dir, run, want)
		if err != nil {
			return r, fmt.Errorf("restart %d: %w", run, err)
		}
		progress("restart %d: ready in %.2f s (%.2f s CPU, %d minor faults, %d MiB peak RSS), full answer in %.2f s", run,
			time.Duration(m.Ready).Seconds(), time.Duration(m.CPU).Seconds(), m.Faults, m.ReadyRSS>>20, time.Duration(m.Full).Seconds())
		r.AllReady, r.AllCPU, r.AllFaults = append(r.AllReady, m.Ready), append(r.AllCPU, m.CPU), append(r.AllFaults, m.Faults)
		if run == 1 || m.Ready < r.Ready {
			// The run's measurements; the workload's shape stays.
			m.Groups, m.Rows, m.Kill, m.Runs = r.Groups, r.Rows, r.Kill, r.Runs
			m.CheckpointBytes, m.CheckpointDeltas, m.BuildRSS, m.AllReady, m.AllCPU, m.AllFaults = r.CheckpointBytes, r.CheckpointDeltas, r.BuildRSS, r.AllReady, r.AllCPU, r.AllFaults
			*r = *m
		}
	}
	return r, nil
}

// coldStart prepares a restart as the first after a crash or a boot
// meets the machine: the page cache dropped (the checkpoint files come
// from the disk) and the memory the run before freed left idle for wait.
// A virtual machine's kernel hands free memory back to its host within
// seconds (free page reporting: on the machines Sluice was measured on,
// 972 MiB of a freed GiB in 10 s), and the first touch of it then costs
// about ten times the touch of memory freed a moment ago (a GiB in huge
// pages took 0.7-2.5 s of CPU against 0.08-0.14 s): restarts that follow
// each other at once reuse their predecessor's memory and hide that.
func coldStart(ctx context.Context, wait time.Duration) error {
	syscall.Sync()
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("1"), 0); err != nil {
		return fmt.Errorf("drop the page cache (needs root): %w", err)
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(wait):
		return nil
	}
}

// restartMarker names a data directory's workload, so --data-dir reuses
// only one built with the same shape.
func restartMarker(o *restartOptions) string {
	return fmt.Sprintf(`{"groups":%d,"rows_per_group":%d,"workers":%d,"view":%q}`, o.groups, o.rowsPerGroup, o.workers, restartView)
}

// child is a running `sluice serve`.
type child struct {
	cmd *exec.Cmd
	// url is its wire protocol's pgx URL, httpAddr its HTTP address.
	url, httpAddr string
	logMu         sync.Mutex
	log           []map[string]any
	logDone       chan struct{}
}

// startChild starts `bin serve` on dir with loopback ports of its own (no
// embedded broker), its JSON log read into c.log, and flags added.
func startChild(bin, dir string, flags ...string) (*child, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	httpAddr := fmt.Sprintf("127.0.0.1:%d", ports[1])
	args := []string{"serve", "--data-dir", dir, "--pg-addr", fmt.Sprintf("127.0.0.1:%d", ports[0]),
		"--http-addr", httpAddr, "--embedded-kafka-addr", "off", "--log-format", "json"}
	cmd := exec.Command(bin, append(args, flags...)...)
	// NB: nothing of the environment may override the flags above.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SLUICE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	dieWithParent(cmd)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, url: fmt.Sprintf("postgres://sluice@127.0.0.1:%d/sluice?sslmode=disable", ports[0]),
		httpAddr: httpAddr, logDone: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		defer close(c.logDone)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) != nil {
				m = map[string]any{"msg": sc.Text()}
			}
			c.logMu.Lock()
			c.log = append(c.log, m)
			c.logMu.Unlock()
		}
	}()
	return c, nil
}

// restartFlags are the restart benchmark's servers' flags, --server-flag's
// last (but before what a step of the benchmark adds for itself).
func restartFlags(o *restartOptions) []string {
	flags := []string{"--checkpoint-interval", "1s"}
	if o.workers > 0 {
		flags = append(flags, "--workers", strconv.Itoa(o.workers))
	}
	return append(flags, o.serverFlags...)
}

// serverFlagVar defines --server-flag, repeatable, on fs: each is appended
// to the child `sluice serve`'s command line after the benchmark's own
// flags, so that it wins over them. It is how an A/B of a server setting
// passes it: startChild leaves out the SLUICE_* environment.
func serverFlagVar(fs *flag.FlagSet, flags *[]string) {
	fs.Func("server-flag", "a flag appended to the `sluice serve` child's command line, e.g. --server-flag=--heap-huge-pages=off (repeatable; the child gets no SLUICE_* environment)",
		func(v string) error {
			if !strings.HasPrefix(v, "-") {
				return fmt.Errorf("%q is not a flag (give it as --server-flag=--name=value)", v)
			}
			*flags = append(*flags, v)
			return nil
		})
}

// freePorts returns n loopback ports free a moment ago.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// entry returns the child's first log entry with message msg.
func (c *child) entry(msg string) map[string]any {
	c.logMu.Lock()
	defer c.logMu.Unlock()
	for _, m := range c.log {
		if m["msg"] == msg {
			return m
		}
	}
	return nil
}

// tail is the child's last log lines, for an error.
func (c *child) tail() string {
	c.logMu.Lock()
	defer c.logMu.Unlock()
	var lines []string
	for _, m := range c.log[max(len(c.log)-10, 0):] {
		b, _ := json.Marshal(m)
		lines = append(lines, string(b))
	}
	return strings.Join(lines, "\n")
}

// stop ends the child with sig and waits for it.
func (c *child) stop(sig syscall.Signal) error {
	if err := c.cmd.Process.Signal(sig); err != nil {
		return err
	}
	err := c.cmd.Wait()
	<-c.logDone
	var exit *exec.ExitError
	if sig == syscall.SIGKILL && errors.As(err, &exit) {
		return nil
	}
	return err
}

// connect connects to the child, retrying until it listens or deadline.
func (c *child) connect(ctx context.Context, deadline time.Time) (*pgx.Conn, error) {
	for {
		conn, err := pgx.Connect(ctx, c.url)
		if err == nil {
			return conn, nil
		}
		if c.cmd.ProcessState != nil || time.Now().After(deadline) {
			return nil, fmt.Errorf("connect: %w\n%s", err, c.tail())
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// buildRestart fills dir: the stream, the view, the rows, and a
// checkpoint holding all of them; then stops the server as o.kill says.
func buildRestart(ctx context.Context, o *restartOptions, bin, dir string, want *restartExpect, r *RestartResult, progress func(string, ...any)) error {
	// At debug level the log says when checkpoints are taken and written.
	ch, err := startChild(bin, dir, append(restartFlags(o), "--log-level", "debug", "--gc-percent", strconv.Itoa(buildGCPercent))...)
	if err != nil {
		return err
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = ch.stop(syscall.SIGKILL)
		}
	}()
	c, err := ch.connect(ctx, time.Now().Add(time.Minute))
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	for _, s := range []string{"CREATE STREAM restart_ev (k int8, name text, v int8)",
		"CREATE MATERIALIZED VIEW restart_view AS " + restartView} {
		if _, err := c.Exec(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	progress("inserting %d rows (%d groups)", r.Rows, r.Groups)
	began := time.Now()
	for lo := int64(0); lo < r.Rows; lo += restartBatch {
		hi := min(lo+restartBatch, r.Rows) - 1
		q := fmt.Sprintf(`INSERT INTO restart_ev SELECT i %% %[1]d, 'name-' || (i %% %[1]d), i * 7919 %% 100003
			FROM generate_series(%[2]d::int8, %[3]d::int8) i`, r.Groups, lo, hi)
		if _, err := c.Exec(ctx, q); err != nil {
			return fmt.Errorf("insert rows %d-%d: %w", lo, hi, err)
		}
	}
	for {
		wrong, err := want.checkFull(ctx, c)
		if err != nil {
			return err
		}
		if wrong == "" {
			break
		}
		if time.Since(began) > 30*time.Minute {
			return fmt.Errorf("the view is not complete after 30 minutes: %s", wrong)
		}
		time.Sleep(time.Second)
	}
	complete := time.Now()
	progress("view complete after %.1f s; waiting for its checkpoint", complete.Sub(began).Seconds())
	if err := waitCheckpoint(ctx, ch, complete); err != nil {
		return err
	}
	progress("checkpoint written %.1f s after", time.Since(complete).Seconds())
	r.BuildRSS = procStatusKBOf(strconv.Itoa(ch.cmd.Process.Pid), "VmHWM")
	sig := syscall.SIGKILL
	if o.kill == "stop" {
		sig = syscall.SIGTERM
	}
	stopped = true
	return ch.stop(sig)
}

// waitCheckpoint waits until the server's log (at debug level) shows
// that a checkpoint holding the view as complete (seen so at complete) is
// written: see checkpointWritten.
func waitCheckpoint(ctx context.Context, ch *child, complete time.Time) error {
	deadline := time.Now().Add(30 * time.Minute)
	for {
		ch.logMu.Lock()
		done, err := checkpointWritten(ch.log, complete, time.Now())
		ch.logMu.Unlock()
		if done || err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return errors.New("no checkpoint after 30 minutes")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Log messages of the server's checkpoints: the loop takes one (copies the
// views' state and rows) and hands it to the writer, which then writes it
// before the loop takes the next.
const (
	checkpointTaken      = "dataflow: checkpoint taken"
	checkpointsWritten   = "dataflow: checkpoints written"
	checkpointNotWritten = "dataflow: checkpoint not written"
)

// checkpointQuiet is how long after the view is complete and the writer
// idle a checkpoint not taken shows that the view took its last one
// already: the loop takes one at most an interval (restartFlags') after a
// view steps, unless the writer is busy.
const checkpointQuiet = 2 * time.Second

// checkpointWritten reports whether log shows a checkpoint of the view as
// it was complete at complete written, at now: a checkpoint taken after
// complete, and a write after it; or, when none is taken after complete,
// the writer idle (every checkpoint taken written) since checkpointQuiet:
// the view did not step since its last checkpoint. A checkpoint not
// written is an error.
func checkpointWritten(log []map[string]any, complete, now time.Time) (bool, error) {
	taken, written := 0, 0
	takenAfter := false
	idleSince := complete
	for _, m := range log {
		switch m["msg"] {
		case checkpointNotWritten:
			return false, fmt.Errorf("the server did not write its checkpoint: %v", m["err"])
		case checkpointTaken:
			taken++
			if at, ok := logTime(m); ok && at.After(complete) {
				takenAfter = true
			}
		case checkpointsWritten:
			written++
			if takenAfter {
				return true, nil
			}
			if at, ok := logTime(m); ok && at.After(idleSince) {
				idleSince = at
			}
		}
	}
	return !takenAfter && written > 0 && taken == written && now.Sub(idleSince) > checkpointQuiet, nil
}

// logTime reads a JSON log entry's time.
func logTime(m map[string]any) (time.Time, bool) {
	s, _ := m["time"].(string)
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

// checkpointFiles is the size of the checkpoint files in dir and how many
// of them are deltas.
func checkpointFiles(dir string) (size int64, deltas int, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0, err
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			return 0, 0, err
		}
		size += info.Size()
		if strings.HasSuffix(e.Name(), ".delta") {
			deltas++
		}
	}
	return size, deltas, nil
}

// checkpoint is the checkpoint's size and files, e.g. "1268 MiB: a base
// and 1 delta".
func (r *RestartResult) checkpoint() string {
	s := fmt.Sprintf("%d MiB: a lone base", r.CheckpointBytes>>20)
	if r.CheckpointDeltas > 0 {
		s = fmt.Sprintf("%d MiB: a base and %d delta", r.CheckpointBytes>>20, r.CheckpointDeltas)
		if r.CheckpointDeltas > 1 {
			s += "s"
		}
	}
	return s
}

// timeRestart starts a server on dir and times it until the view answers
// right, then kills it (SIGKILL: the data directory stays as it was for
// the next run).
func timeRestart(ctx context.Context, o *restartOptions, bin, dir string, run int, want *restartExpect) (*RestartResult, error) {
	var extra []string
	if o.cpuProfile != "" {
		extra = append(extra, "--startup-cpu-profile", fmt.Sprintf("%s.%d", o.cpuProfile, run))
	}
	began := time.Now()
	ch, err := startChild(bin, dir, append(restartFlags(o), extra...)...)
	if err != nil {
		return nil, err
	}
	defer func() { _ = ch.stop(syscall.SIGKILL) }()
	pid := strconv.Itoa(ch.cmd.Process.Pid)
	deadline := began.Add(30 * time.Minute)
	c, err := ch.connect(ctx, deadline)
	if err != nil {
		return nil, err
	}
	defer c.Close(context.Background())
	m := &RestartResult{}
	for {
		ok, err := want.checkPoint(ctx, c)
		if err != nil {
			return nil, fmt.Errorf("point SELECT: %w\n%s", err, ch.tail())
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			return nil, errors.New("the view's probe group is not right after 30 minutes")
		}
		time.Sleep(10 * time.Millisecond)
	}
	m.Ready = Duration(time.Since(began))
	cpu, _ := procCPU(pid)
	m.CPU = Duration(cpu)
	m.Faults, _ = procMinorFaults(pid)
	m.ReadyRSS = procStatusKBOf(pid, "VmHWM")
	m.BytesRead = procIOField(pid, "rchar")
	for {
		wrong, err := want.checkFull(ctx, c)
		if err != nil {
			return nil, fmt.Errorf("full SELECT: %w\n%s", err, ch.tail())
		}
		if wrong == "" {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the view is wrong after 30 minutes: %s", wrong)
		}
		time.Sleep(10 * time.Millisecond)
	}
	m.Full = Duration(time.Since(began))
	// The kernel updates VmHWM's high-water mark lazily (on an unmap,
	// say) and otherwise shows the RSS of the moment: read later, it
	// was a few KiB below what it showed at ready.
	m.RSS = max(procStatusKBOf(pid, "VmHWM"), m.ReadyRSS)
	if e := ch.entry("dataflow: view restored from its checkpoint"); e != nil {
		m.Restored = true
		m.Read, m.Decoded, m.Indexed = logDuration(e, "read"), logDuration(e, "decoded"), logDuration(e, "indexed")
		if n, ok := e["stream_rows_replayed"].(float64); ok {
			m.Replayed = int64(n)
		}
	}
	if e := ch.entry("engine: catalog loaded"); e != nil {
		m.ViewsStarted = logDuration(e, "views_started_in")
	}
	return m, nil
}

// logDuration reads a duration of a JSON log entry (slog writes them as
// nanoseconds).
func logDuration(e map[string]any, key string) Duration {
	n, _ := e[key].(float64)
	return Duration(n)
}

// procIOField reads a counter of /proc/<pid>/io (0 when it cannot).
func procIOField(pid, field string) int64 {
	b, err := os.ReadFile("/proc/" + pid + "/io")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+": "); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}
