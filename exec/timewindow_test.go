package exec

import (
	"context"
	"testing"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/timewindow"
	"github.com/sluice-db/sluice/types"
)

// timedValues is a Values plan of (k int8, ts timestamp) rows.
func timedValues(ks []int64, ts []int64) *Values {
	v := &Values{Typs: []*types.T{types.Int8, types.Timestamp}}
	for i := range ks {
		v.Rows = append(v.Rows, []expr.Expr{&expr.Const{Typ: types.Int8, Val: ks[i]}, &expr.Const{Typ: types.Timestamp, Val: ts[i]}})
	}
	return v
}

// TestWindowAssignChunks checks that rows joining many windows come out in
// chunks near the default size, every (row, window) pair once.
func TestWindowAssignChunks(t *testing.T) {
	const n, sec = 3000, int64(1_000_000)
	ks, ts := make([]int64, n), make([]int64, n)
	for i := range n {
		ks[i], ts[i] = int64(i), int64(i)*sec
	}
	plan := &WindowAssign{Input: timedValues(ks, ts), Time: &expr.ColRef{Idx: 1, Typ: types.Timestamp},
		Spec: timewindow.Spec{Kind: timewindow.Hop, Size: 300 * sec, Step: 60 * sec}}
	c := &Ctx{Eval: &expr.EvalCtx{Ctx: context.Background(), Cfg: types.DefaultConfig()}}
	op, err := Build(c, plan)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for {
		ch, err := op.Next()
		if err != nil {
			t.Fatal(err)
		}
		if ch == nil {
			break
		}
		if ch.Len > coldata.DefaultChunkSize {
			t.Errorf("chunk of %d rows", ch.Len)
		}
		total += ch.Len
	}
	if total != 5*n {
		t.Errorf("%d rows, want %d", total, 5*n)
	}
}

// TestSessionPartitions checks sessions of interleaved partitions given in
// no order: per partition, times 0, 4, 8 chain (gap 5) and 20 stands alone.
func TestSessionPartitions(t *testing.T) {
	ks := []int64{2, 1, 2, 1, 1, 2, 2, 1}
	ts := []int64{20, 8, 0, 0, 20, 8, 4, 4}
	plan := &WindowAssign{Input: timedValues(ks, ts), Time: &expr.ColRef{Idx: 1, Typ: types.Timestamp},
		PartitionBy: []*expr.ColRef{{Idx: 0, Typ: types.Int8}}, Spec: timewindow.Spec{Kind: timewindow.Session, Gap: 5}}
	want := "1 0 0 13\n1 4 0 13\n1 8 0 13\n1 20 20 25\n2 0 0 13\n2 4 0 13\n2 8 0 13\n2 20 20 25"
	if got := run(t, plan); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
