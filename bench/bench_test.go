package bench

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/jackc/pgx/v5"
)

// These run against an in-process Sluice only, so `go test -bench . ./bench`
// needs no PostgreSQL; `sluice bench` is the comparison.

const (
	benchKVRows   = 10_000
	benchAggRows  = 100_000
	benchViewRows = 1_000_000
)

// benchServer starts Sluice in b's temp dir, loads one table, and returns a
// connection to it.
func benchServer(b *testing.B, table, ddl string, cols []string, n int64, row func(int64) []any) *pgx.Conn {
	b.Helper()
	ctx := context.Background()
	url, stop, err := startSluice(ctx, b.TempDir(), nil)
	if err != nil {
		b.Fatalf("start Sluice: %v", err)
	}
	b.Cleanup(func() { stop() })
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close(context.Background()) })
	note := func(s string) { b.Log(s) }
	if _, err := createAndLoad(ctx, c, table, ddl, cols, n, row, note); err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkPointLookup is one prepared primary-key lookup per op on one
// connection.
func BenchmarkPointLookup(b *testing.B) {
	c := benchServer(b, "kv", kvDDL, []string{"k", "v", "s"}, benchKVRows, kvRow)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	var v int64
	var s string
	b.ReportAllocs()
	for b.Loop() {
		k := rng.Int64N(benchKVRows) + 1
		if err := c.QueryRow(ctx, pointSQL, k).Scan(&v, &s); err != nil {
			b.Fatal(err)
		}
		if v != kvV(k) || s != kvS(k) {
			b.Fatalf("k=%d: got (%d, %q), want (%d, %q)", k, v, s, kvV(k), kvS(k))
		}
	}
}

// BenchmarkScanAggregate is one GROUP BY over benchAggRows rows per op;
// rows/s is reported as a metric.
func BenchmarkScanAggregate(b *testing.B) {
	c := benchServer(b, "agg", aggDDL, []string{"k", "v"}, benchAggRows, aggRow)
	ctx := context.Background()
	want := expectedAgg(benchAggRows)
	b.ReportAllocs()
	for b.Loop() {
		_, got, err := scanAggregate(ctx, c, 1, benchAggRows)
		if err != nil {
			b.Fatal(err)
		}
		if d := diffGroups("got", got, "want", want); d != "" {
			b.Fatal("wrong answer: " + d)
		}
	}
	b.ReportMetric(float64(benchAggRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkViewMaintenance is the views workload over benchViewRows rows per
// op: COPY into a stream until its materialized view counts every row, on a
// fresh server each time; rows/s is reported as a metric.
func BenchmarkViewMaintenance(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		url, stop, err := startSluice(ctx, b.TempDir(), nil)
		if err != nil {
			b.Fatalf("start Sluice: %v", err)
		}
		b.StartTimer()
		v, err := viewMaintenance(ctx, url, benchViewRows, "")
		b.StopTimer()
		if err == nil && v.Wrong != "" {
			err = errors.New("wrong answer: " + v.Wrong)
		}
		if err != nil {
			b.Fatal(err)
		}
		if err := stop(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(benchViewRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkKafkaIngest is the kafka workload over benchKafkaEvents bids per
// op in each record format, on a fresh broker and server each time; the
// ceiling's and Sluice's events/s are reported as metrics.
func BenchmarkKafkaIngest(b *testing.B) {
	const benchKafkaEvents = 200_000
	ctx := context.Background()
	for _, name := range bidFormatNames {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				broker, err := startBroker()
				if err != nil {
					b.Fatal(err)
				}
				dir := b.TempDir()
				url, stop, err := startSluice(ctx, dir, broker.ListenAddrs())
				if err != nil {
					b.Fatalf("start Sluice: %v", err)
				}
				b.StartTimer()
				k, err := runKafka(ctx, url, broker.ListenAddrs(), name, dir, benchKafkaEvents, "", func(string, ...any) {})
				b.StopTimer()
				if err == nil && k.Wrong != "" {
					err = errors.New("wrong answer: " + k.Wrong)
				}
				stop()
				broker.Close()
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(k.CeilingRate, "ceiling-events/s")
				b.ReportMetric(k.PassThroughRate, "passthrough-events/s")
				b.ReportMetric(k.GroupByRate, "groupby-events/s")
				b.StartTimer()
			}
		})
	}
}
