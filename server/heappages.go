package server

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
)

// HeapHugePages parses --heap-huge-pages: on (the default) advises the Go
// heap's memory for transparent huge pages as the runtime maps it, off
// leaves it in small pages.
func HeapHugePages(s string) (bool, error) {
	switch s {
	case "on":
		return true, nil
	case "off":
		return false, nil
	}
	return false, fmt.Errorf("--heap-huge-pages must be on or off, not %q", s)
}

// StartHeapHugePages advises the Go heap's memory for transparent huge
// pages as the runtime maps it, until stop is called (on: see
// heappages_linux.go; elsewhere, or off, it does nothing). It is a
// process's setting, like GOGC: `sluice serve` and the servers `sluice
// bench` runs in its own process start it once.
func StartHeapHugePages(on bool, log *slog.Logger) (stop func()) {
	if !on {
		return func() {}
	}
	return startHeapAdvisor(newHeapAdvisor(log))
}

// MemTotal is MemTotal of /proc/meminfo in bytes, or 0 where it cannot be
// read.
func MemTotal() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}
