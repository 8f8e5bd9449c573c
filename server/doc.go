// Package server assembles a running Sluice node: it opens storage, builds the
// engine, serves the Postgres wire protocol and an HTTP endpoint (/healthz,
// /metrics) and shuts them down in order. Metrics live in a Prometheus
// registry owned by the Server, never the global default one, so several
// servers can run in one process (tests do). StartHeapHugePages is the
// process's, not a server's: it makes the runtime map the heap a runway
// of memory advised for transparent huge pages at start, and advises the
// heap's later growth as the runtime maps it (heappages_linux.go).
//
// Concurrency: Start and Close are called once each; the listeners run in
// their own goroutines; metric updates are safe from any goroutine.
package server
