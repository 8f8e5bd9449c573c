package dataflow

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/types"
)

// failingSpace is a spill space whose snapshots fail to read after n
// values, and count their closes.
type failingSpace struct {
	SpillSpace
	n      int
	closed *int
}

func (s failingSpace) Snapshot() SpillView {
	return failingView{SpillView: s.SpillSpace.Snapshot(), n: s.n, closed: s.closed}
}

type failingView struct {
	SpillView
	n      int
	closed *int
}

func (v failingView) Scan(sub []byte, f func(k, value []byte) error) error {
	seen := 0
	return v.SpillView.Scan(sub, func(k, value []byte) error {
		if seen == v.n {
			return errors.New("spill store read failed")
		}
		seen++
		return f(k, value)
	})
}

func (v failingView) Close() error {
	*v.closed++
	return v.SpillView.Close()
}

// TestSpilledChunksStream writes rows held and spilled groups' values as
// row chunks through a deferring writer, changes the store before the
// writer streams them, and reads them back: the rows are those of when
// the snapshot was taken, in exactly the bytes counted (a group's column
// has NULLs where the others have none). A read failing mid-stream, a
// group count or byte count off fail the write, and each releases the
// store's snapshot once.
func TestSpilledChunksStream(t *testing.T) {
	typs := []*types.T{types.Int8, types.Text}
	space := openTestSpill(t).Space()
	groupRows := func(g, n int) ([]int64, *coldata.Chunk) {
		rows := NewChanges(typs, n)
		counts := make([]int64, n)
		for i := range n {
			var text types.Datum = fmt.Sprintf("group %d row %d", g, i)
			if g%3 == 0 && i == 0 {
				text = nil
			}
			rows.AppendRow([]types.Datum{int64(g*100 + i), text})
			counts[i] = int64(i + 1)
		}
		return counts, rows
	}
	const groups = 300
	size, want := 0, []string{}
	for g := range groups {
		w := NewSnapshotWriter(nil)
		counts, rows := groupRows(g, 1+g%7)
		if err := writeCountedRows(w, counts, rows); err != nil {
			t.Fatal(err)
		}
		if err := space.Set(fmt.Appendf([]byte{spilledGroup}, "%04d", g), w.Bytes()); err != nil {
			t.Fatal(err)
		}
		size += w.Len()
		for i := range rows.Len {
			want = append(want, fmt.Sprintf("%d %v", counts[i], rows.Row(i)))
		}
	}
	if err := space.Commit(); err != nil {
		t.Fatal(err)
	}
	held, heldRows := groupRows(1000, 3)
	take := func(spilled *spilledChunks) (*SnapshotWriter, error) {
		w := NewDeferredSnapshotWriter()
		w.deferMin = 0
		return w, writeCountedChunks(w, held, heldRows, spilled)
	}
	write := func(w *SnapshotWriter) ([]byte, error) {
		if err := w.Finish(); err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		_, err := w.WriteTo(&buf)
		return buf.Bytes(), err
	}

	closed := 0
	w, err := take(&spilledChunks{space: failingSpace{SpillSpace: space, n: groups + 1, closed: &closed}, n: groups, size: size, what: "test group"})
	if err != nil {
		t.Fatal(err)
	}
	// The loop goes on changing the store before the writer streams.
	if err := space.DeleteAll([]byte{spilledGroup}); err != nil {
		t.Fatal(err)
	}
	if err := space.Set([]byte{spilledGroup, 'x'}, []byte("not rows")); err != nil {
		t.Fatal(err)
	}
	if err := space.Commit(); err != nil {
		t.Fatal(err)
	}
	n := w.Len()
	b, err := write(w)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != n || closed != 1 {
		t.Fatalf("%d bytes written, %d counted; the snapshot closed %d times", len(b), n, closed)
	}
	var got []string
	chunks := 0
	err = readCountedChunks(NewSnapshotReader(b), typs, "test", countsMultiplicities, 0, func(counts []int64, rows *coldata.Chunk) error {
		chunks++
		if chunks == 1 {
			return nil // the rows held
		}
		for i := range rows.Len {
			got = append(got, fmt.Sprintf("%d %v", counts[i], rows.Row(i)))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if chunks != groups+1 || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("%d chunks read back, want %d; rows equal: %v", chunks, groups+1, strings.Join(got, "\n") == strings.Join(want, "\n"))
	}

	// Spilled groups again, for the failures.
	if err := space.DeleteAll([]byte{spilledGroup}); err != nil {
		t.Fatal(err)
	}
	size = 0
	for g := range groups {
		w := NewSnapshotWriter(nil)
		counts, rows := groupRows(g, 2)
		if err := writeCountedRows(w, counts, rows); err != nil {
			t.Fatal(err)
		}
		if err := space.Set(fmt.Appendf([]byte{spilledGroup}, "%04d", g), w.Bytes()); err != nil {
			t.Fatal(err)
		}
		size += w.Len()
	}
	if err := space.Commit(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name              string
		n, size, readable int
		want              string
	}{
		{"read fails", groups, size, groups / 2, "spill store read failed"},
		{"a group more counted", groups + 1, size, groups, "counted"},
		{"a byte more counted", groups, size + 1, groups, "took"},
	} {
		closed := 0
		w, err := take(&spilledChunks{space: failingSpace{SpillSpace: space, n: c.readable, closed: &closed}, n: c.n, size: c.size, what: "test group"})
		if err == nil {
			_, err = write(w)
		}
		if err == nil || !strings.Contains(err.Error(), c.want) || closed != 1 {
			t.Errorf("%s: %v, want an error of %q; the snapshot closed %d times", c.name, err, c.want, closed)
		}
	}
}
