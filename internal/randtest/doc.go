// Package randtest holds what Sluice's randomized differential tests
// (difftest, viewtest, the dataflow's) share: settings read from the environment and the
// comparison of result rows as multisets. It is imported by tests only.
package randtest
