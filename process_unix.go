//go:build unix

package supervisor

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

// ownGroup makes cmd's process the leader of a process group of its own,
// keeping the rest of the SysProcAttr the build set. It copies that
// SysProcAttr rather than changing it: a build may share one between
// commands. A SysProcAttr that joins another group is an error.
func ownGroup(cmd *exec.Cmd) error {
	var attr syscall.SysProcAttr
	if cmd.SysProcAttr != nil {
		attr = *cmd.SysProcAttr
	}
	if attr.Pgid != 0 && !attr.Setsid && (attr.Setpgid || attr.Foreground) {
		return fmt.Errorf("%w: Process: SysProcAttr.Pgid %d joins another process group; a process member needs its own",
			ErrInvalidConfig, attr.Pgid)
	}
	// Setsid and Foreground make it a group leader already; setpgid after
	// setsid would fail.
	if !attr.Setsid && !attr.Foreground {
		attr.Setpgid = true
	}
	cmd.SysProcAttr = &attr
	return nil
}

// signalGroup sends sig to the process group that p leads;
// os.ErrProcessDone when the group is empty.
func signalGroup(p *os.Process, sig syscall.Signal) error {
	err := syscall.Kill(-p.Pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}

// stoppable reports whether sig may stop a process: a signal of the
// system that does not merely suspend or continue it.
func stoppable(sig syscall.Signal) bool {
	switch sig {
	case syscall.SIGSTOP, syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU, syscall.SIGCONT:
		return false
	}
	return sig > 0 && sig <= maxSignal
}
