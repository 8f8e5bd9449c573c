package dataflow

import (
	"fmt"
	"math/rand"
	"testing"
)

// TestGroupTablePacked adds and removes packed keys at random, NULL flags
// and colliding words included, and checks the table against a map: every
// present key finds its id, an absent one is added under a fresh id, and
// freed ids are reused. With few id bits the slots run out of room for
// hash bits midway and give them up.
func TestGroupTablePacked(t *testing.T) {
	for _, idBits := range []uint{slotIDBits, 12} {
		t.Run(fmt.Sprintf("idBits=%d", idBits), func(t *testing.T) { testGroupTablePacked(t, idBits) })
	}
}

func testGroupTablePacked(t *testing.T, idBits uint) {
	rng := rand.New(rand.NewSource(1))
	type pk struct {
		a, b  uint64
		nulls uint8
	}
	tab := newGroupTable(1, 0, 2)
	tab.idBits = idBits
	model := map[pk]int32{}
	owner := map[int32]pk{}
	for step := range 200_000 {
		k := pk{uint64(rng.Intn(3000)), uint64(rng.Intn(2)) << 40, uint8(rng.Intn(4))}
		if k.nulls&1 != 0 {
			k.a = 0
		}
		if k.nulls&2 != 0 {
			k.b = 0
		}
		if want, ok := model[k]; ok && rng.Intn(2) == 0 {
			tab.unindex(want)
			tab.release(want)
			delete(model, k)
			delete(owner, want)
			continue
		}
		g, added := tab.findPacked([]int64{int64(k.a), int64(k.b)}, k.nulls)
		want, ok := model[k]
		switch {
		case ok && (added || g != want):
			t.Fatalf("step %d: key %v found as %d (added %v), want %d", step, k, g, added, want)
		case !ok && !added:
			t.Fatalf("step %d: absent key %v found as %d", step, k, g)
		case !ok:
			if o, taken := owner[g]; taken {
				t.Fatalf("step %d: key %v added as %d, the id of %v", step, k, g, o)
			}
			model[k], owner[g] = g, k
		}
		if tab.live != len(model) {
			t.Fatalf("step %d: %d live, want %d", step, tab.live, len(model))
		}
	}
	if int32(1)<<idBits <= tab.ids.n && tab.idBits != 32 {
		t.Fatalf("%d ids, yet the slots keep %d id bits", tab.ids.n, tab.idBits)
	}
	if keys := int32(3000 * 2 * 4); tab.ids.n > keys {
		t.Fatalf("%d ids handed out for at most %d keys: freed ids are not reused", tab.ids.n, keys)
	}
}
