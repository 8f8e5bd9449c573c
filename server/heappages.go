package server

import (
	"fmt"
	"log/slog"
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
