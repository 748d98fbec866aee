package supervisor

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/childslot/supervisor/internal/looptest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLivenessStaleFromBeatTime(t *testing.T) {
	// Seed fault 1: a beat seen once must not keep the attempt fresh however
	// often the loop looks; staleness counts from the beat's own time.
	synctest.Test(t, func(t *testing.T) {
		h := newCoreHarness(t)
		s := coreNew(t, coreBlock(h), Config{HeartbeatTimeout: time.Second})
		coreStartAt(t, s, h)
		a := h.attempt(t)
		time.Sleep(100 * time.Millisecond)
		a.Beat()
		beat := time.Now()
		staleAt := beat.Add(time.Second)

		for time.Now().Before(staleAt) {
			l := s.Liveness(time.Now())
			require.False(t, l.Stale, "fresh %v after the beat", time.Since(beat))
			require.NotNil(t, l.LastBeat)
			require.Equal(t, s.base.wall(beat), *l.LastBeat, "the beat's own time, not the time it was seen")
			time.Sleep(50 * time.Millisecond)
		}
		require.Equal(t, staleAt, time.Now())
		l := s.Liveness(time.Now())
		assert.True(t, l.Stale, "stale exactly HeartbeatTimeout after the beat")
		assert.Equal(t, s.base.wall(beat), *l.LastBeat)
		assert.True(t, s.Record(time.Now()).Liveness.Stale)

		a.Beat()
		assert.False(t, s.Liveness(time.Now()).Stale, "a new beat makes it fresh again")
		assert.Equal(t, s.base.wall(time.Now()), *s.Liveness(time.Now()).LastBeat)
	})
}

func TestLivenessStaleBeforeFirstBeat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newCoreHarness(t)
		s := coreNew(t, coreBlock(h), Config{HeartbeatTimeout: time.Second})
		start := coreStartAt(t, s, h)
		h.attempt(t)
		assert.False(t, s.Liveness(start.Add(time.Second-time.Nanosecond)).Stale)
		l := s.Liveness(start.Add(time.Second))
		assert.True(t, l.Stale, "no beat for HeartbeatTimeout since the start")
		assert.Nil(t, l.LastBeat)
	})
}

func TestLivenessBelongsToAttempt(t *testing.T) {
	// Seed fault 2: beats and readiness survived the attempt.
	synctest.Test(t, func(t *testing.T) {
		h := newCoreHarness(t)
		fail := make(chan struct{}, 1)
		child := func(ctx context.Context, a *Attempt) error {
			h.started <- a
			select {
			case <-fail:
				return errors.New("fail")
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		cfg := Config{HeartbeatTimeout: time.Second, Backoff: Backoff{NoJitter: true}}
		s := coreNew(t, child, cfg)
		coreStartAt(t, s, h)
		first := h.attempt(t)
		time.Sleep(200 * time.Millisecond)
		first.Beat()
		first.Ready()
		l := s.Liveness(time.Now())
		require.NotNil(t, l.LastBeat)
		require.Equal(t, ReadinessReady, l.Readiness)

		fail <- struct{}{}
		synctest.Wait()
		assert.Equal(t, Liveness{}, s.Liveness(time.Now()), "returned, not yet collected: no liveness")
		coreCollect(t, s)
		assert.Equal(t, Liveness{}, s.Liveness(time.Now().Add(time.Hour)), "never stale with nothing running")
		assert.Equal(t, Liveness{}, s.Record(time.Now()).Liveness)

		// Beats on the old attempt change nothing the slot reads.
		first.Beat()
		first.Ready()
		assert.Equal(t, Liveness{}, s.Liveness(time.Now()))

		at, ok := s.NextDeadline()
		require.True(t, ok)
		coreSleepUntil(at)
		s.Advance(at)
		second := h.attempt(t)
		require.Equal(t, uint64(2), second.Number())
		l = s.Liveness(at)
		assert.Nil(t, l.LastBeat, "the new attempt starts with no beat")
		assert.Equal(t, ReadinessUnknown, l.Readiness)
		assert.False(t, l.Stale)
		assert.Equal(t, StatusStarting, s.Record(at).Status)
		assert.False(t, s.Liveness(at.Add(time.Second-time.Nanosecond)).Stale, "counted from the new start")
		assert.True(t, s.Liveness(at.Add(time.Second)).Stale)
	})
}

func TestLivenessHeartbeatOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newCoreHarness(t)
		s := coreNew(t, coreBlock(h), Config{})
		coreStartAt(t, s, h)
		a := h.attempt(t)
		time.Sleep(time.Second)
		a.Beat()
		time.Sleep(time.Hour)
		l := s.Liveness(time.Now())
		assert.False(t, l.Stale, "HeartbeatTimeout off: never stale")
		require.NotNil(t, l.LastBeat, "beats are still shown")
		_, ok := s.NextDeadline()
		assert.False(t, ok)
		s.Advance(time.Now())
		r := s.Record(time.Now())
		assert.Equal(t, StopIdle, r.StopState, "not cancelled")
		assert.Equal(t, StatusRunning, r.Status)
	})
}

func TestLivenessReadiness(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newCoreHarness(t)
		s := coreNew(t, coreBlock(h), Config{ReadyTimeout: 2 * time.Second})
		start := coreStartAt(t, s, h)
		a := h.attempt(t)
		deadline, ok := s.NextDeadline()
		require.True(t, ok)
		require.Equal(t, start.Add(2*time.Second), deadline)

		steps := []struct {
			do        func()
			readiness Readiness
			status    Status
		}{
			{func() {}, ReadinessUnknown, StatusStarting},
			{a.NotReady, ReadinessNotReady, StatusRunning},
			{a.Ready, ReadinessReady, StatusReady},
			{a.NotReady, ReadinessNotReady, StatusRunning},
			{a.Ready, ReadinessReady, StatusReady},
			{a.NotReady, ReadinessNotReady, StatusRunning},
		}
		for i, st := range steps {
			st.do()
			now := time.Now()
			assert.Equal(t, st.readiness, s.Liveness(now).Readiness, "step %d", i)
			assert.Equal(t, st.status, s.Record(now).Status, "step %d", i)
			time.Sleep(100 * time.Millisecond)
		}

		// Ready once is enough: NotReady afterwards is not a missed
		// readiness deadline.
		_, ok = s.NextDeadline()
		assert.False(t, ok, "no readiness deadline once ready")
		s.Advance(deadline.Add(time.Hour))
		assert.Equal(t, StopIdle, s.Record(time.Now()).StopState)
	})
}

func TestAttemptBeatFromManyGoroutines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newCoreHarness(t)
		s := coreNew(t, coreBlock(h), Config{HeartbeatTimeout: time.Second})
		coreStartAt(t, s, h)
		a := h.attempt(t)
		time.Sleep(500 * time.Millisecond)
		for range 8 {
			go func() {
				for range 100 {
					a.Beat()
					a.Ready()
				}
			}()
		}
		synctest.Wait()
		l := s.Liveness(time.Now())
		require.NotNil(t, l.LastBeat)
		assert.Equal(t, s.base.wall(time.Now()), *l.LastBeat)
		assert.Equal(t, ReadinessReady, l.Readiness)
	})
}

// TestReadyNobodyWaitsForDoesNotWake: a member's Ready wakes the
// group's loop only when a start in order waits for it (ReadyTimeout set);
// a Ready that nothing waits for leaves Wake quiet.
func TestReadyNobodyWaitsForDoesNotWake(t *testing.T) {
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
