package model

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var testConfig = Config{
	Policy:            Permanent,
	RestartLimit:      2,
	RestartWindow:     time.Minute,
	StopTimeout:       5 * time.Second,
	BackoffInitial:    time.Second,
	BackoffMax:        4 * time.Second,
	BackoffResetAfter: time.Minute,
}

const sec = time.Second

// step is one action on the model at a time, and what the view must show
// after it.
type step struct {
	at   time.Duration
	do   func(s *Slot, now time.Duration)
	want func(t *testing.T, v View)
}

func runSteps(t *testing.T, cfg Config, steps []step) {
	t.Helper()
	s := New(cfg)
	for i, st := range steps {
		st.do(s, st.at)
		v := s.View(st.at)
		checkInvariants(t, v)
		if st.want != nil {
			t.Run("step"+string(rune('a'+i)), func(t *testing.T) { st.want(t, v) })
		}
	}
}

func checkInvariants(t *testing.T, v View) {
	t.Helper()
	active := uint64(0)
	if v.Active {
		active = 1
	}
	require.Equal(t, v.Attempt, v.Exits+active, "attempt == exits + active")
	require.GreaterOrEqual(t, v.Abandoned, 0)
	require.Equal(t, v.AbandonedTotal, v.StaleReports+uint64(v.Abandoned), "abandoned_total == stale + abandoned")
	require.LessOrEqual(t, v.Used, testConfig.RestartLimit)
	require.Equal(t, v.Used >= testConfig.RestartLimit, v.Exhausted)
}

func start(s *Slot, now time.Duration)   { s.Start(now) }
func advance(s *Slot, now time.Duration) { s.Advance(now) }
func collect(s *Slot, now time.Duration) { s.Collect(now) }
func fail(n uint64) func(*Slot, time.Duration) {
	return func(s *Slot, now time.Duration) { s.Return(n, ReturnError, now) }
}

func TestRestartsUntilTheLimitQuarantines(t *testing.T) {
	runSteps(t, testConfig, []step{
		{at: 0, do: start, want: func(t *testing.T, v View) {
			assert.Equal(t, uint64(1), v.Attempt)
			assert.Equal(t, Running, v.Status)
		}},
		{at: sec, do: fail(1)},
		{at: sec, do: collect, want: func(t *testing.T, v View) {
			assert.Equal(t, ExitRef{Failed, 1, 1}, v.LastExit)
			assert.True(t, v.RestartScheduled)
			assert.Equal(t, 2*sec, v.NextRestartAt, "first delay is Initial")
		}},
		{at: 2*sec - 1, do: advance, want: func(t *testing.T, v View) {
			assert.False(t, v.Active, "not due yet")
		}},
		{at: 2 * sec, do: advance, want: func(t *testing.T, v View) {
			assert.Equal(t, uint64(2), v.Attempt)
			assert.Equal(t, uint64(1), v.Restarts)
			assert.Equal(t, 1, v.Used)
		}},
		{at: 2 * sec, do: fail(2)},
		{at: 2 * sec, do: collect, want: func(t *testing.T, v View) {
			assert.Equal(t, 4*sec, v.NextRestartAt, "the delay doubled")
		}},
		{at: 4 * sec, do: advance},
		{at: 4 * sec, do: fail(3)},
		{at: 4 * sec, do: collect, want: func(t *testing.T, v View) {
			assert.Equal(t, Quarantined, v.Operation)
			assert.Equal(t, "restart limit reached: 2 restarts within 1m0s", v.LastFailure.Reason)
			assert.False(t, v.RestartScheduled)
			assert.True(t, v.Exhausted)
			assert.False(t, v.Finished, "quarantined is not finished")
		}},
		{at: 5 * sec, do: func(s *Slot, now time.Duration) { s.Resume(now) }, want: func(t *testing.T, v View) {
			assert.Equal(t, Active, v.Operation)
			assert.Equal(t, uint64(2), v.Generation, "resume opens a generation")
			assert.Equal(t, uint64(4), v.Attempt)
			assert.Equal(t, 0, v.Used, "fresh budget")
			assert.Empty(t, v.QuarantineReason)
		}},
	})
}

func TestFencedRestartAbandonsAndReportsLate(t *testing.T) {
	runSteps(t, testConfig, []step{
		{at: 0, do: start},
		{at: 0, do: func(s *Slot, now time.Duration) { s.Obey(1, false, now) }},
		{at: sec, do: func(s *Slot, now time.Duration) {
			d, e := s.Restart(now)
			require.Equal(t, OK, e)
			require.Equal(t, QueuedAfterStop, d)
			d, _ = s.Restart(now)
			require.Equal(t, AlreadyPending, d)
		}, want: func(t *testing.T, v View) {
			assert.Equal(t, WaitingForOldStop, v.Phase)
			assert.Equal(t, &Pending{Generation: 2, Merged: 1}, v.Pending)
			assert.Equal(t, Cancelling, v.Status)
			assert.Equal(t, StopCancelDelivered, v.Stop)
			assert.Equal(t, 6*sec, v.Deadline)
		}},
		{at: 6 * sec, do: advance, want: func(t *testing.T, v View) {
			assert.Equal(t, ExitRef{Abandoned, 1, 1}, v.LastExit)
			assert.Equal(t, Open, v.Phase, "the new generation started in the same Advance")
			assert.Equal(t, uint64(2), v.Generation)
			assert.Equal(t, uint64(2), v.Attempt)
			assert.Equal(t, uint64(0), v.Restarts, "operator restarts do not count")
			assert.Equal(t, 1, v.Abandoned)
			assert.Equal(t, StopIdle, v.Stop, "the launch reset the stop state")
		}},
		{at: 9 * sec, do: func(s *Slot, now time.Duration) { s.Return(1, ReturnNil, now) }, want: func(t *testing.T, v View) {
			assert.Equal(t, 1, v.Abandoned, "seen only at the next Advance")
		}},
		{at: 9 * sec, do: advance, want: func(t *testing.T, v View) {
			assert.Equal(t, 0, v.Abandoned)
			assert.Equal(t, uint64(1), v.StaleReports)
			assert.Equal(t, ExitRef{Cancelled, 1, 1}, v.LastStale)
			assert.Equal(t, ExitRef{Abandoned, 1, 1}, v.LastExit, "a stale report changes nothing else")
		}},
	})
}

func TestAttemptTimeoutEndsAnObedientChildOnItsOwn(t *testing.T) {
	cfg := testConfig
	cfg.AttemptTimeout = 3 * sec
	runSteps(t, cfg, []step{
		{at: 0, do: start},
		{at: 3 * sec, do: func(s *Slot, now time.Duration) { s.Tick(now) }, want: func(t *testing.T, v View) {
			assert.Equal(t, Stopped, v.Status, "returned, not collected")
			assert.True(t, v.Active)
			assert.Equal(t, StopIdle, v.Stop, "nobody delivered a cancellation")
		}},
		{at: 3 * sec, do: collect, want: func(t *testing.T, v View) {
			assert.Equal(t, TimedOut, v.LastExit.Kind)
		}},
	})
}

func TestHeartbeatAndReadiness(t *testing.T) {
	cfg := testConfig
	cfg.HeartbeatTimeout = 2 * sec
	cfg.ReadyTimeout = 5 * sec
	runSteps(t, cfg, []step{
		{at: 0, do: start, want: func(t *testing.T, v View) {
			assert.Equal(t, Starting, v.Status)
			assert.Equal(t, 2*sec, v.Deadline, "stale from the start before the first beat")
		}},
		{at: sec, do: func(s *Slot, now time.Duration) { s.Beat(1, now) }, want: func(t *testing.T, v View) {
			assert.Equal(t, Running, v.Status)
			assert.Equal(t, 3*sec, v.Deadline)
		}},
		{at: 3 * sec, do: advance, want: func(t *testing.T, v View) {
			assert.Equal(t, Stopped, v.Status, "stale: cancelled, and it obeyed")
			assert.True(t, v.Active, "held until collected")
		}},
		{at: 3 * sec, do: collect, want: func(t *testing.T, v View) {
			assert.Equal(t, Unhealthy, v.LastExit.Kind)
			assert.Equal(t, StopCompleted, v.Stop)
		}},
	})
}

func TestTransientSuccessFinishesAndStartAgain(t *testing.T) {
	cfg := testConfig
	cfg.Policy = Transient
	runSteps(t, cfg, []step{
		{at: 0, do: start},
		{at: sec, do: func(s *Slot, now time.Duration) { s.Return(1, ReturnNil, now) }},
		{at: sec, do: collect, want: func(t *testing.T, v View) {
			assert.True(t, v.Finished)
			assert.False(t, v.HasDeadline)
		}},
		{at: 2 * sec, do: start, want: func(t *testing.T, v View) {
			assert.Equal(t, uint64(1), v.Generation)
			assert.Equal(t, uint64(2), v.Attempt)
			assert.Equal(t, uint64(0), v.Restarts)
			assert.False(t, v.Finished)
		}},
	})
}

func TestErrors(t *testing.T) {
	s := New(testConfig)
	_, e := s.Collect(0)
	assert.Equal(t, ErrNoAttempt, e)
	d, e := s.Restart(0)
	assert.Equal(t, Rejected, d)
	assert.Equal(t, ErrNotStarted, e)
	assert.Equal(t, Failure{Op: "restart", Err: ErrNotStarted}, s.View(0).LastFailure)
	require.Equal(t, OK, s.Start(0))
	assert.Equal(t, ErrActive, s.Start(0))
	_, e = s.Collect(0)
	assert.Equal(t, ErrNotDone, e)
	require.Equal(t, OK, s.Pause(0))
	assert.Equal(t, OK, s.Pause(0), "idempotent")
	assert.Equal(t, ErrPaused, s.Start(0))
	require.Equal(t, OK, s.Remove(0))
	assert.Equal(t, ErrRemoved, s.Remove(0))
	assert.Equal(t, ErrRemoved, s.Resume(0))
	assert.Equal(t, ErrRemoved, s.Quarantine(0, "x"))
	assert.Equal(t, Closed, s.View(0).Phase)
	_, e = s.Collect(0)
	assert.Equal(t, OK, e, "the removed slot's attempt obeyed and is collected")
	_, e = s.Collect(0)
	assert.Equal(t, ErrRemoved, e)
	assert.True(t, s.View(0).Finished)
}

func TestParentEnds(t *testing.T) {
	s := New(testConfig)
	require.Equal(t, OK, s.Start(0))
	s.CancelParent(sec)
	assert.Equal(t, OK, s.Resume(sec), "resuming an active slot does nothing")
	_, e := s.Collect(sec)
	require.Equal(t, OK, e)
	assert.Equal(t, Cancelled, s.View(sec).LastExit.Kind)
	assert.True(t, s.View(sec).Finished, "the parent ended: stopped for good")
	_, e = s.Restart(sec)
	assert.Equal(t, ErrParentDone, e)
	require.Equal(t, OK, s.Start(2*sec), "a new parent")
	assert.False(t, s.View(2*sec).Finished)

	s.CancelParent(3 * sec)
	require.Equal(t, OK, s.Pause(3*sec))
	assert.Equal(t, ErrParentDone, s.Resume(3*sec), "a paused slot whose parent ended cannot resume")
	assert.Equal(t, ErrPaused, s.Start(3*sec), "nor start: only Remove is left")
}

func TestNames(t *testing.T) {
	for k := NoExit; k <= Abandoned; k++ {
		got, ok := ParseKind(k.String())
		require.True(t, ok, k)
		assert.Equal(t, k, got)
	}
	for p := Open; p <= Closed; p++ {
		got, ok := ParsePhase(p.String())
		require.True(t, ok)
		assert.Equal(t, p, got)
	}
	_, ok := ParseOperation("bogus")
	assert.False(t, ok)
	assert.Equal(t, "?", Kind(99).String())
}

// randomActions are the steps TestModelInvariants draws from; n is a
// running attempt, or 0.
var randomActions = []func(s *Slot, now time.Duration, n uint64, rng *rand.Rand){
	func(s *Slot, now time.Duration, _ uint64, _ *rand.Rand) { s.Start(now) },
	func(s *Slot, now time.Duration, _ uint64, _ *rand.Rand) { s.Collect(now) },
	func(s *Slot, now time.Duration, _ uint64, _ *rand.Rand) { s.Cancel(now) },
	func(s *Slot, now time.Duration, _ uint64, _ *rand.Rand) { s.Abandon(now) },
	func(s *Slot, now time.Duration, _ uint64, _ *rand.Rand) { s.Advance(now) },
	func(s *Slot, now time.Duration, _ uint64, _ *rand.Rand) { s.Pause(now) },
	func(s *Slot, now time.Duration, _ uint64, _ *rand.Rand) { s.Resume(now) },
	func(s *Slot, now time.Duration, _ uint64, _ *rand.Rand) { s.Quarantine(now, "q") },
	func(s *Slot, now time.Duration, _ uint64, _ *rand.Rand) { s.Restart(now) },
	func(s *Slot, now time.Duration, n uint64, rng *rand.Rand) { s.Return(n, Outcome(rng.IntN(4)), now) },
	func(s *Slot, now time.Duration, n uint64, rng *rand.Rand) { s.Obey(n, rng.IntN(2) == 0, now) },
	func(s *Slot, now time.Duration, n uint64, _ *rand.Rand) { s.Beat(n, now) },
	func(s *Slot, now time.Duration, _ uint64, _ *rand.Rand) { s.CancelParent(now) },
	func(s *Slot, now time.Duration, _ uint64, rng *rand.Rand) {
		if rng.IntN(20) == 0 {
			s.Remove(now)
		}
	},
}

// TestModelInvariants drives the model at random and checks that its counts
// always add up: a model that breaks them would be no reference.
func TestModelInvariants(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		cfg := testConfig
		cfg.Policy = Policy(rng.IntN(3))
		cfg.AttemptTimeout = time.Duration(rng.IntN(3)) * 4 * sec
		cfg.HeartbeatTimeout = time.Duration(rng.IntN(3)) * 3 * sec
		s := New(cfg)
		var now time.Duration
		for range 200 {
			now += time.Duration(rng.IntN(3)) * sec
			s.Tick(now)
			n := uint64(0)
			if run := s.Running(); len(run) > 0 {
				n = run[rng.IntN(len(run))]
			}
			randomActions[rng.IntN(len(randomActions))](s, now, n, rng)
			checkInvariants(t, s.View(now))
		}
	}
}
