package supervisor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/childslot/supervisor/internal/looptest"
)

// ghNotifySocket listens on a real unix datagram socket and points
// NOTIFY_SOCKET at it.
func ghNotifySocket(t *testing.T, watchdog time.Duration) *net.UnixConn {
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	if watchdog > 0 {
		t.Setenv("WATCHDOG_USEC", fmt.Sprint(watchdog.Microseconds()))
	} else {
		t.Setenv("WATCHDOG_USEC", "")
	}
	t.Setenv("WATCHDOG_PID", "")
	return conn
}

// ghReadNotify returns the messages queued on conn, one line each, without
// waiting: a datagram sent to a unix socket is queued before the send
// returns, so what the loop sent is there.
func ghReadNotify(t *testing.T, conn *net.UnixConn) []string {
	raw, err := conn.SyscallConn()
	require.NoError(t, err)
	var out []string
	buf := make([]byte, 4096)
	for {
		var n int
		var rerr error
		require.NoError(t, raw.Read(func(fd uintptr) bool {
			n, _, rerr = syscall.Recvfrom(int(fd), buf, syscall.MSG_DONTWAIT)
			return true
		}))
		if errors.Is(rerr, syscall.EAGAIN) {
			return out
		}
		require.NoError(t, rerr)
		out = append(out, strings.Split(string(buf[:n]), "\n")...)
	}
}

// ghKinds keeps the messages' keys: "READY=1" stays, "STATUS=..." becomes
// "STATUS".
func ghKeys(msgs []string) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		k, v, _ := strings.Cut(m, "=")
		if k == "STATUS" {
			out[i] = k
		} else {
			out[i] = k + "=" + v
		}
	}
	return out
}

func TestRunNotify(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		conn := ghNotifySocket(t, 2*time.Second)
		l := newGHLog(t)
		unblock := make(chan struct{})
		blockOnExit := func(e Event) {
			if e.Kind == EventExited && e.ChildID == "b" {
				<-unblock // a listener stuck in user code stalls the loop
			}
		}
		g := ghGroup(t, l, "app", GroupConfig{OnEvent: blockOnExit}, "a", "b")
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		go func() { errc <- g.Run(ctx) }()
		synctest.Wait()
		first := ghReadNotify(t, conn)
		assert.Equal(t, []string{"STATUS", "READY=1", "WATCHDOG=1"}, ghKeys(first))
		assert.Equal(t, "STATUS=/app running: 2 up; 0 group restarts", first[0])

		time.Sleep(3500 * time.Millisecond)
		synctest.Wait()
		assert.Equal(t, []string{"WATCHDOG=1", "WATCHDOG=1", "WATCHDOG=1"}, ghKeys(ghReadNotify(t, conn)),
			"a ping every half WATCHDOG_USEC")

		l.end("b", errGH)
		synctest.Wait()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		assert.Empty(t, ghReadNotify(t, conn), "no ping while the loop is stuck")

		close(unblock)
		synctest.Wait()
		got := ghKeys(ghReadNotify(t, conn))
		require.NotEmpty(t, got)
		assert.Contains(t, got, "WATCHDOG=1", "the ping resumes with the loop")

		cancel()
		require.NoError(t, <-errc)
		assert.Contains(t, ghKeys(ghReadNotify(t, conn)), "STOPPING=1")
	})
}

func TestRunNotifyUnsetIsNoOp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t.Setenv("NOTIFY_SOCKET", "")
		assert.Nil(t, openNotifier())
		var n *notifier
		n.after(nil, time.Now()) // nil: does nothing
		_, ok := n.deadline()
		assert.False(t, ok)
		n.close()
	})
}

func TestRunNotifyWatchdogOtherPID(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ghNotifySocket(t, 2*time.Second)
		t.Setenv("WATCHDOG_PID", "1")
		n := openNotifier()
		require.NotNil(t, n)
		defer n.close()
		_, ok := n.deadline()
		assert.False(t, ok, "the watchdog is another process's")
	})
}

func TestGroupSnapshot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newGHLog(t)
		g := ghGroup(t, l, "app", GroupConfig{SnapshotInterval: time.Second}, "a", "b")
		assert.Nil(t, g.Snapshot(), "nothing published before the first Advance")
		assert.True(t, g.LastAdvance().IsZero())
		_, ok := g.SinceAdvance(time.Now())
		assert.False(t, ok)
		assert.Equal(t, time.Second, g.Pulse())
		require.NoError(t, g.Start(t.Context(), time.Now()))
		looptest.Settle(t, g)
		first := g.Snapshot()
		require.NotNil(t, first)
		assert.Equal(t, GroupRunning, first.State)
		assert.Equal(t, time.Now(), g.LastAdvance())

		looptest.Settle(t, g)
		assert.Same(t, first, g.Snapshot(), "nothing changed: nothing published")
		l.end("a", errGH)
		looptest.Settle(t, g)
		assert.Same(t, first, g.Snapshot(), "within SnapshotInterval the old one stands")
		looptest.Wait(t, g, time.Second)
		next := g.Snapshot()
		assert.NotSame(t, first, next)
		assert.Equal(t, uint64(2), next.Members[0].Slot.Attempt)
		assert.Equal(t, uint64(1), first.Members[0].Slot.Attempt, "a published record never changes")
		assert.Zero(t, testing.AllocsPerRun(100, func() { _ = g.Snapshot() }))
		quiet := g.Snapshot()
		looptest.Wait(t, g, g.Pulse())
		assert.NotSame(t, quiet, g.Snapshot(), "republished once a pulse, for what changes without events")
		since, ok := g.SinceAdvance(time.Now())
		require.True(t, ok)
		assert.Zero(t, since)
		time.Sleep(2500 * time.Millisecond) // nobody advances
		since, _ = g.SinceAdvance(time.Now())
		assert.Equal(t, 2500*time.Millisecond, since)
		g.Shutdown(time.Now())
		looptest.Settle(t, g)
		assert.Equal(t, GroupStopped, g.Snapshot().State, "the final state is always published")
	})
}

// TestGroupNoSnapshots: with snapshots off the loop publishes nothing,
// not even the final state, and an idle tree is not kept busy by a
// publication it never makes; a SnapshotInterval below NoSnapshots is
// refused.
func TestGroupNoSnapshots(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newGHLog(t)
		g := ghGroup(t, l, "app", GroupConfig{SnapshotInterval: NoSnapshots}, "a", "b")
		require.NoError(t, g.Start(t.Context(), time.Now()))
		looptest.Settle(t, g)
		assert.Nil(t, g.Snapshot())
		at, ok := g.NextDeadline()
		require.True(t, ok, "the pulse")
		assert.Equal(t, time.Now().Add(g.Pulse()), at, "idle: nothing due before the pulse")
		l.end("a", errGH)
		looptest.Settle(t, g)
		assert.Equal(t, uint64(2), g.Record(time.Now()).Members[0].Slot.Attempt, "Record still works")
		at, _ = g.NextDeadline()
		assert.Equal(t, time.Now().Add(g.Pulse()), at)
		assert.Nil(t, g.Snapshot())
		g.Shutdown(time.Now())
		looptest.Settle(t, g)
		assert.True(t, g.Finished())
		assert.Nil(t, g.Snapshot())
	})
	_, err := NewGroup("app", GroupConfig{SnapshotInterval: NoSnapshots - 1})
	assert.ErrorIs(t, err, ErrInvalidConfig)
}

func TestGroupCommands(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newGHLog(t)
		var ev ghEvents
		root := ghGroup(t, l, "app", GroupConfig{OnEvent: ev.on}, "a")
		sub := ghSub(t, l, "jobs", GroupConfig{}, "x")
		require.NoError(t, root.AddGroup(sub))
		require.NoError(t, root.Start(t.Context(), time.Now()))
		looptest.Settle(t, root)
		l.take()
		do := func(c Command) CommandRecord {
			t.Helper()
			done, err := root.Submit(c)
			require.NoError(t, err)
			looptest.Settle(t, root)
			select {
			case r := <-done:
				return r
			default:
				require.FailNow(t, "no result after Advance")
				return CommandRecord{}
			}
		}
		who := func(op CommandOp, path string) Command {
			return Command{Op: op, Path: path, Requester: "alice", Reason: "ticket 42"}
		}

		r := do(who(CommandPause, "/app/a"))
		require.NoError(t, r.Err)
		assert.Equal(t, uint64(1), r.Seq)
		assert.Equal(t, []string{"stop a"}, l.take())
		rec := root.Record(time.Now())
		assert.Equal(t, OperationPaused, rec.Members[0].Slot.Operation)
		require.NotNil(t, rec.Members[0].LastCommand)
		assert.Equal(t, "alice", rec.Members[0].LastCommand.Requester)
		assert.Equal(t, "ticket 42", rec.Members[0].LastCommand.Reason)

		r = do(who(CommandPause, "/app/a"))
		require.ErrorIs(t, r.Err, ErrCommandRefused, "pausing a paused slot changes nothing")
		assert.Equal(t, r.Err.Error(), r.Error)

		r = do(who(CommandResume, "/app/a"))
		require.NoError(t, r.Err)
		assert.Equal(t, []string{"start a"}, l.take())

		r = do(who(CommandRestart, "/app/jobs"))
		require.NoError(t, r.Err)
		assert.Equal(t, []string{"stop x", "start x"}, l.take(), "a nested group restarts in order")
		assert.Equal(t, uint64(0), root.Record(time.Now()).Restarts, "an operator restart counts nothing")
		assert.Equal(t, "alice", root.Record(time.Now()).Members[1].Group.LastCommand.Requester)

		r = do(who(CommandQuarantine, "/app/jobs/x"))
		require.NoError(t, r.Err)
		assert.Contains(t, sub.Slot("x").Record(time.Now()).QuarantineReason, "ticket 42 (by alice)")

		r = do(who(CommandPause, "/app/nope"))
		require.ErrorIs(t, r.Err, ErrUnknownMember)
		r = do(who(CommandPause, "/app/jobs"))
		require.ErrorIs(t, r.Err, ErrCommandRefused, "pause applies to slots")

		r = do(who(CommandRemove, "/app/jobs"))
		require.NoError(t, r.Err)
		assert.Nil(t, root.Group("jobs"))

		before := root.Record(time.Now())
		for _, bad := range []Command{
			{Op: CommandPause, Path: "/app/a", Reason: "why"},
			{Op: CommandPause, Path: "/app/a", Requester: "bob"},
			{Op: CommandPause, Requester: "bob", Reason: "why"},
			{Op: 0, Path: "/app/a", Requester: "bob", Reason: "why"},
		} {
			_, err := root.Submit(bad)
			assert.ErrorIs(t, err, ErrInvalidCommand, "%+v", bad)
		}
		looptest.Settle(t, root)
		assert.Equal(t, before.Members, root.Record(time.Now()).Members, "refused commands change nothing")

		r = do(who(CommandShutdown, "/app"))
		require.NoError(t, r.Err)
		assert.True(t, root.Finished())
		assert.Contains(t, root.Record(time.Now()).Reason, "shutdown by alice: ticket 42")
		_, err := root.Submit(who(CommandPause, "/app/a"))
		require.ErrorIs(t, err, ErrGroupStopped)

		cmds := ev.of(EventCommand)
		assert.Len(t, cmds, 9)
		for i, e := range cmds {
			assert.Equal(t, uint64(i+1), e.Command.Seq)
			assert.Equal(t, "alice", e.Command.Requester)
		}
	})
}

func TestGroupCommandQueueFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newGHLog(t)
		g := ghGroup(t, l, "app", GroupConfig{}, "a")
		require.NoError(t, g.Start(t.Context(), time.Now()))
		looptest.Settle(t, g)
		c := Command{Op: CommandRestart, Path: "/app/a", Requester: "bot", Reason: "load test"}
		var dones []<-chan CommandRecord
		for range CommandQueueSize {
			d, err := g.Submit(c)
			require.NoError(t, err)
			dones = append(dones, d)
		}
		_, err := g.Submit(c)
		require.ErrorIs(t, err, ErrCommandQueueFull)
		looptest.Settle(t, g)
		for _, d := range dones {
			r := <-d
			if r.Err != nil {
				assert.ErrorIs(t, r.Err, ErrCommandRefused)
			}
		}
		_, err = g.Submit(c)
		require.NoError(t, err, "the loop took the queue")
		g.Shutdown(time.Now())
		looptest.Settle(t, g)
	})
}

// TestGroupCommandsHammer submits commands and reads snapshots from 8
// goroutines while Run runs: no race (under -race), no lost command, and
// every applied command in the events exactly once with its who and why.
func TestGroupCommandsHammer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newGHLog(t)
		var mu sync.Mutex
		seen := map[string]int{}
		onEvent := func(e Event) {
			if e.Kind == EventCommand {
				mu.Lock()
				seen[e.Command.Requester+"|"+e.Command.Reason]++
				mu.Unlock()
			}
		}
		ids := []string{"m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7"}
		g := ghGroup(t, l, "app", GroupConfig{OnEvent: onEvent, SnapshotInterval: time.Millisecond}, ids...)
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		go func() { errc <- g.Run(ctx) }()
		const perWorker = 50
		var wg sync.WaitGroup
		var applied sync.Map
		for w := range 8 {
			wg.Go(func() {
				ops := []CommandOp{CommandPause, CommandResume, CommandRestart}
				for i := range perWorker {
					c := Command{
						Op: ops[i%len(ops)], Path: "/app/" + ids[w],
						Requester: fmt.Sprintf("worker-%d", w), Reason: fmt.Sprintf("step %d", i),
					}
					var done <-chan CommandRecord
					for {
						var err error
						done, err = g.Submit(c)
						if err == nil {
							break
						}
						if !errors.Is(err, ErrCommandQueueFull) {
							t.Errorf("submit: %v", err)
							return
						}
						time.Sleep(time.Millisecond)
					}
					if snap := g.Snapshot(); snap != nil && len(snap.Members) != len(ids) {
						t.Errorf("snapshot with %d members", len(snap.Members))
					}
					r := <-done
					applied.Store(r.Requester+"|"+r.Reason, r.Seq)
				}
			})
		}
		wg.Wait()
		cancel()
		require.NoError(t, <-errc)
		n := 0
		applied.Range(func(k, _ any) bool {
			n++
			mu.Lock()
			assert.Equal(t, 1, seen[k.(string)], "%v in the events exactly once", k)
			mu.Unlock()
			return true
		})
		assert.Equal(t, 8*perWorker, n, "no lost command")
		assert.Len(t, seen, 8*perWorker)
	})
}
