package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sluice-db/sluice/engine"
)

// Report is everything one `sluice bench` run measured; report.json is this
// struct as JSON, so field names are the machine-readable format.
type Report struct {
	Date            time.Time `json:"date"`
	GoVersion       string    `json:"go_version"`
	OS              string    `json:"os"`
	Arch            string    `json:"arch"`
	CPUs            int       `json:"cpus"`
	GOMAXPROCS      int       `json:"gomaxprocs"`
	CPUModel        string    `json:"cpu_model,omitempty"`
	MemTotalBytes   int64     `json:"mem_total_bytes,omitempty"`
	PostgresVersion string    `json:"postgres_version,omitempty"` // SHOW server_version
	Config          Config    `json:"config"`
	Sluice          *Result   `json:"sluice,omitempty"`
	Postgres        *Result   `json:"postgresql,omitempty"`
	// AggMatch is "match", "mismatch" or "" (not compared: a side is missing).
	AggMatch string `json:"agg_match,omitempty"`
	// Errors are wrong answers and failed workloads; any makes the run fail.
	Errors []string `json:"errors,omitempty"`
	// Notes explain skipped parts and fallbacks; they do not fail the run.
	Notes []string `json:"notes,omitempty"`
}

// Config is the workload shape of a run.
type Config struct {
	Mode     string   `json:"mode"` // "short" or "full"
	KVRows   int64    `json:"kv_rows"`
	AggRows  int64    `json:"agg_rows"`
	Conns    int      `json:"conns"`
	Duration Duration `json:"duration"`
	AggRuns  int      `json:"agg_runs"`
	ViewRows int64    `json:"view_rows"`
	// KafkaEvents is the bids of the kafka workload (0: not run).
	KafkaEvents int64 `json:"kafka_events"`
	// ServeConns is the serving workload's connections (0: not run), for
	// ServeDuration while Nexmark streams in at ServeRate events/s.
	ServeConns    int      `json:"serve_conns"`
	ServeDuration Duration `json:"serve_duration"`
	ServeRate     float64  `json:"serve_rate"`
}

// Duration marshals as seconds (a float) so report.json is unit-stable.
type Duration time.Duration

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).Seconds())
}

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s float64
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*d = Duration(s * float64(time.Second))
	return nil
}

// Result is one system's numbers. A zero value means "not measured"; the
// matching *Error field says why when a workload failed.
type Result struct {
	KVLoad  *Load    `json:"kv_load,omitempty"`
	Point   *Point   `json:"point_lookup,omitempty"`
	AggLoad *Load    `json:"agg_load,omitempty"`
	Agg     *Agg     `json:"scan_aggregate,omitempty"`
	View    *View    `json:"view_maintenance,omitempty"` // Sluice only
	Kafka   []*Kafka `json:"kafka_ingest,omitempty"`     // Sluice only; one per record format
	Serve   *Serve   `json:"serving,omitempty"`          // Sluice only
	// Freshness is the serving workload at freshnessConns panels and
	// checkpoints every freshnessCheckpointInterval (Sluice only).
	Freshness *Serve `json:"freshness,omitempty"`
	// Nexmark is one run per query and source (Sluice only).
	Nexmark []*NexmarkResult `json:"nexmark,omitempty"`
	Restart *RestartResult   `json:"restart,omitempty"`        // Sluice only
	PeakRSS int64            `json:"peak_rss_bytes,omitempty"` // Sluice only
	Errors  []string         `json:"errors,omitempty"`
}

// Load is one COPY FROM STDIN.
type Load struct {
	Rows       int64    `json:"rows"`
	Elapsed    Duration `json:"seconds"`
	RowsPerSec float64  `json:"rows_per_sec"`
	Method     string   `json:"method"` // "binary" (pgx CopyFrom) or "text"
}

// Point is the concurrent point-lookup workload.
type Point struct {
	Queries int64    `json:"queries"`
	Errors  int64    `json:"errors"`
	Wrong   int64    `json:"wrong_results"`
	Elapsed Duration `json:"seconds"`
	QPS     float64  `json:"qps"`
	P50     Duration `json:"p50_seconds"`
	P99     Duration `json:"p99_seconds"`
	Max     Duration `json:"max_seconds"`
	// FirstError is the first failure's message, to say what went wrong.
	FirstError string `json:"first_error,omitempty"`
}

// Agg is the scan-aggregate workload: the best of Runs timings.
type Agg struct {
	Runs       []Duration `json:"runs_seconds"`
	Best       Duration   `json:"best_seconds"`
	RowsPerSec float64    `json:"rows_per_sec"`
	Groups     int        `json:"groups"`
	// Correct reports that the 100 groups equal the ones computed from the
	// generated data.
	Correct bool `json:"correct"`
}

// View is the views workload: COPY into a stream read by a materialized
// view (filter, projection, GROUP BY Keys keys with sum and count).
type View struct {
	Rows    int64  `json:"rows"`
	Keys    int    `json:"keys"`
	Passing int64  `json:"rows_passing_filter"`
	Method  string `json:"method"` // COPY format: "binary" (pgx CopyFrom)
	// Copy is the COPY alone; EndToEnd runs from the COPY's start until the
	// view counts every passing row; Delay from the COPY's end until then.
	Copy         Duration `json:"copy_seconds"`
	EndToEnd     Duration `json:"end_to_end_seconds"`
	Delay        Duration `json:"delay_seconds"`
	CopyRate     float64  `json:"copy_rows_per_sec"`
	EndToEndRate float64  `json:"end_to_end_rows_per_sec"`
	// HeapWithView and HeapWithoutView are the process's live heap after GC
	// with the view, then once it is dropped; BytesPerKey is their
	// difference per group key.
	HeapWithView    int64   `json:"heap_with_view_bytes"`
	HeapWithoutView int64   `json:"heap_without_view_bytes"`
	BytesPerKey     float64 `json:"heap_bytes_per_key"`
	// Wrong describes the first difference between the view and the rows
	// computed from the generated data; "" when they are equal.
	Wrong string `json:"wrong,omitempty"`
}

// Kafka is the kafka workload: Events bids pre-loaded into a topic of
// Partitions partitions, drained by the ceiling (franz-go consume + JSON
// decode into columns on two goroutines) and by Sluice into two views, each
// from CREATE STREAM until the view holds every bid. The ceiling is the
// median of three drains run before, between and after Sluice's;
// CeilingCPU is the process's CPU time in that drain: on a loaded machine
// the ratio of events per CPU-second holds where that of events/s does not.
// The process holds the broker too: each *BrokerCPU is the part of a
// drain's CPU time its goroutines took (brokercpu.go), so that events per
// CPU-second can be stated without it, as a broker on its own machine
// would leave them.
type Kafka struct {
	Events               int64    `json:"events"`
	Format               string   `json:"format"`
	Partitions           int      `json:"partitions"`
	Preload              Duration `json:"preload_seconds"`
	Ceiling              Duration `json:"ceiling_seconds"`
	CeilingRate          float64  `json:"ceiling_events_per_sec"`
	CeilingCPU           Duration `json:"ceiling_cpu_seconds"`
	CeilingBrokerCPU     Duration `json:"ceiling_broker_cpu_seconds"`
	PassThrough          Duration `json:"pass_through_seconds"`
	PassThroughRate      float64  `json:"pass_through_events_per_sec"`
	PassThroughCPU       Duration `json:"pass_through_cpu_seconds"`
	PassThroughBrokerCPU Duration `json:"pass_through_broker_cpu_seconds"`
	GroupBy              Duration `json:"group_by_seconds"`
	GroupByRate          float64  `json:"group_by_events_per_sec"`
	GroupByCPU           Duration `json:"group_by_cpu_seconds"`
	GroupByBrokerCPU     Duration `json:"group_by_broker_cpu_seconds"`
	// *Faults are the minor page faults the process took in each drain:
	// first touches of memory, which cost about 12 µs of CPU a 4 KiB
	// page on the VMs the benchmarks run on (docs/memory.md) and which a
	// CPU profile shows in the code that touched the page.
	CeilingFaults     int64 `json:"ceiling_minor_faults"`
	PassThroughFaults int64 `json:"pass_through_minor_faults"`
	GroupByFaults     int64 `json:"group_by_minor_faults"`
	// PassThroughRatio and GroupByRatio are Sluice's rates over the ceiling's.
	PassThroughRatio float64 `json:"pass_through_ratio"`
	GroupByRatio     float64 `json:"group_by_ratio"`
	// Wrong describes the first difference between the count view and the
	// generated bids; "" when they agree.
	Wrong string `json:"wrong,omitempty"`
}

// kafkaRows are the kafka workload's lines for one record format.
func kafkaRows(k *Kafka) []row {
	perCPU := func(rate float64, d, cpu Duration) float64 {
		if cpu <= 0 {
			return 0
		}
		return rate * time.Duration(d).Seconds() / time.Duration(cpu).Seconds()
	}
	// perCore is events per CPU-second of the process, with the ratio to
	// the ceiling's if asked, then the same without the broker's CPU time.
	perCore := func(rate float64, d, cpu, broker Duration, ratio bool) string {
		with, ceiling := perCPU(rate, d, cpu), perCPU(k.CeilingRate, k.Ceiling, k.CeilingCPU)
		if with == 0 {
			return "-"
		}
		s := fmtRate(with)
		if ratio && ceiling > 0 {
			s += fmt.Sprintf(" (%.2f)", with/ceiling)
		}
		if broker <= 0 {
			return s
		}
		without, ceiling := perCPU(rate, d, cpu-broker), perCPU(k.CeilingRate, k.Ceiling, k.CeilingCPU-k.CeilingBrokerCPU)
		s += "; without the broker " + fmtRate(without)
		if ratio && ceiling > 0 && k.CeilingBrokerCPU > 0 {
			s += fmt.Sprintf(" (%.2f)", without/ceiling)
		}
		return s
	}
	perThousand := func(faults int64) string {
		if k.Events == 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f", 1000*float64(faults)/float64(k.Events))
	}
	answer := "correct"
	if k.Wrong != "" {
		answer = "WRONG"
	}
	return []row{
		{fmt.Sprintf("kafka %s: ceiling, franz-go consume + decode, events/s (%s bids, %d partitions)", k.Format, fmtRate(float64(k.Events)), k.Partitions),
			fmtRate(k.CeilingRate), "-", ""},
		{"kafka " + k.Format + ": ceiling, events/s per CPU-second", perCore(k.CeilingRate, k.Ceiling, k.CeilingCPU, k.CeilingBrokerCPU, false), "-", ""},
		{"kafka " + k.Format + ": into a pass-through view, events/s (ratio to ceiling)", fmt.Sprintf("%s (%.2f)", fmtRate(k.PassThroughRate), k.PassThroughRatio), "-", ""},
		{"kafka " + k.Format + ": pass-through, events/s per CPU-second (ratio to ceiling's)", perCore(k.PassThroughRate, k.PassThrough, k.PassThroughCPU, k.PassThroughBrokerCPU, true), "-", ""},
		{"kafka " + k.Format + ": into a GROUP BY auction count view, events/s (ratio to ceiling)", fmt.Sprintf("%s (%.2f)", fmtRate(k.GroupByRate), k.GroupByRatio), "-", ""},
		{"kafka " + k.Format + ": group by, events/s per CPU-second (ratio to ceiling's)", perCore(k.GroupByRate, k.GroupBy, k.GroupByCPU, k.GroupByBrokerCPU, true), "-", ""},
		{"kafka " + k.Format + ": minor page faults per 1000 events (ceiling / pass-through / group by)", perThousand(k.CeilingFaults) + " / " + perThousand(k.PassThroughFaults) + " / " + perThousand(k.GroupByFaults), "-", ""},
		{"kafka " + k.Format + ": count view answer (vs generated bids)", answer, "-", ""},
	}
}

// serveRateOf is the events/s a serving run ingested at, with the peak it
// was half of when measured.
func serveRateOf(s *Serve) string {
	rate := fmtRate(s.Rate)
	if s.PeakRate > 0 {
		rate += fmt.Sprintf(" (half of the peak, %s)", fmtRate(s.PeakRate))
	}
	return rate
}

// serveRows are the serving workload's lines, with PostgreSQL's beside
// them when it ran the same panels (over tables holding the views' rows,
// with no ingest).
func serveRows(s *Serve) []row {
	rate := serveRateOf(s)
	head := fmt.Sprintf("serve: %d panels x 5 queries/s, ingesting %s Nexmark events/s (PostgreSQL: the views' rows in tables, no ingest)", s.Connections, rate)
	pg := s.Postgres
	side := func(f func(*ServePostgres) string) string {
		if pg == nil {
			return "-"
		}
		return f(pg)
	}
	latencies := func(l ServeLatency) string {
		return fmt.Sprintf("%s / %s / %s / %s", fmtMs(l.P50), fmtMs(l.P95), fmtMs(l.P99), fmtMs(l.Max))
	}
	p99Ratio := "-"
	if pg != nil {
		p99Ratio = ratio(time.Duration(s.P99).Seconds(), time.Duration(pg.P99).Seconds())
	}
	out := []row{
		{head + ": QPS", fmtRate(s.QPS), side(func(p *ServePostgres) string { return fmtRate(p.QPS) }), side(func(p *ServePostgres) string { return ratio(s.QPS, p.QPS) })},
		{"serve: query p50 / p95 / p99 / max", latencies(s.ServeLatency), side(func(p *ServePostgres) string { return latencies(p.ServeLatency) }), p99Ratio},
	}
	for i, k := range s.Kinds {
		pgKind := "-"
		if pg != nil && i < len(pg.Kinds) {
			pgKind = fmt.Sprintf("%s / %s", fmtMs(pg.Kinds[i].P50), fmtMs(pg.Kinds[i].P99))
		}
		out = append(out, row{"serve: " + k.Query + " p50 / p99", fmt.Sprintf("%s / %s", fmtMs(k.P50), fmtMs(k.P99)), pgKind, ""})
	}
	return append(out,
		row{"serve: errors + misses", fmt.Sprintf("%d", s.Errors+s.Misses+s.MarkerErrors), side(func(p *ServePostgres) string { return fmt.Sprintf("%d", p.Errors+p.Misses) }), ""},
		row{"serve: freshness, Kafka produce to visible in a view, p50 / p99", fmt.Sprintf("%s / %s", fmtMs(s.FreshnessP50), fmtMs(s.FreshnessP99)), "-", ""},
		row{"serve: bids/s ingested meanwhile", fmtRate(s.IngestRate), "-", ""},
	)
}

// freshnessRows are the freshness workload's lines (Sluice only).
func freshnessRows(s *Serve) []row {
	rate := serveRateOf(s)
	head := fmt.Sprintf("freshness, checkpoints every %s, %d panels, %s events/s: produce to visible p50 / p99 (aim p99 <= 100 ms)",
		time.Duration(s.CheckpointInterval), s.Connections, rate)
	return []row{
		{head, fmt.Sprintf("%s / %s", fmtMs(s.FreshnessP50), fmtMs(s.FreshnessP99)), "-", ""},
		{"freshness: query p50 / p99, errors + misses", fmt.Sprintf("%s / %s, %d", fmtMs(s.P50), fmtMs(s.P99), s.Errors+s.Misses+s.MarkerErrors), "-", ""},
		{"freshness: bids/s ingested meanwhile", fmtRate(s.IngestRate), "-", ""},
	}
}

// restartRows are the restart workload's lines (Sluice only).
func restartRows(x *RestartResult) []row {
	sec := func(d Duration) string { return fmt.Sprintf("%.2f s", time.Duration(d).Seconds()) }
	how := "restored from its checkpoint"
	if !x.Restored {
		how = "COMPUTED AGAIN, not restored"
	}
	head := fmt.Sprintf("restart after SIGKILL (%s groups, checkpoint %s)", fmtRate(float64(x.Groups)), x.checkpoint())
	if x.Kill == "stop" {
		head = strings.Replace(head, "SIGKILL", "a clean stop", 1)
	}
	return []row{
		{head + ": exec to point SELECT right, best of " + fmt.Sprint(x.Runs), sec(x.Ready), "-", ""},
		{"restart: exec to SELECT over every group right", sec(x.Full), "-", ""},
		{"restart: CPU at ready / bytes read", fmt.Sprintf("%s / %d MiB", sec(x.CPU), x.BytesRead>>20), "-", ""},
		{"restart: read / decode / index the view (server log)", fmt.Sprintf("%s / %s / %s", sec(x.Read), sec(x.Decoded), sec(x.Indexed)), "-", ""},
		{"restart: the view", how, "-", ""},
	}
}

// checkpointCostRows compare checkpointCostQuery's events per CPU-second
// over the generator with the server's default checkpoints and with none:
// none when either run is missing.
func checkpointCostRows(runs []*NexmarkResult) []row {
	var with, without *NexmarkResult
	for _, n := range runs {
		if n.Query != checkpointCostQuery || n.Source != "datagen" || n.PerCore <= 0 {
			continue
		}
		switch {
		case n.CheckpointInterval == 0:
			with = n
		case n.CheckpointInterval < 0:
			without = n
		}
	}
	if with == nil || without == nil {
		return nil
	}
	cost := 1 - with.PerCore/without.PerCore
	return []row{{fmt.Sprintf("nexmark %s: events/s per CPU-second, checkpoints every %s / none: cost (aim <= 10 %%)", checkpointCostQuery, engine.DefaultCheckpointInterval),
		fmt.Sprintf("%s / %s, %.1f %%", fmtRate(with.PerCore), fmtRate(without.PerCore), 100*cost), "-", ""}}
}

// row is one line of the human and markdown tables.
type row struct {
	metric     string
	sluice, pg string
	ratio      string
}

// ratio is Sluice / PostgreSQL, or "-" when either side is missing.
func ratio(s, p float64) string {
	if s <= 0 || p <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", s/p)
}

func fmtRate(v float64) string {
	switch {
	case v <= 0:
		return "-"
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.1f", v)
}

// fmtBytes prints a size in MiB, or KiB below one MiB.
func fmtBytes(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
}

func fmtMs(d Duration) string {
	if d <= 0 {
		return "-"
	}
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case ms >= 100:
		return fmt.Sprintf("%.0f ms", ms)
	case ms >= 1:
		return fmt.Sprintf("%.2f ms", ms)
	}
	return fmt.Sprintf("%.3f ms", ms)
}

// rows builds the comparison table. Ratios are Sluice / PostgreSQL.
func (r *Report) rows() []row {
	s, p := r.Sluice, r.Postgres
	if s == nil {
		s = &Result{}
	}
	if p == nil {
		p = &Result{}
	}
	var out []row
	add := func(metric string, sv, pv float64, f func(float64) string) {
		out = append(out, row{metric, f(sv), f(pv), ratio(sv, pv)})
	}
	rate := func(v float64) string { return fmtRate(v) }
	ms := func(v float64) string { return fmtMs(Duration(v)) }
	count := func(v float64) string { return fmt.Sprintf("%.0f", v) }

	ld := func(l *Load) float64 {
		if l == nil {
			return 0
		}
		return l.RowsPerSec
	}
	// The load method (binary/text COPY) is shown when the two sides differ.
	loadRow := func(metric string, sl, pl *Load) {
		x := row{metric, rate(ld(sl)), rate(ld(pl)), ratio(ld(sl), ld(pl))}
		if sl != nil && pl != nil && sl.Method != pl.Method {
			x.sluice += " (" + sl.Method + ")"
			x.pg += " (" + pl.Method + ")"
		}
		out = append(out, x)
	}
	loadRow(fmt.Sprintf("kv load, rows/s (%s rows, COPY)", fmtRate(float64(r.Config.KVRows))), s.KVLoad, p.KVLoad)

	pt := func(x *Point) Point {
		if x == nil {
			return Point{Queries: -1}
		}
		return *x
	}
	sp, pp := pt(s.Point), pt(p.Point)
	add(fmt.Sprintf("point lookup QPS (%d conns)", r.Config.Conns), sp.QPS, pp.QPS, rate)
	add("point lookup p50", float64(sp.P50), float64(pp.P50), ms)
	add("point lookup p99", float64(sp.P99), float64(pp.P99), ms)
	add("point lookup max", float64(sp.Max), float64(pp.Max), ms)
	errs := func(x Point) string {
		if x.Queries < 0 {
			return "-"
		}
		return count(float64(x.Errors + x.Wrong))
	}
	out = append(out, row{"point lookup errors + wrong rows", errs(sp), errs(pp), ""})

	loadRow(fmt.Sprintf("agg load, rows/s (%s rows, COPY)", fmtRate(float64(r.Config.AggRows))), s.AggLoad, p.AggLoad)
	ag := func(a *Agg) Agg {
		if a == nil {
			return Agg{}
		}
		return *a
	}
	sa, pa := ag(s.Agg), ag(p.Agg)
	add(fmt.Sprintf("scan-aggregate best of %d", r.Config.AggRuns), float64(sa.Best), float64(pa.Best), ms)
	add("scan-aggregate rows/s", sa.RowsPerSec, pa.RowsPerSec, rate)
	correct := func(a *Agg) string {
		switch {
		case a == nil:
			return "-"
		case a.Correct:
			return "correct"
		}
		return "WRONG"
	}
	m := r.AggMatch
	if m == "" {
		m = "not compared"
	}
	out = append(out, row{"scan-aggregate answer (vs generated data)", correct(s.Agg), correct(p.Agg), m})
	out = append(out, viewRows(r.Config.ViewRows, s.View)...)
	for _, k := range s.Kafka {
		out = append(out, kafkaRows(k)...)
	}
	if s.Serve != nil {
		out = append(out, serveRows(s.Serve)...)
	}
	if s.Freshness != nil {
		out = append(out, freshnessRows(s.Freshness)...)
	}
	if s.Restart != nil {
		out = append(out, restartRows(s.Restart)...)
	}
	out = append(out, checkpointCostRows(s.Nexmark)...)
	rss := "-"
	if s.PeakRSS > 0 {
		rss = fmt.Sprintf("%.0f MiB", float64(s.PeakRSS)/(1<<20))
	}
	out = append(out, row{"peak RSS (VmHWM, incl. bench client)", rss, "-", ""})
	return out
}

// viewRows are the views workload's lines; PostgreSQL has no streaming
// views, so its column stays empty.
func viewRows(rows int64, v *View) []row {
	x := View{}
	if v != nil {
		x = *v
	}
	answer := "-"
	switch {
	case v == nil:
	case x.Wrong == "":
		answer = "correct"
	default:
		answer = "WRONG"
	}
	perKey := "-"
	if x.HeapWithView > 0 {
		perKey = fmt.Sprintf("%.0f B", x.BytesPerKey)
	}
	return []row{
		{fmt.Sprintf("view: COPY into stream, rows/s (%s rows)", fmtRate(float64(rows))), fmtRate(x.CopyRate), "-", ""},
		{"view: end to end, rows/s (COPY start to view complete)", fmtRate(x.EndToEndRate), "-", ""},
		{"view: delay, COPY end to view complete", fmtMs(x.Delay), "-", ""},
		{fmt.Sprintf("view: heap per group key (%d keys; with - without view)", viewKeys), perKey, "-", ""},
		{"view answer (vs generated data)", answer, "-", ""},
	}
}

func (r *Report) facts() string {
	f := fmt.Sprintf("%s, %s, %s/%s, %d CPUs (GOMAXPROCS %d)", r.Date.UTC().Format("2006-01-02 15:04 MST"),
		r.GoVersion, r.OS, r.Arch, r.CPUs, r.GOMAXPROCS)
	if r.CPUModel != "" {
		f += ", " + r.CPUModel
	}
	if r.MemTotalBytes > 0 {
		f += fmt.Sprintf(", %.1f GiB RAM", float64(r.MemTotalBytes)/(1<<30))
	}
	if r.PostgresVersion != "" {
		f += ", PostgreSQL " + r.PostgresVersion
	}
	return f
}

func (r *Report) shape() string {
	c := r.Config
	sh := fmt.Sprintf("mode %s: kv %d rows, %d conns for %s; agg %d rows, best of %d; view %d rows",
		c.Mode, c.KVRows, c.Conns, time.Duration(c.Duration), c.AggRows, c.AggRuns, c.ViewRows)
	if c.ServeConns > 0 {
		sh += fmt.Sprintf("; serve %d conns for %s at %s events/s", c.ServeConns, time.Duration(c.ServeDuration), serveRateText(c.ServeRate))
	}
	return sh
}

// WriteText writes the human table.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "sluice bench: %s\n%s\n\n", r.shape(), r.facts())
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "metric\tSluice\tPostgreSQL\tratio")
	fmt.Fprintln(tw, "------\t------\t----------\t-----")
	for _, x := range r.rows() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", x.metric, x.sluice, x.pg, x.ratio)
	}
	tw.Flush()
	b.WriteString("\nratio = Sluice / PostgreSQL (rates: above 1 is Sluice faster; latencies: below 1 is).\n")
	if head, rows := r.nexmarkTable(); rows != nil {
		b.WriteString("\nNexmark (each query on a fresh Sluice, CREATE STREAM until the view holds every event):\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(head, "\t"))
		for _, x := range rows {
			fmt.Fprintln(tw, strings.Join(x, "\t"))
		}
		tw.Flush()
	}
	writeList(&b, "note", r.Notes)
	writeList(&b, "ERROR", r.Errors)
	_, err := io.WriteString(w, b.String())
	return err
}

// nexmarkTable is the Nexmark runs as a table; rows is nil when none ran.
func (r *Report) nexmarkTable() (head []string, rows [][]string) {
	if r.Sluice == nil {
		return nil, nil
	}
	head = []string{"query", "source", "events", "events/s", "aim", "of aim", "cores", "events/s per CPU-second", "minor faults per 1000 events", "view rows", "state", "peak RSS"}
	for _, n := range r.Sluice.Nexmark {
		source := n.Source
		if n.Format != "" {
			source += " " + n.Format
		}
		switch ci := time.Duration(n.CheckpointInterval); {
		case ci < 0:
			source += ", no checkpoints"
		case ci > 0:
			source += ", checkpoints every " + ci.String()
		}
		aim, of := "-", "-"
		if a := nexmarkAims[n.Query]; a > 0 {
			aim, of = fmtRate(a), fmt.Sprintf("%.2f", n.EventsPerSec/a)
		}
		rate := fmtRate(n.EventsPerSec)
		if runs := n.runsText(); runs != "" {
			rate += " (" + runs + ")"
		}
		perCore := fmtRate(n.PerCore)
		if n.PerCoreSluice > 0 {
			perCore += " (" + fmtRate(n.PerCoreSluice) + " without the broker)"
		}
		rows = append(rows, []string{n.Query, source, fmtRate(float64(n.Events)), rate, aim, of,
			n.cores(), perCore, n.faultsPer1k(), fmt.Sprint(n.ViewRows), fmtBytes(n.StateBytes), fmt.Sprintf("%d MiB", n.PeakRSS>>20)})
	}
	return head, rows
}

func writeList(b *strings.Builder, label string, items []string) {
	for _, s := range items {
		fmt.Fprintf(b, "%s: %s\n", label, s)
	}
}

// WriteMarkdown writes REPORT.md.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	b.WriteString("# Sluice vs PostgreSQL\n\n")
	b.WriteString("Generated by `sluice bench`; do not edit. ")
	fmt.Fprintf(&b, "Ratios are Sluice / PostgreSQL (rates: above 1 is Sluice faster; latencies: below 1 is).\n\n")
	fmt.Fprintf(&b, "- Run: %s\n", r.shape())
	fmt.Fprintf(&b, "- Date: %s\n", r.Date.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "- Machine: %s/%s, %d CPUs (GOMAXPROCS %d)", r.OS, r.Arch, r.CPUs, r.GOMAXPROCS)
	if r.CPUModel != "" {
		fmt.Fprintf(&b, ", %s", r.CPUModel)
	}
	if r.MemTotalBytes > 0 {
		fmt.Fprintf(&b, ", %.1f GiB RAM", float64(r.MemTotalBytes)/(1<<30))
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "- Go: %s\n", r.GoVersion)
	pv := r.PostgresVersion
	if pv == "" {
		pv = "not run"
	}
	fmt.Fprintf(&b, "- PostgreSQL: %s\n\n", pv)
	b.WriteString("| metric | Sluice | PostgreSQL | ratio |\n| --- | ---: | ---: | ---: |\n")
	for _, x := range r.rows() {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", x.metric, x.sluice, x.pg, x.ratio)
	}
	if head, rows := r.nexmarkTable(); rows != nil {
		b.WriteString("\n## Nexmark\n\nEach query on a fresh Sluice, timed from CREATE STREAM until its view holds every event; " +
			"the aim is the events/s it should reach on 2 cores. " +
			"A query run several times (each on a fresh Sluice and broker) shows its median run, with the range of the runs' events/s.\n\n")
		fmt.Fprintf(&b, "| %s |\n| --- | --- |%s\n", strings.Join(head, " | "), strings.Repeat(" ---: |", len(head)-2))
		for _, x := range rows {
			fmt.Fprintf(&b, "| %s |\n", strings.Join(x, " | "))
		}
	}
	if len(r.Notes) > 0 {
		b.WriteString("\nNotes:\n\n")
		for _, s := range r.Notes {
			fmt.Fprintf(&b, "- %s\n", s)
		}
	}
	if len(r.Errors) > 0 {
		b.WriteString("\nErrors:\n\n")
		for _, s := range r.Errors {
			fmt.Fprintf(&b, "- %s\n", s)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes report.json.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
