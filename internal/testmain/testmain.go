// Package testmain ends a test binary without the race detector's exit
// pause. Every package's TestMain calls Run (or Exit, when it has work of
// its own before the tests).
//
// A binary built with -race sleeps GORACE's atexit_sleep_ms, 1 s by
// default, before a successful exit, so that reports from goroutines still
// running can be printed. `go test -race ./...` runs this module's twenty
// test binaries two at a time on a 2-core machine, so those pauses alone
// were about a tenth of the whole run. The testing package already fails a run
// with a race in it, inside a test or outside one, so the pause adds
// nothing to what a passing run proves; Exit skips it. A failing run, or
// one that writes a coverage profile, exits through os.Exit as usual.
package testmain

import (
	"flag"
	"os"
	"strconv"
	"syscall"
	"testing"
)

// Run runs the tests and exits with their status.
func Run(m *testing.M) {
	Exit(m.Run())
}

// Parallel makes n the default of -test.parallel, which is GOMAXPROCS
// otherwise, for a package whose tests spend most of their time waiting
// (on a fake's latency, a pace, a child process) rather than computing. A
// -parallel given on the command line wins. Call it first in TestMain.
func Parallel(n int) {
	if !flag.Parsed() {
		flag.Parse()
	}
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", strconv.Itoa(n))
	}
}

// Exit ends a test binary with code, as os.Exit does, but with no race
// detector pause after a passing run.
func Exit(code int) {
	if code == 0 && raceEnabled && testing.CoverMode() == "" {
		// os.Exit(0) would call the race runtime's finaliser, which
		// sleeps; m.Run has already reported any race it saw and
		// returned non-zero for it. No exit hooks are registered
		// without coverage.
		syscall.Exit(0)
	}
	os.Exit(code)
}
