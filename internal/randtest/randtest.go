package randtest

import (
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
)

// EnvInt returns the integer in environment variable name, or def when it
// is unset; a malformed value fails the test.
func EnvInt(t *testing.T, name string, def int64) int64 {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, v, err)
	}
	return n
}

// Seed returns the seed of a randomized test: SLUICE_SEED when set, else
// a random one. It logs the seed and how to replay the run.
func Seed(t *testing.T) int64 {
	t.Helper()
	seed := EnvInt(t, "SLUICE_SEED", int64(rand.Uint32()))
	t.Logf("seed %d (SLUICE_SEED=%d replays it)", seed, seed)
	return seed
}

// MultisetDiff returns the rows of a not in b and of b not in a (counting
// repeats), each sorted.
func MultisetDiff(a, b []string) (onlyA, onlyB []string) {
	count := map[string]int{}
	for _, r := range a {
		count[r]++
	}
	for _, r := range b {
		count[r]--
	}
	for r, c := range count {
		for ; c > 0; c-- {
			onlyA = append(onlyA, r)
		}
		for ; c < 0; c++ {
			onlyB = append(onlyB, r)
		}
	}
	slices.Sort(onlyA)
	slices.Sort(onlyB)
	return onlyA, onlyB
}
