package expr

import (
	"context"
	"fmt"
	"runtime"
	"testing"

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
	ctx := &EvalCtx{Ctx: context.Background(), Cfg: types.DefaultConfig()}
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
	// expanded into a vector and each arm of the IN compared apart.
	const bound = 140
	if perRow > bound {
		t.Errorf("CASE allocated %.0f bytes a row, want at most %d", perRow, bound)
	}
}

func BenchmarkCaseChannelBucket(b *testing.B) {
	ch := bidLikeChunk(4096)
	c := channelBucket(b)
	ctx := &EvalCtx{Ctx: context.Background(), Cfg: types.DefaultConfig()}
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
