package expr

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/cockroachdb/apd/v3"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// bidLikeChunk is n rows of (channel, url, extra, price): the shape of a
// Nexmark bid, whose url and extra strings no channel bucketing reads.
func bidLikeChunk(n int) *coldata.Chunk {
	ch := coldata.NewChunk([]*types.T{types.Text, types.Text, types.Text, types.Int8}, n)
	channels := []string{"Google", "Facebook", "Baidu", "Apple", "channel-17", "channel-4242"}
	for i := range n {
		var c types.Datum = channels[i%len(channels)]
		if i%7 == 3 {
			c = nil
		}
		ch.AppendRow([]types.Datum{c, fmt.Sprintf("https://www.nexmark.com/%d/item.htm?query=1", i), "extra-padding", int64(i)})
	}
	return ch
}

// channelBucket is CASE WHEN channel = 'Google' OR channel = 'Apple' THEN
// channel WHEN price > 100 THEN 'expensive' ELSE 'other' END over
// bidLikeChunk's columns.
func channelBucket(t testing.TB) *Case {
	r := NewRegistry()
	eq, _, _, err := r.Resolve("=", []*types.T{types.Text, types.Text})
	if err != nil {
		t.Fatal(err)
	}
	gt, _, _, err := r.Resolve(">", []*types.T{types.Int8, types.Int8})
	if err != nil {
		t.Fatal(err)
	}
	channel := &ColRef{Idx: 0, Typ: types.Text, Name: "channel"}
	price := &ColRef{Idx: 3, Typ: types.Int8, Name: "price"}
	text := func(s string) Expr { return &Const{Typ: types.Text, Val: s} }
	return &Case{Typ: types.Text,
		Whens: []When{
			{Cond: &Or{Args: []Expr{
				&Call{Fn: eq, Args: []Expr{channel, text("Google")}, Typ: types.Bool},
				&Call{Fn: eq, Args: []Expr{channel, text("Apple")}, Typ: types.Bool},
			}}, Then: channel},
			{Cond: &Call{Fn: gt, Args: []Expr{price, &Const{Typ: types.Int8, Val: int64(100)}}, Typ: types.Bool}, Then: text("expensive")},
		},
		Else: text("other"),
	}
}

// TestCaseArms checks each row's arm, NULL conditions falling through.
func TestCaseArms(t *testing.T) {
	ch := bidLikeChunk(700)
	v, err := channelBucket(t).Eval(&EvalCtx{Ctx: context.Background(), Cfg: types.DefaultConfig()}, ch)
	if err != nil {
		t.Fatal(err)
	}
	if v.Len() != ch.Len {
		t.Fatalf("CASE returned %d rows for %d", v.Len(), ch.Len)
	}
	for i := range ch.Len {
		c, price := ch.Cols[0].Get(i), ch.Cols[3].Ints[i]
		want := "other"
		switch {
		case c == "Google" || c == "Apple":
			want = c.(string)
		case price > 100:
			want = "expensive"
		}
		if got := v.Get(i); got != want {
			t.Fatalf("row %d (channel %v, price %d): CASE = %v, want %s", i, c, price, got, want)
		}
	}
}

// TestCaseCopiesOnlyReadColumns bounds the bytes one CASE over a wide
// chunk allocates: the rows passed from arm to arm are gathered without the
// two string columns no arm reads (gathering them costs 2 x 16 bytes a row
// per arm on top of the bound).
func TestCaseCopiesOnlyReadColumns(t *testing.T) {
	const n = 4096
	ch := bidLikeChunk(n)
	c := channelBucket(t)
	ctx := &EvalCtx{Ctx: context.Background(), Cfg: types.DefaultConfig(), Scratch: &Scratch{}}
	eval := func() {
		if _, err := c.Eval(ctx, ch); err != nil {
			t.Fatal(err)
		}
	}
	eval()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	const runs = 20
	for range runs {
		eval()
	}
	runtime.ReadMemStats(&m1)
	perRow := float64(m1.TotalAlloc-m0.TotalAlloc) / runs / n
	// What the arms read and produce: conditions (bools), the channel and
	// price gathered for the later arms, the result (strings), and the
	// CASE's bookkeeping (ints). 198 bytes a row when each constant was
	// expanded into a vector and each arm of the IN compared apart; 126
	// when each row's arm and index were kept in vectors of their own and
	// the result appended row by row; 94 when the arms set their rows
	// (now 68: column and constant arms read theirs in place, ungathered;
	// 44 with the rows' lists lent by a Scratch).
	const bound = 50
	if perRow > bound {
		t.Errorf("CASE allocated %.0f bytes a row, want at most %d", perRow, bound)
	}
}

func BenchmarkCaseChannelBucket(b *testing.B) {
	ch := bidLikeChunk(4096)
	c := channelBucket(b)
	ctx := &EvalCtx{Ctx: context.Background(), Cfg: types.DefaultConfig(), Scratch: &Scratch{}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Eval(ctx, ch); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCaseNoRows evaluates a CASE over a chunk without rows (a view
// windowed over an empty view): it read its first row's arm before looking
// at the row count, and panicked.
func TestCaseNoRows(t *testing.T) {
	v, err := channelBucket(t).Eval(&EvalCtx{Ctx: context.Background(), Cfg: types.DefaultConfig()}, bidLikeChunk(0))
	if err != nil {
		t.Fatal(err)
	}
	if v.Len() != 0 {
		t.Fatalf("%d rows from none", v.Len())
	}
}

// TestCaseShapes checks CASE against a row-by-row reading of its arms, for
// the shapes its evaluation treats apart: one arm taking every row (the
// first, a later one, ELSE), rows no arm takes without an ELSE (NULL),
// numeric and constant arms set among each other's rows, bare columns and
// constants read in place.
func TestCaseShapes(t *testing.T) {
	r := NewRegistry()
	gt, _, _, err := r.Resolve(">", []*types.T{types.Int8, types.Int8})
	if err != nil {
		t.Fatal(err)
	}
	price := &ColRef{Idx: 3, Typ: types.Int8, Name: "price"}
	above := func(x int64) Expr {
		return &Call{Fn: gt, Args: []Expr{price, &Const{Typ: types.Int8, Val: x}}, Typ: types.Bool}
	}
	num := func(s string) *Const {
		d, _, err := apd.NewFromString(s)
		if err != nil {
			t.Fatal(err)
		}
		return &Const{Typ: types.Numeric, Val: d}
	}
	priceNum := &Cast{Arg: price, To: types.Numeric}
	integer := func(x int64) *Const { return &Const{Typ: types.Int8, Val: x} }
	channel := &ColRef{Idx: 0, Typ: types.Text, Name: "channel"}
	ch := bidLikeChunk(300)
	for _, tc := range []struct {
		name string
		c    *Case
	}{
		{"first arm takes all", &Case{Typ: types.Numeric, Whens: []When{{Cond: above(-1), Then: priceNum}}, Else: num("0")}},
		{"later arm takes all", &Case{Typ: types.Numeric, Whens: []When{{Cond: above(1000), Then: priceNum}, {Cond: above(-1), Then: num("1.5")}}}},
		{"else takes all", &Case{Typ: types.Numeric, Whens: []When{{Cond: above(1000), Then: num("2")}}, Else: priceNum}},
		{"no else", &Case{Typ: types.Numeric, Whens: []When{{Cond: above(200), Then: priceNum}, {Cond: above(100), Then: num("7.25")}}}},
		{"none", &Case{Typ: types.Numeric, Whens: []When{{Cond: above(1000), Then: priceNum}}}},
		{"constants and columns", &Case{Typ: types.Numeric, Whens: []When{{Cond: above(250), Then: num("3")}, {Cond: above(50), Then: priceNum}}, Else: num("-1")}},
		// Bare columns and constants are read where their rows are, not
		// gathered: a column arm after others took rows, and before.
		{"a column after a constant", &Case{Typ: types.Int8, Whens: []When{{Cond: above(250), Then: integer(3)}, {Cond: above(50), Then: price}}, Else: integer(-1)}},
		{"a column, then a constant", &Case{Typ: types.Int8, Whens: []When{{Cond: above(200), Then: price}, {Cond: above(100), Then: integer(7)}}}},
		{"a column arm of NULLs", &Case{Typ: types.Text, Whens: []When{{Cond: above(100), Then: channel}}, Else: &Const{Typ: types.Text, Val: "cheap"}}},
	} {
		ctx := &EvalCtx{Ctx: context.Background(), Cfg: types.DefaultConfig()}
		got, err := tc.c.Eval(ctx, ch)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got.Len() != ch.Len {
			t.Fatalf("%s: %d rows for %d", tc.name, got.Len(), ch.Len)
		}
		arms := make([]*coldata.Vec, 0, len(tc.c.Whens)+1)
		conds := make([]*coldata.Vec, len(tc.c.Whens))
		for w, when := range tc.c.Whens {
			if conds[w], err = when.Cond.Eval(ctx, ch); err != nil {
				t.Fatal(err)
			}
			v, err := when.Then.Eval(ctx, ch)
			if err != nil {
				t.Fatal(err)
			}
			arms = append(arms, v)
		}
		var elseVals *coldata.Vec
		if tc.c.Else != nil {
			if elseVals, err = tc.c.Else.Eval(ctx, ch); err != nil {
				t.Fatal(err)
			}
		}
		for i := range ch.Len {
			var want types.Datum
			took := false
			for w, c := range conds {
				if !c.IsNull(i) && c.Bools[i] {
					want, took = arms[w].Get(i), true
					break
				}
			}
			if !took && elseVals != nil {
				want = elseVals.Get(i)
			}
			g := got.Get(i)
			if (g == nil) != (want == nil) || g != nil && types.Compare(tc.c.Typ, g, want) != 0 {
				t.Fatalf("%s: row %d (price %d) is %v, want %v", tc.name, i, ch.Cols[3].Ints[i], g, want)
			}
		}
	}
}

// TestCaseScratch evaluates CASEs under one Scratch, chunk after chunk of
// other sizes, a CASE nested in another's condition and arm among them
// (the inner one takes its buffer while the outer's is out), and compares
// each answer with one evaluated without a Scratch.
func TestCaseScratch(t *testing.T) {
	r := NewRegistry()
	gt, _, _, err := r.Resolve(">", []*types.T{types.Int8, types.Int8})
	if err != nil {
		t.Fatal(err)
	}
	price := &ColRef{Idx: 3, Typ: types.Int8, Name: "price"}
	integer := func(x int64) *Const { return &Const{Typ: types.Int8, Val: x} }
	above := func(x int64) Expr {
		return &Call{Fn: gt, Args: []Expr{price, integer(x)}, Typ: types.Bool}
	}
	bucket := &Case{Typ: types.Int8, Whens: []When{{Cond: above(200), Then: integer(2)}, {Cond: above(100), Then: integer(1)}}, Else: integer(0)}
	nested := &Case{Typ: types.Int8, Whens: []When{
		{Cond: &Call{Fn: gt, Args: []Expr{bucket, integer(1)}, Typ: types.Bool}, Then: price},
		{Cond: above(50), Then: &Case{Typ: types.Int8, Whens: []When{{Cond: above(75), Then: bucket}}, Else: integer(-1)}},
	}}
	cases := []Expr{channelBucket(t), bucket, nested}
	withScratch := &EvalCtx{Ctx: context.Background(), Cfg: types.DefaultConfig(), Scratch: &Scratch{}}
	without := &EvalCtx{Ctx: context.Background(), Cfg: types.DefaultConfig()}
	for _, n := range []int{300, 1024, 7, 2000, 300} {
		ch := bidLikeChunk(n)
		for k, c := range cases {
			got, err := c.Eval(withScratch, ch)
			if err != nil {
				t.Fatal(err)
			}
			want, err := c.Eval(without, ch)
			if err != nil {
				t.Fatal(err)
			}
			for i := range n {
				if g, w := got.Get(i), want.Get(i); g != w {
					t.Fatalf("CASE %d over %d rows: row %d is %v with a Scratch, %v without", k, n, i, g, w)
				}
			}
		}
	}
}
