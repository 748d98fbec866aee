package supervisor

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"
	"testing/synctest"
	"time"
	"unsafe"

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
		ObservedAt: s.base.Wall(now),
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

func TestSlotStaleReportLeavesCurrentAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newCoreHarness(t)
		cfg := Config{StopTimeout: time.Second, Backoff: Backoff{NoDelay: true}}
		s := coreNew(t, coreIgnore(h), cfg)
		coreStartAt(t, s, h)
		h.attempt(t)
		require.True(t, s.Cancel(time.Now()))
		time.Sleep(time.Second)
		s.Advance(time.Now()) // abandons attempt 1 and starts attempt 2 at once
		second := h.attempt(t)
		assert.Equal(t, uint64(2), second.Number())
		before := s.Record(time.Now())
		require.True(t, before.Active)
		require.Equal(t, 1, before.Abandoned)
		require.Equal(t, Abandoned, before.LastExit.Kind)

		// Both attempts wait on the same release: attempt 2 returns too,
		// but only attempt 1's return is a stale report.
		h.free()
		synctest.Wait()
		s.Advance(time.Now())
		after := s.Record(time.Now())
		require.NotNil(t, after.LastStaleReport)
		assert.Equal(t, uint64(1), after.LastStaleReport.Attempt)
		assert.Equal(t, uint64(2), after.Attempt)
		assert.True(t, after.Active, "attempt 2 is still held until collected")
		assert.Equal(t, before.LastExit, after.LastExit, "the stale report is not the last exit")
		assert.Equal(t, before.Generation, after.Generation)
		assert.Equal(t, before.Exits, after.Exits)
		assert.Zero(t, after.Abandoned)
		coreCheckCounts(t, after)

		e := coreCollect(t, s)
		assert.Equal(t, uint64(2), e.Attempt)
		assert.Equal(t, Failed, e.Kind, "attempt 2 was never cancelled")
		coreCheckCounts(t, s.Record(time.Now()))
	})
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

// coreProgress is what Advance changes when something is due.
type coreProgress struct {
	Attempt, Exits uint64
	Stop           StopState
}

func TestSlotNextDeadline(t *testing.T) {
	sec, ms := time.Second, time.Millisecond
	tests := []struct {
		name  string
		cfg   Config
		child func(*coreHarness) ChildFunc
		prep  func(t *testing.T, s *ChildSlot, a *Attempt)
		want  time.Duration // after the start; 0: none
	}{
		{name: "nothing watched", child: coreBlock},
		{name: "attempt deadline", cfg: Config{AttemptTimeout: 5 * sec}, child: coreBlock, want: 5 * sec},
		{
			name: "heartbeat before the first beat", child: coreBlock,
			cfg: Config{AttemptTimeout: 5 * sec, HeartbeatTimeout: 2 * sec}, want: 2 * sec,
		},
		{
			name: "readiness", child: coreBlock,
			cfg: Config{AttemptTimeout: 5 * sec, HeartbeatTimeout: 2 * sec, ReadyTimeout: sec}, want: sec,
		},
		{
			name: "heartbeat after a beat", child: coreBlock,
			cfg: Config{AttemptTimeout: 5 * sec, HeartbeatTimeout: 2 * sec}, want: 2500 * ms,
			prep: func(_ *testing.T, _ *ChildSlot, a *Attempt) { time.Sleep(500 * ms); a.Beat() },
		},
		{
			name: "attempt deadline before the heartbeat", child: coreBlock,
			cfg: Config{AttemptTimeout: 3 * sec, HeartbeatTimeout: 2 * sec}, want: 3 * sec,
			prep: func(_ *testing.T, _ *ChildSlot, a *Attempt) { time.Sleep(1500 * ms); a.Beat() },
		},
		{
			name: "ready attempt has no readiness deadline", child: coreBlock,
			cfg: Config{HeartbeatTimeout: 3 * sec, ReadyTimeout: sec}, want: 3 * sec,
			prep: func(_ *testing.T, _ *ChildSlot, a *Attempt) { time.Sleep(500 * ms); a.Ready() },
		},
		{
			name: "stop deadline replaces the others", child: coreIgnore,
			cfg: Config{AttemptTimeout: sec, HeartbeatTimeout: sec, StopTimeout: 4 * sec}, want: 4500 * ms,
			prep: func(t *testing.T, s *ChildSlot, _ *Attempt) {
				time.Sleep(500 * ms)
				require.True(t, s.Cancel(time.Now()))
			},
		},
		{
			name: "due restart", child: coreRunFor(500*ms, errors.New("fail")),
			cfg: Config{Backoff: Backoff{NoJitter: true, Initial: 250 * ms}}, want: 750 * ms,
			prep: func(t *testing.T, s *ChildSlot, _ *Attempt) { coreCollect(t, s) },
		},
		{
			name: "no restart after a Temporary child", child: coreRunFor(500*ms, nil),
			cfg:  Config{Restart: Temporary, AttemptTimeout: sec},
			prep: func(t *testing.T, s *ChildSlot, _ *Attempt) { coreCollect(t, s) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newCoreHarness(t)
				s := coreNew(t, tt.child(h), tt.cfg)
				start := coreStartAt(t, s, h)
				a := h.attempt(t)
				if tt.prep != nil {
					tt.prep(t, s, a)
				}
				synctest.Wait()
				at, ok := s.NextDeadline()
				probe := start.Add(time.Hour)
				if tt.want != 0 {
					require.True(t, ok, "a deadline")
					require.Equal(t, start.Add(tt.want), at)
					probe = at.Add(-time.Nanosecond)
				} else {
					assert.False(t, ok, "no deadline")
				}
				before := s.Record(probe)
				s.Advance(probe)
				assert.Equal(t, before, s.Record(probe), "Advance before the deadline does nothing")
				if tt.want == 0 {
					return
				}
				s.Advance(at)
				after := s.Record(at)
				assert.NotEqual(t, coreProgress{before.Attempt, before.Exits, before.StopState},
					coreProgress{after.Attempt, after.Exits, after.StopState}, "Advance at the deadline acts")
			})
		})
	}
}

func TestSlotConfigValidation(t *testing.T) {
	tests := []struct {
		name  string
		id    string
		nilFn bool
		cfg   Config
		field string
	}{
		{name: "empty id", field: "id"},
		{name: "nil fn", id: "x", nilFn: true, field: "ChildFunc"},
		{name: "restart type", id: "x", cfg: Config{Restart: Temporary + 1}, field: "Restart"},
		{name: "restart limit", id: "x", cfg: Config{RestartLimit: -1}, field: "RestartLimit"},
		{name: "restart window", id: "x", cfg: Config{RestartWindow: -1}, field: "RestartWindow"},
		{name: "stop timeout", id: "x", cfg: Config{StopTimeout: -1}, field: "StopTimeout"},
		{name: "attempt timeout", id: "x", cfg: Config{AttemptTimeout: -time.Second}, field: "AttemptTimeout"},
		{name: "heartbeat timeout", id: "x", cfg: Config{HeartbeatTimeout: -1}, field: "HeartbeatTimeout"},
		{name: "ready timeout", id: "x", cfg: Config{ReadyTimeout: -1}, field: "ReadyTimeout"},
		{name: "backoff initial", id: "x", cfg: Config{Backoff: Backoff{Initial: -1}}, field: "Backoff.Initial"},
		{name: "backoff max", id: "x", cfg: Config{Backoff: Backoff{Max: -1}}, field: "Backoff.Max"},
		{name: "backoff max below initial", id: "x", cfg: Config{Backoff: Backoff{Initial: time.Second, Max: time.Millisecond}}, field: "Backoff.Max"},
		{name: "backoff multiplier", id: "x", cfg: Config{Backoff: Backoff{Multiplier: 0.5}}, field: "Backoff.Multiplier"},
		{name: "backoff jitter", id: "x", cfg: Config{Backoff: Backoff{Jitter: 1}}, field: "Backoff.Jitter"},
		{name: "backoff jitter negative", id: "x", cfg: Config{Backoff: Backoff{Jitter: -0.1}}, field: "Backoff.Jitter"},
		{name: "backoff jitter NaN", id: "x", cfg: Config{Backoff: Backoff{Jitter: math.NaN()}}, field: "Backoff.Jitter"},
		{name: "backoff multiplier NaN", id: "x", cfg: Config{Backoff: Backoff{Multiplier: math.NaN()}}, field: "Backoff.Multiplier"},
		{name: "backoff multiplier infinite", id: "x", cfg: Config{Backoff: Backoff{Multiplier: math.Inf(1)}}, field: "Backoff.Multiplier"},
		{name: "backoff reset after", id: "x", cfg: Config{Backoff: Backoff{ResetAfter: -1}}, field: "Backoff.ResetAfter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var fn ChildFunc = func(context.Context, *Attempt) error { return nil }
			if tt.nilFn {
				fn = nil
			}
			s, err := NewChildSlot(tt.id, fn, tt.cfg)
			require.ErrorIs(t, err, ErrInvalidConfig)
			assert.Contains(t, err.Error(), tt.field)
			assert.Nil(t, s)
		})
	}
}

func TestSlotConfigDefaults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := NewChildSlot("ingest", func(context.Context, *Attempt) error { return nil }, Config{})
		require.NoError(t, err)
		r := s.Record(time.Now())
		assert.Equal(t, "ingest", r.ChildID)
		assert.Equal(t, "/ingest", r.Path)
		assert.Equal(t, uint64(1), r.Generation)
		assert.Equal(t, DefaultRestartLimit, r.RestartLimit.Limit)
		assert.Equal(t, DefaultRestartWindow, r.RestartLimit.Window)
		assert.Equal(t, DefaultStopTimeout, s.cfg.StopTimeout)
		assert.False(t, s.Finished(), "not started is not finished")

		//lint:ignore SA1012 a nil context is the misuse under test
		err = s.Start(nil, time.Now()) //nolint:staticcheck // a nil context is the misuse under test
		assert.ErrorIs(t, err, ErrInvalidConfig)
		done, cancel := context.WithCancelCause(t.Context())
		cause := errors.New("shutting down")
		cancel(cause)
		err = s.Start(done, time.Now())
		assert.ErrorIs(t, err, cause)
		assert.Equal(t, uint64(0), s.Record(time.Now()).Attempt, "nothing started")
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

func TestSlotEventsFailRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var events []Event
		h := newCoreHarness(t)
		child := func(ctx context.Context, a *Attempt) error {
			h.started <- a
			if a.Number() == 1 {
				time.Sleep(time.Second)
				return errors.New("dial tcp: connection refused")
			}
			<-ctx.Done()
			return ctx.Err()
		}
		cfg := Config{Path: "/app/ingest", Backoff: Backoff{NoJitter: true}, OnEvent: func(e Event) { events = append(events, e) }}
		s, err := NewChildSlot("ingest", child, cfg)
		require.NoError(t, err)
		t0 := coreStartAt(t, s, h)
		h.attempt(t)
		coreCollect(t, s)
		at, ok := s.NextDeadline()
		require.True(t, ok)
		coreSleepUntil(at)
		s.Advance(at)
		h.attempt(t)

		type brief struct {
			Kind                EventKind
			Attempt, Generation uint64
			At                  time.Duration
			Delay               time.Duration
			Exit                ExitKind
		}
		var got []brief
		for _, e := range events {
			b := brief{Kind: e.Kind, Attempt: e.Attempt, Generation: e.Generation, At: e.Time.Sub(t0), Delay: e.Delay}
			if e.Exit != nil {
				b.Exit = e.Exit.Kind
			}
			assert.Equal(t, "ingest", e.ChildID)
			assert.Equal(t, "/app/ingest", e.Path)
			got = append(got, b)
		}
		sec, ms := time.Second, time.Millisecond
		assert.Equal(t, []brief{
			{Kind: EventStarted, Attempt: 1, Generation: 1},
			{Kind: EventExited, Attempt: 1, Generation: 1, At: sec, Exit: Failed},
			{Kind: EventRestartScheduled, Attempt: 1, Generation: 1, At: sec, Delay: 100 * ms},
			{Kind: EventStarted, Attempt: 2, Generation: 1, At: sec + 100*ms},
		}, got)
		assert.Empty(t, events[1].Reason, "the exit carries the reason")
		assert.Equal(t, "dial tcp: connection refused", events[1].Exit.Reason)
	})
}

func TestAttemptCacheLine(t *testing.T) {
	var a Attempt
	// A multiple of the line size lands in a size class whose objects start
	// on a line: children of different slots never share one when beating.
	assert.Zero(t, unsafe.Sizeof(a)%64, "sizeof(Attempt) = %d", unsafe.Sizeof(a))
	assert.LessOrEqual(t, unsafe.Offsetof(a.sig)+unsafe.Sizeof(a.sig), uintptr(64), "signals in the first line")
}

// TestSlotAbandonReasonSaysWhoGaveUp: an Abandoned exit says who gave up on
// the goroutine: the stop deadline, the caller through Abandon before it, or
// Stop when its context ended before it (issue 11, item 1).
func TestSlotAbandonReasonSaysWhoGaveUp(t *testing.T) {
	tests := []struct {
		name   string
		giveUp func(t *testing.T, s *ChildSlot) Exit
		reason string
	}{
		{name: "at the stop deadline", reason: "ignored cancellation past the stop timeout",
			giveUp: func(t *testing.T, s *ChildSlot) Exit {
				require.True(t, s.Cancel(time.Now()))
				at, _ := s.NextDeadline()
				coreSleepUntil(at)
				s.Advance(time.Now())
				return *s.Record(time.Now()).LastExit
			}},
		{name: "Abandon after the stop deadline", reason: "ignored cancellation past the stop timeout",
			giveUp: func(t *testing.T, s *ChildSlot) Exit {
				require.True(t, s.Cancel(time.Now()))
				at, _ := s.NextDeadline()
				coreSleepUntil(at)
				e, ok := s.Abandon(time.Now())
				require.True(t, ok)
				return e
			}},
		{name: "Abandon before cancelling", reason: "abandoned by the caller before the stop timeout",
			giveUp: func(t *testing.T, s *ChildSlot) Exit {
				e, ok := s.Abandon(time.Now())
				require.True(t, ok)
				return e
			}},
		{name: "Abandon while cancelling", reason: "abandoned by the caller before the stop timeout",
			giveUp: func(t *testing.T, s *ChildSlot) Exit {
				require.True(t, s.Cancel(time.Now()))
				time.Sleep(time.Second)
				e, ok := s.Abandon(time.Now())
				require.True(t, ok)
				return e
			}},
		{name: "Stop's context ends", reason: "abandoned by Stop: its context ended before the stop timeout",
			giveUp: func(t *testing.T, s *ChildSlot) Exit {
				ctx, cancel := context.WithTimeout(t.Context(), time.Second)
				defer cancel()
				e, err := s.Stop(ctx)
				require.NoError(t, err)
				return e
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newCoreHarness(t)
				s := coreNew(t, coreIgnore(h), Config{Restart: Temporary})
				coreStartAt(t, s, h)
				h.attempt(t)
				e := tt.giveUp(t, s)
				assert.Equal(t, Abandoned, e.Kind)
				assert.Equal(t, tt.reason, e.Reason)
				r := s.Record(time.Now())
				assert.Equal(t, uint64(1), r.AbandonedTotal)
				assert.Equal(t, tt.reason, r.LastExit.Reason)
			})
		})
	}
}
