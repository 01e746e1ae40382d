package faults

import (
	"os/exec"
	"syscall"
)

// setPdeathsig makes the kernel kill the replica if this test process
// dies first, so no replica outlives a crashed or interrupted test run.
func setPdeathsig(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
