package engine

import (
	"container/list"
	"encoding/binary"
	"sync"
	"sync/atomic"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// A thousand dashboard panels send the same few statements each second:
// the same top-10 and time-range texts, point lookups of a dozen keys. Read
// from views alone, such a statement's answer changes only when a new
// epoch is published (or the catalog, or the settings it was planned
// with), so the engine keeps the answers read at the latest publication
// and a second identical statement is answered from them without running.
// What may differ between two runs at one publication is in the key or
// keeps a statement out: the query string (one plain SELECT that names no
// clock), the settings it was planned and is printed with and the role
// (planEnv), the catalog version, the parameters' types and values; a
// statement that reads a table or a catalog, calls a volatile,
// time-dependent or setting-reading function (planner.Planned.Repeatable),
// runs in a transaction block or with a row limit (a cursor, an Execute
// with maxRows) is never shared. A hit still checks the role's SELECT on
// each view the answer read. The answer is kept as chunks, not wire bytes:
// each session encodes it in its own result formats.

// DefaultResultCacheBytes is the default bound of the shared answers.
const DefaultResultCacheBytes = 64 << 20

// resultCacheSetting is the session setting that, off, keeps the
// session's answers its own (lower case, as session values are kept).
const resultCacheSetting = "sluice.result_cache"

// resultKey is what a shared answer is kept by, with the publication it
// was read at (resultCache.pub).
type resultKey struct {
	sql     string
	env     string
	planVer uint64
	// params holds the parameters' types and identity keys.
	params string
}

// sharedResult is one statement's answer.
type sharedResult struct {
	key    resultKey
	chunks []*coldata.Chunk
	rows   int64
	// views are the views read, whose SELECT privilege a hit checks.
	views []uint32
	size  int64
}

// resultCache holds the answers read at one publication of the views, at
// most max bytes of them, the least recently used going first. Entries
// of an older publication go when the first answer of a newer one is
// kept. It is shared by all sessions, behind its mutex.
type resultCache struct {
	max int64

	mu sync.Mutex
	// pub is the publication (publishedViews.seq) the entries were read
	// at: its number, so that the cache does not hold an old
	// publication's snapshots alive. A weak pointer did that too, but
	// its Value blocks while the collector terminates a mark phase: a
	// put waited there holding mu, and every hit behind it (92-494 ms
	// stalls of the freshness poll at 424 k bids/s).
	pub   uint64
	used  int64
	byKey map[resultKey]*list.Element
	lru   list.List // of *sharedResult, most recent first

	hits, misses atomic.Uint64
}

// newResultCache returns a cache of at most max bytes; nil when max <= 0
// (sharing is off).
func newResultCache(max int64) *resultCache {
	if max <= 0 {
		return nil
	}
	return &resultCache{max: max, byKey: map[resultKey]*list.Element{}}
}

// get returns the answer kept for k at publication pub.
func (c *resultCache) get(pub *publishedViews, k resultKey) (*sharedResult, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pub != pub.seq {
		c.misses.Add(1)
		return nil, false
	}
	el, ok := c.byKey[k]
	if !ok {
		c.misses.Add(1)
		return nil, false
	}
	c.hits.Add(1)
	c.lru.MoveToFront(el)
	return el.Value.(*sharedResult), true
}

// put keeps r, read at publication pub. An answer of an older publication
// than the entries' is dropped; of a newer one, it replaces them all.
func (c *resultCache) put(pub *publishedViews, r *sharedResult) {
	if r.size > c.max/8 {
		return // one big answer would push out the many small ones
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pub != pub.seq {
		if pub.seq < c.pub {
			return
		}
		c.pub, c.used = pub.seq, 0
		clear(c.byKey)
		c.lru.Init()
	}
	if _, ok := c.byKey[r.key]; ok {
		return
	}
	c.byKey[r.key] = c.lru.PushFront(r)
	c.used += r.size
	for c.used > c.max {
		old := c.lru.Remove(c.lru.Back()).(*sharedResult)
		delete(c.byKey, old.key)
		c.used -= old.size
	}
}

// ResultCacheStats are the shared answers' counts since the engine
// started.
type ResultCacheStats struct {
	Hits, Misses uint64
	// Bytes is the estimated size of the answers kept now.
	Bytes int64
}

// ResultCacheStats returns the shared answers' counts (zero when sharing
// is off).
func (e *Engine) ResultCacheStats() ResultCacheStats {
	c := e.results
	if c == nil {
		return ResultCacheStats{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return ResultCacheStats{Hits: c.hits.Load(), Misses: c.misses.Load(), Bytes: c.used}
}

// resultKeyOf returns the key a run of p's statement shares its answer
// under, ok false when its answer is its own: outside the cases the
// comment at the top of this file lists.
func (p *portal) resultKeyOf(maxRows int) (resultKey, bool) {
	st, s := p.st, p.st.s
	if s.e.results == nil || st.resultSQL == "" || s.tx != nil || s.vals[resultCacheSetting] == "off" || maxRows != 0 || p.planned == nil || !p.planned.Repeatable || p.planned.Tag != "SELECT" {
		return resultKey{}, false
	}
	var buf []byte
	for i, t := range p.planned.ParamTypes {
		buf = binary.AppendUvarint(buf, uint64(t.Oid))
		buf = binary.AppendVarint(buf, int64(t.Width)<<32|int64(t.Scale))
		buf = types.AppendKey(buf, t, p.params[i])
		buf = coldata.AppendDatumIdentitySuffix(buf, t, p.params[i])
	}
	return resultKey{sql: st.resultSQL, env: s.planEnv, planVer: p.planVer, params: string(buf)}, true
}

// chunkSize estimates the bytes a kept chunk holds.
func chunkSize(ch *coldata.Chunk) int64 {
	n := int64(64)
	for _, v := range ch.Cols {
		n += int64(len(v.Nulls)) + int64(len(v.Bools)) + 8*int64(len(v.Ints)+len(v.Floats)) + 32*int64(len(v.Decs)) +
			16*int64(len(v.Ivals)) + 32*int64(len(v.Datums)) + 64
		for _, b := range v.Bytes {
			n += 16 + int64(len(b))
		}
	}
	return n
}
