package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The generated data is a pure function of the row number, so any worker can
// check an answer without asking the other system.

// mix spreads i over 64 bits (Fibonacci hashing).
func mix(i int64) uint64 { return uint64(i) * 0x9E3779B97F4A7C15 }

// kvV and kvS are the kv table's values for key k (1..rows).
func kvV(k int64) int64  { return int64(mix(k) >> 40) }
func kvS(k int64) string { return "val-" + strconv.FormatInt(k, 10) }

// aggK and aggV are the agg table's columns for row i (0..rows-1).
func aggK(i int64) int64 { return int64(mix(i) >> 44) }   // 0..2^20-1
func aggV(i int64) int64 { return int64(mix(i+1) >> 54) } // 0..1023

const (
	kvDDL    = "CREATE TABLE kv (k bigint PRIMARY KEY, v bigint, s text)"
	aggDDL   = "CREATE TABLE agg (k bigint, v bigint)"
	pointSQL = "SELECT v, s FROM kv WHERE k = $1"
	aggSQL   = "SELECT k % 100, count(*), sum(v) FROM agg GROUP BY 1"
)

// genSource streams generated rows into pgx's CopyFrom without holding them.
type genSource struct {
	i, n int64
	row  func(i int64) []any
}

func (g *genSource) Next() bool             { g.i++; return g.i <= g.n }
func (g *genSource) Values() ([]any, error) { return g.row(g.i - 1), nil }
func (g *genSource) Err() error             { return nil }

func kvRow(i int64) []any  { k := i + 1; return []any{k, kvV(k), kvS(k)} }
func aggRow(i int64) []any { return []any{aggK(i), aggV(i)} }

// textCopy writes the same rows as COPY text format.
func textCopy(w *io.PipeWriter, n int64, row func(i int64) []any) {
	buf := make([]byte, 0, 64<<10)
	for i := int64(0); i < n; i++ {
		for j, v := range row(i) {
			if j > 0 {
				buf = append(buf, '\t')
			}
			switch v := v.(type) {
			case int64:
				buf = strconv.AppendInt(buf, v, 10)
			case string:
				buf = append(buf, v...) // NB: generated strings need no escaping
			}
		}
		buf = append(buf, '\n')
		if len(buf) > 60<<10 {
			if _, err := w.Write(buf); err != nil {
				return
			}
			buf = buf[:0]
		}
	}
	if _, err := w.Write(buf); err != nil {
		return
	}
	w.Close()
}

// createAndLoad (re)creates a table and fills it by COPY FROM STDIN: binary
// through pgx's CopyFrom, and if the server rejects that, text format, so a
// server that lacks binary COPY is still measured (and a note says so).
func createAndLoad(ctx context.Context, c *pgx.Conn, table, ddl string, cols []string, n int64,
	row func(int64) []any, note func(string)) (*Load, error) {
	if _, err := c.Exec(ctx, "DROP TABLE IF EXISTS "+table); err != nil {
		note(fmt.Sprintf("DROP TABLE IF EXISTS %s: %v (ignored)", table, err))
	}
	if _, err := c.Exec(ctx, ddl); err != nil {
		return nil, fmt.Errorf("%s: %w", ddl, err)
	}
	start := time.Now()
	got, err := c.CopyFrom(ctx, pgx.Identifier{table}, cols, &genSource{n: n, row: row})
	method := "binary"
	if err != nil {
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || c.IsClosed() {
			return nil, fmt.Errorf("COPY %s (binary): %w", table, err)
		}
		note(fmt.Sprintf("binary COPY into %s failed (%v); loaded with text COPY instead", table, err))
		// The failed COPY may have left rows behind on a non-atomic server.
		if _, err := c.Exec(ctx, "DROP TABLE "+table); err != nil {
			return nil, fmt.Errorf("DROP TABLE %s: %w", table, err)
		}
		if _, err := c.Exec(ctx, ddl); err != nil {
			return nil, fmt.Errorf("%s: %w", ddl, err)
		}
		method = "text"
		pr, pw := io.Pipe()
		go textCopy(pw, n, row)
		start = time.Now()
		tag, err := c.PgConn().CopyFrom(ctx, pr, fmt.Sprintf("COPY %s (%s) FROM STDIN", table, strings.Join(cols, ", ")))
		pr.CloseWithError(errors.New("copy ended")) // unblocks the writer on failure
		if err != nil {
			return nil, fmt.Errorf("COPY %s (text): %w", table, err)
		}
		got = tag.RowsAffected()
	}
	el := time.Since(start)
	if got != n {
		return nil, fmt.Errorf("COPY %s: server reported %d rows, sent %d", table, got, n)
	}
	return &Load{Rows: n, Elapsed: Duration(el), RowsPerSec: float64(n) / el.Seconds(), Method: method}, nil
}

// pointLookups runs conns clients, each on its own connection running the
// prepared point query with random keys for d, and merges their histograms.
func pointLookups(ctx context.Context, url string, conns int, d time.Duration, rows int64, seed uint64) (*Point, error) {
	cs := make([]*pgx.Conn, conns)
	defer func() {
		for _, c := range cs {
			if c != nil {
				c.Close(context.Background())
			}
		}
	}()
	for i := range cs {
		c, err := pgx.Connect(ctx, url)
		if err != nil {
			return nil, fmt.Errorf("connection %d: %w", i, err)
		}
		cs[i] = c
		// Prepare (pgx caches the statement) outside the measured window.
		var v int64
		var s string
		if err := c.QueryRow(ctx, pointSQL, int64(1)).Scan(&v, &s); err != nil {
			return nil, fmt.Errorf("warm-up %s: %w", pointSQL, err)
		}
	}
	var (
		wg                   sync.WaitGroup
		queries, errs, wrong atomic.Int64
		firstErr             atomic.Pointer[string]
		hists                = make([]histogram, conns)
		stop                 atomic.Bool
	)
	qctx, cancel := context.WithTimeout(ctx, d+time.Minute)
	defer cancel()
	start := time.Now()
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(i)))
			h := &hists[i]
			var nq, ne, nw int64
			defer func() { queries.Add(nq); errs.Add(ne); wrong.Add(nw) }()
			var v int64
			var s string
			for !stop.Load() {
				k := rng.Int64N(rows) + 1
				t0 := time.Now()
				err := c.QueryRow(qctx, pointSQL, k).Scan(&v, &s)
				h.record(time.Since(t0))
				nq++
				switch {
				case err != nil:
					ne++
					msg := err.Error()
					firstErr.CompareAndSwap(nil, &msg)
					if c.IsClosed() {
						return
					}
				case v != kvV(k) || s != kvS(k):
					nw++
					msg := fmt.Sprintf("k=%d: got (%d, %q), want (%d, %q)", k, v, s, kvV(k), kvS(k))
					firstErr.CompareAndSwap(nil, &msg)
				}
			}
		}()
	}
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
	stop.Store(true)
	wg.Wait()
	el := time.Since(start)
	var all histogram
	for i := range hists {
		all.merge(&hists[i])
	}
	p := &Point{
		Queries: queries.Load(), Errors: errs.Load(), Wrong: wrong.Load(), Elapsed: Duration(el),
		P50: Duration(all.quantile(0.50)), P99: Duration(all.quantile(0.99)), Max: Duration(all.max),
	}
	p.QPS = float64(p.Queries-p.Errors-p.Wrong) / el.Seconds()
	if m := firstErr.Load(); m != nil {
		p.FirstError = *m
	}
	return p, ctx.Err()
}

// aggGroup is one result row of aggSQL, in text form as both servers send it.
type aggGroup [3]string

// expectedAgg computes aggSQL's answer from the generator.
func expectedAgg(rows int64) []aggGroup {
	var cnt, sum [100]int64
	for i := int64(0); i < rows; i++ {
		g := aggK(i) % 100
		cnt[g]++
		sum[g] += aggV(i)
	}
	var out []aggGroup
	for g := range 100 {
		if cnt[g] > 0 {
			out = append(out, aggGroup{strconv.Itoa(g), strconv.FormatInt(cnt[g], 10), strconv.FormatInt(sum[g], 10)})
		}
	}
	return out
}

// scanAggregate runs aggSQL runs times over the simple protocol (text results
// from both servers, so sum's numeric vs bigint type does not matter) and
// returns the timings and the last answer, sorted by group. The caller
// checks the answer (Agg.Correct), outside the timed runs.
func scanAggregate(ctx context.Context, c *pgx.Conn, runs int, rows int64) (*Agg, []aggGroup, error) {
	a := &Agg{}
	var groups []aggGroup
	for r := 0; r < runs; r++ {
		start := time.Now()
		res, err := c.PgConn().Exec(ctx, aggSQL).ReadAll()
		el := time.Since(start)
		if err != nil {
			return a, nil, fmt.Errorf("%s: %w", aggSQL, err)
		}
		if len(res) != 1 {
			return a, nil, fmt.Errorf("%s: %d results, want 1", aggSQL, len(res))
		}
		groups = groups[:0]
		for _, row := range res[0].Rows {
			if len(row) != 3 {
				return a, nil, fmt.Errorf("%s: row has %d columns, want 3", aggSQL, len(row))
			}
			groups = append(groups, aggGroup{string(row[0]), string(row[1]), string(row[2])})
		}
		a.Runs = append(a.Runs, Duration(el))
		if a.Best == 0 || Duration(el) < a.Best {
			a.Best = Duration(el)
		}
	}
	sortGroups(groups)
	a.Groups = len(groups)
	a.RowsPerSec = float64(rows) / time.Duration(a.Best).Seconds()
	return a, groups, nil
}

func sortGroups(gs []aggGroup) {
	slices.SortFunc(gs, func(x, y aggGroup) int {
		a, errA := strconv.ParseInt(x[0], 10, 64)
		b, errB := strconv.ParseInt(y[0], 10, 64)
		if errA == nil && errB == nil {
			return cmp.Compare(a, b)
		}
		return cmp.Compare(x[0], y[0])
	})
}

// diffGroups describes the first difference between two sorted answers,
// named an and bn, or returns "".
func diffGroups(an string, a []aggGroup, bn string, b []aggGroup) string {
	if len(a) != len(b) {
		return fmt.Sprintf("%s returned %d groups, %s %d", an, len(a), bn, len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			return fmt.Sprintf("group %d: %s %v, %s %v", i, an, a[i], bn, b[i])
		}
	}
	return ""
}
