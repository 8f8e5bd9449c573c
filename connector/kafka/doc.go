// Package kafka is the Kafka source: it reads a stream's topics with
// franz-go as a direct (group-less) consumer, two clients per decode worker
// fetching that worker's partitions (so that fetches are parsed in
// parallel, and one client's fetch is in flight while the other's records
// are decoded), decodes records into change chunks through a format.Decoder,
// and delivers each chunk to its Target together with the offsets it
// reached and the records it could not decode, so that rows, offsets and
// dead letters commit in one transaction.
//
// Offsets are Sluice's: the Target stores them with the rows and gives them
// back at start. They are also committed to a consumer group named after the
// stream, only so that ordinary lag tools can see progress; Sluice never
// reads them back. Partitions are consumed by a fixed set of decode workers
// (a partition always on the same worker, so its records stay in order);
// topics gaining partitions, and topics matching topic_pattern, are picked
// up by a metadata poll. When a Target is slow to accept a batch, the
// worker's queue fills and its clients are no longer polled, which stops their
// fetching (franz-go fetches again only once its buffered fetch is polled)
// instead of buffering. Partitions are not paused (PauseFetchPartitions):
// see hand for the stall that caused. A small fetch that finds its worker
// idle is decoded on the poll goroutine, under the worker's lock, so that a
// lone record crosses fewer goroutines (worker.go); commits are made on
// each worker's deliverer goroutine only.
//
// It is also the Kafka sink's producer side (sink*.go): the envelopes that
// turn consolidated changes into records, and TxnProducer, which writes
// them in transactions with a progress marker in ProgressTopic, so that a
// transaction's outcome can always be read back instead of guessed
// (docs/sinks.md). A TxnProducer is used by one goroutine at a time.
package kafka
