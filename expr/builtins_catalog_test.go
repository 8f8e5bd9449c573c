package expr

import "testing"

// TestSizePretty checks pg_size_pretty against PostgreSQL 15's output.
func TestSizePretty(t *testing.T) {
	for v, want := range map[int64]string{
		0: "0 bytes", 1: "1 bytes", 10239: "10239 bytes", 10240: "10 kB", 10752: "11 kB",
		20971519: "20 MB", 20971520: "20 MB", 1073741824: "1024 MB", -10240: "-10 kB", -20971520: "-20 MB",
		9223372036854775807: "8192 PB",
	} {
		if got := sizePretty(v); got != want {
			t.Errorf("pg_size_pretty(%d) = %q, want %q", v, got, want)
		}
	}
}
