//go:build linux

package supervisor

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests run real /bin/sh process trees and look in /proc for what is
// left of them: real time, bounded waits. A killed orphan is reaped by
// whatever is pid 1, which in a container may never do it, so a zombie
// counts as gone: it runs nothing.

// procGoneWithin bounds how long a SIGKILLed process may take to die.
const procGoneWithin = 2 * time.Second

// procTree is a member script's report of itself: the shell's pid (its
// group's id under Process) and its background child's.
type procTree struct{ leader, child int }

// procTreeShell returns a build for /bin/sh -c script with the write end of
// a pipe as fd 3, on which the script reports "$$ $!", and stdout (if out
// is not nil) copied by exec into out through a pipe of its own. It returns
// a function that reads the next report.
func procTreeShell(t *testing.T, script string, out io.Writer) (func(context.Context) *exec.Cmd, func() procTree) {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = r.Close()
		_ = w.Close()
	})
	build := func(ctx context.Context) *exec.Cmd {
		cmd := exec.CommandContext(ctx, "/bin/sh", "-c", script)
		cmd.ExtraFiles = []*os.File{w}
		cmd.Stdout = out
		return cmd
	}
	lines := bufio.NewReader(r)
	next := func() procTree {
		t.Helper()
		require.NoError(t, r.SetReadDeadline(time.Now().Add(procWaitLimit)))
		line, err := lines.ReadString('\n')
		require.NoError(t, err, "the script never reported its pids")
		var p procTree
		_, err = fmt.Sscanf(line, "%d %d", &p.leader, &p.child)
		require.NoError(t, err, "report %q", line)
		// If the test fails, leave nothing running behind it.
		t.Cleanup(func() { procKillLeft(p) })
		return p
	}
	return build, next
}

// procStat returns the state and process group of pid, from /proc.
func procStat(pid int) (state byte, pgid int, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	s := string(b)
	// pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses.
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 3 {
		return 0, 0, false
	}
	pgid, err = strconv.Atoi(f[2])
	return f[0][0], pgid, err == nil
}

// procGroupLeft returns the live (not zombie) processes of group pgid.
func procGroupLeft(pgid int) []int {
	entries, _ := os.ReadDir("/proc")
	var left []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if state, g, ok := procStat(pid); ok && g == pgid && state != 'Z' {
			left = append(left, pid)
		}
	}
	return left
}

// procLive reports whether pid is a live (not zombie) process.
func procLive(pid int) bool {
	state, _, ok := procStat(pid)
	return ok && state != 'Z'
}

// requireTreeGone checks that nothing of p is left: neither the shell nor
// its background child, nor any process of the shell's group.
func requireTreeGone(t *testing.T, p procTree) {
	t.Helper()
	deadline := time.Now().Add(procGoneWithin)
	for {
		left := procGroupLeft(p.leader)
		if !procLive(p.leader) && !procLive(p.child) && len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			require.FailNow(t, "the member's process tree outlived it",
				"shell %d live %v, child %d live %v, group %d holds %v",
				p.leader, procLive(p.leader), p.child, procLive(p.child), p.leader, left)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// procKillLeft kills what a failed test left of p, checking first that a
// pid still names a process of that tree.
func procKillLeft(p procTree) {
	for _, pid := range []int{p.leader, p.child} {
		if pid <= 0 {
			continue // kill(0) would signal the test's own group
		}
		if _, g, ok := procStat(pid); ok && (g == p.leader || pid == p.child) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// requireOwnGroup checks that the running shell leads a group of its own.
func requireOwnGroup(t *testing.T, p procTree) {
	t.Helper()
	_, pgid, ok := procStat(p.leader)
	require.True(t, ok, "the shell %d runs", p.leader)
	require.Equal(t, p.leader, pgid, "the shell leads its own process group")
}

// TestProcessStopLeavesNoDescendant: however a process member is stopped
// (cancel, Stop, Abandon, an operator Restart), its background child goes
// with it, whether the shell dies of SIGTERM or ignores it and is killed.
func TestProcessStopLeavesNoDescendant(t *testing.T) {
	procNeedShell(t)
	scripts := []struct {
		name, script string
	}{
		{name: "background child", script: `sleep 300 & echo "$$ $!" >&3; wait`},
		// The background sleep inherits the ignored SIGTERM.
		{name: "TERM-ignoring shell", script: `trap '' TERM; sleep 300 & echo "$$ $!" >&3; wait`},
	}
	ends := []struct {
		name string
		end  func(t *testing.T, s *ChildSlot, next func() procTree)
	}{
		{name: "Cancel", end: func(t *testing.T, s *ChildSlot, _ func() procTree) {
			require.True(t, s.Cancel(time.Now()))
			procWait(t, s)
		}},
		{name: "Stop", end: func(t *testing.T, s *ChildSlot, _ func() procTree) {
			ctx, cancel := context.WithTimeout(context.Background(), procWaitLimit)
			defer cancel()
			_, err := s.Stop(ctx)
			require.NoError(t, err)
		}},
		{name: "Abandon", end: func(t *testing.T, s *ChildSlot, _ func() procTree) {
			_, ok := s.Abandon(time.Now())
			require.False(t, ok, "a process is killed, not abandoned")
			procWaitTicking(t, s, nil)
		}},
		{name: "Restart", end: func(t *testing.T, s *ChildSlot, next func() procTree) {
			d, err := s.Restart(time.Now())
			require.NoError(t, err)
			require.Equal(t, FenceQueuedAfterStop, d)
			procWait(t, s)
			s.Advance(time.Now()) // starts the new generation
			p := next()
			requireOwnGroup(t, p)
		}},
	}
	for _, sc := range scripts {
		for _, end := range ends {
			t.Run(sc.name+"/"+end.name, func(t *testing.T) {
				build, next := procTreeShell(t, sc.script, nil)
				s := procStart(t, Process(build), procStopTimeout)
				p := next()
				requireOwnGroup(t, p)
				// Process publishes the process just after it starts; until
				// then Abandon would take it for a goroutine.
				require.Eventually(t, func() bool { return s.active.proc.Load() != nil }, procWaitLimit, time.Millisecond)

				end.end(t, s, next)
				requireTreeGone(t, p)
				assert.Zero(t, s.Record(time.Now()).AbandonedTotal)
			})
		}
	}
}

// TestProcessExitKillsLeftovers: a process that exits on its own, leaving a
// background child that holds its stdout pipe, ends its attempt at once
// (exec.Cmd.Wait does not wait WaitDelay for the pipe), with its own exit
// status, and leaves nothing behind.
func TestProcessExitKillsLeftovers(t *testing.T) {
	procNeedShell(t)
	tests := []struct {
		name   string
		script string
		kind   ExitKind
	}{
		{name: "exit 0", script: `sleep 300 & echo "$$ $!" >&3; echo out; exit 0`, kind: Succeeded},
		{name: "exit 1", script: `sleep 300 & echo "$$ $!" >&3; echo out; exit 1`, kind: Failed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer // not an *os.File: exec copies it, and the sleep holds the pipe
			build, next := procTreeShell(t, tt.script, &out)
			// A WaitDelay far longer than the test: only killing the group
			// lets Wait return in time.
			const stopTimeout = 20 * time.Second
			s := procStart(t, Process(build), stopTimeout)
			p := next()
			began := time.Now()
			e := procWait(t, s)
			assert.Less(t, time.Since(began), procGoneWithin, "Wait waited for the pipe")
			assert.Equal(t, tt.kind, e.Kind, "exit %v", e)
			assert.NotErrorIs(t, e.Err, exec.ErrWaitDelay)
			assert.Equal(t, "out\n", out.String())
			requireTreeGone(t, p)
		})
	}
}

// TestProcessCrashLoopLeavesNoOrphans: a process that forks and fails,
// restarted again and again, leaves no orphan per restart.
func TestProcessCrashLoopLeavesNoOrphans(t *testing.T) {
	procNeedShell(t)
	build, next := procTreeShell(t, `sleep 300 & echo "$$ $!" >&3; exit 1`, nil)
	s, err := NewChildSlot("crash", Process(build), Config{
		StopTimeout: procStopTimeout, Backoff: Backoff{NoDelay: true}, RestartLimit: 100,
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), procWaitLimit)
		defer cancel()
		_, _ = s.Stop(ctx)
	})
	require.NoError(t, s.Start(context.Background(), time.Now()))
	const restarts = 5
	var trees []procTree
	for i := range restarts + 1 {
		trees = append(trees, next())
		e := procWait(t, s)
		require.Equal(t, Failed, e.Kind, "attempt %d: %v", i+1, e)
		s.Advance(time.Now()) // the restart, at once
	}
	for _, p := range trees {
		requireTreeGone(t, p)
	}
	assert.Equal(t, uint64(restarts+1), s.Record(time.Now()).Restarts)
}

// TestProcessGroupShutdownLeavesNoDescendant: a Group's shutdown through
// Run leaves nothing of its process members' trees, the TERM-ignoring one
// included.
func TestProcessGroupShutdownLeavesNoDescendant(t *testing.T) {
	procNeedShell(t)
	politeBuild, politeNext := procTreeShell(t, `sleep 300 & echo "$$ $!" >&3; wait`, nil)
	stubBuild, stubNext := procTreeShell(t, `trap '' TERM; sleep 300 & echo "$$ $!" >&3; wait`, nil)
	g, err := NewGroup("procs", GroupConfig{})
	require.NoError(t, err)
	cfg := Config{StopTimeout: procStopTimeout}
	_, err = g.Add("polite", Process(politeBuild), cfg)
	require.NoError(t, err)
	_, err = g.Add("stubborn", Process(stubBuild), cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- g.Run(ctx) }()
	trees := []procTree{politeNext(), stubNext()}
	cancel()
	select {
	case err := <-errc:
		require.NoError(t, err)
	case <-time.After(procWaitLimit):
		require.FailNow(t, "the shutdown did not finish")
	}
	for _, p := range trees {
		requireTreeGone(t, p)
	}
	rec := g.Record(time.Now())
	assert.Equal(t, OutcomeStopped, rec.Members[0].Shutdown, "polite")
	assert.Equal(t, OutcomeKilled, rec.Members[1].Shutdown, "stubborn")
}

// TestProcessPid: the process's pid is in the record while it runs, and in
// a process_started event between started and exited.
func TestProcessPid(t *testing.T) {
	procNeedShell(t)
	build, next := procTreeShell(t, `sleep 300 & echo "$$ $!" >&3; wait`, nil)
	q := NewExitQueue()
	var events []Event
	s, err := NewChildSlot("pid", Process(build), Config{
		Restart: Temporary, StopTimeout: procStopTimeout, Exits: q,
		OnEvent: func(e Event) { events = append(events, e) },
	})
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background(), time.Now()))
	p := next()

	// The running process wakes the loop, which reports its pid.
	select {
	case <-q.Ready():
	case <-time.After(procWaitLimit):
		require.FailNow(t, "the started process did not wake the loop")
	}
	assert.Equal(t, []*ChildSlot{s}, q.Drain(nil))
	s.Advance(time.Now())
	require.Len(t, events, 2)
	assert.Equal(t, EventStarted, events[0].Kind)
	assert.Equal(t, EventProcessStarted, events[1].Kind)
	assert.Equal(t, p.leader, events[1].Pid)
	assert.Equal(t, uint64(1), events[1].Attempt)
	assert.Equal(t, fmt.Sprintf("pid: process_started: pid %d", p.leader), events[1].String())
	assert.Equal(t, p.leader, s.Record(time.Now()).Pid)
	s.Advance(time.Now())
	assert.Len(t, events, 2, "reported once")

	require.True(t, s.Cancel(time.Now()))
	procWait(t, s)
	assert.Zero(t, s.Record(time.Now()).Pid, "no pid once the process has exited")
	assert.Equal(t, EventExited, events[len(events)-1].Kind)
	requireTreeGone(t, p)
}

// TestProcessPidBeforeExit: a process that exits before the loop saw it
// running still has its process_started, just before its exited.
func TestProcessPidBeforeExit(t *testing.T) {
	procNeedShell(t)
	build, next := procTreeShell(t, `echo "$$ 0" >&3; exit 3`, nil)
	var kinds []EventKind
	var pid int
	s, err := NewChildSlot("quick", Process(build), Config{Restart: Temporary, OnEvent: func(e Event) {
		kinds = append(kinds, e.Kind)
		if e.Kind == EventProcessStarted {
			pid = e.Pid
		}
	}})
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background(), time.Now()))
	p := next()
	select {
	case <-s.Done():
	case <-time.After(procWaitLimit):
		require.FailNow(t, "the process did not exit")
	}
	_, err = s.Collect(time.Now())
	require.NoError(t, err)
	assert.Equal(t, []EventKind{EventStarted, EventProcessStarted, EventExited}, kinds)
	assert.Equal(t, p.leader, pid)
}

// TestProcessStopSignal: a member may stop on another signal than SIGTERM.
// Each script ignores SIGTERM and exits with its own code on the chosen
// signal; the long StopTimeout means only that signal can end it in time.
func TestProcessStopSignal(t *testing.T) {
	procNeedShell(t)
	tests := []struct {
		name string
		sig  syscall.Signal
		trap string
		code int
	}{
		{name: "SIGINT", sig: syscall.SIGINT, trap: "INT", code: 7},
		{name: "SIGQUIT", sig: syscall.SIGQUIT, trap: "QUIT", code: 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			script := fmt.Sprintf(`trap '' TERM; trap 'exit %d' %s; sleep 300 & echo "$$ $!" >&3; wait`, tt.code, tt.trap)
			build, next := procTreeShell(t, script, nil)
			const stopTimeout = 20 * time.Second
			s := procStart(t, ProcessWith(ProcessOptions{StopSignal: tt.sig}, build), stopTimeout)
			p := next()
			began := time.Now()
			require.True(t, s.Cancel(began))
			e := procWait(t, s)
			assert.Less(t, time.Since(began), procGoneWithin, "stopped by its signal, not killed after the grace")
			assert.Equal(t, Cancelled, e.Kind, "exit %v", e)
			assert.Equal(t, tt.code, e.Code)
			requireTreeGone(t, p)
		})
	}
}

// TestProcessOwnGroupKeepsSysProcAttr: the build's SysProcAttr is kept
// (copied, not changed: a build may share one), a session of its own is a
// group of its own, and joining another group is refused.
func TestProcessOwnGroupKeepsSysProcAttr(t *testing.T) {
	procNeedShell(t)
	t.Run("shared attr, Setsid", func(t *testing.T) {
		shared := &syscall.SysProcAttr{Setsid: true}
		build, next := procTreeShell(t, `sleep 300 & echo "$$ $!" >&3; wait`, nil)
		s := procStart(t, Process(func(ctx context.Context) *exec.Cmd {
			cmd := build(ctx)
			cmd.SysProcAttr = shared
			return cmd
		}), procStopTimeout)
		p := next()
		requireOwnGroup(t, p)
		require.True(t, s.Cancel(time.Now()))
		procWait(t, s)
		requireTreeGone(t, p)
		assert.Equal(t, syscall.SysProcAttr{Setsid: true}, *shared, "the build's SysProcAttr is not changed")
	})
	t.Run("joins another group", func(t *testing.T) {
		s := procStart(t, Process(func(ctx context.Context) *exec.Cmd {
			cmd := exec.CommandContext(ctx, "/bin/sh", "-c", "exit 0")
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pgid: syscall.Getpgrp()}
			return cmd
		}), procStopTimeout)
		e := procWait(t, s)
		assert.Equal(t, Failed, e.Kind, "exit %v", e)
		require.ErrorIs(t, e.Err, ErrInvalidConfig)
		assert.Contains(t, e.Reason, "joins another process group")
	})
}
