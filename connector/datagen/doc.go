// Package datagen is the built-in generator source: a stream created WITH
// (connector = 'datagen', generator = 'clicks') fills itself with realistic
// events (clicks, orders, rides) at a chosen rate, with bounded disorder and
// a few late events, so views and windows can be tried with nothing else
// installed; nexmark_person, nexmark_auction and nexmark_bid split one
// Nexmark sequence (../shared/NEXMARK.md) for benchmarks.
//
// Event n of a generator is a pure function of (seed, n) and the clock base:
// every random draw is a splitmix64 hash of the seed, n and the draw's number,
// so a source resumes at any stored position without replaying what came
// before, and two sources with one seed produce the same events. Event time
// is the event's scheduled emission time (clock base + n/rate) minus a
// random delay of at most Options.Disorder, or, for Options.LateFraction of
// the events, Options.LateBy more.
//
// A Source runs two goroutines: one generates a chunk of the events due,
// column by column, and the other delivers it to its Target with the number
// of events generated so far, which the Target stores with the rows in one
// transaction; the next chunk is drawn while the one before is delivered,
// at most one ahead. A rate-limited source delivers what is due every Interval,
// or every RoundRows rows at rates that make more in an Interval;
// Deliver may block (backpressure), and a source behind its schedule then
// catches up without pausing, in chunks of at most PacedBatchRows (or two
// Intervals' rows when they are more), so that no
// single commit holds the views' step long; owing more than BatchRows, in
// chunks of half of BatchRows (or of two Intervals' rows when they are
// more).
package datagen
