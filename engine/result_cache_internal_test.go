package engine

import (
	"testing"
)

// The cache keeps at most its bound, the least recently used answer going
// first, and only the answers of the newest publication it was given.
func TestResultCacheBounds(t *testing.T) {
	c := newResultCache(8 * 100)
	pub1, pub2 := &publishedViews{seq: 1, epoch: 1}, &publishedViews{seq: 2, epoch: 1}
	key := func(s string) resultKey { return resultKey{sql: s} }
	for _, s := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		c.put(pub1, &sharedResult{key: key(s), size: 100})
	}
	if _, ok := c.get(pub1, key("a")); !ok {
		t.Fatal("a: not kept")
	}
	c.put(pub1, &sharedResult{key: key("i"), size: 100})
	if _, ok := c.get(pub1, key("b")); ok {
		t.Error("b, the least recently used, is still kept past the bound")
	}
	if _, ok := c.get(pub1, key("a")); !ok {
		t.Error("a, used since, went")
	}
	if c.used != 800 {
		t.Errorf("used %d, want 800", c.used)
	}
	c.put(pub1, &sharedResult{key: key("big"), size: 101})
	if _, ok := c.get(pub1, key("big")); ok {
		t.Error("an answer over an eighth of the bound was kept")
	}
	if _, ok := c.get(pub2, key("a")); ok {
		t.Error("an answer of publication 1 answered at publication 2")
	}
	c.put(pub2, &sharedResult{key: key("x"), size: 10})
	if _, ok := c.get(pub1, key("a")); ok || c.used != 10 || len(c.byKey) != 1 {
		t.Errorf("after publication 2's first answer: a kept %v, used %d, %d entries", ok, c.used, len(c.byKey))
	}
	c.put(pub1, &sharedResult{key: key("late"), size: 10})
	if _, ok := c.get(pub2, key("late")); ok || len(c.byKey) != 1 {
		t.Error("an answer of an older publication replaced the newer's")
	}
	if st := (&Engine{results: c}).ResultCacheStats(); st.Hits != 2 || st.Misses != 5 {
		t.Errorf("stats %+v, want 2 hits, 5 misses", st)
	}
}
