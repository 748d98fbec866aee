package supervisor

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Tests that kill slot mutants gremlins found alive (see RELIABILITY.md,
// "Mutation testing").

// TestMutationPauseDropsPendingRestart: Pause while a fenced restart waits
// for the old attempt drops the restart; the attempt, once it returns, is
// not followed by the new generation.
func TestMutationPauseDropsPendingRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newCoreHarness(t)
		s := coreNew(t, coreBlockHeld(h), Config{})
		require.NoError(t, s.Start(t.Context(), time.Now()))
		h.attempt(t)
		d, err := s.Restart(time.Now())
		require.NoError(t, err)
		require.Equal(t, FenceQueuedAfterStop, d)
		require.NotNil(t, s.Record(time.Now()).PendingRestart)
		require.NoError(t, s.Pause(time.Now()))
		r := s.Record(time.Now())
		assert.Nil(t, r.PendingRestart, "the pause dropped the restart")
		assert.Equal(t, FenceOpen, r.FencePhase)
		h.free()
		synctest.Wait()
		s.Advance(time.Now())
		_, _ = s.Collect(time.Now())
		s.Advance(time.Now())
		r = s.Record(time.Now())
		assert.Equal(t, uint64(1), r.Attempt, "nothing started while paused")
		assert.Nil(t, r.PendingRestart)
	})
}

// TestMutationGroupShutdownDropsPendingRestart: a group's shutdown drops a
// member's fenced restart still waiting for the old attempt.
func TestMutationGroupShutdownDropsPendingRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newGHLog(t)
		g, err := NewGroup("app", ghRoot(l, GroupConfig{}))
		require.NoError(t, err)
		s, err := g.Add("a", l.childWith("a", false, true), ghCfg())
		require.NoError(t, err)
		require.NoError(t, g.Start(t.Context(), time.Now()))
		ghSettle(t, g)
		d, err := s.Restart(time.Now())
		require.NoError(t, err)
		require.Equal(t, FenceQueuedAfterStop, d)
		ghSettle(t, g)
		require.NotNil(t, s.Record(time.Now()).PendingRestart)
		g.Shutdown(time.Now())
		assert.Nil(t, s.Record(time.Now()).PendingRestart, "the shutdown dropped the restart")
		l.free()
		ghWait(t, g, time.Second)
		assert.True(t, g.Finished())
		assert.Equal(t, []string{"start a", "stop a"}, l.take(), "no new generation")
	})
}
