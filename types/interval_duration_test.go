package types

import "testing"

func TestDurationMicros(t *testing.T) {
	for in, want := range map[string]int64{"5 seconds": 5_000_000, "00:02:00": 120_000_000, "1 day": 86_400_000_000, "0": 0} {
		if got, err := DurationMicros(in); err != nil || got != want {
			t.Errorf("DurationMicros(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"1 month", "-1 second", "soon"} {
		if _, err := DurationMicros(in); err == nil {
			t.Errorf("DurationMicros(%q) accepted", in)
		}
	}
}
