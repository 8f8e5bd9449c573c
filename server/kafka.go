package server

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sluice-db/sluice/engine"
)

// embeddedPartitions is how many partitions topics auto-created on the
// embedded broker get: enough for the decode workers of two cores.
const embeddedPartitions = 4

// embeddedKafka is the in-process Kafka-protocol broker and the keeper of
// the topics it creates on the fly.
type embeddedKafka struct {
	*kfake.Cluster
	topics  *topicKeeper
	dataDir string
	// abortedAtStart counts the transactions a crash had left open, whose
	// abort markers were written at start (kafka_txns.go).
	abortedAtStart int
	// commitsCompleted counts the commit markers a crash kept from
	// partitions of a committing transaction, appended at start.
	commitsCompleted int
	// indexesRealigned counts the segment indexes a crash had left out of
	// step with their segments, rewritten at start (kafka_txns.go).
	indexesRealigned int
}

// Close shuts the broker down and records that it did so cleanly.
func (k *embeddedKafka) Close() error {
	k.topics.close()
	k.Cluster.Close()
	return markCleanShutdown(k.dataDir)
}

// startEmbeddedKafka starts the in-process Kafka-protocol broker on addr,
// keeping its log under dataDir/kafka. After a crash it first ends the
// transactions the crash left open (kafka_txns.go).
func startEmbeddedKafka(addr, dataDir string) (*embeddedKafka, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--embedded-kafka-addr %s: %w", addr, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("--embedded-kafka-addr %s: bad port", addr)
	}
	// kfake listens on 127.0.0.1:port; listen on the configured host instead.
	listen := func(network, _ string) (net.Listener, error) {
		return net.Listen(network, net.JoinHostPort(host, strconv.Itoa(port)))
	}
	clean, err := closedCleanly(dataDir)
	if err != nil {
		return nil, err
	}
	logDir := filepath.Join(dataDir, "kafka")
	var rec logRecovery
	if !clean {
		if rec, err = recoverLog(logDir); err != nil {
			return nil, fmt.Errorf("embedded kafka broker: %w", err)
		}
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.ListenFn(listen),
		kfake.DataDir(logDir), kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(embeddedPartitions), kfake.ClusterID("sluice-embedded"))
	if err != nil {
		return nil, fmt.Errorf("%w (is another broker running? point sluice at it with --kafka-brokers, or move the embedded one with --embedded-kafka-addr, or set that to off)",
			listenError("--embedded-kafka-addr", addr, err))
	}
	if err := unmarkCleanShutdown(dataDir); err != nil {
		c.Close()
		return nil, err
	}
	// Clients may connect from here on: the keeper holds their produce
	// requests until the open transactions are ended and the topics
	// written.
	topics, err := holdProduce(c)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("embedded kafka broker: %w", err)
	}
	aborted, err := abortOpenTransactions(c, rec.abort)
	if err != nil {
		topics.close()
		c.Close()
		return nil, fmt.Errorf("embedded kafka broker: ending the transactions a crash left open: %w", err)
	}
	if err := topics.start(); err != nil {
		topics.close()
		c.Close()
		return nil, fmt.Errorf("embedded kafka broker: %w", err)
	}
	return &embeddedKafka{Cluster: c, topics: topics, dataDir: dataDir, abortedAtStart: aborted, commitsCompleted: rec.completed, indexesRealigned: rec.realigned}, nil
}

// sourceCollector exports every stream source's partition counters.
type sourceCollector struct {
	eng                       *engine.Engine
	records, bytes, dead, lag *prometheus.Desc
	position, pauses          *prometheus.Desc
}

func newSourceCollector(eng *engine.Engine) *sourceCollector {
	labels := []string{"stream", "topic", "partition"}
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, labels, nil) }
	return &sourceCollector{eng: eng,
		records:  d("sluice_source_records_total", "Records read by a stream's source, dead letters included."),
		bytes:    d("sluice_source_bytes_total", "Bytes of keys and values read by a stream's source."),
		dead:     d("sluice_source_dead_letters_total", "Records a stream's source could not decode."),
		lag:      d("sluice_source_lag_records", "Records in the partition past the stream's position."),
		position: d("sluice_source_position", "Next offset the stream reads from the partition."),
		pauses:   d("sluice_source_pauses_total", "Times fetching paused because ingestion was behind."),
	}
}

func (c *sourceCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.records, c.bytes, c.dead, c.lag, c.position, c.pauses} {
		ch <- d
	}
}

func (c *sourceCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.eng.SourceStats() {
		l := []string{s.Stream, s.Topic, strconv.Itoa(int(s.Partition.Partition))}
		ch <- prometheus.MustNewConstMetric(c.records, prometheus.CounterValue, float64(s.Records), l...)
		ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.CounterValue, float64(s.Bytes), l...)
		ch <- prometheus.MustNewConstMetric(c.dead, prometheus.CounterValue, float64(s.DeadLetters), l...)
		ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, float64(s.Lag()), l...)
		ch <- prometheus.MustNewConstMetric(c.position, prometheus.GaugeValue, float64(s.Position), l...)
		ch <- prometheus.MustNewConstMetric(c.pauses, prometheus.CounterValue, float64(s.Pauses), l...)
	}
}

// ingestCollector exports the engine's breakdown of ingestion latency:
// where the time from a source's batch to the epoch publishing it goes.
type ingestCollector struct {
	eng                                                          *engine.Engine
	backlogWait, commitWait, commitHold, commitRows, delay, step *prometheus.Desc
	epochRows, checkpointPause                                   *prometheus.Desc
}

func newIngestCollector(eng *engine.Engine) *ingestCollector {
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, nil, nil) }
	return &ingestCollector{eng: eng,
		backlogWait: d("sluice_source_backlog_wait_seconds", "How long a source batch waited for the views' backlog to drain (backpressure) before committing."),
		commitWait:  d("sluice_source_commit_wait_seconds", "How long a source commit waited for its commit group to start, behind other groups."),
		commitHold:  d("sluice_source_commit_seconds", "How long a source commit's group held storage's commit lock: encoding, syncing, applying."),
		commitRows:  d("sluice_source_commit_rows", "Rows per source commit."),
		delay:       d("sluice_view_publish_delay_seconds", "From a commit the views read to the epoch that publishes it (queueing and stepping)."),
		step:        d("sluice_view_step_seconds", "How long one epoch of the views took: stepping their dataflows and publishing."),
		epochRows:   d("sluice_view_epoch_rows", "Changed rows one epoch of the views stepped over."),
		checkpointPause: d("sluice_view_checkpoint_pause_seconds",
			"The longest the views' loop paused in a checkpoint (serializing one view's state for the writer); epochs wait meanwhile, small commits only for that view's."),
	}
}

func (c *ingestCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.backlogWait, c.commitWait, c.commitHold, c.commitRows, c.delay, c.step, c.epochRows, c.checkpointPause} {
		ch <- d
	}
}

func (c *ingestCollector) Collect(ch chan<- prometheus.Metric) {
	t := c.eng.IngestTimings()
	for _, h := range []struct {
		d *prometheus.Desc
		s engine.HistogramSnapshot
	}{{c.backlogWait, t.BacklogWait}, {c.commitWait, t.CommitWait}, {c.commitHold, t.CommitHold},
		{c.commitRows, t.CommitRows}, {c.delay, t.PublishDelay}, {c.step, t.Step}, {c.epochRows, t.EpochRows}, {c.checkpointPause, t.CheckpointPause}} {
		ch <- prometheus.MustNewConstHistogram(h.d, h.s.Count, h.s.Sum, h.s.Buckets)
	}
}
