package server

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/sluice-db/sluice/internal/smaps"
)

// heapPagesChildEnv makes TestHeapHugePagesChild grow a fresh process's
// heap with the advisor on or off and print what the kernel gave it.
const heapPagesChildEnv = "SLUICE_TEST_HEAP_HUGE_PAGES"

// A fresh process's heap, grown while the advisor runs, is advised (its
// mapping has VmFlags hg) and backed by huge pages once touched, whether a
// large object grew it or many small ones did (the runtime touches those
// as it maps them: the advisor's runway makes it map ahead), so that small
// objects growing it fault a fraction of their 4 KiB pages; the runway is
// freed at once (the collector's goal is not set from it); with the
// advisor off the heap is neither advised nor in huge pages.
func TestHeapHugePages(t *testing.T) {
	if mode, err := os.ReadFile(thpEnabledPath); err != nil || !bytes.Contains(mode, []byte("[madvise]")) && !bytes.Contains(mode, []byte("[always]")) {
		t.Skipf("transparent huge pages are not given on advice here (%s: %q, %v)", thpEnabledPath, mode, err)
	}
	for _, tc := range []struct {
		mode string
		// want says whether the large object's mapping, advised or not,
		// with huge bytes of huge pages, and the heap grown by small
		// objects after it, with heapHuge of its heapRSS bytes in huge
		// pages, are as they should be.
		want func(advised bool, huge, heapHuge, heapRSS int64) bool
		// wantGrowth says whether the heap mapped at start (runway bytes),
		// the collector's goal then, and the faults of the small objects'
		// growth are.
		wantGrowth func(runway, goal, faults int64) bool
	}{
		// Half of each at least: the kernel may lack free huge pages for
		// some. The small objects' 192 MiB are 49152 pages of 4 KiB: an
		// eighth of that at most (their growth touched the runway's
		// memory only, in huge pages).
		{"on", func(advised bool, huge, heapHuge, heapRSS int64) bool {
			return advised && huge >= 32<<20 && heapHuge >= heapRSS/2
		}, func(runway, goal, faults int64) bool {
			return runway >= 256<<20 && goal < runway/2 && faults < smallObjectPages/8
		}},
		{"off", func(advised bool, huge, heapHuge, heapRSS int64) bool { return !advised && huge == 0 && heapHuge == 0 },
			func(runway, goal, faults int64) bool { return runway < 16<<20 && faults > smallObjectPages/2 }},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			if tc.mode == "off" && strings.Contains(mustRead(t, thpEnabledPath), "[always]") {
				t.Skip("transparent huge pages are always given here, advised or not")
			}
			cmd := exec.Command(os.Args[0], "-test.run=^TestHeapHugePagesChild$", "-test.v")
			cmd.Env = append(os.Environ(), heapPagesChildEnv+"="+tc.mode)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			var advised bool
			var huge, heapHuge, heapRSS, runway, goal, faults int64
			for line := range strings.Lines(string(out)) {
				if rest, ok := strings.CutPrefix(line, "heap: "); ok {
					if _, err := fmt.Sscanf(rest, "advised=%t huge=%d heapHuge=%d heapRSS=%d runway=%d goal=%d faults=%d",
						&advised, &huge, &heapHuge, &heapRSS, &runway, &goal, &faults); err != nil {
						t.Fatalf("child said %q: %v", line, err)
					}
				}
			}
			if !tc.want(advised, huge, heapHuge, heapRSS) {
				t.Fatalf("--heap-huge-pages %s: the large object's mapping advised %t, %d MiB in huge pages; the heap %d MiB of %d in huge pages\n%s",
					tc.mode, advised, huge>>20, heapHuge>>20, heapRSS>>20, out)
			}
			if !tc.wantGrowth(runway, goal, faults) {
				t.Fatalf("--heap-huge-pages %s: %d MiB of heap mapped at start, a goal of %d MiB then, %d faults growing the heap by %d pages of small objects\n%s",
					tc.mode, runway>>20, goal>>20, faults, smallObjectPages, out)
			}
		})
	}
}

// TestHeapHugePagesChild is TestHeapHugePages' fresh process.
func TestHeapHugePagesChild(t *testing.T) {
	mode := os.Getenv(heapPagesChildEnv)
	if mode == "" {
		t.Skip("TestHeapHugePages runs it")
	}
	on, err := HeapHugePages(mode)
	if err != nil {
		t.Fatal(err)
	}
	before := newHeapAdvisor(nil).readRuntime()
	stop := StartHeapHugePages(on, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	defer stop()
	started := newHeapAdvisor(nil).readRuntime()
	// A large object grows the heap by a mapping of its own, which the
	// advisor advises within a few milliseconds.
	grown := make([]byte, 64<<20)
	lo := uintptr(unsafe.Pointer(&grown[0]))
	deadline := time.Now().Add(5 * time.Second)
	for on && !slices.Contains(smapsOf(t, lo).Flags, "hg") && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	for i := range grown {
		grown[i] = byte(i)
	}
	m := smapsOf(t, lo)
	// Then many small objects, kept, grow the heap by 192 MiB.
	kept := make([][]byte, 0, smallObjectPages)
	faults0 := minorFaults(t)
	for range cap(kept) {
		b := make([]byte, 4096)
		b[0] = 1
		kept = append(kept, b)
	}
	faults := minorFaults(t) - faults0
	heap, err := newHeapAdvisor(nil).heapMappings()
	if err != nil {
		t.Fatal(err)
	}
	var heapHuge, heapRSS int64
	for _, r := range heap {
		e := smapsOf(t, r.lo)
		heapHuge += e.AnonHugeBytes
		heapRSS += e.RSSBytes
	}
	runtime.KeepAlive(kept)
	fmt.Printf("heap: advised=%t huge=%d heapHuge=%d heapRSS=%d runway=%d goal=%d faults=%d\n", slices.Contains(m.Flags, "hg"),
		m.AnonHugeBytes, heapHuge, heapRSS, int64(started.mapped)-int64(before.mapped), started.goal, faults)
}

// smallObjectPages is how many 4 KiB objects TestHeapHugePagesChild grows
// its heap by.
const smallObjectPages = 192 << 20 / 4096

// minorFaults is the process's minor page faults so far.
func minorFaults(t *testing.T) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return ru.Minflt
}

// smapsOf returns /proc/self/smaps' entry of the mapping holding addr.
func smapsOf(t *testing.T, addr uintptr) smaps.Mapping {
	m, err := smaps.Of(addr)
	if errors.Is(err, fs.ErrNotExist) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func mustRead(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// lockedBuffer is a log the advisor's goroutine writes while a test reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// madviseCall is a call of a fake madvise.
type madviseCall struct {
	lo, n  uintptr
	advice int
}

// The advisor finds the heap among the mappings (the run of anonymous
// ones holding the probe) and advises its mapped ranges once each.
func TestHeapAdvisorRanges(t *testing.T) {
	dir := t.TempDir()
	maps := filepath.Join(dir, "maps")
	const before = `00400000-004ab000 r-xp 00000000 fe:00 10125742 /usr/bin/sluice
00599000-005cf000 rw-p 00000000 00:00 0
c000000000-c000400000 rw-p 00000000 00:00 0 [anon: Go: heap]
c000400000-c004000000 ---p 00000000 00:00 0 [anon: Go: heap reservation]
c004000000-c004200000 rw-p 00000000 00:00 0
7f643d060000-7f643d200000 rw-p 00000000 00:00 0
7ffec1c64000-7ffec1c85000 rw-p 00000000 00:00 0 [stack]
`
	// The heap grew by 5 MiB after the first advice, and a mapping of the
	// first's range was split by it (as MADV_HUGEPAGE splits a mapping).
	const after = `00400000-004ab000 r-xp 00000000 fe:00 10125742 /usr/bin/sluice
00599000-005cf000 rw-p 00000000 00:00 0
c000000000-c000200000 rw-p 00000000 00:00 0
c000200000-c000900000 rw-p 00000000 00:00 0
c000900000-c004000000 ---p 00000000 00:00 0
c004000000-c004200000 rw-p 00000000 00:00 0
7f643d060000-7f643d200000 rw-p 00000000 00:00 0
`
	var calls []madviseCall
	a := &heapAdvisor{log: slog.New(slog.DiscardHandler), mapsPath: maps, probe: 0xc000123456,
		madvise: func(lo, n uintptr, advice int) error {
			calls = append(calls, madviseCall{lo, n, advice})
			return nil
		}}
	for _, step := range []struct {
		maps string
		want []madviseCall
	}{
		{before, []madviseCall{{0xc000000000, 4 << 20, unix.MADV_HUGEPAGE}, {0xc004000000, 2 << 20, unix.MADV_HUGEPAGE}}},
		// Only the new 5 MiB.
		{after, []madviseCall{{0xc000400000, 5 << 20, unix.MADV_HUGEPAGE}}},
		{after, nil},
	} {
		if err := os.WriteFile(maps, []byte(step.maps), 0o600); err != nil {
			t.Fatal(err)
		}
		calls = nil
		if err := a.adviseHeap(); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(calls, step.want) {
			t.Fatalf("madvise calls %#v, want %#v", calls, step.want)
		}
	}
}

// Whatever fails turns the advice off with one log line, and stop still
// returns.
func TestHeapAdvisorFailures(t *testing.T) {
	for _, tc := range []struct {
		name    string
		change  func(a *heapAdvisor)
		wantLog string
	}{
		{"no /proc", func(a *heapAdvisor) { a.mapsPath = filepath.Join(t.TempDir(), "maps") }, "no such file"},
		{"no huge pages", func(a *heapAdvisor) { a.thpPath = filepath.Join(t.TempDir(), "enabled") }, "transparent huge pages"},
		{"madvise refused", func(a *heapAdvisor) {
			a.madvise = func(uintptr, uintptr, int) error { return syscall.EINVAL }
		}, "MADV_HUGEPAGE): invalid argument"},
		{"heap not found", func(a *heapAdvisor) { a.probe = 8 }, "no mapping holds the heap address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logged lockedBuffer
			a := newHeapAdvisor(slog.New(slog.NewTextHandler(&logged, nil)))
			tc.change(a)
			stop := startHeapAdvisor(a)
			deadline := time.Now().Add(5 * time.Second)
			for !strings.Contains(logged.String(), "heap huge pages off") && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			// The heap grows on: the advisor must have stopped.
			_ = make([]byte, 16<<20)
			time.Sleep(100 * time.Millisecond)
			stop()
			lines := strings.Split(strings.TrimSpace(logged.String()), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], "heap huge pages off") || !strings.Contains(lines[0], tc.wantLog) {
				t.Fatalf("logged %q, want one line of huge pages off for %q", logged.String(), tc.wantLog)
			}
		})
	}
}

// The runway is at most heapRunwayMost, a sixteenth of the machine's
// memory and a quarter of the runtime's memory limit, and none where the
// kernel commits no memory beyond what it has.
func TestHeapRunwaySize(t *testing.T) {
	total := MemTotal()
	if total == 0 {
		t.Skip("no MemTotal in /proc/meminfo")
	}
	overcommit := filepath.Join(t.TempDir(), "overcommit_memory")
	a := newHeapAdvisor(nil)
	a.overcommitPath = overcommit
	for _, tc := range []struct {
		mode  string
		limit int64
		want  uint64
	}{
		{"0\n", math.MaxInt64, min(heapRunwayMost, uint64(total)/16)},
		{"1\n", 256 << 20, min(64<<20, uint64(total)/16)},
		{"2\n", math.MaxInt64, 0},
	} {
		if err := os.WriteFile(overcommit, []byte(tc.mode), 0o600); err != nil {
			t.Fatal(err)
		}
		old := debug.SetMemoryLimit(tc.limit)
		got := a.runwaySize()
		debug.SetMemoryLimit(old)
		if got != tc.want {
			t.Errorf("overcommit_memory %q, memory limit %d: runway %d, want %d", strings.TrimSpace(tc.mode), tc.limit, got, tc.want)
		}
	}
}
