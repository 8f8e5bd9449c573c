package server

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-db/sluice/engine"
)

// watermarkCollector exports, per stream with a watermark, its late rows
// and its watermark.
type watermarkCollector struct {
	eng             *engine.Engine
	late, watermark *prometheus.Desc
}

func newWatermarkCollector(eng *engine.Engine) *watermarkCollector {
	labels := []string{"stream"}
	return &watermarkCollector{eng: eng,
		late: prometheus.NewDesc("sluice_late_events_total",
			"Rows that arrived behind their stream's watermark and allowed lateness, kept in sluice_late_events (since the server started).", labels, nil),
		watermark: prometheus.NewDesc("sluice_stream_watermark_seconds",
			"A stream's event-time watermark, in Unix seconds (absent before its first).", labels, nil),
	}
}

func (c *watermarkCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.late
	ch <- c.watermark
}

func (c *watermarkCollector) Collect(ch chan<- prometheus.Metric) {
	for _, w := range c.eng.StreamWatermarks() {
		ch <- prometheus.MustNewConstMetric(c.late, prometheus.CounterValue, float64(w.LateEvents), w.Name)
		if w.HasWatermark() {
			ch <- prometheus.MustNewConstMetric(c.watermark, prometheus.GaugeValue, float64(w.Watermark)/1e6, w.Name)
		}
	}
}
