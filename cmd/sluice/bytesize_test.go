package main

import "testing"

func TestByteSize(t *testing.T) {
	for in, want := range map[string]int64{
		"512MiB": 512 << 20, "2GiB": 2 << 30, "2gib": 2 << 30, "1.5GB": 1.5e9, "4096": 4096,
		"64 KiB": 64 << 10, "10B": 10, "0": 0, "off": 0,
	} {
		var b byteSize
		if err := b.Set(in); err != nil || int64(b) != want {
			t.Errorf("%q: got %d, %v; want %d", in, b, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "-1GiB", "12XB", "1e30GiB"} {
		var b byteSize
		if err := b.Set(in); err == nil {
			t.Errorf("%q: got %d, want an error", in, b)
		}
	}
	for in, want := range map[byteSize]string{0: "off", 512 << 20: "512MiB", 3 << 30: "3GiB", 1000: "1000"} {
		if got := in.String(); got != want {
			t.Errorf("String of %d: got %q, want %q", int64(in), got, want)
		}
	}
}
