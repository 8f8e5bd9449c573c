// Package cpuprofile starts and stops a CPU profile of the process into a
// file, for `sluice serve --startup-cpu-profile` and the benchmarks.
package cpuprofile
