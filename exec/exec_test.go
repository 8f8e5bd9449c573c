package exec

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/types"
)

// values builds a Values plan of int8 columns; nil is NULL.
func values(rows ...[]any) *Values {
	v := &Values{}
	for i, r := range rows {
		var row []expr.Expr
		for _, x := range r {
			if x == nil {
				row = append(row, &expr.Const{Typ: types.Int8})
			} else {
				row = append(row, &expr.Const{Typ: types.Int8, Val: int64(x.(int))})
			}
		}
		v.Rows = append(v.Rows, row)
		if i == 0 {
			for range r {
				v.Typs = append(v.Typs, types.Int8)
			}
		}
	}
	return v
}

func run(t *testing.T, p Plan) string {
	t.Helper()
	c := &Ctx{Eval: &expr.EvalCtx{Ctx: context.Background(), Cfg: types.DefaultConfig()}}
	c.Eval.Subqueries = SubqueryRunner{C: c}
	ch, err := Run(c, p)
	if err != nil {
		t.Fatal(err)
	}
	return format(ch)
}

func format(ch *coldata.Chunk) string {
	var lines []string
	for i := 0; i < ch.Len; i++ {
		var vals []string
		for _, d := range ch.Row(i) {
			if d == nil {
				vals = append(vals, "NULL")
			} else {
				vals = append(vals, fmt.Sprint(d))
			}
		}
		lines = append(lines, strings.Join(vals, " "))
	}
	return strings.Join(lines, "\n")
}

func TestJoinKindsWithNullKeys(t *testing.T) {
	left := values([]any{1, 10}, []any{nil, 20}, []any{2, 30})
	right := values([]any{1, 100}, []any{nil, 200}, []any{3, 300})
	for _, tc := range []struct {
		kind JoinKind
		want string
	}{
		{InnerJoin, "1 10 1 100"},
		{LeftJoin, "1 10 1 100\nNULL 20 NULL NULL\n2 30 NULL NULL"},
		{RightJoin, "1 10 1 100\nNULL NULL NULL 200\nNULL NULL 3 300"},
		{FullJoin, "1 10 1 100\nNULL 20 NULL NULL\n2 30 NULL NULL\nNULL NULL NULL 200\nNULL NULL 3 300"},
		{SemiJoin, "1 10"},
		{AntiJoin, "NULL 20\n2 30"},
	} {
		got := run(t, &Join{Kind: tc.kind, Left: left, Right: right, LeftKeys: []int{0}, RightKeys: []int{0}})
		if got != tc.want {
			t.Errorf("%v join:\n%s\nwant:\n%s", tc.kind, got, tc.want)
		}
	}
}

func TestHashAggIntKeyMatchesGenericKey(t *testing.T) {
	in := values([]any{1, 5}, []any{nil, 7}, []any{1, 6}, []any{2, nil}, []any{nil, 1})
	sum := AggSpec{Kind: "sum", Args: []int{1}, ArgTypes: []*types.T{types.Int8}, Typ: types.Numeric, Filter: -1}
	cnt := AggSpec{Kind: "count_star", Typ: types.Int8, Filter: -1}
	// One int key takes the integer map; the same key twice takes the
	// encoded-key path. Both must agree.
	one := run(t, &Sort{Input: &HashAgg{Input: in, Keys: []int{0}, Aggs: []AggSpec{sum, cnt}}, Keys: []SortKey{{Col: 0}}})
	two := run(t, &Sort{Input: &Project{Input: &HashAgg{Input: &Project{Input: in, Exprs: []expr.Expr{
		&expr.ColRef{Idx: 0, Typ: types.Int8}, &expr.ColRef{Idx: 0, Typ: types.Int8}, &expr.ColRef{Idx: 1, Typ: types.Int8}}},
		Keys: []int{0, 1}, Aggs: []AggSpec{{Kind: "sum", Args: []int{2}, ArgTypes: []*types.T{types.Int8}, Typ: types.Numeric, Filter: -1}, cnt}},
		Exprs: []expr.Expr{&expr.ColRef{Idx: 0, Typ: types.Int8}, &expr.ColRef{Idx: 2, Typ: types.Numeric}, &expr.ColRef{Idx: 3, Typ: types.Int8}}},
		Keys: []SortKey{{Col: 0}}})
	want := "1 11 2\n2 NULL 1\nNULL 8 2"
	if one != want || two != want {
		t.Errorf("int key:\n%s\ngeneric key:\n%s\nwant:\n%s", one, two, want)
	}
}

func TestWindowRowsFrame(t *testing.T) {
	in := values([]any{1, 1}, []any{1, 2}, []any{1, 3}, []any{2, 10}, []any{2, 20})
	w := &Window{Input: in, PartitionBy: []int{0}, OrderBy: []SortKey{{Col: 1}},
		Frame: Frame{Explicit: true, Mode: "rows",
			Start: FrameBound{Kind: "preceding", Offset: &expr.Const{Typ: types.Int8, Val: int64(1)}},
			End:   FrameBound{Kind: "following", Offset: &expr.Const{Typ: types.Int8, Val: int64(1)}}},
		Funcs: []WindowFunc{
			{Name: "sum", Agg: &AggSpec{Kind: "sum", Args: []int{1}, ArgTypes: []*types.T{types.Int8}, Typ: types.Numeric, Filter: -1}, Typ: types.Numeric},
		}}
	got := run(t, w)
	want := "1 1 3\n1 2 6\n1 3 5\n2 10 30\n2 20 30"
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestSortNullsAndStability(t *testing.T) {
	in := values([]any{nil, 1}, []any{2, 2}, []any{1, 3}, []any{2, 4}, []any{nil, 5})
	asc := run(t, &Sort{Input: in, Keys: []SortKey{{Col: 0}}})
	if want := "1 3\n2 2\n2 4\nNULL 1\nNULL 5"; asc != want {
		t.Errorf("ASC (NULLS LAST):\n%s\nwant:\n%s", asc, want)
	}
	desc := run(t, &Sort{Input: in, Keys: []SortKey{{Col: 0, Desc: true, NullsFirst: true}}})
	if want := "NULL 1\nNULL 5\n2 2\n2 4\n1 3"; desc != want {
		t.Errorf("DESC (NULLS FIRST):\n%s\nwant:\n%s", desc, want)
	}
}

func TestSetOpsAll(t *testing.T) {
	l := values([]any{1}, []any{1}, []any{1}, []any{2}, []any{nil})
	r := values([]any{1}, []any{nil}, []any{3})
	for _, tc := range []struct {
		kind SetOpKind
		all  bool
		want string
	}{
		{Intersect, true, "1\nNULL"},
		{Intersect, false, "1\nNULL"},
		{Except, true, "1\n1\n2"},
		{Except, false, "2"},
	} {
		got := run(t, &Sort{Input: &SetOp{Kind: tc.kind, All: tc.all, Left: l, Right: r}, Keys: []SortKey{{Col: 0}}})
		if got != tc.want {
			t.Errorf("%v all=%v:\n%s\nwant:\n%s", tc.kind, tc.all, got, tc.want)
		}
	}
}

// countedTable holds rows it can count but not scan: a scan none of whose
// columns is read must count through RowCounter.
type countedTable struct {
	TableAccess
	rows int64
}

func (t countedTable) RowCount() (int64, error) { return t.rows, nil }

func (t countedTable) Scan() (TableIter, error) {
	return nil, fmt.Errorf("scanned a table whose rows only count")
}

func TestCountScanCountsWithoutReading(t *testing.T) {
	ref := &TableRef{Name: "v", Types: []*types.T{types.Int8, types.Text}}
	count := &HashAgg{Input: &Project{Input: &Scan{Table: ref}}, Aggs: []AggSpec{{Kind: "count_star", Filter: -1, Typ: types.Int8}}}
	for _, rows := range []int64{0, 1, coldata.DefaultChunkSize, 2*coldata.DefaultChunkSize + 3} {
		c := &Ctx{Eval: &expr.EvalCtx{Ctx: context.Background(), Cfg: types.DefaultConfig()}}
		c.Tables = func(*TableRef) (TableAccess, error) { return countedTable{rows: rows}, nil }
		ch, err := Run(c, count)
		if err != nil {
			t.Fatal(err)
		}
		if got := format(ch); got != fmt.Sprint(rows) {
			t.Errorf("count(*) of %d rows = %s", rows, got)
		}
	}
}
