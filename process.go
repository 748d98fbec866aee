package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"syscall"
)

// Process adapts an OS process to a [ChildFunc]. For each attempt it calls
// build with the attempt's context and runs the command it returns, which
// must come from exec.CommandContext(ctx, ...) with that ctx. When the
// attempt is cancelled the process gets SIGTERM and, if it has not exited
// after the slot's StopTimeout, SIGKILL (through exec.Cmd.Cancel, which
// Process always sets, replacing CommandContext's immediate kill, and
// WaitDelay; a build that sets WaitDelay keeps its own). A process child is
// killed, never abandoned. Its exit status lands in [Exit.Code]; a process
// killed by a signal says which in Exit.Reason.
func Process(build func(ctx context.Context) *exec.Cmd) ChildFunc {
	return func(ctx context.Context, a *Attempt) error {
		if build == nil {
			return errors.New("supervisor: Process: nil build function")
		}
		cmd := build(ctx)
		if cmd == nil {
			return errors.New("supervisor: Process: build returned a nil *exec.Cmd")
		}
		// Always: exec.CommandContext sets a Cancel of its own that kills at
		// once, so a nil check would never install the graceful SIGTERM.
		cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
		if cmd.WaitDelay == 0 {
			cmd.WaitDelay = a.grace
		}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("supervisor: start %s: %w", cmd.Path, err)
		}
		a.proc.Store(cmd.Process)
		return cmd.Wait()
	}
}
