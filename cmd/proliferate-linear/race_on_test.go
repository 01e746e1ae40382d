//go:build race

package main

// raceEnabled: the race detector slows CPU-bound work about tenfold, so
// load tests scale their bursts down under it (the figures come from the
// plain run and the benchmarks).
const raceEnabled = true
