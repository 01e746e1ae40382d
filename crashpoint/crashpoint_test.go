package crashpoint

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/proliferate/proliferate-linear/internal/testmain"
)

// childEnv makes the test binary act as the crashing child of TestHit.
const childEnv = "CRASHPOINT_TEST_CHILD"

// TestMain runs the child's loop when asked to: hit "a" and "b.op" ten
// times each, printing each hit that survived, then exit 0.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		for i := 1; i <= 10; i++ {
			Hit("a")
			HitOp("b", "op")
			fmt.Println("survived", i)
		}
		os.Exit(0)
	}
	testmain.Exit(m.Run())
}

func TestHit(t *testing.T) {
	tests := []struct {
		name     string
		armed    string
		survived int  // hits of the loop that completed
		killed   bool // ended by SIGKILL
	}{
		{name: "unarmed", armed: "", survived: 10},
		{name: "first hit", armed: "a", survived: 0, killed: true},
		{name: "nth hit", armed: "a@4", survived: 3, killed: true},
		{name: "op point", armed: "b.op@2", survived: 1, killed: true},
		{name: "other point", armed: "c", survived: 10},
		{name: "prefix of a point is not the point", armed: "b.o", survived: 10},
		{name: "bad count arms nothing", armed: "a@0", survived: 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // each case is a child process of its own.
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			// GORACE: a race-enabled child would sleep a second at exit.
			cmd.Env = append(os.Environ(), childEnv+"=1", Env+"="+tt.armed, "GORACE=atexit_sleep_ms=0")
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			killed := errors.As(err, &exit) && exit.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL
			if err != nil && !killed {
				t.Fatalf("child: %v\n%s", err, stderr.String())
			}
			if killed != tt.killed {
				t.Errorf("killed = %v, want %v (stderr %q)", killed, tt.killed, stderr.String())
			}
			if got := strings.Count(stdout.String(), "survived"); got != tt.survived {
				t.Errorf("survived %d hits, want %d", got, tt.survived)
			}
			if tt.killed && !strings.Contains(stderr.String(), "crashpoint: "+tt.armed[:strings.IndexByte(tt.armed+"@", '@')]+" hit") {
				t.Errorf("stderr %q does not name the point", stderr.String())
			}
		})
	}
}

// BenchmarkHitUnarmed shows the cost of a point in production.
func BenchmarkHitUnarmed(b *testing.B) {
	saved := armed
	armed = nil
	defer func() { armed = saved }()
	for b.Loop() {
		Hit(AlertStored)
		HitOp(LinearAnswered, "createIssue")
	}
}
