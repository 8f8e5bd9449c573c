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

// treeCache maps query strings to their parse trees, engine-wide. Planning
// must not see a tree another session plans at the same time, and nothing
// promises that binding never writes to a tree, so each use gets a copy:
// copying is about a third of the cost of parsing.
type treeCache struct {
	mu    sync.Mutex
	trees map[string]parser.Statement
	// order holds the cached strings oldest first: the oldest goes when
	// the cache is full.
	order []string
	max   int
}

func newTreeCache(max int) *treeCache {
	return &treeCache{trees: make(map[string]parser.Statement, max), max: max}
}

// parse returns the statements of sql, from the cache when it has them.
func (c *treeCache) parse(p *parser.Parser, sql string) ([]parser.Statement, error) {
	c.mu.Lock()
	st, ok := c.trees[sql]
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
	defer c.mu.Unlock()
	if _, ok := c.trees[sql]; !ok {
		if len(c.order) >= c.max {
			delete(c.trees, c.order[0])
			c.order = c.order[1:]
		}
		c.trees[sql] = kept
		c.order = append(c.order, sql)
	}
	return stmts, nil
}

// recentStatements are one session's latest cacheable statements by query
// string, at most max of them; the session's goroutine owns it.
type recentStatements struct {
	byText map[string]*statement
	order  []string
	max    int
}

func (r *recentStatements) get(sql string) *statement { return r.byText[sql] }

func (r *recentStatements) put(sql string, st *statement) {
	if r.byText == nil {
		r.byText = make(map[string]*statement, r.max)
	}
	if _, ok := r.byText[sql]; ok {
		return
	}
	if len(r.order) >= r.max {
		delete(r.byText, r.order[0])
		r.order = r.order[1:]
	}
	r.byText[sql] = st
	r.order = append(r.order, sql)
}
