package dataflow

import (
	"fmt"
	"math"
	"math/rand"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/apd/v3"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/exec"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/internal/randtest"
	"github.com/sluice-db/sluice/internal/sched"
	"github.com/sluice-db/sluice/types"
)

// The datadriven "aggregate" operator:
//
//	name = aggregate <input> keys=<cols> aggs=<call>,<call>...
//
// keys is a comma-separated list of input columns (empty or absent: the
// global aggregate). A call is colon-separated: the function name
// (count_star, count, sum, avg, min, max, bool_and, bool_or, string_agg,
// array_agg), its argument columns, then any of
//
//	distinct        the DISTINCT form
//	filter=N        FILTER (WHERE column N)
//	order=N[d][f|l][+...]  ORDER BY column N, d for DESC, f/l for NULLS
//	                FIRST/LAST (default as in PostgreSQL: last for ASC,
//	                first for DESC); + separates sort keys
//
// e.g. aggs=count_star,sum:1,count:1:distinct,string_agg:2:3:order=1d.
// Result types are the planner's (exec.AggResultType).
func init() {
	testOps["aggregate"] = func(in [][]*types.T, args map[string]string) (OpSpec, error) {
		aggs, err := parseAggCalls(args["aggs"], in[0])
		if err != nil {
			return nil, err
		}
		// input=append-only: the input never retracts (Aggregate.AppendOnly).
		a := &Aggregate{Keys: ints(args["keys"]), Aggs: aggs, InTypes: in[0], AppendOnly: args["input"] == "append-only"}
		// window=K: Keys[K] is window_end (window-start=SIZE: window_start
		// of windows of that size); emit=close: EMIT ON WINDOW CLOSE.
		if k, ok := args["window"]; ok {
			a.Window = &AggWindow{OnClose: args["emit"] == "close"}
			a.Window.Key, _ = strconv.Atoi(k)
			if size, ok := args["window-start"]; ok {
				d, err := time.ParseDuration(size)
				if err != nil {
					return nil, err
				}
				a.Window.EndOffset = d.Microseconds()
			}
		}
		return a, nil
	}
}

func parseAggCalls(spec string, in []*types.T) ([]AggCall, error) {
	var calls []AggCall
	for _, s := range strings.Split(spec, ",") {
		if s == "" {
			continue
		}
		parts := strings.Split(s, ":")
		call := AggCall{Func: parts[0], Filter: -1}
		for _, p := range parts[1:] {
			switch {
			case p == "distinct":
				call.Distinct = true
			case strings.HasPrefix(p, "filter="):
				call.Filter, _ = strconv.Atoi(strings.TrimPrefix(p, "filter="))
			case strings.HasPrefix(p, "order="):
				for _, o := range strings.Split(strings.TrimPrefix(p, "order="), "+") {
					var k SortKey
					digits := strings.TrimRight(o, "dfl")
					k.Col, _ = strconv.Atoi(digits)
					flags := o[len(digits):]
					k.Desc = strings.Contains(flags, "d")
					k.NullsFirst = k.Desc
					if strings.Contains(flags, "f") {
						k.NullsFirst = true
					}
					if strings.Contains(flags, "l") {
						k.NullsFirst = false
					}
					call.OrderBy = append(call.OrderBy, k)
				}
			default:
				col, err := strconv.Atoi(p)
				if err != nil {
					return nil, fmt.Errorf("bad aggregate call %q", s)
				}
				call.Args = append(call.Args, col)
				call.ArgTypes = append(call.ArgTypes, in[col])
			}
		}
		call.Typ = exec.AggResultType(exec.AggKind(call.Func), call.ArgTypes)
		if call.Typ == nil {
			return nil, fmt.Errorf("no aggregate %s(%v)", call.Func, call.ArgTypes)
		}
		calls = append(calls, call)
	}
	return calls, nil
}

// randomColumns are the input columns of TestAggregateRandom: a key, an
// integer, a numeric of mixed scales, a bool, a string, a delimiter and a
// float with infinities and NaN.
var randomColumns = []*types.T{types.Int8, types.Int8, types.Numeric, types.Bool, types.Text, types.Text, types.Float8}

const randomCalls = "count_star,count:1,sum:1,avg:1,min:1,max:1,count:1:distinct,sum:1:distinct," +
	"sum:2,avg:2,min:2,max:4,bool_and:3,bool_or:3,string_agg:4:5,string_agg:4:5:order=1d," +
	"array_agg:1,array_agg:2:order=4+1d,sum:1:filter=3,count_star:filter=3,sum:6,avg:6," +
	"array_agg:4:distinct,string_agg:4:5:distinct:filter=3"

// TestAggregateRandom applies random change batches (inserts, deletes,
// multiplicities, rows inserted and deleted within one epoch) and checks,
// after every epoch, that the operator's accumulated output equals the
// aggregates recomputed from scratch over the current input.
// SLUICE_SEED=<n> replays a run.
func TestAggregateRandom(t *testing.T) {
	rng, calls := randomAggregateSetup(t)
	for _, keys := range [][]int{{0}, {}, {0, 3}, {1, 0}} {
		for _, workers := range []int{1, 3} {
			t.Run(fmt.Sprintf("keys=%v/workers=%d", keys, workers), func(t *testing.T) {
				runRandomAggregate(t, rng, &Aggregate{Keys: keys, Aggs: calls, InTypes: randomColumns}, workers)
			})
		}
	}
}

// randomAggregateSetup returns the random tests' source, seeded (and the
// seed logged) from SLUICE_SEED or at random, and their aggregate calls.
func randomAggregateSetup(t *testing.T) (*rand.Rand, []AggCall) {
	seed := randtest.Seed(t)
	calls, err := parseAggCalls(randomCalls, randomColumns)
	if err != nil {
		t.Fatal(err)
	}
	return rand.New(rand.NewSource(seed)), calls
}

// Workers taking turns at an ingest gate that lets one of them run at a
// time (queries being served on two Ps) exchange rows and barriers as
// freely: the aggregates come out the same, and no epoch waits forever.
func TestAggregateRandomGated(t *testing.T) {
	rng, calls := randomAggregateSetup(t)
	gate := sched.NewGate(2)
	serving := make(chan struct{})
	defer close(serving)
	go func() {
		// Queries at a dashboard's rate, all along.
		for {
			select {
			case <-serving:
				return
			case <-time.After(time.Millisecond):
				gate.Query()
			}
		}
	}()
	for range sched.ServingQueries {
		gate.Query()
	}
	runRandomAggregate(t, rng, &Aggregate{Keys: []int{0}, Aggs: calls, InTypes: randomColumns}, 3, IngestGate(gate))
}

func runRandomAggregate(t *testing.T, rng *rand.Rand, spec *Aggregate, workers int, opts ...Option) {
	g := &Graph{}
	src := g.Add(&Source{Name: "t", Typs: spec.InTypes})
	g.Add(spec, src)
	df, err := newDataflow(g, &expr.EvalCtx{Cfg: types.DefaultConfig()}, append([]Option{Workers(workers), ChunkSize(1 + rng.Intn(5))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer df.Close()
	current := map[string]*randomRow{} // the input multiset
	view := map[string]int64{}         // the output accumulated so far
	for epoch := range 40 {
		changes := randomChanges(rng, current)
		c := NewChanges(spec.InTypes, len(changes))
		for _, ch := range changes {
			c.AppendRow(ch.row.vals)
			c.Diffs = append(c.Diffs, ch.diff)
		}
		outs, _, err := df.Step(map[int][]*coldata.Chunk{src: {c}}, nil)
		out := stepOutput(df, outs)
		if err != nil {
			t.Fatalf("epoch %d: %v", epoch, err)
		}
		for i := 0; i < out.Len; i++ {
			row := rowText(spec.Types(), out.Row(i))
			if view[row] += out.Diffs[i]; view[row] == 0 {
				delete(view, row)
			}
		}
		want := referenceAggregate(spec, current)
		if !mapsEqual(view, want) {
			t.Fatalf("epoch %d: got\n%s\nwant\n%s", epoch, formatView(view), formatView(want))
		}
	}
}

type randomRow struct {
	vals []types.Datum
	n    int64
}

type randomChange struct {
	row  *randomRow
	diff int64
}

// randomChanges draws one epoch of changes and applies them to current.
func randomChanges(rng *rand.Rand, current map[string]*randomRow) []randomChange {
	var changes []randomChange
	for range rng.Intn(12) {
		start := len(changes)
		switch r := rng.Intn(10); {
		case r < 5 || len(current) == 0: // insert, sometimes several copies
			diff := int64(1)
			if rng.Intn(4) == 0 {
				diff = int64(2 + rng.Intn(3))
			}
			changes = append(changes, randomChange{&randomRow{vals: randomValues(rng)}, diff})
		case r < 8: // delete some copies of a present row
			row := pickRow(rng, current)
			changes = append(changes, randomChange{row, -(1 + rng.Int63n(row.n))})
		default: // a row that comes and goes within the epoch
			row := &randomRow{vals: randomValues(rng)}
			changes = append(changes, randomChange{row, 1}, randomChange{row, -1})
		}
		for _, ch := range changes[start:] {
			applyChange(current, ch)
		}
	}
	// Any order of the epoch's changes must give the same result; deliver
	// them shuffled so deletes may precede their inserts.
	rng.Shuffle(len(changes), func(i, j int) { changes[i], changes[j] = changes[j], changes[i] })
	return changes
}

func applyChange(current map[string]*randomRow, ch randomChange) {
	key := rowText(randomColumns, ch.row.vals)
	r, ok := current[key]
	if !ok {
		r = &randomRow{vals: ch.row.vals}
		current[key] = r
	}
	if r.n += ch.diff; r.n == 0 {
		delete(current, key)
	}
}

func pickRow(rng *rand.Rand, current map[string]*randomRow) *randomRow {
	keys := make([]string, 0, len(current))
	for k := range current {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return current[keys[rng.Intn(len(keys))]]
}

func randomValues(rng *rand.Rand) []types.Datum {
	pick := func(vals ...types.Datum) types.Datum { return vals[rng.Intn(len(vals))] }
	num := func(s string) types.Datum { d, _, _ := apd.NewFromString(s); return d }
	x := pick(int64(-3), int64(-1), int64(0), int64(2), int64(5), nil)
	if rng.Intn(8) == 0 { // near the int64 limits, to overflow int64 sums
		x = pick(int64(math.MaxInt64), int64(math.MaxInt64-1), int64(math.MinInt64))
	}
	return []types.Datum{
		pick(int64(0), int64(1), int64(2), nil),
		x,
		pick(num("1.5"), num("2"), num("0.25"), num("-3.10"), num("7.000"), nil),
		pick(true, false, nil),
		pick("a", "b", "c", nil),
		pick(",", ";", nil),
		pick(1.0, -2.0, 4.0, math.Inf(1), math.Inf(-1), math.NaN(), nil),
	}
}

// referenceAggregate computes the aggregate over the input multiset from
// scratch, as rows of text with count 1.
func referenceAggregate(spec *Aggregate, current map[string]*randomRow) map[string]int64 {
	groups := map[string][][]types.Datum{}
	var order []string
	for _, r := range current {
		var key []byte
		for _, k := range spec.Keys {
			key = types.AppendKey(key, spec.InTypes[k], r.vals[k])
		}
		if _, ok := groups[string(key)]; !ok {
			order = append(order, string(key))
		}
		for range r.n {
			groups[string(key)] = append(groups[string(key)], r.vals)
		}
	}
	if len(spec.Keys) == 0 && len(groups) == 0 {
		groups[""], order = nil, []string{""}
	}
	out := map[string]int64{}
	for _, key := range order {
		rows := groups[key]
		var res []types.Datum
		for _, k := range spec.Keys {
			res = append(res, rows[0][k])
		}
		for i := range spec.Aggs {
			res = append(res, referenceCall(&spec.Aggs[i], spec.InTypes, rows))
		}
		out[rowText(spec.Types(), res)]++
	}
	return out
}

func referenceCall(call *AggCall, in []*types.T, rows [][]types.Datum) types.Datum {
	if call.Filter >= 0 {
		rows = slices.DeleteFunc(slices.Clone(rows), func(r []types.Datum) bool { return r[call.Filter] != true })
	}
	// Sort by the call's order, then by the values of all arguments, which
	// is the operator's deterministic order for ties.
	sorted := slices.Clone(rows)
	slices.SortStableFunc(sorted, func(a, b []types.Datum) int {
		for _, o := range call.OrderBy {
			if c := compareNullable(in[o.Col], a[o.Col], b[o.Col], o.Desc, o.NullsFirst); c != 0 {
				return c
			}
		}
		for i, col := range call.Args {
			// The value sorts NULLS LAST, a string_agg delimiter NULLS FIRST.
			if c := compareNullable(in[col], a[col], b[col], false, i > 0); c != 0 {
				return c
			}
		}
		return 0
	})
	if call.Distinct {
		var kept [][]types.Datum
		seen := map[string]bool{}
		for _, r := range sorted {
			var key []byte
			for _, col := range call.Args {
				key = types.AppendKey(key, in[col], r[col])
			}
			if !seen[string(key)] {
				seen[string(key)] = true
				kept = append(kept, r)
			}
		}
		sorted = kept
	}
	var vals []types.Datum
	for _, r := range sorted {
		if call.Func == "count_star" || call.Func == "array_agg" || r[call.Args[0]] != nil {
			vals = append(vals, r)
		}
	}
	arg := func(r types.Datum, i int) types.Datum { return r.([]types.Datum)[call.Args[i]] }
	switch call.Func {
	case "count_star", "count":
		return int64(len(vals))
	}
	if len(vals) == 0 {
		return nil
	}
	switch call.Func {
	case "sum", "avg":
		var sum apd.Decimal
		var fsum float64
		for _, r := range vals {
			switch x := arg(r, 0).(type) {
			case int64:
				_, _ = expr.DecimalCtx.Add(&sum, &sum, apd.New(x, 0))
			case *apd.Decimal:
				_, _ = expr.DecimalCtx.Add(&sum, &sum, x)
			case float64:
				fsum += x
			}
		}
		if call.ArgTypes[0].Family == types.FloatFamily {
			if call.Func == "avg" {
				return fsum / float64(len(vals))
			}
			return fsum
		}
		if call.Func == "avg" {
			d, _ := expr.DecimalDiv(&sum, apd.New(int64(len(vals)), 0))
			return d
		}
		if call.Typ.Phys() == types.PhysInt {
			n, _ := sum.Int64()
			return n
		}
		return &sum
	case "min", "max":
		best := arg(vals[0], 0)
		for _, r := range vals[1:] {
			c := types.Compare(call.ArgTypes[0], arg(r, 0), best)
			if call.Func == "min" && c < 0 || call.Func == "max" && c > 0 {
				best = arg(r, 0)
			}
		}
		return best
	case "bool_and", "bool_or":
		res := call.Func == "bool_and"
		for _, r := range vals {
			if call.Func == "bool_and" {
				res = res && arg(r, 0).(bool)
			} else {
				res = res || arg(r, 0).(bool)
			}
		}
		return res
	case "string_agg":
		var sb strings.Builder
		for i, r := range vals {
			if d := arg(r, 1); i > 0 && d != nil {
				sb.WriteString(d.(string))
			}
			sb.WriteString(arg(r, 0).(string))
		}
		return sb.String()
	case "array_agg":
		a := &types.Array{Elem: call.ArgTypes[0]}
		for _, r := range vals {
			a.Elems = append(a.Elems, arg(r, 0))
		}
		return a
	}
	panic("no reference for " + call.Func)
}

func compareNullable(t *types.T, a, b types.Datum, desc, nullsFirst bool) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return map[bool]int{true: -1, false: 1}[nullsFirst]
	case b == nil:
		return map[bool]int{true: 1, false: -1}[nullsFirst]
	}
	c := types.Compare(t, a, b)
	if desc {
		return -c
	}
	return c
}

func mapsEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func formatView(m map[string]int64) string {
	var lines []string
	for k, v := range m {
		lines = append(lines, fmt.Sprintf("%+d %s", v, k))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// benchChunks returns n chunks of 1024 rows (key int8 in [0, keys), value
// int8).
func benchChunks(n, keys int) []*coldata.Chunk {
	rng := rand.New(rand.NewSource(1))
	chunks := make([]*coldata.Chunk, n)
	for i := range chunks {
		c := NewChanges([]*types.T{types.Int8, types.Int8}, coldata.DefaultChunkSize)
		for range coldata.DefaultChunkSize {
			c.Cols[0].Ints = append(c.Cols[0].Ints, rng.Int63n(int64(keys)))
			c.Cols[1].Ints = append(c.Cols[1].Ints, rng.Int63n(1000))
			c.Diffs = append(c.Diffs, 1)
		}
		c.Len = coldata.DefaultChunkSize
		chunks[i] = c
	}
	return chunks
}

func benchAggregateSpec() *Aggregate {
	in := []*types.T{types.Int8, types.Int8}
	calls, err := parseAggCalls("sum:1,count:1", in)
	if err != nil {
		panic(err)
	}
	return &Aggregate{Keys: []int{0}, Aggs: calls, InTypes: in}
}

// BenchmarkAggregate measures GROUP BY key (10 000 keys) with sum and count
// on one worker over 1024-row chunks, an epoch every epochChunks chunks:
// "operator" pushes into the operator directly, "pipeline" runs
// filter -> project -> aggregate through the dataflow runtime.
func BenchmarkAggregate(b *testing.B) {
	const keys = 10000
	for _, epochChunks := range []int{16, 128, 1024} {
		chunks := benchChunks(epochChunks, keys)
		rows := float64(epochChunks * coldata.DefaultChunkSize)
		b.Run(fmt.Sprintf("operator/epoch=%d", epochChunks), func(b *testing.B) {
			op, err := benchAggregateSpec().New(benchEnv(b, 0))
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				pushEpoch(b, op, chunks)
			}
			b.ReportMetric(rows*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
		b.Run(fmt.Sprintf("pipeline/epoch=%d", epochChunks), func(b *testing.B) {
			in := []*types.T{types.Int8, types.Int8}
			g := &Graph{}
			src := g.Add(&Source{Name: "t", Typs: in})
			f := g.Add(&Filter{Typs: in, Cond: &intGreater{col: 1, val: -1}}, src)
			p := g.Add(&Project{Exprs: []expr.Expr{&expr.ColRef{Idx: 0, Typ: types.Int8}, &expr.ColRef{Idx: 1, Typ: types.Int8}}}, f)
			g.Add(benchAggregateSpec(), p)
			df, err := newDataflow(g, &expr.EvalCtx{Cfg: types.DefaultConfig()}, Workers(1))
			if err != nil {
				b.Fatal(err)
			}
			defer df.Close()
			for b.Loop() {
				if _, _, err := df.Step(map[int][]*coldata.Chunk{src: chunks}, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(rows*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkAggregateTextKeys measures GROUP BY a text key (an encoded key,
// not a packed one) with sum and count on one worker, pushing 1024-row
// chunks of keys drawn from keys distinct ones: few (hot groups), and a
// million (most rows adding a group, then finding it), one epoch.
func BenchmarkAggregateTextKeys(b *testing.B) {
	in := []*types.T{types.Text, types.Int8}
	calls, err := parseAggCalls("sum:1,count:1", in)
	if err != nil {
		b.Fatal(err)
	}
	for _, keys := range []int{1000, 1 << 20} {
		rng := rand.New(rand.NewSource(1))
		var chunks []*coldata.Chunk
		for range max(2*keys, 1<<16) / coldata.DefaultChunkSize {
			c := NewChanges(in, coldata.DefaultChunkSize)
			for range coldata.DefaultChunkSize {
				c.Cols[0].Bytes = append(c.Cols[0].Bytes, fmt.Sprintf("name-%d", rng.Int63n(int64(keys))))
				c.Cols[1].Ints = append(c.Cols[1].Ints, rng.Int63n(1000))
				c.Diffs = append(c.Diffs, 1)
			}
			c.Len = coldata.DefaultChunkSize
			chunks = append(chunks, c)
		}
		rows := float64(len(chunks) * coldata.DefaultChunkSize)
		b.Run(fmt.Sprintf("keys=%d", keys), func(b *testing.B) {
			for b.Loop() {
				op, err := (&Aggregate{Keys: []int{0}, Aggs: calls, InTypes: in}).New(benchEnv(b, 0))
				if err != nil {
					b.Fatal(err)
				}
				pushEpoch(b, op, chunks)
			}
			b.ReportMetric(rows*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkAggregateState reports the heap the operator keeps per group for
// GROUP BY an int8 key with sum and count, over 100 000 keys.
func BenchmarkAggregateState(b *testing.B) {
	const keys = 100000
	c := NewChanges([]*types.T{types.Int8, types.Int8}, keys)
	for i := range keys {
		c.Cols[0].Ints = append(c.Cols[0].Ints, int64(i))
		c.Cols[1].Ints = append(c.Cols[1].Ints, int64(i))
		c.Diffs = append(c.Diffs, 1)
	}
	c.Len = keys
	discard := func(*coldata.Chunk) error { return nil }
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		op, err := benchAggregateSpec().New(&Env{Workers: 1, Eval: &expr.EvalCtx{Cfg: types.DefaultConfig()}})
		if err != nil {
			b.Fatal(err)
		}
		for lo := 0; lo < keys; lo += coldata.DefaultChunkSize {
			if err := op.Push(0, c.Slice(lo, min(lo+coldata.DefaultChunkSize, keys)), discard); err != nil {
				b.Fatal(err)
			}
		}
		if err := op.Flush(discard); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/keys, "bytes/group")
		runtime.KeepAlive(op)
	}
}

// TestMultiset checks the multiset against a map under random adds and
// removes of keys that share long prefixes and differ in zero bytes, in
// sorted, reversed and random order, so that blocks split and empty.
func TestMultiset(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, order := range []string{"ascending", "descending", "random"} {
		var m multiset
		want := map[string]int64{}
		for i := range 5000 {
			x := i
			switch order {
			case "descending":
				x = 5000 - i
			case "random":
				x = rng.Intn(3000)
			}
			// Keys of 15 to 19 bytes: equal 16-byte prefixes are common.
			key := []byte("common-prefix-" + strconv.Itoa(x))
			if x%5 == 0 {
				key = append(key, 0)
			}
			d := int64(1 + rng.Intn(3))
			if order == "random" && rng.Intn(3) == 0 {
				d = -d
			}
			before, after := m.add(key, d, func() any { return string(key) })
			if before != want[string(key)] || after != before+d {
				t.Fatalf("%s: add(%q, %d) = %d, %d; want %d, %d", order, key, d, before, after, want[string(key)], want[string(key)]+d)
			}
			if want[string(key)] = after; after == 0 {
				delete(want, string(key))
			}
			// Remove a random present key now and then, to empty blocks.
			if rng.Intn(4) == 0 {
				for k, n := range want {
					m.add([]byte(k), -n, nil)
					delete(want, k)
					break
				}
			}
		}
		if len(m.blocks) < 3 {
			t.Fatalf("%s: %d blocks; the test should split some", order, len(m.blocks))
		}
		var got []string
		negative := 0
		m.all(func(e *multisetEntry) {
			if e.val.(string) != e.key || want[e.key] != e.n {
				t.Fatalf("%s: entry %q = (%q, %d), want count %d", order, e.key, e.val, e.n, want[e.key])
			}
			if e.n < 0 {
				negative++
			}
			got = append(got, e.key)
		})
		if !slices.IsSorted(got) || len(got) != len(want) || negative != m.negative {
			t.Fatalf("%s: %d entries (sorted: %v, %d negative), want %d (%d negative)",
				order, len(got), slices.IsSorted(got), m.negative, len(want), negative)
		}
		// Removing everything, in key order, empties every block.
		for _, k := range got {
			m.add([]byte(k), -want[k], nil)
		}
		if len(m.blocks) != 0 || m.negative != 0 {
			t.Fatalf("%s: %d blocks and %d negative entries left", order, len(m.blocks), m.negative)
		}
	}
}

// TestAggregateScaleChange checks that a result changing only in how it
// prints (sum 2.00 becoming 2 when the last value of scale 2 goes) is
// emitted: equal is not identical. It runs the operator alone, then a
// dataflow whose output is a projection of the aggregate, which Step must
// not consolidate (that would cancel -2.00 against +2).
func TestAggregateScaleChange(t *testing.T) {
	t.Run("operator", testAggregateScaleChangeOperator)
	t.Run("dataflow", testAggregateScaleChangeDataflow)
}

var scaleChangeSteps = []struct {
	rows []string
	want string
}{
	{[]string{"+1.00", "+1"}, "+1 2.00"},
	{[]string{"-1.00", "+1.00"}, ""},
	{[]string{"-1.00", "+1"}, "-1 2.00, +1 2"},
}

// scaleChangeChunk builds a change chunk of numerics from "+1.00"-style rows.
func scaleChangeChunk(t *testing.T, rows []string) *coldata.Chunk {
	c := NewChanges([]*types.T{types.Numeric}, len(rows))
	for _, r := range rows {
		d, _, err := apd.NewFromString(r[1:])
		if err != nil {
			t.Fatal(err)
		}
		c.AppendRow([]types.Datum{d})
		c.Diffs = append(c.Diffs, map[byte]int64{'+': 1, '-': -1}[r[0]])
	}
	return c
}

func changesText(typs []*types.T, c *coldata.Chunk) []string {
	var out []string
	for i := 0; i < c.Len; i++ {
		out = append(out, fmt.Sprintf("%+d %s", c.Diffs[i], rowText(typs, c.Row(i))))
	}
	return out
}

func testAggregateScaleChangeDataflow(t *testing.T) {
	in := []*types.T{types.Numeric}
	calls, err := parseAggCalls("sum:0", in)
	if err != nil {
		t.Fatal(err)
	}
	g := &Graph{}
	src := g.Add(&Source{Name: "t", Typs: in})
	agg := g.Add(&Aggregate{Aggs: calls, InTypes: in}, src)
	g.Add(&Project{Exprs: []expr.Expr{&expr.ColRef{Idx: 0, Typ: types.Numeric}}}, agg)
	df, err := newDataflow(g, &expr.EvalCtx{Cfg: types.DefaultConfig()}, Workers(2))
	if err != nil {
		t.Fatal(err)
	}
	defer df.Close()
	for _, tc := range scaleChangeSteps {
		outs, _, err := df.Step(map[int][]*coldata.Chunk{src: {scaleChangeChunk(t, tc.rows)}}, nil)
		out := stepOutput(df, outs)
		if err != nil {
			t.Fatal(err)
		}
		if s := strings.Join(changesText(in, out), ", "); s != tc.want {
			t.Fatalf("%v: got %q, want %q", tc.rows, s, tc.want)
		}
	}
}

func testAggregateScaleChangeOperator(t *testing.T) {
	in := []*types.T{types.Numeric}
	calls, err := parseAggCalls("sum:0", in)
	if err != nil {
		t.Fatal(err)
	}
	op, err := (&Aggregate{Aggs: calls, InTypes: in}).New(&Env{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range scaleChangeSteps {
		var out []string
		emit := func(c *coldata.Chunk) error {
			out = append(out, changesText(in, c)...)
			return nil
		}
		if err := op.Push(0, scaleChangeChunk(t, tc.rows), emit); err != nil {
			t.Fatal(err)
		}
		if err := op.Flush(emit); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(out, ", "); got != tc.want {
			t.Fatalf("%v: got %q, want %q", tc.rows, got, tc.want)
		}
	}
}
