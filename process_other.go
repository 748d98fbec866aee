//go:build !unix

package supervisor

import (
	"os"
	"os/exec"
	"syscall"
)

// ownGroup does nothing: this system has no process groups.
func ownGroup(*exec.Cmd) error { return nil }

// signalGroup sends sig to p alone: this system has no process groups.
func signalGroup(p *os.Process, sig syscall.Signal) error {
	if sig == syscall.SIGKILL {
		return p.Kill()
	}
	return p.Signal(sig)
}

// stoppable reports whether sig is a signal number at all; the system
// says whether it can deliver it.
func stoppable(sig syscall.Signal) bool { return sig > 0 }

// awaitExit reports false: the process is waited for by cmd.Wait alone.
func awaitExit(int) bool { return false }
