package randtest

import (
	"slices"
	"testing"
)

func TestMultisetDiff(t *testing.T) {
	a := []string{"x", "y", "y", "z"}
	b := []string{"y", "z", "z", "w"}
	onlyA, onlyB := MultisetDiff(a, b)
	if !slices.Equal(onlyA, []string{"x", "y"}) || !slices.Equal(onlyB, []string{"w", "z"}) {
		t.Errorf("got %v and %v", onlyA, onlyB)
	}
	if onlyA, onlyB := MultisetDiff(a, a); onlyA != nil || onlyB != nil {
		t.Errorf("equal multisets differ: %v %v", onlyA, onlyB)
	}
}

func TestEnvInt(t *testing.T) {
	t.Setenv("RANDTEST_X", "42")
	if got := EnvInt(t, "RANDTEST_X", 1); got != 42 {
		t.Errorf("EnvInt = %d", got)
	}
	if got := EnvInt(t, "RANDTEST_UNSET", 7); got != 7 {
		t.Errorf("default: %d", got)
	}
}
