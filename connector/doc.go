// Package connector owns the ways data enters and leaves Sluice besides SQL:
// sources (Kafka today; Kinesis, Pub/Sub, datagen later) and sinks. A source
// turns external records into change chunks for a stream through a
// format.Decoder and hands them to the engine together with the position it
// read up to, so rows and positions commit in one storage transaction.
package connector
