package supervisor

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/childslot/supervisor/internal/looptest"
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

// TestMutationRecordWaitingForRestartNoAllocs: Record does not allocate in
// the steady state, also while the slot waits out a backoff: NextRestartAt
// is built once per restart time and shared by every later Record.
func TestMutationRecordWaitingForRestartNoAllocs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newCoreHarness(t)
		s := coreNew(t, coreRunFor(time.Second, errors.New("boom"))(h), Config{Backoff: Backoff{Initial: time.Hour, Max: time.Hour, NoJitter: true}})
		coreStartAt(t, s, h)
		h.attempt(t)
		coreCollect(t, s)
		now := time.Now()
		first := s.Record(now).NextRestartAt
		require.NotNil(t, first, "a restart is due in an hour")
		assert.True(t, first.Equal(now.Add(time.Hour)), "restart at %v", *first)
		assert.Same(t, first, s.Record(now).NextRestartAt, "built once, then shared")
		assert.Zero(t, testing.AllocsPerRun(100, func() { _ = s.Record(now) }))
	})
}

// TestMutationReadyNobodyWaitsForDoesNotWake: a member's Ready wakes the
// group's loop only when a start in order waits for it (ReadyTimeout set);
// a Ready that nothing waits for leaves Wake quiet.
func TestMutationReadyNobodyWaitsForDoesNotWake(t *testing.T) {
	tests := []struct {
		name         string
		readyTimeout time.Duration
		wakes        bool
	}{
		{name: "no ReadyTimeout", wakes: false},
		{name: "ReadyTimeout", readyTimeout: time.Hour, wakes: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				say := make(chan struct{})
				child := func(ctx context.Context, a *Attempt) error {
					select {
					case <-say:
						a.Ready()
					case <-ctx.Done():
						return ctx.Err()
					}
					<-ctx.Done()
					return ctx.Err()
				}
				g, err := NewGroup("app", GroupConfig{})
				require.NoError(t, err)
				cfg := ghCfg()
				cfg.ReadyTimeout = tt.readyTimeout
				_, err = g.Add("a", child, cfg)
				require.NoError(t, err)
				require.NoError(t, g.Start(t.Context(), time.Now()))
				looptest.Settle(t, g)
				close(say)
				synctest.Wait()
				select {
				case <-g.Wake():
					assert.True(t, tt.wakes, "Wake received for a Ready nothing waits for")
				default:
					assert.False(t, tt.wakes, "Wake did not receive for the Ready the start waits for")
				}
				g.Shutdown(time.Now())
				looptest.Wait(t, g, time.Second)
				require.True(t, g.Finished())
			})
		})
	}
}
