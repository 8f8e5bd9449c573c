package bench

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// procStatusKB reads one "Name:   123 kB" field of /proc/self/status, in bytes;
// 0 when unavailable (not Linux).
func procStatusKB(field string) int64 { return procStatusKBOf("self", field) }

// procStatusKBOf is procStatusKB of process pid ("self": this one).
func procStatusKBOf(pid, field string) int64 {
	f, err := os.Open("/proc/" + pid + "/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0
		}
		return kb << 10
	}
	return 0
}

// resetPeakRSS makes VmHWM start again from the current RSS (Linux 4.0+:
// writing 5 to clear_refs), so the peak measured covers Sluice's phase only
// and not the PostgreSQL phase's client work. It reports whether it worked.
func resetPeakRSS() bool { return resetPeakRSSOf("self") }

// resetPeakRSSOf is resetPeakRSS of process pid ("self": this one).
func resetPeakRSSOf(pid string) bool {
	return os.WriteFile("/proc/"+pid+"/clear_refs", []byte("5"), 0) == nil
}

// cpuModel is the first "model name" of /proc/cpuinfo, or "".
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if name, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "model name" {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	return ""
}
