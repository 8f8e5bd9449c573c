// Package connector owns the ways data enters and leaves Sluice besides SQL:
// sources (Kafka and the datagen generators today; Kinesis, Pub/Sub later)
// and sinks. A source turns external records (or generated events) into
// change chunks for a stream, through a format.Decoder for records, and hands
// them to the engine together with the position it read up to, so rows and
// positions commit in one storage transaction. A sink (kafka, webhook)
// turns a view's consolidated changes into records or requests; what it
// has written, and the transaction in flight, the engine keeps
// (docs/sinks.md).
package connector
