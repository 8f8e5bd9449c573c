package main

import (
	"strings"
	"testing"
)

func TestGCSettings(t *testing.T) {
	for _, c := range []struct {
		gogc, limit string
		available   int64
		percent     int
		wantLimit   int64
	}{
		{"", "", 8 << 30, defaultGCPercent, 6 << 30},
		{"", "", 0, defaultGCPercent, 0},
		{"100", "", 8 << 30, 0, 6 << 30},
		{"", "2GiB", 8 << 30, defaultGCPercent, 0},
		{"off", "1GiB", 8 << 30, 0, 0},
	} {
		p, l := gcSettings(c.gogc, c.limit, c.available)
		if p != c.percent || l != c.wantLimit {
			t.Errorf("GOGC=%q GOMEMLIMIT=%q available %d: got (%d, %d), want (%d, %d)", c.gogc, c.limit, c.available, p, l, c.percent, c.wantLimit)
		}
	}
}

func TestMemTotal(t *testing.T) {
	const meminfo = "MemTotal:       24683756 kB\nMemFree:        19614200 kB\n"
	if got := memTotal(strings.NewReader(meminfo)); got != 24683756*1024 {
		t.Errorf("memTotal = %d", got)
	}
	if got := memTotal(strings.NewReader("MemFree: 12 kB\n")); got != 0 {
		t.Errorf("memTotal without MemTotal = %d", got)
	}
}
