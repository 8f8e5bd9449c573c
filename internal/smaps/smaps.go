// Package smaps reads what /proc/self/smaps says of a mapping, for the
// tests of memory advised for huge pages.
package smaps

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Mapping is a mapping's entry: its VmFlags (hg: advised for huge pages),
// its resident bytes and those in huge pages.
type Mapping struct {
	Flags                   []string
	RSSBytes, AnonHugeBytes int64
}

// Of returns the entry of the mapping holding addr (an error wrapping
// fs.ErrNotExist where there is no /proc/self/smaps).
func Of(addr uintptr) (Mapping, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return Mapping{}, err
	}
	defer f.Close()
	var m Mapping
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		var lo, hi uintptr
		if n, _ := fmt.Sscanf(line, "%x-%x ", &lo, &hi); n == 2 {
			in = lo <= addr && addr < hi
			continue
		}
		if !in {
			continue
		}
		for field, bytes := range map[string]*int64{"Rss:": &m.RSSBytes, "AnonHugePages:": &m.AnonHugeBytes} {
			if kb, ok := strings.CutPrefix(line, field); ok {
				n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(kb, "kB")), 10, 64)
				if err != nil {
					return Mapping{}, fmt.Errorf("smaps: %q: %w", line, err)
				}
				*bytes = n << 10
			}
		}
		if flags, ok := strings.CutPrefix(line, "VmFlags:"); ok {
			m.Flags = strings.Fields(flags)
			return m, nil
		}
	}
	if err := sc.Err(); err != nil {
		return Mapping{}, fmt.Errorf("smaps: %w", err)
	}
	return Mapping{}, fmt.Errorf("smaps: no mapping holds %#x", addr)
}
