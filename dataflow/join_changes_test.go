package dataflow

import (
	"math/rand/v2"
	"testing"

	"github.com/sluice-db/sluice/internal/randtest"
)

// TestRowChangesRandom runs random notes, takes, walks and resets against
// a map that keeps the first multiplicity noted per row. SLUICE_SEED=<n>
// replays a run.
func TestRowChangesRandom(t *testing.T) {
	seed := randtest.Seed(t)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	var c rowChanges
	c.start()
	want := map[int32]int64{}
	for range 20000 {
		r := int32(rng.IntN(4 * joinRowPage))
		switch op := rng.IntN(100); {
		case op < 70:
			m := rng.Int64N(9)
			c.note(r, m)
			if _, ok := want[r]; !ok {
				want[r] = m
			}
		case op < 95:
			got, ok := c.take(r)
			w, wok := want[r]
			if ok != wok || got != w {
				t.Fatalf("take(%d) = %d, %v; want %d, %v", r, got, ok, w, wok)
			}
			delete(want, r)
		case op < 98:
			seen := map[int32]bool{}
			c.walk(func(r int32, before int64) {
				if seen[r] {
					t.Fatalf("walk visits %d twice", r)
				}
				seen[r] = true
				if w, ok := want[r]; !ok || w != before {
					t.Fatalf("walk: %d before %d; want %d, %v", r, before, w, ok)
				}
			})
			if len(seen) != len(want) {
				t.Fatalf("walk visited %d rows; want %d", len(seen), len(want))
			}
			clear(want)
		default:
			c.reset()
			clear(want)
		}
	}
}
