package supervisor

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/childslot/supervisor/internal/looptest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGroupShutdownDropsPendingRestart: a group's shutdown drops a
// member's fenced restart still waiting for the old attempt.
func TestGroupShutdownDropsPendingRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newGHLog(t)
		g, err := NewGroup("app", ghRoot(l, GroupConfig{}))
		require.NoError(t, err)
		s, err := g.Add("a", l.childWith("a", false, true), ghCfg())
		require.NoError(t, err)
		require.NoError(t, g.Start(t.Context(), time.Now()))
		looptest.Settle(t, g)
		d, err := s.Restart(time.Now())
		require.NoError(t, err)
		require.Equal(t, FenceQueuedAfterStop, d)
		looptest.Settle(t, g)
		require.NotNil(t, s.Record(time.Now()).PendingRestart)
		g.Shutdown(time.Now())
		assert.Nil(t, s.Record(time.Now()).PendingRestart, "the shutdown dropped the restart")
		l.free()
		looptest.Wait(t, g, time.Second)
		assert.True(t, g.Finished())
		assert.Equal(t, []string{"start a", "stop a"}, l.take(), "no new generation")
	})
}
