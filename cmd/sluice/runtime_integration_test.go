package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/sluice-db/sluice/internal/testbin"
)

// TestServeRuntimeSettings runs the binary with the runtime's settings
// given each way and reads what the runtime runs with from /metrics: the
// Ps are one more than the cores and GOGC is 200 unless the flags, their
// SLUICE_ variables or the runtime's own variables say otherwise, the
// flags first.
func TestServeRuntimeSettings(t *testing.T) {
	bin := testbin.Build(t)
	var base []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SLUICE_") && !strings.HasPrefix(kv, "GOMAXPROCS=") && !strings.HasPrefix(kv, "GOGC=") {
			base = append(base, kv)
		}
	}
	for _, tc := range []struct {
		name             string
		env, flags       []string
		procs, gcPercent int
	}{
		{"defaults", nil, nil, runtime.NumCPU() + 1, 200},
		{"the runtime's variables", []string{"GOMAXPROCS=1", "GOGC=50"}, nil, 1, 50},
		{"the flags over the runtime's variables", []string{"GOMAXPROCS=1", "GOGC=50"}, []string{"--gomaxprocs", "2", "--gc-percent", "400"}, 2, 400},
		{"SLUICE_ variables", []string{"SLUICE_GOMAXPROCS=4", "GOMAXPROCS=1", "SLUICE_GC_PERCENT=300"}, nil, 4, 300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			httpAddr := testbin.FreeAddr(t)
			cmd := exec.Command(bin, append([]string{"serve", "--data-dir", filepath.Join(t.TempDir(), "data"), "--pg-addr", testbin.FreeAddr(t),
				"--http-addr", httpAddr, "--embedded-kafka-addr", "off"}, tc.flags...)...)
			cmd.Env = append(append([]string(nil), base...), tc.env...)
			testbin.Serve(t, cmd)
			metrics := testbin.HTTPGet(t, "http://"+httpAddr+"/metrics", 200)
			for name, want := range map[string]int{"go_sched_gomaxprocs_threads": tc.procs, "go_gc_gogc_percent": tc.gcPercent} {
				m := regexp.MustCompile(`(?m)^` + name + ` (\d+)$`).FindStringSubmatch(metrics)
				if m == nil {
					t.Fatalf("/metrics has no %s", name)
				}
				if got, _ := strconv.Atoi(m[1]); got != want {
					t.Errorf("%s = %d, want %d", name, got, want)
				}
			}
		})
	}
}
