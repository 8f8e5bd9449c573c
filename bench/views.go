package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-db/sluice/internal/cpuprofile"
)

// The views workload: a stream fed by COPY and a materialized view over it
// (filter, projection, GROUP BY viewKeys keys with sum and count), measured
// from the start of the COPY until the view shows every row.

const (
	viewKeys      = 10_000
	streamDDL     = "CREATE STREAM events (k bigint, v bigint, pad text)"
	viewDDL       = "CREATE MATERIALIZED VIEW per_key AS SELECT k, sum(v) AS total, count(*) AS n FROM events WHERE v >= 0 GROUP BY k"
	viewCountSQL  = "SELECT sum(n) FROM per_key"
	viewScanSQL   = "SELECT k, total, n FROM per_key ORDER BY k"
	viewDropSQL   = "DROP MATERIALIZED VIEW per_key"
	viewPad       = "padding-16-byte"
	viewTimeout   = 5 * time.Minute
	viewPollEvery = time.Millisecond
)

// binaryEvents writes rows of the events stream to w in binary COPY format.
// It encodes them itself, without garbage, rather than through pgx's
// CopyFrom, whose boxed row values would add about a hundred bytes of
// garbage per row to the heap this process shares with the server it
// measures, and so GC cycles that a separate client would not cause.
func binaryEvents(w *io.PipeWriter, rows int64) {
	buf := append(make([]byte, 0, 64<<10), "PGCOPY\n\xff\r\n\x00"...)
	buf = binary.BigEndian.AppendUint32(buf, 0) // flags
	buf = binary.BigEndian.AppendUint32(buf, 0) // header extension length
	for i := int64(0); i < rows; i++ {
		buf = binary.BigEndian.AppendUint16(buf, 3) // fields
		buf = binary.BigEndian.AppendUint32(buf, 8)
		buf = binary.BigEndian.AppendUint64(buf, uint64(eventK(i)))
		buf = binary.BigEndian.AppendUint32(buf, 8)
		buf = binary.BigEndian.AppendUint64(buf, uint64(eventV(i)))
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(viewPad)))
		buf = append(buf, viewPad...)
		if len(buf) > 60<<10 {
			if _, err := w.Write(buf); err != nil {
				return
			}
			buf = buf[:0]
		}
	}
	buf = binary.BigEndian.AppendUint16(buf, 0xffff) // trailer
	if _, err := w.Write(buf); err != nil {
		return
	}
	w.Close()
}

// eventK and eventV are the events stream's columns for row i (0..rows-1):
// keys spread over viewKeys, values in [-100, 923], so about a tenth of the
// rows fail the view's filter.
func eventK(i int64) int64 { return int64(mix(i+7)>>32) % viewKeys }
func eventV(i int64) int64 { return int64(mix(i+3)>>54) - 100 }

// viewGroup is one row of the view: total and n of key k.
type viewGroup struct{ k, total, n int64 }

// expectedView computes the view's rows, ordered by key, from the generator,
// and the number of rows that pass its filter.
func expectedView(rows int64) (groups []viewGroup, passing int64) {
	var total, n [viewKeys]int64
	for i := int64(0); i < rows; i++ {
		if v := eventV(i); v >= 0 {
			k := eventK(i)
			total[k] += v
			n[k]++
			passing++
		}
	}
	for k := range viewKeys {
		if n[k] > 0 {
			groups = append(groups, viewGroup{int64(k), total[k], n[k]})
		}
	}
	return groups, passing
}

// viewMaintenance runs the views workload on the Sluice at url: creates the
// stream and the view, COPYs rows into the stream, polls the view until it
// counts every passing row, checks its content, then drops it to measure the
// heap it held. The server runs in this process, so the heap is this
// process's: after a GC with the view, minus after a GC once it is dropped
// (the stream's rows stay in both), divided by the view's keys. With
// cpuProfile set, the process is CPU-profiled from the COPY's start until the
// view is complete, into that file.
func viewMaintenance(ctx context.Context, url string, rows int64, cpuProfile string) (*View, error) {
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer c.Close(context.Background())
	for _, ddl := range []string{streamDDL, viewDDL} {
		if _, err := c.Exec(ctx, ddl); err != nil {
			return nil, fmt.Errorf("%s: %w", ddl, err)
		}
	}
	want, passing := expectedView(rows)
	wantCount := strconv.FormatInt(passing, 10)

	stopProfile, err := cpuprofile.Start(cpuProfile)
	if err != nil {
		return nil, err
	}
	defer stopProfile()
	pr, pw := io.Pipe()
	go binaryEvents(pw, rows)
	start := time.Now()
	tag, err := c.PgConn().CopyFrom(ctx, pr, "COPY events (k, v, pad) FROM STDIN WITH (FORMAT binary)")
	copied := time.Now()
	pr.CloseWithError(errors.New("copy ended")) // unblocks the writer on failure
	if err != nil {
		return nil, fmt.Errorf("COPY events (binary): %w", err)
	}
	if got := tag.RowsAffected(); got != rows {
		return nil, fmt.Errorf("COPY events: server reported %d rows, sent %d", got, rows)
	}
	pctx, cancel := context.WithTimeout(ctx, viewTimeout)
	defer cancel()
	var last string
	for {
		res, err := c.PgConn().Exec(pctx, viewCountSQL).ReadAll()
		if err != nil {
			return nil, fmt.Errorf("%s (last answer %q, want %s): %w", viewCountSQL, last, wantCount, err)
		}
		if len(res) == 1 && len(res[0].Rows) == 1 {
			if last = string(res[0].Rows[0][0]); last == wantCount {
				break
			}
		}
		time.Sleep(viewPollEvery)
	}
	complete := time.Now()
	if err := stopProfile(); err != nil {
		return nil, err
	}
	stopProfile = func() error { return nil }

	v := &View{
		Rows: rows, Keys: viewKeys, Passing: passing, Method: "binary",
		Copy:         Duration(copied.Sub(start)),
		EndToEnd:     Duration(complete.Sub(start)),
		Delay:        Duration(complete.Sub(copied)),
		CopyRate:     float64(rows) / copied.Sub(start).Seconds(),
		EndToEndRate: float64(rows) / complete.Sub(start).Seconds(),
	}
	if v.Wrong, err = checkView(ctx, c, want); err != nil {
		return v, err
	}
	withView := heapAfterGC()
	if _, err := c.Exec(ctx, viewDropSQL); err != nil {
		return v, fmt.Errorf("%s: %w", viewDropSQL, err)
	}
	withoutView := heapAfterGC()
	v.HeapWithView, v.HeapWithoutView = withView, withoutView
	v.BytesPerKey = float64(withView-withoutView) / viewKeys
	return v, nil
}

// checkView reads the whole view and describes its first difference from
// want, or returns "".
func checkView(ctx context.Context, c *pgx.Conn, want []viewGroup) (string, error) {
	res, err := c.PgConn().Exec(ctx, viewScanSQL).ReadAll()
	if err != nil {
		return "", fmt.Errorf("%s: %w", viewScanSQL, err)
	}
	if len(res) != 1 {
		return "", fmt.Errorf("%s: %d results, want 1", viewScanSQL, len(res))
	}
	rows := res[0].Rows
	for i, w := range want {
		wantRow := [3]string{strconv.FormatInt(w.k, 10), strconv.FormatInt(w.total, 10), strconv.FormatInt(w.n, 10)}
		if i >= len(rows) {
			return fmt.Sprintf("%d rows, want %d", len(rows), len(want)), nil
		}
		if len(rows[i]) != 3 {
			return fmt.Sprintf("row %d has %d columns, want 3", i, len(rows[i])), nil
		}
		if got := [3]string{string(rows[i][0]), string(rows[i][1]), string(rows[i][2])}; got != wantRow {
			return fmt.Sprintf("row %d: got %v, want %v", i, got, wantRow), nil
		}
	}
	if len(rows) != len(want) {
		return fmt.Sprintf("%d rows, want %d", len(rows), len(want)), nil
	}
	return "", nil
}

// heapAfterGC is the live heap once garbage is collected and the server's
// background work has let go of what it held: two GCs, so that objects
// whose finalizers ran in the first are gone too, repeated a short while
// apart until a reading no longer falls (right after a drain the
// checkpoint writer and the loop still hold a view's snapshots and
// buffers: q20's readings fell 455 → 367 → 323 MiB), and the least of the
// readings, because the in-process server's heap advisor takes a reserve
// after a collection (docs/memory.md): allocated, never touched, up to
// 1 GiB, and live until the next one, a reading could count it as state.
func heapAfterGC() int64 {
	least := int64(math.MaxInt64)
	for i := 0; i < heapReadingsMost; i++ {
		if i > 0 {
			time.Sleep(heapReadingsApart)
		}
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		heap := int64(m.HeapAlloc)
		if i >= 2 && heap >= least-least/100 {
			return min(least, heap)
		}
		least = min(least, heap)
	}
	return least
}

// heapReadingsMost bounds heapAfterGC's readings (a second or so), and
// heapReadingsApart is the wait between them.
const (
	heapReadingsMost  = 10
	heapReadingsApart = 100 * time.Millisecond
)
