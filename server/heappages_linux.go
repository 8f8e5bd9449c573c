package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	runtimemetrics "runtime/metrics"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The Go runtime maps its heap in small pages: it reserves arenas
// (PROT_NONE) and maps pieces of them as the heap grows (mmap MAP_FIXED,
// a mapping of its own that no earlier madvise applies to), and Go does
// not advise them for huge pages. Where transparent huge pages are given
// on advice only ("madvise", as on the machines Sluice runs on), a fresh
// process's heap therefore faults 4 KiB at a time as it grows to each
// garbage collection goal, about 17 µs of CPU a fault on these virtual
// machines (docs/memory.md). The heap advisor watches the memory the
// runtime has mapped and, when it grew, advises the heap's newly mapped
// ranges (MADV_HUGEPAGE): later first touches of a 2 MiB page nothing of
// which was touched yet take a huge page. NB: what the runtime touched
// before the advice came keeps its small pages; collapsing it
// (MADV_COLLAPSE) cost about 20 ms of CPU a 2 MiB page here, more than the
// small pages' faults, and held the advice back while it ran.

const (
	// heapWatchFastest is the watch's interval while the heap grows; it
	// doubles up to heapWatchSlowest while it does not.
	heapWatchFastest = time.Millisecond
	heapWatchSlowest = 64 * time.Millisecond
	// heapReserveLeast and heapReserveMost bound the reserve the watch
	// makes the runtime map ahead.
	heapReserveLeast = 16 << 20
	// heapGrowthLeast is the least the heap grows by (the runtime maps it
	// in chunks of 4 MiB): its memory classes, read together, still
	// disagree by some KiB now and then.
	heapGrowthLeast = 4 << 20
	heapReserveMost = 1 << 30
	// heapRunwayMost bounds the runway mapped at start; so do a sixteenth
	// of the machine's memory and a quarter of the runtime's memory limit.
	heapRunwayMost = 1 << 30
	thpEnabledPath = "/sys/kernel/mm/transparent_hugepage/enabled"
	overcommitPath = "/proc/sys/vm/overcommit_memory"
)

// pageRange is the memory [lo, hi).
type pageRange struct{ lo, hi uintptr }

type heapAdvisor struct {
	log *slog.Logger
	// mapsPath and madvise are /proc/self/maps and the system call, but
	// for tests of what happens when they fail.
	mapsPath, thpPath string
	madvise           func(lo, n uintptr, advice int) error
	// overcommitPath says whether a runway may be mapped (runwaySize).
	overcommitPath string
	// probe is an address in the Go heap: the heap is the run of adjacent
	// anonymous mappings (the arenas, reserved and mapped) holding it.
	probe uintptr
	// advised are the heap's ranges advised so far, sorted and merged.
	advised []pageRange
	maps    []byte
	// runtime are the samples of runtimeMemory.
	runtime []runtimemetrics.Sample
}

func newHeapAdvisor(log *slog.Logger) *heapAdvisor {
	probe := new([64]byte)
	return &heapAdvisor{
		log:            log,
		mapsPath:       "/proc/self/maps",
		thpPath:        thpEnabledPath,
		overcommitPath: overcommitPath,
		madvise: func(lo, n uintptr, advice int) error {
			if _, _, errno := unix.Syscall(unix.SYS_MADVISE, lo, n, uintptr(advice)); errno != 0 {
				return errno
			}
			return nil
		},
		probe: uintptr(unsafe.Pointer(probe)),
		runtime: []runtimemetrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}, {Name: "/gc/heap/goal:bytes"},
			{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/free:bytes"},
			{Name: "/memory/classes/heap/released:bytes"}, {Name: "/memory/classes/heap/stacks:bytes"},
			{Name: "/memory/classes/heap/unused:bytes"}},
	}
}

// startHeapAdvisor maps the heap's runway and advises the heap mapped so
// far, then watches it in a goroutine of its own until stop. Whatever
// fails (no /proc, no transparent huge pages, madvise refused) turns the
// advice off with one log line: the heap just keeps its small pages.
func startHeapAdvisor(a *heapAdvisor) (stop func()) {
	if err := a.thpAvailable(); err != nil {
		a.log.Info("heap huge pages off", "reason", err)
		return func() {}
	}
	if err := a.mapRunway(a.runwaySize()); err != nil {
		a.log.Warn("heap huge pages off", "err", err)
		return func() {}
	}
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		if err := a.watch(done); err != nil {
			a.log.Warn("heap huge pages off", "err", err)
		}
	}()
	return func() {
		close(done)
		<-exited
	}
}

// thpAvailable says why huge pages cannot be had on advice, if so.
func (a *heapAdvisor) thpAvailable() error {
	mode, err := os.ReadFile(a.thpPath)
	if err != nil {
		return fmt.Errorf("transparent huge pages: %w", err)
	}
	if bytes.Contains(mode, []byte("[never]")) {
		return fmt.Errorf("transparent huge pages are never given (%s)", a.thpPath)
	}
	return nil
}

// mapRunway makes the runtime map size bytes of heap ahead of any need,
// advises them and frees them, before the server starts: the heap's growth
// then draws on advised memory nothing touched yet, 2 MiB a fault, instead
// of on memory the runtime maps as it grows and touches before the watch
// (milliseconds late) advises it. A fresh server's first drain of 1 M
// Nexmark events over Kafka grew its heap by 400-500 MB, about a third of
// it in small pages with the watch's reserves alone (docs/memory.md). The
// runway is a reserve, as the watch's are (unzeroed, never touched:
// address space, not memory), but taken before the server allocates
// anything, and freed by a collection at once, so that it takes no
// collection's headroom.
func (a *heapAdvisor) mapRunway(size uint64) error {
	if size == 0 {
		return nil
	}
	err := func() error {
		var runway strings.Builder
		runway.Grow(int(size))
		defer runtime.KeepAlive(&runway)
		return a.adviseHeap()
	}()
	// A collection that the runway's allocation started may have found it
	// held and kept it: this one frees it, and sets the goal without it.
	runtime.GC()
	return err
}

// runwaySize is heapRunwayMost, at most a sixteenth of the machine's memory
// and a quarter of the runtime's memory limit, or none where the kernel
// refuses to commit memory beyond what it has (overcommit_memory 2): there
// even untouched memory counts.
func (a *heapAdvisor) runwaySize() uint64 {
	if mode, err := os.ReadFile(a.overcommitPath); err != nil || strings.TrimSpace(string(mode)) == "2" {
		return 0
	}
	size := min(uint64(heapRunwayMost), uint64(MemTotal())/16)
	if limit := debug.SetMemoryLimit(-1); limit > 0 && limit < math.MaxInt64 {
		size = min(size, uint64(limit)/4)
	}
	return size
}

// watch advises the heap whenever the runtime's heap memory grew, until
// done. Advice comes milliseconds late, and memory the runtime touched
// meanwhile keeps its small pages (at 1 M events/s half the heap's faults
// came before the advice): so the watch also makes the runtime map ahead.
// When the heap grew and a collection ran since it last did, it allocates
// a reserve (unzeroed, so untouched) that makes the runtime map that much
// more, advises it and drops it: the next collection frees it, and the
// heap's later growth draws on advised memory nothing touched yet. The
// reserve is half the memory mapped, at most half what the heap may still
// grow before the collection's goal: it must not start a collection while
// it is held (which would keep it as live and set the next goal from it),
// and it costs the collection that much of its headroom. The rest is
// address space, not memory: the reserve is never touched.
func (a *heapAdvisor) watch(done <-chan struct{}) error {
	mapped := a.readRuntime().mapped
	if err := a.adviseHeap(); err != nil {
		return err
	}
	reservedCycle := uint64(0)
	interval := heapWatchFastest
	timer := time.NewTimer(interval)
	defer timer.Stop()
	for {
		select {
		case <-done:
			return nil
		case <-timer.C:
		}
		rt := a.readRuntime()
		if rt.mapped < mapped+heapGrowthLeast {
			interval = min(2*interval, heapWatchSlowest)
			timer.Reset(interval)
			continue
		}
		var reserve strings.Builder
		if size := min(rt.mapped/2, (rt.goal-min(rt.objects, rt.goal))/2, heapReserveMost); rt.cycles > reservedCycle && size >= heapReserveLeast {
			reserve.Grow(int(size))
			reservedCycle = rt.cycles
		}
		if err := a.adviseHeap(); err != nil {
			return err
		}
		runtime.KeepAlive(&reserve)
		mapped = a.readRuntime().mapped
		interval = heapWatchFastest
		timer.Reset(interval)
	}
}

// runtimeMemory is what the watch reads of the runtime: the memory it has
// mapped for the heap (objects, free, released to the kernel, stacks and
// unused parts of spans: it changes only when the heap grows, so that a
// heap growing into its runway, or other memory of the runtime growing,
// takes no reserve), the collections it completed, the heap's goal and the
// bytes of its objects.
type runtimeMemory struct{ mapped, cycles, goal, objects uint64 }

func (a *heapAdvisor) readRuntime() runtimeMemory {
	runtimemetrics.Read(a.runtime)
	var v [7]uint64
	for i, s := range a.runtime {
		if s.Value.Kind() == runtimemetrics.KindUint64 {
			v[i] = s.Value.Uint64()
		}
	}
	return runtimeMemory{cycles: v[0], goal: v[1], objects: v[2], mapped: v[2] + v[3] + v[4] + v[5] + v[6]}
}

// adviseHeap advises the heap's mapped ranges not advised yet.
func (a *heapAdvisor) adviseHeap() error {
	heap, err := a.heapMappings()
	if err != nil {
		return err
	}
	for _, m := range heap {
		for _, r := range a.unadvised(m) {
			if err := a.madvise(r.lo, r.hi-r.lo, unix.MADV_HUGEPAGE); err != nil {
				return fmt.Errorf("madvise(%#x, %d, MADV_HUGEPAGE): %w", r.lo, r.hi-r.lo, err)
			}
			a.markAdvised(r)
		}
	}
	return nil
}

// heapMappings returns the heap's readable and writable mappings: those
// in the run of adjacent anonymous mappings holding a.probe (the arenas'
// reserved memory is mapped without access).
func (a *heapAdvisor) heapMappings() ([]pageRange, error) {
	if err := a.readMaps(); err != nil {
		return nil, err
	}
	var heap []pageRange
	var end uintptr // where the current run of anonymous mappings ends
	found := false
	for line := range bytes.Lines(a.maps) {
		r, writable, anonymous, err := parseMapping(line)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", a.mapsPath, err)
		}
		if !anonymous || r.lo != end {
			if found {
				break
			}
			heap = heap[:0]
		}
		if anonymous && writable {
			heap = append(heap, r)
		}
		end = 0
		if anonymous {
			end = r.hi
		}
		found = found || r.lo <= a.probe && a.probe < r.hi
	}
	if !found {
		return nil, fmt.Errorf("%s: no mapping holds the heap address %#x", a.mapsPath, a.probe)
	}
	return heap, nil
}

// readMaps reads a.mapsPath into a.maps, whose memory it reuses.
func (a *heapAdvisor) readMaps() error {
	f, err := os.Open(a.mapsPath)
	if err != nil {
		return err
	}
	defer f.Close()
	a.maps = a.maps[:0]
	for {
		if len(a.maps) == cap(a.maps) {
			a.maps = append(a.maps, 0)[:len(a.maps)]
		}
		n, err := f.Read(a.maps[len(a.maps):cap(a.maps)])
		a.maps = a.maps[:len(a.maps)+n]
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", a.mapsPath, err)
		}
	}
}

// parseMapping parses a line of /proc/self/maps ("lo-hi perms offset dev
// inode [path]"). Anonymous memory has no path, or a name the runtime
// gave it ("[anon: Go: heap]", where the kernel keeps names).
func parseMapping(line []byte) (r pageRange, writable, anonymous bool, err error) {
	fields := bytes.Fields(line)
	if len(fields) < 5 {
		return r, false, false, fmt.Errorf("mapping %q has %d fields, want 5 or more", line, len(fields))
	}
	lo, hi, ok := bytes.Cut(fields[0], []byte("-"))
	l, lerr := strconv.ParseUint(string(lo), 16, 64)
	h, herr := strconv.ParseUint(string(hi), 16, 64)
	if !ok || lerr != nil || herr != nil || h <= l {
		return r, false, false, fmt.Errorf("mapping %q has no address range", line)
	}
	perms := fields[1]
	return pageRange{uintptr(l), uintptr(h)}, len(perms) >= 2 && perms[0] == 'r' && perms[1] == 'w',
		string(fields[4]) == "0" && (len(fields) == 5 || bytes.HasPrefix(fields[5], []byte("[anon:"))), nil
}

// unadvised returns the parts of m not advised yet.
func (a *heapAdvisor) unadvised(m pageRange) []pageRange {
	var parts []pageRange
	lo := m.lo
	for _, r := range a.advised {
		if r.hi <= lo || r.lo >= m.hi {
			continue
		}
		if r.lo > lo {
			parts = append(parts, pageRange{lo, r.lo})
		}
		lo = max(lo, r.hi)
	}
	if lo < m.hi {
		parts = append(parts, pageRange{lo, m.hi})
	}
	return parts
}

// markAdvised adds r to a.advised, keeping it sorted and merged.
func (a *heapAdvisor) markAdvised(r pageRange) {
	var merged []pageRange
	placed := false
	for _, x := range a.advised {
		switch {
		case x.hi < r.lo:
			merged = append(merged, x)
		case r.hi < x.lo:
			if !placed {
				merged, placed = append(merged, r), true
			}
			merged = append(merged, x)
		default:
			r = pageRange{min(r.lo, x.lo), max(r.hi, x.hi)}
		}
	}
	if !placed {
		merged = append(merged, r)
	}
	a.advised = merged
}
