package supervisor

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests run real processes, so they cannot run in a synctest bubble:
// they use real time with short, bounded waits.

const (
	procStopTimeout = 300 * time.Millisecond
	procWaitLimit   = 5 * time.Second
)

func procNeedShell(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh:", err)
	}
}

// procShell returns a build for /bin/sh -c script whose stdout is the write
// end of a pipe, and the read end. The pipe is an *os.File, so exec copies
// nothing and no goroutine waits on it: a script writes "ready" to it once it
// has set its traps.
func procShell(t *testing.T, script string, waitDelay time.Duration) (func(context.Context) *exec.Cmd, *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = r.Close()
		_ = w.Close()
	})
	build := func(ctx context.Context) *exec.Cmd {
		cmd := exec.CommandContext(ctx, "/bin/sh", "-c", script)
		cmd.Stdout = w
		cmd.WaitDelay = waitDelay // zero: Process sets the slot's StopTimeout
		return cmd
	}
	return build, r
}

// procStart starts a Temporary slot running fn with StopTimeout stop; it is
// stopped at cleanup if the test ends early.
func procStart(t *testing.T, fn ChildFunc, stop time.Duration) *ChildSlot {
	t.Helper()
	s, err := NewChildSlot("proc", fn, Config{Restart: Temporary, StopTimeout: stop})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), procWaitLimit)
		defer cancel()
		_, _ = s.Stop(ctx)
	})
	require.NoError(t, s.Start(context.Background(), time.Now()))
	return s
}

// procReady waits for the script to write "ready\n".
func procReady(t *testing.T, r *os.File) {
	t.Helper()
	require.NoError(t, r.SetReadDeadline(time.Now().Add(procWaitLimit)))
	buf := make([]byte, len("ready\n"))
	_, err := io.ReadFull(r, buf)
	require.NoError(t, err, "the script never said it was ready")
	require.Equal(t, "ready\n", string(buf))
}

// procWait runs the loop until the attempt returns, calling Advance on a
// short ticker so that the stop deadline is acted on, and collects it. A
// process attempt must never be abandoned.
func procWait(t *testing.T, s *ChildSlot) Exit {
	t.Helper()
	ticker := time.NewTicker(20 * time.Millisecond)
	defer ticker.Stop()
	return procWaitTicking(t, s, ticker.C)
}

// procWaitTicking is procWait calling Advance on each tick; a nil tick
// never advances the slot. Once Advance has killed the process (its stop
// deadline moved on by one StopTimeout), it stops advancing: the exit is then
// up to the kernel, and a machine stalled for a whole StopTimeout must not
// turn the kill into an abandon.
func procWaitTicking(t *testing.T, s *ChildSlot, tick <-chan time.Time) Exit {
	t.Helper()
	stopBy, _ := s.NextDeadline()
	limit := time.NewTimer(procWaitLimit)
	defer limit.Stop()
	for {
		select {
		case <-s.Done():
			e, err := s.Collect(time.Now())
			require.NoError(t, err)
			return e
		case <-tick:
			s.Advance(time.Now())
			require.Zero(t, s.Record(time.Now()).AbandonedTotal, "a process attempt was abandoned")
			if at, ok := s.NextDeadline(); ok && !stopBy.IsZero() && at.After(stopBy) {
				tick = nil // killed
			}
		case <-limit.C:
			require.FailNow(t, "the process attempt did not end", "after %v", procWaitLimit)
		}
	}
}

func TestProcessExitStatus(t *testing.T) {
	procNeedShell(t)
	tests := []struct {
		name   string
		script string
		kind   ExitKind
		code   int
		reason string
	}{
		{name: "exit 3", script: "exit 3", kind: Failed, code: 3, reason: "exit status 3"},
		{name: "exit 0", script: "exit 0", kind: Succeeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			build, _ := procShell(t, tt.script, 0)
			s := procStart(t, Process(build), procStopTimeout)
			e := procWait(t, s)
			assert.Equal(t, tt.kind, e.Kind, "exit %v", e)
			assert.Equal(t, tt.code, e.Code)
			assert.Equal(t, tt.reason, e.Reason)
			if tt.code != 0 {
				var ee *exec.ExitError
				require.ErrorAs(t, e.Err, &ee)
				assert.Equal(t, tt.code, ee.ExitCode())
				assert.Contains(t, e.String(), "(code 3)")
			} else {
				assert.NoError(t, e.Err)
				assert.NotContains(t, e.String(), "(code")
			}
			assert.True(t, s.Finished(), "a Temporary process child is not restarted")
		})
	}
}

// TestProcessCancelTrapped: a script that exits 0 on SIGTERM ends Cancelled,
// with no signal in its exit.
func TestProcessCancelTrapped(t *testing.T) {
	procNeedShell(t)
	// The sleeper is killed by the trap, so nothing outlives the script. The
	// trap is set before "ready", and wait returns at once on a trapped signal.
	build, ready := procShell(t, `sleep 30 & p=$!; trap 'kill $p; exit 0' TERM; echo ready; wait $p`, 0)
	// The script exits within milliseconds of SIGTERM; the long grace only
	// keeps a stalled machine from turning that into a kill.
	s := procStart(t, Process(build), 2*time.Second)
	procReady(t, ready)

	require.True(t, s.Cancel(time.Now()))
	e := procWait(t, s)
	assert.Equal(t, Cancelled, e.Kind, "exit %v", e)
	assert.Zero(t, e.Code, "the script exited 0 itself")
	assert.Equal(t, "cancel requested", e.Reason)
	r := s.Record(time.Now())
	assert.Equal(t, StopCompleted, r.StopState)
	assert.Zero(t, r.AbandonedTotal)
}

// TestProcessKilledAfterGrace: a process that ignores SIGTERM is killed once
// the grace has passed, whether exec's WaitDelay or the slot's Advance at
// the stop deadline does it; it is never abandoned.
func TestProcessKilledAfterGrace(t *testing.T) {
	procNeedShell(t)
	tests := []struct {
		name      string
		waitDelay time.Duration // the build's own WaitDelay; zero takes StopTimeout
		advance   bool          // call Advance while waiting
	}{
		// With no Advance at all, only the WaitDelay that Process sets from
		// StopTimeout can kill it.
		{name: "exec kills at WaitDelay"},
		{name: "exec or Advance kills", advance: true},
		{name: "Advance kills at the stop deadline", waitDelay: time.Minute, advance: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The shell becomes sleep, which inherits the ignored SIGTERM: one
			// process, no orphan left once it is killed.
			build, ready := procShell(t, `trap '' TERM; echo ready; exec sleep 30`, tt.waitDelay)
			s := procStart(t, Process(build), procStopTimeout)
			procReady(t, ready)

			cancelled := time.Now()
			require.True(t, s.Cancel(cancelled))
			var tick <-chan time.Time
			if tt.advance {
				ticker := time.NewTicker(20 * time.Millisecond)
				defer ticker.Stop()
				tick = ticker.C
			}
			e := procWaitTicking(t, s, tick)
			assert.GreaterOrEqual(t, time.Since(cancelled), procStopTimeout, "killed before the grace")
			assert.Equal(t, Cancelled, e.Kind, "exit %v", e)
			assert.Contains(t, e.Reason, "signal: killed")
			assert.Equal(t, -1, e.Code, "signalled")
			r := s.Record(time.Now())
			assert.Zero(t, r.AbandonedTotal)
			assert.Zero(t, r.Abandoned)
			assert.Zero(t, r.StaleReports)
			assert.Equal(t, StopCompleted, r.StopState)
			require.NotNil(t, r.LastExit)
			assert.Equal(t, Cancelled, r.LastExit.Kind)
		})
	}
}

func TestProcessMissingBinary(t *testing.T) {
	tests := []struct {
		name string
		path string
	}{
		{name: "absolute path", path: "/nonexistent/childslot-test-binary"},
		{name: "not on PATH", path: "childslot-test-no-such-binary"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := procStart(t, Process(func(ctx context.Context) *exec.Cmd {
				return exec.CommandContext(ctx, tt.path)
			}), procStopTimeout)
			e := procWait(t, s)
			assert.Equal(t, Failed, e.Kind, "exit %v", e)
			assert.Contains(t, e.Reason, tt.path)
			assert.Zero(t, e.Code)
			assert.True(t, errors.Is(e.Err, os.ErrNotExist) || errors.Is(e.Err, exec.ErrNotFound),
				"error %v says the binary is missing", e.Err)
		})
	}
}

func TestProcessNilBuild(t *testing.T) {
	tests := []struct {
		name   string
		fn     ChildFunc
		reason string
	}{
		{name: "nil build", fn: Process(nil), reason: "supervisor: Process: nil build function"},
		{name: "build returns nil", fn: Process(func(context.Context) *exec.Cmd { return nil }),
			reason: "supervisor: Process: build returned a nil *exec.Cmd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := procStart(t, tt.fn, procStopTimeout)
			e := procWait(t, s)
			assert.Equal(t, Failed, e.Kind, "exit %v", e)
			assert.Equal(t, tt.reason, e.Reason)
			assert.Nil(t, e.PanicValue)
		})
	}
}

// TestProcessKilledNotAbandonedBeforeStopTimeout: giving up on a process
// before its StopTimeout, through Stop with a short context or through
// Abandon, kills it and records its exit with the signal; nothing is
// abandoned, and no stale report follows (issue 11, item 1).
func TestProcessKilledNotAbandonedBeforeStopTimeout(t *testing.T) {
	procNeedShell(t)
	tests := []struct {
		name   string
		giveUp func(t *testing.T, s *ChildSlot) Exit
		reason string
	}{
		{name: "Stop with a short context", reason: "slot removed", giveUp: func(t *testing.T, s *ChildSlot) Exit {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			e, err := s.Stop(ctx)
			require.NoError(t, err)
			return e
		}},
		{name: "Abandon", reason: "cancel requested", giveUp: func(t *testing.T, s *ChildSlot) Exit {
			_, ok := s.Abandon(time.Now())
			assert.False(t, ok, "a process is killed, not abandoned")
			return procWaitTicking(t, s, nil)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			build, ready := procShell(t, `trap '' TERM; echo ready; exec sleep 30`, 0)
			const stopTimeout = 10 * time.Second // far longer than the test may take
			s := procStart(t, Process(build), stopTimeout)
			procReady(t, ready)
			// The script may say ready before Process has published the
			// process to the attempt; until then it is a goroutine.
			require.Eventually(t, func() bool { return s.active.proc.Load() != nil }, procWaitLimit, time.Millisecond)

			began := time.Now()
			e := tt.giveUp(t, s)
			assert.Less(t, time.Since(began), stopTimeout, "killed before the stop timeout")
			assert.Equal(t, Cancelled, e.Kind, "exit %v", e)
			assert.Equal(t, tt.reason+" (returned: signal: killed)", e.Reason)
			assert.Equal(t, -1, e.Code, "signalled")

			s.Advance(time.Now())
			r := s.Record(time.Now())
			assert.Zero(t, r.AbandonedTotal, "nothing abandoned")
			assert.Zero(t, r.Abandoned)
			assert.Zero(t, r.StaleReports)
			assert.Nil(t, r.LastStaleReport, "no stale report")
			require.NotNil(t, r.LastExit)
			assert.Equal(t, e.Reason, r.LastExit.Reason)
			assert.Equal(t, StopCompleted, r.StopState)
		})
	}
}

// TestProcessInvalidStopSignal: a stop signal that cannot stop a process
// fails every attempt with ErrInvalidConfig, before build is called.
func TestProcessInvalidStopSignal(t *testing.T) {
	tests := []struct {
		name string
		sig  syscall.Signal
	}{
		{name: "negative", sig: -1},
		{name: "beyond the system's", sig: 1000},
		{name: "SIGSTOP", sig: syscall.SIGSTOP},
		{name: "SIGCONT", sig: syscall.SIGCONT},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			built := false
			s := procStart(t, ProcessWith(ProcessOptions{StopSignal: tt.sig}, func(ctx context.Context) *exec.Cmd {
				built = true
				return exec.CommandContext(ctx, "/bin/sh", "-c", "exit 0")
			}), procStopTimeout)
			e := procWait(t, s)
			assert.Equal(t, Failed, e.Kind, "exit %v", e)
			require.ErrorIs(t, e.Err, ErrInvalidConfig)
			assert.Contains(t, e.Reason, "ProcessOptions.StopSignal")
			assert.False(t, built, "build was not called")
		})
	}
}

// TestProcessEnvWithoutServiceVars: a process member inherits neither the
// supervisor's sd_notify socket and watchdog nor its socket activation,
// from the inherited environment or from the build's own Env; everything
// else is kept, and exec's PWD for a Dir too.
func TestProcessEnvWithoutServiceVars(t *testing.T) {
	procNeedShell(t)
	service := map[string]string{
		"NOTIFY_SOCKET": "/run/systemd/notify", "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1",
		"LISTEN_PID": "1", "LISTEN_FDS": "1", "LISTEN_FDNAMES": "http",
	}
	for k, v := range service {
		t.Setenv(k, v)
	}
	t.Setenv("CHILDSLOT_KEEP", "inherited")
	dir := t.TempDir()
	tests := []struct {
		name  string
		setup func(cmd *exec.Cmd)
		want  map[string]string
	}{
		{name: "inherited", setup: func(*exec.Cmd) {}, want: map[string]string{"CHILDSLOT_KEEP": "inherited"}},
		{name: "inherited with Dir", setup: func(cmd *exec.Cmd) { cmd.Dir = dir },
			want: map[string]string{"CHILDSLOT_KEEP": "inherited", "PWD": dir}},
		{name: "build's Env", setup: func(cmd *exec.Cmd) {
			cmd.Env = []string{"NOTIFY_SOCKET=/x", "CHILDSLOT_KEEP=own", "WATCHDOG_USEC=5", "LISTEN_FDS=2"}
		}, want: map[string]string{"CHILDSLOT_KEEP": "own"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			s := procStart(t, Process(func(ctx context.Context) *exec.Cmd {
				cmd := exec.CommandContext(ctx, "/bin/sh", "-c", "set") // the shell's own variables: no env binary needed
				cmd.Stdout = &out
				tt.setup(cmd)
				return cmd
			}), procStopTimeout)
			e := procWait(t, s)
			require.Equal(t, Succeeded, e.Kind, "exit %v", e)
			vars := out.String()
			for k := range service {
				assert.NotContains(t, vars, k+"=", "the member inherits %s", k)
			}
			for k, v := range tt.want {
				assert.Regexp(t, "(?m)^"+k+"='?"+regexp.QuoteMeta(v)+"'?$", vars)
			}
		})
	}
}
