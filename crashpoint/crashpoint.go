// Package crashpoint kills the process at a named point, so fault tests can
// crash the real binary exactly where a crash hurts most: after a commit
// and before its answer, or while a remote system's answer is on its way.
//
// A point is armed by the environment variable PROLIFERATE_CRASHPOINT:
//
//	PROLIFERATE_CRASHPOINT=alert.stored         SIGKILL at the first hit
//	PROLIFERATE_CRASHPOINT=alert.stored@1000    SIGKILL at the 1000th hit
//
// The variable is read once, at start-up. Unset (production), Hit is a nil
// check and a return: no lock, no allocation. Before dying the process
// writes "crashpoint: <name> hit <n>: SIGKILL" to stderr, so a test can tell
// the crash it asked for from any other.
package crashpoint

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
)

// Env names the environment variable that arms a point.
const Env = "PROLIFERATE_CRASHPOINT"

// The named points. Each is hit at one place in the product.
const (
	// AlertStored is hit in the alert webhook once an alert (and its Slack
	// job) is committed, before the 202 is written: the sender sees the
	// connection drop and retries an alert that is already stored.
	AlertStored = "alert.stored"
	// LinearAnswered is hit, followed by "." and the operation name (for
	// example "linear.answered.createIssue"), when Linear's answer to an
	// operation has arrived and before the bot acts on it: the change is
	// made in Linear, and the bot never learns of it.
	LinearAnswered = "linear.answered"
)

// point is the armed point; nth is the hit that kills (1 = the first).
type point struct {
	name string
	nth  int64
	hits atomic.Int64
}

// armed is nil unless Env names a point.
var armed = parse(os.Getenv(Env))

// parse reads "name" or "name@n"; anything unreadable arms nothing, and
// says so on stderr rather than crash somewhere unexpected.
func parse(v string) *point {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	name, count, hasCount := strings.Cut(v, "@")
	p := &point{name: name, nth: 1}
	if hasCount {
		n, err := strconv.ParseInt(count, 10, 64)
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "crashpoint: %s=%q: the count after @ must be a positive number; nothing armed\n", Env, v)
			return nil
		}
		p.nth = n
	}
	return p
}

// Hit kills the process with SIGKILL if name is the armed point and this
// is its nth hit.
func Hit(name string) {
	if p := armed; p != nil && p.name == name {
		p.hit()
	}
}

// HitOp is Hit for the point name + "." + op, without building the string
// unless a point is armed.
func HitOp(name, op string) {
	p := armed
	if p == nil || len(p.name) != len(name)+1+len(op) {
		return
	}
	if strings.HasPrefix(p.name, name) && p.name[len(name)] == '.' && strings.HasSuffix(p.name, op) {
		p.hit()
	}
}

func (p *point) hit() {
	n := p.hits.Add(1)
	if n != p.nth {
		return
	}
	fmt.Fprintf(os.Stderr, "crashpoint: %s hit %d: SIGKILL\n", p.name, n)
	kill()
}

// kill sends SIGKILL to this process (os.Process.Kill is SIGKILL on Unix)
// and blocks until it arrives: nothing after the point may run.
func kill() {
	if self, err := os.FindProcess(os.Getpid()); err == nil {
		_ = self.Kill()
	}
	select {}
}
