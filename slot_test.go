package supervisor

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The helpers of the ChildSlot core tests carry a "core" prefix so that they
// do not collide with the helpers of the package's other test files.

// coreHarness is what a fake child shares with its test: the slot's parent
// context, a channel on which each attempt hands over its *Attempt when it
// starts, and a release channel that children ignoring cancellation wait on.
type coreHarness struct {
	ctx     context.Context
	stop    context.CancelFunc // ends ctx, the parent of every attempt
	started chan *Attempt
	release chan struct{}
	once    sync.Once
}

// newCoreHarness returns a harness whose children are all let go when the
// test ends, so that the synctest bubble has no goroutine left.
func newCoreHarness(t *testing.T) *coreHarness {
	ctx, cancel := context.WithCancel(t.Context())
	h := &coreHarness{ctx: ctx, stop: cancel, started: make(chan *Attempt, 64), release: make(chan struct{})}
	t.Cleanup(func() {
		cancel()
		h.free()
		// Cleanups run in the bubble: children still working in fake time
		// finish during this sleep, before the bubble must be empty.
		time.Sleep(time.Hour)
	})
	return h
}

// free lets every child waiting on release return.
func (h *coreHarness) free() { h.once.Do(func() { close(h.release) }) }

// attempt waits for the next attempt to start and returns it.
func (h *coreHarness) attempt(t *testing.T) *Attempt {
	t.Helper()
	select {
	case a := <-h.started:
		return a
	case <-time.After(time.Hour): // fake time in a bubble
		require.FailNow(t, "no attempt started")
		return nil
	}
}

// coreBlock is a child that runs until its context ends.
func coreBlock(h *coreHarness) ChildFunc {
	return func(ctx context.Context, a *Attempt) error {
		h.started <- a
		<-ctx.Done()
		return ctx.Err()
	}
}

// coreBlockHeld is a child that runs until its context ends and then holds
// its return until the test frees it, so that the slot can be looked at
// while the attempt is cancelled but has not returned.
func coreBlockHeld(h *coreHarness) ChildFunc {
	return func(ctx context.Context, a *Attempt) error {
		h.started <- a
		<-ctx.Done()
		<-h.release
		return ctx.Err()
	}
}

// coreIgnore is a child that ignores cancellation: it returns "late" only
// once the test frees it.
func coreIgnore(h *coreHarness) ChildFunc {
	return func(_ context.Context, a *Attempt) error {
		h.started <- a
		<-h.release
		return errors.New("late")
	}
}

// coreRunFor is a child that works for d (fake time) and returns err.
func coreRunFor(d time.Duration, err error) func(*coreHarness) ChildFunc {
	return func(h *coreHarness) ChildFunc {
		return func(_ context.Context, a *Attempt) error {
			h.started <- a
			time.Sleep(d)
			return err
		}
	}
}

// corePanicString panics with a string after a second.
func corePanicString(context.Context, *Attempt) error {
	time.Sleep(time.Second)
	panic("boom")
}

// corePanicValue is a panic value that is not a string.
type corePanicValue struct{ Code int }

// corePanicStruct panics with a corePanicValue after a second.
func corePanicStruct(context.Context, *Attempt) error {
	time.Sleep(time.Second)
	panic(corePanicValue{Code: 7})
}

// coreGoexit calls runtime.Goexit after a second.
func coreGoexit(context.Context, *Attempt) error {
	time.Sleep(time.Second)
	runtime.Goexit()
	return nil
}

// coreBeatFive beats every 300ms five times, then hangs without beating
// until its context ends.
func coreBeatFive(h *coreHarness) ChildFunc {
	return func(ctx context.Context, a *Attempt) error {
		h.started <- a
		for range 5 {
			time.Sleep(300 * time.Millisecond)
			a.Beat()
		}
		<-ctx.Done()
		return ctx.Err()
	}
}

// coreCodeError is an error with an exit code, as *exec.ExitError has.
type coreCodeError struct {
	code int
	msg  string // "exit status N" when empty
}

func (e coreCodeError) Error() string {
	if e.msg != "" {
		return e.msg
	}
	return "exit status " + strconv.Itoa(e.code)
}

func (e coreCodeError) ExitCode() int { return e.code }

// coreNew returns a slot supervising fn under cfg.
func coreNew(t *testing.T, fn ChildFunc, cfg Config) *ChildSlot {
	t.Helper()
	s, err := NewChildSlot("child", fn, cfg)
	require.NoError(t, err)
	return s
}

// coreCollect waits for the held attempt to return and collects it at the
// bubble's now.
func coreCollect(t *testing.T, s *ChildSlot) Exit {
	t.Helper()
	done := s.Done()
	require.NotNil(t, done, "no attempt held")
	<-done
	e, err := s.Collect(time.Now())
	require.NoError(t, err)
	return e
}

// coreCheckCounts checks the record's accounting invariants.
func coreCheckCounts(t *testing.T, r Record) {
	t.Helper()
	var active uint64
	if r.Active {
		active = 1
	}
	assert.Equal(t, r.Attempt, r.Exits+active, "attempt == exits + (1 if active)")
	assert.Equal(t, r.AbandonedTotal, r.StaleReports+uint64(r.Abandoned), "abandoned_total == stale_reports + abandoned")
}

// coreExitHead is the part of an Exit that a lifecycle test pins down.
type coreExitHead struct {
	Kind                ExitKind
	Reason              string
	Attempt, Generation uint64
	Code                int
}

func coreHead(e Exit) coreExitHead {
	return coreExitHead{Kind: e.Kind, Reason: e.Reason, Attempt: e.Attempt, Generation: e.Generation, Code: e.Code}
}

// coreStartAt starts s at the bubble's now and returns that now.
func coreStartAt(t *testing.T, s *ChildSlot, h *coreHarness) time.Time {
	t.Helper()
	now := time.Now()
	require.NoError(t, s.Start(h.ctx, now))
	return now
}

// coreSleepUntil moves the bubble's clock to at and lets every goroutine
// that wakes by then settle.
func coreSleepUntil(at time.Time) {
	time.Sleep(time.Until(at))
	synctest.Wait()
}

// coreCheckPanic checks the panic details of a Panicked exit.
func coreCheckPanic(fn string, value any) func(*testing.T, Exit) {
	return func(t *testing.T, e Exit) {
		assert.Contains(t, e.Stack, "supervisor."+fn, "stack names the child")
		assert.Contains(t, e.Stack, "panic", "stack shows the panic")
		assert.Equal(t, value, e.PanicValue)
		var pe *PanicError
		require.ErrorAs(t, e.Err, &pe)
		assert.Equal(t, value, pe.Value)
		assert.Equal(t, e.Stack, pe.Stack)
	}
}

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
			want: coreExitHead{Kind: Cancelled, Reason: "cancelled by the supervisor", Attempt: 1, Generation: 1},
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
		Reason:     "cancelled by the supervisor (returned: late)",
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

func TestSlotAccountingInvariant(t *testing.T) {
	for seed := range uint64(8) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				coreRandomWalk(t, seed)
			})
		})
	}
}

// coreRandomWalk drives a slot through a random sequence of calls, with
// children that succeed, fail, panic, block until cancelled or ignore
// cancellation for a while, and checks the accounting after every call.
func coreRandomWalk(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 42))
	behaviours := make([]int, 64) // read-only once the slot starts
	for i := range behaviours {
		behaviours[i] = rng.IntN(5)
	}
	child := func(ctx context.Context, a *Attempt) error {
		d := time.Duration(a.Number()%7) * 300 * time.Millisecond
		switch behaviours[a.Number()%64] {
		case 0:
			time.Sleep(d)
			return nil
		case 1:
			time.Sleep(d)
			return errors.New("fail")
		case 2:
			time.Sleep(d)
			panic("boom")
		case 3:
			<-ctx.Done()
			return ctx.Err()
		default:
			time.Sleep(5 * time.Second) // ignores cancellation
			return nil
		}
	}
	cfg := Config{
		StopTimeout: time.Second, HeartbeatTimeout: 2 * time.Second, AttemptTimeout: 4 * time.Second,
		RestartLimit: 5, RestartWindow: 10 * time.Second,
	}
	s := coreNew(t, child, cfg)
	ctx := t.Context()
	ops := []func(now time.Time){
		func(now time.Time) { _ = s.Start(ctx, now) },
		func(now time.Time) { _, _ = s.Collect(now) },
		func(now time.Time) { s.Cancel(now) },
		func(now time.Time) { s.Abandon(now) },
		func(now time.Time) { s.Advance(now) },
		func(now time.Time) { s.Advance(now) },
		func(now time.Time) { _ = s.Pause(now) },
		func(now time.Time) { _ = s.Resume(now) },
		func(now time.Time) { _ = s.Quarantine(now, "walk") },
		func(now time.Time) { _, _ = s.Restart(now) },
		func(time.Time) { s.Liveness(time.Now()) },
	}
	var last Record
	for step := range 300 {
		time.Sleep(time.Duration(rng.IntN(1500)) * time.Millisecond)
		synctest.Wait()
		now := time.Now()
		op := rng.IntN(len(ops))
		require.NotPanics(t, func() { ops[op](now) }, "step %d op %d", step, op)
		r := s.Record(now)
		coreCheckCounts(t, r)
		require.GreaterOrEqual(t, r.Attempt, last.Attempt)
		require.GreaterOrEqual(t, r.Exits, last.Exits)
		require.GreaterOrEqual(t, r.Generation, last.Generation)
		require.False(t, s.Finished() && r.Active, "finished with an attempt held")
		last = r
	}
	require.NoError(t, s.Remove(time.Now()))
	time.Sleep(time.Minute) // abandoned children finish their fake work
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
		assert.Equal(t, "dial tcp: connection refused", events[1].Reason)
	})
}

func TestAttemptCacheLine(t *testing.T) {
	var a Attempt
	// A multiple of the line size lands in a size class whose objects start
	// on a line: children of different slots never share one when beating.
	assert.Zero(t, unsafe.Sizeof(a)%64, "sizeof(Attempt) = %d", unsafe.Sizeof(a))
	assert.LessOrEqual(t, unsafe.Offsetof(a.sig)+unsafe.Sizeof(a.sig), uintptr(64), "signals in the first line")
}
