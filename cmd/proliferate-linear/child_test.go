package main

import (
	"os"
	"testing"

	"github.com/proliferate/proliferate-linear/internal/testmain"
)

// parallelTests is how many parallel tests run at once unless
// -test.parallel says otherwise (its default is GOMAXPROCS, 2 on the CI
// machine). The parallel end-to-end tests spend much of their time waiting
// on a slow fake Linear, a retry or a lease, so more of them at once
// shortens the package; the timed tests are not parallel and run alone,
// first.
const parallelTests = 4

// TestMain lets the bench's process row start this test binary as the
// bot (the bench starts os.Executable, which under go test is this
// binary): with benchChildEnv set it runs main instead of the tests.
func TestMain(m *testing.M) {
	if os.Getenv(benchChildEnv) == "1" {
		main()
		return
	}
	testmain.Parallel(parallelTests)
	testmain.Exit(m.Run())
}
