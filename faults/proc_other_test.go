//go:build !linux

package faults

import "os/exec"

// setPdeathsig has no equivalent off Linux; t.Cleanup still kills replicas.
func setPdeathsig(*exec.Cmd) {}
