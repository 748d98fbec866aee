package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Process adapts an OS process to a [ChildFunc]: it is [ProcessWith] with
// the zero [ProcessOptions] (SIGTERM to stop).
func Process(build func(ctx context.Context) *exec.Cmd) ChildFunc {
	return ProcessWith(ProcessOptions{}, build)
}

// ProcessOptions configures [ProcessWith]. The zero value is what
// [Process] uses.
type ProcessOptions struct {
	// StopSignal is the signal sent to the process's group when its
	// attempt is cancelled, for a program that stops on another signal
	// (SIGINT, SIGQUIT). Zero means SIGTERM. SIGKILL still follows after
	// the slot's StopTimeout.
	StopSignal syscall.Signal
}

// ProcessWith adapts an OS process to a [ChildFunc]. For each attempt it
// calls build with the attempt's context and runs the command it returns,
// which must come from exec.CommandContext(ctx, ...) with that ctx.
//
// On Unix the process runs in a process group of its own (Setpgid, added
// to the SysProcAttr the build set; a build that asks for Setsid or
// Foreground gets its own group that way), and every signal reaches the
// whole group, so that nothing the process started outlives its member:
//   - when the attempt is cancelled, the group gets opts.StopSignal
//     (SIGTERM by default) and, if the process has not exited after the
//     slot's StopTimeout, SIGKILL (through exec.Cmd.Cancel, which
//     ProcessWith always sets, replacing CommandContext's immediate kill,
//     and WaitDelay; a build that sets WaitDelay keeps its own);
//   - the slot's kills (Abandon, a Stop whose context ends, the stop
//     deadline) send SIGKILL to the group;
//   - when the process exits, on its own or stopped, whatever is left of
//     its group is killed with SIGKILL at once, before the attempt counts
//     as ended. This is systemd's KillMode=control-group at the exit of a
//     service's main process, without its SIGTERM and timeout first: the
//     member's program has ended, and what it left behind gets no grace. A
//     crash loop that forks leaves no orphan per restart, and a descendant
//     holding the process's stdout or stderr pipe cannot keep the attempt
//     waiting for WaitDelay.
//
// On Linux the group is killed while the exited process is still
// unreaped, so its group id cannot name another group yet; on other Unix
// systems it is killed just after the process is reaped. A descendant that
// leaves the group (setsid, setpgid: a daemon that detaches) is not
// followed: only a cgroup or a container would catch it. On systems
// without process groups (Windows), the signals reach the process alone.
//
// The process inherits the environment (or gets the build's cmd.Env)
// without NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID, LISTEN_PID,
// LISTEN_FDS and LISTEN_FDNAMES: they describe the supervisor's own
// systemd service, and a member acting on them would speak for it.
//
// A process child is killed, never abandoned. Its pid is in the slot's
// [Record] while it runs, and in an [EventProcessStarted] event once the
// loop has seen it running. Its exit status lands in [Exit.Code]; a process
// killed by a signal says which in Exit.Reason. An opts.StopSignal that
// cannot stop a process (negative or beyond the system's signals, or
// SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU, SIGCONT) fails each attempt with an
// error wrapping [ErrInvalidConfig], before build is called.
func ProcessWith(opts ProcessOptions, build func(ctx context.Context) *exec.Cmd) ChildFunc {
	return func(ctx context.Context, a *Attempt) error {
		if build == nil {
			return errors.New("supervisor: Process: nil build function")
		}
		sig, err := opts.stopSignal()
		if err != nil {
			return err
		}
		cmd := build(ctx)
		if cmd == nil {
			return errors.New("supervisor: Process: build returned a nil *exec.Cmd")
		}
		if err := ownGroup(cmd); err != nil {
			return err
		}
		stripServiceEnv(cmd)
		h := &procHandle{cmd: cmd}
		// Always: exec.CommandContext sets a Cancel of its own that kills at
		// once, so a nil check would never install the graceful stop.
		cmd.Cancel = func() error { return h.signal(sig) }
		if cmd.WaitDelay == 0 {
			cmd.WaitDelay = a.slot.cfg.StopTimeout // set at NewChildSlot, never written after
		}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("supervisor: start %s: %w", cmd.Path, err)
		}
		a.proc.Store(h)
		a.sig.markProcess()
		// Wake the loop, as Ready does, so that it reports the pid.
		if q := a.slot.cfg.Exits; q != nil {
			q.post(a.slot)
		}
		if awaitExit(cmd.Process.Pid) {
			h.finish() // the exited leader, unreaped, still holds the group's id
		}
		err = cmd.Wait()
		h.finish()
		return err
	}
}

// stopSignal returns the signal that stops the process, or an
// ErrInvalidConfig that says why opts.StopSignal cannot.
func (o ProcessOptions) stopSignal() (syscall.Signal, error) {
	switch sig := o.StopSignal; {
	case sig == 0:
		return syscall.SIGTERM, nil
	case !stoppable(sig):
		return 0, fmt.Errorf("%w: ProcessOptions.StopSignal %d cannot stop a process", ErrInvalidConfig, int(sig))
	default:
		return sig, nil
	}
}

// procHandle is the running process of an attempt, as the attempt holds
// it: the child's stop signal and the slot's kills go through it to the
// process's whole group. It is safe for concurrent use.
type procHandle struct {
	cmd *exec.Cmd // cmd.Process is set before the handle is shared

	mu sync.Mutex
	// gone reports that the process is reaped, or about to be: its group
	// may be empty and its id free for another group, so no signal may be
	// sent to it any more.
	gone bool
}

// pid returns the process's pid, which is also its group's id.
func (h *procHandle) pid() int { return h.cmd.Process.Pid }

// signal sends sig to the process's group; os.ErrProcessDone once it has
// exited.
func (h *procHandle) signal(sig syscall.Signal) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.gone {
		return os.ErrProcessDone
	}
	return signalGroup(h.cmd.Process, sig)
}

// kill sends SIGKILL to the process's group.
func (h *procHandle) kill() { _ = h.signal(syscall.SIGKILL) }

// finish kills whatever is left of the process's group and marks it gone.
// It is called by the attempt's goroutine when the process has exited,
// before it is reaped where the system allows, and again after.
func (h *procHandle) finish() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.gone {
		_ = signalGroup(h.cmd.Process, syscall.SIGKILL) // an empty group is fine
		h.gone = true
	}
}

// serviceEnv lists the variables that describe the supervisor's own
// systemd service; no process member inherits them.
var serviceEnv = []string{"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"}

// stripServiceEnv removes serviceEnv from the environment cmd would run
// in. It leaves cmd.Env alone when there is nothing to remove, so that
// exec's own defaults (a nil Env) stay as they were.
func stripServiceEnv(cmd *exec.Cmd) {
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	if !hasServiceEnv(env) {
		return
	}
	if cmd.Env == nil {
		env = cmd.Environ() // exec's nil-Env environment, PWD and all
	}
	kept := make([]string, 0, len(env))
	for _, kv := range env {
		if !isServiceEnv(kv) {
			kept = append(kept, kv)
		}
	}
	cmd.Env = kept
}

func hasServiceEnv(env []string) bool {
	for _, kv := range env {
		if isServiceEnv(kv) {
			return true
		}
	}
	return false
}

// isServiceEnv reports whether kv ("KEY=value") sets a serviceEnv key.
func isServiceEnv(kv string) bool {
	k, _, _ := strings.Cut(kv, "=")
	for _, s := range serviceEnv {
		if k == s {
			return true
		}
	}
	return false
}

// reportPid emits EventProcessStarted for a's process, once, when the loop
// first sees it running (or exited, before its exit event). For a goroutine
// child it reads only the attempt's first cache line, as the rest of
// Advance does.
func (s *ChildSlot) reportPid(a *Attempt, now time.Time) {
	if a.pidReported || !a.sig.hasProcess() {
		return
	}
	a.pidReported = true
	s.emit(Event{Kind: EventProcessStarted, Time: now, Attempt: a.number, Generation: a.generation, Pid: a.proc.Load().pid()})
}

// runningPid returns the pid of a's process while it runs; zero otherwise.
func runningPid(a *Attempt) int {
	if a == nil || a.isDone() || !a.sig.hasProcess() {
		return 0
	}
	return a.proc.Load().pid()
}
