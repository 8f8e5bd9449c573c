package server

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-db/sluice/engine"
)

// resultCacheCollector exports the engine's shared answers: statements
// answered from another run's answer, statements that ran, and the bytes
// kept.
type resultCacheCollector struct {
	eng                 *engine.Engine
	hits, misses, bytes *prometheus.Desc
}

func newResultCacheCollector(eng *engine.Engine) *resultCacheCollector {
	return &resultCacheCollector{eng: eng,
		hits: prometheus.NewDesc("sluice_result_cache_hits_total",
			"Read-only statements over views answered with another run's answer at the same published epoch (since the server started).", nil, nil),
		misses: prometheus.NewDesc("sluice_result_cache_misses_total",
			"Statements that could share an answer and found none kept, so ran (since the server started).", nil, nil),
		bytes: prometheus.NewDesc("sluice_result_cache_bytes",
			"Estimated bytes of the answers kept (--result-cache-bytes bounds them).", nil, nil),
	}
}

func (c *resultCacheCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.hits
	ch <- c.misses
	ch <- c.bytes
}

func (c *resultCacheCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.eng.ResultCacheStats()
	ch <- prometheus.MustNewConstMetric(c.hits, prometheus.CounterValue, float64(st.Hits))
	ch <- prometheus.MustNewConstMetric(c.misses, prometheus.CounterValue, float64(st.Misses))
	ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(st.Bytes))
}
