package supervisor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/childslot/supervisor/internal/looptest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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

// TestGroupShutdownRefusesOperatorRestart: once its group shuts down, an
// operator Restart of a member slot that has already stopped must not start
// it again ("the group, not an operator, decides what runs then"). Found by
// FuzzGroup: Restart on a stopped member while a stubborn sibling held the
// shutdown started a new attempt, which the group's end then cancelled.
// ChildSlot.Restart checked the frozen state only for slots that were not
// active.
func TestGroupShutdownRefusesOperatorRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newGHLog(t)
		g, err := NewGroup("app", ghRoot(l, GroupConfig{}))
		require.NoError(t, err)
		cfg := ghCfg()
		cfg.StopTimeout = 2 * time.Second
		_, err = g.Add("stuck", l.childWith("stuck", false, true), cfg)
		require.NoError(t, err)
		b, err := g.Add("b", l.child("b"), ghCfg())
		require.NoError(t, err)
		require.NoError(t, g.Start(t.Context(), time.Now()))
		looptest.Settle(t, g)
		g.Shutdown(time.Now())
		looptest.Settle(t, g)
		assert.Equal(t, []string{"start stuck", "start b", "stop b"}, l.take(), "stuck holds the shutdown")
		_, err = b.Restart(time.Now())
		assert.Error(t, err, "the group shuts down: no operator start")
		looptest.Settle(t, g)
		assert.Empty(t, l.take(), "b stays stopped")
		assert.Equal(t, uint64(1), b.Record(time.Now()).Attempt)
		looptest.Wait(t, g, 2*time.Second)
		assert.True(t, g.Finished())
	})
}
