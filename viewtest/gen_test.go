package viewtest

import (
	"fmt"
	"math/rand"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// settings are a run's metamorphic engine settings: none may change a view's
// rows, only how and when they are computed.
type settings struct {
	workers   int
	tick      time.Duration
	chunkSize int
	// memoryLimit is the server's --memory-limit in bytes (0: none).
	memoryLimit int64
}

func (s settings) String() string {
	text := fmt.Sprintf("workers=%d tick=%s chunk=%d", s.workers, s.tick, s.chunkSize)
	if s.memoryLimit > 0 {
		text += fmt.Sprintf(" limit=%d", s.memoryLimit)
	}
	return text
}

// drawMemoryLimit draws a run's memory limit from a source of its own, so
// that the seeds drawn before there was one draw the same runs: none in
// two runs of three, otherwise a few KiB, so little that the aggregates
// and joins that spill keep only their floor in memory (256 groups, 64
// join keys) and load the rest back from the spill store as changes touch
// it.
func drawMemoryLimit(seed int64) int64 {
	r := rand.New(rand.NewSource(seed ^ 0x6c696d6974))
	if r.Intn(3) != 0 {
		return 0
	}
	return int64(1+r.Intn(64)) << 10
}

func drawSettings(r *rand.Rand) settings {
	return settings{
		workers:   1 + r.Intn(4),
		tick:      time.Duration(5+r.Intn(196)) * time.Millisecond,
		chunkSize: pick(r, []int{1, 2, 3, 7, 64, 1 + r.Intn(1100)}),
	}
}

// typ is a column type the generator knows.
type typ int

const (
	tInt4 typ = iota
	tInt8
	tNum
	tText
	tBool
	// tTs is a timestamp (tables) or timestamptz (streams): the time column
	// of window functions, passed through, grouped on, joined on and
	// compared with literals, never computed on.
	tTs
	// tOpaque is any other type (array_agg's arrays): passed through as a
	// column, never computed on, compared or ordered.
	tOpaque
)

// exprTypes are the types expressions are drawn in.
var exprTypes = []typ{tInt4, tInt8, tNum, tText, tBool}

// typeOfOID maps a result column's type OID to typ.
func typeOfOID(oid uint32) typ {
	switch oid {
	case 23:
		return tInt4
	case 20:
		return tInt8
	case 1700:
		return tNum
	case 25:
		return tText
	case 16:
		return tBool
	case 1114, 1184:
		return tTs
	}
	return tOpaque
}

// column is a column of a relation or of a FROM scope (then name is
// qualified).
type column struct {
	name string
	typ  typ
	// scale is, for numeric, how many fraction digits every value prints
	// with, or -1 when it varies (avg, division): equal values may then
	// print differently (1.5, 1.50), which makes which one DISTINCT,
	// GROUP BY, min/max or an ORDER BY tie yields ambiguous, so such values
	// are normalized (fixed) before those.
	scale int
}

type relKind int

const (
	kindTable relKind = iota
	kindStream
	kindView
)

// relation is a table, stream or view the generator may read.
type relation struct {
	name string
	kind relKind
	cols []column // a table's first column is its primary key, id
	// eventTime is a stream's WATERMARK FOR column ("": none), declared
	// with delay and allowed lateness lateness (intervals; "": the
	// clause or option is left out).
	eventTime, delay, lateness string
}

// createSQL is the relation's CREATE statement (tables and streams).
func (rel *relation) createSQL() string {
	var defs []string
	for i, c := range rel.cols {
		d := c.name + " " + [...]string{"int4", "int8", "numeric(10,2)", "text", "boolean", "timestamp"}[c.typ]
		if c.typ == tTs && rel.kind == kindStream {
			d += "tz"
		}
		if rel.kind == kindTable && i == 0 {
			d += " PRIMARY KEY"
		}
		defs = append(defs, d)
	}
	with := ""
	if rel.eventTime != "" {
		wm := "WATERMARK FOR " + rel.eventTime + " AS " + rel.eventTime
		if rel.delay != "" {
			wm += " - INTERVAL '" + rel.delay + "'"
		}
		defs = append(defs, wm)
		if rel.lateness != "" {
			with = " WITH (allowed_lateness = '" + rel.lateness + "')"
		}
	}
	return fmt.Sprintf("CREATE %s %s (%s)%s;", map[relKind]string{kindTable: "TABLE", kindStream: "STREAM"}[rel.kind], rel.name, strings.Join(defs, ", "), with)
}

// drawSchema draws 1-2 tables and 1-2 streams. Each has an int4 and a text
// column, so any two relations share a key type for an equi-join.
func drawSchema(r *rand.Rand) []*relation {
	var rels []*relation
	draw := func(name string, kind relKind) {
		rel := &relation{name: name, kind: kind}
		if kind == kindTable {
			rel.cols = append(rel.cols, column{name: "id", typ: pick(r, []typ{tInt4, tInt8})})
		}
		ts := []typ{tInt4, tText}
		for range 1 + r.Intn(3) {
			ts = append(ts, pick(r, exprTypes))
		}
		if r.Intn(100) < 70 {
			ts = append(ts, tTs)
		}
		r.Shuffle(len(ts), func(i, j int) { ts[i], ts[j] = ts[j], ts[i] })
		seen := map[typ]int{}
		for _, t := range ts {
			seen[t]++
			name := [...]string{"a", "b", "n", "s", "f", "ts"}[t]
			if seen[t] > 1 {
				name += strconv.Itoa(seen[t])
			}
			rel.cols = append(rel.cols, column{name: name, typ: t, scale: 2})
		}
		if kind == kindStream && seen[tTs] > 0 && r.Intn(100) < 60 {
			// No delay is AS ts, or a zero interval; delays and lateness
			// are around the spacing of event times (see gen.eventTime).
			rel.eventTime = "ts"
			rel.delay = pick(r, []string{"", "0 seconds", "10 seconds", "30 seconds", "1 minute", "2 minutes"})
			rel.lateness = pick(r, []string{"", "", "0 seconds", "15 seconds", "1 minute"})
		}
		rels = append(rels, rel)
	}
	for i := range 1 + r.Intn(2) {
		draw(fmt.Sprintf("t%d", i+1), kindTable)
	}
	for i := range 1 + r.Intn(2) {
		draw(fmt.Sprintf("s%d", i+1), kindStream)
	}
	return rels
}

// gen draws everything of a run after its settings and schema.
type gen struct {
	r       *rand.Rand
	nullPct int
	rels    []*relation    // tables and streams, then the views created so far
	nextID  map[string]int // per table: the next primary key never used
	nAlias  int
	// clock is, per stream with a watermark, the event time its rows are
	// drawn around (Unix microseconds).
	clock map[string]int64
	// drawKnownBugs draws the shapes of knownBugs too (VIEWTEST_KNOWN_BUGS=draw).
	drawKnownBugs bool
}

func newGen(r *rand.Rand, rels []*relation) *gen {
	g := &gen{r: r, nullPct: pick(r, []int{0, 5, 15, 30}), rels: rels, nextID: map[string]int{}, clock: map[string]int64{}}
	for _, rel := range rels {
		if rel.eventTime != "" {
			// Starts that make windows cross 1970 or an hour and a day.
			start := pick(r, []time.Time{time.Date(1969, 12, 31, 23, 57, 0, 0, time.UTC), time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 1, 1, 23, 52, 0, 0, time.UTC)})
			g.clock[rel.name] = start.UnixMicro()
		}
	}
	return g
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.Intn(len(xs))] }

func (g *gen) pct(p int) bool { return g.r.Intn(100) < p }

// avoids reports whether the generator must not draw the shape of known
// bug name (see knownBugs).
func (g *gen) avoids(name string) bool {
	_, listed := knownBugs[name]
	return listed && !g.drawKnownBugs
}

func (g *gen) alias() string { g.nAlias++; return fmt.Sprintf("x%d", g.nAlias) }

// ---- values ----

// Value domains are small, so groups, join matches and duplicates are many.
var (
	int8Values = []string{"-2", "0", "1", "3", "7", "4000000000"}
	numValues  = []string{"-1.50", "0.00", "0.25", "1.00", "2.50", "10.00"}
	textValues = []string{"", "a", "b", "ab", "B", "a b"}
	// tsValues sit on and next to window bounds, before 1970 and at
	// infinity (in no window).
	tsValues = []string{"1969-12-31 23:59:30", "1970-01-01 00:00:00", "2024-01-01 00:00:00", "2024-01-01 00:00:59.999999",
		"2024-01-01 00:01:00", "2024-01-01 00:01:30", "2024-01-01 00:02:45", "2024-01-01 01:00:00", "infinity"}
)

// value draws a value of t in text form; null reports NULL.
func (g *gen) value(t typ) (text string, null bool) {
	if g.pct(g.nullPct) {
		return "", true
	}
	switch t {
	case tInt4:
		return strconv.Itoa(g.r.Intn(7) - 1), false
	case tInt8:
		return pick(g.r, int8Values), false
	case tNum:
		return pick(g.r, numValues), false
	case tText:
		return pick(g.r, textValues), false
	case tBool:
		return pick(g.r, []string{"true", "false"}), false
	case tTs:
		return pick(g.r, tsValues), false
	}
	panic("unreachable")
}

// eventTime draws the event time of a row of stream rel, in text form: its
// clock moves on by 0-20 whole seconds a row, and a row is around it in
// 15-second steps (often on window bounds, sometimes a microsecond before
// one), from 90 seconds behind to 30 ahead, so rows come out of order and
// some are behind the watermark by less or more than the allowed lateness;
// a tenth are 3-12 minutes behind, late but for a large delay and lateness.
func (g *gen) eventTime(rel *relation) (text string, null bool) {
	if g.pct(g.nullPct) {
		return "", true
	}
	if g.pct(2) {
		return pick(g.r, []string{"infinity", "-infinity"}), false
	}
	const sec = int64(time.Second / time.Microsecond)
	g.clock[rel.name] += int64(pick(g.r, []int{0, 0, 1, 5, 15, 20})) * sec
	t := g.clock[rel.name] + int64(15*(g.r.Intn(9)-6))*sec
	if g.pct(10) {
		t = g.clock[rel.name] - int64(180+60*g.r.Intn(10))*sec
	}
	if g.pct(10) {
		t--
	}
	return time.UnixMicro(t).UTC().Format("2006-01-02 15:04:05.999999"), false
}

// colValue draws the value of column c of a row of rel, in text form.
func (g *gen) colValue(rel *relation, c column) (text string, null bool) {
	if c.name == rel.eventTime {
		return g.eventTime(rel)
	}
	return g.value(c.typ)
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// sqlValue draws a value of t as an SQL literal.
func (g *gen) sqlValue(t typ) string {
	v, null := g.value(t)
	return sqlLit(t, v, null)
}

// sqlLit renders a value of t drawn in text form as an SQL literal.
func sqlLit(t typ, v string, null bool) string {
	switch {
	case null:
		return "NULL"
	case t == tText || t == tTs:
		return quote(v)
	}
	return v
}

// row draws a VALUES row for rel; id is the primary key of a table row.
func (g *gen) row(rel *relation, id int) string {
	var vals []string
	for i, c := range rel.cols {
		if rel.kind == kindTable && i == 0 {
			vals = append(vals, strconv.Itoa(id))
			continue
		}
		v, null := g.colValue(rel, c)
		vals = append(vals, sqlLit(c.typ, v, null))
	}
	return "(" + strings.Join(vals, ", ") + ")"
}

// copyRow draws a COPY text-format line for stream rel.
func (g *gen) copyRow(rel *relation) string {
	var vals []string
	for _, c := range rel.cols {
		v, null := g.colValue(rel, c)
		if null {
			v = `\N`
		}
		vals = append(vals, v)
	}
	return strings.Join(vals, "\t")
}

func (g *gen) insertRows(rel *relation, n int) string {
	var rows []string
	for range n {
		id := g.nextID[rel.name] + 1
		if rel.kind == kindTable {
			g.nextID[rel.name] = id
		}
		rows = append(rows, g.row(rel, id))
	}
	return fmt.Sprintf("INSERT INTO %s VALUES %s;", rel.name, strings.Join(rows, ", "))
}

// setupData draws the rows the relations hold before the views exist, so
// the views' first epoch (their initial content) is checked too.
func (g *gen) setupData() []step {
	var out []step
	for _, rel := range g.rels {
		if n := g.r.Intn(13); n > 0 {
			out = append(out, step{sql: g.insertRows(rel, n)})
		}
	}
	return out
}

// ---- changes ----

// epoch draws one batch of changes: streams only get INSERT and COPY,
// tables INSERT, UPDATE, DELETE, and a delete and re-insert of one key.
// Sometimes the batch is one transaction, sometimes rolled back; sometimes
// two statements share one query string (an implicit transaction).
func (g *gen) epoch() []step {
	var out []step
	for range 1 + g.r.Intn(5) {
		rel := pick(g.r, g.baseRels())
		if rel.kind == kindStream {
			if g.pct(30) {
				var lines []string
				for range 1 + g.r.Intn(25) {
					lines = append(lines, g.copyRow(rel))
				}
				out = append(out, step{sql: "COPY " + rel.name + " FROM STDIN;", copy: lines})
			} else {
				out = append(out, step{sql: g.insertRows(rel, 1+g.r.Intn(8))})
			}
			continue
		}
		switch k := g.r.Intn(10); {
		case k < 4:
			out = append(out, step{sql: g.insertRows(rel, 1+g.r.Intn(5))})
		case k < 7:
			out = append(out, step{sql: g.update(rel)})
		case k < 9:
			out = append(out, step{sql: fmt.Sprintf("DELETE FROM %s WHERE %s;", rel.name, g.rowPred(rel))})
		default:
			// A key in use (or the next): its row is replaced in one commit.
			id := 1 + g.r.Intn(g.nextID[rel.name]+1)
			g.nextID[rel.name] = max(g.nextID[rel.name], id)
			out = append(out, step{sql: fmt.Sprintf("DELETE FROM %s WHERE id = %d; INSERT INTO %s VALUES %s;", rel.name, id, rel.name, g.row(rel, id))})
		}
	}
	if len(out) > 1 && g.pct(15) && out[0].copy == nil && out[1].copy == nil {
		out[0].sql += " " + out[1].sql
		out = append(out[:1], out[2:]...)
	}
	if g.pct(30) {
		end := "COMMIT;"
		if g.pct(20) {
			end = "ROLLBACK;"
		}
		out = append(append([]step{{sql: "BEGIN;"}}, out...), step{sql: end})
	}
	return out
}

func (g *gen) baseRels() []*relation {
	var out []*relation
	for _, rel := range g.rels {
		if rel.kind != kindView {
			out = append(out, rel)
		}
	}
	return out
}

// update draws an UPDATE of one or two non-key columns of table rel.
func (g *gen) update(rel *relation) string {
	var sets []string
	cols := rel.cols[1:]
	for _, i := range g.r.Perm(len(cols))[:1+g.r.Intn(2)] {
		c := cols[i]
		v := g.sqlValue(c.typ)
		if g.pct(50) {
			switch c.typ {
			case tInt4, tInt8:
				v = c.name + " + 1"
			case tNum:
				v = c.name + " + 1.25"
			case tText:
				v = "upper(" + c.name + ")"
			case tBool:
				v = "NOT " + c.name
			case tTs:
				v = c.name + " + INTERVAL '30 seconds'"
			}
		}
		sets = append(sets, c.name+" = "+v)
	}
	return fmt.Sprintf("UPDATE %s SET %s WHERE %s;", rel.name, strings.Join(sets, ", "), g.rowPred(rel))
}

// rowPred draws a WHERE condition selecting a few rows of table rel.
func (g *gen) rowPred(rel *relation) string {
	switch g.r.Intn(4) {
	case 0:
		return fmt.Sprintf("id = %d", 1+g.r.Intn(g.nextID[rel.name]+1))
	case 1:
		return fmt.Sprintf("id %% %d = %d", 3+g.r.Intn(3), g.r.Intn(3))
	case 2:
		c := pick(g.r, rel.cols[1:])
		return c.name + " IS NULL"
	}
	c := pick(g.r, rel.cols[1:])
	switch c.typ {
	case tBool:
		return pick(g.r, []string{"", "NOT "}) + c.name
	case tInt4:
		return c.name + " = " + strconv.Itoa(g.r.Intn(7)-1)
	case tInt8:
		return c.name + " = " + pick(g.r, int8Values)
	case tNum:
		return c.name + " = " + pick(g.r, numValues)
	case tTs:
		return c.name + " = " + quote(pick(g.r, tsValues))
	}
	return c.name + " = " + quote(pick(g.r, textValues))
}

// ---- expressions ----

// ex is a drawn expression: its SQL, type and numeric scale (as in column).
type ex struct {
	sql   string
	typ   typ
	scale int
}

// scope is the columns an expression may use, as qualified references.
type scope struct{ cols []ex }

func (sc *scope) ofType(t typ) []ex {
	var out []ex
	for _, c := range sc.cols {
		if c.typ == t {
			out = append(out, c)
		}
	}
	return out
}

// fixed makes a numeric expression's scale fixed (see column.scale).
func fixed(e ex) ex {
	if e.typ == tNum && e.scale < 0 {
		return scale4(e)
	}
	return e
}

func scale4(e ex) ex {
	if e.typ == tNum && e.scale != 4 {
		return ex{sql: "(" + e.sql + ")::numeric(20,4)", typ: tNum, scale: 4}
	}
	return e
}

// item prepares a select item for shape sh.
func (g *gen) item(e ex, sh shape) ex {
	switch {
	case sh.fixed && sh.types != nil:
		// The sides of a UNION must agree too: 1.50 and 1.5000 tie in an
		// ORDER BY, and which one a LIMIT keeps is ambiguous.
		return scale4(e)
	case sh.fixed:
		return fixed(e)
	}
	return e
}

func sameScale(a, b int) int {
	if a == b {
		return a
	}
	return -1
}

func (g *gen) lit(t typ) ex {
	switch t {
	case tInt4:
		return ex{sql: strconv.Itoa(g.r.Intn(5)), typ: t}
	case tInt8:
		return ex{sql: pick(g.r, []string{"0", "2", "5"}) + "::int8", typ: t}
	case tNum:
		v := pick(g.r, []string{"0.5", "1.50", "2.25", "10.00"})
		return ex{sql: v, typ: t, scale: len(v) - strings.IndexByte(v, '.') - 1}
	case tText:
		return ex{sql: quote(pick(g.r, textValues)), typ: t}
	case tBool:
		return ex{sql: pick(g.r, []string{"true", "false"}), typ: t}
	}
	panic("unreachable")
}

// ordered returns two literals of one type low first (BETWEEN high AND low
// is always false, which leaves views empty).
func (g *gen) ordered(a, b ex) (ex, ex) {
	less := a.sql < b.sql
	switch a.typ {
	case tInt4, tInt8, tNum:
		x, _ := strconv.ParseFloat(strings.TrimSuffix(a.sql, "::int8"), 64)
		y, _ := strconv.ParseFloat(strings.TrimSuffix(b.sql, "::int8"), 64)
		less = x < y
	}
	if less {
		return a, b
	}
	return b, a
}

// leaf is mostly a column of type t, else a literal or a typed NULL.
func (g *gen) leaf(sc *scope, t typ) ex {
	if cs := sc.ofType(t); len(cs) > 0 && g.pct(80) {
		return pick(g.r, cs)
	}
	if g.pct(5) {
		return ex{sql: "NULL::" + [...]string{"int4", "int8", "numeric(10,2)", "text", "boolean", "timestamp"}[t], typ: t, scale: 2}
	}
	return g.lit(t)
}

// expr draws an expression of type t (not tOpaque). Nothing it draws can
// fail at run time: divisors are non-zero constants, products stay small.
func (g *gen) expr(sc *scope, t typ, depth int) ex {
	if t == tBool {
		return g.pred(sc, depth)
	}
	if depth <= 0 || g.pct(35) {
		return g.leaf(sc, t)
	}
	d := depth - 1
	switch g.r.Intn(8) {
	case 0:
		x, y := g.expr(sc, t, d), g.expr(sc, t, d)
		return ex{sql: fmt.Sprintf("CASE WHEN %s THEN %s ELSE %s END", g.pred(sc, d).sql, x.sql, y.sql), typ: t, scale: sameScale(x.scale, y.scale)}
	case 1:
		x, y := g.expr(sc, t, d), g.expr(sc, t, d)
		return ex{sql: fmt.Sprintf("COALESCE(%s, %s)", x.sql, y.sql), typ: t, scale: sameScale(x.scale, y.scale)}
	}
	op := func(f string, args ...ex) ex {
		names := make([]any, len(args))
		for i, a := range args {
			names[i] = a.sql
		}
		return ex{sql: fmt.Sprintf(f, names...), typ: t}
	}
	switch t {
	case tInt4:
		x, y := g.expr(sc, tInt4, d), g.expr(sc, tInt4, d)
		return pick(g.r, []func() ex{
			func() ex { return op("(%s + %s)", x, y) },
			func() ex { return op("(%s - %s)", x, y) },
			func() ex { return op("(%s * %s)", x, y) },
			func() ex { return op("abs(%s)", x) },
			func() ex { return op("(%s %% 3)", x) },
			func() ex { return op("(%s / 2)", x) },
			func() ex { return op("length(%s)", g.expr(sc, tText, d)) },
		})()
	case tInt8:
		x, y := g.expr(sc, tInt8, d), g.expr(sc, pick(g.r, []typ{tInt4, tInt8}), d)
		return pick(g.r, []func() ex{
			func() ex { return op("(%s + %s)", x, y) },
			func() ex { return op("(%s - %s)", x, y) },
			// int8 * int8 could overflow on 4000000000; int8 * int4 cannot.
			func() ex { return op("(%s * %s)", x, g.expr(sc, tInt4, d)) },
			func() ex { return op("abs(%s)", x) },
			func() ex { return op("(%s)::int8", g.expr(sc, tInt4, d)) },
		})()
	case tNum:
		x := g.expr(sc, tNum, d)
		switch g.r.Intn(8) {
		case 0:
			y := g.expr(sc, tNum, d)
			return ex{sql: fmt.Sprintf("(%s + %s)", x.sql, y.sql), typ: t, scale: maxScale(x.scale, y.scale)}
		case 1:
			y := g.expr(sc, tNum, d)
			return ex{sql: fmt.Sprintf("(%s - %s)", x.sql, y.sql), typ: t, scale: maxScale(x.scale, y.scale)}
		case 2:
			y := g.expr(sc, pick(g.r, []typ{tInt4, tInt8}), d)
			return ex{sql: fmt.Sprintf("(%s + %s)", x.sql, y.sql), typ: t, scale: x.scale}
		case 3:
			return ex{sql: fmt.Sprintf("(%s * %s)", x.sql, g.expr(sc, tInt4, d).sql), typ: t, scale: x.scale}
		case 4:
			k := g.r.Intn(2)
			return ex{sql: fmt.Sprintf("round(%s, %d)", x.sql, k), typ: t, scale: k}
		case 5:
			return ex{sql: "abs(" + x.sql + ")", typ: t, scale: x.scale}
		case 6:
			return ex{sql: fmt.Sprintf("(%s)::numeric", g.expr(sc, tInt4, d).sql), typ: t, scale: 0}
		default:
			return ex{sql: fmt.Sprintf("(%s / 4)", x.sql), typ: t, scale: -1}
		}
	case tText:
		x := g.expr(sc, tText, d)
		return pick(g.r, []func() ex{
			func() ex { return op("upper(%s)", x) },
			func() ex { return op("lower(%s)", x) },
			func() ex { return op("(%s || %s)", x, g.expr(sc, tText, d)) },
			func() ex { return op("substr(%s, 1, 1)", x) },
			func() ex { return op("(%s)::text", g.expr(sc, tInt4, d)) },
		})()
	}
	panic("unreachable")
}

func maxScale(a, b int) int {
	if a < 0 || b < 0 {
		return -1
	}
	return max(a, b)
}

var cmpOps = []string{"=", "<>", "<", "<=", ">", ">="}

// comparable draws a type to compare (not bool, whose columns are
// predicates themselves), one sc has columns of when it can: comparing
// literals makes constant conditions, which leave views empty.
func (g *gen) comparable(sc *scope) typ {
	ts := []typ{tInt4, tInt4, tInt8, tNum, tText}
	var have []typ
	for _, t := range ts {
		if len(sc.ofType(t)) > 0 {
			have = append(have, t)
		}
	}
	if len(have) > 0 {
		return pick(g.r, have)
	}
	return pick(g.r, ts)
}

// pred draws a boolean expression.
func (g *gen) pred(sc *scope, depth int) ex {
	b := func(f string, args ...any) ex { return ex{sql: fmt.Sprintf(f, args...), typ: tBool} }
	t := g.comparable(sc)
	if depth <= 0 {
		if bs := sc.ofType(tBool); len(bs) > 0 && g.pct(25) {
			return pick(g.r, bs)
		}
		left := g.lit(t)
		if cs := sc.ofType(t); len(cs) > 0 {
			left = pick(g.r, cs)
		}
		return b("%s %s %s", left.sql, pick(g.r, cmpOps), g.leaf(sc, t).sql)
	}
	d := depth - 1
	switch g.r.Intn(10) {
	case 0:
		return b("(%s AND %s)", g.pred(sc, d).sql, g.pred(sc, d).sql)
	case 1:
		return b("(%s OR %s)", g.pred(sc, d).sql, g.pred(sc, d).sql)
	case 2:
		return b("NOT (%s)", g.pred(sc, d).sql)
	case 3:
		return b("(%s) IS %sNULL", g.expr(sc, pick(g.r, exprTypes), d).sql, pick(g.r, []string{"", "NOT "}))
	case 4:
		var ls []string
		for range 1 + g.r.Intn(3) {
			ls = append(ls, g.lit(t).sql)
		}
		return b("%s %sIN (%s)", g.expr(sc, t, d).sql, pick(g.r, []string{"", "NOT "}), strings.Join(ls, ", "))
	case 5:
		lo, hi := g.lit(t), g.lit(t)
		if g.pct(80) {
			lo, hi = g.ordered(lo, hi)
		}
		return b("%s BETWEEN %s AND %s", g.expr(sc, t, d).sql, lo.sql, hi.sql)
	case 6:
		return b("%s LIKE %s", g.expr(sc, tText, d).sql, quote(pick(g.r, []string{"a%", "%b", "_", ""})))
	case 7:
		return b("%s IS %sDISTINCT FROM %s", g.expr(sc, t, d).sql, pick(g.r, []string{"", "NOT "}), g.expr(sc, t, d).sql)
	case 8:
		if bs := sc.ofType(tBool); len(bs) > 0 {
			return b("%s IS %s", pick(g.r, bs).sql, pick(g.r, []string{"TRUE", "NOT TRUE", "FALSE", "UNKNOWN"}))
		}
	}
	return b("%s %s %s", g.expr(sc, t, d).sql, pick(g.r, cmpOps), g.expr(sc, t, d).sql)
}

// agg draws an aggregate call over the input scope in.
func (g *gen) agg(in *scope) ex {
	filter := ""
	if g.pct(10) {
		filter = " FILTER (WHERE " + g.pred(in, 1).sql + ")"
	}
	arg := func(ts ...typ) ex {
		return g.expr(in, pick(g.r, ts), 1)
	}
	switch g.r.Intn(11) {
	case 0:
		return ex{sql: "count(*)" + filter, typ: tInt8}
	case 1:
		return ex{sql: "count(" + arg(tInt4, tInt8, tNum, tText, tBool).sql + ")" + filter, typ: tInt8}
	case 2:
		return ex{sql: "count(DISTINCT " + arg(tInt4, tInt8, tNum, tText).sql + ")", typ: tInt8}
	case 3:
		x := arg(tInt4, tInt8, tNum)
		switch x.typ {
		case tInt4:
			return ex{sql: "sum(" + x.sql + ")" + filter, typ: tInt8}
		case tInt8:
			return ex{sql: "sum(" + x.sql + ")" + filter, typ: tNum, scale: 0}
		}
		return ex{sql: "sum(" + x.sql + ")" + filter, typ: tNum, scale: x.scale}
	case 4:
		return ex{sql: "avg(" + arg(tInt4, tInt8, tNum).sql + ")" + filter, typ: tNum, scale: -1}
	case 5, 6:
		x := fixed(arg(tInt4, tInt8, tNum, tText))
		return ex{sql: pick(g.r, []string{"min", "max"}) + "(" + x.sql + ")" + filter, typ: x.typ, scale: x.scale}
	case 7:
		return ex{sql: pick(g.r, []string{"bool_and", "bool_or"}) + "(" + g.pred(in, 1).sql + ")" + filter, typ: tBool}
	case 8:
		x := arg(tText)
		return ex{sql: fmt.Sprintf("string_agg(%s, ',' ORDER BY %s)%s", x.sql, x.sql, filter), typ: tText}
	case 9:
		x := fixed(arg(tInt4, tInt8, tNum, tText, tBool))
		return ex{sql: fmt.Sprintf("array_agg(%s ORDER BY %s)%s", x.sql, x.sql, filter), typ: tOpaque}
	}
	// An expression over aggregates.
	x := g.agg(in)
	switch x.typ {
	case tInt4, tInt8:
		return ex{sql: "(" + x.sql + " + 1)", typ: x.typ}
	case tNum:
		return ex{sql: "COALESCE(" + x.sql + ", 0)", typ: tNum, scale: x.scale}
	case tText:
		return ex{sql: "COALESCE(" + x.sql + ", 'none')", typ: tText}
	case tBool:
		return ex{sql: "(" + x.sql + " IS NOT TRUE)", typ: tBool}
	}
	return x
}

// ---- queries ----

type fromItem struct {
	rel   *relation
	alias string
	// window, when set, wraps rel in a window function: its arguments
	// after the relation ("ts, INTERVAL '1 minute'").
	window, windowArgs string
}

func (f fromItem) sql() string {
	if f.window != "" {
		return fmt.Sprintf("%s(%s, %s) %s", f.window, f.rel.name, f.windowArgs, f.alias)
	}
	return f.rel.name + " " + f.alias
}

func (f fromItem) scope() []ex {
	var out []ex
	for _, c := range f.rel.cols {
		out = append(out, ex{sql: f.alias + "." + c.name, typ: c.typ, scale: c.scale})
	}
	if f.window != "" {
		out = append(out, ex{sql: f.alias + ".window_start", typ: tTs}, ex{sql: f.alias + ".window_end", typ: tTs})
	}
	return out
}

// fromItem draws a relation of the FROM clause, sometimes (when it has a
// timestamp column) in a window function.
func (g *gen) fromItem() fromItem {
	f := fromItem{rel: pick(g.r, g.rels), alias: g.alias()}
	var times []string
	for _, c := range f.rel.cols {
		if c.typ == tTs {
			times = append(times, c.name)
		}
	}
	if len(times) == 0 || !g.pct(40) {
		return f
	}
	g.window(&f, pick(g.r, times))
	return f
}

// window wraps f's relation in a window function over its column ts:
// TUMBLE, HOP or CUMULATE, whose sizes put the drawn times on window bounds
// and make rows join several windows, or SESSION, with gaps around the
// drawn times' spacing (tsValues', or event times' steps) so that rows
// extend, merge and split sessions, partitioned by up to two columns.
func (g *gen) window(f *fromItem, ts string) {
	iv := func(s string) string { return "INTERVAL '" + s + "'" }
	offset := ""
	if g.pct(25) {
		offset = ", " + iv(pick(g.r, []string{"15 seconds", "-10 seconds", "1 minute"}))
	}
	switch g.r.Intn(4) {
	case 0:
		f.window = "TUMBLE"
		f.windowArgs = ts + ", " + iv(pick(g.r, []string{"1 minute", "45 seconds", "1 hour", "1 day"})) + offset
	case 1:
		sl := pick(g.r, [][2]string{{"30 seconds", "1 minute"}, {"45 seconds", "1 minute"}, {"1 minute", "30 seconds"}, {"20 seconds", "90 seconds"}})
		f.window = "HOP"
		f.windowArgs = ts + ", " + iv(sl[0]) + ", " + iv(sl[1]) + offset
	case 2:
		st := pick(g.r, [][2]string{{"20 seconds", "1 minute"}, {"15 minutes", "1 hour"}, {"30 seconds", "2 minutes"}})
		f.window = "CUMULATE"
		f.windowArgs = ts + ", " + iv(st[0]) + ", " + iv(st[1]) + offset
	default:
		f.window = "SESSION"
		f.windowArgs = ts + ", " + iv(pick(g.r, []string{"30 seconds", "1 minute", "2 minutes", "10 minutes", "1 day"}))
		for range g.r.Intn(3) {
			f.windowArgs += ", " + pick(g.r, f.rel.cols).name
		}
	}
}

// join is one joined relation: an equality on same-typed columns (or on
// expressions of them, one of each side), then further conditions (non-equi ones among them), each droppable.
type join struct {
	kind  string // "JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL JOIN"
	item  fromItem
	on    string
	extra []string
}

// selectQ is one SELECT; clauses are kept apart so the shrinker can drop
// them.
type selectQ struct {
	distinct bool
	// distinctOn > 0 keeps the first row of each group of the first
	// distinctOn output columns (SELECT DISTINCT ON, in an ordered view,
	// whose ORDER BY starts with them).
	distinctOn int
	items      []ex
	from       fromItem
	joins      []join
	where      []string // conjuncts
	groupBy    []string
	having     []string
}

// viewQuery is a view's defining query: a SELECT or a UNION ALL of two,
// optionally ordered by every output column and limited.
type viewQuery struct {
	left    *selectQ
	right   *selectQ // UNION ALL; nil: none
	orderBy []string // one direction per output column; nil: unordered
	limit   int
	offset  int
	// partitioned > 0 limits each partition of the first partitioned
	// output columns instead of the whole, with row_number() <= limit
	// over the ORDER BY (no offset); numbered selects the row number too.
	// rankedBy > 0 ranks with rank() over the first rankedBy columns of
	// the ORDER BY instead: rows tied on them are all kept or not; dense
	// with dense_rank(), which counts tied rows once.
	partitioned int
	numbered    bool
	rankedBy    int
	dense       bool
	// withTies limits with FETCH FIRST … WITH TIES over a prefix of
	// withTies columns of the ORDER BY, so that rows tie (no offset).
	withTies int
	// onClose adds EMIT ON WINDOW CLOSE; the query's first window_end
	// column is then that of the closing window (see node.check).
	onClose bool
}

func (s *selectQ) sql(aliases bool) string {
	var b strings.Builder
	b.WriteString("SELECT ")
	if s.distinct {
		b.WriteString("DISTINCT ")
	}
	if n := min(s.distinctOn, len(s.items)); n > 0 {
		cols := make([]string, n)
		for i := range cols {
			cols[i] = strconv.Itoa(i + 1)
		}
		b.WriteString("DISTINCT ON (" + strings.Join(cols, ", ") + ") ")
	}
	for i, it := range s.items {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(it.sql)
		if aliases {
			fmt.Fprintf(&b, " AS c%d", i)
		}
	}
	b.WriteString(" FROM " + s.from.sql())
	for _, j := range s.joins {
		fmt.Fprintf(&b, " %s %s ON %s", j.kind, j.item.sql(), strings.Join(append([]string{j.on}, j.extra...), " AND "))
	}
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

func (q *viewQuery) sql() string {
	s := q.left.sql(true)
	if q.right != nil {
		s += " UNION ALL " + q.right.sql(false)
	}
	if n := min(q.partitioned, len(q.orderBy)); n > 0 {
		cols, keys := make([]string, len(q.orderBy)), make([]string, len(q.orderBy))
		for i, d := range q.orderBy {
			cols[i] = fmt.Sprintf("c%d", i)
			keys[i] = cols[i] + d
		}
		partition, fn := strings.Join(cols[:n], ", "), "row_number()"
		if q.rankedBy > 0 {
			keys, fn = keys[:min(q.rankedBy, len(keys))], "rank()"
			if q.dense {
				fn = "dense_rank()"
			}
		}
		if q.numbered {
			cols = append(cols, fmt.Sprintf("rn AS c%d", len(cols)))
		}
		s = fmt.Sprintf("SELECT %s FROM (SELECT *, %s OVER (PARTITION BY %s ORDER BY %s) AS rn FROM (%s) q) s WHERE rn <= %d",
			strings.Join(cols, ", "), fn, partition, strings.Join(keys, ", "), s, q.limit)
	} else if q.orderBy != nil {
		keys := make([]string, len(q.orderBy))
		for i, d := range q.orderBy {
			keys[i] = strconv.Itoa(i+1) + d
		}
		if q.withTies > 0 {
			s += fmt.Sprintf(" ORDER BY %s OFFSET %d FETCH FIRST %d ROWS WITH TIES", strings.Join(keys[:min(q.withTies, len(keys))], ", "), q.offset, q.limit)
		} else {
			s += fmt.Sprintf(" ORDER BY %s LIMIT %d", strings.Join(keys, ", "), q.limit)
			if q.offset > 0 {
				s += fmt.Sprintf(" OFFSET %d", q.offset)
			}
		}
	}
	if q.onClose {
		s += " EMIT ON WINDOW CLOSE"
	}
	return s
}

// shape is what a select is drawn for.
type shape struct {
	fixed bool  // items must have fixed scale (DISTINCT, ordered)
	types []typ // the output types; nil: any
}

// from draws a FROM clause: a relation, maybe joined with one or two more.
func (g *gen) from(s *selectQ) *scope {
	s.from = g.fromItem()
	sc := &scope{cols: s.from.scope()}
	n := 0
	if g.pct(40) {
		n = 1
		if g.pct(20) {
			n = 2
		}
	}
	for range n {
		item := g.fromItem()
		right := item.scope()
		var keys [][2]ex
		for _, l := range sc.cols {
			for _, r := range right {
				if l.typ == r.typ && l.typ != tOpaque && l.typ != tBool {
					keys = append(keys, [2]ex{l, r})
				}
			}
		}
		if len(keys) == 0 {
			continue
		}
		k := pick(g.r, keys)
		j := join{kind: pick(g.r, []string{"JOIN", "JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL JOIN"}), item: item, on: k[0].sql + " = " + k[1].sql}
		rsc := &scope{cols: right}
		if k[0].typ != tTs && g.pct(25) {
			// An equality of an expression of each side: a key each side
			// computes (or, reading no column, a condition).
			j.on = g.expr(sc, k[0].typ, 1).sql + " = " + g.expr(rsc, k[0].typ, 1).sql
		}
		all := &scope{cols: append(append([]ex(nil), sc.cols...), right...)}
		if g.pct(40) {
			// A non-equi condition between the two sides.
			t := g.comparable(sc)
			if ls, rs := sc.ofType(t), rsc.ofType(t); len(ls) > 0 && len(rs) > 0 {
				j.extra = append(j.extra, fmt.Sprintf("%s %s %s", pick(g.r, ls).sql, pick(g.r, []string{"<>", "<", "<=", ">", ">="}), pick(g.r, rs).sql))
			}
		}
		if g.pct(25) {
			j.extra = append(j.extra, g.pred(all, 1).sql)
		}
		s.joins = append(s.joins, j)
		sc = all
	}
	return sc
}

// where draws WHERE conjuncts, sometimes an IN or scalar subquery.
func (g *gen) where(sc *scope, s *selectQ) {
	if g.pct(50) {
		s.where = append(s.where, g.pred(sc, 2).sql)
		if g.pct(25) {
			s.where = append(s.where, g.pred(sc, 1).sql)
		}
	}
	if g.pct(20) {
		if c := g.subqueryConjunct(sc); c != "" {
			s.where = append(s.where, c)
		}
	}
}

// subqueryConjunct draws `x IN (SELECT y …)`, `[NOT] EXISTS (…)` or
// `x op (SELECT agg(y) …)`, uncorrelated or correlated by equalities with
// the outer row: the shapes a view lowers to joins.
func (g *gen) subqueryConjunct(sc *scope) string {
	inner := fromItem{rel: pick(g.r, g.rels), alias: g.alias()}
	isc := &scope{cols: inner.scope()}
	var conds []string
	if g.pct(50) {
		conds = append(conds, g.pred(isc, 1).sql)
	}
	if g.pct(50) {
		conds = append(conds, g.correlation(sc, isc, "=")...)
	}
	exists := len(conds) > 0 && g.pct(20)
	if exists && g.pct(40) {
		conds = append(conds, g.correlation(sc, isc, pick(g.r, []string{"<", "<>", ">="}))...)
	}
	where := ""
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	if exists {
		return fmt.Sprintf("%sEXISTS (SELECT 1 FROM %s%s)", pick(g.r, []string{"", "NOT "}), inner.sql(), where)
	}
	if g.pct(50) {
		var ys []ex
		for _, c := range isc.cols {
			if c.typ != tOpaque && c.typ != tBool && len(sc.ofType(c.typ)) > 0 {
				ys = append(ys, c)
			}
		}
		if len(ys) == 0 {
			return ""
		}
		y := pick(g.r, ys)
		x := pick(g.r, sc.ofType(y.typ))
		if y.typ != tNum && y.typ != tTs && g.pct(30) {
			x = g.expr(sc, y.typ, 1)
		}
		return fmt.Sprintf("%s IN (SELECT %s FROM %s%s)", x.sql, y.sql, inner.sql(), where)
	}
	var ys []ex
	for _, c := range isc.cols {
		if c.typ == tInt4 || c.typ == tInt8 || c.typ == tNum {
			ys = append(ys, c)
		}
	}
	if len(ys) == 0 {
		return ""
	}
	y := pick(g.r, ys)
	// x has the aggregate's type, and min/max of a numeric(10,2) drop the
	// typmod: the view refuses a subquery the comparison would cast.
	fn := pick(g.r, []string{"avg", "avg", "min", "max", "sum", "count"})
	agg, t := fmt.Sprintf("%s(%s)", fn, y.sql), y.typ
	switch {
	case fn == "avg", fn == "sum" && y.typ == tInt8:
		t = tNum
	case fn == "count", fn == "sum" && y.typ == tInt4:
		t = tInt8
	case y.typ == tNum:
		agg += "::numeric"
	}
	return fmt.Sprintf("%s %s (SELECT %s FROM %s%s)", g.expr(sc, t, 1).sql, pick(g.r, cmpOps), agg, inner.sql(), where)
}

// correlation draws one or two comparisons op between an inner and an
// outer column of one type.
func (g *gen) correlation(outer, inner *scope, op string) []string {
	var out []string
	for range 1 + g.r.Intn(2) {
		ic := pick(g.r, inner.cols)
		if ic.typ == tOpaque || ic.typ == tNum {
			continue
		}
		if ocs := outer.ofType(ic.typ); len(ocs) > 0 {
			out = append(out, ic.sql+" "+op+" "+pick(g.r, ocs).sql)
		}
	}
	return out
}

// plainSelect draws a non-grouped select, with the given output types when
// sh.types is set.
func (g *gen) plainSelect(sh shape) *selectQ {
	s := &selectQ{}
	sc := g.from(s)
	types := sh.types
	if types == nil {
		for range 1 + g.r.Intn(4) {
			types = append(types, pick(g.r, exprTypes))
		}
		if opaque := sc.ofType(tOpaque); len(opaque) > 0 && !sh.fixed && g.pct(30) {
			s.items = append(s.items, pick(g.r, opaque))
		}
		if times := sc.ofType(tTs); len(times) > 0 && g.pct(50) {
			s.items = append(s.items, pick(g.r, times))
		}
	}
	var computed []ex
	for _, t := range types {
		var e ex
		if cs := sc.ofType(t); len(cs) > 0 && g.pct(40) {
			e = pick(g.r, cs)
		} else {
			e = g.expr(sc, t, 2)
			computed = append(computed, e)
		}
		s.items = append(s.items, g.item(e, sh))
	}
	g.where(sc, s)
	if len(computed) > 0 && g.pct(20) {
		// The WHERE computes a select item again: the planner computes it
		// once, before the filter.
		s.where = append(s.where, "("+pick(g.r, computed).sql+") IS NOT NULL")
	}
	return s
}

// columnRef matches a qualified column reference.
var columnRef = regexp.MustCompile(`\bx\d+\.`)

// groupedSelect draws a select with aggregates, grouped by 0-2 keys.
func (g *gen) groupedSelect(sh shape) *selectQ {
	s := &selectQ{}
	sc := g.from(s)
	g.where(sc, s)
	g.group(sc, s, sh)
	return s
}

// closingSelect draws what EMIT ON WINDOW CLOSE accepts: a GROUP BY on
// window_end (the first item) of a window over the WATERMARK FOR column
// of stream rel, filtered without subqueries, maybe grouped by more keys.
func (g *gen) closingSelect(rel *relation) *selectQ {
	s := &selectQ{from: fromItem{rel: rel, alias: g.alias()}}
	g.window(&s.from, rel.eventTime)
	sc := &scope{cols: s.from.scope()}
	if g.pct(40) {
		s.where = append(s.where, g.pred(sc, 2).sql)
	}
	end := ex{sql: s.from.alias + ".window_end", typ: tTs}
	s.groupBy, s.items = []string{end.sql}, []ex{end}
	g.group(sc, s, shape{})
	return s
}

// group adds a GROUP BY of 0-2 keys (after those s has), aggregates and
// maybe a HAVING to s.
func (g *gen) group(sc *scope, s *selectQ, sh shape) {
	var keys []ex
	for _, c := range sc.cols {
		if c.typ != tOpaque {
			keys = append(keys, c)
		}
	}
	// A windowed query mostly groups by its windows.
	if ws := sc.ofType(tTs); len(ws) > 0 && g.pct(60) {
		k := pick(g.r, ws)
		s.groupBy = append(s.groupBy, k.sql)
		s.items = append(s.items, k)
	}
	for range g.r.Intn(3) {
		if len(keys) == 0 {
			break
		}
		k := fixed(pick(g.r, keys))
		// A key expression must use a column: GROUP BY 'b' is an error.
		if k.typ != tTs && g.pct(25) { // times are not computed on
			if e := fixed(g.expr(sc, k.typ, 1)); columnRef.MatchString(e.sql) {
				k = e
			}
		}
		s.groupBy = append(s.groupBy, k.sql)
		s.items = append(s.items, k)
	}
	for range 1 + g.r.Intn(3) {
		a := g.agg(sc)
		if sh.fixed && a.typ == tOpaque {
			continue
		}
		s.items = append(s.items, g.item(a, sh))
	}
	if len(s.items) == 0 {
		s.items = append(s.items, ex{sql: "count(*)", typ: tInt8})
	}
	if g.pct(30) {
		a := g.agg(sc)
		if a.typ != tOpaque && a.typ != tBool {
			s.having = append(s.having, fmt.Sprintf("%s %s %s", a.sql, pick(g.r, cmpOps), g.lit(a.typ).sql))
		}
	}
}

// view draws a view's defining query over g.rels.
func (g *gen) view() *viewQuery {
	g.nAlias = 0
	q := &viewQuery{}
	var timed []*relation
	for _, rel := range g.rels {
		if rel.eventTime != "" {
			timed = append(timed, rel)
		}
	}
	if len(timed) > 0 && g.pct(20) {
		q.left, q.onClose = g.closingSelect(pick(g.r, timed)), true
		return q
	}
	ordered := g.pct(20)
	sh := shape{fixed: ordered}
	switch k := g.r.Intn(20); {
	case k < 6:
		q.left = g.plainSelect(sh)
	case k < 13:
		q.left = g.groupedSelect(sh)
		// Some grouped selects happen to have their window's end first:
		// EMIT ON WINDOW CLOSE over them is often refused (a join, a
		// window over a table or view, or over a column that is not the
		// stream's WATERMARK FOR), which must be with 0A000.
		if w := q.left.from; w.window != "" && q.left.items[0].sql == w.alias+".window_end" && !ordered && g.pct(50) {
			q.onClose = true
		}
	case k < 16:
		sh.fixed = true
		q.left = g.plainSelect(sh)
		q.left.distinct = true
	default:
		for range 1 + g.r.Intn(3) {
			sh.types = append(sh.types, pick(g.r, exprTypes))
		}
		q.left = g.plainSelect(sh)
		q.right = g.plainSelect(sh)
	}
	if ordered {
		for range q.left.items {
			q.orderBy = append(q.orderBy, pick(g.r, []string{"", " DESC", " NULLS FIRST", " DESC NULLS LAST"}))
		}
		q.limit = pick(g.r, []int{0, 1, 2, 3, 5, 10})
		if g.pct(20) {
			q.offset = 1 + g.r.Intn(3)
		}
		switch {
		case q.right == nil && !q.left.distinct && g.pct(30):
			q.left.distinctOn = 1 + g.r.Intn(min(2, len(q.left.items)))
		case g.pct(30):
			q.partitioned, q.offset, q.numbered = 1+g.r.Intn(min(2, len(q.left.items))), 0, g.pct(50)
			if g.pct(40) {
				q.rankedBy, q.dense = 1+g.r.Intn(len(q.left.items)), g.pct(50)
			}
		case q.left.distinctOn == 0 && g.pct(30):
			// Which rows an OFFSET skips among ties is the engine's
			// choice: none, so that the answer is one.
			q.withTies, q.offset = 1+g.r.Intn(len(q.left.items)), 0
		}
	}
	return q
}

// ---- shrinking ----

func (s *selectQ) clone() *selectQ {
	c := *s
	c.items = append([]ex(nil), s.items...)
	c.joins = append([]join(nil), s.joins...)
	for i := range c.joins {
		c.joins[i].extra = append([]string(nil), s.joins[i].extra...)
	}
	c.where = append([]string(nil), s.where...)
	c.groupBy = append([]string(nil), s.groupBy...)
	c.having = append([]string(nil), s.having...)
	return &c
}

func (q *viewQuery) clone() *viewQuery {
	c := *q
	c.left = q.left.clone()
	if q.right != nil {
		c.right = q.right.clone()
	}
	c.orderBy = append([]string(nil), q.orderBy...)
	if q.orderBy == nil {
		c.orderBy = nil
	}
	return &c
}

// shrinks returns smaller variants of q, each with one thing removed. Some
// are invalid (a dropped join whose columns are still used); CREATE then
// fails and the shrinker moves on.
func (q *viewQuery) shrinks() []*viewQuery {
	var out []*viewQuery
	add := func(f func(c *viewQuery) bool) {
		c := q.clone()
		if f(c) {
			out = append(out, c)
		}
	}
	if q.right != nil {
		add(func(c *viewQuery) bool { c.right = nil; return true })
		add(func(c *viewQuery) bool { c.left, c.right = c.right, nil; return true })
	}
	// Whether the difference needs the windows to close.
	add(func(c *viewQuery) bool { c.onClose = false; return q.onClose })
	if q.orderBy != nil {
		add(func(c *viewQuery) bool {
			c.orderBy, c.limit, c.offset, c.left.distinctOn, c.partitioned, c.numbered, c.rankedBy, c.dense, c.withTies = nil, 0, 0, 0, 0, false, 0, false, 0
			return true
		})
		add(func(c *viewQuery) bool {
			c.partitioned, c.numbered, c.rankedBy, c.dense = 0, false, 0, false
			return q.partitioned > 0
		})
		add(func(c *viewQuery) bool { c.rankedBy, c.dense = 0, false; return q.rankedBy > 0 })
		add(func(c *viewQuery) bool { c.dense = false; return q.dense })
		add(func(c *viewQuery) bool { c.withTies = 0; return q.withTies > 0 })
		add(func(c *viewQuery) bool { c.numbered = false; return q.numbered })
		add(func(c *viewQuery) bool { c.offset = 0; return q.offset > 0 })
	}
	sides := []func(c *viewQuery) *selectQ{func(c *viewQuery) *selectQ { return c.left }}
	if q.right != nil {
		sides = append(sides, func(c *viewQuery) *selectQ { return c.right })
	}
	for _, side := range sides {
		s := side(q)
		add(func(c *viewQuery) bool { side(c).distinct = false; return s.distinct })
		add(func(c *viewQuery) bool { side(c).distinctOn = 0; return s.distinctOn > 0 })
		for i := range s.where {
			add(func(c *viewQuery) bool { cs := side(c); cs.where = del(cs.where, i); return true })
		}
		for i := range s.having {
			add(func(c *viewQuery) bool { cs := side(c); cs.having = del(cs.having, i); return true })
		}
		for i, j := range s.joins {
			add(func(c *viewQuery) bool { cs := side(c); cs.joins = del(cs.joins, i); return true })
			add(func(c *viewQuery) bool { side(c).joins[i].kind = "JOIN"; return j.kind != "JOIN" })
			for k := range j.extra {
				add(func(c *viewQuery) bool { cj := &side(c).joins[i]; cj.extra = del(cj.extra, k); return true })
			}
		}
		for i, k := range s.groupBy {
			add(func(c *viewQuery) bool {
				cs := side(c)
				cs.groupBy = del(cs.groupBy, i)
				for n, it := range cs.items {
					if it.sql == k {
						cs.items = del(cs.items, n)
						if c.orderBy != nil {
							c.orderBy = del(c.orderBy, n)
						}
						break
					}
				}
				return len(cs.items) > 0
			})
		}
	}
	if len(q.left.items) > 1 {
		for i, it := range q.left.items {
			add(func(c *viewQuery) bool {
				if q.onClose && strings.HasSuffix(it.sql, ".window_end") {
					return false // the check filters on it
				}
				c.left.items = del(c.left.items, i)
				if c.right != nil {
					c.right.items = del(c.right.items, i)
				}
				if c.orderBy != nil {
					c.orderBy = del(c.orderBy, i)
				}
				return true
			})
		}
	}
	return out
}

func del[T any](s []T, i int) []T {
	out := append([]T(nil), s[:i]...)
	return append(out, s[i+1:]...)
}
