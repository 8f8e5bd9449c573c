package main

import (
	"bufio"
	"io"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// defaultGCPercent is the collector's GOGC unless the environment sets one.
// A server's heap is mostly long-lived state (views' arrangements, the
// connections' buffers) while ingest and queries allocate short-lived
// chunks fast, so at Go's 100 a collection comes whenever that allocation
// has doubled the heap: in `sluice bench serve` (1000 panels, Nexmark at
// 160k events/s) the collector took 3.3 of 6.8 CPU-seconds, and while it
// marks, the queries wait for a core. At 400 it took 0.8, for a peak RSS of
// 1.1 GiB instead of 0.7.
const defaultGCPercent = 400

// memoryLimitShare is the part of the machine's (or the cgroup's) memory
// the heap may grow to before the collector runs more often than
// defaultGCPercent says: a large live heap times five must not run the
// machine out of memory.
const memoryLimitShare = 0.75

// tuneGC sets the collector's pace for a process serving Sluice: GOGC and
// GOMEMLIMIT from the environment win; otherwise defaultGCPercent, with a
// soft memory limit of memoryLimitShare of the memory available.
func tuneGC() {
	percent, limit := gcSettings(os.Getenv("GOGC"), os.Getenv("GOMEMLIMIT"), availableMemory())
	if percent != 0 {
		debug.SetGCPercent(percent)
	}
	if limit != 0 {
		debug.SetMemoryLimit(limit)
	}
}

// gcSettings returns the GC percent and memory limit to set (0: leave the
// runtime's) given GOGC, GOMEMLIMIT and the bytes of memory available (0:
// unknown).
func gcSettings(gogc, gomemlimit string, available int64) (percent int, limit int64) {
	if gogc == "" {
		percent = defaultGCPercent
	}
	if gomemlimit == "" && available > 0 {
		limit = int64(float64(available) * memoryLimitShare)
	}
	return percent, limit
}

// availableMemory is the smaller of the machine's memory and the cgroup's
// limit, in bytes (0: unknown).
func availableMemory() int64 {
	var total int64
	if f, err := os.Open("/proc/meminfo"); err == nil {
		total = memTotal(f)
		f.Close()
	}
	if b, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && n > 0 && (total == 0 || n < total) {
			total = n
		}
	}
	return total
}

// memTotal reads MemTotal from /proc/meminfo's text, in bytes (0: absent).
func memTotal(r io.Reader) int64 {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil || kb <= 0 || kb > math.MaxInt64/1024 {
				return 0
			}
			return kb * 1024
		}
	}
	return 0
}
