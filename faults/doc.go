// Package faults is the fault suite of proliferate-linear: it builds the
// real binary, runs one to three replicas of it as child processes against
// the fake Slack (bot/fakeslack) and the fake Linear (linear/fakelinear) on
// loopback, on SQLite and (with PROLIFERATE_TEST_DATABASE_URL) PostgreSQL,
// and breaks things the way production breaks them: kill -9 mid-burst and
// at crash points (package crashpoint), Slack's 429 with Retry-After,
// Socket Mode disconnects, Linear outages and slowness, bursts of clicks.
// Each scenario checks a promise from outside and prints its figures
// (go test -v ./faults shows them).
//
// The scenarios run only with PROLIFERATE_FAULTS=1: they wait on real
// clocks for about a minute, so go test ./... skips them and CI runs them
// in a step of their own:
//
//	PROLIFERATE_FAULTS=1 go test -race -count=1 ./faults
//
// Flags (after -args): -burst sets the size of the kill -9 burst (default
// 2000, the figure the promise is made for; PROLIFERATE_FAULTS_BURST
// overrides it too).
//
// The package has no code outside its tests; this file documents it.
package faults
