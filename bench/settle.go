package bench

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// settle waits, at most a minute, until this process is nearly idle (under a
// tenth of a core over half a second), then runs a GC. It returns how long
// it waited.
func settle(ctx context.Context) time.Duration {
	start := time.Now()
	last, ok := processCPU()
	for ok && time.Since(start) < time.Minute && ctx.Err() == nil {
		time.Sleep(500 * time.Millisecond)
		now, ok2 := processCPU()
		if !ok2 || now-last < 50*time.Millisecond {
			break
		}
		last = now
	}
	runtime.GC()
	return time.Since(start)
}

// processCPU reads this process's user+system CPU time from /proc.
func processCPU() (time.Duration, bool) { return procCPU("self") }

// procCPU reads process pid's ("self": this one's) user+system CPU time
// from /proc.
func procCPU(pid string) (time.Duration, bool) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, false
	}
	// Fields after the parenthesised command name: utime and stime are the
	// 12th and 13th of them, in clock ticks (100 per second on Linux).
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, false
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	k, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(u+k) * 10 * time.Millisecond, true
}
