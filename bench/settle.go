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
	f, ok := procStat(pid)
	if !ok {
		return 0, false
	}
	// utime and stime are the 12th and 13th fields after the command name,
	// in clock ticks (100 per second on Linux).
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	k, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(u+k) * 10 * time.Millisecond, true
}

// processMinorFaults reads how many minor page faults this process has
// taken: first touches of memory, slow on the VMs the benchmarks run on,
// whose cost a CPU profile shows in whatever code touched the page
// (memmove, memclr) rather than as faults.
func processMinorFaults() (int64, bool) { return procMinorFaults("self") }

// procMinorFaults is processMinorFaults of process pid.
func procMinorFaults(pid string) (int64, bool) {
	f, ok := procStat(pid)
	if !ok {
		return 0, false
	}
	// minflt is the 8th field after the command name.
	n, err := strconv.ParseInt(f[7], 10, 64)
	return n, err == nil
}

// procStat returns the fields of /proc/<pid>/stat after the parenthesised
// command name (which may hold spaces), at least 13 of them.
func procStat(pid string) ([]string, bool) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return nil, false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return f, len(f) >= 13
}
