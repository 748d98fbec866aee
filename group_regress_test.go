package supervisor

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/childslot/supervisor/internal/looptest"
)

// Regression tests for what FuzzGroup found, each named after what was
// wrong.

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

// TestGroupResumeAfterNestedRestart: a member an operator quarantined is
// not revived when its nested group is restarted by its parent, but a
// later Resume runs it again under the group. Found by FuzzGroup
// (quarantine /root/g2/m2, a sibling of g2 fails under one_for_all, resume
// /root/g2/m2): the slot kept the context of the group's previous life,
// cancelled when that life ended, and Resume was refused with "parent
// context done".
func TestGroupResumeAfterNestedRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newGHLog(t)
		root := ghGroup(t, l, "app", GroupConfig{Strategy: OneForAll}, "db")
		sub := ghSub(t, l, "jobs", GroupConfig{}, "x", "y")
		require.NoError(t, root.AddGroup(sub))
		require.NoError(t, root.Start(t.Context(), time.Now()))
		looptest.Settle(t, root)
		require.NoError(t, sub.Slot("y").Quarantine(time.Now(), "on-call looks"))
		looptest.Settle(t, root)
		l.end("db", errGH)
		looptest.Settle(t, root)
		assert.Equal(t, []string{"start db", "start x", "start y", "stop y", "fail db", "stop x", "start db", "start x"}, l.take(),
			"y is not revived by the restart")
		require.NoError(t, sub.Slot("y").Resume(time.Now()))
		looptest.Settle(t, root)
		assert.Equal(t, []string{"start y"}, l.take(), "resumed, y runs again")
		root.Shutdown(time.Now())
		looptest.Settle(t, root)
		assert.Equal(t, []string{"stop y", "stop x", "stop db"}, l.take())
	})
}

// TestGroupOwedRestartEndsWithItsWalk: the restart a member's own failure
// asks for is counted in the member's own budget by the group restart that
// starts it, and by no other. Found by FuzzGroup, input
// 0100900X000000787,211: b fails under one_for_all with a 1s backoff, an
// operator restarts b during the backoff (not counted, as operator
// restarts never are), the walk then finds b running; a later failure of a
// restarted b's sibling counted a restart in b's budget, because the debt
// outlived the walk that was to pay it.
func TestGroupOwedRestartEndsWithItsWalk(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newGHLog(t)
		g, err := NewGroup("app", ghRoot(l, GroupConfig{Strategy: OneForAll}))
		require.NoError(t, err)
		_, err = g.Add("a", l.child("a"), ghCfg())
		require.NoError(t, err)
		cfg := Config{Backoff: Backoff{Initial: time.Second, Max: time.Second, NoJitter: true}}
		b, err := g.Add("b", l.child("b"), cfg)
		require.NoError(t, err)
		require.NoError(t, g.Start(t.Context(), time.Now()))
		looptest.Settle(t, g)
		l.end("b", errGH)
		looptest.Settle(t, g)
		_, err = b.Restart(time.Now()) // during the group restart's backoff
		require.NoError(t, err)
		looptest.Wait(t, g, time.Second)
		assert.Equal(t, []string{"start a", "start b", "fail b", "stop a", "start b", "start a"}, l.take())
		assert.Equal(t, 0, b.Record(time.Now()).RestartLimit.Used, "the operator restarted b: not counted")
		l.end("a", errGH)
		looptest.Wait(t, g, time.Second)
		assert.Equal(t, []string{"fail a", "stop b", "start a", "start b"}, l.take())
		assert.Equal(t, 0, b.Record(time.Now()).RestartLimit.Used, "a failed, not b")
		assert.Equal(t, 1, g.Slot("a").Record(time.Now()).RestartLimit.Used)
		g.Shutdown(time.Now())
		looptest.Settle(t, g)
	})
}

// TestGroupStartDropsAFencedRestart: an operator Restart asked for while
// the group holds a member for its restart is superseded by the group's
// start, as one asked for before the hold is. Found by FuzzGroup, input
// 0100000008080,200: the only member of a one_for_all group fails with a
// 1s backoff; two operator Restarts during the backoff (the second fenced
// behind the first's attempt); the group starts the member after the
// backoff, but the fenced restart stayed pending, so the member's next
// failure started the pending generation at once: no group restart, no
// backoff, nothing counted.
func TestGroupStartDropsAFencedRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newGHLog(t)
		g, err := NewGroup("app", ghRoot(l, GroupConfig{Strategy: OneForAll}))
		require.NoError(t, err)
		a, err := g.Add("a", l.child("a"), Config{Backoff: Backoff{Initial: time.Second, Max: time.Second, NoJitter: true}})
		require.NoError(t, err)
		require.NoError(t, g.Start(t.Context(), time.Now()))
		looptest.Settle(t, g)
		l.end("a", errGH)
		looptest.Settle(t, g)
		for range 2 {
			_, err = a.Restart(time.Now())
			require.NoError(t, err)
			looptest.Settle(t, g)
		}
		looptest.Wait(t, g, time.Second)
		assert.Equal(t, []string{"start a", "fail a", "start a", "stop a", "start a"}, l.take())
		assert.Nil(t, a.Record(time.Now()).PendingRestart, "the group's start superseded it")
		l.end("a", errGH)
		looptest.Settle(t, g)
		assert.Equal(t, []string{"fail a"}, l.take(), "the group restart waits for the backoff")
		assert.Equal(t, GroupRestarting, g.State())
		assert.Equal(t, uint64(1), g.Record(time.Now()).Restarts, "the second is decided, not performed yet")
		looptest.Wait(t, g, time.Second)
		assert.Equal(t, []string{"start a"}, l.take())
		assert.Equal(t, uint64(2), g.Record(time.Now()).Restarts)
		g.Shutdown(time.Now())
		looptest.Settle(t, g)
	})
}

// TestGroupResumesMemberPassedOverWhilePaused: a member paused before its
// group started is passed over by the start in order; resumed later, it
// starts then, under the group.
func TestGroupResumesMemberPassedOverWhilePaused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newGHLog(t)
		g := ghGroup(t, l, "app", GroupConfig{}, "a", "b", "c")
		require.NoError(t, g.Slot("b").Pause(time.Now()))
		require.NoError(t, g.Start(t.Context(), time.Now()))
		looptest.Settle(t, g)
		assert.Equal(t, []string{"start a", "start c"}, l.take())
		require.NoError(t, g.Slot("b").Resume(time.Now()))
		looptest.Settle(t, g)
		assert.Equal(t, []string{"start b"}, l.take())
		assert.True(t, g.Slot("b").Record(time.Now()).Active)
		g.Shutdown(time.Now())
		looptest.Settle(t, g)
		assert.Equal(t, []string{"stop c", "stop b", "stop a"}, l.take())
	})
}

// TestGroupWaitsForCancelledMemberThroughQueue: a walk that reaches a
// member whose attempt was cancelled and has returned, its exit not yet
// collected, waits for the exit to come through the queue rather than
// collecting it on the spot. Found by FuzzGroup as a flake: a shutdown that
// took over a restart in the same Advance recorded a member as stopped or
// already_stopped depending on whether the child cancelled a moment before
// had finished running. Here the cancelled child has surely returned.
func TestGroupWaitsForCancelledMemberThroughQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newGHLog(t)
		g := ghGroup(t, l, "app", GroupConfig{}, "a", "b")
		require.NoError(t, g.Start(t.Context(), time.Now()))
		looptest.Settle(t, g)
		b := g.Slot("b")
		require.NoError(t, b.Pause(time.Now()))
		synctest.Wait() // b's child has returned; its exit waits in the queue
		require.True(t, b.active.isDone())
		assert.True(t, b.groupStop(time.Now(), causeGroupShutdown), "the walk waits for b's exit")
		assert.Zero(t, b.Record(time.Now()).Exits, "b's exit is not collected by the walk")
		g.Advance(time.Now())
		assert.Equal(t, uint64(1), b.Record(time.Now()).Exits, "the next Advance collects it")
		assert.False(t, b.groupStop(time.Now(), causeGroupShutdown), "then there is nothing to wait for")
		g.Shutdown(time.Now())
		looptest.Settle(t, g)
		assert.True(t, g.Finished())
	})
}
