package bench

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-db/sluice/internal/testbin"
)

// A small serving run: 20 panels for 2 s while Nexmark streams in. Every
// query succeeds, every point lookup finds its auction, and every marker
// becomes visible.
func TestServe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the sluice binary and runs a server")
	}
	o := &serveOptions{conns: 20, duration: 2 * time.Second, rate: 20_000, seed: 1, binary: testbin.Build(t)}
	s, err := runServe(context.Background(), o, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	writeServe(&b, s)
	t.Log("\n" + b.String())
	if s.Errors+s.Misses+s.MarkerErrors != 0 {
		t.Errorf("%d errors, %d misses, %d marker produce errors; first: %s", s.Errors, s.Misses, s.MarkerErrors, s.FirstError)
	}
	if s.QPS <= 0 || s.Queries < int64(o.conns*serveQueriesPerRound) {
		t.Errorf("%d queries, %.1f QPS: want at least a round per panel", s.Queries, s.QPS)
	}
	if s.Markers == 0 || s.MarkersSeen != s.Markers || s.FreshnessP50 <= 0 || s.FreshnessP99 < s.FreshnessP50 {
		t.Errorf("freshness: %d markers, %d seen, p50 %v, p99 %v", s.Markers, s.MarkersSeen, s.FreshnessP50, s.FreshnessP99)
	}
	if s.IngestRate <= 0 {
		t.Errorf("no bids ingested during the run")
	}
	// The server's own figures, from its process and its /metrics.
	if s.CPU <= 0 || s.Allocated <= 0 || s.SchedP99 <= 0 || s.PeakRSS <= 0 {
		t.Errorf("server CPU %v, allocated %d B, scheduling p99 %v, peak RSS %d B: want all positive", s.CPU, s.Allocated, s.SchedP99, s.PeakRSS)
	}
	if s.ClientSchedP99 <= 0 || !strings.Contains(b.String(), "(client ") {
		t.Errorf("the client's scheduling p99 %v, or missing from the output:\n%s", s.ClientSchedP99, b.String())
	}
	// The server's freshness breakdown: every stage read, and each but the
	// checkpoints' (the server's interval may not pass in a short run)
	// observed during the run: commits of bids, the views' epochs.
	if len(s.Stages) != len(breakdownMetrics) {
		t.Errorf("%d freshness stages, want %d", len(s.Stages), len(breakdownMetrics))
	}
	for _, st := range s.Stages {
		if st.Name != "checkpoint pause" && st.Count == 0 || st.P99 < st.P50 {
			t.Errorf("freshness stage %s: %d observed, p50 %v p99 %v", st.Name, st.Count, st.P50, st.P99)
		}
	}
	// The views' epochs, and the bids they stepped over.
	if e := s.EpochRows; e == nil || e.Count == 0 || e.P50 < 1 || e.P99 < e.P50 || !strings.Contains(b.String(), "rows per epoch") {
		t.Errorf("epochs %+v, or missing from the output:\n%s", e, b.String())
	}
	// The panels' own CPU, beside the server's.
	if s.ClientCPU <= 0 || !strings.Contains(b.String(), "client CPU") {
		t.Errorf("client CPU %v, or missing from the output:\n%s", s.ClientCPU, b.String())
	}
	if len(s.Kinds) != 4 {
		t.Errorf("%d query kinds, want 4", len(s.Kinds))
	}
	var perKind int64
	for _, k := range s.Kinds {
		perKind += k.Queries
	}
	if perKind != s.Queries {
		t.Errorf("the query kinds count %d queries, the run %d", perKind, s.Queries)
	}
	r := &Report{Sluice: &Result{Serve: s}, Config: Config{ServeConns: o.conns}}
	var md strings.Builder
	if err := r.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "serve: freshness") {
		t.Errorf("the report lacks the serving rows:\n%s", md.String())
	}
}

func TestServeFlags(t *testing.T) {
	var stderr bytes.Buffer
	o, err := parseServeFlags([]string{"--short"}, &stderr)
	if err != nil || o.conns != shortServeConns || o.duration != shortServeDuration || o.rate != autoServeRate {
		t.Errorf("--short: %+v, %v", o, err)
	}
	o, err = parseServeFlags([]string{"--rate", "150000"}, &stderr)
	if err != nil || o.rate != 150_000 {
		t.Errorf("--rate 150000: %+v, %v", o, err)
	}
	for _, bad := range []string{"-5", "fast", "NaN"} {
		if _, err := parseServeFlags([]string{"--rate", bad}, &stderr); err == nil {
			t.Errorf("--rate %s accepted", bad)
		}
	}
	o, err = parseServeFlags([]string{"--connections", "7", "--duration", "3s", "--rate", "0"}, &stderr)
	if err != nil || o.conns != 7 || o.duration != 3*time.Second || o.rate != 0 {
		t.Errorf("explicit flags: %+v, %v", o, err)
	}
	if _, err := parseServeFlags([]string{"--connections", "-1"}, &stderr); err == nil {
		t.Error("--connections -1 accepted")
	}
	// --server-flag is repeatable and lands after the benchmark's own
	// server flags, which it can therefore override.
	o, err = parseServeFlags([]string{"--server-flag=--heap-huge-pages=off", "--checkpoint-interval", "2s", "--server-flag", "--checkpoint-interval=5s"}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	flags := serveServerFlags(o, []string{"127.0.0.1:9"})
	if want := []string{"--checkpoint-interval", "2s", "--heap-huge-pages=off", "--checkpoint-interval=5s"}; !slices.Equal(flags[len(flags)-len(want):], want) {
		t.Errorf("server flags %q, want them to end in %q", flags, want)
	}
	if _, err := parseServeFlags([]string{"--server-flag", "off"}, &stderr); err == nil {
		t.Error("--server-flag off (no leading dash) accepted")
	}
}

// With --rate auto the run probes the peak first (streams and views created
// and dropped again) and then ingests half of it.
func TestServeAutoRate(t *testing.T) {
	if testing.Short() {
		t.Skip("probes the peak for several seconds")
	}
	o := &serveOptions{conns: 5, duration: time.Second, rate: autoServeRate, seed: 1, binary: testbin.Build(t)}
	s, err := runServe(context.Background(), o, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if s.PeakRate <= 0 || s.Rate != s.PeakRate/2 {
		t.Errorf("peak %.0f events/s, rate %.0f: want a peak and half of it", s.PeakRate, s.Rate)
	}
	if s.IngestRate <= 0 || s.Errors+s.Misses+s.MarkerErrors != 0 {
		t.Errorf("ingested %.0f bids/s; %d errors, %d misses; first: %s", s.IngestRate, s.Errors, s.Misses, s.FirstError)
	}
}
