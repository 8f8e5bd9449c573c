package engine

import (
	"hash/maphash"
	"strings"
	"sync"

	"github.com/sluice-db/sluice/parser"
	"github.com/sluice-db/sluice/pgwire"
	"github.com/sluice-db/sluice/planner"
)

// Dashboards send the same few query strings over and over, from many
// sessions: a panel's query every refresh, and one time range's text from
// every panel showing it. Parsing (cgo into pg_query, then unmarshalling its
// protobuf tree) costs more than running a lookup on a view, so query
// strings that are one plain SELECT are remembered three times over: the
// parse tree engine-wide (treeCache), the plan engine-wide (planCache), by
// the settings and catalog it was made with, and the planned statement per
// session (recentStatements), which Bind plans again, or takes from the
// plan cache, when the catalog or the session's settings changed since.

// cachedQueryMax is the longest query string the caches keep;
// treeCacheSize, planCacheSize and sessionStatements how many each keeps.
const (
	cachedQueryMax    = 4096
	treeCacheSize     = 1024
	planCacheSize     = 1024
	sessionStatements = 32
)

// cacheableQuery reports whether a query string that parsed to stmts is one
// plain SELECT: reading only, so a tree or plan made for it once can serve
// every later run of the same text.
func cacheableQuery(sql string, stmts []parser.Statement) bool {
	if len(sql) > cachedQueryMax || len(stmts) != 1 || stmts[0].Ext != nil || stmts[0].AST == nil {
		return false
	}
	sel := stmts[0].AST.GetSelectStmt()
	return sel != nil && sel.IntoClause == nil && len(sel.LockingClause) == 0
}

// readsClock reports whether sql may name the time of day: planning folds
// constants such as 'now'::timestamptz, so such a plan holds the time it
// was made, and a query string that may hold one is planned each time.
// False positives (a column named "nowhere") only cost a plan. It looks
// at the words' first letters in one pass and does not lower the string
// (a copy of each time-series panel's text, at each refresh).
func readsClock(sql string) bool {
	words := [...]string{"now", "today", "tomorrow", "yesterday", "current_", "localtime"}
	for i := 0; i < len(sql); i++ {
		switch sql[i] | 0x20 { // ASCII lower case
		case 'n', 't', 'y', 'c', 'l':
			for _, w := range words {
				if len(sql)-i >= len(w) && strings.EqualFold(sql[i:i+len(w)], w) {
					return true
				}
			}
		}
	}
	return false
}

// byQuery holds values by query string, at most max of them: when full, the
// oldest string goes. A string is kept the second time it is offered, not
// the first: a dashboard's time-series panel expands its time range into
// literals, so in its session its text differs at every refresh, and
// keeping each such text would push out the texts that do repeat (and
// hold a plan, heap for the collector to scan, never used again; in the
// tree cache, cost a copy of the tree). K is the query string, or the
// string with what else the value depends on. It has no lock of its own.
type byQuery[K comparable, V any] struct {
	vals  map[K]V
	order []K // oldest first
	max   int
	// offered holds the hashes of the latest strings offered once and not
	// kept (at most max, oldest first in offeredOrder).
	offered      map[uint64]struct{}
	offeredOrder []uint64
	seed         maphash.Seed
}

func (b *byQuery[K, V]) get(sql K) (V, bool) {
	v, ok := b.vals[sql]
	return v, ok
}

// admit reports whether a value for sql would be kept: it has been offered
// before. The first offer is remembered instead, so a caller asks before
// making the value it would put.
func (b *byQuery[K, V]) admit(sql K) bool {
	if _, ok := b.vals[sql]; ok {
		return false
	}
	if b.offered == nil {
		b.offered = make(map[uint64]struct{}, b.max)
		b.seed = maphash.MakeSeed()
	}
	h := maphash.Comparable(b.seed, sql)
	if _, ok := b.offered[h]; ok {
		return true
	}
	if len(b.offeredOrder) >= b.max {
		delete(b.offered, b.offeredOrder[0])
		b.offeredOrder = b.offeredOrder[1:]
	}
	b.offered[h] = struct{}{}
	b.offeredOrder = append(b.offeredOrder, h)
	return false
}

// put keeps v for sql, unless sql has a value already. Callers ask admit
// first.
func (b *byQuery[K, V]) put(sql K, v V) {
	if b.vals == nil {
		b.vals = make(map[K]V, b.max)
	}
	if _, ok := b.vals[sql]; ok {
		return
	}
	if len(b.order) >= b.max {
		delete(b.vals, b.order[0])
		b.order = b.order[1:]
	}
	b.vals[sql] = v
	b.order = append(b.order, sql)
}

// treeCache maps query strings to their parse trees, engine-wide. Sessions
// share a kept tree without copying it, at once: the planner only reads the
// trees it binds (its package promises so and its golden tests check it).
// NB: a copy per use cost a third of a parse, 9 % of the server's CPU with
// 1000 dashboard panels.
type treeCache struct {
	mu    sync.Mutex
	trees byQuery[string, parser.Statement]
}

func newTreeCache(max int) *treeCache {
	return &treeCache{trees: byQuery[string, parser.Statement]{max: max}}
}

// parse returns the statements of sql, from the cache when it has them.
func (c *treeCache) parse(p *parser.Parser, sql string) ([]parser.Statement, error) {
	c.mu.Lock()
	st, ok := c.trees.get(sql)
	c.mu.Unlock()
	if ok {
		return []parser.Statement{st}, nil
	}
	stmts, err := p.Parse(sql)
	if err != nil || !cacheableQuery(sql, stmts) {
		return stmts, err
	}
	c.mu.Lock()
	if c.trees.admit(sql) {
		c.trees.put(sql, stmts[0])
	}
	c.mu.Unlock()
	return stmts, nil
}

// recentStatements are one session's latest cacheable statements by query
// string; the session's goroutine owns them.
type recentStatements = byQuery[string, *statement]

// planKey is what a plan of a cacheable query depends on: its text, the
// catalog version it was planned at, and the session settings planning
// folds constants with (planEnv).
type planKey struct {
	sql string
	ver uint64
	env string
}

// sharedPlan is a plan and its result columns, shared read-only by every
// session whose statement has its key: exec and expr promise that a plan
// is immutable and runs from several goroutines at once, each with its
// own execution context.
type sharedPlan struct {
	planned *planner.Planned
	cols    []pgwire.Column
}

// planCacheShards spreads the plan cache over locks of its own, so that
// a thousand sessions looking up plans at once rarely wait for each other.
const planCacheShards = 16

// planCache holds plans of cacheable queries engine-wide, by planKey: a
// time-series panel's text changes at every refresh in its session, but
// within a second every session showing the same range sends that text,
// and only the first two plan it. A plan is kept the second time it is
// offered (byQuery), each shard keeping planCacheSize/planCacheShards;
// plans of an older catalog version are never found again and age out.
type planCache struct {
	seed   maphash.Seed
	shards [planCacheShards]planShard
}

type planShard struct {
	mu    sync.Mutex
	plans byQuery[planKey, sharedPlan]
	// NB: pads the shard to its own cache lines, so that shards' locks
	// taken from different cores do not share one.
	_ [64]byte
}

func newPlanCache(size int) *planCache {
	c := &planCache{seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].plans.max = max(1, size/planCacheShards)
	}
	return c
}

func (c *planCache) shard(k planKey) *planShard {
	return &c.shards[maphash.String(c.seed, k.sql)%planCacheShards]
}

// get returns the plan kept for k.
func (c *planCache) get(k planKey) (sharedPlan, bool) {
	sh := c.shard(k)
	sh.mu.Lock()
	p, ok := sh.plans.get(k)
	sh.mu.Unlock()
	return p, ok
}

// offer keeps p for k if k was offered before.
func (c *planCache) offer(k planKey, p sharedPlan) {
	sh := c.shard(k)
	sh.mu.Lock()
	if sh.plans.admit(k) {
		sh.plans.put(k, p)
	}
	sh.mu.Unlock()
}
