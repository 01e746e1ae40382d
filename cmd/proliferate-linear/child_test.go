package main

import (
	"os"
	"testing"
)

// TestMain lets the bench's process row start this test binary as the
// bot (the bench starts os.Executable, which under go test is this
// binary): with benchChildEnv set it runs main instead of the tests.
func TestMain(m *testing.M) {
	if os.Getenv(benchChildEnv) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}
