// Package nexmark generates the Nexmark benchmark's events (people,
// auctions and bids of an online auction) as the public nexmark generator
// does, following ../shared/NEXMARK.md: the event kind, ids, times and
// every random draw are a function of the seed and the event id alone, so
// any range of events can be generated in any order, by several
// generators at once, and a restart continues the same sequence.
//
// A Generator appends one kind's events straight into column vectors
// (typed appends, no boxing); text that repeats (names, cities, channels,
// URLs, padding) is sliced from strings built once, so a bid costs no
// allocation.
//
// Concurrency: a Generator is immutable after New and safe for concurrent
// use; each caller appends into its own vectors.
package nexmark
