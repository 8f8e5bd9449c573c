// Package webhook is the webhook sink: it POSTs a sink's changes to an HTTP
// endpoint, one request per batch of epochs, as a JSON array of rows with
// their diffs. Delivery is at least once: a batch is retried (with backoff)
// until the endpoint answers 2xx, and a batch retried after a restart keeps
// its idempotency keys, so an endpoint that remembers them sees every change
// once. A Sink is used by one goroutine at a time.
package webhook
