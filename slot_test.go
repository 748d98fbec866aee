package supervisor

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSlotLifecycle(t *testing.T) {
	const stopTimeout = 2 * time.Second
	once := Config{Restart: Temporary} // one attempt, then a stable state
	collect := func(t *testing.T, s *ChildSlot, h *coreHarness) Exit {
		coreStartAt(t, s, h)
		return coreCollect(t, s)
	}
	tests := []struct {
		name     string
		cfg      Config
		child    func(h *coreHarness) ChildFunc
		drive    func(t *testing.T, s *ChildSlot, h *coreHarness) Exit
		want     coreExitHead
		ran      time.Duration
		stop     StopState
		finished bool
		stale    uint64 // stale reports, and abandoned attempts
		check    func(t *testing.T, e Exit)
	}{
		{
			name:  "success",
			cfg:   once,
			child: coreRunFor(2*time.Second, nil), drive: collect,
			want: coreExitHead{Kind: Succeeded, Attempt: 1, Generation: 1},
			ran:  2 * time.Second, stop: StopIdle, finished: true,
		},
		{
			name:  "error",
			cfg:   once,
			child: coreRunFor(2100*time.Millisecond, errors.New("dial tcp: connection refused")), drive: collect,
			want: coreExitHead{Kind: Failed, Reason: "dial tcp: connection refused", Attempt: 1, Generation: 1},
			ran:  2100 * time.Millisecond, stop: StopIdle, finished: true,
		},
		{
			name:  "error with exit code",
			cfg:   once,
			child: coreRunFor(time.Second, fmt.Errorf("run: %w", coreCodeError{code: 3})), drive: collect,
			want: coreExitHead{Kind: Failed, Reason: "run: exit status 3", Attempt: 1, Generation: 1, Code: 3},
			ran:  time.Second, stop: StopIdle, finished: true,
		},
		{
			name:  "panic with a string",
			cfg:   once,
			child: func(*coreHarness) ChildFunc { return corePanicString }, drive: collect,
			want: coreExitHead{Kind: Panicked, Reason: "panic: boom", Attempt: 1, Generation: 1},
			ran:  time.Second, stop: StopIdle, finished: true,
			check: coreCheckPanic("corePanicString", "boom"),
		},
		{
			name:  "panic with a non-string value",
			cfg:   once,
			child: func(*coreHarness) ChildFunc { return corePanicStruct }, drive: collect,
			want: coreExitHead{Kind: Panicked, Reason: "panic: {7}", Attempt: 1, Generation: 1},
			ran:  time.Second, stop: StopIdle, finished: true,
			check: coreCheckPanic("corePanicStruct", corePanicValue{Code: 7}),
		},
		{
			name:  "runtime.Goexit",
			cfg:   once,
			child: func(*coreHarness) ChildFunc { return coreGoexit }, drive: collect,
			want: coreExitHead{Kind: Failed, Reason: "child called runtime.Goexit", Attempt: 1, Generation: 1},
			ran:  time.Second, stop: StopIdle, finished: true,
			check: func(t *testing.T, e Exit) { assert.NoError(t, e.Err) },
		},
		{
			name:  "cancel honoured",
			cfg:   once,
			child: coreBlockHeld,
			drive: func(t *testing.T, s *ChildSlot, h *coreHarness) Exit {
				coreStartAt(t, s, h)
				h.attempt(t)
				time.Sleep(time.Second)
				require.True(t, s.Cancel(time.Now()), "first cancel delivers")
				assert.False(t, s.Cancel(time.Now()), "second cancel does not")
				assert.Equal(t, StatusCancelling, s.Record(time.Now()).Status)
				h.free()
				return coreCollect(t, s)
			},
			want: coreExitHead{Kind: Cancelled, Reason: "cancel requested", Attempt: 1, Generation: 1},
			ran:  time.Second, stop: StopCompleted, finished: true,
		},
		{
			name:  "cancel ignored, abandoned by Advance, late return",
			cfg:   Config{Restart: Temporary, StopTimeout: stopTimeout},
			child: coreIgnore, drive: coreDriveAbandon,
			want: coreExitHead{Kind: Abandoned, Reason: "ignored cancellation past the stop timeout", Attempt: 1, Generation: 1},
			ran:  time.Second + stopTimeout, stop: StopFailed, finished: true, stale: 1,
		},
		{
			name:  "attempt deadline",
			cfg:   Config{Restart: Temporary, AttemptTimeout: 3 * time.Second},
			child: coreBlock,
			drive: func(t *testing.T, s *ChildSlot, h *coreHarness) Exit {
				start := coreStartAt(t, s, h)
				h.attempt(t)
				coreSleepUntil(start.Add(3 * time.Second)) // the attempt's own deadline fires
				s.Advance(time.Now())
				return coreCollect(t, s)
			},
			want: coreExitHead{Kind: TimedOut, Reason: "attempt deadline passed", Attempt: 1, Generation: 1},
			ran:  3 * time.Second, stop: StopIdle, finished: true,
		},
		{
			name:  "attempt deadline seen by Advance first",
			cfg:   Config{Restart: Temporary, AttemptTimeout: 3 * time.Second},
			child: coreBlock,
			drive: func(t *testing.T, s *ChildSlot, h *coreHarness) Exit {
				start := coreStartAt(t, s, h)
				h.attempt(t)
				time.Sleep(3*time.Second - time.Millisecond)
				s.Advance(start.Add(3 * time.Second))
				return coreCollect(t, s)
			},
			want: coreExitHead{Kind: TimedOut, Reason: "attempt deadline passed", Attempt: 1, Generation: 1},
			ran:  3*time.Second - time.Millisecond, stop: StopCompleted, finished: true,
		},
		{
			name:  "stale heartbeat",
			cfg:   Config{Restart: Temporary, HeartbeatTimeout: time.Second},
			child: coreBeatFive,
			drive: func(t *testing.T, s *ChildSlot, h *coreHarness) Exit {
				start := coreStartAt(t, s, h)
				h.attempt(t)
				at := coreLoopUntilCancelled(t, s)
				// The last beat was at 1.5s: stale exactly one timeout later.
				assert.Equal(t, start.Add(2500*time.Millisecond), at)
				return coreCollect(t, s)
			},
			want: coreExitHead{Kind: Unhealthy, Reason: "heartbeat stale", Attempt: 1, Generation: 1},
			ran:  2500 * time.Millisecond, stop: StopCompleted, finished: true,
		},
		{
			name:  "readiness deadline missed",
			cfg:   Config{Restart: Temporary, ReadyTimeout: 2 * time.Second},
			child: coreBlock,
			drive: func(t *testing.T, s *ChildSlot, h *coreHarness) Exit {
				start := coreStartAt(t, s, h)
				h.attempt(t).NotReady()
				at := coreLoopUntilCancelled(t, s)
				assert.Equal(t, start.Add(2*time.Second), at)
				return coreCollect(t, s)
			},
			want: coreExitHead{Kind: Unhealthy, Reason: "not ready in time", Attempt: 1, Generation: 1},
			ran:  2 * time.Second, stop: StopCompleted, finished: true,
		},
		{
			name:  "parent context cancelled",
			cfg:   Config{Restart: Permanent}, // a restart would follow, but the parent ended
			child: coreBlock,
			drive: func(t *testing.T, s *ChildSlot, h *coreHarness) Exit {
				coreStartAt(t, s, h)
				h.attempt(t)
				time.Sleep(time.Second)
				h.stop()
				e := coreCollect(t, s)
				s.Advance(time.Now().Add(time.Hour))
				return e
			},
			want: coreExitHead{Kind: Cancelled, Reason: "parent context: context canceled", Attempt: 1, Generation: 1},
			ran:  time.Second, stop: StopIdle, finished: true,
		},
		{
			name:  "parent context cancelled, child ignores it",
			cfg:   Config{StopTimeout: stopTimeout},
			child: coreIgnore, drive: coreDriveParentIgnored,
			want: coreExitHead{Kind: Abandoned, Reason: "ignored cancellation past the stop timeout", Attempt: 1, Generation: 1},
			ran:  time.Second + stopTimeout, stop: StopFailed, finished: true, stale: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newCoreHarness(t)
				s := coreNew(t, tt.child(h), tt.cfg)
				e := tt.drive(t, s, h)

				assert.Equal(t, tt.want, coreHead(e))
				assert.Equal(t, tt.ran, e.Duration())
				if tt.check != nil {
					tt.check(t, e)
				}
				r := s.Record(time.Now())
				assert.Equal(t, StatusStopped, r.Status)
				assert.Equal(t, tt.stop, r.StopState)
				assert.Equal(t, tt.finished, s.Finished())
				assert.Equal(t, uint64(1), r.Attempt)
				assert.Equal(t, uint64(1), r.Exits)
				assert.Equal(t, uint64(0), r.Restarts)
				assert.Zero(t, r.Abandoned, "no abandoned attempt left running")
				assert.Equal(t, tt.stale, r.AbandonedTotal)
				assert.Equal(t, tt.stale, r.StaleReports)
				assert.Equal(t, tt.stale == 1, r.LastStaleReport != nil)
				assert.Nil(t, r.NextRestartAt)
				require.NotNil(t, r.LastExit)
				assert.Equal(t, tt.want, coreHead(*r.LastExit))
				coreCheckCounts(t, r)
			})
		})
	}
}

// coreLoopUntilCancelled runs the control loop (sleep to NextDeadline,
// Advance) until the active attempt gets cancelled, checking at each
// deadline that Advance a nanosecond earlier does nothing. It returns when
// the cancellation happened.
func coreLoopUntilCancelled(t *testing.T, s *ChildSlot) time.Time {
	t.Helper()
	for range 100 {
		at, ok := s.NextDeadline()
		require.True(t, ok, "a running watched attempt has a deadline")
		coreSleepUntil(at)
		s.Advance(at.Add(-time.Nanosecond))
		require.Equal(t, StopIdle, s.Record(at.Add(-time.Nanosecond)).StopState, "nothing before the deadline")
		s.Advance(at)
		if s.Record(at).StopState == StopCancelDelivered {
			return at
		}
	}
	require.FailNow(t, "never cancelled")
	return time.Time{}
}

// coreDriveAbandon cancels an attempt that ignores it, lets Advance abandon
// it at the stop deadline, then lets it return late.
func coreDriveAbandon(t *testing.T, s *ChildSlot, h *coreHarness) Exit {
	coreStartAt(t, s, h)
	h.attempt(t)
	time.Sleep(time.Second)
	cancelledAt := time.Now()
	require.True(t, s.Cancel(cancelledAt))
	at, ok := s.NextDeadline()
	require.True(t, ok)
	require.Equal(t, cancelledAt.Add(s.cfg.StopTimeout), at, "the stop deadline")

	before := s.Record(at.Add(-time.Nanosecond))
	s.Advance(at.Add(-time.Nanosecond))
	assert.Equal(t, before, s.Record(at.Add(-time.Nanosecond)), "Advance before the stop deadline does nothing")

	coreSleepUntil(at)
	s.Advance(at)
	abandoned := s.Record(at)
	assert.Equal(t, StopFailed, abandoned.StopState)
	assert.Equal(t, 1, abandoned.Abandoned)
	assert.False(t, abandoned.Active)
	assert.Nil(t, s.Done(), "the slot is free")
	require.NotNil(t, abandoned.LastExit)
	coreCheckCounts(t, abandoned)

	time.Sleep(time.Second)
	h.free()
	synctest.Wait()
	now := time.Now()
	s.Advance(now)
	reported := s.Record(now)
	s.Advance(now.Add(time.Second))
	assert.Equal(t, reported.StaleReports, s.Record(now).StaleReports, "a late return is reported once")

	want := StaleReport{
		Generation: 1, Attempt: 1, Kind: Cancelled,
		Reason:     "cancel requested (returned: late)",
		ObservedAt: s.base.wall(now),
	}
	require.NotNil(t, reported.LastStaleReport)
	assert.Equal(t, want, *reported.LastStaleReport)
	assert.Zero(t, reported.Abandoned)

	// Nothing but the stale report changed.
	changed := reported
	changed.LastStaleReport, changed.StaleReports, changed.Abandoned = nil, abandoned.StaleReports, abandoned.Abandoned
	changed.ObservedAt = abandoned.ObservedAt
	assert.Equal(t, abandoned, changed)
	return *abandoned.LastExit
}

// coreDriveParentIgnored ends the parent context of a child that ignores
// it: Advance must cancel the attempt at once, so that it gets a stop
// deadline, and abandon it there.
func coreDriveParentIgnored(t *testing.T, s *ChildSlot, h *coreHarness) Exit {
	coreStartAt(t, s, h)
	h.attempt(t)
	time.Sleep(time.Second)
	h.stop()
	synctest.Wait()
	now := time.Now()
	at, ok := s.NextDeadline()
	require.True(t, ok)
	assert.False(t, at.After(now), "Advance is due at once")
	s.Advance(now)
	require.Equal(t, StopCancelDelivered, s.Record(now).StopState)
	at, ok = s.NextDeadline()
	require.True(t, ok)
	require.Equal(t, now.Add(s.cfg.StopTimeout), at)
	coreSleepUntil(at)
	s.Advance(at)
	r := s.Record(at)
	require.NotNil(t, r.LastExit)
	h.free()
	synctest.Wait()
	s.Advance(time.Now())
	r = s.Record(time.Now())
	require.NotNil(t, r.LastStaleReport)
	assert.Equal(t, "parent context: context canceled (returned: late)", r.LastStaleReport.Reason)
	return *r.LastExit
}

// coreKindProducer makes an attempt end with kind.
type coreKindProducer struct {
	kind  ExitKind
	cfg   Config
	child func(h *coreHarness) ChildFunc
	drive func(t *testing.T, s *ChildSlot, h *coreHarness)
}

func coreKindProducers() []coreKindProducer {
	wait := func(t *testing.T, s *ChildSlot, h *coreHarness) {
		h.attempt(t)
		coreCollect(t, s)
	}
	return []coreKindProducer{
		{kind: Succeeded, child: coreRunFor(0, nil), drive: wait},
		{kind: Failed, child: coreRunFor(0, errors.New("failed")), drive: wait},
		{kind: Panicked, child: func(h *coreHarness) ChildFunc {
			return func(_ context.Context, a *Attempt) error { h.started <- a; panic("boom") }
		}, drive: wait},
		{kind: Cancelled, child: coreBlock, drive: func(t *testing.T, s *ChildSlot, h *coreHarness) {
			h.attempt(t)
			require.True(t, s.Cancel(time.Now()))
			coreCollect(t, s)
		}},
		{kind: TimedOut, cfg: Config{AttemptTimeout: time.Second}, child: coreBlock, drive: wait},
		{kind: Unhealthy, cfg: Config{HeartbeatTimeout: time.Second}, child: coreBlock, drive: func(t *testing.T, s *ChildSlot, h *coreHarness) {
			h.attempt(t)
			s.Advance(time.Now().Add(time.Second))
			coreCollect(t, s)
		}},
		{kind: Abandoned, cfg: Config{StopTimeout: time.Second}, child: coreIgnore, drive: func(t *testing.T, s *ChildSlot, h *coreHarness) {
			h.attempt(t)
			require.True(t, s.Cancel(time.Now()))
			_, ok := s.Abandon(time.Now())
			require.True(t, ok)
			h.free()
		}},
	}
}

func TestSlotRestartPolicy(t *testing.T) {
	// Transient restarts after abnormal exits only.
	transient := map[ExitKind]bool{Failed: true, Panicked: true, TimedOut: true, Unhealthy: true, Abandoned: true}
	for _, rt := range []RestartType{Permanent, Transient, Temporary} {
		for _, p := range coreKindProducers() {
			want := rt == Permanent || (rt == Transient && transient[p.kind])
			t.Run(rt.String()+"/"+p.kind.String(), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					coreCheckRestartPolicy(t, rt, p, want)
				})
			})
		}
	}
}

func coreCheckRestartPolicy(t *testing.T, rt RestartType, p coreKindProducer, want bool) {
	h := newCoreHarness(t)
	cfg := p.cfg
	cfg.Restart = rt
	cfg.Backoff = Backoff{NoJitter: true}
	s := coreNew(t, p.child(h), cfg)
	coreStartAt(t, s, h)
	p.drive(t, s, h)

	r := s.Record(time.Now())
	require.NotNil(t, r.LastExit)
	require.Equal(t, p.kind, r.LastExit.Kind)
	assert.Equal(t, want, r.NextRestartAt != nil, "restart scheduled")
	assert.Equal(t, !want, s.Finished())
	at, ok := s.NextDeadline()
	assert.Equal(t, want, ok)
	if !ok {
		at = time.Now().Add(time.Hour)
	}
	coreSleepUntil(at)
	s.Advance(at)
	r = s.Record(at)
	wantAttempts := uint64(1)
	if want {
		wantAttempts = 2
	}
	assert.Equal(t, wantAttempts, r.Attempt)
	assert.Equal(t, wantAttempts-1, r.Restarts)
	coreCheckCounts(t, r)
}

func TestSlotRestartLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var events []EventKind
		cfg := Config{
			RestartLimit: 3, Backoff: Backoff{NoJitter: true},
			OnEvent: func(e Event) { events = append(events, e.Kind) },
		}
		s := coreNew(t, func(context.Context, *Attempt) error { return errors.New("always") }, cfg)
		ctx := t.Context()
		require.NoError(t, s.Start(ctx, time.Now()))

		var delays []time.Duration
		for range 10 {
			e := coreCollect(t, s)
			at, ok := s.NextDeadline()
			if !ok {
				break
			}
			delays = append(delays, at.Sub(e.ExitedAt))
			s.Advance(at.Add(-time.Nanosecond))
			require.Nil(t, s.Done(), "no restart before its time")
			coreSleepUntil(at)
			s.Advance(at)
		}
		assert.Equal(t, []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond}, delays)

		r := s.Record(time.Now())
		reason := "restart limit reached: 3 restarts within 1m0s"
		assert.Equal(t, uint64(4), r.Attempt, "three automatic restarts ran")
		assert.Equal(t, uint64(3), r.Restarts)
		assert.Equal(t, OperationQuarantined, r.Operation)
		assert.Equal(t, reason, r.QuarantineReason)
		require.NotNil(t, r.LastControlFailure)
		assert.Equal(t, "restart", r.LastControlFailure.Op)
		assert.Equal(t, reason, r.LastControlFailure.Reason)
		assert.True(t, r.RestartLimit.Exhausted)
		assert.Nil(t, r.NextRestartAt)
		assert.False(t, s.Finished(), "a quarantined slot waits for an operator")
		assert.Equal(t, []EventKind{EventRestartRefused, EventQuarantined}, events[len(events)-2:])

		_, ok := s.NextDeadline()
		assert.False(t, ok)
		far := time.Now().Add(24 * time.Hour)
		time.Sleep(time.Until(far))
		s.Advance(far)
		r = s.Record(far)
		assert.Equal(t, uint64(4), r.Attempt, "nothing runs once quarantined")
		assert.Nil(t, s.Done())
		coreCheckCounts(t, r)
	})
}

func TestSlotBackoffReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Attempt 3 runs for ResetAfter: the delay after it is Initial again.
		runs := []time.Duration{0, 0, time.Second, 0, 0}
		child := func(_ context.Context, a *Attempt) error {
			time.Sleep(runs[a.Number()-1])
			return errors.New("fail")
		}
		cfg := Config{Backoff: Backoff{NoJitter: true, ResetAfter: time.Second}}
		s := coreNew(t, child, cfg)
		require.NoError(t, s.Start(t.Context(), time.Now()))
		var delays []time.Duration
		for i := range runs {
			e := coreCollect(t, s)
			at, ok := s.NextDeadline()
			require.True(t, ok)
			delays = append(delays, at.Sub(e.ExitedAt))
			if i < len(runs)-1 {
				coreSleepUntil(at)
				s.Advance(at)
			}
		}
		ms := time.Millisecond
		assert.Equal(t, []time.Duration{100 * ms, 200 * ms, 100 * ms, 200 * ms, 400 * ms}, delays)
	})
}

func TestSlotStartRefusesHeldAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newCoreHarness(t)
		s := coreNew(t, coreRunFor(time.Second, nil)(h), Config{Restart: Temporary})
		coreStartAt(t, s, h)
		first := h.attempt(t)
		assert.ErrorIs(t, s.Start(h.ctx, time.Now()), ErrActive, "running")
		time.Sleep(2 * time.Second)
		require.NotNil(t, s.Done())
		assert.ErrorIs(t, s.Start(h.ctx, time.Now()), ErrActive, "returned, not collected")
		assert.Equal(t, uint64(1), s.Record(time.Now()).Attempt, "no attempt was overwritten")

		coreCollect(t, s)
		require.NoError(t, s.Start(h.ctx, time.Now()), "nothing held")
		second := h.attempt(t)
		assert.Equal(t, uint64(1), first.Number())
		assert.Equal(t, uint64(2), second.Number())
		assert.Equal(t, first.Generation(), second.Generation(), "Start opens no generation")
		r := s.Record(time.Now())
		assert.Equal(t, uint64(0), r.Restarts, "Start is not an automatic restart")
		coreCheckCounts(t, r)
		coreCollect(t, s)
	})
}

// coreState builds a slot in one of the states the misuse test covers.
type coreState struct {
	name  string
	build func(t *testing.T, h *coreHarness) *ChildSlot
}

func coreStates() []coreState {
	started := func(t *testing.T, h *coreHarness, child ChildFunc, cfg Config) *ChildSlot {
		s := coreNew(t, child, cfg)
		coreStartAt(t, s, h)
		h.attempt(t)
		return s
	}
	return []coreState{
		{"nil", func(*testing.T, *coreHarness) *ChildSlot { return nil }},
		{"zero", func(*testing.T, *coreHarness) *ChildSlot { return &ChildSlot{} }},
		{"before start", func(t *testing.T, h *coreHarness) *ChildSlot { return coreNew(t, coreBlock(h), Config{}) }},
		{"running", func(t *testing.T, h *coreHarness) *ChildSlot { return started(t, h, coreBlock(h), Config{}) }},
		{"returned", func(t *testing.T, h *coreHarness) *ChildSlot {
			s := started(t, h, coreRunFor(0, nil)(h), Config{})
			synctest.Wait()
			return s
		}},
		{"cancelling", func(t *testing.T, h *coreHarness) *ChildSlot {
			s := started(t, h, coreIgnore(h), Config{})
			require.True(t, s.Cancel(time.Now()))
			return s
		}},
		{"abandoned", func(t *testing.T, h *coreHarness) *ChildSlot {
			s := started(t, h, coreIgnore(h), Config{Backoff: Backoff{NoJitter: true}})
			_, ok := s.Abandon(time.Now())
			require.True(t, ok)
			return s
		}},
		{"quarantined", func(t *testing.T, h *coreHarness) *ChildSlot {
			s := started(t, h, coreBlock(h), Config{})
			require.NoError(t, s.Quarantine(time.Now(), "operator"))
			coreCollect(t, s)
			return s
		}},
		{"removed", func(t *testing.T, h *coreHarness) *ChildSlot {
			s := started(t, h, coreBlock(h), Config{})
			require.NoError(t, s.Remove(time.Now()))
			coreCollect(t, s)
			return s
		}},
		{"finished", func(t *testing.T, h *coreHarness) *ChildSlot {
			s := started(t, h, coreRunFor(0, nil)(h), Config{Restart: Temporary})
			coreCollect(t, s)
			return s
		}},
	}
}

// coreOutcome is what one call returned, reduced to what the misuse test
// checks: the error, a flag (the bool a method reports, or whether what it
// returned is non-zero) and a fence decision.
type coreOutcome struct {
	err      error
	ok       bool
	decision FenceDecision
}

// coreCall is one method of ChildSlot and what it should return in each
// state of coreStates, in order.
type coreCall struct {
	name      string
	call      func(s *ChildSlot, h *coreHarness) coreOutcome
	errs      []error
	flags     []bool
	decisions []FenceDecision
}

func coreCalls() []coreCall {
	inv, act, noA, notD := ErrInvalidConfig, ErrActive, ErrNoAttempt, ErrNotDone
	quar, rem := ErrQuarantined, ErrRemoved
	rej, queued, imm := FenceRejected, FenceQueuedAfterStop, FenceStartedImmediately
	// States: nil, zero, before start, running, returned, cancelling,
	// abandoned, quarantined, removed, finished.
	return []coreCall{
		{name: "Start", call: func(s *ChildSlot, h *coreHarness) coreOutcome {
			return coreOutcome{err: s.Start(h.ctx, time.Now())}
		}, errs: []error{inv, inv, nil, act, act, act, nil, quar, rem, nil}},
		{name: "Done", call: func(s *ChildSlot, _ *coreHarness) coreOutcome {
			return coreOutcome{ok: s.Done() != nil}
		}, flags: []bool{false, false, false, true, true, true, false, false, false, false}},
		{name: "Collect", call: func(s *ChildSlot, _ *coreHarness) coreOutcome {
			e, err := s.Collect(time.Now())
			return coreOutcome{err: err, ok: e.Kind != 0}
		},
			errs:  []error{inv, inv, noA, notD, nil, notD, noA, noA, rem, noA},
			flags: []bool{false, false, false, false, true, false, false, false, false, false}},
		{name: "Cancel", call: func(s *ChildSlot, _ *coreHarness) coreOutcome {
			return coreOutcome{ok: s.Cancel(time.Now())}
		}, flags: []bool{false, false, false, true, false, false, false, false, false, false}},
		{name: "Abandon", call: func(s *ChildSlot, _ *coreHarness) coreOutcome {
			e, ok := s.Abandon(time.Now())
			return coreOutcome{ok: ok && e.Kind == Abandoned}
		}, flags: []bool{false, false, false, true, false, true, false, false, false, false}},
		{name: "Advance", call: func(s *ChildSlot, _ *coreHarness) coreOutcome {
			s.Advance(time.Now().Add(time.Hour))
			return coreOutcome{}
		}},
		{name: "NextDeadline", call: func(s *ChildSlot, _ *coreHarness) coreOutcome {
			_, ok := s.NextDeadline()
			return coreOutcome{ok: ok}
		}, flags: []bool{false, false, false, false, false, true, true, false, false, false}},
		{name: "Liveness", call: func(s *ChildSlot, _ *coreHarness) coreOutcome {
			return coreOutcome{ok: s.Liveness(time.Now()) != Liveness{}}
		}, flags: make([]bool, 10)},
		{name: "Record", call: func(s *ChildSlot, _ *coreHarness) coreOutcome {
			return coreOutcome{ok: s.Record(time.Now()) != Record{}}
		}, flags: []bool{false, false, true, true, true, true, true, true, true, true}},
		{name: "Finished", call: func(s *ChildSlot, _ *coreHarness) coreOutcome {
			return coreOutcome{ok: s.Finished()}
		}, flags: []bool{true, true, false, false, false, false, false, false, true, true}},
		{name: "Stop", call: func(s *ChildSlot, _ *coreHarness) coreOutcome {
			e, err := s.Stop(context.Background())
			return coreOutcome{err: err, ok: e.Kind != 0}
		},
			errs:  []error{inv, inv, noA, nil, nil, nil, noA, noA, noA, noA},
			flags: []bool{false, false, false, true, true, true, false, false, false, false}},
		{name: "Pause", call: func(s *ChildSlot, _ *coreHarness) coreOutcome {
			return coreOutcome{err: s.Pause(time.Now())}
		}, errs: []error{inv, inv, nil, nil, nil, nil, nil, quar, rem, nil}},
		{name: "Resume", call: func(s *ChildSlot, _ *coreHarness) coreOutcome {
			return coreOutcome{err: s.Resume(time.Now())}
		}, errs: []error{inv, inv, nil, nil, nil, nil, nil, nil, rem, nil}},
		{name: "Quarantine", call: func(s *ChildSlot, _ *coreHarness) coreOutcome {
			return coreOutcome{err: s.Quarantine(time.Now(), "why")}
		}, errs: []error{inv, inv, nil, nil, nil, nil, nil, nil, rem, nil}},
		{name: "Remove", call: func(s *ChildSlot, _ *coreHarness) coreOutcome {
			return coreOutcome{err: s.Remove(time.Now())}
		}, errs: []error{inv, inv, nil, nil, nil, nil, nil, nil, rem, nil}},
		{name: "Restart", call: func(s *ChildSlot, _ *coreHarness) coreOutcome {
			d, err := s.Restart(time.Now())
			return coreOutcome{err: err, decision: d}
		},
			errs:      []error{inv, inv, ErrNotStarted, nil, nil, nil, nil, quar, rem, nil},
			decisions: []FenceDecision{rej, rej, rej, queued, queued, queued, imm, rej, rej, imm}},
	}
}

func TestSlotMisuse(t *testing.T) {
	states := coreStates()
	for _, c := range coreCalls() {
		for i, st := range states {
			t.Run(c.name+"/"+st.name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					h := newCoreHarness(t)
					s := st.build(t, h)
					var got coreOutcome
					require.NotPanics(t, func() { got = c.call(s, h) })
					coreCheckOutcome(t, c, i, got)
					r := s.Record(time.Now())
					if s.valid() {
						coreCheckCounts(t, r)
					} else {
						assert.Equal(t, Record{}, r)
					}
				})
			})
		}
	}
}

func coreCheckOutcome(t *testing.T, c coreCall, state int, got coreOutcome) {
	t.Helper()
	if want := coreWantErr(c, state); want != nil {
		assert.ErrorIs(t, got.err, want)
	} else {
		assert.NoError(t, got.err)
	}
	if c.flags != nil {
		assert.Equal(t, c.flags[state], got.ok, "flag")
	}
	if c.decisions != nil {
		assert.Equal(t, c.decisions[state], got.decision)
	}
}

func coreWantErr(c coreCall, state int) error {
	if c.errs == nil {
		return nil
	}
	return c.errs[state]
}

// TestOperationAccessor: a quarantined slot is not Finished, and Operation
// says why without a record (issue 11, item 6).
func TestOperationAccessor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newCoreHarness(t)
		s := coreNew(t, coreRunFor(time.Millisecond, errors.New("boom"))(h), Config{RestartLimit: 1, Backoff: Backoff{NoDelay: true}})
		assert.Equal(t, OperationActive, s.Operation())
		coreStartAt(t, s, h)
		h.attempt(t)
		coreCollect(t, s)
		s.Advance(time.Now())
		h.attempt(t)
		coreCollect(t, s) // the limit refuses the next restart
		assert.Equal(t, OperationQuarantined, s.Operation())
		assert.False(t, s.Finished(), "a quarantined slot is not finished")
		assert.Equal(t, s.Record(time.Now()).Operation, s.Operation())
		require.NoError(t, s.Resume(time.Now()))
		assert.Equal(t, OperationActive, s.Operation())
		h.attempt(t)
		require.NoError(t, s.Pause(time.Now()))
		assert.Equal(t, OperationPaused, s.Operation())
		require.NoError(t, s.Remove(time.Now()))
		assert.Equal(t, OperationRemoved, s.Operation())

		var zero *ChildSlot
		assert.Equal(t, OperationRemoved, zero.Operation())
		assert.Equal(t, OperationRemoved, new(ChildSlot).Operation())
	})
}

// TestTryCollect: TryCollect collects what there is, and reports "nothing
// to collect" without an error, so a drained slot needs no blanket discard
// (issue 11, item 5).
func TestTryCollect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newCoreHarness(t)
		q := NewExitQueue()
		s := coreNew(t, coreBlock(h), Config{Restart: Temporary, Exits: q})

		_, ok, err := s.TryCollect(time.Now())
		assert.False(t, ok, "nothing started")
		assert.NoError(t, err)

		coreStartAt(t, s, h)
		h.attempt(t)
		_, ok, err = s.TryCollect(time.Now())
		assert.False(t, ok, "still running")
		assert.NoError(t, err)
		assert.NotNil(t, s.Done(), "nothing changed")

		require.True(t, s.Cancel(time.Now()))
		<-s.Done()
		e, ok, err := s.TryCollect(time.Now())
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, Cancelled, e.Kind)
		last := *s.Record(time.Now()).LastExit
		assert.Equal(t, coreHead(e), coreHead(last), "collected as Collect would")

		synctest.Wait()
		drained := q.Drain(nil)
		require.Equal(t, []*ChildSlot{s}, drained, "the exit was posted")
		_, ok, err = drained[0].TryCollect(time.Now())
		assert.False(t, ok, "collected already")
		assert.NoError(t, err)

		require.NoError(t, s.Remove(time.Now()))
		_, ok, err = s.TryCollect(time.Now())
		assert.False(t, ok, "removed and finished")
		assert.NoError(t, err, "not an error: nothing to collect")
		_, err = s.Collect(time.Now())
		assert.ErrorIs(t, err, ErrRemoved, "Collect still says why")

		_, ok, err = new(ChildSlot).TryCollect(time.Now())
		assert.False(t, ok)
		assert.ErrorIs(t, err, ErrInvalidConfig, "a zero slot is a real failure")
	})
}
