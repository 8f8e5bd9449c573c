package server

import "testing"

func TestGCPercent(t *testing.T) {
	for _, tc := range []struct {
		name   string
		given  bool
		pct    int
		gogc   string
		want   int
		wantOK bool
	}{
		{"default", false, DefaultGCPercent, "", DefaultGCPercent, true},
		{"GOGC wins over the default", false, DefaultGCPercent, "50", 0, false},
		{"the flag wins over GOGC", true, 400, "50", 400, true},
		{"the flag alone", true, 100, "", 100, true},
		{"negative turns collection off", true, -1, "", -1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := GCPercent(tc.given, tc.pct, tc.gogc)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("GCPercent(%v, %d, %q) = %d, %v; want %d, %v", tc.given, tc.pct, tc.gogc, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestProcs(t *testing.T) {
	for _, tc := range []struct {
		name       string
		given      bool
		n          int
		gomaxprocs string
		cores      int
		want       int
		wantOK     bool
	}{
		{"default: one more than the cores", false, 0, "", 2, 3, true},
		{"0 given: one more than the cores", true, 0, "", 4, 5, true},
		{"GOMAXPROCS wins over the default", false, 0, "2", 2, 0, false},
		{"the flag wins over GOMAXPROCS", true, 2, "8", 2, 2, true},
		{"the flag alone", true, 1, "", 2, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Procs(tc.given, tc.n, tc.gomaxprocs, tc.cores)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("Procs(%v, %d, %q, %d) = %d, %v; want %d, %v", tc.given, tc.n, tc.gomaxprocs, tc.cores, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}
