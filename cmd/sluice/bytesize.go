package main

import (
	"fmt"
	"strconv"
	"strings"
)

// byteSize is a flag.Value of bytes written with an optional unit: 512MiB,
// 2GiB, 1.5GB, 4096 (bytes). 0 or "off" means none.
type byteSize int64

var byteUnits = []struct {
	suffix string
	bytes  float64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"B", 1},
}

func (b *byteSize) Set(s string) error {
	s = strings.TrimSpace(s)
	if s == "off" {
		*b = 0
		return nil
	}
	num, mult := s, 1.0
	for _, u := range byteUnits {
		if strings.HasSuffix(strings.ToUpper(s), strings.ToUpper(u.suffix)) {
			num, mult = strings.TrimSpace(s[:len(s)-len(u.suffix)]), u.bytes
			break
		}
	}
	x, err := strconv.ParseFloat(num, 64)
	if err != nil || x < 0 || x*mult >= 1<<63 {
		return fmt.Errorf("%q is not a size in bytes (such as 512MiB, 2GiB or 4096)", s)
	}
	*b = byteSize(x * mult)
	return nil
}

func (b *byteSize) String() string {
	switch {
	case *b == 0:
		return "off"
	case *b%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", *b>>30)
	case *b%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", *b>>20)
	}
	return strconv.FormatInt(int64(*b), 10)
}
