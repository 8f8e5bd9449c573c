package difftest

import (
	"fmt"
	"math/rand"
	"strconv"
	"strings"
	"testing"
)

// typ is the generator's notion of a SQL type; int covers int4 and int8
// (they mix freely), num is numeric.
type typ int

const (
	tInt typ = iota
	tNum
	tText
	tBool
	tDate
	tTS
)

type column struct {
	name    string
	typ     typ
	sqlType string
}

type table struct {
	name string
	cols []column
	pk   string // "" when the table has no primary key
}

// schema is the same in both systems. t1 has a primary key, which is what
// makes row_number() and lag() deterministic over it.
var schema = []table{
	{name: "t1", pk: "id", cols: []column{
		{"id", tInt, "int4"}, {"a", tInt, "int4"}, {"b", tInt, "int8"}, {"n", tNum, "numeric(10,2)"},
		{"s", tText, "text"}, {"f", tBool, "bool"}, {"d", tDate, "date"}, {"ts", tTS, "timestamptz"},
	}},
	{name: "t2", cols: []column{
		{"id", tInt, "int4"}, {"a", tInt, "int4"}, {"b", tInt, "int8"}, {"n", tNum, "numeric(10,2)"},
		{"s", tText, "text"}, {"f", tBool, "bool"}, {"d", tDate, "date"},
	}},
	{name: "t3", cols: []column{
		{"k", tInt, "int4"}, {"a", tInt, "int4"}, {"s", tText, "text"}, {"n", tNum, "numeric(10,2)"},
		{"ts", tTS, "timestamptz"},
	}},
}

// sizes are the metamorphic constants of a run, drawn from the seed.
type sizes struct {
	rows     [3]int  // rows per table, 0..300
	valRange int     // ints are drawn from about [-valRange/4, valRange]
	nullFrac float64 // fraction of NULLs in nullable columns
	textLen  int     // maximum length of random strings
}

func (s sizes) String() string {
	return fmt.Sprintf("rows=%v valRange=%d nullFrac=%.2f textLen=%d", s.rows, s.valRange, s.nullFrac, s.textLen)
}

func drawSizes(r *rand.Rand) sizes {
	var s sizes
	for i := range s.rows {
		switch r.Intn(4) {
		case 0:
			s.rows[i] = r.Intn(4) // tiny, often empty
		case 1:
			s.rows[i] = r.Intn(301)
		default:
			s.rows[i] = r.Intn(60)
		}
	}
	s.valRange = []int{2, 4, 10, 30, 100}[r.Intn(5)]
	s.nullFrac = []float64{0, 0.05, 0.2, 0.5}[r.Intn(4)]
	s.textLen = 1 + r.Intn(3)
	return s
}

// setupSQL returns the statements that create and fill the tables, one per
// line, each ending in ';'.
func setupSQL(r *rand.Rand, sz sizes) []string {
	var out []string
	for ti, tb := range schema {
		var defs []string
		for _, c := range tb.cols {
			d := c.name + " " + c.sqlType
			if c.name == tb.pk {
				d += " PRIMARY KEY"
			}
			defs = append(defs, d)
		}
		out = append(out, fmt.Sprintf("CREATE TABLE %s (%s);", tb.name, strings.Join(defs, ", ")))
		n := sz.rows[ti]
		if n == 0 {
			continue
		}
		ids := r.Perm(n * 2)
		var rows []string
		for i := 0; i < n; i++ {
			var vals []string
			for _, c := range tb.cols {
				if c.name == tb.pk {
					vals = append(vals, strconv.Itoa(ids[i]+1))
					continue
				}
				if r.Float64() < sz.nullFrac {
					vals = append(vals, "NULL")
					continue
				}
				vals = append(vals, randValue(r, sz, c))
			}
			rows = append(rows, "("+strings.Join(vals, ", ")+")")
		}
		// Chunks keep statements a sane size.
		for len(rows) > 0 {
			k := min(len(rows), 100)
			out = append(out, fmt.Sprintf("INSERT INTO %s VALUES %s;", tb.name, strings.Join(rows[:k], ", ")))
			rows = rows[k:]
		}
	}
	return out
}

func randInt(r *rand.Rand, sz sizes) int {
	return r.Intn(sz.valRange+sz.valRange/4+1) - sz.valRange/4
}

func randValue(r *rand.Rand, sz sizes, c column) string {
	switch c.typ {
	case tInt:
		v := randInt(r, sz)
		if c.sqlType == "int8" && r.Intn(4) == 0 {
			return strconv.Itoa(v * 100000)
		}
		return strconv.Itoa(v)
	case tNum:
		cents := r.Intn(sz.valRange*100+1) - sz.valRange*25
		if r.Intn(3) == 0 {
			cents = cents / 100 * 100 // whole numbers collide with ints
		}
		return numLit(cents)
	case tText:
		return quote(randText(r, sz.textLen))
	case tBool:
		return []string{"true", "false"}[r.Intn(2)]
	case tDate:
		return quote(fmt.Sprintf("2024-01-%02d", 1+r.Intn(min(sz.valRange, 28))))
	case tTS:
		return quote(fmt.Sprintf("2024-01-%02d %02d:%02d:00+00", 1+r.Intn(min(sz.valRange, 28)), r.Intn(24), r.Intn(4)*15))
	}
	panic("unreachable")
}

func numLit(cents int) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s%d.%02d", sign, cents/100, cents%100)
}

const alphabet = "abAB_ "

func randText(r *rand.Rand, maxLen int) string {
	n := r.Intn(maxLen + 1)
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.Intn(len(alphabet))]
	}
	return string(b)
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// ---- queries ----

// selectQ is one SELECT; clauses are kept apart so the shrinker can drop them.
type selectQ struct {
	distinct bool
	items    []string
	types    []typ
	from     string
	joinCond []string // extra ON conjuncts of the last join (the equality stays in from)
	joinTail string   // rendered after joinCond (further joins)
	where    []string // conjuncts
	groupBy  []string
	having   []string
	windowed bool
}

// query is what the test runs: a select, or two joined by a set operator,
// optionally ordered by every output column (a total order) and limited.
type query struct {
	left    *selectQ
	setOp   string // "" or e.g. "UNION ALL"
	right   *selectQ
	orderBy []string // one direction per output column when ordered
	limit   int      // -1: none
	offset  int
	// withTies > 0 orders by the first withTies columns only and limits
	// with FETCH FIRST … WITH TIES (no offset: which row an OFFSET skips
	// among ties is the engine's choice).
	withTies int
}

func (q *query) ordered() bool { return len(q.orderBy) > 0 }

// inOrder reports whether the answer's rows come in one order: ordered by
// every column, not by a prefix with ties.
func (q *query) inOrder() bool { return q.ordered() && q.withTies == 0 }

func (s *selectQ) sql() string {
	var b strings.Builder
	b.WriteString("SELECT ")
	if s.distinct {
		b.WriteString("DISTINCT ")
	}
	b.WriteString(strings.Join(s.items, ", "))
	b.WriteString(" FROM ")
	b.WriteString(s.from)
	if len(s.joinCond) > 0 {
		b.WriteString(" AND " + strings.Join(s.joinCond, " AND "))
	}
	b.WriteString(s.joinTail)
	if len(s.where) > 0 {
		b.WriteString(" WHERE " + strings.Join(s.where, " AND "))
	}
	if len(s.groupBy) > 0 {
		b.WriteString(" GROUP BY " + strings.Join(s.groupBy, ", "))
	}
	if len(s.having) > 0 {
		b.WriteString(" HAVING " + strings.Join(s.having, " AND "))
	}
	return b.String()
}

func (q *query) sql() string {
	var b strings.Builder
	b.WriteString(q.left.sql())
	if q.setOp != "" {
		b.WriteString(" " + q.setOp + " " + q.right.sql())
	}
	if q.ordered() {
		var keys []string
		for i, d := range q.orderBy {
			keys = append(keys, strconv.Itoa(i+1)+d)
		}
		if q.withTies > 0 {
			fmt.Fprintf(&b, " ORDER BY %s FETCH FIRST %d ROWS WITH TIES", strings.Join(keys[:min(q.withTies, len(keys))], ", "), q.limit)
			return b.String()
		}
		b.WriteString(" ORDER BY " + strings.Join(keys, ", "))
		if q.limit >= 0 {
			fmt.Fprintf(&b, " LIMIT %d", q.limit)
		}
		if q.offset > 0 {
			fmt.Fprintf(&b, " OFFSET %d", q.offset)
		}
	}
	return b.String()
}

func (s *selectQ) clone() *selectQ {
	c := *s
	c.items = append([]string(nil), s.items...)
	c.types = append([]typ(nil), s.types...)
	c.joinCond = append([]string(nil), s.joinCond...)
	c.where = append([]string(nil), s.where...)
	c.groupBy = append([]string(nil), s.groupBy...)
	c.having = append([]string(nil), s.having...)
	return &c
}

func (q *query) clone() *query {
	c := *q
	c.left = q.left.clone()
	if q.right != nil {
		c.right = q.right.clone()
	}
	c.orderBy = append([]string(nil), q.orderBy...)
	return &c
}

// shrinks returns smaller variants of q, each with one thing removed.
func (q *query) shrinks() []*query {
	var out []*query
	add := func(f func(c *query) bool) {
		c := q.clone()
		if f(c) {
			out = append(out, c)
		}
	}
	if q.setOp != "" {
		add(func(c *query) bool { c.setOp, c.right = "", nil; return true })
		add(func(c *query) bool { c.left, c.setOp, c.right = c.right, "", nil; return true })
	}
	if q.ordered() {
		add(func(c *query) bool { c.orderBy, c.limit, c.offset, c.withTies = nil, -1, 0, 0; return true })
		add(func(c *query) bool { c.limit, c.offset, c.withTies = -1, 0, 0; return q.limit >= 0 || q.offset > 0 })
		add(func(c *query) bool { c.withTies = 0; return q.withTies > 0 })
	}
	sides := []func(c *query) *selectQ{func(c *query) *selectQ { return c.left }}
	if q.right != nil {
		sides = append(sides, func(c *query) *selectQ { return c.right })
	}
	for _, side := range sides {
		s := side(q)
		add(func(c *query) bool { side(c).distinct = false; return s.distinct })
		for i := range s.where {
			add(func(c *query) bool { cs := side(c); cs.where = del(cs.where, i); return true })
		}
		for i := range s.having {
			add(func(c *query) bool { cs := side(c); cs.having = del(cs.having, i); return true })
		}
		for i := range s.joinCond {
			add(func(c *query) bool { cs := side(c); cs.joinCond = del(cs.joinCond, i); return true })
		}
		if q.setOp == "" && len(s.items) > 1 {
			for i := range s.items {
				add(func(c *query) bool {
					cs := side(c)
					cs.items, cs.types = del(cs.items, i), del(cs.types, i)
					if c.ordered() {
						c.orderBy = del(c.orderBy, i)
					}
					return true
				})
			}
		}
	}
	return out
}

func del[T any](s []T, i int) []T {
	out := append([]T(nil), s[:i]...)
	return append(out, s[i+1:]...)
}

// ---- the generator ----

type colRef struct {
	expr string
	typ  typ
}

// scope is what an expression may refer to.
type scope struct {
	cols   []colRef
	aggs   bool // aggregate calls allowed (select list/HAVING of a grouped query)
	subqOK bool
}

func (sc *scope) ofType(t typ) []string {
	var out []string
	for _, c := range sc.cols {
		if c.typ == t {
			out = append(out, c.expr)
		}
	}
	return out
}

type gen struct {
	r      *rand.Rand
	sz     sizes
	nAlias int
}

func (g *gen) pct(p int) bool { return g.r.Intn(100) < p }

func (g *gen) alias() string { g.nAlias++; return fmt.Sprintf("x%d", g.nAlias) }

func pick[T any](g *gen, xs []T) T { return xs[g.r.Intn(len(xs))] }

// tableScope names the columns of tb under alias.
func tableScope(tb table, alias string) []colRef {
	var out []colRef
	for _, c := range tb.cols {
		out = append(out, colRef{alias + "." + c.name, c.typ})
	}
	return out
}

func (g *gen) lit(t typ) string {
	switch t {
	case tInt:
		return strconv.Itoa(randInt(g.r, g.sz))
	case tNum:
		return numLit(g.r.Intn(g.sz.valRange*100+1) - g.sz.valRange*25)
	case tText:
		return quote(randText(g.r, g.sz.textLen))
	case tBool:
		return pick(g, []string{"true", "false"})
	case tDate:
		return fmt.Sprintf("DATE '2024-01-%02d'", 1+g.r.Intn(min(g.sz.valRange, 28)))
	case tTS:
		return fmt.Sprintf("TIMESTAMPTZ '2024-01-%02d %02d:00:00+00'", 1+g.r.Intn(min(g.sz.valRange, 28)), g.r.Intn(24))
	}
	panic("unreachable")
}

// leaf is a column of type t when there is one, else a literal.
func (g *gen) leaf(sc *scope, t typ) string {
	if cs := sc.ofType(t); len(cs) > 0 && g.pct(80) {
		return pick(g, cs)
	}
	if t != tBool && g.pct(5) {
		return "NULL::" + typeName(t)
	}
	return g.lit(t)
}

func typeName(t typ) string {
	return [...]string{"int4", "numeric", "text", "bool", "date", "timestamptz"}[t]
}

// norm pins numeric scale where several branches meet, so that equal values
// print the same whichever branch produced them (1.0 vs 1.00 would otherwise
// make DISTINCT and ORDER BY ties legitimately ambiguous).
func norm(t typ, e string) string {
	if t == tNum {
		return "(" + e + ")::numeric(20,4)"
	}
	return e
}

// expr returns an expression of type t.
func (g *gen) expr(sc *scope, t typ, depth int) string {
	if depth <= 0 || g.pct(30) {
		return g.leaf(sc, t)
	}
	d := depth - 1
	switch g.r.Intn(10) {
	case 0:
		return fmt.Sprintf("CASE WHEN %s THEN %s ELSE %s END", g.pred(sc, d), norm(t, g.expr(sc, t, d)), norm(t, g.expr(sc, t, d)))
	case 1:
		return fmt.Sprintf("COALESCE(%s, %s)", norm(t, g.expr(sc, t, d)), norm(t, g.expr(sc, t, d)))
	case 2:
		if sc.aggs {
			return g.agg(sc, t, d)
		}
		if sc.subqOK && g.pct(40) {
			return g.scalarSubq(sc, t, d)
		}
	}
	switch t {
	case tInt:
		x, y := g.expr(sc, tInt, d), g.expr(sc, tInt, d)
		return pick(g, []func() string{
			func() string { return "(" + x + " + " + y + ")" },
			func() string { return "(" + x + " - " + y + ")" },
			func() string { return "(" + x + " * " + y + ")" },
			func() string { return fmt.Sprintf("(%s / %d)", x, pick(g, []int{1, 2, 3, -2, 7})) },
			func() string { return fmt.Sprintf("(%s %% %d)", x, pick(g, []int{1, 2, 3, -2, 7})) },
			func() string { return "abs(" + x + ")" },
			func() string { return "length(" + g.expr(sc, tText, d) + ")" },
			func() string { return "strpos(" + g.expr(sc, tText, d) + ", 'a')" },
			func() string { return "(" + g.expr(sc, tNum, d) + ")::int4" },
			func() string { return "(" + g.expr(sc, tDate, d) + " - " + g.expr(sc, tDate, d) + ")" },
			func() string { return "greatest(" + x + ", " + y + ")" },
			func() string { return "least(" + x + ", " + y + ")" },
			func() string { return "NULLIF(" + x + ", " + y + ")" },
			func() string { return "(-" + x + ")" },
			func() string { return "CASE WHEN " + y + " <> 0 THEN " + x + " / " + y + " ELSE 0 END" },
			func() string { return "(" + x + " % NULLIF(" + y + ", 0))" },
			func() string { return "ascii(" + g.expr(sc, tText, d) + ")" },
			func() string { return "char_length(" + g.expr(sc, tText, d) + ")" },
			func() string { return "(" + x + " & " + y + ")" },
			func() string { return "mod(" + x + ", " + pick(g, []string{"3", "-2"}) + ")" },
			func() string { return "extract(dow from " + g.expr(sc, tDate, d) + ")::int4" },
			func() string { return "scale(" + g.expr(sc, tNum, d) + ")" },
			func() string { return "(" + g.expr(sc, tNum, d) + ")::int8" },
			func() string {
				return fmt.Sprintf("CASE %s WHEN %s THEN %s WHEN %s THEN %s END", x, g.lit(tInt), y, g.lit(tInt), g.lit(tInt))
			},
		})()
	case tNum:
		x := g.expr(sc, tNum, d)
		return pick(g, []func() string{
			func() string { return "(" + x + " + " + g.expr(sc, tInt, d) + ")" },
			func() string { return "(" + x + " - " + g.expr(sc, tNum, d) + ")" },
			func() string { return "(" + x + " * " + g.expr(sc, tInt, d) + ")" },
			func() string { return "(" + x + " * " + g.expr(sc, tNum, d) + ")" },
			func() string { return fmt.Sprintf("(%s / %s)", x, pick(g, []string{"2", "3", "7", "0.5", "-4.00"})) },
			func() string { return fmt.Sprintf("round(%s, %d)", x, g.r.Intn(3)) },
			func() string { return fmt.Sprintf("trunc(%s, %d)", x, g.r.Intn(2)) },
			func() string { return "abs(" + x + ")" },
			func() string { return "floor(" + x + ")" },
			func() string { return "ceil(" + x + ")" },
			func() string { return "(" + g.expr(sc, tInt, d) + ")::numeric(10,2)" },
			func() string { return "extract(day from " + g.expr(sc, tDate, d) + ")" },
			func() string { return "extract(hour from " + g.expr(sc, tTS, d) + ")" },
			func() string { return "(" + g.expr(sc, tInt, d) + " / 4.0)" },
			func() string { return "(" + x + " / NULLIF(" + g.expr(sc, tNum, d) + ", 0))" },
			func() string {
				return "(" + g.expr(sc, tInt, d) + "::numeric / NULLIF(" + g.expr(sc, tInt, d) + ", 0))"
			},
			func() string { return "mod(" + x + ", 0.7)" },
			func() string { return "sqrt(abs(" + x + "))" },
			func() string { return "power(" + x + ", 2)" },
			func() string { return "round(" + x + " / 3, 3)" },
			func() string { return "extract(epoch from " + g.expr(sc, tTS, d) + ")" },
			func() string { return "extract(month from " + g.expr(sc, tDate, d) + ")" },
		})()
	case tText:
		x := g.expr(sc, tText, d)
		return pick(g, []func() string{
			func() string { return "upper(" + x + ")" },
			func() string { return "lower(" + x + ")" },
			func() string { return "(" + x + " || " + g.expr(sc, tText, d) + ")" },
			func() string { return fmt.Sprintf("substr(%s, %d, %d)", x, g.r.Intn(3), g.r.Intn(3)) },
			func() string { return fmt.Sprintf("left(%s, %d)", x, g.r.Intn(5)-2) },
			func() string { return fmt.Sprintf("right(%s, %d)", x, g.r.Intn(5)-2) },
			func() string { return "replace(" + x + ", 'a', 'xy')" },
			func() string { return "reverse(" + x + ")" },
			func() string { return "trim(" + x + ")" },
			func() string { return "concat(" + x + ", " + g.expr(sc, tInt, d) + ")" },
			func() string { return "lpad(" + x + ", 3, '*')" },
			func() string { return "(" + g.expr(sc, tInt, d) + ")::text" },
			func() string { return "(" + g.expr(sc, tNum, d) + ")::text" },
			func() string { return "(" + g.expr(sc, tDate, d) + ")::text" },
			func() string { return "to_char(" + g.expr(sc, tDate, d) + ", 'YYYY-MM-DD')" },
			func() string { return "(" + g.pred(sc, d) + ")::text" },
			func() string { return "(" + g.expr(sc, tTS, d) + ")::text" },
			func() string { return "(" + g.expr(sc, tTS, d) + " - " + g.expr(sc, tTS, d) + ")::text" },
			func() string { return "(" + g.expr(sc, tDate, d) + " - " + g.expr(sc, tTS, d) + ")::text" },
			func() string { return "initcap(" + x + ")" },
			func() string { return "split_part(" + x + ", 'a', " + pick(g, []string{"1", "2"}) + ")" },
			func() string { return "translate(" + x + ", 'aB', 'Bx')" },
			func() string { return "btrim(" + x + ", 'a_')" },
			func() string { return "rtrim(" + x + ")" },
			func() string { return "repeat(" + x + ", 2)" },
			func() string { return "md5(" + x + ")" },
			func() string { return "to_char(" + g.expr(sc, tTS, d) + ", 'YYYY-MM-DD HH24:MI')" },
			func() string { return "to_char(" + g.expr(sc, tNum, d) + ", '999.99')" },
			func() string {
				return fmt.Sprintf("CASE %s WHEN 'a' THEN 'p' WHEN 'b' THEN NULL ELSE %s END", x, g.expr(sc, tText, d))
			},
		})()
	case tBool:
		return g.pred(sc, depth)
	case tDate:
		x := g.expr(sc, tDate, d)
		return pick(g, []func() string{
			func() string { return fmt.Sprintf("(%s + %d)", x, g.r.Intn(10)) },
			func() string { return fmt.Sprintf("(%s - %d)", x, g.r.Intn(10)) },
			func() string { return "(" + g.expr(sc, tTS, d) + ")::date" },
			func() string { return "(" + x + " + INTERVAL '1 day')::date" },
			func() string { return "date_trunc('month', " + x + ")::date" },
		})()
	case tTS:
		x := g.expr(sc, tTS, d)
		return pick(g, []func() string{
			func() string { return fmt.Sprintf("(%s + INTERVAL '%d hours')", x, g.r.Intn(30)) },
			func() string { return "date_trunc('day', " + x + ")" },
			func() string { return "date_trunc('hour', " + x + ")" },
			func() string { return "(" + g.expr(sc, tDate, d) + ")::timestamptz" },
			func() string { return "(" + x + " - INTERVAL '1 day 2 hours')" },
			func() string { return "(" + g.expr(sc, tDate, d) + " + TIME '12:30')::timestamptz" },
		})()
	}
	panic("unreachable")
}

var cmpOps = []string{"=", "<>", "<", "<=", ">", ">="}

// pred returns a boolean expression.
func (g *gen) pred(sc *scope, depth int) string {
	t := pick(g, []typ{tInt, tInt, tNum, tText, tDate, tTS})
	d := depth - 1
	if depth <= 0 {
		if bs := sc.ofType(tBool); len(bs) > 0 && g.pct(20) {
			return pick(g, bs)
		}
		return fmt.Sprintf("%s %s %s", g.leaf(sc, t), pick(g, cmpOps), g.leaf(sc, t))
	}
	switch g.r.Intn(16) {
	case 0:
		return fmt.Sprintf("(%s AND %s)", g.pred(sc, d), g.pred(sc, d))
	case 1, 2:
		return fmt.Sprintf("(%s OR %s)", g.pred(sc, d), g.pred(sc, d))
	case 3:
		return fmt.Sprintf("NOT (%s)", g.pred(sc, d))
	case 4:
		return fmt.Sprintf("%s IS %sNULL", g.expr(sc, t, d), pick(g, []string{"", "NOT "}))
	case 5:
		var ls []string
		for i := 0; i < 1+g.r.Intn(4); i++ {
			if g.pct(10) {
				ls = append(ls, "NULL")
			} else {
				ls = append(ls, g.lit(t))
			}
		}
		return fmt.Sprintf("%s %sIN (%s)", g.expr(sc, t, d), pick(g, []string{"", "NOT "}), strings.Join(ls, ", "))
	case 6:
		return fmt.Sprintf("%s %sBETWEEN %s AND %s", g.expr(sc, t, d), pick(g, []string{"", "NOT "}), g.lit(t), g.lit(t))
	case 7:
		pat := pick(g, []string{"a%", "%b", "_", "%A%", "a_", "%", "", "b%a", "\\_%"})
		return fmt.Sprintf("%s %s %s", g.expr(sc, tText, d), pick(g, []string{"LIKE", "NOT LIKE", "ILIKE"}), quote(pat))
	case 8:
		if bs := sc.ofType(tBool); len(bs) > 0 {
			return fmt.Sprintf("%s IS %s", pick(g, bs), pick(g, []string{"TRUE", "NOT TRUE", "FALSE", "NOT FALSE", "UNKNOWN"}))
		}
	case 9, 10:
		if sc.subqOK {
			return g.subqPred(sc, d)
		}
	case 11:
		if t == tInt || t == tNum {
			// int and numeric compare with each other.
			return fmt.Sprintf("%s %s %s", g.expr(sc, tInt, d), pick(g, cmpOps), g.expr(sc, tNum, d))
		}
	case 13:
		return fmt.Sprintf("%s IS %sDISTINCT FROM %s", g.expr(sc, t, d), pick(g, []string{"", "NOT "}), g.expr(sc, t, d))
	case 14:
		if sc.subqOK {
			from, inner, in := g.subqFrom(sc)
			c := pick(g, inner)
			if c.typ != tBool {
				return fmt.Sprintf("%s %s %s (SELECT %s FROM %s%s)", g.expr(sc, c.typ, d), pick(g, cmpOps), pick(g, []string{"ANY", "ALL"}), c.expr, from, g.subqWhere(sc, inner, in, d))
			}
		}
	case 12:
		if sc.aggs {
			return fmt.Sprintf("%s %s %s", g.agg(sc, t, d), pick(g, cmpOps), g.expr(sc, t, d))
		}
	}
	return fmt.Sprintf("%s %s %s", g.expr(sc, t, d), pick(g, cmpOps), g.expr(sc, t, d))
}

// agg returns an aggregate call of result type t over the scope's columns.
func (g *gen) agg(sc *scope, t typ, depth int) string {
	in := &scope{cols: sc.cols} // no nested aggregates or subqueries
	d := max(depth-1, 0)
	filter := ""
	if g.pct(10) {
		filter = " FILTER (WHERE " + g.pred(in, 0) + ")"
	}
	switch t {
	case tInt:
		return pick(g, []func() string{
			func() string { return "count(*)" + filter },
			func() string { return "count(" + g.expr(in, pick(g, []typ{tInt, tText, tNum}), d) + ")" + filter },
			func() string { return "count(DISTINCT " + g.expr(in, pick(g, []typ{tInt, tText, tNum}), d) + ")" },
			func() string { return "sum(" + g.expr(in, tInt, d) + ")" + filter },
			func() string { return pick(g, []string{"min", "max"}) + "(" + g.expr(in, tInt, d) + ")" + filter },
		})()
	case tNum:
		return pick(g, []func() string{
			func() string { return "sum(" + g.expr(in, tNum, d) + ")" + filter },
			func() string { return "avg(" + g.expr(in, pick(g, []typ{tInt, tNum}), d) + ")" + filter },
			func() string { return "round(avg(" + g.expr(in, pick(g, []typ{tInt, tNum}), d) + "), 2)" },
			func() string { return pick(g, []string{"min", "max"}) + "(" + g.expr(in, tNum, d) + ")" + filter },
			func() string { return "sum(DISTINCT " + g.expr(in, tNum, d) + ")" },
		})()
	case tText:
		return pick(g, []func() string{
			func() string {
				x := g.expr(in, tText, d)
				return fmt.Sprintf("string_agg(%s, ',' ORDER BY %s)", x, x)
			},
			func() string {
				x := g.expr(in, tText, d)
				return fmt.Sprintf("string_agg(DISTINCT %s, '|' ORDER BY %s)", x, x)
			},
			func() string { return pick(g, []string{"min", "max"}) + "(" + g.expr(in, tText, d) + ")" + filter },
		})()
	case tBool:
		return pick(g, []string{"bool_and", "bool_or"}) + "(" + g.pred(in, d) + ")" + filter
	case tDate, tTS:
		return pick(g, []string{"min", "max"}) + "(" + g.expr(in, t, d) + ")" + filter
	}
	panic("unreachable")
}

// correlate returns an equality tying the inner alias to the outer scope, or
// "" (uncorrelated).
func (g *gen) correlate(sc *scope, inner []colRef) string {
	if g.pct(40) {
		return ""
	}
	for range 5 {
		o := pick(g, sc.cols)
		var ms []string
		for _, c := range inner {
			if c.typ == o.typ {
				ms = append(ms, c.expr)
			}
		}
		if len(ms) > 0 {
			return pick(g, ms) + " = " + o.expr
		}
	}
	return ""
}

// subqFrom draws a table for a subquery and the scope inside it (which sees
// the outer columns too).
func (g *gen) subqFrom(sc *scope) (string, []colRef, *scope) {
	tb := pick(g, schema)
	a := g.alias()
	inner := tableScope(tb, a)
	all := append(append([]colRef(nil), inner...), sc.cols...)
	return tb.name + " " + a, inner, &scope{cols: all}
}

func (g *gen) subqWhere(sc *scope, inner []colRef, in *scope, depth int) string {
	var conds []string
	if c := g.correlate(sc, inner); c != "" {
		conds = append(conds, c)
	}
	if g.pct(50) {
		conds = append(conds, g.pred(in, depth))
	}
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

func (g *gen) subqPred(sc *scope, depth int) string {
	from, inner, in := g.subqFrom(sc)
	where := g.subqWhere(sc, inner, in, depth)
	switch g.r.Intn(3) {
	case 0:
		return fmt.Sprintf("%sEXISTS (SELECT 1 FROM %s%s)", pick(g, []string{"", "NOT "}), from, where)
	case 1:
		c := pick(g, inner)
		return fmt.Sprintf("%s %sIN (SELECT %s FROM %s%s)", g.expr(sc, c.typ, depth), pick(g, []string{"", "NOT "}), c.expr, from, where)
	default:
		c := pick(g, inner)
		if c.typ == tBool {
			c = inner[0]
		}
		return fmt.Sprintf("%s %s (SELECT %s(%s) FROM %s%s)", g.expr(sc, c.typ, depth), pick(g, cmpOps), pick(g, []string{"min", "max"}), c.expr, from, where)
	}
}

// scalarSubq returns a (possibly correlated) aggregate subquery of type t.
func (g *gen) scalarSubq(sc *scope, t typ, depth int) string {
	from, inner, in := g.subqFrom(sc)
	where := g.subqWhere(sc, inner, in, depth)
	agg := g.agg(&scope{cols: inner}, t, 1)
	return fmt.Sprintf("(SELECT %s FROM %s%s)", agg, from, where)
}

// from draws a FROM clause: one table, or a join of two or three.
func (g *gen) from(s *selectQ) (*scope, []string) {
	tb := pick(g, schema)
	a := g.alias()
	sc := &scope{cols: tableScope(tb, a), subqOK: true}
	s.from = tb.name + " " + a
	pkCols := []string{}
	if tb.pk != "" {
		pkCols = append(pkCols, a+"."+tb.pk)
	}
	nj := 0
	if g.pct(45) {
		nj = 1
		if g.pct(15) && max(g.sz.rows[0], g.sz.rows[1], g.sz.rows[2]) <= 60 {
			nj = 2
		}
	}
	for j := 0; j < nj; j++ {
		tb2 := pick(g, schema)
		a2 := g.alias()
		sc2 := tableScope(tb2, a2)
		kind := pick(g, []string{"JOIN", "JOIN", "LEFT JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL JOIN", "CROSS JOIN"})
		if kind == "CROSS JOIN" && max(g.sz.rows[0], g.sz.rows[1], g.sz.rows[2]) > 60 {
			kind = "JOIN" // keeps results (and Sluice's correlated subqueries) small
		}
		if kind == "CROSS JOIN" {
			if j == nj-1 {
				s.from += fmt.Sprintf(" CROSS JOIN %s %s", tb2.name, a2)
			} else {
				s.joinTail += fmt.Sprintf(" CROSS JOIN %s %s", tb2.name, a2)
			}
			sc.cols = append(sc.cols, sc2...)
			pkCols = nil
			continue
		}
		var eq string
		for range 10 {
			l, r := pick(g, sc.cols), pick(g, sc2)
			if l.typ == r.typ && l.typ != tBool {
				eq = l.expr + " = " + r.expr
				if g.pct(25) {
					// Expressions of each side, each reading its column:
					// a key each side computes.
					lx, rx := g.expr(&scope{cols: sc.cols}, l.typ, 1), g.expr(&scope{cols: sc2}, l.typ, 1)
					eq = fmt.Sprintf("COALESCE(%s, %s) = COALESCE(%s, %s)", norm(l.typ, l.expr), norm(l.typ, lx), norm(l.typ, r.expr), norm(l.typ, rx))
				}
				break
			}
		}
		if eq == "" {
			eq = sc.cols[0].expr + " = " + sc2[0].expr
		}
		var extra []string
		if g.pct(40) {
			all := &scope{cols: append(append([]colRef(nil), sc.cols...), sc2...)}
			extra = append(extra, g.pred(all, 1))
		}
		clause := fmt.Sprintf(" %s %s %s ON %s", kind, tb2.name, a2, eq)
		if j == nj-1 {
			s.from += clause
			s.joinCond = extra
		} else {
			if len(extra) > 0 {
				clause += " AND " + strings.Join(extra, " AND ")
			}
			s.from += clause
		}
		sc.cols = append(sc.cols, sc2...)
		pkCols = nil
	}
	return sc, pkCols
}

func (g *gen) where(sc *scope, s *selectQ) {
	if g.pct(60) {
		for i := 0; i < 1+g.r.Intn(2); i++ {
			s.where = append(s.where, g.pred(sc, 2))
		}
	}
}

// anyType draws an output type.
func (g *gen) anyType() typ {
	return pick(g, []typ{tInt, tInt, tNum, tText, tText, tBool, tDate, tTS})
}

// plainSelect draws a non-grouped select with the given output types.
func (g *gen) plainSelect(types []typ) *selectQ {
	s := &selectQ{}
	sc, _ := g.from(s)
	for _, t := range types {
		s.items = append(s.items, norm(t, g.expr(sc, t, 2)))
		s.types = append(s.types, t)
	}
	g.where(sc, s)
	return s
}

func (g *gen) groupedSelect() *selectQ {
	s := &selectQ{}
	sc, _ := g.from(s)
	g.where(sc, s)
	keys := &scope{}
	for i := 0; i < g.r.Intn(3); i++ {
		c := pick(g, sc.cols)
		k := c.expr
		if g.pct(25) {
			k = g.expr(sc, c.typ, 1)
			if strings.Contains(k, "SELECT") {
				k = c.expr
			}
		}
		s.groupBy = append(s.groupBy, k)
		s.items = append(s.items, k)
		s.types = append(s.types, c.typ)
		keys.cols = append(keys.cols, colRef{k, c.typ})
	}
	// Aggregates see the input columns; everything else only the keys.
	out := &scope{cols: keys.cols, aggs: true}
	inner := &scope{cols: sc.cols}
	for i := 0; i < 1+g.r.Intn(3); i++ {
		t := g.anyType()
		var e string
		if g.pct(75) {
			e = g.agg(inner, t, 2)
		} else {
			e = g.exprOverAggs(out, inner, t)
		}
		s.items = append(s.items, e)
		s.types = append(s.types, t)
	}
	if g.pct(35) {
		t := pick(g, []typ{tInt, tNum, tText})
		s.having = append(s.having, fmt.Sprintf("%s %s %s", g.agg(inner, t, 1), pick(g, cmpOps), g.lit(t)))
	}
	return s
}

// exprOverAggs combines aggregates and group keys.
func (g *gen) exprOverAggs(keys, inner *scope, t typ) string {
	a := g.agg(inner, t, 1)
	switch t {
	case tInt, tNum:
		if ks := keys.ofType(tInt); len(ks) > 0 && g.pct(50) {
			return "(" + a + " + " + pick(g, ks) + ")"
		}
		return "(" + a + " * 2)"
	case tText:
		return "COALESCE(" + a + ", 'none')"
	case tBool:
		return "(" + a + " IS NOT TRUE)"
	}
	return "COALESCE(" + norm(t, a) + ", " + g.lit(t) + ")"
}

func (g *gen) windowSelect() *selectQ {
	s := &selectQ{windowed: true}
	sc, pk := g.from(s)
	g.where(sc, s)
	for i := 0; i < 1+g.r.Intn(2); i++ {
		c := pick(g, sc.cols)
		s.items = append(s.items, c.expr)
		s.types = append(s.types, c.typ)
	}
	for i := 0; i < 1+g.r.Intn(2); i++ {
		part := ""
		if g.pct(70) {
			part = "PARTITION BY " + pick(g, sc.cols).expr
		}
		ord := pick(g, sc.cols).expr + pick(g, []string{"", " DESC", " NULLS FIRST"})
		total := len(pk) > 0 && g.pct(60)
		if total {
			ord += ", " + pk[0]
		}
		over := func(o string) string {
			return "OVER (" + strings.TrimSpace(part+" ORDER BY "+o) + ")"
		}
		var e string
		var t typ
		switch {
		case total && g.pct(50):
			e, t = pick(g, []string{"row_number()"})+" "+over(ord), tInt
			switch c := pick(g, sc.cols); g.r.Intn(5) {
			case 0:
				e, t = fmt.Sprintf("%s(%s) %s", pick(g, []string{"lag", "lead"}), c.expr, over(ord)), c.typ
			case 1:
				e, t = fmt.Sprintf("%s(%s) %s", pick(g, []string{"first_value", "last_value"}), c.expr, over(ord)), c.typ
			case 2:
				e, t = fmt.Sprintf("ntile(%d) %s", 1+g.r.Intn(4), over(ord)), tInt
			case 3:
				e, t = fmt.Sprintf("lag(%s, 2, %s) %s", c.expr, g.lit(c.typ), over(ord)), c.typ
			}
		case total && g.pct(30):
			c := pick(g, sc.ofType(tInt))
			e, t = fmt.Sprintf("sum(%s) OVER (%s ORDER BY %s ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)", c, part, ord), tInt
		default:
			switch g.r.Intn(6) {
			case 5:
				e, t = fmt.Sprintf("round(%s %s::numeric, 6)", pick(g, []string{"percent_rank()", "cume_dist()"}), over(ord)), tNum
			case 0:
				e, t = pick(g, []string{"rank()", "dense_rank()"})+" "+over(ord), tInt
			case 1:
				e, t = "count(*) "+over(ord), tInt
			case 2:
				e, t = "sum("+pick(g, sc.ofType(tInt))+") "+over(ord), tInt
			case 3:
				e, t = "sum("+pick(g, sc.ofType(tNum))+") OVER ("+part+")", tNum
			default:
				c := pick(g, sc.cols)
				if c.typ == tBool {
					c = sc.cols[0]
				}
				e, t = pick(g, []string{"min", "max"})+"("+c.expr+") "+over(ord), c.typ
			}
		}
		s.items = append(s.items, e)
		s.types = append(s.types, t)
	}
	return s
}

// query draws one whole query.
func (g *gen) query() *query {
	q := &query{limit: -1}
	switch k := g.r.Intn(10); {
	case k < 3:
		var types []typ
		for i := 0; i < 1+g.r.Intn(4); i++ {
			types = append(types, g.anyType())
		}
		q.left = g.plainSelect(types)
	case k < 6:
		q.left = g.groupedSelect()
	case k < 8:
		q.left = g.windowSelect()
	default:
		var types []typ
		for i := 0; i < 1+g.r.Intn(3); i++ {
			types = append(types, g.anyType())
		}
		q.left = g.plainSelect(types)
		q.right = g.plainSelect(types)
		q.setOp = pick(g, []string{"UNION", "UNION ALL", "EXCEPT", "EXCEPT ALL", "INTERSECT", "INTERSECT ALL"})
	}
	if q.setOp == "" && g.pct(15) {
		q.left.distinct = true
	}
	if g.pct(50) || q.left.windowed && g.pct(50) {
		for range q.left.items {
			q.orderBy = append(q.orderBy, pick(g, []string{"", " DESC", " NULLS FIRST", " DESC NULLS LAST"}))
		}
		if g.pct(50) {
			q.limit = g.r.Intn(20)
			switch {
			case g.pct(30):
				q.offset = g.r.Intn(10)
			case g.pct(25):
				q.withTies = 1 + g.r.Intn(len(q.left.items))
			}
		}
	}
	return q
}

// TestGeneratorDeterministic checks that a seed always draws the same run,
// which is what makes SLUICE_SEED replays work.
func TestGeneratorDeterministic(t *testing.T) {
	draw := func(seed int64) string {
		r := rand.New(rand.NewSource(seed))
		sz := drawSizes(r)
		var b strings.Builder
		b.WriteString(sz.String())
		for _, s := range setupSQL(r, sz) {
			b.WriteString(s)
		}
		g := &gen{r: r, sz: sz}
		for range 50 {
			q := g.query()
			b.WriteString(q.sql())
			for _, s := range q.shrinks() {
				b.WriteString(s.sql())
			}
		}
		return b.String()
	}
	for seed := int64(1); seed <= 20; seed++ {
		if a, b := draw(seed), draw(seed); a != b {
			t.Fatalf("seed %d drew two different runs", seed)
		}
	}
}
