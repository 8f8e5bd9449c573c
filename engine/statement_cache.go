package engine

import (
	"hash/maphash"
	"strings"
	"sync"

	"github.com/sluice-db/sluice/parser"
)

// Dashboards send the same few query strings over and over, from many
// sessions: a panel's query every refresh, and one time range's text from
// every panel showing it. Parsing (cgo into pg_query, then unmarshalling its
// protobuf tree) costs more than running a lookup on a view, so query
// strings that are one plain SELECT are remembered twice over: the parse
// tree engine-wide (treeCache), and the planned statement per session
// (recentStatements), which Bind plans again when the catalog or the
// session's settings changed since.

// cachedQueryMax is the longest query string either cache keeps;
// treeCacheSize and sessionStatements how many strings each keeps.
const (
	cachedQueryMax    = 4096
	treeCacheSize     = 1024
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
// False positives (a column named "nowhere") only cost a plan.
func readsClock(sql string) bool {
	l := strings.ToLower(sql)
	for _, w := range []string{"now", "today", "tomorrow", "yesterday", "current_", "localtime"} {
		if strings.Contains(l, w) {
			return true
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
// tree cache, cost a copy of the tree). It has no lock of its own.
type byQuery[V any] struct {
	vals  map[string]V
	order []string // oldest first
	max   int
	// offered holds the hashes of the latest strings offered once and not
	// kept (at most max, oldest first in offeredOrder).
	offered      map[uint64]struct{}
	offeredOrder []uint64
	seed         maphash.Seed
}

func (b *byQuery[V]) get(sql string) (V, bool) {
	v, ok := b.vals[sql]
	return v, ok
}

// admit reports whether a value for sql would be kept: it has been offered
// before. The first offer is remembered instead, so a caller asks before
// making the value it would put.
func (b *byQuery[V]) admit(sql string) bool {
	if _, ok := b.vals[sql]; ok {
		return false
	}
	if b.offered == nil {
		b.offered = make(map[uint64]struct{}, b.max)
		b.seed = maphash.MakeSeed()
	}
	h := maphash.String(b.seed, sql)
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
func (b *byQuery[V]) put(sql string, v V) {
	if b.vals == nil {
		b.vals = make(map[string]V, b.max)
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
	trees byQuery[parser.Statement]
}

func newTreeCache(max int) *treeCache {
	return &treeCache{trees: byQuery[parser.Statement]{max: max}}
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
type recentStatements = byQuery[*statement]
