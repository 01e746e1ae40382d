package testmain

import (
	"errors"
	"flag"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// childExit, when set, makes this binary a child that exits with its
// value through Exit, with a goroutine still running as tests leave them.
const childExit = "TESTMAIN_CHILD_EXIT"

func TestMain(m *testing.M) {
	if v := os.Getenv(childExit); v != "" {
		code, err := strconv.Atoi(v)
		if err != nil {
			panic(err)
		}
		go func() { select {} }()
		Exit(code)
	}
	Parallel(5)
	Run(m)
}

func TestExitKeepsTheCode(t *testing.T) {
	for _, want := range []int{0, 1, 3} {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childExit+"="+strconv.Itoa(want))
		err := cmd.Run()
		got := 0
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			got = exit.ExitCode()
		} else if err != nil {
			t.Fatalf("child exiting %d: %v", want, err)
		}
		if got != want {
			t.Errorf("child exiting %d: exit status %d", want, got)
		}
	}
}

func TestParallelSetsTheDefault(t *testing.T) {
	for _, arg := range os.Args[1:] {
		if strings.HasPrefix(arg, "-test.parallel") {
			t.Skip("-test.parallel was given on the command line; it wins over Parallel")
		}
	}
	if got := flag.Lookup("test.parallel").Value.String(); got != "5" {
		t.Errorf("-test.parallel = %s after Parallel(5), want 5", got)
	}
}
