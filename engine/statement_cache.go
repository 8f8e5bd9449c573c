package engine

import (
	"strings"
	"sync"

	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

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
// oldest string goes. It has no lock of its own.
type byQuery[V any] struct {
	vals  map[string]V
	order []string // oldest first
	max   int
}

func (b *byQuery[V]) get(sql string) (V, bool) {
	v, ok := b.vals[sql]
	return v, ok
}

// put keeps v for sql, unless sql has a value already.
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

// treeCache maps query strings to their parse trees, engine-wide. Planning
// must not see a tree another session plans at the same time, and nothing
// promises that binding never writes to a tree, so each use gets a copy:
// copying is about a third of the cost of parsing.
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
		st.AST = proto.Clone(st.AST).(*pg.Node)
		return []parser.Statement{st}, nil
	}
	stmts, err := p.Parse(sql)
	if err != nil || !cacheableQuery(sql, stmts) {
		return stmts, err
	}
	kept := stmts[0]
	kept.AST = proto.Clone(kept.AST).(*pg.Node)
	c.mu.Lock()
	c.trees.put(sql, kept)
	c.mu.Unlock()
	return stmts, nil
}

// recentStatements are one session's latest cacheable statements by query
// string; the session's goroutine owns them.
type recentStatements = byQuery[*statement]
